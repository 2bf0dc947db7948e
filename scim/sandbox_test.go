package scim_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// connectSandbox connects a hermetic session to srv as the account admin.
func connectSandbox(t *testing.T, srv *sandbox.Server, adjust func(*scim.Settings)) *scim.Session {
	t.Helper()
	s := scim.Settings{
		Host:      srv.URL(),
		AccountID: srv.AccountID(),
		Token:     srv.AdminToken(),
		Hermetic:  true,
		Rates:     scim.UnlimitedRates(),
	}
	if adjust != nil {
		adjust(&s)
	}
	sess, err := scim.Connect(context.Background(), s)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return sess
}

// firstWorkspace returns a client for the sandbox's first workspace.
func firstWorkspace(t *testing.T, sess *scim.Session) *scim.WorkspaceClient {
	t.Helper()
	ws, err := sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := sess.Workspace(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func userIDs(t *testing.T, w *scim.WorkspaceClient, pageSize int) []string {
	t.Helper()
	users, err := w.Users.ListAll(context.Background(), scim.ListOptions{PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	slices.Sort(ids)
	return ids
}

func TestSandboxListUsersWithPageCap(t *testing.T) {
	capped := sandbox.NewTestServer(t, sandbox.Options{PageCap: 7})
	reference := sandbox.NewTestServer(t, sandbox.Options{PageCap: 1000})
	var mu sync.Mutex
	var listCalls int
	sess := connectSandbox(t, capped, func(s *scim.Settings) {
		s.OnRequest = func(e scim.RequestEvent) {
			if e.Path == "/api/2.0/preview/scim/v2/Users" {
				mu.Lock()
				listCalls++
				mu.Unlock()
			}
		}
	})
	got := userIDs(t, firstWorkspace(t, sess), 100)
	want := userIDs(t, firstWorkspace(t, connectSandbox(t, reference, nil)), 1000)
	if len(want) <= 7 {
		t.Fatalf("seed has only %d users; the test needs several pages", len(want))
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %d users with a page cap of 7, want the %d listed in one page", len(got), len(want))
	}
	if wantCalls := (len(want)+6)/7 + 1; listCalls != wantCalls {
		t.Errorf("%d list requests, want %d (pages of 7 plus the empty page)", listCalls, wantCalls)
	}
}

func TestSandboxGroupLifecycle(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	w := firstWorkspace(t, connectSandbox(t, srv, nil))
	ctx := context.Background()
	members := userIDs(t, w, 100)[:3]

	g, err := w.Groups.Create(ctx, scim.Group{DisplayName: "dbiam-it"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if g.ID == "" || !g.IsWorkspaceLocal() {
		t.Fatalf("created %+v, want a workspace-local group with an id", g)
	}
	if _, err := w.Groups.Create(ctx, scim.Group{DisplayName: "dbiam-it"}); !errors.Is(err, scim.ErrConflict) {
		t.Errorf("second Create: err = %v, want ErrConflict", err)
	}
	if err := w.Groups.Patch(ctx, g.ID, scim.AddMembers(members...), scim.Idempotent()); err != nil {
		t.Fatalf("AddMembers: %v", err)
	}
	if err := w.Groups.Patch(ctx, g.ID, scim.Ops(scim.RemoveMember(members[0]), scim.ReplaceDisplayName("dbiam-it-renamed"))); err != nil {
		t.Fatalf("RemoveMember+rename: %v", err)
	}
	got, err := w.Groups.Get(ctx, g.ID, scim.GetOptions{Attributes: []string{"displayName", "members"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got.Members {
		ids = append(ids, m.Value)
	}
	slices.Sort(ids)
	if got.DisplayName != "dbiam-it-renamed" || !slices.Equal(ids, members[1:]) {
		t.Errorf("group after PATCH = %q with members %v, want dbiam-it-renamed with %v", got.DisplayName, ids, members[1:])
	}
	found, err := w.Groups.ListAll(ctx, scim.ListOptions{Filter: scim.Eq("displayName", "dbiam-it-renamed")})
	if err != nil || len(found) != 1 || found[0].ID != g.ID {
		t.Errorf("filter by new name = %+v, %v", found, err)
	}
	if err := w.Groups.Delete(ctx, g.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := w.Groups.Get(ctx, g.ID, scim.GetOptions{}); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
}

func TestSandboxCreateOnceAfterLostReply(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	if err := srv.AddFault(sandbox.Fault{Method: "POST", PathRegexp: `/scim/v2/Groups$`, Status: 500, AfterHandler: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	w := firstWorkspace(t, connectSandbox(t, srv, nil))
	g, err := w.Groups.CreateOnce(context.Background(), scim.Group{DisplayName: "lost-reply"})
	if err != nil {
		t.Fatalf("CreateOnce: %v", err)
	}
	n := 0
	for _, ws := range srv.Snapshot().Workspaces {
		for _, sg := range ws.Groups {
			if sg.DisplayName == "lost-reply" {
				n++
				if sg.ID != g.ID {
					t.Errorf("CreateOnce returned id %s, server has %s", g.ID, sg.ID)
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("%d groups named lost-reply on the server, want exactly 1", n)
	}
}

func TestSandboxAccountWorkspacesAndAssignments(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	sess := connectSandbox(t, srv, nil)
	ctx := context.Background()
	ws, err := sess.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seeded := srv.Workspaces()
	if len(ws) != len(seeded) {
		t.Fatalf("%d workspaces, sandbox has %d", len(ws), len(seeded))
	}
	for i, info := range ws {
		if info.ID != seeded[i].WorkspaceID || info.Name != seeded[i].WorkspaceName || info.URL != srv.URL() || !info.RouteByHeader {
			t.Errorf("workspace %d = %+v, want id %d name %q on %s routed by header", i, info, seeded[i].WorkspaceID, seeded[i].WorkspaceName, srv.URL())
		}
	}
	// Each workspace client reaches its own workspace.
	for _, info := range ws[:2] {
		w, err := sess.Workspace(info)
		if err != nil {
			t.Fatal(err)
		}
		if _, id, err := w.Me(ctx); err != nil || id != info.ID {
			t.Errorf("Me in workspace %d: org id %d, %v", info.ID, id, err)
		}
	}

	a, err := sess.Account()
	if err != nil {
		t.Fatal(err)
	}
	users, err := a.Users.ListAll(ctx, scim.ListOptions{Attributes: []string{"userName"}})
	if err != nil || len(users) == 0 {
		t.Fatalf("account users: %d, %v", len(users), err)
	}
	wsID := ws[0].ID
	before, err := a.ListAssignments(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	assigned := func(list []scim.PermissionAssignment, id int64) []string {
		for _, pa := range list {
			if pa.Principal.PrincipalID == id {
				return pa.Permissions
			}
		}
		return nil
	}
	// Pick an account user not yet assigned to the workspace directly.
	var pid int64
	for _, u := range users {
		id, err := strconv.ParseInt(u.ID, 10, 64)
		if err == nil && assigned(before, id) == nil {
			pid = id
			break
		}
	}
	if pid == 0 {
		t.Fatal("every account user is already assigned; the seed changed")
	}
	if _, err := a.PutAssignment(ctx, wsID, pid, []string{scim.PermissionUser}); err != nil {
		t.Fatalf("PutAssignment: %v", err)
	}
	after, err := a.ListAssignments(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	if perms := assigned(after, pid); !slices.Equal(perms, []string{scim.PermissionUser}) {
		t.Errorf("principal %d has %v after PutAssignment, want [USER]", pid, perms)
	}
	if err := a.DeleteAssignment(ctx, wsID, pid); err != nil {
		t.Fatalf("DeleteAssignment: %v", err)
	}
	final, err := a.ListAssignments(ctx, wsID)
	if err != nil {
		t.Fatal(err)
	}
	if perms := assigned(final, pid); perms != nil {
		t.Errorf("principal %d still has %v after DeleteAssignment", pid, perms)
	}
}

// fakeClock is shared by the sandbox's rate limiter and the client's waits,
// so throttling plays out without real sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSandboxThrottlingIsRetried(t *testing.T) {
	for _, style := range []string{"429", "scim500"} {
		t.Run(style, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			srv := sandbox.NewTestServer(t, sandbox.Options{
				PageCap: 7, RateLimits: map[string]float64{"scim-read": 2}, ThrottleStyle: style, Now: clock.Now,
			})
			var mu sync.Mutex
			throttled := 0
			sess := connectSandbox(t, srv, func(s *scim.Settings) {
				s.Sleep = func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() }
				// Each exchange takes 200 ms of fake time, faster than the
				// server's 2/s: it must throttle.
				s.OnRequest = func(scim.RequestEvent) { clock.Advance(200 * time.Millisecond) }
				s.OnRetry = func(e scim.RetryEvent) {
					if !e.Throttled || !errors.Is(e.Err, scim.ErrThrottled) {
						t.Errorf("retry of a non-throttled error: %+v", e)
					}
					mu.Lock()
					throttled++
					mu.Unlock()
				}
			})
			ids := userIDs(t, firstWorkspace(t, sess), 100)
			if len(ids) <= 7 {
				t.Fatalf("listed %d users", len(ids))
			}
			if throttled == 0 {
				t.Errorf("the sandbox never throttled; the test proves nothing")
			}
		})
	}
}
