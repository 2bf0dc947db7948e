//go:build unix

package journal

import (
	"errors"
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
