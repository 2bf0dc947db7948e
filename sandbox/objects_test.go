package sandbox

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSeedTimeResolve(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   SeedTime
		want time.Time
	}{
		{"now", now},
		{"now-1d", now.AddDate(0, 0, -1)},
		{"now+90d", now.AddDate(0, 0, 90)},
		{"now-36h", now.Add(-36 * time.Hour)},
		{"now+90m", now.Add(90 * time.Minute)},
		{"2025-01-02T03:04:05Z", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	} {
		got, err := tc.in.resolve(now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []SeedTime{"", "yesterday", "now-", "now-1y", "now--1d", "now-xd", "2025-01-02", "now*1d"} {
		if _, err := bad.resolve(now); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// objTestSeed is a small federated account for objects validation tests.
func objTestSeed() *Seed {
	inactive := false
	return &Seed{
		AccountID: "acct-objects-test",
		Users: []SeedUser{
			{ID: "1", UserName: "ann@x.test", Roles: []string{RoleAccountAdmin}},
			{ID: "2", UserName: "bob@x.test"},
			{ID: "3", UserName: "cal@x.test", Active: &inactive},
		},
		ServicePrincipals: []SeedServicePrincipal{{ID: "10", ApplicationID: "11111111-2222-4333-8444-555555555555", DisplayName: "etl"}},
		Groups:            []SeedGroup{{ID: "20", DisplayName: "eng", Members: []string{"2", "3"}}, {ID: "21", DisplayName: "others"}},
		Workspaces: []SeedWorkspace{
			{WorkspaceID: 100, WorkspaceName: "fed", IdentityFederated: true,
				Assignments: []SeedAssignment{{Principal: "20", Permissions: []string{"USER"}}, {Principal: "1", Permissions: []string{"ADMIN"}},
					{Principal: "10", Permissions: []string{"USER"}}}},
			// ann is also the non-federated workspace's admin (its own user
			// with her user name), so her account-level token works there.
			{WorkspaceID: 200, WorkspaceName: "local", Users: []SeedUser{{ID: "30", UserName: "dee@x.test"}, {ID: "31", UserName: "ann@x.test"}},
				Groups: []SeedGroup{{ID: "32", DisplayName: "admins", Members: []string{"31"}}}},
		},
	}
}

const (
	objTestCluster = "0101-010101-abcdefgh"
	objTestQuery   = "0f0f0f0f-0000-4000-8000-000000000001"
)

// validObjects is a valid objects section for workspace 100 of objTestSeed.
func validObjects() *SeedObjects {
	never := SeedTime("now-1d")
	return &SeedObjects{
		DeletedPrincipals: []string{"gone@x.test"},
		Tokens:            []SeedPAT{{TokenID: strings.Repeat("a", 64), Owner: "bob@x.test", Created: "now-3d", LastUsed: &never}},
		Clusters:          []SeedCluster{{ClusterID: objTestCluster, ClusterName: "c", Creator: "bob@x.test", State: "RUNNING"}},
		Jobs: []SeedJob{{JobID: 1, Name: "j", Creator: "gone@x.test",
			Schedule: &SeedSchedule{QuartzCronExpression: "0 0 * * * ?", TimezoneID: "UTC"},
			Tasks:    []SeedTask{{TaskKey: "t", ExistingClusterID: objTestCluster}},
			Permissions: []SeedGrant{{GroupName: "eng", PermissionLevel: "CAN_MANAGE"},
				{ServicePrincipalName: "11111111-2222-4333-8444-555555555555", PermissionLevel: "CAN_VIEW"}}}},
		Queries: []SeedQuery{{ID: objTestQuery, DisplayName: "q", Owner: "bob@x.test", RunAsMode: "OWNER"}},
		Alerts:  []SeedAlert{{ID: "0f0f0f0f-0000-4000-8000-000000000002", DisplayName: "a", Owner: "bob@x.test", QueryID: objTestQuery}},
		Apps:    []SeedApp{{Name: "app-1", ID: "0f0f0f0f-0000-4000-8000-000000000003", Creator: "ann@x.test", ServicePrincipal: "11111111-2222-4333-8444-555555555555"}},
	}
}

func TestValidateObjects(t *testing.T) {
	seed := objTestSeed()
	if errs := validateObjects("", seed, &seed.Workspaces[0], validObjects()); len(errs) > 0 {
		t.Fatalf("valid section: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		ws     int // index in seed.Workspaces
		mutate func(o *SeedObjects)
		want   string
	}{
		{"unknown owner", 0, func(o *SeedObjects) { o.Tokens[0].Owner = "nobody@x.test" }, `tokens[0].owner: "nobody@x.test"`},
		{"deleted token owner", 0, func(o *SeedObjects) { o.Tokens[0].Owner = "gone@x.test" }, "must be a live user"},
		{"bad token id", 0, func(o *SeedObjects) { o.Tokens[0].TokenID = "abc" }, "tokens[0].token_id"},
		{"bad time", 0, func(o *SeedObjects) { o.Tokens[0].Created = "last week" }, "tokens[0].created"},
		{"live deleted principal", 0, func(o *SeedObjects) { o.DeletedPrincipals = append(o.DeletedPrincipals, "BOB@x.test") }, "is a live principal"},
		{"account principal in non-federated workspace", 1, func(o *SeedObjects) {}, `"bob@x.test" must be a live user`},
		{"duplicate job id", 0, func(o *SeedObjects) { o.Jobs = append(o.Jobs, o.Jobs[0]) }, "jobs[1].job_id: duplicate"},
		{"schedule and continuous", 0, func(o *SeedObjects) { o.Jobs[0].Continuous = &SeedContinuous{} }, "at most one of schedule, trigger and continuous"},
		{"bad pause status", 0, func(o *SeedObjects) { o.Jobs[0].Schedule.PauseStatus = "STOPPED" }, "pause_status"},
		{"two triggers", 0, func(o *SeedObjects) {
			o.Jobs[0].Schedule = nil
			o.Jobs[0].Trigger = &SeedTrigger{FileArrival: &SeedFileArrival{URL: "s3://x"}, Periodic: &SeedPeriodic{Interval: 1, Unit: "HOURS"}}
		}, "exactly one of file_arrival"},
		{"run_as both", 0, func(o *SeedObjects) {
			o.Jobs[0].RunAs = &SeedRunAs{UserName: "bob@x.test", ServicePrincipalName: "11111111-2222-4333-8444-555555555555"}
		}, "exactly one of user_name and service_principal_name"},
		{"run_as unknown SP", 0, func(o *SeedObjects) { o.Jobs[0].RunAs = &SeedRunAs{ServicePrincipalName: "nope"} }, "run_as.service_principal_name"},
		{"task on unknown cluster", 0, func(o *SeedObjects) { o.Jobs[0].Tasks[0].ExistingClusterID = "0101-010101-zzzzzzzz" }, "existing_cluster_id"},
		{"bad level for type", 0, func(o *SeedObjects) { o.Jobs[0].Permissions[0].PermissionLevel = "CAN_USE" }, `"CAN_USE" is not one of CAN_VIEW`},
		{"IS_OWNER grant", 0, func(o *SeedObjects) { o.Jobs[0].Permissions[0].PermissionLevel = "IS_OWNER" }, "IS_OWNER comes from the object's owner"},
		{"acl with two principals", 0, func(o *SeedObjects) { o.Jobs[0].Permissions[0].UserName = "bob@x.test" }, "exactly one of user_name, group_name"},
		{"acl to a principal not in the workspace", 0, func(o *SeedObjects) {
			o.Jobs[0].Permissions[0] = SeedGrant{GroupName: "others", PermissionLevel: "CAN_VIEW"}
		}, `group_name: "others" is not a group in the workspace`},
		{"acl to the owner", 0, func(o *SeedObjects) {
			o.Clusters[0].Permissions = []SeedGrant{{UserName: "BOB@x.test", PermissionLevel: "CAN_RESTART"}}
		}, "already holds CAN_MANAGE"},
		{"acl unknown group", 0, func(o *SeedObjects) { o.Jobs[0].Permissions[0].GroupName = "ghosts" }, `group_name: "ghosts"`},
		{"acl deleted user", 0, func(o *SeedObjects) {
			o.Jobs[0].Permissions[0] = SeedGrant{UserName: "gone@x.test", PermissionLevel: "CAN_VIEW"}
		}, "not a live user"},
		{"bad cluster id", 0, func(o *SeedObjects) { o.Clusters[0].ClusterID = "c1" }, "clusters[0].cluster_id"},
		{"bad cluster state", 0, func(o *SeedObjects) { o.Clusters[0].State = "ASLEEP" }, "clusters[0].state"},
		{"terminated time on running cluster", 0, func(o *SeedObjects) { o.Clusters[0].Terminated = "now-1d" }, "only a TERMINATED cluster"},
		{"alert on unknown query", 0, func(o *SeedObjects) { o.Alerts[0].QueryID = "0f0f0f0f-0000-4000-8000-00000000000f" }, "alerts[0].query_id"},
		{"bad run_as_mode", 0, func(o *SeedObjects) { o.Queries[0].RunAsMode = "ME" }, "queries[0].run_as_mode"},
		{"app without SP", 0, func(o *SeedObjects) { o.Apps[0].ServicePrincipal = "bob@x.test" }, "apps[0].service_principal"},
		{"bad app name", 0, func(o *SeedObjects) { o.Apps[0].Name = "My App" }, "apps[0].name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := validObjects()
			tc.mutate(o)
			errs := validateObjects("", seed, &seed.Workspaces[tc.ws], o)
			if err := errors.Join(errs...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseObjectsStrict(t *testing.T) {
	if _, err := ParseObjectsFile([]byte(`{"account_id":"a","workspaces":{"1":{"jobs":[{"job_id":1,"name":"j","creator":"a","colour":"red"}]}}}`)); err == nil || !strings.Contains(err.Error(), `workspaces.1.jobs[0]: unknown field "colour"`) {
		t.Errorf("unknown field: got %v, want an error naming it", err)
	}
	if _, err := ParseObjectsFile([]byte(`{} {}`)); err == nil || err.Error() != "parse objects: line 1, column 4: unexpected data after the JSON value" {
		t.Errorf("trailing data: got %v", err)
	}
	if _, err := ParseObjectsFile([]byte(`{"account_id":"a","workspaces":{"prod":{}}}`)); err == nil || !strings.Contains(err.Error(), `"prod"`) {
		t.Errorf("non-numeric workspace key: got %v", err)
	}
	f, err := ParseObjectsFile(defaultObjectsJSON)
	if err != nil {
		t.Fatalf("default objects: %v", err)
	}
	if err := validateSeedObjects(DefaultSeed()); err != nil {
		t.Errorf("default objects against the default seed: %v", err)
	}
	if f.AccountID != DefaultSeed().AccountID || len(f.Workspaces) != len(DefaultSeed().Workspaces) {
		t.Errorf("default objects cover account %s, %d workspaces", f.AccountID, len(f.Workspaces))
	}
}

func TestAttachObjects(t *testing.T) {
	seed := objTestSeed()
	if err := AttachObjects(seed, 100, validObjects()); err != nil {
		t.Fatal(err)
	}
	srv := newObjServer(t, Options{Seed: seed})
	c := objAdmin(t, srv, 100)
	var j wireJob
	c.get("/api/2.2/jobs/get?job_id=1", &j)
	if j.CreatorUserName != "" || j.RunAsUserName != "gone@x.test" {
		t.Errorf("job of a deleted creator: %+v", j)
	}
	// The other workspace has no objects.
	var list struct {
		Jobs []wireJob `json:"jobs"`
	}
	objAdmin(t, srv, 200).get("/api/2.2/jobs/list", &list)
	if len(list.Jobs) != 0 {
		t.Errorf("workspace 200: %d jobs, want 0", len(list.Jobs))
	}

	// Objects are validated when the server is built.
	bad := objTestSeed()
	o := validObjects()
	o.Tokens[0].Owner = "nobody@x.test"
	if err := AttachObjects(bad, 100, o); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Seed: bad}); err == nil || !strings.Contains(err.Error(), "workspaces[0].objects.tokens[0].owner") {
		t.Errorf("invalid attached objects: got %v", err)
	}
	unknown := objTestSeed()
	if err := AttachObjects(unknown, 999, &SeedObjects{}); err == nil || !strings.Contains(err.Error(), "workspace 999") {
		t.Errorf("objects of an unknown workspace: got %v", err)
	}
	// Detaching leaves a seed without objects; a seed of another account
	// does not get the default objects.
	if err := AttachObjects(seed, 100, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Seed: seed}); err != nil {
		t.Errorf("after detaching: %v", err)
	}
}

func TestObjectsFileAttachTo(t *testing.T) {
	f, err := ParseObjectsFile([]byte(`{"account_id":"acct-objects-test","workspaces":{"100":{"jobs":[{"job_id":7,"name":"j","creator":"bob@x.test"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	seed := objTestSeed()
	if err := f.AttachTo(seed); err != nil {
		t.Fatal(err)
	}
	srv := newObjServer(t, Options{Seed: seed})
	var j wireJob
	objAdmin(t, srv, 100).get("/api/2.2/jobs/get?job_id=7", &j)
	if j.CreatorUserName != "bob@x.test" || j.RunAsUserName != "bob@x.test" {
		t.Errorf("attached job: %+v", j)
	}
	other := objTestSeed()
	other.AccountID = "another"
	if err := f.AttachTo(other); err == nil || !strings.Contains(err.Error(), "another") {
		t.Errorf("other account: %v", err)
	}
	f.Workspaces["555"] = &SeedObjects{}
	if err := f.AttachTo(objTestSeed()); err == nil || !strings.Contains(err.Error(), "workspace 555") {
		t.Errorf("unknown workspace: %v", err)
	}
}

func TestSyntheticObjects(t *testing.T) {
	seed, err := Synthetic("workspaces=3,users=40,groups=5,members=5,sps=4,seed=7")
	if err != nil {
		t.Fatal(err)
	}
	spec := "jobs=50,clusters=20,tokens=60,warehouses=3,pipelines=4,queries=10,alerts=3,dashboards=2,lakeview=2,endpoints=2,apps=2,seed=3"
	if err := AddSyntheticObjects(seed, spec); err != nil {
		t.Fatal(err)
	}
	objs := seedObjects(seed)
	if err := validateSeedObjects(seed); err != nil {
		t.Fatalf("synthetic objects are invalid: %v", err)
	}
	if len(objs) != 3 {
		t.Fatalf("objects for %d workspaces, want 3", len(objs))
	}
	var runAsSP, deletedCreator, scheduled, noExpiry, running int
	for _, w := range seed.Workspaces {
		o := objs[w.WorkspaceID]
		apps := 2
		if !w.IdentityFederated {
			apps = 0 // no service principals of its own to run apps
		}
		if len(o.Jobs) != 50 || len(o.Clusters) != 20 || len(o.Tokens) != 60 || len(o.Alerts) != 3 || len(o.Apps) != apps {
			t.Fatalf("workspace %d counts: %d jobs, %d clusters, %d tokens, %d alerts, %d apps (want %d)",
				w.WorkspaceID, len(o.Jobs), len(o.Clusters), len(o.Tokens), len(o.Alerts), len(o.Apps), apps)
		}
		for _, j := range o.Jobs {
			if j.RunAs != nil && j.RunAs.ServicePrincipalName != "" {
				runAsSP++
			}
			if strings.HasPrefix(j.Creator, "former.") {
				deletedCreator++
			}
			if j.Schedule != nil {
				scheduled++
			}
		}
		for _, tk := range o.Tokens {
			if tk.Expiry == nil {
				noExpiry++
			}
		}
		for _, c := range o.Clusters {
			if c.State == "RUNNING" {
				running++
			}
		}
	}
	if runAsSP == 0 || deletedCreator == 0 || scheduled == 0 || noExpiry == 0 || running == 0 {
		t.Errorf("synthetic mix lacks a case: run as SP %d, deleted creator %d, scheduled %d, no-expiry tokens %d, running clusters %d",
			runAsSP, deletedCreator, scheduled, noExpiry, running)
	}

	// Same spec, same objects.
	again, _ := Synthetic("workspaces=3,users=40,groups=5,members=5,sps=4,seed=7")
	if err := AddSyntheticObjects(again, spec); err != nil {
		t.Fatal(err)
	}
	objs2 := seedObjects(again)
	for id, o := range objs {
		if o2 := objs2[id]; o2.Jobs[7].Name != o.Jobs[7].Name || o2.Tokens[9].TokenID != o.Tokens[9].TokenID || o2.Jobs[7].Creator != o.Jobs[7].Creator {
			t.Errorf("workspace %d: objects differ between two runs of the same spec", id)
		}
	}

	srv := newObjServer(t, Options{Seed: seed})
	c := objAdmin(t, srv, srv.Workspaces()[0].WorkspaceID)
	jobs, pages := pageWalk[wireJob](c, "/api/2.2/jobs/list?limit=100", "jobs")
	if len(jobs) != 50 || pages != 1 {
		t.Errorf("synthetic jobs listed: %d in %d pages", len(jobs), pages)
	}
	var toks struct {
		TokenInfos []wireTokenInfo `json:"token_infos"`
	}
	c.get("/api/2.0/token-management/tokens", &toks)
	if len(toks.TokenInfos) != 60 {
		t.Errorf("synthetic tokens listed: %d, want 60", len(toks.TokenInfos))
	}

	for _, bad := range []string{"jobs=x", "jobs=-1", "widgets=3", "jobs", "seed=-1"} {
		if err := AddSyntheticObjects(objTestSeed(), bad); err == nil {
			t.Errorf("spec %q: want an error", bad)
		}
	}
}

func TestSplitObjectKeys(t *testing.T) {
	id, obj := splitObjectKeys("workspaces=10, users=500,jobs=500,clusters=200,tokens=1000,seed=3")
	if id != "workspaces=10, users=500,seed=3" || obj != "jobs=500,clusters=200,tokens=1000,seed=3" {
		t.Errorf("split: identity %q, objects %q", id, obj)
	}
}

func TestObjectsNonAdminReads(t *testing.T) {
	srv := newObjServer(t, Options{})
	user := objClient{t: t, srv: srv, token: srv.UserToken(), ws: wsProd}
	var v map[string]any
	user.get("/api/2.2/jobs/list", &v)
	user.get("/api/2.1/clusters/list", &v)
	if status, _ := user.call(http.MethodDelete, "/api/2.0/token-management/tokens/"+strings.Repeat("0", 64)); status != http.StatusForbidden {
		t.Errorf("user deleting a token: status %d, want 403", status)
	}
}
