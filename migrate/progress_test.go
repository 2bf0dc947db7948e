package migrate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestVerifyRollbackFinalizeAdoptReportProgress: verify, rollback,
// finalize and adopt report their progress like apply (reports.Progress:
// bars with an ETA on a terminal, a heartbeat with a percentage every 10 s
// off one), with a task per workspace and one for the account groups whose
// totals are known before the bar starts, so that off a terminal each task
// ends with one line counting its units. (Rollback logged a line per group
// only, with no percentage, and a 10 s gap before the first.)
func TestVerifyRollbackFinalizeAdoptReportProgress(t *testing.T) {
	a := applyDefaultIn(t, sandbox.Options{Seed: readableSeed()})
	ctx := context.Background()
	groups := map[string]int{}
	accountGroups := map[string]bool{}
	for _, gr := range activeGroups(a.p) {
		groups[gr.ws.WorkspaceName]++
		accountGroups[gr.g.AccountGroupKey] = true
	}
	twice := map[string]int{}
	for ws, n := range groups {
		twice[ws] = 2 * n
	}

	d, stdout, stderr := sandboxDeps(t, a.srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: a.plan}, d); err != nil {
		t.Fatalf("verify: %v\n%s\n%s", err, stdout, stderr)
	}
	checkTaskLines(t, "verify", "groups", stderr.String(), groups, len(accountGroups), "0 with differences")

	created := 0
	for _, ag := range a.p.AccountGroups {
		if ag.ExistingID == "" {
			created++
		}
	}
	d, stdout, stderr = sandboxDeps(t, a.srv)
	if err := RunAdopt(ctx, AdoptOptions{PlanPath: a.plan, JournalDir: filepath.Join(t.TempDir(), "adopted")}, d); err != nil {
		t.Fatalf("adopt: %v\n%s\n%s", err, stdout, stderr)
	}
	checkTaskLines(t, "adopt", "groups", stderr.String(), groups, len(a.p.AccountGroups)+created, "")

	d, stdout, stderr = sandboxDeps(t, a.srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(a.plan)}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	checkTaskLines(t, "rollback", "steps", stderr.String(), twice, len(a.p.AccountGroups), "0 failed")
	if !regexp.MustCompile(`(?m)^\S+ INFO rollback done task="checks before any change" checks=2 took=`).MatchString(stderr.String()) {
		t.Errorf("rollback: no task for its checks before any change:\n%s", stderr)
	}

	b := applyDefaultIn(t, sandbox.Options{Seed: readableSeed()})
	d, stdout, stderr = sandboxDeps(t, b.srv)
	err := RunFinalize(ctx, FinalizeOptions{Yes: true, JournalDir: DefaultJournalDir(b.plan)}, d)
	if pe := (*PartialError)(nil); err != nil && !errors.As(err, &pe) {
		t.Fatalf("finalize: %v\n%s\n%s", err, stdout, stderr)
	}
	checkTaskLines(t, "finalize", "groups", stderr.String(), groups, 0, "")
}

// checkTaskLines checks that log has one "<op> done" line per workspace
// of want counting its units, and one for the account groups counting
// account units (none when 0); summary, if set, is every line's.
func checkTaskLines(t *testing.T, op, unit, log string, want map[string]int, account int, summary string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\S+ INFO ` + op + ` done task="([^"]+)" ` + unit + `=(\d+) took=\S+(?: summary="([^"]*)")?$`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		if _, dup := got[m[1]]; dup {
			t.Errorf("%s: two lines for task %s", op, m[1])
		}
		got[m[1]] = m[2]
		if summary != "" && m[3] != summary {
			t.Errorf("%s: task %s: summary %q, want %q", op, m[1], m[3], summary)
		}
	}
	if account > 0 {
		want = withTask(want, "account groups", account)
	}
	for task, n := range want {
		if got[task] != fmt.Sprint(n) {
			t.Errorf("%s: task %s: done line counts %q %s, want %d\n%s", op, task, got[task], unit, n, log)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d task lines, want %d: %v", op, len(got), len(want), got)
	}
}

// withTask returns a copy of m with k set to v.
func withTask(m map[string]int, k string, v int) map[string]int {
	out := map[string]int{k: v}
	for mk, mv := range m {
		if mk != k {
			out[mk] = mv
		}
	}
	return out
}
