package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain runs dbiam itself instead of the tests when DBIAM_TEST_MAIN is
// set, so that tests can run the real binary (completion scripts, a
// terminal) without building it.
func TestMain(m *testing.M) {
	if os.Getenv("DBIAM_TEST_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args, reports.System()))
	}
	os.Exit(m.Run())
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

func TestGlobalFlagAfterCommand(t *testing.T) {
	app := newApp(reports.NewStreams(nil, nil, nil), &globals{})
	tests := []struct {
		in, want string
	}{
		{"export --profile prod", "--profile prod export"},
		{"export -p prod --format csv", "-p prod export --format csv"},
		{"--parallel 2 export --sandbox --out x", "--parallel 2 --sandbox export --out x"},
		{"export --profile=prod --out x", "--profile=prod export --out x"},
		// A command flag's value is never taken for a global flag.
		{"audit --group --sandbox --user u", "audit --group --sandbox --user u"},
		{"migrate apply --dry-run plan.json --no-progress", "--no-progress migrate apply --dry-run plan.json"},
		{"migrate plan --out p.json --log-level debug -w acme", "--log-level debug migrate plan --out p.json -w acme"},
		// After "--" everything is an argument.
		{"migrate apply -- --profile", "migrate apply -- --profile"},
		// Unknown commands and flags are left for the error.
		{"exprot --profile p", "exprot --profile p"},
		{"--bogus export --profile p", "--bogus export --profile p"},
		{"export --bogus --profile p", "--profile p export --bogus"},
		// A command's flags may follow its arguments, as in the
		// Databricks CLI and gh; their values stay with them.
		{"migrate apply plan.json --yes", "migrate apply --yes plan.json"},
		{"migrate apply plan.json -j j.d --dry-run -p prod", "-p prod migrate apply -j j.d --dry-run plan.json"},
		{"diff old.xlsx new.xlsx -o json --out -", "diff -o json --out - old.xlsx new.xlsx"},
		// An unknown flag after an argument goes in front too, so that it
		// is reported as an unknown flag.
		{"migrate apply plan.json --bogus", "migrate apply --bogus plan.json"},
		{"migrate apply plan.json -- --yes", "migrate apply plan.json -- --yes"},
		{"migrate apply - --yes", "migrate apply --yes -"},
	}
	for _, tt := range tests {
		got := globalFlagAfterCommand(app, append([]string{"dbiam"}, strings.Fields(tt.in)...))
		if want := append([]string{"dbiam"}, strings.Fields(tt.want)...); !slices.Equal(got, want) {
			t.Errorf("%q:\n got  %q\n want %q", tt.in, got, want)
		}
	}
}

// TestGlobalFlagsEitherSide runs the same export with the global flags
// before and after the command.
func TestGlobalFlagsEitherSide(t *testing.T) {
	for _, args := range [][]string{
		{"--sandbox", "--no-progress", "export", "--format", "csv", "--out"},
		{"export", "--sandbox", "--format", "csv", "--no-progress", "--out"},
	} {
		dir := filepath.Join(t.TempDir(), "out")
		code, _, errOut := runCLI(t, append(args, dir)...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "users.csv")); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	// -p is --profile, after the command too.
	code, _, errOut := runCLI(t, "export", "-p", "prod")
	if code != exitError || !strings.Contains(errOut, `profile "prod"`) {
		t.Errorf("export -p prod: exit %d, stderr %q: want the profile error", code, errOut)
	}
}

func TestVersionFlag(t *testing.T) {
	_, byCommand, _ := runCLI(t, "version")
	code, byFlag, errOut := runCLI(t, "--version")
	if code != 0 || byFlag != byCommand || !strings.HasPrefix(byFlag, "dbiam dev (go") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; version prints %q", code, byFlag, errOut, byCommand)
	}
}

// commandPaths lists every command path of the app, "" for the app.
func commandPaths(cmds []*cli.Command, prefix string) []string {
	var out []string
	for _, c := range cmds {
		p := strings.TrimSpace(prefix + " " + c.Name)
		out = append(out, p)
		out = append(out, commandPaths(c.Subcommands, p)...)
	}
	return out
}

// TestHelpGolden pins the help of every command, so that a change of
// wording or of a flag shows in review.
func TestHelpGolden(t *testing.T) {
	app := newApp(reports.NewStreams(nil, nil, nil), &globals{})
	for _, p := range append([]string{""}, commandPaths(app.Commands, "")...) {
		args := append(strings.Fields(p), "--help")
		code, out, errOut := runCLI(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%s --help: exit %d, stderr %q", p, code, errOut)
		}
		name := "dbiam"
		if p != "" {
			name = strings.ReplaceAll(p, " ", "-")
		}
		golden(t, filepath.Join("help", name+".golden"), out)
		// A default is shown once: never "(default 100) (default: 0)",
		// never "(default: false)".
		for _, line := range strings.Split(out, "\n") {
			if strings.Count(line, "(default") > 1 || strings.Contains(line, "(default: false)") || strings.Contains(line, "(default: 0)") {
				t.Errorf("%s --help: %q", p, line)
			}
		}
	}
}

// logLine matches a log line of stderr.
var logLine = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ [A-Z]+ .*\n`)

// TestErrorsGolden pins the error text of command-line mistakes: one line
// and a hint, the flag as typed, a suggestion when a name is close, no
// doubled prefix.
func TestErrorsGolden(t *testing.T) {
	cases := [][]string{
		{"exprot"},
		{"bogus-cmd"},
		{"migrate", "plna"},
		{"export", "--bogus"},
		{"export", "-bogus"},
		{"export", "--workspce", "acme"},
		{"export", "--prfile", "prod"},
		{"export", "--out"},
		{"--parallel", "x", "version"},
		{"--sandbox=maybe", "version"},
		{"sandbox", "serve", "--latency", "5"},
		{"--rps", "fast", "version"},
		{"migrate", "apply", "--member-batch", "1.5", "plan.json"},
		{"--log-level", "loud", "version"},
		{"--sandbox", "--host", "https://x.test", "version"},
		{"version", "extra"},
		{"completion"},
		{"completion", "bsh"},
		{"completion", "tcsh"},
		{"migrate", "plan"},
		{"--sandbox", "audit"},
		{"export", "--profile", "prod"},
		{"--sandbox", "export", "--workspace", "acme-prd"},
		{"export", "-o", "acme.xlsx"},
		{"export", "-o", "identities"},
		{"export", "--out", "json"},
		{"export", "-o", "json", "--out", "-"},
		{"export", "-o", "xlsx", "--include", "users", "--out", "-"},
		{"audit", "--user", "x@acme.test", "-o", "impact.html"},
		{"audit", "--user", "x@acme.test", "--output", "html", "--out", "csv"},
		{"migrate", "plan", "-o", "plan.json"},
		{"audit", "--user", "x@acme.test", "-f", "html", "-o", "impact.html"},
		{"export", "--format", "csv", "-o", "acme-export"},
		{"--sandbox", "export", "--workspace", "acme-prod", "-w", "acme-ml", "--out", "x"},
		{"diff", "-o", "review.html", "a", "b"},
		{"--sandbox", "audit", "--user", "x@acme.test", "--workspace", "acme-prd"},
	}
	var b strings.Builder
	for _, args := range cases {
		code, out, errOut := runCLI(t, args...)
		// Log lines (the sandbox's start, with its port) are not the error.
		errOut = logLine.ReplaceAllString(errOut, "")
		fmt.Fprintf(&b, "$ dbiam %s\n%s[exit %d]\n\n", strings.Join(args, " "), errOut, code)
		if code == 0 || out != "" {
			t.Errorf("%q: exit %d, stdout %q", args, code, out)
		}
		if strings.Contains(errOut, "dbiam: dbiam") || strings.Contains(errOut, "-bogus for") && strings.Contains(errOut, "flag provided") {
			t.Errorf("%q: doubled prefix or raw flag error: %q", args, errOut)
		}
	}
	golden(t, "errors.golden", b.String())
}

// dbiamOnPath puts a "dbiam" on PATH that runs this test binary as dbiam
// (see TestMain).
func dbiamOnPath(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "dbiam")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DBIAM_TEST_MAIN", "1")
}

// TestCompletions pins the candidates dbiam gives the completion scripts:
// an exact flag name that is also another's prefix stays a candidate,
// global flags before the command do not hide the commands, global flags
// are offered after the command (where they are accepted), and a flag's
// value gets no flag names (the shell completes a path there).
func TestCompletions(t *testing.T) {
	app := newApp(reports.NewStreams(nil, nil, nil), &globals{})
	tests := []struct {
		line string // the words before the one completed, then that word
		want []string
	}{
		{"| ex", []string{"export"}},
		{"| ", []string{"export", "audit", "migrate", "handover", "diff", "sandbox", "version", "completion"}},
		{"export | --workspace", []string{"--workspace", "--workspaces-file"}},
		{"export --workspace | ", nil},
		{"export -w acme-prod | --wor", []string{"--workspace", "--workspaces-file"}},
		{"--sandbox | ex", []string{"export"}},
		{"-p prod --log-level debug | mi", []string{"migrate"}},
		{"--profile=prod | au", []string{"audit"}},
		{"audit | --pro", []string{"--profile"}},
		{"audit | -", nil}, // checked below: flags of audit, then the global ones
		{"migrate | ", []string{"plan", "apply", "status", "verify", "finalize", "rollback", "adopt"}},
		{"migrate plan | --gr", []string{"--group", "--group-regex"}},
		{"migrate apply | ", nil},
		{"migrate apply plan.json | --y", []string{"--yes"}},
		{"export --out | ", nil},
		{"export | --output=", nil},
		{"completion | ", []string{"bash", "zsh", "fish", "powershell"}},
		{"completion bash | ", nil},
		{"export -- | -", nil},
		{"| --ver", []string{"--version"}},
	}
	for _, tt := range tests {
		before, cur, _ := strings.Cut(tt.line, "| ")
		cur = strings.TrimPrefix(cur, "|")
		got := completions(app, strings.Fields(before), cur)
		var words []string
		for _, c := range got {
			words = append(words, c.word)
		}
		if cur == "-" && before == "audit " {
			if len(words) < 3 || words[0] != "--user" || !slices.Contains(words, "--profile") || !slices.Contains(words, "-p") || slices.Contains(words, "--version") {
				t.Errorf("dbiam audit -<Tab> = %q, want audit's flags first, then the global ones", words)
			}
			continue
		}
		if !slices.Equal(words, tt.want) {
			t.Errorf("dbiam %s<Tab> = %q, want %q", strings.TrimSpace(before+" "+cur), words, tt.want)
		}
	}
}

// TestCompleteProtocol: "dbiam __complete SHELL CWORD WORD..." prints the
// candidates one a line, with a description for zsh and fish, and
// nothing for a malformed request.
func TestCompleteProtocol(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bash", "1", "export", "--wor"}, "--workspace\n--workspaces-file\n"},
		{[]string{"bash", "1", "export"}, ""}, // cursor after "export ": no subcommand, no flag
		{[]string{"zsh", "1", "audit", "--fail"}, "--fail-on:exit with code 3 when a finding of this SEVERITY or worse exists: breaks, stops, orphaned or not-covered\n"},
		{[]string{"fish", "0", "vers"}, "version\tprint the version\n"},
		{[]string{"powershell", "0", "vers"}, "version\n"},
		{[]string{"bash", "x", "export"}, ""},
		{[]string{"bash", "5", "export"}, ""},
		{[]string{"bash"}, ""},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append([]string{completeCommand}, tt.args...)...)
		if code != 0 || errOut != "" || out != tt.want {
			t.Errorf("__complete %q: exit %d, stdout %q, stderr %q; want %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// completeIn runs script (a completion function call) in shell with the
// dbiam completion script of that shell loaded and returns its output
// lines.
func completeIn(t *testing.T, shell string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(shell, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%s: %v\n%s", shell, err, stderr.String())
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestCompletionBash loads the bash script in a real bash and asks it for
// completions the way bash does on <Tab>.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	hermetic(t)
	dbiamOnPath(t)
	complete := func(words ...string) []string {
		t.Helper()
		script := `source <(dbiam completion bash) || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_dbiam_complete
printf '%s\n' "${COMPREPLY[@]}"`
		return completeIn(t, bash, append([]string{"-c", script, "bash"}, words...)...)
	}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"dbiam", "ex"}, []string{"export"}},
		{[]string{"dbiam", "migrate", "ro"}, []string{"rollback"}},
		{[]string{"dbiam", "export", "--workspaces"}, []string{"--workspaces-file"}},
		// The exact name stays: it used to be replaced by --workspaces-file.
		{[]string{"dbiam", "export", "--workspace"}, []string{"--workspace", "--workspaces-file"}},
		// A flag's value: nothing (bash completes a path); it used to
		// offer --workspaces-file as the workspace.
		{[]string{"dbiam", "export", "--workspace", ""}, nil},
		// A global flag before the command used to hide the commands.
		{[]string{"dbiam", "--sandbox", "ex"}, []string{"export"}},
		{[]string{"dbiam", "audit", "--pro"}, []string{"--profile"}},
		{[]string{"dbiam", "completion", "b"}, []string{"bash"}},
	}
	for _, tt := range tests {
		if got := complete(tt.words...); !slices.Equal(got, tt.want) {
			t.Errorf("%q<Tab> = %q, want %q", tt.words, got, tt.want)
		}
	}
}

// TestCompletionZsh runs the zsh script's function in a real zsh, with
// zsh's completion functions replaced by ones that print what they are
// given. (The script used to fail at once: "unrecognized modifier `C'".)
func TestCompletionZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed (apt-get install zsh)")
	}
	hermetic(t)
	dbiamOnPath(t)
	complete := func(words ...string) []string {
		t.Helper()
		script := `compdef() { :; }
_describe() { print -rl -- "${(@P)2}"; }
_files() { print -r -- FILES; }
source <(dbiam completion zsh) || exit 1
words=("$@"); CURRENT=$#
_dbiam`
		return completeIn(t, zsh, append([]string{"-f", "-c", script, "zsh"}, words...)...)
	}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"dbiam", "ex"}, []string{"export:export users, service principals, groups, memberships, entitlements and assignments"}},
		{[]string{"dbiam", "export", "--workspace"}, []string{
			"--workspace:export only this workspace, by ID_OR_NAME (repeatable; exact name, spaces included; default: all)",
			"--workspaces-file:read the workspaces from a CSV FILE of id,name,url rows instead of the account"}},
		{[]string{"dbiam", "export", "--out", ""}, []string{"FILES"}},
		{[]string{"dbiam", "-p", "prod", "mig"}, []string{"migrate:migrate workspace-local groups to account groups"}},
	}
	for _, tt := range tests {
		if got := complete(tt.words...); !slices.Equal(got, tt.want) {
			t.Errorf("%q<Tab> = %q, want %q", tt.words, got, tt.want)
		}
	}
}

// TestCompletionFish loads the fish script in a real fish and asks fish's
// own completion engine (complete -C) what it offers.
func TestCompletionFish(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish is not installed (apt-get install fish)")
	}
	hermetic(t)
	dbiamOnPath(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plan.json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) []string {
		t.Helper()
		return completeIn(t, fish, "--no-config", "-c", "cd "+dir+"; dbiam completion fish | source; complete -C '"+line+"'")
	}
	tests := []struct {
		line string
		want []string
	}{
		{"dbiam ex", []string{"export\texport users, service principals, groups, memberships, entitlements and assignments"}},
		{"dbiam export --workspace", []string{
			"--workspace\texport only this workspace, by ID_OR_NAME (repeatable; exact name, spaces included; default: all)",
			"--workspaces-file\tread the workspaces from a CSV FILE of id,name,url rows instead of the account"}},
		// Not -a, -m, -r, -t: urfave/cli's fish script made short flags
		// of the letters of --format.
		{"dbiam export -", nil},
		{"dbiam migrate apply pl", []string{"plan.json"}},
		{"dbiam completion f", []string{"fish"}},
	}
	for _, tt := range tests {
		got := complete(tt.line)
		if tt.line == "dbiam export -" {
			for _, c := range got {
				flag, _, _ := strings.Cut(c, "\t")
				if len(flag) == 2 && !slices.Contains([]string{"-w", "-o", "-f", "-p", "-h"}, flag) {
					t.Errorf("dbiam export -<Tab> offers %s, which export does not take: %q", flag, got)
				}
			}
			if !slices.ContainsFunc(got, func(c string) bool { return strings.HasPrefix(c, "--profile\t") }) {
				t.Errorf("dbiam export -<Tab> = %q, want the global flags too", got)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q<Tab> = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestCompletionScripts checks that every shell gets a script that hooks
// dbiam and asks it for candidates, and that the zsh and fish scripts
// parse.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range completionShells {
		code, out, errOut := runCLI(t, "completion", shell)
		if code != 0 || errOut != "" {
			t.Fatalf("completion %s: exit %d, stderr %q", shell, code, errOut)
		}
		var want []string
		switch shell {
		case "bash":
			want = []string{"complete -o bashdefault -o default -F _dbiam_complete dbiam", " __complete bash "}
		case "zsh":
			want = []string{"#compdef dbiam", "compdef _dbiam dbiam", " __complete zsh "}
		case "powershell":
			want = []string{"Register-ArgumentCompleter -Native -CommandName dbiam", " __complete powershell "}
		case "fish":
			want = []string{"complete -c dbiam -f -a '(__dbiam_complete)'", " __complete fish "}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("completion %s lacks %q:\n%s", shell, w, out)
			}
		}
	}
	if zsh, err := exec.LookPath("zsh"); err == nil {
		_, out, _ := runCLI(t, "completion", "zsh")
		cmd := exec.Command(zsh, "-n")
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, b)
		}
	}
	if fish, err := exec.LookPath("fish"); err == nil {
		_, out, _ := runCLI(t, "completion", "fish")
		cmd := exec.Command(fish, "--no-execute")
		cmd.Stdin = strings.NewReader(out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("fish --no-execute: %v\n%s", err, b)
		}
	}
}

// TestCredentialErrorsGolden runs dbiam against a sandbox with credentials
// that go wrong in each way, and pins what the user reads: one line that
// names the credential (never the secret) and a hint with the next step.
func TestCredentialErrorsGolden(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	refusing := sandbox.NewTestServer(t, sandbox.Options{})
	if err := refusing.AddFault(sandbox.Fault{PathRegexp: `/workspaces$`, Status: 401}); err != nil {
		t.Fatal(err)
	}
	const m2mClient, m2mSecret = "bd2e3835-c978-4802-8bf2-651e743e4efe", "sandbox-sp-secret-terraform"
	cases := []struct {
		name string
		srv  *sandbox.Server
		env  map[string]string
	}{
		{"no credentials", srv, nil},
		{"wrong token", srv, map[string]string{"DATABRICKS_TOKEN": "dapi-wrong-token-0001"}},
		{"not an account admin", srv, map[string]string{"DATABRICKS_TOKEN": srv.UserToken()}},
		{"wrong M2M secret", srv, map[string]string{"DATABRICKS_CLIENT_ID": m2mClient, "DATABRICKS_CLIENT_SECRET": "wrong-secret-0002"}},
		{"M2M token refused by the API", refusing, map[string]string{"DATABRICKS_CLIENT_ID": m2mClient, "DATABRICKS_CLIENT_SECRET": m2mSecret}},
	}
	var b strings.Builder
	for _, c := range cases {
		srv := c.srv
		hermetic(t)
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		io, out, errb := reports.Test()
		args := []string{"dbiam", "--host", srv.URL(), "--account-id", srv.AccountID(), "audit", "--user", "x@acme.test"}
		code := run(context.Background(), args, io)
		got := strings.ReplaceAll(errb.String(), srv.URL(), "<sandbox>")
		got = strings.ReplaceAll(got, srv.AccountID(), "<account>")
		fmt.Fprintf(&b, "# %s\n%s[exit %d]\n\n", c.name, got, code)
		if code != exitError || out.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q", c.name, code, out)
		}
		if n := strings.Count(strings.TrimSpace(got), "\n"); n > 1 {
			t.Errorf("%s: %d lines, want the error and at most one hint:\n%s", c.name, n+1, got)
		}
		for _, secret := range []string{"dapi-wrong-token-0001", "wrong-secret-0002", srv.UserToken(), m2mSecret} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: stderr carries a secret:\n%s", c.name, got)
			}
		}
	}
	golden(t, "credential-errors.golden", b.String())
}

// TestCommandsEndWithOutcome: each command's last line on stderr says what
// it did, how long it took and where its output went (before the error
// line of a partial result): export, audit, diff, migrate plan, apply,
// verify, status, rollback, finalize and adopt, handover plan, apply, verify,
// status and rollback.
func TestCommandsEndWithOutcome(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"--sandbox", "--no-progress", "export", "--format", "csv", "--out", filepath.Join(dir, "export")},
			regexp.MustCompile(`^dbiam: export finished in [0-9.]+m?s: 4 workspaces: 4 ok, 0 failed, 0 skipped; wrote ` + regexp.QuoteMeta(filepath.Join(dir, "export")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "audit", "--user", "elena.patel@acme.test", "--format", "html", "--out", filepath.Join(dir, "impact.html")},
			regexp.MustCompile(`^dbiam: audit finished in [0-9.]+m?s: 1 identity, 4 workspaces, \d+ findings \(\d+ breaks, .*\); wrote ` + regexp.QuoteMeta(filepath.Join(dir, "impact.html")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "audit", "--user", "elena.patel@acme.test", "--format", "json"},
			regexp.MustCompile(`^dbiam: audit finished in [0-9.]+m?s: 1 identity, 4 workspaces, \d+ findings .*; output on stdout$`)},
		{[]string{"--sandbox", "--no-progress", "migrate", "plan", "--out", filepath.Join(dir, "plan.json")},
			regexp.MustCompile(`^dbiam: migrate plan finished in [0-9.]+m?s: \d+ local groups in 4 workspaces, \d+ to migrate, \d+ conflicts \(\d+ blocking\); wrote ` + regexp.QuoteMeta(filepath.Join(dir, "plan.json")) + `$`)},
		// Each --sandbox run starts from the demo account: these check the
		// line, not a sequence of states.
		{[]string{"--sandbox", "--no-progress", "migrate", "apply", "--yes", filepath.Join(dir, "plan.json")},
			regexp.MustCompile(`^dbiam: migrate apply finished in [0-9.]+m?s: 14 of 14 groups migrated, 0 failed, 0 pending; wrote journal ` + regexp.QuoteMeta(filepath.Join(dir, "plan.json.journal")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "migrate", "verify", filepath.Join(dir, "plan.json")},
			regexp.MustCompile(`^dbiam: migrate verify finished in [0-9.]+m?s: 14 groups checked, \d+ differences in \d+ groups; output on stdout$`)},
		{[]string{"migrate", "status", "--journal", filepath.Join(dir, "plan.json.journal")},
			regexp.MustCompile(`^dbiam: migrate status finished in [0-9.]+[µm]?s: read journal ` + regexp.QuoteMeta(filepath.Join(dir, "plan.json.journal")) + `; output on stdout$`)},
		{[]string{"--sandbox", "--no-progress", "migrate", "rollback", "--yes", "--journal", filepath.Join(dir, "plan.json.journal")},
			// A fresh sandbox, where nothing was migrated: rollback restores
			// nothing and must not say it did.
			regexp.MustCompile(`^dbiam: migrate rollback finished in [0-9.]+m?s: 0 groups rolled back, 14 already as before apply \(nothing to undo\), .*; wrote journal ` + regexp.QuoteMeta(filepath.Join(dir, "plan.json.journal")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "migrate", "finalize", "--yes", "--journal", filepath.Join(dir, "plan.json.journal")},
			regexp.MustCompile(`^dbiam: migrate finalize finished in [0-9.]+m?s: \d+ backup groups deleted, \d+ kept; wrote journal ` + regexp.QuoteMeta(filepath.Join(dir, "plan.json.journal")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "migrate", "adopt", "--journal", filepath.Join(dir, "adopted"), "--wait", "0s", filepath.Join(dir, "plan.json")},
			regexp.MustCompile(`^dbiam: migrate adopt finished in [0-9.]+m?s: \d+ records: \d+ groups migrated, \d+ started, \d+ not started, \d+ finalized, \d+ unknown; wrote journal ` + regexp.QuoteMeta(filepath.Join(dir, "adopted")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "export", "-o", "json", "--out", filepath.Join(dir, "again")},
			regexp.MustCompile(`^dbiam: export finished in .*; wrote ` + regexp.QuoteMeta(filepath.Join(dir, "again")) + `$`)},
		{[]string{"diff", filepath.Join(dir, "export"), filepath.Join(dir, "again"), "-o", "html", "--out", filepath.Join(dir, "diff.html")},
			regexp.MustCompile(`^dbiam: diff finished in [0-9.]+m?s: no differences; wrote ` + regexp.QuoteMeta(filepath.Join(dir, "diff.html")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "handover", "plan", "--from", "user:elena.patel@acme.test", "--to", "user:dana.varga@acme.test",
			"--kinds", "job,query", "--out", filepath.Join(dir, "handover.json")},
			regexp.MustCompile(`^dbiam: handover plan finished in [0-9.]+m?s: \d+ changes, \d+ conflicts; wrote ` + regexp.QuoteMeta(filepath.Join(dir, "handover.json")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "handover", "apply", "--yes", filepath.Join(dir, "handover.json")},
			regexp.MustCompile(`^dbiam: handover apply finished in [0-9.]+m?s: (\d+) of (\d+) changes done, 0 failed, 0 skipped, 0 pending; wrote journal ` + regexp.QuoteMeta(filepath.Join(dir, "handover.json.journal")) + `$`)},
		{[]string{"--sandbox", "--no-progress", "handover", "verify", filepath.Join(dir, "handover.json")},
			regexp.MustCompile(`^dbiam: handover verify finished in [0-9.]+m?s: \d+ changes checked, \d+ differences; output on stdout$`)},
		{[]string{"handover", "status", "--journal", filepath.Join(dir, "handover.json.journal")},
			regexp.MustCompile(`^dbiam: handover status finished in [0-9.]+[µm]?s: \d+ changes: \d+ done; read journal ` + regexp.QuoteMeta(filepath.Join(dir, "handover.json.journal")) + `; output on stdout$`)},
		{[]string{"--sandbox", "--no-progress", "handover", "rollback", "--yes", "--journal", filepath.Join(dir, "handover.json.journal")},
			regexp.MustCompile(`^dbiam: handover rollback finished in [0-9.]+m?s: \d+ of \d+ changes put back, \d+ failed, \d+ skipped, 0 pending; wrote journal ` + regexp.QuoteMeta(filepath.Join(dir, "handover.json.journal")) + `$`)},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, tt.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		last := lines[len(lines)-1]
		if code == exitPartial && len(lines) > 1 {
			last = lines[len(lines)-2] // the outcome, then the error
		}
		if !tt.want.MatchString(last) {
			t.Errorf("%q: exit %d, last line %q, want %s\n%s", tt.args, code, last, tt.want, errOut)
		}
	}
}

// TestOutputFlags: -o/--output is the format in every command that has
// one (--format and -f still work), and --out - writes a single stream to
// stdout: one export table as JSON Lines or CSV, an audit report.
func TestOutputFlags(t *testing.T) {
	code, out, errOut := runCLI(t, "--sandbox", "--no-progress", "export", "-o", "json", "--include", "users", "--out", "-")
	if code != 0 {
		t.Fatalf("export to stdout: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil || row["user_name"] == nil || row["workspace_id"] == nil {
			t.Fatalf("stdout line %q is not a users row: %v", l, err)
		}
	}
	if len(lines) < 100 {
		t.Errorf("%d user rows on stdout", len(lines))
	}
	if !strings.Contains(errOut, "; output on stdout\n") || !strings.Contains(errOut, "table users") {
		t.Errorf("the last line does not say the table went to stdout:\n%s", errOut)
	}

	code, out, errOut = runCLI(t, "--sandbox", "--no-progress", "export", "--format", "csv", "--include", "memberships", "--out", "-")
	if code != 0 || !strings.HasPrefix(out, "workspace_id,workspace_name,group_id,group_name,") {
		t.Errorf("export --format csv --out -: exit %d, stdout starts %q\n%s", code, out[:min(len(out), 80)], errOut)
	}

	code, out, errOut = runCLI(t, "--sandbox", "--no-progress", "audit", "--user", "elena.patel@acme.test", "-o", "json", "--out", "-")
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["findings"] == nil {
		t.Errorf("audit -o json --out -: exit %d, stdout is not the JSON report\n%s", code, errOut)
	}

	dir := filepath.Join(t.TempDir(), "x")
	if code, _, errOut := runCLI(t, "--sandbox", "--no-progress", "export", "-f", "csv", "--out", dir); code != 0 {
		t.Errorf("the old spelling -f csv: exit %d\n%s", code, errOut)
	}
}
