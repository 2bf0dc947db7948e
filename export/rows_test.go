package export

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// captureSink records rows as canonical text.
type captureSink struct {
	cols []reports.Column
	rows []string
}

func (c *captureSink) WriteRow(vals ...any) error {
	parts := make([]string, len(vals))
	for i, v := range vals {
		s, err := c.cols[i].Format(v)
		if err != nil {
			return err
		}
		parts[i] = s
	}
	c.rows = append(c.rows, strings.Join(parts, "|"))
	return nil
}

func (c *captureSink) Close() error { return nil }

// spoolRows runs wsRows on d and returns the rows of every table, read back
// from the spool.
func spoolRows(t *testing.T, d *wsData, accountUsers map[string]bool, log *bytes.Buffer) (counts, map[string][]string) {
	t.Helper()
	inc, _ := parseInclude(nil)
	r := &runner{cfg: &config{include: inc}, log: reports.NewLogger(log, reports.LoggerOptions{Now: func() time.Time { return fixedNow }})}
	sp, err := newSpool(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	w, err := sp.create("ws")
	if err != nil {
		t.Fatal(err)
	}
	c := r.wsRows(w, []any{"42", "ws"}, d)
	f, err := w.close()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, tb := range workspaceTables {
		sink := &captureSink{cols: columns[tb.table]}
		var fix func([]any)
		if tb.table == TableUsers {
			fix = accountUserFix(accountUsers)
		}
		if err := f.copyTo(tb.table, columns[tb.table], sink, fix); err != nil {
			t.Fatal(err)
		}
		if f.rows(tb.table) != len(sink.rows) {
			t.Errorf("%s: section says %d rows, read %d", tb.table, f.rows(tb.table), len(sink.rows))
		}
		out[tb.table] = sink.rows
	}
	return c, out
}

func ref(id, display string) scim.ComplexValue { return scim.ComplexValue{Value: id, Display: display} }

// TestRowsWithMembershipCycle: groups that contain each other are reported
// as cycles, every membership is listed once, and nothing loops.
func TestRowsWithMembershipCycle(t *testing.T) {
	wsg := &scim.Meta{ResourceType: scim.ResourceTypeWorkspaceGroup}
	d := &wsData{
		reads: reads{read: map[string]bool{readUsers: true, readSPs: true, readGroups: true, readAssignments: true}},
		users: []scim.User{
			{ID: "1", UserName: "ann@x.test", Active: scim.Bool(true), Groups: []scim.ComplexValue{ref("10", "a")},
				Entitlements: []scim.ComplexValue{{Value: "workspace-access"}}},
			{ID: "2", UserName: "bob@x.test", Groups: []scim.ComplexValue{ref("11", "b"), ref("99", "ghost")}},
		},
		sps: []scim.ServicePrincipal{{ID: "3", DisplayName: "bot", ApplicationID: "app-3", Groups: []scim.ComplexValue{ref("11", "b")}}},
		groups: []scim.Group{
			{ID: "10", DisplayName: "a", Meta: wsg, Groups: []scim.ComplexValue{ref("11", "b")}},
			{ID: "11", DisplayName: "b", Meta: &scim.Meta{ResourceType: scim.ResourceTypeAccountGroup}, Groups: []scim.ComplexValue{ref("10", "a")}},
			{ID: "12", DisplayName: "c", Meta: wsg, Groups: []scim.ComplexValue{ref("12", "c")}},
		},
		assignments: []scim.PermissionAssignment{
			{Permissions: []string{"USER"}, Principal: scim.Principal{PrincipalID: 11, GroupName: "b", DisplayName: "b"}},
			{Permissions: []string{"USER", "ADMIN"}, Principal: scim.Principal{PrincipalID: 1, UserName: "ann@x.test", DisplayName: "Ann"}},
		},
	}
	var log bytes.Buffer
	c, rows := spoolRows(t, d, map[string]bool{"1": true}, &log)
	want := map[string][]string{
		TableMemberships: {
			"42|ws|10|a|workspace|1|user|ann@x.test|direct|1|",
			"42|ws|10|a|workspace|11|group|b|direct|1|",
			"42|ws|10|a|workspace|2|user|bob@x.test|transitive|2|b",
			"42|ws|10|a|workspace|3|service-principal|bot|transitive|2|b",
			"42|ws|10|a|workspace|10|group|a|cycle|2|a > b > a",
			"42|ws|11|b|account|2|user|bob@x.test|direct|1|",
			"42|ws|11|b|account|3|service-principal|bot|direct|1|",
			"42|ws|11|b|account|10|group|a|direct|1|",
			"42|ws|11|b|account|1|user|ann@x.test|transitive|2|a",
			"42|ws|11|b|account|11|group|b|cycle|2|b > a > b",
			"42|ws|12|c|workspace|12|group|c|direct|1|",
			"42|ws|12|c|workspace|12|group|c|cycle|1|c > c",
			"42|ws|99|ghost||2|user|bob@x.test|direct|1|",
		},
		TableUsers: {
			// ann holds an ADMIN assignment: a workspace admin.
			"42|ws|1|ann@x.test||true|||true|workspace-access|a|1|true",
			"42|ws|2|bob@x.test|||||false||b; ghost|2|false",
		},
		TableServicePrincipals: {"42|ws|3|app-3|bot||||b|1|false"},
		TableGroups: {
			"42|ws|10|a|workspace||2|1|0|1|||b",
			"42|ws|11|b|account||3|1|1|1|||a",
			"42|ws|12|c|workspace||1|0|0|1|||c",
		},
		TableEntitlements: {"42|ws|user|1|ann@x.test|workspace-access|true||true"},
		TableAssignments: {
			"42|ws|1|user|ann@x.test|Ann|ADMIN; USER|",
			"42|ws|11|group|b|b|USER|",
		},
	}
	for tb, w := range want {
		if !reflect.DeepEqual(rows[tb], w) {
			t.Errorf("%s:\n%s\nwant\n%s", tb, strings.Join(rows[tb], "\n"), strings.Join(w, "\n"))
		}
	}
	got := fmt.Sprintf("%d %d %d %d %d", *c.direct, *c.transitive, *c.inCycles, *c.entitlements, *c.assignments)
	if got != "7 3 3 1 2" {
		t.Errorf("counts direct, transitive, in cycles, entitlements, assignments = %s, want 7 3 3 1 2", got)
	}
	for _, want := range []string{`WARN group membership cycle workspace="42" groups="a; b"`, `groups="c"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

// TestRowsSkipTablesWhoseReadsFailed: a table is written only when every
// read it depends on succeeded.
func TestRowsSkipTablesWhoseReadsFailed(t *testing.T) {
	d := &wsData{
		reads: reads{read: map[string]bool{readUsers: true}},
		users: []scim.User{{ID: "1", UserName: "ann@x.test", Groups: []scim.ComplexValue{ref("10", "a")}}},
	}
	c, rows := spoolRows(t, d, nil, &bytes.Buffer{})
	// The user carries no "active" attribute: the cell says nothing rather
	// than "false".
	// Nor is workspace_admin known without the group list.
	if len(rows[TableUsers]) != 1 || rows[TableUsers][0] != "42|ws|1|ann@x.test|||||||a|1|" {
		t.Errorf("users = %v", rows[TableUsers])
	}
	for _, tb := range []string{TableServicePrincipals, TableGroups, TableMemberships, TableEntitlements, TableAssignments} {
		if len(rows[tb]) != 0 {
			t.Errorf("%s written without its reads: %v", tb, rows[tb])
		}
	}
	if c.users == nil || *c.users != 1 || c.groups != nil || c.direct != nil {
		t.Errorf("counts = %+v", c)
	}
}

// TestEffectiveEntitlements: users and service principals get the
// entitlements their groups grant (nested groups included, each granting
// group with its path), next to their own; workspace_admin follows
// membership of the workspace-local admins group, directly or through
// groups, never an account group of the same name.
func TestEffectiveEntitlements(t *testing.T) {
	wsg := &scim.Meta{ResourceType: scim.ResourceTypeWorkspaceGroup}
	acg := &scim.Meta{ResourceType: scim.ResourceTypeAccountGroup}
	ent := func(vals ...string) []scim.ComplexValue {
		var out []scim.ComplexValue
		for _, v := range vals {
			out = append(out, scim.ComplexValue{Value: v})
		}
		return out
	}
	d := &wsData{
		reads: reads{read: map[string]bool{readUsers: true, readSPs: true, readGroups: true}},
		users: []scim.User{
			// ann: in analysts (grants sql), which is in users (grants
			// workspace-access and sql); and her own cluster-create.
			{ID: "1", UserName: "ann@x.test", Groups: []scim.ComplexValue{ref("20", "analysts")}, Entitlements: ent("allow-cluster-create")},
			// bob: in ops, which is in admins.
			{ID: "2", UserName: "bob@x.test", Groups: []scim.ComplexValue{ref("30", "ops"), ref("21", "users")}},
			// cy: in the account group named admins: not a workspace admin.
			{ID: "3", UserName: "cy@x.test", Groups: []scim.ComplexValue{ref("40", "admins")}},
		},
		sps: []scim.ServicePrincipal{{ID: "5", DisplayName: "etl", ApplicationID: "app-5", Groups: []scim.ComplexValue{ref("31", "admins")}}},
		groups: []scim.Group{
			{ID: "20", DisplayName: "analysts", Meta: acg, Entitlements: ent("databricks-sql-access"), Groups: []scim.ComplexValue{ref("21", "users")}},
			{ID: "21", DisplayName: "users", Meta: wsg, Entitlements: ent("workspace-access", "databricks-sql-access")},
			{ID: "30", DisplayName: "ops", Meta: wsg, Groups: []scim.ComplexValue{ref("31", "admins")}},
			{ID: "31", DisplayName: "admins", Meta: wsg},
			{ID: "40", DisplayName: "admins", Meta: acg},
		},
	}
	_, rows := spoolRows(t, d, nil, &bytes.Buffer{})
	want := map[string][]string{
		TableEntitlements: {
			"42|ws|user|1|ann@x.test|allow-cluster-create|true||false",
			"42|ws|user|1|ann@x.test|databricks-sql-access|false|analysts; users > analysts|false",
			"42|ws|user|1|ann@x.test|workspace-access|false|users > analysts|false",
			"42|ws|user|2|bob@x.test|databricks-sql-access|false|users|true",
			"42|ws|user|2|bob@x.test|workspace-access|false|users|true",
			"42|ws|group|20|analysts|databricks-sql-access|true||false",
			"42|ws|group|21|users|databricks-sql-access|true||false",
			"42|ws|group|21|users|workspace-access|true||false",
		},
		TableUsers: {
			"42|ws|1|ann@x.test||||||allow-cluster-create|analysts|1|false",
			"42|ws|2|bob@x.test|||||||ops; users|2|true",
			"42|ws|3|cy@x.test|||||||admins|1|false",
		},
		TableServicePrincipals: {"42|ws|5|app-5|etl||||admins|1|true"},
	}
	for tb, w := range want {
		if !reflect.DeepEqual(rows[tb], w) {
			t.Errorf("%s:\n%s\nwant\n%s", tb, strings.Join(rows[tb], "\n"), strings.Join(w, "\n"))
		}
	}
}

// TestWorkspaceAdminByAssignment: the holder of an ADMIN permission
// assignment is a workspace admin, and so are the members (nested
// included) of a group assigned ADMIN, whether or not the admins group
// lists them; a USER assignment makes no one an admin. Without the
// assignments read, only membership of admins counts.
func TestWorkspaceAdminByAssignment(t *testing.T) {
	wsg := &scim.Meta{ResourceType: scim.ResourceTypeWorkspaceGroup}
	acg := &scim.Meta{ResourceType: scim.ResourceTypeAccountGroup}
	assign := func(id int64, perms ...string) scim.PermissionAssignment {
		return scim.PermissionAssignment{Permissions: perms, Principal: scim.Principal{PrincipalID: id}}
	}
	data := func(withAssignments bool) *wsData {
		d := &wsData{
			reads: reads{read: map[string]bool{readUsers: true, readSPs: true, readGroups: true, readAssignments: withAssignments}},
			users: []scim.User{
				{ID: "1", UserName: "ann@x.test", Groups: []scim.ComplexValue{ref("30", "ops")}}, // ops is in platform
				{ID: "2", UserName: "bob@x.test"},                                                // assigned ADMIN
				{ID: "3", UserName: "cy@x.test"},                                                 // assigned USER
			},
			sps: []scim.ServicePrincipal{{ID: "5", ApplicationID: "app-5", Groups: []scim.ComplexValue{ref("40", "platform")}}},
			groups: []scim.Group{
				{ID: "30", DisplayName: "ops", Meta: wsg, Groups: []scim.ComplexValue{ref("40", "platform")}},
				{ID: "40", DisplayName: "platform", Meta: acg},
				{ID: "31", DisplayName: "admins", Meta: wsg},
			},
		}
		if withAssignments {
			d.assignments = []scim.PermissionAssignment{assign(40, "ADMIN"), assign(2, "ADMIN", "USER"), assign(3, "USER")}
		}
		return d
	}
	adminCol := func(rows []string) map[string]string {
		out := map[string]string{}
		for _, r := range rows {
			f := strings.Split(r, "|")
			out[f[3]] = f[len(f)-1]
		}
		return out
	}
	_, rows := spoolRows(t, data(true), nil, &bytes.Buffer{})
	if got, want := adminCol(rows[TableUsers]), map[string]string{"ann@x.test": "true", "bob@x.test": "true", "cy@x.test": "false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("users workspace_admin = %v, want %v", got, want)
	}
	if got := adminCol(rows[TableServicePrincipals]); got["app-5"] != "true" {
		t.Errorf("service principal in a group assigned ADMIN: workspace_admin = %v", got)
	}
	_, rows = spoolRows(t, data(false), nil, &bytes.Buffer{})
	if got, want := adminCol(rows[TableUsers]), map[string]string{"ann@x.test": "false", "bob@x.test": "false", "cy@x.test": "false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("without assignments, users workspace_admin = %v, want %v", got, want)
	}
}
