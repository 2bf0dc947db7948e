package scim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// lossyGroups is a stateful fake of the Groups collection whose POST applies
// the write and then loses the reply (a 500 or a dropped connection), the
// case a resumable migration must survive.
type lossyGroups struct {
	mu     sync.Mutex
	groups []Group
	posts  int
	// hidden models list lag: creates are not yet filterable.
	hidden bool
	lose   responder
}

func (f *lossyGroups) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case req.Method == http.MethodPost && req.URL.Path == "/api/2.0/preview/scim/v2/Groups":
		f.posts++
		var g Group
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &g); err != nil {
			return respond(400, `{"detail":"bad","status":"400"}`)(req)
		}
		g.ID = "g" + string(rune('0'+len(f.groups)))
		f.groups = append(f.groups, g)
		return f.lose(req)
	case req.Method == http.MethodGet && req.URL.Path == "/api/2.0/preview/scim/v2/Groups":
		q := req.URL.Query()
		var res []Group
		if !f.hidden {
			for _, g := range f.groups {
				if Eq("displayName", g.DisplayName) == q.Get("filter") {
					res = append(res, g)
				}
			}
		}
		return respond(200, map[string]any{"startIndex": 1, "totalResults": len(res), "Resources": res})(req)
	}
	return respond(404, nil)(req)
}

func connectFake(t *testing.T, rt http.RoundTripper) *WorkspaceClient {
	t.Helper()
	sl := &sleepRecorder{}
	sess, err := Connect(context.Background(), Settings{
		Host: testHost, Token: testToken, Hermetic: true, Rates: UnlimitedRates(), Sleep: sl.Sleep,
		HTTPClient: &http.Client{Transport: rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	return workspaceClient(t, sess)
}

func TestCreateOnce(t *testing.T) {
	reset := fail(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
	tests := []struct {
		name    string
		lose    responder
		hidden  bool
		wantErr error
	}{
		{name: "500 after the write", lose: respond(500, `{"error_code":"INTERNAL_ERROR","message":"oops"}`)},
		{name: "connection reset after the write", lose: reset},
		{name: "503 from a proxy after the write", lose: respond(503, `<html>Service Unavailable</html>`)},
		{name: "write not visible yet", lose: reset, hidden: true, wantErr: ErrOutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &lossyGroups{lose: tt.lose, hidden: tt.hidden}
			w := connectFake(t, fake)
			g, err := w.Groups.CreateOnce(context.Background(), Group{DisplayName: `data "eng"`})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if fake.posts != 1 {
				t.Errorf("POST sent %d times; a create with an unknown outcome must not be repeated", fake.posts)
			}
			if tt.wantErr == nil && (g.ID != "g0" || g.DisplayName != `data "eng"`) {
				t.Errorf("CreateOnce = %+v, want the group the lost write created", g)
			}
		})
	}
}

func TestCreateWithoutLookupReportsUnknownOutcome(t *testing.T) {
	// A 503 may come from a proxy after the write went through, so a POST
	// is not repeated: the outcome is reported as unknown after one POST.
	fake := &lossyGroups{lose: respond(503, nil)}
	w := connectFake(t, fake)
	_, err := w.Groups.Create(context.Background(), Group{DisplayName: "x"})
	if !errors.Is(err, ErrOutcomeUnknown) || fake.posts != 1 {
		t.Fatalf("err = %v after %d POSTs; want ErrOutcomeUnknown after one POST", err, fake.posts)
	}
}

func TestCreateOnceLookupKeys(t *testing.T) {
	tests := []struct {
		name   string
		create func(w *WorkspaceClient) error
		path   string
		filter string
	}{
		{"users by userName", func(w *WorkspaceClient) error {
			_, err := w.Users.CreateOnce(context.Background(), User{UserName: "a@example.com"})
			return err
		}, usersPath, `userName eq "a@example.com"`},
		{"service principals by applicationId", func(w *WorkspaceClient) error {
			_, err := w.ServicePrincipals.CreateOnce(context.Background(), ServicePrincipal{ApplicationID: "app-1"})
			return err
		}, "/api/2.0/preview/scim/v2/ServicePrincipals", `applicationId eq "app-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newMock(t)
			reg.Register("post", rest("POST", tt.path), respond(500, nil))
			reg.Register("lookup", withQuery(rest("GET", tt.path), "filter", tt.filter), respond(200, `{"startIndex":1,"totalResults":1,"Resources":[{"id":"42"}]}`))
			sess, _ := connectMock(t, reg, nil)
			if err := tt.create(workspaceClient(t, sess)); err != nil {
				t.Fatalf("CreateOnce: %v", err)
			}
		})
	}
}

func TestListPages(t *testing.T) {
	type job struct {
		JobID int64 `json:"job_id"`
	}
	reg := newMock(t)
	base := rest("GET", "/api/2.2/jobs/list")
	reg.Register("page 1", withQuery(withQuery(base, "limit", "2"), "page_token", ""), respond(200, `{"jobs":[{"job_id":1},{"job_id":2}],"has_more":true,"next_page_token":"t2"}`))
	reg.Register("page 2", withQuery(withQuery(base, "limit", "2"), "page_token", "t2"), respond(200, `{"jobs":[{"job_id":3}],"next_page_token":""}`))
	sess, _ := connectMock(t, reg, nil)
	w := workspaceClient(t, sess)
	var ids []int64
	for j, err := range ListPages[job](context.Background(), w, ClassDefault, "/api/2.2/jobs/list", url.Values{"limit": {"2"}}, PageTokenOptions{Items: "jobs"}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.JobID)
	}
	if !slices.Equal(ids, []int64{1, 2, 3}) {
		t.Errorf("ids = %v", ids)
	}
}

func TestListPagesRepeatedToken(t *testing.T) {
	reg := newMock(t)
	reg.Register("repos", rest("GET", "/api/2.0/repos"), respond(200, `{"repos":[{"id":1}],"next_page_token":"same"}`)).Times(2)
	sess, _ := connectMock(t, reg, nil)
	w := workspaceClient(t, sess)
	var err error
	n := 0
	for _, e := range ListPages[map[string]any](context.Background(), w, ClassDefault, "/api/2.0/repos", nil, PageTokenOptions{Items: "repos", RequestParam: "next_page_token"}) {
		if e != nil {
			err = e
			break
		}
		n++
	}
	if !errors.Is(err, ErrPageLimit) || n != 2 {
		t.Fatalf("err = %v after %d items, want ErrPageLimit after 2", err, n)
	}
	if got := reg.Requests()[1].Query.Get("next_page_token"); got != "same" {
		t.Errorf("second request next_page_token = %q", got)
	}
}
