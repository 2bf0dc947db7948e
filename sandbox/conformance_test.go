package sandbox

// Conformance: the official Databricks Go SDK, pointed at the sandbox, must
// work unchanged. The clients are hermetic: a no-op config loader (no env
// vars, no ~/.databrickscfg) and a loopback host. Host metadata is fetched
// from the sandbox's /.well-known/databricks-config, so its document is
// exercised too.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// hermetic is a config loader that loads nothing.
type hermetic struct{}

func (hermetic) Name() string                   { return "hermetic" }
func (hermetic) Configure(*config.Config) error { return nil }

func sdkConfig(srv *Server, token string, ws int64) *databricks.Config {
	cfg := &databricks.Config{
		Host:               srv.URL(),
		Token:              token,
		AuthType:           "pat",
		AccountID:          srv.AccountID(),
		Loaders:            []config.Loader{hermetic{}},
		RateLimitPerSecond: 10000,
	}
	if ws != 0 {
		cfg.WorkspaceID = strconv.FormatInt(ws, 10)
	}
	return cfg
}

func sdkWS(t testing.TB, srv *Server, ws int64) *databricks.WorkspaceClient {
	t.Helper()
	w, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.AdminToken(), ws))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func sdkAccount(t testing.TB, srv *Server) *databricks.AccountClient {
	t.Helper()
	a, err := databricks.NewAccountClient(sdkConfig(srv, srv.AdminToken(), 0))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// seedVisible returns the ids of the users, service principals and groups a
// seed puts in workspace ws, computed from the seed alone.
func seedVisible(s *Seed, ws int64) (users, sps, groups []string) {
	vis := visibilityFromSeed(s)[ws]
	for _, u := range s.Users {
		if vis[u.ID] {
			users = append(users, u.ID)
		}
	}
	for _, p := range s.ServicePrincipals {
		if vis[p.ID] {
			sps = append(sps, p.ID)
		}
	}
	for _, g := range s.Groups {
		if vis[g.ID] {
			groups = append(groups, g.ID)
		}
	}
	for _, w := range s.Workspaces {
		if w.WorkspaceID != ws {
			continue
		}
		for _, u := range w.Users {
			users = append(users, u.ID)
		}
		for _, p := range w.ServicePrincipals {
			sps = append(sps, p.ID)
		}
		for _, g := range w.Groups {
			groups = append(groups, g.ID)
		}
	}
	for _, l := range [][]string{users, sps, groups} {
		slices.Sort(l)
	}
	return users, sps, groups
}

func sortedIDs[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	slices.Sort(out)
	return out
}

func TestSDKWorkspaceLists(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed, PageCap: 7})
	ctx := context.Background()
	for _, ws := range []int64{wsProd, wsLegacy} {
		w := sdkWS(t, srv, ws)
		wantUsers, wantSPs, wantGroups := seedVisible(seed, ws)
		srv.ResetStats()
		users, err := w.Users.ListAll(ctx, iam.ListUsersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedIDs(users, func(u iam.User) string { return u.Id }); !slices.Equal(got, wantUsers) {
			t.Errorf("workspace %d users: %d, want %d", ws, len(got), len(wantUsers))
		}
		// count=10000 against a page cap of 7: one request per page plus the empty one.
		if n, want := srv.Stats().Count("GET", usersPath), len(wantUsers)/7+2; n != want {
			t.Errorf("workspace %d: %d list requests, want %d", ws, n, want)
		}
		sps, err := w.ServicePrincipals.ListAll(ctx, iam.ListServicePrincipalsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedIDs(sps, func(p iam.ServicePrincipal) string { return p.Id }); !slices.Equal(got, wantSPs) {
			t.Errorf("workspace %d SPs %v, want %v", ws, got, wantSPs)
		}
		groups, err := w.Groups.ListAll(ctx, iam.ListGroupsRequest{Attributes: "id,displayName,meta"})
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedIDs(groups, func(g iam.Group) string { return g.Id }); !slices.Equal(got, wantGroups) {
			t.Errorf("workspace %d groups %v, want %v", ws, got, wantGroups)
		}
		for _, g := range groups {
			if g.Meta == nil || (g.Meta.ResourceType != "WorkspaceGroup" && g.Meta.ResourceType != "Group") {
				t.Errorf("group %q meta %+v", g.DisplayName, g.Meta)
			}
			if len(g.Members) > 0 {
				t.Errorf("attributes=id,displayName,meta returned members for %q", g.DisplayName)
			}
		}
	}
	// Filters with quotes and backslashes survive the SDK's query encoding.
	w := sdkWS(t, srv, wsProd)
	for _, name := range []string{`bi "quoted" team`, `ops\backslash`, "trailing space "} {
		f := `displayName eq "` + escapeFilter(name) + `"`
		gs, err := w.Groups.ListAll(ctx, iam.ListGroupsRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) != 1 || gs[0].DisplayName != name {
			t.Errorf("filter %s: %+v", f, gs)
		}
	}
}

func escapeFilter(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func TestSDKWorkspaceCRUDAndMe(t *testing.T) {
	srv := newSmall(t, Options{})
	ctx := context.Background()
	w := sdkWS(t, srv, wsFed)

	me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if me.UserName != "ada@small.test" || me.Id != "101" {
		t.Errorf("Me %+v", me)
	}
	id, err := w.CurrentWorkspaceID(ctx)
	if err != nil || id != wsFed {
		t.Errorf("CurrentWorkspaceID = %d, %v", id, err)
	}
	// Without a workspace id, calls reach the first workspace.
	first, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), 0))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := first.CurrentWorkspaceID(ctx); err != nil || id != wsFed {
		t.Errorf("default workspace %d, %v", id, err)
	}

	u, err := w.Users.GetById(ctx, "102")
	if err != nil {
		t.Fatal(err)
	}
	if u.UserName != "bob@small.test" || u.ExternalId != "ext-bob" || len(u.Groups) != 3 {
		t.Errorf("GetById %+v", u)
	}

	g, err := w.Groups.Create(ctx, iam.Group{DisplayName: "sdk team"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Id == "" || g.Meta == nil || g.Meta.ResourceType != "WorkspaceGroup" {
		t.Errorf("Create %+v", g)
	}
	_, err = w.Groups.Create(ctx, iam.Group{DisplayName: "sdk team"})
	if !errors.Is(err, apierr.ErrResourceConflict) {
		t.Errorf("duplicate create: %v, want ErrResourceConflict", err)
	}
	err = w.Groups.Patch(ctx, iam.PartialUpdate{Id: g.Id,
		Schemas: []iam.PatchSchema{iam.PatchSchemaUrnIetfParamsScimApiMessages20PatchOp},
		Operations: []iam.Patch{{Op: iam.PatchOpAdd, Path: "members",
			Value: []iam.ComplexValue{{Value: "102"}, {Value: "201"}, {Value: "302"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.Groups.GetById(ctx, g.Id)
	if err != nil {
		t.Fatal(err)
	}
	if ms := sortedIDs(got.Members, func(c iam.ComplexValue) string { return c.Value }); !slices.Equal(ms, []string{"102", "201", "302"}) {
		t.Errorf("members after SDK patch: %v", ms)
	}
	err = w.Groups.Patch(ctx, iam.PartialUpdate{Id: g.Id,
		Operations: []iam.Patch{{Op: iam.PatchOpAdd, Path: "members", Value: []iam.ComplexValue{{Value: "105"}}}}})
	if !errors.Is(err, apierr.ErrBadRequest) {
		t.Errorf("adding an unassigned user: %v, want ErrBadRequest", err)
	}
	if err := w.Groups.DeleteById(ctx, g.Id); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Groups.GetById(ctx, g.Id); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("GetById after delete: %v, want ErrNotFound", err)
	}

	sp, err := w.ServicePrincipals.Create(ctx, iam.ServicePrincipal{DisplayName: "sdk-sp", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if sp.ApplicationId == "" {
		t.Error("created SP without applicationId")
	}
	nu, err := w.Users.Create(ctx, iam.User{UserName: "sdk@small.test", DisplayName: "Sdk User"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Users.DeleteById(ctx, nu.Id); err != nil {
		t.Fatal(err)
	}
	// A user token may read but not write.
	_, err = first.Groups.Create(ctx, iam.Group{DisplayName: "nope"})
	if !errors.Is(err, apierr.ErrPermissionDenied) {
		t.Errorf("create with the user token: %v, want ErrPermissionDenied", err)
	}
}

func TestSDKAccount(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed, PageCap: 50})
	ctx := context.Background()
	a := sdkAccount(t, srv)

	wss, err := a.Workspaces.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range wss {
		names = append(names, w.WorkspaceName)
	}
	if !slices.Equal(names, []string{"acme-prod", "acme-analytics", "acme-ml", "acme-legacy"}) || wss[0].WorkspaceId != wsProd {
		t.Errorf("workspaces %v", names)
	}
	users, err := a.Users.ListAll(ctx, iam.ListAccountUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != len(seed.Users) {
		t.Errorf("account users %d, want %d", len(users), len(seed.Users))
	}
	groups, err := a.Groups.ListAll(ctx, iam.ListAccountGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != len(seed.Groups) {
		t.Errorf("account groups %d, want %d", len(groups), len(seed.Groups))
	}
	for _, g := range groups {
		if len(g.Members) > 0 {
			t.Errorf("account group list carries members for %q", g.DisplayName)
		}
	}
	g, err := a.Groups.GetById(ctx, seed.Groups[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != len(seed.Groups[1].Members) {
		t.Errorf("GET account group members %d, want %d", len(g.Members), len(seed.Groups[1].Members))
	}

	pas, err := a.WorkspaceAssignment.ListAll(ctx, iam.ListWorkspaceAssignmentRequest{WorkspaceId: wsProd})
	if err != nil {
		t.Fatal(err)
	}
	if len(pas) != len(seed.Workspaces[0].Assignments) {
		t.Errorf("assignments %d, want %d", len(pas), len(seed.Workspaces[0].Assignments))
	}
	// Assign an unassigned user, then remove it.
	target := seed.Users[149]
	pid, _ := strconv.ParseInt(target.ID, 10, 64)
	pa, err := a.WorkspaceAssignment.Update(ctx, iam.UpdateWorkspaceAssignments{WorkspaceId: wsProd, PrincipalId: pid,
		Permissions: []iam.WorkspacePermission{iam.WorkspacePermissionUser}})
	if err != nil {
		t.Fatal(err)
	}
	if pa.Principal == nil || pa.Principal.UserName != target.UserName || len(pa.Permissions) != 1 {
		t.Errorf("Update reply %+v", pa)
	}
	w := sdkWS(t, srv, wsProd)
	if _, err := w.Users.GetById(ctx, target.ID); err != nil {
		t.Errorf("assigned user not in the workspace: %v", err)
	}
	if err := a.WorkspaceAssignment.DeleteByWorkspaceIdAndPrincipalId(ctx, wsProd, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Users.GetById(ctx, target.ID); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("unassigned user: %v, want ErrNotFound", err)
	}
	// Account SCIM writes.
	nu, err := a.Users.Create(ctx, iam.User{UserName: "sdk.account@acme.test", DisplayName: "Sdk Account"})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Groups.Patch(ctx, iam.PartialUpdate{Id: seed.Groups[1].ID,
		Operations: []iam.Patch{{Op: iam.PatchOpAdd, Path: "members", Value: []iam.ComplexValue{{Value: nu.Id}}}}})
	if err != nil {
		t.Fatal(err)
	}
	// data-engineers is assigned to prod: the new user appears there.
	if _, err := w.Users.GetById(ctx, nu.Id); err != nil {
		t.Errorf("new member of an assigned account group: %v", err)
	}
	err = a.Groups.Patch(ctx, iam.PartialUpdate{Id: seed.Groups[1].ID,
		Operations: []iam.Patch{{Op: iam.PatchOpAdd, Path: "entitlements", Value: []iam.ComplexValue{{Value: "workspace-access"}}}}})
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.ErrorCode != "SCIM_400" {
		t.Errorf("account entitlements PATCH: %v", err)
	}
}

func TestSDKOAuthM2M(t *testing.T) {
	srv := newSmall(t, Options{})
	cfg := &databricks.Config{
		Host:         srv.URL(),
		AuthType:     "oauth-m2m",
		ClientID:     "11111111-1111-4111-8111-111111111111",
		ClientSecret: "small-sp-secret",
		WorkspaceID:  "1001",
		Loaders:      []config.Loader{hermetic{}},
	}
	w, err := databricks.NewWorkspaceClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	me, err := w.CurrentUser.Me(context.Background(), iam.MeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if me.Id != "201" || me.UserName != "11111111-1111-4111-8111-111111111111" {
		t.Errorf("Me through OAuth M2M: %+v", me)
	}
}
