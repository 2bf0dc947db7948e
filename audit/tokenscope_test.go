package audit

import (
	"errors"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// prodPAT is a personal access token of acme-prod (the default seed's
// first workspace) for its account admin.
const prodPAT = "dapi-audit-test-prod-pat"

func patSeed() *sandbox.Seed {
	s := sandbox.DefaultSeed()
	s.Tokens = append(s.Tokens, sandbox.SeedToken{Token: prodPAT, Principal: "1100000000000001",
		Role: sandbox.RoleAccountAdmin, WorkspaceID: s.Workspaces[0].WorkspaceID})
	return s
}

// TestAuditPATOtherWorkspaces: with a personal access token and an account
// host whose API takes it, every other workspace is not covered, with one
// reason naming OAuth M2M, the PAT's own workspace is audited, and the
// report is written (exit 2).
func TestAuditPATOtherWorkspaces(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: patSeed(), AccountPATs: true}, func(s *scim.Settings) { s.Token = prodPAT })
	r, err := e.runJSON(t, Options{Users: []string{"elena.patel@acme.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 {
		t.Fatalf("err = %v, want a PartialError", err)
	}
	// The isolated finance catalog is bound to acme-analytics only, which
	// refused the token: what it holds is not covered either.
	want := []string{"acme-analytics (6051921418418892): everything", "acme-ml (6051921418418893): everything",
		"acme-legacy (6051921418418894): everything"}
	for _, k := range []string{"catalog", "schema", "table", "volume", "function", "registered-model"} {
		want = append(want, "metastore acme-us-east: "+k)
	}
	if strings.Join(pe.NotCovered, "|") != strings.Join(want, "|") {
		t.Errorf("not covered %v, want %v", pe.NotCovered, want)
	}
	gaps, prod := 0, 0
	for _, f := range r.Findings {
		switch {
		case f.Severity == SeverityNotCovered && f.Metastore != nil:
			gaps++
			if !strings.Contains(f.Reason, "isolated catalog finance is bound only to workspace(s) acme-analytics (6051921418418892)") {
				t.Errorf("gap %s: reason %q", row(f), f.Reason)
			}
		case f.Severity == SeverityNotCovered:
			gaps++
			if strings.Count(f.Reason, "refuses the personal access token") != 1 || !strings.Contains(f.Reason, "use OAuth M2M instead") {
				t.Errorf("gap %s: reason %q", row(f), f.Reason)
			}
		case f.Workspace.Name == "acme-prod":
			prod++
		}
	}
	if gaps != 9 || prod == 0 {
		t.Errorf("%d gaps, %d findings in acme-prod: %v", gaps, prod, rows(r, nil))
	}
	if strings.Contains(e.stderr.String(), prodPAT) {
		t.Error("stderr shows the token")
	}
}

// TestAuditPATRefusedByAccount: by default the account API refuses the
// personal access token: the run fails before any report, saying to use
// OAuth M2M.
func TestAuditPATRefusedByAccount(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: patSeed()}, func(s *scim.Settings) { s.Token = prodPAT })
	_, err := e.runJSON(t, Options{Users: []string{"elena.patel@acme.test"}})
	var te *scim.TokenScopeError
	if !errors.As(err, &te) || !te.Account || !strings.Contains(err.Error(), "OAuth M2M") {
		t.Fatalf("err = %v, want the account's *TokenScopeError", err)
	}
	if e.stdout.Len() != 0 {
		t.Errorf("report written: %s", e.stdout)
	}
}
