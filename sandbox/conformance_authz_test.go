package sandbox

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/dashboards"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/pipelines"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/databricks/databricks-sdk-go/service/settings"
	"github.com/databricks/databricks-sdk-go/service/sql"
	sdkws "github.com/databricks/databricks-sdk-go/service/workspace"
)

// Principals and tokens of the default seed used by the authorization
// conformance tests.
const (
	authzMateo     = "mateo.novak@acme.test" // the user token's principal, in "analysts"
	authzAisha     = "aisha.adeyemi@acme.test"
	authzAishaID   = "1100000000000001"
	authzAishaLeg  = "1500000000000010" // acme-legacy's own user for aisha
	authzAnalytics = "dapi-sandbox-analytics-admin"
	authzM2M       = "sandbox-sp-secret-terraform" // terraform-automation, account admin
	authzProdPAT   = "dapi-test-aisha-prod-pat"
	authzElenaPAT  = "dapi-test-elena-prod-pat"
)

// authzSeed is the default seed with two more tokens: a personal access
// token of prod for aisha (an account admin) and one for elena (a user who
// owns tokens in prod).
func authzSeed() *Seed {
	s := DefaultSeed()
	s.Tokens = append(s.Tokens,
		SeedToken{Token: authzProdPAT, Principal: authzAishaID, Role: RoleAccountAdmin, WorkspaceID: wsProd},
		SeedToken{Token: authzElenaPAT, Principal: objElenaID, Role: RoleUser, WorkspaceID: wsProd})
	return s
}

// sdkAs returns an official SDK workspace client of workspace ws for token.
func sdkAs(t testing.TB, srv *Server, token string, ws int64) *databricks.WorkspaceClient {
	t.Helper()
	w, err := databricks.NewWorkspaceClient(sdkConfig(srv, token, ws))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// wantStatus fails unless err is an SDK API error with status.
func wantStatus(t testing.TB, what string, err error, status int) *apierr.APIError {
	t.Helper()
	var ae *apierr.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status {
		t.Errorf("%s: %v, want HTTP %d", what, err, status)
		return nil
	}
	return ae
}

// permEntries renders ACL entries as "<name>=<level>" ("<name>=<level><src"
// for inherited levels, src the comma-joined sources).
func permEntries(acl []iam.AccessControlResponse) []string {
	var out []string
	for _, e := range acl {
		for _, l := range e.AllPermissions {
			s := e.UserName + e.GroupName + e.ServicePrincipalName + "=" + string(l.PermissionLevel)
			if l.Inherited {
				s += "<" + strings.Join(l.InheritedFromObject, ",")
			}
			out = append(out, s)
		}
	}
	return out
}

// TestSDKInheritedPermissions: replies carry what objects inherit, with
// the shapes recorded in the Terraform provider's exporter test data and the
// SDK's Permission model (inherited, inherited_from_object).
func TestSDKInheritedPermissions(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	seed := prodObjects(t)

	type sdkACL struct {
		name string
		get  func() ([]iam.AccessControlResponse, string, error)
		root string
	}
	conv := func(v any) []iam.AccessControlResponse {
		// Each service has its own response types; compare through iam's.
		var out []iam.AccessControlResponse
		switch l := v.(type) {
		case []jobs.JobAccessControlResponse:
			for _, e := range l {
				r := iam.AccessControlResponse{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName}
				for _, p := range e.AllPermissions {
					r.AllPermissions = append(r.AllPermissions, iam.Permission{PermissionLevel: iam.PermissionLevel(p.PermissionLevel), Inherited: p.Inherited, InheritedFromObject: p.InheritedFromObject})
				}
				out = append(out, r)
			}
		case []compute.ClusterAccessControlResponse:
			for _, e := range l {
				r := iam.AccessControlResponse{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName}
				for _, p := range e.AllPermissions {
					r.AllPermissions = append(r.AllPermissions, iam.Permission{PermissionLevel: iam.PermissionLevel(p.PermissionLevel), Inherited: p.Inherited, InheritedFromObject: p.InheritedFromObject})
				}
				out = append(out, r)
			}
		case []sql.WarehouseAccessControlResponse:
			for _, e := range l {
				r := iam.AccessControlResponse{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName}
				for _, p := range e.AllPermissions {
					r.AllPermissions = append(r.AllPermissions, iam.Permission{PermissionLevel: iam.PermissionLevel(p.PermissionLevel), Inherited: p.Inherited, InheritedFromObject: p.InheritedFromObject})
				}
				out = append(out, r)
			}
		case []pipelines.PipelineAccessControlResponse:
			for _, e := range l {
				r := iam.AccessControlResponse{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName}
				for _, p := range e.AllPermissions {
					r.AllPermissions = append(r.AllPermissions, iam.Permission{PermissionLevel: iam.PermissionLevel(p.PermissionLevel), Inherited: p.Inherited, InheritedFromObject: p.InheritedFromObject})
				}
				out = append(out, r)
			}
		case []serving.ServingEndpointAccessControlResponse:
			for _, e := range l {
				r := iam.AccessControlResponse{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName}
				for _, p := range e.AllPermissions {
					r.AllPermissions = append(r.AllPermissions, iam.Permission{PermissionLevel: iam.PermissionLevel(p.PermissionLevel), Inherited: p.Inherited, InheritedFromObject: p.InheritedFromObject})
				}
				out = append(out, r)
			}
		case []settings.TokenAccessControlResponse:
			for _, e := range l {
				r := iam.AccessControlResponse{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName}
				for _, p := range e.AllPermissions {
					r.AllPermissions = append(r.AllPermissions, iam.Permission{PermissionLevel: iam.PermissionLevel(p.PermissionLevel), Inherited: p.Inherited, InheritedFromObject: p.InheritedFromObject})
				}
				out = append(out, r)
			}
		}
		return out
	}
	job := seed.Jobs[0]
	cl := seed.Clusters[0]
	wh := seed.Warehouses[1]
	pl := seed.Pipelines[0]
	ep := seed.ServingEndpoints[0]
	for _, tc := range []sdkACL{
		{"job", func() ([]iam.AccessControlResponse, string, error) {
			p, err := w.Jobs.GetPermissions(ctx, jobs.GetJobPermissionsRequest{JobId: strconv.FormatInt(job.JobID, 10)})
			if err != nil {
				return nil, "", err
			}
			return conv(p.AccessControlList), p.ObjectId, nil
		}, "/jobs/"},
		{"cluster", func() ([]iam.AccessControlResponse, string, error) {
			p, err := w.Clusters.GetPermissions(ctx, compute.GetClusterPermissionsRequest{ClusterId: cl.ClusterID})
			if err != nil {
				return nil, "", err
			}
			return conv(p.AccessControlList), p.ObjectId, nil
		}, "/clusters/"},
		{"warehouse", func() ([]iam.AccessControlResponse, string, error) {
			p, err := w.Warehouses.GetPermissions(ctx, sql.GetWarehousePermissionsRequest{WarehouseId: wh.ID})
			if err != nil {
				return nil, "", err
			}
			return conv(p.AccessControlList), p.ObjectId, nil
		}, "/sql/warehouses/"},
		{"pipeline", func() ([]iam.AccessControlResponse, string, error) {
			p, err := w.Pipelines.GetPermissions(ctx, pipelines.GetPipelinePermissionsRequest{PipelineId: pl.PipelineID})
			if err != nil {
				return nil, "", err
			}
			return conv(p.AccessControlList), p.ObjectId, nil
		}, "/pipelines/"},
		{"serving endpoint", func() ([]iam.AccessControlResponse, string, error) {
			p, err := w.ServingEndpoints.GetPermissions(ctx, serving.GetServingEndpointPermissionsRequest{ServingEndpointId: ep.ID})
			if err != nil {
				return nil, "", err
			}
			return conv(p.AccessControlList), p.ObjectId, nil
		}, "/serving-endpoints/"},
	} {
		acl, oid, err := tc.get()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := permEntries(acl)
		// The admins group's entry is the inherited one, last.
		if want := "admins=CAN_MANAGE<" + tc.root; len(got) == 0 || got[len(got)-1] != want {
			t.Errorf("%s %s ACL %v: want last entry %s", tc.name, oid, got, want)
		}
		for _, e := range got[:len(got)-1] {
			if strings.Contains(e, "<") {
				t.Errorf("%s %s: unexpected inherited entry %s", tc.name, oid, e)
			}
		}
	}

	// authorization/tokens is never empty: admins hold CAN_MANAGE directly.
	tp, err := w.TokenManagement.GetPermissions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := permEntries(conv(tp.AccessControlList)); tp.ObjectId != "/authorization/tokens" || tp.ObjectType != "tokens" ||
		!slices.Equal(got, []string{"admins=CAN_MANAGE"}) {
		t.Errorf("token permissions %s %s: %v", tp.ObjectId, tp.ObjectType, got)
	}
	// Granting users CAN_USE keeps the admins grant; a PUT cannot drop it.
	tp, err = w.TokenManagement.SetPermissions(ctx, settings.TokenPermissionsRequest{
		AccessControlList: []settings.TokenAccessControlRequest{{GroupName: "users", PermissionLevel: settings.TokenPermissionLevelCanUse}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := permEntries(conv(tp.AccessControlList)); !slices.Equal(got, []string{"admins=CAN_MANAGE", "users=CAN_USE"}) {
		t.Errorf("token permissions after PUT: %v", got)
	}
}

// TestSDKDirectoryInheritance checks the parents hook through the tree: a
// notebook inherits its directories' grants (nearest first, merged per
// principal and level) and the admins group's grant from the tree's root.
func TestSDKDirectoryInheritance(t *testing.T) {
	seed := smallSeed(t)
	i := slices.IndexFunc(seed.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })
	seed.Workspaces[i].Objects = &SeedObjects{WorkspaceObjects: []SeedWorkspaceObject{
		{Path: "/Users/bob", ObjectType: "DIRECTORY", ObjectID: 10},
		{Path: "/Users/bob/project", ObjectType: "DIRECTORY", ObjectID: 11},
		{Path: "/Users/bob/project/nb", ObjectID: 12},
	}}
	seed.Workspaces[i].Grants = &SeedGrants{Objects: []SeedObjectACL{
		{ObjectType: "directories", ObjectID: "10", ACL: []SeedGrant{ // /Users/bob
			{UserName: "bob@small.test", PermissionLevel: "CAN_MANAGE"}, {GroupName: "team a", PermissionLevel: "CAN_READ"}}},
		{ObjectType: "directories", ObjectID: "11", ACL: []SeedGrant{ // /Users/bob/project
			{GroupName: "team a", PermissionLevel: "CAN_READ"}, {GroupName: "ops", PermissionLevel: "CAN_RUN"}}},
		{ObjectType: "notebooks", ObjectID: "12", ACL: []SeedGrant{ // /Users/bob/project/nb
			{GroupName: "ops", PermissionLevel: "CAN_EDIT"}}},
	}}
	srv := NewTestServer(t, Options{Seed: seed})
	w := sdkAs(t, srv, srv.AdminToken(), wsFed)
	ctx := context.Background()
	nb, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "notebooks", RequestObjectId: "12"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ops=CAN_EDIT",                                    // direct, first
		"ops=CAN_RUN</directories/11",                     // the same principal's inherited level
		"team a=CAN_READ</directories/11,/directories/10", // one level from two parents, nearest first
		"bob@small.test=CAN_MANAGE</directories/10",
		"admins=CAN_MANAGE</directories/",
	}
	if got := permEntries(nb.AccessControlList); nb.ObjectId != "/notebooks/12" || nb.ObjectType != "notebook" || !slices.Equal(got, want) {
		t.Errorf("notebook %s %s:\n got %v\nwant %v", nb.ObjectId, nb.ObjectType, got, want)
	}
	// bob manages the notebook through his folder: he can change its grants
	// although he holds nothing on it directly.
	bob := sdkAs(t, srv, srv.UserToken(), wsFed)
	if _, err := bob.Permissions.Update(ctx, iam.UpdateObjectPermissions{RequestObjectType: "notebooks", RequestObjectId: "12",
		AccessControlList: []iam.AccessControlRequest{{UserName: "cy@small.test", PermissionLevel: iam.PermissionLevelCanRead}}}); err != nil {
		t.Errorf("bob updates a notebook he manages through its folder: %v", err)
	}
}

// TestSDKAuthorization: an owner or CAN_MANAGE holder can update an
// object's permissions, only admins change owners (unless the knob says
// otherwise), secret ACLs need MANAGE, and lists show a non-admin what it
// can access.
func TestSDKAuthorization(t *testing.T) {
	srv := newObjServer(t, Options{Seed: authzSeed()})
	ctx := context.Background()
	admin := sdkWS(t, srv, wsProd)
	mateo := sdkAs(t, srv, srv.UserToken(), wsProd)
	seed := prodObjects(t)

	t.Run("Permissions", func(t *testing.T) {
		job := strconv.FormatInt(seed.Jobs[2].JobID, 10) // 103: elena's, no grant for mateo
		other := strconv.FormatInt(seed.Jobs[3].JobID, 10)
		add := func(w *databricks.WorkspaceClient, id, user string, level jobs.JobPermissionLevel) error {
			_, err := w.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: id,
				AccessControlList: []jobs.JobAccessControlRequest{{UserName: user, PermissionLevel: level}}})
			return err
		}
		wantStatus(t, "non-manager updates job permissions", add(mateo, job, objFarid, jobs.JobPermissionLevelCanView), 403)
		if _, err := mateo.Jobs.GetPermissions(ctx, jobs.GetJobPermissionsRequest{JobId: job}); err == nil {
			t.Error("mateo reads the ACL of a job he has no permission on")
		}
		if err := add(admin, job, authzMateo, jobs.JobPermissionLevelCanManage); err != nil {
			t.Fatal(err)
		}
		if err := add(mateo, job, objFarid, jobs.JobPermissionLevelCanView); err != nil {
			t.Errorf("CAN_MANAGE holder updates job permissions: %v", err)
		}
		wantStatus(t, "CAN_MANAGE on one job, update another", add(mateo, other, objFarid, jobs.JobPermissionLevelCanView), 403)
		ae := wantStatus(t, "manager changes the owner", add(mateo, job, objFarid, jobs.JobPermissionLevelIsOwner), 403)
		if ae != nil && !strings.Contains(ae.Message, "owner") {
			t.Errorf("owner change refused with %q", ae.Message)
		}
		// The owner itself may update the ACL.
		elena := sdkAs(t, srv, authzElenaPAT, wsProd)
		if err := add(elena, job, objGrace, jobs.JobPermissionLevelCanView); err != nil {
			t.Errorf("owner updates job permissions: %v", err)
		}
		// A group's grant counts for its members: analysts manage a query.
		q := seed.Queries[0].ID
		if _, err := admin.Permissions.Update(ctx, iam.UpdateObjectPermissions{RequestObjectType: "queries", RequestObjectId: q,
			AccessControlList: []iam.AccessControlRequest{{GroupName: "analysts", PermissionLevel: iam.PermissionLevelCanManage}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := mateo.Permissions.Update(ctx, iam.UpdateObjectPermissions{RequestObjectType: "queries", RequestObjectId: q,
			AccessControlList: []iam.AccessControlRequest{{UserName: objFarid, PermissionLevel: iam.PermissionLevelCanView}}}); err != nil {
			t.Errorf("member of a managing group updates query permissions: %v", err)
		}
	})

	t.Run("OwnerKnob", func(t *testing.T) {
		srv := newObjServer(t, Options{Seed: authzSeed(), ManagersSetOwner: true})
		admin, mateo := sdkWS(t, srv, wsProd), sdkAs(t, srv, srv.UserToken(), wsProd)
		job := strconv.FormatInt(seed.Jobs[2].JobID, 10)
		if _, err := admin.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: job,
			AccessControlList: []jobs.JobAccessControlRequest{{UserName: authzMateo, PermissionLevel: jobs.JobPermissionLevelCanManage}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := mateo.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: job,
			AccessControlList: []jobs.JobAccessControlRequest{{UserName: objFarid, PermissionLevel: jobs.JobPermissionLevelIsOwner}}}); err != nil {
			t.Errorf("with managers_set_owner a manager changes the owner: %v", err)
		}
	})

	t.Run("Secrets", func(t *testing.T) {
		scopes, err := mateo.Secrets.ListScopesAll(ctx)
		if err != nil || len(scopes) == 0 {
			t.Fatalf("a member lists secret scopes: %d, %v", len(scopes), err)
		}
		scope := scopes[0].Name
		_, err = mateo.Secrets.ListAclsAll(ctx, sdkws.ListAclsRequest{Scope: scope})
		wantStatus(t, "list-acls without MANAGE", err, 403)
		_, err = mateo.Secrets.GetAcl(ctx, sdkws.GetAclRequest{Scope: scope, Principal: authzMateo})
		wantStatus(t, "get-acl without MANAGE", err, 403)
		wantStatus(t, "put-acl without MANAGE", mateo.Secrets.PutAcl(ctx, sdkws.PutAcl{Scope: scope, Principal: authzMateo, Permission: sdkws.AclPermissionManage}), 403)
		// MANAGE through a group is enough.
		if err := admin.Secrets.PutAcl(ctx, sdkws.PutAcl{Scope: scope, Principal: "analysts", Permission: sdkws.AclPermissionManage}); err != nil {
			t.Fatal(err)
		}
		if err := mateo.Secrets.PutAcl(ctx, sdkws.PutAcl{Scope: scope, Principal: objFarid, Permission: sdkws.AclPermissionRead}); err != nil {
			t.Errorf("MANAGE holder puts an ACL: %v", err)
		}
		if _, err := mateo.Secrets.ListAclsAll(ctx, sdkws.ListAclsRequest{Scope: scope}); err != nil {
			t.Errorf("MANAGE holder lists ACLs: %v", err)
		}
	})

	t.Run("Lists", func(t *testing.T) {
		srv := newObjServer(t, Options{Seed: authzSeed()})
		admin, mateo := sdkWS(t, srv, wsProd), sdkAs(t, srv, srv.UserToken(), wsProd)
		// Warehouse 0 grants "users" and "analysts" CAN_USE; warehouse 1 is
		// elena's alone.
		whs, err := mateo.Warehouses.ListAll(ctx, sql.ListWarehousesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range whs {
			got = append(got, w.Id)
		}
		if !slices.Contains(got, seed.Warehouses[0].ID) || slices.Contains(got, seed.Warehouses[1].ID) {
			t.Errorf("mateo's warehouses %v: want %s, not %s", got, seed.Warehouses[0].ID, seed.Warehouses[1].ID)
		}
		_, err = mateo.Warehouses.GetById(ctx, seed.Warehouses[1].ID)
		wantStatus(t, "get a warehouse mateo cannot access", err, 403)

		// Nothing else in prod is shared with mateo: every other list is
		// empty for him, and an admin sees everything.
		empty := map[string]func() (int, error){
			"queries": func() (int, error) {
				l, err := mateo.Queries.ListAll(ctx, sql.ListQueriesRequest{})
				return len(l), err
			},
			"alerts": func() (int, error) {
				l, err := mateo.Alerts.ListAll(ctx, sql.ListAlertsRequest{})
				return len(l), err
			},
			"alerts v2": func() (int, error) {
				l, err := mateo.AlertsV2.ListAlertsAll(ctx, sql.ListAlertsV2Request{})
				return len(l), err
			},
			"lakeview dashboards": func() (int, error) {
				l, err := mateo.Lakeview.ListAll(ctx, dashboards.ListDashboardsRequest{})
				return len(l), err
			},
			"legacy dashboards": func() (int, error) {
				l, err := mateo.Dashboards.ListAll(ctx, sql.ListDashboardsRequest{})
				return len(l), err
			},
			"jobs": func() (int, error) {
				l, err := mateo.Jobs.ListAll(ctx, jobs.ListJobsRequest{})
				return len(l), err
			},
			"clusters": func() (int, error) {
				l, err := mateo.Clusters.ListAll(ctx, compute.ListClustersRequest{})
				return len(l), err
			},
			"pipelines": func() (int, error) {
				l, err := mateo.Pipelines.ListPipelinesAll(ctx, pipelines.ListPipelinesRequest{})
				return len(l), err
			},
			"serving endpoints": func() (int, error) {
				l, err := mateo.ServingEndpoints.ListAll(ctx)
				return len(l), err
			},
		}
		for what, list := range empty {
			if n, err := list(); err != nil || n != 0 {
				t.Errorf("mateo lists %d %s (%v), want none", n, what, err)
			}
		}
		if l, err := admin.Queries.ListAll(ctx, sql.ListQueriesRequest{}); err != nil || len(l) != len(seed.Queries) {
			t.Errorf("admin lists %d queries (%v), want %d", len(l), err, len(seed.Queries))
		}
		_, err = mateo.Queries.GetById(ctx, seed.Queries[0].ID)
		wantStatus(t, "get a query mateo cannot access", err, 403)

		// A grant makes the object appear.
		if _, err := admin.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: strconv.FormatInt(seed.Jobs[0].JobID, 10),
			AccessControlList: []jobs.JobAccessControlRequest{{GroupName: "analysts", PermissionLevel: jobs.JobPermissionLevelCanView}}}); err != nil {
			t.Fatal(err)
		}
		if l, err := mateo.Jobs.ListAll(ctx, jobs.ListJobsRequest{}); err != nil || len(l) != 1 || l[0].JobId != seed.Jobs[0].JobID {
			t.Errorf("mateo's jobs after a grant to his group: %+v, %v", l, err)
		}

		// With list_all_objects, jobs, clusters, pipelines, serving
		// endpoints and apps are listed for every member; queries are not.
		open := newObjServer(t, Options{Seed: authzSeed(), ListAllObjects: true})
		m := sdkAs(t, open, open.UserToken(), wsProd)
		if l, err := m.Jobs.ListAll(ctx, jobs.ListJobsRequest{}); err != nil || len(l) != len(seed.Jobs) {
			t.Errorf("list_all_objects: mateo lists %d jobs (%v), want %d", len(l), err, len(seed.Jobs))
		}
		if l, err := m.Queries.ListAll(ctx, sql.ListQueriesRequest{}); err != nil || len(l) != 0 {
			t.Errorf("list_all_objects: mateo lists %d queries (%v), want none", len(l), err)
		}
	})
}

// TestSDKTokenScope: a personal access token works in the workspace that
// issued it only, and not on account APIs unless the knob says so; an
// account-level token works wherever its principal has access.
func TestSDKTokenScope(t *testing.T) {
	srv := NewTestServer(t, Options{Seed: authzSeed()})
	ctx := context.Background()
	listUsers := func(token string, ws int64) error {
		_, err := sdkAs(t, srv, token, ws).Users.ListAll(ctx, iam.ListUsersRequest{Count: 1})
		return err
	}
	// ben's PAT of acme-analytics.
	if err := listUsers(authzAnalytics, wsAnalytics); err != nil {
		t.Errorf("PAT in its workspace: %v", err)
	}
	for _, ws := range []int64{wsProd, wsML, wsLegacy} {
		ae := wantStatus(t, "PAT of acme-analytics in workspace "+strconv.FormatInt(ws, 10), listUsers(authzAnalytics, ws), 403)
		if ae != nil && ae.Message != "Invalid access to Org: "+strconv.FormatInt(ws, 10) {
			t.Errorf("message %q", ae.Message)
		}
	}
	// aisha's PAT of prod: her account role does not open the account APIs
	// to it, nor other workspaces.
	if err := listUsers(authzProdPAT, wsProd); err != nil {
		t.Errorf("account admin's PAT in its workspace: %v", err)
	}
	wantStatus(t, "account admin's PAT in acme-ml", listUsers(authzProdPAT, wsML), 403)
	acct := func(srv *Server, token string) error {
		a, err := databricks.NewAccountClient(sdkConfig(srv, token, 0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Workspaces.List(ctx)
		return err
	}
	wantStatus(t, "PAT on the account API", acct(srv, authzProdPAT), 401)
	if err := acct(srv, srv.AdminToken()); err != nil {
		t.Errorf("account-level token on the account API: %v", err)
	}
	lenient := NewTestServer(t, Options{Seed: authzSeed(), AccountPATs: true})
	if err := acct(lenient, authzProdPAT); err != nil {
		t.Errorf("account_pats: an account admin's PAT on the account API: %v", err)
	}
	wantStatus(t, "account_pats: a workspace admin's PAT on the account API", acct(lenient, authzAnalytics), 403)

	// Account-level tokens: aisha is in every workspace (acme-legacy through
	// its own user with her user name); the terraform service principal,
	// through OAuth M2M, in the federated ones only.
	for _, ws := range []int64{wsProd, wsAnalytics, wsML, wsLegacy} {
		if err := listUsers(srv.AdminToken(), ws); err != nil {
			t.Errorf("account-level token in %d: %v", ws, err)
		}
	}
	m2m := func(ws int64) error {
		w, err := databricks.NewWorkspaceClient(&databricks.Config{Host: srv.URL(), AuthType: "oauth-m2m",
			ClientID: "bd2e3835-c978-4802-8bf2-651e743e4efe", ClientSecret: authzM2M,
			WorkspaceID: strconv.FormatInt(ws, 10), Loaders: sdkConfig(srv, "", 0).Loaders})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.Users.ListAll(ctx, iam.ListUsersRequest{Count: 1})
		return err
	}
	if err := m2m(wsProd); err != nil {
		t.Errorf("M2M in prod: %v", err)
	}
	ae := wantStatus(t, "M2M token where its principal has no access", m2m(wsLegacy), 403)
	if ae != nil && !strings.Contains(ae.Message, "not a member") {
		t.Errorf("message %q", ae.Message)
	}
	// A PAT without the workspace header reaches its own workspace, as a
	// workspace host would.
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/2.0/preview/scim/v2/Me", nil)
	req.Header.Set("Authorization", "Bearer "+authzAnalytics)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Databricks-Org-Id") != strconv.FormatInt(wsAnalytics, 10) {
		t.Errorf("PAT without a workspace header: %d, org %s", resp.StatusCode, resp.Header.Get("X-Databricks-Org-Id"))
	}
}

// TestSDKMeNonFederated: in a workspace without identity federation, Me is
// the workspace's own user with the caller's user name.
func TestSDKMeNonFederated(t *testing.T) {
	srv := NewTestServer(t, Options{})
	ctx := context.Background()
	me, err := sdkWS(t, srv, wsLegacy).CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if me.Id != authzAishaLeg || me.UserName != authzAisha {
		t.Errorf("Me in acme-legacy: %s %s, want %s %s", me.Id, me.UserName, authzAishaLeg, authzAisha)
	}
	if _, err := sdkWS(t, srv, wsLegacy).Users.GetById(ctx, me.Id); err != nil {
		t.Errorf("Me's id is not a user of the workspace: %v", err)
	}
	me, err = sdkWS(t, srv, wsProd).CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil || me.Id != authzAishaID {
		t.Errorf("Me in prod: %+v, %v", me, err)
	}
}

// TestSDKMissingEndpoints: own tokens, a query and an alert by id, and the
// legacy query and alert lists, served from the same state.
func TestSDKMissingEndpoints(t *testing.T) {
	srv := newObjServer(t, Options{Seed: authzSeed()})
	ctx := context.Background()
	admin := sdkWS(t, srv, wsProd)
	seed := prodObjects(t)

	elena := sdkAs(t, srv, authzElenaPAT, wsProd)
	own, err := elena.Tokens.ListAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, ti := range own {
		got = append(got, ti.TokenId)
		if ti.CreationTime == 0 || ti.ExpiryTime == 0 {
			t.Errorf("token %+v", ti)
		}
	}
	for _, ti := range seed.Tokens {
		if strings.EqualFold(ti.Owner, objElena) {
			want = append(want, ti.TokenID)
		}
	}
	if len(want) == 0 {
		t.Fatal("the seed gives elena no token")
	}
	sameStrings(t, "elena's own tokens", got, want)
	if l, err := sdkAs(t, srv, srv.UserToken(), wsProd).Tokens.ListAll(ctx); err != nil || len(l) != 0 {
		t.Errorf("mateo's own tokens: %v, %v", l, err)
	}

	q := seed.Queries[1]
	query, err := admin.Queries.GetById(ctx, q.ID)
	if err != nil {
		t.Fatal(err)
	}
	if query.Id != q.ID || query.DisplayName != q.DisplayName || query.OwnerUserName != q.Owner || query.ParentPath != "/Users/"+q.Owner {
		t.Errorf("query %+v", query)
	}
	_, err = admin.Queries.GetById(ctx, "00000000-0000-4000-8000-000000000000")
	if !errors.Is(err, databricks.ErrNotFound) {
		t.Errorf("missing query: %v", err)
	}
	a := seed.Alerts[0]
	alert, err := admin.Alerts.GetById(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if alert.Id != a.ID || alert.DisplayName != a.DisplayName || alert.QueryId != a.QueryID || alert.OwnerUserName != a.Owner {
		t.Errorf("alert %+v", alert)
	}

	// Pages of two (ListAll would stop at PageSize items in total).
	got, want = nil, nil
	it := admin.QueriesLegacy.List(ctx, sql.ListQueriesLegacyRequest{PageSize: 2})
	for it.HasNext(ctx) {
		l, err := it.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Id+"/"+l.Name+"/"+l.User.Email+"/"+string(l.RunAsRole))
	}
	for _, sq := range seed.Queries {
		if !sq.Trashed {
			want = append(want, sq.ID+"/"+sq.DisplayName+"/"+sq.Owner+"/"+strings.ToLower(cmpOr(sq.RunAsMode, "VIEWER")))
		}
	}
	sameStrings(t, "legacy queries", got, want)
	alerts, err := admin.AlertsLegacy.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, want = nil, nil
	for _, l := range alerts {
		got = append(got, l.Id+"/"+l.Name+"/"+l.Query.Id+"/"+string(l.State))
	}
	for _, sa := range seed.Alerts {
		want = append(want, sa.ID+"/"+sa.DisplayName+"/"+sa.QueryID+"/"+strings.ToLower(cmpOr(sa.State, "UNKNOWN")))
	}
	sameStrings(t, "legacy alerts", got, want)
}

// TestSDKWarehouseJDBC: a warehouse's jdbc_url has one port (443).
func TestSDKWarehouseJDBC(t *testing.T) {
	srv := newObjServer(t, Options{})
	seed := prodObjects(t)
	wh, err := sdkWS(t, srv, wsProd).Warehouses.GetById(context.Background(), seed.Warehouses[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rest, ok := strings.CutPrefix(wh.JdbcUrl, "jdbc:spark://")
	hostPort, _, _ := strings.Cut(rest, "/")
	u, err := url.Parse("https://" + hostPort)
	if !ok || err != nil || u.Port() != "443" || strings.Count(hostPort, ":") != 1 || u.Hostname() != "127.0.0.1" {
		t.Errorf("jdbc_url %q: host and port %q", wh.JdbcUrl, hostPort)
	}
	if !strings.HasSuffix(wh.JdbcUrl, ";httpPath=/sql/1.0/warehouses/"+wh.Id+";") {
		t.Errorf("jdbc_url %q", wh.JdbcUrl)
	}
}
