package sandbox

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkListFilterSynthetic measures a filtered user list over a
// 20-workspace, 2000-user account, served in-process.
func BenchmarkListFilterSynthetic(b *testing.B) {
	seed, err := Synthetic("workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Seed: seed})
	if err != nil {
		b.Fatal(err)
	}
	q := url.Values{"filter": {`userName eq "` + seed.Users[1500].UserName + `"`}}
	req := httptest.NewRequest("GET", usersPath+"?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("X-Databricks-Workspace-Id", "7000000000000005")
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkSyntheticNew measures building and loading the large account.
func BenchmarkSyntheticNew(b *testing.B) {
	for b.Loop() {
		seed, err := Synthetic("workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := New(Options{Seed: seed}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListPages measures the list pages an export reads: one page of
// 100 users, groups and service principals of a federated workspace and of
// the account, with the export's attributes, from the account of
// BenchmarkListFilterSynthetic. Each op is the six pages.
func BenchmarkListPages(b *testing.B) {
	seed, err := Synthetic("workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{Seed: seed, PageCap: 100})
	if err != nil {
		b.Fatal(err)
	}
	ws := "7000000000000005"
	pages := []struct{ path, ws, attrs string }{
		{usersPath, ws, "id,userName,displayName,active,externalId,emails,entitlements,groups"},
		{groupsPath, ws, "id,displayName,meta,externalId,entitlements,roles,groups"},
		{spsPath, ws, "id,applicationId,displayName,active,externalId,entitlements,groups"},
		{acctPath(srv, "/scim/v2/Users"), "", "id,userName,displayName,active,externalId,emails,roles"},
		{acctPath(srv, "/scim/v2/Groups"), "", "id,displayName,externalId,roles"},
		{acctPath(srv, "/scim/v2/ServicePrincipals"), "", "id,applicationId,displayName,active,externalId,roles"},
	}
	var reqs []*http.Request
	for _, p := range pages {
		q := url.Values{"attributes": {p.attrs}, "count": {"100"}, "startIndex": {"101"}}
		req := httptest.NewRequest("GET", p.path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
		if p.ws != "" {
			req.Header.Set("X-Databricks-Workspace-Id", p.ws)
		}
		reqs = append(reqs, req)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, req := range reqs {
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("%s: status %d", req.URL, w.Code)
			}
		}
	}
}
