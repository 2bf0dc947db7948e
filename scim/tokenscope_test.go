package scim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// patSeed is the default seed with a personal access token of acme-prod
// for its account admin.
func patSeed() (*sandbox.Seed, string) {
	const pat = "dapi-scim-test-prod-pat"
	s := sandbox.DefaultSeed()
	s.Tokens = append(s.Tokens, sandbox.SeedToken{Token: pat, Principal: "1100000000000001",
		Role: sandbox.RoleAccountAdmin, WorkspaceID: s.Workspaces[0].WorkspaceID})
	return s, pat
}

// TestTokenScopeError: a workspace or the account refusing the session's
// personal access token is a *TokenScopeError naming OAuth M2M as the fix;
// permission errors are not.
func TestTokenScopeError(t *testing.T) {
	ctx := context.Background()
	seed, pat := patSeed()

	// By default the account API refuses a PAT.
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: seed})
	sess := connectSandbox(t, srv, func(s *scim.Settings) { s.Token = pat })
	_, err := sess.Workspaces(ctx)
	var te *scim.TokenScopeError
	if !errors.As(err, &te) || !te.Account || !errors.Is(err, scim.ErrUnauthenticated) {
		t.Fatalf("account API with a PAT: %v, want a *TokenScopeError for the account", err)
	}
	for _, want := range []string{"the account API refuses the personal access token", "OAuth M2M", "client_id and client_secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), pat) {
		t.Error("the error contains the token")
	}

	// With account_pats the account lists the workspaces; only the PAT's
	// own workspace takes it.
	seed, _ = patSeed()
	srv = sandbox.NewTestServer(t, sandbox.Options{Seed: seed, AccountPATs: true})
	sess = connectSandbox(t, srv, func(s *scim.Settings) { s.Token = pat })
	wss, err := sess.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, ws := range wss {
		w, err := sess.Workspace(ws)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Users.ListAll(ctx, scim.ListOptions{PageSize: 1})
		if i == 0 {
			if err != nil {
				t.Errorf("the PAT's own workspace: %v", err)
			}
			continue
		}
		te = nil
		if !errors.As(err, &te) || te.Account || te.WorkspaceID != ws.ID || !errors.Is(err, scim.ErrPermissionDenied) {
			t.Errorf("workspace %d: %v, want a *TokenScopeError for it", ws.ID, err)
		} else if !strings.Contains(err.Error(), "Invalid access to Org") || !strings.Contains(err.Error(), "OAuth M2M") {
			t.Errorf("workspace %d: %v", ws.ID, err)
		}
	}

	// A non-admin's permission error is not about the token.
	user := connectSandbox(t, srv, func(s *scim.Settings) { s.Token = srv.UserToken(); s.AccountID = "" })
	w := firstWorkspace(t, user)
	err = w.Do(ctx, scim.ClassDefault, "GET", "/api/2.0/token-management/tokens", nil, nil, nil)
	if !errors.Is(err, scim.ErrPermissionDenied) || errors.As(err, &te) {
		t.Errorf("non-admin reading token management: %v, want a plain permission error", err)
	}
}
