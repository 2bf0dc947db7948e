package sandbox

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Fault is a targeted fault: matching /api requests get a chosen reply
// instead of (or after) their normal handling.
type Fault struct {
	// Method matches the request method ("" = any, case-insensitive).
	Method string
	// PathRegexp matches the URL path, e.g. `^/api/2.0/preview/scim/v2/Groups/\d+$`
	// ("" = any).
	PathRegexp string
	// Workspace matches the requests of workspace routes addressed to this
	// workspace id, as routed (by the X-Databricks-Workspace-Id header, the
	// first workspace without it); 0 = any request.
	Workspace int64
	// Status is the reply status (ignored with Drop).
	Status int
	// Body is the reply body; empty means a REST error body for Status.
	Body string
	// Drop closes the connection without a reply.
	Drop bool
	// AfterHandler runs the handler first, keeping its state change, and
	// replaces only its reply: a write that succeeded but whose reply was
	// lost.
	AfterHandler bool
	// Offset lets this many matching requests through before the first
	// injection.
	Offset int
	// Times is the number of injections; 0 means every matching request.
	Times int
}

type faultRule struct {
	Fault
	re       *regexp.Regexp
	seen     int
	injected int
}

// AddFault installs a targeted fault. Rules are tried in the order they were
// added; the first one that fires wins.
func (s *Server) AddFault(f Fault) error {
	r := &faultRule{Fault: f}
	if f.PathRegexp != "" {
		re, err := regexp.Compile(f.PathRegexp)
		if err != nil {
			return fmt.Errorf("add fault: path regexp: %w", err)
		}
		r.re = re
	}
	if !f.Drop && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("add fault: status %d is not an HTTP status", f.Status)
	}
	if f.Offset < 0 || f.Times < 0 {
		return fmt.Errorf("add fault: offset and times must not be negative")
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = append(s.faults, r)
	return nil
}

// ClearFaults removes every targeted fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

// matchFault returns the targeted fault that fires for r, if any; ws is the
// workspace r is routed to (0: an account route).
func (s *Server) matchFault(r *http.Request, ws int64) *Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.re != nil && !f.re.MatchString(r.URL.Path) {
			continue
		}
		if f.Workspace != 0 && f.Workspace != ws {
			continue
		}
		if f.Times > 0 && f.injected >= f.Times {
			continue
		}
		f.seen++
		if f.seen <= f.Offset {
			continue
		}
		f.injected++
		cp := f.Fault
		return &cp
	}
	return nil
}

// randomFault draws the FaultRate fault for a request: 0 for none, else an
// HTTP status or -1 for a dropped connection.
func (s *Server) randomFault() int {
	if s.opts.FaultRate <= 0 {
		return 0
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.faultRand.Float64() >= s.opts.FaultRate {
		return 0
	}
	switch s.faultRand.IntN(3) {
	case 0:
		return http.StatusInternalServerError
	case 1:
		return http.StatusServiceUnavailable
	}
	return -1
}

// writeFault writes f's reply.
func writeFault(w http.ResponseWriter, f *Fault) {
	if f.Body == "" {
		writeJSON(w, f.Status, restBody{ErrorCode: codeFor(f.Status), Message: "sandbox: injected fault"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(f.Body))
}

// discardWriter takes a handler's reply so an after-handler fault can
// replace it.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
