package scim

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const usersPath = "/api/2.0/preview/scim/v2/Users"

func okUser() responder { return respond(200, User{ID: "1", UserName: "a@example.com"}) }

func scimThrottle() responder {
	return respond(500, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"REQUEST_LIMIT_EXCEEDED: Workspace 42 exceeded the concurrent limit of 4 requests.","status":"500"}`)
}

func TestRetry(t *testing.T) {
	connRefused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	connReset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name      string
		method    string
		replies   []responder
		wantErr   error // nil: success
		wantWaits []time.Duration
		wantRetry []bool // RetryEvent.Throttled of each retry
	}{
		{
			name:      "429 with Retry-After waits at least the hint",
			method:    "GET",
			replies:   []responder{respond(429, `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}`, "Retry-After", "7"), okUser()},
			wantWaits: []time.Duration{7 * time.Second},
			wantRetry: []bool{true},
		},
		{
			name:      "429 without Retry-After uses jittered exponential backoff",
			method:    "GET",
			replies:   []responder{respond(429, nil), respond(429, nil), okUser()},
			wantWaits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond},
			wantRetry: []bool{true, true},
		},
		{
			name:      "SCIM 500 REQUEST_LIMIT_EXCEEDED is throttling, retried even for POST",
			method:    "POST",
			replies:   []responder{scimThrottle(), okUser()},
			wantWaits: []time.Duration{250 * time.Millisecond},
			wantRetry: []bool{true},
		},
		{
			name:      "503 is retried",
			method:    "PUT",
			replies:   []responder{respond(503, `{"error_code":"TEMPORARILY_UNAVAILABLE","message":"try later"}`), okUser()},
			wantWaits: []time.Duration{250 * time.Millisecond},
			wantRetry: []bool{false},
		},
		{
			name:    "POST with 500 is not retried and the outcome is unknown",
			method:  "POST",
			replies: []responder{respond(500, `{"error_code":"INTERNAL_ERROR","message":"boom"}`)},
			wantErr: ErrOutcomeUnknown,
		},
		{
			name:    "PATCH with a lost reply is not retried",
			method:  "PATCH",
			replies: []responder{fail(connReset)},
			wantErr: ErrOutcomeUnknown,
		},
		{
			name:      "GET transport error is retried",
			method:    "GET",
			replies:   []responder{fail(connReset), okUser()},
			wantWaits: []time.Duration{250 * time.Millisecond},
			wantRetry: []bool{false},
		},
		{
			name:      "GET 500 is retried",
			method:    "GET",
			replies:   []responder{respond(500, nil), okUser()},
			wantWaits: []time.Duration{250 * time.Millisecond},
			wantRetry: []bool{false},
		},
		{
			name:      "POST that never connected is retried",
			method:    "POST",
			replies:   []responder{fail(connRefused), okUser()},
			wantWaits: []time.Duration{250 * time.Millisecond},
			wantRetry: []bool{false},
		},
		{
			name:    "400 is not retried",
			method:  "GET",
			replies: []responder{respond(400, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"bad filter","status":"400","scimType":"invalidFilter"}`)},
			wantErr: ErrBadRequest,
		},
		{
			name:    "404 is not retried",
			method:  "DELETE",
			replies: []responder{respond(404, `{"detail":"User not found","status":"404"}`)},
			wantErr: ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newMock(t)
			for _, r := range tt.replies {
				reg.Register("reply", rest(tt.method, usersPath), r)
			}
			var events []RetryEvent
			sess, sl := connectMock(t, reg, func(s *Settings) { s.OnRetry = func(e RetryEvent) { events = append(events, e) } })
			w := workspaceClient(t, sess)
			var body any
			if tt.method != "GET" && tt.method != "DELETE" {
				body = User{UserName: "a@example.com"}
			}
			err := w.Do(context.Background(), ClassSCIMWrite, tt.method, usersPath, nil, body, &User{})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := sl.Waits(); !slices.Equal(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
			var throttled []bool
			for i, e := range events {
				throttled = append(throttled, e.Throttled)
				if e.Attempt != i+1 || e.Method != tt.method || e.Path != usersPath || e.Err == nil || e.WorkspaceID != 42 {
					t.Errorf("event %d = %+v", i, e)
				}
			}
			if !slices.Equal(throttled, tt.wantRetry) {
				t.Errorf("retry events throttled = %v, want %v", throttled, tt.wantRetry)
			}
			if n := len(reg.Requests()); n != len(tt.replies) {
				t.Errorf("sent %d requests, want %d", n, len(tt.replies))
			}
			// Every attempt replays the same body.
			reqs := reg.Requests()
			for _, r := range reqs[1:] {
				if string(r.Body) != string(reqs[0].Body) {
					t.Errorf("replayed body %q, first %q", r.Body, reqs[0].Body)
				}
			}
		})
	}
}

func TestOutcomeUnknownKeepsCause(t *testing.T) {
	reg := newMock(t)
	reg.Register("post", rest("POST", usersPath), respond(502, "bad gateway"))
	sess, _ := connectMock(t, reg, nil)
	_, err := workspaceClient(t, sess).Users.Create(context.Background(), User{UserName: "a@example.com"})
	var ae *APIError
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &ae) || ae.StatusCode != 502 {
		t.Fatalf("err = %v; want ErrOutcomeUnknown wrapping the 502 *APIError", err)
	}
	mustContain(t, err.Error(), "POST "+usersPath)
}

func TestRetryBudgetExhaustedByAttempts(t *testing.T) {
	reg := newMock(t)
	reg.Register("throttled", rest("GET", usersPath+"/1"), respond(429, `{"error_code":"RESOURCE_EXHAUSTED","message":"Too many requests"}`)).Times(3)
	sess, sl := connectMock(t, reg, func(s *Settings) { s.MaxAttempts = 3 })
	_, err := workspaceClient(t, sess).Users.Get(context.Background(), "1", GetOptions{})
	var ae *APIError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &ae) || ae.ErrorCode != "RESOURCE_EXHAUSTED" {
		t.Fatalf("err = %v; want the last throttled *APIError", err)
	}
	mustContain(t, err.Error(), "giving up after 3 attempts")
	if n := len(sl.Waits()); n != 2 {
		t.Errorf("%d waits, want 2 (none after the last attempt)", n)
	}
}

func TestRetryBudgetExhaustedByTime(t *testing.T) {
	reg := newMock(t)
	// Retry-After 40s: the first wait fits the 1-minute budget, the second
	// would end after it.
	reg.Register("throttled", rest("GET", usersPath+"/1"), respond(429, nil, "Retry-After", "40")).Times(2)
	sess, sl := connectMock(t, reg, func(s *Settings) { s.RetryBudget = time.Minute })
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	sess.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	sess.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		clock = clock.Add(d)
		mu.Unlock()
		return sl.Sleep(ctx, d)
	}
	_, err := workspaceClient(t, sess).Users.Get(context.Background(), "1", GetOptions{})
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want ErrThrottled", err)
	}
	mustContain(t, err.Error(), "giving up after 2 attempts in 40s")
	if got := sl.Waits(); !slices.Equal(got, []time.Duration{40 * time.Second}) {
		t.Errorf("waits = %v", got)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	reg := newMock(t)
	reg.Register("throttled", rest("GET", usersPath+"/1"), respond(429, nil, "Retry-After", "30"))
	sess, _ := connectMock(t, reg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	// Use the real timer: cancelling must interrupt a 30 s wait at once.
	sess.sleep = sleepCtx
	sess.settings.OnRetry = func(RetryEvent) { cancel() }
	w := workspaceClient(t, sess)
	_, err := w.Users.Get(ctx, "1", GetOptions{})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v; want context.Canceled wrapping the last attempt", err)
	}
}

func TestCancelledContextIsNotRetried(t *testing.T) {
	reg := newMock(t)
	ctx, cancel := context.WithCancel(context.Background())
	reg.Register("get", rest("GET", usersPath+"/1"), func(*http.Request) (*http.Response, error) {
		cancel()
		return nil, context.Canceled
	})
	sess, sl := connectMock(t, reg, nil)
	_, err := workspaceClient(t, sess).Users.Get(ctx, "1", GetOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(sl.Waits()) != 0 {
		t.Errorf("waited %v after cancellation", sl.Waits())
	}
}

func TestEveryAttemptPaysTheLimiterAndThrottlingHalvesTheRate(t *testing.T) {
	reg := newMock(t)
	reg.Register("1", rest("GET", usersPath+"/1"), respond(429, nil))
	reg.Register("2", rest("GET", usersPath+"/1"), respond(429, nil))
	reg.Register("3", rest("GET", usersPath+"/1"), okUser())
	sess, sl := connectMock(t, reg, func(s *Settings) { s.Rates = map[string]float64{"scim-read": 1} })
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sess.now = func() time.Time { return frozen }
	sess.random = func() float64 { return 0 }
	w := workspaceClient(t, sess)
	if _, err := w.Users.Get(context.Background(), "1", GetOptions{}); err != nil {
		t.Fatal(err)
	}
	// Attempt 1 takes the burst token. After the first 429 the rate is 0.5/s,
	// so attempt 2 waits 2 s; the rate is at its 0.5/s floor for attempt 3,
	// which waits 2 s more (4 s). Backoff waits are 0 (random = 0).
	want := []time.Duration{0, 2 * time.Second, 0, 4 * time.Second}
	if got := sl.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	lim := sess.registry.limiter(sess.Host(), 42, ClassSCIMRead)
	if got, want := lim.rate(), 0.5+0.05; math.Abs(got-want) > 1e-9 {
		t.Errorf("rate after recovery step = %v, want %v", got, want)
	}
	// Other classes and workspaces keep their own buckets.
	if other := sess.registry.limiter(sess.Host(), 43, ClassSCIMRead); other == lim {
		t.Errorf("workspaces share a bucket")
	}
}

func TestConcurrencyCap(t *testing.T) {
	const cap = 2
	arrived := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	inflight, peak := 0, 0
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		mu.Unlock()
		arrived <- struct{}{}
		<-release
		mu.Lock()
		inflight--
		mu.Unlock()
		return okUser()(req)
	})
	sess, err := Connect(context.Background(), Settings{
		Host: testHost, Token: testToken, Hermetic: true, Concurrency: cap, Rates: UnlimitedRates(),
		HTTPClient: &http.Client{Transport: base},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := workspaceClient(t, sess)
	const n = 5
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := w.Users.Get(context.Background(), "1", GetOptions{}); err != nil {
				t.Error(err)
			}
		})
	}
	// Two requests are in flight before anything is released.
	<-arrived
	<-arrived
	for i := range n {
		release <- struct{}{}
		if i+cap < n {
			<-arrived
		}
	}
	wg.Wait()
	if peak != cap {
		t.Errorf("peak in-flight = %d, want %d", peak, cap)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestShouldRetry(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	api := func(status int, code string) error { return &APIError{StatusCode: status, ErrorCode: code} }
	tests := []struct {
		name        string
		ctx         context.Context
		err         error
		idempotent  bool
		retry, unkn bool
	}{
		{"429", live, api(429, ""), false, true, false},
		{"503 POST", live, api(503, ""), false, false, true},
		{"503 GET", live, api(503, ""), true, true, false},
		{"500 REQUEST_LIMIT_EXCEEDED POST", live, api(500, "REQUEST_LIMIT_EXCEEDED"), false, true, false},
		{"400 RESOURCE_EXHAUSTED", live, api(400, "RESOURCE_EXHAUSTED"), false, true, false},
		{"500 GET", live, api(500, ""), true, true, false},
		{"500 POST", live, api(500, ""), false, false, true},
		{"504 POST", live, api(504, ""), false, false, true},
		{"409", live, api(409, ""), false, false, false},
		{"404 GET", live, api(404, ""), true, false, false},
		{"reset GET", live, io.ErrUnexpectedEOF, true, true, false},
		{"reset POST", live, io.ErrUnexpectedEOF, false, false, true},
		{"dial POST", live, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false, true, false},
		{"auth", live, authError{errors.New("no token")}, true, false, false},
		{"429 after cancel", done, api(429, ""), true, false, false},
		{"reset POST after cancel", done, io.ErrUnexpectedEOF, false, false, true},
	}
	for _, tt := range tests {
		retry, unknown := shouldRetry(tt.ctx, tt.err, tt.idempotent)
		if retry != tt.retry || unknown != tt.unkn {
			t.Errorf("%s: shouldRetry = (%v, %v), want (%v, %v)", tt.name, retry, unknown, tt.retry, tt.unkn)
		}
	}
}

func TestRequestTimeoutBoundsAnAttempt(t *testing.T) {
	attempts := 0
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		attempts++
		if attempts == 1 {
			<-req.Context().Done() // a server that never answers
			return nil, req.Context().Err()
		}
		return okUser()(req)
	})
	sl := &sleepRecorder{}
	sess, err := Connect(context.Background(), Settings{
		Host: testHost, Token: testToken, Hermetic: true, Rates: UnlimitedRates(), Sleep: sl.Sleep,
		RequestTimeout: time.Nanosecond, HTTPClient: &http.Client{Transport: base},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := workspaceClient(t, sess).Users.Get(context.Background(), "1", GetOptions{}); err != nil {
		t.Fatalf("GET after a timed-out attempt: %v", err)
	}
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2", attempts)
	}
}

func TestDoDecodesAndRejectsHTML(t *testing.T) {
	reg := newMock(t)
	reg.Register("html", rest("GET", "/api/2.0/preview/permissionassignments"), respond(200, "<!DOCTYPE html><html><title>Log in</title></html>", "Content-Type", "text/html"))
	reg.Register("assignments", rest("GET", "/api/2.0/preview/permissionassignments"),
		respond(200, `{"permission_assignments":[{"permissions":["USER"],"principal":{"principal_id":345,"user_name":"a@example.com"}}]}`))
	sess, _ := connectMock(t, reg, nil)
	w := workspaceClient(t, sess)
	if _, err := w.PermissionAssignments(context.Background()); err == nil || !strings.Contains(err.Error(), "HTML") {
		t.Fatalf("HTML reply: err = %v", err)
	}
	pas, err := w.PermissionAssignments(context.Background())
	if err != nil || len(pas) != 1 || pas[0].Principal.PrincipalID != 345 || pas[0].Permissions[0] != PermissionUser {
		t.Fatalf("PermissionAssignments = %+v, %v", pas, err)
	}
}

func TestRequestEvents(t *testing.T) {
	reg := newMock(t)
	reg.Register("429", rest("GET", usersPath+"/1"), respond(429, nil))
	reg.Register("200", rest("GET", usersPath+"/1"), okUser())
	var mu sync.Mutex
	var events []RequestEvent
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.OnRequest = func(e RequestEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	if _, err := workspaceClient(t, sess).Users.Get(context.Background(), "1", GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 {
		t.Fatalf("%d events, want 2", len(events))
	}
	for i, wantStatus := range []int{429, 200} {
		e := events[i]
		if e.Attempt != i+1 || e.Status != wantStatus || e.Class != ClassSCIMRead || e.Method != "GET" ||
			e.Path != usersPath+"/1" || e.Host != testHost || e.WorkspaceID != 42 || e.Err != nil {
			t.Errorf("event %d = %+v", i, e)
		}
		if e.Header.Get("Authorization") != "[REDACTED]" || e.Header.Get(WorkspaceHeader) != "42" {
			t.Errorf("event %d header = %v", i, e.Header)
		}
	}
}

func TestCancelWhileWaitingForTheLimiter(t *testing.T) {
	reg := newMock(t)
	reg.Register("first", rest("GET", usersPath+"/1"), okUser())
	sess, _ := connectMock(t, reg, func(s *Settings) { s.Rates = map[string]float64{"scim-read": 0.001} })
	// The first call takes the only token; the next one is 1000 s away.
	// Cancelling must end that wait at once (the real timer is used) and
	// send nothing.
	ctx, cancel := context.WithCancel(context.Background())
	var waited []time.Duration
	sess.sleep = func(c context.Context, d time.Duration) error {
		waited = append(waited, d)
		cancel()
		return sleepCtx(c, d)
	}
	w := workspaceClient(t, sess)
	if _, err := w.Users.Get(context.Background(), "1", GetOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := w.Users.Get(ctx, "1", GetOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(waited) != 1 || waited[0] < 999*time.Second {
		t.Errorf("limiter waits = %v, want one wait of about 1000 s", waited)
	}
	if n := len(reg.Requests()); n != 1 {
		t.Errorf("%d requests sent, want 1 (the cancelled call must not be sent)", n)
	}
}

// TestNoRetryOn: a status named by NoRetryOn comes back at once as the
// *APIError even for an idempotent call (no ErrOutcomeUnknown, one request),
// while other 5xx replies, lost replies and throttling are still retried.
func TestNoRetryOn(t *testing.T) {
	const path = "/api/2.0/permissionmigration"
	connReset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tt := range []struct {
		name     string
		replies  []responder
		wantCode int // 0: success
	}{
		{"500 is final", []responder{respond(500, `{"error_code":"INTERNAL_ERROR","message":"Error when updating permissions table"}`)}, 500},
		{"503 is retried", []responder{respond(503, `{"error_code":"TEMPORARILY_UNAVAILABLE","message":"later"}`), respond(200, `{}`)}, 0},
		{"a lost reply is retried", []responder{fail(connReset), respond(200, `{}`)}, 0},
		{"throttling with status 500 is retried", []responder{respond(500, `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}`), respond(200, `{}`)}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := newMock(t)
			for _, r := range tt.replies {
				reg.Register("reply", rest("POST", path), r)
			}
			sess, _ := connectMock(t, reg, nil)
			err := workspaceClient(t, sess).Do(context.Background(), ClassPermissionsWrite, "POST", path, nil, map[string]int{"size": 1}, nil,
				Idempotent(), NoRetryOn(http.StatusInternalServerError))
			var ae *APIError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("err = %v, want success after a retry", err)
			case tt.wantCode != 0 && (!errors.As(err, &ae) || ae.StatusCode != tt.wantCode || errors.Is(err, ErrOutcomeUnknown)):
				t.Fatalf("err = %v, want the %d *APIError itself", err, tt.wantCode)
			}
			if n := len(reg.Requests()); n != len(tt.replies) {
				t.Errorf("sent %d requests, want %d", n, len(tt.replies))
			}
		})
	}
}
