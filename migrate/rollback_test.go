package migrate

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

func TestRollbackByGroup(t *testing.T) {
	// The strict permission migration (the default) moves the grants;
	// rollback puts back those of the baseline, which are all of this seed's.
	a := applyTreeIn(t, sandbox.Options{Seed: readableSeed()})
	ctx := context.Background()
	jdir := DefaultJournalDir(a.plan)

	// A group on its own: its local name comes back and its account group
	// goes; the others stay migrated.
	d, stdout, stderr := sandboxDeps(t, a.srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, Groups: []string{"scim-synced"}}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "Rollback: 1 groups rolled back, 1 account groups deleted or restored, 0 failed") {
		t.Errorf("rollback output:\n%s", stdout)
	}
	st := a.srv.Snapshot()
	ws, g, _, _ := a.group(t, "acme-prod", "scim-synced")
	for _, w := range st.Workspaces {
		for _, lg := range w.Groups {
			if w.WorkspaceID == ws.WorkspaceID && lg.ID == g.LocalID && lg.DisplayName != "scim-synced" {
				t.Errorf("local group is %q after rollback", lg.DisplayName)
			}
		}
	}
	for _, ag := range st.Groups {
		if ag.DisplayName == "scim-synced" {
			t.Error("the account group of the rolled back group still exists")
		}
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	_ = RunVerify(ctx, VerifyOptions{PlanPath: a.plan}, d)
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if !strings.Contains(l, "scim-synced") && !strings.HasPrefix(l, "verify: ") {
			t.Errorf("verify reports a difference for another group: %s", l)
		}
	}

	// A nested group cannot go back alone while its parent's account group,
	// which contains its account group, stays assigned to the workspace.
	d, stdout, _ = sandboxDeps(t, a.srv)
	err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, Groups: []string{"oncall"}}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || !strings.Contains(stdout.String(),
		`account group "oncall" is a member of account group "etl-operators", which stays assigned to workspace acme-prod and keeps the name "oncall" taken there; roll back "etl-operators" too (--group "etl-operators")`) {
		t.Errorf("rollback of a nested group alone: %v\n%s", err, stdout)
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, Groups: []string{"oncall", "etl-operators"}}, d); err != nil {
		t.Fatalf("rollback of a nested group with its parent: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "Rollback: 2 groups rolled back, 2 account groups deleted or restored, 0 failed") {
		t.Errorf("rollback output:\n%s", stdout)
	}

	// Status shows the rolled back groups; then everything is rolled back
	// and the seed state is back exactly.
	d, stdout, _ = sandboxDeps(t, a.srv)
	if err := RunStatus(ctx, StatusOptions{JournalDir: jdir}, d); err != nil {
		t.Fatalf("status: %v", err)
	}
	if !strings.Contains(stdout.String(), "3 rolled back") {
		t.Errorf("status:\n%s", stdout)
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir}, d); err != nil {
		t.Fatalf("full rollback: %v\n%s", err, stdout)
	}
	if g, w := snapshotJSON(t, a.srv.Snapshot()), snapshotJSON(t, a.seed); g != w {
		t.Errorf("rollback did not restore the seed:\n%s", diffLines(w, g))
	}

	// Apply again after the rollback: the journal starts the steps over.
	d, stdout, stderr = sandboxDeps(t, a.srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: a.plan}, d); err != nil {
		t.Fatalf("apply after rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: a.plan}, d); err != nil {
		t.Fatalf("verify after re-apply: %v\n%s", err, stdout)
	}
}

func TestRollbackUnknownGroup(t *testing.T) {
	a := applyDefault(t)
	d, _, _ := sandboxDeps(t, a.srv)
	err := RunRollback(context.Background(), RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(a.plan), Groups: []string{"nope"}}, d)
	if err == nil || !strings.Contains(err.Error(), `flag --group "nope": no migrated local group or account group of the plan has this name`) {
		t.Fatalf("err = %v", err)
	}
}

// TestRollbackLogsGroupsAndHintsOnlyRollbackableGroups: without a
// terminal, rollback logs one line per group rolled back or failed, and
// never suggests rolling back a group that finalize made permanent.
func TestRollbackLogsGroupsAndHintsOnlyRollbackableGroups(t *testing.T) {
	a := applyDefault(t)
	ctx := context.Background()
	jdir := DefaultJournalDir(a.plan)

	d, stdout, stderr := sandboxDeps(t, a.srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, Groups: []string{"scim-synced"}}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{
		` INFO rolled back group workspace="acme-prod" workspace_id=6051921418418891 group="scim-synced" account_group="scim-synced"`,
		` INFO deleted account group account_group="scim-synced"`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("rollback log lacks %q:\n%s", want, stderr)
		}
	}

	// etl-operators (which contains oncall) is finalized: it can never be
	// rolled back, so rolling back oncall must not suggest it.
	d, stdout, stderr = sandboxDeps(t, a.srv)
	if err := RunFinalize(ctx, FinalizeOptions{Yes: true, JournalDir: jdir, Groups: []string{"etl-operators"}}, d); err != nil {
		t.Fatalf("finalize: %v\n%s\n%s", err, stdout, stderr)
	}
	d, stdout, stderr = sandboxDeps(t, a.srv)
	err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, Groups: []string{"oncall"}}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("rollback of a group nested in a finalized one: %v, want a PartialError for 1 group\n%s", err, stdout)
	}
	if strings.Contains(stdout.String(), "roll back") || strings.Contains(stderr.String(), "roll back \"") {
		t.Errorf("rollback suggests rolling back a finalized group:\n%s\n%s", stdout, stderr)
	}
	want := `account group "oncall" is a member of account group "etl-operators", which stays assigned to workspace acme-prod and keeps the name "oncall" taken there; finalize deleted the backup group of "etl-operators" there, so it cannot be rolled back, and neither can "oncall"`
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("rollback output lacks\n%s\ngot:\n%s", want, stdout)
	}
	if !strings.Contains(stderr.String(), ` ERROR rollback failed workspace="acme-prod" group="oncall" error=`) {
		t.Errorf("rollback log has no line for the failed group:\n%s", stderr)
	}
}

// TestRollbackOfAnotherEnvironmentSaysNothingToUndo rolls back the journal
// of an apply against a fresh sandbox with the same seed (what --sandbox
// does on each run), where nothing was migrated: rollback must not say it
// rolled anything back, and counts the groups as already as before apply.
func TestRollbackOfAnotherEnvironmentSaysNothingToUndo(t *testing.T) {
	a := applyDefaultIn(t, sandbox.Options{Seed: readableSeed()})
	groups := len(activeGroups(a.p))
	fresh := sandbox.NewTestServer(t, sandbox.Options{Seed: readableSeed()})
	seed := snapshotJSON(t, fresh.Snapshot())
	d, stdout, stderr := sandboxDeps(t, fresh)
	if err := RunRollback(context.Background(), RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(a.plan)}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	want := "Rollback: 0 groups rolled back, " + strconv.Itoa(groups) + " already as before apply (nothing to undo), 0 account groups deleted or restored, "
	if !strings.Contains(stdout.String(), want) || strings.Contains(stderr.String(), "rolled back group") {
		t.Errorf("rollback output, want %q:\n%s\n%s", want, stdout, stderr)
	}
	if !strings.Contains(stderr.String(), "already as before apply: nothing to undo") {
		t.Errorf("rollback log does not say nothing was undone:\n%s", stderr)
	}
	if g := snapshotJSON(t, fresh.Snapshot()); g != seed {
		t.Errorf("rollback changed a sandbox where nothing was migrated (it took the local groups' own grants, under the account groups' names, for the account groups'):\n%s", g)
	}
}

// TestRollbackDryRunOfAnotherEnvironmentSaysNothingToUndo: a dry run
// counts as the run does: the groups already as before apply are not
// said to be what it would roll back (it counted every group the journal
// showed).
func TestRollbackDryRunOfAnotherEnvironmentSaysNothingToUndo(t *testing.T) {
	a := applyDefaultIn(t, sandbox.Options{Seed: readableSeed()})
	groups := len(activeGroups(a.p))
	fresh := sandbox.NewTestServer(t, sandbox.Options{Seed: readableSeed()})
	seed := snapshotJSON(t, fresh.Snapshot())
	d, stdout, stderr := sandboxDeps(t, fresh)
	if err := RunRollback(context.Background(), RollbackOptions{DryRun: true, JournalDir: DefaultJournalDir(a.plan)}, d); err != nil {
		t.Fatalf("rollback --dry-run: %v\n%s\n%s", err, stdout, stderr)
	}
	want := "Rollback (dry run): would roll back 0 groups, " + strconv.Itoa(groups) + " already as before apply (nothing to undo), would delete or restore 0 account groups, "
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("rollback --dry-run output, want %q:\n%s\n%s", want, stdout, stderr)
	}
	if g := snapshotJSON(t, fresh.Snapshot()); g != seed {
		t.Errorf("a dry run changed the sandbox:\n%s", g)
	}
}
