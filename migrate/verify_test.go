package migrate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// sandboxRemote returns a Remote on srv for plan, to change the live state
// behind apply's back.
func sandboxRemote(t *testing.T, srv *sandbox.Server, plan string) Remote {
	t.Helper()
	d, _, _ := sandboxDeps(t, srv)
	ctx := context.Background()
	sess, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRemote(ctx, sess, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// applied is a default-seed sandbox with its plan applied.
type applied struct {
	srv    *sandbox.Server
	seed   sandbox.State
	plan   string
	p      *Plan
	remote Remote
}

func applyDefault(t *testing.T) *applied {
	t.Helper()
	return applyDefaultIn(t, sandbox.Options{})
}

// applyDefaultIn is applyDefault on a sandbox made with opts.
func applyDefaultIn(t *testing.T, opts sandbox.Options) *applied {
	t.Helper()
	return applyPlanIn(t, opts, PlanOptions{})
}

// applyTreeIn is applyDefaultIn with a plan that reads the workspace tree
// (treePlan), so that rollback can restore the seed exactly.
func applyTreeIn(t *testing.T, opts sandbox.Options) *applied {
	t.Helper()
	return applyPlanIn(t, opts, treePlan(PlanOptions{}))
}

// applyPlanIn plans with o and applies that plan in a sandbox on opts.
func applyPlanIn(t *testing.T, opts sandbox.Options, o PlanOptions) *applied {
	t.Helper()
	srv := sandbox.NewTestServer(t, opts)
	a := &applied{srv: srv, seed: srv.Snapshot()}
	a.plan = makePlan(t, srv, t.TempDir(), o)
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: a.plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	var err error
	if a.p, _, err = ReadPlan(a.plan); err != nil {
		t.Fatal(err)
	}
	a.remote = sandboxRemote(t, srv, a.plan)
	return a
}

// group returns the plan of local group name in workspace wsName.
func (a *applied) group(t *testing.T, wsName, name string) (*WorkspacePlan, *GroupPlan, *AccountGroupPlan, string) {
	t.Helper()
	for _, gr := range activeGroups(a.p) {
		if gr.ws.WorkspaceName == wsName && gr.g.LocalName == name {
			ag := findAG(a.p, gr.g.AccountGroupKey)
			_, recs, err := ReadJournal(DefaultJournalDir(a.plan))
			if err != nil {
				t.Fatal(err)
			}
			return gr.ws, gr.g, ag, Replay(recs)[accountGroupStepID(ag.Key)].Detail.AccountGroupID
		}
	}
	t.Fatalf("no migrated group %q in %s", name, wsName)
	return nil, nil, nil, ""
}

func TestVerifyListsEveryDifference(t *testing.T) {
	// Under the strict permission migration the local group holds no grant
	// after apply: verify compares with the plan's baseline.
	a := applyDefault(t)
	ctx := context.Background()

	// 1. A member leaves an account group.
	_, _, ag1, id1 := a.group(t, "acme-prod", "oncall-primary")
	g, err := a.remote.AccountGroup(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.remote.RemoveAccountGroupMember(ctx, id1, g.Members[0].Value); err != nil {
		t.Fatal(err)
	}
	// 2. A backup group is renamed by hand.
	ws2, g2, _, _ := a.group(t, "acme-prod", "scim-synced")
	if err := a.remote.RenameWorkspaceGroup(ctx, ws2.WorkspaceID, g2.LocalID, "renamed-by-hand"); err != nil {
		t.Fatal(err)
	}
	// 3. An entitlement is removed.
	ws3, _, ag3, id3 := a.group(t, "acme-prod", "etl-operators")
	if err := a.remote.RemoveWorkspaceGroupEntitlements(ctx, ws3.WorkspaceID, id3, []string{"allow-instance-pool-create"}, nil); err != nil {
		t.Fatal(err)
	}
	// 4. A secret scope ACL is removed.
	ws4, _, ag4, _ := a.group(t, "acme-ml", "ml-ops")
	if err := a.remote.DeleteSecretACL(ctx, ws4.WorkspaceID, "ml-tokens", ag4.DisplayName); err != nil {
		t.Fatal(err)
	}
	// 5. An assignment is removed.
	ws5, _, ag5, id5 := a.group(t, "acme-analytics", "dashboards team")
	if err := a.remote.DeleteAssignment(ctx, ws5.WorkspaceID, id5); err != nil {
		t.Fatal(err)
	}

	d, stdout, _ := sandboxDeps(t, a.srv)
	err = RunVerify(ctx, VerifyOptions{PlanPath: a.plan}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 {
		t.Fatalf("verify: %v, want a PartialError", err)
	}
	out := stdout.String()
	for _, want := range []string{
		"account\t" + ag1.DisplayName + "\taccount group \"oncall-primary\" lacks user member ",
		"acme-prod (6051921418418891)\tscim-synced\tlocal group \"scim-synced\" is named \"renamed-by-hand\", want \"db-temp-scim-synced\"",
		"acme-prod (6051921418418891)\tetl-operators\taccount group \"" + ag3.DisplayName + "\" lacks entitlements [allow-instance-pool-create]",
		"acme-ml (6051921418418893)\tml-ops\taccount group \"ml-ops\" has no permission on secret scope \"ml-tokens\", want MANAGE",
		"acme-analytics (6051921418418892)\tdashboards team\taccount group \"" + ag5.DisplayName + "\" is not assigned to the workspace",
		"acme-analytics (6051921418418892)\tdashboards team\taccount group \"" + ag5.DisplayName + "\" is not visible in the workspace",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q", want)
		}
	}
	lines := slices.DeleteFunc(strings.Split(strings.TrimSpace(out), "\n"), func(l string) bool { return strings.HasPrefix(l, "verify: ") })
	if !strings.Contains(out, "\nverify: checked ") {
		t.Errorf("verify does not say what it checked of the grants:\n%s", out)
	}
	if pe.Differences != len(lines) {
		t.Errorf("PartialError counts %d differences, output has %d lines:\n%s", pe.Differences, len(lines), out)
	}
	// Five groups were changed, out of every migrated group; the error
	// counts groups with differences, and the differences separately.
	total := len(activeGroups(a.p))
	if pe.Failed != 5 || pe.Total != total {
		t.Errorf("PartialError: %d of %d groups, want 5 of %d", pe.Failed, pe.Total, total)
	}
	if want := "verify: 5 of " + itoa(total) + " groups have differences (" + itoa(len(lines)) + " differences)"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}
	if t.Failed() {
		t.Logf("verify output:\n%s", out)
	}
}

func TestFinalizeDeletesOnlyCleanBackups(t *testing.T) {
	a := applyDefault(t)
	ctx := context.Background()
	ws, g, ag, id := a.group(t, "acme-prod", "etl-operators")
	if err := a.remote.RemoveWorkspaceGroupEntitlements(ctx, ws.WorkspaceID, id, []string{"allow-cluster-create"}, nil); err != nil {
		t.Fatal(err)
	}
	d, stdout, _ := sandboxDeps(t, a.srv)
	a.srv.ResetStats()
	err := RunFinalize(ctx, FinalizeOptions{JournalDir: DefaultJournalDir(a.plan), Yes: true}, d)
	var pe *PartialError
	// etl-operators does not verify; oncall, nested in it, and
	// oncall-primary, nested in oncall, keep their backups too, since a
	// nested group's backup goes only after its migrated parent's.
	if !errors.As(err, &pe) || pe.Failed != 3 {
		t.Fatalf("finalize: %v, want a PartialError for 3 groups\n%s", err, stdout)
	}
	total := len(activeGroups(a.p))
	// Per group: verify reads the local group and the account group in the
	// workspace; a deleted backup is read once more right before its
	// DELETE (its name is checked against the journal's).
	if got, want := a.srv.Stats().Count("GET", "/api/2.0/preview/scim/v2/Groups/{id}"), 2*total+total-3; got != want {
		t.Errorf("finalize read workspace groups %d times, want %d", got, want)
	}
	for _, want := range []string{
		"Finalize: " + itoa(total-3) + " backup groups deleted, 3 kept",
		`kept: group "etl-operators" in workspace acme-prod (6051921418418891): account group "` + ag.DisplayName + `" lacks entitlements [allow-cluster-create]`,
		`kept: group "oncall" in workspace acme-prod (6051921418418891): the backup group "db-temp-oncall" is a member of "db-temp-etl-operators", the backup of migrated group "etl-operators", which is not finalized`,
		`kept: group "oncall-primary" in workspace acme-prod (6051921418418891): the backup group "db-temp-oncall-primary" is a member of "db-temp-oncall", the backup of migrated group "oncall", which is not finalized`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("finalize output lacks %q:\n%s", want, stdout)
		}
	}
	// Only the unclean group's backup and those nested in it are left;
	// every other local group of the plan is gone, and groups the plan
	// skips are untouched.
	st := a.srv.Snapshot()
	var backups []string
	for _, w := range st.Workspaces {
		for _, lg := range w.Groups {
			if strings.HasPrefix(lg.DisplayName, DefaultBackupPrefix) {
				backups = append(backups, lg.DisplayName)
			}
		}
	}
	if want := []string{"db-temp-oncall-primary", "db-temp-oncall", g.BackupName}; !slices.Equal(backups, want) {
		t.Errorf("backup groups left: %v, want %v", backups, want)
	}
	for _, w := range a.seed.Workspaces {
		for _, lg := range w.Groups {
			if lg.DisplayName == "reporting" || lg.DisplayName == "admins" {
				if !hasLocalGroup(st, w.WorkspaceID, lg.ID) {
					t.Errorf("finalize deleted %q in %s, which the plan does not migrate", lg.DisplayName, w.WorkspaceName)
				}
			}
		}
	}

	// Status shows the finalized groups; a rollback cannot undo them.
	d, stdout, _ = sandboxDeps(t, a.srv)
	_ = RunStatus(ctx, StatusOptions{JournalDir: DefaultJournalDir(a.plan)}, d)
	if !strings.Contains(stdout.String(), itoa(total-3)+" finalized") {
		t.Errorf("status after finalize:\n%s", stdout)
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	err = RunRollback(ctx, RollbackOptions{JournalDir: DefaultJournalDir(a.plan), Groups: []string{"scim-synced"}, Yes: true}, d)
	if !errors.As(err, &pe) || !strings.Contains(stdout.String(), `it stays migrated (finalized): finalize deleted its backup group "db-temp-scim-synced"`) {
		t.Errorf("rollback of a finalized group: %v\n%s", err, stdout)
	}
}

func hasLocalGroup(st sandbox.State, ws int64, id string) bool {
	for _, w := range st.Workspaces {
		if w.WorkspaceID == ws {
			return slices.ContainsFunc(w.Groups, func(g sandbox.GroupState) bool { return g.ID == id })
		}
	}
	return false
}
