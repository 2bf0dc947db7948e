package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func init() {
	registerFamily(family{name: "workspaces", routes: registerWorkspaces})
}

const (
	accountBase     = "/api/2.0/accounts/{account_id}"
	accountAssignWS = accountBase + "/workspaces/{workspace_id}/permissionassignments"
	wsAssignBase    = "/api/2.0/preview/permissionassignments"
)

func registerWorkspaces(s *Server) {
	acct := func(method, pattern, class string, write bool, h func(*call) error) route {
		return route{method: method, pattern: pattern, class: class, scope: scopeAccount,
			access: accessAccountAdmin, write: write, handle: h}
	}
	s.handle(acct("GET", accountBase+"/workspaces", ClassDefault, false, s.listWorkspaces))
	s.handle(acct("GET", accountBase+"/workspaces/{workspace_id}", ClassDefault, false, s.getWorkspace))
	s.handle(acct("GET", accountBase+"/workspaces/{workspace_id}/metastore", ClassDefault, false, s.accountMetastore))
	s.handle(acct("GET", accountAssignWS, ClassAssignments, false, s.listAssignments))
	s.handle(acct("GET", accountAssignWS+"/permissions", ClassAssignments, false, s.assignmentLevels))
	s.handle(acct("PUT", accountAssignWS+"/principals/{principal_id}", ClassAssignments, true, s.putAssignment))
	s.handle(acct("DELETE", accountAssignWS+"/principals/{principal_id}", ClassAssignments, true, s.deleteAssignment))

	ws := func(method, pattern string, write bool, h func(*call) error) route {
		return route{method: method, pattern: pattern, class: ClassAssignments, scope: scopeWorkspace,
			access: accessWorkspaceAdmin, write: write, handle: h}
	}
	s.handle(ws("GET", wsAssignBase, false, s.listAssignments))
	s.handle(ws("POST", wsAssignBase, true, s.postAssignmentsByName))
	s.handle(ws("PUT", wsAssignBase+"/principals/{principal_id}", true, s.putAssignment))
	s.handle(ws("DELETE", wsAssignBase+"/principals/{principal_id}", true, s.deleteAssignment))

	s.handle(route{method: "GET", pattern: "/api/2.1/unity-catalog/current-metastore-assignment",
		scope: scopeWorkspace, access: accessMember, handle: s.currentMetastore})
}

// workspaceJSON renders a workspace as the account workspaces API does.
func (s *Server) workspaceJSON(w *workspace) map[string]any {
	m := map[string]any{
		"workspace_id":     w.id,
		"workspace_name":   w.name,
		"deployment_name":  w.deployment,
		"workspace_status": w.status,
		"account_id":       s.st.accountID,
		"cloud":            w.cloud,
		"pricing_tier":     w.pricingTier,
	}
	if w.status == "RUNNING" {
		m["workspace_status_message"] = "Workspace is running."
	}
	if w.creation != 0 {
		m["creation_time"] = w.creation
	}
	if w.region != "" {
		switch w.cloud {
		case "aws":
			m["aws_region"] = w.region
		default:
			m["location"] = w.region
		}
	}
	return m
}

func (s *Server) listWorkspaces(c *call) error {
	out := make([]map[string]any, 0, len(s.st.workspaces))
	for _, w := range s.st.workspaces {
		out = append(out, s.workspaceJSON(w))
	}
	return c.reply(http.StatusOK, out)
}

// pathWorkspace returns the workspace named by {workspace_id}.
func (s *Server) pathWorkspace(c *call) (*workspace, *apiError) {
	raw := c.r.PathValue("workspace_id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "workspace_id %q is not an integer.", raw)
	}
	w := s.st.wsByID[id]
	if w == nil {
		return nil, restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Workspace %d does not exist.", id)
	}
	return w, nil
}

func (s *Server) getWorkspace(c *call) error {
	w, e := s.pathWorkspace(c)
	if e != nil {
		return e
	}
	return c.reply(http.StatusOK, s.workspaceJSON(w))
}

func metastoreJSON(w *workspace) map[string]any {
	return map[string]any{"workspace_id": w.id, "metastore_id": w.metastoreID, "default_catalog_name": "main"}
}

func (s *Server) currentMetastore(c *call) error {
	if !c.ws.federated {
		return restErr(http.StatusNotFound, "METASTORE_DOES_NOT_EXIST", "No metastore assigned for the current workspace.")
	}
	return c.reply(http.StatusOK, metastoreJSON(c.ws))
}

func (s *Server) accountMetastore(c *call) error {
	w, e := s.pathWorkspace(c)
	if e != nil {
		return e
	}
	if !w.federated {
		return restErr(http.StatusNotFound, "METASTORE_DOES_NOT_EXIST", "Workspace %d has no metastore assigned.", w.id)
	}
	return c.reply(http.StatusOK, map[string]any{"metastore_assignment": metastoreJSON(w)})
}

// assignmentWorkspace is the workspace an assignments call addresses: the
// {workspace_id} of account routes or the routed workspace. Permission
// assignment APIs are only available in identity-federated workspaces.
func (s *Server) assignmentWorkspace(c *call) (*workspace, *apiError) {
	w := c.ws
	if c.rt.scope == scopeAccount {
		var e *apiError
		if w, e = s.pathWorkspace(c); e != nil {
			return nil, e
		}
	}
	if !w.federated {
		return nil, restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Permission assignment APIs are not available for workspace %d: it is not identity federated.", w.id)
	}
	return w, nil
}

type assignmentJSON struct {
	Permissions []string      `json:"permissions,omitempty"`
	Principal   principalJSON `json:"principal"`
	Error       string        `json:"error,omitempty"`
}

type principalJSON struct {
	PrincipalID          int64  `json:"principal_id,omitempty"`
	DisplayName          string `json:"display_name,omitempty"`
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
}

func principalInfo(p *principal) principalJSON {
	id, _ := strconv.ParseInt(p.id, 10, 64)
	out := principalJSON{PrincipalID: id, DisplayName: p.displayName}
	switch p.kind {
	case kindUser:
		out.UserName = p.userName
	case kindSP:
		out.ServicePrincipalName = p.applicationID
	case kindGroup:
		out.GroupName = p.displayName
	}
	return out
}

func (s *Server) listAssignments(c *call) error {
	w, e := s.assignmentWorkspace(c)
	if e != nil {
		return e
	}
	ids := make([]string, 0, len(w.assignments))
	for id := range w.assignments {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	out := make([]assignmentJSON, 0, len(ids))
	for _, id := range ids {
		if p := s.st.get(id); p != nil {
			out = append(out, assignmentJSON{Permissions: w.assignments[id], Principal: principalInfo(p)})
		}
	}
	return c.reply(http.StatusOK, map[string]any{"permission_assignments": out})
}

// compareIDs orders numeric ids numerically.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func (s *Server) assignmentLevels(c *call) error {
	if _, e := s.assignmentWorkspace(c); e != nil {
		return e
	}
	return c.reply(http.StatusOK, map[string]any{"permissions": []map[string]string{
		{"permission_level": "USER", "description": "Can access the workspace."},
		{"permission_level": "ADMIN", "description": "Can access the workspace and has workspace admin privileges to manage users and groups, workspace configurations, and more."},
	}})
}

// setAssignment assigns p to w with perms (nil removes the assignment) and
// keeps the workspace's admins group in step with ADMIN.
func (s *Server) setAssignment(w *workspace, p *principal, perms []string) *apiError {
	if perms == nil {
		if _, ok := w.assignments[p.id]; ok {
			s.unassign(w, p)
		}
		return nil
	}
	if p.kind == kindGroup {
		if g := s.st.lookupName(w.id, kindGroup, p.displayName); g != nil {
			return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Workspace group with name %s already exists", g.displayName)
		}
	}
	w.assignments[p.id] = perms
	if admins := s.st.get(w.adminsGroup); admins != nil {
		if perms[0] == "ADMIN" {
			s.st.addMember(admins, p.id)
		} else {
			s.st.removeMember(admins, p.id)
		}
	}
	s.st.version++
	return nil
}

// assignee returns the account principal named by {principal_id}.
func (s *Server) assignee(c *call) (*principal, *apiError) {
	id := c.r.PathValue("principal_id")
	p := s.st.get(id)
	if p == nil || p.ws != 0 {
		return nil, restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Principal %s does not exist.", id)
	}
	return p, nil
}

func (s *Server) putAssignment(c *call) error {
	w, e := s.assignmentWorkspace(c)
	if e != nil {
		return e
	}
	p, e := s.assignee(c)
	if e != nil {
		return e
	}
	var body struct {
		Permissions []string `json:"permissions"`
	}
	if err := c.decode(&body); err != nil {
		return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
	}
	perms := normalizePermissions(body.Permissions)
	if e := s.setAssignment(w, p, perms); e != nil {
		return e
	}
	return c.reply(http.StatusOK, assignmentJSON{Permissions: perms, Principal: principalInfo(p)})
}

func (s *Server) deleteAssignment(c *call) error {
	w, e := s.assignmentWorkspace(c)
	if e != nil {
		return e
	}
	p, e := s.assignee(c)
	if e != nil {
		return e
	}
	if _, ok := w.assignments[p.id]; ok {
		s.unassign(w, p)
	}
	return c.reply(http.StatusOK, struct{}{})
}

// postAssignmentsByName is the workspace-level "assign by name" call
// (Terraform databricks_permission_assignment).
func (s *Server) postAssignmentsByName(c *call) error {
	w, e := s.assignmentWorkspace(c)
	if e != nil {
		return e
	}
	var body struct {
		PermissionAssignments []struct {
			UserName             string   `json:"user_name"`
			GroupName            string   `json:"group_name"`
			ServicePrincipalName string   `json:"service_principal_name"`
			Permissions          []string `json:"permissions"`
		} `json:"permission_assignments"`
	}
	if err := c.decode(&body); err != nil {
		return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
	}
	out := make([]assignmentJSON, 0, len(body.PermissionAssignments))
	for _, a := range body.PermissionAssignments {
		var p *principal
		var name string
		switch {
		case a.UserName != "":
			name, p = a.UserName, s.st.lookupName(0, kindUser, a.UserName)
		case a.GroupName != "":
			name, p = a.GroupName, s.st.lookupName(0, kindGroup, a.GroupName)
		case a.ServicePrincipalName != "":
			name, p = a.ServicePrincipalName, s.st.lookupName(0, kindSP, a.ServicePrincipalName)
		}
		if p == nil {
			out = append(out, assignmentJSON{Error: "Principal " + strconv.Quote(name) + " does not exist in the account."})
			continue
		}
		perms := normalizePermissions(a.Permissions)
		if perms == nil {
			out = append(out, assignmentJSON{Principal: principalInfo(p), Error: "permissions must contain USER or ADMIN"})
			continue
		}
		if e := s.setAssignment(w, p, perms); e != nil {
			out = append(out, assignmentJSON{Principal: principalInfo(p), Error: e.msg})
			continue
		}
		out = append(out, assignmentJSON{Permissions: perms, Principal: principalInfo(p)})
	}
	return c.reply(http.StatusOK, map[string]any{"permission_assignments": out})
}
