package sandbox

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Endpoint classes: every /api route belongs to one; rate limits are set per
// class, per workspace (and separately for the account).
const (
	ClassSCIMRead         = "scim-read"
	ClassSCIMWrite        = "scim-write" // POST, PUT, DELETE
	ClassSCIMPatch        = "scim-patch"
	ClassAccountSCIMRead  = "account-scim-read"
	ClassAccountSCIMWrite = "account-scim-write"
	ClassAccountSCIMPatch = "account-scim-patch"
	ClassAssignments      = "assignments"
	ClassPermissionsRead  = "permissions-read"
	ClassPermissionsWrite = "permissions-write"
	ClassDefault          = "default"
)

// Throttle styles (Options.ThrottleStyle).
const (
	ThrottleStyle429     = "429"     // HTTP 429, REST body REQUEST_LIMIT_EXCEEDED, Retry-After
	ThrottleStyleSCIM500 = "scim500" // HTTP 500, SCIM body "REQUEST_LIMIT_EXCEEDED: ..." (SCIM endpoints)
)

const (
	defaultPageCap         = 100
	accountFilterNodeLimit = 200 // account SCIM filter nodes
)

// Classes lists every endpoint class name.
var Classes = []string{
	ClassSCIMRead, ClassSCIMWrite, ClassSCIMPatch,
	ClassAccountSCIMRead, ClassAccountSCIMWrite, ClassAccountSCIMPatch,
	ClassAssignments, ClassPermissionsRead, ClassPermissionsWrite, ClassDefault,
}

// Options configure a Server. Zero values mean "use the seed's knobs, else
// the default"; see each field.
type Options struct {
	// Seed is the initial state; nil means DefaultSeed().
	Seed *Seed
	// PageCap is the largest SCIM page returned, whatever count asks for.
	// Default 100.
	PageCap int
	// Latency is added to every /api call before it is handled.
	Latency time.Duration
	// RateLimits are requests per second per endpoint class (see Classes),
	// enforced per workspace and separately for the account with token
	// buckets of burst max(1, rate). Absent or 0 means unlimited.
	RateLimits map[string]float64
	// ThrottleStyle is "429" (default: HTTP 429, REST body
	// REQUEST_LIMIT_EXCEEDED, Retry-After) or "scim500" (HTTP 500 SCIM body
	// whose detail starts with REQUEST_LIMIT_EXCEEDED). Only SCIM endpoints
	// use scim500; the others always answer 429.
	ThrottleStyle string
	// OmitRetryAfter drops the Retry-After header from 429 replies
	// (by default it is sent, in whole seconds).
	OmitRetryAfter bool
	// MaxConcurrent caps in-flight /api requests per workspace (and for the
	// account); excess requests get a SCIM 500 "REQUEST_LIMIT_EXCEEDED:
	// Workspace N exceeded the concurrent limit of K requests." (429 on
	// non-SCIM endpoints). 0 means unlimited.
	MaxConcurrent int
	// FaultRate is the share (0..1) of /api requests answered, before their
	// handler runs, with a 500, a 503 or a dropped connection, drawn from a
	// generator seeded with FaultSeed.
	FaultRate float64
	FaultSeed uint64
	// Consistency delays the effect of creates, renames and deletes on lists
	// and filters (GET by id is immediate).
	Consistency time.Duration
	// AccountListMembers makes account group lists include members (the
	// behaviour before 2025-08-22). By default they never do.
	AccountListMembers bool
	// PatchStatus is the status of a successful SCIM PATCH: 204 (default,
	// empty body) or 200 (body "{}").
	PatchStatus int
	// FilterDialect is FilterStrict (default, also ""): SCIM list filters
	// outside what Databricks documents get its 400 "InvalidFilter" reply;
	// or FilterLenient: the full RFC 7644 grammar on any attribute.
	FilterDialect string
	// PermissionMigration is how POST /api/2.0/permissionmigration behaves:
	// "strict" (default: moves grants, refuses an account group that holds
	// grants the migration did not put there and a local group that was not
	// renamed), "copy" or "move" (lenient readings that refuse nothing);
	// see PermissionMigrationStrict and docs/permission-migration.md.
	PermissionMigration string
	// AccountPATs lets account APIs accept a workspace's personal access
	// token (its role still decides). By default they answer 401: the
	// account console takes OAuth tokens.
	AccountPATs bool
	// ListAllObjects shows every job, cluster, pipeline, serving endpoint
	// and app to every workspace member, in lists and gets. By default a
	// non-admin sees only the objects it holds a permission on, as the SDK
	// documents for queries, alerts, warehouses and dashboards (those are
	// always filtered).
	ListAllObjects bool
	// ManagersSetOwner lets a non-admin holder of CAN_MANAGE or IS_OWNER
	// give an object a new owner (IS_OWNER). By default only workspace
	// admins can; other managers may change every other grant.
	ManagersSetOwner bool
	// ListUnboundModels makes the metastore-wide registered models list
	// include the models of isolated catalogs not bound to the caller's
	// workspace. By default it leaves them out, as everything else of such
	// a catalog is out of that workspace's reach (unitycatalog.go).
	ListUnboundModels bool
	// Now is the clock for consistency delays and rate limits; default
	// time.Now.
	Now func() time.Time
}

// applyTo fills o's zero fields from the knobs.
func (k *SeedKnobs) applyTo(o *Options) {
	if k == nil {
		return
	}
	if o.PageCap == 0 {
		o.PageCap = k.PageCap
	}
	if o.Latency == 0 {
		o.Latency = time.Duration(k.Latency)
	}
	if len(k.RateLimits) > 0 {
		merged := maps.Clone(k.RateLimits)
		maps.Copy(merged, o.RateLimits)
		o.RateLimits = merged
	}
	if o.ThrottleStyle == "" {
		o.ThrottleStyle = k.ThrottleStyle
	}
	o.OmitRetryAfter = o.OmitRetryAfter || k.OmitRetryAfter
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = k.MaxConcurrent
	}
	if o.FaultRate == 0 {
		o.FaultRate = k.FaultRate
	}
	if o.FaultSeed == 0 {
		o.FaultSeed = k.FaultSeed
	}
	if o.Consistency == 0 {
		o.Consistency = time.Duration(k.Consistency)
	}
	o.AccountListMembers = o.AccountListMembers || k.AccountListMembers
	if o.PatchStatus == 0 {
		o.PatchStatus = k.PatchStatus
	}
	if o.FilterDialect == "" {
		o.FilterDialect = k.FilterDialect
	}
	if o.PermissionMigration == "" {
		o.PermissionMigration = k.PermissionMigration
	}
	o.AccountPATs = o.AccountPATs || k.AccountPATs
	o.ListAllObjects = o.ListAllObjects || k.ListAllObjects
	o.ManagersSetOwner = o.ManagersSetOwner || k.ManagersSetOwner
	o.ListUnboundModels = o.ListUnboundModels || k.ListUnboundModels
}

func (o *Options) validate() error {
	switch {
	case o.PageCap < 0:
		return fmt.Errorf("page_cap: %d is negative", o.PageCap)
	case o.Latency < 0:
		return fmt.Errorf("latency: %v is negative", o.Latency)
	case o.MaxConcurrent < 0:
		return fmt.Errorf("max_concurrent: %d is negative", o.MaxConcurrent)
	case o.FaultRate < 0 || o.FaultRate > 1 || math.IsNaN(o.FaultRate):
		return fmt.Errorf("fault_rate: %v is not between 0 and 1", o.FaultRate)
	case o.Consistency < 0:
		return fmt.Errorf("consistency: %v is negative", o.Consistency)
	}
	switch o.ThrottleStyle {
	case "", ThrottleStyle429, ThrottleStyleSCIM500:
	default:
		return fmt.Errorf("throttle_style: %q is not %q or %q", o.ThrottleStyle, ThrottleStyle429, ThrottleStyleSCIM500)
	}
	switch o.PatchStatus {
	case 0, http.StatusOK, http.StatusNoContent:
	default:
		return fmt.Errorf("patch_status: %d is not 200 or 204", o.PatchStatus)
	}
	switch o.FilterDialect {
	case "", FilterStrict, FilterLenient:
	default:
		return fmt.Errorf("filter_dialect: %q is not %q or %q", o.FilterDialect, FilterStrict, FilterLenient)
	}
	if err := validPermissionMigration(o.PermissionMigration); err != nil {
		return err
	}
	for _, c := range slices.Sorted(maps.Keys(o.RateLimits)) {
		if !slices.Contains(Classes, c) {
			return fmt.Errorf("rate_limits: unknown endpoint class %q", c)
		}
		if r := o.RateLimits[c]; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return fmt.Errorf("rate_limits: %s rate %v is not a non-negative number", c, r)
		}
	}
	return nil
}

// Server is the emulator: an http.Handler serving the account APIs and every
// workspace's APIs on one listener. All its methods are safe for concurrent
// use.
type Server struct {
	opts Options
	now  func() time.Time

	mu sync.RWMutex // guards st and ext
	st *state
	// ext holds the state of resource families added by other files,
	// keyed by family name (see the package documentation).
	ext map[string]any

	mux    *http.ServeMux
	routes []route                 // every registered route, in registration order (docs test)
	scopes map[int64]*scopeRuntime // 0 = account

	stats statsRecorder

	faultMu   sync.Mutex
	faults    []*faultRule
	faultRand *rand.Rand

	// hold, if set, runs for every /api request after admission control and
	// before its handler (tests use it to keep requests in flight).
	hold func(*http.Request)

	ln  net.Listener
	hs  *http.Server
	url string
}

// scopeRuntime is the admission state of one workspace or of the account.
type scopeRuntime struct {
	label    string // "Workspace 123" or "Account <id>"
	inFlight atomic.Int64
	limiters map[string]*rate.Limiter
	rates    map[string]float64
}

// family is a group of emulated endpoints with its own state: SCIM,
// assignments, and whatever later files add (see the package documentation).
type family struct {
	name string
	// load builds the family's state from the seed; the result is stored in
	// Server.ext[name]. Optional.
	load func(s *Server, seed *Seed) (any, error)
	// routes registers the family's handlers with s.handle.
	routes func(s *Server)
	// snapshot adds the family's state to a State (called with s.mu held
	// for reading). Optional.
	snapshot func(s *Server, out *State)
}

var families []family

// registerFamily adds a resource family; call it from an init function.
func registerFamily(f family) {
	families = append(families, f)
}

// New builds a Server from opts. The seed is validated and copied; nothing
// listens until Start (or use the Server as an http.Handler).
func New(opts Options) (*Server, error) {
	seed := opts.Seed
	if seed == nil {
		seed = DefaultSeed()
	} else if err := seed.Validate(); err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	seed.Knobs.applyTo(&opts)
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("new sandbox: options: %w", err)
	}
	if opts.PageCap == 0 {
		opts.PageCap = defaultPageCap
	}
	if opts.ThrottleStyle == "" {
		opts.ThrottleStyle = ThrottleStyle429
	}
	if opts.PatchStatus == 0 {
		opts.PatchStatus = http.StatusNoContent
	}
	st, err := newState(seed)
	if err != nil {
		return nil, fmt.Errorf("new sandbox: %w", err)
	}
	s := &Server{
		opts:      opts,
		now:       opts.Now,
		st:        st,
		ext:       map[string]any{},
		mux:       http.NewServeMux(),
		scopes:    map[int64]*scopeRuntime{},
		faultRand: rand.New(rand.NewPCG(opts.FaultSeed, 0x5eed)),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.scopes[0] = s.newScope("Account " + st.accountID)
	for _, w := range st.workspaces {
		s.scopes[w.id] = s.newScope("Workspace " + strconv.FormatInt(w.id, 10))
	}
	s.stats.reset()
	for _, f := range families {
		if f.load != nil {
			v, err := f.load(s, seed)
			if err != nil {
				return nil, fmt.Errorf("new sandbox: %s: %w", f.name, err)
			}
			s.ext[f.name] = v
		}
		f.routes(s)
	}
	s.mux.HandleFunc("/", s.notFound)
	return s, nil
}

func (s *Server) newScope(label string) *scopeRuntime {
	sc := &scopeRuntime{label: label, limiters: map[string]*rate.Limiter{}, rates: map[string]float64{}}
	for class, r := range s.opts.RateLimits {
		if r > 0 {
			burst := int(math.Max(1, r))
			sc.limiters[class] = rate.NewLimiter(rate.Limit(r), burst)
			sc.rates[class] = r
		}
	}
	return sc
}

// Start builds a Server and serves it on addr (for example "127.0.0.1:0")
// until Close.
func Start(addr string, opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// NewTestServer starts a Server on a loopback port for the duration of the
// test (closed by t.Cleanup). A nil opts.Seed means the default seed.
func NewTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close stops serving; in-flight requests are cut. It is a no-op for a
// Server that was never started.
func (s *Server) Close() {
	if s.hs != nil {
		_ = s.hs.Close()
	}
}

// URL is the base URL ("http://127.0.0.1:PORT") of a started Server: the
// host for account and workspace clients alike.
func (s *Server) URL() string { return s.url }

// AccountID is the account's id.
func (s *Server) AccountID() string { return s.st.accountID }

// AdminToken returns the first working account-admin token, an
// account-level one if there is any ("" if there is none; a token stops
// working when its principal is deleted). In the default seed it is an
// account-level token whose principal is an admin of every workspace.
func (s *Server) AdminToken() string { return s.tokenWithRole(RoleAccountAdmin) }

// UserToken returns the first working non-admin user token, an
// account-level one if there is any ("" if there is none).
func (s *Server) UserToken() string { return s.tokenWithRole(RoleUser) }

// WorkspaceAdminToken returns the first working token that is admin of
// workspace id only ("" if there is none).
func (s *Server) WorkspaceAdminToken(id int64) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, t := range s.st.tokenOrder {
		if t.role == RoleWorkspaceAdmin && t.ws == id && s.st.tokens[t.value] != nil {
			return t.value
		}
	}
	return ""
}

func (s *Server) tokenWithRole(role string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	pat := ""
	for _, t := range s.st.tokenOrder {
		if t.role != role || s.st.tokens[t.value] == nil {
			continue
		}
		if t.ws == 0 {
			return t.value
		}
		if pat == "" {
			pat = t.value
		}
	}
	return pat
}

// SeedWorkspaceSummary describes one workspace of the sandbox.
type SeedWorkspaceSummary struct {
	WorkspaceID       int64  `json:"workspace_id"`
	WorkspaceName     string `json:"workspace_name"`
	DeploymentName    string `json:"deployment_name"`
	Cloud             string `json:"cloud"`
	IdentityFederated bool   `json:"identity_federated"`
}

// Workspaces lists the sandbox's workspaces in seed order (the first one
// receives workspace calls without X-Databricks-Workspace-Id).
func (s *Server) Workspaces() []SeedWorkspaceSummary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]SeedWorkspaceSummary, len(s.st.workspaces))
	for i, w := range s.st.workspaces {
		out[i] = SeedWorkspaceSummary{WorkspaceID: w.id, WorkspaceName: w.name,
			DeploymentName: w.deployment, Cloud: w.cloud, IdentityFederated: w.federated}
	}
	return out
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, restBody{ErrorCode: "ENDPOINT_NOT_FOUND",
		Message: fmt.Sprintf("No API found for '%s %s'", r.Method, r.URL.Path)})
}
