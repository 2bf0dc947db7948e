package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// pagingServer answers SCIM list requests over users u0..u(total-1) with a
// configurable page cap and misbehaviours.
type pagingServer struct {
	total   int
	pageCap int
	// noEcho omits startIndex from replies.
	noEcho bool
	// overlap makes each page start one resource early (duplicates).
	overlap bool
	// endless never returns an empty page: past the end it invents users.
	endless bool
	// repeatLast returns the last page again instead of an empty one.
	repeatLast bool

	starts []int
}

func (p *pagingServer) respond(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	start, _ := strconv.Atoi(q.Get("startIndex"))
	count, _ := strconv.Atoi(q.Get("count"))
	p.starts = append(p.starts, start)
	n := min(count, p.pageCap)
	from := start - 1
	if p.overlap && from > 0 {
		from--
	}
	if p.repeatLast && from >= p.total {
		from = max(0, p.total-n)
	}
	var res []User
	for i := from; i < from+n && (i < p.total || p.endless); i++ {
		res = append(res, User{ID: strconv.Itoa(1000 + i), UserName: fmt.Sprintf("u%d@example.com", i)})
	}
	body := map[string]any{
		"schemas":      []string{SchemaListResponse},
		"totalResults": p.total,
		"itemsPerPage": len(res),
		"Resources":    res,
	}
	if !p.noEcho {
		body["startIndex"] = start
	}
	return respond(200, body)(req)
}

func userNames(us []User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.UserName
	}
	return out
}

func wantUsers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("u%d@example.com", i)
	}
	return out
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name       string
		server     pagingServer
		opts       ListOptions
		wantStarts []int
		wantErr    error
		wantUsers  int
	}{
		{
			name:       "server caps page below count",
			server:     pagingServer{total: 25, pageCap: 10},
			opts:       ListOptions{PageSize: 100},
			wantStarts: []int{1, 11, 21, 26},
			wantUsers:  25,
		},
		{
			name:       "page cap 7",
			server:     pagingServer{total: 20, pageCap: 7},
			wantStarts: []int{1, 8, 15, 21},
			wantUsers:  20,
		},
		{
			name:       "duplicates across pages",
			server:     pagingServer{total: 10, pageCap: 4, overlap: true},
			wantStarts: []int{1, 5, 9, 12},
			wantUsers:  10,
		},
		{
			name:       "startIndex not echoed",
			server:     pagingServer{total: 10, pageCap: 4, noEcho: true},
			wantStarts: []int{1, 5, 9, 11},
			wantUsers:  10,
		},
		{
			name:       "last page repeated instead of empty page",
			server:     pagingServer{total: 10, pageCap: 4, repeatLast: true},
			wantStarts: []int{1, 5, 9, 11},
			wantUsers:  10,
		},
		{
			name:       "never an empty page hits the ceiling",
			server:     pagingServer{total: 10, pageCap: 4, endless: true},
			opts:       ListOptions{MaxPages: 5},
			wantStarts: []int{1, 5, 9, 13, 17},
			wantErr:    ErrPageLimit,
		},
		{
			name:       "empty list",
			server:     pagingServer{total: 0, pageCap: 4},
			wantStarts: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newMock(t)
			reg.Register("list users", rest("GET", "/api/2.0/preview/scim/v2/Users"), tt.server.respond).Times(len(tt.wantStarts))
			sess, _ := connectMock(t, reg, nil)
			w := workspaceClient(t, sess)
			got, err := w.Users.ListAll(context.Background(), tt.opts)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(tt.server.starts, tt.wantStarts) {
				t.Errorf("startIndex sequence = %v, want %v", tt.server.starts, tt.wantStarts)
			}
			if tt.wantErr == nil && !slices.Equal(userNames(got), wantUsers(tt.wantUsers)) {
				t.Errorf("users = %v, want %v", userNames(got), wantUsers(tt.wantUsers))
			}
		})
	}
}

func TestListRepeatedPageBeforeTotalIsAnError(t *testing.T) {
	// A server that ignores startIndex returns page 1 forever; stopping
	// silently would truncate the list.
	reg := newMock(t)
	page := map[string]any{"totalResults": 9, "startIndex": 1, "Resources": []User{{ID: "1"}, {ID: "2"}, {ID: "3"}}}
	reg.Register("list", rest("GET", "/api/2.0/preview/scim/v2/Users"), respond(200, page)).Times(2)
	sess, _ := connectMock(t, reg, nil)
	got, err := workspaceClient(t, sess).Users.ListAll(context.Background(), ListOptions{})
	if !errors.Is(err, ErrPageLimit) {
		t.Fatalf("err = %v, want ErrPageLimit", err)
	}
	if got != nil {
		t.Errorf("ListAll returned %d users with an error", len(got))
	}
}

func TestListQueryAndEarlyBreak(t *testing.T) {
	reg := newMock(t)
	srv := &pagingServer{total: 10, pageCap: 3}
	m := withQuery(withQuery(withQuery(withQuery(rest("GET", "/api/2.0/preview/scim/v2/Groups"),
		"filter", `displayName sw "data"`), "attributes", "id,displayName,meta"), "count", "3"), "sortOrder", "ascending")
	reg.Register("list groups", m, srv.respond)
	sess, _ := connectMock(t, reg, nil)
	w := workspaceClient(t, sess)
	n := 0
	for g, err := range w.Groups.List(context.Background(), ListOptions{
		Filter: Sw("displayName", "data"), Attributes: []string{"displayName", "meta"}, PageSize: 3, SortBy: "displayName", SortOrder: "ascending",
	}) {
		if err != nil {
			t.Fatal(err)
		}
		if g.ID == "" {
			t.Errorf("group without id")
		}
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 || len(srv.starts) != 1 {
		t.Errorf("got %d items from %d requests, want 2 items from 1 request", n, len(srv.starts))
	}
	r := reg.Requests()[0]
	if got := r.Query.Get("sortBy"); got != "displayName" {
		t.Errorf("sortBy = %q", got)
	}
	if got := r.Header.Get(WorkspaceHeader); got != "42" {
		t.Errorf("%s = %q, want 42 (workspace on the session host)", WorkspaceHeader, got)
	}
}

func TestCRUD(t *testing.T) {
	reg := newMock(t)
	base := "/api/2.0/preview/scim/v2/Groups"
	reg.Register("create", rest("POST", base), respond(201, Group{ID: "7", DisplayName: "data-eng"}))
	reg.Register("get", withQuery(rest("GET", base+"/7"), "attributes", "members"), respond(200, Group{ID: "7", DisplayName: "data-eng", Members: []ComplexValue{{Value: "1"}}}))
	reg.Register("put", rest("PUT", base+"/7"), respond(200, "{}"))
	reg.Register("patch", rest("PATCH", base+"/7"), respond(204, nil))
	reg.Register("delete", rest("DELETE", base+"/7"), respond(204, nil))
	sess, _ := connectMock(t, reg, nil)
	ctx := context.Background()
	w := workspaceClient(t, sess)

	g, err := w.Groups.Create(ctx, Group{DisplayName: "data-eng"})
	if err != nil || g.ID != "7" {
		t.Fatalf("Create = %+v, %v", g, err)
	}
	g, err = w.Groups.Get(ctx, "7", GetOptions{Attributes: []string{"members"}})
	if err != nil || len(g.Members) != 1 {
		t.Fatalf("Get = %+v, %v", g, err)
	}
	if err := w.Groups.Replace(ctx, "7", g); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	if err := w.Groups.Patch(ctx, "7", PatchOp{Operations: AddMembers("1").Operations}); err != nil {
		t.Fatalf("Patch: %v", err)
	}
	if err := w.Groups.Delete(ctx, "7"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := w.Groups.Delete(ctx, ""); err == nil {
		t.Errorf("Delete with empty id succeeded; it must never hit the collection")
	}

	reqs := reg.Requests()
	var created Group
	if err := json.Unmarshal(reqs[0].Body, &created); err != nil || created.DisplayName != "data-eng" || created.ID != "" {
		t.Errorf("POST body = %s", reqs[0].Body)
	}
	if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var p PatchOp
	if err := json.Unmarshal(reqs[3].Body, &p); err != nil || !slices.Equal(p.Schemas, []string{SchemaPatchOp}) {
		t.Errorf("PATCH body = %s (schemas must be filled in)", reqs[3].Body)
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("%s %s: Authorization not set by the auth layer", r.Method, r.Path)
		}
	}
}

func TestAccountEndpointsUseAccountPaths(t *testing.T) {
	reg := newMock(t)
	reg.Register("list", withQuery(rest("GET", "/api/2.0/accounts/"+testAccount+"/scim/v2/ServicePrincipals"), "filter", `applicationId eq "abc"`),
		respond(200, map[string]any{"startIndex": 1, "Resources": []ServicePrincipal{{ID: "5", ApplicationID: "abc"}}}))
	reg.Register("end", rest("GET", "/api/2.0/accounts/"+testAccount+"/scim/v2/ServicePrincipals"), respond(200, map[string]any{"startIndex": 2}))
	sess, _ := connectMock(t, reg, func(s *Settings) { s.AccountID = testAccount })
	a, err := sess.Account()
	if err != nil {
		t.Fatal(err)
	}
	sps, err := a.ServicePrincipals.ListAll(context.Background(), ListOptions{Filter: Eq("applicationId", "abc")})
	if err != nil || len(sps) != 1 || sps[0].ID != "5" {
		t.Fatalf("ListAll = %+v, %v", sps, err)
	}
	if h := reg.Requests()[0].Header.Get(WorkspaceHeader); h != "" {
		t.Errorf("account call carried %s: %q", WorkspaceHeader, h)
	}
}

func TestAccountWithoutID(t *testing.T) {
	sess, _ := connectMock(t, newMock(t), nil)
	if _, err := sess.Account(); !errors.Is(err, ErrNoAccountID) {
		t.Fatalf("Account() err = %v, want ErrNoAccountID", err)
	}
}
