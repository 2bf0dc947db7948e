package migrate

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// The -update flag rewrites golden files. It is defined here only if no
// other test file of the package defined it first (package variables are
// initialised before init functions run), so apply tests may define or
// reuse it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata")
	}
}

func planUpdateGolden() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	return ok && g.Get() == true
}

// planClock is the fixed clock of plan tests.
var planClock = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// newPlanServer starts a sandbox with the seed testdata/plan/<name>.json,
// or the default seed for name "".
func newPlanServer(t *testing.T, name string) *sandbox.Server {
	t.Helper()
	var seed *sandbox.Seed
	if name != "" {
		s, err := sandbox.LoadSeed(filepath.Join("testdata", "plan", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		seed = s
	}
	return sandbox.NewTestServer(t, sandbox.Options{Seed: seed})
}

// planDeps returns Deps connected to srv, with captured stdout and stderr,
// and a counter of Connect calls.
func planDeps(t *testing.T, srv *sandbox.Server) (Deps, *bytes.Buffer, *bytes.Buffer, *int) {
	t.Helper()
	streams, out, errb := reports.Test()
	connects := new(int)
	connect := func(ctx context.Context) (*scim.Session, error) {
		*connects++
		if srv == nil {
			return nil, errors.New("no server in this test")
		}
		return scim.Connect(ctx, scim.Settings{
			Host:      srv.URL(),
			AccountID: srv.AccountID(),
			Token:     srv.AdminToken(),
			Hermetic:  true,
			Rates:     scim.UnlimitedRates(),
		})
	}
	return Deps{Streams: streams, Connect: connect, Now: planClock}, out, errb, connects
}

// runTestPlan runs RunPlan against srv with o (Out defaults to a temp file)
// and returns the plan read back and stdout.
func runTestPlan(t *testing.T, srv *sandbox.Server, o PlanOptions) (*Plan, string) {
	t.Helper()
	if o.Out == "" {
		o.Out = filepath.Join(t.TempDir(), "plan.json")
	}
	if o.ToolVersion == "" {
		o.ToolVersion = "test"
	}
	d, out, _, _ := planDeps(t, srv)
	checkPlanRunErr(t, RunPlan(context.Background(), o, d), o)
	p, _, err := ReadPlan(o.Out)
	if err != nil {
		t.Fatalf("ReadPlan: %v", err)
	}
	return p, out.String()
}

// checkPlanRunErr checks the error of a RunPlan(o) that wrote o.Out: nil
// for a plan that is clean, a *PlanReviewError (exit code 2) naming the
// blocking conflicts when the plan has some or naming "nothing to migrate"
// when it migrates no group although o asked for groups or mapping rows.
func checkPlanRunErr(t testing.TB, err error, o PlanOptions) {
	t.Helper()
	var re *PlanReviewError
	if err != nil && !errors.As(err, &re) {
		t.Fatalf("RunPlan: %v", err)
	}
	p, _, rerr := ReadPlan(o.Out)
	if rerr != nil {
		t.Fatalf("ReadPlan: %v", rerr)
	}
	blocking, migrated := 0, 0
	for _, c := range p.Conflicts {
		if c.Blocking {
			blocking++
		}
	}
	for _, w := range p.Workspaces {
		for _, g := range w.Groups {
			if g.Skipped == "" {
				migrated++
			}
		}
	}
	nothing := migrated == 0 && (len(o.Groups) > 0 || len(o.GroupRegex) > 0 || o.MappingFile != "")
	if blocking == 0 && !nothing {
		if err != nil {
			t.Fatalf("RunPlan of a clean plan: %v", err)
		}
		return
	}
	if re == nil {
		t.Fatalf("RunPlan with %d blocking conflicts, %d groups to migrate: no error, want exit code 2", blocking, migrated)
	}
	if re.ExitCode() != 2 || re.Blocking != blocking || re.Nothing != nothing || re.Path != o.Out {
		t.Fatalf("RunPlan: %+v (exit %d), want blocking %d, nothing %v, path %s, exit 2", *re, re.ExitCode(), blocking, nothing, o.Out)
	}
}

// planOutcome maps "workspace/local group" to the account group it migrates
// to, "reuse:<name>" when the group exists, or "skip:<conflict kind>".
func planOutcome(p *Plan) map[string]string {
	ags := map[string]AccountGroupPlan{}
	for _, ag := range p.AccountGroups {
		ags[ag.Key] = ag
	}
	out := map[string]string{}
	for _, w := range p.Workspaces {
		for _, g := range w.Groups {
			k := w.WorkspaceName + "/" + g.LocalName
			switch ag, ok := ags[g.AccountGroupKey]; {
			case g.Skipped != "":
				kind, _, _ := strings.Cut(g.Skipped, ":")
				out[k] = "skip:" + kind
			case !ok:
				out[k] = "dangling:" + g.AccountGroupKey
			case ag.ExistingID != "":
				out[k] = "reuse:" + ag.DisplayName
			default:
				out[k] = ag.DisplayName
			}
		}
	}
	return out
}

// planConflictKinds lists "kind group blocking" per conflict, sorted.
func planConflictKinds(p *Plan) []string {
	var out []string
	for _, c := range p.Conflicts {
		out = append(out, fmt.Sprintf("%s %s %v", c.Kind, c.Group, c.Blocking))
	}
	slices.Sort(out)
	return out
}

func planAccountGroup(t *testing.T, p *Plan, name string) AccountGroupPlan {
	t.Helper()
	for _, ag := range p.AccountGroups {
		if ag.DisplayName == name {
			return ag
		}
	}
	t.Fatalf("no account group %q in plan; have %v", name, planOutcome(p))
	return AccountGroupPlan{}
}

// planMemberNames lists an account group's members as kind:name.
func planMemberNames(ag AccountGroupPlan) []string {
	var out []string
	for _, m := range ag.Members {
		switch m.Kind {
		case KindUser:
			out = append(out, "user:"+m.UserName)
		case KindServicePrincipal:
			out = append(out, "sp:"+m.ApplicationID)
		default:
			ref := m.GroupKey
			if ref == "" {
				ref = "id:" + m.AccountID
			}
			out = append(out, "group:"+ref)
		}
	}
	slices.Sort(out)
	return out
}

func TestPlanMatchStrategies(t *testing.T) {
	srv := newPlanServer(t, "match")
	mapping := filepath.Join(t.TempDir(), "map.csv")
	if err := os.WriteFile(mapping, []byte("workspace,local_group,account_group\nalpha,team-data,data\n*,team-ml,ml-all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		opts          PlanOptions
		want          map[string]string
		wantConflicts []string
	}{
		{
			name: "name",
			opts: PlanOptions{},
			want: map[string]string{"alpha/team-data": "team-data", "alpha/team-ml": "team-ml", "alpha/legacy": "legacy",
				"beta/team-bi": "team-bi", "beta/team-ml": "team-ml"},
		},
		{
			name: "prefix add",
			opts: PlanOptions{Match: MatchPrefix, Prefix: "acct-"},
			want: map[string]string{"alpha/team-data": "acct-team-data", "alpha/team-ml": "acct-team-ml", "alpha/legacy": "acct-legacy",
				"beta/team-bi": "acct-team-bi", "beta/team-ml": "acct-team-ml"},
		},
		{
			name: "prefix strip reuses an equal account group",
			opts: PlanOptions{Match: MatchPrefix, Prefix: "team-", Strip: true},
			want: map[string]string{"alpha/team-data": "reuse:data", "alpha/team-ml": "ml", "alpha/legacy": "skip:no-match",
				"beta/team-bi": "bi", "beta/team-ml": "ml"},
			wantConflicts: []string{"no-match legacy true"},
		},
		{
			name: "suffix add",
			opts: PlanOptions{Match: MatchSuffix, Suffix: "-acct"},
			want: map[string]string{"alpha/team-data": "team-data-acct", "alpha/team-ml": "team-ml-acct", "alpha/legacy": "legacy-acct",
				"beta/team-bi": "team-bi-acct", "beta/team-ml": "team-ml-acct"},
		},
		{
			name: "suffix strip",
			opts: PlanOptions{Match: MatchSuffix, Suffix: "-ml", Strip: true},
			want: map[string]string{"alpha/team-data": "skip:no-match", "alpha/team-ml": "team", "alpha/legacy": "skip:no-match",
				"beta/team-bi": "skip:no-match", "beta/team-ml": "team"},
			wantConflicts: []string{"no-match legacy true", "no-match team-bi true", "no-match team-data true"},
		},
		{
			name: "regex",
			opts: PlanOptions{Match: MatchRegex, Regex: `^team-(.+)$`, Replace: "grp-$1"},
			want: map[string]string{"alpha/team-data": "grp-data", "alpha/team-ml": "grp-ml", "alpha/legacy": "skip:no-match",
				"beta/team-bi": "grp-bi", "beta/team-ml": "grp-ml"},
			wantConflicts: []string{"no-match legacy true"},
		},
		{
			name: "external id",
			opts: PlanOptions{Match: MatchExternalID},
			want: map[string]string{"alpha/team-data": "reuse:data", "alpha/team-ml": "skip:no-match", "alpha/legacy": "skip:no-match",
				"beta/team-bi": "skip:no-match", "beta/team-ml": "skip:no-match"},
			wantConflicts: []string{"no-match legacy true", "no-match team-bi true", "no-match team-ml true", "no-match team-ml true"},
		},
		{
			name: "mapping selects and maps",
			opts: PlanOptions{Match: MatchMapping, MappingFile: mapping},
			want: map[string]string{"alpha/team-data": "reuse:data", "alpha/team-ml": "ml-all", "beta/team-ml": "ml-all"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := runTestPlan(t, srv, tc.opts)
			if got := planOutcome(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("outcome:\n got %v\nwant %v", got, tc.want)
			}
			if got := planConflictKinds(p); !slices.Equal(got, tc.wantConflicts) {
				t.Errorf("conflicts:\n got %q\nwant %q", got, tc.wantConflicts)
			}
			if p.Settings.Match != planOr(tc.opts.Match, MatchName) {
				t.Errorf("settings.match = %q", p.Settings.Match)
			}
		})
	}
}

func planOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestPlanMappingRecordsFileDigest(t *testing.T) {
	srv := newPlanServer(t, "match")
	mapping := filepath.Join(t.TempDir(), "map.csv")
	body := []byte("alpha,team-data,data\n")
	if err := os.WriteFile(mapping, body, 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := runTestPlan(t, srv, PlanOptions{Match: MatchMapping, MappingFile: mapping})
	m, err := ParseMapping(mapping, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Settings.MappingFile != mapping || p.Settings.MappingSHA256 != m.SHA256 {
		t.Errorf("settings = %+v, want the mapping file and its sha256 %s", p.Settings, m.SHA256)
	}
}

// External-id matching must never put groups without an externalId (or
// with one no account group has) together.
func TestPlanExternalIDNeverCollapsesGroupsWithoutID(t *testing.T) {
	srv := newPlanServer(t, "match")
	p, _ := runTestPlan(t, srv, PlanOptions{Match: MatchExternalID, OnConflict: PolicyMerge})
	if len(p.AccountGroups) != 1 || p.AccountGroups[0].DisplayName != "data" || p.AccountGroups[0].ExistingID != "2001" {
		t.Fatalf("account groups = %+v, want only the reused group data (2001)", p.AccountGroups)
	}
	if got := p.AccountGroups[0].Sources; len(got) != 1 || got[0] != (GroupRef{WorkspaceID: 11, LocalID: "5001"}) {
		t.Errorf("sources of data = %+v", got)
	}
	var details []string
	for _, c := range p.Conflicts {
		if c.Kind != ConflictNoMatch || !c.Blocking || c.WorkspaceID == 0 {
			t.Errorf("unexpected conflict %+v", c)
		}
		details = append(details, c.Group+": "+c.Detail)
	}
	slices.Sort(details)
	want := []string{
		`legacy: no account group has externalId "ext-legacy"`,
		"team-bi: the local group has no externalId, so --match external-id cannot match it",
		"team-ml: the local group has no externalId, so --match external-id cannot match it",
		"team-ml: the local group has no externalId, so --match external-id cannot match it",
	}
	if !slices.Equal(details, want) {
		t.Errorf("conflicts:\n got %q\nwant %q", details, want)
	}
}

func TestPlanConflictPolicies(t *testing.T) {
	srv := newPlanServer(t, "conflicts")
	tests := []struct {
		policy        string
		want          map[string]string
		wantConflicts []string
		check         func(t *testing.T, p *Plan)
	}{
		{
			policy: PolicyFail,
			want: map[string]string{"east/shared": "skip:same-name-different-members", "west/shared": "skip:same-name-different-members",
				"east/same": "same", "west/same": "same", "east/existing": "skip:existing-account-group-differs",
				"east/foo": "foo", "east/bar": "bar"},
			wantConflicts: []string{"existing-account-group-differs existing true", "same-name-different-members shared true"},
			check: func(t *testing.T, p *Plan) {
				same := planAccountGroup(t, p, "same")
				if len(same.Sources) != 2 || !slices.Equal(planMemberNames(same), []string{"user:alice@conflict.test"}) {
					t.Errorf("same = %+v: want one account group for both workspaces", same)
				}
			},
		},
		{
			policy: PolicyMerge,
			want: map[string]string{"east/shared": "shared", "west/shared": "shared", "east/same": "same", "west/same": "same",
				"east/existing": "reuse:existing", "east/foo": "foo", "east/bar": "bar"},
			wantConflicts: []string{"existing-account-group-differs existing false", "same-name-different-members shared false"},
			check: func(t *testing.T, p *Plan) {
				shared := planAccountGroup(t, p, "shared")
				want := []string{"user:alice@conflict.test", "user:bob@conflict.test", "user:carol@conflict.test"}
				if got := planMemberNames(shared); !slices.Equal(got, want) || len(shared.Sources) != 2 {
					t.Errorf("shared members %v sources %v, want the union %v of both", got, shared.Sources, want)
				}
				ex := planAccountGroup(t, p, "existing")
				if ex.ExistingID != "2001" || !strings.HasPrefix(ex.ExistingMembersDigest, "sha256:") {
					t.Errorf("existing = %+v, want reuse of 2001 with a digest precondition", ex)
				}
				if got := planMemberNames(ex); !slices.Equal(got, []string{"user:alice@conflict.test", "user:bob@conflict.test"}) {
					t.Errorf("existing members = %v, want the local group's", got)
				}
			},
		},
		{
			policy: PolicyPerWorkspace,
			want: map[string]string{"east/shared": "reuse:east_shared", "west/shared": "west_shared", "east/same": "same", "west/same": "same",
				"east/existing": "east_existing", "east/foo": "foo", "east/bar": "bar"},
			wantConflicts: []string{"existing-account-group-differs existing false", "same-name-different-members shared false"},
			check: func(t *testing.T, p *Plan) {
				if ag := planAccountGroup(t, p, "east_shared"); ag.ExistingID != "2002" {
					t.Errorf("east_shared = %+v, want reuse of 2002 (same members)", ag)
				}
				if got := planMemberNames(planAccountGroup(t, p, "west_shared")); !slices.Equal(got, []string{"user:alice@conflict.test", "user:carol@conflict.test"}) {
					t.Errorf("west_shared members = %v", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			p, stdout := runTestPlan(t, srv, PlanOptions{OnConflict: tc.policy})
			if got := planOutcome(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("outcome:\n got %v\nwant %v", got, tc.want)
			}
			// The summary says, on the rows of groups a resolved conflict
			// concerns, what the policy did.
			if tc.policy != PolicyFail {
				note := "\tsame-name-different-members (" + tc.policy + ": "
				if n := strings.Count(stdout, note); n != 2 {
					t.Errorf("summary has %d rows noting %q, want 2:\n%s", n, note, stdout)
				}
			}
			if got := planConflictKinds(p); !slices.Equal(got, tc.wantConflicts) {
				t.Errorf("conflicts:\n got %q\nwant %q", got, tc.wantConflicts)
			}
			// Every conflict says what each policy would do, whatever the
			// chosen one.
			for _, c := range p.Conflicts {
				for _, pol := range []string{PolicyFail, PolicyMerge, PolicyPerWorkspace} {
					if c.Policies[pol] == "" {
						t.Errorf("conflict %s %s: no text for policy %s", c.Kind, c.Group, pol)
					}
				}
			}
			if p.Settings.OnConflict != tc.policy {
				t.Errorf("settings.on_conflict = %q", p.Settings.OnConflict)
			}
			tc.check(t, p)
		})
	}
}

func TestPlanSameNameConflictDescribesEveryPolicy(t *testing.T) {
	srv := newPlanServer(t, "conflicts")
	p, _ := runTestPlan(t, srv, PlanOptions{})
	var c *Conflict
	for i := range p.Conflicts {
		if p.Conflicts[i].Kind == ConflictSameName {
			c = &p.Conflicts[i]
		}
	}
	if c == nil {
		t.Fatalf("no same-name conflict in %v", planConflictKinds(p))
	}
	want := map[string]string{
		PolicyFail:         "skip all 2 groups",
		PolicyMerge:        `one account group "shared" with the union of their members (3)`,
		PolicyPerWorkspace: `create or reuse one account group per workspace: "east_shared", "west_shared"`,
	}
	if !reflect.DeepEqual(c.Policies, want) {
		t.Errorf("policies = %v, want %v", c.Policies, want)
	}
	if !strings.Contains(c.Detail, "east/shared (2 members), west/shared (2 members)") {
		t.Errorf("detail = %q", c.Detail)
	}
}

func TestPlanTargetNameTakenByAnotherLocalGroup(t *testing.T) {
	srv := newPlanServer(t, "conflicts")
	mapping := filepath.Join(t.TempDir(), "map.csv")
	// foo -> bar, but east keeps its own local "bar" (not in the mapping).
	if err := os.WriteFile(mapping, []byte("east,foo,bar\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		policy string
		want   string
		block  bool
	}{
		{PolicyFail, "skip:target-name-taken", true},
		{PolicyMerge, "skip:target-name-taken", true},
		{PolicyPerWorkspace, "east_bar", false},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			p, _ := runTestPlan(t, srv, PlanOptions{Match: MatchMapping, MappingFile: mapping, OnConflict: tc.policy})
			if got := planOutcome(p); !reflect.DeepEqual(got, map[string]string{"east/foo": tc.want}) {
				t.Errorf("outcome = %v, want east/foo: %s", got, tc.want)
			}
			if len(p.Conflicts) != 1 || p.Conflicts[0].Kind != ConflictTargetTaken || p.Conflicts[0].Blocking != tc.block ||
				p.Conflicts[0].WorkspaceID != 21 || p.Conflicts[0].Group != "foo" {
				t.Fatalf("conflicts = %+v", p.Conflicts)
			}
			if got := p.Conflicts[0].Policies[PolicyPerWorkspace]; got != `map it to account group "east_bar" instead` {
				t.Errorf("per-workspace text = %q", got)
			}
		})
	}
}

func TestPlanNestedGroupsServicePrincipalsAndEntitlements(t *testing.T) {
	srv := newPlanServer(t, "nested")
	p, _ := runTestPlan(t, srv, PlanOptions{})
	want := map[string]string{
		"nest/child": "child", "nest/parent": "parent", "nest/grand": "grand",
		"nest/orphan":       "skip:member-without-account-identity",
		"nest/above-orphan": "skip:member-without-account-identity",
		"loop-a/alpha":      "skip:cycle",
		"loop-a/beta":       "skip:cycle",
		"loop-b/alpha":      "skip:cycle",
		"loop-b/beta":       "skip:cycle",
	}
	if got := planOutcome(p); !reflect.DeepEqual(got, want) {
		t.Errorf("outcome:\n got %v\nwant %v", got, want)
	}
	// Children before parents, in account groups and in the workspace.
	var keys []string
	for _, ag := range p.AccountGroups {
		keys = append(keys, ag.Key)
	}
	if !slices.Equal(keys, []string{"ag:child", "ag:parent", "ag:grand"}) {
		t.Errorf("account group order = %v", keys)
	}
	var nest WorkspacePlan
	for _, w := range p.Workspaces {
		if w.WorkspaceName == "nest" {
			nest = w
		}
	}
	var order []string
	for _, g := range nest.Groups {
		order = append(order, g.LocalName)
	}
	if !slices.Equal(order[:3], []string{"child", "parent", "grand"}) {
		t.Errorf("workspace group order = %v, want child, parent, grand first", order)
	}
	// SPs and nested groups are kept as members; an account group member
	// is referenced by its id.
	if got := planMemberNames(planAccountGroup(t, p, "child")); !slices.Equal(got, []string{"sp:bbbbbbbb-0000-4000-8000-000000000001", "user:alice@nest.test"}) {
		t.Errorf("child members = %v", got)
	}
	if got := planMemberNames(planAccountGroup(t, p, "parent")); !slices.Equal(got, []string{"group:ag:child", "group:id:2001", "user:bob@nest.test"}) {
		t.Errorf("parent members = %v", got)
	}
	if got := planMemberNames(planAccountGroup(t, p, "grand")); !slices.Equal(got, []string{"group:ag:parent"}) {
		t.Errorf("grand members = %v", got)
	}
	// Entitlements and instance-profile roles are captured, sorted.
	for _, g := range nest.Groups {
		switch g.LocalName {
		case "parent":
			if !slices.Equal(g.Entitlements, []string{"databricks-sql-access", "workspace-access"}) ||
				!slices.Equal(g.Roles, []string{"arn:aws:iam::123456789012:instance-profile/nest"}) {
				t.Errorf("parent entitlements %v roles %v", g.Entitlements, g.Roles)
			}
			if g.MemberCount != 3 || g.BackupName != "db-temp-parent" || !strings.HasPrefix(g.MembersDigest, "sha256:") {
				t.Errorf("parent = %+v", g)
			}
		case "child":
			if !slices.Equal(g.Entitlements, []string{"allow-cluster-create"}) || len(g.Roles) != 0 {
				t.Errorf("child entitlements %v roles %v", g.Entitlements, g.Roles)
			}
		}
	}
	// A member without an account identity blocks its group (and the
	// groups that contain it); it is never dropped.
	details := map[string]string{}
	for _, c := range p.Conflicts {
		if !c.Blocking {
			t.Errorf("non-blocking conflict %+v", c)
		}
		details[c.Kind+" "+c.Group] = c.Detail
	}
	if d := details["member-without-account-identity orphan"]; d != `user "local.only@nest.test" has no account user` {
		t.Errorf("orphan conflict = %q", d)
	}
	if d := details["member-without-account-identity above-orphan"]; !strings.HasPrefix(d, `nested group "orphan" is not migrated (member-without-account-identity:`) {
		t.Errorf("above-orphan conflict = %q", d)
	}
	if d := details["cycle alpha"]; d != "nested groups form a cycle: alpha -> beta -> alpha" {
		t.Errorf("cycle conflict = %q", d)
	}
	// Workspaces that are not running or not federated are skipped with
	// the reason, and their groups are not read.
	skipped := map[string]string{}
	for _, w := range p.Workspaces {
		if w.Skipped != "" {
			skipped[w.WorkspaceName] = w.Skipped
			if len(w.Groups) != 0 || w.Federated {
				t.Errorf("skipped workspace %s has groups %v federated %v", w.WorkspaceName, w.Groups, w.Federated)
			}
		}
	}
	wantSkipped := map[string]string{
		"starting": "workspace status is PROVISIONING, not RUNNING",
		"classic":  "not identity-federated: no Unity Catalog metastore is assigned to the workspace",
	}
	if !reflect.DeepEqual(skipped, wantSkipped) {
		t.Errorf("skipped = %v, want %v", skipped, wantSkipped)
	}
}

func TestPlanNestedGroupNotSelectedBlocksParent(t *testing.T) {
	srv := newPlanServer(t, "nested")
	p, _ := runTestPlan(t, srv, PlanOptions{Workspaces: []string{"nest"}, Groups: []string{"parent"}})
	if got := planOutcome(p); !reflect.DeepEqual(got, map[string]string{"nest/parent": "skip:member-without-account-identity"}) {
		t.Fatalf("outcome = %v", got)
	}
	if len(p.AccountGroups) != 0 {
		t.Errorf("account groups = %+v, want none", p.AccountGroups)
	}
	want := `nested local group "child" is not selected for migration; select it too or exclude this group`
	if len(p.Conflicts) != 1 || p.Conflicts[0].Detail != want {
		t.Errorf("conflicts = %+v, want one with %q", p.Conflicts, want)
	}
}

func TestPlanSelection(t *testing.T) {
	srv := newPlanServer(t, "match")
	tests := []struct {
		name string
		opts PlanOptions
		want []string
	}{
		{"workspace by name", PlanOptions{Workspaces: []string{"beta"}}, []string{"beta/team-bi", "beta/team-ml"}},
		{"workspace by id", PlanOptions{Workspaces: []string{"11"}}, []string{"alpha/legacy", "alpha/team-data", "alpha/team-ml"}},
		{"group", PlanOptions{Groups: []string{"legacy"}}, []string{"alpha/legacy"}},
		{"group regex", PlanOptions{GroupRegex: []string{"^team-(bi|data)$"}}, []string{"alpha/team-data", "beta/team-bi"}},
		{"exclude", PlanOptions{Exclude: []string{"team-ml"}, ExcludeRegex: []string{"^leg"}}, []string{"alpha/team-data", "beta/team-bi"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := runTestPlan(t, srv, tc.opts)
			var got []string
			for k := range planOutcome(p) {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("selected %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlanChangesNothing: plan sends only GETs and leaves the sandbox's
// state exactly as it was.
func TestPlanChangesNothing(t *testing.T) {
	srv := newPlanServer(t, "")
	before := srv.Snapshot()
	srv.ResetStats()
	runTestPlan(t, srv, PlanOptions{OnConflict: PolicyMerge, Report: ReportXLSX})
	st := srv.Stats()
	if st.Total == 0 {
		t.Fatal("no requests recorded")
	}
	for _, r := range st.Requests {
		if r.Method != "GET" {
			t.Errorf("plan sent %s %s (%d times)", r.Method, r.Route, r.Count)
		}
	}
	// Groups are listed without members, and the members of the selected
	// groups are derived from the lists' "groups" attributes: no GET per
	// group.
	if n := st.Count("GET", "/api/2.0/preview/scim/v2/Groups/{id}"); n != 0 {
		t.Errorf("%d per-group member GETs, want none", n)
	}
	if after := srv.Snapshot(); !reflect.DeepEqual(before, after) {
		t.Errorf("sandbox state changed")
	}
}

func TestPlanDefaultSeedGolden(t *testing.T) {
	srv := newPlanServer(t, "")
	dir := t.TempDir()
	out := filepath.Join(dir, "plan.json")
	d, stdout, _, _ := planDeps(t, srv)
	checkPlanRunErr(t, RunPlan(context.Background(), PlanOptions{Out: out, ToolVersion: "test"}, d), PlanOptions{Out: out})
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	planCheckGolden(t, "default.json", planNormalize(raw, srv.URL()))
	planCheckGolden(t, "default.stdout.tsv", stdout.Bytes())

	// The terminal summary, from the same plan.
	p, _, err := ReadPlan(out)
	if err != nil {
		t.Fatal(err)
	}
	streams, tty, _ := reports.Test()
	streams.SetStdoutTTY(true)
	streams.SetTerminalWidth(160)
	if err := printPlanSummary(streams, p, "plan.json"); err != nil {
		t.Fatal(err)
	}
	planCheckGolden(t, "default.tty.txt", tty.Bytes())

	// A second plan of the same state differs only in the placeholders.
	out2 := filepath.Join(dir, "plan2.json")
	d2, _, _, _ := planDeps(t, srv)
	checkPlanRunErr(t, RunPlan(context.Background(), PlanOptions{Out: out2, ToolVersion: "test"}, d2), PlanOptions{Out: out2})
	raw2, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(planNormalize(raw, srv.URL()), planNormalize(raw2, srv.URL())) {
		t.Errorf("two plans of the same state differ")
	}
	if bytes.Equal(raw, raw2) {
		t.Errorf("two plans share a lineage")
	}
}

var planPlaceholders = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`"created_at": "[^"]*"`), `"created_at": "[CREATED_AT]"`},
	{regexp.MustCompile(`"lineage": "[0-9a-f]{32}"`), `"lineage": "[LINEAGE]"`},
	{regexp.MustCompile(`"tool_version": "[^"]*"`), `"tool_version": "[TOOL_VERSION]"`},
	{regexp.MustCompile(`"digest": "sha256:[0-9a-f]{64}"`), `"digest": "[DIGEST]"`},
}

// planNormalize replaces what varies between runs (time, lineage, tool
// version, the sandbox's address, and so the integrity digest) with
// placeholders.
func planNormalize(raw []byte, host string) []byte {
	s := strings.ReplaceAll(string(raw), host, "[HOST]")
	for _, p := range planPlaceholders {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return []byte(s)
}

// planCheckGolden compares got with testdata/plan/golden/name (rewritten with
// -update).
func planCheckGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "plan", "golden", name)
	if planUpdateGolden() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./migrate -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n%s", path, planFirstDiff(string(want), string(got)))
	}
}

// planFirstDiff shows the first differing line.
func planFirstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, w, g)
		}
	}
	return "(no line differs)"
}

func TestPlanBadInputFailsBeforeConnecting(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists.json")
	if err := os.WriteFile(existing, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	badMap := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(badMap, []byte("ws,a,b\nws,c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "plan.json")
	tests := []struct {
		name string
		opts PlanOptions
		want string
		is   error
	}{
		{"no out", PlanOptions{}, "flag --out is required", nil},
		{"bad policy", PlanOptions{Out: out, OnConflict: "union"}, `flag --on-conflict "union"`, nil},
		{"bad match", PlanOptions{Out: out, Match: "fuzzy"}, `flag --match "fuzzy"`, nil},
		{"prefix without value", PlanOptions{Out: out, Match: MatchPrefix}, "--match prefix needs --prefix", nil},
		{"bad regex", PlanOptions{Out: out, Match: MatchRegex, Regex: "("}, `flag --regex "("`, nil},
		{"bad group regex", PlanOptions{Out: out, GroupRegex: []string{"["}}, `flag --group-regex "["`, nil},
		{"mapping without file", PlanOptions{Out: out, Match: MatchMapping}, "--match mapping needs --mapping FILE", nil},
		{"bad mapping row", PlanOptions{Out: out, Match: MatchMapping, MappingFile: badMap}, "mapping " + badMap + " line 2: want 3 fields", nil},
		{"missing mapping", PlanOptions{Out: out, Match: MatchMapping, MappingFile: filepath.Join(dir, "nope.csv")}, "read mapping", os.ErrNotExist},
		{"bad report", PlanOptions{Out: out, Report: "pdf"}, `flag --report "pdf"`, nil},
		{"report onto plan", PlanOptions{Out: out, Report: ReportHTML, ReportOut: out}, "is the plan file itself", nil},
		{"existing plan", PlanOptions{Out: existing}, "output " + existing + " exists: pass --force to overwrite", reports.ErrExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _, connects := planDeps(t, nil)
			err := RunPlan(context.Background(), tc.opts, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.is)
			}
			if *connects != 0 {
				t.Errorf("connected despite bad input")
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("plan file written despite the error")
			}
		})
	}
}

func TestPlanUnknownWorkspaceIsAnError(t *testing.T) {
	srv := newPlanServer(t, "match")
	out := filepath.Join(t.TempDir(), "plan.json")
	d, _, _, _ := planDeps(t, srv)
	err := RunPlan(context.Background(), PlanOptions{Out: out, Workspaces: []string{"alpha", "gamma"}}, d)
	if err == nil || err.Error() != `flag --workspace "gamma": no workspace of the account (by name or id) has this name (names are matched exactly, spaces and case included)` {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plan file written despite the error")
	}
}

func TestPlanForceReplacesPlan(t *testing.T) {
	srv := newPlanServer(t, "match")
	out := filepath.Join(t.TempDir(), "plan.json")
	runTestPlan(t, srv, PlanOptions{Out: out})
	p, _ := runTestPlan(t, srv, PlanOptions{Out: out, Force: true, Match: MatchPrefix, Prefix: "x-"})
	if p.Settings.Match != MatchPrefix {
		t.Errorf("plan was not replaced: %+v", p.Settings)
	}
}

func TestPlanReports(t *testing.T) {
	srv := newPlanServer(t, "conflicts")
	dir := t.TempDir()
	for _, format := range []string{ReportXLSX, ReportHTML} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(dir, format+"-plan.json")
			runTestPlan(t, srv, PlanOptions{Out: out, Report: format})
			report := strings.TrimSuffix(out, ".json") + "." + format
			fi, err := os.Stat(report)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("report mode %v, want 0600", fi.Mode().Perm())
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case ReportXLSX:
				if !bytes.HasPrefix(b, []byte("PK")) {
					t.Errorf("xlsx report is not a zip file")
				}
			case ReportHTML:
				for _, want := range []string{"<!DOCTYPE html>", "dbiam migration plan", "same-name-different-members", "east_shared", "existing-account-group-differs"} {
					if !bytes.Contains(b, []byte(want)) {
						t.Errorf("html report lacks %q", want)
					}
				}
			}
		})
	}
}

// planFakeClock is a clock shared by the sandbox (rate limits) and the
// client (backoff and limiter waits): sleeping advances it, so throttled
// runs finish without waiting in real time.
type planFakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *planFakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *planFakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// Throttling (both styles) and random transient faults make plan retry,
// not fail, and the plan is the same as an undisturbed one.
func TestPlanSurvivesThrottlingAndFaults(t *testing.T) {
	calm := newPlanServer(t, "")
	want, _ := runTestPlan(t, calm, PlanOptions{OnConflict: PolicyMerge})
	wantJSON, _ := MarshalPlan(want)

	for _, style := range []string{"429", "scim500"} {
		t.Run(style, func(t *testing.T) {
			clock := &planFakeClock{now: planClock()}
			srv := sandbox.NewTestServer(t, sandbox.Options{
				Now:           clock.Now,
				RateLimits:    map[string]float64{"scim-read": 3, "account-scim-read": 2, "default": 1},
				ThrottleStyle: style,
				FaultRate:     0.05,
				FaultSeed:     7,
			})
			streams, _, _ := reports.Test()
			d := Deps{Streams: streams, Now: planClock, Connect: func(ctx context.Context) (*scim.Session, error) {
				return scim.Connect(ctx, scim.Settings{
					Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
					Rates: scim.UnlimitedRates(), Sleep: clock.Sleep, MaxAttempts: 50, Parallel: 2,
				})
			}}
			out := filepath.Join(t.TempDir(), "plan.json")
			checkPlanRunErr(t, RunPlan(context.Background(), PlanOptions{Out: out, OnConflict: PolicyMerge, ToolVersion: "test"}, d),
				PlanOptions{Out: out})
			st := srv.Stats()
			if st.Throttled == 0 {
				t.Errorf("the sandbox throttled nothing; the test does not exercise retries")
			}
			got, _, err := ReadPlan(out)
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, _ := MarshalPlan(got)
			if !bytes.Equal(planNormalize(gotJSON, srv.URL()), planNormalize(wantJSON, calm.URL())) {
				t.Errorf("plan under throttling differs from the calm plan:\n%s",
					planFirstDiff(string(planNormalize(wantJSON, calm.URL())), string(planNormalize(gotJSON, srv.URL()))))
			}
		})
	}
}

// TestPlanParentNotMigrated: oncall-primary planned alone is a member of
// the local group oncall, which the plan leaves; the plan says so with a
// non-blocking conflict, shown in the summary's note and conflict list.
// Planned with its parent, the warning moves up to oncall (a member of
// etl-operators).
func TestPlanParentNotMigrated(t *testing.T) {
	srv := newPlanServer(t, "")
	p, _ := runTestPlan(t, srv, PlanOptions{Groups: []string{"oncall-primary"}})
	const detail = `member of local group "oncall", which the plan does not migrate: finalize will keep the backup group "db-temp-oncall-primary" so that "oncall" keeps its members`
	want := []Conflict{{Kind: ConflictParentNotMigrated, WorkspaceID: 6051921418418891, Group: "oncall-primary", Detail: detail,
		Policies: planSamePolicies(`migrate it; finalize keeps the backup group "db-temp-oncall-primary"`)}}
	if !reflect.DeepEqual(p.Conflicts, want) {
		t.Errorf("conflicts = %#v, want %#v", p.Conflicts, want)
	}
	if got := planOutcome(p); !reflect.DeepEqual(got, map[string]string{"acme-prod/oncall-primary": "oncall-primary"}) {
		t.Errorf("outcome = %v: the warning must not block", got)
	}
	streams, tty, _ := reports.Test()
	streams.SetStdoutTTY(true)
	streams.SetTerminalWidth(400)
	if err := printPlanSummary(streams, p, "plan.json"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"1 conflicts (0 blocking)",
		`parent-not-migrated (fail: migrate it; finalize keeps the backup group "db-temp-oncall-primary")`,
		"  - parent-not-migrated: oncall-primary in workspace acme-prod [resolved by on-conflict fail]\n    " + detail + "\n",
	} {
		if !strings.Contains(tty.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, tty)
		}
	}

	p, _ = runTestPlan(t, srv, PlanOptions{Groups: []string{"oncall-primary", "oncall"}})
	var got []string
	for _, c := range p.Conflicts {
		got = append(got, c.Kind+" "+c.Group+": "+c.Detail)
	}
	if want := []string{`parent-not-migrated oncall: member of local group "etl-operators", which the plan does not migrate: finalize will keep the backup group "db-temp-oncall" so that "etl-operators" keeps its members`}; !slices.Equal(got, want) {
		t.Errorf("conflicts = %q, want %q", got, want)
	}
}

// TestPlanNeedsReviewExitCode: a mapping row that matches nothing gives an
// empty plan, still written, a conflicts section on (non-terminal) stdout
// and exit code 2; a clean plan exits 0.
func TestPlanNeedsReviewExitCode(t *testing.T) {
	srv := newPlanServer(t, "")
	dir := t.TempDir()
	mapping := filepath.Join(dir, "map.csv")
	if err := os.WriteFile(mapping, []byte("acme-legacy,legacy-etl,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := PlanOptions{Out: filepath.Join(dir, "empty.json"), Match: MatchMapping, MappingFile: mapping, ToolVersion: "test"}
	d, stdout, _, _ := planDeps(t, srv)
	err := RunPlan(context.Background(), o, d)
	var re *PlanReviewError
	if !errors.As(err, &re) || re.ExitCode() != 2 || !re.Nothing || re.Blocking != 0 {
		t.Fatalf("RunPlan of a plan that matches nothing: %v, want a *PlanReviewError with exit code 2", err)
	}
	if want := "nothing to migrate although groups or mapping rows were asked for"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if _, _, err := ReadPlan(o.Out); err != nil {
		t.Errorf("plan not written: %v", err)
	}
	if !strings.Contains(stdout.String(), "\nConflicts:\n  - no-match: ") {
		t.Errorf("non-terminal stdout has no conflicts section:\n%s", stdout)
	}

	clean := PlanOptions{Out: filepath.Join(dir, "clean.json"), Groups: []string{"scim-synced"}, ToolVersion: "test"}
	d, stdout, _, _ = planDeps(t, srv)
	if err := RunPlan(context.Background(), clean, d); err != nil {
		t.Fatalf("RunPlan of a clean plan: %v, want nil (exit 0)", err)
	}
	if strings.Contains(stdout.String(), "Conflicts:") {
		t.Errorf("clean plan prints a conflicts section:\n%s", stdout)
	}
}

// TestPlanSkipUnreadable: a workspace whose groups cannot be listed fails
// the plan, with a hint, and writes nothing; with --skip-unreadable the
// plan leaves it out (skipped, with a blocking not-read conflict) and
// plans the others as a plan of the others alone would. A workspace whose
// groups' members cannot be read keeps its place, but each of its groups
// is blocked.
func TestPlanSkipUnreadable(t *testing.T) {
	const analytics = 6051921418418892
	others := PlanOptions{Workspaces: []string{"acme-prod", "acme-ml", "acme-legacy"}, OnConflict: PolicyMerge}
	calm, _ := runTestPlan(t, newPlanServer(t, ""), others)

	t.Run("fails without the flag", func(t *testing.T) {
		srv := newPlanServer(t, "")
		if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `/scim/v2/Groups$`, Workspace: analytics, Status: http.StatusForbidden}); err != nil {
			t.Fatal(err)
		}
		d, _, _, _ := planDeps(t, srv)
		out := filepath.Join(t.TempDir(), "plan.json")
		err := RunPlan(context.Background(), PlanOptions{Out: out, OnConflict: PolicyMerge, ToolVersion: "test"}, d)
		if err == nil || !strings.Contains(err.Error(), "workspace acme-analytics (6051921418418892): list groups:") ||
			!strings.Contains(err.Error(), "pass --skip-unreadable") {
			t.Fatalf("RunPlan = %v, want the workspace's error with the --skip-unreadable hint", err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("a failed plan left a plan file: %v", err)
		}
	})

	t.Run("workspace not read", func(t *testing.T) {
		srv := newPlanServer(t, "")
		if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `/scim/v2/Groups$`, Workspace: analytics, Status: http.StatusForbidden}); err != nil {
			t.Fatal(err)
		}
		p, stdout := runTestPlan(t, srv, PlanOptions{OnConflict: PolicyMerge, SkipUnreadable: true})
		var skipped string
		for _, w := range p.Workspaces {
			if w.WorkspaceID == analytics {
				skipped = w.Skipped
				if len(w.Groups) != 0 {
					t.Errorf("the unread workspace has groups in the plan: %+v", w.Groups)
				}
			}
		}
		if !strings.HasPrefix(skipped, "not read: ") || !strings.Contains(skipped, "403") {
			t.Errorf("workspace skipped = %q, want not read with the 403", skipped)
		}
		var notRead []Conflict
		for _, c := range p.Conflicts {
			if c.Kind == ConflictNotRead {
				notRead = append(notRead, c)
			}
		}
		if len(notRead) != 1 || notRead[0].WorkspaceID != analytics || notRead[0].Group != "" || !notRead[0].Blocking {
			t.Errorf("not-read conflicts = %+v, want one blocking conflict for the workspace", notRead)
		}
		if !strings.Contains(stdout, "not-read: workspace acme-analytics [BLOCKING]") {
			t.Errorf("summary does not show the conflict:\n%s", stdout)
		}
		if got, want := planOutcome(p), planOutcome(calm); !reflect.DeepEqual(got, want) {
			t.Errorf("outcome = %v\nwant the plan of the other workspaces: %v", got, want)
		}
	})

	t.Run("members not read", func(t *testing.T) {
		srv := newPlanServer(t, "")
		// Members are derived from the user list (among others).
		if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `/scim/v2/Users$`, Workspace: analytics, Status: http.StatusForbidden}); err != nil {
			t.Fatal(err)
		}
		p, _ := runTestPlan(t, srv, PlanOptions{OnConflict: PolicyMerge, SkipUnreadable: true})
		n := 0
		for k, v := range planOutcome(p) {
			inAnalytics := strings.HasPrefix(k, "acme-analytics/")
			if inAnalytics {
				n++
			}
			if inAnalytics != (v == "skip:"+ConflictNotRead) {
				t.Errorf("%s: %s", k, v)
			}
		}
		if n == 0 {
			t.Error("no group of acme-analytics in the plan")
		}
	})
}
