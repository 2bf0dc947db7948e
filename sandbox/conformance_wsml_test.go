package sandbox

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/compute"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/pipelines"
	"github.com/databricks/databricks-sdk-go/service/vectorsearch"
	sdkws "github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestConformanceWorkspaceFilesSDK drives the workspace tree, Git folders
// and their inherited permissions through the official SDK.
func TestConformanceWorkspaceFilesSDK(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := objSDK(t, srv, wsProd)
	ctx := context.Background()

	homes, err := w.Workspace.ListAll(ctx, sdkws.ListWorkspaceRequest{Path: "/Users"})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, o := range homes {
		if o.ObjectType != sdkws.ObjectTypeDirectory {
			t.Errorf("%s: %s under /Users", o.Path, o.ObjectType)
		}
		paths = append(paths, o.Path)
	}
	// The owners of queries, alerts and Lakeview dashboards have a home
	// folder holding them (umar.xu owns a query).
	sameStrings(t, "home folders", paths, []string{"/Users/" + ucElena, "/Users/" + ucETL, "/Users/farid.fischer@acme.test",
		"/Users/grace.mensah@acme.test", "/Users/rosa.silva@acme.test", "/Users/umar.xu@acme.test"})

	sales, err := w.Workspace.ListAll(ctx, sdkws.ListWorkspaceRequest{Path: "/Workspace/Users/" + ucElena + "/sales"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]sdkws.ObjectType{}
	for _, o := range sales {
		kinds[o.Path[strings.LastIndexByte(o.Path, '/')+1:]] = o.ObjectType
	}
	if len(kinds) != 4 || kinds["rollup"] != sdkws.ObjectTypeNotebook || kinds["helpers.py"] != sdkws.ObjectTypeFile {
		t.Errorf("sales folder = %v", kinds)
	}
	rollup, err := w.Workspace.GetStatusByPath(ctx, "/Users/"+ucElena+"/sales/rollup")
	if err != nil || rollup.ObjectId == 0 || rollup.Language != sdkws.LanguagePython {
		t.Fatalf("get-status = %+v, %v", rollup, err)
	}
	if _, err := w.Workspace.GetStatusByPath(ctx, "/Users/"+ucElena+"/nope"); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("missing path err = %v", err)
	}

	// The notebook's ACL: dana's direct CAN_RUN, elena's CAN_MANAGE inherited
	// from her home folder, the admins group's from the root.
	perms, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "notebooks",
		RequestObjectId: strconv.FormatInt(rollup.ObjectId, 10)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range perms.AccessControlList {
		name := e.UserName + e.GroupName + e.ServicePrincipalName
		for _, p := range e.AllPermissions {
			s := name + "=" + string(p.PermissionLevel)
			if p.Inherited {
				s += " inherited from " + strings.Join(p.InheritedFromObject, ",")
			}
			got = append(got, s)
		}
	}
	home, err := w.Workspace.GetStatusByPath(ctx, "/Users/"+ucElena)
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "notebook ACL", got, []string{"dana.varga@acme.test=CAN_RUN",
		ucElena + "=CAN_MANAGE inherited from /directories/" + strconv.FormatInt(home.ObjectId, 10),
		"admins=CAN_MANAGE inherited from /directories/"})

	repos, err := w.Repos.ListAll(ctx, sdkws.ListReposRequest{})
	if err != nil {
		t.Fatal(err)
	}
	paths = paths[:0]
	for _, r := range repos {
		paths = append(paths, r.Path)
	}
	sameStrings(t, "repos without prefix (only /Repos)", paths, []string{"/Repos/" + ucElena + "/analytics", "/Repos/farid.fischer@acme.test/events"})
	repos, err = w.Repos.ListAll(ctx, sdkws.ListReposRequest{PathPrefix: "/Users"})
	if err != nil || len(repos) != 1 || repos[0].Path != "/Users/"+ucETL+"/etl-deploy" || repos[0].Branch != "release" {
		t.Errorf("repos under /Users = %+v, %v", repos, err)
	}

	// A pipeline's libraries name its notebooks.
	pl, err := w.Pipelines.Get(ctx, pipelines.GetPipelineRequest{PipelineId: "cd13dd96-8a1e-4560-a2d2-26048f4fa567"})
	if err != nil || pl.Spec == nil || len(pl.Spec.Libraries) != 2 || pl.Spec.Libraries[0].Notebook == nil ||
		pl.Spec.Libraries[0].Notebook.Path != "/Users/"+ucElena+"/dlt/inventory_rules" {
		t.Errorf("pipeline libraries = %+v, %v", pl, err)
	}

	// A non-admin sees only what it holds a level on.
	u, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), wsProd))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Workspace.GetStatusByPath(ctx, "/Users/"+ucElena+"/sales/rollup"); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("user get-status of another's notebook err = %v", err)
	}
}

// TestConformanceMLComputeSDK drives experiments, the workspace model
// registry, instance pools, cluster policies and vector search endpoints
// through the official SDK.
func TestConformanceMLComputeSDK(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := objSDK(t, srv, wsProd)
	ctx := context.Background()
	acl := func(typ, id string) []string {
		t.Helper()
		p, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: typ, RequestObjectId: id})
		if err != nil {
			t.Fatalf("permissions %s/%s: %v", typ, id, err)
		}
		var out []string
		for _, e := range p.AccessControlList {
			for _, l := range e.AllPermissions {
				entry := e.UserName + e.GroupName + e.ServicePrincipalName + "=" + string(l.PermissionLevel)
				if l.Inherited {
					entry += "<" + strings.Join(l.InheritedFromObject, ",")
				}
				out = append(out, entry)
			}
		}
		return out
	}

	exps, err := w.Experiments.ListExperimentsAll(ctx, ml.ListExperimentsRequest{MaxResults: 2})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, e := range exps {
		for _, tag := range e.Tags {
			if tag.Key == "mlflow.ownerEmail" {
				owners[e.Name] = tag.Value
			}
		}
	}
	if len(exps) != 3 || owners["/Users/"+ucElena+"/churn-experiment"] != ucElena || owners["/Users/"+ucETL+"/forecast-training"] != ucETL {
		t.Errorf("experiments = %v", owners)
	}
	sameStrings(t, "experiment 3103 ACL", acl("experiments", "3103"), []string{"farid.fischer@acme.test=CAN_MANAGE", ucElena + "=CAN_MANAGE", "admins=CAN_MANAGE</experiments/"})

	models, err := w.ModelRegistry.ListModelsAll(ctx, ml.ListModelsRequest{})
	if err != nil || len(models) != 2 || models[0].Name != "churn-model" || models[0].UserId != ucElena {
		t.Fatalf("models = %+v, %v", models, err)
	}
	m, err := w.ModelRegistry.GetModel(ctx, ml.GetModelRequest{Name: "order-forecast"})
	if err != nil || m.RegisteredModelDatabricks == nil || m.RegisteredModelDatabricks.Id != "7d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6" {
		t.Fatalf("get model = %+v, %v", m, err)
	}
	sameStrings(t, "model ACL", acl("registered-models", m.RegisteredModelDatabricks.Id), []string{ucETL + "=CAN_MANAGE", "data-engineers=CAN_READ", "admins=CAN_MANAGE</registered-models/"})
	if _, err := w.ModelRegistry.GetModel(ctx, ml.GetModelRequest{Name: "nope"}); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("missing model err = %v", err)
	}

	pools, err := w.InstancePools.ListAll(ctx)
	if err != nil || len(pools) != 2 {
		t.Fatalf("pools = %d, %v", len(pools), err)
	}
	elenaID := ""
	srv.mu.RLock()
	if p := srv.st.lookupName(0, kindUser, ucElena); p != nil {
		elenaID = p.id
	}
	srv.mu.RUnlock()
	if pools[0].InstancePoolName != "elena-interactive" || pools[0].DefaultTags["DatabricksInstancePoolCreatorId"] != elenaID ||
		pools[0].DefaultTags["InstancePoolCreator"] != "" {
		t.Errorf("pool = %+v", pools[0])
	}
	sameStrings(t, "pool ACL", acl("instance-pools", pools[1].InstancePoolId), []string{ucETL + "=CAN_MANAGE", "data-engineers=CAN_ATTACH_TO", "admins=CAN_MANAGE</instance-pools/"})

	policies, err := w.ClusterPolicies.ListAll(ctx, compute.ListClusterPoliciesRequest{})
	if err != nil || len(policies) != 2 || policies[0].CreatorUserName != ucElena {
		t.Fatalf("policies = %+v, %v", policies, err)
	}
	sameStrings(t, "policy ACL", acl("cluster-policies", policies[1].PolicyId), []string{ucETL + "=CAN_USE", "data-engineers=CAN_USE", "admins=CAN_USE</cluster-policies/"})

	eps, err := w.VectorSearchEndpoints.ListEndpointsAll(ctx, vectorsearch.ListEndpointsRequest{})
	if err != nil || len(eps) != 2 || eps[0].Creator != ucElena || eps[0].EndpointStatus == nil || eps[0].EndpointStatus.State != vectorsearch.EndpointStatusStateOnline {
		t.Fatalf("vector search endpoints = %+v, %v", eps, err)
	}
	sameStrings(t, "endpoint ACL", acl("vector-search-endpoints", eps[1].Id), []string{ucETL + "=CAN_MANAGE", "admins=CAN_MANAGE</vector-search-endpoints/"})
}
