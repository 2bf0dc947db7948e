package sandbox

import (
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
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

// TestListedAllMatchesScan runs random creations, deletions, membership
// and assignment changes, with the clock moving in steps around the
// consistency delay, and checks after each that listedAll (cached or not)
// lists exactly the principals a scan with listed finds, in every scope.
func TestListedAllMatchesScan(t *testing.T) {
	for _, delay := range []time.Duration{0, time.Minute} {
		clock := newClock()
		srv := newSmall(t, Options{Now: clock.Now, Consistency: delay})
		r := rand.New(rand.NewPCG(7, uint64(delay)))
		acct := admin(t, srv, 0)
		scopes := append([]*workspace{nil}, srv.st.workspaces...)
		check := func(step int) {
			t.Helper()
			srv.mu.RLock()
			defer srv.mu.RUnlock()
			st, now := srv.st, clock.Now()
			for _, w := range scopes {
				for _, k := range []kind{kindUser, kindGroup, kindSP} {
					var want []*principal
					for _, p := range st.order {
						if p.kind == k && st.listed(p, w, now, delay) {
							want = append(want, p)
						}
					}
					for range 2 { // fill the cache, then read it
						if got := st.listedAll(k, w, now, delay); !slices.Equal(got, want) {
							t.Fatalf("delay %v step %d: listedAll(%v, %v) = %d principals, scan finds %d",
								delay, step, k, w, len(got), len(want))
						}
					}
				}
			}
		}
		pick := func() string {
			srv.mu.RLock()
			defer srv.mu.RUnlock()
			return srv.st.order[r.IntN(len(srv.st.order))].id
		}
		for step := range 600 {
			ws := []int64{wsFed, wsLocal}[r.IntN(2)]
			name := "n" + strconv.Itoa(step)
			if r.IntN(2) == 0 {
				// Mostly small steps, so that lists are read within and
				// just past the delay of each change.
				clock.Advance(time.Duration(r.IntN(40)) * time.Second)
				check(step)
				continue
			}
			switch r.IntN(8) {
			case 0:
				acct.do("POST", acctPath(srv, "/scim/v2/Users"), map[string]any{"userName": name + "@x.test"})
			case 1:
				acct.do("POST", acctPath(srv, "/scim/v2/Groups"), map[string]any{"displayName": name})
			case 2:
				acct.do("POST", acctPath(srv, "/scim/v2/ServicePrincipals"), map[string]any{"displayName": name})
			case 3:
				acct.in(ws).do("POST", []string{usersPath, groupsPath, spsPath}[r.IntN(3)],
					map[string]any{"userName": name + "@w.test", "displayName": name})
			case 4:
				id := pick()
				acct.do("DELETE", acctPath(srv, "/scim/v2/"+[]string{"Users", "Groups", "ServicePrincipals"}[r.IntN(3)]+"/"+id), nil)
			case 5:
				id := pick()
				acct.in(ws).do("DELETE", []string{usersPath, groupsPath, spsPath}[r.IntN(3)]+"/"+id, nil)
			case 6:
				g, m := pick(), pick()
				op := []string{"add", "remove"}[r.IntN(2)]
				body := `{"Operations":[{"op":"` + op + `","path":"members","value":[{"value":"` + m + `"}]}]}`
				if op == "remove" {
					body = `{"Operations":[{"op":"remove","path":"members[value eq \"` + m + `\"]"}]}`
				}
				acct.do("PATCH", acctPath(srv, "/scim/v2/Groups/"+g), body)
				acct.in(ws).do("PATCH", groupsPath+"/"+g, body)
			default:
				path := acctPath(srv, "/workspaces/"+strconv.FormatInt(wsFed, 10)+"/permissionassignments/principals/"+pick())
				if r.IntN(2) == 0 {
					acct.do("PUT", path, map[string]any{"permissions": []string{"USER"}})
				} else {
					acct.do("DELETE", path, nil)
				}
			}
			check(step)
		}
	}
}
