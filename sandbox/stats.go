package sandbox

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"sync"
)

// Stats counts the /api requests a Server answered since it started or since
// the last ResetStats.
type Stats struct {
	// Requests counts replies by method, route template and status, sorted
	// by route, method and status. Route is the registered pattern without
	// the method (e.g. "/api/2.0/preview/scim/v2/Groups/{id}"); Status is
	// 0 for a dropped connection.
	Requests []RequestCount `json:"requests"`
	// Classes counts requests by endpoint class.
	Classes map[string]int `json:"classes"`
	// Total is the number of /api requests.
	Total int `json:"total"`
	// Throttled counts requests refused for rate or concurrency limits.
	Throttled int `json:"throttled"`
	// Faults counts injected faults (random and targeted).
	Faults int `json:"faults"`
	// MaxInFlight is the largest number of /api requests in flight at once;
	// MaxInFlightByScope is the same per workspace id ("account" for the
	// account).
	MaxInFlight        int            `json:"max_in_flight"`
	MaxInFlightByScope map[string]int `json:"max_in_flight_by_scope"`
}

// RequestCount is one row of Stats.Requests.
type RequestCount struct {
	Method string `json:"method"`
	Route  string `json:"route"`
	Status int    `json:"status"`
	Count  int    `json:"count"`
}

// Count returns how many requests matched method and route (any status).
// An empty method matches every method.
func (st Stats) Count(method, route string) int {
	n := 0
	for _, r := range st.Requests {
		if (method == "" || r.Method == method) && r.Route == route {
			n += r.Count
		}
	}
	return n
}

type statKey struct {
	method, route string
	status        int
}

type statsRecorder struct {
	mu          sync.Mutex
	requests    map[statKey]int
	classes     map[string]int
	total       int
	throttled   int
	faults      int
	inFlight    int
	maxInFlight int
	scopeFlight map[string]int
	scopeMax    map[string]int
}

func (r *statsRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = map[statKey]int{}
	r.classes = map[string]int{}
	r.total, r.throttled, r.faults = 0, 0, 0
	r.maxInFlight = r.inFlight
	if r.scopeFlight == nil {
		r.scopeFlight = map[string]int{}
	}
	r.scopeMax = maps.Clone(r.scopeFlight)
}

func scopeName(ws int64) string {
	if ws == 0 {
		return "account"
	}
	return strconv.FormatInt(ws, 10)
}

// begin records the start of a request in scope ws; the returned function
// records its end.
func (r *statsRecorder) begin(ws int64) func() {
	name := scopeName(ws)
	r.mu.Lock()
	r.inFlight++
	r.maxInFlight = max(r.maxInFlight, r.inFlight)
	r.scopeFlight[name]++
	r.scopeMax[name] = max(r.scopeMax[name], r.scopeFlight[name])
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.inFlight--
		r.scopeFlight[name]--
		r.mu.Unlock()
	}
}

func (r *statsRecorder) record(method, route, class string, status int, throttled, fault bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[statKey{method, route, status}]++
	if class != "" {
		r.classes[class]++
	}
	r.total++
	if throttled {
		r.throttled++
	}
	if fault {
		r.faults++
	}
}

func (r *statsRecorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Stats{
		Requests:           make([]RequestCount, 0, len(r.requests)),
		Classes:            maps.Clone(r.classes),
		Total:              r.total,
		Throttled:          r.throttled,
		Faults:             r.faults,
		MaxInFlight:        r.maxInFlight,
		MaxInFlightByScope: map[string]int{},
	}
	for k, n := range r.requests {
		out.Requests = append(out.Requests, RequestCount{Method: k.method, Route: k.route, Status: k.status, Count: n})
	}
	for k, n := range r.scopeMax {
		if n > 0 {
			out.MaxInFlightByScope[k] = n
		}
	}
	slices.SortFunc(out.Requests, func(a, b RequestCount) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Status, b.Status))
	})
	return out
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes the request counters (requests in flight stay counted
// in the in-flight gauges).
func (s *Server) ResetStats() { s.stats.reset() }
