package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// fakeRemote is an in-memory Remote for one federated workspace (id 1).
// Every write first checks that the journal on disk announces it (a step in
// state started), which is the write-ahead rule.
type fakeRemote struct {
	t          *testing.T
	journalDir string // "" skips the write-ahead check

	mu        sync.Mutex
	nextID    int
	acct      map[string]*scim.Group // account groups by id
	ws        map[string]*scim.Group // workspace-local groups by id
	assigned  map[string]bool
	calls     []string
	listLag   int  // FindAccountGroups misses groups for this many calls
	postFails int  // next POSTs fail with an unknown outcome (after creating)
	maxPost   int  // a POST keeps at most this many members (0 = all)
	conflict  bool // POSTs of an existing name answer 409
	throttled int  // next renames are refused as throttled past the client's budget
}

func newFakeRemote(t *testing.T) *fakeRemote {
	return &fakeRemote{t: t, nextID: 1000, acct: map[string]*scim.Group{}, ws: map[string]*scim.Group{}, assigned: map[string]bool{}, conflict: true}
}

func (f *fakeRemote) call(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

// count returns the number of calls starting with prefix.
func (f *fakeRemote) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// announced fails the test unless the journal on disk has a started step of
// kind k.
func (f *fakeRemote) announced(k StepKind) {
	if f.journalDir == "" {
		return
	}
	_, recs, err := ReadJournal(f.journalDir)
	if err != nil {
		f.t.Errorf("write of %s with no journal: %v", k, err)
		return
	}
	for _, v := range Replay(recs) {
		if v.Kind == k && v.State == StateStarted {
			return
		}
	}
	f.t.Errorf("write of %s before a started record reached the journal", k)
}

func notFound() error {
	return &scim.APIError{Method: "GET", Path: "/x", StatusCode: http.StatusNotFound}
}

func clone(g *scim.Group) scim.Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	c.Entitlements = slices.Clone(g.Entitlements)
	c.Roles = slices.Clone(g.Roles)
	return c
}

func (f *fakeRemote) AccountGroup(ctx context.Context, id string) (scim.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("GET account group %s", id)
	if g := f.acct[id]; g != nil {
		return clone(g), nil
	}
	return scim.Group{}, notFound()
}

func (f *fakeRemote) FindAccountGroups(ctx context.Context, name string) ([]scim.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("FIND account group %s", name)
	if f.listLag > 0 {
		f.listLag--
		return nil, nil
	}
	var out []scim.Group
	for _, g := range f.acct {
		if g.DisplayName == name {
			out = append(out, scim.Group{ID: g.ID, DisplayName: g.DisplayName})
		}
	}
	return out, nil
}

func (f *fakeRemote) Assignments(ctx context.Context, wsID int64) ([]scim.PermissionAssignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []scim.PermissionAssignment
	for id := range f.assigned {
		n, _ := strconv.ParseInt(id, 10, 64)
		out = append(out, scim.PermissionAssignment{Permissions: []string{"USER"}, Principal: scim.Principal{PrincipalID: n}})
	}
	return out, nil
}

func (f *fakeRemote) WorkspaceGroup(ctx context.Context, wsID int64, id string) (scim.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.ws[id]; g != nil {
		return clone(g), nil
	}
	if g := f.acct[id]; g != nil && f.assigned[id] {
		c := clone(g)
		c.Meta = &scim.Meta{ResourceType: scim.ResourceTypeAccountGroup}
		return c, nil
	}
	return scim.Group{}, notFound()
}

func (f *fakeRemote) WorkspaceGroupVisible(ctx context.Context, wsID int64, id string) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.ws[id]; g != nil {
		return true, g.DisplayName, nil
	}
	if g := f.acct[id]; g != nil && f.assigned[id] {
		return true, g.DisplayName, nil
	}
	return false, "", nil
}

func (f *fakeRemote) SecretScopes(ctx context.Context, wsID int64) ([]string, error) { return nil, nil }

func (f *fakeRemote) SecretACLs(ctx context.Context, wsID int64, scope string) ([]SecretACL, error) {
	return nil, nil
}

func (f *fakeRemote) CreateAccountGroup(ctx context.Context, g scim.Group) (scim.Group, error) {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return scim.Group{}, err
	}
	f.announced(KindEnsureAccountGroup)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("POST account group %s (%d members)", g.DisplayName, len(g.Members))
	for _, e := range f.acct {
		if e.DisplayName == g.DisplayName && f.conflict {
			return scim.Group{}, &scim.APIError{Method: "POST", Path: "/Groups", StatusCode: http.StatusConflict, SCIMType: "uniqueness"}
		}
	}
	c := g
	f.nextID++
	c.ID = strconv.Itoa(f.nextID)
	if f.maxPost > 0 && len(c.Members) > f.maxPost {
		c.Members = c.Members[:f.maxPost]
	}
	f.acct[c.ID] = &c
	if f.postFails > 0 {
		f.postFails--
		return scim.Group{}, fmt.Errorf("create: %w", scim.ErrOutcomeUnknown)
	}
	return clone(&c), nil
}

func (f *fakeRemote) AddAccountGroupMembers(ctx context.Context, id string, ids []string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.announced(KindEnsureAccountGroup)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("PATCH account group %s add %d", id, len(ids))
	g := f.acct[id]
	for _, m := range ids {
		if !slices.ContainsFunc(g.Members, func(c scim.ComplexValue) bool { return c.Value == m }) {
			g.Members = append(g.Members, scim.ComplexValue{Value: m})
		}
	}
	return nil
}

func (f *fakeRemote) RemoveAccountGroupMember(ctx context.Context, id, m string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.acct[id]
	g.Members = slices.DeleteFunc(g.Members, func(c scim.ComplexValue) bool { return c.Value == m })
	return nil
}

func (f *fakeRemote) DeleteAccountGroup(ctx context.Context, id string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.acct, id)
	return nil
}

func (f *fakeRemote) PutAssignment(ctx context.Context, wsID int64, id string, perms []string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.announced(KindAssignWorkspace)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("PUT assignment %s", id)
	f.assigned[id] = true
	return nil
}

func (f *fakeRemote) DeleteAssignment(ctx context.Context, wsID int64, id string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.assigned, id)
	return nil
}

func (f *fakeRemote) RenameWorkspaceGroup(ctx context.Context, wsID int64, id, name string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.announced(KindRenameLocal)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttled > 0 {
		f.throttled--
		f.call("THROTTLED rename %s", id)
		return fmt.Errorf("rename: %w", &scim.APIError{Method: "PATCH", Path: "/Groups/" + id, StatusCode: http.StatusTooManyRequests, ErrorCode: "REQUEST_LIMIT_EXCEEDED"})
	}
	f.call("PATCH rename %s %s", id, name)
	f.ws[id].DisplayName = name
	return nil
}

func (f *fakeRemote) AddWorkspaceGroupEntitlements(ctx context.Context, wsID int64, id string, ents, roles []string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.announced(KindCopyEntitlements)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("PATCH entitlements %s %v", id, ents)
	g := f.acct[id]
	for _, e := range ents {
		g.Entitlements = append(g.Entitlements, scim.ComplexValue{Value: e})
	}
	for _, r := range roles {
		g.Roles = append(g.Roles, scim.ComplexValue{Value: r})
	}
	return nil
}

func (f *fakeRemote) RemoveWorkspaceGroupEntitlements(ctx context.Context, wsID int64, id string, ents, roles []string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	return nil
}

func (f *fakeRemote) DeleteWorkspaceGroup(ctx context.Context, wsID int64, id string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ws, id)
	return nil
}

func (f *fakeRemote) MigratePermissions(ctx context.Context, wsID int64, from, to string, size int) (int, error) {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return 0, err
	}
	f.announced(KindMigratePermissions)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("POST permissionmigration %s %s", from, to)
	return 0, nil
}

func (f *fakeRemote) PutSecretACL(ctx context.Context, wsID int64, acl SecretACL) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	return nil
}

func (f *fakeRemote) DeleteSecretACL(ctx context.Context, wsID int64, scope, p string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	return nil
}

// fakePlan returns a plan with one local group "eng" (id 10) of members
// users 1..n, mapped to a new account group "eng", and writes it to dir.
func fakePlan(t *testing.T, f *fakeRemote, dir string, n int) string {
	t.Helper()
	local := &scim.Group{ID: "10", DisplayName: "eng", Meta: &scim.Meta{ResourceType: scim.ResourceTypeWorkspaceGroup}}
	ag := AccountGroupPlan{Key: "ag:eng", DisplayName: "eng", Sources: []GroupRef{{WorkspaceID: 1, LocalID: "10"}}}
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		local.Members = append(local.Members, scim.ComplexValue{Value: id, Ref: "Users/" + id})
		ag.Members = append(ag.Members, Member{Kind: KindUser, AccountID: id, UserName: "u" + id + "@x.test"})
	}
	f.ws["10"] = local
	p := &Plan{PlanVersion: PlanVersion, Lineage: "lin", AccountID: "acc", Settings: PlanSettings{Match: MatchName, OnConflict: PolicyFail, BackupPrefix: DefaultBackupPrefix},
		AccountGroups: []AccountGroupPlan{ag},
		Workspaces: []WorkspacePlan{{WorkspaceID: 1, WorkspaceName: "one", Federated: true, Groups: []GroupPlan{{
			LocalID: "10", LocalName: "eng", BackupName: "db-temp-eng", AccountGroupKey: "ag:eng",
			Entitlements: []string{"allow-cluster-create"}, MembersDigest: MembersDigest(local.Members), MemberCount: n,
		}}}},
	}
	path := filepath.Join(dir, "plan.json")
	if err := WritePlan(path, p, false); err != nil {
		t.Fatal(err)
	}
	return path
}

func fakeDeps() (Deps, *reports.Streams) {
	io, _, _ := reports.Test()
	return Deps{Streams: io}, io
}

func TestApplyCreatesWithAllMembersInOnePOST(t *testing.T) {
	f := newFakeRemote(t)
	dir := t.TempDir()
	plan := fakePlan(t, f, dir, 250)
	f.journalDir = DefaultJournalDir(plan)
	d, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d); err != nil {
		t.Fatal(err)
	}
	if n := f.count("POST account group eng (250 members)"); n != 1 {
		t.Errorf("POSTs with all members: %d, want 1; calls %v", n, f.calls)
	}
	if n := f.count("PATCH account group"); n != 0 {
		t.Errorf("member PATCHes after a complete POST: %d", n)
	}
	if n := f.count("PATCH rename 10 db-temp-eng"); n != 1 {
		t.Errorf("renames: %d", n)
	}
}

func TestApplyPatchesOnlyMissingMembersInBatches(t *testing.T) {
	f := newFakeRemote(t)
	f.maxPost = 30 // the server kept only 30 of the POSTed members
	dir := t.TempDir()
	plan := fakePlan(t, f, dir, 250)
	f.journalDir = DefaultJournalDir(plan)
	d, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f, MemberBatch: 100}, d); err != nil {
		t.Fatal(err)
	}
	want := []string{"PATCH account group 1001 add 100", "PATCH account group 1001 add 100", "PATCH account group 1001 add 20"}
	var got []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, "PATCH account group") {
			got = append(got, c)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("member PATCHes = %v, want %v", got, want)
	}
	if n := len(f.acct["1001"].Members); n != 250 {
		t.Errorf("account group has %d members, want 250", n)
	}
	_, recs, _ := ReadJournal(f.journalDir)
	v := Replay(recs)[accountGroupStepID("ag:eng")]
	if v.Detail.MembersAdded != 250 || !v.Detail.Created || v.Detail.AccountGroupID != "1001" {
		t.Errorf("ensure detail = %+v", v.Detail)
	}
}

func TestApplyUnknownCreateOutcomeFoundByName(t *testing.T) {
	f := newFakeRemote(t)
	f.postFails = 1
	plan := fakePlan(t, f, t.TempDir(), 3)
	d, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d); err != nil {
		t.Fatal(err)
	}
	if n := f.count("POST account group"); n != 1 {
		t.Errorf("POSTs = %d, want 1 (the lost reply is found by name)", n)
	}
	if len(f.acct) != 1 {
		t.Errorf("account groups = %d, want 1", len(f.acct))
	}
}

func TestApplyUnknownCreateOutcomeWithListLag(t *testing.T) {
	f := newFakeRemote(t)
	f.postFails = 1
	f.listLag = 3 // the first lookups miss the new group
	plan := fakePlan(t, f, t.TempDir(), 3)
	var slept []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	d, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f, Sleep: sleep}, d); err != nil {
		t.Fatal(err)
	}
	// POST (lost) -> lookup misses -> POST again -> 409 -> poll until listed.
	if n := f.count("POST account group"); n != 2 {
		t.Errorf("POSTs = %d, want 2", n)
	}
	if len(f.acct) != 1 {
		t.Errorf("account groups = %d, want 1 (no duplicate)", len(f.acct))
	}
	if len(slept) < 2 || slept[1] <= slept[0] {
		t.Errorf("polling waits %v: want a backoff", slept)
	}
}

func TestApplyExistingNameIsStale(t *testing.T) {
	f := newFakeRemote(t)
	f.acct["77"] = &scim.Group{ID: "77", DisplayName: "eng"} // created by someone after the plan
	plan := fakePlan(t, f, t.TempDir(), 3)
	d, io := fakeDeps()
	err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 || pe.Failed != 1 {
		t.Fatalf("err = %v, want a PartialError for 1 group", err)
	}
	out := io.Out.(fmt.Stringer).String()
	if !strings.Contains(out, `saved plan is stale: group "eng" in the account changed after the plan was created (an account group with this name was created after the plan); run "dbiam migrate plan" again`) {
		t.Errorf("summary does not explain the stale plan:\n%s", out)
	}
	if n := f.count("PATCH rename"); n != 0 {
		t.Errorf("a group whose account group failed was renamed")
	}
}

func TestApplyLocalDriftIsStale(t *testing.T) {
	f := newFakeRemote(t)
	plan := fakePlan(t, f, t.TempDir(), 3)
	f.ws["10"].Members = f.ws["10"].Members[:2] // a member left after the plan
	d, io := fakeDeps()
	err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d)
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want PartialError", err)
	}
	want := `saved plan is stale: group "eng" in workspace one (1) changed after the plan was created (members differ); run "dbiam migrate plan" again`
	if out := io.Out.(fmt.Stringer).String(); !strings.Contains(out, want) {
		t.Errorf("summary lacks %q:\n%s", want, out)
	}
	if f.count("PATCH rename") != 0 {
		t.Error("a stale group was renamed")
	}
	_, recs, _ := ReadJournal(DefaultJournalDir(plan))
	v := Replay(recs)[groupStepID(KindRenameLocal, 1, "10")]
	if v == nil || v.State != StateFailed || !strings.Contains(v.Error, "members differ") {
		t.Errorf("journal of the stale group: %+v", v)
	}
}

func TestApplyRefusesLockedJournal(t *testing.T) {
	f := newFakeRemote(t)
	plan := fakePlan(t, f, t.TempDir(), 1)
	if _, err := journal.AcquireLock(DefaultJournalDir(plan), journal.LockOptions{PID: os.Getpid(), Command: "migrate apply"}); err != nil {
		t.Fatal(err)
	}
	d, _ := fakeDeps()
	err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d)
	if !errors.Is(err, journal.ErrLocked) {
		t.Fatalf("err = %v, want journal.ErrLocked", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("a locked apply made calls: %v", f.calls)
	}
}

func TestApplyRefusesJournalOfAnotherPlan(t *testing.T) {
	f := newFakeRemote(t)
	dir := t.TempDir()
	plan := fakePlan(t, f, dir, 1)
	d, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d); err != nil {
		t.Fatal(err)
	}
	p, _, _ := ReadPlan(plan)
	p.Lineage = "another"
	other := filepath.Join(dir, "other.json")
	if err := WritePlan(other, p, false); err != nil {
		t.Fatal(err)
	}
	err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: other, JournalDir: DefaultJournalDir(plan), Remote: f}, d)
	if !errors.Is(err, journal.ErrMismatch) {
		t.Fatalf("err = %v, want journal.ErrMismatch", err)
	}
}

func TestApplyOptionsValidation(t *testing.T) {
	d, _ := fakeDeps()
	err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: "p.json", MemberBatch: 500}, d)
	if err == nil || !strings.Contains(err.Error(), "member batch 500 is out of range") {
		t.Errorf("err = %v", err)
	}
	err = RunApply(context.Background(), ApplyOptions{}, d)
	if err == nil || !strings.Contains(err.Error(), "no plan file") {
		t.Errorf("err = %v", err)
	}
}

// TestApplyRunsThrottledStepAgain checks that a step throttled past the
// client's retry budget is run again after growing pauses instead of failing
// its group, and that the group fails once the rounds are used up.
func TestApplyRunsThrottledStepAgain(t *testing.T) {
	for _, tt := range []struct {
		throttled int
		wantErr   bool
		wantWaits []time.Duration
	}{
		{throttled: 2, wantWaits: []time.Duration{30 * time.Second, time.Minute}},
		{throttled: throttleRounds + 1, wantErr: true, wantWaits: []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute}},
	} {
		t.Run(fmt.Sprintf("throttled=%d", tt.throttled), func(t *testing.T) {
			f := newFakeRemote(t)
			f.throttled = tt.throttled
			plan := fakePlan(t, f, t.TempDir(), 3)
			f.journalDir = DefaultJournalDir(plan)
			var waits []time.Duration
			sleep := func(ctx context.Context, d time.Duration) error {
				if d >= throttlePause {
					waits = append(waits, d)
				}
				return ctx.Err()
			}
			d, _ := fakeDeps()
			err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f, Sleep: sleep}, d)
			if (err != nil) != tt.wantErr {
				t.Fatalf("RunApply = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(waits, tt.wantWaits) {
				t.Errorf("pauses = %v, want %v", waits, tt.wantWaits)
			}
			wantRenames := 1
			if tt.wantErr {
				wantRenames = 0
			}
			if n := f.count("PATCH rename 10 db-temp-eng"); n != wantRenames {
				t.Errorf("renames = %d, want %d; calls %v", n, wantRenames, f.calls)
			}
		})
	}
}
