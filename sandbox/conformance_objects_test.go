package sandbox

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/apps"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/dashboards"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/jobs"
	"github.com/databricks/databricks-sdk-go/service/pipelines"
	"github.com/databricks/databricks-sdk-go/service/settings"
	"github.com/databricks/databricks-sdk-go/service/sql"
)

// objNoLoader keeps the SDK away from the environment and ~/.databrickscfg.
type objNoLoader struct{}

func (objNoLoader) Name() string                   { return "sandbox-objects-test" }
func (objNoLoader) Configure(*config.Config) error { return nil }

// objSDK returns an official SDK workspace client for workspace ws of srv,
// configured hermetically (no env vars, no config file, no host metadata
// fetch).
func objSDK(t *testing.T, srv *Server, ws int64) *databricks.WorkspaceClient {
	t.Helper()
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host:        srv.URL(),
		Token:       srv.AdminToken(),
		AuthType:    "pat",
		WorkspaceID: strconv.FormatInt(ws, 10),
		Loaders:     []config.Loader{objNoLoader{}},
		HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) {
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// prodObjects returns the default seed's objects section of the prod
// workspace, the expectations of the conformance tests.
func prodObjects(t *testing.T) *SeedObjects {
	t.Helper()
	f, err := ParseObjectsFile(defaultObjectsJSON)
	if err != nil {
		t.Fatal(err)
	}
	o := f.Workspaces[strconv.FormatInt(wsProd, 10)]
	if o == nil {
		t.Fatal("default objects have no prod section")
	}
	return o
}

// sameSet fails unless got and want hold the same strings (any order).
func sameStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestConformanceObjectsSDK(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := objSDK(t, srv, wsProd)
	ctx := context.Background()
	seed := prodObjects(t)

	t.Run("TokenManagement", func(t *testing.T) {
		got, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var ids, want []string
		for _, ti := range got {
			ids = append(ids, ti.TokenId)
		}
		for _, ti := range seed.Tokens {
			want = append(want, ti.TokenID)
		}
		sameStrings(t, "token ids", ids, want)
		mine, err := w.TokenManagement.ListAll(ctx, settings.ListTokenManagementRequest{CreatedByUsername: objElena})
		if err != nil || len(mine) != 3 {
			t.Fatalf("tokens created by %s: %d, %v", objElena, len(mine), err)
		}
		for _, ti := range mine {
			if ti.OwnerId != 1100000000000005 || ti.CreatedById != 1100000000000005 || ti.WorkspaceId != wsProd {
				t.Errorf("token %+v", ti)
			}
		}
		one, err := w.TokenManagement.GetByTokenId(ctx, mine[0].TokenId)
		if err != nil || one.TokenInfo.Comment != mine[0].Comment {
			t.Errorf("get token: %+v, %v", one, err)
		}
	})

	t.Run("Jobs", func(t *testing.T) {
		got, err := w.Jobs.ListAll(ctx, jobs.ListJobsRequest{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		var ids, want []string
		for _, j := range got {
			ids = append(ids, strconv.FormatInt(j.JobId, 10))
		}
		for _, j := range seed.Jobs {
			want = append(want, strconv.FormatInt(j.JobID, 10))
		}
		sameStrings(t, "job ids (limit 3, page tokens)", ids, want)
		j, err := w.Jobs.GetByJobId(ctx, 102)
		if err != nil {
			t.Fatal(err)
		}
		if j.RunAsUserName != objEtlProd || j.Settings.RunAs == nil || j.Settings.RunAs.ServicePrincipalName != objEtlProd ||
			j.Settings.Trigger == nil || j.Settings.Trigger.Periodic == nil || j.Settings.Trigger.Periodic.Unit != jobs.PeriodicTriggerConfigurationTimeUnitHours {
			t.Errorf("job 102: %+v", j)
		}
		if j, err := w.Jobs.GetByJobId(ctx, 105); err != nil || j.CreatorUserName != "" || j.RunAsUserName != "former.engineer@acme.test" {
			t.Errorf("job 105 (deleted creator): %+v, %v", j, err)
		}
		if j, err := w.Jobs.GetByJobId(ctx, 101); err != nil || j.Settings.Schedule == nil ||
			j.Settings.Schedule.PauseStatus != jobs.PauseStatusUnpaused || len(j.Settings.Tasks) != 2 {
			t.Errorf("job 101: %+v, %v", j, err)
		}
		_, err = w.Jobs.GetByJobId(ctx, 4242)
		if !errors.Is(err, apierr.ErrResourceDoesNotExist) {
			t.Errorf("missing job: %v, want ErrResourceDoesNotExist", err)
		}
	})

	t.Run("Clusters", func(t *testing.T) {
		got, err := w.Clusters.ListAll(ctx, compute.ListClustersRequest{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		var names, want []string
		for _, c := range got {
			names = append(names, c.ClusterName)
		}
		cut := objNow.Add(-30 * 24 * time.Hour)
		for _, c := range seed.Clusters {
			if c.State == "TERMINATED" && c.PinnedBy == "" {
				if at, _ := c.Terminated.resolve(objNow); at.Before(cut) {
					continue // terminated over 30 days ago: not listed
				}
			}
			want = append(want, c.ClusterName)
		}
		sameStrings(t, "cluster names (page size 2)", names, want)
		running, err := w.Clusters.ListAll(ctx, compute.ListClustersRequest{FilterBy: &compute.ListClustersFilterBy{
			ClusterStates: []compute.State{compute.StateRunning}, ClusterSources: []compute.ClusterSource{compute.ClusterSourceUi}}})
		if err != nil || len(running) != 1 || running[0].ClusterName != "elena-dev" ||
			running[0].SingleUserName != objElena || running[0].DataSecurityMode != compute.DataSecurityModeSingleUser {
			t.Errorf("running UI clusters: %+v, %v", running, err)
		}
		c, err := w.Clusters.GetByClusterId(ctx, running[0].ClusterId)
		if err != nil || c.CreatorUserName != objElena || c.State != compute.StateRunning {
			t.Errorf("get cluster: %+v, %v", c, err)
		}
		_, err = w.Clusters.GetByClusterId(ctx, "0000-000000-nothere0")
		if !errors.Is(err, apierr.ErrResourceDoesNotExist) {
			t.Errorf("missing cluster: %v, want ErrResourceDoesNotExist", err)
		}
	})

	t.Run("Warehouses", func(t *testing.T) {
		got, err := w.Warehouses.ListAll(ctx, sql.ListWarehousesRequest{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		var ids, want []string
		for _, wh := range got {
			ids = append(ids, wh.Id+"/"+wh.CreatorName+"/"+string(wh.State))
		}
		for _, wh := range seed.Warehouses {
			want = append(want, wh.ID+"/"+wh.Creator+"/"+wh.State)
		}
		sameStrings(t, "warehouses", ids, want)
	})

	t.Run("Pipelines", func(t *testing.T) {
		got, err := w.Pipelines.ListPipelinesAll(ctx, pipelines.ListPipelinesRequest{MaxResults: 1})
		if err != nil {
			t.Fatal(err)
		}
		var ids, want []string
		for _, p := range got {
			ids = append(ids, p.PipelineId+"/"+p.CreatorUserName+"/"+p.RunAsUserName)
		}
		for _, p := range seed.Pipelines {
			runAs := p.Creator
			if p.RunAs != nil {
				runAs = p.RunAs.name()
			}
			want = append(want, p.PipelineID+"/"+p.Creator+"/"+runAs)
		}
		sameStrings(t, "pipelines (max_results 1)", ids, want)
		p, err := w.Pipelines.GetByPipelineId(ctx, seed.Pipelines[1].PipelineID)
		if err != nil || p.RunAs == nil || p.RunAs.ServicePrincipalName != objEtlProd {
			t.Errorf("get pipeline run_as: %+v, %v", p, err)
		}
		_, err = w.Pipelines.ListPipelinesAll(ctx, pipelines.ListPipelinesRequest{MaxResults: 1000})
		if !errors.Is(err, apierr.ErrInvalidParameterValue) {
			t.Errorf("max_results 1000: %v, want ErrInvalidParameterValue", err)
		}
		_, err = w.Pipelines.GetByPipelineId(ctx, "00000000-0000-4000-8000-000000000000")
		if !errors.Is(err, apierr.ErrResourceDoesNotExist) {
			t.Errorf("missing pipeline: %v", err)
		}
	})

	t.Run("QueriesAndAlerts", func(t *testing.T) {
		qs, err := w.Queries.ListAll(ctx, sql.ListQueriesRequest{PageSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, q := range qs {
			got = append(got, q.Id+"/"+q.OwnerUserName+"/"+string(q.RunAsMode))
		}
		for _, q := range seed.Queries {
			want = append(want, q.ID+"/"+q.Owner+"/"+q.RunAsMode)
		}
		sameStrings(t, "queries (page size 3)", got, want)
		as, err := w.Alerts.ListAll(ctx, sql.ListAlertsRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, want = nil, nil
		for _, a := range as {
			got = append(got, a.Id+"/"+a.OwnerUserName+"/"+a.QueryId)
		}
		for _, a := range seed.Alerts {
			want = append(want, a.ID+"/"+a.Owner+"/"+a.QueryID)
		}
		sameStrings(t, "alerts (page size 1)", got, want)
	})

	t.Run("AlertsV2", func(t *testing.T) {
		as, err := w.AlertsV2.ListAlertsAll(ctx, sql.ListAlertsV2Request{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, a := range as {
			eff := ""
			if a.EffectiveRunAs != nil {
				eff = a.EffectiveRunAs.UserName + a.EffectiveRunAs.ServicePrincipalName
			}
			got = append(got, a.Id+"/"+a.OwnerUserName+"/"+eff+"/"+string(a.Schedule.PauseStatus))
		}
		if len(seed.AlertsV2) < 3 {
			t.Fatalf("default seed has %d v2 alerts, want at least 3", len(seed.AlertsV2))
		}
		for _, a := range seed.AlertsV2 {
			eff := a.Owner
			if a.RunAs != nil {
				eff = a.RunAs.name()
			}
			pause := "UNPAUSED"
			if a.Schedule != nil && a.Schedule.PauseStatus != "" {
				pause = a.Schedule.PauseStatus
			}
			want = append(want, a.ID+"/"+a.Owner+"/"+eff+"/"+pause)
		}
		sameStrings(t, "v2 alerts (page size 1)", got, want)
		sp := seed.AlertsV2[2]
		a, err := w.AlertsV2.GetAlertById(ctx, sp.ID)
		if err != nil || a.RunAs == nil || a.RunAs.ServicePrincipalName != objEtlProd || a.RunAsUserName != objEtlProd ||
			a.Schedule.QuartzCronSchedule != sp.Schedule.QuartzCronSchedule || a.LifecycleState != sql.AlertLifecycleStateActive {
			t.Errorf("get v2 alert %s: %+v, %v", sp.ID, a, err)
		}
		_, err = w.AlertsV2.GetAlertById(ctx, "00000000-0000-4000-8000-000000000000")
		if !errors.Is(err, apierr.ErrResourceDoesNotExist) {
			t.Errorf("missing v2 alert: %v, want ErrResourceDoesNotExist", err)
		}
		p, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "alertsv2", RequestObjectId: sp.ID})
		if err != nil || p.ObjectType != "alertv2" || !slices.ContainsFunc(p.AccessControlList, func(e iam.AccessControlResponse) bool {
			return e.UserName == sp.Owner && len(e.AllPermissions) > 0 && e.AllPermissions[0].PermissionLevel == iam.PermissionLevelCanManage
		}) {
			t.Errorf("v2 alert permissions: %+v, %v", p, err)
		}
	})

	t.Run("Dashboards", func(t *testing.T) {
		legacy, err := w.Dashboards.ListAll(ctx, sql.ListDashboardsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, d := range legacy {
			owner := ""
			if d.User != nil {
				owner = d.User.Email
			}
			got = append(got, d.Id+"/"+owner)
		}
		for _, d := range seed.LegacyDashboards {
			want = append(want, d.ID+"/"+d.Owner)
		}
		sameStrings(t, "legacy dashboards (page-number paging)", got, want)

		lv, err := w.Lakeview.ListAll(ctx, dashboards.ListDashboardsRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, want = nil, nil
		for _, d := range lv {
			got = append(got, d.DashboardId)
		}
		for _, d := range seed.LakeviewDashboards {
			if !d.Trashed {
				want = append(want, d.DashboardID)
			}
		}
		sameStrings(t, "lakeview dashboards (page size 1)", got, want)
		all, err := w.Lakeview.ListAll(ctx, dashboards.ListDashboardsRequest{ShowTrashed: true})
		if err != nil || len(all) != len(seed.LakeviewDashboards) {
			t.Errorf("lakeview with trashed: %d, %v", len(all), err)
		}
	})

	t.Run("ServingEndpointsAndApps", func(t *testing.T) {
		eps, err := w.ServingEndpoints.ListAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, e := range eps {
			got = append(got, e.Id+"/"+e.Name+"/"+e.Creator)
		}
		for _, e := range seed.ServingEndpoints {
			want = append(want, e.ID+"/"+e.Name+"/"+e.Creator)
		}
		sameStrings(t, "serving endpoints", got, want)
		as, err := w.Apps.ListAll(ctx, apps.ListAppsRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, want = nil, nil
		for _, a := range as {
			got = append(got, a.Name+"/"+a.Creator+"/"+a.ServicePrincipalClientId)
		}
		for _, a := range seed.Apps {
			want = append(want, a.Name+"/"+a.Creator+"/"+a.ServicePrincipal)
		}
		sameStrings(t, "apps", got, want)
	})

	t.Run("Permissions", func(t *testing.T) {
		levels := func(p *iam.ObjectPermissions) []string {
			var out []string
			for _, e := range p.AccessControlList {
				for _, l := range e.AllPermissions {
					entry := strings.Join([]string{e.UserName, e.GroupName, e.ServicePrincipalName}, "") + "=" + string(l.PermissionLevel)
					if l.Inherited {
						entry += "<" + strings.Join(l.InheritedFromObject, ",")
					}
					out = append(out, entry)
				}
			}
			return out
		}
		job, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "jobs", RequestObjectId: "101"})
		if err != nil {
			t.Fatal(err)
		}
		if job.ObjectId != "/jobs/101" || job.ObjectType != "job" {
			t.Errorf("job ACL object: %s %s", job.ObjectId, job.ObjectType)
		}
		sameStrings(t, "job 101 ACL", levels(job), append(withSeedGrants(t, wsProd, "jobs", "101", []string{objElena + "=IS_OWNER", "data-engineers=CAN_MANAGE_RUN"}), "admins=CAN_MANAGE</jobs/"))
		lv := seed.LakeviewDashboards[1]
		dash, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "dashboards", RequestObjectId: lv.DashboardID})
		if err != nil {
			t.Fatal(err)
		}
		sameStrings(t, "lakeview dashboard ACL", levels(dash), append(withSeedGrants(t, wsProd, "dashboards", lv.DashboardID, []string{lv.Owner + "=CAN_MANAGE", "data-engineers=CAN_MANAGE"}), "admins=CAN_MANAGE</directories/",
			// the owner's home folder (workspacefs.go) holds the dashboard
			lv.Owner+"=CAN_MANAGE</directories/"+strconv.FormatInt(wsfsID(wsProd, "/Users/"+lv.Owner), 10)))
		wh, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "warehouses", RequestObjectId: seed.Warehouses[1].ID})
		if err != nil {
			t.Fatal(err)
		}
		sameStrings(t, "warehouse ACL", levels(wh), append(withSeedGrants(t, wsProd, "warehouses", seed.Warehouses[1].ID, []string{objElena + "=IS_OWNER"}), "admins=CAN_MANAGE</sql/warehouses/"))
	})
}
