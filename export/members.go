package export

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// This file resolves group membership from the lists alone, without one GET
// per group: every user, service principal and group carries its direct
// parent groups in its "groups" attribute, so the members of a group are the
// principals that name it there (scim.Memberships, shared with migrate plan).
// Listing groups with their members times out on large workspaces; the three
// lists cost a handful of requests.

// node is a principal of a workspace's membership graph.
type node struct {
	id   string
	name string // userName for users, displayName otherwise
	key  string // name in lower case, the first sort key
	kind string // kindUser, kindSP or kindGroup
	// groupType is groupTypeWorkspace or groupTypeAccount for listed groups,
	// "" when unknown.
	groupType string
	// listed is false for a group known only from a reference in another
	// principal's "groups" attribute (e.g. a list that lagged a create).
	listed bool
}

// graph is a workspace's membership graph: group -> direct members.
// It is built once, then only read.
type graph struct {
	nodes   map[string]*node
	members map[string][]string // group id -> direct member ids, in sort order after finish
	parents map[string][]string // principal id -> direct parent group ids, in sort order after finish
}

// newNode returns a node with its sort key.
func newNode(id, name, kind string) node {
	return node{id: id, name: name, key: strings.ToLower(name), kind: kind}
}

func newGraph() *graph {
	return &graph{nodes: map[string]*node{}, members: map[string][]string{}, parents: map[string][]string{}}
}

// add records a listed principal. A later add of the same id replaces an
// unlisted placeholder but not a listed node.
func (g *graph) add(n node) *node {
	n.listed = true
	if old := g.nodes[n.id]; old != nil && old.listed {
		return old
	}
	p := &n
	g.nodes[n.id] = p
	return p
}

// link records that memberID is a direct member of group groupID. display
// names the group if it was never listed.
func (g *graph) link(groupID, display, memberID string) {
	if groupID == "" || memberID == "" {
		return
	}
	if g.nodes[groupID] == nil {
		n := newNode(groupID, display, kindGroup)
		g.nodes[groupID] = &n
	}
	g.members[groupID] = append(g.members[groupID], memberID)
	g.parents[memberID] = append(g.parents[memberID], groupID)
}

// finish de-duplicates and sorts every adjacency list, so that traversals
// and the paths they find are deterministic.
func (g *graph) finish() {
	// Each id is looked up once, not at every comparison.
	type ref struct {
		id string
		n  *node // nil for an id never seen
	}
	var refs []ref
	for _, m := range []map[string][]string{g.members, g.parents} {
		for k, ids := range m {
			refs = refs[:0]
			for _, id := range ids {
				refs = append(refs, ref{id, g.nodes[id]})
			}
			slices.SortFunc(refs, func(a, b ref) int { return compareRefs(a.n, b.n, a.id, b.id) })
			for i, r := range refs {
				ids[i] = r.id
			}
			m[k] = slices.Compact(ids)
		}
	}
}

// kindRank orders kinds within a group's members.
func kindRank(kind string) int {
	switch kind {
	case kindUser:
		return 0
	case kindSP:
		return 1
	default:
		return 2
	}
}

// compareNames orders names case-insensitively, then exactly.
func compareNames(a, b string) int {
	if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// compareIDs orders numeric ids numerically (shorter first), others as text.
func compareIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// compareNodes orders principals by kind, name (case-insensitively, then
// exactly) and id.
func compareNodes(a, b *node) int {
	return cmp.Or(cmp.Compare(kindRank(a.kind), kindRank(b.kind)),
		strings.Compare(a.key, b.key), strings.Compare(a.name, b.name), compareIDs(a.id, b.id))
}

// sortedBy returns items sorted by name (case-insensitively, then exactly),
// then by the optional second name, then by id, computing each key once.
func sortedBy[T any](items []T, name, name2, id func(*T) string) []T {
	type keyed struct {
		key, name, name2, id string
		i                    int
	}
	ks := make([]keyed, len(items))
	for i := range items {
		it := &items[i]
		ks[i] = keyed{key: strings.ToLower(name(it)), name: name(it), id: id(it), i: i}
		if name2 != nil {
			ks[i].name2 = name2(it)
		}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.name, b.name),
			compareNames(a.name2, b.name2), compareIDs(a.id, b.id))
	})
	out := make([]T, len(items))
	for j, k := range ks {
		out[j] = items[k.i]
	}
	return out
}

func (g *graph) compareIDs(a, b string) int {
	return compareRefs(g.nodes[a], g.nodes[b], a, b)
}

// compareRefs orders principals a and b, whose nodes are na and nb (nil
// for an id never seen): known principals first, by compareNodes, then the
// others by id.
func compareRefs(na, nb *node, a, b string) int {
	switch {
	case na != nil && nb != nil:
		return compareNodes(na, nb)
	case na != nil:
		return -1
	case nb != nil:
		return 1
	}
	return compareIDs(a, b)
}

// node returns the node for id, or a placeholder for an id never seen.
func (g *graph) node(id string) *node {
	if n := g.nodes[id]; n != nil {
		return n
	}
	n := newNode(id, id, "")
	return &n
}

// groups returns every group node, listed or referenced, in sort order.
func (g *graph) groups() []*node {
	var out []*node
	for _, n := range g.nodes {
		if n.kind == kindGroup {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, compareNodes)
	return out
}

// reach is one principal reachable from a group.
type reach struct {
	id    string
	depth int // 1 for a direct member
}

// closure is the result of expanding one group.
type closure struct {
	root    string
	reached []reach           // in BFS order: by depth, then member order
	parent  map[string]string // reached id -> the group it was first reached through
	// cycleVia is the group through which root is its own member, "" when
	// root is not in a cycle. root itself when it contains itself directly.
	cycleVia string
}

// expand walks the members of group root breadth first. Each principal is
// reported once, at its shortest depth; a group met again is not walked
// again, so cycles end the walk instead of looping. Reaching root itself
// is recorded as a cycle (cycleVia), and listed in reached only when root
// is its own direct member.
func (g *graph) expand(root string) closure {
	c := closure{root: root, parent: map[string]string{}}
	seen := map[string]bool{root: true}
	frontier := []string{root}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []string
		for _, gid := range frontier {
			for _, m := range g.members[gid] {
				if m == root {
					if c.cycleVia == "" {
						c.cycleVia = gid
					}
					if depth == 1 {
						// A group that holds itself directly: a real, listed
						// membership, reported once and not walked again.
						c.reached = append(c.reached, reach{id: m, depth: 1})
					}
					continue
				}
				if seen[m] {
					continue
				}
				seen[m] = true
				c.parent[m] = gid
				c.reached = append(c.reached, reach{id: m, depth: depth})
				if len(g.members[m]) > 0 {
					next = append(next, m)
				}
			}
		}
		frontier = next
	}
	return c
}

// via returns the groups between c.root and id (exclusive of both), from
// the outermost: empty for a direct member.
func (g *graph) via(c closure, id string) []string {
	var path []string
	for p := c.parent[id]; p != "" && p != c.root; p = c.parent[p] {
		path = append(path, g.node(p).name)
	}
	slices.Reverse(path)
	return path
}

// cyclePath returns the cycle through c.root as group names, starting and
// ending with root: [root, ..., root]. It is nil when root is in no cycle.
func (g *graph) cyclePath(c closure) []string {
	if c.cycleVia == "" {
		return nil
	}
	path := []string{g.node(c.root).name}
	if c.cycleVia != c.root {
		path = append(path, g.via(c, c.cycleVia)...)
		path = append(path, g.node(c.cycleVia).name)
	}
	return append(path, g.node(c.root).name)
}

// cycles returns the strongly connected sets of groups that form membership
// cycles (two or more groups that contain each other, or a group that
// contains itself), each sorted, in sort order of their first group.
func (g *graph) cycles() [][]string {
	// Tarjan's algorithm over group -> group edges, iterative so that deep
	// nesting cannot exhaust the stack.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	type frame struct {
		id string
		i  int // next member to visit
	}
	for _, start := range g.groups() {
		if _, done := index[start.id]; done {
			continue
		}
		work := []frame{{id: start.id}}
		index[start.id], low[start.id] = next, next
		next++
		stack = append(stack, start.id)
		onStack[start.id] = true
		for len(work) > 0 {
			f := &work[len(work)-1]
			members := g.members[f.id]
			if f.i < len(members) {
				m := members[f.i]
				f.i++
				if g.node(m).kind != kindGroup {
					continue
				}
				if _, visited := index[m]; !visited {
					index[m], low[m] = next, next
					next++
					stack = append(stack, m)
					onStack[m] = true
					work = append(work, frame{id: m})
				} else if onStack[m] {
					low[f.id] = min(low[f.id], index[m])
				}
				continue
			}
			id := f.id
			work = work[:len(work)-1]
			if len(work) > 0 {
				parent := work[len(work)-1].id
				low[parent] = min(low[parent], low[id])
			}
			if low[id] != index[id] {
				continue
			}
			var scc []string
			for {
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[top] = false
				scc = append(scc, top)
				if top == id {
					break
				}
			}
			if len(scc) > 1 || slices.Contains(g.members[id], id) {
				slices.SortFunc(scc, g.compareIDs)
				out = append(out, scc)
			}
		}
	}
	slices.SortFunc(out, func(a, b []string) int { return g.compareIDs(a[0], b[0]) })
	return out
}

// buildGraph builds a workspace's membership graph from its lists. Any of
// the lists may be nil (not fetched). Parent groups come from the
// principals' "groups" attributes and from links (the attributes taken out
// as the lists were read), with refNames naming groups never listed.
func buildGraph(users []scim.User, sps []scim.ServicePrincipal, groups []scim.Group, links []memberLinks, refNames map[string]string) *graph {
	g := newGraph()
	for _, gr := range groups {
		n := newNode(gr.ID, gr.DisplayName, kindGroup)
		n.groupType = groupType(gr)
		g.add(n)
	}
	for _, u := range users {
		g.add(newNode(u.ID, u.UserName, kindUser))
	}
	for _, s := range sps {
		g.add(newNode(s.ID, s.DisplayName, kindSP))
	}
	for m := range scim.Memberships(users, sps, groups) {
		g.link(m.Group.Value, m.Group.Display, m.Member.Value)
	}
	for _, l := range links {
		for _, p := range l.parents {
			g.link(p, refNames[p], l.member)
		}
	}
	g.finish()
	return g
}

// groupType returns the type column of a listed group.
func groupType(gr scim.Group) string {
	if gr.Meta == nil {
		return ""
	}
	switch gr.Meta.ResourceType {
	case scim.ResourceTypeWorkspaceGroup:
		return groupTypeWorkspace
	case scim.ResourceTypeAccountGroup:
		return groupTypeAccount
	}
	return ""
}

// ancestor is a group that a principal belongs to, directly or through
// nested groups.
type ancestor struct {
	id   string
	from string // the group below it on a shortest path; "" for a direct parent
}

// ancestors returns the groups that principal id belongs to, directly or
// through nested groups, each once, breadth first (so on a shortest
// path: see pathTo). Cycles end the walk. buf is reused for the result.
func (g *graph) ancestors(id string, buf []ancestor) []ancestor {
	out := buf[:0]
	for _, p := range g.parents[id] {
		if p != id && !containsAncestor(out, p) {
			out = append(out, ancestor{id: p})
		}
	}
	for i := 0; i < len(out); i++ {
		for _, p := range g.parents[out[i].id] {
			if p != id && !containsAncestor(out, p) {
				out = append(out, ancestor{id: p, from: out[i].id})
			}
		}
	}
	return out
}

// containsAncestor reports whether as holds group id. A principal's
// ancestors are few (groups nest at most 10 deep), so a scan beats a map.
func containsAncestor(as []ancestor, id string) bool {
	for _, a := range as {
		if a.id == id {
			return true
		}
	}
	return false
}

// pathTo returns the names of the groups from as[i] down to the
// principal's own group.
func (g *graph) pathTo(as []ancestor, i int) []string {
	names := []string{g.node(as[i].id).name}
	for from := as[i].from; from != ""; {
		names = append(names, g.node(from).name)
		j := slices.IndexFunc(as, func(a ancestor) bool { return a.id == from })
		if j < 0 {
			break
		}
		from = as[j].from
	}
	return names
}

// admins returns the principals that are workspace admins by membership:
// members of the workspace-local group "admins", directly or through
// nested groups (reference §B: workspace admin = member of the
// workspace-local group named admins; whether a deactivated user can use
// it is told by its active column). Groups in it are included: their
// members are admins. See assignedAdmins for the other way in.
func (g *graph) admins() map[string]bool {
	out := map[string]bool{}
	for _, n := range g.nodes {
		if n.kind != kindGroup || !n.listed || n.groupType != groupTypeWorkspace || n.name != adminsGroup {
			continue
		}
		for _, re := range g.expand(n.id).reached {
			out[re.id] = true
		}
	}
	return out
}

// assignedAdmins adds to admins the holders of an ADMIN permission
// assignment (reference §D): the assigned principal itself and, for a
// group, its members, directly or through nested groups. The service
// treats them as workspace admins whether or not the workspace's admins
// group lists them (the sandbox's seeds and its authorization do too), so
// a review must not show them as non-admins. Assignments name account
// principals by their account id, which is their id in an identity
// federated workspace's lists.
func (g *graph) assignedAdmins(as []scim.PermissionAssignment, admins map[string]bool) {
	for _, a := range as {
		if !slices.Contains(a.Permissions, "ADMIN") || a.Principal.PrincipalID == 0 {
			continue
		}
		id := strconv.FormatInt(a.Principal.PrincipalID, 10)
		admins[id] = true
		for _, re := range g.expand(id).reached { // a group's members; none for a user
			admins[re.id] = true
		}
	}
}
