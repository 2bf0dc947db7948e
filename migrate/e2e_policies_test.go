package migrate

import (
	"context"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestApplyRollbackEndToEndPolicies runs plan, apply, verify and rollback
// with the merge and per-workspace policies under the strict permission
// migration and checks that rollback restores the sandbox's state exactly:
// the grants the API moved go back to the local groups, and the grants it
// gave a reused account group (merge reuses "marketing") leave it. Rollback
// says so before it changes anything.
func TestApplyRollbackEndToEndPolicies(t *testing.T) {
	for _, policy := range []string{PolicyMerge, PolicyPerWorkspace} {
		t.Run(policy, func(t *testing.T) {
			srv := sandbox.NewTestServer(t, sandbox.Options{Seed: readableSeed()})
			seed := srv.Snapshot()
			plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{OnConflict: policy}))
			p, _, err := ReadPlan(plan)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			d, stdout, stderr := sandboxDeps(t, srv)
			if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
				t.Fatalf("apply: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			d, stdout, _ = sandboxDeps(t, srv)
			if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil {
				t.Errorf("verify: %v\n%s", err, stdout)
			}
			reused := 0
			for _, ag := range p.AccountGroups {
				if ag.ExistingID != "" {
					reused++
				}
			}
			if policy == PolicyMerge && reused == 0 {
				t.Error("the merge plan reuses no account group: the test no longer covers a reused group's grants")
			}
			d, stdout, stderr = sandboxDeps(t, srv)
			if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d); err != nil {
				t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
			}
			out := stdout.String()
			if i, j := strings.Index(out, "rollback puts back "), strings.Index(out, "Rollback: "); i < 0 || j < i {
				t.Errorf("rollback does not say, before its summary, which grants it puts back:\n%s", out)
			}
			if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); g != w {
				t.Errorf("rollback did not restore the seed state:\n%s", diffLines(w, g))
			}
		})
	}
}
