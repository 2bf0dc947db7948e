package migrate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestFinalizeKeepsBackupNestedInUnmigratedGroup migrates oncall-primary
// alone: its local parent "oncall" (itself in etl-operators) stays and
// keeps the backup group as a member. Deleting that backup would take
// oncall-primary's members out of oncall and etl-operators, so finalize
// keeps it and says why.
func TestFinalizeKeepsBackupNestedInUnmigratedGroup(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{Groups: []string{"oncall-primary"}})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	d, stdout, _ = sandboxDeps(t, srv)
	err := RunFinalize(ctx, FinalizeOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("finalize: %v, want a PartialError for 1 group\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), `kept: group "oncall-primary" in workspace acme-prod (6051921418418891): the backup group "db-temp-oncall-primary" is still a member of group "oncall"`) {
		t.Errorf("finalize output:\n%s", stdout)
	}
	if !hasLocalGroup(srv.Snapshot(), 6051921418418891, "1400000000000003") {
		t.Fatal("finalize deleted the backup of oncall-primary, a member of the unmigrated local group oncall")
	}
}

// TestFinalizeDeletesBackupNestedInMigratedGroup: when the parent is
// migrated too (the default plan migrates oncall and oncall-primary), the
// account group of the parent holds the child's account group, so the
// child's backup goes.
func TestFinalizeDeletesBackupNestedInMigratedGroup(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{Groups: []string{"oncall-primary", "oncall", "etl-operators"}})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunFinalize(ctx, FinalizeOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d); err != nil {
		t.Fatalf("finalize: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "Finalize: 3 backup groups deleted, 0 kept") {
		t.Errorf("finalize output:\n%s", stdout)
	}
}
