package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// runJSON runs an audit with the JSON format to stdout and decodes the
// report.
func (e *testEnv) runJSON(t *testing.T, o Options) (*Report, error) {
	t.Helper()
	e.stdout.Reset()
	o.Format = FormatJSON
	err := e.run(t, o)
	var r Report
	if e.stdout.Len() > 0 {
		if derr := json.Unmarshal(e.stdout.Bytes(), &r); derr != nil {
			t.Fatalf("decode report: %v\n%s", derr, e.stdout)
		}
	}
	return &r, err
}

// row is a finding in a compact, comparable form.
func row(f Finding) string {
	return strings.Join([]string{f.Severity.String(), f.Workspace.Name, f.IdentityName, string(f.Kind), f.ObjectName, f.RelationText()}, " | ")
}

func rows(r *Report, keep func(Finding) bool) []string {
	var out []string
	for _, f := range r.Findings {
		if keep == nil || keep(f) {
			out = append(out, row(f))
		}
	}
	return out
}

func findingFor(t *testing.T, r *Report, identity string, k Kind, object string) Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.IdentityName == identity && f.Kind == k && f.ObjectName == object {
			return f
		}
	}
	t.Fatalf("no %s finding %q for %s in:\n%s", k, object, identity, strings.Join(rows(r, nil), "\n"))
	return Finding{}
}

func identityIn(r *Report, name string) (IdentitySummary, bool) {
	for _, i := range r.Identities {
		if i.Name == name {
			return i, true
		}
	}
	return IdentitySummary{}, false
}

// golden compares got with testdata/golden/name, after replacing the
// sandbox's random URL, or rewrites the file with -update.
func golden(t *testing.T, e *testEnv, name string, got []byte) {
	t.Helper()
	got = bytes.ReplaceAll(got, []byte(e.srv.URL()), []byte("http://sandbox.test"))
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./audit -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./audit -update rewrites it)\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestAuditUserFindings checks every finding kind and severity for one
// user against the test seed, and the CSV and JSON outputs against golden
// files.
func TestAuditUserFindings(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, e.stderr)
	}
	want := []string{
		"breaks | ws-main | alice@corp.test | token | airflow | created+owns",
		"breaks | ws-main | alice@corp.test | job | alice-nightly | created+owns+runs-as+sole-manager",
		"breaks | ws-main | alice@corp.test | job | transferred | owns+runs-as+sole-manager",
		"breaks | ws-main | alice@corp.test | query | Revenue (as owner) | owns+runs-as+sole-manager",
		"breaks | ws-main | alice@corp.test | alert | Revenue drop | owns+runs-as+sole-manager",
		"breaks | ws-second | alice@corp.test | token | second ws | created+owns",
		"breaks | ws-second | alice@corp.test | job | alice-second-nightly | created+owns+runs-as+sole-manager",
		"stops | ws-main | alice@corp.test | cluster | alice-dedicated | dedicated",
		"stops | ws-main | alice@corp.test | cluster | alice-interactive | created",
		"stops | ws-main | alice@corp.test | pipeline | alice-dlt | created+owns+runs-as+sole-manager",
		"orphaned | ws-main | alice@corp.test | job | alice-manual | created+owns+runs-as+sole-manager",
		"orphaned | ws-main | alice@corp.test | cluster | alice-scratch | created+sole-manager",
		"orphaned | ws-main | alice@corp.test | warehouse | alice-warehouse | created+owns+sole-manager",
		"orphaned | ws-main | alice@corp.test | legacy-dashboard | Sales (legacy) | owns+sole-manager",
		"orphaned | ws-main | alice@corp.test | serving-endpoint | churn-model | created+sole-manager",
		"orphaned | ws-main | alice@corp.test | app | alice-app | created+sole-manager",
		"info | ws-main | alice@corp.test | token | (no comment) | created+owns",
		"info | ws-main | alice@corp.test | token | etl-sp (on behalf of) | created",
		"info | ws-main | alice@corp.test | token | expired | created+owns",
		"info | ws-main | alice@corp.test | token | old laptop | created+owns",
		"info | ws-main | alice@corp.test | job | alice-as-sp | created+owns",
		"info | ws-main | alice@corp.test | job | alice-paused | created+owns+runs-as",
		"info | ws-main | alice@corp.test | cluster | job-1001-run-1 | created",
		"info | ws-main | alice@corp.test | warehouse | shared-warehouse | owns",
		"info | ws-main | alice@corp.test | pipeline | sp-dlt | created",
		"info | ws-main | alice@corp.test | query | Exploration (as viewer) | owns",
		"info | ws-main | alice@corp.test | dashboard | Ops (AI/BI) | owns",
		"info | ws-main | alice@corp.test | dashboard | Revenue (AI/BI) | owns",
		// Her queries and dashboards live in her home folder.
		"info | ws-main | alice@corp.test | home-folder | /Users/alice@corp.test | owns",
	}
	if got := rows(r, nil); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Reasons and flags of the rules, one per severity rule.
	for _, c := range []struct {
		kind           Kind
		object, reason string
		flags          []string
	}{
		{KindToken, "airflow", "token used on 2026-03-12, within the last 30 days, stops working", []string{"no-expiry"}},
		{KindToken, "expired", "token expired on 2026-03-13", nil},
		{KindToken, "(no comment)", "token never used", nil},
		{KindJob, "alice-nightly", "job runs as the identity on an unpaused schedule; its runs fail", nil},
		{KindJob, "transferred", "continuous job runs as the identity; its runs fail", nil},
		{KindJob, "alice-paused", "job runs as the identity but its schedule is paused", nil},
		{KindJob, "alice-as-sp", "job runs as 5f0c3a1e-0000-4000-8000-000000000001", nil},
		{KindCluster, "alice-dedicated", "running cluster dedicated to the identity stops", nil},
		{KindCluster, "job-1001-run-1", "job cluster, ends with its run", nil},
		{KindPipeline, "alice-dlt", "running pipeline runs as the identity; it stops", nil},
		{KindQuery, "Revenue (as owner)", "query runs as its owner; every run fails", nil},
		{KindQuery, "Exploration (as viewer)", "query runs as the viewer", nil},
		{KindApp, "alice-app", "no other principal can manage it", nil},
	} {
		f := findingFor(t, r, "alice@corp.test", c.kind, c.object)
		if f.Reason != c.reason || !slices.Equal(f.Flags, c.flags) {
			t.Errorf("%s %q: reason %q flags %v, want %q %v", c.kind, c.object, f.Reason, f.Flags, c.reason, c.flags)
		}
	}
	if f := findingFor(t, r, "alice@corp.test", KindCluster, "alice-dedicated"); f.Detail("pinned") != "true" || f.Detail("state") != "RUNNING" {
		t.Errorf("dedicated cluster details = %v", f.Details)
	}
	if f := findingFor(t, r, "alice@corp.test", KindToken, "airflow"); f.Detail("expires") != "never" || f.Detail("last_used") != "2026-03-12" {
		t.Errorf("token details = %v", f.Details)
	}
	id, ok := identityIn(r, "alice@corp.test")
	if !ok || id.Status != StatusActive || id.Scope != "account" || !id.Named || id.Findings != len(want) || id.BySeverity["breaks"] != 7 {
		t.Errorf("identity summary = %+v", id)
	}
	for _, w := range r.Workspaces {
		if w.Coverage != CoverageFull {
			t.Errorf("workspace %s coverage %s", w.Name, w.Coverage)
		}
	}

	golden(t, e, "alice.json", e.stdout.Bytes())
	csvPath := e.path("alice.csv")
	if err := e.run(t, Options{Users: []string{"alice@corp.test"}, Format: FormatCSV, Out: csvPath}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, e, "alice.csv", b)
	if fi, err := os.Stat(csvPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("report mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

// TestAuditGroupExpansion audits a group: its nested members are audited,
// and members whose only path into a workspace is the group are reported.
func TestAuditGroupExpansion(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Groups: []string{"team"}})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, e.stderr)
	}
	// team = alice, erin, frank, etl-sp and nested (carol, alice).
	var names []string
	for _, i := range r.Identities {
		names = append(names, string(i.Type)+":"+i.Name+" via "+strings.Join(i.Via, ","))
	}
	slices.Sort(names)
	wantIDs := []string{
		"group:team via ",
		"service-principal:5f0c3a1e-0000-4000-8000-000000000001 via team",
		"user:alice@corp.test via team",
		"user:carol@corp.test via team",
		"user:erin@corp.test via team",
		"user:frank@corp.test via team",
	}
	if !slices.Equal(names, wantIDs) {
		t.Errorf("identities = %v, want %v", names, wantIDs)
	}
	// ws-main assigns team, others (frank), erin directly and bob: alice,
	// carol (through nested) and etl-sp lose access; erin and frank keep it.
	// ws-second assigns nested: carol and alice keep access there.
	access := rows(r, func(f Finding) bool { return f.Kind == KindWorkspaceAccess })
	wantAccess := []string{
		"breaks | ws-main | 5f0c3a1e-0000-4000-8000-000000000001 | workspace-access | ws-main | sole-path",
		"breaks | ws-main | alice@corp.test | workspace-access | ws-main | sole-path",
		"breaks | ws-main | carol@corp.test | workspace-access | ws-main | sole-path",
	}
	if !slices.Equal(access, wantAccess) {
		t.Errorf("sole-path findings:\n%s\nwant:\n%s", strings.Join(access, "\n"), strings.Join(wantAccess, "\n"))
	}
	f := findingFor(t, r, "carol@corp.test", KindWorkspaceAccess, "ws-main")
	if f.Reason != `loses access to the workspace: group "team" is its only path in` {
		t.Errorf("reason = %q", f.Reason)
	}
	// The group's own objects: a cluster dedicated to it and a job only it
	// manages.
	if f := findingFor(t, r, "team", KindCluster, "team-shared"); f.Severity != SeverityInfo || f.RelationText() != "dedicated" {
		t.Errorf("group cluster = %s", row(f))
	}
	if f := findingFor(t, r, "team", KindJob, "ghost-export"); f.Severity != SeverityOrphaned {
		t.Errorf("group job = %s", row(f))
	}
	// Members are removed together: alice and etl-sp both manage sp-dlt, so
	// it is orphaned for both.
	if f := findingFor(t, r, "alice@corp.test", KindPipeline, "sp-dlt"); f.Severity != SeverityOrphaned || f.Reason != "no manager remains once the audited identities are gone" {
		t.Errorf("jointly managed pipeline = %s: %s", row(f), f.Reason)
	}
}

// TestAuditUnknownIdentities: a name that exists nowhere is reported as
// not found, and objects still referring to a deleted user are matched by
// name; the run ends with a PartialError naming both (exit code 2).
func TestAuditUnknownIdentities(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"gone@corp.test", "nobody@corp.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.NotCovered) != 0 ||
		!slices.Equal(pe.NotFound, []string{"user:gone@corp.test", "user:nobody@corp.test"}) {
		t.Fatalf("Run: %v, want a PartialError naming the two identities not found", err)
	}
	want := []string{
		"breaks | ws-main | gone@corp.test | job | ghost-export | runs-as",
		"info |  | gone@corp.test | identity | gone@corp.test | ",
		"info |  | nobody@corp.test | identity | nobody@corp.test | ",
	}
	if got := rows(r, nil); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range []string{"gone@corp.test", "nobody@corp.test"} {
		if id, ok := identityIn(r, n); !ok || id.Status != StatusNotFound {
			t.Errorf("%s: %+v, want status not-found", n, id)
		}
	}
}

// TestAuditWorkspaceLocalIdentity: a user the account does not know is
// found in the workspace that has it, and audited there only.
func TestAuditWorkspaceLocalIdentity(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"local.user@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"breaks | ws-local | local.user@corp.test | token | local | created+owns",
		"stops | ws-local | local.user@corp.test | cluster | local-cluster | created+sole-manager",
	}
	if got := rows(r, nil); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if id, _ := identityIn(r, "local.user@corp.test"); id.Scope != "workspace" || id.Status != StatusActive || id.ID != "502" {
		t.Errorf("identity = %+v", id)
	}
}

// TestAuditInactive reports deactivated identities that still own
// something, and only those.
func TestAuditInactive(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Inactive: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"breaks | ws-main | dave@corp.test | token | dave cli | created+owns",
		"orphaned | ws-main | 5f0c3a1e-0000-4000-8000-000000000002 | job | old-sp-job | created+owns+runs-as+sole-manager",
	}
	if got := rows(r, nil); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(r.Identities) != 2 || r.Mode != "inactive" {
		t.Errorf("identities = %+v, mode %s", r.Identities, r.Mode)
	}
	for _, i := range r.Identities {
		if i.Status != StatusInactive {
			t.Errorf("%s status %s", i.Name, i.Status)
		}
	}
}

// TestAuditAll reports every identity of the account and of each
// workspace, with or without findings (system groups only when something
// refers to them), and everything owned or run by each, judged alone,
// deleted principals included.
func TestAuditAll(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{All: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := map[string]string{}
	for _, i := range r.Identities {
		got[i.Name] = string(i.Type) + "/" + string(i.Status) + "/" + i.Scope
	}
	want := map[string]string{
		"admin@corp.test":                      "user/active/account",
		"alice@corp.test":                      "user/active/account",
		"bob@corp.test":                        "user/active/account",
		"carol@corp.test":                      "user/active/account",
		"dave@corp.test":                       "user/inactive/account",
		"erin@corp.test":                       "user/active/account",
		"frank@corp.test":                      "user/active/account",
		"gone@corp.test":                       "user/not-found/",
		"local.admin@corp.test":                "user/active/workspace",
		"local.user@corp.test":                 "user/active/workspace",
		"local-team":                           "group/active/workspace",
		"nested":                               "group/active/account",
		"others":                               "group/active/account",
		"team":                                 "group/active/account",
		"5f0c3a1e-0000-4000-8000-000000000001": "service-principal/active/account",
		"5f0c3a1e-0000-4000-8000-000000000002": "service-principal/inactive/account",
	}
	if len(got) != len(want) {
		t.Errorf("identities = %v, want %v", got, want)
	}
	// Identities nothing refers to are reported too, with no findings.
	for _, i := range r.Identities {
		if i.Name == "erin@corp.test" && i.Findings != 0 {
			t.Errorf("erin has %d findings", i.Findings)
		}
		if i.Name == "local-team" && i.WorkspaceID != 1003 {
			t.Errorf("local-team workspace = %d", i.WorkspaceID)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("identity %s = %q, want %q", k, got[k], v)
		}
	}
	// Judged alone: bob is the only manager of the group-dedicated cluster
	// he created; alice's jointly managed pipeline is not orphaned for her
	// because etl-sp stays.
	if f := findingFor(t, r, "bob@corp.test", KindCluster, "team-shared"); f.Severity != SeverityOrphaned {
		t.Errorf("bob's cluster = %s", row(f))
	}
	if f := findingFor(t, r, "alice@corp.test", KindPipeline, "sp-dlt"); f.Severity != SeverityInfo {
		t.Errorf("alice's sp-dlt = %s", row(f))
	}
	// An on-behalf-of token breaks for its owner, whom only an id names.
	if f := findingFor(t, r, "5f0c3a1e-0000-4000-8000-000000000001", KindToken, "etl-sp (on behalf of)"); f.Severity != SeverityBreaks || f.RelationText() != "owns" {
		t.Errorf("obo token = %s", row(f))
	}
	golden(t, e, "all.json", e.stdout.Bytes())
}

// TestAuditListsOncePerWorkspace: however many identities are audited,
// each list is read once per workspace (clusters twice: all, then pinned),
// ACL reads stay under the permissions-read class, and jobs/get is not
// needed when the ACL names the owner.
func TestAuditListsOncePerWorkspace(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	if err := e.run(t, Options{Users: []string{"alice@corp.test", "bob@corp.test", "carol@corp.test", "dave@corp.test"}, Format: FormatCSV}); err != nil {
		t.Fatal(err)
	}
	st := e.srv.Stats()
	const workspaces = 3
	for route, want := range map[string]int{
		"/api/2.0/token-management/tokens": workspaces,
		"/api/2.2/jobs/list":               workspaces,
		"/api/2.1/clusters/list":           2 * workspaces,
		"/api/2.0/sql/warehouses":          workspaces,
		"/api/2.0/pipelines":               workspaces,
		"/api/2.0/sql/queries":             workspaces,
		"/api/2.0/sql/alerts":              workspaces,
		"/api/2.0/alerts":                  workspaces,
		"/api/2.0/preview/sql/dashboards":  workspaces,
		"/api/2.0/lakeview/dashboards":     workspaces,
		"/api/2.0/serving-endpoints":       workspaces,
		"/api/2.0/apps":                    workspaces,
		"/api/2.2/jobs/get":                0,
	} {
		if got := st.Count("GET", route); got != want {
			t.Errorf("GET %s: %d requests, want %d", route, got, want)
		}
	}
	// ws-main has 7 jobs, 2 pipelines, 2 warehouses and 2 Lakeview
	// dashboards (ACLs read whatever the audit) plus the other objects tied
	// to the audited users by their list fields: 7 clusters and tokens do
	// not count (no ACL), 5 clusters, 2 queries, 1 alert, 1 legacy
	// dashboard, 1 endpoint and 1 app minus the unrelated ones.
	if st.Classes["permissions-read"] == 0 || st.Classes["permissions-read"] > 31 {
		t.Errorf("permission reads = %d, want between 1 and the 31 objects with an ACL", st.Classes["permissions-read"])
	}
	for _, rc := range st.Requests {
		if rc.Method != "GET" {
			t.Errorf("audit sent %s %s", rc.Method, rc.Route)
		}
	}
}

// TestAuditPermissionScopes: "none" reads no ACL and asks jobs/get for the
// run-as of the jobs that matter; "all" reads every ACL.
func TestAuditPermissionScopes(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}, Permissions: PermissionsNone})
	if err != nil {
		t.Fatal(err)
	}
	st := e.srv.Stats()
	if n := st.Classes["permissions-read"]; n != 0 {
		t.Errorf("permission reads = %d with --permissions none", n)
	}
	// Jobs tied to alice without an explicit run_as: 1001, 1002, 1006 and
	// 2001 (1005, whose creator was deleted, names its run-as).
	if n := st.Count("GET", "/api/2.2/jobs/get"); n != 4 {
		t.Errorf("jobs/get = %d, want 4", n)
	}
	if f := findingFor(t, r, "alice@corp.test", KindJob, "alice-nightly"); f.Severity != SeverityBreaks || f.RelationText() != "created+runs-as" {
		t.Errorf("nightly job without ACLs = %s", row(f))
	}
	for _, f := range r.Findings {
		if slices.Contains(f.Relations, RelSoleManager) {
			t.Errorf("sole-manager finding without ACLs: %s", row(f))
		}
	}

	e = newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	if _, err := e.runJSON(t, Options{Users: []string{"carol@corp.test"}, Permissions: PermissionsAll}); err != nil {
		t.Fatal(err)
	}
	// Every object with an ACL in the three workspaces: 31 in ws-main less
	// 7 tokens, 1 job in ws-second, 1 cluster in ws-local; and the grants
	// of the (empty) metastore ws-main and ws-second share, read once.
	if n := e.srv.Stats().Classes["permissions-read"]; n != 24+1+1+1 {
		t.Errorf("permission reads = %d, want 27", n)
	}
}

// TestAuditKindNotCovered: a resource kind that fails is reported as not
// covered (never as no findings) and the run ends with a PartialError,
// after writing the report.
func TestAuditKindNotCovered(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	// (A 403 there would say the caller is not an admin: see
	// TestAuditNonAdmin.)
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/token-management/tokens$`, Status: 400,
		Body: `{"error_code":"INVALID_STATE","message":"Token listing is unavailable."}`}); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}, Workspaces: []string{"ws-main"}})
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 || !slices.Equal(pe.NotCovered, []string{"ws-main (1001): token"}) {
		t.Fatalf("err = %v, want a PartialError for ws-main tokens", err)
	}
	if len(r.Findings) == 0 || r.Findings[0].Severity != SeverityNotCovered || r.Findings[0].Kind != KindToken ||
		!strings.Contains(r.Findings[0].Reason, "INVALID_STATE") {
		t.Errorf("first finding = %+v, want the token gap", r.Findings[0])
	}
	if len(r.Workspaces) != 1 || r.Workspaces[0].Coverage != CoveragePartial {
		t.Errorf("coverage = %+v", r.Workspaces)
	}
	for _, f := range r.Findings[1:] {
		if f.Kind == KindToken {
			t.Errorf("token finding despite the failed list: %s", row(f))
		}
	}
	if !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Kind == KindJob && f.Severity == SeverityBreaks }) {
		t.Error("the other kinds were not audited")
	}
	if !strings.Contains(e.stderr.String(), `WARN audit not covered part="ws-main (1001): token"`) {
		t.Errorf("stderr lacks the warning:\n%s", e.stderr)
	}
}

// TestAuditWorkspaceNotCovered: a workspace none of whose lists can be read
// is not covered; the others are audited; exit code 2.
func TestAuditWorkspaceNotCovered(t *testing.T) {
	// Workspaces run one at a time, in listing order, so the fault lets
	// ws-main's 22 list requests through (clusters and Git folders take
	// two) and fails every later one.
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, func(s *scim.Settings) { s.Parallel = 1 })
	lists := `^/api/(2\.0/token-management/tokens|2\.2/jobs/list|2\.1/clusters/list|2\.0/sql/warehouses|2\.0/pipelines|2\.0/sql/queries|2\.0/sql/alerts|2\.0/alerts|2\.0/preview/sql/dashboards|2\.0/lakeview/dashboards|2\.0/serving-endpoints|2\.0/apps|` +
		`2\.0/mlflow/experiments/list|2\.0/mlflow/registered-models/list|2\.0/instance-pools/list|2\.0/policies/clusters/list|2\.0/secrets/scopes/list|2\.0/vector-search/endpoints|2\.0/repos|2\.0/workspace/list)$`
	if err := e.srv.AddFault(sandbox.Fault{PathRegexp: lists, Status: 403, Offset: 22}); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}, Workspaces: []string{"ws-main", "ws-second"}})
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a PartialError", err)
	}
	if len(pe.NotCovered) != len(ObjectKinds()) || !strings.HasPrefix(pe.NotCovered[0], "ws-second (1002): ") {
		t.Errorf("not covered = %v", pe.NotCovered)
	}
	cov := map[string]string{}
	for _, w := range r.Workspaces {
		cov[w.Name] = w.Coverage
	}
	if cov["ws-main"] != CoverageFull || cov["ws-second"] != CoverageNone {
		t.Errorf("coverage = %v", cov)
	}
	for _, f := range r.Findings {
		if f.Workspace.Name == "ws-second" && f.Severity != SeverityNotCovered {
			t.Errorf("finding in the failed workspace: %s", row(f))
		}
	}
	if !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Workspace.Name == "ws-main" && f.Kind == KindJob }) {
		t.Error("ws-main was not audited")
	}
}

// TestAuditRetriesThrottling: throttled list and permission reads are
// retried; the report is complete.
func TestAuditRetriesThrottling(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	if err := e.srv.AddFault(sandbox.Fault{PathRegexp: `^/api/2\.0/permissions/`, Status: 429, Times: 3}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddFault(sandbox.Fault{PathRegexp: `^/api/2\.2/jobs/list$`, Status: 503, Times: 2}); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(rows(r, nil)); n != 29 {
		t.Errorf("%d findings after retries, want 29", n)
	}
}

// TestAuditWithoutAccount audits the single --host workspace, resolving
// identities in its SCIM API.
func TestAuditWithoutAccount(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, func(s *scim.Settings) { s.AccountID = "" })
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(r.Workspaces) != 1 || r.Workspaces[0].ID != 1001 {
		t.Fatalf("workspaces = %+v, want only ws-main (the host's first workspace)", r.Workspaces)
	}
	id, _ := identityIn(r, "alice@corp.test")
	if id.Scope != "workspace" || id.Status != StatusActive {
		t.Errorf("identity = %+v", id)
	}
	if n := len(rows(r, nil)); n != 27 {
		t.Errorf("%d findings in ws-main, want 27", n)
	}
}

// TestAuditBadInput: bad options fail with an InputError before any
// request.
func TestAuditBadInput(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "ids.txt")
	if err := os.WriteFile(badFile, []byte("# audit list\nuser:alice@corp.test\nrobot-7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty.txt")
	if err := os.WriteFile(emptyFile, []byte("# nothing\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(existing, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"nothing selected", Options{}, "audit: no identities to audit: pass --user"},
		{"all and user", Options{All: true, Users: []string{"a@b.test"}}, "--all: cannot be combined"},
		{"inactive and group", Options{Inactive: true, Groups: []string{"g"}}, "--inactive: cannot be combined"},
		{"bad format", Options{Users: []string{"a@b.test"}, Format: "pdf"}, "--output pdf: unknown format: use table, csv, json, xlsx or html"},
		{"xlsx to stdout", Options{Users: []string{"a@b.test"}, Format: FormatXLSX}, "--output xlsx: a workbook cannot go to stdout"},
		{"bad permissions", Options{Users: []string{"a@b.test"}, Permissions: "some"}, "--permissions some: unknown scope"},
		{"empty name", Options{Users: []string{" "}}, "--user: empty name"},
		{"bad file line", Options{FromFile: badFile}, badFile + `:3: "robot-7" has no type`},
		{"empty file", Options{FromFile: emptyFile}, "no identities in the file"},
		{"missing file", Options{FromFile: filepath.Join(dir, "nope.txt")}, "no such file or directory"},
		{"existing output", Options{Users: []string{"a@b.test"}, Format: FormatCSV, Out: existing}, "exists: pass --force to overwrite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
			err := e.run(t, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if n := e.srv.Stats().Total; n != 0 {
				t.Errorf("%d requests before failing on bad input", n)
			}
			if b, _ := os.ReadFile(existing); string(b) != "old" {
				t.Error("existing output was changed")
			}
		})
	}
}

// TestAuditUnknownWorkspace names the valid workspaces.
func TestAuditUnknownWorkspace(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	err := e.run(t, Options{Users: []string{"alice@corp.test"}, Workspaces: []string{"ws-main", "ws-nope"}})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Input != "--workspace ws-nope" || !strings.Contains(ie.Fix, "ws-main, ws-second, ws-local") {
		t.Fatalf("err = %v", err)
	}
	if st := e.srv.Stats(); st.Count("GET", "/api/2.2/jobs/list") != 0 {
		t.Error("objects were listed despite the bad --workspace")
	}
}

// TestAuditFromFile reads identities from a file.
func TestAuditFromFile(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	path := e.path("ids.txt")
	if err := os.WriteFile(path, []byte("\ufeff# offboarding\ndave@corp.test\nservice-principal:5f0c3a1e-0000-4000-8000-000000000002\n\nuser:DAVE@corp.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{FromFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Identities) != 2 {
		t.Errorf("identities = %+v, want dave and old-sp once each", r.Identities)
	}
}

// TestAuditDefaultSeed is the README example: the default sandbox seed's
// elena.patel, whose HTML report shows her tokens, jobs and clusters.
func TestAuditDefaultSeed(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	out := e.path("impact.html")
	if err := e.run(t, Options{Users: []string{"elena.patel@acme.test"}, Format: FormatHTML, Out: out}); err != nil {
		t.Fatalf("Run: %v\n%s", err, e.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"elena.patel@acme.test", ">token<", ">job<", ">cluster<", "nightly-sales-etl", "elena-dev", "airflow integration"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestAuditFormats writes the XLSX and HTML reports and the terminal table.
func TestAuditFormats(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	opts := Options{Users: []string{"alice@corp.test"}, Groups: []string{"nested"}}

	xlsx := e.path("impact.xlsx")
	o := opts
	o.Format, o.Out = FormatXLSX, xlsx
	if err := e.run(t, o); err != nil {
		t.Fatal(err)
	}
	sheets := xlsxSheets(t, xlsx)
	wantSheets := []string{"Summary", "Identities", "Coverage", "Metastore coverage", "Tokens", "Jobs", "Clusters", "Warehouses", "Pipelines",
		"Queries", "Alerts", "Legacy dashboards", "Dashboards", "Serving endpoints", "Apps", "Home folders", "Workspace access"}
	if !slices.Equal(sheets, wantSheets) {
		t.Errorf("sheets = %v, want %v", sheets, wantSheets)
	}
	tokens := xlsxRows(t, xlsx, "Tokens")
	if len(tokens) != 1+6 || !slices.Contains(tokens[0], "expires") || !slices.Contains(tokens[0], "last_used") {
		t.Errorf("Tokens sheet: %d rows, header %v", len(tokens), tokens[0])
	}

	html := e.path("impact.html")
	o = opts
	o.Format, o.Out = FormatHTML, html
	if err := e.run(t, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"impact of removing alice@corp.test, nested", "By identity", "By workspace", "Findings by kind and severity", `id="main-table"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}

	e.stdout.Reset()
	e.deps.Streams.SetStdoutTTY(true)
	e.deps.Streams.SetTerminalWidth(200)
	if err := e.run(t, Options{Users: []string{"alice@corp.test"}}); err != nil {
		t.Fatal(err)
	}
	// A reason too long for its column is printed, whole, indented under
	// its row.
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(e.stdout.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "    ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1+29 || !strings.HasPrefix(lines[0], "SEVERITY") || strings.Contains(e.stdout.String(), "\t") ||
		!strings.HasPrefix(lines[1], "breaks ") || !strings.Contains(e.stdout.String(), "(those other identities use are listed as workspace-file)") {
		t.Errorf("terminal table:\n%s", e.stdout)
	}
}

// TestCommandFlags checks that the command only turns flags into Options.
func TestCommandFlags(t *testing.T) {
	streams, _, _ := reports.Test()
	var got Options
	cmd := newCommand(streams, nil, func(_ context.Context, o Options, d Deps) error {
		if d.Streams != streams {
			t.Error("streams not passed on")
		}
		got = o
		return nil
	})
	app := &cliApp{cmd: cmd}
	err := app.run("audit", "--user", "a@x.test", "--user", "b@x.test", "--service-principal", "app-1", "--group", "g1",
		"--from-file", "ids.txt", "--workspace", "prod", "--workspace", "42", "--format", "html", "--out", "r.html", "--force", "--permissions", "all")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Users: []string{"a@x.test", "b@x.test"}, ServicePrincipals: []string{"app-1"}, Groups: []string{"g1"},
		FromFile: "ids.txt", Workspaces: []string{"prod", "42"}, Format: FormatHTML, Out: "r.html", Force: true, Permissions: PermissionsAll}
	if !equalOptions(got, want) {
		t.Errorf("options = %+v, want %+v", got, want)
	}
	if err := app.run("audit", "--inactive"); err != nil || !got.Inactive || got.Format != FormatTable {
		t.Errorf("--inactive: %+v, %v", got, err)
	}
	// A group's display name may end with a space; the flag keeps it.
	if err := app.run("audit", "--group", "trailing space "); err != nil || !slices.Equal(got.Groups, []string{"trailing space "}) {
		t.Errorf("--group with a trailing space: %q, %v", got.Groups, err)
	}
	// So may a workspace's name.
	if err := app.run("audit", "--all", "--workspace", " ml "); err != nil || !slices.Equal(got.Workspaces, []string{" ml "}) {
		t.Errorf("--workspace with edge spaces: %q, %v", got.Workspaces, err)
	}
	if err := app.run("audit", "extra"); err == nil || !strings.Contains(err.Error(), "takes no arguments") {
		t.Errorf("positional argument: err = %v", err)
	}
}

func equalOptions(a, b Options) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestReadIdentities(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.txt")
	content := "# header\nuser:alice@corp.test\n  bob@corp.test  \nsp:app-1\nservice-principal: app-2\ngroup:Data Eng: EU\nG:x\n" +
		"group: \"trailing space \"\ngroup:\"bi \\\"quoted\\\" team\"\r\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIdentities(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Selector{{PrincipalUser, "alice@corp.test"}, {PrincipalUser, "bob@corp.test"}, {PrincipalServicePrincipal, "app-1"},
		{PrincipalServicePrincipal, "app-2"}, {PrincipalGroup, "Data Eng: EU"}, {PrincipalGroup, "x"},
		{PrincipalGroup, "trailing space "}, {PrincipalGroup, `bi "quoted" team`}}
	if !slices.Equal(got, want) {
		t.Errorf("ReadIdentities = %v, want %v", got, want)
	}
	if _, err := ReadIdentities(filepath.Join(t.TempDir(), "missing.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	for _, bad := range []string{"robot\n", "team:x\n", "user:\n", "group:\"unterminated\n", "group:\" \"\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		var ie *InputError
		if _, err := ReadIdentities(path); !errors.As(err, &ie) || !strings.HasSuffix(ie.Input, ":1") {
			t.Errorf("%q: err = %v, want an InputError naming line 1", bad, err)
		}
	}
}

// TestAuditCancelled: a run cancelled in the middle of the scan (Ctrl-C)
// writes nothing and returns the context's error, which main maps to exit
// code 130.
func TestAuditCancelled(t *testing.T) {
	for _, o := range []Options{{Users: []string{"alice@corp.test"}}, {All: true}} {
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, func(s *scim.Settings) {
			s.OnRequest = func(ev scim.RequestEvent) {
				if ev.Class == scim.ClassPermissionsRead {
					once.Do(cancel)
				}
			}
		})
		o.Format, o.Out = FormatCSV, e.path("r.csv")
		err := Run(ctx, o, e.deps)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%+v: err = %v, want context.Canceled", o, err)
		}
		if _, serr := os.Stat(o.Out); !errors.Is(serr, fs.ErrNotExist) {
			t.Errorf("report written after cancellation: %v", serr)
		}
	}
}

// TestAuditGroupNameKeepsSpaces: a group whose display name ends with a
// space (the default seed has "trailing space ") is found by its exact
// name, not reported as unknown.
func TestAuditGroupNameKeepsSpaces(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	r, err := e.runJSON(t, Options{Groups: []string{"trailing space "}})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, e.stderr)
	}
	id, ok := identityIn(r, "trailing space ")
	if !ok || id.Status == StatusNotFound || id.Type != PrincipalGroup {
		t.Fatalf("group %q: %+v (found %v), want a resolved group; identities: %+v", "trailing space ", id, ok, r.Identities)
	}
	for _, f := range r.Findings {
		if f.Kind == KindIdentity {
			t.Errorf("unexpected not-found finding: %s", row(f))
		}
	}
}

// TestAuditAllWorkspaceLookupFails: with --all, a workspace whose SCIM
// directory cannot be read leaves the names seen there unresolved and the
// workspace not covered for identities (exit code 2); the report is still
// written with everything else.
func TestAuditAllWorkspaceLookupFails(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/preview/scim/v2/Users$`, Status: 403,
		Body: `{"error_code":"PERMISSION_DENIED","message":"no SCIM read"}`}); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{All: true})
	var pe *PartialError
	if !errors.As(err, &pe) || !slices.ContainsFunc(pe.NotCovered, func(s string) bool { return strings.HasSuffix(s, ": identity") }) {
		t.Fatalf("err = %v, want a PartialError naming an identity gap", err)
	}
	got := map[string]IdentityStatus{}
	for _, i := range r.Identities {
		got[i.Name] = i.Status
	}
	if got["local.user@corp.test"] != StatusUnresolved || got["alice@corp.test"] != StatusActive {
		t.Errorf("identities = %v, want local.user unresolved and alice active", got)
	}
	if f := findingFor(t, r, "alice@corp.test", KindJob, "alice-nightly"); f.Severity != SeverityBreaks {
		t.Errorf("alice's job = %s", row(f))
	}
	if !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Kind == KindIdentity && f.Severity == SeverityNotCovered }) {
		t.Error("no not-covered finding for the identity lookup")
	}
}

// TestAuditAllAccountLookupFails: with --all, an account directory that
// cannot be read fails the run with the lookup's error (no report), rather
// than a crash.
func TestAuditAllAccountLookupFails(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/accounts/[^/]+/scim/v2/Users$`, Status: 400,
		Body: `{"error_code":"INVALID_PARAMETER_VALUE","message":"bad filter"}`}); err != nil {
		t.Fatal(err)
	}
	out := e.path("all.json")
	err := e.run(t, Options{All: true, Format: FormatJSON, Out: out})
	if !errors.Is(err, scim.ErrBadRequest) || !strings.HasPrefix(err.Error(), "list every identity: ") {
		t.Fatalf("err = %v, want the account listing's 400 under list every identity", err)
	}
	if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("report written after a failed run: %v", serr)
	}
}

// TestAuditNonAdmin: run with a non-admin token, the lists show only what
// the caller can access, so every kind of the workspace is reported not
// covered (token management's 403 tells the caller is no admin there),
// never as "no findings", and the run ends with a PartialError.
func TestAuditNonAdmin(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	// A workspace user has no account API: the session's host is the
	// first workspace (no account id), named after the host.
	e.deps.Connect = func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: e.srv.URL(), Token: e.srv.UserToken(), Hermetic: true,
			Rates: scim.UnlimitedRates(), Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	}
	r, err := e.runJSON(t, Options{Users: []string{"carol@corp.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 {
		t.Fatalf("err = %v, want a PartialError", err)
	}
	var want []string
	for _, k := range ObjectKinds() {
		want = append(want, "127.0.0.1 (1001): "+string(k))
	}
	// Nor is a user the metastore's admin: its lists are partial too.
	want = append(want, "metastore metastore-b8abb695: metastore")
	if !slices.Equal(pe.NotCovered, want) {
		t.Errorf("not covered %v, want every kind %v", pe.NotCovered, want)
	}
	if len(r.Workspaces) != 1 || r.Workspaces[0].Coverage == CoverageFull {
		t.Errorf("coverage = %+v", r.Workspaces)
	}
	gaps := 0
	for _, f := range r.Findings {
		if f.Severity != SeverityNotCovered {
			continue
		}
		gaps++
		if f.Kind == KindMetastore && !strings.Contains(f.Reason, "not an admin of the metastore") {
			t.Errorf("gap %s: reason %q", row(f), f.Reason)
		}
		if f.Kind != KindToken && f.Kind != KindMetastore && !strings.Contains(f.Reason, "not an admin of this workspace") {
			t.Errorf("gap %s: reason %q", row(f), f.Reason)
		}
	}
	if gaps != len(want) || r.Findings[0].Severity != SeverityNotCovered {
		t.Errorf("%d not-covered findings first of %v, want %d", gaps, rows(r, nil), len(want))
	}
	// The table says so too.
	e.stdout.Reset()
	if err := e.run(t, Options{Users: []string{"carol@corp.test"}, Format: FormatTable}); !errors.As(err, &pe) {
		t.Fatalf("table run: %v", err)
	}
	if out := e.stdout.String(); !strings.Contains(out, "not-covered") || strings.Contains(strings.ToLower(out), "no findings") {
		t.Errorf("table output:\n%s", out)
	}
}

// TestAuditAllProgressCoversTheIdentityList: --all lists every identity
// while the objects are scanned, and the progress lasts until that list
// is done too (it used to close with the scan, leaving a bar at 100% and,
// off a terminal, no heartbeat while the list went on).
func TestAuditAllProgressCoversTheIdentityList(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	if _, err := e.runJSON(t, Options{All: true}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	log := e.stderr.String()
	listed := strings.Index(log, `INFO audit done task="every identity" objects=0`)
	finished := strings.Index(log, "INFO audit finished")
	if listed < 0 || finished < listed || !strings.Contains(log[listed:finished], "identities listed") {
		t.Errorf("no progress task for the identity list before the end of the audit:\n%s", log)
	}
}
