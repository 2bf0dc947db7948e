package migrate

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestVerifyAfterFullFinalizeIsClean: a finalized group is the intended
// end state, so verify after a clean, full finalize reports no difference
// (exit 0) and says how many groups are finalized.
func TestVerifyAfterFullFinalizeIsClean(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	n := len(activeGroups(mustPlan(t, plan)))
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: DefaultJournalDir(plan), Yes: true}, d); err != nil {
		t.Fatalf("finalize: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "Finalize: "+strconv.Itoa(n)+" backup groups deleted, 0 kept") {
		t.Fatalf("finalize did not delete every backup:\n%s", stdout)
	}
	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify after a full finalize: %v\n%s", err, stdout)
	}
	if want := "verify: no differences (" + strconv.Itoa(n) + " groups, " + strconv.Itoa(n) + " of them finalized); checked "; !strings.HasPrefix(stdout.String(), want) || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("verify output %q, want one line starting %q", stdout, want)
	}
}

// TestPerWorkspaceConflictIsNotListedResolvedWhileItsGroupsAreSkipped: with
// --on-conflict per-workspace, a same-name conflict that the per-workspace
// names cannot resolve for some of its groups (two groups of one workspace
// with different members) is listed as blocking, like its skipped groups.
func TestPerWorkspaceConflictIsNotListedResolvedWhileItsGroupsAreSkipped(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	mapping := filepath.Join(t.TempDir(), "map.csv")
	csv := awkWS1Name + ",ops,team\n" + awkWS1Name + ",ops ,team\n" + awkWS2Name + ",Ops,team\n"
	if err := os.WriteFile(mapping, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	p, out := runTestPlan(t, srv, PlanOptions{Match: MatchMapping, MappingFile: mapping, OnConflict: PolicyPerWorkspace})
	migrated, skipped := 0, 0
	for _, w := range p.Workspaces {
		for _, g := range w.Groups {
			if g.Skipped != "" {
				skipped++
			} else {
				migrated++
			}
		}
	}
	if migrated != 1 || skipped != 2 {
		t.Fatalf("%d migrated, %d skipped; want Ops alone migrated (per-workspace) and the two groups of %s skipped", migrated, skipped, awkWS1Name)
	}
	for _, c := range p.Conflicts {
		if c.Kind == ConflictSameName && c.Group == "team" && !c.Blocking {
			t.Errorf("same-name conflict of %q listed as resolved while groups mapped to it are skipped: %+v", c.Group, c)
		}
	}
	if strings.Contains(out, "- same-name-different-members: team [resolved") {
		t.Errorf("the summary lists the conflict as resolved:\n%s", out)
	}
	if !strings.Contains(out, "- same-name-different-members: team [BLOCKING]") {
		t.Errorf("the summary does not list the conflict as blocking:\n%s", out)
	}
}

// TestPlanAndApplyCountMembershipsAlike: plan and apply report the same
// number of account group memberships for one plan (merged groups and
// nested groups counted once, in their account group).
func TestPlanAndApplyCountMembershipsAlike(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	want := planTotalsOf(mustPlan(t, plan)).Members
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	m := regexp.MustCompile(`, (\d+) memberships,`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("apply summary has no membership count:\n%s", stdout)
	}
	if got, _ := strconv.Atoi(m[1]); got != want {
		t.Errorf("apply reports %d memberships, the plan %d", got, want)
	}
}
