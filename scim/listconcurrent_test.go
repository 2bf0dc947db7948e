package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dbiam/dbiam/scim"
)

// TestListConcurrentHooks: the hooks see the total, every page and a
// progress that adds up to the list's length, also when the pages do not
// fit together (totalResults grows after the first page) and the
// sequential iterator reads the list again; OnRestart says so.
func TestListConcurrentHooks(t *testing.T) {
	for _, bend := range []bool{false, true} {
		t.Run(fmt.Sprintf("bend=%v", bend), func(t *testing.T) {
			const n, pageCap = 23, 5
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				call := calls.Add(1)
				start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
				var res []scim.User
				for i := start; i < start+pageCap && i <= n; i++ {
					res = append(res, scim.User{ID: strconv.Itoa(i), UserName: fmt.Sprintf("u%d@x.test", i)})
				}
				total := n
				if bend && call == 1 {
					total = n - 1
				}
				json.NewEncoder(w).Encode(scim.ListResponse[scim.User]{TotalResults: total, StartIndex: start, ItemsPerPage: len(res), Resources: res})
			}))
			t.Cleanup(srv.Close)
			sess, err := scim.Connect(context.Background(), scim.Settings{Host: srv.URL, Token: "dapi-test", Hermetic: true, Rates: scim.UnlimitedRates()})
			if err != nil {
				t.Fatal(err)
			}
			w, err := sess.Workspace(scim.WorkspaceInfo{ID: 1, URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var totals []int
			progress, paged, restarts := 0, 0, 0
			users, err := w.Users.ListConcurrent(context.Background(), scim.ConcurrentListOptions[scim.User]{
				Attributes: []string{"userName"},
				OnTotal:    func(n int) { mu.Lock(); totals = append(totals, n); mu.Unlock() },
				OnProgress: func(n int) { mu.Lock(); progress += n; mu.Unlock() },
				OnPage:     func(us []scim.User) { mu.Lock(); paged += len(us); mu.Unlock() },
				OnRestart:  func(error) { restarts++ },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != n || progress != n {
				t.Errorf("%d users, progress %d, want %d each", len(users), progress, n)
			}
			wantRestarts, wantTotal := 0, n
			if bend {
				wantRestarts, wantTotal = 1, n-1
			}
			if restarts != wantRestarts || len(totals) != 1 || totals[0] != wantTotal {
				t.Errorf("restarts %d (want %d), totals %v (want [%d])", restarts, wantRestarts, totals, wantTotal)
			}
			if paged < n {
				t.Errorf("OnPage saw %d resources, want at least %d", paged, n)
			}
		})
	}
}
