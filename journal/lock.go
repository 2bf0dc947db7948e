package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/dbiam/dbiam/reports"
)

// ErrLocked is matched (errors.Is) by a [*LockedError].
var ErrLocked = errors.New("already running")

// LockInfo is the content of a lock file: who holds it.
type LockInfo struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	User      string    `json:"user"`
	StartedAt time.Time `json:"started_at"`
	Command   string    `json:"command"`
}

// LockedError is returned when another run holds a journal's lock.
type LockedError struct {
	// Activity names what is running, for the message ("migration",
	// "handover"); "" means "another dbiam run".
	Activity string
	Path     string   // the lock file
	Info     LockInfo // its holder; zero when the file could not be read
}

// Error names the holder and says how to recover, e.g. "handover already
// running: locked by ada@host1 (pid 4121) since 2026-11-24T09:30:00Z
// running handover apply; if no other run is active, delete DIR/lock or
// pass --force-unlock".
func (e *LockedError) Error() string {
	who := "an unknown process (unreadable lock file)"
	if e.Info.PID != 0 {
		who = e.Info.holder()
	}
	what := e.Activity
	if what == "" {
		what = "another dbiam run"
	}
	return fmt.Sprintf("%s %v: locked by %s; if no other run is active, delete %s or pass --force-unlock", what, ErrLocked, who, e.Path)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held journal lock. Release it when the run ends. It is not
// safe for concurrent use.
type Lock struct {
	path string
	info LockInfo
	f    *os.File // holds the lock file's flock (unix); nil elsewhere
}

// LockOptions configure [AcquireLock]. The zero value is usable.
type LockOptions struct {
	// Command is recorded in the lock, e.g. "handover apply".
	Command string
	// Activity names what is running in a [*LockedError], e.g. "handover".
	Activity string
	// Force removes an existing lock (--force-unlock).
	Force bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Alive reports whether a process with this pid runs on this host; nil
	// means the operating system is asked. Tests inject it.
	Alive func(pid int) bool
	// Host and PID override the local host name and process id (tests).
	Host string
	PID  int
	// Log, if set, gets a WARN line naming the holder of a lock removed by
	// Force, and an INFO line for a stale lock replaced.
	Log *reports.Logger
}

// holder describes who holds a lock, for messages.
func (i LockInfo) holder() string {
	s := fmt.Sprintf("%s@%s (pid %d) since %s", i.User, i.Host, i.PID, i.StartedAt.UTC().Format(time.RFC3339))
	if i.Command != "" {
		s += " running " + i.Command
	}
	return s
}

// AcquireLock takes the lock of the journal directory dir: its lock file
// (mode 0600) records who holds it. On unix the file is also locked with
// flock(2) for as long as the run holds it, so that two runs never both
// hold it: the kernel releases a dead process's flock, and a run that
// finds the flock taken never touches the file (without it, two runs
// replacing one stale lock at once could each remove the other's). A lock
// file left by a process of this host that no longer runs (gone, or a
// zombie: killed but not reaped) is stale and replaced; any other lock
// (a live holder, another host's) gives a [*LockedError] unless
// opts.Force is set.
func AcquireLock(dir string, opts LockOptions) (*Lock, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Alive == nil {
		opts.Alive = processAlive
	}
	if opts.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "unknown-host"
		}
		opts.Host = h
	}
	if opts.PID == 0 {
		opts.PID = os.Getpid()
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	info := LockInfo{PID: opts.PID, Host: opts.Host, User: name, StartedAt: opts.Now().UTC(), Command: opts.Command}
	if err := mkdirSynced(dir, reports.SyncDir); err != nil {
		return nil, fmt.Errorf("create journal directory %s: %w", dir, err)
	}
	return acquire(filepath.Join(dir, LockFileName), info, opts)
}

// stale reports whether a lock file's holder, as the file records it, is a
// process of this host that no longer runs.
func stale(held LockInfo, opts LockOptions) bool {
	return held.Host == opts.Host && held.PID > 0 && !opts.Alive(held.PID)
}

// logTakeover logs the replacement of a lock: INFO for a stale one, WARN
// naming the holder for one removed by --force-unlock.
func logTakeover(opts LockOptions, path string, held LockInfo, readable, wasStale bool) {
	switch {
	case wasStale:
		opts.Log.Info("replaced a stale lock: its process no longer runs", "lock", path, "holder", held.holder())
	case !readable:
		opts.Log.Warn("removed the lock of another run (--force-unlock)", "lock", path, "holder", "unknown (unreadable lock file)")
	default:
		opts.Log.Warn("removed the lock of another run (--force-unlock)", "lock", path, "holder", held.holder())
	}
}

// procStatState returns the state letter of a Linux /proc/<pid>/stat line
// ("R", "S", "Z" for a zombie, "X" for dead, ...): the first field after
// the command name, which is in parentheses and may itself hold ")".
func procStatState(stat []byte) (byte, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+1] != ' ' {
		return 0, false
	}
	return stat[i+2], true
}

// ProcessAlive reports whether a process with this pid runs on this host
// (a zombie, killed but not reaped, does not). Where the platform cannot
// tell, every process counts as running. Status commands use it to say
// whether the holder of a lock is still at work.
func ProcessAlive(pid int) bool { return processAlive(pid) }

// ReadLock returns who holds the lock of journal directory dir; the error
// matches os.ErrNotExist when nobody does.
func ReadLock(dir string) (LockInfo, error) { return readLock(filepath.Join(dir, LockFileName)) }

func readLock(path string) (LockInfo, error) {
	var info LockInfo
	b, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return LockInfo{}, err
	}
	return info, nil
}

// Info returns what the lock file records.
func (l *Lock) Info() LockInfo { return l.info }

// Path returns the lock file.
func (l *Lock) Path() string { return l.path }

// Release removes the lock file if it is still this lock's (a lock forced
// away by another run is left to it). Release of a nil Lock does nothing.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	if l.f != nil {
		// Closing the file releases the flock, after the file is removed.
		defer l.f.Close()
	}
	held, err := readLock(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil && (held.PID != l.info.PID || held.Host != l.info.Host || !held.StartedAt.Equal(l.info.StartedAt)) {
		return nil // someone forced the lock away; it is theirs now
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}

// writeLockInfo replaces the content of the held lock file f with info and
// makes it durable.
func writeLockInfo(f *os.File, info LockInfo) error {
	b, _ := json.Marshal(info)
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return reports.SyncDir(filepath.Dir(f.Name()))
}
