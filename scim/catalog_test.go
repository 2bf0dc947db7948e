package scim_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

func names(t *testing.T, seq func(func(scim.Securable, error) bool)) []string {
	t.Helper()
	var out []string
	for s, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		n := s.FullName
		if n == "" {
			n = s.Name
		}
		out = append(out, n+"="+s.Owner)
	}
	slices.Sort(out)
	return out
}

// TestUnityCatalogReads reads the demo metastore through the client and
// checks what each list returns, and how many requests it takes.
func TestUnityCatalogReads(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	sess := connectSandbox(t, srv, nil)
	w := firstWorkspace(t, sess)
	ctx := context.Background()

	a, err := scim.CurrentMetastore(ctx, w)
	if err != nil || a.MetastoreID == "" {
		t.Fatalf("current metastore = %+v, %v", a, err)
	}
	sum, err := scim.GetMetastoreSummary(ctx, w)
	if err != nil || sum.MetastoreID != a.MetastoreID || sum.Owner != "platform-admins" {
		t.Fatalf("summary = %+v, %v", sum, err)
	}
	ws, _ := sess.Workspaces(ctx)
	legacy, err := sess.Workspace(ws[3])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scim.CurrentMetastore(ctx, legacy); !errors.Is(err, scim.ErrNoMetastore) {
		t.Errorf("legacy workspace: err = %v, want ErrNoMetastore", err)
	}

	srv.ResetStats()
	const elena, etl = "elena.patel@acme.test", "b83e9e22-b2ed-4451-bcdd-00b79deb79be"
	if got, want := names(t, scim.Catalogs(ctx, w)), []string{"elena_sandbox=" + elena, "etl=" + etl, "finance=finance", "main=platform-admins"}; !slices.Equal(got, want) {
		t.Errorf("catalogs (include_unbound) = %v, want %v", got, want)
	}
	if st := srv.Stats(); st.Count("GET", "/api/2.1/unity-catalog/catalogs") != 1 {
		t.Errorf("catalogs took %d requests", st.Count("GET", "/api/2.1/unity-catalog/catalogs"))
	}
	if got := names(t, scim.Tables(ctx, w, "main", "sales")); len(got) != 7 {
		t.Errorf("tables = %v", got)
	}
	for what, seq := range map[string]func(func(scim.Securable, error) bool){
		"volumes":             scim.Volumes(ctx, w, "main", "sales"),
		"functions":           scim.Functions(ctx, w, "main", "sales"),
		"registered models":   scim.RegisteredModels(ctx, w),
		"external locations":  scim.ExternalLocations(ctx, w),
		"service credentials": scim.ServiceCredentials(ctx, w),
		"connections":         scim.Connections(ctx, w),
		"shares":              scim.Shares(ctx, w),
		"recipients":          scim.Recipients(ctx, w),
		"providers":           scim.Providers(ctx, w),
	} {
		if got := names(t, seq); len(got) != 2 {
			t.Errorf("%s = %v, want 2", what, got)
		}
	}
	if got := names(t, scim.StorageCredentials(ctx, w)); len(got) != 3 {
		t.Errorf("storage credentials = %v", got)
	}
	g, err := scim.Grants(ctx, w, "metastore", a.MetastoreID)
	if err != nil || len(g) != 3 || g[0].Principal != elena || g[0].Privileges[0] != "CREATE_CATALOG" {
		t.Errorf("metastore grants = %+v, %v", g, err)
	}
	if st := srv.Stats(); st.Classes["permissions-read"] != 1 {
		t.Errorf("grant reads charged to %v", st.Classes)
	}
}

// TestWorkspaceFileAndMLReads reads the demo workspace's tree, Git
// folders, pipeline libraries and ML and compute objects.
func TestWorkspaceFileAndMLReads(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	w := firstWorkspace(t, connectSandbox(t, srv, nil))
	ctx := context.Background()
	homes, err := scim.ListWorkspace(ctx, w, "/Users")
	if err != nil || len(homes) != 6 {
		t.Fatalf("homes = %+v, %v", homes, err)
	}
	o, err := scim.GetStatus(ctx, w, "/Workspace/Users/elena.patel@acme.test/sales/rollup")
	if err != nil || o.ObjectType != "NOTEBOOK" || o.Path != "/Users/elena.patel@acme.test/sales/rollup" {
		t.Errorf("get-status = %+v, %v", o, err)
	}
	if _, err := scim.GetStatus(ctx, w, "/Users/nobody/x"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("missing path err = %v", err)
	}
	var repos []string
	for _, prefix := range []string{"", "/Users"} {
		for r, err := range scim.Repos(ctx, w, prefix) {
			if err != nil {
				t.Fatal(err)
			}
			repos = append(repos, r.Path)
		}
	}
	if len(repos) != 3 {
		t.Errorf("repos = %v", repos)
	}
	spec, err := scim.GetPipelineSpec(ctx, w, "cd13dd96-8a1e-4560-a2d2-26048f4fa567")
	if err != nil || len(spec.Libraries) != 2 || spec.Libraries[0].Path() != "/Users/elena.patel@acme.test/dlt/inventory_rules" {
		t.Errorf("pipeline spec = %+v, %v", spec, err)
	}
	jobs, err := scim.ListJobs(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	var tasks []string
	for _, j := range jobs {
		for _, tk := range j.Settings.Tasks {
			tasks = append(tasks, tk.WorkspacePaths()...)
		}
	}
	if !slices.Contains(tasks, "/Workspace/Users/elena.patel@acme.test/sales/rollup") {
		t.Errorf("job task paths = %v", tasks)
	}
	exps, err := scim.ListExperiments(ctx, w)
	if err != nil || len(exps) != 3 || exps[0].Tag("mlflow.ownerEmail") != "elena.patel@acme.test" {
		t.Errorf("experiments = %+v, %v", exps, err)
	}
	models, err := scim.ListMLModels(ctx, w)
	if err != nil || len(models) != 2 {
		t.Fatalf("models = %+v, %v", models, err)
	}
	if id, err := scim.MLModelID(ctx, w, models[0].Name); err != nil || len(id) != 32 {
		t.Errorf("model id = %q, %v", id, err)
	}
	pools, err := scim.ListInstancePools(ctx, w)
	if err != nil || len(pools) != 2 || pools[0].CreatorID() == 0 {
		t.Errorf("pools = %+v, %v", pools, err)
	}
	pol, err := scim.ListClusterPolicies(ctx, w)
	if err != nil || len(pol) != 2 || pol[0].CreatorUserName != "elena.patel@acme.test" {
		t.Errorf("policies = %+v, %v", pol, err)
	}
	eps, err := scim.ListVectorSearchEndpoints(ctx, w)
	if err != nil || len(eps) != 2 {
		t.Errorf("vector search = %+v, %v", eps, err)
	}
	scopes, err := scim.ListSecretScopes(ctx, w)
	if err != nil || !slices.Contains(scopes, "etl-prod-keys") {
		t.Fatalf("scopes = %v, %v", scopes, err)
	}
	acls, err := scim.ListSecretACLs(ctx, w, "etl-prod-keys")
	if err != nil || len(acls) != 2 || acls[0].Permission != "MANAGE" {
		t.Errorf("acls = %+v, %v", acls, err)
	}
}
