package sandbox

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	wantRESTError(t, c.as("").do("GET", usersPath, nil), 401, "UNAUTHENTICATED")
	wantRESTError(t, c.as("dapi-wrong").do("GET", usersPath, nil), 401, "UNAUTHENTICATED")
	wantRESTError(t, c.as("").do("GET", acctPath(srv, "/workspaces"), nil), 401, "UNAUTHENTICATED")

	user := c.as(srv.UserToken())
	if got := len(user.list(usersPath, nil).resources(t)); got != 4 {
		t.Errorf("user token lists %d users, want 4", got)
	}
	wantSCIMError(t, user.do("POST", groupsPath, map[string]any{"displayName": "x"}), 403, "", "admins")
	wantSCIMError(t, user.do("PATCH", groupsPath+"/403", `{"Operations":[{"op":"add","path":"members","value":[{"value":"103"}]}]}`), 403, "", "admins")
	wantSCIMError(t, user.do("DELETE", usersPath+"/501", nil), 403, "", "admins")
	wantRESTError(t, user.do("GET", "/api/2.0/preview/permissionassignments", nil), 403, "PERMISSION_DENIED")
	wantRESTError(t, user.do("GET", acctPath(srv, "/workspaces"), nil), 403, "PERMISSION_DENIED")
	wantSCIMError(t, user.do("GET", acctPath(srv, "/scim/v2/Users"), nil), 403, "", "account admins")
	// bob does not exist in the non-federated workspace.
	wantSCIMError(t, user.in(wsLocal).do("GET", usersPath, nil), 403, "", "not a member")

	// A workspace admin's token is a personal access token of its
	// workspace: it administers that workspace, no other workspace takes
	// it (403 as the service answers a token of another workspace), and
	// account APIs refuse it (401).
	wsAdmin := c.as(srv.WorkspaceAdminToken(wsLocal)).in(wsLocal)
	wsAdmin.ok(201, "POST", groupsPath, map[string]any{"displayName": "by ws admin"})
	other := wsAdmin.in(wsFed).do("GET", usersPath, nil)
	if m := other.json(t); other.status != 403 || m["error_code"] != float64(403) || m["message"] != "Invalid access to Org: 1001" {
		t.Errorf("PAT of workspace %d in workspace %d: %d %s", wsLocal, wsFed, other.status, other.body)
	}
	wantRESTError(t, wsAdmin.do("GET", acctPath(srv, "/workspaces"), nil), 401, "UNAUTHENTICATED")

	// UCX's workspace-proxied account SCIM: reads for workspace admins.
	proxied := c.list("/api/2.0/account/scim/v2/Groups", url.Values{"attributes": {"id,displayName,externalId"}}).resources(t)
	if got := field(proxied, "displayName"); len(got) != 4 || got[0] != "eng" {
		t.Errorf("proxied account groups %v", got)
	}
	c.ok(200, "GET", "/api/2.0/account/scim/v2/Users/105", nil)
	wantSCIMError(t, user.do("GET", "/api/2.0/account/scim/v2/Users", nil), 403, "", "admins")

	// Discovery needs no token; secrets never appear in it.
	r := c.as("").ok(200, "GET", "/.well-known/databricks-config", nil)
	if strings.Contains(string(r.body), srv.AdminToken()) {
		t.Error("host metadata contains a token")
	}
	// Deleting a principal revokes its tokens.
	admin(t, srv, 0).ok(204, "DELETE", acctPath(srv, "/scim/v2/Users/102"), nil)
	wantRESTError(t, user.do("GET", usersPath, nil), 401, "UNAUTHENTICATED")
	if srv.UserToken() != "" {
		t.Errorf("UserToken() = %q after its principal was deleted", srv.UserToken())
	}
	if m := r.json(t); m["host_type"] != "workspace" || m["account_id"] != smallAcc || m["oidc_endpoint"] != srv.URL()+"/oidc" {
		t.Errorf("host metadata %v", m)
	}
}

func TestOAuthM2M(t *testing.T) {
	srv := newSmall(t, Options{})
	post := func(form url.Values, user, pass string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL()+"/oidc/v1/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
	status, body := post(form, "11111111-1111-4111-8111-111111111111", "small-sp-secret")
	if status != 200 || !strings.Contains(body, `"access_token":"small-sp-secret"`) || !strings.Contains(body, `"token_type":"Bearer"`) {
		t.Errorf("token grant: %d %s", status, body)
	}
	if status, _ := post(form, "11111111-1111-4111-8111-111111111111", "wrong"); status != 401 {
		t.Errorf("wrong secret: %d, want 401", status)
	}
	if status, _ := post(form, "22222222-2222-4222-8222-222222222222", "small-sp-secret"); status != 401 {
		t.Errorf("secret of another client: %d, want 401", status)
	}
}

func TestThrottle429WithRetryAfter(t *testing.T) {
	clock := newClock()
	srv := newSmall(t, Options{Now: clock.Now, RateLimits: map[string]float64{ClassSCIMRead: 0.5, ClassAccountSCIMRead: 2}})
	c := admin(t, srv, wsFed)
	c.ok(200, "GET", usersPath, nil) // burst of 1
	r := c.do("GET", groupsPath, nil)
	wantRESTError(t, r, 429, "REQUEST_LIMIT_EXCEEDED")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (one token at 0.5/s)", got)
	}
	// Other classes and other workspaces have their own buckets.
	c.ok(204, "PATCH", groupsPath+"/404", `{"Operations":[{"op":"replace","path":"displayName","value":"b2"}]}`)
	c.in(wsLocal).ok(200, "GET", usersPath, nil)
	// Account buckets: burst 2.
	acct := admin(t, srv, 0)
	acct.ok(200, "GET", acctPath(srv, "/scim/v2/Users"), nil)
	acct.ok(200, "GET", acctPath(srv, "/scim/v2/Groups"), nil)
	wantRESTError(t, acct.do("GET", acctPath(srv, "/scim/v2/Users"), nil), 429, "REQUEST_LIMIT_EXCEEDED")

	clock.Advance(2 * time.Second)
	c.ok(200, "GET", usersPath, nil)
	st := srv.Stats()
	if st.Throttled != 2 {
		t.Errorf("Stats.Throttled %d, want 2", st.Throttled)
	}
	if n := st.Count("GET", groupsPath); n != 1 {
		t.Errorf("Stats.Count(GET Groups) %d, want 1", n)
	}
	if st.Classes[ClassSCIMRead] != 4 || st.Classes[ClassSCIMPatch] != 1 {
		t.Errorf("Stats.Classes %v", st.Classes)
	}
}

func TestThrottleSCIM500AndOmitRetryAfter(t *testing.T) {
	clock := newClock()
	srv := newSmall(t, Options{Now: clock.Now, ThrottleStyle: ThrottleStyleSCIM500, OmitRetryAfter: true,
		RateLimits: map[string]float64{ClassSCIMRead: 1, ClassAssignments: 1}})
	c := admin(t, srv, wsFed)
	c.ok(200, "GET", usersPath, nil)
	r := c.do("GET", usersPath, nil)
	wantSCIMError(t, r, 500, "", "REQUEST_LIMIT_EXCEEDED: Workspace 1001 exceeded")
	if r.header.Get("Retry-After") != "" {
		t.Error("Retry-After on a SCIM 500")
	}
	// Non-SCIM endpoints always answer 429; OmitRetryAfter drops the header.
	c.ok(200, "GET", "/api/2.0/preview/permissionassignments", nil)
	r = c.do("GET", "/api/2.0/preview/permissionassignments", nil)
	wantRESTError(t, r, 429, "REQUEST_LIMIT_EXCEEDED")
	if r.header.Get("Retry-After") != "" {
		t.Errorf("Retry-After %q with OmitRetryAfter", r.header.Get("Retry-After"))
	}
}

func TestConcurrencyLimit(t *testing.T) {
	srv := newSmall(t, Options{MaxConcurrent: 1})
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	srv.hold = func(r *http.Request) {
		if r.URL.Path == usersPath {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
	}
	c := admin(t, srv, wsFed)
	done := make(chan reply)
	go func() { done <- c.do("GET", usersPath, nil) }()
	<-entered
	r := c.do("GET", groupsPath, nil)
	wantSCIMError(t, r, 500, "", "REQUEST_LIMIT_EXCEEDED: Workspace 1001 exceeded the concurrent limit of 1 requests.")
	// The limit is per workspace.
	c.in(wsLocal).ok(200, "GET", groupsPath, nil)
	wantRESTError(t, c.do("GET", "/api/2.0/preview/permissionassignments", nil), 429, "REQUEST_LIMIT_EXCEEDED")
	close(release)
	if r := <-done; r.status != 200 {
		t.Errorf("held request: %d", r.status)
	}
	c.ok(200, "GET", groupsPath, nil)
	st := srv.Stats()
	if st.MaxInFlightByScope["1001"] != 2 || st.Throttled != 2 {
		t.Errorf("stats: max in flight %v, throttled %d", st.MaxInFlightByScope, st.Throttled)
	}
}

func TestAfterHandlerFault(t *testing.T) {
	srv := newSmall(t, Options{})
	if err := srv.AddFault(Fault{Method: "POST", PathRegexp: `/Groups$`, Status: 503, AfterHandler: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	c := admin(t, srv, wsFed)
	before := srv.Snapshot()
	wantRESTError(t, c.do("POST", groupsPath, map[string]any{"displayName": "lost reply"}), 503, "TEMPORARILY_UNAVAILABLE")
	d := Diff(before, srv.Snapshot())
	if len(d) != 1 || !strings.Contains(d[0], `"lost reply"`) {
		t.Errorf("the write whose reply was lost did not happen: %v", d)
	}
	// The retry sees the group (a conflict), and the filter finds it.
	wantSCIMError(t, c.do("POST", groupsPath, map[string]any{"displayName": "lost reply"}), 409, "uniqueness", "lost reply")
	if got := c.list(groupsPath, url.Values{"filter": {`displayName eq "lost reply"`}}).resources(t); len(got) != 1 {
		t.Errorf("filter after lost reply: %d groups", len(got))
	}
	if st := srv.Stats(); st.Faults != 1 {
		t.Errorf("Stats.Faults %d, want 1", st.Faults)
	}
}

func TestTargetedFaultsBeforeHandlerAndDrop(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.AddFault(Fault{Method: "PATCH", Status: 500, Offset: 1, Times: 2, Body: `{"detail":"boom","status":"500"}`}))
	patch := `{"Operations":[{"op":"add","path":"members","value":[{"value":"103"}]}]}`
	c.ok(204, "PATCH", groupsPath+"/403", patch) // offset: first one passes
	for range 2 {
		r := c.do("PATCH", groupsPath+"/404", `{"Operations":[{"op":"replace","path":"displayName","value":"never"}]}`)
		if r.status != 500 || string(r.body) != `{"detail":"boom","status":"500"}` {
			t.Errorf("fault reply %d %s", r.status, r.body)
		}
	}
	if got := c.ok(200, "GET", groupsPath+"/404", nil).json(t)["displayName"]; got != "team b" {
		t.Errorf("a before-handler fault let the write through: %v", got)
	}
	c.ok(204, "PATCH", groupsPath+"/403", patch) // times exhausted

	must(srv.AddFault(Fault{Method: "DELETE", PathRegexp: `/Groups/404`, Drop: true, AfterHandler: true, Times: 1}))
	req, _ := http.NewRequest("DELETE", srv.URL()+groupsPath+"/404", nil)
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("X-Databricks-Workspace-Id", "1001")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection answered %d", resp.StatusCode)
	}
	c.ok(404, "GET", groupsPath+"/404", nil) // the delete happened
	if st := srv.Stats(); st.Count("DELETE", groupsPath+"/{id}") != 1 || st.Faults != 3 {
		t.Errorf("stats %+v", st)
	}
	srv.ClearFaults()
	if err := srv.AddFault(Fault{PathRegexp: "(", Status: 500}); err == nil {
		t.Error("bad regexp accepted")
	}
	if err := srv.AddFault(Fault{Status: 42}); err == nil {
		t.Error("bad status accepted")
	}
}

func TestTargetedFaultForOneWorkspace(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	if err := srv.AddFault(Fault{Method: "GET", PathRegexp: `/Groups$`, Workspace: wsFed, Status: 403}); err != nil {
		t.Fatal(err)
	}
	if r := c.do("GET", groupsPath, nil); r.status != 403 {
		t.Errorf("GET groups of workspace %d = %d, want the fault's 403", wsFed, r.status)
	}
	c.in(wsLocal).ok(200, "GET", groupsPath, nil) // another workspace is not hit
	c.ok(200, "GET", usersPath, nil)              // nor another path
	// The fault follows the routing, not the header's spelling: no header
	// is the first workspace, and " 01001" is workspace 1001.
	if r := c.in(0).do("GET", groupsPath, nil); r.status != 403 {
		t.Errorf("GET groups without a workspace header (workspace %d) = %d, want the fault's 403", wsFed, r.status)
	}
	req, err := http.NewRequest("GET", srv.URL()+groupsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("X-Databricks-Workspace-Id", " 01001")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("GET groups with header \" 01001\" = %d, want the fault's 403", resp.StatusCode)
	}
	// An account route is in no workspace, whatever its headers.
	c.ok(200, "GET", acctPath(srv, "/scim/v2/Groups"), nil)
	if st := srv.Stats(); st.Faults != 3 {
		t.Errorf("Stats.Faults %d, want 3", st.Faults)
	}
}

func TestRandomFaultsAreDeterministic(t *testing.T) {
	run := func() []int {
		srv := newSmall(t, Options{FaultRate: 0.5, FaultSeed: 7})
		var out []int
		for range 30 {
			req, _ := http.NewRequest("GET", srv.URL()+usersPath, nil)
			req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				out = append(out, 0)
				continue
			}
			resp.Body.Close()
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b := run(), run()
	count := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("fault sequence differs at %d: %v vs %v", i, a, b)
		}
		count[a[i]]++
	}
	if count[200] == 0 || count[200] == len(a) || count[500]+count[503]+count[0] == 0 {
		t.Errorf("fault rate 0.5 gave %v", count)
	}
}

func TestStatsEndpointsAndReset(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	c.ok(200, "GET", usersPath, nil)
	c.ok(404, "GET", usersPath+"/999", nil)
	var st Stats
	decode(t, c.as("").ok(200, "GET", "/sandbox/stats", nil).body, &st)
	want := []RequestCount{
		{Method: "GET", Route: usersPath, Status: 200, Count: 1},
		{Method: "GET", Route: usersPath + "/{id}", Status: 404, Count: 1},
	}
	if len(st.Requests) != 2 || st.Requests[0] != want[0] || st.Requests[1] != want[1] || st.Total != 2 {
		t.Errorf("stats %+v", st)
	}
	c.as("").ok(204, "POST", "/sandbox/stats/reset", nil)
	if st := srv.Stats(); st.Total != 0 || len(st.Requests) != 0 {
		t.Errorf("after reset: %+v", st)
	}
	var state State
	decode(t, c.as("").ok(200, "GET", "/sandbox/state", nil).body, &state)
	if d := Diff(state, srv.Snapshot()); len(d) > 0 {
		t.Errorf("/sandbox/state differs from Snapshot: %v", d)
	}
}
