package scim

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/databricks/databricks-sdk-go/common/environment"
	"github.com/databricks/databricks-sdk-go/config"
)

func TestPlaceWorkspaces(t *testing.T) {
	tests := []struct {
		host, deployment string
		want             string
		byHeader         bool
	}{
		{"https://accounts.cloud.databricks.com", "acme-prod", "https://acme-prod.cloud.databricks.com", false},
		{"https://accounts.staging.cloud.databricks.com", "acme", "https://acme.staging.cloud.databricks.com", false},
		{"https://accounts.cloud.databricks.us", "gov", "https://gov.cloud.databricks.us", false},
		{"https://ACCOUNTS.Cloud.Databricks.US", "gov", "https://gov.cloud.databricks.us", false},
		{"https://accounts-dod.cloud.databricks.mil", "acme", "https://acme.cloud.databricks.mil", false},
		{"https://accounts.azuredatabricks.net", "adb-123.4", "https://adb-123.4.azuredatabricks.net", false},
		{"https://accounts.gcp.databricks.com", "123.4", "https://123.4.gcp.databricks.com", false},
		{"http://127.0.0.1:8080", "acme", "http://127.0.0.1:8080", true},
		{"http://localhost:8080", "acme", "http://localhost:8080", true},
		{"http://[::1]:8080", "acme", "http://[::1]:8080", true},
		// No deployment name: no URL (Session.Workspace says why).
		{"https://accounts.cloud.databricks.com", "", "", false},
	}
	for _, tt := range tests {
		p, err := placeWorkspaces(nil, tt.host)
		if err != nil {
			t.Errorf("placeWorkspaces(%q): %v", tt.host, err)
			continue
		}
		if got := p.url(tt.host, tt.deployment); got != tt.want || p.byHeader != tt.byHeader {
			t.Errorf("%s, %q: %q, byHeader %v; want %q, %v", tt.host, tt.deployment, got, p.byHeader, tt.want, tt.byHeader)
		}
	}
}

// TestPlaceWorkspacesEveryConsoleTheSDKKnows: for every DNS zone in the
// SDK's environment table, the console accounts<zone> places its
// workspaces in that zone, as the SDK's DeploymentURL does.
func TestPlaceWorkspacesEveryConsoleTheSDKKnows(t *testing.T) {
	envs := environment.AllEnvironments()
	if len(envs) < 10 {
		t.Fatalf("%d SDK environments: the table moved", len(envs))
	}
	for _, env := range envs {
		host := "https://accounts" + env.DnsZone
		p, err := placeWorkspaces(nil, host)
		if err != nil {
			t.Errorf("%s: %v", host, err)
			continue
		}
		if got, want := p.url(host, "ws-1"), env.DeploymentURL("ws-1"); got != want || p.byHeader {
			t.Errorf("%s: %q (byHeader %v), want %q", host, got, p.byHeader, want)
		}
	}
}

// TestPlaceWorkspacesRefusesUnknownConsoles: an account host in no known
// zone cannot serve its workspaces by header (only unified hosts and the
// sandbox do), so it fails with one line naming the host and the fix.
func TestPlaceWorkspacesRefusesUnknownConsoles(t *testing.T) {
	for _, host := range []string{
		"https://accounts.azuredatabricks.us", // Azure Government: workspaces in .databricks.azure.us
		"https://accounts.azuredatabricks.cn", // Azure China: workspaces in .databricks.azure.cn
		"https://unified.example.test",
		"https://accounts.databricks.example",
	} {
		_, err := placeWorkspaces(nil, host)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want a *ConfigError", host, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "account host "+host) || !strings.Contains(msg, "--workspaces-file") || strings.Contains(msg, "\n") {
			t.Errorf("%s: %q does not name the host and the fix on one line", host, msg)
		}
	}
	// A unified host (host metadata host_type "unified") serves its
	// workspaces itself, routed by header.
	cfg := &config.Config{Host: "https://unified.example.test", Token: "t", AuthType: "pat",
		Loaders: []config.Loader{noopLoader{}},
		HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) {
			return &config.HostMetadata{HostType: config.UnifiedHost, OIDCEndpoint: "https://unified.example.test/oidc"}, nil
		}}
	if err := cfg.EnsureResolved(); err != nil {
		t.Fatal(err)
	}
	if cfg.HostType() != config.UnifiedHost {
		t.Fatalf("host type %q", cfg.HostType())
	}
	p, err := placeWorkspaces(cfg, cfg.Host)
	if err != nil || !p.byHeader || p.url(cfg.Host, "acme") != cfg.Host {
		t.Errorf("unified host: %+v, %v", p, err)
	}
}

// TestWorkspacesOnUnknownConsoleFailsBeforeAnyRequest: Session.Workspaces
// refuses such a console before listing anything.
func TestWorkspacesOnUnknownConsoleFailsBeforeAnyRequest(t *testing.T) {
	reg := newMock(t)
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.Host = "https://accounts.azuredatabricks.us"
		s.AccountID = testAccount
	})
	_, err := sess.Workspaces(context.Background())
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "accounts.azuredatabricks.us") {
		t.Fatalf("Workspaces = %v, want a *ConfigError naming the host", err)
	}
	if n := len(reg.Requests()); n != 0 {
		t.Errorf("%d requests before the error", n)
	}
}

// TestDoDConsoleWorkspaces: workspaces of the DoD console get hosts in
// .cloud.databricks.mil and the account credentials, without the routing
// header; one with no deployment name is refused with the fix.
func TestDoDConsoleWorkspaces(t *testing.T) {
	reg := newMock(t)
	reg.Register("list", rest("GET", "/api/2.0/accounts/"+testAccount+"/workspaces"), respond(200,
		`[{"workspace_id":111,"workspace_name":"prod","deployment_name":"acme-prod","workspace_status":"RUNNING"},
		  {"workspace_id":222,"workspace_name":"new","workspace_status":"PROVISIONING"}]`))
	reg.Register("me", rest("GET", "/api/2.0/preview/scim/v2/Me"), respond(200, User{UserName: "admin"}, "X-Databricks-Org-Id", "111"))
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.Host = "https://accounts-dod.cloud.databricks.mil"
		s.AccountID = testAccount
	})
	ws, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ws[0].URL != "https://acme-prod.cloud.databricks.mil" || ws[0].RouteByHeader || ws[1].URL != "" {
		t.Fatalf("workspaces %+v", ws)
	}
	w, err := sess.Workspace(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := reg.Requests()[1]
	if r.Host != "acme-prod.cloud.databricks.mil" || r.Header.Get(WorkspaceHeader) != "" {
		t.Errorf("Me went to %s with %s=%q", r.Host, WorkspaceHeader, r.Header.Get(WorkspaceHeader))
	}
	if _, err := sess.Workspace(ws[1]); err == nil || !strings.Contains(err.Error(), "workspace 222: no URL") || !strings.Contains(err.Error(), "--workspaces-file") {
		t.Errorf("workspace without a deployment name: %v", err)
	}
}

func TestAccountWorkspaces(t *testing.T) {
	reg := newMock(t)
	reg.Register("list", rest("GET", "/api/2.0/accounts/"+testAccount+"/workspaces"), respond(200,
		`[{"workspace_id":111,"workspace_name":"prod","deployment_name":"acme-prod","workspace_status":"RUNNING","cloud":"aws"},
		  {"workspace_id":222,"workspace_name":"dev","deployment_name":"acme-dev","workspace_status":"FAILED","cloud":"aws"}]`))
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.Host = "https://accounts.cloud.databricks.com"
		s.AccountID = testAccount
	})
	ws, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []WorkspaceInfo{
		{ID: 111, Name: "prod", DeploymentName: "acme-prod", Cloud: "aws", Status: "RUNNING", URL: "https://acme-prod.cloud.databricks.com"},
		{ID: 222, Name: "dev", DeploymentName: "acme-dev", Cloud: "aws", Status: "FAILED", URL: "https://acme-dev.cloud.databricks.com"},
	}
	if !reflect.DeepEqual(ws, want) {
		t.Fatalf("Workspaces =\n%+v\nwant\n%+v", ws, want)
	}
	// A workspace on its own host gets the account credentials re-resolved
	// for that host and no routing header.
	reg.Register("me", rest("GET", "/api/2.0/preview/scim/v2/Me"), respond(200, User{UserName: "admin"}, "X-Databricks-Org-Id", "111"))
	w, err := sess.Workspace(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, id, err := w.Me(context.Background()); err != nil || id != 111 {
		t.Fatalf("Me = %d, %v", id, err)
	}
	r := reg.Requests()[1]
	if r.Host != "acme-prod.cloud.databricks.com" || r.Header.Get(WorkspaceHeader) != "" || r.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("Me went to %s with %s=%q Authorization=%q", r.Host, WorkspaceHeader, r.Header.Get(WorkspaceHeader), r.Header.Get("Authorization"))
	}
}

func TestSandboxWorkspacesRouteByHeader(t *testing.T) {
	reg := newMock(t)
	reg.Register("list", rest("GET", "/api/2.0/accounts/"+testAccount+"/workspaces"), respond(200,
		`[{"workspace_id":111,"workspace_name":"a","deployment_name":"a"},{"workspace_id":222,"workspace_name":"b","deployment_name":"b"}]`))
	reg.Register("users", rest("GET", usersPath+"/9"), respond(200, User{ID: "9"})).Times(2)
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.Host = "http://127.0.0.1:8080"
		s.AccountID = testAccount
	})
	ws, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range ws {
		if !info.RouteByHeader || info.URL != "http://127.0.0.1:8080" {
			t.Errorf("%+v: want the account host routed by header", info)
		}
		w, err := sess.Workspace(info)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Users.Get(context.Background(), "9", GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := reg.Requests()
	if reqs[1].Header.Get(WorkspaceHeader) != "111" || reqs[2].Header.Get(WorkspaceHeader) != "222" {
		t.Errorf("routing headers %q, %q", reqs[1].Header.Get(WorkspaceHeader), reqs[2].Header.Get(WorkspaceHeader))
	}
	if reqs[0].Header.Get(WorkspaceHeader) != "" {
		t.Errorf("account call carried %s", WorkspaceHeader)
	}
}

func TestWorkspaceRejectsBadURL(t *testing.T) {
	sess, _ := connectMock(t, newMock(t), nil)
	for _, u := range []string{"", "acme.cloud.databricks.com", "ftp://x", "https://"} {
		if _, err := sess.Workspace(WorkspaceInfo{ID: 1, URL: u}); err == nil {
			t.Errorf("Workspace(%q) accepted", u)
		}
	}
}

func TestConcurrentWorkspaceClients(t *testing.T) {
	reg := newMock(t)
	reg.Register("users", rest("GET", usersPath+"/1"), okUser()).Times(-1)
	sess, _ := connectMock(t, reg, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			w, err := sess.Workspace(WorkspaceInfo{ID: int64(100 + i%3), URL: "https://ws" + string(rune('a'+i%3)) + ".cloud.databricks.com"})
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := w.Users.Get(context.Background(), "1", GetOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(sess.hostConfig); n != 4 {
		t.Errorf("%d host configs, want 4 (session host + 3 workspaces)", n)
	}
}

func TestAssignments(t *testing.T) {
	base := "/api/2.0/accounts/" + testAccount + "/workspaces/111/permissionassignments"
	reg := newMock(t)
	reg.Register("list", rest("GET", base), respond(200, `{"permission_assignments":[{"permissions":["ADMIN"],"principal":{"principal_id":5,"group_name":"admins-acct"}}]}`))
	reg.Register("put", rest("PUT", base+"/principals/5"), respond(200, `{"permissions":["USER"],"principal":{"principal_id":5}}`))
	reg.Register("put error", rest("PUT", base+"/principals/6"), respond(200, `{"permissions":[],"principal":{"principal_id":6},"error":"Principal 6 not found"}`))
	reg.Register("delete", rest("DELETE", base+"/principals/5"), respond(200, "{}"))
	sess, _ := connectMock(t, reg, func(s *Settings) { s.AccountID = testAccount })
	a, err := sess.Account()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	list, err := a.ListAssignments(ctx, 111)
	if err != nil || len(list) != 1 || list[0].Principal.GroupName != "admins-acct" || list[0].Permissions[0] != PermissionAdmin {
		t.Fatalf("ListAssignments = %+v, %v", list, err)
	}
	pa, err := a.PutAssignment(ctx, 111, 5, []string{PermissionUser})
	if err != nil || pa.Principal.PrincipalID != 5 {
		t.Fatalf("PutAssignment = %+v, %v", pa, err)
	}
	if got := string(reg.Requests()[1].Body); got != `{"permissions":["USER"]}` {
		t.Errorf("PUT body = %s", got)
	}
	if _, err := a.PutAssignment(ctx, 111, 6, []string{PermissionUser}); err == nil || !strings.Contains(err.Error(), "Principal 6 not found") {
		t.Errorf("PutAssignment with error field: err = %v", err)
	}
	if _, err := a.PutAssignment(ctx, 111, 5, nil); err == nil {
		t.Errorf("PutAssignment with no permissions was sent; it would remove the assignment")
	}
	if err := a.DeleteAssignment(ctx, 111, 5); err != nil {
		t.Fatal(err)
	}
}

func TestReadWorkspacesFile(t *testing.T) {
	tests := []struct {
		name, text string
		want       []WorkspaceInfo
		wantErr    string
	}{
		{
			name: "header and rows",
			text: "id,name,url\n111,prod,https://acme-prod.cloud.databricks.com/\n 222 ,dev, http://127.0.0.1:8080 \n",
			want: []WorkspaceInfo{{ID: 111, Name: "prod", URL: "https://acme-prod.cloud.databricks.com"}, {ID: 222, Name: "dev", URL: "http://127.0.0.1:8080"}},
		},
		{
			// Names are data: spaces, case, quotes and emoji kept.
			name: "names byte-exact",
			text: "1, dev ,https://a.test\n2,\" ml 🚀 \",https://b.test\n3,\"say \"\"hi\"\"\",https://c.test\n4,Prod WS,https://d.test\n",
			want: []WorkspaceInfo{{ID: 1, Name: " dev ", URL: "https://a.test"}, {ID: 2, Name: " ml 🚀 ", URL: "https://b.test"},
				{ID: 3, Name: `say "hi"`, URL: "https://c.test"}, {ID: 4, Name: "Prod WS", URL: "https://d.test"}},
		},
		{
			name: "no header, comments and blank lines",
			text: "# exported by hand\n\n111,\"prod, EU\",https://a.cloud.databricks.com\n",
			want: []WorkspaceInfo{{ID: 111, Name: "prod, EU", URL: "https://a.cloud.databricks.com"}},
		},
		{
			name: "byte order mark and CRLF, as spreadsheets save CSV",
			text: "\ufeffid,name,url\r\n111,prod,https://a.cloud.databricks.com\r\n",
			want: []WorkspaceInfo{{ID: 111, Name: "prod", URL: "https://a.cloud.databricks.com"}},
		},
		{
			name: "byte order mark before a data row",
			text: "\ufeff111,prod,https://a.cloud.databricks.com\n",
			want: []WorkspaceInfo{{ID: 111, Name: "prod", URL: "https://a.cloud.databricks.com"}},
		},
		{
			name: "header named like the export's columns",
			text: "workspace_id,workspace_name,url\n111,prod,https://a.cloud.databricks.com\n",
			want: []WorkspaceInfo{{ID: 111, Name: "prod", URL: "https://a.cloud.databricks.com"}},
		},
		{name: "bad id", text: "id,name,url\nabc,prod,https://a.test\n", wantErr: `line 2: workspace id "abc" is not a positive number: write the numeric workspace id first`},
		{name: "zero id", text: "0,prod,https://a.test\n", wantErr: `line 1: workspace id "0" is not a positive number`},
		{name: "missing scheme", text: "1,prod,a.cloud.databricks.com\n", wantErr: `line 1: url "a.cloud.databricks.com" is not a workspace URL: write https://<workspace host>`},
		{name: "url with path", text: "1,prod,https://a.test/login\n", wantErr: `line 1: url "https://a.test/login" is not a workspace URL`},
		{name: "two columns", text: "1,https://a.test\n", wantErr: `line 1: 2 columns: write id,name,url`},
		{name: "duplicate", text: "1,a,https://a.test\n1,b,https://b.test\n", wantErr: `line 2: workspace id 1 already on line 1: remove the duplicate`},
		{name: "empty", text: "id,name,url\n", wantErr: `no workspaces: write one id,name,url row per workspace`},
		{name: "bad quoting", text: "1,\"a,https://a.test\n", wantErr: `fix the CSV quoting`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ws.csv")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadWorkspacesFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "read workspaces file "+path+": ") {
					t.Fatalf("err = %v, want it to name the file and contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := ReadWorkspacesFile(filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

// An account console host without an account id is a missing flag, not a
// workspace: fail before any request with the fix.
func TestWorkspacesAccountHostWithoutAccountID(t *testing.T) {
	for _, host := range []string{"https://accounts.cloud.databricks.com", "https://accounts.azuredatabricks.net/", "https://ACCOUNTS.gcp.databricks.com", "https://accounts-dod.cloud.databricks.mil"} {
		reg := newMock(t) // no stubs: any request fails the test
		sess, err := Connect(context.Background(), Settings{Host: host, Token: "dapi-account-token-1", Hermetic: true, MaxAttempts: 1, HTTPClient: &http.Client{Transport: reg}})
		if err != nil {
			t.Fatalf("Connect(%s): %v", host, err)
		}
		_, err = sess.Workspaces(context.Background())
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--account-id") || !strings.Contains(err.Error(), strings.TrimRight(host, "/")) {
			t.Errorf("Workspaces on %s without account id: %v, want a ConfigError naming the host and --account-id", host, err)
		}
		if n := len(reg.Requests()); n != 0 {
			t.Errorf("%s: %d requests sent", host, n)
		}
	}
}
