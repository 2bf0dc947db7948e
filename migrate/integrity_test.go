package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
)

// TestJournalIntegrityEveryCommand: a journal record deleted, duplicated,
// moved or edited is found by status, apply, rollback, finalize and verify
// before anything else: each exits 1 (not a partial failure) naming the line
// where the chain breaks and the repair path (migrate adopt), changes
// nothing remotely, leaves the journal as it was and no lock behind.
func TestJournalIntegrityEveryCommand(t *testing.T) {
	a := applyDefault(t)
	jdir := DefaultJournalDir(a.plan)
	orig, err := os.ReadFile(journal.Path(jdir))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(orig), "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	if len(lines) < 8 || !strings.HasPrefix(lines[0], `{"journal_version":2,`) {
		t.Fatalf("journal of %d lines, header %s: want a chained journal of at least 8", len(lines), lines[0])
	}
	join := func(ls ...string) string { return strings.Join(ls, "") }
	at := func(i int) string { return lines[i-1] } // 1-based line
	edited := strings.Replace(at(5), `"seq":4,`, `"seq":4,"error":"edited",`, 1)
	if edited == at(5) {
		t.Fatalf("line 5 has no seq 4: %s", at(5))
	}
	damages := []struct {
		name, content, want string
	}{
		{"deleted", join(join(lines[:4]...), join(lines[5:]...)), "line 5 has sequence number 5 where 4 was expected: a record was deleted or moved"},
		{"duplicated", join(join(lines[:5]...), at(5), join(lines[5:]...)), "line 6 repeats sequence number 4 (expected 5): a record was duplicated or moved"},
		{"moved", join(join(lines[:4]...), at(6), at(5), join(lines[6:]...)), "line 5 has sequence number 5 where 4 was expected"},
		{"edited", join(join(lines[:4]...), edited, join(lines[5:]...)), "line 6 does not follow line 5 (its prev hash differs): a record was changed, deleted or moved"},
	}
	ctx := context.Background()
	commands := []struct {
		name string
		fn   func(Deps) error
	}{
		{"status", func(d Deps) error { return RunStatus(ctx, StatusOptions{JournalDir: jdir}, d) }},
		{"apply", func(d Deps) error { return RunApply(ctx, ApplyOptions{Yes: true, PlanPath: a.plan}, d) }},
		{"rollback", func(d Deps) error { return RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir}, d) }},
		{"finalize", func(d Deps) error { return RunFinalize(ctx, FinalizeOptions{Yes: true, JournalDir: jdir}, d) }},
		{"verify", func(d Deps) error { return RunVerify(ctx, VerifyOptions{PlanPath: a.plan}, d) }},
	}
	before := snapshotJSON(t, a.srv.Snapshot())
	for _, dm := range damages {
		for _, c := range commands {
			t.Run(dm.name+"/"+c.name, func(t *testing.T) {
				if err := os.WriteFile(journal.Path(jdir), []byte(dm.content), 0o600); err != nil {
					t.Fatal(err)
				}
				d, stdout, stderr := sandboxDeps(t, a.srv)
				err := c.fn(d)
				if !errors.Is(err, journal.ErrCorrupt) {
					t.Fatalf("err = %v, want journal.ErrCorrupt\n%s\n%s", err, stdout, stderr)
				}
				var pe *PartialError
				if errors.As(err, &pe) {
					t.Errorf("err = %v is a partial failure (exit 2), want exit 1", err)
				}
				for _, want := range []string{journal.Path(jdir), dm.want, "dbiam migrate adopt --journal NEW_DIR PLAN"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				if got, _ := os.ReadFile(journal.Path(jdir)); string(got) != dm.content {
					t.Error("the damaged journal was changed")
				}
				if _, err := os.Stat(filepath.Join(jdir, journal.LockFileName)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("lock left behind: %v", err)
				}
			})
		}
	}
	if after := snapshotJSON(t, a.srv.Snapshot()); after != before {
		t.Errorf("a command on a damaged journal changed the remote state:\n%s", diffLines(before, after))
	}
}
