//go:build !unix

package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dbiam/dbiam/reports"
)

// processAlive cannot tell on this platform, so every lock counts as held:
// a stale one must be removed by hand or with --force-unlock.
func processAlive(pid int) bool { return true }

// acquire takes the lock file at path by creating it exclusively; an
// existing one is replaced only when stale or with opts.Force.
func acquire(path string, info LockInfo, opts LockOptions) (*Lock, error) {
	for attempt := 0; ; attempt++ {
		err := createLockFile(path, info)
		if err == nil {
			return &Lock{path: path, info: info}, nil
		}
		if !errors.Is(err, os.ErrExist) || attempt > 0 {
			if errors.Is(err, os.ErrExist) {
				held, _ := readLock(path)
				return nil, &LockedError{Activity: opts.Activity, Path: path, Info: held}
			}
			return nil, fmt.Errorf("create lock %s: %w", path, err)
		}
		held, rerr := readLock(path)
		wasStale := rerr == nil && stale(held, opts)
		if !wasStale && !opts.Force {
			return nil, &LockedError{Activity: opts.Activity, Path: path, Info: held}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale lock %s: %w", path, err)
		}
		logTakeover(opts, path, held, rerr == nil, wasStale)
	}
}

func createLockFile(path string, info LockInfo) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(info)
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return err
	}
	return reports.SyncDir(filepath.Dir(path))
}
