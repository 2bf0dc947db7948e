package export

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// counts are a workspace's figures for the workspaces table and the
// summary; nil fields were not read.
type counts struct {
	users, sps, groups, wsGroups, acctGroups   *int
	direct, transitive, inCycles, entitlements *int
	assignments                                *int
}

func intp(n int) *int { return &n }

// values returns the values of a multi-valued attribute, sorted, without
// duplicates.
func values(cv []scim.ComplexValue) []string {
	vals := make([]string, 0, len(cv))
	for _, v := range cv {
		if v.Value != "" {
			vals = append(vals, v.Value)
		}
	}
	slices.SortFunc(vals, compareNames)
	return slices.Compact(vals)
}

// emails returns a user's email addresses, primary first, in list order.
func emails(cv []scim.ComplexValue) []string {
	vals := make([]string, 0, len(cv))
	for _, v := range cv {
		if v.Primary && v.Value != "" {
			vals = append(vals, v.Value)
		}
	}
	for _, v := range cv {
		if !v.Primary && v.Value != "" && !slices.Contains(vals, v.Value) {
			vals = append(vals, v.Value)
		}
	}
	return vals
}

// names returns the names of the principals ids, in the given order.
func (g *graph) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = g.node(id).name
	}
	return out
}

// wsRows writes one workspace's rows into w, a section per included table
// whose reads succeeded, each sorted, and returns the workspace's counts.
// The account_user column is left empty: it is filled in when the rows are
// copied to the output (see accountUserFix), so that a workspace never waits
// for the account list.
func (r *runner) wsRows(w *spoolWriter, ws []any, d *wsData) counts {
	inc := r.cfg.include
	var c counts
	g := buildGraph(d.users, d.sps, d.groups, d.links, d.refNames)
	all := d.ok(readUsers, readSPs, readGroups)
	// Admin rights need every list: a principal is an admin through
	// groups. Without them the column is empty, not false.
	var admins map[string]bool
	if all {
		admins = g.admins()
		if d.ok(readAssignments) {
			g.assignedAdmins(d.assignments, admins)
		}
	}
	admin := func(id string) any {
		if admins == nil {
			return nil
		}
		return admins[id]
	}

	if d.ok(readUsers) {
		c.users = intp(len(d.users))
		if inc.has(IncludeUsers) {
			users := sortedBy(d.users, userName, nil, userID)
			w.begin(TableUsers)
			for _, u := range users {
				parents := g.parents[u.ID]
				w.row(append(ws[:2:2], u.ID, u.UserName, u.DisplayName, u.Active, u.ExternalID,
					emails(u.Emails), nil, values(u.Entitlements), g.names(parents), len(parents), admin(u.ID))...)
			}
		}
	}
	if d.ok(readSPs) {
		c.sps = intp(len(d.sps))
		if inc.has(IncludeServicePrincipals) {
			sps := sortedBy(d.sps, spName, spApp, spID)
			w.begin(TableServicePrincipals)
			for _, s := range sps {
				parents := g.parents[s.ID]
				w.row(append(ws[:2:2], s.ID, s.ApplicationID, s.DisplayName, s.Active, s.ExternalID,
					values(s.Entitlements), g.names(parents), len(parents), admin(s.ID))...)
			}
		}
	}
	if d.ok(readGroups) {
		c.groups = intp(len(d.groups))
		nws, nacct := 0, 0
		for _, gr := range d.groups {
			switch groupType(gr) {
			case groupTypeWorkspace:
				nws++
			case groupTypeAccount:
				nacct++
			}
		}
		c.wsGroups, c.acctGroups = intp(nws), intp(nacct)
	}
	if all && inc.has(IncludeGroups) {
		groups := sortedBy(d.groups, groupName, nil, groupID)
		w.begin(TableGroups)
		for _, gr := range groups {
			var byKind [3]int
			members := g.members[gr.ID]
			for _, m := range members {
				byKind[kindRank(g.node(m).kind)]++
			}
			parents := g.parents[gr.ID]
			w.row(append(ws[:2:2], gr.ID, gr.DisplayName, groupType(gr), gr.ExternalID,
				len(members), byKind[0], byKind[1], byKind[2],
				values(gr.Entitlements), values(gr.Roles), g.names(parents))...)
		}
	}
	if all {
		direct, transitive, inCycles := r.membershipRows(w, ws, g, inc.has(IncludeMemberships))
		c.direct, c.transitive, c.inCycles = intp(direct), intp(transitive), intp(inCycles)
		n := r.entitlementRows(w, ws, d, g, admins, inc.has(IncludeEntitlements))
		c.entitlements = intp(n)
	}
	if d.ok(readAssignments) {
		c.assignments = intp(len(d.assignments))
		assignmentRows(w, ws, d.assignments)
	} else if d.assignmentsDenied != nil && inc.has(IncludeAssignments) {
		// One row without a principal says why the workspace has no
		// assignments rows, rather than leaving it looking unassigned.
		w.begin(TableAssignments)
		w.row(append(ws[:2:2], nil, nil, nil, nil, nil, d.assignmentsDenied.Error())...)
	}
	return c
}

// accountUserFix returns the row fix-up that sets the account_user column
// of users rows from the account users' ids (nil: unknown, left empty).
func accountUserFix(accountUsers map[string]bool) func([]any) {
	cols := columns[TableUsers]
	idCol, acctCol := columnIndex(cols, "id"), columnIndex(cols, "account_user")
	return func(vals []any) {
		if accountUsers == nil {
			vals[acctCol] = nil
			return
		}
		id, _ := vals[idCol].(string)
		vals[acctCol] = accountUsers[id]
	}
}

func columnIndex(cols []reports.Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	panic("export: no column " + name)
}

// membershipRow is one row of the memberships table, before rendering.
type membershipRow struct {
	member   *node
	relation string
	depth    int
	via      []string
}

func relationRank(rel string) int {
	switch rel {
	case relDirect:
		return 0
	case relTransitive:
		return 1
	}
	return 2
}

// membershipRows writes, when write is set, the memberships of every group
// (listed or only referenced): its direct members, then the members it
// holds only through nested groups (transitive, with the shortest path),
// then a cycle row when the group is its own member. It returns the number
// of direct and transitive memberships and of groups in a cycle, and logs
// each cycle once.
func (r *runner) membershipRows(w *spoolWriter, ws []any, g *graph, write bool) (direct, transitive, inCycles int) {
	if write {
		w.begin(TableMemberships)
	}
	var rows []membershipRow
	for _, grp := range g.groups() {
		c := g.expand(grp.id)
		rows = rows[:0]
		for _, re := range c.reached {
			m := g.node(re.id)
			if re.depth == 1 {
				direct++
				if write {
					rows = append(rows, membershipRow{member: m, relation: relDirect, depth: 1})
				}
				continue
			}
			transitive++
			if write {
				rows = append(rows, membershipRow{member: m, relation: relTransitive, depth: re.depth,
					via: g.via(c, re.id)})
			}
		}
		if path := g.cyclePath(c); path != nil {
			inCycles++
			rows = append(rows, membershipRow{member: grp, relation: relCycle, depth: len(path) - 1, via: path})
		}
		if !write {
			continue
		}
		slices.SortFunc(rows, func(a, b membershipRow) int {
			return cmp.Or(cmp.Compare(relationRank(a.relation), relationRank(b.relation)), compareNodes(a.member, b.member))
		})
		for _, m := range rows {
			w.row(append(ws[:2:2], grp.id, grp.name, grp.groupType, m.member.id, m.member.kind, m.member.name,
				m.relation, m.depth, m.via)...)
		}
	}
	for _, cy := range g.cycles() {
		names := make([]string, len(cy))
		for i, id := range cy {
			names[i] = g.node(id).name
		}
		r.log.Warn("group membership cycle", "workspace", ws[0], "groups", strings.Join(names, listSeparator))
	}
	return direct, transitive, inCycles
}

// entitlementRows writes, when write is set, the effective entitlements of
// every user and service principal, one row per (principal, entitlement):
// direct when it is granted to the principal itself, and via_groups, the
// groups that grant it to the principal through membership, each as the
// path from the granting group down to the principal's own group (nested
// groups included, the shortest path through each granting group). Groups
// get one row per entitlement granted to the group itself (what its
// members inherit). Every row carries the principal's workspace_admin
// (nil when unknown). It returns the number of rows.
func (r *runner) entitlementRows(w *spoolWriter, ws []any, d *wsData, g *graph, admins map[string]bool, write bool) int {
	type ent struct {
		p      *node
		value  string
		direct bool
		via    [][]string // the paths of the groups that grant it
	}
	granted := make(map[string][]string, len(d.groups)) // group id -> its own entitlements
	for _, gr := range d.groups {
		if vals := values(gr.Entitlements); len(vals) > 0 {
			granted[gr.ID] = vals
		}
	}
	var rows []ent
	byValue := map[string]int{} // entitlement -> index in rows, for the current principal
	var as []ancestor
	effective := func(p *node, own []scim.ComplexValue) {
		clear(byValue)
		get := func(v string) *ent {
			i, ok := byValue[v]
			if !ok {
				i = len(rows)
				byValue[v] = i
				rows = append(rows, ent{p: p, value: v})
			}
			return &rows[i]
		}
		for _, v := range values(own) {
			get(v).direct = true
		}
		as = g.ancestors(p.id, as)
		for i, a := range as {
			if len(granted[a.id]) == 0 {
				continue
			}
			path := g.pathTo(as, i)
			for _, v := range granted[a.id] {
				e := get(v)
				e.via = append(e.via, path)
			}
		}
	}
	for i := range d.users {
		effective(g.node(d.users[i].ID), d.users[i].Entitlements)
	}
	for i := range d.sps {
		effective(g.node(d.sps[i].ID), d.sps[i].Entitlements)
	}
	for _, gr := range d.groups {
		n := g.node(gr.ID)
		for _, v := range granted[gr.ID] {
			rows = append(rows, ent{p: n, value: v, direct: true})
		}
	}
	if !write {
		return len(rows)
	}
	slices.SortFunc(rows, func(a, b ent) int {
		return cmp.Or(compareNodes(a.p, b.p), strings.Compare(a.value, b.value))
	})
	w.begin(TableEntitlements)
	for _, e := range rows {
		via := e.via
		slices.SortFunc(via, func(a, b []string) int { return slices.CompareFunc(a, b, compareNames) })
		var admin any
		if admins != nil {
			admin = admins[e.p.id]
		}
		w.row(append(ws[:2:2], e.p.kind, e.p.id, e.p.name, e.value, e.direct, via, admin)...)
	}
	return len(rows)
}

// assignmentPrincipal returns the kind and name of an assignment's
// principal: a user's userName, a service principal's applicationId or a
// group's displayName.
func assignmentPrincipal(p scim.Principal) (kind, name string) {
	switch {
	case p.UserName != "":
		return kindUser, p.UserName
	case p.ServicePrincipalName != "":
		return kindSP, p.ServicePrincipalName
	case p.GroupName != "":
		return kindGroup, p.GroupName
	}
	return "", p.DisplayName
}

// assignmentRows writes the workspace's permission assignments, by kind,
// name and id.
func assignmentRows(w *spoolWriter, ws []any, as []scim.PermissionAssignment) {
	type row struct {
		n     node
		a     scim.PermissionAssignment
		perms []string
	}
	rows := make([]row, 0, len(as))
	for _, a := range as {
		kind, name := assignmentPrincipal(a.Principal)
		perms := slices.Clone(a.Permissions)
		slices.Sort(perms)
		rows = append(rows, row{n: newNode(strconv.FormatInt(a.Principal.PrincipalID, 10), name, kind),
			a: a, perms: perms})
	}
	slices.SortFunc(rows, func(a, b row) int { return compareNodes(&a.n, &b.n) })
	w.begin(TableAssignments)
	for _, r := range rows {
		w.row(append(ws[:2:2], r.n.id, r.n.kind, r.n.name, r.a.Principal.DisplayName, r.perms, r.a.Error)...)
	}
}

// accountRows writes the account tables that were read.
func (r *runner) accountRows(w *spoolWriter, d *accountData) {
	id := r.acct.AccountID
	if !r.cfg.include.has(IncludeAccount) {
		return
	}
	if d.read[readUsers] {
		users := sortedBy(d.users, userName, nil, userID)
		w.begin(TableAccountUsers)
		for _, u := range users {
			w.row(id, u.ID, u.UserName, u.DisplayName, u.Active, u.ExternalID, emails(u.Emails), values(u.Roles))
		}
	}
	if d.read[readGroups] {
		groups := sortedBy(d.groups, groupName, nil, groupID)
		w.begin(TableAccountGroups)
		for _, g := range groups {
			w.row(id, g.ID, g.DisplayName, g.ExternalID, values(g.Roles))
		}
	}
	if d.read[readSPs] {
		sps := sortedBy(d.sps, spName, spApp, spID)
		w.begin(TableAccountServicePrincipals)
		for _, s := range sps {
			w.row(id, s.ID, s.ApplicationID, s.DisplayName, s.Active, s.ExternalID, values(s.Roles))
		}
	}
}
