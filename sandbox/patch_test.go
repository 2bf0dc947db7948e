package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// The PATCH bodies below are verbatim from the API reference §A.4.
func TestPatchForms(t *testing.T) {
	cases := []struct {
		name string
		path string // resource, in workspace 1001
		body string
		attr string
		want []string // values of attr afterwards
	}{
		{"add member (TF, UCX)", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"add","path":"members","value":[{"value":"103"}]}]}`,
			"members", []string{"102", "103", "301", "501"}},
		{"path-less add member", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"add","value":{"members":[{"value":"103"}]}}]}`,
			"members", []string{"102", "103", "301", "501"}},
		{"Entra casing", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"Add","path":"members","value":[{"value":"201"}]}]}`,
			"members", []string{"102", "201", "301", "501"}},
		{"remove member by value filter", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"remove","path":"members[value eq \"501\"]"}]}`,
			"members", []string{"102", "301"}},
		{"add entitlements", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"add","path":"entitlements","value":[{"value":"allow-cluster-create"},{"value":"databricks-sql-access"}]}]}`,
			"entitlements", []string{"allow-cluster-create", "databricks-sql-access"}},
		{"remove entitlements with a value list (TF)", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"remove","path":"entitlements","value":[{"value":"allow-cluster-create"}]}]}`,
			"entitlements", nil},
		{"remove entitlement by value filter (RFC)", groupsPath + "/403",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"remove","path":"entitlements[value eq \"allow-cluster-create\"]"}]}`,
			"entitlements", nil},
		{"add role", groupsPath + "/404",
			`{"Operations":[{"op":"add","path":"roles","value":[{"value":"arn:aws:iam::123:instance-profile/x"}]}], "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			"roles", []string{"arn:aws:iam::123:instance-profile/x"}},
		{"remove role", groupsPath + "/403",
			`{"Operations":[{"op":"remove","path":"roles[value eq \"arn:aws:iam::123456789012:instance-profile/a\"]"}], "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			"roles", nil},
		{"entitlements on an account group, per workspace", groupsPath + "/302",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			  "Operations":[{"op":"add","path":"entitlements","value":[{"value":"workspace-access"}]}]}`,
			"entitlements", []string{"workspace-access"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newSmall(t, Options{})
			c := admin(t, srv, wsFed)
			r := c.doCT("PATCH", tc.path, tc.body, "application/json")
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("PATCH: %d %s, want 204 with no body", r.status, r.body)
			}
			got := valuesOf(c.ok(200, "GET", tc.path, nil).json(t), tc.attr)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s after PATCH: %v, want %v", tc.attr, got, tc.want)
			}
		})
	}
}

func TestPatchRenameAndDeactivate(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	// UCX sends renames without "schemas".
	c.ok(204, "PATCH", groupsPath+"/404", `{"Operations":[{"op":"replace","path":"displayName","value":"team b renamed"}]}`)
	if got := c.ok(200, "GET", groupsPath+"/404", nil).json(t)["displayName"]; got != "team b renamed" {
		t.Errorf("displayName %v", got)
	}
	wantSCIMError(t, c.do("PATCH", groupsPath+"/404", `{"Operations":[{"op":"replace","path":"displayName","value":"TEAM A"}]}`),
		409, "uniqueness", "Group with name TEAM A already exists.")

	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":[{"value":"false"}]}]}`,
		`{"Operations":[{"op":"replace","path":"active","value":false}]}`,
		`{"Operations":[{"op":"replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
	} {
		c.ok(204, "PATCH", usersPath+"/501", `{"Operations":[{"op":"replace","path":"active","value":true}]}`)
		c.ok(204, "PATCH", usersPath+"/501", body)
		if got := c.ok(200, "GET", usersPath+"/501", nil).json(t)["active"]; got != false {
			t.Errorf("after %s: active %v", body, got)
		}
	}
	wantSCIMError(t, c.do("PATCH", usersPath+"/501", `{"Operations":[{"op":"replace","path":"active","value":"maybe"}]}`),
		400, "invalidValue", "active")
	// An account service principal deactivated through the workspace is
	// deactivated at account level.
	c.ok(204, "PATCH", spsPath+"/201", `{"Operations":[{"op":"replace","path":"active","value":[{"value":"false"}]}]}`)
	if got := admin(t, srv, 0).ok(200, "GET", acctPath(srv, "/scim/v2/ServicePrincipals/201"), nil).json(t)["active"]; got != false {
		t.Errorf("account SP active %v", got)
	}
}

func TestPatchErrors(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	acct := admin(t, srv, 0)
	cases := []struct {
		name      string
		c         tc
		path      string
		body      string
		status    int
		scimType  string
		detailHas string
	}{
		{"remove absent entitlements", c, groupsPath + "/404",
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"entitlements","value":[{"value":"allow-cluster-create"}]}]}`,
			400, "invalidPath", "No such attribute with the name : entitlements in the current resource"},
		{"bare string members", c, groupsPath + "/403",
			`{"Operations":[{"op":"add","path":"members","value":"103"}]}`,
			400, "invalidSyntax", detailUnparsable},
		{"no operations", c, groupsPath + "/403", `{"schemas":[]}`, 400, "invalidSyntax", detailUnparsable},
		{"bad path", c, groupsPath + "/403", `{"Operations":[{"op":"remove","path":"members[value eq"}]}`, 400, "invalidPath", ""},
		{"unknown member", c, groupsPath + "/403",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"424242"}]}]}`,
			400, "invalidValue", "424242"},
		{"member from another workspace", c, groupsPath + "/403",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"602"}]}]}`,
			400, "invalidValue", "602"},
		{"unassigned account user as member", c, groupsPath + "/403",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"105"}]}]}`,
			400, "invalidValue", "105"},
		{"cycle", c, groupsPath + "/403",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"404"}]}]}`,
			400, "invalidValue", "cycle"},
		{"account group members through a workspace", c, groupsPath + "/301",
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"103"}]}]}`,
			400, "invalidValue", "account SCIM"},
		{"account group rename through a workspace", c, groupsPath + "/301",
			`{"Operations":[{"op":"replace","path":"displayName","value":"engineering"}]}`,
			400, "invalidValue", "account SCIM"},
		{"user displayName in a federated workspace", c, usersPath + "/102",
			`{"Operations":[{"op":"replace","path":"displayName","value":"Robert"}]}`,
			400, "invalidValue", "identity-federated"},
		{"userName is immutable", c, usersPath + "/501",
			`{"Operations":[{"op":"replace","path":"userName","value":"x@small.test"}]}`,
			400, "mutability", "userName"},
		{"groups is read-only", c, usersPath + "/501",
			`{"Operations":[{"op":"add","path":"groups","value":[{"value":"404"}]}]}`,
			400, "mutability", "groups"},
		{"members of the users group are implicit", c, groupsPath + "/402",
			`{"Operations":[{"op":"remove","path":"members[value eq \"102\"]"}]}`,
			400, "invalidValue", "system group"},
		{"unknown entitlement", c, groupsPath + "/403",
			`{"Operations":[{"op":"add","path":"entitlements","value":[{"value":"be-root"}]}]}`,
			400, "invalidValue", "be-root"},
		{"entitlements at account level", acct, acctPath(srv, "/scim/v2/Groups/301"),
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"entitlements","value":[{"value":"allow-cluster-create"}]}]}`,
			400, "invalidValue", "entitlements can only be managed at the workspace level"},
		{"workspace-local member at account level", acct, acctPath(srv, "/scim/v2/Groups/301"),
			`{"Operations":[{"op":"add","path":"members","value":[{"value":"501"}]}]}`,
			400, "invalidValue", "501"},
	}
	before := srv.Snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantSCIMError(t, tc.c.doCT("PATCH", tc.path, tc.body, "application/json"), tc.status, tc.scimType, tc.detailHas)
		})
	}
	if d := Diff(before, srv.Snapshot()); len(d) > 0 {
		t.Errorf("failed PATCHes changed the state:\n%v", d)
	}
}

func TestPatchAccountGroupMembersAndStatusKnob(t *testing.T) {
	srv := newSmall(t, Options{PatchStatus: 200})
	acct := admin(t, srv, 0)
	r := acct.ok(200, "PATCH", acctPath(srv, "/scim/v2/Groups/301"),
		patchOp(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "105"}}}))
	if string(r.body) != "{}" {
		t.Errorf("PatchStatus 200 body %q, want {}", r.body)
	}
	// eve joins eng, which is in ops, which is assigned to the federated
	// workspace: she becomes visible there.
	c := admin(t, srv, wsFed)
	c.ok(200, "GET", usersPath+"/105", nil)
	acct.ok(200, "PATCH", acctPath(srv, "/scim/v2/Groups/302"),
		patchOp(map[string]any{"op": "remove", "path": `members[value eq "301"]`}))
	c.ok(404, "GET", usersPath+"/105", nil)
	c.ok(404, "GET", groupsPath+"/301", nil)
	if got := valuesOf(c.ok(200, "GET", groupsPath+"/403", nil).json(t), "members"); !slices.Equal(got, []string{"501"}) {
		t.Errorf("local group members after eng left the workspace: %v (invisible members are hidden)", got)
	}
}

func TestCreateInFederatedWorkspace(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	acct := admin(t, srv, 0)

	// A new user is created at account level and assigned to the workspace.
	r := c.ok(201, "POST", usersPath, map[string]any{"userName": "new@small.test", "displayName": "New Person",
		"entitlements": []any{map[string]any{"value": "allow-cluster-create"}}})
	u := r.json(t)
	id := u["id"].(string)
	if !slices.Equal(valuesOf(u, "entitlements"), []string{"allow-cluster-create"}) {
		t.Errorf("created user entitlements %v", valuesOf(u, "entitlements"))
	}
	acct.ok(200, "GET", acctPath(srv, "/scim/v2/Users/"+id), nil)
	assigned := func(pid string) []any {
		t.Helper()
		pas := acct.ok(200, "GET", acctPath(srv, "/workspaces/1001/permissionassignments"), nil).json(t)["permission_assignments"].([]any)
		for _, pa := range pas {
			p := pa.(map[string]any)
			if itoa(int(p["principal"].(map[string]any)["principal_id"].(float64))) == pid {
				return p["permissions"].([]any)
			}
		}
		return nil
	}
	if got := assigned(id); len(got) != 1 || got[0] != "USER" {
		t.Errorf("new user assignment %v, want [USER]", got)
	}
	// An existing account user is linked, keeping its id.
	r = c.ok(201, "POST", usersPath, map[string]any{"userName": "EVE@small.test"})
	if got := r.json(t)["id"]; got != "105" {
		t.Errorf("linked user id %v, want 105", got)
	}
	wantSCIMError(t, c.do("POST", usersPath, map[string]any{"userName": "eve@small.test"}), 409, "uniqueness",
		"User with username eve@small.test already exists.")
	wantSCIMError(t, c.do("POST", usersPath, map[string]any{"userName": "legacy@small.test"}), 409, "uniqueness", "legacy@small.test")
	// Service principals likewise; an application id is generated when absent.
	sp := c.ok(201, "POST", spsPath, map[string]any{"displayName": "new-sp"}).json(t)
	if app, _ := sp["applicationId"].(string); len(app) != 36 {
		t.Errorf("generated applicationId %q", app)
	}
	acct.ok(200, "GET", acctPath(srv, "/scim/v2/ServicePrincipals/"+sp["id"].(string)), nil)

	// Groups created through a workspace are local, even with the name of an
	// account group that is not in the workspace.
	g := c.ok(201, "POST", groupsPath, map[string]any{"displayName": "unassigned", "members": []any{map[string]any{"value": "103"}}}).json(t)
	if g["meta"].(map[string]any)["resourceType"] != "WorkspaceGroup" {
		t.Errorf("created group meta %v", g["meta"])
	}
	if !slices.Equal(valuesOf(g, "members"), []string{"103"}) {
		t.Errorf("created group members %v", valuesOf(g, "members"))
	}
	acct.ok(404, "GET", acctPath(srv, "/scim/v2/Groups/"+g["id"].(string)), nil)
	// An account group visible in the workspace blocks the name.
	wantSCIMError(t, c.do("POST", groupsPath, map[string]any{"displayName": "Eng"}), 409, "uniqueness", "Group with name Eng already exists.")
}

func TestCreateInNonFederatedWorkspaceAndAccount(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsLocal)
	acct := admin(t, srv, 0)
	u := c.ok(201, "POST", usersPath, map[string]any{"userName": "bob@small.test"}).json(t)
	id := u["id"].(string)
	if id == "102" {
		t.Fatal("a non-federated workspace linked the account user")
	}
	acct.ok(404, "GET", acctPath(srv, "/scim/v2/Users/"+id), nil)
	wantSCIMError(t, c.do("POST", usersPath, map[string]any{"userName": "ZED@small.test"}), 409, "uniqueness", "ZED@small.test")

	// Account creates: duplicates, and entitlements refused.
	wantSCIMError(t, acct.do("POST", acctPath(srv, "/scim/v2/Users"), map[string]any{"userName": "ada@small.test"}), 409, "uniqueness", "ada@small.test")
	wantSCIMError(t, acct.do("POST", acctPath(srv, "/scim/v2/Groups"), map[string]any{"displayName": "ENG"}), 409, "uniqueness", "Group with name ENG already exists.")
	wantSCIMError(t, acct.do("POST", acctPath(srv, "/scim/v2/ServicePrincipals"), map[string]any{"applicationId": "11111111-1111-4111-8111-111111111111"}),
		409, "uniqueness", "11111111-1111-4111-8111-111111111111")
	wantSCIMError(t, acct.do("POST", acctPath(srv, "/scim/v2/Users"), map[string]any{"userName": "x@small.test",
		"entitlements": []any{map[string]any{"value": "workspace-access"}}}), 400, "invalidValue", "workspace level")
	g := acct.ok(201, "POST", acctPath(srv, "/scim/v2/Groups"), map[string]any{"displayName": "new team",
		"members": []any{map[string]any{"value": "104"}}}).json(t)
	if g["meta"].(map[string]any)["resourceType"] != "Group" || !slices.Equal(valuesOf(g, "members"), []string{"104"}) {
		t.Errorf("account group create reply %v", g)
	}
}

func TestReplace(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	r := c.ok(200, "PUT", groupsPath+"/403", map[string]any{"displayName": "team a2",
		"members": []any{map[string]any{"value": "103"}}, "roles": []any{}})
	g := r.json(t)
	if g["displayName"] != "team a2" || !slices.Equal(valuesOf(g, "members"), []string{"103"}) || g["roles"] != nil || g["entitlements"] != nil {
		t.Errorf("PUT group reply %v", g)
	}
	u := c.ok(200, "PUT", usersPath+"/501", map[string]any{"userName": "legacy@small.test", "displayName": "Legacy Renamed",
		"emails": []any{map[string]any{"value": "legacy@small.test", "primary": true}},
		"name":   map[string]any{"givenName": "Leg"}, "groups": []any{map[string]any{"value": "1"}}}).json(t)
	if u["displayName"] != "Legacy Renamed" || u["name"].(map[string]any)["givenName"] != "Leg" {
		t.Errorf("PUT user reply %v", u)
	}
	// The users group's members are computed: a PUT without them keeps them.
	ug := c.ok(200, "PUT", groupsPath+"/402", map[string]any{"displayName": "users",
		"entitlements": []any{map[string]any{"value": "databricks-sql-access"}}}).json(t)
	if !slices.Equal(valuesOf(ug, "entitlements"), []string{"databricks-sql-access"}) || len(valuesOf(ug, "members")) != 5 {
		t.Errorf("PUT users group: %v", ug)
	}
	wantSCIMError(t, c.do("PUT", usersPath+"/501", map[string]any{"userName": "other@small.test"}), 400, "mutability", "userName")
	wantSCIMError(t, c.do("PUT", usersPath+"/501", map[string]any{"userName": "legacy@small.test",
		"emails": []any{map[string]any{"value": "other@small.test"}}}), 400, "mutability", "emails")
	wantSCIMError(t, c.do("PUT", usersPath+"/102", map[string]any{"userName": "bob@small.test", "displayName": "Robert"}),
		400, "invalidValue", "identity-federated")
	// Workspace attributes of an account user can be replaced in the workspace.
	got := c.ok(200, "PUT", usersPath+"/102", map[string]any{"userName": "bob@small.test",
		"entitlements": []any{map[string]any{"value": "workspace-consume"}}}).json(t)
	if !slices.Equal(valuesOf(got, "entitlements"), []string{"workspace-consume"}) || got["displayName"] != "Bob Builder" {
		t.Errorf("PUT account user in workspace: %v", got)
	}
}

func TestDelete(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	acct := admin(t, srv, 0)
	// A local group: gone, and out of its parents.
	c.ok(204, "DELETE", groupsPath+"/403", nil)
	c.ok(404, "GET", groupsPath+"/403", nil)
	if got := valuesOf(c.ok(200, "GET", groupsPath+"/404", nil).json(t), "members"); got != nil {
		t.Errorf("team b members after deleting team a: %v", got)
	}
	// An account principal deleted through a workspace is unassigned there.
	acct.ok(200, "PUT", acctPath(srv, "/workspaces/1001/permissionassignments/principals/104"), map[string]any{"permissions": []string{"USER"}})
	c.ok(200, "GET", usersPath+"/104", nil)
	c.ok(204, "DELETE", usersPath+"/104", nil)
	c.ok(404, "GET", usersPath+"/104", nil)
	acct.ok(200, "GET", acctPath(srv, "/scim/v2/Users/104"), nil)
	// ...which needs a direct assignment.
	wantSCIMError(t, c.do("DELETE", usersPath+"/103", nil), 400, "invalidValue", "through an account group")
	// System groups stay.
	wantSCIMError(t, c.do("DELETE", groupsPath+"/401", nil), 400, "invalidValue", "System group")
	wantSCIMError(t, c.do("DELETE", groupsPath+"/402", nil), 400, "invalidValue", "System group")
	// Account delete removes the principal everywhere.
	acct.ok(204, "DELETE", acctPath(srv, "/scim/v2/Groups/301"), nil)
	c.ok(404, "GET", usersPath+"/102", nil) // bob was only there through eng
	c.ok(404, "GET", spsPath+"/201", nil)
	st := srv.Snapshot()
	for _, w := range st.Workspaces {
		if _, has := w.Entitlements["301"]; has {
			t.Error("deleted group keeps workspace entitlements")
		}
	}
	if got := c.list(groupsPath, url.Values{"filter": {`displayName eq "eng"`}}).resources(t); len(got) != 0 {
		t.Errorf("deleted group still listed: %v", got)
	}
}
