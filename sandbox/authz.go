package sandbox

import (
	"net/http"
	"slices"
	"strconv"
)

// This file is the authorization model shared by every family: who a token
// acts as in a workspace, whether that principal is a workspace admin, and
// what it may do with an object or a secret scope. Callers hold s.mu.
//
// Token scope: a token with a workspace (a personal access token) is valid
// only in the workspace that issued it (elsewhere 403 "Invalid access to
// Org: <id>", as the service answers a token of another workspace) and, unless
// Options.AccountPATs is set, not on account APIs (401). A token without a
// workspace is an account-level token (what OAuth at the account console
// issues): account APIs by its role, and every workspace where its principal
// has access.
//
// Access: in a workspace the token's principal acts as itself when it
// exists there (a local principal of the workspace, or an account principal
// visible in a federated workspace) or, in a workspace without identity
// federation, as the workspace's own principal with the same user name or
// application id. Without such a principal the workspace refuses the token
// (403).
//
// Admin: a workspace admin is a member, directly or through nested groups,
// of the workspace's "admins" group, or holds an ADMIN assignment directly
// or through a group; a workspace_admin token is admin of its workspace. The
// account_admin role makes nobody a workspace admin by itself.

// actor returns the principal that acts for p in workspace w, nil when p
// has no access to w.
func (st *state) actor(w *workspace, p *principal) *principal {
	if p == nil || !p.live() {
		return nil
	}
	if st.visible(w, p) {
		return p
	}
	if p.ws == 0 && !w.federated && p.kind != kindGroup {
		if q := st.lookupName(w.id, p.kind, p.name()); q != nil && q.live() {
			return q
		}
	}
	return nil
}

// groupsOf returns the ids of the groups p belongs to as seen in workspace
// w: its parents, their parents and so on, and the implicit system groups
// ("users" for every user and service principal of w, "account users" for
// every account user and service principal).
func (st *state) groupsOf(w *workspace, p *principal) map[string]bool {
	out := map[string]bool{}
	var queue []string
	if p.kind != kindGroup {
		queue = append(queue, w.usersGroup)
		if p.ws == 0 {
			queue = append(queue, st.accountUsersID)
		}
	}
	queue = append(queue, st.parents[p.id]...)
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if id == "" || out[id] {
			continue
		}
		g := st.get(id)
		if g == nil {
			continue
		}
		out[id] = true
		queue = append(queue, st.parents[id]...)
	}
	return out
}

// holders returns the ids whose grants apply to p in w: p and its groups.
func (st *state) holders(w *workspace, p *principal) map[string]bool {
	h := st.groupsOf(w, p)
	h[p.id] = true
	return h
}

// isWorkspaceAdmin reports whether p is an admin of workspace w: a member
// of its admins group (through nested groups too) or the holder of an ADMIN
// assignment, directly or through a group.
func (st *state) isWorkspaceAdmin(w *workspace, p *principal) bool {
	for id := range st.holders(w, p) {
		if id == w.adminsGroup || slices.Contains(w.assignments[id], "ADMIN") {
			return true
		}
	}
	return false
}

// authorizeWorkspace decides a workspace call: the token's scope, the
// acting principal and, for admin routes, admin rights. It sets c.actor and
// c.admin. Callers hold s.mu for reading.
func (s *Server) authorizeWorkspace(c *call) *apiError {
	t := c.tok
	if t.ws != 0 && t.ws != c.ws.id {
		return &apiError{status: http.StatusForbidden, msg: "Invalid access to Org: " + strconv.FormatInt(c.ws.id, 10), rest: true, numericCode: true}
	}
	a := s.st.actor(c.ws, s.st.get(t.principal))
	if a == nil {
		return restOrSCIM(http.StatusForbidden, "PERMISSION_DENIED",
			"The caller is not a member of workspace %d.", c.ws.id)
	}
	c.actor = a
	c.admin = (t.role == RoleWorkspaceAdmin && t.ws == c.ws.id) || s.st.isWorkspaceAdmin(c.ws, a)
	switch c.rt.access {
	case accessAccountAdmin:
		if t.role != RoleAccountAdmin {
			return restOrSCIM(http.StatusForbidden, "PERMISSION_DENIED", "Only account admins can call this API.")
		}
	case accessWorkspaceAdmin:
		if !c.admin {
			return restOrSCIM(http.StatusForbidden, "PERMISSION_DENIED", "Only workspace admins can call this API.")
		}
	}
	return nil
}

// authorizeAccount decides an account call: account APIs take account-level
// tokens (a personal access token only with Options.AccountPATs), and their
// routes need the account_admin role.
func (s *Server) authorizeAccount(c *call) *apiError {
	t := c.tok
	if t.ws != 0 && !s.opts.AccountPATs {
		return restErr(http.StatusUnauthorized, "UNAUTHENTICATED",
			"Invalid access token: a workspace's personal access token is not valid for account APIs.")
	}
	if c.rt.access == accessAccountAdmin && t.role != RoleAccountAdmin {
		return restOrSCIM(http.StatusForbidden, "PERMISSION_DENIED", "Only account admins can call this API.")
	}
	return nil
}

// ---- objects ----

// canSee reports whether the caller may see object typ/id in lists and
// gets: admins see everything, others need a permission on it (direct,
// through a group, or inherited).
func (c *call) canSee(typ, id string) bool {
	if c.admin {
		return true
	}
	return c.s.effectiveRank(c, typ, id) >= 0
}

// canSeeListed is canSee for the lists whose filtering the SDK does not
// document (jobs, clusters, pipelines, serving endpoints, apps): with
// Options.ListAllObjects every member sees every object.
func (c *call) canSeeListed(typ, id string) bool {
	return c.s.opts.ListAllObjects || c.canSee(typ, id)
}

// holderSet returns the caller's holders in its workspace, computed once
// per request.
func (c *call) holderSet() map[string]bool {
	if c.holders == nil {
		c.holders = c.s.st.holders(c.ws, c.actor)
	}
	return c.holders
}

// effectiveRank returns the rank (see levelRank) of the highest level the
// caller holds on object typ/id, directly, through a group or inherited;
// -1 when none. typ must be canonical.
func (s *Server) effectiveRank(c *call, typ, id string) int {
	if c.actor == nil {
		return -1
	}
	h := c.holderSet()
	best := -1
	a := s.grants(c.ws).find(typ, id)
	if a == nil {
		if !aclTypes[typ].fixed {
			return -1
		}
		a = &objectACL{key: objectKey{typ, id}}
	}
	for _, e := range s.aclView(c.ws, a) {
		if !h[e.p.id] {
			continue
		}
		for _, l := range e.levels {
			best = max(best, levelRank(typ, l.level))
		}
	}
	return best
}

// canManage reports whether the caller may change object typ/id's
// permissions: an admin, or a holder of CAN_MANAGE or IS_OWNER (directly,
// through a group or inherited).
func (s *Server) canManage(c *call, typ, id string) bool {
	if c.admin {
		return true
	}
	manage := levelRank(typ, "CAN_MANAGE")
	return manage >= 0 && s.effectiveRank(c, typ, id) >= manage
}

// ---- secret scopes ----

// secretRank orders secret permissions.
func secretRank(p string) int {
	return slices.Index([]string{"READ", "WRITE", "MANAGE"}, p)
}

// secretPermission returns the caller's effective permission on a secret
// scope: MANAGE for workspace admins, else the most powerful ACL of the
// caller or one of its groups ("" when none).
func (s *Server) secretPermission(c *call, sc *secretScope) string {
	if c.admin {
		return "MANAGE"
	}
	if c.actor == nil {
		return ""
	}
	h := c.holderSet()
	best := ""
	for _, a := range sc.acls {
		if h[a.principal] && secretRank(a.level) > secretRank(best) {
			best = a.level
		}
	}
	return best
}
