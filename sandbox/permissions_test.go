package sandbox

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
	sdkws "github.com/databricks/databricks-sdk-go/service/workspace"
)

// grantsSeed is the small seed with grants in the federated workspace:
// local group "team a" (403) and account group "eng" (301) hold grants.
func grantsSeed(t testing.TB) *Seed {
	t.Helper()
	s := smallSeed(t)
	i := slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })
	s.Workspaces[i].Grants = &SeedGrants{
		Objects: []SeedObjectACL{
			{ObjectType: "clusters", ObjectID: "0101-abc", ACL: []SeedGrant{
				{GroupName: "team a", PermissionLevel: "CAN_RESTART"},
				{UserName: "ada@small.test", PermissionLevel: "CAN_MANAGE"},
			}},
			{ObjectType: "jobs", ObjectID: "11", ACL: []SeedGrant{
				{UserName: "ada@small.test", PermissionLevel: "IS_OWNER"},
				{GroupName: "team a", PermissionLevel: "CAN_MANAGE_RUN"},
			}},
			{ObjectType: "sql/warehouses", ObjectID: "wh1", ACL: []SeedGrant{
				{GroupName: "team a", PermissionLevel: "CAN_USE"},
			}},
			{ObjectType: "notebooks", ObjectID: "777", ACL: []SeedGrant{
				{GroupName: "team a", PermissionLevel: "CAN_EDIT"},
				{GroupName: "ops", PermissionLevel: "CAN_READ"},
			}},
		},
		SecretScopes: []SeedSecretScope{
			{Name: "etl", ACLs: []SeedSecretACL{{Principal: "team a", Permission: "WRITE"}, {Principal: "ada@small.test", Permission: "MANAGE"}}},
		},
	}
	addTreeNotebooks(&s.Workspaces[i], 777)
	return s
}

// addTreeNotebooks puts notebooks with the given ids in workspace w's tree
// (/Shared/nb-<id>), so that its "grants" section may grant on them: a
// notebook id outside the tree is a seed error, as the real service has no
// such object.
func addTreeNotebooks(w *SeedWorkspace, ids ...int64) {
	if w.Objects == nil {
		w.Objects = &SeedObjects{}
	}
	for _, id := range ids {
		w.Objects.WorkspaceObjects = append(w.Objects.WorkspaceObjects, SeedWorkspaceObject{Path: "/Shared/nb-" + strconv.FormatInt(id, 10), ObjectID: id})
	}
}

func newGrants(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.Seed = grantsSeed(t)
	return NewTestServer(t, opts)
}

// sdkWorkspace returns an official SDK client for workspace ws of srv that
// ignores the environment and ~/.databrickscfg.
func sdkWorkspace(t testing.TB, srv *Server, ws int64) *databricks.WorkspaceClient {
	t.Helper()
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host:        srv.URL(),
		Token:       srv.AdminToken(),
		AuthType:    "pat",
		WorkspaceID: strconv.FormatInt(ws, 10),
		Loaders:     []config.Loader{noLoader{}},
		HostMetadataResolver: func(context.Context, string) (*config.HostMetadata, error) {
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

type noLoader struct{}

func (noLoader) Name() string                   { return "none" }
func (noLoader) Configure(*config.Config) error { return nil }

func TestPermissionsThroughSDK(t *testing.T) {
	srv := newGrants(t, Options{})
	w := sdkWorkspace(t, srv, wsFed)
	ctx := context.Background()

	got, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "clusters", RequestObjectId: "0101-abc"})
	if err != nil {
		t.Fatal(err)
	}
	if got.ObjectId != "/clusters/0101-abc" || got.ObjectType != "cluster" || len(got.AccessControlList) != 3 {
		t.Fatalf("cluster ACL = %+v", got)
	}
	if a := got.AccessControlList[0]; a.GroupName != "team a" || a.AllPermissions[0].PermissionLevel != iam.PermissionLevelCanRestart ||
		a.AllPermissions[0].Inherited {
		t.Errorf("first entry = %+v", a)
	}
	// The admins group inherits CAN_MANAGE from the clusters root, last.
	if a := got.AccessControlList[2]; a.GroupName != "admins" || len(a.AllPermissions) != 1 || !a.AllPermissions[0].Inherited ||
		a.AllPermissions[0].PermissionLevel != iam.PermissionLevelCanManage || !slices.Equal(a.AllPermissions[0].InheritedFromObject, []string{"/clusters/"}) {
		t.Errorf("admins entry = %+v", a)
	}
	wh, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "warehouses", RequestObjectId: "wh1"})
	if err != nil || wh.ObjectId != "/sql/warehouses/wh1" {
		t.Fatalf("warehouse ACL = %+v, %v", wh, err)
	}
	levels, err := w.Permissions.GetPermissionLevels(ctx, iam.GetPermissionLevelsRequest{RequestObjectType: "jobs", RequestObjectId: "11"})
	if err != nil || len(levels.PermissionLevels) != 4 || levels.PermissionLevels[3].PermissionLevel != iam.PermissionLevelIsOwner {
		t.Fatalf("job levels = %+v, %v", levels, err)
	}
	_, err = w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "clusters", RequestObjectId: "nope"})
	if !errors.Is(err, databricks.ErrNotFound) {
		t.Fatalf("missing object: %v, want not found", err)
	}

	// PATCH merges, PUT replaces but keeps the owner.
	_, err = w.Permissions.Update(ctx, iam.UpdateObjectPermissions{RequestObjectType: "jobs", RequestObjectId: "11",
		AccessControlList: []iam.AccessControlRequest{{UserName: "bob@small.test", PermissionLevel: iam.PermissionLevelCanView}}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := w.Permissions.Set(ctx, iam.SetObjectPermissions{RequestObjectType: "jobs", RequestObjectId: "11",
		AccessControlList: []iam.AccessControlRequest{{GroupName: "ops", PermissionLevel: iam.PermissionLevelCanManage}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range job.AccessControlList {
		names = append(names, a.UserName+a.GroupName+":"+string(a.AllPermissions[0].PermissionLevel))
	}
	// PUT replaces direct grants only: the admins group's grant, inherited
	// from the jobs root, stays.
	if want := []string{"ada@small.test:IS_OWNER", "ops:CAN_MANAGE", "admins:CAN_MANAGE"}; !slices.Equal(names, want) {
		t.Errorf("job ACL after PUT = %v, want %v", names, want)
	}
	_, err = w.Permissions.Update(ctx, iam.UpdateObjectPermissions{RequestObjectType: "jobs", RequestObjectId: "11",
		AccessControlList: []iam.AccessControlRequest{{GroupName: "nobody", PermissionLevel: iam.PermissionLevelCanView}}})
	var ae *apierr.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown principal: %v, want 400", err)
	}
	_, err = w.Permissions.Update(ctx, iam.UpdateObjectPermissions{RequestObjectType: "clusters", RequestObjectId: "0101-abc",
		AccessControlList: []iam.AccessControlRequest{{GroupName: "ops", PermissionLevel: iam.PermissionLevelIsOwner}}})
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
		t.Errorf("level not valid for clusters: %v, want 400", err)
	}
}

func TestSecretACLsThroughSDK(t *testing.T) {
	srv := newGrants(t, Options{})
	w := sdkWorkspace(t, srv, wsFed)
	ctx := context.Background()
	acls, err := w.Secrets.ListAclsAll(ctx, sdkws.ListAclsRequest{Scope: "etl"})
	if err != nil {
		t.Fatal(err)
	}
	if len(acls) != 2 || acls[0].Principal != "team a" || acls[0].Permission != sdkws.AclPermissionWrite {
		t.Fatalf("acls = %+v", acls)
	}
	if err := w.Secrets.PutAcl(ctx, sdkws.PutAcl{Scope: "etl", Principal: "ops", Permission: sdkws.AclPermissionRead}); err != nil {
		t.Fatal(err)
	}
	got, err := w.Secrets.GetAcl(ctx, sdkws.GetAclRequest{Scope: "etl", Principal: "ops"})
	if err != nil || got.Permission != sdkws.AclPermissionRead {
		t.Fatalf("get acl = %+v, %v", got, err)
	}
	if err := w.Secrets.DeleteAcl(ctx, sdkws.DeleteAcl{Scope: "etl", Principal: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Secrets.DeleteAcl(ctx, sdkws.DeleteAcl{Scope: "etl", Principal: "ops"}); !errors.Is(err, databricks.ErrNotFound) {
		t.Errorf("second delete: %v, want not found", err)
	}
	if _, err := w.Secrets.ListAclsAll(ctx, sdkws.ListAclsRequest{Scope: "nope"}); !errors.Is(err, databricks.ErrNotFound) {
		t.Errorf("missing scope: %v, want not found", err)
	}
	scopes, err := w.Secrets.ListScopesAll(ctx)
	if err != nil || len(scopes) != 1 || scopes[0].Name != "etl" {
		t.Fatalf("scopes = %+v, %v", scopes, err)
	}
}

// grantsOf returns the levels principal id holds, by object.
func grantsOf(st State, ws int64, id string) map[string]string {
	out := map[string]string{}
	for _, w := range st.Workspaces {
		if w.WorkspaceID != ws {
			continue
		}
		for _, g := range w.Grants {
			if g.PrincipalID == id {
				out[g.Object] = g.PermissionLevel
			}
		}
	}
	return out
}

func TestGrantsOfDeletedPrincipalDisappear(t *testing.T) {
	srv := newGrants(t, Options{})
	a := admin(t, srv, wsFed)
	a.ok(http.StatusNoContent, "DELETE", groupsPath+"/403", nil)
	if got := grantsOf(srv.Snapshot(), wsFed, "403"); len(got) != 0 {
		t.Errorf("deleted group keeps grants %v", got)
	}
	r := a.ok(http.StatusOK, "GET", "/api/2.0/secrets/acls/list?scope=etl", nil).json(t)
	if items := r["items"].([]any); len(items) != 1 {
		t.Errorf("secret ACLs after delete = %v", items)
	}
}

func TestGrantsSeedErrors(t *testing.T) {
	for name, mod := range map[string]func(*SeedGrants){
		"unknown group":   func(g *SeedGrants) { g.Objects[0].ACL[0].GroupName = "nobody" },
		"bad level":       func(g *SeedGrants) { g.Objects[0].ACL[0].PermissionLevel = "CAN_FLY" },
		"bad type":        func(g *SeedGrants) { g.Objects[0].ObjectType = "rockets" },
		"group owner":     func(g *SeedGrants) { g.Objects[1].ACL[1].PermissionLevel = "IS_OWNER" },
		"duplicate scope": func(g *SeedGrants) { g.SecretScopes = append(g.SecretScopes, g.SecretScopes[0]) },
		"bad secret perm": func(g *SeedGrants) { g.SecretScopes[0].ACLs[0].Permission = "ALL" },
	} {
		t.Run(name, func(t *testing.T) {
			s := grantsSeed(t)
			i := slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })
			mod(s.Workspaces[i].Grants)
			if _, err := New(Options{Seed: s}); err == nil {
				t.Fatal("New accepted the seed")
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
