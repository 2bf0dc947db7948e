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
