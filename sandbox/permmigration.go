package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// This file emulates the permission migration API (reference §E; the
// public record and its sources are in docs/permission-migration.md): POST
// /api/2.0/permissionmigration carries the grants of a workspace-local group
// to an account group of the same workspace, at most "size" per call, and
// answers {"permissions_migrated": n} ({} when n is 0, as the SDK's
// omitempty model allows). Callers repeat it until n is 0. Both groups are
// resolved by name through the eventually consistent view that lists use:
// a rename or an assignment is seen only after Options.Consistency.
//
// Options.PermissionMigration (or SetPermissionMigration) chooses how:
//
//   - "strict" (the default) is the strictest reading of the record. The
//     call moves grants: the account group gets the local group's level and
//     the local group loses it, on object ACLs (in object registration
//     order) and then on secret scope ACLs. It refuses, with 400
//     BAD_REQUEST "Account group <name> already has permissions", an
//     account group that holds in this workspace any object or secret scope
//     grant that a migration from this same local group did not put there
//     at its current level (grants in other workspaces do not count, nor do
//     entitlements and roles). It refuses a local group that was not
//     renamed: from_workspace_group_name equal to to_account_group_name is
//     400 "Workspace group <name> is not a workspace local group", as is a
//     name that resolves to an account group. Names match byte for byte. A
//     batch is at most 1000 grants (size 0 or above 1000 means 1000). When
//     the account group already holds a grant on an object the call is
//     about to move (possible only when the local group was granted again
//     after an earlier batch moved that object), the call answers 500
//     INTERNAL_ERROR "Error when updating permissions table", keeping what
//     it moved before.
//   - "copy" (the sandbox's behaviour before strict existed) copies object
//     ACLs only: the account group's level becomes the higher of the two,
//     the local group keeps its grants, and only grants that changed the
//     account group's level are counted, so the loop ends. Nothing is
//     refused beyond unknown groups; names match case-insensitively; size 0
//     means every grant.
//   - "move" is copy that also removes the local group's object grants and
//     counts each one it removes.
//
// AddPermissionMigrationFault makes a chosen call, in any mode, move part of
// its batch, keep it, and answer the 500 above.

func init() {
	registerFamily(family{name: permMigrationFamily, load: loadPermMigration, routes: registerPermissionMigration})
}

// Permission migration modes (Options.PermissionMigration).
const (
	PermissionMigrationStrict = "strict"
	PermissionMigrationCopy   = "copy"
	PermissionMigrationMove   = "move"
)

// PermissionMigrationModes lists the accepted Options.PermissionMigration
// values, the default first.
var PermissionMigrationModes = []string{PermissionMigrationStrict, PermissionMigrationCopy, PermissionMigrationMove}

const (
	permMigrationFamily = "permissionmigration"
	// permMigrationMaxBatch is the most grants one strict call moves.
	permMigrationMaxBatch = 1000
	// msgPermissionsTable is the real service's 500 message (UCX issue #1914).
	msgPermissionsTable = "Error when updating permissions table"
)

// PermissionMigrationFault makes calls of POST /api/2.0/permissionmigration
// fail part-way, as the real service's 500 INTERNAL_ERROR "Error when
// updating permissions table" does: the failing call moves (or copies) up
// to After grants of its batch, keeps them, and answers the 500. Only calls
// that would otherwise move grants count: a refused or invalid call neither
// matches nor fails.
type PermissionMigrationFault struct {
	// Workspace limits the fault to calls routed to this workspace; 0 = any.
	Workspace int64
	// From limits the fault to calls naming this local group (byte-exact);
	// "" = any.
	From string
	// Offset lets this many matching calls through before the first failure.
	Offset int
	// After is the number of grants the failing call carries before it fails.
	After int
	// Times is the number of failing calls; 0 means every matching call
	// after Offset.
	Times int
}

// permMigration is the family's state, guarded by Server.mu.
type permMigration struct {
	mode   string
	faults []*permMigrationFaultRule
	// placed records, per workspace and account group id, the grants that
	// migrations put there: which local group they came from and at which
	// level. A strict call accepts an account group whose every grant in the
	// workspace is recorded here for the calling local group.
	placed map[int64]map[string]map[grantRef]placement
}

type permMigrationFaultRule struct {
	PermissionMigrationFault
	seen, injected int
}

// grantRef names one grant slot of a principal in a workspace: an object
// ACL (typ, id) or a secret scope ACL (secret, id = scope name).
type grantRef struct {
	secret  bool
	typ, id string
}

type placement struct {
	from  string // local group id
	level string
}

func loadPermMigration(s *Server, _ *Seed) (any, error) {
	mode := s.opts.PermissionMigration
	if mode == "" {
		mode = PermissionMigrationStrict
	}
	return &permMigration{mode: mode, placed: map[int64]map[string]map[grantRef]placement{}}, nil
}

// permMigrationState returns the family's state. Callers hold s.mu.
func (s *Server) permMigrationState() *permMigration {
	return s.ext[permMigrationFamily].(*permMigration)
}

// SetPermissionMigration switches how POST /api/2.0/permissionmigration
// behaves: PermissionMigrationStrict, PermissionMigrationCopy or
// PermissionMigrationMove (see Options.PermissionMigration). Grants already
// moved stay where they are. It is safe for concurrent use.
func (s *Server) SetPermissionMigration(mode string) error {
	if err := validPermissionMigration(mode); err != nil || mode == "" {
		return fmt.Errorf("set permission migration: mode %q is not one of %s", mode, strings.Join(PermissionMigrationModes, ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permMigrationState().mode = mode
	return nil
}

// PermissionMigration returns the current permission migration mode. It is
// safe for concurrent use.
func (s *Server) PermissionMigration() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.permMigrationState().mode
}

// AddPermissionMigrationFault installs a mid-batch fault of the permission
// migration API (see PermissionMigrationFault). Faults are tried in the order
// they were added; the first that fires wins. It is safe for concurrent use.
func (s *Server) AddPermissionMigrationFault(f PermissionMigrationFault) error {
	if f.Offset < 0 || f.After < 0 || f.Times < 0 {
		return fmt.Errorf("add permission migration fault: offset, after and times must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pm := s.permMigrationState()
	pm.faults = append(pm.faults, &permMigrationFaultRule{PermissionMigrationFault: f})
	return nil
}

// permMigrationFaultKeys are the keys of a --permission-migration-fault spec.
var permMigrationFaultKeys = []string{"workspace", "from", "offset", "after", "times"}

// ParsePermissionMigrationFault parses a --permission-migration-fault spec,
// comma-separated key=value pairs mapping onto [PermissionMigrationFault]:
//
//	workspace=ID   Workspace
//	from=NAME      From (byte-exact; write "ops " quoted to keep edge spaces)
//	offset=N       Offset
//	after=N        After: grants the failing call moves before its 500
//	times=N        Times (0 = every matching call after offset)
//
// A value may be a double-quoted Go string, as in ParseFault. For example,
// the second call for local group "team a" moves one grant and fails:
//
//	from="team a",offset=1,after=1,times=1
//
// Errors name the spec and the key.
func ParsePermissionMigrationFault(spec string) (PermissionMigrationFault, error) {
	var f PermissionMigrationFault
	fail := func(format string, a ...any) (PermissionMigrationFault, error) {
		return PermissionMigrationFault{}, fmt.Errorf("permission-migration-fault %q: %s", spec, fmt.Sprintf(format, a...))
	}
	parts, err := splitFaultSpec(spec)
	if err != nil {
		return fail("%v", err)
	}
	seen := map[string]bool{}
	for _, part := range parts {
		k, v, hasValue := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if k == "" && !hasValue {
			continue
		}
		if seen[k] {
			return fail("%s is given twice", k)
		}
		seen[k] = true
		if !hasValue {
			return fail("%s needs a value (%s=...)", k, k)
		}
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				return fail("%s: %s is not a valid quoted string", k, v)
			}
			v = u
		}
		number := func() (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s: %q is not an integer of at least 0", k, v)
			}
			return n, nil
		}
		switch k {
		case "workspace":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fail("workspace: %q is not a workspace id", v)
			}
			f.Workspace = n
		case "from":
			f.From = v
		case "offset":
			if f.Offset, err = number(); err != nil {
				return fail("%v", err)
			}
		case "after":
			if f.After, err = number(); err != nil {
				return fail("%v", err)
			}
		case "times":
			if f.Times, err = number(); err != nil {
				return fail("%v", err)
			}
		default:
			return fail("unknown key %q (want %s)", k, strings.Join(permMigrationFaultKeys, ", "))
		}
	}
	if len(seen) == 0 {
		return fail("give at least one key (%s); times=0 alone fails every call", strings.Join(permMigrationFaultKeys, ", "))
	}
	return f, nil
}

// validPermissionMigration checks an Options.PermissionMigration value ("" is
// the default).
func validPermissionMigration(mode string) error {
	switch mode {
	case "", PermissionMigrationStrict, PermissionMigrationCopy, PermissionMigrationMove:
		return nil
	}
	return fmt.Errorf("permission_migration: %q is not one of %s", mode, strings.Join(PermissionMigrationModes, ", "))
}

func registerPermissionMigration(s *Server) {
	s.handle(route{method: "POST", pattern: "/api/2.0/permissionmigration", class: ClassPermissionsWrite,
		scope: scopeWorkspace, access: accessWorkspaceAdmin, write: true, handle: s.migratePermissions})
}

func (s *Server) migratePermissions(c *call) error {
	var body struct {
		WorkspaceID int64  `json:"workspace_id"`
		From        string `json:"from_workspace_group_name"`
		To          string `json:"to_account_group_name"`
		Size        int    `json:"size"`
	}
	if err := c.decode(&body); err != nil {
		return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
	}
	w := c.ws
	switch {
	case body.WorkspaceID == 0:
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: workspace_id")
	case body.WorkspaceID != w.id:
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "workspace_id %d does not match the workspace %d", body.WorkspaceID, w.id)
	case strings.TrimSpace(body.From) == "":
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: from_workspace_group_name")
	case strings.TrimSpace(body.To) == "":
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: to_account_group_name")
	case body.Size < 0:
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "size must not be negative")
	}
	pm := s.permMigrationState()
	strict := pm.mode == PermissionMigrationStrict
	if strict && body.From == body.To {
		// The local group still carries the account group's name: it was
		// not renamed (UCX renames first to avoid exactly this).
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group %s is not a workspace local group", body.From)
	}
	from, to := s.listedGroup(c, body.From, w.id, strict), s.listedGroup(c, body.To, 0, strict)
	if from == nil {
		if s.listedGroup(c, body.From, 0, strict) != nil {
			return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group %s is not a workspace local group", body.From)
		}
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group %s does not exist", body.From)
	}
	if to == nil {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Account group %s does not exist in workspace %d", body.To, w.id)
	}
	g := s.grants(w)
	if strict {
		if s.holdsForeignGrant(g, w, from, to) {
			return restErr(http.StatusBadRequest, "BAD_REQUEST", "Account group %s already has permissions", body.To)
		}
	}
	limit := body.Size
	switch {
	case strict && (limit == 0 || limit > permMigrationMaxBatch):
		limit = permMigrationMaxBatch
	case limit == 0:
		limit = math.MaxInt
	}
	fault := pm.fault(w.id, body.From)
	if fault != nil {
		limit = min(limit, fault.After)
	}
	var n int
	var e *apiError
	switch pm.mode {
	case PermissionMigrationStrict:
		n, e = s.moveGrants(g, w, from, to, limit)
	default:
		n = s.copyGrants(g, w, from, to, limit, pm.mode == PermissionMigrationMove)
	}
	if e == nil && fault != nil {
		e = restErr(http.StatusInternalServerError, "INTERNAL_ERROR", msgPermissionsTable)
	}
	if e != nil {
		return e
	}
	if n == 0 {
		return c.reply(http.StatusOK, struct{}{})
	}
	return c.reply(http.StatusOK, map[string]int{"permissions_migrated": n})
}

// fault returns the fault rule that fires for a call of workspace ws naming
// local group from, counting the call against every rule it matches up to
// the one that fires.
func (pm *permMigration) fault(ws int64, from string) *PermissionMigrationFault {
	for _, f := range pm.faults {
		if f.Workspace != 0 && f.Workspace != ws {
			continue
		}
		if f.From != "" && f.From != from {
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
		cp := f.PermissionMigrationFault
		return &cp
	}
	return nil
}

// holdsForeignGrant reports whether account group to holds, in workspace w,
// a grant that no migration from local group from put there at its current
// level.
func (s *Server) holdsForeignGrant(g *wsGrants, w *workspace, from, to *principal) bool {
	placed := s.permMigrationState().placed[w.id][to.id]
	foreign := func(ref grantRef, level string) bool {
		p, ok := placed[ref]
		return !ok || p.from != from.id || p.level != level
	}
	for _, k := range g.order {
		if lvl := g.objects[k].level(to.id); lvl != "" {
			if foreign(grantRef{typ: k.typ, id: k.id}, lvl) {
				return true
			}
		}
	}
	for _, sc := range g.scopes {
		if lvl := secretLevel(sc, to.id); lvl != "" {
			if foreign(grantRef{secret: true, id: sc.name}, lvl) {
				return true
			}
		}
	}
	return false
}

// place records that a migration from local group from gave account group
// to the level on ref in workspace ws.
func (s *Server) place(ws int64, to *principal, ref grantRef, from *principal, level string) {
	pm := s.permMigrationState()
	byAG := pm.placed[ws]
	if byAG == nil {
		byAG = map[string]map[grantRef]placement{}
		pm.placed[ws] = byAG
	}
	refs := byAG[to.id]
	if refs == nil {
		refs = map[grantRef]placement{}
		byAG[to.id] = refs
	}
	refs[ref] = placement{from: from.id, level: level}
}

// moveGrants is one strict call: it moves up to limit grants of from to to
// (object ACLs first, then secret scope ACLs) and returns how many it moved.
// A grant to already holds stops the call with the permissions table 500,
// keeping what was moved before it.
func (s *Server) moveGrants(g *wsGrants, w *workspace, from, to *principal, limit int) (int, *apiError) {
	n := 0
	for _, k := range g.order {
		if n >= limit {
			return n, nil
		}
		a := g.objects[k]
		src := a.level(from.id)
		if src == "" || src == "IS_OWNER" {
			continue // groups never own objects here; an owner is never moved
		}
		if a.level(to.id) != "" {
			return n, restErr(http.StatusInternalServerError, "INTERNAL_ERROR", msgPermissionsTable)
		}
		a.set(to.id, src)
		a.remove(from.id)
		s.place(w.id, to, grantRef{typ: k.typ, id: k.id}, from, src)
		n++
	}
	for _, sc := range g.scopes {
		if n >= limit {
			return n, nil
		}
		src := secretLevel(sc, from.id)
		if src == "" {
			continue
		}
		if secretLevel(sc, to.id) != "" {
			return n, restErr(http.StatusInternalServerError, "INTERNAL_ERROR", msgPermissionsTable)
		}
		for i := range sc.acls {
			if sc.acls[i].principal == from.id {
				sc.acls[i].principal = to.id
				break
			}
		}
		s.place(w.id, to, grantRef{secret: true, id: sc.name}, from, src)
		n++
	}
	return n, nil
}

// copyGrants is one copy or move call on object ACLs: the account group's
// level becomes the higher of the two; with remove, the local group's grant
// goes. It returns the number of grants counted:
// every removed one, or (copying) every one that changed the account
// group's level.
func (s *Server) copyGrants(g *wsGrants, w *workspace, from, to *principal, limit int, remove bool) int {
	n := 0
	for _, k := range g.order {
		if n >= limit {
			break
		}
		a := g.objects[k]
		src := a.level(from.id)
		if src == "" || src == "IS_OWNER" {
			continue
		}
		dst := a.level(to.id)
		changed := levelRank(k.typ, src) > levelRank(k.typ, dst)
		if changed {
			a.set(to.id, src)
			s.place(w.id, to, grantRef{typ: k.typ, id: k.id}, from, src)
		}
		if remove {
			a.remove(from.id)
			n++
		} else if changed {
			n++
		}
	}
	return n
}

// secretLevel returns principal id's permission on scope sc, "" when none.
func secretLevel(sc *secretScope, id string) string {
	for _, e := range sc.acls {
		if e.principal == id {
			return e.level
		}
	}
	return ""
}

// listedGroup finds the live group named name as lists see it at the
// request time: for ws != 0 a local group of workspace ws; for ws == 0 an
// account group listed in the routed workspace (assigned, and created
// longer than the consistency delay ago). Names match byte for byte when
// exact is set, else case-insensitively.
func (s *Server) listedGroup(c *call, name string, ws int64, exact bool) *principal {
	delay := s.opts.Consistency
	for _, p := range s.st.order {
		if p.kind != kindGroup || p.ws != ws || !p.live() {
			continue
		}
		if listed := listedName(p, c.now, delay); !sameName(listed, name, exact) {
			continue
		}
		if s.st.listed(p, c.ws, c.now, delay) {
			return p
		}
	}
	return nil
}

// sameName compares group names byte for byte when exact is set, else
// case-insensitively.
func sameName(a, b string, exact bool) bool {
	if exact {
		return a == b
	}
	return strings.EqualFold(a, b)
}
