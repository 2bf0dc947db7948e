package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// verifyGroup checks one migrated group's end state in its workspace and
// returns every difference from the plan: the local group renamed to its
// backup name, the account group assigned, visible, holding the planned
// entitlements and roles, and holding at least the secret scope
// permissions and object ACL levels the local group holds now or held
// before apply (the plan's baseline: verify_grants.go). It also returns the local group as it read it, nil if
// it no longer exists. An error means the state could not be read.
func verifyGroup(ctx context.Context, rd Reader, ws *WorkspacePlan, g *GroupPlan, ag *AccountGroupPlan, agID string) ([]string, *scim.Group, error) {
	return verifyGroupAs(ctx, rd, ws, g, ag, agID, false)
}

// verifyGroupAs is verifyGroup for a group whose backup finalize may have
// deleted (finalized): its absence is then the intended end state, not a
// difference; a backup that is still there is one.
func verifyGroupAs(ctx context.Context, rd Reader, ws *WorkspacePlan, g *GroupPlan, ag *AccountGroupPlan, agID string, finalized bool) ([]string, *scim.Group, error) {
	var diffs []string
	local, localErr := rd.WorkspaceGroup(ctx, ws.WorkspaceID, g.LocalID)
	switch {
	case errors.Is(localErr, scim.ErrNotFound) && finalized:
	case localErr == nil && finalized:
		diffs = append(diffs, fmt.Sprintf("finalize deleted the backup group %q (id %s), but it exists again as %q", g.BackupName, g.LocalID, local.DisplayName))
	case errors.Is(localErr, scim.ErrNotFound):
		diffs = append(diffs, fmt.Sprintf("local group %q (id %s) no longer exists", g.LocalName, g.LocalID))
	case localErr != nil:
		return nil, nil, fmt.Errorf("read group %q: %w", g.LocalName, localErr)
	case local.DisplayName != g.BackupName:
		diffs = append(diffs, fmt.Sprintf("local group %q is named %q, want %q", g.LocalName, local.DisplayName, g.BackupName))
	}
	as, err := rd.Assignments(ctx, ws.WorkspaceID)
	if err != nil {
		return nil, nil, fmt.Errorf("list assignments of workspace %d: %w", ws.WorkspaceID, err)
	}
	if !hasAssignment(as, agID) {
		diffs = append(diffs, fmt.Sprintf("account group %q is not assigned to the workspace", ag.DisplayName))
	}
	vis, _, err := rd.WorkspaceGroupVisible(ctx, ws.WorkspaceID, agID)
	if err != nil {
		return nil, nil, fmt.Errorf("look for account group %q: %w", ag.DisplayName, err)
	}
	if !vis {
		diffs = append(diffs, fmt.Sprintf("account group %q is not visible in the workspace", ag.DisplayName))
	}
	agws, err := rd.WorkspaceGroup(ctx, ws.WorkspaceID, agID)
	switch {
	case errors.Is(err, scim.ErrNotFound):
		diffs = append(diffs, fmt.Sprintf("account group %q cannot be read in the workspace", ag.DisplayName))
	case err != nil:
		return nil, nil, fmt.Errorf("read account group %q in workspace %d: %w", ag.DisplayName, ws.WorkspaceID, err)
	default:
		if m := minus(g.Entitlements, values(agws.Entitlements)); len(m) > 0 {
			diffs = append(diffs, fmt.Sprintf("account group %q lacks entitlements %v", ag.DisplayName, m))
		}
		if m := minus(g.Roles, values(agws.Roles)); len(m) > 0 {
			diffs = append(diffs, fmt.Sprintf("account group %q lacks roles %v", ag.DisplayName, m))
		}
	}
	from := g.BackupName
	// The local group's secret ACLs are held under its live name.
	if localErr == nil && local.DisplayName != "" && local.DisplayName != g.BackupName {
		from = local.DisplayName
	}
	missing, err := secretACLDiff(ctx, rd, ws.WorkspaceID, from, ag.DisplayName, baselineSecrets(g))
	if err != nil {
		return nil, nil, err
	}
	for _, a := range missing {
		diffs = append(diffs, fmt.Sprintf("account group %q has %s on secret scope %q, want %s", ag.DisplayName, orNone(a.Previous), a.Scope, a.Permission))
	}
	objDiffs, err := verifyObjectGrants(ctx, rd, ws, g, ag)
	if err != nil {
		return nil, nil, err
	}
	diffs = append(diffs, objDiffs...)
	if localErr != nil {
		return diffs, nil, nil
	}
	return diffs, &local, nil
}

func orNone(s string) string {
	if s == "" {
		return "no permission"
	}
	return s
}

// verifyMembers checks that account group id holds every planned member.
func verifyMembers(ctx context.Context, rd Reader, ag *AccountGroupPlan, id string, ids map[string]string) ([]string, error) {
	g, err := rd.AccountGroup(ctx, id)
	if errors.Is(err, scim.ErrNotFound) {
		return []string{fmt.Sprintf("account group %q (id %s) does not exist", ag.DisplayName, id)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read account group %q: %w", ag.DisplayName, err)
	}
	have := map[string]bool{}
	for _, m := range g.Members {
		have[m.Value] = true
	}
	var diffs []string
	for _, m := range ag.Members {
		mid := m.AccountID
		if m.GroupKey != "" {
			mid = ids[m.GroupKey]
		}
		if mid == "" || !have[mid] {
			diffs = append(diffs, fmt.Sprintf("account group %q lacks %s member %s", ag.DisplayName, m.Kind, memberLabel(m)))
		}
	}
	return diffs, nil
}

// VerifyOptions are the options of "dbiam migrate verify".
type VerifyOptions struct {
	// PlanPath is the plan to check the live state against.
	PlanPath string
	// JournalDir, if set (default "<plan>.journal" when it exists), gives
	// the ids of account groups apply created.
	JournalDir string
	// Remote, if set, is used instead of connecting (tests).
	Remote Remote
}

// Difference is one way the live state differs from the plan.
type Difference struct {
	WorkspaceID int64  `json:"workspace_id,omitempty"`
	Workspace   string `json:"workspace,omitempty"`
	Group       string `json:"group"`
	Detail      string `json:"detail"`
}

// RunVerify checks the live end state against the plan and prints every
// difference on stdout. It returns a *PartialError (exit code 2) when
// there are differences.
func RunVerify(ctx context.Context, opts VerifyOptions, d Deps) error {
	plan, raw, err := ReadPlan(opts.PlanPath)
	if err != nil {
		return err
	}
	views := map[string]*StepView{}
	dir := opts.JournalDir
	if dir == "" {
		dir = DefaultJournalDir(opts.PlanPath)
	}
	if h, recs, err := ReadJournal(dir); err == nil {
		if h.PlanSHA256 != journal.SHA256(raw) {
			return fmt.Errorf("verify: %w: %s was written for another plan", journal.ErrMismatch, journal.Path(dir))
		}
		views = Replay(recs)
	} else if !errors.Is(err, journal.ErrNoJournal) || opts.JournalDir != "" {
		return err
	}
	remote := opts.Remote
	if remote == nil {
		var err error
		if remote, err = connectRemote(ctx, "verify", d, plan); err != nil {
			return err
		}
	}
	diffs, groups, failed, err := verifyPlan(ctx, remote, plan, views, d.Streams)
	if err != nil {
		return err
	}
	var out io.Writer = os.Stdout
	if d.Streams != nil {
		out = d.Streams.Out
	}
	for _, df := range diffs {
		if df.WorkspaceID != 0 {
			fmt.Fprintf(out, "%s (%d)\t%s\t%s\n", df.Workspace, df.WorkspaceID, df.Group, df.Detail)
		} else {
			fmt.Fprintf(out, "account\t%s\t%s\n", df.Group, df.Detail)
		}
	}
	d.setOutcome(reports.Outcome{Command: "migrate verify", Stdout: true,
		Did: fmt.Sprintf("%d groups checked, %d differences in %d groups", groups, len(diffs), failed)})
	if len(diffs) == 0 {
		fin := 0
		for _, gr := range activeGroups(plan) {
			if v := views[groupStepID(KindDeleteBackup, gr.ws.WorkspaceID, gr.g.LocalID)]; v != nil && v.State == StateDone {
				fin++
			}
		}
		if fin > 0 {
			fmt.Fprintf(out, "verify: no differences (%d groups, %d of them finalized); %s\n", groups, fin, grantCoverage(plan))
		} else {
			fmt.Fprintf(out, "verify: no differences (%d groups); %s\n", groups, grantCoverage(plan))
		}
		return nil
	}
	fmt.Fprintf(out, "verify: %s\n", grantCoverage(plan))
	return &PartialError{Op: "verify", Failed: failed, Total: groups, Differences: len(diffs),
		Hint: "the list above names every difference; run apply again to finish, or rollback"}
}

// verifyPlan checks every migrated group and account group of the plan.
// It returns the differences, the number of migrated local groups, and
// how many of them have a difference (their own, or one of the account
// group they are mapped to). It reports its progress on s (nil: none):
// a task per workspace counting its groups, and one counting the account
// groups.
func verifyPlan(ctx context.Context, rd Reader, plan *Plan, views map[string]*StepView, s *reports.Streams) (diffs []Difference, groups, failed int, err error) {
	diffs, failedAGs, failedGroups, err := verifyPlanDiffs(ctx, rd, plan, views, s)
	if err != nil {
		return nil, 0, 0, err
	}
	active := activeGroups(plan)
	for _, gr := range active {
		if failedAGs[gr.g.AccountGroupKey] || failedGroups[groupStepID(KindVerify, gr.ws.WorkspaceID, gr.g.LocalID)] {
			failed++
		}
	}
	return diffs, len(active), failed, nil
}

// verifyPlanDiffs lists the differences, with the keys of the account
// groups and the verify step ids of the local groups that have some.
func verifyPlanDiffs(ctx context.Context, rd Reader, plan *Plan, views map[string]*StepView, s *reports.Streams) ([]Difference, map[string]bool, map[string]bool, error) {
	rd = newWorkspaceListCache(rd)
	groups := activeGroups(plan)
	needed := map[string]bool{}
	var units []taskRef
	for _, gr := range groups {
		if !needed[gr.g.AccountGroupKey] {
			units = append(units, accountTask)
		}
		needed[gr.g.AccountGroupKey] = true
	}
	for _, gr := range groups {
		units = append(units, wsTaskRef(gr.ws))
	}
	prog := newCmdProgress(s, "verify", "groups", "with differences", units)
	defer prog.close()
	prog.start(accountTask)
	failedAGs, failedGroups := map[string]bool{}, map[string]bool{}
	ids := map[string]string{}
	var diffs []Difference
	for i := range plan.AccountGroups {
		ag := &plan.AccountGroups[i]
		id := ""
		if v := views[accountGroupStepID(ag.Key)]; v != nil {
			id = v.Detail.AccountGroupID
		}
		if id == "" {
			id = ag.ExistingID
		}
		if id == "" {
			gs, err := rd.FindAccountGroups(ctx, ag.DisplayName)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("look up account group %q: %w", ag.DisplayName, err)
			}
			for _, g := range gs {
				if g.DisplayName == ag.DisplayName {
					id = g.ID
				}
			}
		}
		ids[ag.Key] = id
	}
	for i := range plan.AccountGroups {
		ag := &plan.AccountGroups[i]
		if !needed[ag.Key] {
			continue
		}
		if ids[ag.Key] == "" {
			diffs = append(diffs, Difference{Group: ag.DisplayName, Detail: fmt.Sprintf("account group %q does not exist", ag.DisplayName)})
			failedAGs[ag.Key] = true
			prog.done(accountTask, 1, true)
			continue
		}
		ds, err := verifyMembers(ctx, rd, ag, ids[ag.Key], ids)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(ds) > 0 {
			failedAGs[ag.Key] = true
		}
		prog.done(accountTask, 1, len(ds) > 0)
		for _, s := range ds {
			diffs = append(diffs, Difference{Group: ag.DisplayName, Detail: s})
		}
	}
	for _, gr := range groups {
		ag := findAG(plan, gr.g.AccountGroupKey)
		id := ids[ag.Key]
		prog.start(wsTaskRef(gr.ws))
		if id == "" {
			diffs = append(diffs, Difference{WorkspaceID: gr.ws.WorkspaceID, Workspace: gr.ws.WorkspaceName, Group: gr.g.LocalName,
				Detail: fmt.Sprintf("account group %q does not exist", ag.DisplayName)})
			failedGroups[groupStepID(KindVerify, gr.ws.WorkspaceID, gr.g.LocalID)] = true
			prog.done(wsTaskRef(gr.ws), 1, true)
			continue
		}
		fin := views[groupStepID(KindDeleteBackup, gr.ws.WorkspaceID, gr.g.LocalID)]
		ds, _, err := verifyGroupAs(ctx, rd, gr.ws, gr.g, ag, id, fin != nil && fin.State == StateDone)
		if err != nil {
			return nil, nil, nil, err
		}
		if v := views[groupStepID(KindMigratePermissions, gr.ws.WorkspaceID, gr.g.LocalID)]; len(views) > 0 && (v == nil || v.State != StateDone) {
			ds = append(ds, "permissions were not migrated (the journal has no finished migrate-permissions step)")
		}
		if len(ds) > 0 {
			failedGroups[groupStepID(KindVerify, gr.ws.WorkspaceID, gr.g.LocalID)] = true
		}
		prog.done(wsTaskRef(gr.ws), 1, len(ds) > 0)
		for _, s := range ds {
			diffs = append(diffs, Difference{WorkspaceID: gr.ws.WorkspaceID, Workspace: gr.ws.WorkspaceName, Group: gr.g.LocalName, Detail: s})
		}
	}
	sort.SliceStable(diffs, func(a, b int) bool {
		if diffs[a].WorkspaceID != diffs[b].WorkspaceID {
			return diffs[a].WorkspaceID < diffs[b].WorkspaceID
		}
		return diffs[a].Group < diffs[b].Group
	})
	return diffs, failedAGs, failedGroups, nil
}

func findAG(p *Plan, key string) *AccountGroupPlan {
	i := slices.IndexFunc(p.AccountGroups, func(ag AccountGroupPlan) bool { return ag.Key == key })
	if i < 0 {
		return nil
	}
	return &p.AccountGroups[i]
}

// workspaceListCache is a Reader that lists each workspace's assignments,
// secret scopes and secret scope ACLs once, for a read-only pass such as
// verify that checks many groups of the same workspace. Errors are not
// cached. It is not safe for concurrent use.
type workspaceListCache struct {
	Reader
	assignments map[int64][]scim.PermissionAssignment
	scopes      map[int64][]string
	acls        map[workspaceScope][]SecretACL
	objects     map[dryObject]scim.ObjectPermissions // verify_grants.go
}

type workspaceScope struct {
	wsID  int64
	scope string
}

func newWorkspaceListCache(rd Reader) *workspaceListCache {
	return &workspaceListCache{Reader: rd, assignments: map[int64][]scim.PermissionAssignment{},
		scopes: map[int64][]string{}, acls: map[workspaceScope][]SecretACL{}}
}

func (c *workspaceListCache) Assignments(ctx context.Context, wsID int64) ([]scim.PermissionAssignment, error) {
	if as, ok := c.assignments[wsID]; ok {
		return as, nil
	}
	as, err := c.Reader.Assignments(ctx, wsID)
	if err == nil {
		c.assignments[wsID] = as
	}
	return as, err
}

func (c *workspaceListCache) SecretScopes(ctx context.Context, wsID int64) ([]string, error) {
	if ss, ok := c.scopes[wsID]; ok {
		return ss, nil
	}
	ss, err := c.Reader.SecretScopes(ctx, wsID)
	if err == nil {
		c.scopes[wsID] = ss
	}
	return ss, err
}

func (c *workspaceListCache) SecretACLs(ctx context.Context, wsID int64, scope string) ([]SecretACL, error) {
	k := workspaceScope{wsID, scope}
	if acls, ok := c.acls[k]; ok {
		return acls, nil
	}
	acls, err := c.Reader.SecretACLs(ctx, wsID, scope)
	if err == nil {
		c.acls[k] = acls
	}
	return acls, err
}
