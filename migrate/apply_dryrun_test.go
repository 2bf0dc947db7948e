package migrate

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

func TestDryRunChangesNothing(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	srv.ResetStats()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, DryRun: true}, d); err != nil {
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
		`skipped rename group 1400000000000003 in workspace 6051921418418891 to "db-temp-oncall-primary" (--dry-run)`,
		`skipped assign principal -`,
		`skipped migrate permissions of "db-temp-oncall-primary" to "oncall-primary" in workspace 6051921418418891 (--dry-run)`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("dry-run log lacks %s", want)
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
