package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestApplyOutcomeCountsResumedGroupsOnce: the line that ends apply counts
// a group done before this run once. A resumed apply said "29 of 22 groups
// migrated" for 7 groups done before and 15 in the run (Migrated already
// includes AlreadyDone); here a second apply of a finished journal must say
// "N of N", not "2N of N".
func TestApplyOutcomeCountsResumedGroupsOnce(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	n := len(activeGroups(mustPlan(t, plan)))
	ctx := context.Background()
	for run := 1; run <= 2; run++ {
		d, stdout, stderr := sandboxDeps(t, srv)
		if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
			t.Fatalf("apply %d: %v\n%s\n%s", run, err, stdout, stderr)
		}
		o, ok := d.Streams.Outcome()
		if !ok {
			t.Fatalf("apply %d set no outcome", run)
		}
		want := strconv.Itoa(n) + " of " + strconv.Itoa(n) + " groups migrated, 0 failed, 0 pending"
		if o.Did != want {
			t.Errorf("apply %d outcome %q, want %q", run, o.Did, want)
		}
		if run == 2 && !strings.Contains(stdout.String(), "("+strconv.Itoa(n)+" already done before this run)") {
			t.Errorf("apply %d summary: %s", run, stdout)
		}
	}
}

// TestFinalizeAgainSaysItDeletedNothingNew: a finalize run after every
// backup was deleted deletes nothing; its summary and last line must not
// say "N backup groups deleted" as if it had (they said so while its dry
// run said "would delete 0 backup groups (N deleted before)").
func TestFinalizeAgainSaysItDeletedNothingNew(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	n := strconv.Itoa(len(activeGroups(mustPlan(t, plan))))
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	for run, want := range []string{
		"Finalize: " + n + " backup groups deleted, 0 kept\n",
		"Finalize: " + n + " backup groups deleted (" + n + " of them before this run), 0 kept\n",
	} {
		srv.ResetStats()
		d, stdout, stderr = sandboxDeps(t, srv)
		if err := RunFinalize(ctx, FinalizeOptions{JournalDir: DefaultJournalDir(plan), Yes: true}, d); err != nil {
			t.Fatalf("finalize %d: %v\n%s\n%s", run+1, err, stdout, stderr)
		}
		if stdout.String() != want {
			t.Errorf("finalize %d printed %q, want %q", run+1, stdout, want)
		}
		o, _ := d.Streams.Outcome()
		if wantDid := strings.TrimSuffix(strings.TrimPrefix(want, "Finalize: "), "\n"); o.Did != wantDid {
			t.Errorf("finalize %d outcome %q, want %q", run+1, o.Did, wantDid)
		}
		if w := writes(srv.Stats()); run == 1 && w != 0 {
			t.Errorf("finalize %d made %d writes", run+1, w)
		}
	}
}

// TestFinalizeNamesARolledBackGroupAsRolledBack: after "rollback --group
// a eq b", a finalize of every group keeps that group (it has no backup to
// delete) and must say it was rolled back, not that "apply has not
// finished it": apply had finished it.
func TestFinalizeNamesARolledBackGroupAsRolledBack(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(plan)
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunRollback(ctx, RollbackOptions{JournalDir: jdir, Groups: []string{nameEq}, Yes: true}, d); err != nil {
		t.Fatalf("rollback --group %q: %v\n%s\n%s", nameEq, err, stdout, stderr)
	}
	d, stdout, stderr = sandboxDeps(t, srv)
	err := RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("finalize: %v, want a PartialError for the rolled-back group\n%s\n%s", err, stdout, stderr)
	}
	want := `  kept: group "a eq b" in workspace prod ws (7001): rollback undid its migration; run apply to migrate it again` + "\n"
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("finalize output lacks %q:\n%s", want, stdout)
	}
	if strings.Contains(stdout.String(), "apply has not finished it") {
		t.Errorf("finalize says apply has not finished a group it finished:\n%s", stdout)
	}
}

// TestEditedJournalPlanCopySaysHowToRepair: the copy of the plan in the
// journal directory edited after apply: status and rollback refuse it
// (exit 1, nothing changed) and say to put back the plan apply ran, not
// to re-run "dbiam migrate plan" (a new plan cannot continue this
// journal).
func TestEditedJournalPlanCopySaysHowToRepair(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(plan)
	copyPath := filepath.Join(jdir, "plan.json")
	raw, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), `"db-temp-a eq b"`, `"db-temp-a eq c"`, 1)
	if edited == string(raw) {
		t.Fatal("the copy has no backup name to edit")
	}
	if err := os.WriteFile(copyPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	before := srv.Snapshot()
	want := "this is the journal's copy of the plan apply ran, edited since; put back the plan file apply ran as "
	d, _, _ = sandboxDeps(t, srv)
	err = RunStatus(ctx, StatusOptions{JournalDir: jdir}, d)
	if !errors.Is(err, ErrPlanEdited) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), `re-run "dbiam migrate plan"`) {
		t.Errorf("status: %v; want ErrPlanEdited saying %q, not to re-run plan", err, want)
	}
	d, _, _ = sandboxDeps(t, srv)
	err = RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	if !errors.Is(err, ErrPlanEdited) || !strings.Contains(err.Error(), want) {
		t.Errorf("rollback: %v; want ErrPlanEdited saying %q", err, want)
	}
	if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, before); g != w {
		t.Errorf("rollback with an edited plan copy changed the account:\n%s", diffLines(w, g))
	}
}

// goneBeforeDelete is a Remote whose backup group is deleted by someone
// else between finalize's read and its delete.
type goneBeforeDelete struct {
	Remote
	id string
}

func (r goneBeforeDelete) DeleteWorkspaceGroup(ctx context.Context, workspaceID int64, id string) error {
	if id == r.id {
		if err := r.Remote.DeleteWorkspaceGroup(context.Background(), workspaceID, id); err != nil {
			return err
		}
	}
	return r.Remote.DeleteWorkspaceGroup(ctx, workspaceID, id)
}

// TestFinalizeSaysABackupGoneBeforeIsNotDeletedByIt: a backup group
// someone else deleted after finalize verified it is counted apart from
// those finalize deleted, and one deleted before is kept as not verifying
// (it no longer exists); a journal of another environment (an earlier
// --sandbox run) deletes nothing and says so.
func TestFinalizeSaysABackupGoneBeforeIsNotDeletedByIt(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	groups := activeGroups(mustPlan(t, plan))
	n := strconv.Itoa(len(groups))
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}

	// Another environment where nothing was migrated: every group is
	// kept, nothing is deleted.
	fresh := newAwkwardServer(t, sandbox.Options{})
	d, stdout, stderr = sandboxDeps(t, fresh)
	var pe *PartialError
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: DefaultJournalDir(plan), Yes: true}, d); !errors.As(err, &pe) {
		t.Fatalf("finalize in another environment: %v\n%s\n%s", err, stdout, stderr)
	}
	if want := "Finalize: 0 backup groups deleted, " + n + " kept\n"; !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("finalize in another environment printed %q, want it to start %q", stdout, want)
	}
	if w := writes(fresh.Stats()); w != 0 {
		t.Errorf("finalize in another environment made %d writes", w)
	}

	gone := groups[len(groups)-1] // a leaf: no migrated group is nested in it
	d, stdout, stderr = sandboxDeps(t, srv)
	err := RunFinalize(ctx, FinalizeOptions{JournalDir: DefaultJournalDir(plan), Yes: true,
		Remote: goneBeforeDelete{Remote: sandboxRemote(t, srv, plan), id: gone.g.LocalID}}, d)
	if err != nil {
		t.Fatalf("finalize: %v\n%s\n%s", err, stdout, stderr)
	}
	want := "Finalize: " + n + " backup groups deleted (1 of them already gone, deleted by someone else), 0 kept\n"
	if stdout.String() != want {
		t.Errorf("finalize printed %q, want %q", stdout, want)
	}
	if !strings.Contains(stderr.String(), "backup group already gone: nothing to delete") {
		t.Errorf("finalize log does not name the backup it found gone:\n%s", stderr)
	}
}
