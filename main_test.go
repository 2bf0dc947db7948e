package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/audit"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// hermetic clears every environment variable that the global flags or the
// SDK would read, so a developer's settings never leak into a test.
func hermetic(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DATABRICKS_") || strings.HasPrefix(k, "ARM_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", t.TempDir())
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	hermetic(t)
	io, out, errb := reports.Test()
	code = run(context.Background(), append([]string{"dbiam"}, args...), io)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit = %d, want 0", code)
	}
	if !strings.HasPrefix(out, "dbiam dev (go") || !strings.Contains(out, "databricks-sdk-go") {
		t.Errorf("version output = %q", out)
	}
}

func TestGlobalFlagErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad log level", []string{"--log-level", "loud", "version"}, `"loud"`},
		{"sandbox with host", []string{"--sandbox", "--host", "https://x.test", "version"}, "--sandbox cannot be combined with --host"},
		{"zero parallel", []string{"--parallel", "0", "version"}, "invalid --parallel 0"},
		{"negative rps", []string{"--rps", "-1", "version"}, "invalid --rps -1"},
		{"rate of an unknown class", []string{"--rate", "scim-reads=2", "version"}, `unknown rate class "scim-reads"`},
		{"rate of zero", []string{"--rate", "scim-read=0", "version"}, `--rate scim-read: "0" is not a rate above 0`},
		{"rate without a class", []string{"--rate", "25", "version"}, `--rate "25" is not CLASS=RPS`},
		{"unknown flag", []string{"--frobnicate", "version"}, "frobnicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != exitError {
				t.Errorf("exit = %d, want %d", code, exitError)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErr)
			}
			if strings.Contains(out, "dbiam dev") {
				t.Errorf("command ran despite the bad flag: stdout %q", out)
			}
		})
	}
}

func TestSandboxExportEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, errOut := runCLI(t, "--sandbox", "--no-progress", "export", "--format", "csv", "--out", dir)
	if code != 0 {
		t.Fatalf("exit = %d, want 0; stderr:\n%s", code, errOut)
	}
	for _, name := range []string{"workspaces.csv", "users.csv", "groups.csv", "memberships.csv"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("missing table: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600 (personal data)", name, fi.Mode().Perm())
		}
	}
	if strings.Contains(errOut, "dapi") || strings.Contains(errOut, "Bearer") {
		t.Errorf("stderr leaks a credential:\n%s", errOut)
	}
	// The About table records the version and the command line.
	about, err := os.ReadFile(filepath.Join(dir, "about.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"about,dbiam_version,dev,,", "about,command,dbiam --sandbox --no-progress export --format csv --out " + dir + ",,"} {
		if !strings.Contains(string(about), want) {
			t.Errorf("about.csv lacks %q:\n%s", want, about)
		}
	}
}

func TestBadExportFlagWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pdf")
	code, _, errOut := runCLI(t, "--sandbox", "export", "--format", "pdf", "--out", out)
	if code != exitError {
		t.Fatalf("exit = %d, want 1; stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "pdf") {
		t.Errorf("stderr %q does not name the bad value", errOut)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output exists after a bad flag: %v", err)
	}
}

type codedErr struct{ code int }

func (e codedErr) Error() string { return fmt.Sprintf("coded %d", e.code) }
func (e codedErr) ExitCode() int { return e.code }

func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		want     int
		wantErr  string
		wantHint string
	}{
		{"nil", context.Background(), nil, 0, "", ""},
		{"plain", context.Background(), errors.New("boom"), 1, "dbiam: boom\n", ""},
		{"partial", context.Background(), fmt.Errorf("export: %w", codedErr{2}), 2, "dbiam: export: coded 2\n", ""},
		{"audit gate", context.Background(), &audit.GateError{FailOn: audit.SeverityBreaks, Count: 9,
			Partial: &audit.PartialError{NotCovered: []string{"ws: job"}}}, exitGate, "dbiam: audit gate closed: 9 finding(s) of severity breaks or worse", ""},
		{"interrupted", cancelled, errors.New("list users: context canceled"), 130, "interrupted", ""},
		{"wrapped cancel", context.Background(), fmt.Errorf("x: %w", context.Canceled), 130, "interrupted", ""},
		{"config hint", context.Background(), &scim.ConfigError{Op: "resolve credentials", Problem: `profile "p" not found`, Fix: "pass --profile with an existing profile"}, 1, "dbiam: resolve credentials", "pass --profile with an existing profile"},
		{"redacted", context.Background(), errors.New("call failed: Authorization: Bearer dapi0123456789abcdef0123456789abcdef"), 1, "dbiam: call failed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, errb := reports.Test()
			if got := exitCode(tt.ctx, tt.err, io); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
			if tt.err == nil && errb.Len() != 0 {
				t.Errorf("stderr = %q, want nothing for success", errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want %q", errb.String(), tt.wantErr)
			}
			if tt.wantHint != "" && !strings.Contains(errb.String(), tt.wantHint) {
				t.Errorf("stderr = %q, want hint %q", errb.String(), tt.wantHint)
			}
			if strings.Count(errb.String(), "pass --profile") > 1 {
				t.Errorf("stderr repeats the fix: %q", errb.String())
			}
			if strings.Contains(errb.String(), "dapi0123") {
				t.Errorf("stderr leaks a token: %q", errb.String())
			}
		})
	}
}

func TestUsageErrorsAreOneLineOnStderr(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  string
		wantHint string
	}{
		{"unknown flag", []string{"export", "--bogus"}, "dbiam: unknown flag --bogus for 'dbiam export'", "hint: run 'dbiam export --help' for usage"},
		{"unknown flag close to one", []string{"export", "--paralel", "2"}, "dbiam: unknown flag --paralel for 'dbiam export'", "hint: did you mean --parallel?"},
		{"unknown command", []string{"bogus-cmd"}, `dbiam: unknown command "bogus-cmd"`, "hint: run 'dbiam --help'"},
		{"unknown subcommand", []string{"migrate", "bogus"}, `dbiam: unknown command "bogus" for 'dbiam migrate'`, "hint: run 'dbiam migrate --help'"},
		{"missing required flag", []string{"migrate", "plan"}, "dbiam: flag --out is required", "hint: run 'dbiam migrate plan --help' for usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != exitError {
				t.Errorf("exit = %d, want %d", code, exitError)
			}
			if out != "" {
				t.Errorf("stdout carries %d bytes; usage errors belong on stderr:\n%s", len(out), out)
			}
			if !strings.Contains(errOut, tt.wantErr) || !strings.Contains(errOut, tt.wantHint) {
				t.Errorf("stderr = %q, want %q and %q", errOut, tt.wantErr, tt.wantHint)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 1 {
				t.Errorf("stderr has %d lines, want the error and one hint:\n%s", n+1, errOut)
			}
		})
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	code, out, _ := runCLI(t, "export", "--help")
	if code != 0 || !strings.Contains(out, "dbiam export") {
		t.Errorf("exit %d, stdout %q: help should be printed on stdout", code, out)
	}
}

func TestRateLimitEnvVar(t *testing.T) {
	hermetic(t)
	t.Setenv("DATABRICKS_RATE_LIMIT", "-3")
	io, _, errb := reports.Test()
	if code := run(context.Background(), []string{"dbiam", "version"}, io); code != exitError || !strings.Contains(errb.String(), "invalid --rps -3") {
		t.Errorf("exit %d, stderr %q: DATABRICKS_RATE_LIMIT should set --rps", code, errb.String())
	}
}

func TestDiffExitCodes(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b.xlsx")
	for _, args := range [][]string{{"--sandbox", "--no-progress", "export", "--format", "csv", "--out", a},
		{"--sandbox", "--no-progress", "export", "--out", b}} {
		if code, _, errOut := runCLI(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
	}
	// The same state in two formats: equal, exit 0, only the header; on
	// stderr only the line that ends every command.
	code, out, errOut := runCLI(t, "diff", a, b)
	if code != exitOK || strings.Count(out, "\n") != 1 ||
		!regexp.MustCompile(`^dbiam: diff finished in [0-9.]+m?s: no differences; output on stdout\n$`).MatchString(errOut) {
		t.Errorf("diff of equal exports: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// One workspace removed from a's workspaces table (and from the row
	// count its About table records, which diff checks against cut files):
	// a workspace added since, exit 3.
	ws := filepath.Join(a, "workspaces.csv")
	body, err := os.ReadFile(ws)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(body), "\n")
	if err := os.WriteFile(ws, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	aboutCSV := filepath.Join(a, "about.csv")
	about, err := os.ReadFile(aboutCSV)
	if err != nil {
		t.Fatal(err)
	}
	n := len(lines) - 2 // the header and the final "" are not rows
	fixed := strings.Replace(string(about), fmt.Sprintf("table,workspaces,ok,%d,", n), fmt.Sprintf("table,workspaces,ok,%d,", n-1), 1)
	if fixed == string(about) {
		t.Fatalf("about.csv lacks the workspaces row count %d:\n%s", n, about)
	}
	if err := os.WriteFile(aboutCSV, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "diff", a, b)
	if code != 3 || !strings.Contains(out, "workspace\tadded") || !strings.Contains(errOut, "dbiam: exports differ: 1 change") {
		t.Errorf("diff of different exports: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Flags may follow the arguments, as in the Databricks CLI and gh.
	code, out, errOut = runCLI(t, "diff", a, b, "-o", "json")
	if code != 3 || !strings.HasPrefix(out, "{") {
		t.Errorf("diff A B -o json: exit %d, stdout %.40q, stderr %q; want the JSON report", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "diff", a); code != exitError || !strings.Contains(errOut, "two exports") {
		t.Errorf("diff with one argument: exit %d, stderr %q", code, errOut)
	}
}
