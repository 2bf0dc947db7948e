package scim_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// The sandbox's OAuth M2M client: the service principal
// terraform-automation of the demo account.
const (
	m2mClientID = "bd2e3835-c978-4802-8bf2-651e743e4efe"
	m2mSecret   = "sandbox-sp-secret-terraform"
)

// credentialEnv clears the SDK's environment and sets kv, with HOME in a
// temporary directory, for a non-hermetic Connect against a sandbox (all
// on loopback).
func credentialEnv(t *testing.T, kv map[string]string) {
	t.Helper()
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(k, "DATABRICKS_") || strings.HasPrefix(k, "ARM_") || strings.HasPrefix(k, "GOOGLE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("HOME", t.TempDir())
	for k, v := range kv {
		t.Setenv(k, v)
	}
}

func connectEnv(srv *sandbox.Server, adjust func(*scim.Settings)) (*scim.Session, error) {
	s := scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Rates: scim.UnlimitedRates()}
	if adjust != nil {
		adjust(&s)
	}
	return scim.Connect(context.Background(), s)
}

// TestCredentialMessages: every way credentials go wrong gets one line
// that names the credential (never its secret) and a next step.
func TestCredentialMessages(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	ctx := context.Background()

	t.Run("no credentials", func(t *testing.T) {
		credentialEnv(t, nil)
		_, err := connectEnv(srv, nil)
		var ce *scim.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want a *ConfigError", err)
		}
		if ce.Problem != "no credentials for "+srv.URL() {
			t.Errorf("problem %q", ce.Problem)
		}
		for _, way := range []string{"--profile", "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET", "DATABRICKS_TOKEN"} {
			if !strings.Contains(ce.Fix, way) {
				t.Errorf("fix %q does not name %s", ce.Fix, way)
			}
		}
		if strings.Contains(err.Error(), "cannot configure default credentials") || strings.Contains(err.Error(), "\n") {
			t.Errorf("the SDK's long text is still there: %q", err)
		}
	})

	t.Run("wrong M2M secret", func(t *testing.T) {
		const wrong = "not-the-secret-42"
		credentialEnv(t, map[string]string{"DATABRICKS_CLIENT_ID": m2mClientID, "DATABRICKS_CLIENT_SECRET": wrong})
		_, err := connectEnv(srv, nil)
		var ce *scim.ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("err = %v, want a *ConfigError", err)
		}
		want := "the token endpoint " + srv.URL() + "/oidc/"
		if !strings.HasPrefix(ce.Problem, want) ||
			!strings.Contains(ce.Problem, "refused the OAuth M2M client "+m2mClientID+" from DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET: 401 invalid_client") {
			t.Errorf("problem %q", ce.Problem)
		}
		if !strings.Contains(ce.Fix, "secret") || strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), "cannot configure default") {
			t.Errorf("error %q", err)
		}
	})

	t.Run("right M2M secret", func(t *testing.T) {
		credentialEnv(t, map[string]string{"DATABRICKS_CLIENT_ID": m2mClientID, "DATABRICKS_CLIENT_SECRET": m2mSecret})
		sess, err := connectEnv(srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sess.Credential().String(), "OAuth M2M client "+m2mClientID+" from DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET"; got != want {
			t.Errorf("credential %q, want %q", got, want)
		}
		if _, err := sess.Workspaces(ctx); err != nil {
			t.Errorf("workspaces: %v", err)
		}
	})

	t.Run("401 from a profile", func(t *testing.T) {
		credentialEnv(t, nil)
		const bad = "dapi-revoked-token-77"
		path := filepath.Join(t.TempDir(), "cfg")
		if err := os.WriteFile(path, []byte("[prod]\nhost = "+srv.URL()+"\naccount_id = "+srv.AccountID()+"\ntoken = "+bad+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sess, err := scim.Connect(ctx, scim.Settings{Profile: "prod", ConfigFile: path, Hermetic: true, Rates: scim.UnlimitedRates()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sess.Workspaces(ctx)
		var te *scim.TokenScopeError
		if !errors.As(err, &te) || !errors.Is(err, scim.ErrUnauthenticated) {
			t.Fatalf("err = %v, want a *TokenScopeError", err)
		}
		if want := `refuses the personal access token from profile "prod" in ` + path + " ("; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q carries the token", err)
		}
	})

	t.Run("401 from the environment", func(t *testing.T) {
		credentialEnv(t, map[string]string{"DATABRICKS_TOKEN": "dapi-wrong-1"})
		sess, err := connectEnv(srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sess.Workspaces(ctx)
		var te *scim.TokenScopeError
		if !errors.As(err, &te) || te.Source != "DATABRICKS_TOKEN" || !strings.Contains(err.Error(), "the personal access token from DATABRICKS_TOKEN (") {
			t.Fatalf("err = %v, want a *TokenScopeError naming DATABRICKS_TOKEN", err)
		}
	})

	t.Run("401 for OAuth M2M", func(t *testing.T) {
		credentialEnv(t, map[string]string{"DATABRICKS_CLIENT_ID": m2mClientID, "DATABRICKS_CLIENT_SECRET": m2mSecret})
		srv := sandbox.NewTestServer(t, sandbox.Options{})
		if err := srv.AddFault(sandbox.Fault{PathRegexp: `/workspaces$`, Status: 401}); err != nil {
			t.Fatal(err)
		}
		sess, err := connectEnv(srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sess.Workspaces(ctx)
		var ae *scim.AuthError
		if !errors.As(err, &ae) || !errors.Is(err, scim.ErrUnauthenticated) {
			t.Fatalf("err = %v, want an *AuthError", err)
		}
		if want := srv.URL() + " refused the OAuth M2M client " + m2mClientID + " from DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET: "; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
		if !strings.Contains(ae.Hint(), "service principal") || strings.Contains(err.Error(), m2mSecret) {
			t.Errorf("hint %q, error %q", ae.Hint(), err)
		}
	})

	t.Run("403 listing workspaces", func(t *testing.T) {
		credentialEnv(t, map[string]string{"DATABRICKS_TOKEN": srv.UserToken()})
		sess, err := connectEnv(srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sess.Workspaces(ctx)
		var ae *scim.AccountAdminError
		if !errors.As(err, &ae) || !errors.Is(err, scim.ErrPermissionDenied) {
			t.Fatalf("err = %v, want an *AccountAdminError", err)
		}
		if !strings.Contains(err.Error(), "you are not an account admin") || !strings.Contains(ae.Hint(), "--workspaces-file with the workspaces you administer") {
			t.Errorf("error %q, hint %q", err, ae.Hint())
		}
	})
}

// TestRetryEventNamesWorkspace: a retry says which workspace (by name)
// and class it was for, so that the log can summarise per workspace and
// class.
func TestRetryEventNamesWorkspace(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2.0/preview/scim/v2/Users$`, Status: 429, Times: 2}); err != nil {
		t.Fatal(err)
	}
	var events []scim.RetryEvent
	sess := connectSandbox(t, srv, func(s *scim.Settings) {
		s.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		s.OnRetry = func(e scim.RetryEvent) { events = append(events, e) }
	})
	wss, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := sess.Workspace(wss[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Users.ListAll(context.Background(), scim.ListOptions{PageSize: 1}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("%d retry events, want 2", len(events))
	}
	for _, e := range events {
		if e.Workspace != wss[0].Name || e.Class != scim.ClassSCIMRead || !e.Throttled {
			t.Errorf("event %+v: want workspace %q, class scim-read, throttled", e, wss[0].Name)
		}
	}
}

func TestWorkspaceNotFoundSuggests(t *testing.T) {
	few := []scim.WorkspaceInfo{{ID: 1, Name: "acme-prod"}, {ID: 2, Name: "acme-analytics"}, {ID: 3, Name: "acme-ml"}}
	e := scim.NewWorkspaceNotFound("acme-prd", few)
	if e.Error() != `--workspace "acme-prd": no workspace has this id or name` ||
		e.Hint() != `did you mean "acme-prod"? the 3 workspaces are: acme-prod, acme-analytics, acme-ml` {
		t.Errorf("error %q, hint %q", e, e.Hint())
	}
	var many []scim.WorkspaceInfo
	for i := range 40 {
		many = append(many, scim.WorkspaceInfo{ID: int64(i + 1), Name: fmt.Sprintf("team-%02d", i)})
	}
	if h := scim.NewWorkspaceNotFound("zzz", many).Hint(); h != "the account has 40 workspaces: give one's exact name or id" {
		t.Errorf("hint %q", h)
	}
}
