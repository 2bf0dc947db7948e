package migrate

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/sandbox"
)

func TestDryRunChangesNothing(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	srv.ResetStats()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, DryRun: true}, d); err != nil {
		t.Fatalf("dry run: %v\n%s\n%s", err, stdout, stderr)
	}
	if w := writes(srv.Stats()); w != 0 {
		t.Errorf("dry run made %d writes", w)
	}
	if _, err := os.Stat(DefaultJournalDir(plan)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created the journal directory: %v", err)
	}
	if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); g != w {
		t.Errorf("dry run changed the state:\n%s", diffLines(w, g))
	}
	n := len(activeGroups(mustPlan(t, plan)))
	if !strings.HasPrefix(stdout.String(), "Dry run: would migrate "+itoa(n)+" of "+itoa(n)+" groups") {
		t.Errorf("summary:\n%s", stdout)
	}
	for _, want := range []string{
		`skipped create account group "oncall-primary" with 2 members (--dry-run)`,
		`skipped rename group "oncall-primary" in workspace acme-prod (6051921418418891) to "db-temp-oncall-primary" (--dry-run)`,
		`skipped assign "oncall-primary" to workspace acme-prod (6051921418418891) as [USER] (--dry-run)`,
		`skipped migrate permissions of "db-temp-oncall-primary" to "oncall-primary" in workspace acme-prod (6051921418418891) (--dry-run)`,
		`INFO would migrate group workspace="acme-prod"`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("dry-run log lacks %s", want)
		}
	}
	// Real names only: never the pretend id of a group it did not create,
	// never a bare id where a name is known, never "migrated".
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, " -1") || strings.Contains(line, "principal ") || strings.Contains(line, " id ") ||
			strings.Contains(line, "migrated group") || regexp.MustCompile(`workspace \d`).MatchString(line) {
			t.Errorf("dry-run log line without names, or saying migrated: %s", line)
		}
	}
}

// TestDryRunFinishesInTheTimeOfItsReads: under list lag, a dry run never
// waits for the service to catch up (it changed nothing), so it ends once
// its reads are done; and it names the awkward groups exactly.
func TestDryRunFinishesInTheTimeOfItsReads(t *testing.T) {
	clk := newFakeClock()
	srv := newAwkwardServer(t, sandbox.Options{Now: clk.Now, Consistency: 45 * time.Second})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	waits := 0
	sleep := func(ctx context.Context, d time.Duration) error { waits++; return clk.Sleep(ctx, d) }
	d, stdout, stderr := clockDeps(t, srv, clk, nil)
	start := clk.Now()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, DryRun: true, Sleep: sleep}, d); err != nil {
		t.Fatalf("dry run: %v\n%s\n%s", err, stdout, stderr)
	}
	if waits != 0 || !clk.Now().Equal(start) {
		t.Errorf("the dry run waited %d times (%s)", waits, clk.Now().Sub(start))
	}
	for _, want := range []string{
		`skipped rename group "  lead and trail  " in workspace prod ws (7001) to "db-temp-  lead and trail  " (--dry-run)`,
		`skipped assign " L3 🚀 leaf" to workspace prod ws (7001) as [USER] (--dry-run)`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("dry-run log lacks %s\n%s", want, stderr)
		}
	}
}

func mustPlan(t *testing.T, path string) *Plan {
	t.Helper()
	p, _, err := ReadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }
