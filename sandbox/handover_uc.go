package sandbox

import (
	"maps"
	"net/http"
	"slices"
	"strings"
)

// This file serves the owner changes of Unity Catalog and Delta Sharing
// securables (docs/handover.md): PATCH of a securable with {"owner": X}
// (and "comment"), on the metastore of the routed workspace.
//
//	PATCH /api/2.1/unity-catalog/{catalogs|schemas|tables|volumes|functions|models}/{full_name}
//	PATCH /api/2.1/unity-catalog/{external-locations|storage-credentials|credentials|connections}/{name}
//	PATCH /api/2.1/unity-catalog/{shares|recipients|providers}/{name}
//
// Rules ("Manage Unity Catalog object ownership"): ownership can be
// transferred by the current owner, a metastore admin, or the owner of the
// catalog or schema that contains the securable (a member of an owning
// group counts as its owner); the new owner is a user, a group or a
// service principal (application id) of the account, else 400; a
// function, view or registered model goes to a group only when the caller
// is a metastore admin or a member of that group (else 403). A caller
// that may not see the securable gets its kind's 404; a securable of an
// isolated catalog not bound to the caller's workspace is 403 (see
// unitycatalog.go). The reply is the
// securable as its get returns it. Other fields of the update are refused
// (400): the sandbox models owner and comment only.

func init() {
	registerFamily(family{name: "handover-uc", routes: registerUCOwners, snapshot: snapshotUCOwners})
}

// snapshotUCOwners adds the owner of every securable of every metastore
// to a State, ordered by metastore, kind and full name.
func snapshotUCOwners(s *Server, out *State) {
	for _, m := range s.uc().order {
		keys := slices.Sorted(maps.Keys(m.index))
		out.Securables = append(out.Securables, SecurableState{MetastoreID: m.id, Kind: m.node.kind, FullName: m.node.name, Owner: m.node.owner})
		for _, k := range keys {
			n := m.index[k]
			out.Securables = append(out.Securables, SecurableState{MetastoreID: m.id, Kind: n.kind, FullName: n.fullName, Owner: n.owner})
		}
	}
}

func registerUCOwners(s *Server) {
	for _, t := range []struct{ path, kind, label string }{
		{"catalogs", ucCatalog, "Catalog"}, {"schemas", ucSchema, "Schema"}, {"tables", ucTable, "Table"},
		{"volumes", ucVolume, "Volume"}, {"functions", ucFunction, "Function"}, {"models", ucModel, "Registered model"},
		{"external-locations", ucExternalLocation, "External Location"}, {"storage-credentials", ucStorageCredential, "Storage Credential"},
		{"credentials", ucServiceCredential, "Credential"}, {"connections", ucConnection, "Connection"},
		{"shares", ucShare, "Share"}, {"recipients", ucRecipient, "Recipient"}, {"providers", ucProvider, "Provider"},
	} {
		s.handle(route{method: http.MethodPatch, pattern: "/api/2.1/unity-catalog/" + t.path + "/{name}", class: ClassDefault,
			scope: scopeWorkspace, access: accessMember, write: true, handle: ucSetOwner(t.kind, t.label)})
	}
}

func ucSetOwner(kind, label string) func(*call) error {
	return func(c *call) error {
		m, err := c.metastoreOf()
		if err != nil {
			return err
		}
		name := c.r.PathValue("name")
		n := m.index[kind+":"+strings.ToLower(name)]
		if kind == ucServiceCredential && n == nil {
			n = m.index[ucStorageCredential+":"+strings.ToLower(name)]
		}
		v := c.ucViewer(m)
		if n == nil || !v.sees(n) {
			return restErr(http.StatusNotFound, ucNotFoundCode(label), "%s '%s' does not exist.", label, name)
		}
		if err := c.ucReachable(n); err != nil {
			return err
		}
		var body map[string]any
		if err := c.decodeREST(&body); err != nil {
			return err
		}
		for k := range body {
			switch k {
			case "owner", "comment", "name", "full_name":
			default:
				return restErr(http.StatusBadRequest, errInvalidParameter, "The sandbox updates only owner and comment, not %s.", k)
			}
		}
		if nn, ok := body["name"].(string); ok && nn != "" && !strings.EqualFold(nn, n.name) {
			return restErr(http.StatusBadRequest, errInvalidParameter, "The sandbox does not rename securables.")
		}
		if owner, ok := body["owner"]; ok {
			o, _ := owner.(string)
			if !c.s.ucPrincipal(o) {
				return restErr(http.StatusBadRequest, errInvalidParameter,
					"Owner %q is not a user, group or service principal of the account.", o)
			}
			if !ucMayTransfer(v, n) {
				return restErr(http.StatusForbidden, "PERMISSION_DENIED",
					"Only the owner of %s %s, of its catalog or schema, or a metastore admin can change its owner.", strings.ToLower(label), n.fullName)
			}
			if ucEscalates(c.s, v, n, o) {
				return restErr(http.StatusForbidden, "PERMISSION_DENIED",
					"Only a metastore admin can give %s %s to group %s, of which the caller is not a member.", strings.ToLower(label), n.fullName, o)
			}
			n.owner = o
		}
		if cm, ok := body["comment"].(string); ok {
			if !ucMayTransfer(v, n) {
				return restErr(http.StatusForbidden, "PERMISSION_DENIED", "Only the owner of %s %s can change it.", strings.ToLower(label), n.fullName)
			}
			n.comment = cm
		}
		return c.reply(http.StatusOK, m.render(n, c.r.URL.Query()))
	}
}

// ucMayTransfer reports whether the viewer may change n's owner: a
// metastore admin, or the owner of n or of a securable containing it.
func ucMayTransfer(v ucViewer, n *ucNode) bool {
	if v.admin {
		return true
	}
	for x := n; x != nil && x.kind != ucKindMetastore; x = x.parent {
		if v.names[strings.ToLower(x.owner)] {
			return true
		}
	}
	return false
}

// ucEscalates reports whether giving n to owner would let the caller, who
// is not a metastore admin, escalate privileges: a function, a view or a
// registered model runs with (or exposes) its owner's rights, so it may go
// to a group only when the caller is a member of that group. The SDK says
// so of functions ("If the user is not a metastore admin, the user must be
// a member of the group that is the new function owner", service/catalog
// interface.go FunctionsService.Update); the documentation ("Manage Unity
// Catalog object ownership") extends the rule to views and models. The
// sandbox applies it to all three (docs/handover.md).
func ucEscalates(s *Server, v ucViewer, n *ucNode, owner string) bool {
	if v.admin {
		return false
	}
	switch {
	case n.kind == ucFunction, n.kind == ucModel:
	case n.kind == ucTable && oneOf(n.seed.TableType, "VIEW", "METRIC_VIEW"):
	default:
		return false
	}
	if s.st.lookupName(0, kindGroup, owner) == nil {
		return false // a user or a service principal
	}
	return !v.names[strings.ToLower(owner)]
}

// ucPrincipal reports whether name is a live account user (user name),
// group (display name) or service principal (application id).
func (s *Server) ucPrincipal(name string) bool {
	if name == "" {
		return false
	}
	for _, k := range []kind{kindUser, kindGroup, kindSP} {
		if p := s.st.lookupName(0, k, name); p != nil && p.live() {
			return true
		}
	}
	return false
}
