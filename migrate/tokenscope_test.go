package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// prodPAT is a personal access token of acme-prod (the default seed's
// first workspace) for its account admin.
const prodPAT = "dapi-migrate-test-prod-pat"

// patPlanDeps returns Deps connected to a default-seed sandbox with the
// PAT; accountPATs lets the account API take it.
func patPlanDeps(t *testing.T, accountPATs bool) Deps {
	t.Helper()
	seed := sandbox.DefaultSeed()
	seed.Tokens = append(seed.Tokens, sandbox.SeedToken{Token: prodPAT, Principal: "1100000000000001",
		Role: sandbox.RoleAccountAdmin, WorkspaceID: seed.Workspaces[0].WorkspaceID})
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: seed, AccountPATs: accountPATs})
	streams, _, _ := reports.Test()
	connect := func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: prodPAT,
			Hermetic: true, Rates: scim.UnlimitedRates()})
	}
	return Deps{Streams: streams, Connect: connect, Now: planClock}
}

// TestPlanPATOtherWorkspaces: with a personal access token and an account
// host whose API takes it, plan fails on the first other workspace with
// the message naming OAuth M2M (and the --skip-unreadable hint); with
// --skip-unreadable it writes the plan of the PAT's own workspace, each
// other workspace skipped with the reason once (exit 2).
func TestPlanPATOtherWorkspaces(t *testing.T) {
	d := patPlanDeps(t, true)
	out := filepath.Join(t.TempDir(), "plan.json")
	err := RunPlan(context.Background(), PlanOptions{Out: out, OnConflict: PolicyMerge, ToolVersion: "test"}, d)
	var te *scim.TokenScopeError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "use OAuth M2M instead") || !strings.Contains(err.Error(), "--skip-unreadable") {
		t.Fatalf("RunPlan = %v, want the refused token's error with the --skip-unreadable hint", err)
	}
	if strings.Contains(err.Error(), prodPAT) {
		t.Error("the error shows the token")
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a failed plan left a plan file: %v", serr)
	}

	d = patPlanDeps(t, true)
	err = RunPlan(context.Background(), PlanOptions{Out: out, OnConflict: PolicyMerge, ToolVersion: "test", SkipUnreadable: true}, d)
	var re *PlanReviewError
	if !errors.As(err, &re) || re.ExitCode() != 2 {
		t.Fatalf("RunPlan --skip-unreadable = %v, want a *PlanReviewError", err)
	}
	p, _, err := ReadPlan(out)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, w := range p.Workspaces {
		switch {
		case w.WorkspaceName == "acme-prod":
			if w.Skipped != "" || len(w.Groups) == 0 {
				t.Errorf("the PAT's own workspace: skipped %q, %d groups", w.Skipped, len(w.Groups))
			}
			read++
		case strings.Count(w.Skipped, "refuses the personal access token") != 1 || !strings.Contains(w.Skipped, "use OAuth M2M instead"):
			t.Errorf("workspace %s: skipped %q", w.WorkspaceName, w.Skipped)
		}
	}
	if read != 1 || len(p.Workspaces) != 4 {
		t.Errorf("%d workspaces, %d read", len(p.Workspaces), read)
	}
}

// TestPlanPATRefusedByAccount: by default the account API refuses the
// personal access token, and plan fails at once with the fix.
func TestPlanPATRefusedByAccount(t *testing.T) {
	d := patPlanDeps(t, false)
	out := filepath.Join(t.TempDir(), "plan.json")
	err := RunPlan(context.Background(), PlanOptions{Out: out, OnConflict: PolicyMerge, ToolVersion: "test"}, d)
	var te *scim.TokenScopeError
	if !errors.As(err, &te) || !te.Account || !strings.Contains(err.Error(), "use OAuth M2M instead") {
		t.Fatalf("RunPlan = %v, want the account's *TokenScopeError", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a failed plan left a plan file: %v", serr)
	}
}
