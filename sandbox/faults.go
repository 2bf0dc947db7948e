package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
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

// faultKeys are the keys of a fault spec, in the order messages list them.
var faultKeys = []string{"method", "path", "workspace", "status", "body", "drop", "after", "offset", "times"}

// ParseFault parses a fault spec, the form "sandbox serve --fault" takes:
// comma-separated key=value pairs mapping onto [Fault]:
//
//	method=POST             Fault.Method ("" = any)
//	path=REGEXP             Fault.PathRegexp, matched against the URL path
//	workspace=ID            Fault.Workspace
//	status=500              Fault.Status (needed unless drop)
//	body=TEXT               Fault.Body
//	drop                    Fault.Drop: close the connection, no reply
//	after                   Fault.AfterHandler: the request takes effect, only
//	                        its reply is replaced (or dropped)
//	offset=N, times=N       Fault.Offset, Fault.Times (0 = every match)
//
// drop and after may also be written drop=true|false. A value may be a
// double-quoted Go string, to hold a comma or edge spaces:
// path="^/api/2.0/accounts/[^/]+/scim/v2/Groups$". For example, a POST that
// creates an account group whose reply is lost:
//
//	method=POST,path=/scim/v2/Groups$,after,status=500,times=1
//
// Errors name the spec and the key.
func ParseFault(spec string) (Fault, error) {
	var f Fault
	fail := func(format string, a ...any) (Fault, error) {
		return Fault{}, fmt.Errorf("fault %q: %s", spec, fmt.Sprintf(format, a...))
	}
	parts, err := splitFaultSpec(spec)
	if err != nil {
		return fail("%v", err)
	}
	seen := map[string]bool{}
	for _, part := range parts {
		k, v, hasValue := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if seen[k] {
			return fail("%s is given twice", k)
		}
		seen[k] = true
		if hasValue {
			v = strings.TrimSpace(v)
			if strings.HasPrefix(v, `"`) {
				u, err := strconv.Unquote(v)
				if err != nil {
					return fail("%s: %s is not a valid quoted string", k, v)
				}
				v = u
			}
		}
		number := func(min int) (int, error) {
			n, err := strconv.Atoi(v)
			if !hasValue || err != nil || n < min {
				return 0, fmt.Errorf("%s: %q is not an integer of at least %d", k, v, min)
			}
			return n, nil
		}
		flag := func() (bool, error) {
			if !hasValue {
				return true, nil
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, fmt.Errorf("%s: %q is not true or false", k, v)
			}
			return b, nil
		}
		if !hasValue && k != "drop" && k != "after" {
			return fail("%s needs a value (%s=...)", k, k)
		}
		switch k {
		case "method":
			if v == "" || strings.ContainsFunc(v, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) {
				return fail("method: %q is not an HTTP method", v)
			}
			f.Method = strings.ToUpper(v)
		case "path":
			if _, err := regexp.Compile(v); err != nil {
				return fail("path: %v", err)
			}
			f.PathRegexp = v
		case "workspace":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fail("workspace: %q is not a workspace id", v)
			}
			f.Workspace = n
		case "status":
			n, err := number(100)
			if err != nil || n > 599 {
				return fail("status: %q is not an HTTP status", v)
			}
			f.Status = n
		case "body":
			f.Body = v
		case "drop":
			if f.Drop, err = flag(); err != nil {
				return fail("%v", err)
			}
		case "after":
			if f.AfterHandler, err = flag(); err != nil {
				return fail("%v", err)
			}
		case "offset":
			if f.Offset, err = number(0); err != nil {
				return fail("%v", err)
			}
		case "times":
			if f.Times, err = number(0); err != nil {
				return fail("%v", err)
			}
		default:
			return fail("unknown key %q (want %s)", k, strings.Join(faultKeys, ", "))
		}
	}
	if f.Status == 0 && !f.Drop {
		return fail("give status=CODE or drop")
	}
	return f, nil
}

// splitFaultSpec splits a spec at the commas outside double quotes.
func splitFaultSpec(spec string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	quoted, escaped := false, false
	for _, r := range spec {
		switch {
		case escaped:
			escaped = false
		case quoted && r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if quoted {
		return nil, errors.New("a double quote is not closed")
	}
	return append(parts, cur.String()), nil
}
