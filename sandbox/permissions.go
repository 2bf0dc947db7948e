package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// This file is the grants family: per workspace, the access control lists
// of objects (the generic permissions API, reference §F.1) and of secret
// scopes (/api/2.0/secrets/...), seeded from a workspace's "grants" section.
// Grants are stored by principal id, so a renamed group keeps its grants and
// a deleted principal's grants disappear with it (they are skipped when
// read, as in Databricks).
//
// Internal API for other families (callers hold s.mu; the write lock to
// change anything):
//
//	g := s.grants(w)                    // a workspace's store (never nil)
//	acl := g.object("jobs", "123")      // get or register an object's ACL
//	acl := g.find("jobs", "123")        // nil when not registered
//	g.drop("jobs", "123")               // the object was deleted
//	acl.set(principalID, "CAN_MANAGE")  // one direct level per principal
//	acl.remove(principalID)
//	acl.level(principalID)              // "" when none
//	acl.owner()                         // principal id holding IS_OWNER, or ""
//	p, e := s.grantee(w, userName, groupName, spName) // resolve a wire principal
//	e := s.seedACL(w, "jobs", "123", []SeedGrant{...}) // register with grants
//
// Object types are the {object_type} path segments of the permissions API
// ("clusters", "jobs", "notebooks", "directories", "warehouses", ...; see
// aclTypes); "sql/warehouses", "sql/queries" and "sql/alerts" are aliases.
//
// Inheritance: a reply lists, besides the object's direct grants, the
// grants it inherits, as entries whose all_permissions items carry
// "inherited": true and "inherited_from_object": [<parent object path>]
// (direct items say "inherited": false). Two sources exist:
//
//   - the type's root (aclTypes[typ].root, e.g. "/jobs/"): the workspace's
//     admins group holds CAN_MANAGE on every object of the type through it
//     (the replies recorded in the Terraform provider's exporter test data
//     show {"group_name":"admins","all_permissions":[{"permission_level":
//     "CAN_MANAGE","inherited":true,"inherited_from_object":["/jobs/"]}]});
//     the singletons authorization/tokens and authorization/passwords hold
//     the admins grant directly instead ("inherited": false);
//   - parent objects, for types whose family registers a parents function
//     with s.setParents (the hook for workspace trees: a notebook inherits
//     the grants of its directory, that directory's parent, and so on):
//
//	s.setParents("notebooks", func(w *workspace, id string) []objectKey {
//		return []objectKey{{"directories", "17"}, {"directories", "3"}} // nearest first
//	})
//
// A parent's direct grants are inherited with the parent's object path
// ("/directories/17"). The same principal and level inherited from several
// parents is one item listing every source, nearest first.

const grantsFamily = "grants"

func init() {
	registerFamily(family{name: grantsFamily, load: loadGrants, routes: registerPermissions, snapshot: snapshotGrants})
}

// SeedGrants is a workspace's "grants" seed section: object ACLs and secret
// scopes with their ACLs.
type SeedGrants struct {
	Objects      []SeedObjectACL   `json:"objects,omitempty"`
	SecretScopes []SeedSecretScope `json:"secret_scopes,omitempty"`
}

// SeedObjectACL is the ACL of one workspace object, e.g.
// {"object_type": "clusters", "object_id": "0123-abc", "acl": [{"group_name":
// "data-eng", "permission_level": "CAN_RESTART"}]}.
type SeedObjectACL struct {
	ObjectType string      `json:"object_type"`
	ObjectID   string      `json:"object_id"`
	ACL        []SeedGrant `json:"acl"`
}

// SeedGrant is one grant in the permissions API's request shape: exactly one
// of UserName, GroupName (displayName) or ServicePrincipalName
// (applicationId), and a level valid for the object type.
type SeedGrant struct {
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	PermissionLevel      string `json:"permission_level"`
}

// SeedSecretScope is a secret scope and its ACLs.
type SeedSecretScope struct {
	Name string          `json:"name"`
	ACLs []SeedSecretACL `json:"acls,omitempty"`
}

// SeedSecretACL grants a principal (user name, group name or service
// principal application id) READ, WRITE or MANAGE on a secret scope.
type SeedSecretACL struct {
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

// GrantState is one object grant in a State: the object as
// "<object_type>/<object_id>", the principal's id and its level.
type GrantState struct {
	Object          string `json:"object"`
	PrincipalID     string `json:"principal_id"`
	PermissionLevel string `json:"permission_level"`
}

// SecretACLState is one secret scope ACL in a State.
type SecretACLState struct {
	Scope       string `json:"scope"`
	PrincipalID string `json:"principal_id"`
	Permission  string `json:"permission"`
}

// aclType describes an object type of the permissions API.
type aclType struct {
	echo   string   // object_type in replies
	prefix string   // object_id prefix in replies
	levels []string // ascending
	fixed  bool     // a singleton that always exists (authorization/tokens)
	// root is the path of the type's root object, from which the admins
	// group inherits its highest level ("" when the record shows none); for
	// fixed types the admins grant is direct.
	root string
}

// Roots of the object types (see the file comment). Recorded replies show
// /jobs/, /clusters/, /sql/warehouses/, /pipelines/, /instance-pools/,
// /registered-models/ and /directories/ (notebooks, directories, files,
// repos); the SDK documents a root for cluster policies, apps, experiments
// and serving endpoints, whose paths follow the same pattern. Lakeview
// dashboards, queries and alerts live in the workspace tree, so they take
// the tree's root. Legacy SQL dashboards have none.
const rootDirectories = "/directories/"

var editLevels = []string{"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"}
var sqlLevels = []string{"CAN_READ", "CAN_VIEW", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"}

// aclTypes are the object types of reference §F.1, keyed by path type.
var aclTypes = map[string]aclType{
	"clusters":                {echo: "cluster", levels: []string{"CAN_ATTACH_TO", "CAN_RESTART", "CAN_MANAGE"}, root: "/clusters/"},
	"cluster-policies":        {echo: "cluster-policy", levels: []string{"CAN_USE"}, root: "/cluster-policies/"},
	"instance-pools":          {echo: "instance-pool", levels: []string{"CAN_ATTACH_TO", "CAN_MANAGE"}, root: "/instance-pools/"},
	"jobs":                    {echo: "job", levels: []string{"CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"}, root: "/jobs/"},
	"pipelines":               {echo: "pipelines", levels: []string{"CAN_VIEW", "CAN_RUN", "CAN_MANAGE", "IS_OWNER"}, root: "/pipelines/"},
	"notebooks":               {echo: "notebook", levels: editLevels, root: rootDirectories},
	"directories":             {echo: "directory", levels: editLevels, root: rootDirectories},
	"files":                   {echo: "file", levels: editLevels, root: rootDirectories},
	"repos":                   {echo: "repo", levels: editLevels, root: rootDirectories},
	"authorization/tokens":    {echo: "tokens", levels: []string{"CAN_USE", "CAN_MANAGE"}, fixed: true},
	"authorization/passwords": {echo: "passwords", levels: []string{"CAN_USE"}, fixed: true},
	"warehouses":              {echo: "warehouses", prefix: "/sql/warehouses/", levels: []string{"CAN_VIEW", "CAN_MONITOR", "CAN_USE", "CAN_MANAGE", "IS_OWNER"}, root: "/sql/warehouses/"},
	"dbsql-dashboards":        {echo: "dashboard", levels: sqlLevels},
	"alerts":                  {echo: "alert", levels: sqlLevels, root: rootDirectories},
	"alertsv2":                {echo: "alertv2", levels: editLevels, root: rootDirectories},
	"queries":                 {echo: "query", levels: sqlLevels, root: rootDirectories},
	"dashboards":              {echo: "dashboard", levels: editLevels, root: rootDirectories},
	"experiments":             {echo: "mlflowExperiment", levels: []string{"CAN_READ", "CAN_EDIT", "CAN_MANAGE"}, root: "/experiments/"},
	"registered-models":       {echo: "registered-model", levels: []string{"CAN_READ", "CAN_EDIT", "CAN_MANAGE_STAGING_VERSIONS", "CAN_MANAGE_PRODUCTION_VERSIONS", "CAN_MANAGE"}, root: "/registered-models/"},
	"serving-endpoints":       {echo: "serving-endpoint", levels: []string{"CAN_VIEW", "CAN_QUERY", "CAN_MANAGE"}, root: "/serving-endpoints/"},
	"vector-search-endpoints": {echo: "vector-search-endpoints", levels: []string{"CAN_USE", "CAN_MANAGE"}, root: "/vector-search-endpoints/"},
	"apps":                    {echo: "apps", levels: []string{"CAN_USE", "CAN_MANAGE"}, root: "/apps/"},
}

// aclTypeAliases map other accepted path types to their canonical one.
var aclTypeAliases = map[string]string{
	"sql/warehouses": "warehouses",
	"sql/queries":    "queries",
	"sql/alerts":     "alerts",
}

// canonicalType returns the canonical path type of typ and whether it is
// known.
func canonicalType(typ string) (string, bool) {
	if c, ok := aclTypeAliases[typ]; ok {
		typ = c
	}
	_, ok := aclTypes[typ]
	return typ, ok
}

// levelRank returns the position of level among typ's levels, -1 if it is
// not one of them.
func levelRank(typ, level string) int {
	return slices.Index(aclTypes[typ].levels, level)
}

// grantStore holds every workspace's grants. It is guarded by Server.mu.
type grantStore struct {
	ws map[int64]*wsGrants
	// parents are the parents functions registered with setParents, by
	// canonical object type.
	parents map[string]parentsFunc
}

// parentsFunc returns the objects that object id (of the type it was
// registered for) in workspace w inherits grants from, nearest first: for a
// notebook, its directory, that directory's parent, and so on. It runs
// under s.mu and must not lock it.
type parentsFunc func(w *workspace, id string) []objectKey

// setParents registers how objects of type typ (a canonical type of
// aclTypes) find the objects they inherit grants from. A family calls it
// from its load or routes function; a later call replaces the function.
func (s *Server) setParents(typ string, f parentsFunc) {
	st := s.store()
	if st.parents == nil {
		st.parents = map[string]parentsFunc{}
	}
	st.parents[typ] = f
}

// wsGrants are one workspace's object ACLs and secret scopes.
type wsGrants struct {
	objects map[objectKey]*objectACL
	order   []objectKey // registration order (permission migration order)
	scopes  []*secretScope
}

type objectKey struct{ typ, id string }

// objectACL is an object's direct grants: one level per principal, in
// grant order.
type objectACL struct {
	key     objectKey
	entries []aclEntry
}

type aclEntry struct {
	principal string // principal id
	level     string
}

type secretScope struct {
	name string
	acls []aclEntry // level = READ, WRITE or MANAGE
}

// store returns the grants store, creating it on first use (other
// families may register objects before this family loads).
func (s *Server) store() *grantStore {
	if gs, ok := s.ext[grantsFamily].(*grantStore); ok {
		return gs
	}
	gs := &grantStore{ws: map[int64]*wsGrants{}}
	s.ext[grantsFamily] = gs
	return gs
}

// grants returns workspace w's grants (never nil). Callers hold s.mu.
func (s *Server) grants(w *workspace) *wsGrants {
	st := s.store()
	g := st.ws[w.id]
	if g == nil {
		g = &wsGrants{objects: map[objectKey]*objectACL{}}
		st.ws[w.id] = g
	}
	return g
}

// object returns the ACL of object typ/id, registering the object when it
// is new. typ must be canonical.
func (g *wsGrants) object(typ, id string) *objectACL {
	k := objectKey{typ, id}
	if a := g.objects[k]; a != nil {
		return a
	}
	a := &objectACL{key: k}
	g.objects[k] = a
	g.order = append(g.order, k)
	return a
}

// find returns the ACL of object typ/id, nil when it is not registered.
func (g *wsGrants) find(typ, id string) *objectACL {
	return g.objects[objectKey{typ, id}]
}

// set gives principal id the direct level (replacing its previous one).
func (a *objectACL) set(id, level string) {
	for i := range a.entries {
		if a.entries[i].principal == id {
			a.entries[i].level = level
			return
		}
	}
	a.entries = append(a.entries, aclEntry{principal: id, level: level})
}

// remove drops principal id's direct grant.
func (a *objectACL) remove(id string) {
	a.entries = slices.DeleteFunc(a.entries, func(e aclEntry) bool { return e.principal == id })
}

// level returns principal id's direct level, "" when none.
func (a *objectACL) level(id string) string {
	for _, e := range a.entries {
		if e.principal == id {
			return e.level
		}
	}
	return ""
}

// owner returns the id of the principal holding IS_OWNER, "" when none.
func (a *objectACL) owner() string {
	for _, e := range a.entries {
		if e.level == "IS_OWNER" {
			return e.principal
		}
	}
	return ""
}

func (g *wsGrants) scope(name string) *secretScope {
	for _, sc := range g.scopes {
		if sc.name == name {
			return sc
		}
	}
	return nil
}

// grantee resolves a principal named on the wire (exactly one of the three
// names) to a live principal that exists in workspace w: a local one, or an
// account principal visible in w.
func (s *Server) grantee(w *workspace, userName, groupName, spName string) (*principal, *apiError) {
	n := 0
	for _, v := range []string{userName, groupName, spName} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return nil, restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Exactly one of user_name, group_name and service_principal_name must be set.")
	}
	k, name, label := kindUser, userName, "UserName"
	switch {
	case groupName != "":
		k, name, label = kindGroup, groupName, "GroupName"
	case spName != "":
		k, name, label = kindSP, spName, "ServicePrincipalName"
	}
	if p := s.findGrantee(w, k, name); p != nil {
		return p, nil
	}
	return nil, restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Principal: %s(%s) does not exist", label, name)
}

// findGrantee finds the principal of kind k named name in workspace w.
func (s *Server) findGrantee(w *workspace, k kind, name string) *principal {
	if p := s.st.lookupName(w.id, k, name); p != nil && p.live() {
		return p
	}
	if p := s.st.lookupName(0, k, name); p != nil && p.live() && s.st.visible(w, p) {
		return p
	}
	return nil
}

// findSecretPrincipal resolves a secret ACL principal: a user name, a group
// name or a service principal's application id.
func (s *Server) findSecretPrincipal(w *workspace, name string) *principal {
	for _, k := range []kind{kindUser, kindGroup, kindSP} {
		if p := s.findGrantee(w, k, name); p != nil {
			return p
		}
	}
	return nil
}

// seedACL registers object typ/id in w with the grants of acl.
func (s *Server) seedACL(w *workspace, typ, id string, acl []SeedGrant) *apiError {
	ctyp, ok := canonicalType(typ)
	if !ok {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "object type %q is not supported", typ)
	}
	a := s.grants(w).object(ctyp, id)
	for _, gr := range acl {
		p, e := s.grantee(w, gr.UserName, gr.GroupName, gr.ServicePrincipalName)
		if e != nil {
			return e
		}
		if e := checkLevel(ctyp, gr.PermissionLevel, p); e != nil {
			return e
		}
		a.set(p.id, gr.PermissionLevel)
	}
	return nil
}

// checkLevel validates a grant's level for the type and principal.
func checkLevel(typ, level string, p *principal) *apiError {
	if levelRank(typ, level) < 0 {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Permission level %s is not supported for %s; use one of %s", level, typ, strings.Join(aclTypes[typ].levels, ", "))
	}
	if level == "IS_OWNER" && p.kind == kindGroup {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "A group cannot be the owner of an object.")
	}
	return nil
}

// loadGrants builds the grants of every workspace from its "grants" seed
// section.
func loadGrants(s *Server, seed *Seed) (any, error) {
	gs := s.store()
	for _, w := range s.st.workspaces {
		s.grants(w) // every store exists before requests: reads never write
	}
	for _, sw := range seed.Workspaces {
		if sw.Grants == nil {
			continue
		}
		w := s.st.wsByID[sw.WorkspaceID]
		for i, o := range sw.Grants.Objects {
			f := fmt.Sprintf("workspaces[%d].grants.objects[%d]", workspaceIndex(seed, sw.WorkspaceID), i)
			if strings.TrimSpace(o.ObjectID) == "" {
				return nil, fmt.Errorf("%s.object_id: required", f)
			}
			if aclTypes[o.ObjectType].fixed {
				return nil, fmt.Errorf("%s.object_type: %q cannot be seeded", f, o.ObjectType)
			}
			if e := s.seedACL(w, o.ObjectType, o.ObjectID, o.ACL); e != nil {
				return nil, fmt.Errorf("%s: %s", f, e.msg)
			}
		}
		g := s.grants(w)
		for i, sc := range sw.Grants.SecretScopes {
			f := fmt.Sprintf("workspaces[%d].grants.secret_scopes[%d]", workspaceIndex(seed, sw.WorkspaceID), i)
			if strings.TrimSpace(sc.Name) == "" || g.scope(sc.Name) != nil {
				return nil, fmt.Errorf("%s.name: %q is empty or a duplicate", f, sc.Name)
			}
			scope := &secretScope{name: sc.Name}
			for j, a := range sc.ACLs {
				p := s.findSecretPrincipal(w, a.Principal)
				if p == nil {
					return nil, fmt.Errorf("%s.acls[%d].principal: %q is not a principal of the workspace", f, j, a.Principal)
				}
				if !validSecretPermission(a.Permission) {
					return nil, fmt.Errorf("%s.acls[%d].permission: %q is not READ, WRITE or MANAGE", f, j, a.Permission)
				}
				scope.acls = append(scope.acls, aclEntry{principal: p.id, level: a.Permission})
			}
			g.scopes = append(g.scopes, scope)
		}
	}
	return gs, nil
}

func workspaceIndex(seed *Seed, id int64) int {
	return slices.IndexFunc(seed.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == id })
}

func validSecretPermission(p string) bool {
	return p == "READ" || p == "WRITE" || p == "MANAGE"
}

// snapshotGrants adds the live grants to a State, sorted.
func snapshotGrants(s *Server, out *State) {
	st, _ := s.ext[grantsFamily].(*grantStore)
	if st == nil {
		return
	}
	for i := range out.Workspaces {
		ws := &out.Workspaces[i]
		g := st.ws[ws.WorkspaceID]
		if g == nil {
			continue
		}
		for _, k := range g.order {
			for _, e := range g.objects[k].entries {
				if s.st.get(e.principal) != nil {
					ws.Grants = append(ws.Grants, GrantState{Object: k.typ + "/" + k.id, PrincipalID: e.principal, PermissionLevel: e.level})
				}
			}
		}
		for _, sc := range g.scopes {
			for _, e := range sc.acls {
				if s.st.get(e.principal) != nil {
					ws.SecretACLs = append(ws.SecretACLs, SecretACLState{Scope: sc.name, PrincipalID: e.principal, Permission: e.level})
				}
			}
		}
		slices.SortFunc(ws.Grants, func(a, b GrantState) int {
			return cmpStrings(a.Object, b.Object, a.PrincipalID, b.PrincipalID, a.PermissionLevel, b.PermissionLevel)
		})
		slices.SortFunc(ws.SecretACLs, func(a, b SecretACLState) int {
			return cmpStrings(a.Scope, b.Scope, a.PrincipalID, b.PrincipalID, a.Permission, b.Permission)
		})
	}
}

// cmpStrings compares pairs (a0, b0), (a1, b1), ... lexicographically.
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// Permissions and secrets API paths.
const (
	permissionsBase = "/api/2.0/permissions/"
	secretsBase     = "/api/2.0/secrets"
)

func registerPermissions(s *Server) {
	ws := route{scope: scopeWorkspace}
	s.handle(with(ws, "GET", permissionsBase+"{path...}", ClassPermissionsRead, accessMember, false, s.getPermissions))
	s.handle(with(ws, "PUT", permissionsBase+"{path...}", ClassPermissionsWrite, accessMember, true, s.setPermissions(true)))
	s.handle(with(ws, "PATCH", permissionsBase+"{path...}", ClassPermissionsWrite, accessMember, true, s.setPermissions(false)))
	s.handle(with(ws, "GET", secretsBase+"/scopes/list", ClassDefault, accessMember, false, s.listSecretScopes))
	s.handle(with(ws, "GET", secretsBase+"/acls/list", ClassDefault, accessMember, false, s.listSecretACLs))
	s.handle(with(ws, "GET", secretsBase+"/acls/get", ClassDefault, accessMember, false, s.getSecretACL))
	s.handle(with(ws, "POST", secretsBase+"/acls/put", ClassDefault, accessMember, true, s.putSecretACL))
	s.handle(with(ws, "POST", secretsBase+"/acls/delete", ClassDefault, accessMember, true, s.deleteSecretACL))
}

// permTarget parses {path...}: "<type>/<id>[/permissionLevels]", where type
// may have two segments ("sql/warehouses", "authorization/tokens").
func permTarget(path string) (typ, id string, levels bool, e *apiError) {
	path = strings.Trim(path, "/")
	if rest, ok := strings.CutSuffix(path, "/permissionLevels"); ok {
		path, levels = rest, true
	}
	i := strings.LastIndexByte(path, '/')
	if i <= 0 || i == len(path)-1 {
		return "", "", false, restErr(http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for object path '%s'", path)
	}
	typ, id = path[:i], path[i+1:]
	if typ == "authorization" {
		typ = "authorization/" + id
	}
	ctyp, ok := canonicalType(typ)
	if !ok {
		return "", "", false, restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"%s is not a supported object type for permissions", typ)
	}
	return ctyp, id, levels, nil
}

// lookupACL returns the ACL of a request's object, 404 when it does not
// exist (fixed singletons always exist).
func (s *Server) lookupACL(c *call, typ, id string, create bool) (*objectACL, *apiError) {
	g := s.grants(c.ws)
	if a := g.find(typ, id); a != nil {
		return a, nil
	}
	if aclTypes[typ].fixed {
		if create {
			return g.object(typ, id), nil
		}
		return &objectACL{key: objectKey{typ, id}}, nil
	}
	return nil, restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "%s %s does not exist.", aclTypes[typ].echo, id)
}

type permissionJSON struct {
	PermissionLevel     string   `json:"permission_level"`
	Inherited           bool     `json:"inherited"`
	InheritedFromObject []string `json:"inherited_from_object,omitempty"`
}

type aclEntryJSON struct {
	UserName             string           `json:"user_name,omitempty"`
	GroupName            string           `json:"group_name,omitempty"`
	ServicePrincipalName string           `json:"service_principal_name,omitempty"`
	DisplayName          string           `json:"display_name,omitempty"`
	AllPermissions       []permissionJSON `json:"all_permissions"`
}

type objectPermissionsJSON struct {
	ObjectID          string         `json:"object_id"`
	ObjectType        string         `json:"object_type"`
	AccessControlList []aclEntryJSON `json:"access_control_list"`
}

// objectPath is the path of object k in replies: its object_id, and the
// value of inherited_from_object for what it passes on.
func objectPath(k objectKey) string {
	t := aclTypes[k.typ]
	if t.fixed {
		return "/" + k.typ
	}
	prefix := t.prefix
	if prefix == "" {
		prefix = "/" + k.typ + "/"
	}
	return prefix + k.id
}

// viewLevel is one level a principal holds on an object: direct (from is
// nil) or inherited from the objects in from.
type viewLevel struct {
	level string
	from  []string
}

// viewEntry is one principal's entry of an object's effective ACL.
type viewEntry struct {
	p      *principal
	levels []viewLevel
}

// aclView returns object a's effective ACL in workspace w: its direct
// grants in grant order, then what it inherits from its parents (nearest
// first) and from its type's root, merged per principal (a principal's
// direct level first). Grants of deleted principals are skipped.
func (s *Server) aclView(w *workspace, a *objectACL) []viewEntry {
	var out []viewEntry
	index := map[string]int{}
	add := func(p *principal, level, from string) {
		i, ok := index[p.id]
		if !ok {
			i = len(out)
			index[p.id] = i
			out = append(out, viewEntry{p: p})
		}
		e := &out[i]
		if from == "" {
			e.levels = append(e.levels, viewLevel{level: level})
			return
		}
		for j := range e.levels {
			if l := &e.levels[j]; l.from != nil && l.level == level {
				if !slices.Contains(l.from, from) {
					l.from = append(l.from, from)
				}
				return
			}
		}
		e.levels = append(e.levels, viewLevel{level: level, from: []string{from}})
	}
	t := aclTypes[a.key.typ]
	admins := s.st.get(w.adminsGroup)
	if t.fixed && admins != nil {
		add(admins, t.levels[len(t.levels)-1], "")
	}
	for _, e := range a.entries {
		if p := s.st.get(e.principal); p != nil && !(t.fixed && p == admins) {
			add(p, e.level, "")
		}
	}
	if f := s.store().parents[a.key.typ]; f != nil {
		g := s.grants(w)
		for _, k := range f(w, a.key.id) {
			pa := g.find(k.typ, k.id)
			if pa == nil {
				continue
			}
			for _, e := range pa.entries {
				if p := s.st.get(e.principal); p != nil {
					add(p, e.level, objectPath(k))
				}
			}
		}
	}
	if t.root != "" && admins != nil {
		top := t.levels[len(t.levels)-1]
		if top == "IS_OWNER" {
			top = "CAN_MANAGE"
		}
		add(admins, top, t.root)
	}
	return out
}

// renderACL renders an object's effective ACL as ObjectPermissions in
// workspace w. Users and service principals carry display_name; groups do
// not (SDK AccessControlResponse: "Display name of the user or service
// principal").
func (s *Server) renderACL(w *workspace, a *objectACL) objectPermissionsJSON {
	t := aclTypes[a.key.typ]
	out := objectPermissionsJSON{ObjectID: objectPath(a.key), ObjectType: t.echo, AccessControlList: []aclEntryJSON{}}
	for _, e := range s.aclView(w, a) {
		j := aclEntryJSON{AllPermissions: make([]permissionJSON, 0, len(e.levels))}
		for _, l := range e.levels {
			j.AllPermissions = append(j.AllPermissions, permissionJSON{PermissionLevel: l.level, Inherited: l.from != nil,
				InheritedFromObject: l.from})
		}
		switch p := e.p; p.kind {
		case kindUser:
			j.UserName, j.DisplayName = p.userName, p.displayName
		case kindGroup:
			j.GroupName = p.displayName
		case kindSP:
			j.ServicePrincipalName, j.DisplayName = p.applicationID, p.displayName
		}
		out.AccessControlList = append(out.AccessControlList, j)
	}
	return out
}

func (s *Server) getPermissions(c *call) error {
	typ, id, levels, e := permTarget(c.r.PathValue("path"))
	if e != nil {
		return e
	}
	a, e := s.lookupACL(c, typ, id, false)
	if e != nil {
		return e
	}
	if !c.canSee(typ, id) {
		return restErr(http.StatusForbidden, "PERMISSION_DENIED",
			"%s does not have permissions on %s.", c.actor.name(), objectPath(a.key))
	}
	if levels {
		var out []map[string]string
		for _, l := range aclTypes[typ].levels {
			out = append(out, map[string]string{"permission_level": l, "description": "Permission " + l + " on " + aclTypes[typ].echo})
		}
		return c.reply(http.StatusOK, map[string]any{"permission_levels": out})
	}
	return c.reply(http.StatusOK, s.renderACL(c.ws, a))
}

// setPermissions serves PUT (replace the direct grants; an existing owner
// is kept unless the request names one) and PATCH (merge). Workspace
// admins and holders of CAN_MANAGE or IS_OWNER (directly, through a group
// or inherited) may call it; giving the object a new owner takes an admin
// unless Options.ManagersSetOwner is set.
func (s *Server) setPermissions(replace bool) func(*call) error {
	return func(c *call) error {
		typ, id, levels, e := permTarget(c.r.PathValue("path"))
		if e != nil {
			return e
		}
		if levels {
			return restErr(http.StatusMethodNotAllowed, "ENDPOINT_NOT_FOUND", "permissionLevels is read-only")
		}
		var body struct {
			AccessControlList []SeedGrant `json:"access_control_list"`
		}
		if err := c.decode(&body); err != nil {
			return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
		}
		if _, e := s.lookupACL(c, typ, id, false); e != nil {
			return e
		}
		if !s.canManage(c, typ, id) {
			return restErr(http.StatusForbidden, "PERMISSION_DENIED",
				"%s does not have CAN_MANAGE permission on %s.", c.actor.name(), objectPath(objectKey{typ, id}))
		}
		type grant struct {
			p     *principal
			level string
		}
		var grants []grant
		owners := 0
		for _, gr := range body.AccessControlList {
			p, e := s.grantee(c.ws, gr.UserName, gr.GroupName, gr.ServicePrincipalName)
			if e != nil {
				return e
			}
			if e := checkLevel(typ, gr.PermissionLevel, p); e != nil {
				return e
			}
			if gr.PermissionLevel == "IS_OWNER" {
				owners++
			}
			grants = append(grants, grant{p, gr.PermissionLevel})
		}
		if owners > 1 {
			return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "An object can have only one owner.")
		}
		a, e := s.lookupACL(c, typ, id, true)
		if e != nil {
			return e
		}
		if owners == 1 && !c.admin && !s.opts.ManagersSetOwner {
			for _, g := range grants {
				if g.level == "IS_OWNER" && g.p.id != a.owner() {
					return restErr(http.StatusForbidden, "PERMISSION_DENIED",
						"Only workspace admins can change the owner of %s.", objectPath(a.key))
				}
			}
		}
		if replace {
			owner := a.owner()
			a.entries = nil
			if owner != "" && owners == 0 {
				a.set(owner, "IS_OWNER")
			}
		} else if owners == 1 {
			if old := a.owner(); old != "" {
				a.remove(old)
			}
		}
		for _, g := range grants {
			a.set(g.p.id, g.level)
		}
		return c.reply(http.StatusOK, s.renderACL(c.ws, a))
	}
}

func (s *Server) listSecretScopes(c *call) error {
	type scopeJSON struct {
		Name        string `json:"name"`
		BackendType string `json:"backend_type"`
	}
	out := []scopeJSON{}
	for _, sc := range s.grants(c.ws).scopes {
		out = append(out, scopeJSON{Name: sc.name, BackendType: "DATABRICKS"})
	}
	return c.reply(http.StatusOK, map[string]any{"scopes": out})
}

type secretACLJSON struct {
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

// requestScope returns the secret scope a request names, which the caller
// must MANAGE: the SDK documents that listing, reading, putting and
// deleting ACLs all need MANAGE (workspace admins have it on every scope).
func (s *Server) requestScope(c *call, name string) (*secretScope, *apiError) {
	if name == "" {
		return nil, restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Missing required field: scope")
	}
	sc := s.grants(c.ws).scope(name)
	if sc == nil {
		return nil, restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Scope %s does not exist!", name)
	}
	if s.secretPermission(c, sc) != "MANAGE" {
		return nil, restErr(http.StatusForbidden, "PERMISSION_DENIED",
			"User %s does not have MANAGE permission on scope %s.", c.actor.name(), name)
	}
	return sc, nil
}

func (s *Server) listSecretACLs(c *call) error {
	sc, e := s.requestScope(c, c.r.URL.Query().Get("scope"))
	if e != nil {
		return e
	}
	out := []secretACLJSON{}
	for _, a := range sc.acls {
		if p := s.st.get(a.principal); p != nil {
			out = append(out, secretACLJSON{Principal: p.name(), Permission: a.level})
		}
	}
	return c.reply(http.StatusOK, map[string]any{"items": out})
}

func (s *Server) getSecretACL(c *call) error {
	q := c.r.URL.Query()
	sc, e := s.requestScope(c, q.Get("scope"))
	if e != nil {
		return e
	}
	if p := s.findSecretPrincipal(c.ws, q.Get("principal")); p != nil {
		for _, a := range sc.acls {
			if a.principal == p.id {
				return c.reply(http.StatusOK, secretACLJSON{Principal: p.name(), Permission: a.level})
			}
		}
	}
	return restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Failed to get secret ACL for principal %s in scope %s.", q.Get("principal"), sc.name)
}

func (s *Server) putSecretACL(c *call) error {
	var body struct {
		Scope      string `json:"scope"`
		Principal  string `json:"principal"`
		Permission string `json:"permission"`
	}
	if err := c.decode(&body); err != nil {
		return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
	}
	sc, e := s.requestScope(c, body.Scope)
	if e != nil {
		return e
	}
	if !validSecretPermission(body.Permission) {
		return restErr(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid permission %q: use READ, WRITE or MANAGE.", body.Permission)
	}
	p := s.findSecretPrincipal(c.ws, body.Principal)
	if p == nil {
		return restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Principal %s does not exist.", body.Principal)
	}
	for i := range sc.acls {
		if sc.acls[i].principal == p.id {
			sc.acls[i].level = body.Permission
			return c.reply(http.StatusOK, struct{}{})
		}
	}
	sc.acls = append(sc.acls, aclEntry{principal: p.id, level: body.Permission})
	return c.reply(http.StatusOK, struct{}{})
}

func (s *Server) deleteSecretACL(c *call) error {
	var body struct {
		Scope     string `json:"scope"`
		Principal string `json:"principal"`
	}
	if err := c.decode(&body); err != nil {
		return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
	}
	sc, e := s.requestScope(c, body.Scope)
	if e != nil {
		return e
	}
	if p := s.findSecretPrincipal(c.ws, body.Principal); p != nil {
		n := len(sc.acls)
		sc.acls = slices.DeleteFunc(sc.acls, func(a aclEntry) bool { return a.principal == p.id })
		if len(sc.acls) < n {
			return c.reply(http.StatusOK, struct{}{})
		}
	}
	return restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "No ACL for principal %s in scope %s.", body.Principal, sc.name)
}
