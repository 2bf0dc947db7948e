package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dbiamCommand is the test binary run as dbiam (see TestMain), in a
// hermetic environment with its own TMPDIR.
func dbiamCommand(t *testing.T, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{"DBIAM_TEST_MAIN=1", "HOME=" + t.TempDir(), "TMPDIR=" + tmp, "PATH=" + os.Getenv("PATH")}
	return cmd
}

// closedPipe returns the write end of a pipe whose reader has gone away.
func closedPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { w.Close() })
	return w
}

// leftovers lists the entries of dir (temporary files, spools).
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestStdoutReaderGone: "dbiam export --out - | head" stops when head
// exits, quietly, with the status of a writer killed by SIGPIPE, and
// leaves no spool of personal data behind (it used to die of SIGPIPE and
// leave its spool in TMPDIR).
func TestStdoutReaderGone(t *testing.T) {
	tmp := t.TempDir()
	cmd := dbiamCommand(t, tmp, "--sandbox", "--no-progress", "export", "-o", "json", "--include", "users", "--out", "-")
	cmd.Stdout = closedPipe(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitBrokenPipe {
		t.Errorf("exit %v (code %d), want status %d\n%s", err, cmd.ProcessState.ExitCode(), exitBrokenPipe, stderr.String())
	}
	if strings.Contains(stderr.String(), "dbiam: ") {
		t.Errorf("stderr has an error or outcome line; a reader that left is not an error:\n%s", stderr.String())
	}
	if l := leftovers(t, tmp); len(l) != 0 {
		t.Errorf("left in TMPDIR: %q", l)
	}
}

// TestStderrReaderGone: with stderr piped into a reader that has gone
// away (dbiam ... 2>&1 | head), the command still does its work: log
// lines are dropped, the export is written, nothing temporary is left.
func TestStderrReaderGone(t *testing.T) {
	tmp, dir := t.TempDir(), t.TempDir()
	out := filepath.Join(dir, "export.xlsx")
	cmd := dbiamCommand(t, tmp, "--sandbox", "--no-progress", "export", "--out", out)
	cmd.Stderr = closedPipe(t)
	if err := cmd.Run(); err != nil {
		t.Errorf("exit %v (code %d), want 0", err, cmd.ProcessState.ExitCode())
	}
	if l := leftovers(t, dir); len(l) != 1 || l[0] != "export.xlsx" {
		t.Errorf("output directory holds %q, want export.xlsx alone", l)
	}
	if l := leftovers(t, tmp); len(l) != 0 {
		t.Errorf("left in TMPDIR: %q", l)
	}
}
