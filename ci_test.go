package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCIInstallTools runs .ci/install-tools with a PATH of stand-ins: an
// unreachable apt-get must not stop CI (the tests then say what is
// missing), and a Chromium under another of the names the browser tests
// accept needs no install.
func TestCIInstallTools(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	id, err := exec.LookPath("id")
	if err != nil {
		t.Skip("id is not installed")
	}
	script, err := filepath.Abs(filepath.Join(".ci", "install-tools"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(present ...string) (code int, stdout, stderr, aptCalls string) {
		t.Helper()
		bin := t.TempDir()
		calls := filepath.Join(t.TempDir(), "apt-calls")
		write := func(name, body string) {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(id, filepath.Join(bin, "id")); err != nil {
			t.Fatal(err)
		}
		write("apt-get", `echo "$*" >> `+calls+`; echo "E: Could not resolve deb.debian.org" >&2; exit 100`)
		write("sudo", `[ "$1" = -n ] && shift; exec "$@"`)
		for _, p := range present {
			write(p, `echo "`+p+` 1.0"`)
		}
		cmd := exec.Command(bash, script)
		cmd.Env = []string{"PATH=" + bin}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			code = cmd.ProcessState.ExitCode()
		}
		b, _ := os.ReadFile(calls)
		return code, out.String(), errb.String(), string(b)
	}

	code, _, stderr, calls := run()
	if code != 0 {
		t.Errorf("apt-get unreachable: exit %d, want 0 (the tests say what is missing)\n%s", code, stderr)
	}
	if !strings.Contains(calls, "update") || !strings.Contains(stderr, "could not install chromium zsh fish with apt-get") {
		t.Errorf("apt-get unreachable: apt-get calls %q, stderr %q", calls, stderr)
	}

	code, stdout, stderr, calls := run("chromium-browser", "zsh", "fish")
	if code != 0 || calls != "" || stderr != "" || stdout != "chromium-browser 1.0\n" {
		t.Errorf("all present: exit %d, apt-get calls %q, stdout %q, stderr %q; want no install", code, calls, stdout, stderr)
	}
}
