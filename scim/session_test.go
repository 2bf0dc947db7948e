package scim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setHostileEnv sets every variable the SDK would read, to values that would
// break or redirect a non-hermetic Connect.
func setHostileEnv(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".databrickscfg"), []byte("[DEFAULT]\nhost = https://home.example.test\ntoken = dapi-home-token-xyz\n[prod]\nhost = https://home-prod.example.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"HOME":                      home,
		"DATABRICKS_HOST":           "https://env.example.test",
		"DATABRICKS_TOKEN":          "dapi-env-token-xyz",
		"DATABRICKS_CLIENT_ID":      "env-client",
		"DATABRICKS_CLIENT_SECRET":  "env-secret-xyz",
		"DATABRICKS_ACCOUNT_ID":     "env-account",
		"DATABRICKS_CONFIG_PROFILE": "prod",
		"DATABRICKS_CONFIG_FILE":    filepath.Join(home, "missing.cfg"),
		"DATABRICKS_AUTH_TYPE":      "oauth-m2m",
	} {
		t.Setenv(k, v)
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "databrickscfg")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConnectHermeticProfileIgnoresEnvironment(t *testing.T) {
	setHostileEnv(t)
	path := writeConfig(t, "[prod]\nhost = https://prod.cloud.databricks.com\ntoken = dapi-file-token-123\n")
	reg := newMock(t) // no stubs: a discovery or token request would fail the test
	sess, err := Connect(context.Background(), Settings{Profile: "prod", ConfigFile: path, Hermetic: true, HTTPClient: &http.Client{Transport: reg}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if sess.Host() != "https://prod.cloud.databricks.com" || sess.AccountID() != "" {
		t.Errorf("host %q account %q: environment leaked into a hermetic session", sess.Host(), sess.AccountID())
	}
	reg.Register("me", rest("GET", "/api/2.0/preview/scim/v2/Me"), respond(200, User{UserName: "me@example.com"}, "X-Databricks-Org-Id", "99"))
	ws, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].ID != 99 || ws[0].URL != "https://prod.cloud.databricks.com" || ws[0].RouteByHeader {
		t.Errorf("Workspaces = %+v", ws)
	}
	if got := reg.Requests()[0].Header.Get("Authorization"); got != "Bearer dapi-file-token-123" {
		t.Errorf("Authorization = %q, want the profile's token", got)
	}
}

func TestConnectHermeticTokenIgnoresEnvironment(t *testing.T) {
	setHostileEnv(t)
	reg := newMock(t)
	reg.Register("me", rest("GET", "/api/2.0/preview/scim/v2/Me"), respond(200, User{UserName: "admin"}, "X-Databricks-Org-Id", "1"))
	sess, err := Connect(context.Background(), Settings{Host: "http://127.0.0.1:9", Token: "sandbox-admin-token", Hermetic: true, HTTPClient: &http.Client{Transport: reg}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	w := workspaceClient(t, sess)
	if _, _, err := w.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := reg.Requests()[0]
	if r.Host != "127.0.0.1:9" || r.Header.Get("Authorization") != "Bearer sandbox-admin-token" {
		t.Errorf("request to %s with Authorization %q", r.Host, r.Header.Get("Authorization"))
	}
}

func TestConnectErrors(t *testing.T) {
	setHostileEnv(t)
	good := writeConfig(t, "[prod]\nhost = https://prod.cloud.databricks.com\ntoken = dapi-file-token-123\n")
	twoAuths := writeConfig(t, "[both]\nhost = https://prod.cloud.databricks.com\ntoken = dapi-file-token-123\nclient_id = app\nclient_secret = super-secret-value-9\n")
	noHost := writeConfig(t, "[nohost]\ntoken = dapi-file-token-123\n")
	missing := filepath.Join(t.TempDir(), "nope.cfg")
	tests := []struct {
		name     string
		s        Settings
		want     string
		secrets  []string
		wantRate bool
	}{
		{
			name: "unknown profile",
			s:    Settings{Profile: "staging", ConfigFile: good, Hermetic: true},
			want: `resolve credentials: profile "staging" not found in ` + good + `: pass --profile with an existing profile`,
		},
		{
			name: "missing config file",
			s:    Settings{Profile: "prod", ConfigFile: missing, Hermetic: true},
			want: `resolve credentials: config file "` + missing + `": does not exist: pass --config-file with an existing file`,
		},
		{
			name: "profile without config file in hermetic mode",
			s:    Settings{Profile: "prod", Hermetic: true},
			want: `resolve credentials: profile "prod" given without a config file in hermetic mode: pass --config-file too`,
		},
		{
			name:    "two auth methods",
			s:       Settings{Profile: "both", ConfigFile: twoAuths, Hermetic: true},
			want:    "more than one authorization method configured: oauth and pat. Config: host=https://prod.cloud.databricks.com, token=***,",
			secrets: []string{"dapi-file-token-123", "super-secret-value-9"},
		},
		{
			name: "no host",
			s:    Settings{Profile: "nohost", ConfigFile: noHost, Hermetic: true},
			want: "resolve credentials:",
		},
		{
			name:    "token without host",
			s:       Settings{Token: "sandbox-token-abc", Hermetic: true},
			want:    "resolve credentials:",
			secrets: []string{"sandbox-token-abc"},
		},
		{
			name: "unknown rate class",
			s:    Settings{Host: "http://127.0.0.1:9", Token: "t0k3n-abc", Hermetic: true, Rates: map[string]float64{"scim-reads": 2}},
			want: `check settings: unknown rate class "scim-reads": use one of account-scim-patch, account-scim-read,`,
		},
		{
			name: "negative concurrency",
			s:    Settings{Host: "http://127.0.0.1:9", Token: "t0k3n-abc", Hermetic: true, Concurrency: -1},
			want: "check settings: negative",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.HTTPClient = &http.Client{Transport: newMock(t)}
			_, err := Connect(context.Background(), tt.s)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *ConfigError", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("err = %q\nwant it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "Env:") {
				t.Errorf("hermetic error lists environment variables it did not read: %q", msg)
			}
			if strings.Contains(msg, "\n") || ce.Fix == "" {
				t.Errorf("err must be one line with a fix: %q", msg)
			}
			for _, s := range append(tt.secrets, "dapi-env-token-xyz", "env-secret-xyz", "dapi-home-token-xyz") {
				if strings.Contains(msg, s) {
					t.Errorf("error contains secret %q: %s", s, msg)
				}
			}
		})
	}
}

func TestConnectHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Connect(ctx, Settings{Host: "http://127.0.0.1:9", Token: "t0k3n-abc", Hermetic: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// cleanEnv points HOME at an empty directory and clears every DATABRICKS_*
// variable, so a non-hermetic Connect reads nothing of the developer's.
func cleanEnv(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "DATABRICKS_") || strings.HasPrefix(k, "ARM_") || strings.HasPrefix(k, "GOOGLE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// A workspace host's /.well-known/databricks-config names its account. The
// SDK back-fills Config.AccountID from it; the session must stay a
// single-workspace session (--host without --account-id), not switch to
// listing the account's workspaces on a workspace host.
func TestConnectWorkspaceHostMetadataKeepsWorkspaceMode(t *testing.T) {
	cleanEnv(t)
	reg := newMock(t)
	reg.Register("metadata", rest("GET", "/.well-known/databricks-config"), respond(200, map[string]any{
		"oidc_endpoint": "https://prod.cloud.databricks.com/oidc",
		"account_id":    "0d1e2f3a-acct",
		"workspace_id":  "4242",
		"cloud":         "AWS",
		"host_type":     "workspace",
	})).Times(-1)
	reg.Register("me", rest("GET", "/api/2.0/preview/scim/v2/Me"), respond(200, User{UserName: "me@example.com"}, "X-Databricks-Org-Id", "4242"))
	sess, err := Connect(context.Background(), Settings{Host: "https://prod.cloud.databricks.com", Token: "dapi-workspace-token-1", MaxAttempts: 1, HTTPClient: &http.Client{Transport: reg}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if sess.AccountID() != "" {
		t.Errorf("AccountID() = %q: taken from a workspace host's metadata", sess.AccountID())
	}
	if rs := reg.Requests(); len(rs) == 0 || rs[0].Path != "/.well-known/databricks-config" {
		t.Fatalf("requests %+v: host metadata was not fetched", rs)
	}
	ws, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].ID != 4242 || ws[0].URL != "https://prod.cloud.databricks.com" {
		t.Errorf("Workspaces = %+v, want the --host workspace", ws)
	}

	// An explicit account id is kept.
	sess, err = Connect(context.Background(), Settings{Host: "https://prod.cloud.databricks.com", AccountID: "given", Token: "dapi-workspace-token-1", MaxAttempts: 1, HTTPClient: &http.Client{Transport: reg}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if sess.AccountID() != "given" {
		t.Errorf("AccountID() = %q, want the one given", sess.AccountID())
	}
}

func TestConnectUnreachableHostFailsFast(t *testing.T) {
	cleanEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	_, err = Connect(context.Background(), Settings{Host: host, Token: "dapi-unreachable-token-1"})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Op != "connect" || !strings.Contains(ce.Problem, host) || !strings.Contains(ce.Fix, "--host") {
		t.Fatalf("Connect = %v, want a connect ConfigError naming %s and --host", err, host)
	}
	if strings.Contains(err.Error(), "dapi-unreachable") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestConnectCancelledDuringHostMetadata(t *testing.T) {
	cleanEnv(t)
	reached := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(reached)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Connect(ctx, Settings{Host: srv.URL, Token: "dapi-hanging-token-1"})
		done <- err
	}()
	<-reached
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect after cancel = %v, want context.Canceled", err)
	}
}
