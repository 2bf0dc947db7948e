package journal

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
)

func lockOpts(pid int, alive bool) LockOptions {
	return LockOptions{Activity: "migration",
		Command: "migrate apply",
		Now:     func() time.Time { return time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC) },
		Alive:   func(int) bool { return alive },
		Host:    "host1",
		PID:     pid,
	}
}

func TestLockExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(dir, lockOpts(4121, true))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "lock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", fi, err)
	}
	_, err = AcquireLock(dir, lockOpts(5000, true))
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second acquire: %v, want *LockedError", err)
	}
	if le.Info.PID != 4121 || le.Info.Host != "host1" || le.Info.Command != "migrate apply" {
		t.Errorf("holder = %+v", le.Info)
	}
	msg := err.Error()
	for _, want := range []string{"migration already running: locked by ", "@host1 (pid 4121) since 2026-11-24T09:30:00Z", "delete " + filepath.Join(dir, "lock"), "--force-unlock"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := AcquireLock(dir, lockOpts(5000, true))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}

// abandon drops a held lock as a killed process does: its flock goes with
// the process, its file stays.
func (l *Lock) abandon() {
	if l.f != nil {
		l.f.Close()
	}
}

func TestLockStaleSameHostDeadPID(t *testing.T) {
	dir := t.TempDir()
	old, err := AcquireLock(dir, lockOpts(4121, true))
	if err != nil {
		t.Fatal(err)
	}
	old.abandon()
	// The holder is gone (SIGKILL): the lock is stale and taken over.
	l, err := AcquireLock(dir, lockOpts(5000, false))
	if err != nil {
		t.Fatalf("stale lock not replaced: %v", err)
	}
	if l.Info().PID != 5000 {
		t.Errorf("new holder pid = %d", l.Info().PID)
	}
}

func TestLockOtherHostIsNotStale(t *testing.T) {
	dir := t.TempDir()
	o := lockOpts(4121, true)
	o.Host = "other"
	held, err := AcquireLock(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	// Even with no flock on it here (flock may not reach across hosts on a
	// shared file system), another host's lock is respected.
	held.abandon()
	if _, err := AcquireLock(dir, lockOpts(5000, false)); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock of another host replaced: %v", err)
	}
	force := lockOpts(5000, false)
	force.Force = true
	io, _, stderr := reports.Test()
	force.Log = io.Logger()
	l, err := AcquireLock(dir, force)
	if err != nil {
		t.Fatalf("--force-unlock: %v", err)
	}
	l.Release()
	// --force-unlock says whose lock it removed.
	line := stderr.String()
	if !strings.Contains(line, ` WARN removed the lock of another run (--force-unlock) lock=`) || !strings.Contains(line, filepath.Join(dir, "lock")) ||
		!strings.Contains(line, `@other (pid 4121) since 2026-11-24T09:30:00Z running migrate apply"`) || strings.Count(line, "\n") != 1 {
		t.Errorf("--force-unlock log:\n%s\nwant one WARN line naming the lock and its holder ...@other (pid 4121) since 2026-11-24T09:30:00Z running migrate apply", line)
	}
}

func TestProcStatState(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want byte
		ok   bool
	}{
		{"31580 (sleep) Z 1 31577 21520 0 -1", 'Z', true},
		{"42 (dbiam) S 1 42 42 0", 'S', true},
		{"7 (a) b) (c) R 1 2", 'R', true},
		{"7 (no end S 1", 0, false},
		{"7 (x)", 0, false},
	} {
		got, ok := procStatState([]byte(tc.stat))
		if got != tc.want || ok != tc.ok {
			t.Errorf("procStatState(%q) = %q, %v; want %q, %v", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLockReleaseLeavesForeignLock(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireLock(dir, lockOpts(4121, true))
	if err != nil {
		t.Fatal(err)
	}
	force := lockOpts(5000, true)
	force.Force = true
	if _, err := AcquireLock(dir, force); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	held, err := readLock(filepath.Join(dir, "lock"))
	if err != nil || held.PID != 5000 {
		t.Fatalf("lock after old holder's release = %+v, %v; want pid 5000's", held, err)
	}
}

// TestLockHeldIsNeverTakenOver: a lock held by a running run is never
// taken over, even when its file looks stale (it names a process of this
// host that is gone): that is what a run sees when another run replaced
// the same stale lock a moment before it. Without the flock both would
// hold the lock.
func TestLockHeldIsNeverTakenOver(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	first, err := AcquireLock(dir, lockOpts(4121, false))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	if _, err := AcquireLock(dir, lockOpts(5000, false)); !errors.Is(err, ErrLocked) {
		t.Fatalf("second acquire of a held lock whose file names a dead process: %v, want ErrLocked", err)
	}
	if held, err := ReadLock(dir); err != nil || held.PID != 4121 {
		t.Errorf("lock file after the refused acquire = %+v, %v; want pid 4121's", held, err)
	}
}

// TestLockStaleReplacedOnce: runs that start at once on a stale lock: one
// takes it, the others are refused.
func TestLockStaleReplacedOnce(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	old, err := AcquireLock(dir, lockOpts(4121, true))
	if err != nil {
		t.Fatal(err)
	}
	old.abandon()
	const runs = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   []*Lock
		start = make(chan struct{})
	)
	for i := range runs {
		wg.Go(func() {
			<-start
			o := lockOpts(5000+i, true)
			o.Alive = func(pid int) bool { return pid != 4121 }
			l, err := AcquireLock(dir, o)
			if err != nil && !errors.Is(err, ErrLocked) {
				t.Error(err)
			}
			if err == nil {
				mu.Lock()
				won = append(won, l)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d runs hold the lock, want 1", len(won))
	}
	if held, _ := ReadLock(dir); held.PID != won[0].Info().PID {
		t.Errorf("lock file names pid %d, the holder is %d", held.PID, won[0].Info().PID)
	}
	won[0].Release()
}

func TestProcessAliveSelf(t *testing.T) {
	if !processAlive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
}
