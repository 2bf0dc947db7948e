package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// coverageSeed is the audit test seed plus a metastore (shared by ws-main
// and ws-second) where frank, who owns nothing in any workspace, owns a
// catalog, a schema, a table and a view, and holds a grant on a catalog of
// the team group; and, in ws-main, erin's notebook run by bob's scheduled
// job, and bob's query, dashboard and trashed dashboard stored in erin's
// home folder (the trashed one is not listed, so not reported).
func coverageSeed(t *testing.T) *sandbox.Seed {
	t.Helper()
	seed := testSeed(t)
	seed.Metastores = []sandbox.SeedMetastore{{
		Name: "corp-main", Owner: "admin@corp.test",
		Catalogs: []sandbox.SeedCatalog{
			{Name: "frank_cat", Owner: "frank@corp.test", Schemas: []sandbox.SeedSchema{{
				Name: "raw", Owner: "frank@corp.test",
				Tables: []sandbox.SeedUCSecurable{{Name: "orders", Owner: "frank@corp.test"},
					{Name: "orders_v", Owner: "frank@corp.test", TableType: "VIEW"}},
			}}},
			{Name: "shared", Owner: "team", Grants: []sandbox.SeedUCGrant{{Principal: "frank@corp.test", Privileges: []string{"USE_CATALOG"}}}},
		},
		StorageCredentials: []sandbox.SeedUCSecurable{{Name: "gone-cred", Owner: "carol@corp.test"}},
	}}
	for i := range seed.Workspaces {
		w := &seed.Workspaces[i]
		if w.WorkspaceID != 1001 {
			continue
		}
		w.Objects.WorkspaceObjects = append(w.Objects.WorkspaceObjects,
			sandbox.SeedWorkspaceObject{Path: "/Users/erin@corp.test/etl/daily"},
			sandbox.SeedWorkspaceObject{Path: "/Users/erin@corp.test/etl/adhoc"})
		w.Objects.Jobs = append(w.Objects.Jobs,
			sandbox.SeedJob{JobID: 1900, Name: "bob-uses-erin", Creator: "bob@corp.test",
				Schedule: &sandbox.SeedSchedule{QuartzCronExpression: "0 0 1 * * ?", TimezoneID: "UTC"},
				Tasks:    []sandbox.SeedTask{{TaskKey: "daily", NotebookPath: "/Workspace/Users/erin@corp.test/etl/daily"}}},
			sandbox.SeedJob{JobID: 1901, Name: "bob-manual", Creator: "bob@corp.test",
				Tasks: []sandbox.SeedTask{{TaskKey: "adhoc", NotebookPath: "/Users/erin@corp.test/etl/adhoc"}}},
			sandbox.SeedJob{JobID: 1902, Name: "bob-missing", Creator: "bob@corp.test",
				Schedule: &sandbox.SeedSchedule{QuartzCronExpression: "0 0 1 * * ?", TimezoneID: "UTC"},
				Tasks:    []sandbox.SeedTask{{TaskKey: "gone", NotebookPath: "/Users/erin@corp.test/etl/deleted-notebook"}}})
		w.Objects.Queries = append(w.Objects.Queries,
			sandbox.SeedQuery{ID: "0e7a1c2d-3b4f-4a5e-8d6c-7f8091a2b3c4", DisplayName: "bob-query-in-erin", Owner: "bob@corp.test", ParentPath: "/Users/erin@corp.test/shared"})
		w.Objects.LakeviewDashboards = append(w.Objects.LakeviewDashboards,
			sandbox.SeedLakeviewDashboard{DashboardID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", DisplayName: "bob-board-in-erin", Owner: "bob@corp.test", ParentPath: "/Users/erin@corp.test"},
			sandbox.SeedLakeviewDashboard{DashboardID: "1f1e2d3c4b5a69788796a5b4c3d2e1f0", DisplayName: "bob-old-board", Owner: "bob@corp.test", ParentPath: "/Users/erin@corp.test", Trashed: true})
	}
	return seed
}

// TestAuditOwnsCatalogOnly: an identity that owns a catalog but nothing in
// any workspace is reported with the catalog and what is in it, ranked by
// the Unity Catalog rules, and its grant as info.
func TestAuditOwnsCatalogOnly(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: coverageSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"frank@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"breaks |  | frank@corp.test | table | frank_cat.raw.orders_v | owns",
		"orphaned |  | frank@corp.test | catalog | frank_cat | owns",
		"orphaned |  | frank@corp.test | schema | frank_cat.raw | owns",
		"orphaned |  | frank@corp.test | table | frank_cat.raw.orders | owns",
		"info |  | frank@corp.test | catalog | shared | granted",
	}
	if got := rows(r, nil); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range r.Findings {
		if f.Metastore == nil || f.Metastore.Name != "corp-main" || !slices.Equal(f.Metastore.Workspaces, []string{"ws-main", "ws-second"}) {
			t.Errorf("%s: metastore %+v", row(f), f.Metastore)
		}
	}
	if f := findingFor(t, r, "frank@corp.test", KindCatalog, "frank_cat"); !strings.Contains(f.Reason, "only a metastore admin can transfer") {
		t.Errorf("catalog reason = %q", f.Reason)
	}
	if f := findingFor(t, r, "frank@corp.test", KindCatalog, "shared"); f.Detail("privileges") != "USE_CATALOG" {
		t.Errorf("grant details = %+v", f.Details)
	}
	for _, w := range r.Workspaces {
		if w.Findings != 0 {
			t.Errorf("workspace %s has %d findings", w.Name, w.Findings)
		}
	}
}

// TestAuditMetastoreReadOnce: a metastore shared by two workspaces is read
// once, through the first of them, and the report says which workspaces it
// serves.
func TestAuditMetastoreReadOnce(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: coverageSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"frank@corp.test"}, Workspaces: []string{"ws-second", "ws-main"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := e.srv.Stats()
	for route, want := range map[string]int{
		"/api/2.1/unity-catalog/current-metastore-assignment": 2, // one per workspace
		"/api/2.1/unity-catalog/metastore_summary":            1,
		"/api/2.1/unity-catalog/catalogs":                     1,
		"/api/2.1/unity-catalog/schemas":                      2, // one per catalog
		"/api/2.1/unity-catalog/tables":                       1, // one per schema
		"/api/2.1/unity-catalog/volumes":                      1,
		"/api/2.1/unity-catalog/functions":                    1,
		"/api/2.1/unity-catalog/models":                       1,
		"/api/2.1/unity-catalog/storage-credentials":          1,
		"/api/2.1/unity-catalog/shares":                       1,
	} {
		if n := st.Count("GET", route); n != want {
			t.Errorf("GET %s: %d requests, want %d", route, n, want)
		}
	}
	if len(r.Metastores) != 1 {
		t.Fatalf("metastores = %+v", r.Metastores)
	}
	m := r.Metastores[0]
	if m.Name != "corp-main" || m.ReadThrough.Name != "ws-main" || !slices.Equal(m.Workspaces, []string{"ws-main", "ws-second"}) ||
		m.Coverage != CoverageFull || m.Objects != 7 || m.Owner != "admin@corp.test" {
		t.Errorf("metastore coverage = %+v", m)
	}
	for _, w := range r.Workspaces {
		if w.Metastore != m.ID {
			t.Errorf("workspace %s metastore %q", w.Name, w.Metastore)
		}
	}
}

// TestAuditDeletedOwner: a securable whose owner was deleted is found by
// the owner's name (not-found) and reported orphaned with its full name.
func TestAuditDeletedOwner(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: coverageSeed(t)}, nil)
	deleteAccountUser(t, e, "carol@corp.test")
	r, err := e.runJSON(t, Options{Users: []string{"carol@corp.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.NotFound) != 1 {
		t.Fatalf("err = %v, want carol not found", err)
	}
	f := findingFor(t, r, "carol@corp.test", KindStorageCred, "gone-cred")
	if f.Severity != SeverityOrphaned || f.ObjectID != "gone-cred" {
		t.Errorf("deleted owner's credential = %s", row(f))
	}
}

// deleteAccountUser deletes the account user named name through account
// SCIM.
func deleteAccountUser(t *testing.T, e *testEnv, name string) {
	t.Helper()
	sess, err := e.deps.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err := sess.Account()
	if err != nil {
		t.Fatal(err)
	}
	us, err := a.Users.ListAll(context.Background(), scim.ListOptions{Filter: scim.Eq("userName", name)})
	if err != nil || len(us) != 1 {
		t.Fatalf("find %s: %v %v", name, us, err)
	}
	if err := a.Users.Delete(context.Background(), us[0].ID); err != nil {
		t.Fatal(err)
	}
}

// TestAuditHomeFolderUsedByOthers: a notebook in the audited identity's
// home folder that another identity's scheduled job runs breaks; one an
// unscheduled job runs is info; a path that no longer exists is left out.
func TestAuditHomeFolderUsedByOthers(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: coverageSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"erin@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		"breaks | ws-main | erin@corp.test | query | bob-query-in-erin | in-home",
		"breaks | ws-main | erin@corp.test | dashboard | bob-board-in-erin | in-home",
		"breaks | ws-main | erin@corp.test | workspace-file | /Users/erin@corp.test/etl/daily | in-home",
		"info | ws-main | erin@corp.test | home-folder | /Users/erin@corp.test | owns",
		"info | ws-main | erin@corp.test | workspace-file | /Users/erin@corp.test/etl/adhoc | in-home",
	}
	if got := rows(r, nil); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f := findingFor(t, r, "erin@corp.test", KindWorkspaceFile, "/Users/erin@corp.test/etl/daily")
	if f.Detail("object_type") != "NOTEBOOK" || !strings.Contains(f.Detail("used_by"), `job "bob-uses-erin" (runs as bob@corp.test)`) {
		t.Errorf("details = %+v", f.Details)
	}
	// The lists of dashboards and queries carry no path: the folder comes
	// from the grants their ACLs inherit from erin's home folder.
	if f := findingFor(t, r, "erin@corp.test", KindQuery, "bob-query-in-erin"); f.Detail("folder") != "/Users/erin@corp.test" ||
		!strings.Contains(f.Reason, "belongs to bob@corp.test") {
		t.Errorf("query: %s %+v", f.Reason, f.Details)
	}
	// bob, the job's and the objects' own identity, is not told about
	// erin's folder.
	r, err = e.runJSON(t, Options{Users: []string{"bob@corp.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Kind == KindWorkspaceFile || slices.Contains(f.Relations, RelInHome) {
			t.Errorf("bob: %s", row(f))
		}
	}
}

// TestAuditFailOn: --fail-on exits 3 when a finding of that severity or
// worse exists, after writing the report, and not otherwise; a gap counts
// as the worst severity and 3 wins over 2.
func TestAuditFailOn(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: coverageSeed(t)}, nil)
	for _, tc := range []struct {
		user, failOn string
		want         int // exit code; 0 for none
	}{
		{"frank@corp.test", "breaks", 3},   // a view he owns breaks
		{"frank@corp.test", "orphaned", 3}, // and worse
		{"erin@corp.test", "stops", 3},     // breaks is worse than stops
		{"carol@corp.test", "stops", 0},    // carol's credential is only orphaned
		{"carol@corp.test", "orphaned", 3}, // ... which is enough here
		{"carol@corp.test", "", 0},         // no gate
		{"frank@corp.test", "not-covered", 0},
	} {
		t.Run(tc.user+" "+tc.failOn, func(t *testing.T) {
			out := e.path(fmt.Sprintf("%s-%s.csv", tc.user, tc.failOn))
			err := e.run(t, Options{Users: []string{tc.user}, FailOn: tc.failOn, Format: FormatCSV, Out: out})
			code := 0
			var coded interface{ ExitCode() int }
			if errors.As(err, &coded) {
				code = coded.ExitCode()
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if code != tc.want {
				t.Errorf("exit code = %d (%v), want %d", code, err, tc.want)
			}
			if _, serr := os.Stat(out); serr != nil {
				t.Errorf("report not written: %v", serr)
			}
		})
	}
	// A gap and a closed gate: 3, and the error still says what is missing.
	if err := e.srv.AddFault(sandbox.Fault{PathRegexp: `^/api/2\.1/unity-catalog/tables$`, Status: 403, Times: 100}); err != nil {
		t.Fatal(err)
	}
	err := e.run(t, Options{Users: []string{"carol@corp.test"}, FailOn: "not-covered", Format: FormatJSON, Out: e.path("gap.json")})
	var ge *GateError
	var pe *PartialError
	if !errors.As(err, &ge) || ge.ExitCode() != 3 || !errors.As(err, &pe) || !strings.Contains(err.Error(), "metastore corp-main: table") {
		t.Errorf("err = %v, want a closed gate wrapping the table gap", err)
	}
	if err := e.run(t, Options{Users: []string{"carol@corp.test"}, FailOn: "info"}); err == nil || !strings.Contains(err.Error(), "--fail-on info: unknown severity") {
		t.Errorf("--fail-on info: err = %v", err)
	}
}

// TestAuditNotMetastoreAdmin: a caller who does not administer the
// metastore sees only part of it: the metastore is not covered (exit code
// 2), never reported as owning nothing.
func TestAuditNotMetastoreAdmin(t *testing.T) {
	seed := coverageSeed(t)
	seed.Metastores[0].Owner = "bob@corp.test"
	e := newEnv(t, sandbox.Options{Seed: seed}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"frank@corp.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || !slices.Contains(pe.NotCovered, "metastore corp-main: metastore") {
		t.Fatalf("err = %v, want the metastore not covered", err)
	}
	if m := r.Metastores[0]; m.Coverage != CoveragePartial || !strings.Contains(m.NotCovered[0].Error, "not an admin of the metastore") {
		t.Errorf("metastore coverage = %+v", m)
	}
}

// TestAuditGroupNamesExact: "ops", "Ops" and "ops " are three groups in
// three workspaces; --group names one exactly, resolved in each workspace
// and reported per workspace, the same on every run.
func TestAuditGroupNamesExact(t *testing.T) {
	seed := testSeed(t)
	seed.Workspaces = append(seed.Workspaces,
		sandbox.SeedWorkspace{WorkspaceID: 1004, WorkspaceName: "ws-a",
			Users: []sandbox.SeedUser{{ID: "701", UserName: "a1@corp.test"}, {ID: "9701", UserName: "admin@corp.test"}},
			Groups: []sandbox.SeedGroup{{ID: "801", DisplayName: "ops", Members: []string{"701"}},
				{ID: "9801", DisplayName: "admins", Members: []string{"9701"}}}},
		sandbox.SeedWorkspace{WorkspaceID: 1005, WorkspaceName: "ws-b",
			Users: []sandbox.SeedUser{{ID: "702", UserName: "b1@corp.test"}, {ID: "9702", UserName: "admin@corp.test"}},
			Groups: []sandbox.SeedGroup{{ID: "802", DisplayName: "Ops", Members: []string{"702"}},
				{ID: "9802", DisplayName: "admins", Members: []string{"9702"}}}},
		sandbox.SeedWorkspace{WorkspaceID: 1006, WorkspaceName: "ws-c",
			Users: []sandbox.SeedUser{{ID: "703", UserName: "c1@corp.test"}, {ID: "9703", UserName: "admin@corp.test"}},
			Groups: []sandbox.SeedGroup{{ID: "803", DisplayName: "ops ", Members: []string{"703"}},
				{ID: "9803", DisplayName: "admins", Members: []string{"9703"}}}},
		sandbox.SeedWorkspace{WorkspaceID: 1007, WorkspaceName: "ws-d",
			Users: []sandbox.SeedUser{{ID: "704", UserName: "d1@corp.test"}, {ID: "9704", UserName: "admin@corp.test"}},
			Groups: []sandbox.SeedGroup{{ID: "804", DisplayName: "ops", Members: []string{"704"}},
				{ID: "9804", DisplayName: "admins", Members: []string{"9704"}}}},
	)
	e := newEnv(t, sandbox.Options{Seed: seed}, nil)
	var first string
	for run := range 5 {
		r, err := e.runJSON(t, Options{Groups: []string{"ops"}})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		var got []string
		for _, i := range r.Identities {
			got = append(got, fmt.Sprintf("%s %q ws=%d via=%v", i.Type, i.Name, i.WorkspaceID, i.Via))
		}
		// Each workspace's "ops" expands to its own members; neither "Ops"
		// nor "ops " is audited.
		want := []string{`user "a1@corp.test" ws=0 via=[ops]`, `user "d1@corp.test" ws=0 via=[ops]`,
			`group "ops" ws=1004 via=[]`, `group "ops" ws=1007 via=[]`}
		if !slices.Equal(got, want) {
			t.Fatalf("run %d identities:\n%s\nwant:\n%s", run, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if run == 0 {
			first = e.stdout.String()
		} else if e.stdout.String() != first {
			t.Fatalf("run %d differs from the first", run)
		}
	}
	// The other spellings are other groups.
	r, err := e.runJSON(t, Options{Groups: []string{"ops ", "Ops"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range r.Identities {
		if i.Type == PrincipalGroup {
			got = append(got, fmt.Sprintf("%q@%s", i.Name, i.WorkspaceName))
		}
	}
	if want := []string{`"Ops"@ws-b`, `"ops "@ws-c`}; !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v", got, want)
	}
	// --all keeps them apart too: four groups in four workspaces.
	r, err = e.runJSON(t, Options{All: true})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, i := range r.Identities {
		if i.Type == PrincipalGroup && strings.EqualFold(strings.TrimSpace(i.Name), "ops") {
			got = append(got, fmt.Sprintf("%q@%s", i.Name, i.WorkspaceName))
		}
	}
	slices.Sort(got)
	if want := []string{`"Ops"@ws-b`, `"ops "@ws-c`, `"ops"@ws-a`, `"ops"@ws-d`}; !slices.Equal(got, want) {
		t.Errorf("--all groups = %v, want %v", got, want)
	}
}

// TestAuditWorkspacesFile: --workspaces-file audits the workspaces of the
// file (as export does), without the account's workspace list.
func TestAuditWorkspacesFile(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: coverageSeed(t)}, nil)
	file := e.path("ws.csv")
	if err := os.WriteFile(file, []byte("id,name,url\n1002,second from file,"+e.srv.URL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}, WorkspacesFile: file})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(r.Workspaces) != 1 || r.Workspaces[0].Name != "second from file" || r.Workspaces[0].ID != 1002 {
		t.Errorf("workspaces = %+v", r.Workspaces)
	}
	if st := e.srv.Stats(); st.Count("GET", "/api/2.0/accounts/{account_id}/workspaces") != 0 {
		t.Errorf("the account's workspaces were listed")
	}
	if f := findingFor(t, r, "alice@corp.test", KindJob, "alice-second-nightly"); f.Workspace.Name != "second from file" {
		t.Errorf("job = %s", row(f))
	}
	err = e.run(t, Options{Users: []string{"alice@corp.test"}, WorkspacesFile: e.path("missing.csv")})
	var ie *InputError
	if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), "--workspaces-file "+e.path("missing.csv")) {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestAuditDemoEveryKindEveryFormat: on the demo account, elena.patel and
// the service principal etl-prod own something of every kind, and every
// report format shows each kind.
func TestAuditDemoEveryKindEveryFormat(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	const etl = "b83e9e22-b2ed-4451-bcdd-00b79deb79be"
	kinds := []Kind{KindExperiment, KindMLModel, KindInstancePool, KindClusterPolicy, KindSecretScope, KindVectorSearch,
		KindRepo, KindHomeFolder, KindWorkspaceFile}
	kinds = append(kinds, MetastoreKinds()...)
	for _, who := range []string{"elena.patel@acme.test", etl} {
		o := Options{Users: []string{"elena.patel@acme.test"}}
		if who == etl {
			o = Options{ServicePrincipals: []string{etl}}
		}
		r, err := e.runJSON(t, o)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		have := map[Kind]bool{}
		for _, f := range r.Findings {
			have[f.Kind] = true
		}
		for _, k := range kinds {
			if !have[k] {
				t.Errorf("%s: no %s finding", who, k)
			}
		}
	}
	o := Options{Users: []string{"elena.patel@acme.test"}}
	var outputs []string
	for _, f := range []Format{FormatTable, FormatCSV, FormatJSON, FormatHTML} {
		e.stdout.Reset()
		o.Format = f
		if err := e.run(t, o); err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, e.stdout.String())
	}
	xlsx := e.path("demo.xlsx")
	o.Format, o.Out = FormatXLSX, xlsx
	if err := e.run(t, o); err != nil {
		t.Fatal(err)
	}
	sheets := strings.Join(xlsxSheets(t, xlsx), "|")
	for i, out := range outputs {
		for _, k := range kinds {
			if !strings.Contains(out, string(k)) {
				t.Errorf("format %d lacks %s", i, k)
			}
		}
		for _, want := range []string{"main.sales.orders_eu", "/Users/elena.patel@acme.test/sales/rollup", "acme-us-east"} {
			if !strings.Contains(out, want) {
				t.Errorf("format %d lacks %q", i, want)
			}
		}
	}
	for _, k := range kinds {
		if !strings.Contains(sheets, sheetName(k)) {
			t.Errorf("workbook has no %q sheet: %s", sheetName(k), sheets)
		}
	}
}
