package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/sandbox"
)

// runMigrateCLI runs "dbiam migrate ARGS..." through urfave/cli as main.go
// wires it (slice flags never split), with d's streams and connection.
func runMigrateCLI(t *testing.T, d Deps, args ...string) error {
	t.Helper()
	app := &cli.App{Name: "dbiam", Version: "test", Commands: []*cli.Command{Command(d.Streams, d.Connect)},
		DisableSliceFlagSeparator: true, ExitErrHandler: func(*cli.Context, error) {},
		Reader: d.Streams.In, Writer: d.Streams.Out, ErrWriter: d.Streams.Err}
	return app.RunContext(context.Background(), append([]string{"dbiam", "migrate"}, args...))
}

// planSelection returns "workspace/local name" of every migrated group.
func planSelection(p *Plan) []string {
	var out []string
	for _, gr := range activeGroups(p) {
		out = append(out, gr.ws.WorkspaceName+"/"+gr.g.LocalName)
	}
	slices.Sort(out)
	return out
}

// TestNamesAreExactOnTheCommandLine: --group and --exclude keep names byte
// for byte (edge spaces, case), in plain or Go-quoted form; a name that
// matches nothing fails before anything is written, naming the closest
// names.
func TestNamesAreExactOnTheCommandLine(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	dir := t.TempDir()
	plan := func(t *testing.T, args ...string) (*Plan, error) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "plan.json")
		d, _, _ := sandboxDeps(t, srv)
		err := runMigrateCLI(t, d, append([]string{"plan", "--out", out}, args...)...)
		if err != nil {
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("plan %q failed (%v) but wrote its file", args, err)
			}
			return nil, err
		}
		return mustPlan(t, out), nil
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"trailing space", []string{"--group", nameOpsSpace}, []string{awkWS1Name + "/" + nameOpsSpace, awkWS2Name + "/" + nameOpsSpace}},
		{"quoted form", []string{"--group", `"ops "`}, []string{awkWS1Name + "/" + nameOpsSpace, awkWS2Name + "/" + nameOpsSpace}},
		{"no space", []string{"--group", nameOps}, []string{awkWS1Name + "/" + nameOps}},
		{"case", []string{"--group", nameOpsUpper}, []string{awkWS2Name + "/" + nameOpsUpper}},
		{"lead and trail", []string{"--group", nameLeadTr}, []string{awkWS1Name + "/" + nameLeadTr}},
		{"quotes, backslash, bracket, eq, RTL, emoji", []string{"--group", nameQuote, "--group", `"back\\slash"`, "--group", nameBracket,
			"--group", nameEq, "--group", nameRTL, "--group", nameEmoji},
			[]string{awkWS1Name + "/" + nameEq, awkWS1Name + "/" + nameBack, awkWS1Name + "/" + nameQuote, awkWS1Name + "/" + nameBracket,
				awkWS1Name + "/" + nameRTL, awkWS1Name + "/" + nameEmoji}},
		{"exclude keeps the space", []string{"--group-regex", "(?i)^ops", "--exclude", nameOpsSpace}, []string{awkWS1Name + "/" + nameOps, awkWS2Name + "/" + nameOpsUpper}},
		{"workspace name with a space", []string{"--workspace", awkWS2Name, "--group", nameOpsSpace}, []string{awkWS2Name + "/" + nameOpsSpace}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(tc.want)
			if got := planSelection(p); !slices.Equal(got, tc.want) {
				t.Errorf("selected %q, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"two trailing spaces", []string{"--group", "ops  "},
			`flag --group "ops  ": no workspace-local group of the workspaces planned has this name (names are matched exactly, spaces and case included); closest: "ops " (local group in prod ws, local group in Prod WS), "ops" (local group in prod ws), "Ops" (local group in Prod WS)`},
		{"trimmed", []string{"--group", "lead and trail"}, `flag --group "lead and trail": no workspace-local group`},
		{"exclude", []string{"--exclude", " ops"}, `flag --exclude " ops": no workspace-local group of the workspaces planned has this name`},
		{"workspace", []string{"--workspace", "prod ws "}, `flag --workspace "prod ws ": no workspace of the account (by name or id) has this name (names are matched exactly, spaces and case included); closest: "prod ws" (workspace 7001), "Prod WS" (workspace 7002)`},
		{"bad quotes", []string{"--group", `"ops \"`}, `flag --group "ops \": a value in double quotes is read as a quoted name`},
		{"system group", []string{"--group", "admins"}, `flag --group "admins": a system group`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := plan(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var re *PlanReviewError
			if errors.As(err, &re) {
				t.Errorf("err = %v is a review (exit 2), want bad input (exit 1)", err)
			}
		})
	}

	// finalize and rollback --group "ops " act on "ops " only: the account
	// group "ops " (two workspaces), never "ops" or "Ops".
	full := filepath.Join(dir, "plan.json")
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := runMigrateCLI(t, d, "plan", "--out", full); err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := runMigrateCLI(t, d, "apply", "--yes", full); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(full)
	p := mustPlan(t, full)
	id := func(ws int64, name string) string {
		for _, gr := range activeGroups(p) {
			if gr.ws.WorkspaceID == ws && gr.g.LocalName == name {
				return gr.g.LocalID
			}
		}
		t.Fatalf("no group %q in %d", name, ws)
		return ""
	}
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := runMigrateCLI(t, d, "finalize", "--journal", jdir, "--yes", "--group", `"ops "`); err != nil {
		t.Fatalf("finalize: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "Finalize: 2 backup groups deleted, 0 kept") {
		t.Errorf("finalize --group \"ops \":\n%s", stdout)
	}
	st := srv.Snapshot()
	for _, g := range []struct {
		ws      int64
		name    string
		deleted bool
	}{{awkWS1, nameOpsSpace, true}, {awkWS2, nameOpsSpace, true}, {awkWS1, nameOps, false}, {awkWS2, nameOpsUpper, false}} {
		if got := !hasLocalGroup(st, g.ws, id(g.ws, g.name)); got != g.deleted {
			t.Errorf("backup of %q in %d deleted = %v, want %v", g.name, g.ws, got, g.deleted)
		}
	}
	d, stdout, _ = sandboxDeps(t, srv)
	err := runMigrateCLI(t, d, "rollback", "--journal", jdir, "--yes", "--group", "ops  ")
	if err == nil || !strings.Contains(err.Error(), `flag --group "ops  ": no migrated local group or account group of the plan has this name (names are matched exactly, spaces and case included); closest: "ops " (local group in prod ws, local group in Prod WS, account group)`) {
		t.Errorf("rollback --group \"ops  \": %v", err)
	}
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := runMigrateCLI(t, d, "rollback", "--journal", jdir, "--yes", "--group", nameOps); err != nil {
		t.Fatalf("rollback --group ops: %v\n%s\n%s", err, stdout, stderr)
	}
	st = srv.Snapshot()
	if got := localGroupName(st, awkWS1, id(awkWS1, nameOps)); got != nameOps {
		t.Errorf("after rollback --group ops, local ops is %q", got)
	}
	if got := localGroupName(st, awkWS2, id(awkWS2, nameOpsUpper)); got != nameOpsUpper {
		t.Errorf("after rollback --group ops, local Ops is %q (the account group ops is shared)", got)
	}
	if got := localGroupName(st, awkWS1, id(awkWS1, nameLeadTr)); got != DefaultBackupPrefix+nameLeadTr {
		t.Errorf("rollback --group ops touched %q: it is %q", nameLeadTr, got)
	}
}

// TestMappingNamesAreExact: mapping cells keep edge spaces; a row naming
// no workspace or no local group, and a misspelt header, fail the plan
// (exit 1) naming the closest names, and no plan file is written.
func TestMappingNamesAreExact(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	write := func(t *testing.T, body string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "map.csv")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	mapping := write(t, "workspace,local_group,account_group\n"+
		awkWS1Name+",  lead and trail  , acct lead \n"+
		"*,ops ,\"ops, with comma \"\n")
	p, _ := runTestPlan(t, srv, PlanOptions{Match: MatchMapping, MappingFile: mapping})
	got := map[string]string{}
	for _, gr := range activeGroups(p) {
		got[gr.ws.WorkspaceName+"/"+gr.g.LocalName] = findAG(p, gr.g.AccountGroupKey).DisplayName
	}
	want := map[string]string{awkWS1Name + "/" + nameLeadTr: " acct lead ", awkWS1Name + "/" + nameOpsSpace: "ops, with comma ",
		awkWS2Name + "/" + nameOpsSpace: "ops, with comma "}
	if len(got) != len(want) {
		t.Errorf("mapped %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q maps to %q, want %q", k, got[k], v)
		}
	}

	for _, tc := range []struct {
		name, csv, want string
	}{
		{"group with an extra space", awkWS1Name + ",ops  ,x\n",
			`line 1 local_group "ops  ": no workspace-local group of workspace "prod ws" has this name (names are matched exactly, spaces and case included); closest: "ops " (local group in prod ws), "ops" (local group in prod ws)`},
		{"any workspace", "*,lead and trail,x\n", `line 1 local_group "lead and trail": no workspace-local group of the workspaces planned has this name`},
		{"workspace", "prod-ws,ops,x\n", `line 1 workspace "prod-ws": no workspace of the account (by name or id) has this name (names are matched exactly, spaces and case included); closest: "prod ws" (workspace 7001), "Prod WS" (workspace 7002)`},
		{"misspelt header", "workspace,local_grop,account_group\n" + awkWS1Name + ",ops,x\n", `line 1: "workspace,local_grop,account_group" looks like a misspelt header`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "plan.json")
			d, _, _, _ := planDeps(t, srv)
			err := RunPlan(context.Background(), PlanOptions{Out: out, Match: MatchMapping, MappingFile: write(t, tc.csv)}, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var re *PlanReviewError
			if errors.As(err, &re) {
				t.Errorf("err = %v is a review (exit 2), want bad input (exit 1)", err)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("plan file written despite the error")
			}
		})
	}
}
