package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// mockRegistry is an http.RoundTripper in the cli/cli httpmock style: every
// request must match a registered stub (else the test fails), every stub must
// be used (checked by Verify), and all requests are recorded.
type mockRegistry struct {
	t        testing.TB
	mu       sync.Mutex
	stubs    []*stub
	requests []recorded
}

type recorded struct {
	Method string
	Host   string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
}

type matcher func(*http.Request) bool

type responder func(*http.Request) (*http.Response, error)

type stub struct {
	desc    string
	match   matcher
	respond responder
	times   int // matches allowed; -1 = any number
	used    int
}

func newMock(t testing.TB) *mockRegistry {
	r := &mockRegistry{t: t}
	t.Cleanup(func() { r.Verify(t) })
	return r
}

// Register adds a stub that answers one matching request.
func (r *mockRegistry) Register(desc string, m matcher, resp responder) *stub {
	s := &stub{desc: desc, match: m, respond: resp, times: 1}
	r.mu.Lock()
	r.stubs = append(r.stubs, s)
	r.mu.Unlock()
	return s
}

// Times lets the stub answer n requests (-1: any number, not checked).
func (s *stub) Times(n int) *stub { s.times = n; return s }

func (r *mockRegistry) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.mu.Lock()
	r.requests = append(r.requests, recorded{req.Method, req.URL.Host, req.URL.Path, req.URL.Query(), req.Header.Clone(), body})
	var found *stub
	for _, s := range r.stubs {
		if (s.times < 0 || s.used < s.times) && s.match(req) {
			s.used++
			found = s
			break
		}
	}
	r.mu.Unlock()
	if found == nil {
		r.t.Errorf("no registered stubs matched %s %s", req.Method, req.URL.RequestURI())
		return nil, fmt.Errorf("no registered stubs matched %s %s", req.Method, req.URL.RequestURI())
	}
	return found.respond(req)
}

// Verify fails the test for every stub not used as often as registered.
func (r *mockRegistry) Verify(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.stubs {
		if s.times >= 0 && s.used < s.times {
			t.Errorf("stub %q used %d of %d times", s.desc, s.used, s.times)
		}
	}
}

// Requests returns the recorded requests.
func (r *mockRegistry) Requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

// rest matches method and exact path.
func rest(method, path string) matcher {
	return func(req *http.Request) bool { return req.Method == method && req.URL.Path == path }
}

// withQuery narrows m to requests carrying key=value.
func withQuery(m matcher, key, value string) matcher {
	return func(req *http.Request) bool { return m(req) && req.URL.Query().Get(key) == value }
}

// respond answers with status, a body (string or JSON-encoded value) and
// header pairs.
func respond(status int, body any, headerKV ...string) responder {
	return func(req *http.Request) (*http.Response, error) {
		var b []byte
		switch v := body.(type) {
		case nil:
		case string:
			b = []byte(v)
		default:
			var err error
			if b, err = json.Marshal(v); err != nil {
				return nil, err
			}
		}
		h := http.Header{}
		if _, ok := body.(string); !ok && body != nil {
			h.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headerKV); i += 2 {
			h.Set(headerKV[i], headerKV[i+1])
		}
		return &http.Response{
			StatusCode: status,
			Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Header:     h,
			Body:       io.NopCloser(bytes.NewReader(b)),
			Request:    req,
		}, nil
	}
}

// fail answers with a transport error.
func fail(err error) responder {
	return func(*http.Request) (*http.Response, error) { return nil, err }
}

// sleepRecorder is a Settings.Sleep that records waits and never sleeps.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
	// onSleep, if set, runs before returning (e.g. to cancel a context).
	onSleep func()
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	hook := s.onSleep
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ctx.Err()
}

func (s *sleepRecorder) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

const (
	testHost    = "https://acme.cloud.databricks.com"
	testToken   = "dapi-very-secret-token-0123456789"
	testAccount = "acct-1234"
)

// connectMock connects a hermetic session to reg with unlimited rates and a
// recording sleep; adjust tweaks the settings first.
func connectMock(t *testing.T, reg *mockRegistry, adjust func(*Settings)) (*Session, *sleepRecorder) {
	t.Helper()
	sl := &sleepRecorder{}
	s := Settings{
		Host:       testHost,
		Token:      testToken,
		Hermetic:   true,
		HTTPClient: &http.Client{Transport: reg},
		Rates:      UnlimitedRates(),
		Sleep:      sl.Sleep,
	}
	if adjust != nil {
		adjust(&s)
	}
	sess, err := Connect(context.Background(), s)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	sess.random = func() float64 { return 0.5 }
	return sess, sl
}

// workspaceClient returns a client for the test host's workspace 42.
func workspaceClient(t *testing.T, sess *Session) *WorkspaceClient {
	t.Helper()
	w, err := sess.Workspace(WorkspaceInfo{ID: 42, URL: sess.Host()})
	if err != nil {
		t.Fatalf("Workspace: %v", err)
	}
	return w
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}
