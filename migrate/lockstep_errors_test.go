package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// TestRollbackAndFinalizeErrorsAfterTheLockStep: any error after the lock
// step (a lock held by a running apply, a refused token, an unreachable
// host, a journal that cannot be written) reaches the caller as itself,
// with no panic, no remote change, and no lock left behind by the run.
func TestRollbackAndFinalizeErrorsAfterTheLockStep(t *testing.T) {
	a := applyDefault(t)
	jdir := DefaultJournalDir(a.plan)
	lockPath := filepath.Join(jdir, journal.LockFileName)
	ctx := context.Background()

	badConnect := func(host, token string) Deps {
		io, _, _ := reports.Test()
		return Deps{Streams: io, Connect: func(ctx context.Context) (*scim.Session, error) {
			return scim.Connect(ctx, scim.Settings{Host: host, AccountID: a.srv.AccountID(), Token: token, Hermetic: true,
				Rates: scim.UnlimitedRates(), MaxAttempts: 1, RequestTimeout: 5 * time.Second})
		}}
	}
	type run struct {
		name string
		fn   func(Deps) error
	}
	runs := []run{
		{"rollback", func(d Deps) error { return RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d) }},
		{"finalize", func(d Deps) error { return RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Yes: true}, d) }},
	}
	check := func(t *testing.T, err error, want string, lockLeft bool) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want one containing %q", err, want)
		}
		var pe *PartialError
		if errors.As(err, &pe) {
			t.Errorf("err = %v: a partial failure (exit 2), want a plain error (exit 1)", err)
		}
		_, statErr := os.Stat(lockPath)
		if lockLeft != (statErr == nil) {
			t.Errorf("lock file present = %v, want %v", statErr == nil, lockLeft)
		}
	}
	before := snapshotJSON(t, a.srv.Snapshot())
	for _, r := range runs {
		t.Run(r.name+"/token refused", func(t *testing.T) {
			check(t, r.fn(badConnect(a.srv.URL(), "dapi-not-a-token")), "401", false)
		})
		t.Run(r.name+"/host unreachable", func(t *testing.T) {
			check(t, r.fn(badConnect("http://127.0.0.1:1", a.srv.AdminToken())), "127.0.0.1:1", false)
		})
		t.Run(r.name+"/lock held by a running apply", func(t *testing.T) {
			info := journal.LockInfo{PID: os.Getpid(), Host: mustHostname(t), User: "alice", StartedAt: time.Unix(1, 0).UTC(), Command: "migrate apply"}
			b, _ := json.Marshal(info)
			if err := os.WriteFile(lockPath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			d, _, _ := sandboxDeps(t, a.srv)
			err := r.fn(d)
			check(t, err, "migration already running: locked by alice@", true)
			if !errors.Is(err, journal.ErrLocked) {
				t.Errorf("err = %v, want journal.ErrLocked", err)
			}
			if b2, _ := os.ReadFile(lockPath); string(b2) != string(b) {
				t.Errorf("the other run's lock was changed: %s", b2)
			}
			if err := os.Remove(lockPath); err != nil {
				t.Fatal(err)
			}
		})
		t.Run(r.name+"/journal not writable", func(t *testing.T) {
			// A torn last line must be moved to journal.corrupt, which
			// here is a directory: opening the journal for writing fails
			// after the lock is taken (file modes do not stop root).
			corrupt := filepath.Join(jdir, journal.CorruptFileName)
			if err := os.Mkdir(corrupt, 0o700); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(corrupt)
			jf := journal.Path(jdir)
			orig, err := os.ReadFile(jf)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(jf, append(append([]byte{}, orig...), `{"seq":`...), 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(jf, orig, 0o600)
			d, _, _ := sandboxDeps(t, a.srv)
			check(t, r.fn(d), "save torn journal line to "+corrupt, false)
		})
	}
	if after := snapshotJSON(t, a.srv.Snapshot()); after != before {
		t.Errorf("a failed run changed the remote state:\n%s", diffLines(before, after))
	}
}

func mustHostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
