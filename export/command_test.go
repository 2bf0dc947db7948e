package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// runCommand runs "export args..." through Command with e's streams and a
// connect that counts its calls.
func runCommand(t *testing.T, e *testEnv, args ...string) (err error, connects int32) {
	t.Helper()
	var n atomic.Int32
	connect := func(ctx context.Context) (*scim.Session, error) {
		n.Add(1)
		return e.deps.Connect(ctx)
	}
	app := &cli.App{
		Name:           "dbiam",
		Writer:         e.deps.Streams.Out,
		ErrWriter:      e.deps.Streams.Err,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{Command(e.deps.Streams, connect)},
	}
	err = app.RunContext(context.Background(), append([]string{"dbiam", "export"}, args...))
	return err, n.Load()
}

// TestCommandBadInputMakesNoRequest: every bad flag or input fails before
// connecting, so the sandbox sees no request at all.
func TestCommandBadInputMakesNoRequest(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	existing := e.path("existing.xlsx")
	if err := os.WriteFile(existing, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	existingDir := e.path("existing-dir")
	if err := os.Mkdir(existingDir, 0o700); err != nil {
		t.Fatal(err)
	}
	badFile := e.path("bad.csv")
	if err := os.WriteFile(badFile, []byte("id,name,url\nabc,x,https://x.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"--format", "pdf"}, `--output "pdf": use csv, xlsx or json`},
		{"include", []string{"--include", "users,secrets"}, `--include "secrets": use any of users,service-principals,groups,memberships,entitlements,assignments,account, or all`},
		{"missing workspaces file", []string{"--workspaces-file", e.path("nope.csv")}, "read workspaces file " + e.path("nope.csv")},
		{"bad workspaces file", []string{"--workspaces-file", badFile}, `line 2: workspace id "abc" is not a positive number`},
		{"existing output", []string{"--out", existing}, "output " + existing + " exists: pass --force to overwrite"},
		{"page size", []string{"--page-size", "-1"}, "--page-size -1: use a number from 1 to 10000"},
		{"page size zero", []string{"--page-size", "0"}, "--page-size 0: use a number from 1 to 10000"},
		{"page size too large", []string{"--page-size", "10001"}, "--page-size 10001: use a number from 1 to 10000"},
		{"xlsx into a directory", []string{"--format", "xlsx", "--out", existingDir, "--force"},
			"--out " + existingDir + " is a directory, but an xlsx export is one file: pass a file path such as " +
				filepath.Join(existingDir, "dbiam-export-")},
		{"csv into a file", []string{"--format", "csv", "--out", existing, "--force"},
			"--out " + existing + " is a file, but a csv or json export is a directory: pass a directory path, or --output xlsx"},
		{"json into a file", []string{"--format", "json", "--out", existing, "--force"},
			"--out " + existing + " is a file, but a csv or json export is a directory"},
		{"empty workspace", []string{"--workspace", ""}, "--workspace is empty"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "--out") {
				args = append(args, "--out", e.path("out-"+strings.ReplaceAll(tt.name, " ", "-")))
			}
			err, connects := runCommand(t, e, args...)
			if !errors.Is(err, ErrBadOptions) {
				t.Fatalf("err = %v, want ErrBadOptions", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			if connects != 0 {
				t.Errorf("connect called %d times", connects)
			}
			if n := e.srv.Stats().Total; n != 0 {
				t.Errorf("%d requests made", n)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Errorf("existing output changed: %q", b)
	}
	if entries, err := os.ReadDir(existingDir); err != nil || len(entries) != 0 {
		t.Errorf("existing directory changed: %v, %v", entries, err)
	}
}

func TestCommandFlagsReachOptions(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("dir")
	err, connects := runCommand(t, e, "--workspace", "acme-ml", "--workspace", wsLegacy, "--format", "CSV",
		"--include", "users", "--include", "groups", "--out", path, "--page-size", "7")
	if err != nil || connects != 1 {
		t.Fatalf("err = %v, connects = %d", err, connects)
	}
	out := readOutput(t, "csv", path)
	var ids []string
	for _, r := range out[TableWorkspaces].rows {
		ids = append(ids, r[0])
	}
	if !reflect.DeepEqual(ids, []string{wsML, wsLegacy}) {
		t.Errorf("workspaces = %v", ids)
	}
	if _, ok := out[TableMemberships]; ok {
		t.Error("memberships written although not included")
	}
	if _, ok := out[TableGroups]; !ok {
		t.Error("groups not written")
	}
	// --page-size 7 against a page cap of 20: 7 per page. acme-ml has 52
	// users and acme-legacy 17: 8 + 3 pages at least (6 with 20 per page).
	if n := e.srv.Stats().Count("GET", "/api/2.0/preview/scim/v2/Users"); n < 8+3 {
		t.Errorf("%d user list requests; --page-size not applied", n)
	}
}

func TestForceReplacesOutput(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("out.xlsx")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), Options{Out: path, Include: []string{"users"}}, e.deps)
	if !errors.Is(err, reports.ErrExists) || !errors.Is(err, ErrBadOptions) {
		t.Fatalf("Run without Force = %v, want ErrExists", err)
	}
	if err := Run(context.Background(), Options{Out: path, Include: []string{"users"}, Force: true}, e.deps); err != nil {
		t.Fatalf("Run with Force: %v", err)
	}
	if out := readXLSX(t, path); len(out[TableUsers].rows) == 0 {
		t.Error("no users in the replaced workbook")
	}
}

func TestDefaultOut(t *testing.T) {
	day := time.Date(2026, 1, 2, 23, 0, 0, 0, time.UTC)
	for f, want := range map[reports.Format]string{
		reports.FormatXLSX:  "dbiam-export-2026-01-02.xlsx",
		reports.FormatCSV:   "dbiam-export-2026-01-02-csv",
		reports.FormatJSONL: "dbiam-export-2026-01-02-jsonl",
	} {
		if got := DefaultOut(f, day); got != want {
			t.Errorf("DefaultOut(%s) = %q, want %q", f, got, want)
		}
	}
}

func TestResolveOptions(t *testing.T) {
	dir := t.TempDir()
	wsFile := filepath.Join(dir, "ws.csv")
	if err := os.WriteFile(wsFile, []byte("id,name,url\n7,seven,https://seven.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Options{Format: "JSON", Out: filepath.Join(dir, "o"), Include: []string{"Service_Principals, memberships"},
		Workspaces: []string{"a,b", " a", "a,b"}, WorkspacesFile: wsFile}.resolve(fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.format != reports.FormatJSONL || c.pageSize != DefaultPageSize || !reflect.DeepEqual(c.selectors, []string{"a,b", " a"}) {
		t.Errorf("config = %+v", c)
	}
	if !c.include.explicit || !c.include.has(IncludeServicePrincipals) || !c.include.has(IncludeMemberships) || c.include.has(IncludeUsers) {
		t.Errorf("include = %+v", c.include)
	}
	if len(c.fromFile) != 1 || c.fromFile[0].ID != 7 || c.fromFile[0].URL != "https://seven.test" {
		t.Errorf("fromFile = %+v", c.fromFile)
	}
	all, err := Options{Include: []string{"all"}, Out: filepath.Join(dir, "p")}.resolve(fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := Options{Out: filepath.Join(dir, "p")}.resolve(fixedNow)
	if !reflect.DeepEqual(all.include.on, def.include.on) || def.include.explicit {
		t.Errorf("all = %v, default = %v (explicit %v)", all.include.on, def.include.on, def.include.explicit)
	}
	if ws, _ := (Options{Include: []string{"workspaces"}, Out: filepath.Join(dir, "p")}).resolve(fixedNow); !ws.include.explicit || len(ws.include.on) != 0 || ws.include.identities() {
		t.Errorf("--include workspaces = %+v, want nothing else", ws.include)
	}
	if c, _ := (Options{}).resolve(fixedNow); c.out != "dbiam-export-2026-03-14.xlsx" {
		t.Errorf("default out = %q", c.out)
	}
}

// TestSelectWorkspace: --workspace takes an id or an exact name (spaces,
// case and commas kept: every workspace of that name), and ignores case
// only when that names one workspace (scim.PickWorkspaces, the rule audit
// and handover share).
func TestSelectWorkspace(t *testing.T) {
	all := []scim.WorkspaceInfo{{ID: 1, Name: "prod"}, {ID: 2, Name: "Dev"}, {ID: 3, Name: "dev"}, {ID: 4, Name: "2"},
		{ID: 5, Name: "Shared"}, {ID: 6, Name: "SHARED"}, {ID: 7, Name: " ml "}, {ID: 8, Name: "a,b"}, {ID: 9, Name: "twin"}, {ID: 10, Name: "twin"}}
	tests := []struct {
		sel  string
		want []int64
		err  string
	}{
		{"1", []int64{1}, ""},
		{"prod", []int64{1}, ""},
		{"PROD", []int64{1}, ""},
		{"2", []int64{2, 4}, ""}, // the id 2 and the workspace named "2"
		{"dev", []int64{3}, ""},
		{"Dev", []int64{2}, ""},
		{" ml ", []int64{7}, ""},
		{"a,b", []int64{8}, ""},
		{"twin", []int64{9, 10}, ""},
		{"ml", nil, `--workspace "ml": no workspace has this id or name`},
		{"a", nil, `--workspace "a": no workspace has this id or name`},
		{"shared", nil, `--workspace "shared": names no workspace exactly, and "Shared" (5), "SHARED" (6) ignoring case`},
		{"nope", nil, `--workspace "nope": no workspace has this id or name`},
	}
	for _, tt := range tests {
		r := &runner{cfg: &config{fromFile: all, selectors: []string{tt.sel}}}
		got, err := r.targets(context.Background())
		if tt.err != "" {
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("--workspace %q: err = %v, want %q", tt.sel, err, tt.err)
			}
			continue
		}
		var ids []int64
		for _, w := range got {
			ids = append(ids, w.ID)
		}
		if err != nil || !slices.Equal(ids, tt.want) {
			t.Errorf("--workspace %q = %v, %v; want %v", tt.sel, ids, err, tt.want)
		}
	}
	r := &runner{cfg: &config{fromFile: all[:6], selectors: []string{"prd"}}}
	_, err := r.targets(context.Background())
	var nf *scim.WorkspaceNotFoundError
	if !errors.As(err, &nf) || nf.Hint() != `did you mean "prod"? the 6 workspaces are: prod, Dev, dev, 2, Shared, SHARED` {
		t.Errorf("--workspace prd: err = %v", err)
	}
}

func TestUnknownWorkspaceFailsBeforeReadingWorkspaces(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	err := Run(context.Background(), Options{Workspaces: []string{"acme-nope"}, Out: e.path("o.xlsx")}, e.deps)
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("Run = %v, want ErrBadOptions", err)
	}
	st := e.srv.Stats()
	if st.Total != 1 || st.Count("GET", "/api/2.0/accounts/{account_id}/workspaces") != 1 {
		t.Errorf("requests: %+v, want only the workspaces list", st.Requests)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
}

func TestWorkspacesFile(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	file := e.path("ws.csv")
	content := fmt.Sprintf("id,name,url\n%s,legacy from file,%s\n%s,prod from file,%s\n", wsLegacy, e.srv.URL(), wsProd, e.srv.URL())
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	path := e.path("out")
	if err := Run(context.Background(), Options{WorkspacesFile: file, Workspaces: []string{"legacy from file"},
		Format: "csv", Out: path, Include: []string{"users"}}, e.deps); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Stats().Count("GET", "/api/2.0/accounts/{account_id}/workspaces"); n != 0 {
		t.Errorf("the account workspaces list was read %d times despite the file", n)
	}
	out := readOutput(t, "csv", path)
	if len(out[TableWorkspaces].rows) != 1 || out[TableWorkspaces].rows[0][1] != "legacy from file" {
		t.Fatalf("workspaces = %v", out[TableWorkspaces].rows)
	}
	if n := len(out[TableUsers].where(t, "workspace_id", wsLegacy)); n != 17 {
		t.Errorf("%d users for acme-legacy, want 17", n)
	}
	os.Remove(file)
	os.RemoveAll(path)
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
}

// TestHostOnly exports the --host workspace of a session without account id:
// no account tables, no account_user values, assignments from the
// workspace-level API; explicitly asking for the account tables is bad input.
func TestHostOnly(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, func(s *scim.Settings) { s.AccountID = "" })
	err := Run(context.Background(), Options{Out: e.path("x"), Include: []string{"account"}}, e.deps)
	if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "--include account needs an account id") {
		t.Fatalf("Run with --include account = %v", err)
	}
	if n := e.srv.Stats().Total; n != 0 {
		t.Errorf("%d requests before failing", n)
	}
	path := e.path("out")
	if err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps); err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := readOutput(t, "csv", path)
	for _, tb := range accountTables {
		if _, ok := out[tb]; ok {
			t.Errorf("%s written without an account", tb)
		}
	}
	if len(out[TableWorkspaces].rows) != 1 || out[TableWorkspaces].rows[0][0] != wsProd {
		t.Fatalf("workspaces = %v", out[TableWorkspaces].rows)
	}
	if u := out[TableUsers].one(t, "user_name", "aisha.adeyemi@acme.test"); u["account_user"] != "" {
		t.Errorf("account_user = %q without an account, want empty", u["account_user"])
	}
	if n := len(out[TableAssignments].rows); n != 13 {
		t.Errorf("%d assignments from the workspace API, want 13", n)
	}
	if n := e.srv.Stats().Count("GET", "/api/2.0/preview/permissionassignments"); n != 1 {
		t.Errorf("workspace assignments read %d times", n)
	}
}

// TestWorkspaceFlagKeepsSpaces: the --workspace flag keeps the value as
// typed (KeepSpace): " acme-prod " is not acme-prod, and the hint offers
// the name it resembles; nothing is written.
func TestWorkspaceFlagKeepsSpaces(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	out := e.path("o.xlsx")
	err, _ := runCommand(t, e, "--workspace", " acme-prod ", "--out", out)
	var nf *scim.WorkspaceNotFoundError
	if !errors.Is(err, ErrBadOptions) || !errors.As(err, &nf) || nf.Given != " acme-prod " || !strings.Contains(nf.Hint(), `did you mean "acme-prod"?`) {
		t.Fatalf("err = %v, want no workspace named \" acme-prod \"", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("a failed export left %s: %v", out, serr)
	}
}
