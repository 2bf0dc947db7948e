package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Workspace ids of the default seed.
const (
	wsProd      = 6051921418418891
	wsAnalytics = 6051921418418892
	wsML        = 6051921418418893
	wsLegacy    = 6051921418418894
)

// Workspace ids of testdata/sandbox/small.json.
const (
	wsFed    = 1001
	wsLocal  = 1002
	smallAcc = "00000000-0000-4000-8000-00000000000a"
)

const (
	usersPath  = "/api/2.0/preview/scim/v2/Users"
	groupsPath = "/api/2.0/preview/scim/v2/Groups"
	spsPath    = "/api/2.0/preview/scim/v2/ServicePrincipals"
)

func acctPath(s *Server, rest string) string {
	return "/api/2.0/accounts/" + s.AccountID() + rest
}

func smallSeed(t testing.TB) *Seed {
	t.Helper()
	s, err := LoadSeed("../testdata/sandbox/small.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newSmall starts a server on the small seed.
func newSmall(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.Seed = smallSeed(t)
	return NewTestServer(t, opts)
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// tc is a test HTTP client for one server, token and workspace.
type tc struct {
	t     testing.TB
	base  string // server URL
	token string
	ws    int64 // 0: no X-Databricks-Workspace-Id header
}

func admin(t testing.TB, srv *Server, ws int64) tc {
	return tc{t: t, base: srv.URL(), token: srv.AdminToken(), ws: ws}
}

func (c tc) as(token string) tc { c.token = token; return c }
func (c tc) in(ws int64) tc     { c.ws = ws; return c }

// reply is an HTTP reply.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("reply body %q: %v", r.body, err)
	}
	return m
}

// resources returns the Resources of a list reply.
func (r reply) resources(t testing.TB) []map[string]any {
	t.Helper()
	var lr struct {
		Resources []map[string]any `json:"Resources"`
	}
	if err := json.Unmarshal(r.body, &lr); err != nil {
		t.Fatalf("list body %q: %v", r.body, err)
	}
	return lr.Resources
}

// do sends a request; body is JSON-encoded unless it is a string.
func (c tc) do(method, path string, body any) reply {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ws != 0 {
		req.Header.Set("X-Databricks-Workspace-Id", strconv.FormatInt(c.ws, 10))
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok sends a request and fails the test unless the status is want.
func (c tc) ok(want int, method, path string, body any) reply {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// list GETs a collection with query parameters and returns the reply.
func (c tc) list(path string, q url.Values) reply {
	c.t.Helper()
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.ok(http.StatusOK, "GET", path, nil)
}

// ids returns the "id" of each resource.
func ids(res []map[string]any) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i], _ = r["id"].(string)
	}
	return out
}

// field returns a string attribute of each resource.
func field(res []map[string]any, name string) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i], _ = r[name].(string)
	}
	return out
}

// values returns the "value"s of a multi-valued attribute.
func valuesOf(m map[string]any, attr string) []string {
	l, _ := m[attr].([]any)
	var out []string
	for _, e := range l {
		if em, ok := e.(map[string]any); ok {
			if v, ok := em["value"].(string); ok {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// wantSCIMError checks a SCIM error reply.
func wantSCIMError(t testing.TB, r reply, status int, scimType, detailPart string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["status"] != strconv.Itoa(status) {
		t.Errorf("SCIM status %#v, want string %q; body %s", m["status"], strconv.Itoa(status), r.body)
	}
	if schemas, _ := m["schemas"].([]any); len(schemas) != 1 || schemas[0] != schemaError {
		t.Errorf("schemas = %v, want [%s]", m["schemas"], schemaError)
	}
	if got, _ := m["scimType"].(string); got != scimType {
		t.Errorf("scimType %q, want %q; body %s", got, scimType, r.body)
	}
	if d, _ := m["detail"].(string); !strings.Contains(d, detailPart) {
		t.Errorf("detail %q does not contain %q", d, detailPart)
	}
}

// wantRESTError checks a REST error reply.
func wantRESTError(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["error_code"] != code {
		t.Errorf("error_code %v, want %s; body %s", m["error_code"], code, r.body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("empty message; body %s", r.body)
	}
}

func patchOp(ops ...map[string]any) map[string]any {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": l}
}

func itoa(i int) string { return strconv.Itoa(i) }

func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

// doCT sends a raw body with an explicit content type.
func (c tc) doCT(method, path, body, contentType string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if c.ws != 0 {
		req.Header.Set("X-Databricks-Workspace-Id", strconv.FormatInt(c.ws, 10))
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}
