package migrate

import (
	"context"
	"strings"
	"testing"
)

// TestFinalizeAndRollbackDryRunSayWould: dry runs of finalize and rollback
// change nothing and say what they would do, in the log and the summary,
// never that they did it.
func TestFinalizeAndRollbackDryRunSayWould(t *testing.T) {
	a := applyDefault(t)
	ctx := context.Background()
	jdir := DefaultJournalDir(a.plan)
	total := len(activeGroups(a.p))
	before := snapshotJSON(t, a.srv.Snapshot())

	d, stdout, stderr := sandboxDeps(t, a.srv)
	if err := RunFinalize(ctx, FinalizeOptions{Yes: true, JournalDir: jdir, DryRun: true}, d); err != nil {
		t.Fatalf("finalize --dry-run: %v\n%s\n%s", err, stdout, stderr)
	}
	if want := "Finalize (dry run): would delete " + itoa(total) + " backup groups (0 deleted before), would keep 0\n"; stdout.String() != want {
		t.Errorf("finalize --dry-run summary:\n%s\nwant %s", stdout, want)
	}
	if n := strings.Count(stderr.String(), "would delete backup group"); n != total {
		t.Errorf("finalize --dry-run logs %d \"would delete backup group\" lines, want %d:\n%s", n, total, stderr)
	}
	if strings.Contains(stderr.String(), "deleted backup group") {
		t.Errorf("finalize --dry-run logs a deletion:\n%s", stderr)
	}

	d, stdout, stderr = sandboxDeps(t, a.srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, DryRun: true}, d); err != nil {
		t.Fatalf("rollback --dry-run: %v\n%s\n%s", err, stdout, stderr)
	}
	// Before its summary it says what it would put back of each group's
	// grants.
	if want := "\nRollback (dry run): would roll back " + itoa(total) + " groups, would delete or restore "; !strings.Contains("\n"+stdout.String(), want) {
		t.Errorf("rollback --dry-run summary:\n%s\nwant a line starting %s", stdout, want)
	}
	if n := strings.Count(stdout.String(), ": rollback would put back "); n != total {
		t.Errorf("rollback --dry-run says what it would put back for %d groups, want %d:\n%s", n, total, stdout)
	}
	if strings.Contains(stdout.String(), "rolled back") || strings.Contains(stderr.String(), "rolled back") {
		t.Errorf("rollback --dry-run says it rolled back:\n%s\n%s", stdout, stderr)
	}
	if g := snapshotJSON(t, a.srv.Snapshot()); g != before {
		t.Errorf("dry runs changed the state:\n%s", diffLines(before, g))
	}
}
