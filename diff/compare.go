package diff

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Categories of a Change, in report order.
const (
	CategoryAdmin       = "admin"
	CategoryPrincipal   = "principal"
	CategoryMembership  = "membership"
	CategoryEntitlement = "entitlement"
	CategoryAssignment  = "assignment"
	CategoryWorkspace   = "workspace"
)

// Kinds of change.
const (
	ChangeGained      = "gained"
	ChangeLost        = "lost"
	ChangeAdded       = "added"
	ChangeRemoved     = "removed"
	ChangeActivated   = "activated"
	ChangeDeactivated = "deactivated"
	ChangeChanged     = "changed"
)

// Principal kinds, as dbiam export writes them.
const (
	kindUser  = "user"
	kindSP    = "service-principal"
	kindGroup = "group"
)

// Change is one difference between two exports, in one workspace.
type Change struct {
	WorkspaceID   string `json:"workspace_id"`
	WorkspaceName string `json:"workspace_name"`
	Category      string `json:"category"` // CategoryAdmin, ...
	Change        string `json:"change"`   // ChangeGained, ...
	// PrincipalKind and Principal name who changed: a user by userName, a
	// service principal by applicationId, a group by name (with "(account
	// group)" or "(workspace group)" when the workspace has both).
	PrincipalKind string `json:"principal_kind,omitempty"`
	Principal     string `json:"principal,omitempty"`
	// Subject is what changed for the principal: the group of a
	// membership, the entitlement, the assignment's permissions.
	Subject string `json:"subject,omitempty"`
	// Detail says how (a membership's path, an entitlement's sources).
	Detail string `json:"detail,omitempty"`
	// Old and New are the values before and after, where one applies.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// rank orders changes: admin rights gained first (what a reviewer looks for
// first), then lost, then the other categories.
func (c Change) rank() int {
	switch {
	case c.Category == CategoryAdmin && c.Change == ChangeGained:
		return 0
	case c.Category == CategoryAdmin:
		return 1
	}
	return 2 + slices.Index([]string{CategoryWorkspace, CategoryPrincipal, CategoryMembership, CategoryEntitlement, CategoryAssignment}, c.Category)
}

// NotCompared is a part of the exports that could not be compared.
type NotCompared struct {
	WorkspaceID   string `json:"workspace_id,omitempty"`
	WorkspaceName string `json:"workspace_name,omitempty"`
	Table         string `json:"table,omitempty"`
	Reason        string `json:"reason"`
}

// pkey identifies a principal within a workspace: kind and name (userName,
// applicationId or display name), and for groups their type (workspace or
// account), since both kinds may share a name.
type pkey struct {
	kind, name, gtype string
}

// principal is what an export says about one principal.
type principal struct {
	key     pkey
	display string
	active  string // "true", "false" or "" (unknown)
	admin   string // workspace_admin column: "true", "false" or "" (unknown or absent)
}

// membership is one effective membership: relation direct or transitive.
type membership struct {
	relation string
	via      string
}

// grant is one effective entitlement of a principal.
type grant struct {
	direct bool
	via    []string
}

// snapshot is what one export says about one workspace.
type snapshot struct {
	id, name, status, reason string
	principals               map[pkey]*principal
	members                  map[[2]pkey]membership // (group, member)
	grants                   map[pkey]map[string]grant
	assigns                  map[pkey][]string
	// assignsNotRead is why the workspace's assignments were not read.
	assignsNotRead string
	// admins are the principals with admin rights and why.
	admins map[pkey][]string
}

// exportData is one export, by workspace.
type exportData struct {
	raw        *rawExport
	workspaces map[string]*snapshot
	order      []string
}

// build turns the tables of an export into per-workspace snapshots.
func build(x *rawExport) (*exportData, error) {
	e := &exportData{raw: x, workspaces: map[string]*snapshot{}}
	ws := x.tables[tableWorkspaces]
	for _, r := range ws.rows {
		id := ws.get(r, "workspace_id")
		if id == "" {
			continue
		}
		s := &snapshot{id: id, name: ws.get(r, "workspace_name"), status: ws.get(r, "export_status"), reason: ws.get(r, "error"),
			principals: map[pkey]*principal{}, members: map[[2]pkey]membership{}, grants: map[pkey]map[string]grant{},
			assigns: map[pkey][]string{}, admins: map[pkey][]string{}}
		e.workspaces[id] = s
		e.order = append(e.order, id)
	}
	// ids maps (workspace, principal id) to the principal's key.
	ids := map[[2]string]pkey{}
	add := func(tb, kind, nameCol string, withType bool) {
		t := x.tables[tb]
		if t == nil {
			return
		}
		for _, r := range t.rows {
			s := e.workspaces[t.get(r, "workspace_id")]
			if s == nil {
				continue
			}
			k := pkey{kind: kind, name: t.get(r, nameCol)}
			if withType {
				k.gtype = t.get(r, "type")
			}
			p := &principal{key: k, display: t.get(r, "display_name"), active: t.get(r, "active"), admin: t.get(r, "workspace_admin")}
			s.principals[k] = p
			ids[[2]string{s.id, t.get(r, "id")}] = k
		}
	}
	add(tableUsers, kindUser, "user_name", false)
	add(tableSPs, kindSP, "application_id", false)
	add(tableGroups, kindGroup, "display_name", true)
	keyOf := func(ws, id, kind, name, gtype string) pkey {
		if k, ok := ids[[2]string{ws, id}]; ok {
			return k
		}
		return pkey{kind: kind, name: name, gtype: gtype}
	}

	if t := x.tables[tableMemberships]; t != nil {
		for _, r := range t.rows {
			s := e.workspaces[t.get(r, "workspace_id")]
			rel := t.get(r, "relation")
			if s == nil || (rel != "direct" && rel != "transitive") {
				continue // cycle rows restate memberships listed already
			}
			g := keyOf(s.id, t.get(r, "group_id"), kindGroup, t.get(r, "group_name"), t.get(r, "group_type"))
			m := keyOf(s.id, t.get(r, "member_id"), t.get(r, "member_kind"), t.get(r, "member_name"), "")
			s.members[[2]pkey{g, m}] = membership{relation: rel, via: strings.Join(t.items(r, "via", viaJoin), viaJoin)}
		}
	}
	if t := x.tables[tableEntitlements]; t != nil {
		effective := t.has("direct") // exports before effective entitlements listed direct grants only
		for _, r := range t.rows {
			s := e.workspaces[t.get(r, "workspace_id")]
			if s == nil {
				continue
			}
			k := keyOf(s.id, t.get(r, "principal_id"), t.get(r, "principal_kind"), t.get(r, "principal_name"), "")
			if s.grants[k] == nil {
				s.grants[k] = map[string]grant{}
			}
			gr := grant{direct: !effective || t.get(r, "direct") == "true", via: t.items(r, "via_groups", listJoin)}
			s.grants[k][t.get(r, "entitlement")] = gr
		}
	}
	if t := x.tables[tableAssignments]; t != nil {
		for _, r := range t.rows {
			s := e.workspaces[t.get(r, "workspace_id")]
			if s == nil {
				continue
			}
			if t.get(r, "principal_id") == "" && t.get(r, "principal_name") == "" {
				// The row that says why a workspace's assignments were not
				// read (403).
				s.assignsNotRead = t.get(r, "error")
				continue
			}
			k := pkey{kind: t.get(r, "principal_kind"), name: t.get(r, "principal_name")}
			if k.kind == kindGroup {
				k = keyOf(s.id, t.get(r, "principal_id"), kindGroup, k.name, "")
				if k.gtype == "" {
					k.gtype = "account" // assigned groups are account groups
				}
			}
			perms := t.items(r, "permissions", listJoin)
			slices.Sort(perms)
			s.assigns[k] = perms
		}
	}
	for _, s := range e.workspaces {
		s.computeAdmins(x.tables[tableMemberships] == nil)
	}
	return e, nil
}

// computeAdmins finds the principals with admin rights in the workspace
// and why: membership of the workspace group "admins" (from the
// memberships table, which lists its direct and transitive members; the
// workspace_admin column only without that table, since exports count
// ADMIN assignments in it too), an ADMIN permission assignment, or one to
// a group they belong to.
func (s *snapshot) computeAdmins(useColumn bool) {
	add := func(k pkey, why string) {
		if k.kind == kindGroup {
			return // a group's admin rights are its members'
		}
		if !slices.Contains(s.admins[k], why) {
			s.admins[k] = append(s.admins[k], why)
		}
	}
	if useColumn {
		for k, p := range s.principals {
			if p.admin == "true" {
				add(k, "member of admins")
			}
		}
	} else {
		for gm := range s.members {
			if gm[0].name == "admins" && gm[0].gtype == "workspace" {
				add(gm[1], "member of admins")
			}
		}
	}
	for k, perms := range s.assigns {
		if !slices.Contains(perms, "ADMIN") {
			continue
		}
		if k.kind != kindGroup {
			add(k, "ADMIN assignment")
			continue
		}
		for gm := range s.members {
			if gm[0] == k {
				add(gm[1], "ADMIN assignment of group "+k.name)
			}
		}
	}
	for _, why := range s.admins {
		slices.Sort(why)
	}
}

// display names a principal in a change: its name, and for a group whose
// name is shared by a workspace and an account group in either export, its
// type.
func display(k pkey, shared map[string]bool) string {
	if k.kind == kindGroup && shared[k.name] && k.gtype != "" {
		return k.name + " (" + k.gtype + " group)"
	}
	return k.name
}

// sharedNames returns the group names that more than one group of the
// workspace holds, in either snapshot.
func sharedNames(snaps ...*snapshot) map[string]bool {
	out := map[string]bool{}
	for _, s := range snaps {
		types := map[string]string{}
		for k := range s.principals {
			if k.kind != kindGroup {
				continue
			}
			if t, ok := types[k.name]; ok && t != k.gtype {
				out[k.name] = true
			}
			types[k.name] = k.gtype
		}
	}
	return out
}

// result is a comparison.
type result struct {
	Changes     []Change
	NotCompared []NotCompared
}

// compare compares two exports workspace by workspace.
func compare(oldX, newX *exportData) result {
	var res result
	for _, table := range []string{tableUsers, tableSPs, tableGroups, tableMemberships, tableEntitlements, tableAssignments} {
		for _, side := range []struct {
			name string
			x    *exportData
		}{{"OLD", oldX}, {"NEW", newX}} {
			if side.x.raw.tables[table] == nil {
				res.NotCompared = append(res.NotCompared, NotCompared{Table: table, Reason: "not in the " + side.name + " export"})
			}
		}
	}
	missing := func(table string) bool {
		return oldX.raw.tables[table] == nil || newX.raw.tables[table] == nil
	}
	ids := slices.Clone(oldX.order)
	for _, id := range newX.order {
		if oldX.workspaces[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareIDs)
	for _, id := range ids {
		o, n := oldX.workspaces[id], newX.workspaces[id]
		switch {
		case o == nil:
			res.Changes = append(res.Changes, Change{WorkspaceID: id, WorkspaceName: n.name, Category: CategoryWorkspace,
				Change: ChangeAdded, Detail: "in the NEW export only"})
			continue
		case n == nil:
			res.Changes = append(res.Changes, Change{WorkspaceID: id, WorkspaceName: o.name, Category: CategoryWorkspace,
				Change: ChangeRemoved, Detail: "in the OLD export only"})
			continue
		}
		if why := notReadable(o, "OLD", n, "NEW"); why != "" {
			res.NotCompared = append(res.NotCompared, NotCompared{WorkspaceID: id, WorkspaceName: n.name, Reason: why})
			continue
		}
		w := wsDiff{id: id, name: n.name, o: o, n: n, shared: sharedNames(o, n)}
		if !missing(tableUsers) && !missing(tableSPs) && !missing(tableGroups) {
			w.principals()
		}
		if !missing(tableMemberships) {
			w.memberships()
		}
		if !missing(tableEntitlements) {
			w.entitlements()
		}
		switch {
		case missing(tableAssignments):
		case o.assignsNotRead != "" || n.assignsNotRead != "":
			why := n.assignsNotRead
			side := "NEW"
			if o.assignsNotRead != "" {
				why, side = o.assignsNotRead, "OLD"
			}
			res.NotCompared = append(res.NotCompared, NotCompared{WorkspaceID: id, WorkspaceName: n.name, Table: tableAssignments,
				Reason: "not read in the " + side + " export: " + why})
		default:
			w.assignments()
		}
		// Admin rights come from memberships and assignments: compared
		// only when both were.
		if !missing(tableMemberships) && !missing(tableAssignments) && o.assignsNotRead == "" && n.assignsNotRead == "" {
			w.admins()
		} else if !missing(tableUsers) && !missing(tableMemberships) {
			w.adminsByMembership()
		}
		res.Changes = append(res.Changes, w.changes...)
	}
	slices.SortStableFunc(res.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.rank(), b.rank()), compareIDs(a.WorkspaceID, b.WorkspaceID),
			cmp.Compare(a.Change, b.Change), compareNames(a.Principal, b.Principal), compareNames(a.Subject, b.Subject))
	})
	return res
}

// notReadable says why a workspace cannot be compared: it was not exported
// whole in one of the exports.
func notReadable(o *snapshot, oside string, n *snapshot, nside string) string {
	for _, s := range []struct {
		snap *snapshot
		side string
	}{{o, oside}, {n, nside}} {
		if s.snap.status != "" && s.snap.status != "ok" {
			why := "export_status " + s.snap.status + " in the " + s.side + " export"
			if s.snap.reason != "" {
				why += ": " + s.snap.reason
			}
			return why
		}
	}
	return ""
}

// wsDiff collects the changes of one workspace.
type wsDiff struct {
	id, name string
	o, n     *snapshot
	shared   map[string]bool
	changes  []Change
}

func (w *wsDiff) add(c Change) {
	c.WorkspaceID, c.WorkspaceName = w.id, w.name
	w.changes = append(w.changes, c)
}

func (w *wsDiff) principals() {
	for k, np := range w.n.principals {
		op, ok := w.o.principals[k]
		switch {
		case !ok:
			w.add(Change{Category: CategoryPrincipal, Change: ChangeAdded, PrincipalKind: k.kind, Principal: display(k, w.shared), Detail: np.display})
		case op.active == "false" && np.active == "true":
			w.add(Change{Category: CategoryPrincipal, Change: ChangeActivated, PrincipalKind: k.kind, Principal: display(k, w.shared)})
		case op.active == "true" && np.active == "false":
			w.add(Change{Category: CategoryPrincipal, Change: ChangeDeactivated, PrincipalKind: k.kind, Principal: display(k, w.shared)})
		}
	}
	for k, op := range w.o.principals {
		if _, ok := w.n.principals[k]; !ok {
			w.add(Change{Category: CategoryPrincipal, Change: ChangeRemoved, PrincipalKind: k.kind, Principal: display(k, w.shared), Detail: op.display})
		}
	}
}

func (w *wsDiff) memberships() {
	for gm, nm := range w.n.members {
		om, ok := w.o.members[gm]
		c := Change{Category: CategoryMembership, PrincipalKind: gm[1].kind, Principal: display(gm[1], w.shared), Subject: display(gm[0], w.shared)}
		switch {
		case !ok:
			c.Change, c.Detail = ChangeAdded, relationText(nm)
		case om.relation != nm.relation:
			c.Change, c.Old, c.New = ChangeChanged, relationText(om), relationText(nm)
		default:
			continue
		}
		w.add(c)
	}
	for gm, om := range w.o.members {
		if _, ok := w.n.members[gm]; !ok {
			w.add(Change{Category: CategoryMembership, Change: ChangeRemoved, PrincipalKind: gm[1].kind,
				Principal: display(gm[1], w.shared), Subject: display(gm[0], w.shared), Detail: relationText(om)})
		}
	}
}

// relationText describes a membership: "direct", or "transitive via a > b".
func relationText(m membership) string {
	if m.relation == "transitive" && m.via != "" {
		return "transitive via " + m.via
	}
	return m.relation
}

func (w *wsDiff) entitlements() {
	for k, ng := range w.n.grants {
		og := w.o.grants[k]
		for ent, g := range ng {
			if _, ok := og[ent]; !ok {
				w.add(Change{Category: CategoryEntitlement, Change: ChangeGained, PrincipalKind: k.kind,
					Principal: display(k, w.shared), Subject: ent, Detail: grantText(g)})
			}
		}
	}
	for k, og := range w.o.grants {
		ng := w.n.grants[k]
		for ent, g := range og {
			if _, ok := ng[ent]; !ok {
				w.add(Change{Category: CategoryEntitlement, Change: ChangeLost, PrincipalKind: k.kind,
					Principal: display(k, w.shared), Subject: ent, Detail: "was " + grantText(g)})
			}
		}
	}
}

// grantText says where an entitlement comes from.
func grantText(g grant) string {
	var parts []string
	if g.direct {
		parts = append(parts, "direct")
	}
	for _, v := range g.via {
		parts = append(parts, "via "+v)
	}
	return strings.Join(parts, "; ")
}

func (w *wsDiff) assignments() {
	for k, np := range w.n.assigns {
		op, ok := w.o.assigns[k]
		switch {
		case !ok:
			w.add(Change{Category: CategoryAssignment, Change: ChangeAdded, PrincipalKind: k.kind, Principal: display(k, w.shared),
				New: strings.Join(np, ", ")})
		case !slices.Equal(op, np):
			w.add(Change{Category: CategoryAssignment, Change: ChangeChanged, PrincipalKind: k.kind, Principal: display(k, w.shared),
				Old: strings.Join(op, ", "), New: strings.Join(np, ", ")})
		}
	}
	for k, op := range w.o.assigns {
		if _, ok := w.n.assigns[k]; !ok {
			w.add(Change{Category: CategoryAssignment, Change: ChangeRemoved, PrincipalKind: k.kind, Principal: display(k, w.shared),
				Old: strings.Join(op, ", ")})
		}
	}
}

func (w *wsDiff) admins() {
	for k, why := range w.n.admins {
		if _, ok := w.o.admins[k]; !ok {
			w.add(Change{Category: CategoryAdmin, Change: ChangeGained, PrincipalKind: k.kind, Principal: display(k, w.shared),
				Detail: strings.Join(why, "; ")})
		}
	}
	for k, why := range w.o.admins {
		if _, ok := w.n.admins[k]; !ok {
			w.add(Change{Category: CategoryAdmin, Change: ChangeLost, PrincipalKind: k.kind, Principal: display(k, w.shared),
				Detail: "was " + strings.Join(why, "; ")})
		}
	}
}

// adminsByMembership compares admin rights from membership of admins
// alone, when assignments cannot be compared.
func (w *wsDiff) adminsByMembership() {
	only := func(m map[pkey][]string) map[pkey][]string {
		out := map[pkey][]string{}
		for k, why := range m {
			if slices.Contains(why, "member of admins") {
				out[k] = []string{"member of admins"}
			}
		}
		return out
	}
	o, n := w.o.admins, w.n.admins
	w.o.admins, w.n.admins = only(o), only(n)
	w.admins()
	w.o.admins, w.n.admins = o, n
}

// compareNames orders names case-insensitively, then exactly.
func compareNames(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

// compareIDs orders numeric ids numerically (shorter first), others as text.
func compareIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// counts are the number of changes per category and kind of change.
func counts(cs []Change) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		out[c.Category+" "+c.Change]++
	}
	return out
}

// summaryLine says how many changes there are, admin gains first.
func summaryLine(r result) string {
	parts := func(n int) string {
		if n == 1 {
			return "1 part not compared"
		}
		return strconv.Itoa(n) + " parts not compared"
	}
	if len(r.Changes) == 0 {
		if len(r.NotCompared) > 0 {
			return "no differences in what could be compared; " + parts(len(r.NotCompared))
		}
		return "no differences"
	}
	n := counts(r.Changes)
	s := strconv.Itoa(len(r.Changes)) + " changes"
	if len(r.Changes) == 1 {
		s = "1 change"
	}
	switch g := n[CategoryAdmin+" "+ChangeGained]; {
	case g == 1:
		s += " (1 admin right gained)"
	case g > 1:
		s += fmt.Sprintf(" (%d admin rights gained)", g)
	}
	if len(r.NotCompared) > 0 {
		s += "; " + parts(len(r.NotCompared))
	}
	return s
}
