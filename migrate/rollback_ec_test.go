package migrate

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/dbiam/dbiam/sandbox"
)

// TestRollbackFindsAnUnacknowledgedCreateWithinTheConsistencyWindow: an
// account group POST lands but its reply is lost; apply, not finding the
// group in the lagging list, POSTs again (409) and is killed while it
// waits for the group to be listed. A rollback run within the consistency
// window must find the group by the rules apply uses (waiting for the
// list to catch up) and delete it, leaving the account as it was.
func TestRollbackFindsAnUnacknowledgedCreateWithinTheConsistencyWindow(t *testing.T) {
	clk := newFakeClock()
	srv := newAwkwardServer(t, sandbox.Options{Now: clk.Now, Consistency: 30 * time.Second})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{Groups: []string{nameLeadTr}})
	if err := srv.AddFault(sandbox.Fault{Method: "POST", PathRegexp: `/accounts/[^/]+/scim/v2/Groups$`, Status: http.StatusInternalServerError,
		AfterHandler: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	waits := 0
	killWhileWaiting := func(ctx context.Context, d time.Duration) error {
		waits++
		kill()
		return context.Canceled
	}
	d, stdout, stderr := clockDeps(t, srv, clk, nil)
	err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true, Sleep: killWhileWaiting}, d)
	if !errors.Is(err, context.Canceled) || waits != 1 {
		t.Fatalf("apply: %v after %d waits, want it interrupted while waiting for the group\n%s\n%s", err, waits, stdout, stderr)
	}
	created := 0
	for _, g := range srv.Snapshot().Groups {
		if g.DisplayName == nameLeadTr {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d account groups named %q after the interrupted apply, want 1 (created by the POST whose reply was lost)", created, nameLeadTr)
	}

	// Within the window: the list does not show the group yet.
	d, stdout, stderr = clockDeps(t, srv, clk, nil)
	if err := RunRollback(context.Background(), RollbackOptions{JournalDir: DefaultJournalDir(plan), Yes: true, Sleep: clk.Sleep}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	if got, want := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); got != want {
		t.Fatalf("rollback left the account changed:\n%s\n%s", diffLines(want, got), stderr)
	}
}
