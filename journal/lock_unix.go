//go:build unix

package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
)

// processAlive reports whether a process with this pid runs. EPERM means
// it exists but belongs to another user. A process that was killed but
// not reaped by its parent (a zombie: its parent does not wait for it, or
// it was re-parented to a PID 1 that never reaps, as in many containers
// and VMs) still answers kill(pid, 0); where /proc exists (Linux) its
// state says so, and such a process does not run.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		if st, ok := procStatState(b); ok && (st == 'Z' || st == 'X') {
			return false
		}
	}
	return true
}

// acquire takes the lock file at path: it opens (or creates) it and locks
// it with flock(2), without waiting. A flock held by another run means the
// lock is held, whatever the file says. Once the flock is ours, the file
// still records its last holder: a stale one (a process of this host that
// no longer runs) is replaced, any other (another host's, where flock may
// not reach, or a live process that does not flock) is respected unless
// opts.Force. The file is checked to still be the one at path after the
// flock (a releasing run removes it), else the open is tried again.
func acquire(path string, info LockInfo, opts LockOptions) (*Lock, error) {
	for attempt := 0; attempt < 8; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("lock %s: %w", path, err)
			}
			held, rerr := readLock(path)
			if !opts.Force {
				return nil, &LockedError{Activity: opts.Activity, Path: path, Info: held}
			}
			// --force-unlock: the other run keeps its flock on the removed
			// file; this run locks a new one.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove lock %s: %w", path, err)
			}
			logTakeover(opts, path, held, rerr == nil, false)
			continue
		}
		if !samePath(f, path) {
			f.Close() // released and removed meanwhile: open it again
			continue
		}
		var held LockInfo
		b, rerr := io.ReadAll(f)
		if rerr == nil {
			rerr = json.Unmarshal(b, &held)
		}
		if rerr == nil && held.PID != 0 {
			wasStale := stale(held, opts)
			if !wasStale && !opts.Force {
				f.Close()
				return nil, &LockedError{Activity: opts.Activity, Path: path, Info: held}
			}
			logTakeover(opts, path, held, true, wasStale)
		}
		// An empty or unreadable file under a free flock is the remains of
		// a run that died while writing it: ours now.
		if err := writeLockInfo(f, info); err != nil {
			f.Close()
			return nil, fmt.Errorf("write lock %s: %w", path, err)
		}
		return &Lock{path: path, info: info, f: f}, nil
	}
	return nil, fmt.Errorf("lock %s: the lock file kept changing while it was taken; run again", path)
}

// samePath reports whether the open file f is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
