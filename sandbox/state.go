package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// kind is a principal type.
type kind uint8

const (
	kindUser kind = iota + 1
	kindSP
	kindGroup
)

func (k kind) String() string {
	switch k {
	case kindUser:
		return "user"
	case kindSP:
		return "service principal"
	case kindGroup:
		return "group"
	}
	return "principal"
}

// resource is the SCIM collection name, also used in $ref values.
func (k kind) resource() string {
	switch k {
	case kindUser:
		return "Users"
	case kindSP:
		return "ServicePrincipals"
	}
	return "Groups"
}

// Names of system groups.
const (
	accountUsersGroup = "account users"
	usersGroup        = "users"
	adminsGroup       = "admins"
)

// principal is a user, service principal or group: an account principal
// (ws == 0, same id in the account and every workspace) or a workspace-local
// one (ws = owning workspace id).
type principal struct {
	id   string
	seq  uint64
	kind kind
	ws   int64

	userName      string // users
	applicationID string // service principals
	displayName   string
	givenName     string
	familyName    string
	externalID    string
	active        bool
	roles         []string // account roles (account principals only)
	members       []string // groups: explicit member ids, insertion order
	implicit      bool     // system group whose members are computed ("users", "account users")

	created time.Time // zero for seeded principals
	deleted time.Time // zero while live
	tombWS  map[int64]bool
	oldName string    // displayName before the last rename, while it is still cached
	renamed time.Time // when the last rename happened
}

// name is the principal's unique name in its scope.
func (p *principal) name() string {
	switch p.kind {
	case kindUser:
		return p.userName
	case kindSP:
		return p.applicationID
	}
	return p.displayName
}

func (p *principal) live() bool { return p.deleted.IsZero() }

// workspace is one workspace's metadata and workspace-level state.
type workspace struct {
	id          int64
	name        string
	deployment  string
	cloud       string
	status      string
	region      string
	creation    int64
	pricingTier string
	federated   bool
	metastoreID string

	assignments  map[string][]string // account principal id -> ["USER"] or ["ADMIN"]
	entitlements map[string][]string // principal id -> entitlements in this workspace
	roles        map[string][]string // principal id -> workspace roles (instance profiles)

	usersGroup  string // id of the "users" system group
	adminsGroup string // id of the "admins" system group

	visVersion uint64          // guarded by state.cacheMu
	vis        map[string]bool // guarded by state.cacheMu
}

type nameKey struct {
	ws   int64
	kind kind
	name string // lower case
}

// token is an accepted bearer token.
type token struct {
	value     string
	principal string
	role      string
	ws        int64
}

// state is the emulator's data. It is guarded by Server.mu (read lock for
// reads, write lock for changes), except the visibility cache, which has its
// own mutex so readers can fill it.
type state struct {
	accountID      string
	accountUsersID string

	byID    map[string]*principal
	order   []*principal // creation order, including tombstones
	names   map[nameKey]*principal
	parents map[string][]string // member id -> ids of groups that list it explicitly

	workspaces []*workspace
	wsByID     map[int64]*workspace

	tokens     map[string]*token
	tokenOrder []*token

	nextSeq  uint64
	nextID   int64
	nextApp  int
	version  uint64 // bumped by every change to membership, assignments or principals
	cacheMu  sync.Mutex
	hasTombs bool

	// lastChange is the latest creation or deletion time (see listedAll).
	lastChange time.Time
	// lists caches listedAll's results while they do not depend on the
	// request time; guarded by cacheMu.
	lists map[listKey]listEntry
}

// listKey names a list of candidates: the principals of one kind in one
// scope (ws nil: account).
type listKey struct {
	ws   *workspace
	kind kind
}

// listEntry is a cached list of candidates, valid while the state's version
// is version.
type listEntry struct {
	version uint64
	ps      []*principal
}

// newState builds the state from a validated seed.
func newState(seed *Seed) (*state, error) {
	st := &state{
		accountID: seed.AccountID,
		byID:      map[string]*principal{},
		names:     map[nameKey]*principal{},
		parents:   map[string][]string{},
		wsByID:    map[int64]*workspace{},
		tokens:    map[string]*token{},
	}
	// Ids allocated at run time follow the largest seeded id.
	maxID := int64(0)
	forEachSeedID(seed, func(id string) {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > maxID {
			maxID = n
		}
	})
	st.nextID = maxID + 1

	for _, u := range seed.Users {
		st.insert(seedUser(u, 0))
	}
	for _, sp := range seed.ServicePrincipals {
		st.insert(seedSP(sp, 0))
	}
	for _, g := range seed.Groups {
		p := &principal{id: g.ID, kind: kindGroup, displayName: g.DisplayName, externalID: g.ExternalID,
			roles: slices.Clone(g.Roles), active: true}
		if g.DisplayName == accountUsersGroup {
			p.implicit = true
			st.accountUsersID = g.ID
		}
		st.insert(p)
	}
	if st.accountUsersID == "" {
		p := &principal{id: st.allocID(), kind: kindGroup, displayName: accountUsersGroup, implicit: true, active: true}
		st.insert(p)
		st.accountUsersID = p.id
	}
	for _, g := range seed.Groups {
		if g.DisplayName == accountUsersGroup {
			continue
		}
		for _, m := range g.Members {
			st.addMember(st.byID[g.ID], m)
		}
	}
	for _, sw := range seed.Workspaces {
		w := &workspace{
			id: sw.WorkspaceID, name: sw.WorkspaceName, deployment: sw.DeploymentName,
			cloud: strings.ToLower(sw.Cloud), status: sw.WorkspaceStatus, region: sw.Region,
			creation: sw.CreationTime, pricingTier: sw.PricingTier, federated: sw.IdentityFederated,
			metastoreID:  sw.MetastoreID,
			assignments:  map[string][]string{},
			entitlements: map[string][]string{},
			roles:        map[string][]string{},
		}
		if w.deployment == "" {
			w.deployment = fmt.Sprintf("dbc-%d", w.id)
		}
		if w.cloud == "" {
			w.cloud = "aws"
		}
		if w.status == "" {
			w.status = "RUNNING"
		}
		if w.pricingTier == "" {
			w.pricingTier = "PREMIUM"
		}
		if w.federated && w.metastoreID == "" {
			w.metastoreID = uuidFrom("metastore", st.accountID)
		}
		st.workspaces = append(st.workspaces, w)
		st.wsByID[w.id] = w
		for _, u := range sw.Users {
			st.insert(seedUser(u, w.id))
		}
		for _, sp := range sw.ServicePrincipals {
			st.insert(seedSP(sp, w.id))
		}
		for _, g := range sw.Groups {
			p := &principal{id: g.ID, kind: kindGroup, ws: w.id, displayName: g.DisplayName,
				externalID: g.ExternalID, active: true}
			st.insert(p)
			switch g.DisplayName {
			case usersGroup:
				p.implicit = true
				w.usersGroup = p.id
			case adminsGroup:
				w.adminsGroup = p.id
			}
		}
		if w.adminsGroup == "" {
			p := &principal{id: st.allocID(), kind: kindGroup, ws: w.id, displayName: adminsGroup, active: true}
			st.insert(p)
			w.adminsGroup = p.id
		}
		if w.usersGroup == "" {
			p := &principal{id: st.allocID(), kind: kindGroup, ws: w.id, displayName: usersGroup, implicit: true, active: true}
			st.insert(p)
			w.usersGroup = p.id
		}
		for _, g := range sw.Groups {
			if g.DisplayName == usersGroup {
				continue // implicit: every workspace user
			}
			for _, m := range g.Members {
				st.addMember(st.byID[g.ID], m)
			}
		}
		for _, a := range sw.Assignments {
			if perms := normalizePermissions(a.Permissions); perms != nil {
				w.assignments[a.Principal] = perms
			}
		}
		for id, e := range sw.Entitlements {
			if len(e) > 0 {
				w.entitlements[id] = sortedSet(e)
			}
		}
		for id, r := range sw.Roles {
			if len(r) > 0 {
				w.roles[id] = sortedSet(r)
			}
		}
	}
	if err := st.initTokens(seed); err != nil {
		return nil, err
	}
	return st, nil
}

func forEachSeedID(seed *Seed, f func(string)) {
	for _, u := range seed.Users {
		f(u.ID)
	}
	for _, sp := range seed.ServicePrincipals {
		f(sp.ID)
	}
	for _, g := range seed.Groups {
		f(g.ID)
	}
	for _, w := range seed.Workspaces {
		for _, u := range w.Users {
			f(u.ID)
		}
		for _, sp := range w.ServicePrincipals {
			f(sp.ID)
		}
		for _, g := range w.Groups {
			f(g.ID)
		}
	}
}

func seedUser(u SeedUser, ws int64) *principal {
	p := &principal{id: u.ID, kind: kindUser, ws: ws, userName: u.UserName, displayName: u.DisplayName,
		givenName: u.GivenName, familyName: u.FamilyName, externalID: u.ExternalID,
		active: u.Active == nil || *u.Active, roles: slices.Clone(u.Roles)}
	if p.displayName == "" {
		p.displayName = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	if p.displayName == "" {
		p.displayName = u.UserName
	}
	return p
}

func seedSP(sp SeedServicePrincipal, ws int64) *principal {
	p := &principal{id: sp.ID, kind: kindSP, ws: ws, applicationID: sp.ApplicationID,
		displayName: sp.DisplayName, externalID: sp.ExternalID,
		active: sp.Active == nil || *sp.Active, roles: slices.Clone(sp.Roles)}
	if p.displayName == "" {
		p.displayName = sp.ApplicationID
	}
	return p
}

// initTokens installs the seed's tokens, or derives an account-admin token
// and a user token when the seed has none.
func (st *state) initTokens(seed *Seed) error {
	add := func(t *token) {
		st.tokens[t.value] = t
		st.tokenOrder = append(st.tokenOrder, t)
	}
	if len(seed.Tokens) > 0 {
		for _, t := range seed.Tokens {
			add(&token{value: t.Token, principal: t.Principal, role: t.Role, ws: t.WorkspaceID})
		}
		return nil
	}
	var admin, user *principal
	for _, p := range st.order {
		if p.ws == 0 && p.kind == kindUser && p.active && slices.Contains(p.roles, RoleAccountAdmin) {
			admin = p
			break
		}
	}
	if admin == nil {
		for _, p := range st.order {
			if p.ws == 0 && p.kind == kindUser {
				admin = p
				break
			}
		}
	}
	if admin == nil {
		return fmt.Errorf("invalid seed: tokens: no account user to own the derived admin token")
	}
	add(&token{value: patFrom(st.accountID, "admin"), principal: admin.id, role: RoleAccountAdmin})
	first := st.workspaces[0]
	for _, p := range st.order {
		if p.kind == kindUser && p.active && p != admin && !slices.Contains(p.roles, RoleAccountAdmin) &&
			st.visible(first, p) && !st.isMember(first.adminsGroup, p.id) {
			user = p
			break
		}
	}
	if user != nil {
		add(&token{value: patFrom(st.accountID, "user"), principal: user.id, role: RoleUser})
	}
	return nil
}

// patFrom derives a deterministic token that looks like a Databricks PAT.
func patFrom(parts ...string) string {
	h := sha256.Sum256([]byte("sandbox-token\x00" + strings.Join(parts, "\x00")))
	return "dapi" + hex.EncodeToString(h[:16])
}

// uuidFrom derives a deterministic version-4-shaped UUID.
func uuidFrom(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	s := hex.EncodeToString(h[:16])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func sortedSet(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func (st *state) allocID() string {
	id := strconv.FormatInt(st.nextID, 10)
	st.nextID++
	return id
}

// newApplicationID returns a fresh deterministic application id.
func (st *state) newApplicationID() string {
	st.nextApp++
	return uuidFrom("application", st.accountID, strconv.Itoa(st.nextApp))
}

func (st *state) key(p *principal) nameKey {
	return nameKey{ws: p.ws, kind: p.kind, name: strings.ToLower(p.name())}
}

// insert adds p to the indexes, assigning its creation sequence.
func (st *state) insert(p *principal) {
	st.nextSeq++
	p.seq = st.nextSeq
	st.byID[p.id] = p
	st.order = append(st.order, p)
	st.names[st.key(p)] = p
	st.version++
}

// lookupName finds the live principal of kind k named name in scope ws.
func (st *state) lookupName(ws int64, k kind, name string) *principal {
	return st.names[nameKey{ws: ws, kind: k, name: strings.ToLower(name)}]
}

// get returns the live principal with id, or nil.
func (st *state) get(id string) *principal {
	p := st.byID[id]
	if p == nil || !p.live() {
		return nil
	}
	return p
}

func (st *state) isMember(groupID, memberID string) bool {
	return slices.Contains(st.parents[memberID], groupID)
}

func (st *state) addMember(g *principal, memberID string) {
	if slices.Contains(g.members, memberID) {
		return
	}
	g.members = append(g.members, memberID)
	st.parents[memberID] = append(st.parents[memberID], g.id)
	st.version++
}

func (st *state) removeMember(g *principal, memberID string) {
	i := slices.Index(g.members, memberID)
	if i < 0 {
		return
	}
	g.members = slices.Delete(g.members, i, i+1)
	ps := st.parents[memberID]
	if j := slices.Index(ps, g.id); j >= 0 {
		ps = slices.Delete(ps, j, j+1)
	}
	if len(ps) == 0 {
		delete(st.parents, memberID)
	} else {
		st.parents[memberID] = ps
	}
	st.version++
}

// visSet returns the ids of account principals visible in a federated
// workspace: assigned principals and, transitively, members of assigned
// account groups ("account users" implicitly holds every account user and
// service principal). The result is cached until the state changes; callers
// must not modify it.
func (st *state) visSet(w *workspace) map[string]bool {
	st.cacheMu.Lock()
	defer st.cacheMu.Unlock()
	if w.vis != nil && w.visVersion == st.version {
		return w.vis
	}
	vis := map[string]bool{}
	if w.federated {
		queue := make([]string, 0, len(w.assignments))
		for id := range w.assignments {
			queue = append(queue, id)
		}
		for len(queue) > 0 {
			id := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			if vis[id] {
				continue
			}
			p := st.get(id)
			if p == nil || p.ws != 0 {
				continue
			}
			vis[id] = true
			if p.kind != kindGroup {
				continue
			}
			if p.implicit {
				for _, q := range st.order {
					if q.ws == 0 && q.kind != kindGroup && q.live() && !vis[q.id] {
						queue = append(queue, q.id)
					}
				}
			}
			queue = append(queue, p.members...)
		}
	}
	w.vis, w.visVersion = vis, st.version
	return vis
}

// visible reports whether the live principal p exists in workspace w.
func (st *state) visible(w *workspace, p *principal) bool {
	if p.ws != 0 {
		return p.ws == w.id
	}
	return w.federated && st.visSet(w)[p.id]
}

// inScope reports whether p is live and visible in the scope (w == nil:
// account scope, which holds account principals only).
func (st *state) inScope(w *workspace, p *principal) bool {
	if p == nil || !p.live() {
		return false
	}
	if w == nil {
		return p.ws == 0
	}
	return st.visible(w, p)
}

// memberIDs returns the ids of g's members as seen in scope w (nil =
// account), computing the implicit members of system groups.
func (st *state) memberIDs(g *principal, w *workspace) []string {
	if g.implicit {
		var out []string
		for _, q := range st.order {
			if q.kind == kindGroup || !q.live() {
				continue
			}
			if g.ws == 0 && q.ws != 0 {
				continue // "account users": account principals
			}
			if g.ws != 0 && !st.visible(st.wsByID[g.ws], q) {
				continue // "users": every workspace user and service principal
			}
			if w != nil && !st.visible(w, q) {
				continue
			}
			out = append(out, q.id)
		}
		return out
	}
	if w == nil {
		return slices.Clone(g.members)
	}
	out := make([]string, 0, len(g.members))
	for _, id := range g.members {
		if q := st.get(id); q != nil && st.visible(w, q) {
			out = append(out, id)
		}
	}
	return out
}

// parentGroups returns the groups that directly contain p, as seen in scope
// w (nil = account), including implicit system groups.
func (st *state) parentGroups(p *principal, w *workspace) []*principal {
	var out []*principal
	for _, gid := range st.parents[p.id] {
		g := st.get(gid)
		if g == nil {
			continue
		}
		if w == nil && g.ws != 0 {
			continue
		}
		if w != nil && !st.visible(w, g) {
			continue
		}
		out = append(out, g)
	}
	if p.kind != kindGroup {
		if w != nil {
			if g := st.get(w.usersGroup); g != nil {
				out = append(out, g)
			}
		}
		if p.ws == 0 {
			if g := st.get(st.accountUsersID); g != nil && (w == nil || st.visible(w, g)) {
				out = append(out, g)
			}
		}
	}
	slices.SortFunc(out, func(a, b *principal) int { return int(a.seq) - int(b.seq) })
	return out
}

// wouldCycle reports whether adding member to group g creates a cycle.
func (st *state) wouldCycle(g *principal, memberID string) bool {
	if memberID == g.id {
		return true
	}
	// Is g reachable from member through explicit memberships?
	seen := map[string]bool{}
	stack := []string{memberID}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == g.id {
			return true
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		if q := st.byID[id]; q != nil && q.kind == kindGroup {
			stack = append(stack, q.members...)
		}
	}
	return false
}

// create allocates an id and inserts a new principal.
func (st *state) create(p *principal, now time.Time) {
	p.id = st.allocID()
	p.created = now
	st.changedAt(now)
	st.insert(p)
}

// changedAt records a creation or deletion at now.
func (st *state) changedAt(now time.Time) {
	if now.After(st.lastChange) {
		st.lastChange = now
	}
}

// rename changes a principal's display name, remembering the old one for
// lists and filters while the consistency delay lasts.
func (st *state) rename(p *principal, name string, now time.Time, delay time.Duration) {
	if p.displayName == name {
		return
	}
	if p.renamed.IsZero() || !now.Before(p.renamed.Add(delay)) {
		p.oldName = p.displayName
	}
	p.renamed = now
	if p.kind == kindGroup {
		delete(st.names, st.key(p))
		p.displayName = name
		st.names[st.key(p)] = p
	} else {
		p.displayName = name
	}
	st.version++
}

// remove deletes p: it leaves every group and assignment at once, and stays
// in lists as a tombstone while the consistency delay lasts.
func (st *state) remove(p *principal, now time.Time, delay time.Duration) {
	tomb := map[int64]bool{}
	if p.ws != 0 {
		tomb[p.ws] = true
	} else {
		for _, w := range st.workspaces {
			if st.visible(w, p) {
				tomb[w.id] = true
			}
		}
	}
	for _, gid := range slices.Clone(st.parents[p.id]) {
		if g := st.byID[gid]; g != nil {
			st.removeMember(g, p.id)
		}
	}
	if p.kind == kindGroup {
		for _, m := range slices.Clone(p.members) {
			st.removeMember(p, m)
		}
	}
	for _, w := range st.workspaces {
		delete(w.assignments, p.id)
		delete(w.entitlements, p.id)
		delete(w.roles, p.id)
	}
	for v, t := range st.tokens {
		if t.principal == p.id {
			delete(st.tokens, v)
		}
	}
	delete(st.names, st.key(p))
	p.deleted = now
	p.tombWS = tomb
	st.changedAt(now)
	st.version++
	if delay <= 0 {
		st.forget(p)
	} else {
		st.hasTombs = true
	}
}

// forget drops a deleted principal from the indexes entirely.
func (st *state) forget(p *principal) {
	delete(st.byID, p.id)
	if i := slices.Index(st.order, p); i >= 0 {
		st.order = slices.Delete(st.order, i, i+1)
	}
}

// purge forgets tombstones whose consistency delay has passed.
func (st *state) purge(now time.Time, delay time.Duration) {
	if !st.hasTombs {
		return
	}
	st.hasTombs = false
	kept := st.order[:0]
	for _, p := range st.order {
		if !p.live() {
			if !now.Before(p.deleted.Add(delay)) {
				delete(st.byID, p.id)
				continue
			}
			st.hasTombs = true
		}
		kept = append(kept, p)
	}
	clear(st.order[len(kept):])
	st.order = kept
}

// listed reports whether p appears in list and filter results of scope w
// (nil = account) at time now: creations appear, and deletions disappear,
// only after the consistency delay.
func (st *state) listed(p *principal, w *workspace, now time.Time, delay time.Duration) bool {
	if !p.live() {
		if delay <= 0 || !now.Before(p.deleted.Add(delay)) {
			return false
		}
		if w == nil {
			return p.ws == 0
		}
		return p.tombWS[w.id]
	}
	if delay > 0 && !p.created.IsZero() && now.Before(p.created.Add(delay)) {
		return false
	}
	return st.inScope(w, p)
}

// listedAll returns the principals of kind k that listed reports for scope
// w at now, in creation order; callers must not modify the result. Once the
// consistency delay has passed since the last creation and deletion, listed
// no longer depends on the time (it is inScope), so the result is cached
// until the state changes.
func (st *state) listedAll(k kind, w *workspace, now time.Time, delay time.Duration) []*principal {
	settled := delay <= 0 || !now.Before(st.lastChange.Add(delay))
	key := listKey{ws: w, kind: k}
	if settled {
		st.cacheMu.Lock()
		e, ok := st.lists[key]
		st.cacheMu.Unlock()
		if ok && e.version == st.version {
			return e.ps
		}
	}
	var out []*principal
	for _, p := range st.order {
		if p.kind == k && st.listed(p, w, now, delay) {
			out = append(out, p)
		}
	}
	if settled {
		st.cacheMu.Lock()
		if st.lists == nil {
			st.lists = map[listKey]listEntry{}
		}
		st.lists[key] = listEntry{version: st.version, ps: out}
		st.cacheMu.Unlock()
	}
	return out
}

// listedName is the display name lists and filters see: the old name while
// a rename is not yet visible.
func listedName(p *principal, now time.Time, delay time.Duration) string {
	if delay > 0 && !p.renamed.IsZero() && now.Before(p.renamed.Add(delay)) {
		return p.oldName
	}
	return p.displayName
}
