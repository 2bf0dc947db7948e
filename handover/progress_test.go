package handover

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/dbiam/dbiam/journal"
)

// TestApplyAndRollbackReportProgress: apply, verify and rollback report
// their progress per workspace with the totals known before the first write
// (reports.Progress: bars with an ETA on a terminal, a heartbeat with a
// percentage every 10 s off one), so that off a terminal each workspace
// ends with one line counting its changes, and the account's identity
// changes have a line of their own.
func TestApplyVerifyRollbackReportProgress(t *testing.T) {
	srv := newServer(t)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate, o.RevokeTokens = true, true })
	want := map[string]int{}
	for _, c := range p.Changes {
		want[cmpOr(c.Workspace, "account")]++
	}
	d, _, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr)
	}
	checkDoneLines(t, "apply", stderr.String(), want)

	// Verify reads every change's object: the same tasks.
	d, _, stderr = deps(srv)
	if err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify: %v\n%s", err, stderr)
	}
	checkDoneLines(t, "verify", stderr.String(), want)

	d, _, stderr = deps(srv)
	err := RunRollback(context.Background(), ApplyOptions{JournalDir: journal.DefaultDir(plan), Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) { // revoked tokens cannot come back
		t.Fatalf("rollback: %v\n%s", err, stderr)
	}
	// Rollback puts back every change but the revoked tokens.
	for _, c := range p.Changes {
		if c.Phase == PhaseTokens {
			want[cmpOr(c.Workspace, "account")]--
		}
	}
	checkDoneLines(t, "rollback", stderr.String(), want)
}

// checkDoneLines checks that log has one "<op> done" line per task of
// want, counting its changes.
func checkDoneLines(t *testing.T, op, log string, want map[string]int) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\S+ INFO ` + op + ` done task="([^"]+)" changes=(\d+) took=`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		got[m[1]] = m[2]
	}
	for task, n := range want {
		if n == 0 {
			continue
		}
		if got[task] != fmt.Sprint(n) {
			t.Errorf("%s: task %s: done line counts %q changes, want %d", op, task, got[task], n)
		}
	}
	if len(got) == 0 {
		t.Errorf("%s: no progress lines:\n%s", op, log)
	}
}

// TestEveryCommandSetsOutcome: apply, verify, status and rollback each end
// with one line (main prints the Outcome) saying what they did and where
// their output went.
func TestEveryCommandSetsOutcome(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds, o.RevokeTokens = []string{"query", "token"}, true })
	dir := journal.DefaultDir(plan)
	steps := []struct {
		run  func(Deps) error
		want string
	}{
		{func(d Deps) error { return RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d) },
			`^handover apply finished in 1s: 5 of 5 changes done, 0 failed, 0 skipped, 0 pending; wrote journal ` + regexp.QuoteMeta(dir) + `$`},
		{func(d Deps) error { return RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d) },
			`^handover verify finished in 1s: 5 changes checked, 0 differences; output on stdout$`},
		{func(d Deps) error { return RunStatus(context.Background(), StatusOptions{JournalDir: dir}, d) },
			`^handover status finished in 1s: 5 changes: 5 done; read journal ` + regexp.QuoteMeta(dir) + `; output on stdout$`},
		{func(d Deps) error {
			return RunRollback(context.Background(), ApplyOptions{JournalDir: dir, Yes: true}, d)
		}, `^handover rollback finished in 1s: 2 of 2 changes put back, 0 failed, 0 skipped, 0 pending, 3 revoked tokens cannot come back; wrote journal ` + regexp.QuoteMeta(dir) + `$`},
	}
	for i, s := range steps {
		d, _, stderr := deps(srv)
		err := s.run(d)
		var pe *PartialError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("step %d: %v\n%s", i, err, stderr)
		}
		o, ok := d.Streams.Outcome()
		line := o.Line(1e9)
		if !ok || !regexp.MustCompile(s.want).MatchString(line) {
			t.Errorf("step %d: outcome %q (set %v), want %s", i, line, ok, s.want)
		}
	}
}

// TestPlanReportsProgress: plan reports its reads through a
// reports.Progress, one task per workspace counting the kinds it lists
// and one for the metastores, so that off a terminal each ends with a
// line (and a heartbeat with a percentage comes every 10 s meanwhile).
func TestPlanReportsProgress(t *testing.T) {
	srv := newServer(t)
	out := filepath.Join(t.TempDir(), "handover.json")
	d, _, stderr := deps(srv)
	o := PlanOptions{From: []string{"user:" + elena}, To: "service-principal:" + etlProd,
		MapFile: writeFile(t, "map.csv", demoMap), RestartClusters: true, Out: out, ToolVersion: "test"}
	if err := RunPlan(context.Background(), o, d); err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	workspaceKinds, ucKindCount := 0, 0
	for _, k := range Kinds() {
		if slices.ContainsFunc(ucKinds, func(u struct{ kind, plural string }) bool { return u.kind == k }) {
			ucKindCount++
		} else {
			workspaceKinds++
		}
	}
	for _, ws := range []string{"acme-prod", "acme-analytics", "acme-ml", "acme-legacy"} {
		re := regexp.MustCompile(`(?m)^\S+ INFO plan done task="` + ws + `" kinds=` + fmt.Sprint(workspaceKinds) + ` took=\S+ summary="\d+ objects tied, 0 not read"$`)
		if !re.MatchString(stderr.String()) {
			t.Errorf("no done line for %s with %d kinds:\n%s", ws, workspaceKinds, stderr)
		}
	}
	re := regexp.MustCompile(`(?m)^\S+ INFO plan done task="metastores" kinds=` + fmt.Sprint(ucKindCount) + ` took=\S+ summary="1 metastore, \d+ objects tied"$`)
	if !re.MatchString(stderr.String()) {
		t.Errorf("no done line for the metastores with %d kinds:\n%s", ucKindCount, stderr)
	}
}
