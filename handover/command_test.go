package handover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/journal"
)

// runCLI runs "handover ARGS..." through the command's flags.
func runCLI(t *testing.T, d Deps, args ...string) error {
	t.Helper()
	app := &cli.App{Name: "dbiam", Commands: []*cli.Command{Command(d.Streams, d.Connect)},
		Writer: d.Streams.Out, ErrWriter: d.Streams.Err, ExitErrHandler: func(*cli.Context, error) {}}
	return app.RunContext(context.Background(), append([]string{"dbiam", "handover"}, args...))
}

// TestCommandFlags: the subcommands turn their flags into options, names
// byte-exact (a workspace name with an edge space is not trimmed), and
// flags after the plan file get an error showing the line in order.
func TestCommandFlags(t *testing.T) {
	srv := newServer(t)
	d, stdout, _ := deps(srv)
	dir := t.TempDir()
	plan := filepath.Join(dir, "h.json")
	m := writeFile(t, "m.csv", demoMap)
	err := runCLI(t, d, "plan", "--from", "user:"+elena, "--to", "service-principal:"+etlProd, "--map", m,
		"--kinds", "job,query", "--workspace", "acme-prod", "--deactivate", "--out", plan)
	if err == nil || !strings.Contains(err.Error(), "--deactivate needs every kind handed over") {
		t.Errorf("--deactivate with --kinds: %v", err)
	}
	err = runCLI(t, d, "plan", "--from", "user:"+elena, "--to", "service-principal:"+etlProd, "--map", m,
		"--kinds", "job,query", "--workspace", "acme-prod", "--out", plan)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, stdout)
	}
	p, _, err := ReadPlan(plan)
	if err != nil || p.Settings.Deactivate || strings.Join(p.Settings.Kinds, ",") != "job,query" || p.Settings.Workspaces[0] != "acme-prod" {
		t.Fatalf("plan settings: %+v, %v", p.Settings, err)
	}
	err = runCLI(t, d, "plan", "--from", "user:"+elena, "--to", "user:"+dana, "--workspace", "acme-prod ", "--out", filepath.Join(dir, "x.json"))
	if err == nil || !strings.Contains(err.Error(), `"acme-prod "`) {
		t.Errorf("--workspace with an edge space: %v", err)
	}
	err = runCLI(t, d, "apply", plan, "--yes")
	if err == nil || !strings.Contains(err.Error(), "dbiam handover apply --yes "+plan) {
		t.Errorf("flags after the plan: %v", err)
	}
	if err := runCLI(t, d, "apply", "--yes", plan); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if err := runCLI(t, d, "verify", plan); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := runCLI(t, d, "status", "--journal", journal.DefaultDir(plan)); err != nil {
		t.Fatalf("status: %v", err)
	}
	err = runCLI(t, d, "rollback", "--journal", journal.DefaultDir(plan))
	if !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("rollback off a terminal without --yes: %v", err)
	}
	if err := runCLI(t, d, "rollback", "--yes", "--journal", journal.DefaultDir(plan)); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if _, err := os.Stat(journal.PlanPath(journal.DefaultDir(plan))); err != nil {
		t.Errorf("no plan copy in the journal: %v", err)
	}
}
