package sandbox

import (
	"encoding/json"
	"slices"
	"testing"
)

type paList struct {
	PermissionAssignments []assignmentJSON `json:"permission_assignments"`
}

func TestAccountWorkspaces(t *testing.T) {
	srv := newSmall(t, Options{})
	acct := admin(t, srv, 0)
	var list []map[string]any
	decode(t, acct.ok(200, "GET", acctPath(srv, "/workspaces"), nil).body, &list)
	if len(list) != 2 || list[0]["workspace_id"] != float64(1001) || list[1]["workspace_name"] != "legacy" {
		t.Fatalf("workspaces %v", list)
	}
	if list[1]["cloud"] != "azure" || list[1]["location"] != "westeurope" || list[0]["deployment_name"] != "dbc-1001" ||
		list[0]["account_id"] != smallAcc || list[0]["workspace_status"] != "RUNNING" {
		t.Errorf("workspace fields %v", list)
	}
	w := acct.ok(200, "GET", acctPath(srv, "/workspaces/1002"), nil).json(t)
	if w["workspace_name"] != "legacy" {
		t.Errorf("get workspace %v", w)
	}
	wantRESTError(t, acct.do("GET", acctPath(srv, "/workspaces/9"), nil), 404, "RESOURCE_DOES_NOT_EXIST")

	ms := acct.ok(200, "GET", acctPath(srv, "/workspaces/1001/metastore"), nil).json(t)
	if a, _ := ms["metastore_assignment"].(map[string]any); a == nil || a["workspace_id"] != float64(1001) || a["metastore_id"] == "" {
		t.Errorf("account metastore %v", ms)
	}
	wantRESTError(t, acct.do("GET", acctPath(srv, "/workspaces/1002/metastore"), nil), 404, "METASTORE_DOES_NOT_EXIST")
	c := admin(t, srv, wsFed)
	if m := c.ok(200, "GET", "/api/2.1/unity-catalog/current-metastore-assignment", nil).json(t); m["workspace_id"] != float64(1001) {
		t.Errorf("current metastore %v", m)
	}
	wantRESTError(t, c.in(wsLocal).do("GET", "/api/2.1/unity-catalog/current-metastore-assignment", nil), 404, "METASTORE_DOES_NOT_EXIST")
}

func TestAccountPermissionAssignments(t *testing.T) {
	srv := newSmall(t, Options{})
	acct := admin(t, srv, 0)
	c := admin(t, srv, wsFed)
	base := acctPath(srv, "/workspaces/1001/permissionassignments")
	list := func() []assignmentJSON {
		t.Helper()
		var l paList
		decode(t, acct.ok(200, "GET", base, nil).body, &l)
		return l.PermissionAssignments
	}
	want := []assignmentJSON{
		{Permissions: []string{"ADMIN"}, Principal: principalJSON{PrincipalID: 101, DisplayName: "Ada Admin", UserName: "ada@small.test"}},
		{Permissions: []string{"USER"}, Principal: principalJSON{PrincipalID: 302, DisplayName: "ops", GroupName: "ops"}},
	}
	if got := list(); !jsonEqual(got, want) {
		t.Errorf("list %+v, want %+v", got, want)
	}
	levels := acct.ok(200, "GET", base+"/permissions", nil).json(t)["permissions"].([]any)
	if len(levels) != 2 || levels[0].(map[string]any)["permission_level"] != "USER" {
		t.Errorf("levels %v", levels)
	}

	// Assign eve as USER: she appears in the workspace.
	r := acct.ok(200, "PUT", base+"/principals/105", map[string]any{"permissions": []string{"USER"}}).json(t)
	if r["permissions"].([]any)[0] != "USER" {
		t.Errorf("PUT reply %v", r)
	}
	c.ok(200, "GET", usersPath+"/105", nil)
	// ADMIN puts her in the admins group; USER takes her out again.
	acct.ok(200, "PUT", base+"/principals/105", map[string]any{"permissions": []string{"USER", "ADMIN"}})
	if got := valuesOf(c.ok(200, "GET", groupsPath+"/401", nil).json(t), "members"); !slices.Equal(got, []string{"101", "105"}) {
		t.Errorf("admins after ADMIN: %v", got)
	}
	acct.ok(200, "PUT", base+"/principals/105", map[string]any{"permissions": []string{"USER"}})
	if got := valuesOf(c.ok(200, "GET", groupsPath+"/401", nil).json(t), "members"); !slices.Equal(got, []string{"101"}) {
		t.Errorf("admins after USER: %v", got)
	}
	// Empty or invalid permissions remove the assignment.
	acct.ok(200, "PUT", base+"/principals/105", map[string]any{"permissions": []string{"user"}})
	c.ok(404, "GET", usersPath+"/105", nil)
	acct.ok(200, "PUT", base+"/principals/105", map[string]any{"permissions": []string{"USER"}})
	acct.ok(200, "PUT", base+"/principals/105", map[string]any{})
	c.ok(404, "GET", usersPath+"/105", nil)

	// DELETE removes; deleting twice is fine.
	acct.ok(200, "DELETE", base+"/principals/302", nil)
	acct.ok(200, "DELETE", base+"/principals/302", nil)
	c.ok(404, "GET", groupsPath+"/302", nil)
	c.ok(404, "GET", usersPath+"/103", nil)
	if got := list(); len(got) != 1 {
		t.Errorf("after delete: %+v", got)
	}

	// A local group with the account group's name blocks the assignment.
	c.ok(201, "POST", groupsPath, map[string]any{"displayName": "Unassigned"})
	r2 := acct.do("PUT", base+"/principals/303", map[string]any{"permissions": []string{"USER"}})
	wantRESTError(t, r2, 400, "INVALID_PARAMETER_VALUE")
	if msg := r2.json(t)["message"]; msg != "Workspace group with name Unassigned already exists" {
		t.Errorf("message %q", msg)
	}
	wantRESTError(t, acct.do("PUT", base+"/principals/999", map[string]any{"permissions": []string{"USER"}}), 404, "RESOURCE_DOES_NOT_EXIST")
	wantRESTError(t, acct.do("PUT", base+"/principals/501", map[string]any{"permissions": []string{"USER"}}), 404, "RESOURCE_DOES_NOT_EXIST")
	wantRESTError(t, acct.do("GET", acctPath(srv, "/workspaces/1002/permissionassignments"), nil), 400, "INVALID_PARAMETER_VALUE")
	wantRESTError(t, acct.do("GET", acctPath(srv, "/workspaces/77/permissionassignments"), nil), 404, "RESOURCE_DOES_NOT_EXIST")
}

func TestWorkspacePermissionAssignments(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	var l paList
	decode(t, c.ok(200, "GET", wsAssignBase, nil).body, &l)
	if len(l.PermissionAssignments) != 2 {
		t.Errorf("workspace list %+v", l)
	}
	c.ok(200, "PUT", wsAssignBase+"/principals/303", map[string]any{"permissions": []string{"USER"}})
	c.ok(200, "GET", usersPath+"/105", nil) // member of "unassigned"
	r := c.ok(200, "POST", wsAssignBase, map[string]any{"permission_assignments": []any{
		map[string]any{"user_name": "dee@small.test", "permissions": []string{"USER"}},
		map[string]any{"service_principal_name": "11111111-1111-4111-8111-111111111111", "permissions": []string{"ADMIN"}},
		map[string]any{"group_name": "nobody", "permissions": []string{"USER"}},
	}})
	decode(t, r.body, &l)
	if len(l.PermissionAssignments) != 3 || l.PermissionAssignments[0].Principal.PrincipalID != 104 ||
		l.PermissionAssignments[1].Permissions[0] != "ADMIN" || l.PermissionAssignments[2].Error == "" {
		t.Errorf("assign by name %s", r.body)
	}
	c.ok(200, "GET", usersPath+"/104", nil)
	c.ok(200, "DELETE", wsAssignBase+"/principals/104", nil)
	c.ok(404, "GET", usersPath+"/104", nil)
	wantRESTError(t, c.in(wsLocal).do("GET", wsAssignBase, nil), 400, "INVALID_PARAMETER_VALUE")
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
