package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// fields are the writable attributes of a SCIM resource, read from a request
// body (POST, PUT) or from a resource map after PATCH operations.
type fields struct {
	has           map[string]bool // lower-case names of the attributes present
	userName      string
	applicationID string
	displayName   string
	externalID    string
	givenName     string
	familyName    string
	active        bool
	emails        []string
	entitlements  []string
	roles         []string
	members       []string
	groups        []string
}

func badSyntax() *apiError {
	return scimErr(http.StatusBadRequest, "invalidSyntax", "%s", detailUnparsable)
}

// attrName reduces a body key to its lower-case attribute name, dropping a
// schema URN prefix ("urn:...:User:userName").
func attrName(k string) string {
	k = strings.ToLower(k)
	if strings.HasPrefix(k, "urn:") {
		if i := strings.LastIndex(k, ":"); i >= 0 {
			k = k[i+1:]
		}
	}
	return k
}

// extract reads the known attributes of a resource map. Unknown attributes
// are ignored; attributes of the wrong type are invalidSyntax.
func extract(m map[string]any) (*fields, *apiError) {
	f := &fields{has: map[string]bool{}}
	for k, v := range m {
		name := attrName(k)
		var ok bool
		switch name {
		case "username":
			f.userName, ok = str(v)
		case "applicationid":
			f.applicationID, ok = str(v)
		case "displayname":
			f.displayName, ok = str(v)
		case "externalid":
			f.externalID, ok = str(v)
		case "active":
			f.active, ok = boolish(v)
			if !ok {
				return nil, scimErr(http.StatusBadRequest, "invalidValue", "Invalid value for attribute active.")
			}
		case "name":
			f.givenName, f.familyName, ok = nameParts(v)
		case "emails":
			f.emails, ok = valueList(v)
		case "entitlements":
			f.entitlements, ok = valueList(v)
		case "roles":
			f.roles, ok = valueList(v)
		case "members":
			f.members, ok = valueList(v)
		case "groups":
			f.groups, ok = valueList(v)
		default:
			continue
		}
		if !ok {
			return nil, badSyntax()
		}
		f.has[name] = true
	}
	return f, nil
}

// nameParts reads the complex "name" attribute.
func nameParts(v any) (given, family string, ok bool) {
	if v == nil {
		return "", "", true
	}
	n, isMap := v.(map[string]any)
	if !isMap {
		return "", "", false
	}
	for k, x := range n {
		var s string
		if s, ok = str(x); !ok {
			return "", "", false
		}
		switch strings.ToLower(k) {
		case "givenname":
			given = s
		case "familyname":
			family = s
		}
	}
	return given, family, true
}

func str(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	}
	return "", false
}

// boolish accepts true/false, "true"/"false" (any case), and the
// [{"value": ...}] and {"value": ...} forms Terraform and IdPs send.
func boolish(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case []any:
		if len(x) == 1 {
			return boolish(x[0])
		}
	case map[string]any:
		for k, inner := range x {
			if strings.EqualFold(k, "value") {
				return boolish(inner)
			}
		}
	}
	return false, false
}

// valueList reads a multi-valued attribute ([{"value": ...}], or a single
// object) into its values; numbers are accepted as ids.
func valueList(v any) ([]string, bool) {
	var elems []any
	switch x := v.(type) {
	case nil:
		return nil, true
	case []any:
		elems = x
	case map[string]any:
		elems = []any{x}
	default:
		return nil, false
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		var val any
		for k, x := range m {
			if strings.EqualFold(k, "value") {
				val = x
			}
		}
		switch x := val.(type) {
		case string:
			out = append(out, x)
		case float64:
			out = append(out, fmt.Sprintf("%.0f", x))
		default:
			return nil, false
		}
	}
	return out, true
}

func sameSet(a, b []string) bool {
	return slices.Equal(sortedSet(a), sortedSet(b))
}

func sameSetFold(a, b []string) bool {
	lower := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = strings.ToLower(s)
		}
		return sortedSet(out)
	}
	return slices.Equal(lower(a), lower(b))
}

func conflict(format string, a ...any) *apiError {
	e := scimErr(http.StatusConflict, "uniqueness", format, a...)
	return e
}

func invalidValue(format string, a ...any) *apiError {
	return scimErr(http.StatusBadRequest, "invalidValue", format, a...)
}

func mutability(attr string) *apiError {
	return scimErr(http.StatusBadRequest, "mutability", "Attribute '%s' is immutable.", attr)
}

func checkEntitlements(vals []string) *apiError {
	for _, e := range vals {
		if !validEntitlement(e) {
			return invalidValue("Unknown entitlement %q.", e)
		}
	}
	return nil
}

// checkMembers validates new members of group g in scope w.
func (s *Server) checkMembers(g *principal, w *workspace, ids []string) *apiError {
	for _, id := range ids {
		q := s.st.get(id)
		if q == nil || !s.st.inScope(w, q) {
			where := "the account"
			if w != nil {
				where = fmt.Sprintf("workspace %d", w.id)
			}
			return invalidValue("Member %s does not exist in %s.", id, where)
		}
		if q.kind == kindGroup && g != nil && s.st.wouldCycle(g, id) {
			return invalidValue("Adding group %s to group %s would create a cycle.", q.displayName, g.displayName)
		}
	}
	return nil
}

// groupNameTaken reports whether a group named name exists in scope w (for
// a workspace: its local groups and, when federated, the account groups
// visible in it).
func (s *Server) groupNameTaken(w *workspace, name string, except *principal) bool {
	if w == nil {
		p := s.st.lookupName(0, kindGroup, name)
		return p != nil && p != except
	}
	if p := s.st.lookupName(w.id, kindGroup, name); p != nil && p != except {
		return true
	}
	if p := s.st.lookupName(0, kindGroup, name); p != nil && p != except && s.st.visible(w, p) {
		return true
	}
	return false
}

// assign gives an account principal USER access to w if it has no direct
// assignment yet.
func (s *Server) assign(w *workspace, p *principal) {
	if _, ok := w.assignments[p.id]; !ok {
		w.assignments[p.id] = []string{"USER"}
		s.st.version++
	}
}

// create handles POST on a SCIM collection. In a workspace, users and
// service principals are created (or linked, if the account already has
// them) at account level and assigned when the workspace is identity
// federated, and created workspace-local otherwise; groups created through a
// workspace are always workspace-local.
func (s *Server) create(c *call, k kind, w *workspace, f *fields) (*principal, *apiError) {
	st := s.st
	if w == nil && len(f.entitlements) > 0 {
		return nil, invalidValue("entitlements can only be managed at the workspace level")
	}
	if e := checkEntitlements(f.entitlements); e != nil {
		return nil, e
	}
	active := !f.has["active"] || f.active
	var p *principal
	switch k {
	case kindUser:
		if strings.TrimSpace(f.userName) == "" {
			return nil, invalidValue("Attribute 'userName' is required.")
		}
		if len(f.emails) > 0 && !sameSetFold(f.emails, []string{f.userName}) {
			return nil, invalidValue("emails must be the userName %q.", f.userName)
		}
		display := f.displayName
		if display == "" {
			display = strings.TrimSpace(f.givenName + " " + f.familyName)
		}
		if display == "" {
			display = f.userName
		}
		p = &principal{kind: kindUser, userName: f.userName, displayName: display, givenName: f.givenName,
			familyName: f.familyName, externalID: f.externalID, active: active}
	case kindSP:
		app := f.applicationID
		if app == "" {
			app = st.newApplicationID()
		}
		display := f.displayName
		if display == "" {
			display = app
		}
		p = &principal{kind: kindSP, applicationID: app, displayName: display, externalID: f.externalID, active: active}
	case kindGroup:
		if strings.TrimSpace(f.displayName) == "" {
			return nil, invalidValue("Attribute 'displayName' is required.")
		}
		if s.groupNameTaken(w, f.displayName, nil) {
			return nil, conflict("Group with name %s already exists.", f.displayName)
		}
		if e := s.checkMembers(nil, w, f.members); e != nil {
			return nil, e
		}
		p = &principal{kind: kindGroup, displayName: f.displayName, externalID: f.externalID, active: true}
	}

	if k != kindGroup {
		dup := func() *apiError {
			if k == kindUser {
				return conflict("User with username %s already exists.", p.userName)
			}
			return conflict("Service principal with application id %s already exists.", p.applicationID)
		}
		switch {
		case w == nil:
			if q := st.lookupName(0, k, p.name()); q != nil {
				return nil, dup()
			}
		case w.federated:
			if q := st.lookupName(w.id, k, p.name()); q != nil {
				return nil, dup() // legacy workspace-local principal
			}
			if q := st.lookupName(0, k, p.name()); q != nil {
				if st.visible(w, q) {
					return nil, dup()
				}
				// Link the existing account principal.
				s.assign(w, q)
				s.setWorkspaceAttrs(w, q, f)
				return q, nil
			}
		default:
			if q := st.lookupName(w.id, k, p.name()); q != nil {
				return nil, dup()
			}
		}
	}

	if w != nil && (k == kindGroup || !w.federated) {
		p.ws = w.id
	}
	if w == nil {
		p.roles = sortedSet(f.roles)
	}
	st.create(p, c.now)
	if w != nil && p.ws == 0 {
		s.assign(w, p)
	}
	for _, id := range f.members {
		st.addMember(p, id)
	}
	if w != nil {
		s.setWorkspaceAttrs(w, p, f)
	}
	return p, nil
}

// setWorkspaceAttrs stores the workspace-level entitlements and roles of f.
func (s *Server) setWorkspaceAttrs(w *workspace, p *principal, f *fields) {
	setOrDelete(w.entitlements, p.id, f.entitlements)
	setOrDelete(w.roles, p.id, f.roles)
}

func setOrDelete(m map[string][]string, id string, vals []string) {
	if len(vals) == 0 {
		delete(m, id)
	} else {
		m[id] = sortedSet(vals)
	}
}

// update applies the difference between old and nu (PUT when put is set,
// else PATCH) to p in scope w, after validating all of it.
func (s *Server) update(c *call, p *principal, w *workspace, old, nu *fields, put bool) *apiError {
	st := s.st
	accountFromWS := w != nil && p.ws == 0 // account principal seen through a workspace
	changedStr := func(attr, o, n string) bool {
		if put && !nu.has[attr] {
			return false
		}
		return o != n
	}

	// Immutable and read-only attributes.
	switch p.kind {
	case kindUser:
		if nu.has["username"] && !strings.EqualFold(nu.userName, p.userName) {
			return mutability("userName")
		}
		if (!put || nu.has["emails"]) && !sameSetFold(nu.emails, old.emails) {
			return mutability("emails")
		}
	case kindSP:
		if nu.has["applicationid"] && !strings.EqualFold(nu.applicationID, p.applicationID) {
			return mutability("applicationId")
		}
	}
	if !put && !sameSet(nu.groups, old.groups) {
		return scimErr(http.StatusBadRequest, "mutability", "Attribute 'groups' is read-only.")
	}

	nameChanged := nu.has["displayname"] && nu.displayName != old.displayName
	if p.kind == kindGroup && !put && !nu.has["displayname"] {
		return invalidValue("Attribute 'displayName' is required.")
	}
	if nameChanged {
		if strings.TrimSpace(nu.displayName) == "" {
			return invalidValue("Attribute 'displayName' must not be empty.")
		}
		switch {
		case accountFromWS && p.kind == kindUser:
			return invalidValue("The displayName of user %s cannot be changed in identity-federated workspace %d; change it through the account SCIM API.", p.userName, w.id)
		case accountFromWS && p.kind == kindGroup:
			return invalidValue("Account group %s cannot be renamed through workspace %d; rename it through the account SCIM API.", p.displayName, w.id)
		case p.kind == kindGroup && s.groupNameTaken(w, nu.displayName, p):
			return conflict("Group with name %s already exists.", nu.displayName)
		}
	}
	extChanged := changedStr("externalid", old.externalID, nu.externalID) || (put && !nu.has["externalid"] && old.externalID != "")
	if extChanged && accountFromWS && p.kind == kindGroup {
		return invalidValue("The externalId of account group %s can only be changed through the account SCIM API.", p.displayName)
	}
	activeChanged := p.kind != kindGroup && nu.has["active"] && nu.active != p.active
	nameFieldsChanged := p.kind == kindUser && (!put || nu.has["name"]) &&
		(nu.givenName != old.givenName || nu.familyName != old.familyName)

	entChanged := !sameSet(nu.entitlements, old.entitlements)
	if entChanged {
		if w == nil {
			return invalidValue("entitlements can only be managed at the workspace level")
		}
		if e := checkEntitlements(nu.entitlements); e != nil {
			return e
		}
	}
	rolesChanged := !sameSet(nu.roles, old.roles)

	var added, removed []string
	if p.kind == kindGroup && put && !nu.has["members"] && p.implicit {
		nu.members = old.members // computed members: a PUT without them keeps them
	}
	if p.kind == kindGroup {
		newSet := sortedSet(nu.members)
		oldSet := sortedSet(old.members)
		for _, id := range newSet {
			if _, found := slices.BinarySearch(oldSet, id); !found {
				added = append(added, id)
			}
		}
		for _, id := range oldSet {
			if _, found := slices.BinarySearch(newSet, id); !found {
				removed = append(removed, id)
			}
		}
		if len(added)+len(removed) > 0 {
			switch {
			case accountFromWS:
				return invalidValue("Members of account group %s cannot be changed through workspace %d; use the account SCIM API.", p.displayName, w.id)
			case p.implicit:
				return invalidValue("Members of system group %s are managed automatically and cannot be changed.", p.displayName)
			}
			if e := s.checkMembers(p, w, added); e != nil {
				return e
			}
		}
	} else if len(nu.members) > 0 {
		return invalidValue("Attribute 'members' is not defined for a %s.", p.kind)
	}

	// All checks passed: apply.
	if nameChanged {
		st.rename(p, nu.displayName, c.now, s.opts.Consistency)
	}
	if extChanged {
		p.externalID = nu.externalID
	}
	if activeChanged {
		p.active = nu.active
	}
	if nameFieldsChanged {
		p.givenName, p.familyName = nu.givenName, nu.familyName
	}
	if entChanged {
		setOrDelete(w.entitlements, p.id, nu.entitlements)
	}
	if rolesChanged {
		if w == nil {
			p.roles = sortedSet(nu.roles)
		} else {
			setOrDelete(w.roles, p.id, nu.roles)
		}
	}
	for _, id := range removed {
		st.removeMember(p, id)
	}
	for _, id := range added {
		st.addMember(p, id)
	}
	st.version++
	return nil
}

// delete handles DELETE. At account level (or for a workspace-local
// principal) the principal is deleted. Deleting an account principal through
// a federated workspace removes its direct assignment to that workspace.
func (s *Server) delete(c *call, p *principal, w *workspace) *apiError {
	st := s.st
	if p.implicit || (p.ws != 0 && p.kind == kindGroup && st.wsByID[p.ws].adminsGroup == p.id) {
		return invalidValue("System group %s cannot be deleted.", p.displayName)
	}
	if w != nil && p.ws == 0 {
		if _, ok := w.assignments[p.id]; !ok {
			return invalidValue("%s %s is in workspace %d through an account group; remove it from the group or unassign the group instead.",
				strings.ToUpper(p.kind.String()[:1])+p.kind.String()[1:], p.name(), w.id)
		}
		s.unassign(w, p)
		return nil
	}
	st.remove(p, c.now, s.opts.Consistency)
	return nil
}

// unassign removes p's direct assignment to w, its workspace admin
// membership and its workspace-level entitlements and roles.
func (s *Server) unassign(w *workspace, p *principal) {
	delete(w.assignments, p.id)
	if g := s.st.get(w.adminsGroup); g != nil {
		s.st.removeMember(g, p.id)
	}
	delete(w.entitlements, p.id)
	delete(w.roles, p.id)
	s.st.version++
}
