package sandbox

import (
	"net/http"
	"strings"
)

// This file is the Delta Sharing family: the shares, recipients and
// providers of a metastore (seeded in SeedMetastore, see unitycatalog.go),
// read through the workspaces attached to it.
//
//	GET /api/2.1/unity-catalog/shares?max_results=&page_token=       {"shares":[...]}     shares/{name}
//	GET /api/2.1/unity-catalog/shares/{name}/permissions             {"privilege_assignments":[{"principal":"<recipient>","privileges":["SELECT"]}]}
//	GET /api/2.1/unity-catalog/recipients?max_results=&page_token=   {"recipients":[...]} recipients/{name}
//	GET /api/2.1/unity-catalog/providers?max_results=&page_token=    {"providers":[...]}  providers/{name}
//
// Paging, visibility and errors follow the Unity Catalog family; share
// permissions are grants to recipients, not to principals.

func init() {
	registerFamily(family{name: "sharing", routes: registerSharing})
}

func registerSharing(s *Server) {
	get := func(pattern, class string, h func(*call) error) {
		s.handle(route{method: http.MethodGet, pattern: "/api/2.1/unity-catalog" + pattern, class: class,
			scope: scopeWorkspace, access: accessMember, handle: h})
	}
	for _, t := range []struct{ path, kind, label string }{
		{"/shares", ucShare, "Share"},
		{"/recipients", ucRecipient, "Recipient"},
		{"/providers", ucProvider, "Provider"},
	} {
		get(t.path, ClassDefault, ucListTop(t.kind))
		get(t.path+"/{name}", ClassDefault, ucGet(t.kind, t.label))
	}
	get("/shares/{name}/permissions", ClassPermissionsRead, sharePermissions)
}

// sharePermissions lists the recipients a share is granted to. Only a
// metastore admin or the share's owner may read them.
func sharePermissions(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	name := c.r.PathValue("name")
	n := m.index[ucShare+":"+strings.ToLower(name)]
	if n == nil {
		return restErr(http.StatusNotFound, "SHARE_DOES_NOT_EXIST", "Share '%s' does not exist.", name)
	}
	v := c.ucViewer(m)
	if !v.admin && !v.names[strings.ToLower(n.owner)] {
		return restErr(http.StatusForbidden, "PERMISSION_DENIED", "User is not an owner of Share '%s'.", name)
	}
	from, to, next, err := ucWindow(c, "share-permissions:"+strings.ToLower(name), len(n.grants), ucGrantsMinResults, 1000, ucAbsent{}, "GetSharePermissions")
	if err != nil {
		return err
	}
	out := []ucAssignmentJSON{}
	for _, g := range n.grants[from:to] {
		out = append(out, ucAssignmentJSON{Principal: g.principal, Privileges: g.privileges})
	}
	resp := map[string]any{"privilege_assignments": out}
	if next != "" {
		resp["next_page_token"] = next
	}
	return c.reply(http.StatusOK, resp)
}
