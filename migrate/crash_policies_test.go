package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestCrashResumePolicies is TestCrashResume for the merge and
// per-workspace policies (reused account groups whose missing members are
// PATCHed, several local groups into one account group, per-workspace
// names), at a spread of crash points: after each crash and resume the end
// state equals an uninterrupted run's, and a rollback then restores the
// seed, grants of reused account groups included.
func TestCrashResumePolicies(t *testing.T) {
	// Parallel: the two crash tests run their own sandboxes and child
	// processes and touch no package state; they overlap each other only
	// (parallel tests start once the sequential ones are done).
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	for _, policy := range []string{PolicyMerge, PolicyPerWorkspace} {
		t.Run(policy, func(t *testing.T) {
			// The strict permission migration (the default) moves the grants, and
			// rollback puts back those of the baseline: all of this seed's.
			opts := sandbox.Options{Seed: readableSeed()}
			srv := sandbox.NewTestServer(t, opts)
			plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{OnConflict: policy}))
			want, n := referenceRunIn(t, plan, opts)
			raw, err := os.ReadFile(plan)
			if err != nil {
				t.Fatal(err)
			}
			const points = 16
			for i := int64(0); i < points; i++ {
				k := 1 + i*(n-1)/(points-1)
				srv := sandbox.NewTestServer(t, opts)
				seed := srv.Snapshot()
				p := filepath.Join(t.TempDir(), "plan.json")
				if err := os.WriteFile(p, raw, 0o600); err != nil {
					t.Fatal(err)
				}
				killed, err := runChild(srv, p, k+1)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				if killed {
					d, stdout, stderr := sandboxDeps(t, srv)
					if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: p}, d); err != nil {
						t.Fatalf("resume after a kill after record %d: %v\n%s\n%s", k, err, stdout, stderr)
					}
				}
				checkNoDuplicateGroups(t, srv.Snapshot())
				if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
					t.Fatalf("crash after record %d: state differs from an uninterrupted run:\n%s", k, diffLines(w, g))
				}
				d, stdout, stderr := sandboxDeps(t, srv)
				if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(p)}, d); err != nil {
					t.Fatalf("rollback after a crash after record %d: %v\n%s\n%s", k, err, stdout, stderr)
				}
				if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); g != w {
					t.Fatalf("%s", fmt.Sprintf("rollback after a crash after record %d did not restore the seed:\n%s", k, diffLines(w, g)))
				}
			}
		})
	}
}
