package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scopeKind says where a route lives.
type scopeKind uint8

const (
	scopeWorkspace scopeKind = iota + 1 // routed by X-Databricks-Workspace-Id
	scopeAccount                        // /api/2.x/accounts/{account_id}/...
	scopePublic                         // no auth, no knobs (discovery, control endpoints)
)

// access is who may call a route.
type access uint8

const (
	accessMember         access = iota + 1 // any token whose principal is in the workspace (admins always)
	accessWorkspaceAdmin                   // account admins and admins of that workspace
	accessAccountAdmin                     // account admins only
)

// route is one registered endpoint.
type route struct {
	method  string
	pattern string // path template, also the stats route label
	class   string // endpoint class for rate limits
	scope   scopeKind
	scim    bool   // errors use the SCIM body
	access  access // ignored for scopePublic
	write   bool   // handler runs under the write lock
	handle  func(*call) error
}

// call is one request being served.
type call struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	rt  *route
	ws  *workspace // workspace routes
	tok *token     // nil on public routes
	now time.Time

	// Workspace routes, set by authorization: the principal acting for the
	// token in c.ws (see authz.go), whether it is a workspace admin there,
	// and its holders (it and its groups), computed on first use.
	actor   *principal
	admin   bool
	holders map[string]bool
}

// handle registers rt. Patterns are Go http.ServeMux path patterns
// ("/api/2.0/preview/scim/v2/Users/{id}"); an "{account_id}" wildcard is
// checked against the sandbox's account id.
func (s *Server) handle(rt route) {
	if rt.class == "" {
		rt.class = ClassDefault
	}
	r := rt
	s.routes = append(s.routes, rt)
	s.mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, req *http.Request) {
		s.serve(&r, w, req)
	})
}

// statusWriter records the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// serve runs the admission pipeline and the handler for one request:
// latency, authentication, workspace routing, rate limit, concurrency limit,
// random and targeted faults, authorization, handler (under the state lock),
// after-handler faults. It records stats for /api requests.
func (s *Server) serve(rt *route, w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, w: w, r: r, rt: rt}
	if rt.scope == scopePublic {
		c.now = s.now()
		if err := s.runHandler(c); err != nil {
			writeError(w, rt.scim, err)
		}
		return
	}

	sw := &statusWriter{ResponseWriter: w}
	c.w = sw
	var throttled, faulted, dropped bool
	var scopeID int64
	defer func() {
		status := sw.status
		if dropped {
			status = 0
		}
		s.stats.record(r.Method, rt.pattern, rt.class, status, throttled, faulted)
	}()
	fail := func(e *apiError) { writeError(sw, rt.scim, e) }

	if d := s.opts.Latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	if e := s.authenticate(c); e != nil {
		fail(e)
		return
	}
	if rt.scope == scopeWorkspace {
		if e := s.routeWorkspace(c); e != nil {
			fail(e)
			return
		}
		scopeID = c.ws.id
	} else if id := r.PathValue("account_id"); id != s.st.accountID {
		fail(restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Account %s does not exist.", id))
		return
	}
	end := s.stats.begin(scopeID)
	defer end()
	c.now = s.now()

	sc := s.scopes[scopeID]
	if lim := sc.limiters[rt.class]; lim != nil {
		res := lim.ReserveN(c.now, 1)
		if d := res.DelayFrom(c.now); !res.OK() || d > 0 {
			res.CancelAt(c.now)
			throttled = true
			msg := fmt.Sprintf("REQUEST_LIMIT_EXCEEDED: %s exceeded the rate limit of %g requests per second for %s requests.",
				sc.label, sc.rates[rt.class], rt.class)
			if rt.scim && s.opts.ThrottleStyle == ThrottleStyleSCIM500 {
				fail(scimErr(http.StatusInternalServerError, "", "%s", msg))
				return
			}
			e := restErr(http.StatusTooManyRequests, "REQUEST_LIMIT_EXCEEDED", "%s", msg)
			if !s.opts.OmitRetryAfter {
				e.retryAfter = max(1, int(math.Ceil(d.Seconds())))
			}
			fail(e)
			return
		}
	}
	if k := s.opts.MaxConcurrent; k > 0 {
		n := sc.inFlight.Add(1)
		defer sc.inFlight.Add(-1)
		if n > int64(k) {
			throttled = true
			msg := fmt.Sprintf("REQUEST_LIMIT_EXCEEDED: %s exceeded the concurrent limit of %d requests.", sc.label, k)
			if rt.scim {
				fail(scimErr(http.StatusInternalServerError, "", "%s", msg))
				return
			}
			e := restErr(http.StatusTooManyRequests, "REQUEST_LIMIT_EXCEEDED", "%s", msg)
			if !s.opts.OmitRetryAfter {
				e.retryAfter = 1
			}
			fail(e)
			return
		}
	}
	if s.hold != nil {
		s.hold(r)
	}

	switch f := s.randomFault(); {
	case f < 0:
		faulted, dropped = true, true
		panic(http.ErrAbortHandler)
	case f > 0:
		faulted = true
		if rt.scim && f == http.StatusInternalServerError {
			fail(scimErr(f, "", "sandbox: injected fault"))
		} else {
			fail(restErr(f, codeFor(f), "sandbox: injected fault"))
		}
		return
	}
	fault := s.matchFault(r, scopeID)
	if fault != nil && !fault.AfterHandler {
		faulted = true
		if fault.Drop {
			dropped = true
			panic(http.ErrAbortHandler)
		}
		writeFault(sw, fault)
		return
	}

	if e := s.authorize(c); e != nil {
		fail(e)
		return
	}

	if fault == nil {
		if e := s.runHandler(c); e != nil {
			fail(e)
		}
		return
	}
	// After-handler fault: run the handler for its effect, drop its reply.
	discard := &discardWriter{header: http.Header{}}
	c.w = discard
	if e := s.runHandler(c); e != nil {
		writeError(discard, rt.scim, e)
	}
	faulted = true
	if fault.Drop {
		dropped = true
		panic(http.ErrAbortHandler)
	}
	writeFault(sw, fault)
}

// runHandler runs the route's handler under the state lock.
func (s *Server) runHandler(c *call) *apiError {
	if c.rt.write {
		s.mu.Lock()
		s.st.purge(c.now, s.opts.Consistency)
		defer s.mu.Unlock()
	} else {
		s.mu.RLock()
		defer s.mu.RUnlock()
	}
	err := c.rt.handle(c)
	if err == nil {
		return nil
	}
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return &apiError{status: http.StatusInternalServerError, code: "INTERNAL_ERROR", msg: err.Error()}
}

func (s *Server) authenticate(c *call) *apiError {
	h := c.r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return restErr(http.StatusUnauthorized, "UNAUTHENTICATED",
			"Credential was not sent or was of an unsupported type for this API.")
	}
	s.mu.RLock()
	t := s.st.tokens[strings.TrimSpace(h[len(prefix):])]
	inactive := t != nil && s.st.deactivated(t.principal)
	s.mu.RUnlock()
	if t == nil {
		return restErr(http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
	}
	if inactive {
		return restErr(http.StatusUnauthorized, "UNAUTHENTICATED", "The user or service principal of this token is deactivated.")
	}
	c.tok = t
	return nil
}

func (s *Server) routeWorkspace(c *call) *apiError {
	h := c.r.Header.Get("X-Databricks-Workspace-Id")
	if h == "" {
		// A personal access token names its workspace as a workspace's own
		// host would; other calls without the header go to the first one.
		c.ws = s.st.workspaces[0]
		if w := s.st.wsByID[c.tok.ws]; w != nil {
			c.ws = w
		}
		return nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64)
	if err != nil {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"X-Databricks-Workspace-Id %q is not a workspace id.", h)
	}
	w := s.st.wsByID[id]
	if w == nil {
		return restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Workspace %d does not exist.", id)
	}
	c.ws = w
	return nil
}

// authorize applies the token's scope and the route's access (authz.go).
func (s *Server) authorize(c *call) *apiError {
	if c.rt.scope != scopeWorkspace {
		return s.authorizeAccount(c)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.authorizeWorkspace(c)
}

// reply writes v as JSON with status.
func (c *call) reply(status int, v any) error {
	writeJSON(c.w, status, v)
	return nil
}

// noContent writes an empty 204 reply.
func (c *call) noContent() error {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// decode reads the JSON request body into v. Content types application/json
// and application/scim+json (with parameters) are accepted, as is none.
func (c *call) decode(v any) error {
	if ct := c.r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := strings.Cut(ct, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "application/json", "application/scim+json", "text/json":
		default:
			return scimErr(http.StatusBadRequest, "invalidSyntax", "Unsupported content type %q.", ct)
		}
	}
	b, err := c.body()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return scimErr(http.StatusBadRequest, "invalidSyntax", "%s", detailUnparsable)
	}
	return nil
}

// body reads the raw request body.
func (c *call) body() ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 16<<20))
	if err != nil {
		return nil, scimErr(http.StatusBadRequest, "invalidSyntax", "%s", detailUnparsable)
	}
	return b, nil
}
