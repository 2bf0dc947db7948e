package scim

import (
	"fmt"
	"math"
	"net/http"
	"slices"
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

// resolveRates merges the defaults, per-class overrides and the global cap
// into the configured rate of every class.
func resolveRates(overrides map[string]float64, rps float64) (map[Class]float64, error) {
	if rps < 0 || math.IsNaN(rps) {
		return nil, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("rate cap %v is negative", rps), Fix: "pass a positive --rps, or 0 for the per-class defaults"}
	}
	rates := make(map[Class]float64, len(defaultRates))
	for c, r := range defaultRates {
		rates[c] = r
	}
	for name, r := range overrides {
		c := Class(name)
		if _, ok := defaultRates[c]; !ok {
			names := make([]string, 0, len(defaultRates))
			for _, k := range Classes() {
				names = append(names, string(k))
			}
			return nil, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("unknown rate class %q", name), Fix: "use one of " + strings.Join(names, ", ")}
		}
		if !(r > 0) {
			return nil, &ConfigError{Op: "check settings", Problem: fmt.Sprintf("rate %v for class %s is not positive", r, name), Fix: "pass a rate above 0 requests per second"}
		}
		rates[c] = r
	}
	if rps > 0 {
		for c, r := range rates {
			rates[c] = min(r, rps)
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
