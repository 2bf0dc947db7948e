package export

import (
	"archive/zip"
	"context"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// truth is what the sandbox holds, read independently of the export: full
// lists without projection, and every group's members from one GET per
// group (the request pattern the export avoids).
type truth struct {
	ws          []scim.WorkspaceInfo
	users       map[int64][]scim.User
	sps         map[int64]int
	groups      map[int64][]scim.Group
	members     map[int64]map[string][]scim.ComplexValue // workspace -> group id -> members
	assignments map[int64]int
	entitle     map[int64]int
}

func readTruth(t *testing.T, e *testEnv) *truth {
	t.Helper()
	ctx := context.Background()
	sess, err := e.deps.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := sess.Account()
	if err != nil {
		t.Fatal(err)
	}
	tr := &truth{users: map[int64][]scim.User{}, sps: map[int64]int{}, groups: map[int64][]scim.Group{},
		members: map[int64]map[string][]scim.ComplexValue{}, assignments: map[int64]int{}, entitle: map[int64]int{}}
	if tr.ws, err = sess.Workspaces(ctx); err != nil {
		t.Fatal(err)
	}
	for _, info := range tr.ws {
		w, err := sess.Workspace(info)
		if err != nil {
			t.Fatal(err)
		}
		users, err := w.Users.ListAll(ctx, scim.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sps, err := w.ServicePrincipals.ListAll(ctx, scim.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		groups, err := w.Groups.ListAll(ctx, scim.ListOptions{Attributes: []string{"id", "displayName", "meta", "entitlements"}})
		if err != nil {
			t.Fatal(err)
		}
		tr.users[info.ID], tr.sps[info.ID], tr.groups[info.ID] = users, len(sps), groups
		tr.members[info.ID] = map[string][]scim.ComplexValue{}
		grants := map[string][]scim.ComplexValue{}
		for _, g := range groups {
			tr.entitle[info.ID] += len(g.Entitlements)
			grants[g.ID] = g.Entitlements
			full, err := w.Groups.Get(ctx, g.ID, scim.GetOptions{Attributes: []string{"members"}})
			if err != nil {
				t.Fatal(err)
			}
			tr.members[info.ID][g.ID] = full.Members
		}
		// Effective entitlements, from the groups' members as GET returns
		// them: each principal's own, and those of every group that holds
		// it, directly or through nested groups.
		effective := map[string]map[string]bool{}
		own := func(id string, cv []scim.ComplexValue) {
			effective[id] = map[string]bool{}
			for _, v := range cv {
				effective[id][v.Value] = true
			}
		}
		for _, u := range users {
			own(u.ID, u.Entitlements)
		}
		for _, s := range sps {
			own(s.ID, s.Entitlements)
		}
		for gid := range tr.members[info.ID] {
			seen := map[string]bool{gid: true}
			for queue := []string{gid}; len(queue) > 0; queue = queue[1:] {
				for _, m := range tr.members[info.ID][queue[0]] {
					if seen[m.Value] {
						continue
					}
					seen[m.Value] = true
					queue = append(queue, m.Value)
					if set, ok := effective[m.Value]; ok {
						for _, v := range grants[gid] {
							set[v.Value] = true
						}
					}
				}
			}
		}
		for _, set := range effective {
			tr.entitle[info.ID] += len(set)
		}
		if as, err := acct.ListAssignments(ctx, info.ID); err == nil {
			tr.assignments[info.ID] = len(as)
		}
	}
	return tr
}

// refKind returns the kind of a member from its $ref.
func refKind(t *testing.T, ref string) string {
	switch {
	case strings.HasPrefix(ref, "Users/"):
		return kindUser
	case strings.HasPrefix(ref, "ServicePrincipals/"):
		return kindSP
	case strings.HasPrefix(ref, "Groups/"):
		return kindGroup
	}
	t.Fatalf("member $ref %q has no known prefix", ref)
	return ""
}

// directPairs returns "ws group member kind" facts from the truth's GETs.
func (tr *truth) directPairs(t *testing.T) []string {
	var out []string
	for ws, groups := range tr.members {
		for g, members := range groups {
			for _, m := range members {
				out = append(out, fmt.Sprintf("%d %s %s %s", ws, g, m.Value, refKind(t, m.Ref)))
			}
		}
	}
	slices.Sort(out)
	return out
}

// transitivePairs computes, by depth-first search over the truth's
// members, the memberships that hold only through nested groups.
func (tr *truth) transitivePairs() []string {
	var out []string
	for ws, groups := range tr.members {
		for g := range groups {
			direct := map[string]bool{}
			for _, m := range groups[g] {
				direct[m.Value] = true
			}
			seen := map[string]bool{g: true}
			var walk func(id string)
			walk = func(id string) {
				for _, m := range groups[id] {
					if seen[m.Value] {
						continue
					}
					seen[m.Value] = true
					if !direct[m.Value] {
						out = append(out, fmt.Sprintf("%d %s %s", ws, g, m.Value))
					}
					walk(m.Value)
				}
			}
			walk(g)
		}
	}
	slices.Sort(out)
	return out
}

// exportedPairs returns the memberships of relation rel as facts.
func exportedPairs(t *testing.T, tb table, rel string, withKind bool) []string {
	var out []string
	for _, r := range tb.where(t, "relation", rel) {
		f := fmt.Sprintf("%s %s %s", r[tb.col(t, "workspace_id")], r[tb.col(t, "group_id")], r[tb.col(t, "member_id")])
		if withKind {
			f += " " + r[tb.col(t, "member_kind")]
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

var allTables = []string{TableWorkspaces, TableUsers, TableServicePrincipals, TableGroups, TableMemberships,
	TableEntitlements, TableAssignments, TableAccountUsers, TableAccountGroups, TableAccountServicePrincipals, "summary"}

// checkAgainstTruth checks an export of everything against the sandbox.
func checkAgainstTruth(t *testing.T, out map[string]table, tr *truth) {
	t.Helper()
	if got := slices.Sorted(maps.Keys(out)); !reflect.DeepEqual(got, slices.Sorted(slices.Values(allTables))) {
		t.Fatalf("tables = %v, want %v", got, allTables)
	}
	for name, tb := range out {
		var want []string
		for _, c := range tableColumns(name) {
			want = append(want, c.Name)
		}
		if !reflect.DeepEqual(tb.header, want) {
			t.Errorf("%s header = %v, want %v", name, tb.header, want)
		}
	}
	wsTable := out[TableWorkspaces]
	if len(wsTable.rows) != len(tr.ws) {
		t.Fatalf("workspaces: %d rows, want %d", len(wsTable.rows), len(tr.ws))
	}
	for _, info := range tr.ws {
		id := strconv.FormatInt(info.ID, 10)
		row := wsTable.one(t, "workspace_id", id)
		want := map[string]string{
			"workspace_name":     info.Name,
			"users":              strconv.Itoa(len(tr.users[info.ID])),
			"service_principals": strconv.Itoa(tr.sps[info.ID]),
			"groups":             strconv.Itoa(len(tr.groups[info.ID])),
			"direct_memberships": strconv.Itoa(len(out[TableMemberships].where(t, "workspace_id", id, "relation", relDirect))),
			"entitlements":       strconv.Itoa(tr.entitle[info.ID]),
			"export_status":      statusOK,
			"error":              "",
		}
		if n, ok := tr.assignments[info.ID]; ok {
			want["assignments"] = strconv.Itoa(n)
		} else {
			want["assignments"] = ""
		}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("workspace %s: %s = %q, want %q", info.Name, k, row[k], v)
			}
		}
		for table, n := range map[string]int{
			TableUsers:             len(tr.users[info.ID]),
			TableServicePrincipals: tr.sps[info.ID],
			TableGroups:            len(tr.groups[info.ID]),
			TableEntitlements:      tr.entitle[info.ID],
			TableAssignments:       tr.assignments[info.ID],
		} {
			if got := len(out[table].where(t, "workspace_id", id)); got != n {
				t.Errorf("workspace %s: %s has %d rows, want %d", info.Name, table, got, n)
			}
		}
	}
	m := out[TableMemberships]
	if got, want := exportedPairs(t, m, relDirect, true), tr.directPairs(t); !reflect.DeepEqual(got, want) {
		t.Errorf("direct memberships differ from GET members:\n%s", diffLines(want, got))
	}
	if got, want := exportedPairs(t, m, relTransitive, false), tr.transitivePairs(); !reflect.DeepEqual(got, want) {
		t.Errorf("transitive memberships differ from the closure of GET members:\n%s", diffLines(want, got))
	}
	if len(exportedPairs(t, m, relTransitive, false)) == 0 {
		t.Error("no transitive memberships: the seed must nest groups")
	}
	checkSorted(t, out)
}

// diffLines lists the lines only in want (-) or only in got (+).
func diffLines(want, got []string) string {
	var b strings.Builder
	w, g := map[string]bool{}, map[string]bool{}
	for _, s := range want {
		w[s] = true
	}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		if !g[s] {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	for _, s := range got {
		if !w[s] {
			fmt.Fprintf(&b, "+ %s\n", s)
		}
	}
	if b.Len() == 0 {
		return fmt.Sprintf("(same set, %d vs %d lines: duplicates)", len(want), len(got))
	}
	return b.String()
}

// checkSorted checks that rows are ordered by workspace id (numerically),
// then by the table's name column, case-insensitively.
func checkSorted(t *testing.T, out map[string]table) {
	t.Helper()
	keys := map[string]string{TableUsers: "user_name", TableServicePrincipals: "display_name",
		TableGroups: "display_name", TableMemberships: "group_name", TableAccountUsers: "user_name",
		TableAccountGroups: "display_name"}
	for name, key := range keys {
		tb := out[name]
		wsCol := slices.Index(tb.header, "workspace_id")
		k := tb.col(t, key)
		for i := 1; i < len(tb.rows); i++ {
			a, b := tb.rows[i-1], tb.rows[i]
			if wsCol >= 0 && a[wsCol] != b[wsCol] {
				if compareIDs(a[wsCol], b[wsCol]) > 0 {
					t.Errorf("%s: row %d: workspace %s after %s", name, i+1, b[wsCol], a[wsCol])
				}
				continue
			}
			if compareNames(a[k], b[k]) > 0 {
				t.Errorf("%s: row %d: %q sorts before %q", name, i+1, b[k], a[k])
			}
		}
	}
}

// TestExportDefaultSeed exports the default seed in every format and checks
// every table against the sandbox, read independently, plus sample values.
// The three formats must hold the same values.
func TestExportDefaultSeed(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	tr := readTruth(t, e)
	e.srv.ResetStats()
	var first map[string]table
	var firstAbout about
	for _, format := range []string{"csv", "json", "xlsx"} {
		t.Run(format, func(t *testing.T) {
			path := e.path("export-" + format)
			if err := Run(context.Background(), Options{Format: format, Out: path}, e.deps); err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkMode(t, path)
			out := readOutput(t, format, path)
			checkAgainstTruth(t, out, tr)
			checkDefaultSeedSamples(t, out)
			ab := readAbout(t, format, path)
			for name, st := range ab.tables {
				if st[0] != "ok" || st[1] != strconv.Itoa(len(out[name].rows)) {
					t.Errorf("about: %s = %q, want ok with %d rows", name, st, len(out[name].rows))
				}
			}
			if len(ab.tables) != len(out) {
				t.Errorf("about lists %d tables, the output has %d", len(ab.tables), len(out))
			}
			if ab.fields["status"] != "complete" || ab.fields["account_id"] != e.srv.AccountID() || ab.fields["host"] != e.srv.URL() {
				t.Errorf("about fields = %v", ab.fields)
			}
			if ab.fields["format"] != map[string]string{"csv": "csv", "json": "json", "xlsx": "xlsx"}[format] {
				t.Errorf("about: format = %q", ab.fields["format"])
			}
			delete(ab.fields, "format")
			if first == nil {
				first, firstAbout = out, ab
				return
			}
			if !reflect.DeepEqual(ab, firstAbout) {
				t.Errorf("%s: about differs from csv:\n%v\n%v", format, ab, firstAbout)
			}
			for name, tb := range out {
				if !reflect.DeepEqual(tb.rows, first[name].rows) {
					t.Errorf("%s: %s rows differ from csv", format, name)
				}
			}
		})
	}
	st := e.srv.Stats()
	for _, route := range []string{"/api/2.0/preview/scim/v2/Users/{id}", "/api/2.0/preview/scim/v2/Groups/{id}",
		"/api/2.0/preview/scim/v2/ServicePrincipals/{id}"} {
		if n := st.Count("", route); n != 0 {
			t.Errorf("the export made %d requests to %s; the lists must answer everything", n, route)
		}
	}
}

// checkMode checks that the output (and the files of an output directory)
// are private.
func checkMode(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsDir() {
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, st.Mode().Perm())
		}
		return
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s: mode %v, want no group or other access", path, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(path)
	for _, en := range entries {
		info, _ := en.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s/%s: mode %v, want 0600", path, en.Name(), info.Mode().Perm())
		}
	}
}

// checkDefaultSeedSamples checks values known from sandbox/seeds/default.json.
func checkDefaultSeedSamples(t *testing.T, out map[string]table) {
	t.Helper()
	const prod, legacy = "6051921418418891", "6051921418418894"
	ws := out[TableWorkspaces]
	for _, c := range []struct{ id, fed string }{{prod, "true"}, {legacy, "false"}} {
		row := ws.one(t, "workspace_id", c.id)
		if row["identity_federated"] != c.fed || row["cloud"] != "aws" || row["status"] != "RUNNING" {
			t.Errorf("workspace %s = %v", c.id, row)
		}
	}
	if row := ws.one(t, "workspace_id", legacy); row["assignments"] != "" || row["account_groups"] != "0" {
		t.Errorf("legacy workspace: assignments %q (want empty: not federated), account groups %q", row["assignments"], row["account_groups"])
	}

	users := out[TableUsers]
	aisha := users.one(t, "workspace_id", prod, "user_name", "aisha.adeyemi@acme.test")
	want := map[string]string{"workspace_name": "acme-prod", "id": "1100000000000001", "display_name": "Aisha Adeyemi",
		"active": "true", "account_user": "true", "emails": "aisha.adeyemi@acme.test",
		"groups": "admins; platform-admins; users", "group_count": "3"}
	for k, v := range want {
		if aisha[k] != v {
			t.Errorf("users: aisha in acme-prod: %s = %q, want %q", k, aisha[k], v)
		}
	}
	// The legacy workspace's local namesake is not the account user.
	if local := users.one(t, "workspace_id", legacy, "user_name", "aisha.adeyemi@acme.test"); local["account_user"] != "false" || local["id"] != "1500000000000010" {
		t.Errorf("users: local aisha in acme-legacy = %v", local)
	}
	if y := users.one(t, "workspace_id", legacy, "user_name", "yusuf.varga@acme.test"); y["active"] != "false" {
		t.Errorf("users: yusuf.varga active = %q, want false", y["active"])
	}
	elena := users.one(t, "workspace_id", prod, "user_name", "elena.patel@acme.test")
	if elena["entitlements"] != "allow-cluster-create" {
		t.Errorf("users: elena entitlements = %q", elena["entitlements"])
	}

	sp := out[TableServicePrincipals].one(t, "workspace_id", prod, "display_name", "etl-prod")
	if sp["application_id"] != "b83e9e22-b2ed-4451-bcdd-00b79deb79be" || sp["entitlements"] != "allow-cluster-create; workspace-access" ||
		sp["groups"] != "data-engineers; etl-operators; users" {
		t.Errorf("service_principals: etl-prod = %v", sp)
	}

	groups := out[TableGroups]
	fr := groups.one(t, "workspace_id", prod, "display_name", "Finance Reporting")
	if fr["type"] != groupTypeWorkspace || fr["members"] != "3" || fr["user_members"] != "2" || fr["group_members"] != "1" {
		t.Errorf("groups: Finance Reporting = %v", fr)
	}
	an := groups.one(t, "workspace_id", prod, "display_name", "analysts")
	if an["type"] != groupTypeAccount || an["parent_groups"] != "Finance Reporting" || an["entitlements"] != "databricks-sql-access; workspace-access" {
		t.Errorf("groups: analysts = %v", an)
	}
	// Names that need quoting or escaping survive every format.
	for _, name := range []string{`bi "quoted" team`, `ops\backslash`, "trailing space "} {
		groups.one(t, "workspace_id", prod, "display_name", name)
	}
	groups.one(t, "workspace_id", "6051921418418892", "display_name", "Données €")

	m := out[TableMemberships]
	// oncall holds oncall-primary, so oncall-primary's members are
	// transitive members of oncall and of etl-operators (which holds oncall).
	tr := m.one(t, "workspace_id", prod, "group_name", "etl-operators", "member_name", "farid.fischer@acme.test")
	if tr["relation"] != relTransitive || tr["depth"] != "3" || tr["via"] != "oncall > oncall-primary" {
		t.Logf("memberships of etl-operators: %v", m.where(t, "workspace_id", prod, "group_name", "etl-operators"))
		t.Errorf("memberships: etl-operators/farid = %v", tr)
	}
	d := m.one(t, "workspace_id", prod, "group_name", "Finance Reporting", "member_name", "analysts")
	if d["relation"] != relDirect || d["depth"] != "1" || d["member_kind"] != kindGroup || d["group_type"] != groupTypeWorkspace {
		t.Errorf("memberships: Finance Reporting/analysts = %v", d)
	}

	ents := out[TableEntitlements]
	if ent := ents.where(t, "workspace_id", prod, "principal_name", "etl-prod"); len(ent) != 4 {
		t.Errorf("entitlements: etl-prod has %d rows, want 4", len(ent))
	}
	for _, tt := range []struct{ name, ent, direct, via string }{
		{"etl-prod", "allow-cluster-create", "true", "data-engineers; etl-operators"},
		{"etl-prod", "allow-instance-pool-create", "false", "etl-operators"},
		// The example: aisha.lopez's group grants SQL access.
		{"aisha.lopez@acme.test", "databricks-sql-access", "false", "analysts; Finance Reporting > analysts; users"},
		{"farid.fischer@acme.test", "allow-instance-pool-create", "false", "etl-operators > oncall > oncall-primary"},
	} {
		e := ents.one(t, "workspace_id", prod, "principal_name", tt.name, "entitlement", tt.ent)
		if e["direct"] != tt.direct || e["via_groups"] != tt.via {
			t.Errorf("entitlements: %s %s = %v, want direct %s via %q", tt.name, tt.ent, e, tt.direct, tt.via)
		}
	}
	if a := users.one(t, "workspace_id", prod, "user_name", "aisha.adeyemi@acme.test"); a["workspace_admin"] != "true" {
		t.Errorf("users: aisha.adeyemi (in admins) workspace_admin = %q", a["workspace_admin"])
	}
	if a := users.one(t, "workspace_id", prod, "user_name", "aisha.lopez@acme.test"); a["workspace_admin"] != "false" {
		t.Errorf("users: aisha.lopez workspace_admin = %q", a["workspace_admin"])
	}
	as := out[TableAssignments].one(t, "workspace_id", prod, "principal_name", "platform-admins")
	if as["principal_kind"] != kindGroup || as["permissions"] != "ADMIN" || as["principal_id"] != "1200000000000004" {
		t.Errorf("assignments: platform-admins = %v", as)
	}
	if n := len(out[TableAccountUsers].rows); n != 150 {
		t.Errorf("account_users: %d rows, want 150", n)
	}
	if n := len(out[TableAccountServicePrincipals].rows); n != 8 {
		t.Errorf("account_service_principals: %d rows, want 8", n)
	}
	if g := out[TableAccountGroups].one(t, "display_name", "R&D leadership"); g["account_id"] == "" {
		t.Errorf("account_groups: R&D leadership = %v", g)
	}
	sum := out["summary"]
	if len(sum.rows) != 4 || sum.one(t, "workspace", "acme-legacy")["users"] != "17" {
		t.Errorf("summary = %v", sum.rows)
	}
}

// TestXLSXHasSummaryChart checks the workbook's Summary sheet has a chart.
func TestXLSXHasSummaryChart(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("out.xlsx")
	if err := Run(context.Background(), Options{Out: path, Include: []string{"users"}}, e.deps); err != nil {
		t.Fatal(err)
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var charts int
	for _, f := range z.File {
		if strings.HasPrefix(f.Name, "xl/charts/chart") {
			charts++
		}
	}
	if charts != 1 {
		t.Errorf("%d charts in the workbook, want 1", charts)
	}
	out := readXLSX(t, path)
	if got := slices.Sorted(maps.Keys(out)); !reflect.DeepEqual(got, []string{"summary", TableUsers, TableWorkspaces}) {
		t.Errorf("sheets = %v", got)
	}
}

// TestXLSXForReviewers opens the export's workbook with excelize and
// checks what a reviewer relies on: About first, each sheet's declared
// dimension its real range, print settings, and the properties naming
// dbiam and the export's time.
func TestXLSXForReviewers(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("out.xlsx")
	if err := Run(context.Background(), Options{Out: path}, e.deps); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := []string{"About", "Summary", TableWorkspaces, TableUsers, TableServicePrincipals, TableGroups, TableMemberships,
		TableEntitlements, TableAssignments, TableAccountUsers, TableAccountGroups, TableAccountServicePrincipals}
	if got := f.GetSheetList(); !slices.Equal(got, want) {
		t.Fatalf("sheets = %q, want %q", got, want)
	}
	for _, sheet := range want {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		width := 0
		for _, r := range rows {
			width = max(width, len(r))
		}
		if sheet == "Summary" {
			width = len(summaryColumns)
		}
		last, _ := excelize.CoordinatesToCellName(width, len(rows))
		if dim, err := f.GetSheetDimension(sheet); err != nil || dim != "A1:"+last {
			t.Errorf("%s: dimension %q, %v; want A1:%s", sheet, dim, err, last)
		}
		lay, err := f.GetPageLayout(sheet)
		if err != nil || *lay.Orientation != "landscape" || lay.FitToWidth == nil || *lay.FitToWidth != 1 {
			t.Errorf("%s: page layout %+v, %v; want landscape, one page wide", sheet, lay, err)
		}
	}
	props, err := f.GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	if props.Creator != "dbiam v0.0.0-test" || props.Created != fixedNow.UTC().Format(time.RFC3339) || props.Modified != props.Created {
		t.Errorf("properties = creator %q created %q modified %q", props.Creator, props.Created, props.Modified)
	}
}

// TestMembershipMatchesGETsSynthetic repeats the membership check on a
// generated account with nested account and local groups and a
// non-federated workspace.
func TestMembershipMatchesGETsSynthetic(t *testing.T) {
	seed, err := sandbox.Synthetic("workspaces=3,users=150,groups=30,members=8,sps=6,local-groups=10,seed=3")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sandbox.Options{Seed: seed, PageCap: 25}, nil)
	tr := readTruth(t, e)
	path := e.path("out")
	if err := Run(context.Background(), Options{Format: "json", Out: path, Include: []string{"memberships"}}, e.deps); err != nil {
		t.Fatal(err)
	}
	m := readOutput(t, "json", path)[TableMemberships]
	direct, transitive := exportedPairs(t, m, relDirect, true), exportedPairs(t, m, relTransitive, false)
	if want := tr.directPairs(t); !slices.Equal(direct, want) {
		t.Errorf("direct memberships differ from GET members:\n%s", diffLines(want, direct))
	}
	if want := tr.transitivePairs(); !slices.Equal(transitive, want) {
		t.Errorf("transitive memberships differ:\n%s", diffLines(want, transitive))
	}
	if len(transitive) == 0 {
		t.Error("no transitive memberships: the seed must nest groups")
	}
	t.Logf("%d direct and %d transitive memberships over %d workspaces", len(direct), len(transitive), len(tr.ws))
}
