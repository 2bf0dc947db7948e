package export

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// prodPAT is a personal access token of acme-prod for the default seed's
// account admin.
const prodPAT = "dapi-export-test-prod-pat"

func patSeed() *sandbox.Seed {
	s := sandbox.DefaultSeed()
	s.Tokens = append(s.Tokens, sandbox.SeedToken{Token: prodPAT, Principal: "1100000000000001",
		Role: sandbox.RoleAccountAdmin, WorkspaceID: s.Workspaces[0].WorkspaceID})
	return s
}

// TestPATOtherWorkspacesPartial: with a personal access token and an
// account host whose API takes it, every other workspace fails with the
// message naming OAuth M2M, and what the token could read is written
// (exit 2).
func TestPATOtherWorkspacesPartial(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: patSeed(), AccountPATs: true}, func(s *scim.Settings) { s.Token = prodPAT })
	path := e.path("out")
	err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 || pe.Out != path {
		t.Fatalf("Run = %v, want a *PartialError", err)
	}
	var te *scim.TokenScopeError
	if !errors.As(err, &te) {
		t.Errorf("errors.As(%v, *TokenScopeError) = false", err)
	}
	var failed []string
	for _, f := range pe.Failures {
		failed = append(failed, f.Name)
	}
	if strings.Join(failed, ",") != "acme-analytics,acme-ml,acme-legacy" {
		t.Errorf("failed workspaces %v", failed)
	}
	out := readOutput(t, "csv", path)
	if st := out[TableWorkspaces].one(t, "workspace_id", wsProd)["export_status"]; st != statusOK {
		t.Errorf("the PAT's own workspace: status %q", st)
	}
	if len(out[TableUsers].where(t, "workspace_id", wsProd)) == 0 {
		t.Error("no users of the PAT's own workspace written")
	}
	for _, id := range []string{wsAnalytics, wsML, wsLegacy} {
		row := out[TableWorkspaces].one(t, "workspace_id", id)
		if row["export_status"] != statusFailed || !strings.Contains(row["error"], "refuses the personal access token") ||
			!strings.Contains(row["error"], "OAuth M2M") {
			t.Errorf("workspace %s row = %v", id, row)
		}
	}
	stderr := e.stderr.String()
	if strings.Contains(stderr, prodPAT) {
		t.Error("stderr shows the token")
	}
	// One message per workspace: the summary line of each failed
	// workspace gives the cause and the fix once.
	for _, id := range []string{wsAnalytics, wsML, wsLegacy} {
		var line string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "workspace "+id+" (") {
				line = l
			}
		}
		if strings.Count(line, "refuses the personal access token") != 1 || strings.Count(line, "use OAuth M2M instead") != 1 {
			t.Errorf("summary of workspace %s: %q", id, line)
		}
	}
	if strings.Contains(stderr, "identity federation unknown") {
		t.Errorf("a refused token also warns about federation:\n%s", stderr)
	}
}

// TestPATRefusedByAccount: an account API that refuses the personal access
// token (the default) fails the run at once with the same fix, and writes
// nothing.
func TestPATRefusedByAccount(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: patSeed()}, func(s *scim.Settings) { s.Token = prodPAT })
	path := e.path("out")
	err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps)
	var te *scim.TokenScopeError
	var pe *PartialError
	if !errors.As(err, &te) || !te.Account || errors.As(err, &pe) || !strings.Contains(err.Error(), "OAuth M2M") {
		t.Fatalf("Run = %v, want the account's *TokenScopeError", err)
	}
	if _, serr := os.Stat(path); !os.IsNotExist(serr) {
		t.Errorf("output written: %v", serr)
	}
}
