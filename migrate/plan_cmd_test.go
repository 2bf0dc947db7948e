package migrate

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runPlanCommand runs "dbiam plan ARGS..." through urfave/cli with d.
func runPlanCommand(t *testing.T, d Deps, args ...string) error {
	t.Helper()
	app := &cli.App{
		Name:                      "dbiam",
		Version:                   "v9.9.9",
		Commands:                  []*cli.Command{planCommand(d)},
		DisableSliceFlagSeparator: true,
		ExitErrHandler:            func(*cli.Context, error) {},
		Writer:                    d.Streams.Out,
		ErrWriter:                 d.Streams.Err,
	}
	return app.RunContext(context.Background(), append([]string{"dbiam", "plan"}, args...))
}

func TestPlanCommandFlags(t *testing.T) {
	srv := newPlanServer(t, "match")
	d, _, _, _ := planDeps(t, srv)
	out := filepath.Join(t.TempDir(), "p.json")
	err := runPlanCommand(t, d, "--out", out, "--workspace", "alpha", "--workspace", "12",
		"--group-regex", "^team-", "--exclude", "team-bi", "--exclude-regex", "x{1,2}",
		"--match", "prefix", "--prefix", "team-", "--strip", "--on-conflict", "merge", "--backup-prefix", "old-", "--permissions-route", "api-or-acl-copy")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := ReadPlan(out)
	if err != nil {
		t.Fatal(err)
	}
	want := PlanSettings{Match: MatchPrefix, Prefix: "team-", Strip: true, OnConflict: PolicyMerge, BackupPrefix: "old-",
		Workspaces: []string{"alpha", "12"}, GroupRegex: []string{"^team-"}, Exclude: []string{"team-bi"}, ExcludeRegex: []string{"x{1,2}"},
		PermissionsRoute: RouteAPIOrACLCopy}
	if !reflect.DeepEqual(p.Settings, want) {
		t.Errorf("settings = %+v\nwant %+v", p.Settings, want)
	}
	if p.ToolVersion != "v9.9.9" {
		t.Errorf("tool_version = %q, want the app version", p.ToolVersion)
	}
	if got := planOutcome(p); !reflect.DeepEqual(got, map[string]string{"alpha/team-data": "reuse:data", "alpha/team-ml": "ml", "beta/team-ml": "ml"}) {
		t.Errorf("outcome = %v", got)
	}
	for _, w := range p.Workspaces {
		for _, g := range w.Groups {
			if !strings.HasPrefix(g.BackupName, "old-") {
				t.Errorf("backup name %q", g.BackupName)
			}
		}
	}
}

func TestPlanCommandRejectsArgumentsAndMissingOut(t *testing.T) {
	d, _, _, connects := planDeps(t, nil)
	if err := runPlanCommand(t, d, "plan.json"); err == nil || !strings.Contains(err.Error(), "Required flag \"out\"") {
		t.Errorf("no --out: %v", err)
	}
	err := runPlanCommand(t, d, "--out", filepath.Join(t.TempDir(), "p.json"), "extra")
	if err == nil || err.Error() != `migrate plan takes no arguments (got "extra"): the plan file is --out` {
		t.Errorf("extra argument: %v", err)
	}
	if *connects != 0 {
		t.Errorf("connected on bad input")
	}
}
