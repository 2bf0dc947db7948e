package sandbox

import (
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestEventualConsistency(t *testing.T) {
	clock := newClock()
	srv := newSmall(t, Options{Now: clock.Now, Consistency: time.Minute})
	c := admin(t, srv, wsFed)
	find := func(name string) []string {
		t.Helper()
		res := c.list(groupsPath, url.Values{"filter": {`displayName eq "` + name + `"`}}).resources(t)
		return field(res, "displayName")
	}
	listed := func(id string) bool {
		t.Helper()
		return slices.Contains(ids(c.list(groupsPath, url.Values{"attributes": {"id"}}).resources(t)), id)
	}

	// Create: GET by id at once, lists and filters after the delay.
	id := c.ok(201, "POST", groupsPath, map[string]any{"displayName": "fresh"}).json(t)["id"].(string)
	c.ok(200, "GET", groupsPath+"/"+id, nil)
	if got := find("fresh"); len(got) != 0 || listed(id) {
		t.Errorf("new group listed before the delay: %v", got)
	}
	// Uniqueness is checked against the real state.
	c.ok(409, "POST", groupsPath, map[string]any{"displayName": "fresh"})
	clock.Advance(time.Minute)
	if got := find("fresh"); !slices.Equal(got, []string{"fresh"}) || !listed(id) {
		t.Errorf("new group not listed after the delay: %v", got)
	}

	// Rename: the old name keeps matching, and is what lists show.
	c.ok(204, "PATCH", groupsPath+"/"+id, `{"Operations":[{"op":"replace","path":"displayName","value":"renamed"}]}`)
	if got := c.ok(200, "GET", groupsPath+"/"+id, nil).json(t)["displayName"]; got != "renamed" {
		t.Errorf("GET after rename: %v", got)
	}
	if got := find("fresh"); !slices.Equal(got, []string{"fresh"}) {
		t.Errorf("old name during the delay: %v", got)
	}
	if got := find("renamed"); len(got) != 0 {
		t.Errorf("new name during the delay: %v", got)
	}
	// A second rename within the window still shows the original name.
	clock.Advance(30 * time.Second)
	c.ok(204, "PATCH", groupsPath+"/"+id, `{"Operations":[{"op":"replace","path":"displayName","value":"renamed twice"}]}`)
	if got := find("fresh"); !slices.Equal(got, []string{"fresh"}) {
		t.Errorf("original name after a second rename: %v", got)
	}
	clock.Advance(time.Minute)
	if got := find("fresh"); len(got) != 0 {
		t.Errorf("old name after the delay: %v", got)
	}
	if got := find("renamed twice"); !slices.Equal(got, []string{"renamed twice"}) {
		t.Errorf("new name after the delay: %v", got)
	}

	// Delete: GET is 404 at once, lists keep it until the delay passes.
	c.ok(204, "DELETE", groupsPath+"/"+id, nil)
	c.ok(404, "GET", groupsPath+"/"+id, nil)
	if !listed(id) {
		t.Error("deleted group left lists before the delay")
	}
	// The name is free again at once.
	other := c.ok(201, "POST", groupsPath, map[string]any{"displayName": "renamed twice"}).json(t)["id"].(string)
	clock.Advance(time.Minute)
	if listed(id) {
		t.Error("deleted group still listed after the delay")
	}
	if !listed(other) {
		t.Error("recreated group not listed after the delay")
	}
	// Deleted account principals linger in the workspaces where they were.
	acct := admin(t, srv, 0)
	acct.ok(204, "DELETE", acctPath(srv, "/scim/v2/Users/103"), nil)
	c.ok(404, "GET", usersPath+"/103", nil)
	if !slices.Contains(ids(c.list(usersPath, nil).resources(t)), "103") {
		t.Error("deleted account user left the workspace list before the delay")
	}
	if slices.Contains(ids(c.in(wsLocal).list(usersPath, nil).resources(t)), "103") {
		t.Error("deleted account user appears in a workspace it was never in")
	}
	clock.Advance(time.Minute)
	if slices.Contains(ids(c.list(usersPath, nil).resources(t)), "103") {
		t.Error("deleted account user still listed after the delay")
	}
}
