package export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestWorkspaceAdminWithWorkspacesFile exports, as the admin of one
// workspace without account id, the workspace of a --workspaces-file whose
// assignments read is refused (403): the account tables are skipped up front
// with one log line, the identity tables are complete, the refusal is a note
// on the workspace and a row of the assignments table, and the run succeeds.
func TestWorkspaceAdminWithWorkspacesFile(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, func(s *scim.Settings) {
		s.AccountID = ""
		s.Token = "dapi-sandbox-analytics-admin"
	})
	file := e.path("wsa.csv")
	if err := os.WriteFile(file, []byte(fmt.Sprintf("id,name,url\n%s,acme-analytics,%s\n", wsAnalytics, e.srv.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	// The reference run, with the assignments readable; "all" without an
	// account id skips the account tables like the default does.
	full := e.path("full")
	if err := Run(context.Background(), Options{WorkspacesFile: file, Format: "csv", Out: full, Include: []string{"all"}}, e.deps); err != nil {
		t.Fatalf("Run with assignments readable: %v", err)
	}
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2.0/preview/permissionassignments$`, Status: 403}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(e.stderr.String(), "no account id: skipping the account tables"); n != 1 {
		t.Errorf("%d account-skip lines in the reference run, want 1", n)
	}
	before := len(e.stderr.String())
	path := e.path("out")
	if err := Run(context.Background(), Options{WorkspacesFile: file, Format: "csv", Out: path}, e.deps); err != nil {
		t.Fatalf("Run = %v, want success: a denied assignments read is not a failed workspace", err)
	}
	stderr := e.stderr.String()[before:]
	out, ref := readOutput(t, "csv", path), readOutput(t, "csv", full)

	row := out[TableWorkspaces].one(t, "workspace_id", wsAnalytics)
	if row["export_status"] != statusOK || row["assignments"] != "" || row["users"] == "" ||
		!strings.HasPrefix(row["error"], "assignments not read (not failed): list assignments: ") || !strings.Contains(row["error"], "403") {
		t.Errorf("workspace row = %v", row)
	}
	refRow := ref[TableWorkspaces].one(t, "workspace_id", wsAnalytics)
	for _, c := range []string{"users", "service_principals", "groups", "direct_memberships", "transitive_memberships", "entitlements", "identity_federated"} {
		if row[c] != refRow[c] {
			t.Errorf("%s = %q, want %q as with assignments readable", c, row[c], refRow[c])
		}
	}
	// workspace_admin counts ADMIN assignments only where they were read:
	// without them it is membership of admins, so it may only lose a true
	// (the members of platform-admins, assigned ADMIN, are not in admins).
	admin := func(tb string, rows [][]string) [][]string {
		i := slices.Index(out[tb].header, "workspace_admin")
		if i < 0 {
			return rows
		}
		var cut [][]string
		for _, r := range rows {
			r = slices.Clone(r)
			r[i] = ""
			cut = append(cut, r)
		}
		return cut
	}
	lost := 0
	for _, tb := range []string{TableUsers, TableServicePrincipals, TableGroups, TableMemberships, TableEntitlements} {
		if len(ref[tb].rows) == 0 || !reflect.DeepEqual(admin(tb, out[tb].rows), admin(tb, ref[tb].rows)) {
			t.Errorf("%s: %d rows, want the %d of the reference run", tb, len(out[tb].rows), len(ref[tb].rows))
			continue
		}
		if i := slices.Index(out[tb].header, "workspace_admin"); i >= 0 {
			for j, r := range out[tb].rows {
				switch refAdmin := ref[tb].rows[j][i]; {
				case r[i] == refAdmin:
				case r[i] == "false" && refAdmin == "true":
					lost++
				default:
					t.Errorf("%s row %v: workspace_admin %q, reference %q", tb, r, r[i], refAdmin)
				}
			}
		}
	}
	if u := out[TableUsers].one(t, "user_name", "dana.varga@acme.test"); u["workspace_admin"] != "false" || lost == 0 {
		t.Errorf("dana.varga (platform-admins, ADMIN) without assignments: workspace_admin %q; %d lost", u["workspace_admin"], lost)
	}
	if n := len(out[TableAssignments].rows); n != 1 {
		t.Errorf("%d assignments rows, want one holding the refusal", n)
	}
	as := out[TableAssignments].one(t, "workspace_id", wsAnalytics)
	if as["principal_id"] != "" || as["principal_kind"] != "" || as["permissions"] != "" ||
		!strings.HasPrefix(as["error"], "list assignments: ") || !strings.Contains(as["error"], "403") {
		t.Errorf("assignments row = %v, want the refusal", as)
	}
	for _, tb := range accountTables {
		if _, ok := out[tb]; ok {
			t.Errorf("%s written without an account id", tb)
		}
	}
	if n := strings.Count(stderr, "no account id: skipping the account tables"); n != 1 {
		t.Errorf("%d account-skip lines, want 1:\n%s", n, stderr)
	}
	stderr += e.outcome()
	for _, want := range []string{"1 workspaces: 1 ok, 0 failed, 0 skipped",
		"workspace " + wsAnalytics + " (acme-analytics) ok, assignments not read (not failed): list assignments: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "ERROR") || strings.Contains(stderr, "account failed") {
		t.Errorf("stderr reports a failure:\n%s", stderr)
	}
	for _, rc := range e.srv.Stats().Requests {
		if strings.HasPrefix(rc.Route, "/api/2.0/accounts/") {
			t.Errorf("account API called without an account id: %+v", rc)
		}
	}
}

// TestCancelLogsOneLine cancels a run with several workspaces in flight:
// Run returns the cancellation and stderr gets one line for it, no
// per-workspace failure and no "context canceled" noise.
func TestCancelLogsOneLine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	e := newEnv(t, sandbox.Options{PageCap: 5}, func(s *scim.Settings) {
		s.Parallel = 4
		s.OnRequest = func(ev scim.RequestEvent) {
			if ev.WorkspaceID == 6051921418418892 && strings.HasSuffix(ev.Path, "/Users") {
				once.Do(cancel)
			}
		}
	})
	err := Run(ctx, Options{Format: "csv", Out: e.path("out")}, e.deps)
	if !errors.Is(err, context.Canceled) || err.Error() != "export: context canceled" {
		t.Fatalf("Run = %v, want export: context canceled", err)
	}
	stderr := e.stderr.String()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "cancel") || strings.Contains(l, "ERROR") || strings.Contains(l, "failed") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "export cancelled: nothing written") {
		t.Errorf("cancellation lines = %q, want exactly one:\n%s", lines, stderr)
	}
}

// TestOutKindCheckedBeforeConnecting: an xlsx export into an existing
// directory (or csv into a file) fails before connecting, even with Force.
func TestOutKindCheckedBeforeConnecting(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	dir := e.path("dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	connected := false
	d := e.deps
	d.Connect = func(ctx context.Context) (*scim.Session, error) {
		connected = true
		return e.deps.Connect(ctx)
	}
	err := Run(context.Background(), Options{Format: "xlsx", Out: dir, Force: true}, d)
	want := "invalid export options: --out " + dir + " is a directory, but an xlsx export is one file: pass a file path such as " +
		filepath.Join(dir, "dbiam-export-2026-03-14.xlsx") + ", or --output csv or json"
	if !errors.Is(err, ErrBadOptions) || err.Error() != want {
		t.Fatalf("Run = %v\nwant %s", err, want)
	}
	if connected || e.srv.Stats().Total != 0 {
		t.Errorf("connected %v, %d requests", connected, e.srv.Stats().Total)
	}
}

// TestJSONEmptyTextIsNull: JSON Lines writes null, never "", for an empty
// text cell (a user without externalId, an ok workspace's error).
func TestJSONEmptyTextIsNull(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("out")
	if err := Run(context.Background(), Options{Format: "json", Out: path, Workspaces: []string{wsProd}}, e.deps); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(path, "*.jsonl"))
	if err != nil || len(files) < 5 {
		t.Fatalf("files = %v, %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `:""`) {
			t.Errorf("%s holds an empty string value", filepath.Base(f))
		}
	}
	b, _ := os.ReadFile(filepath.Join(path, "users.jsonl"))
	if !strings.Contains(string(b), `"external_id":null`) {
		t.Errorf("users.jsonl has no null external_id")
	}
	b, _ = os.ReadFile(filepath.Join(path, "workspaces.jsonl"))
	if !strings.Contains(string(b), `"export_status":"ok","error":null}`) {
		t.Errorf("workspaces.jsonl = %s", b)
	}
}
