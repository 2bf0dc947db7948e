package audit

import (
	"slices"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)

func TestRateToken(t *testing.T) {
	days := func(n int) time.Time { return testNow.Add(-time.Duration(n) * 24 * time.Hour) }
	tests := []struct {
		name      string
		tok       tokenFacts
		want      Severity
		reason    string
		wantFlags []string
	}{
		{"used yesterday", tokenFacts{LastUsed: days(1), Expiry: testNow.Add(time.Hour)}, SeverityBreaks, "token used on 2026-03-14, within the last 30 days, stops working", nil},
		{"used exactly 30 days ago", tokenFacts{LastUsed: days(30)}, SeverityBreaks, "token used on 2026-02-13, within the last 30 days, stops working", []string{"no-expiry"}},
		{"used 31 days ago", tokenFacts{LastUsed: days(31)}, SeverityInfo, "token last used on 2026-02-12, over 30 days ago", []string{"no-expiry"}},
		{"never used", tokenFacts{Expiry: testNow.Add(24 * time.Hour)}, SeverityInfo, "token never used", nil},
		{"never used, no expiry", tokenFacts{}, SeverityInfo, "token never used", []string{"no-expiry"}},
		{"expired but used recently", tokenFacts{LastUsed: days(2), Expiry: days(1)}, SeverityInfo, "token expired on 2026-03-14", nil},
		{"expires now", tokenFacts{LastUsed: days(2), Expiry: testNow}, SeverityInfo, "token expired on 2026-03-15", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, flags := rateToken(testNow, tt.tok)
			if v.sev != tt.want || v.reason != tt.reason {
				t.Errorf("rateToken = %v %q, want %v %q", v.sev, v.reason, tt.want, tt.reason)
			}
			if !slices.Equal(flags, tt.wantFlags) {
				t.Errorf("flags = %v, want %v", flags, tt.wantFlags)
			}
		})
	}
}

func TestRateJob(t *testing.T) {
	tests := []struct {
		name   string
		job    jobFacts
		want   Severity
		reason string
	}{
		{"scheduled, runs as identity", jobFacts{Trigger: "schedule", RunAs: runAsIdentity}, SeverityBreaks, "job runs as the identity on an unpaused schedule; its runs fail"},
		{"file trigger", jobFacts{Trigger: "file_arrival", RunAs: runAsIdentity}, SeverityBreaks, "job runs as the identity on an unpaused file arrival trigger; its runs fail"},
		{"continuous", jobFacts{Trigger: "continuous", RunAs: runAsIdentity}, SeverityBreaks, "continuous job runs as the identity; its runs fail"},
		{"assumed run-as", jobFacts{Trigger: "schedule", RunAs: runAsAssumed}, SeverityBreaks, "job runs as the identity (run-as unknown, assumed) on an unpaused schedule; its runs fail"},
		{"paused", jobFacts{Trigger: "schedule", Paused: true, RunAs: runAsIdentity}, SeverityInfo, "job runs as the identity but its schedule is paused"},
		{"paused continuous", jobFacts{Trigger: "continuous", Paused: true, RunAs: runAsIdentity}, SeverityInfo, "job runs as the identity but its continuous run is paused"},
		{"paused table trigger", jobFacts{Trigger: "table_update", Paused: true, RunAs: runAsIdentity}, SeverityInfo, "job runs as the identity but its table update trigger is paused"},
		{"manual only", jobFacts{RunAs: runAsIdentity}, SeverityInfo, "job runs as the identity but has no schedule or trigger"},
		{"runs as a service principal", jobFacts{Trigger: "schedule", RunAs: runAsOther, RunAsName: "9f0c-sp"}, SeverityInfo, "job runs as 9f0c-sp"},
		{"runs as unnamed other", jobFacts{Trigger: "schedule", RunAs: runAsOther}, SeverityInfo, "job runs as another principal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := rateJob(tt.job)
			if v.sev != tt.want || v.reason != tt.reason {
				t.Errorf("rateJob = %v %q, want %v %q", v.sev, v.reason, tt.want, tt.reason)
			}
		})
	}
}

func TestRateCluster(t *testing.T) {
	tests := []struct {
		name      string
		c         clusterFacts
		dedicated bool
		want      Severity
		reason    string
	}{
		{"running, created", clusterFacts{State: "RUNNING", Source: "UI"}, false, SeverityStops, "running cluster created by the identity stops"},
		{"pending, dedicated", clusterFacts{State: "PENDING", Source: "API"}, true, SeverityStops, "running cluster dedicated to the identity stops"},
		{"running job cluster", clusterFacts{State: "RUNNING", Source: "JOB"}, false, SeverityInfo, "job cluster, ends with its run"},
		{"terminated, dedicated", clusterFacts{State: "TERMINATED", Source: "UI"}, true, SeverityInfo, "cluster dedicated to the identity (terminated); nobody else can use it"},
		{"terminated", clusterFacts{State: "TERMINATED", Source: "UI", Pinned: true}, false, SeverityInfo, "cluster is terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := rateCluster(tt.c, tt.dedicated)
			if v.sev != tt.want || v.reason != tt.reason {
				t.Errorf("rateCluster = %v %q, want %v %q", v.sev, v.reason, tt.want, tt.reason)
			}
		})
	}
}

func TestRatePipeline(t *testing.T) {
	tests := []struct {
		p    pipelineFacts
		want Severity
	}{
		{pipelineFacts{State: "RUNNING", RunAs: runAsIdentity}, SeverityStops},
		{pipelineFacts{State: "STARTING", RunAs: runAsAssumed}, SeverityStops},
		{pipelineFacts{State: "IDLE", RunAs: runAsIdentity}, SeverityInfo},
		{pipelineFacts{State: "RUNNING", RunAs: runAsOther, RunAsName: "sp"}, SeverityInfo},
		// An active job updates it: its next update fails.
		{pipelineFacts{State: "IDLE", RunAs: runAsIdentity, ActiveJobs: []string{"nightly"}}, SeverityBreaks},
		{pipelineFacts{State: "RUNNING", RunAs: runAsAssumed, ActiveJobs: []string{"nightly"}}, SeverityBreaks},
		{pipelineFacts{State: "IDLE", RunAs: runAsOther, RunAsName: "sp", ActiveJobs: []string{"nightly"}}, SeverityInfo},
	}
	for _, tt := range tests {
		if v := ratePipeline(tt.p); v.sev != tt.want {
			t.Errorf("ratePipeline(%+v) = %v (%s), want %v", tt.p, v.sev, v.reason, tt.want)
		}
	}
}

func TestRateQueryAndAlert(t *testing.T) {
	if v := rateQuery(true, "OWNER"); v.sev != SeverityBreaks {
		t.Errorf("owned run-as-owner query = %v, want breaks", v.sev)
	}
	if v := rateQuery(true, "owner"); v.sev != SeverityBreaks {
		t.Errorf("run_as_role owner (legacy spelling) = %v, want breaks", v.sev)
	}
	if v := rateQuery(true, "VIEWER"); v.sev != SeverityInfo {
		t.Errorf("run-as-viewer query = %v, want info", v.sev)
	}
	if v := rateQuery(false, "OWNER"); v.sev != SeverityInfo {
		t.Errorf("query not owned = %v, want info", v.sev)
	}
	if v := rateAlert(runAsIdentity, ""); v.sev != SeverityBreaks {
		t.Errorf("alert run as identity = %v, want breaks", v.sev)
	}
	if v := rateAlert(runAsOther, "sp"); v.sev != SeverityInfo || v.reason != "alert runs as sp" {
		t.Errorf("alert run as other = %v %q", v.sev, v.reason)
	}
}

func TestWorstKeepsFirstOnTies(t *testing.T) {
	v := worst(verdict{SeverityInfo, "a"}, verdict{SeverityOrphaned, "b"}, verdict{SeverityOrphaned, "c"}, verdict{SeverityInfo, "d"})
	if v.reason != "b" {
		t.Errorf("worst = %+v, want b", v)
	}
	if got := worst(rateSoleManager(), verdict{SeverityBreaks, "x"}); got.sev != SeverityBreaks {
		t.Errorf("breaks must beat orphaned, got %v", got.sev)
	}
}

func TestRateInfo(t *testing.T) {
	tests := []struct {
		k    Kind
		rels []Relation
		want string
	}{
		{KindServingEndpoint, []Relation{RelCreated}, "serving endpoint created by the identity"},
		{KindJob, []Relation{RelCreated, RelOwns}, "job created and owned by the identity"},
		{KindCluster, []Relation{RelDedicated}, "cluster dedicated to the identity"},
		{KindJob, []Relation{RelCreated, RelOwns, RelRunsAs}, "job created, owned and run as the identity"},
		{KindApp, nil, "app related to the identity"},
	}
	for _, tt := range tests {
		if v := rateInfo(tt.k, tt.rels); v.reason != tt.want || v.sev != SeverityInfo {
			t.Errorf("rateInfo(%s, %v) = %q, want %q", tt.k, tt.rels, v.reason, tt.want)
		}
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range Severities() {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip %v: got %v, %v", s, back, err)
		}
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity accepted an unknown name")
	}
	if _, err := Severity(42).MarshalText(); err == nil {
		t.Error("MarshalText accepted an unknown value")
	}
}

func TestSortFindings(t *testing.T) {
	fs := []Finding{
		{Severity: SeverityInfo, Workspace: WorkspaceRef{ID: 1, Name: "a"}, IdentityName: "x", Kind: KindToken, ObjectName: "t"},
		{Severity: SeverityBreaks, Workspace: WorkspaceRef{ID: 2, Name: "b"}, IdentityName: "x", Kind: KindJob, ObjectName: "j"},
		{Severity: SeverityBreaks, Workspace: WorkspaceRef{ID: 1, Name: "a"}, IdentityName: "y", Kind: KindToken, ObjectName: "t"},
		{Severity: SeverityBreaks, Workspace: WorkspaceRef{ID: 1, Name: "a"}, IdentityName: "x", Kind: KindJob, ObjectName: "j"},
		{Severity: SeverityNotCovered, Workspace: WorkspaceRef{ID: 3, Name: "c"}, Kind: KindJob},
		{Severity: SeverityBreaks, Workspace: WorkspaceRef{ID: 1, Name: "a"}, IdentityName: "x", Kind: KindToken, ObjectName: "t"},
	}
	SortFindings(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Severity.String()+"/"+f.Workspace.Name+"/"+f.IdentityName+"/"+string(f.Kind))
	}
	want := []string{"not-covered/c//job", "breaks/a/x/token", "breaks/a/x/job", "breaks/a/y/token", "breaks/b/x/job", "info/a/x/token"}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n got %v\nwant %v", got, want)
	}
}

func TestAddRelationKeepsOrder(t *testing.T) {
	var f Finding
	f.addRelation(RelSoleManager)
	f.addRelation(RelRunsAs)
	f.addRelation(RelCreated)
	f.addRelation(RelRunsAs)
	if got := f.RelationText(); got != "created+runs-as+sole-manager" {
		t.Errorf("relations = %q", got)
	}
}
