package scim

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Class names a rate-limit bucket. Every call is charged to exactly one class
// of the (host, workspace) it goes to; each class has its own token bucket.
type Class string

// The rate-limit classes. SCIM classes split reads (GET), writes (POST, PUT,
// DELETE) and PATCH, separately for workspace and account SCIM, because
// Databricks limits them separately (reference §I.2).
const (
	ClassSCIMRead         Class = "scim-read"
	ClassSCIMWrite        Class = "scim-write"
	ClassSCIMPatch        Class = "scim-patch"
	ClassAccountSCIMRead  Class = "account-scim-read"
	ClassAccountSCIMWrite Class = "account-scim-write"
	ClassAccountSCIMPatch Class = "account-scim-patch"
	ClassAssignments      Class = "assignments"
	ClassPermissionsRead  Class = "permissions-read"
	ClassPermissionsWrite Class = "permissions-write"
	ClassAssignmentsWrite Class = "assignments-write"
	ClassRESTWrite        Class = "rest-write"
	ClassDefault          Class = "default"
)

// defaultRates are the per-class request rates (requests per second, per
// host and workspace) used when Settings.Rates does not override a class.
// They are deliberately conservative; the published limits are unverified
// (reference §I.2) and other clients (IdP provisioning, Terraform) share them.
var defaultRates = map[Class]float64{
	ClassSCIMRead:         255.0 / 60, // workspace SCIM GET: 255/min
	ClassSCIMWrite:        35.0 / 60,  // UCX self-limit for SCIM group DELETE: 35/min
	ClassSCIMPatch:        0.5,        // UCX renames at 10/min; membership PATCHes dominate, 30/min
	ClassAccountSCIMRead:  4,          // account SCIM list: 240/min
	ClassAccountSCIMWrite: 5,          // account SCIM POST/PUT/DELETE: 5/s
	ClassAccountSCIMPatch: 2,          // account SCIM PATCH: 2/s
	ClassAssignments:      5,          // UCX self-limit for permission assignment PUT
	ClassPermissionsRead:  20,         // published 100/s; kept low, concurrency caps it anyway
	ClassPermissionsWrite: 5,          // published 30/s
	ClassAssignmentsWrite: 5,          // UCX self-limit for permission assignment PUT
	ClassRESTWrite:        10,         // other REST writes: the default class's rate, never probed
	ClassDefault:          10,         // the SDK uses 15/s per client for everything
}

// Classes returns every rate-limit class in a stable order.
func Classes() []Class {
	cs := make([]Class, 0, len(defaultRates))
	for c := range defaultRates {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

// DefaultRate returns the default rate of class c in requests per second,
// and false if c is not a known class.
func DefaultRate(c Class) (float64, bool) {
	r, ok := defaultRates[c]
	return r, ok
}

// probeFactor is how far above its default rate the limiter may probe a
// class when no rate is configured for it: the ceiling is the default times
// probeFactor (capped by a published limit, where there is one). It applies
// to the read classes only (see probing). Why 8: the probe rises only while
// the server answers, and halves at its first refusal, so the ceiling only
// bounds how much of a quota that other clients share (IdP provisioning,
// Terraform) one run may take before the server says no. At 8 times the
// conservative defaults the workspace SCIM read ceiling is 34/s, about two
// SDK clients' worth (the SDK paces every client at 15/s), and above the
// 25/s at which a parallel loop of the official CLI outran the defaults.
const probeFactor = 8

// probing are the classes whose rate probes above the default: read
// classes only. Writes keep their rates (the default, or --rate): they are
// the ones other clients' provisioning waits on, a plan's writes are few
// next to its reads, and a write refused by a probe is one more write the
// plan waits on.
var probing = map[Class]bool{
	ClassSCIMRead:        true,
	ClassAccountSCIMRead: true,
	ClassPermissionsRead: true,
	ClassDefault:         true,
	ClassAssignments:     true,
}

// writeClasses are the classes a write is charged to when its caller names
// a probing class: a probing class paces reads only (GET and HEAD), so that
// no write is ever sent above a rate that does not probe, whichever class
// its caller named.
var writeClasses = map[Class]Class{
	ClassSCIMRead:        ClassSCIMWrite,
	ClassAccountSCIMRead: ClassAccountSCIMWrite,
	ClassPermissionsRead: ClassPermissionsWrite,
	ClassAssignments:     ClassAssignmentsWrite,
	ClassDefault:         ClassRESTWrite,
}

// chargedClass returns the class a request of method is charged to when
// its caller names class c: c, except that a write (any method but GET and
// HEAD) named with a probing class goes to that class's write class.
func chargedClass(c Class, method string) Class {
	switch method {
	case http.MethodGet, http.MethodHead:
		return c
	}
	if w, ok := writeClasses[c]; ok {
		return w
	}
	return c
}

// publishedLimits cap a probing class's ceiling where a limit is published
// (reference §I.2).
var publishedLimits = map[Class]float64{
	ClassPermissionsRead: 100,
}

// DefaultCeiling returns the rate a class's probe may reach without a
// configured rate (its default when it does not probe), and false if c is
// not a known class.
func DefaultCeiling(c Class) (float64, bool) {
	r, ok := defaultRates[c]
	if !ok || !probing[c] {
		return r, ok
	}
	ceiling := r * probeFactor
	if p, ok := publishedLimits[c]; ok {
		ceiling = min(ceiling, p)
	}
	return ceiling, true
}

// UnlimitedRates returns a Settings.Rates value that lifts the rate limit of
// every class. It is meant for tests against the sandbox; never use it
// against a real account.
func UnlimitedRates() map[string]float64 {
	m := make(map[string]float64, len(defaultRates))
	for c := range defaultRates {
		m[string(c)] = math.Inf(1)
	}
	return m
}

// ParseRate parses a --rate value, CLASS=RPS: a class name (see Classes)
// and a rate above 0 in requests per second. The error says what is wrong
// and what to pass instead.
func ParseRate(s string) (Class, float64, error) {
	name, val, ok := strings.Cut(s, "=")
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	if !ok || name == "" || val == "" {
		return "", 0, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("--rate %q is not CLASS=RPS", s),
			Fix: "pass a class and a rate, such as --rate scim-read=25"}
	}
	c := Class(name)
	if _, ok := defaultRates[c]; !ok {
		return "", 0, unknownClass(name)
	}
	r, err := strconv.ParseFloat(val, 64)
	if err != nil || !(r > 0) || math.IsInf(r, 0) {
		return "", 0, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("--rate %s: %q is not a rate above 0", name, val),
			Fix: "pass requests per second, such as --rate " + name + "=25"}
	}
	return c, r, nil
}

func unknownClass(name string) error {
	names := make([]string, 0, len(defaultRates))
	for _, k := range Classes() {
		names = append(names, string(k))
	}
	return &ConfigError{Op: "check settings", Problem: fmt.Sprintf("unknown rate class %q", name), Fix: "use one of " + strings.Join(names, ", ")}
}

// classRate is the resolved pacing of one class: the rate its buckets start
// at and the ceiling their probe may raise it to.
type classRate struct{ start, ceiling float64 }

// rateTable is the resolved pacing of every class.
type rateTable map[Class]classRate

// resolveRates merges the defaults, per-class overrides and the global cap
// into the pacing of every class. A class without an override starts at its
// default and may probe up to DefaultCeiling; an overridden class starts
// at, and never goes above, its override (+Inf: unlimited). rps, if above
// 0, caps every start and ceiling.
func resolveRates(overrides map[string]float64, rps float64) (rateTable, error) {
	if rps < 0 || math.IsNaN(rps) {
		return nil, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("rate cap %v is negative", rps), Fix: "pass a positive --rps, or 0 for the per-class defaults"}
	}
	rates := make(rateTable, len(defaultRates))
	for c, r := range defaultRates {
		ceiling, _ := DefaultCeiling(c)
		rates[c] = classRate{start: r, ceiling: ceiling}
	}
	for name, r := range overrides {
		c := Class(name)
		if _, ok := defaultRates[c]; !ok {
			return nil, unknownClass(name)
		}
		if !(r > 0) {
			return nil, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("rate %v for class %s is not positive", r, name), Fix: "pass a rate above 0 requests per second"}
		}
		rates[c] = classRate{start: r, ceiling: r}
	}
	if rps > 0 {
		for c, r := range rates {
			rates[c] = classRate{start: min(r.start, rps), ceiling: min(r.ceiling, rps)}
		}
	}
	return rates, nil
}

// scimClasses picks the classes of a SCIM collection.
type scimClasses struct{ read, write, patch Class }

var (
	workspaceSCIM = scimClasses{ClassSCIMRead, ClassSCIMWrite, ClassSCIMPatch}
	accountSCIM   = scimClasses{ClassAccountSCIMRead, ClassAccountSCIMWrite, ClassAccountSCIMPatch}
)

// forMethod returns the class charged for an HTTP method on the collection.
func (s scimClasses) forMethod(method string) Class {
	switch method {
	case http.MethodGet, http.MethodHead:
		return s.read
	case http.MethodPatch:
		return s.patch
	default:
		return s.write
	}
}
