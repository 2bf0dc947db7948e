package journal

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"
)

// TestProcessAliveZombie: a process that was killed but not reaped by its
// parent (SIGKILL under a PID 1 that never reaps, as in containers) is a
// zombie that still answers kill(pid, 0); it does not run, so its lock is
// stale and the next run takes it over.
func TestProcessAliveZombie(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Wait() })
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child has exited without reaping it: waitid with
	// WEXITED|WNOWAIT leaves it a zombie.
	const pPID, wEXITED, wNOWAIT = 1, 4, 0x1000000
	var info [128]byte
	if _, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wEXITED|wNOWAIT, 0, 0); errno != 0 {
		t.Fatalf("waitid: %v", errno)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("kill(pid, 0) of the zombie: %v; the test does not exercise zombies", err)
	}
	if processAlive(pid) {
		t.Errorf("processAlive(%d) = true for a killed, unreaped process", pid)
	}

	// A lock it left is stale.
	host, _ := os.Hostname()
	dir := t.TempDir()
	zombie, err := AcquireLock(dir, LockOptions{Command: "migrate apply", PID: pid, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	zombie.abandon() // a killed process holds no flock

	l, err := AcquireLock(dir, LockOptions{Command: "migrate apply", Host: host})
	if err != nil {
		t.Fatalf("lock of a killed apply not taken over: %v", err)
	}
	l.Release()
}
