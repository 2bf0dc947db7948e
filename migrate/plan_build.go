package migrate

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dbiam/dbiam/migrate/internal/groupgraph"
	"github.com/dbiam/dbiam/migrate/internal/groupname"
	"github.com/dbiam/dbiam/scim"
)

// This file is the planner proper: pure code over the live state that
// RunPlan fetched (see plan_fetch.go). It runs in three phases, with
// fetches between them:
//
//  1. selectGroups: pick the in-scope local groups of each workspace and
//     give each its target account group name (the match strategy).
//  2. resolve (after the members of those groups and the workspace
//     principals are fetched): turn each member into an account identity or
//     a nested local group; report members without one.
//  3. build (after the members of the candidate account groups are
//     fetched): order targets children first, detect cycles, apply the
//     conflict policy and emit the Plan.

// planAccountState is the account's principals and groups, listed once.
type planAccountState struct {
	usersByName  map[string]scim.User // lower-cased userName
	usersByID    map[string]scim.User
	spsByApp     map[string]scim.ServicePrincipal // lower-cased applicationId
	spsByID      map[string]scim.ServicePrincipal
	groupsByName map[string]scim.Group
	groupsByID   map[string]scim.Group
	groupsByExt  map[string][]scim.Group
	// members holds the direct members of the account groups the plan may
	// reuse, by group id (fetched between resolve and build).
	members map[string][]scim.ComplexValue
}

func newPlanAccountState(users []scim.User, sps []scim.ServicePrincipal, groups []scim.Group) *planAccountState {
	a := &planAccountState{
		usersByName:  map[string]scim.User{},
		usersByID:    map[string]scim.User{},
		spsByApp:     map[string]scim.ServicePrincipal{},
		spsByID:      map[string]scim.ServicePrincipal{},
		groupsByName: map[string]scim.Group{},
		groupsByID:   map[string]scim.Group{},
		groupsByExt:  map[string][]scim.Group{},
		members:      map[string][]scim.ComplexValue{},
	}
	for _, u := range users {
		a.usersByName[strings.ToLower(u.UserName)] = u
		a.usersByID[u.ID] = u
	}
	for _, sp := range sps {
		a.spsByApp[strings.ToLower(sp.ApplicationID)] = sp
		a.spsByID[sp.ID] = sp
	}
	for _, g := range groups {
		a.groupsByName[groupname.Fold(g.DisplayName)] = g
		a.groupsByID[g.ID] = g
		if g.ExternalID != "" {
			a.groupsByExt[g.ExternalID] = append(a.groupsByExt[g.ExternalID], g)
		}
	}
	return a
}

// planWS is what the planner knows of one workspace.
type planWS struct {
	info      scim.WorkspaceInfo
	federated bool
	skipped   string
	readErr   error        // the failed read of the current phase (--skip-unreadable)
	groups    []scim.Group // every group, minimal attributes
	byID      map[string]*scim.Group
	localName map[string]*scim.Group // workspace-local groups by name
	nodes     []*planNode            // in-scope local groups, by name
	nodeByID  map[string]*planNode
	users     map[string]string // workspace user id -> userName
	sps       map[string]string // workspace service principal id -> applicationId

	// Reads (plan_read.go): the user and service principal lists, started
	// once (lists, written by the goroutine that starts them) and awaited
	// (listed), the progress counter, and how many selected groups had
	// their members derived from the lists or read with a GET.
	listsOnce     sync.Once
	lists         *planLists
	listed        *planLists // lists, once read without error (nil otherwise)
	counter       *planCounter
	derived, gets int
	// grants is what phase 4 read of the workspace's grants (plan_grants.go).
	grants *planGrants
}

func (w *planWS) ident() planWSIdent { return planWSIdent{ID: w.info.ID, Name: w.info.Name} }

// planLabel is how the workspace is named in messages and per-workspace names.
func (w *planWS) planLabel() string {
	if w.info.Name != "" {
		return w.info.Name
	}
	return strconv.FormatInt(w.info.ID, 10)
}

func (w *planWS) index() {
	w.byID = make(map[string]*scim.Group, len(w.groups))
	w.localName = map[string]*scim.Group{}
	for i := range w.groups {
		g := &w.groups[i]
		w.byID[g.ID] = g
		if g.IsWorkspaceLocal() {
			w.localName[groupname.Fold(g.DisplayName)] = g
		}
	}
}

// planNode is one in-scope workspace-local group.
type planNode struct {
	ws       *planWS
	g        scim.Group
	target   string      // target account group name; "" if none
	existing *scim.Group // the external-id match
	members  []scim.ComplexValue
	parents  []scim.ComplexValue // groups it is a direct member of
	fetched  bool                // members (and parents) were fetched
	resolved []planResolved
	blocked  string // why the group is skipped; "" if it is not
	agKey    string
	// route and baseline are set by checkPermissionRoutes (permroute.go).
	route    string
	baseline *GroupGrants
}

// planResolved is a member as an account identity, or a nested local group.
type planResolved struct {
	m     Member
	child *planNode
}

func (n *planNode) planLabel() string {
	return fmt.Sprintf("%q in workspace %s", n.g.DisplayName, n.ws.planLabel())
}

// planBuilder plans one run. It is not safe for concurrent use.
type planBuilder struct {
	settings PlanSettings
	match    *planMatcher
	sel      *planSelector
	acct     *planAccountState
	ws       []*planWS
	nodes    []*planNode // all in-scope groups, by workspace then name

	conflicts []Conflict
	warnings  []Warning
	groups    []AccountGroupPlan
	agIndex   map[string]int // key -> index into groups
	claimed   map[string]bool
	limits    ServiceLimits
}

// planNotReadPrefix starts the skip reason of a workspace that could not be read.
const planNotReadPrefix = "not read: "

// skipUnread leaves out the workspaces whose phase 1 reads failed (with
// --skip-unreadable): each is skipped, with a blocking not-read conflict.
func (b *planBuilder) skipUnread() {
	for _, w := range b.ws {
		if w.readErr == nil {
			continue
		}
		w.skipped = planNotReadPrefix + w.readErr.Error()
		w.groups, w.federated = nil, false
		b.conflicts = append(b.conflicts, Conflict{
			Kind:        ConflictNotRead,
			WorkspaceID: w.info.ID,
			Blocking:    true,
			Detail: fmt.Sprintf("workspace %s could not be read (%v); its groups are not planned: fix access and plan again",
				w.planLabel(), w.readErr),
			Policies: planSamePolicies("leave the workspace out"),
		})
		w.readErr = nil
	}
}

// blockUnread blocks the groups of the workspaces whose phase 2 reads
// (members, principals) failed (with --skip-unreadable): what was read of
// them is dropped, and each group gets a blocking not-read conflict.
func (b *planBuilder) blockUnread() {
	for _, w := range b.ws {
		if w.readErr == nil {
			continue
		}
		for _, n := range w.nodes {
			n.members, n.parents, n.fetched = nil, nil, false
			if n.blocked == "" {
				b.block(n, Conflict{Kind: ConflictNotRead, Detail: fmt.Sprintf(
					"the members of the groups of workspace %s could not be read (%v): fix access and plan again", w.planLabel(), w.readErr)})
			}
		}
		w.readErr = nil
	}
}

// selectGroups is phase 1: it selects the in-scope local groups of the
// federated workspaces and gives each a target name.
func (b *planBuilder) selectGroups() {
	for _, w := range b.ws {
		w.index()
		w.nodeByID = map[string]*planNode{}
		if w.skipped != "" {
			continue
		}
		for _, g := range w.groups {
			if !g.IsWorkspaceLocal() || IsSystemGroup(g.DisplayName) {
				continue
			}
			if !b.sel.selected(w.ident(), g.DisplayName) {
				continue
			}
			n := &planNode{ws: w, g: g}
			w.nodes = append(w.nodes, n)
			w.nodeByID[g.ID] = n
		}
		slices.SortFunc(w.nodes, func(a, c *planNode) int {
			return cmp.Or(cmp.Compare(a.g.DisplayName, c.g.DisplayName), cmp.Compare(a.g.ID, c.g.ID))
		})
		for _, n := range w.nodes {
			b.nodes = append(b.nodes, n)
			b.assignTarget(n)
			if n.blocked == "" {
				backup := b.settings.BackupPrefix + n.g.DisplayName
				if other, ok := w.localName[groupname.Fold(backup)]; ok && other.ID != n.g.ID {
					b.block(n, Conflict{Kind: ConflictTargetTaken, Detail: fmt.Sprintf(
						"backup name %q is taken by another local group in workspace %s; rename or delete it, or use another --backup-prefix", backup, w.planLabel())})
				}
			}
		}
	}
	b.unusedMappingRows()
}

// assignTarget applies the match strategy to n.
func (b *planBuilder) assignTarget(n *planNode) {
	if b.match.opts.Strategy == MatchExternalID {
		ext := n.g.ExternalID
		var why string
		switch cands := b.acct.groupsByExt[ext]; {
		case ext == "":
			why = "the local group has no externalId, so --match external-id cannot match it"
		case len(cands) == 0:
			why = fmt.Sprintf("no account group has externalId %q", ext)
		case len(cands) > 1:
			why = fmt.Sprintf("%d account groups have externalId %q", len(cands), ext)
		default:
			g := cands[0]
			n.target, n.existing = g.DisplayName, &g
			return
		}
		b.block(n, Conflict{Kind: ConflictNoMatch, Detail: why})
		return
	}
	t, ok, why := b.match.target(n.ws.ident(), n.g.DisplayName)
	switch {
	case !ok:
		b.block(n, Conflict{Kind: ConflictNoMatch, Detail: why})
	case IsSystemGroup(t):
		b.block(n, Conflict{Kind: ConflictTargetTaken, Detail: fmt.Sprintf("target %q is the name of a system group", t)})
	default:
		n.target = t
	}
}

// unusedMappingRows reports mapping rows that match no in-scope group, as
// non-blocking no-match conflicts (a typo in the file should be seen).
func (b *planBuilder) unusedMappingRows() {
	m := b.match.opts.Mapping
	if m == nil {
		return
	}
	used := map[int]bool{}
	for _, n := range b.nodes {
		for _, w := range []string{strconv.FormatInt(n.ws.info.ID, 10), n.ws.info.Name, "*"} {
			if i, ok := m.exact[planMappingKey{w, n.g.DisplayName}]; ok {
				used[i] = true
				break
			}
		}
	}
	for i, row := range m.rows {
		if used[i] {
			continue
		}
		b.conflicts = append(b.conflicts, Conflict{
			Kind:  ConflictNoMatch,
			Group: row.LocalGroup,
			Detail: fmt.Sprintf("mapping %s line %d: no selected workspace-local group %q in workspace %q",
				m.Path, row.Line, row.LocalGroup, row.Workspace),
		})
	}
}

// block marks n as skipped and records c (filled in with n's workspace and
// name) as a blocking conflict. A node is blocked once; later reasons are
// still recorded as conflicts.
func (b *planBuilder) block(n *planNode, c Conflict) {
	c.WorkspaceID = n.ws.info.ID
	if c.Group == "" {
		c.Group = n.g.DisplayName
	}
	c.Blocking = true
	if c.Policies == nil {
		c.Policies = planSamePolicies("skip this group")
	}
	b.conflicts = append(b.conflicts, c)
	if n.blocked == "" {
		n.blocked = c.Kind + ": " + c.Detail
	}
}

func planSamePolicies(s string) map[string]string {
	return map[string]string{PolicyFail: s, PolicyMerge: s, PolicyPerWorkspace: s}
}

// needsPrincipals reports which workspace principal lists resolve needs:
// users and/or service principals, when some member of an in-scope group
// is (or may be) of that kind.
func (w *planWS) needsPrincipals() (users, sps bool) {
	for _, n := range w.nodes {
		for _, m := range n.members {
			switch MemberKind(m) {
			case KindUser:
				users = true
			case KindServicePrincipal:
				sps = true
			case KindGroup:
			default:
				if _, isGroup := w.byID[m.Value]; !isGroup {
					users, sps = true, true
				}
			}
		}
	}
	return users, sps
}

// resolve is phase 2: it resolves the members of every selected group.
func (b *planBuilder) resolve() {
	for _, n := range b.nodes {
		if !n.fetched {
			continue
		}
		var missing []string
		for _, m := range n.members {
			r, problem := b.resolveMember(n.ws, m)
			if problem != "" {
				missing = append(missing, problem)
				continue
			}
			n.resolved = append(n.resolved, r)
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			b.block(n, Conflict{Kind: ConflictMemberNoIdentity, Detail: summarize(missing, 5)})
		}
	}
}

// resolveMember maps one member of a local group in w to an account
// identity or a nested selected local group, or says why it cannot.
func (b *planBuilder) resolveMember(w *planWS, m scim.ComplexValue) (planResolved, string) {
	kind := MemberKind(m)
	if kind == "" {
		switch {
		case w.byID[m.Value] != nil:
			kind = KindGroup
		case w.users[m.Value] != "":
			kind = KindUser
		case w.sps[m.Value] != "":
			kind = KindServicePrincipal
		default:
			return planResolved{}, fmt.Sprintf("member %s (id %s) is not a user, service principal or group of the workspace", quoteOr(m.Display, "?"), m.Value)
		}
	}
	switch kind {
	case KindUser:
		name, ok := w.users[m.Value]
		if !ok {
			return planResolved{}, fmt.Sprintf("user %s (id %s) is not in the workspace's user list", quoteOr(m.Display, "?"), m.Value)
		}
		u, ok := b.acct.usersByName[strings.ToLower(name)]
		if !ok {
			return planResolved{}, fmt.Sprintf("user %q has no account user", name)
		}
		return planResolved{m: Member{Kind: KindUser, AccountID: u.ID, UserName: u.UserName, Display: u.DisplayName}}, ""
	case KindServicePrincipal:
		app, ok := w.sps[m.Value]
		if !ok {
			return planResolved{}, fmt.Sprintf("service principal %s (id %s) is not in the workspace's list", quoteOr(m.Display, "?"), m.Value)
		}
		sp, ok := b.acct.spsByApp[strings.ToLower(app)]
		if !ok {
			return planResolved{}, fmt.Sprintf("service principal %s (applicationId %s) has no account service principal", quoteOr(m.Display, "?"), app)
		}
		return planResolved{m: Member{Kind: KindServicePrincipal, AccountID: sp.ID, ApplicationID: sp.ApplicationID, Display: sp.DisplayName}}, ""
	}
	g := w.byID[m.Value]
	if g == nil {
		return planResolved{}, fmt.Sprintf("group %s (id %s) is not in the workspace's group list", quoteOr(m.Display, "?"), m.Value)
	}
	if !g.IsWorkspaceLocal() {
		ag, ok := b.acct.groupsByID[g.ID]
		if !ok {
			ag, ok = b.acct.groupsByName[groupname.Fold(g.DisplayName)]
		}
		if !ok {
			return planResolved{}, fmt.Sprintf("account group %q is not in the account's group list", g.DisplayName)
		}
		return planResolved{m: Member{Kind: KindGroup, AccountID: ag.ID, Display: ag.DisplayName}}, ""
	}
	child := w.nodeByID[g.ID]
	switch {
	case IsSystemGroup(g.DisplayName):
		return planResolved{}, fmt.Sprintf("nested group %q is a system group, which is never migrated", g.DisplayName)
	case child == nil:
		return planResolved{}, fmt.Sprintf("nested local group %q is not selected for migration; select it too or exclude this group", g.DisplayName)
	}
	return planResolved{child: child}, ""
}

// candidateAccountGroups returns the ids of the existing account groups
// whose members build needs, sorted: the account groups that are direct
// members of selected groups (for the cycle check), and every group a
// target name (or, under the per-workspace policy, a per-workspace name)
// may reuse.
func (b *planBuilder) candidateAccountGroups() []string {
	ids := map[string]bool{}
	for _, n := range b.nodes {
		if n.target == "" {
			continue
		}
		for _, r := range n.resolved {
			if r.child == nil && r.m.Kind == KindGroup && r.m.AccountID != "" {
				ids[r.m.AccountID] = true // for the cycle check
			}
		}
		if n.existing != nil {
			ids[n.existing.ID] = true
			continue
		}
		if g, ok := b.acct.groupsByName[groupname.Fold(n.target)]; ok {
			ids[g.ID] = true
		}
		if b.settings.OnConflict == PolicyPerWorkspace {
			if g, ok := b.acct.groupsByName[groupname.Fold(planPerWorkspaceName(n.ws, n.target))]; ok {
				ids[g.ID] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(ids))
}

func planPerWorkspaceName(w *planWS, target string) string { return w.planLabel() + "_" + target }

// build is phase 3: it orders the targets children first and plans each.
func (b *planBuilder) build() {
	b.agIndex = map[string]int{}
	b.claimed = map[string]bool{}
	// Group names are unique case-insensitively, so targets are compared
	// folded; messages and new groups use the first source's spelling.
	byTarget := map[string][]*planNode{}
	display := map[string]string{}
	for _, n := range b.nodes {
		if n.target != "" {
			t := groupname.Fold(n.target)
			if _, ok := display[t]; !ok {
				display[t] = n.target
			}
			byTarget[t] = append(byTarget[t], n)
		}
	}
	edges := map[string][]string{}
	for t, srcs := range byTarget {
		set := map[string]bool{}
		for _, n := range srcs {
			for _, r := range n.resolved {
				if r.child != nil && r.child.target != "" {
					set[groupname.Fold(r.child.target)] = true
				}
			}
		}
		edges[t] = slices.Sorted(maps.Keys(set))
	}
	for _, scc := range groupgraph.SCC(slices.Sorted(maps.Keys(byTarget)), edges) {
		if len(scc) > 1 || slices.Contains(edges[scc[0]], scc[0]) {
			b.blockCycle(scc, byTarget, edges, display)
			continue
		}
		b.planTarget(scc[0], display[scc[0]], byTarget[scc[0]])
	}
}

// unmigratedParents runs after build: it reports every migrated group that
// is a direct member of local groups the plan does not migrate (left out
// of the selection, skipped, or system groups such as admins) with a
// non-blocking parent-not-migrated conflict. The account group does not
// join those parents, so finalize keeps the backup group, which stays
// their member.
func (b *planBuilder) unmigratedParents() {
	for _, n := range b.nodes {
		if n.blocked != "" {
			continue
		}
		var names []string
		for _, p := range n.parents {
			if pn := n.ws.nodeByID[p.Value]; pn != nil && pn.blocked == "" {
				continue // migrated: its account group holds n's
			}
			if g := n.ws.byID[p.Value]; g != nil && !g.IsWorkspaceLocal() {
				continue // an account group (identity federation forbids it)
			}
			name := p.Display
			if g := n.ws.byID[p.Value]; g != nil {
				name = g.DisplayName
			}
			names = append(names, quoteOr(name, p.Value))
		}
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		names = slices.Compact(names)
		what, them := "local group "+names[0], names[0]+" keeps"
		if len(names) > 1 {
			what, them = "local groups "+strings.Join(names, ", "), "they keep"
		}
		backup := strconv.Quote(b.settings.BackupPrefix + n.g.DisplayName)
		b.conflicts = append(b.conflicts, Conflict{
			Kind:        ConflictParentNotMigrated,
			WorkspaceID: n.ws.info.ID,
			Group:       n.g.DisplayName,
			Detail: fmt.Sprintf("member of %s, which the plan does not migrate: finalize will keep the backup group %s so that %s its members",
				what, backup, them),
			Policies: planSamePolicies("migrate it; finalize keeps the backup group " + backup),
		})
	}
}

// blockCycle blocks every group whose target is in the cycle scc.
func (b *planBuilder) blockCycle(scc []string, byTarget map[string][]*planNode, edges map[string][]string, display map[string]string) {
	in := map[string]bool{}
	for _, t := range scc {
		in[t] = true
	}
	path := groupgraph.CyclePath(scc, edges, in, display)
	for _, t := range slices.Sorted(slices.Values(scc)) {
		for _, n := range byTarget[t] {
			b.block(n, Conflict{Kind: ConflictCycle, Detail: "nested groups form a cycle: " + path})
		}
	}
}

// planCand is an account group to plan: a name and the local groups that
// go into it.
type planCand struct {
	name     string
	sources  []*planNode
	existing *scim.Group
	// split is false for a candidate that already is the per-workspace
	// fallback, so it is not split again.
	split bool
}

// planTarget plans the local groups mapped to target name t (folded;
// name is its spelling for messages and new groups).
func (b *planBuilder) planTarget(t, name string, srcs []*planNode) {
	var primary []*planNode
	var cands []planCand
	policy := b.settings.OnConflict
	for _, n := range srcs {
		if n.blocked != "" {
			continue
		}
		if why := planBlockedChild(n); why != "" {
			b.block(n, Conflict{Kind: ConflictMemberNoIdentity, Detail: why})
			continue
		}
		n.fillChildren(b)
		if other, ok := n.ws.localName[t]; ok && other.ID != n.g.ID && !planIsSourceOf(n.ws, other.ID, t) {
			alt := planPerWorkspaceName(n.ws, name)
			c := Conflict{
				Kind:        ConflictTargetTaken,
				WorkspaceID: n.ws.info.ID,
				Group:       n.g.DisplayName,
				Detail: fmt.Sprintf("workspace %s has another local group named %q that this plan does not migrate to %q, so account group %q could not be assigned there",
					n.ws.planLabel(), other.DisplayName, name, name),
				Policies: map[string]string{
					PolicyFail:         "skip this group",
					PolicyMerge:        "skip this group",
					PolicyPerWorkspace: fmt.Sprintf("map it to account group %q instead", alt),
				},
			}
			if policy == PolicyPerWorkspace && n.existing == nil {
				b.conflicts = append(b.conflicts, c)
				cands = append(cands, planCand{name: alt, sources: []*planNode{n}})
				continue
			}
			b.block(n, c)
			continue
		}
		primary = append(primary, n)
	}
	if len(primary) > 0 {
		cands = append(b.groupSources(name, primary), cands...)
	}
	for _, c := range cands {
		b.planCandidate(c)
	}
}

// planIsSourceOf reports whether local group id in w is an unblocked source of t.
func planIsSourceOf(w *planWS, id, t string) bool {
	n := w.nodeByID[id]
	return n != nil && n.blocked == "" && groupname.Fold(n.target) == t
}

// planBlockedChild returns why a nested child of n is not migrated, or "".
func planBlockedChild(n *planNode) string {
	for _, r := range n.resolved {
		if c := r.child; c != nil {
			if c.blocked != "" {
				return fmt.Sprintf("nested group %q is not migrated (%s)", c.g.DisplayName, c.blocked)
			}
			if c.agKey == "" {
				return fmt.Sprintf("nested group %q has no planned account group", c.g.DisplayName)
			}
		}
	}
	return ""
}

// groupSources decides how the unblocked sources of target t share account
// groups: one group when their members agree; otherwise per the policy.
func (b *planBuilder) groupSources(t string, srcs []*planNode) []planCand {
	var existing *scim.Group
	if srcs[0].existing != nil {
		existing = srcs[0].existing
	}
	sets := make([][]string, len(srcs))
	same := true
	for i, n := range srcs {
		sets[i] = b.identitySet(n.resolvedMembers())
		if i > 0 && !slices.Equal(sets[i], sets[0]) {
			same = false
		}
	}
	if same {
		return []planCand{{name: t, sources: srcs, existing: existing, split: true}}
	}
	var parts []string
	byWS := map[int64][]*planNode{}
	var wsOrder []int64
	for i, n := range srcs {
		parts = append(parts, fmt.Sprintf("%s/%s (%d members)", n.ws.planLabel(), n.g.DisplayName, len(sets[i])))
		if _, ok := byWS[n.ws.info.ID]; !ok {
			wsOrder = append(wsOrder, n.ws.info.ID)
		}
		byWS[n.ws.info.ID] = append(byWS[n.ws.info.ID], n)
	}
	union := map[string]bool{}
	for _, s := range sets {
		for _, k := range s {
			union[k] = true
		}
	}
	var perWS []string
	for _, id := range wsOrder {
		perWS = append(perWS, strconv.Quote(planPerWorkspaceName(byWS[id][0].ws, t)))
	}
	perWSText := "create or reuse one account group per workspace: " + strings.Join(perWS, ", ")
	if existing != nil {
		perWSText = "skip these groups (per-workspace names do not apply to --match external-id)"
	}
	c := Conflict{
		Kind:   ConflictSameName,
		Group:  t,
		Detail: "local groups mapped to " + strconv.Quote(t) + " have different members: " + strings.Join(parts, ", "),
		Policies: map[string]string{
			PolicyFail:         fmt.Sprintf("skip all %d groups", len(srcs)),
			PolicyMerge:        fmt.Sprintf("one account group %q with the union of their members (%d)", t, len(union)),
			PolicyPerWorkspace: perWSText,
		},
	}
	if len(wsOrder) == 1 {
		c.WorkspaceID = wsOrder[0]
	}
	switch policy := b.settings.OnConflict; {
	case policy == PolicyMerge:
		b.conflicts = append(b.conflicts, c)
		return []planCand{{name: t, sources: srcs, existing: existing, split: true}}
	case policy == PolicyPerWorkspace && existing == nil:
		b.conflicts = append(b.conflicts, c)
		var out []planCand
		for _, id := range wsOrder {
			ns := byWS[id]
			if len(ns) > 1 && !b.sameMembers(ns) {
				for _, n := range ns {
					b.block(n, Conflict{Kind: ConflictSameName, Group: n.g.DisplayName, Detail: fmt.Sprintf(
						"several local groups of workspace %s map to %q with different members; per-workspace names cannot separate them", n.ws.planLabel(), t)})
				}
				continue
			}
			out = append(out, planCand{name: planPerWorkspaceName(ns[0].ws, t), sources: ns})
		}
		return out
	default:
		c.Blocking = true
		b.conflicts = append(b.conflicts, c)
		for _, n := range srcs {
			if n.blocked == "" {
				n.blocked = ConflictSameName + ": " + fmt.Sprintf("other local groups mapped to %q have different members (on-conflict %s)", t, b.settings.OnConflict)
			}
		}
		return nil
	}
}

func (b *planBuilder) sameMembers(ns []*planNode) bool {
	first := b.identitySet(ns[0].resolvedMembers())
	for _, n := range ns[1:] {
		if !slices.Equal(first, b.identitySet(n.resolvedMembers())) {
			return false
		}
	}
	return true
}

// resolvedMembers turns n's resolved members into Members; nested groups
// must already be planned.
func (n *planNode) resolvedMembers() []Member {
	out := make([]Member, 0, len(n.resolved))
	for _, r := range n.resolved {
		out = append(out, r.m)
	}
	return out
}

// planCandidate reuses or creates the account group for c.
func (b *planBuilder) planCandidate(c planCand) {
	existing := c.existing
	if existing == nil {
		if g, ok := b.acct.groupsByName[groupname.Fold(c.name)]; ok {
			existing = &g
		}
	}
	selfID := ""
	if existing != nil {
		c.name, selfID = existing.DisplayName, existing.ID
		c.sources = b.dropAccountCycles(c.sources, existing)
		if len(c.sources) == 0 {
			return
		}
	}
	key := "ag:" + c.name
	if b.claimed[groupname.Fold(c.name)] {
		for _, n := range c.sources {
			b.block(n, Conflict{Kind: ConflictTargetTaken, Detail: fmt.Sprintf("account group name %q is already the target of other groups in this plan", c.name)})
		}
		return
	}
	members, selfRefs := planUnionMembers(c.sources, selfID)
	desired := b.identitySet(members)
	ag := AccountGroupPlan{Key: key, DisplayName: c.name, Members: members}
	if existing != nil {
		exMembers := b.acct.members[existing.ID]
		have := b.accountIdentitySet(exMembers)
		if !slices.Equal(have, desired) {
			missing, extra := groupgraph.DiffSets(desired, have)
			var wsIDs []int64
			for _, n := range c.sources {
				wsIDs = append(wsIDs, n.ws.info.ID)
			}
			perWS := "skip (already a per-workspace name)"
			if c.split && c.existing == nil {
				var names []string
				for _, n := range c.sources {
					names = append(names, strconv.Quote(planPerWorkspaceName(n.ws, c.name)))
				}
				perWS = "use per-workspace account groups instead: " + strings.Join(slices.Compact(names), ", ")
			} else if c.existing != nil {
				perWS = "skip (per-workspace names do not apply to --match external-id)"
			}
			conf := Conflict{
				Kind:  ConflictExistingDiffers,
				Group: c.name,
				Detail: fmt.Sprintf("account group %q (id %s) exists with %d members, the local groups mapped to it have %d: %d of theirs are missing from it, %d of its members are not in them",
					c.name, existing.ID, len(have), len(desired), len(missing), len(extra)),
				Policies: map[string]string{
					PolicyFail: "skip the local groups mapped to it",
					PolicyMerge: fmt.Sprintf("reuse it: add the %d missing members; its %d other members stay and get the local groups' access",
						len(missing), len(extra)),
					PolicyPerWorkspace: perWS,
				},
			}
			if len(slices.Compact(wsIDs)) == 1 {
				conf.WorkspaceID = wsIDs[0]
			}
			switch {
			case b.settings.OnConflict == PolicyMerge:
				b.conflicts = append(b.conflicts, conf)
			case b.settings.OnConflict == PolicyPerWorkspace && c.split && c.existing == nil:
				b.conflicts = append(b.conflicts, conf)
				byWS := map[int64][]*planNode{}
				var order []int64
				for _, n := range c.sources {
					if _, ok := byWS[n.ws.info.ID]; !ok {
						order = append(order, n.ws.info.ID)
					}
					byWS[n.ws.info.ID] = append(byWS[n.ws.info.ID], n)
				}
				for _, id := range order {
					ns := byWS[id]
					b.planCandidate(planCand{name: planPerWorkspaceName(ns[0].ws, c.name), sources: ns})
				}
				return
			default:
				conf.Blocking = true
				b.conflicts = append(b.conflicts, conf)
				for _, n := range c.sources {
					if n.blocked == "" {
						n.blocked = fmt.Sprintf("%s: account group %q exists with different members (on-conflict %s)", ConflictExistingDiffers, c.name, b.settings.OnConflict)
					}
				}
				return
			}
		}
		ag.ExistingID = existing.ID
		ag.ExternalID = existing.ExternalID
		ag.ExistingMembersDigest = MembersDigest(exMembers)
	}
	for _, n := range selfRefs {
		s := "leave that membership out: the account group gets the local group's other members"
		b.conflicts = append(b.conflicts, Conflict{
			Kind:        ConflictCycle,
			WorkspaceID: n.ws.info.ID,
			Group:       n.g.DisplayName,
			Detail: fmt.Sprintf("the target account group %q is itself a member of the local group; a group cannot contain itself, and its members already belong to it",
				c.name),
			Policies: planSamePolicies(s),
		})
	}
	b.claimed[groupname.Fold(c.name)] = true
	for _, n := range c.sources {
		n.agKey = key
		ag.Sources = append(ag.Sources, GroupRef{WorkspaceID: n.ws.info.ID, LocalID: n.g.ID})
	}
	b.agIndex[key] = len(b.groups)
	b.groups = append(b.groups, ag)
}

// fillChildren sets the Member of every nested child of n from the
// child's planned account group.
func (n *planNode) fillChildren(b *planBuilder) {
	for i, r := range n.resolved {
		if r.child == nil {
			continue
		}
		ag := b.groups[b.agIndex[r.child.agKey]]
		n.resolved[i].m = Member{Kind: KindGroup, GroupKey: ag.Key, AccountID: ag.ExistingID, Display: ag.DisplayName}
	}
}

// dropAccountCycles blocks the sources that have a direct member account
// group which itself directly contains existing: making them members of
// existing would close a cycle. It returns the other sources. (Deeper
// account-level nesting is not read, so not checked.)
func (b *planBuilder) dropAccountCycles(srcs []*planNode, existing *scim.Group) []*planNode {
	out := srcs[:0:0]
	for _, n := range srcs {
		var via string
		for _, r := range n.resolved {
			if r.child != nil || r.m.Kind != KindGroup || r.m.AccountID == "" || r.m.AccountID == existing.ID {
				continue
			}
			if slices.ContainsFunc(b.acct.members[r.m.AccountID], func(v scim.ComplexValue) bool { return v.Value == existing.ID }) {
				via = r.m.Display
				break
			}
		}
		if via == "" {
			out = append(out, n)
			continue
		}
		b.block(n, Conflict{Kind: ConflictCycle, Detail: fmt.Sprintf(
			"member account group %q already contains the target account group %q, so adding it to the target would form a cycle", via, existing.DisplayName)})
	}
	return out
}

// planUnionMembers is the union of the members of the sources, sorted,
// leaving out the account group selfID (a group is not its own member); it
// also returns the sources that listed selfID.
func planUnionMembers(srcs []*planNode, selfID string) ([]Member, []*planNode) {
	seen := map[string]bool{}
	out := []Member{}
	var selfRefs []*planNode
	for _, n := range srcs {
		for _, r := range n.resolved {
			if selfID != "" && r.m.Kind == KindGroup && r.m.AccountID == selfID {
				selfRefs = append(selfRefs, n)
				continue
			}
			k := memberIdentityKey(r.m)
			if !seen[k] {
				seen[k] = true
				out = append(out, r.m)
			}
		}
	}
	slices.SortFunc(out, compareMembers)
	return out, selfRefs
}

// identitySet is the sorted identity keys of members. Nested children must
// already be filled in (planTarget runs children first).
func (b *planBuilder) identitySet(members []Member) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		out = append(out, memberIdentityKey(m))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// accountIdentitySet is the sorted identity keys of an account group's
// members as listed by account SCIM.
func (b *planBuilder) accountIdentitySet(members []scim.ComplexValue) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		kind := MemberKind(m)
		if kind == "" {
			switch {
			case b.acct.usersByID[m.Value].ID != "":
				kind = KindUser
			case b.acct.spsByID[m.Value].ID != "":
				kind = KindServicePrincipal
			case b.acct.groupsByID[m.Value].ID != "":
				kind = KindGroup
			}
		}
		out = append(out, kind+":"+m.Value)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// summarize joins up to max items with "; " and says how many more there
// are (plan conflicts, grant routing and rollback messages).
func summarize(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:max], "; ") + fmt.Sprintf("; and %d more", len(items)-max)
}

// quoteOr is s quoted, or alt when s is empty.
func quoteOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return strconv.Quote(s)
}

// planMeta is the plan header that does not come from the live state.
type planMeta struct {
	toolVersion string
	createdAt   time.Time
	lineage     string
	host        string
	accountID   string
}

// assemble emits the Plan after build: account groups in planning order
// (children first), workspaces in listing order with their groups ordered
// children first, conflicts sorted.
func (b *planBuilder) assemble(meta planMeta) *Plan {
	p := &Plan{
		PlanVersion:   PlanVersion,
		ToolVersion:   meta.toolVersion,
		CreatedAt:     meta.createdAt,
		Lineage:       meta.lineage,
		Host:          meta.host,
		AccountID:     meta.accountID,
		Settings:      b.settings,
		AccountGroups: b.groups,
		Workspaces:    []WorkspacePlan{},
		Conflicts:     b.conflicts,
	}
	if p.AccountGroups == nil {
		p.AccountGroups = []AccountGroupPlan{}
	}
	if p.Conflicts == nil {
		p.Conflicts = []Conflict{}
	}
	rank := map[string]int{}
	for i, ag := range b.groups {
		rank[ag.Key] = i
	}
	for _, w := range b.ws {
		wp := WorkspacePlan{
			WorkspaceID:   w.info.ID,
			WorkspaceName: w.info.Name,
			URL:           w.info.URL,
			Federated:     w.federated,
			Skipped:       w.skipped,
			Groups:        []GroupPlan{},
		}
		if w.grants != nil {
			wp.Grants = &w.grants.read
		}
		nodes := slices.Clone(w.nodes)
		// Migrated groups in account-group order (children first), then
		// the skipped ones by name.
		slices.SortStableFunc(nodes, func(a, c *planNode) int {
			ra, rc := len(rank), len(rank)
			if a.blocked == "" {
				ra = rank[a.agKey]
			}
			if c.blocked == "" {
				rc = rank[c.agKey]
			}
			return cmp.Compare(ra, rc)
		})
		for _, n := range nodes {
			gp := GroupPlan{
				LocalID:      n.g.ID,
				LocalName:    n.g.DisplayName,
				BackupName:   b.settings.BackupPrefix + n.g.DisplayName,
				Entitlements: sortedValues(n.g.Entitlements),
				Roles:        sortedValues(n.g.Roles),
				MemberCount:  len(n.members),
				Skipped:      n.blocked,
			}
			if n.fetched {
				gp.MembersDigest = MembersDigest(n.members)
			}
			if n.blocked == "" {
				gp.AccountGroupKey = n.agKey
				gp.PermissionRoute, gp.Grants = n.route, n.baseline
			}
			wp.Groups = append(wp.Groups, gp)
		}
		p.Workspaces = append(p.Workspaces, wp)
	}
	slices.SortStableFunc(p.Conflicts, func(a, c Conflict) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, c.WorkspaceID), cmp.Compare(a.Group, c.Group),
			cmp.Compare(a.Kind, c.Kind), cmp.Compare(a.Detail, c.Detail))
	})
	if len(b.warnings) > 0 {
		p.Warnings = slices.Clone(b.warnings)
		slices.SortStableFunc(p.Warnings, func(a, c Warning) int {
			return cmp.Or(cmp.Compare(a.WorkspaceID, c.WorkspaceID), cmp.Compare(a.Kind, c.Kind), cmp.Compare(a.Detail, c.Detail))
		})
	}
	return p
}

// sortedValues returns the sorted, de-duplicated values of a multi-valued
// attribute (never nil).
func sortedValues(cvs []scim.ComplexValue) []string {
	out := make([]string, 0, len(cvs))
	for _, cv := range cvs {
		out = append(out, cv.Value)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
