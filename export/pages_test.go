package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/scim"
)

// fakeUsers serves GET /api/2.0/preview/scim/v2/Users over n users with a
// page cap, and lets a test bend the reply of a request.
type fakeUsers struct {
	mu     sync.Mutex
	n      int
	cap    int
	starts []int // startIndex of every request, in arrival order
	// bend, if set, may change the reply to the request at start (its
	// resources and totalResults) or fail it with a status.
	bend func(call, start int, res []scim.User, total int) ([]scim.User, int, int)
}

func (f *fakeUsers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/2.0/preview/scim/v2/Users" {
		http.NotFound(w, r)
		return
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
	count, _ := strconv.Atoi(r.URL.Query().Get("count"))
	f.mu.Lock()
	f.starts = append(f.starts, start)
	call := len(f.starts)
	bend := f.bend
	f.mu.Unlock()
	var res []scim.User
	for i := start; i < start+min(count, f.cap) && i <= f.n; i++ {
		res = append(res, scim.User{ID: strconv.Itoa(1000 + i), UserName: fmt.Sprintf("u%03d@x.test", i)})
	}
	total, status := f.n, 0
	if bend != nil {
		res, total, status = bend(call, start, res, total)
	}
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"bent","status":"%d"}`, status)
		return
	}
	json.NewEncoder(w).Encode(scim.ListResponse[scim.User]{TotalResults: total, StartIndex: start, ItemsPerPage: len(res), Resources: res})
}

func (f *fakeUsers) requests() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.starts)
	slices.Sort(out)
	return out
}

func listFake(t *testing.T, f *fakeUsers) ([]scim.User, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	sess, err := scim.Connect(context.Background(), scim.Settings{Host: srv.URL, Token: "dapi-test", Hermetic: true,
		Rates: scim.UnlimitedRates(), MaxAttempts: 2,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sess.Workspace(scim.WorkspaceInfo{ID: 1, URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return listAll(context.Background(), collection[scim.User]{ep: w.Users, doer: w, class: scim.ClassSCIMRead, id: userID}, userAttributes, 1000, nil)
}

func ids(users []scim.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	slices.SortFunc(out, compareIDs)
	return out
}

func wantIDs(n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = strconv.Itoa(1001 + i)
	}
	return out
}

func TestListAllParallelPages(t *testing.T) {
	f := &fakeUsers{n: 25, cap: 10}
	users, err := listFake(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(users), wantIDs(25)) {
		t.Errorf("ids = %v", ids(users))
	}
	// The first page, the two after it, and the one past the end: as many
	// requests as the sequential iterator makes.
	if got := f.requests(); !slices.Equal(got, []int{1, 11, 21, 26}) {
		t.Errorf("startIndex requested = %v, want [1 11 21 26]", got)
	}
}

func TestListAllEmptyAndSinglePage(t *testing.T) {
	f := &fakeUsers{n: 0, cap: 10}
	if users, err := listFake(t, f); err != nil || len(users) != 0 || !slices.Equal(f.requests(), []int{1}) {
		t.Errorf("empty list: %d users, %v, requests %v", len(users), err, f.requests())
	}
	f = &fakeUsers{n: 10, cap: 10}
	if users, err := listFake(t, f); err != nil || len(users) != 10 || !slices.Equal(f.requests(), []int{1, 11}) {
		t.Errorf("one page: %d users, %v, requests %v", len(users), err, f.requests())
	}
}

// TestListAllFallsBackWhenPagesDoNotFit: whatever the server does wrong, the
// list comes back complete, read again by the sequential iterator.
func TestListAllFallsBackWhenPagesDoNotFit(t *testing.T) {
	tests := []struct {
		name string
		n    int
		bend func(call, start int, res []scim.User, total int) ([]scim.User, int, int)
	}{
		{"total grows while listing", 26, func(call, start int, res []scim.User, total int) ([]scim.User, int, int) {
			if call == 1 {
				return res, 25, 0 // the 26th user is created after the first page
			}
			return res, total, 0
		}},
		{"later page shorter than the first", 25, func(call, start int, res []scim.User, total int) ([]scim.User, int, int) {
			if call > 1 && call < 5 && start == 11 && len(res) > 7 {
				return res[:7], total, 0
			}
			return res, total, 0
		}},
		{"no totalResults", 25, func(call, start int, res []scim.User, total int) ([]scim.User, int, int) {
			return res, 0, 0
		}},
		{"past the end not empty", 25, func(call, start int, res []scim.User, total int) ([]scim.User, int, int) {
			if call <= 4 && start == 26 {
				return []scim.User{{ID: "1001"}}, total, 0
			}
			return res, total, 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeUsers{n: tt.n, cap: 10, bend: tt.bend}
			users, err := listFake(t, f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(users), wantIDs(tt.n)) {
				t.Errorf("ids = %v, want %d users", ids(users), tt.n)
			}
			if starts := f.requests(); len(starts) < 2 || starts[1] != 1 {
				t.Errorf("requests %v: the sequential iterator did not take over", starts)
			}
		})
	}
}

func TestListAllPageErrorWins(t *testing.T) {
	f := &fakeUsers{n: 95, cap: 10, bend: func(call, start int, res []scim.User, total int) ([]scim.User, int, int) {
		if start == 41 {
			return nil, 0, http.StatusForbidden
		}
		return res, total, 0
	}}
	_, err := listFake(t, f)
	if !errors.Is(err, scim.ErrPermissionDenied) {
		t.Fatalf("err = %v, want the page's 403, not a cancellation", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("err = %v reports the cancellation of the other pages", err)
	}
}
