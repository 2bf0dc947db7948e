package sandbox

import (
	"net/http"
	"strings"
)

// This file emulates the permission migration API (reference §E): POST
// /api/2.0/permissionmigration moves the object grants of a workspace-local
// group to an account group across the workspace's objects, at most "size"
// per call, and answers {"permissions_migrated": n}. Callers repeat it until
// n is 0.
//
// By default the move is a copy: the local group keeps its grants (the
// conservative reading; SetPermissionMigrationCopies(false) removes them).
// A grant counts as migrated when the account group's level on the object
// changes (it had none, or a lower one); in copy mode a grant the account
// group already holds is not counted, so the loop ends. Both groups are
// resolved by name through the eventually consistent view that lists use:
// a rename or an assignment is seen only after Options.Consistency.

func init() {
	registerFamily(family{name: "permissionmigration", routes: registerPermissionMigration})
}

// permMigrationMoves is the Server.ext key of the copy/move knob.
const permMigrationMoves = "permissionmigration.moves"

// SetPermissionMigrationCopies sets whether POST /api/2.0/permissionmigration
// copies grants (true, the default: the local group keeps them until it is
// deleted) or moves them (false). It is safe for concurrent use.
func (s *Server) SetPermissionMigrationCopies(copies bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ext[permMigrationMoves] = !copies
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
	from, to := s.listedGroup(c, body.From, w.id), s.listedGroup(c, body.To, 0)
	if from == nil {
		if s.listedGroup(c, body.From, 0) != nil {
			return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group %s is not a workspace local group", body.From)
		}
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group %s does not exist", body.From)
	}
	if to == nil {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Account group %s does not exist in workspace %d", body.To, w.id)
	}
	moves, _ := s.ext[permMigrationMoves].(bool)
	g := s.grants(w)
	n := 0
	for _, k := range g.order {
		if body.Size > 0 && n >= body.Size {
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
		}
		if moves {
			a.remove(from.id)
			n++
		} else if changed {
			n++
		}
	}
	return c.reply(http.StatusOK, map[string]int{"permissions_migrated": n})
}

// listedGroup finds the live group named name as lists see it at the
// request time: for ws != 0 a local group of workspace ws; for ws == 0 an
// account group listed in the routed workspace (assigned, and created
// longer than the consistency delay ago).
func (s *Server) listedGroup(c *call, name string, ws int64) *principal {
	delay := s.opts.Consistency
	for _, p := range s.st.order {
		if p.kind != kindGroup || p.ws != ws || !p.live() {
			continue
		}
		if !strings.EqualFold(listedName(p, c.now, delay), name) {
			continue
		}
		if s.st.listed(p, c.ws, c.now, delay) {
			return p
		}
	}
	return nil
}
