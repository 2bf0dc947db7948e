package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

func TestListPagingWithSmallPageCap(t *testing.T) {
	srv := newSmall(t, Options{PageCap: 2})
	c := admin(t, srv, wsFed)
	type page struct {
		Schemas      []string         `json:"schemas"`
		TotalResults int              `json:"totalResults"`
		StartIndex   int              `json:"startIndex"`
		ItemsPerPage int              `json:"itemsPerPage"`
		Resources    []map[string]any `json:"Resources"`
	}
	get := func(q string) page {
		t.Helper()
		r := c.ok(http.StatusOK, "GET", usersPath+q, nil)
		var p page
		decode(t, r.body, &p)
		if len(p.Schemas) != 1 || p.Schemas[0] != schemaListResponse {
			t.Errorf("%s: schemas %v", q, p.Schemas)
		}
		if p.ItemsPerPage != len(p.Resources) {
			t.Errorf("%s: itemsPerPage %d, returned %d", q, p.ItemsPerPage, len(p.Resources))
		}
		return p
	}
	// Users visible in the federated workspace: ada (assigned), cy (via ops),
	// bob (via ops > eng) and the legacy local user, in creation order.
	want := []string{"101", "102", "103", "501"}
	var got []string
	next := 1
	for range 5 {
		p := get("?startIndex=" + itoa(next) + "&count=10000")
		if p.StartIndex != next {
			t.Fatalf("startIndex echoed %d, want %d", p.StartIndex, next)
		}
		if p.TotalResults != 4 {
			t.Errorf("totalResults %d, want 4", p.TotalResults)
		}
		if len(p.Resources) == 0 {
			if p.Resources == nil {
				t.Error("Resources missing past the end, want []")
			}
			break
		}
		if len(p.Resources) > 2 {
			t.Fatalf("page of %d exceeds the page cap 2", len(p.Resources))
		}
		got = append(got, ids(p.Resources)...)
		next = p.StartIndex + len(p.Resources)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged ids %v, want %v", got, want)
	}
	if p := get("?startIndex=99"); len(p.Resources) != 0 || p.StartIndex != 99 || p.TotalResults != 4 {
		t.Errorf("past the end: %+v", p)
	}
	if p := get("?count=0"); len(p.Resources) != 0 || p.TotalResults != 4 {
		t.Errorf("count=0: %d resources, total %d; want 0, 4", len(p.Resources), p.TotalResults)
	}
	if p := get("?startIndex=0&count=1"); p.StartIndex != 1 || !slices.Equal(ids(p.Resources), []string{"101"}) {
		t.Errorf("startIndex=0: startIndex %d ids %v, want 1 [101]", p.StartIndex, ids(p.Resources))
	}
	if p := get("?"); len(p.Resources) != 2 {
		t.Errorf("no count: %d resources, want the page cap 2", len(p.Resources))
	}
	wantSCIMError(t, c.do("GET", usersPath+"?count=many", nil), 400, "invalidValue", "count")
}

func TestListVisibilityFederatedAndLocal(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)

	groups := c.list(groupsPath, nil).resources(t)
	byName := map[string]map[string]any{}
	for _, g := range groups {
		byName[g["displayName"].(string)] = g
	}
	wantTypes := map[string]string{"eng": "Group", "ops": "Group", "admins": "WorkspaceGroup",
		"users": "WorkspaceGroup", "team a": "WorkspaceGroup", "team b": "WorkspaceGroup"}
	if len(groups) != len(wantTypes) {
		t.Errorf("groups %v, want %d", field(groups, "displayName"), len(wantTypes))
	}
	for name, rt := range wantTypes {
		g := byName[name]
		if g == nil {
			t.Errorf("group %q not listed", name)
			continue
		}
		if got := g["meta"].(map[string]any)["resourceType"]; got != rt {
			t.Errorf("group %q resourceType %v, want %s", name, got, rt)
		}
	}
	// "users" implicitly holds every user and service principal of the workspace.
	if got := valuesOf(byName["users"], "members"); !slices.Equal(got, []string{"101", "102", "103", "201", "501"}) {
		t.Errorf("users members %v", got)
	}
	if got := valuesOf(byName["team a"], "members"); !slices.Equal(got, []string{"102", "301", "501"}) {
		t.Errorf("team a members %v", got)
	}
	if got := valuesOf(byName["team a"], "entitlements"); !slices.Equal(got, []string{"allow-cluster-create"}) {
		t.Errorf("team a entitlements %v", got)
	}
	if got := valuesOf(byName["team a"], "roles"); !slices.Equal(got, []string{"arn:aws:iam::123456789012:instance-profile/a"}) {
		t.Errorf("team a roles %v", got)
	}
	if got := valuesOf(byName["eng"], "entitlements"); !slices.Equal(got, []string{"databricks-sql-access"}) {
		t.Errorf("account group eng entitlements in workspace %v", got)
	}
	if got := valuesOf(byName["team b"], "members"); !slices.Equal(got, []string{"403"}) {
		t.Errorf("team b members %v (nested local group)", got)
	}

	// groups on a user: direct parents only, with type "direct".
	bob := c.ok(200, "GET", usersPath+"/102", nil).json(t)
	if got := valuesOf(bob, "groups"); !slices.Equal(got, []string{"301", "402", "403"}) {
		t.Errorf("bob groups %v, want eng, users, team a", got)
	}
	for _, g := range bob["groups"].([]any) {
		if g.(map[string]any)["type"] != "direct" {
			t.Errorf("group ref %v lacks type direct", g)
		}
	}
	c.ok(404, "GET", usersPath+"/105", nil) // eve: account user not assigned
	c.ok(404, "GET", usersPath+"/602", nil) // local user of another workspace

	sps := c.list(spsPath, nil).resources(t)
	if !slices.Equal(ids(sps), []string{"201"}) {
		t.Errorf("federated SPs %v", ids(sps))
	}

	// The non-federated workspace shows its local principals only.
	l := c.in(wsLocal)
	if got := ids(l.list(usersPath, nil).resources(t)); !slices.Equal(got, []string{"601", "602"}) {
		t.Errorf("local users %v", got)
	}
	if got := ids(l.list(spsPath, nil).resources(t)); !slices.Equal(got, []string{"701"}) {
		t.Errorf("local SPs %v", got)
	}
	lg := l.list(groupsPath, nil).resources(t)
	if got := field(lg, "displayName"); !slices.Equal(got, []string{"admins", "users", "team a"}) {
		t.Errorf("local groups %v", got)
	}
	for _, g := range lg {
		if g["meta"].(map[string]any)["resourceType"] != "WorkspaceGroup" {
			t.Errorf("group %v in non-federated workspace is not a WorkspaceGroup", g["displayName"])
		}
	}

	// Account level: account principals only, account groups without members.
	acct := admin(t, srv, 0)
	if got := ids(acct.list(acctPath(srv, "/scim/v2/Users"), nil).resources(t)); !slices.Equal(got, []string{"101", "102", "103", "104", "105"}) {
		t.Errorf("account users %v", got)
	}
	ag := acct.list(acctPath(srv, "/scim/v2/Groups"), nil).resources(t)
	if got := field(ag, "displayName"); !slices.Equal(got, []string{"eng", "ops", "unassigned", "account users"}) {
		t.Errorf("account groups %v", got)
	}
	for _, g := range ag {
		if _, has := g["members"]; has {
			t.Errorf("account group list includes members for %v", g["displayName"])
		}
	}
	eng := acct.ok(200, "GET", acctPath(srv, "/scim/v2/Groups/301"), nil).json(t)
	if got := valuesOf(eng, "members"); !slices.Equal(got, []string{"102", "201"}) {
		t.Errorf("GET account group members %v", got)
	}
	if _, has := eng["entitlements"]; has {
		t.Error("account group carries workspace entitlements at account level")
	}
	// The v2.1 base serves the same resources.
	if got := ids(acct.list("/api/2.1/accounts/"+srv.AccountID()+"/scim/v2/ServicePrincipals", nil).resources(t)); !slices.Equal(got, []string{"201"}) {
		t.Errorf("v2.1 account SPs %v", got)
	}
}

func TestAccountListMembersKnob(t *testing.T) {
	srv := newSmall(t, Options{AccountListMembers: true})
	ag := admin(t, srv, 0).list(acctPath(srv, "/scim/v2/Groups"), url.Values{"filter": {`displayName eq "eng"`}}).resources(t)
	if len(ag) != 1 || !slices.Equal(valuesOf(ag[0], "members"), []string{"102", "201"}) {
		t.Errorf("with AccountListMembers: %v", ag)
	}
}

// TestFiltersThroughQuery runs the lenient dialect: the full RFC grammar on
// any attribute (TestStrictFilters covers the default).
func TestFiltersThroughQuery(t *testing.T) {
	srv := NewTestServer(t, Options{FilterDialect: FilterLenient})
	c := admin(t, srv, wsProd)
	cases := []struct {
		filter string
		want   []string // displayNames
	}{
		{`displayName eq "Finance Reporting"`, []string{"Finance Reporting"}},
		{`displayName eq "finance reporting"`, []string{"Finance Reporting"}}, // case-insensitive
		{`displayName eq "bi \"quoted\" team"`, []string{`bi "quoted" team`}},
		{`displayName eq "ops\\backslash"`, []string{`ops\backslash`}},
		{`displayName eq "trailing space "`, []string{"trailing space "}},
		{`displayName eq "trailing space"`, nil},
		{`displayName sw "oncall"`, []string{"oncall-primary", "oncall"}},
		{`displayName co "call" and meta.resourceType eq "WorkspaceGroup"`, []string{"oncall-primary", "oncall"}},
		{`displayName eq "analysts" or displayName eq "admins"`, []string{"analysts", "admins"}},
		{`externalId pr and displayName eq "scim-synced"`, []string{"scim-synced"}},
		{`members[value eq "1300000000000001"]`, []string{"data-engineers", "users", "etl-operators"}},
	}
	for _, tc := range cases {
		got := field(c.list(groupsPath, url.Values{"filter": {tc.filter}, "attributes": {"displayName"}}).resources(t), "displayName")
		if !slices.Equal(got, tc.want) {
			t.Errorf("filter %s: got %q, want %q", tc.filter, got, tc.want)
		}
	}
	// Raw query with + for spaces, as the SDK sends it.
	r := c.ok(200, "GET", groupsPath+"?filter=displayName+eq+%22Finance+Reporting%22&attributes=displayName", nil)
	if got := field(r.resources(t), "displayName"); !slices.Equal(got, []string{"Finance Reporting"}) {
		t.Errorf("+-encoded filter: %q", got)
	}
	// Unicode in the analytics workspace.
	got := field(c.in(wsAnalytics).list(groupsPath, url.Values{"filter": {`displayName eq "données €"`}}).resources(t), "displayName")
	if !slices.Equal(got, []string{"Données €"}) {
		t.Errorf("unicode filter: %q", got)
	}
	// Users by userName, case-insensitively.
	u := c.list(usersPath, url.Values{"filter": {`userName eq "AISHA.ADEYEMI@acme.test"`}}).resources(t)
	if !slices.Equal(ids(u), []string{"1100000000000001"}) {
		t.Errorf("userName filter: %v", ids(u))
	}
	// Filters on computed attributes (groups, entitlements) see them.
	u = c.list(usersPath, url.Values{"filter": {`groups.display eq "etl-operators"`}, "attributes": {"id"}}).resources(t)
	if !slices.Equal(ids(u), []string{"1100000000000005"}) {
		t.Errorf("groups.display filter: %v", ids(u))
	}
	u = c.list(spsPath, url.Values{"filter": {`entitlements[value eq "workspace-access"]`}, "sortBy": {"displayName"}}).resources(t)
	if !slices.Equal(ids(u), []string{"1300000000000001"}) {
		t.Errorf("entitlements filter: %v", ids(u))
	}
	wantSCIMError(t, c.do("GET", groupsPath+"?filter="+url.QueryEscape(`displayName eq`), nil), 400, "invalidFilter", "")
	wantSCIMError(t, c.do("GET", groupsPath+"?filter="+url.QueryEscape(`(displayName eq "x"`), nil), 400, "invalidFilter", "")
}

func TestAccountFilterNodeLimit(t *testing.T) {
	srv := newSmall(t, Options{})
	terms := make([]string, 201)
	for i := range terms {
		terms[i] = `userName eq "u` + itoa(i) + `@small.test"`
	}
	big := url.Values{"filter": {strings.Join(terms, " or ")}}
	acct := admin(t, srv, 0)
	r := acct.do("GET", acctPath(srv, "/scim/v2/Users")+"?"+big.Encode(), nil)
	wantSCIMError(t, r, 400, "invalidFilter", "INVALID_FILTER")
	// 200 nodes are fine, and workspaces have no such limit.
	ok := url.Values{"filter": {strings.Join(terms[:200], " or ")}}
	acct.list(acctPath(srv, "/scim/v2/Users"), ok)
	admin(t, srv, wsFed).list(usersPath, big)
}

func TestProjectionAndSort(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	res := c.list(usersPath, url.Values{"attributes": {"userName,name.givenName"}}).resources(t)
	for _, u := range res {
		for k := range u {
			switch k {
			case "id", "schemas", "userName", "name":
			default:
				t.Errorf("attributes=userName,name.givenName returned %q", k)
			}
		}
		if n, ok := u["name"].(map[string]any); ok {
			if _, has := n["familyName"]; has {
				t.Errorf("sub-attribute projection kept familyName: %v", n)
			}
		}
	}
	res = c.list(groupsPath, url.Values{"excludedAttributes": {"members,groups"}}).resources(t)
	for _, g := range res {
		if _, has := g["members"]; has {
			t.Errorf("excludedAttributes=members kept members on %v", g["displayName"])
		}
		if _, has := g["meta"]; !has {
			t.Errorf("meta dropped from %v", g["displayName"])
		}
	}
	g := c.ok(200, "GET", groupsPath+"/403?attributes=members", nil).json(t)
	if _, has := g["displayName"]; has || len(valuesOf(g, "members")) != 3 {
		t.Errorf("GET with attributes=members: %v", g)
	}

	names := func(q url.Values) []string {
		return field(c.list(usersPath, q).resources(t), "userName")
	}
	asc := names(url.Values{"sortBy": {"userName"}})
	if !slices.IsSorted(asc) || len(asc) != 4 {
		t.Errorf("sortBy=userName: %v", asc)
	}
	desc := names(url.Values{"sortBy": {"userName"}, "sortOrder": {"DESCENDING"}})
	slices.Reverse(desc)
	if !slices.Equal(desc, asc) {
		t.Errorf("sortOrder=DESCENDING: %v", desc)
	}
	if got := names(url.Values{"sortBy": {"displayName"}, "sortOrder": {"descending"}, "count": {"1"}}); !slices.Equal(got, []string{"legacy@small.test"}) {
		t.Errorf("sortBy=displayName descending, count 1: %v", got)
	}
	// Only ada has a givenName: absent values sort last, ties keep creation order.
	for _, order := range []string{"ascending", "descending"} {
		got := names(url.Values{"sortBy": {"name.givenName"}, "sortOrder": {order}})
		if want := []string{"ada@small.test", "bob@small.test", "cy@small.test", "legacy@small.test"}; !slices.Equal(got, want) {
			t.Errorf("sortBy=name.givenName %s: %v, want %v", order, got, want)
		}
	}
	wantSCIMError(t, c.do("GET", usersPath+"?sortOrder=sideways", nil), 400, "invalidValue", "sortOrder")
}

func TestGetAndErrors(t *testing.T) {
	srv := newSmall(t, Options{})
	c := admin(t, srv, wsFed)
	wantSCIMError(t, c.do("GET", groupsPath+"/999", nil), 404, "", "999")
	wantSCIMError(t, c.do("GET", groupsPath+"/102", nil), 404, "", "102") // a user id on Groups
	wantSCIMError(t, c.do("PATCH", groupsPath+"/999", patchOp(map[string]any{"op": "add", "path": "members", "value": []any{}})), 404, "", "999")
	wantSCIMError(t, c.do("DELETE", usersPath+"/999", nil), 404, "", "999")

	r := c.ok(409, "POST", groupsPath, map[string]any{"displayName": "TEAM A"})
	wantSCIMError(t, r, 409, "uniqueness", "Group with name TEAM A already exists.")
	wantSCIMError(t, c.do("POST", groupsPath, "{not json"), 400, "invalidSyntax", detailUnparsable)
	wantSCIMError(t, c.do("POST", groupsPath, map[string]any{"members": []any{}}), 400, "invalidValue", "displayName")

	// Unknown workspace and unknown account are REST 404s.
	wantRESTError(t, c.in(42).do("GET", usersPath, nil), 404, "RESOURCE_DOES_NOT_EXIST")
	wantRESTError(t, c.do("GET", "/api/2.0/accounts/nope/scim/v2/Users", nil), 404, "RESOURCE_DOES_NOT_EXIST")
	wantRESTError(t, c.do("GET", "/api/2.0/no/such/api", nil), 404, "ENDPOINT_NOT_FOUND")

	// Trailing "?" and scim+json are accepted.
	c.ok(204, "DELETE", groupsPath+"/404?", nil)
	req := admin(t, srv, wsFed)
	r = req.doCT("POST", groupsPath, `{"displayName":"scim json"}`, "application/scim+json; charset=utf-8")
	if r.status != 201 {
		t.Errorf("application/scim+json POST: %d %s", r.status, r.body)
	}
}

func TestMeAndOrgID(t *testing.T) {
	srv := newSmall(t, Options{})
	r := admin(t, srv, wsFed).ok(200, "GET", "/api/2.0/preview/scim/v2/Me?excludedAttributes=entitlements", nil)
	if got := r.header.Get("X-Databricks-Org-Id"); got != "1001" {
		t.Errorf("X-Databricks-Org-Id %q, want 1001", got)
	}
	if m := r.json(t); m["userName"] != "ada@small.test" || m["id"] != "101" {
		t.Errorf("Me %v", m)
	}
	r = admin(t, srv, 0).as(srv.UserToken()).ok(200, "GET", "/api/2.0/preview/scim/v2/Me", nil)
	if got := r.header.Get("X-Databricks-Org-Id"); got != "1001" {
		t.Errorf("no workspace header: org id %q, want the first workspace", got)
	}
	if m := r.json(t); m["userName"] != "bob@small.test" {
		t.Errorf("Me for the user token: %v", m["userName"])
	}
}

// TestProjectedRepliesMatchProject checks, for every scope and resource
// type of the default seed, with and without filters and sorting, that list
// and GET replies with attributes and excludedAttributes are byte for byte
// json.Marshal of scimexpr.Project applied to the unprojected reply (the
// server renders only the attributes a projection keeps, and projects its
// own renderings in place).
func TestProjectedRepliesMatchProject(t *testing.T) {
	projections := []struct{ attrs, excluded string }{
		{"userName,emails.value", ""},
		{"", "groups,members.display"},
		{"members", "members.$ref"},
		{"displayName,meta", "meta.resourceType"},
		{"", "emails.type,name.familyName,entitlements"},
		{"groups.display,roles.value,applicationId", "groups.$ref"},
		{"id", "id"},
		{"ROLES,Groups", "urn:ietf:params:scim:schemas:core:2.0:User:entitlements"},
		{"", "members,groups,roles,entitlements"},
		{"a..b", "members.value"},
		{"entitlements,displayName", ""},
		{"", "roles"},
		{"members.value,groups.value", "entitlements,roles"},
	}
	queries := []url.Values{
		{},
		{"filter": {"displayName pr"}},
		{"filter": {`members pr or groups pr or displayName pr`}, "sortBy": {"displayName"}},
		{"sortBy": {"entitlements"}, "sortOrder": {"descending"}},
	}
	for _, listMembers := range []bool{false, true} {
		// Lenient: the filters on computed attributes exercise the heavy renderings.
		srv := NewTestServer(t, Options{Seed: DefaultSeed(), PageCap: 1000, AccountListMembers: listMembers, FilterDialect: FilterLenient})
		type scope struct {
			c    tc
			base string
		}
		scopes := []scope{{admin(t, srv, 0), "/api/2.0/accounts/" + srv.AccountID() + "/scim/v2"}}
		for _, ws := range []int64{wsProd, wsAnalytics, wsML, wsLegacy} {
			scopes = append(scopes, scope{admin(t, srv, ws), "/api/2.0/preview/scim/v2"})
		}
		for _, sc := range scopes {
			for _, coll := range []string{"Users", "Groups", "ServicePrincipals"} {
				path := sc.base + "/" + coll
				byID := map[string]string{} // the unfiltered list's resources
				for qi, base := range queries {
					var full listResponse
					decode(t, sc.c.list(path, base).body, &full)
					if len(full.Resources) == 0 {
						continue
					}
					for _, m := range full.Resources {
						id, body := m["id"].(string), string(must(json.Marshal(m)))
						if qi == 0 {
							byID[id] = body
						} else if body != byID[id] {
							t.Fatalf("GET %s?%s lists\n %s\nthe unfiltered list has\n %s", path, base.Encode(), body, byID[id])
						}
					}
					for _, pr := range projections {
						q := url.Values{"attributes": {pr.attrs}, "excludedAttributes": {pr.excluded}}
						attrs, excluded := splitList(q, "attributes"), splitList(q, "excludedAttributes")
						want := full
						want.Resources = nil
						for _, m := range full.Resources {
							want.Resources = append(want.Resources, scimexpr.Project(m, attrs, excluded))
						}
						wantBody, err := json.Marshal(want)
						if err != nil {
							t.Fatal(err)
						}
						for k, v := range base {
							q[k] = v
						}
						if got := sc.c.list(path, q).body; !bytes.Equal(got, wantBody) {
							t.Fatalf("GET %s?%s =\n %s\nwant\n %s", path, q.Encode(), got, wantBody)
						}
						if qi > 0 {
							continue
						}
						for _, m := range full.Resources[:min(3, len(full.Resources))] {
							item := path + "/" + m["id"].(string)
							one := sc.c.ok(http.StatusOK, "GET", item, nil).json(t)
							wantBody, err := json.Marshal(scimexpr.Project(one, attrs, excluded))
							if err != nil {
								t.Fatal(err)
							}
							if got := sc.c.ok(http.StatusOK, "GET", item+"?"+q.Encode(), nil).body; !bytes.Equal(got, wantBody) {
								t.Fatalf("GET %s?%s =\n %s\nwant\n %s", item, q.Encode(), got, wantBody)
							}
						}
					}
				}
			}
			if sc.base != "/api/2.0/preview/scim/v2" {
				continue
			}
			me := sc.c.ok(http.StatusOK, "GET", sc.base+"/Me", nil).json(t)
			for _, pr := range projections {
				q := url.Values{"attributes": {pr.attrs}, "excludedAttributes": {pr.excluded}}
				wantBody, err := json.Marshal(scimexpr.Project(me, splitList(q, "attributes"), splitList(q, "excludedAttributes")))
				if err != nil {
					t.Fatal(err)
				}
				if got := sc.c.ok(http.StatusOK, "GET", sc.base+"/Me?"+q.Encode(), nil).body; !bytes.Equal(got, wantBody) {
					t.Fatalf("GET Me?%s =\n %s\nwant\n %s", q.Encode(), got, wantBody)
				}
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestConcurrentListReads has concurrent readers fill and share the list
// caches (candidates and workspace visibility) and the encoder's pools,
// first alone (every reply must equal the one read before, sequentially),
// then next to a writer. Under -race it checks that replies share no
// mutable state.
func TestConcurrentListReads(t *testing.T) {
	srv := newSmall(t, Options{FilterDialect: FilterLenient}) // "displayName pr" reads go through the filter path
	acct := admin(t, srv, 0)
	get := func(ws int64, path string) (int, []byte) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
		if ws != 0 {
			req.Header.Set("X-Databricks-Workspace-Id", strconv.FormatInt(ws, 10))
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
	type read struct {
		ws   int64
		path string
	}
	var reads []read
	for _, q := range []string{"", "?attributes=id,groups", "?excludedAttributes=members.display&filter=displayName%20pr",
		"?attributes=displayName,members&sortBy=displayName", "?count=1&startIndex=2"} {
		for _, ws := range []int64{wsFed, wsLocal} {
			reads = append(reads, read{ws, usersPath + q}, read{ws, groupsPath + q}, read{ws, spsPath + q})
		}
		for _, coll := range []string{"/Users", "/Groups", "/ServicePrincipals"} {
			reads = append(reads, read{0, acctPath(srv, "/scim/v2"+coll+q)})
		}
	}
	acct.ok(http.StatusCreated, "POST", acctPath(srv, "/scim/v2/Users"), map[string]any{"userName": "new@x.test"})
	want := make([][]byte, len(reads))
	for i, r := range reads {
		if _, want[i] = get(r.ws, r.path); len(want[i]) == 0 {
			t.Fatalf("GET %s: empty reply", r.path)
		}
	}
	// Empty the caches (as a change does) for the readers below to fill
	// them concurrently.
	srv.mu.Lock()
	srv.st.version++
	srv.mu.Unlock()
	for _, writer := range []bool{false, true} {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		if writer {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					body := `{"userName":"w` + strconv.Itoa(i) + `@x.test"}`
					req := httptest.NewRequest("POST", acctPath(srv, "/scim/v2/Users"), strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != http.StatusCreated {
						t.Errorf("POST user: %d %s", w.Code, w.Body)
						return
					}
				}
			})
		}
		var readers sync.WaitGroup
		for g := range 8 {
			readers.Go(func() {
				for n := range 3 * len(reads) {
					i := (g*7 + n) % len(reads)
					code, body := get(reads[i].ws, reads[i].path)
					if code != http.StatusOK {
						t.Errorf("GET %s: %d %s", reads[i].path, code, body)
						return
					}
					if !writer && !bytes.Equal(body, want[i]) {
						t.Errorf("GET %s read concurrently =\n %s\nsequentially\n %s", reads[i].path, body, want[i])
						return
					}
				}
			})
		}
		readers.Wait()
		close(stop)
		wg.Wait()
	}
}
