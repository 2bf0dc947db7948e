package export

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

const (
	wsProd      = "6051921418418891"
	wsAnalytics = "6051921418418892"
	wsML        = "6051921418418893"
	wsLegacy    = "6051921418418894"
)

// denyWorkspace answers 403 to every SCIM call routed to one workspace, as
// a workspace whose admins removed the caller would; other calls reach the
// sandbox.
type denyWorkspace struct {
	id   string
	base http.RoundTripper
}

func (d denyWorkspace) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get(scim.WorkspaceHeader) != d.id || !strings.HasPrefix(r.URL.Path, "/api/2.0/preview/scim/") {
		return d.base.RoundTrip(r)
	}
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User is not a workspace admin.","status":"403"}`
	return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/scim+json"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func TestWorkspaceDeniedIsPartial(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, func(s *scim.Settings) {
		s.HTTPClient = &http.Client{Transport: denyWorkspace{id: wsAnalytics, base: http.DefaultTransport}}
	})
	path := e.path("out")
	err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps)
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want a *PartialError", err)
	}
	if pe.ExitCode() != 2 || len(pe.Failures) != 1 || pe.Failures[0].Name != "acme-analytics" || pe.Out != path {
		t.Fatalf("PartialError = %+v", pe)
	}
	if !errors.Is(err, scim.ErrPermissionDenied) {
		t.Errorf("errors.Is(%v, ErrPermissionDenied) = false", err)
	}
	out := readOutput(t, "csv", path)
	row := out[TableWorkspaces].one(t, "workspace_id", wsAnalytics)
	if row["export_status"] != statusFailed || !strings.Contains(row["error"], "list users: ") ||
		!strings.Contains(row["error"], "403") || row["users"] != "" {
		t.Errorf("failed workspace row = %v", row)
	}
	for _, id := range []string{wsProd, wsML, wsLegacy} {
		if st := out[TableWorkspaces].one(t, "workspace_id", id)["export_status"]; st != statusOK {
			t.Errorf("workspace %s: status %q, want ok", id, st)
		}
		if len(out[TableUsers].where(t, "workspace_id", id)) == 0 {
			t.Errorf("workspace %s: no users written", id)
		}
	}
	for _, tb := range []string{TableUsers, TableGroups, TableMemberships} {
		if n := len(out[tb].where(t, "workspace_id", wsAnalytics)); n != 0 {
			t.Errorf("%s: %d rows for the failed workspace", tb, n)
		}
	}
	// Its assignments come from the account API, which still answers.
	if n := len(out[TableAssignments].where(t, "workspace_id", wsAnalytics)); n == 0 {
		t.Errorf("assignments of the failed workspace were readable but not written")
	}
	stderr := e.stderr.String() + e.outcome()
	for _, want := range []string{"export finished in 1s: 4 workspaces: 3 ok, 1 failed, 0 skipped; wrote ", "workspace 6051921418418892 (acme-analytics) failed: list groups: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestThrottledPastRetryBudgetIsPartial(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, func(s *scim.Settings) { s.MaxAttempts = 3 })
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `/workspaces/` + wsML + `/permissionassignments$`, Status: 429}); err != nil {
		t.Fatal(err)
	}
	path := e.path("out.xlsx")
	err := Run(context.Background(), Options{Out: path}, e.deps)
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 || pe.Failures[0].WorkspaceID != 6051921418418893 {
		t.Fatalf("Run = %v, want a PartialError for acme-ml", err)
	}
	if !errors.Is(err, scim.ErrThrottled) {
		t.Errorf("errors.Is(%v, ErrThrottled) = false", err)
	}
	if n := e.srv.Stats().Count("GET", "/api/2.0/accounts/{account_id}/workspaces/{workspace_id}/permissionassignments"); n != 3+2 {
		t.Errorf("assignments requests = %d, want 3 attempts for acme-ml and 1 for each other federated workspace", n)
	}
	out := readOutput(t, "xlsx", path)
	row := out[TableWorkspaces].one(t, "workspace_id", wsML)
	if row["export_status"] != statusFailed || !strings.HasPrefix(row["error"], "list assignments: ") || row["users"] == "" {
		t.Errorf("throttled workspace row = %v", row)
	}
	// Everything else read from that workspace is written.
	if len(out[TableUsers].where(t, "workspace_id", wsML)) == 0 || len(out[TableAssignments].where(t, "workspace_id", wsML)) != 0 {
		t.Errorf("acme-ml: users or assignments rows wrong")
	}
}

// TestCancelLeavesNoOutput cancels the run while workspaces are being read:
// Run returns the context's error and leaves neither the output nor any
// temporary file.
func TestCancelLeavesNoOutput(t *testing.T) {
	for _, format := range []string{"csv", "xlsx", "json"} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			var requests int
			var mu sync.Mutex
			e := newEnv(t, sandbox.Options{PageCap: 5}, func(s *scim.Settings) {
				s.Parallel = 1
				s.OnRequest = func(ev scim.RequestEvent) {
					mu.Lock()
					requests++
					mu.Unlock()
					// Cancel once the second workspace is being read: the first
					// one is spooled by then.
					if ev.WorkspaceID == 6051921418418892 && strings.HasSuffix(ev.Path, "/Users") {
						once.Do(cancel)
					}
				}
			})
			err := Run(ctx, Options{Format: format, Out: e.path("out")}, e.deps)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			var pe *PartialError
			if errors.As(err, &pe) {
				t.Errorf("a cancelled run is not a partial export: %v", err)
			}
			entries, err := os.ReadDir(e.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range entries {
				t.Errorf("left behind: %s", en.Name())
			}
			mu.Lock()
			defer mu.Unlock()
			if requests < 5 {
				t.Errorf("only %d requests before the cancel: not mid-run", requests)
			}
		})
	}
}

func TestSkippedWorkspace(t *testing.T) {
	seed := sandbox.DefaultSeed()
	seed.Workspaces[1].WorkspaceStatus = "PROVISIONING"
	e := newEnv(t, sandbox.Options{Seed: seed}, nil)
	path := e.path("out")
	if err := Run(context.Background(), Options{Format: "json", Out: path, Include: []string{"users"}}, e.deps); err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := readOutput(t, "json", path)
	row := out[TableWorkspaces].one(t, "workspace_id", wsAnalytics)
	if row["export_status"] != statusSkipped || row["error"] != "workspace status PROVISIONING" || row["status"] != "PROVISIONING" {
		t.Errorf("skipped workspace row = %v", row)
	}
	if n := len(out[TableUsers].where(t, "workspace_id", wsAnalytics)); n != 0 {
		t.Errorf("%d users written for a skipped workspace", n)
	}
	if _, ok := out[TableGroups]; ok {
		t.Errorf("groups table written although not included")
	}
	// One log line per finished workspace (stderr is not a terminal).
	stderr := e.stderr.String()
	for _, name := range []string{"acme-prod", "acme-ml", "acme-legacy", "account"} {
		if n := strings.Count(stderr, `export done task="`+name+`"`); n != 1 {
			t.Errorf("%d done lines for %s:\n%s", n, name, stderr)
		}
	}
	if !strings.Contains(e.outcome(), "3 ok, 0 failed, 1 skipped") {
		t.Errorf("summary missing:\n%s", stderr)
	}
}

// TestWorkspaceAdminUnknownIsPartial: a workspace whose users and service
// principals were listed but whose groups were not keeps its users rows,
// with workspace_admin empty (unknown); the About table says so, marking
// users and service_principals partial, rather than ok.
func TestWorkspaceAdminUnknownIsPartial(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2.0/preview/scim/v2/Groups$`, Workspace: 6051921418418893, Status: 403}); err != nil {
		t.Fatal(err)
	}
	path := e.path("out")
	var pe *PartialError
	if err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps); !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want a *PartialError", err)
	}
	out := readOutput(t, "csv", path)
	if u := out[TableUsers].one(t, "workspace_id", wsML, "user_name", "aisha.adeyemi@acme.test"); u["workspace_admin"] != "" {
		t.Fatalf("acme-ml user %v; want workspace_admin empty (unknown)", u)
	}
	a := readAbout(t, "csv", path)
	for _, tb := range []string{TableUsers, TableServicePrincipals} {
		st := a.tables[tb]
		if st[0] != "partial" || !strings.Contains(st[2], "workspace_admin is empty for 1 of 4 workspaces: workspace 6051921418418893 (acme-ml): list groups: ") {
			t.Errorf("about %s = %q, want partial, saying workspace_admin is empty for acme-ml", tb, st)
		}
	}
}
