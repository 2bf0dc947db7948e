package sandbox

import (
	"reflect"
	"slices"
	"testing"
)

func TestSnapshotAndDiff(t *testing.T) {
	srv := newSmall(t, Options{})
	before := srv.Snapshot()
	if !reflect.DeepEqual(before, srv.Snapshot()) {
		t.Fatal("two snapshots of the same state differ")
	}
	if len(before.Users) != 5 || len(before.Workspaces) != 2 || len(before.Workspaces[0].Groups) != 4 {
		t.Fatalf("snapshot sizes: %d users, %d workspaces", len(before.Users), len(before.Workspaces))
	}
	c := admin(t, srv, wsFed)
	c.ok(204, "PATCH", groupsPath+"/403", `{"Operations":[{"op":"add","path":"members","value":[{"value":"103"}]},
		{"op":"add","path":"entitlements","value":[{"value":"workspace-access"}]}]}`)
	c.ok(204, "PATCH", groupsPath+"/404", `{"Operations":[{"op":"replace","path":"displayName","value":"team b2"}]}`)
	admin(t, srv, 0).ok(200, "PUT", acctPath(srv, "/workspaces/1001/permissionassignments/principals/105"),
		map[string]any{"permissions": []string{"USER"}})
	after := srv.Snapshot()
	want := []string{
		"+ workspace 1001 assignment 105 USER",
		"+ workspace 1001 group 403 member 103",
		`- workspace 1001 group 404 "team b"`,
		`+ workspace 1001 group 404 "team b2"`,
		`+ workspace 1001 principal 403 entitlement "workspace-access"`,
	}
	if got := Diff(before, after); !slices.Equal(got, want) {
		t.Errorf("Diff:\n%q\nwant\n%q", got, want)
	}
	if d := Diff(after, after); len(d) != 0 {
		t.Errorf("Diff of equal states: %v", d)
	}
	// Snapshots are deep copies.
	after.Workspaces[0].Groups[0].Members[0] = "mutated"
	if reflect.DeepEqual(after, srv.Snapshot()) {
		t.Error("mutating a snapshot changed the server")
	}
}
