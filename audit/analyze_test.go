package audit

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

var testWS = scim.WorkspaceInfo{ID: 7, Name: "ws", URL: "https://ws.example.test"}

func acl(entries ...scim.AccessControl) *scim.ObjectPermissions {
	return &scim.ObjectPermissions{AccessControlList: entries}
}

func userACE(name string, levels ...string) scim.AccessControl {
	a := scim.AccessControl{UserName: name}
	for _, l := range levels {
		a.AllPermissions = append(a.AllPermissions, scim.Permission{PermissionLevel: l})
	}
	return a
}

func groupACE(name string, inherited bool, level string) scim.AccessControl {
	return scim.AccessControl{GroupName: name, AllPermissions: []scim.Permission{{PermissionLevel: level, Inherited: inherited}}}
}

func named(names ...string) *targetSet {
	s := newTargetSet()
	for i, n := range names {
		t := PrincipalUser
		if !strings.Contains(n, "@") {
			t = PrincipalGroup
		}
		s.add(&target{key: identityKey(t, n), ids: []int64{int64(100 + i)}, ident: Identity{Type: t, Name: n}})
	}
	return s
}

func TestManagersIgnoresAdminsGroup(t *testing.T) {
	mgrs, owners := managers(acl(
		userACE("a@x.test", "IS_OWNER"),
		groupACE("admins", false, "CAN_MANAGE"),
		groupACE("eng", false, "CAN_MANAGE"),
		groupACE("ops", true, "CAN_MANAGE"), // inherited: a grant of the parent's
		userACE("b@x.test", "CAN_VIEW", "CAN_MANAGE_RUN"),
		scim.AccessControl{ServicePrincipalName: "app-1", PermissionLevel: "CAN_MANAGE"},
	))
	var got []string
	for _, m := range mgrs {
		got = append(got, string(m.ptype)+":"+m.name)
	}
	if want := []string{"user:a@x.test", "group:eng", "service-principal:app-1"}; !slices.Equal(got, want) {
		t.Errorf("managers = %v, want %v", got, want)
	}
	if len(owners) != 1 || owners[0].name != "a@x.test" {
		t.Errorf("owners = %v", owners)
	}
	if m, o := managers(nil); m != nil || o != nil {
		t.Error("nil ACL has managers")
	}
}

func TestAnalyzeJobRunAsUnknownIsAssumed(t *testing.T) {
	j := scim.Job{JobID: 1, CreatorUserName: "a@x.test", Settings: scim.JobSettings{Name: "n",
		Schedule: &scim.CronSchedule{QuartzCronExpression: "0 0 * * * ?", PauseStatus: "UNPAUSED"}}}
	o := jobObject(testWS, j)
	fs := analyzeObject(WorkspaceRef{ID: 7, Name: "ws"}, o, named("a@x.test"), testNow)
	if len(fs) != 1 || fs[0].Severity != SeverityBreaks || !strings.Contains(fs[0].Reason, "run-as unknown, assumed") {
		t.Fatalf("findings = %+v", fs)
	}
	// Once jobs/get names someone else, the creator's job is info.
	o.jobRunAs = "robot-app"
	fs = analyzeObject(WorkspaceRef{ID: 7}, o, named("a@x.test"), testNow)
	if len(fs) != 1 || fs[0].Severity != SeverityInfo || fs[0].Reason != "job runs as robot-app" {
		t.Errorf("findings = %+v", fs)
	}
}

func TestAnalyzeTypesMustAgree(t *testing.T) {
	// A group named like a user does not match the user, and a job run as
	// a group does not break for a user of that name.
	j := scim.Job{JobID: 2, Settings: scim.JobSettings{Name: "n", RunAs: &scim.RunAs{GroupName: "a@x.test"},
		Schedule: &scim.CronSchedule{PauseStatus: "UNPAUSED"}}}
	o := jobObject(testWS, j)
	o.acl = acl(groupACE("a@x.test", false, "CAN_MANAGE"))
	if fs := analyzeObject(WorkspaceRef{ID: 7}, o, named("a@x.test"), testNow); len(fs) != 0 {
		t.Errorf("findings = %+v, want none", fs)
	}
}

func TestAnalyzeSoleManagerJoint(t *testing.T) {
	c := scim.Cluster{ClusterID: "c1", ClusterName: "shared", CreatorUserName: "a@x.test", State: "TERMINATED", ClusterSource: "UI"}
	o := clusterObject(testWS, c)
	o.acl = acl(userACE("a@x.test", "CAN_MANAGE"), userACE("b@x.test", "CAN_MANAGE"), groupACE("admins", true, "CAN_MANAGE"))
	// a alone: b remains.
	if fs := analyzeObject(WorkspaceRef{ID: 7}, o, named("a@x.test"), testNow); len(fs) != 1 || fs[0].Severity != SeverityInfo {
		t.Errorf("a alone: %+v", fs)
	}
	// a and b together: nobody remains; b is reported too, as sole-manager.
	fs := analyzeObject(WorkspaceRef{ID: 7}, o, named("a@x.test", "b@x.test"), testNow)
	if len(fs) != 2 {
		t.Fatalf("findings = %+v", fs)
	}
	for _, f := range fs {
		if f.Severity != SeverityOrphaned || f.Reason != "no manager remains once the audited identities are gone" {
			t.Errorf("%s: %v %q", f.IdentityName, f.Severity, f.Reason)
		}
	}
	// --all judges each alone.
	if fs := analyzeObject(WorkspaceRef{ID: 7}, o, newAllMatcher(), testNow); slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == SeverityOrphaned }) {
		t.Errorf("--all: %+v", fs)
	}
	// A job cluster is managed through its job: never orphaned.
	o.cluster.ClusterSource = "JOB"
	o.acl = acl(userACE("a@x.test", "CAN_MANAGE"))
	if fs := analyzeObject(WorkspaceRef{ID: 7}, o, named("a@x.test"), testNow); len(fs) != 1 || fs[0].Severity != SeverityInfo {
		t.Errorf("job cluster: %+v", fs)
	}
}

// inheritedACE is an entry whose only level is inherited from parent.
func inheritedACE(user, level, parent string) scim.AccessControl {
	return scim.AccessControl{UserName: user, AllPermissions: []scim.Permission{
		{PermissionLevel: level, Inherited: true, InheritedFromObject: []string{parent}}}}
}

// TestAnalyzeInheritedManagers: an inherited CAN_MANAGE is not a manager of
// its own: the sole-manager finding of a direct manager stays when someone
// inherits CAN_MANAGE, and an identity that only inherits CAN_MANAGE is not
// the object's sole manager. The findings are those of the same ACL
// without its inherited entries.
func TestAnalyzeInheritedManagers(t *testing.T) {
	c := scim.Cluster{ClusterID: "c1", ClusterName: "shared", CreatorUserName: "z@x.test", State: "TERMINATED", ClusterSource: "UI"}
	render := func(fs []Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.IdentityName+" "+f.Severity.String()+" "+f.Reason)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		direct   []scim.AccessControl
		inherits []scim.AccessControl
		audited  []string
		orphaned []string // identities reported sole manager
	}{
		{"a direct, b inherits", []scim.AccessControl{userACE("a@x.test", "CAN_MANAGE")},
			[]scim.AccessControl{inheritedACE("b@x.test", "CAN_MANAGE", "/directories/7"), groupACE("admins", true, "CAN_MANAGE")},
			[]string{"a@x.test"}, []string{"a@x.test"}},
		{"a only inherits", []scim.AccessControl{userACE("b@x.test", "CAN_RUN")},
			[]scim.AccessControl{inheritedACE("a@x.test", "CAN_MANAGE", "/directories/7")},
			[]string{"a@x.test"}, nil},
		{"a direct and inherited, b direct", []scim.AccessControl{userACE("a@x.test", "CAN_MANAGE"), userACE("b@x.test", "CAN_MANAGE")},
			[]scim.AccessControl{inheritedACE("a@x.test", "CAN_MANAGE", "/directories/7")},
			[]string{"a@x.test"}, nil},
	} {
		o := clusterObject(testWS, c)
		o.acl = acl(tc.direct...)
		want := analyzeObject(WorkspaceRef{ID: 7}, o, named(tc.audited...), testNow)
		o = clusterObject(testWS, c)
		o.acl = acl(append(slices.Clone(tc.direct), tc.inherits...)...)
		got := analyzeObject(WorkspaceRef{ID: 7}, o, named(tc.audited...), testNow)
		if !slices.Equal(render(got), render(want)) {
			t.Errorf("%s: findings %v, want those without the inherited entries %v", tc.name, render(got), render(want))
		}
		var orphaned []string
		for _, f := range got {
			if f.Severity == SeverityOrphaned {
				orphaned = append(orphaned, f.IdentityName)
			}
		}
		if !slices.Equal(orphaned, tc.orphaned) {
			t.Errorf("%s: sole managers %v, want %v (findings %v)", tc.name, orphaned, tc.orphaned, render(got))
		}
	}
}

func TestTargetSetScopesAndIDs(t *testing.T) {
	s := newTargetSet()
	s.add(&target{key: "user:a@x.test", ids: []int64{11}, ident: Identity{Type: PrincipalUser, Name: "A@x.test"}})
	s.add(&target{key: "user:l@x.test", ids: []int64{12}, ws: 3, ident: Identity{Type: PrincipalUser, Name: "l@x.test"}})
	merged := s.add(&target{key: "user:a@x.test", ids: []int64{21}, ident: Identity{Type: PrincipalUser, Name: "a@x.test", Via: []string{"g"}}})
	if len(s.list) != 2 || !slices.Equal(merged.ids, []int64{11, 21}) || !slices.Equal(merged.ident.Via, []string{"g"}) {
		t.Fatalf("targets = %+v", s.list)
	}
	tests := []struct {
		ref  pref
		ws   int64
		want []string
	}{
		{pref{name: "a@X.TEST"}, 1, []string{"user:a@x.test"}},
		{pref{id: 21}, 1, []string{"user:a@x.test"}},
		{pref{name: "l@x.test"}, 3, []string{"user:l@x.test"}},
		{pref{name: "l@x.test"}, 4, nil},
		{pref{name: "a@x.test", ptype: PrincipalServicePrincipal}, 1, nil},
		{pref{id: 99}, 1, nil},
	}
	for _, tt := range tests {
		if got := s.match(tt.ref, tt.ws); !slices.Equal(got, tt.want) {
			t.Errorf("match(%+v, %d) = %v, want %v", tt.ref, tt.ws, got, tt.want)
		}
	}
}

func TestNeedsACL(t *testing.T) {
	m := named("a@x.test")
	related := jobObject(testWS, scim.Job{JobID: 1, CreatorUserName: "a@x.test"})
	unrelatedJob := jobObject(testWS, scim.Job{JobID: 2, CreatorUserName: "b@x.test"})
	unrelatedCluster := clusterObject(testWS, scim.Cluster{ClusterID: "c", CreatorUserName: "b@x.test"})
	orphanJob := jobObject(testWS, scim.Job{JobID: 3})
	dash := dashboardObject(testWS, scim.Dashboard{DashboardID: "d"})
	token := tokenObject(testWS, scim.TokenInfo{TokenID: "t", CreatedByUsername: "a@x.test"})
	tests := []struct {
		scope PermissionScope
		want  []bool // related, unrelatedJob, unrelatedCluster, orphanJob, dash, token
	}{
		{PermissionsOwners, []bool{true, true, false, true, true, false}},
		{PermissionsRelated, []bool{true, false, false, true, true, false}},
		{PermissionsAll, []bool{true, true, true, true, true, false}},
		{PermissionsNone, []bool{false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		var got []bool
		for _, o := range []*object{related, unrelatedJob, unrelatedCluster, orphanJob, dash, token} {
			got = append(got, needsACL(o, tt.scope, m, 7))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.scope, got, tt.want)
		}
	}
	// jobs/get only without explicit run_as or ACL owner.
	if !needsJobGet(related, m, 7) || needsJobGet(unrelatedJob, m, 7) || !needsJobGet(orphanJob, m, 7) {
		t.Error("needsJobGet without ACL")
	}
	related.acl = acl(userACE("a@x.test", "IS_OWNER"))
	if needsJobGet(related, m, 7) {
		t.Error("needsJobGet with an owner in the ACL")
	}
}

func TestWriteCSVQuotes(t *testing.T) {
	r := &Report{Findings: []Finding{{
		Severity: SeverityBreaks, Workspace: WorkspaceRef{ID: 1, Name: "prod, eu"}, IdentityType: PrincipalUser,
		IdentityName: "a@x.test", Kind: KindJob, ObjectID: "1", ObjectName: "say \"hi\"\nnightly",
		Relations: []Relation{RelCreated, RelRunsAs}, Reason: "r", Flags: []string{"x", "y"},
		Details: []Detail{{"trigger", "cron"}, {"paused", ""}, {"creator", "a@x.test"}},
	}, {Severity: SeverityNotCovered, Workspace: WorkspaceRef{ID: 2, Name: "dev"}, Kind: KindToken, Reason: "not covered: 403"}}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{CSVHeader,
		{"breaks", "1", "prod, eu", "user", "a@x.test", "job", "1", "say \"hi\"\nnightly", "created+runs-as", "r", "x,y", "trigger=cron; creator=a@x.test", "", "", ""},
		{"not-covered", "2", "dev", "", "", "token", "", "", "", "not covered: 403", "", "", "", "", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("records = %q", recs)
	}
	for i := range want {
		if !slices.Equal(recs[i], want[i]) {
			t.Errorf("record %d = %q, want %q", i, recs[i], want[i])
		}
	}
}

func TestHTMLReportLayout(t *testing.T) {
	r := &Report{Mode: "named",
		Identities: []IdentitySummary{
			{Identity: Identity{Type: PrincipalUser, Name: "a@x.test", Status: StatusActive, Named: true}, Findings: 1, BySeverity: map[string]int{"breaks": 1}},
			{Identity: Identity{Type: PrincipalUser, Name: "ghost@x.test", Status: StatusNotFound, Named: true}, BySeverity: map[string]int{}},
		},
		Workspaces: []WorkspaceCoverage{
			{WorkspaceRef: WorkspaceRef{ID: 1, Name: "prod"}, Coverage: CoveragePartial, NotCovered: []KindGap{{KindToken, "403 PERMISSION_DENIED"}}},
			{WorkspaceRef: WorkspaceRef{ID: 2, Name: "old"}, Coverage: CoverageSkipped, Reason: "workspace status FAILED"},
		},
		Findings: []Finding{
			{Severity: SeverityNotCovered, Workspace: WorkspaceRef{ID: 1, Name: "prod"}, Kind: KindToken, Reason: "not covered: 403"},
			{Severity: SeverityBreaks, Workspace: WorkspaceRef{ID: 1, Name: "prod"}, IdentityName: "a@x.test", Kind: KindJob, ObjectName: "j", URL: "https://prod/jobs/1"},
		},
	}
	h := HTMLReport(r)
	if h.Title != "dbiam audit: impact of removing a@x.test, ghost@x.test" {
		t.Errorf("title = %q", h.Title)
	}
	var notices []string
	for _, n := range h.Notices {
		notices = append(notices, string(n.Tone)+": "+n.Text)
	}
	wantNotices := []string{
		"critical: Workspace prod (1): token not covered: 403 PERMISSION_DENIED",
		"neutral: Workspace old (2) was skipped: workspace status FAILED.",
		"notice: user ghost@x.test was not found in the account or any audited workspace; objects were matched by name.",
	}
	if !slices.Equal(notices, wantNotices) {
		t.Errorf("notices:\n%s\nwant:\n%s", strings.Join(notices, "\n"), strings.Join(wantNotices, "\n"))
	}
	if h.Chart == nil || !slices.Equal(h.Chart.Categories, []string{"token", "job"}) || len(h.Chart.Series) != 2 ||
		h.Chart.Series[0].Name != "not-covered" || h.Chart.Series[0].Tone != reports.ToneCritical {
		t.Errorf("chart = %+v", h.Chart)
	}
	if len(h.Table.Rows) != 2 || h.Table.Rows[1].Cells[4].Link != "https://prod/jobs/1" || h.Table.Rows[0].Cells[0].SortKey != "0" {
		t.Errorf("table rows = %+v", h.Table.Rows)
	}
	if err := reports.WriteHTML(&bytes.Buffer{}, h); err != nil {
		t.Errorf("WriteHTML: %v", err)
	}
}

// TestAnalyzeTrashedQueryAndAlert: a query or alert in the trash runs no
// more, so its owner's removal breaks nothing.
func TestAnalyzeTrashedQueryAndAlert(t *testing.T) {
	ws := WorkspaceRef{ID: 7, Name: "ws"}
	q := queryObject(testWS, scim.Query{ID: "q1", DisplayName: "old", OwnerUserName: "a@x.test", RunAsMode: "OWNER", LifecycleState: "TRASHED"})
	fs := analyzeObject(ws, q, named("a@x.test"), testNow)
	if len(fs) != 1 || fs[0].Severity != SeverityInfo || fs[0].Reason != "query is in the trash; nothing runs it" {
		t.Errorf("trashed query findings = %+v", fs)
	}
	q = queryObject(testWS, scim.Query{ID: "q2", DisplayName: "live", OwnerUserName: "a@x.test", RunAsMode: "OWNER", LifecycleState: "ACTIVE"})
	if fs := analyzeObject(ws, q, named("a@x.test"), testNow); len(fs) != 1 || fs[0].Severity != SeverityBreaks {
		t.Errorf("active query findings = %+v", fs)
	}
	a := alertObject(testWS, scim.Alert{ID: "a1", DisplayName: "old", OwnerUserName: "a@x.test", LifecycleState: "TRASHED"})
	fs = analyzeObject(ws, a, named("a@x.test"), testNow)
	if len(fs) != 1 || fs[0].Severity != SeverityInfo || fs[0].Reason != "alert is in the trash; nothing runs it" {
		t.Errorf("trashed alert findings = %+v", fs)
	}
}
