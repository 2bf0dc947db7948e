package migrate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestApplyRollbackEndToEndPolicies runs plan, apply, verify and rollback
// with the merge and per-workspace policies and checks that rollback
// restores the sandbox's state exactly, except for the documented limit:
// grants the permission migration API copied onto a reused account group
// stay (rollback warns).
func TestApplyRollbackEndToEndPolicies(t *testing.T) {
	for _, policy := range []string{PolicyMerge, PolicyPerWorkspace} {
		t.Run(policy, func(t *testing.T) {
			// TODO(#12): rollback cannot yet put back the grants that the strict
			// permission migration moves off the local group; the #12 migrate wave
			// (plan/apply/verify/rollback under strict) removes this copy opt-in.
			srv := sandbox.NewTestServer(t, sandbox.Options{PermissionMigration: sandbox.PermissionMigrationCopy})
			seed := srv.Snapshot()
			plan := makePlan(t, srv, t.TempDir(), PlanOptions{OnConflict: policy})
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
			d, stdout, stderr = sandboxDeps(t, srv)
			if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d); err != nil {
				t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
			}
			reused := map[string]string{} // id -> name
			for _, ag := range p.AccountGroups {
				if ag.ExistingID != "" {
					reused[ag.ExistingID] = ag.DisplayName
				}
			}
			got := srv.Snapshot()
			left := map[string]bool{}
			for i := range got.Workspaces {
				w := &got.Workspaces[i]
				w.Grants = slices.DeleteFunc(w.Grants, func(g sandbox.GrantState) bool {
					if reused[g.PrincipalID] == "" || slices.Contains(seed.Workspaces[i].Grants, g) {
						return false
					}
					left[reused[g.PrincipalID]] = true
					return true
				})
			}
			if policy == PolicyMerge && len(left) == 0 {
				t.Error("the merge plan left no grants on a reused account group: the test no longer covers the warning")
			}
			for name := range left {
				if !strings.Contains(stdout.String(), "grants copied to the existing account group \""+name+"\"") {
					t.Errorf("rollback does not warn about grants left on the reused account group %q:\n%s", name, stdout)
				}
			}
			if g, w := snapshotJSON(t, got), snapshotJSON(t, seed); g != w {
				t.Errorf("rollback did not restore the seed state:\n%s", diffLines(w, g))
			}
		})
	}
}

// withoutReusedGrants drops from st the grants that reused account groups
// of plan hold and did not hold in seed: the permission migration API has
// no undo, so rollback leaves them (and warns).
func withoutReusedGrants(t *testing.T, plan string, st, seed sandbox.State) sandbox.State {
	t.Helper()
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	reused := map[string]bool{}
	for _, ag := range p.AccountGroups {
		if ag.ExistingID != "" {
			reused[ag.ExistingID] = true
		}
	}
	for i := range st.Workspaces {
		w := &st.Workspaces[i]
		w.Grants = slices.DeleteFunc(w.Grants, func(g sandbox.GrantState) bool {
			return reused[g.PrincipalID] && !slices.Contains(seed.Workspaces[i].Grants, g)
		})
	}
	return st
}
