package sandbox

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/pipelines"
	"github.com/databricks/databricks-sdk-go/service/settings"
	"github.com/databricks/databricks-sdk-go/service/sharing"
	"github.com/databricks/databricks-sdk-go/service/sql"
)

// Default seed names used by the handover conformance tests.
const (
	hoElena   = "elena.patel@acme.test"
	hoDana    = "dana.varga@acme.test"
	hoEtlProd = "b83e9e22-b2ed-4451-bcdd-00b79deb79be" // service principal etl-prod (the seed gives aisha its User role)
	hoEtlDev  = "81b23769-a23c-4b56-bd1e-b8344beb2db8" // service principal etl-dev (no rule set)
	hoAisha   = "aisha.adeyemi@acme.test"              // the admin token's user
)

// wantSDKError fails unless err is an SDK API error with this status and
// a message containing part.
func wantSDKError(t *testing.T, what string, err error, status int, part string) {
	t.Helper()
	var ae *apierr.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status || !strings.Contains(ae.Message, part) {
		t.Errorf("%s: err = %v; want %d containing %q", what, err, status, part)
	}
}

// grantSPUser gives the admin token's user the Service Principal User role
// on sp, through the SDK's account access control client (read, then write
// with the etag read).
func grantSPUser(t *testing.T, a *databricks.AccountClient, srv *Server, appID, principal string) {
	t.Helper()
	ctx := context.Background()
	name := "accounts/" + srv.AccountID() + "/servicePrincipals/" + appID + "/ruleSets/default"
	rs, err := a.AccessControl.GetRuleSet(ctx, iam.GetRuleSetRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	rules := append(rs.GrantRules, iam.GrantRule{Role: RoleSPUser, Principals: []string{principal}})
	if _, err := a.AccessControl.UpdateRuleSet(ctx, iam.UpdateRuleSetRequest{Name: name,
		RuleSet: iam.RuleSetUpdateRequest{Name: name, Etag: rs.Etag, GrantRules: rules}}); err != nil {
		t.Fatal(err)
	}
}

// TestConformanceHandoverJobs: job run_as through jobs/update and reset,
// and the job owner through the permissions API: exactly one owner, a
// user or a service principal; run_as to a service principal needs the
// Service Principal User role, admins included.
func TestConformanceHandoverJobs(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	a := sdkAccount(t, srv)
	ctx := context.Background()

	err := w.Jobs.Update(ctx, jobs.UpdateJob{JobId: 108, NewSettings: &jobs.JobSettings{
		RunAs: &jobs.JobRunAs{ServicePrincipalName: hoEtlDev}}})
	wantSDKError(t, "run_as to a service principal without the role", err, http.StatusForbidden, "servicePrincipal/user")
	grantSPUser(t, a, srv, hoEtlDev, "users/"+hoAisha)
	if err := w.Jobs.Update(ctx, jobs.UpdateJob{JobId: 108, NewSettings: &jobs.JobSettings{
		RunAs: &jobs.JobRunAs{ServicePrincipalName: hoEtlDev}}}); err != nil {
		t.Fatalf("run_as with the role: %v", err)
	}
	j, err := w.Jobs.GetByJobId(ctx, 108)
	if err != nil || j.RunAsUserName != hoEtlDev || j.Settings.Name != "landing-file-loader" {
		t.Fatalf("job 108 after update: %+v, %v", j, err)
	}
	err = w.Jobs.Update(ctx, jobs.UpdateJob{JobId: 108, NewSettings: &jobs.JobSettings{
		RunAs: &jobs.JobRunAs{UserName: hoDana, ServicePrincipalName: hoEtlProd}}})
	wantSDKError(t, "run_as with both names", err, http.StatusBadRequest, "Exactly one")
	err = w.Jobs.Update(ctx, jobs.UpdateJob{JobId: 108, NewSettings: &jobs.JobSettings{RunAs: &jobs.JobRunAs{UserName: "nobody@acme.test"}}})
	wantSDKError(t, "run_as to an unknown user", err, http.StatusBadRequest, "not an active user")
	if err := w.Jobs.Update(ctx, jobs.UpdateJob{JobId: 108, NewSettings: &jobs.JobSettings{RunAs: &jobs.JobRunAs{UserName: hoDana}}}); err != nil {
		t.Fatalf("an admin sets run_as to a user: %v", err)
	}
	if j, _ := w.Jobs.GetByJobId(ctx, 108); j.RunAsUserName != hoDana {
		t.Errorf("run_as = %q, want %s", j.RunAsUserName, hoDana)
	}
	// Reset replaces every setting: without run_as the job runs as its owner.
	if err := w.Jobs.Reset(ctx, jobs.ResetJob{JobId: 108, NewSettings: jobs.JobSettings{Name: "landing-file-loader"}}); err != nil {
		t.Fatal(err)
	}
	if j, _ := w.Jobs.GetByJobId(ctx, 108); j.RunAsUserName != hoElena {
		t.Errorf("after reset run_as = %q, want the owner %s", j.RunAsUserName, hoElena)
	}

	// Owner: exactly one, never a group.
	_, err = w.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: "101", AccessControlList: []jobs.JobAccessControlRequest{
		{GroupName: "data-engineers", PermissionLevel: jobs.JobPermissionLevelIsOwner}}})
	wantSDKError(t, "a group as owner", err, http.StatusBadRequest, "group cannot be the owner")
	_, err = w.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: "101", AccessControlList: []jobs.JobAccessControlRequest{
		{UserName: hoDana, PermissionLevel: jobs.JobPermissionLevelIsOwner},
		{ServicePrincipalName: hoEtlProd, PermissionLevel: jobs.JobPermissionLevelIsOwner}}})
	wantSDKError(t, "two owners", err, http.StatusBadRequest, "only one owner")
	p, err := w.Jobs.UpdatePermissions(ctx, jobs.JobPermissionsRequest{JobId: "101", AccessControlList: []jobs.JobAccessControlRequest{
		{ServicePrincipalName: hoEtlProd, PermissionLevel: jobs.JobPermissionLevelIsOwner}}})
	if err != nil {
		t.Fatal(err)
	}
	owners := 0
	for _, e := range p.AccessControlList {
		for _, l := range e.AllPermissions {
			if l.PermissionLevel == jobs.JobPermissionLevelIsOwner {
				owners++
				if e.ServicePrincipalName != hoEtlProd {
					t.Errorf("owner = %+v, want the service principal", e)
				}
			}
		}
	}
	if owners != 1 {
		t.Errorf("job 101 has %d owners after the transfer, want 1", owners)
	}
	if j, _ := w.Jobs.GetByJobId(ctx, 101); j.RunAsUserName != hoEtlProd {
		t.Errorf("a job without run_as runs as %q, want its new owner", j.RunAsUserName)
	}
}

func TestConformanceHandoverPipelines(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	const id = "edc846dc-9e46-4dab-999b-673b4e6c9624" // sales-dlt, runs as its creator elena
	err := w.Pipelines.Update(ctx, pipelines.EditPipeline{PipelineId: id, Name: "sales-dlt",
		RunAs: &pipelines.RunAs{UserName: hoDana}})
	wantSDKError(t, "pipeline run_as to another user", err, http.StatusForbidden, "their own user name")
	err = w.Pipelines.Update(ctx, pipelines.EditPipeline{PipelineId: id, Name: "sales-dlt",
		RunAs: &pipelines.RunAs{ServicePrincipalName: hoEtlDev}})
	wantSDKError(t, "pipeline run_as to a service principal without the role", err, http.StatusForbidden, "servicePrincipal/user")
	if err := w.Pipelines.Update(ctx, pipelines.EditPipeline{PipelineId: id, Name: "sales-dlt", Catalog: "main",
		RunAs: &pipelines.RunAs{ServicePrincipalName: hoEtlProd}}); err != nil {
		t.Fatal(err)
	}
	p, err := w.Pipelines.GetByPipelineId(ctx, id)
	if err != nil || p.RunAsUserName != hoEtlProd || p.RunAs == nil || p.RunAs.ServicePrincipalName != hoEtlProd {
		t.Fatalf("pipeline after edit: %+v, %v", p, err)
	}
	err = w.Pipelines.Update(ctx, pipelines.EditPipeline{PipelineId: id})
	wantSDKError(t, "edit without a name", err, http.StatusBadRequest, "name")
}

func TestConformanceHandoverClusters(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	const dev = "1102-083015-9cfb92b4" // elena-dev: running, dedicated to elena
	err := w.Clusters.ChangeOwner(ctx, compute.ChangeClusterOwner{ClusterId: dev, OwnerUsername: hoEtlProd})
	wantSDKError(t, "change-owner of a running cluster", err, http.StatusBadRequest, "TERMINATED")

	// Updating the dedicated user of a running cluster restarts it.
	if _, err := w.Clusters.Update(ctx, compute.UpdateCluster{ClusterId: dev, UpdateMask: "single_user_name",
		Cluster: &compute.UpdateClusterResource{SingleUserName: hoEtlProd}}); err != nil {
		t.Fatal(err)
	}
	c, err := w.Clusters.GetByClusterId(ctx, dev)
	if err != nil || c.SingleUserName != hoEtlProd || c.State != compute.StateRunning || srv.ClusterRestarts(wsProd, dev) != 1 {
		t.Fatalf("after update: %q %s, restarts %d, %v", c.SingleUserName, c.State, srv.ClusterRestarts(wsProd, dev), err)
	}
	if _, err := w.Clusters.DeleteAndWait(ctx, compute.DeleteCluster{ClusterId: dev}); err != nil {
		t.Fatal(err)
	}
	if err := w.Clusters.ChangeOwner(ctx, compute.ChangeClusterOwner{ClusterId: dev, OwnerUsername: hoEtlProd}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Clusters.StartAndWait(ctx, compute.StartCluster{ClusterId: dev}); err != nil {
		t.Fatal(err)
	}
	c, _ = w.Clusters.GetByClusterId(ctx, dev)
	if c.CreatorUserName != hoEtlProd || c.State != compute.StateRunning {
		t.Errorf("after change-owner: creator %q state %s", c.CreatorUserName, c.State)
	}
	acl, err := w.Clusters.GetPermissions(ctx, compute.GetClusterPermissionsRequest{ClusterId: dev})
	if err != nil || !hasLevel(acl.AccessControlList, hoEtlProd) {
		t.Errorf("new owner has no CAN_MANAGE: %+v, %v", acl, err)
	}
	err = w.Clusters.ChangeOwner(ctx, compute.ChangeClusterOwner{ClusterId: "0301-101010-b16fbef0", OwnerUsername: "data-engineers"})
	wantSDKError(t, "a group as cluster owner", err, http.StatusBadRequest, "not an active user or service principal")
	_, err = w.Clusters.Update(ctx, compute.UpdateCluster{ClusterId: "1020-111111-b30e3e83", UpdateMask: "single_user_name",
		Cluster: &compute.UpdateClusterResource{SingleUserName: hoDana}})
	wantSDKError(t, "update of a job cluster", err, http.StatusBadRequest, "cannot be updated")
}

func hasLevel(acl []compute.ClusterAccessControlResponse, name string) bool {
	for _, e := range acl {
		if e.UserName == name || e.ServicePrincipalName == name {
			for _, l := range e.AllPermissions {
				if l.PermissionLevel == compute.ClusterPermissionLevelCanManage {
					return true
				}
			}
		}
	}
	return false
}

// TestConformanceHandoverSQL: query, alert and v2 alert owners through
// their update APIs (admins only, users only), and the legacy transfer
// endpoint.
func TestConformanceHandoverSQL(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	const query = "9e36bbed-a57f-44cf-9f24-b8bf7e2ad14f"
	_, err := w.Queries.Update(ctx, sql.UpdateQueryRequest{Id: query, UpdateMask: "owner_user_name",
		Query: &sql.UpdateQueryRequestQuery{OwnerUserName: hoEtlProd}})
	wantSDKError(t, "a service principal as query owner", err, http.StatusBadRequest, "cannot own")
	_, err = w.Queries.Update(ctx, sql.UpdateQueryRequest{Id: query, Query: &sql.UpdateQueryRequestQuery{OwnerUserName: hoDana}})
	wantSDKError(t, "update without a mask", err, http.StatusBadRequest, "update_mask")
	q, err := w.Queries.Update(ctx, sql.UpdateQueryRequest{Id: query, UpdateMask: "owner_user_name",
		Query: &sql.UpdateQueryRequestQuery{OwnerUserName: hoDana}})
	if err != nil || q.OwnerUserName != hoDana {
		t.Fatalf("query owner: %+v, %v", q, err)
	}
	user, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), wsProd))
	if err != nil {
		t.Fatal(err)
	}
	_, err = user.Queries.Update(ctx, sql.UpdateQueryRequest{Id: query, UpdateMask: "owner_user_name",
		Query: &sql.UpdateQueryRequestQuery{OwnerUserName: hoElena}})
	wantSDKError(t, "a non-admin transfers a query", err, http.StatusForbidden, "")

	al, err := w.Alerts.Update(ctx, sql.UpdateAlertRequest{Id: "3f56973a-bd87-4b4d-a0a0-8e03ed123634", UpdateMask: "owner_user_name",
		Alert: &sql.UpdateAlertRequestAlert{OwnerUserName: hoDana}})
	if err != nil || al.OwnerUserName != hoDana {
		t.Fatalf("alert owner: %+v, %v", al, err)
	}
	const v2 = "8e2f4a06-91c7-4d5b-a3e8-6f1b0c9d7a24" // runs as elena
	a2, err := w.AlertsV2.UpdateAlert(ctx, sql.UpdateAlertV2Request{Id: v2, UpdateMask: "owner_user_name,run_as",
		Alert: sql.AlertV2{OwnerUserName: hoDana, RunAs: &sql.AlertV2RunAs{UserName: hoDana}}})
	if err != nil || a2.OwnerUserName != hoDana || a2.EffectiveRunAs == nil || a2.EffectiveRunAs.UserName != hoDana {
		t.Fatalf("v2 alert: %+v, %v", a2, err)
	}

	// The SDK's TransferOwnership puts its object id struct into the path
	// (databricks-sdk-py#621 reports the same model bug); the documented
	// path works through the SDK's generic client.
	c, err := client.New(w.Config)
	if err != nil {
		t.Fatal(err)
	}
	var ok struct {
		Message string `json:"message"`
	}
	const legacy = "0ea7f940-86b5-43d9-b476-b7afb92922d3"
	headers := map[string]string{"Content-Type": "application/json", "X-Databricks-Workspace-Id": w.Config.WorkspaceID}
	if err := c.Do(ctx, http.MethodPost, "/api/2.0/preview/sql/permissions/dashboard/"+legacy+"/transfer", headers, nil,
		map[string]string{"new_owner": hoDana}, &ok); err != nil || ok.Message != "Success" {
		t.Fatalf("transfer: %+v, %v", ok, err)
	}
	err = c.Do(ctx, http.MethodPost, "/api/2.0/preview/sql/permissions/dashboard/"+legacy+"/transfer", headers, nil,
		map[string]string{"new_owner": hoEtlProd}, &ok)
	wantSDKError(t, "transfer to a service principal", err, http.StatusBadRequest, "cannot own")
	err = c.Do(ctx, http.MethodPost, "/api/2.0/preview/sql/permissions/notebook/x/transfer", headers, nil,
		map[string]string{"new_owner": hoDana}, &ok)
	wantSDKError(t, "transfer of another type", err, http.StatusBadRequest, "alert, dashboard or query")
	d, err := w.Dashboards.GetByDashboardId(ctx, legacy)
	if err == nil && (d.User == nil || d.User.Email != hoDana) {
		t.Errorf("legacy dashboard owner after transfer: %+v", d.User)
	}
}

// TestConformanceHandoverDeactivation: an account user deactivated through
// SCIM (active false) can no longer call any API with its tokens (401);
// reactivated, they work again. Deleting a token through token management
// revokes it.
func TestConformanceHandoverDeactivation(t *testing.T) {
	srv := newObjServer(t, Options{})
	a := sdkAccount(t, srv)
	ctx := context.Background()
	user, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), wsProd))
	if err != nil {
		t.Fatal(err)
	}
	me, err := user.CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	patch := func(active bool) {
		t.Helper()
		if err := a.Users.Patch(ctx, iam.PartialUpdate{Id: me.Id, Operations: []iam.Patch{
			{Op: iam.PatchOpReplace, Path: "active", Value: active}},
			Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp}}); err != nil {
			t.Fatal(err)
		}
	}
	patch(false)
	_, err = user.CurrentUser.Me(ctx, iam.MeRequest{})
	wantSDKError(t, "a deactivated user's token", err, http.StatusUnauthorized, "deactivated")
	u, err := a.Users.GetById(ctx, me.Id)
	if err != nil || u.Active {
		t.Fatalf("account user after deactivation: active %v, %v", u.Active, err)
	}
	patch(true)
	if _, err := user.CurrentUser.Me(ctx, iam.MeRequest{}); err != nil {
		t.Fatalf("reactivated user's token: %v", err)
	}

	w := sdkWS(t, srv, wsProd)
	const tok = "47408e192d110d40c5e46d62b01c533a095e4e7e5ed0df9c01f77792d2a48367"
	if err := w.TokenManagement.DeleteByTokenId(ctx, tok); err != nil {
		t.Fatal(err)
	}
	_, err = w.TokenManagement.GetByTokenId(ctx, tok)
	wantSDKError(t, "a deleted token", err, http.StatusNotFound, "does not exist")
	all, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range all {
		if ti.TokenId == tok {
			t.Error("a deleted token is still listed")
		}
	}
}

// TestConformanceHandoverRuleSets: the account access control rule set of
// a service principal through both SDK clients: read with an etag, write
// with it, a stale etag refused, unknown principals and roles refused.
func TestConformanceHandoverRuleSets(t *testing.T) {
	srv := newObjServer(t, Options{})
	a := sdkAccount(t, srv)
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	seeded, err := w.AccountAccessControlProxy.GetRuleSet(ctx, iam.GetRuleSetRequest{
		Name: "accounts/" + srv.AccountID() + "/servicePrincipals/" + hoEtlProd + "/ruleSets/default"})
	if err != nil || len(seeded.GrantRules) != 2 || seeded.GrantRules[1].Role != RoleSPUser ||
		strings.Join(seeded.GrantRules[1].Principals, " ") != "users/"+hoAisha+" groups/data-engineers" {
		t.Fatalf("seeded rule set: %+v, %v", seeded, err)
	}
	name := "accounts/" + srv.AccountID() + "/servicePrincipals/" + hoEtlDev + "/ruleSets/default"
	rs, err := w.AccountAccessControlProxy.GetRuleSet(ctx, iam.GetRuleSetRequest{Name: name})
	if err != nil || rs.Name != name || rs.Etag == "" || len(rs.GrantRules) != 0 {
		t.Fatalf("get through the workspace proxy: %+v, %v", rs, err)
	}
	upd, err := a.AccessControl.UpdateRuleSet(ctx, iam.UpdateRuleSetRequest{Name: name, RuleSet: iam.RuleSetUpdateRequest{
		Name: name, Etag: rs.Etag, GrantRules: []iam.GrantRule{{Role: RoleSPUser, Principals: []string{"users/" + hoDana, "groups/data-engineers"}}}}})
	if err != nil || len(upd.GrantRules) != 1 || upd.Etag == rs.Etag {
		t.Fatalf("update: %+v, %v", upd, err)
	}
	_, err = a.AccessControl.UpdateRuleSet(ctx, iam.UpdateRuleSetRequest{Name: name, RuleSet: iam.RuleSetUpdateRequest{
		Name: name, Etag: rs.Etag}})
	wantSDKError(t, "a stale etag", err, http.StatusConflict, "etag")
	_, err = a.AccessControl.UpdateRuleSet(ctx, iam.UpdateRuleSetRequest{Name: name, RuleSet: iam.RuleSetUpdateRequest{
		Name: name, Etag: upd.Etag, GrantRules: []iam.GrantRule{{Role: "roles/owner", Principals: []string{"users/" + hoDana}}}}})
	wantSDKError(t, "an unknown role", err, http.StatusBadRequest, "cannot be granted")
	_, err = w.AccountAccessControlProxy.GetRuleSet(ctx, iam.GetRuleSetRequest{Name: "accounts/" + srv.AccountID() + "/ruleSets/default"})
	wantSDKError(t, "an account rule set", err, http.StatusBadRequest, "not supported")
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	dana := srv.st.lookupName(0, kindUser, hoDana)
	sp := srv.st.lookupName(0, kindSP, hoEtlDev)
	aisha := srv.st.lookupName(0, kindUser, hoAisha)
	if !srv.hasSPUserRole(nil, dana, sp) || srv.hasSPUserRole(nil, aisha, sp) {
		t.Error("hasSPUserRole does not follow the rule set")
	}
	// Through a group: every member of data-engineers holds the role on
	// etl-prod, and a user outside it does not.
	prod := srv.st.lookupName(0, kindSP, hoEtlProd)
	de := srv.st.lookupName(0, kindGroup, "data-engineers")
	if de == nil || len(de.members) == 0 {
		t.Fatal("data-engineers has no members")
	}
	for _, m := range de.members {
		if p := srv.st.get(m); p != nil && p.kind == kindUser && !srv.hasSPUserRole(nil, p, prod) {
			t.Errorf("member %s of data-engineers does not hold the role through the group", p.userName)
		}
	}
	if srv.hasSPUserRole(nil, dana, prod) && !srv.accountGroupsOf(dana)[de.id] {
		t.Error("dana holds the User role on etl-prod: the Manager role does not include it")
	}
}

// TestConformanceHandoverUnityCatalogOwners: the owner of Unity Catalog
// and Delta Sharing securables through the SDK's update calls: a metastore
// admin may give any of them to an account user, group or service
// principal; a user who owns neither it nor its catalog or schema may not;
// an unknown owner is refused.
func TestConformanceHandoverUnityCatalogOwners(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	c, err := w.Catalogs.Update(ctx, catalog.UpdateCatalog{Name: "elena_sandbox", Owner: hoEtlProd})
	if err != nil || c.Owner != hoEtlProd {
		t.Fatalf("catalog owner: %+v, %v", c, err)
	}
	s, err := w.Schemas.Update(ctx, catalog.UpdateSchema{FullName: "main.sales", Owner: "data-engineers"})
	if err != nil || s.Owner != "data-engineers" {
		t.Fatalf("schema owner: %+v, %v", s, err)
	}
	if err := w.Tables.Update(ctx, catalog.UpdateTableRequest{FullName: "main.sales.orders", Owner: hoDana}); err != nil {
		t.Fatalf("table owner: %v", err)
	}
	got, err := w.Tables.GetByFullName(ctx, "main.sales.orders")
	if err != nil || got.Owner != hoDana {
		t.Fatalf("table after update: %q, %v", got.Owner, err)
	}
	if _, err := w.ExternalLocations.Update(ctx, catalog.UpdateExternalLocation{Name: "raw-landing", Owner: hoEtlProd}); err != nil {
		t.Fatalf("external location owner: %v", err)
	}
	sh, err := w.Shares.Update(ctx, sharing.UpdateShare{Name: "partner-sales", Owner: hoEtlProd})
	if err != nil || sh.Owner != hoEtlProd {
		t.Fatalf("share owner: %+v, %v", sh, err)
	}
	_, err = w.Catalogs.Update(ctx, catalog.UpdateCatalog{Name: "elena_sandbox", Owner: "nobody@acme.test"})
	wantSDKError(t, "an unknown owner", err, http.StatusBadRequest, "not a user, group or service principal")

	// A member of data-engineers (which now owns main.sales) may transfer
	// its tables; a user with no ownership on the path may not.
	user, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), wsProd))
	if err != nil {
		t.Fatal(err)
	}
	_, err = user.Catalogs.Update(ctx, catalog.UpdateCatalog{Name: "finance", Owner: hoDana})
	if err == nil {
		t.Error("a user who owns nothing on the path changed a catalog's owner")
	}
}

// TestConformanceHandoverUCOwnerEscalation: a caller who is not a metastore
// admin may give a function, a view or a registered model to a group only
// if it is a member of that group (privilege escalation: they run with, or
// expose, their owner's rights); a table or a user successor is not
// concerned. mateo (the user token) is a member of analysts, not of
// finance; the admin first gives main.sales to analysts so that mateo owns
// its schema.
func TestConformanceHandoverUCOwnerEscalation(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := sdkWS(t, srv, wsProd)
	ctx := context.Background()
	if _, err := w.Schemas.Update(ctx, catalog.UpdateSchema{FullName: "main.sales", Owner: "analysts"}); err != nil {
		t.Fatal(err)
	}
	user, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), wsProd))
	if err != nil {
		t.Fatal(err)
	}
	_, err = user.Functions.Update(ctx, catalog.UpdateFunction{Name: "main.sales.mask_email", Owner: "finance"})
	wantSDKError(t, "function to a group the caller is not in", err, http.StatusForbidden, "not a member")
	err = user.Tables.Update(ctx, catalog.UpdateTableRequest{FullName: "main.sales.orders_eu", Owner: "finance"})
	wantSDKError(t, "view to a group the caller is not in", err, http.StatusForbidden, "not a member")
	_, err = user.RegisteredModels.Update(ctx, catalog.UpdateRegisteredModelRequest{FullName: "main.sales.churn", Owner: "finance"})
	wantSDKError(t, "model to a group the caller is not in", err, http.StatusForbidden, "not a member")

	if f, err := user.Functions.Update(ctx, catalog.UpdateFunction{Name: "main.sales.mask_email", Owner: "analysts"}); err != nil || f.Owner != "analysts" {
		t.Errorf("function to the caller's own group: %+v, %v", f, err)
	}
	if err := user.Tables.Update(ctx, catalog.UpdateTableRequest{FullName: "main.sales.orders", Owner: "finance"}); err != nil {
		t.Errorf("a table (not a view) to another group: %v", err)
	}
	if _, err := user.RegisteredModels.Update(ctx, catalog.UpdateRegisteredModelRequest{FullName: "main.sales.churn", Owner: hoDana}); err != nil {
		t.Errorf("a model to a user: %v", err)
	}
	// A metastore admin is not bound by the rule.
	if _, err := w.Functions.Update(ctx, catalog.UpdateFunction{Name: "main.sales.mask_email", Owner: "finance"}); err != nil {
		t.Errorf("a metastore admin giving a function to a group: %v", err)
	}
	before := srv.Snapshot()
	if err := w.Tables.Update(ctx, catalog.UpdateTableRequest{FullName: "main.sales.orders_eu", Owner: hoEtlProd}); err != nil {
		t.Fatal(err)
	}
	// The State records securable owners, so Diff shows the change.
	if got := strings.Join(Diff(before, srv.Snapshot()), "\n"); !strings.Contains(got, `+ metastore e2ba97a5-a262-431b-982c-15d9b9f72d45 table "main.sales.orders_eu" owner="`+hoEtlProd+`"`) ||
		!strings.Contains(got, `- metastore e2ba97a5-a262-431b-982c-15d9b9f72d45 table "main.sales.orders_eu" owner="`+hoElena+`"`) ||
		strings.Count(got, "\n") != 1 {
		t.Errorf("Diff after a table owner change:\n%s", got)
	}
}
