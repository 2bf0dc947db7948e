package sandbox

import (
	"cmp"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the Unity Catalog family: metastores and the securables they
// hold (catalogs, schemas, tables and views, volumes, functions, registered
// models, external locations, storage and service credentials,
// connections, and the Delta Sharing shares, recipients and providers whose
// routes live in sharing.go), with their owners and grants. A metastore is
// account-level state shared by every workspace attached to it (a
// federated workspace's metastore_id; without one, the account's default
// metastore): every workspace route answers from the caller's workspace's
// metastore, and a workspace without one gets 404 METASTORE_DOES_NOT_EXIST.
//
//	GET /api/2.1/unity-catalog/metastore_summary
//	GET /api/2.1/unity-catalog/metastores[/{id}]
//	GET /api/2.1/unity-catalog/catalogs?max_results=&page_token=&include_unbound=   catalogs/{name}
//	GET /api/2.1/unity-catalog/schemas?catalog_name=&max_results=&page_token=       schemas/{full_name}
//	GET /api/2.1/unity-catalog/tables?catalog_name=&schema_name=&max_results=&page_token=
//	        &omit_columns=&omit_properties=&omit_username=                          tables/{full_name}
//	GET /api/2.1/unity-catalog/volumes?catalog_name=&schema_name=...                volumes/{full_name}
//	GET /api/2.1/unity-catalog/functions?catalog_name=&schema_name=...              functions/{full_name}
//	GET /api/2.1/unity-catalog/models[?catalog_name=&schema_name=]...               models/{full_name}
//	GET /api/2.1/unity-catalog/external-locations, storage-credentials,
//	    credentials?purpose=, connections                                           .../{name}
//	GET /api/2.1/unity-catalog/permissions/{securable_type}/{full_name}[?principal=&max_results=&page_token=]
//	GET /api/2.1/unity-catalog/effective-permissions/{securable_type}/{full_name}[?principal=]
//
// Lists page with max_results and page_token (reference: SDK v0.175.0
// catalog model doc comments): max_results absent returns everything in one
// reply, except tables, where a schema holding more than one page is 400
// INVALID_PARAMETER_VALUE ("The ListTables result set is too large ...",
// as observed on the real service); 0 means the server's page (ucPage); a
// positive value is capped at the server's maximum; a negative one is 400.
// Volumes and registered models inside a schema page up to 10000, the
// metastore-wide registered models list up to 1000 (default 100); the
// other lists, whose server maximum is not documented, page at most
// ucPage (100, the open-source server's cap: the strict choice).
// next_page_token is absent on the last page. Grants lists accept
// max_results 0 or at least 150 (1 to 149 is 400).
//
// Who sees what (the SDK's List doc comments): a metastore admin (the
// metastore's owner, or a member of the owner group, transitively) sees
// every securable; anyone else sees the securables it owns or holds a
// privilege on, directly or through a group, or below a catalog or schema
// it owns or holds a privilege on. A catalog with isolation_mode ISOLATED
// is listed only in the workspaces it is bound to, unless include_unbound
// is set by a metastore admin or its owner; from any other workspace it
// and everything in it cannot be read or changed (get, list its children,
// grants, owner updates): 403 PERMISSION_DENIED "Catalog 'x' is not
// accessible in current workspace", the reply public records show
// (databricks/terraform-provider-databricks#2446: "cannot read catalog:
// Catalog '...' is not accessible in current workspace" on an isolated
// catalog; the docs' "Limit catalog access to specific workspaces": access
// from an unbound workspace is denied even with explicit grants). The
// metastore-wide registered models list leaves out the models of such a
// catalog too (the record is silent: strict; Options.ListUnboundModels
// lists them). Its workspace bindings are served from any workspace of the
// metastore, to a metastore admin or the catalog's owner (SDK
// WorkspaceBindingsAPI: "The caller must be a metastore admin or an owner
// of the catalog"; an isolated catalog bound to no workspace can only be
// bound from an unbound one), every binding BINDING_TYPE_READ_WRITE:
//
//	GET /api/2.1/unity-catalog/workspace-bindings/catalogs/{name}        {"workspaces": [id]}
//	GET /api/2.1/unity-catalog/bindings/{securable_type}/{name}?max_results=&page_token=
//	        {"bindings": [{"workspace_id": id, "binding_type": ...}]}  (catalog, storage_credential,
//	        credential, external_location: the latter are always OPEN here, with no bindings)
//
// Grant reads are charged to the permissions-read class, lists and gets to
// default. Grants and owners
// name principals as the wire does: a user's userName, a group's
// displayName, a service principal's applicationId. Registered models use
// the securable type FUNCTION in grants, as the real API does.

const ucFamily = "unitycatalog"

func init() {
	registerFamily(family{name: ucFamily, load: loadUC, routes: registerUC})
}

// Page sizes of the Unity Catalog lists (see the file comment).
const (
	ucPage             = 100   // max_results=0, and the cap of undocumented lists
	ucVolumesPage      = 10000 // volumes and registered models in one schema
	ucModelsDefault    = 100   // metastore-wide registered models, max_results=0 or absent
	ucModelsMax        = 1000  // metastore-wide registered models, largest page
	ucGrantsMinResults = 150
)

// Securable types, as the grants API names them (upper case; the path
// accepts any case).
const (
	ucKindMetastore     = "METASTORE"
	ucCatalog           = "CATALOG"
	ucSchema            = "SCHEMA"
	ucTable             = "TABLE"
	ucVolume            = "VOLUME"
	ucFunction          = "FUNCTION"
	ucModel             = "REGISTERED_MODEL" // FUNCTION in grants
	ucExternalLocation  = "EXTERNAL_LOCATION"
	ucStorageCredential = "STORAGE_CREDENTIAL"
	ucServiceCredential = "CREDENTIAL"
	ucConnection        = "CONNECTION"
	ucShare             = "SHARE"
	ucRecipient         = "RECIPIENT"
	ucProvider          = "PROVIDER"
)

// SeedMetastore is a Unity Catalog metastore of the seed's "metastores"
// section. JSON form (every list optional):
//
//	{"metastore_id": "<uuid; default: the account's default metastore>", "name": "main",
//	 "region": "us-east-1", "owner": "<metastore admin: user, group or SP app id>",
//	 "grants": [{"principal": "ann@acme.test", "privileges": ["CREATE_CATALOG"]}],
//	 "catalogs": [{"name": "sales", "owner": "...", "comment": "", "isolation_mode": "ISOLATED",
//	               "workspaces": [1001], "grants": [],
//	               "schemas": [{"name": "raw", "owner": "...", "grants": [],
//	                            "tables": [{"name": "orders", "owner": "...", "table_type": "MANAGED",
//	                                        "pipeline_id": "", "view_definition": "", "grants": []}],
//	                            "volumes": [{"name": "landing", "owner": "...", "volume_type": "MANAGED"}],
//	                            "functions": [{"name": "mask", "owner": "..."}],
//	                            "registered_models": [{"name": "churn", "owner": "..."}]}]}],
//	 "external_locations": [{"name": "raw", "owner": "...", "url": "s3://...", "credential_name": "..."}],
//	 "storage_credentials": [{"name": "s3-raw", "owner": "..."}],
//	 "service_credentials": [{"name": "svc", "owner": "..."}],
//	 "connections": [{"name": "pg", "owner": "...", "connection_type": "POSTGRESQL"}],
//	 "shares": [{"name": "partners", "owner": "...", "grants": [{"principal": "<recipient>", "privileges": ["SELECT"]}]}],
//	 "recipients": [{"name": "acme-partner", "owner": "...", "authentication_type": "TOKEN"}],
//	 "providers": [{"name": "vendor", "owner": "..."}]}
//
// Owners and grant principals must be account principals (user names,
// group names, service principal application ids); share grants name
// recipients. Names are unique per parent, ignoring case. The metastore is
// attached to the federated workspaces whose metastore_id is its id.
type SeedMetastore struct {
	MetastoreID        string            `json:"metastore_id,omitempty"`
	Name               string            `json:"name"`
	Region             string            `json:"region,omitempty"`
	Owner              string            `json:"owner"`
	Grants             []SeedUCGrant     `json:"grants,omitempty"`
	Catalogs           []SeedCatalog     `json:"catalogs,omitempty"`
	ExternalLocations  []SeedUCSecurable `json:"external_locations,omitempty"`
	StorageCredentials []SeedUCSecurable `json:"storage_credentials,omitempty"`
	ServiceCredentials []SeedUCSecurable `json:"service_credentials,omitempty"`
	Connections        []SeedUCSecurable `json:"connections,omitempty"`
	Shares             []SeedUCSecurable `json:"shares,omitempty"`
	Recipients         []SeedUCSecurable `json:"recipients,omitempty"`
	Providers          []SeedUCSecurable `json:"providers,omitempty"`
	Created            SeedTime          `json:"created,omitempty"`
}

// SeedUCGrant grants privileges on a securable to one principal.
type SeedUCGrant struct {
	Principal  string   `json:"principal"`
	Privileges []string `json:"privileges"`
}

// SeedCatalog is a catalog and its schemas. IsolationMode is OPEN
// (default) or ISOLATED; an isolated catalog is bound to Workspaces.
type SeedCatalog struct {
	Name          string        `json:"name"`
	Owner         string        `json:"owner"`
	Comment       string        `json:"comment,omitempty"`
	IsolationMode string        `json:"isolation_mode,omitempty"`
	Workspaces    []int64       `json:"workspaces,omitempty"`
	Grants        []SeedUCGrant `json:"grants,omitempty"`
	Schemas       []SeedSchema  `json:"schemas,omitempty"`
}

// SeedSchema is a schema and what it holds.
type SeedSchema struct {
	Name             string            `json:"name"`
	Owner            string            `json:"owner"`
	Comment          string            `json:"comment,omitempty"`
	Grants           []SeedUCGrant     `json:"grants,omitempty"`
	Tables           []SeedUCSecurable `json:"tables,omitempty"`
	Volumes          []SeedUCSecurable `json:"volumes,omitempty"`
	Functions        []SeedUCSecurable `json:"functions,omitempty"`
	RegisteredModels []SeedUCSecurable `json:"registered_models,omitempty"`
}

// SeedUCSecurable is a securable below a schema or at metastore level. The
// kind-specific fields apply to their kind only: TableType (MANAGED by
// default, EXTERNAL, VIEW, MATERIALIZED_VIEW, STREAMING_TABLE, METRIC_VIEW,
// FOREIGN), PipelineID (materialized views and streaming tables),
// ViewDefinition (views), VolumeType (MANAGED or EXTERNAL), URL and
// CredentialName (external locations), ConnectionType (connections),
// AuthenticationType (recipients and providers: TOKEN or DATABRICKS).
type SeedUCSecurable struct {
	Name               string        `json:"name"`
	Owner              string        `json:"owner"`
	Comment            string        `json:"comment,omitempty"`
	Grants             []SeedUCGrant `json:"grants,omitempty"`
	TableType          string        `json:"table_type,omitempty"`
	PipelineID         string        `json:"pipeline_id,omitempty"`
	ViewDefinition     string        `json:"view_definition,omitempty"`
	VolumeType         string        `json:"volume_type,omitempty"`
	URL                string        `json:"url,omitempty"`
	CredentialName     string        `json:"credential_name,omitempty"`
	ConnectionType     string        `json:"connection_type,omitempty"`
	AuthenticationType string        `json:"authentication_type,omitempty"`
}

// The default seed's metastore lives in its own embedded file,
// seeds/default_catalog.json ({"account_id": ..., "metastores": [...]}),
// which DefaultSeed attaches with attachDefaultCatalog.
//
//go:embed seeds/default_catalog.json
var defaultCatalogJSON []byte

// attachDefaultCatalog sets seed's metastores from the embedded default
// catalog file.
func attachDefaultCatalog(seed *Seed) error {
	var f struct {
		AccountID  string          `json:"account_id"`
		Metastores []SeedMetastore `json:"metastores"`
	}
	if err := decodeStrict(defaultCatalogJSON, &f); err != nil {
		return fmt.Errorf("parse default catalog: %w", err)
	}
	if f.AccountID != seed.AccountID {
		return fmt.Errorf("default catalog is for account %q, seed is account %q", f.AccountID, seed.AccountID)
	}
	seed.Metastores = f.Metastores
	return nil
}

// ucNode is one securable. Guarded by Server.mu (read-only after load).
type ucNode struct {
	kind      string
	name      string
	fullName  string
	id        string
	parent    *ucNode // schema -> catalog -> nil; table -> schema
	owner     string
	comment   string
	created   int64
	createdBy string
	grants    []ucGrant
	seed      SeedUCSecurable // kind-specific fields
	isolation string
	bound     []int64
	children  map[string][]*ucNode // by kind, sorted by name
}

type ucGrant struct {
	principal  string
	privileges []string
}

// metastoreUC is one metastore's state.
type metastoreUC struct {
	node     *ucNode // kind METASTORE: name, owner, grants
	id       string
	region   string
	catalogs []*ucNode
	top      map[string][]*ucNode // metastore-level kinds, sorted by name
	models   []*ucNode            // every registered model, by full name
	index    map[string]*ucNode   // kind + ":" + lower(full name)
}

// ucState holds every metastore.
type ucState struct {
	byID  map[string]*metastoreUC
	order []*metastoreUC
}

// ucPrivileges are the privilege names the seed may grant.
var ucPrivileges = []string{"ALL_PRIVILEGES", "APPLY_TAG", "BROWSE", "CREATE_CATALOG", "CREATE_CONNECTION",
	"CREATE_EXTERNAL_LOCATION", "CREATE_EXTERNAL_TABLE", "CREATE_EXTERNAL_VOLUME", "CREATE_FOREIGN_CATALOG",
	"CREATE_FUNCTION", "CREATE_MANAGED_STORAGE", "CREATE_MATERIALIZED_VIEW", "CREATE_MODEL", "CREATE_PROVIDER",
	"CREATE_RECIPIENT", "CREATE_SCHEMA", "CREATE_SERVICE_CREDENTIAL", "CREATE_SHARE", "CREATE_STORAGE_CREDENTIAL",
	"CREATE_TABLE", "CREATE_VOLUME", "EXECUTE", "EXTERNAL_USE_LOCATION", "EXTERNAL_USE_SCHEMA", "MANAGE",
	"MANAGE_ALLOWLIST", "MODIFY", "READ_FILES", "READ_VOLUME", "REFRESH", "SELECT", "SET_SHARE_PERMISSION",
	"USE_CATALOG", "USE_CONNECTION", "USE_MARKETPLACE_ASSETS", "USE_PROVIDER", "USE_RECIPIENT", "USE_SCHEMA",
	"USE_SHARE", "WRITE_FILES", "WRITE_VOLUME", "ACCESS", "CREATE"}

// ucNameKey identifies a child name under a parent, for duplicate checks.
type ucNameKey struct {
	parent     *ucNode
	kind, name string
}

// ucLoader builds the metastores, checking the seed as it goes.
type ucLoader struct {
	seen    map[ucNameKey]bool
	s       *Server
	now     time.Time
	errs    []error
	creator string
}

func (l *ucLoader) errf(format string, a ...any) {
	if len(l.errs) < 20 {
		l.errs = append(l.errs, fmt.Errorf(format, a...))
	}
}

// principalExists reports whether name is an account principal: a user
// name, a group name or a service principal application id.
func (l *ucLoader) principalExists(name string) bool {
	for _, k := range []kind{kindUser, kindGroup, kindSP} {
		if p := l.s.st.lookupName(0, k, name); p != nil {
			return true
		}
	}
	return false
}

func (l *ucLoader) owner(field, name string) {
	switch {
	case strings.TrimSpace(name) == "":
		l.errf("%s.owner: required", field)
	case !l.principalExists(name):
		l.errf("%s.owner: %q is not an account user, group or service principal", field, name)
	}
}

func (l *ucLoader) grants(field string, gs []SeedUCGrant, recipients map[string]bool) []ucGrant {
	var out []ucGrant
	for i, g := range gs {
		f := fmt.Sprintf("%s.grants[%d]", field, i)
		switch {
		case recipients != nil && !recipients[strings.ToLower(g.Principal)]:
			l.errf("%s.principal: %q is not a recipient of the metastore", f, g.Principal)
		case recipients == nil && !l.principalExists(g.Principal):
			l.errf("%s.principal: %q is not an account user, group or service principal", f, g.Principal)
		}
		if len(g.Privileges) == 0 {
			l.errf("%s.privileges: required", f)
		}
		for _, p := range g.Privileges {
			if !slices.Contains(ucPrivileges, p) {
				l.errf("%s.privileges: %q is not a Unity Catalog privilege", f, p)
			}
		}
		out = append(out, ucGrant{principal: g.Principal, privileges: slices.Clone(g.Privileges)})
	}
	return out
}

// node builds a securable from its seed.
func (l *ucLoader) node(kind, field string, parent *ucNode, sd SeedUCSecurable, recipients map[string]bool) *ucNode {
	if strings.TrimSpace(sd.Name) == "" || strings.ContainsAny(sd.Name, "./") {
		l.errf("%s.name: %q is empty or holds a dot or slash", field, sd.Name)
	}
	l.owner(field, sd.Owner)
	n := &ucNode{kind: kind, name: sd.Name, fullName: sd.Name, parent: parent, owner: sd.Owner, comment: sd.Comment,
		created: l.now.Add(-defaultCreatedAgo).UnixMilli(), createdBy: l.creator, seed: sd,
		grants: l.grants(field, sd.Grants, recipients)}
	if parent != nil && parent.kind != ucKindMetastore {
		n.fullName = parent.fullName + "." + sd.Name
	}
	n.id = uuidFrom("uc", kind, strings.ToLower(n.fullName))
	return n
}

// addChild appends n to parent's kind list, refusing duplicate names.
func (l *ucLoader) addChild(field string, parent *ucNode, n *ucNode) {
	if parent.children == nil {
		parent.children = map[string][]*ucNode{}
	}
	k := ucNameKey{parent, n.kind, strings.ToLower(n.name)}
	if l.seen[k] {
		l.errf("%s.name: duplicate %q", field, n.name)
		return
	}
	l.seen[k] = true
	parent.children[n.kind] = append(parent.children[n.kind], n)
}

// loadUC builds the metastores of the seed and an empty metastore (owned by
// the first account admin) for every other metastore id a federated
// workspace is attached to.
func loadUC(s *Server, seed *Seed) (any, error) {
	st := &ucState{byID: map[string]*metastoreUC{}}
	l := &ucLoader{s: s, now: s.now(), creator: firstAccountAdmin(s.st), seen: map[ucNameKey]bool{}}
	attached := map[string][]int64{}
	for _, w := range s.st.workspaces {
		if w.federated && w.metastoreID != "" {
			attached[w.metastoreID] = append(attached[w.metastoreID], w.id)
		}
	}
	defaultID := uuidFrom("metastore", s.st.accountID)
	for i, sm := range seed.Metastores {
		f := fmt.Sprintf("metastores[%d]", i)
		id := cmp.Or(sm.MetastoreID, defaultID)
		if st.byID[id] != nil {
			l.errf("%s.metastore_id: duplicate %q", f, id)
			continue
		}
		m := l.metastore(f, id, sm, attached[id])
		st.byID[id] = m
		st.order = append(st.order, m)
	}
	for _, w := range s.st.workspaces {
		if !w.federated || w.metastoreID == "" || st.byID[w.metastoreID] != nil {
			continue
		}
		m := l.metastore("metastore "+w.metastoreID, w.metastoreID,
			SeedMetastore{Name: "metastore-" + w.metastoreID[:min(8, len(w.metastoreID))], Owner: l.creator}, attached[w.metastoreID])
		st.byID[m.id] = m
		st.order = append(st.order, m)
	}
	if len(l.errs) > 0 {
		return nil, fmt.Errorf("invalid seed metastores: %w", joinErrs(l.errs))
	}
	return st, nil
}

func joinErrs(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// firstAccountAdmin returns the user name of the first account admin (the
// creator of seeded securables and the owner of unseeded metastores).
func firstAccountAdmin(st *state) string {
	for _, p := range st.order {
		if p.ws == 0 && p.kind == kindUser && slices.Contains(p.roles, RoleAccountAdmin) {
			return p.userName
		}
	}
	for _, p := range st.order {
		if p.ws == 0 && p.kind == kindUser {
			return p.userName
		}
	}
	return ""
}

func (l *ucLoader) metastore(f, id string, sm SeedMetastore, attached []int64) *metastoreUC {
	if strings.TrimSpace(sm.Name) == "" {
		l.errf("%s.name: required", f)
	}
	root := l.node(ucKindMetastore, f, nil, SeedUCSecurable{Name: strings.ReplaceAll(sm.Name, ".", "-"), Owner: sm.Owner, Grants: sm.Grants}, nil)
	root.name, root.fullName, root.id = sm.Name, id, id
	if t, err := resolveOr(sm.Created, l.now, l.now.Add(-2*defaultCreatedAgo)); err == nil {
		root.created = t.UnixMilli()
	} else {
		l.errf("%s.created: %v", f, err)
	}
	m := &metastoreUC{node: root, id: id, region: cmp.Or(sm.Region, "us-east-1"), top: map[string][]*ucNode{},
		index: map[string]*ucNode{}}
	recipients := map[string]bool{}
	for _, r := range sm.Recipients {
		recipients[strings.ToLower(r.Name)] = true
	}
	top := []struct {
		kind, field string
		items       []SeedUCSecurable
	}{
		{ucExternalLocation, "external_locations", sm.ExternalLocations},
		{ucStorageCredential, "storage_credentials", sm.StorageCredentials},
		{ucServiceCredential, "service_credentials", sm.ServiceCredentials},
		{ucConnection, "connections", sm.Connections},
		{ucShare, "shares", sm.Shares},
		{ucRecipient, "recipients", sm.Recipients},
		{ucProvider, "providers", sm.Providers},
	}
	for _, t := range top {
		for i, sd := range t.items {
			var rs map[string]bool
			if t.kind == ucShare {
				rs = recipients
			}
			n := l.node(t.kind, fmt.Sprintf("%s.%s[%d]", f, t.field, i), nil, sd, rs)
			l.addChild(fmt.Sprintf("%s.%s[%d]", f, t.field, i), root, n)
		}
		m.top[t.kind] = root.children[t.kind]
	}
	creds := map[string]bool{}
	for _, c := range m.top[ucStorageCredential] {
		creds[strings.ToLower(c.name)] = true
	}
	for i, e := range m.top[ucExternalLocation] {
		if e.seed.CredentialName != "" && !creds[strings.ToLower(e.seed.CredentialName)] {
			l.errf("%s.external_locations[%d].credential_name: %q is not a storage credential of the metastore", f, i, e.seed.CredentialName)
		}
	}
	for i, sc := range sm.Catalogs {
		cf := fmt.Sprintf("%s.catalogs[%d]", f, i)
		c := l.node(ucCatalog, cf, nil, SeedUCSecurable{Name: sc.Name, Owner: sc.Owner, Comment: sc.Comment, Grants: sc.Grants}, nil)
		c.isolation = cmp.Or(sc.IsolationMode, "OPEN")
		if c.isolation != "OPEN" && c.isolation != "ISOLATED" {
			l.errf("%s.isolation_mode: %q is not OPEN or ISOLATED", cf, sc.IsolationMode)
		}
		for _, ws := range sc.Workspaces {
			if !slices.Contains(attached, ws) {
				l.errf("%s.workspaces: %d is not a workspace attached to the metastore", cf, ws)
			}
		}
		c.bound = slices.Clone(sc.Workspaces)
		l.addChild(cf, root, c)
		for j, ss := range sc.Schemas {
			sf := fmt.Sprintf("%s.schemas[%d]", cf, j)
			sch := l.node(ucSchema, sf, c, SeedUCSecurable{Name: ss.Name, Owner: ss.Owner, Comment: ss.Comment, Grants: ss.Grants}, nil)
			l.addChild(sf, c, sch)
			kids := []struct {
				kind, field string
				items       []SeedUCSecurable
			}{{ucTable, "tables", ss.Tables}, {ucVolume, "volumes", ss.Volumes}, {ucFunction, "functions", ss.Functions},
				{ucModel, "registered_models", ss.RegisteredModels}}
			for _, k := range kids {
				for n, sd := range k.items {
					kf := fmt.Sprintf("%s.%s[%d]", sf, k.field, n)
					x := l.node(k.kind, kf, sch, sd, nil)
					l.checkKind(kf, x)
					l.addChild(kf, sch, x)
				}
			}
		}
	}
	m.catalogs = root.children[ucCatalog]
	sortNodes := func(ns []*ucNode) {
		slices.SortStableFunc(ns, func(a, b *ucNode) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	}
	var walk func(n *ucNode)
	walk = func(n *ucNode) {
		m.index[n.kind+":"+strings.ToLower(n.fullName)] = n
		for _, k := range slices.Sorted(mapKeys(n.children)) {
			sortNodes(n.children[k])
			for _, c := range n.children[k] {
				walk(c)
				if c.kind == ucModel {
					m.models = append(m.models, c)
				}
			}
		}
	}
	walk(root)
	slices.SortStableFunc(m.models, func(a, b *ucNode) int {
		return strings.Compare(strings.ToLower(a.fullName), strings.ToLower(b.fullName))
	})
	return m
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkKind validates the kind-specific fields of a schema child.
func (l *ucLoader) checkKind(f string, n *ucNode) {
	switch n.kind {
	case ucTable:
		n.seed.TableType = cmp.Or(n.seed.TableType, "MANAGED")
		if !oneOf(n.seed.TableType, "MANAGED", "EXTERNAL", "VIEW", "MATERIALIZED_VIEW", "STREAMING_TABLE", "METRIC_VIEW", "FOREIGN") {
			l.errf("%s.table_type: %q is not a table type", f, n.seed.TableType)
		}
		if n.seed.PipelineID != "" && !oneOf(n.seed.TableType, "MATERIALIZED_VIEW", "STREAMING_TABLE") {
			l.errf("%s.pipeline_id: only materialized views and streaming tables have one", f)
		}
	case ucVolume:
		n.seed.VolumeType = cmp.Or(n.seed.VolumeType, "MANAGED")
		if !oneOf(n.seed.VolumeType, "MANAGED", "EXTERNAL") {
			l.errf("%s.volume_type: %q is not MANAGED or EXTERNAL", f, n.seed.VolumeType)
		}
	}
}

// uc returns the family state (never nil). Callers hold s.mu.
func (s *Server) uc() *ucState {
	if st, ok := s.ext[ucFamily].(*ucState); ok {
		return st
	}
	return &ucState{byID: map[string]*metastoreUC{}}
}

// metastoreOf returns the metastore of the request's workspace.
func (c *call) metastoreOf() (*metastoreUC, error) {
	if c.ws.federated && c.ws.metastoreID != "" {
		if m := c.s.uc().byID[c.ws.metastoreID]; m != nil {
			return m, nil
		}
	}
	return nil, restErr(http.StatusNotFound, "METASTORE_DOES_NOT_EXIST", "No metastore assigned for the current workspace.")
}

// ucViewer is the caller as Unity Catalog sees it: the lower-case names it
// acts under (its own and its account groups', transitively) and whether
// it is a metastore admin.
type ucViewer struct {
	names map[string]bool
	admin bool
}

func (c *call) ucViewer(m *metastoreUC) ucViewer {
	v := ucViewer{names: map[string]bool{}}
	p := c.actor
	if p == nil {
		return v
	}
	v.names[strings.ToLower(p.name())] = true
	seen := map[string]bool{}
	queue := slices.Clone(c.s.st.parents[p.id])
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		g := c.s.st.get(id)
		if g == nil || g.ws != 0 {
			continue
		}
		v.names[strings.ToLower(g.displayName)] = true
		queue = append(queue, c.s.st.parents[g.id]...)
	}
	if p.ws == 0 {
		v.names[accountUsersGroup] = true
	}
	v.admin = v.names[strings.ToLower(m.node.owner)]
	return v
}

// sees reports whether the viewer may see n (see the file comment).
func (v ucViewer) sees(n *ucNode) bool {
	if v.admin {
		return true
	}
	for x := n; x != nil && x.kind != ucKindMetastore; x = x.parent {
		if v.names[strings.ToLower(x.owner)] {
			return true
		}
		for _, g := range x.grants {
			if v.names[strings.ToLower(g.principal)] {
				return true
			}
		}
	}
	return false
}

// ucMaxResults reads max_results: present is false when absent.
func ucMaxResults(q url.Values) (n int, present bool, err error) {
	n, present, err = intParam(q, "max_results")
	if err == nil && present && n < 0 {
		err = restErr(http.StatusBadRequest, errInvalidParameter, "max_results must be greater than or equal to 0, got %d.", n)
	}
	return n, present, err
}

// ucAbsent says what an absent max_results means for a list.
type ucAbsent struct {
	defaultPage bool // the default page, like max_results=0
	tooMany     int  // > 0: more items than this is 400 UC-PGRQD
}

// ucWindow pages n items of list: def is the page for max_results=0, max
// the largest page; an absent max_results returns everything unless absent
// says otherwise.
func ucWindow(c *call, list string, n, def, maxPage int, absent ucAbsent, what string) (from, to int, next string, err error) {
	q := c.r.URL.Query()
	size, present, err := ucMaxResults(q)
	if err != nil {
		return 0, 0, "", err
	}
	switch {
	case !present && absent.defaultPage:
		size = def
	case !present:
		if absent.tooMany > 0 && n > absent.tooMany {
			return 0, 0, "", restErr(http.StatusBadRequest, errInvalidParameter,
				"The %s result set is too large to return in a single response. Please adopt the paginated version of this API by setting max_results and paging through results with page_token. Error code #UC-PGRQD", what)
		}
		size = max(n, 1)
	case size == 0:
		size = def
	default:
		size = min(size, maxPage)
	}
	if t := q.Get("page_token"); t != "" {
		if from, err = parsePageToken(list, t); err != nil {
			return 0, 0, "", err
		}
	}
	from = min(from, n)
	to = min(from+size, n)
	if to < n {
		next = pageToken(list, to)
	}
	return from, to, next, nil
}

func boolQuery(q url.Values, name string) bool {
	v, _ := strconv.ParseBool(q.Get(name))
	return v
}

// ---- rendering ----

type ucCatalogJSON struct {
	Name          string `json:"name"`
	FullName      string `json:"full_name"`
	Owner         string `json:"owner,omitempty"`
	Comment       string `json:"comment,omitempty"`
	MetastoreID   string `json:"metastore_id"`
	CatalogType   string `json:"catalog_type"`
	IsolationMode string `json:"isolation_mode"`
	SecurableType string `json:"securable_type"`
	BrowseOnly    bool   `json:"browse_only"`
	CreatedAt     int64  `json:"created_at"`
	CreatedBy     string `json:"created_by,omitempty"`
	UpdatedAt     int64  `json:"updated_at"`
	UpdatedBy     string `json:"updated_by,omitempty"`
}

type ucSchemaJSON struct {
	Name        string `json:"name"`
	CatalogName string `json:"catalog_name"`
	FullName    string `json:"full_name"`
	Owner       string `json:"owner,omitempty"`
	Comment     string `json:"comment,omitempty"`
	MetastoreID string `json:"metastore_id"`
	SchemaID    string `json:"schema_id"`
	CatalogType string `json:"catalog_type"`
	// EnablePredictive is always INHERIT, as real schemas that nobody set
	// it on carry it (the official CLI's acceptance tests run against
	// live workspaces, docs/recorded-replies.md).
	EnablePredictive string `json:"enable_predictive_optimization"`
	BrowseOnly       bool   `json:"browse_only"`
	CreatedAt        int64  `json:"created_at"`
	CreatedBy        string `json:"created_by,omitempty"`
	UpdatedAt        int64  `json:"updated_at"`
	UpdatedBy        string `json:"updated_by,omitempty"`
}

type ucTableJSON struct {
	Name             string            `json:"name"`
	CatalogName      string            `json:"catalog_name"`
	SchemaName       string            `json:"schema_name"`
	FullName         string            `json:"full_name"`
	Owner            string            `json:"owner,omitempty"`
	Comment          string            `json:"comment,omitempty"`
	TableType        string            `json:"table_type"`
	DataSourceFormat string            `json:"data_source_format,omitempty"`
	TableID          string            `json:"table_id"`
	MetastoreID      string            `json:"metastore_id"`
	PipelineID       string            `json:"pipeline_id,omitempty"`
	ViewDefinition   string            `json:"view_definition,omitempty"`
	StorageLocation  string            `json:"storage_location,omitempty"`
	Columns          []map[string]any  `json:"columns,omitempty"`
	Properties       map[string]string `json:"properties,omitempty"`
	BrowseOnly       bool              `json:"browse_only"`
	CreatedAt        int64             `json:"created_at"`
	CreatedBy        string            `json:"created_by,omitempty"`
	UpdatedAt        int64             `json:"updated_at"`
	UpdatedBy        string            `json:"updated_by,omitempty"`
}

type ucChildJSON struct {
	Name            string `json:"name"`
	CatalogName     string `json:"catalog_name"`
	SchemaName      string `json:"schema_name"`
	FullName        string `json:"full_name"`
	Owner           string `json:"owner,omitempty"`
	Comment         string `json:"comment,omitempty"`
	MetastoreID     string `json:"metastore_id"`
	VolumeID        string `json:"volume_id,omitempty"`
	VolumeType      string `json:"volume_type,omitempty"`
	FunctionID      string `json:"function_id,omitempty"`
	DataType        string `json:"data_type,omitempty"`
	FullDataType    string `json:"full_data_type,omitempty"`
	RoutineBody     string `json:"routine_body,omitempty"`
	RoutineDef      string `json:"routine_definition,omitempty"`
	SecurityType    string `json:"security_type,omitempty"`
	SQLDataAccess   string `json:"sql_data_access,omitempty"`
	SpecificName    string `json:"specific_name,omitempty"`
	ParameterStyle  string `json:"parameter_style,omitempty"`
	StorageLocation string `json:"storage_location,omitempty"`
	BrowseOnly      bool   `json:"browse_only"`
	CreatedAt       int64  `json:"created_at"`
	CreatedBy       string `json:"created_by,omitempty"`
	UpdatedAt       int64  `json:"updated_at"`
	UpdatedBy       string `json:"updated_by,omitempty"`
}

type ucTopJSON struct {
	Name                  string            `json:"name"`
	FullName              string            `json:"full_name,omitempty"`
	ID                    string            `json:"id,omitempty"`
	ConnectionID          string            `json:"connection_id,omitempty"`
	Owner                 string            `json:"owner,omitempty"`
	Comment               string            `json:"comment,omitempty"`
	MetastoreID           string            `json:"metastore_id,omitempty"`
	URL                   string            `json:"url,omitempty"`
	CredentialName        string            `json:"credential_name,omitempty"`
	CredentialID          string            `json:"credential_id,omitempty"`
	Purpose               string            `json:"purpose,omitempty"`
	AwsIamRole            map[string]string `json:"aws_iam_role,omitempty"`
	ConnectionType        string            `json:"connection_type,omitempty"`
	CredentialType        string            `json:"credential_type,omitempty"`
	SecurableType         string            `json:"securable_type,omitempty"`
	IsolationMode         string            `json:"isolation_mode,omitempty"`
	AuthenticationType    string            `json:"authentication_type,omitempty"`
	ReadOnly              bool              `json:"read_only"`
	UsedForManagedStorage bool              `json:"used_for_managed_storage,omitempty"`
	CreatedAt             int64             `json:"created_at"`
	CreatedBy             string            `json:"created_by,omitempty"`
	UpdatedAt             int64             `json:"updated_at"`
	UpdatedBy             string            `json:"updated_by,omitempty"`
}

func (m *metastoreUC) renderCatalog(n *ucNode) ucCatalogJSON {
	return ucCatalogJSON{Name: n.name, FullName: n.fullName, Owner: n.owner, Comment: n.comment, MetastoreID: m.id,
		CatalogType: "MANAGED_CATALOG", IsolationMode: n.isolation, SecurableType: ucCatalog,
		CreatedAt: n.created, CreatedBy: n.createdBy, UpdatedAt: n.created, UpdatedBy: n.createdBy}
}

func (m *metastoreUC) renderSchema(n *ucNode) ucSchemaJSON {
	return ucSchemaJSON{Name: n.name, CatalogName: n.parent.name, FullName: n.fullName, Owner: n.owner, Comment: n.comment,
		MetastoreID: m.id, SchemaID: n.id, CatalogType: "MANAGED_CATALOG", EnablePredictive: "INHERIT",
		CreatedAt: n.created, CreatedBy: n.createdBy, UpdatedAt: n.created, UpdatedBy: n.createdBy}
}

func (m *metastoreUC) renderTable(n *ucNode, q url.Values) ucTableJSON {
	t := ucTableJSON{Name: n.name, CatalogName: n.parent.parent.name, SchemaName: n.parent.name, FullName: n.fullName,
		Owner: n.owner, Comment: n.comment, TableType: n.seed.TableType, TableID: n.id, MetastoreID: m.id,
		PipelineID: n.seed.PipelineID, CreatedAt: n.created, CreatedBy: n.createdBy, UpdatedAt: n.created, UpdatedBy: n.createdBy}
	switch n.seed.TableType {
	case "VIEW", "METRIC_VIEW":
		t.ViewDefinition = cmp.Or(n.seed.ViewDefinition, "SELECT 1")
	case "EXTERNAL":
		t.DataSourceFormat, t.StorageLocation = "DELTA", "s3://sandbox-external/"+strings.ReplaceAll(n.fullName, ".", "/")
	default:
		t.DataSourceFormat = "DELTA"
	}
	if !boolQuery(q, "omit_columns") {
		t.Columns = []map[string]any{{"name": "id", "type_name": "LONG", "type_text": "bigint", "position": 0, "nullable": true}}
	}
	if !boolQuery(q, "omit_properties") {
		t.Properties = map[string]string{"delta.minReaderVersion": "1"}
	}
	if boolQuery(q, "omit_username") {
		t.Owner, t.CreatedBy, t.UpdatedBy = "", "", ""
	}
	return t
}

func (m *metastoreUC) renderChild(n *ucNode) ucChildJSON {
	j := ucChildJSON{Name: n.name, CatalogName: n.parent.parent.name, SchemaName: n.parent.name, FullName: n.fullName,
		Owner: n.owner, Comment: n.comment, MetastoreID: m.id,
		CreatedAt: n.created, CreatedBy: n.createdBy, UpdatedAt: n.created, UpdatedBy: n.createdBy}
	switch n.kind {
	case ucVolume:
		j.VolumeID, j.VolumeType = n.id, n.seed.VolumeType
		j.StorageLocation = "s3://sandbox-volumes/" + n.id
	case ucFunction:
		j.FunctionID, j.DataType, j.FullDataType, j.RoutineBody, j.RoutineDef = n.id, "INT", "INT", "SQL", "1"
		j.SecurityType, j.SQLDataAccess, j.SpecificName, j.ParameterStyle = "DEFINER", "CONTAINS_SQL", n.name, "S"
	case ucModel:
		j.StorageLocation = "s3://sandbox-models/" + n.id
	}
	return j
}

func (m *metastoreUC) renderTop(n *ucNode) ucTopJSON {
	j := ucTopJSON{Name: n.name, Owner: n.owner, Comment: n.comment, MetastoreID: m.id,
		CreatedAt: n.created, CreatedBy: n.createdBy, UpdatedAt: n.created, UpdatedBy: n.createdBy}
	switch n.kind {
	case ucExternalLocation:
		j.URL = cmp.Or(n.seed.URL, "s3://sandbox-"+strings.ToLower(n.name)+"/")
		j.CredentialName, j.IsolationMode = n.seed.CredentialName, "ISOLATION_MODE_OPEN"
		if c := m.index[ucStorageCredential+":"+strings.ToLower(n.seed.CredentialName)]; c != nil {
			j.CredentialID = c.id
		}
	case ucStorageCredential, ucServiceCredential:
		j.FullName, j.ID, j.IsolationMode = n.name, n.id, "ISOLATION_MODE_OPEN"
		j.AwsIamRole = map[string]string{"role_arn": "arn:aws:iam::123456789012:role/" + n.name}
		j.Purpose = "STORAGE"
		if n.kind == ucServiceCredential {
			j.Purpose = "SERVICE"
		} else {
			// The storage credentials API's replies name the securable
			// type (a recorded list, databricks/cli#1486); the
			// credentials API's do not (renderCredential).
			j.SecurableType = ucStorageCredential
		}
	case ucConnection:
		j.FullName, j.ConnectionID, j.ConnectionType = n.name, n.id, cmp.Or(n.seed.ConnectionType, "POSTGRESQL")
		j.CredentialType, j.SecurableType = "USERNAME_PASSWORD", ucConnection
	case ucShare:
		j.MetastoreID = ""
	case ucRecipient, ucProvider:
		j.ID, j.AuthenticationType = n.id, cmp.Or(n.seed.AuthenticationType, "TOKEN")
	}
	return j
}

// renderCredential renders a storage or service credential as the
// credentials API does: its CredentialInfo has a purpose and no
// securable_type (SDK service/catalog/model.go).
func (m *metastoreUC) renderCredential(n *ucNode) ucTopJSON {
	j := m.renderTop(n)
	j.SecurableType = ""
	return j
}

// ---- handlers ----

func registerUC(s *Server) {
	get := func(pattern, class string, h func(*call) error) {
		s.handle(route{method: http.MethodGet, pattern: "/api/2.1/unity-catalog" + pattern, class: class,
			scope: scopeWorkspace, access: accessMember, handle: h})
	}
	get("/metastore_summary", ClassDefault, ucSummary)
	get("/metastores", ClassDefault, ucListMetastores)
	get("/metastores/{id}", ClassDefault, ucGetMetastore)
	get("/catalogs", ClassDefault, ucListCatalogs)
	get("/catalogs/{name}", ClassDefault, ucGet(ucCatalog, "Catalog"))
	get("/schemas", ClassDefault, ucListSchemas)
	get("/schemas/{name}", ClassDefault, ucGet(ucSchema, "Schema"))
	get("/tables", ClassDefault, ucListChildren(ucTable, "ListTables"))
	get("/tables/{name}", ClassDefault, ucGet(ucTable, "Table"))
	get("/volumes", ClassDefault, ucListChildren(ucVolume, "ListVolumes"))
	get("/volumes/{name}", ClassDefault, ucGet(ucVolume, "Volume"))
	get("/functions", ClassDefault, ucListChildren(ucFunction, "ListFunctions"))
	get("/functions/{name}", ClassDefault, ucGet(ucFunction, "Function"))
	get("/models", ClassDefault, ucListModels)
	get("/models/{name}", ClassDefault, ucGet(ucModel, "Registered model"))
	for _, t := range []struct{ path, kind, label string }{
		{"/external-locations", ucExternalLocation, "External Location"},
		{"/storage-credentials", ucStorageCredential, "Storage Credential"},
		{"/connections", ucConnection, "Connection"},
	} {
		get(t.path, ClassDefault, ucListTop(t.kind))
		get(t.path+"/{name}", ClassDefault, ucGet(t.kind, t.label))
	}
	get("/credentials", ClassDefault, ucListCredentials)
	get("/credentials/{name}", ClassDefault, ucGetCredential)
	get("/workspace-bindings/catalogs/{name}", ClassDefault, ucCatalogBindings)
	get("/bindings/{type}/{name}", ClassDefault, ucBindings)
	get("/permissions/{type}/{name}", ClassPermissionsRead, ucGrants(false))
	get("/effective-permissions/{type}/{name}", ClassPermissionsRead, ucGrants(true))
}

type ucMetastoreJSON struct {
	MetastoreID           string `json:"metastore_id"`
	Name                  string `json:"name"`
	Owner                 string `json:"owner"`
	Region                string `json:"region"`
	Cloud                 string `json:"cloud"`
	GlobalMetastoreID     string `json:"global_metastore_id"`
	PrivilegeModelVersion string `json:"privilege_model_version"`
	DeltaSharingScope     string `json:"delta_sharing_scope"`
	CreatedAt             int64  `json:"created_at"`
	CreatedBy             string `json:"created_by,omitempty"`
	UpdatedAt             int64  `json:"updated_at"`
	UpdatedBy             string `json:"updated_by,omitempty"`
}

func (s *Server) renderMetastore(m *metastoreUC) ucMetastoreJSON {
	cloud := "aws"
	for _, w := range s.st.workspaces {
		if w.metastoreID == m.id && w.cloud != "" {
			cloud = w.cloud
			break
		}
	}
	return ucMetastoreJSON{MetastoreID: m.id, Name: m.node.name, Owner: m.node.owner, Region: m.region, Cloud: cloud,
		GlobalMetastoreID: cloud + ":" + m.region + ":" + m.id, PrivilegeModelVersion: "1.0", DeltaSharingScope: "INTERNAL",
		CreatedAt: m.node.created, CreatedBy: m.node.createdBy, UpdatedAt: m.node.created, UpdatedBy: m.node.createdBy}
}

func ucSummary(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, c.s.renderMetastore(m))
}

// ucListMetastores lists the account's metastores (unpaged unless
// max_results is given); only metastore admins of a metastore see it.
func ucListMetastores(c *call) error {
	var all []*metastoreUC
	for _, m := range c.s.uc().order {
		if c.tok.role == RoleAccountAdmin || c.ucViewer(m).admin {
			all = append(all, m)
		}
	}
	from, to, next, err := ucWindow(c, "metastores", len(all), ucPage, ucPage, ucAbsent{}, "ListMetastores")
	if err != nil {
		return err
	}
	resp := struct {
		Metastores    []ucMetastoreJSON `json:"metastores"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}{Metastores: []ucMetastoreJSON{}, NextPageToken: next}
	for _, m := range all[from:to] {
		resp.Metastores = append(resp.Metastores, c.s.renderMetastore(m))
	}
	return c.reply(http.StatusOK, resp)
}

func ucGetMetastore(c *call) error {
	m := c.s.uc().byID[c.r.PathValue("id")]
	if m == nil {
		return restErr(http.StatusNotFound, "METASTORE_DOES_NOT_EXIST", "Metastore '%s' does not exist.", c.r.PathValue("id"))
	}
	return c.reply(http.StatusOK, c.s.renderMetastore(m))
}

func ucListCatalogs(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	v := c.ucViewer(m)
	unbound := boolQuery(c.r.URL.Query(), "include_unbound")
	var sel []*ucNode
	for _, n := range m.catalogs {
		if !v.sees(n) {
			continue
		}
		if n.isolation == "ISOLATED" && !slices.Contains(n.bound, c.ws.id) &&
			!(unbound && (v.admin || v.names[strings.ToLower(n.owner)])) {
			continue
		}
		sel = append(sel, n)
	}
	from, to, next, err := ucWindow(c, "catalogs", len(sel), ucPage, ucPage, ucAbsent{}, "ListCatalogs")
	if err != nil {
		return err
	}
	resp := struct {
		Catalogs      []ucCatalogJSON `json:"catalogs"`
		NextPageToken string          `json:"next_page_token,omitempty"`
	}{Catalogs: []ucCatalogJSON{}, NextPageToken: next}
	for _, n := range sel[from:to] {
		resp.Catalogs = append(resp.Catalogs, m.renderCatalog(n))
	}
	return c.reply(http.StatusOK, resp)
}

// ucParent finds the catalog (and schema) named by catalog_name and
// schema_name; a missing one is 404.
func ucParent(c *call, m *metastoreUC, needSchema bool) (*ucNode, error) {
	q := c.r.URL.Query()
	cat, sch := q.Get("catalog_name"), q.Get("schema_name")
	if cat == "" {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: catalog_name")
	}
	cn := m.index[ucCatalog+":"+strings.ToLower(cat)]
	if cn == nil {
		return nil, restErr(http.StatusNotFound, "CATALOG_DOES_NOT_EXIST", "Catalog '%s' does not exist.", cat)
	}
	if err := c.ucReachable(cn); err != nil {
		return nil, err
	}
	if !needSchema {
		return cn, nil
	}
	if sch == "" {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: schema_name")
	}
	sn := m.index[ucSchema+":"+strings.ToLower(cat+"."+sch)]
	if sn == nil {
		return nil, restErr(http.StatusNotFound, "SCHEMA_DOES_NOT_EXIST", "Schema '%s.%s' does not exist.", cat, sch)
	}
	return sn, nil
}

// ucReachable refuses a securable of an isolated catalog that is not bound
// to the caller's workspace (see the file comment).
func (c *call) ucReachable(n *ucNode) error {
	for x := n; x != nil; x = x.parent {
		if x.kind != ucCatalog {
			continue
		}
		if x.isolation == "ISOLATED" && !slices.Contains(x.bound, c.ws.id) {
			return restErr(http.StatusForbidden, "PERMISSION_DENIED", "Catalog '%s' is not accessible in current workspace", x.name)
		}
		return nil
	}
	return nil
}

// ucBindingTypes maps the bindings API's securable types to node kinds.
var ucBindingTypes = map[string][]string{
	"catalog": {ucCatalog}, "storage_credential": {ucStorageCredential},
	"credential": {ucServiceCredential, ucStorageCredential}, "external_location": {ucExternalLocation},
}

// ucBound finds the securable whose workspace bindings are asked for and
// checks that the caller may read them (a metastore admin or its owner).
func ucBound(c *call, kinds []string, label, name string) (*metastoreUC, *ucNode, error) {
	m, err := c.metastoreOf()
	if err != nil {
		return nil, nil, err
	}
	var n *ucNode
	for _, k := range kinds {
		if n = m.index[k+":"+strings.ToLower(name)]; n != nil {
			break
		}
	}
	v := c.ucViewer(m)
	if n == nil || !v.sees(n) {
		return nil, nil, restErr(http.StatusNotFound, ucNotFoundCode(label), "%s '%s' does not exist.", label, name)
	}
	if !v.admin && !v.names[strings.ToLower(n.owner)] {
		return nil, nil, restErr(http.StatusForbidden, "PERMISSION_DENIED",
			"User is not a metastore admin or the owner of %s '%s'.", strings.ToLower(label), n.name)
	}
	return m, n, nil
}

// ucCatalogBindings serves the deprecated catalog bindings path: the ids
// of the workspaces an isolated catalog is bound to.
func ucCatalogBindings(c *call) error {
	_, n, err := ucBound(c, []string{ucCatalog}, "Catalog", c.r.PathValue("name"))
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, struct {
		Workspaces []int64 `json:"workspaces,omitempty"`
	}{slices.Clone(n.bound)})
}

type ucBindingJSON struct {
	WorkspaceID int64  `json:"workspace_id"`
	BindingType string `json:"binding_type"`
}

// ucBindings serves the workspace bindings of a bindable securable, paged
// like the other Unity Catalog lists (max_results absent: all of them).
func ucBindings(c *call) error {
	typ := strings.ToLower(c.r.PathValue("type"))
	kinds, ok := ucBindingTypes[typ]
	if !ok {
		return restErr(http.StatusBadRequest, errInvalidParameter,
			"Invalid securable type %q: use catalog, storage_credential, credential or external_location.", c.r.PathValue("type"))
	}
	label := map[string]string{"catalog": "Catalog", "storage_credential": "Storage Credential",
		"credential": "Credential", "external_location": "External Location"}[typ]
	_, n, err := ucBound(c, kinds, label, c.r.PathValue("name"))
	if err != nil {
		return err
	}
	from, to, next, err := ucWindow(c, "bindings:"+typ+":"+strings.ToLower(n.name), len(n.bound), ucPage, ucPage, ucAbsent{}, "GetBindings")
	if err != nil {
		return err
	}
	resp := struct {
		Bindings      []ucBindingJSON `json:"bindings,omitempty"`
		NextPageToken string          `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, id := range n.bound[from:to] {
		resp.Bindings = append(resp.Bindings, ucBindingJSON{WorkspaceID: id, BindingType: "BINDING_TYPE_READ_WRITE"})
	}
	return c.reply(http.StatusOK, resp)
}

func visibleChildren(v ucViewer, parent *ucNode, kind string) []*ucNode {
	var out []*ucNode
	for _, n := range parent.children[kind] {
		if v.sees(n) {
			out = append(out, n)
		}
	}
	return out
}

func ucListSchemas(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	cat, err := ucParent(c, m, false)
	if err != nil {
		return err
	}
	sel := visibleChildren(c.ucViewer(m), cat, ucSchema)
	from, to, next, err := ucWindow(c, "schemas:"+cat.fullName, len(sel), ucPage, ucPage, ucAbsent{}, "ListSchemas")
	if err != nil {
		return err
	}
	resp := struct {
		Schemas       []ucSchemaJSON `json:"schemas"`
		NextPageToken string         `json:"next_page_token,omitempty"`
	}{Schemas: []ucSchemaJSON{}, NextPageToken: next}
	for _, n := range sel[from:to] {
		resp.Schemas = append(resp.Schemas, m.renderSchema(n))
	}
	return c.reply(http.StatusOK, resp)
}

// ucListChildren lists the tables, volumes or functions of a schema.
func ucListChildren(kind, what string) func(*call) error {
	return func(c *call) error {
		m, err := c.metastoreOf()
		if err != nil {
			return err
		}
		sch, err := ucParent(c, m, true)
		if err != nil {
			return err
		}
		sel := visibleChildren(c.ucViewer(m), sch, kind)
		def, maxPage, absent := ucPage, ucPage, ucAbsent{}
		switch kind {
		case ucTable:
			absent.tooMany = ucPage
		case ucVolume:
			def, maxPage, absent.defaultPage = ucVolumesPage, ucVolumesPage, true
		}
		from, to, next, err := ucWindow(c, strings.ToLower(kind)+":"+sch.fullName, len(sel), def, maxPage, absent, what)
		if err != nil {
			return err
		}
		q := c.r.URL.Query()
		switch kind {
		case ucTable:
			resp := struct {
				Tables        []ucTableJSON `json:"tables"`
				NextPageToken string        `json:"next_page_token,omitempty"`
			}{Tables: []ucTableJSON{}, NextPageToken: next}
			for _, n := range sel[from:to] {
				resp.Tables = append(resp.Tables, m.renderTable(n, q))
			}
			return c.reply(http.StatusOK, resp)
		case ucVolume:
			resp := struct {
				Volumes       []ucChildJSON `json:"volumes"`
				NextPageToken string        `json:"next_page_token,omitempty"`
			}{Volumes: []ucChildJSON{}, NextPageToken: next}
			for _, n := range sel[from:to] {
				resp.Volumes = append(resp.Volumes, m.renderChild(n))
			}
			return c.reply(http.StatusOK, resp)
		}
		resp := struct {
			Functions     []ucChildJSON `json:"functions"`
			NextPageToken string        `json:"next_page_token,omitempty"`
		}{Functions: []ucChildJSON{}, NextPageToken: next}
		for _, n := range sel[from:to] {
			resp.Functions = append(resp.Functions, m.renderChild(n))
		}
		return c.reply(http.StatusOK, resp)
	}
}

// ucListModels lists registered models: of one schema (catalog_name and
// schema_name, pages up to 10000) or of the whole metastore (neither; pages
// of 100 by default, up to 1000).
func ucListModels(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	v := c.ucViewer(m)
	var sel []*ucNode
	list, def, maxPage, absent := "models", ucModelsDefault, ucModelsMax, ucAbsent{defaultPage: true}
	switch {
	case q.Get("catalog_name") == "" && q.Get("schema_name") == "":
		for _, n := range m.models {
			if v.sees(n) && (c.s.opts.ListUnboundModels || c.ucReachable(n) == nil) {
				sel = append(sel, n)
			}
		}
	case q.Get("catalog_name") == "" || q.Get("schema_name") == "":
		return restErr(http.StatusBadRequest, errInvalidParameter, "catalog_name and schema_name must be given together.")
	default:
		sch, err := ucParent(c, m, true)
		if err != nil {
			return err
		}
		sel = visibleChildren(v, sch, ucModel)
		list, def, maxPage, absent = "models:"+sch.fullName, ucVolumesPage, ucVolumesPage, ucAbsent{defaultPage: true}
	}
	from, to, next, err := ucWindow(c, list, len(sel), def, maxPage, absent, "ListRegisteredModels")
	if err != nil {
		return err
	}
	resp := struct {
		RegisteredModels []ucChildJSON `json:"registered_models"`
		NextPageToken    string        `json:"next_page_token,omitempty"`
	}{RegisteredModels: []ucChildJSON{}, NextPageToken: next}
	for _, n := range sel[from:to] {
		resp.RegisteredModels = append(resp.RegisteredModels, m.renderChild(n))
	}
	return c.reply(http.StatusOK, resp)
}

// ucItemsField is the list field of each metastore-level kind.
var ucItemsField = map[string]string{
	ucExternalLocation: "external_locations", ucStorageCredential: "storage_credentials",
	ucConnection: "connections", ucShare: "shares", ucRecipient: "recipients", ucProvider: "providers",
}

// ucListTop lists a metastore-level kind.
func ucListTop(kind string) func(*call) error {
	return func(c *call) error {
		m, err := c.metastoreOf()
		if err != nil {
			return err
		}
		sel := visibleChildren(c.ucViewer(m), m.node, kind)
		from, to, next, err := ucWindow(c, strings.ToLower(kind), len(sel), ucPage, ucPage, ucAbsent{}, "List")
		if err != nil {
			return err
		}
		items := make([]ucTopJSON, 0, to-from)
		for _, n := range sel[from:to] {
			items = append(items, m.renderTop(n))
		}
		out := map[string]any{ucItemsField[kind]: items}
		if next != "" {
			out["next_page_token"] = next
		}
		return c.reply(http.StatusOK, out)
	}
}

// ucListCredentials lists storage and service credentials (purpose=SERVICE
// or STORAGE narrows it).
func ucListCredentials(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	v := c.ucViewer(m)
	purpose := c.r.URL.Query().Get("purpose")
	if purpose != "" && purpose != "SERVICE" && purpose != "STORAGE" {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid purpose %q: use SERVICE or STORAGE.", purpose)
	}
	var sel []*ucNode
	for _, k := range []string{ucStorageCredential, ucServiceCredential} {
		if purpose == "" || (purpose == "SERVICE") == (k == ucServiceCredential) {
			sel = append(sel, visibleChildren(v, m.node, k)...)
		}
	}
	slices.SortStableFunc(sel, func(a, b *ucNode) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	from, to, next, err := ucWindow(c, "credentials:"+purpose, len(sel), ucPage, ucPage, ucAbsent{}, "ListCredentials")
	if err != nil {
		return err
	}
	resp := struct {
		Credentials   []ucTopJSON `json:"credentials"`
		NextPageToken string      `json:"next_page_token,omitempty"`
	}{Credentials: []ucTopJSON{}, NextPageToken: next}
	for _, n := range sel[from:to] {
		resp.Credentials = append(resp.Credentials, m.renderCredential(n))
	}
	return c.reply(http.StatusOK, resp)
}

func ucGetCredential(c *call) error {
	m, err := c.metastoreOf()
	if err != nil {
		return err
	}
	name := strings.ToLower(c.r.PathValue("name"))
	for _, k := range []string{ucServiceCredential, ucStorageCredential} {
		if n := m.index[k+":"+name]; n != nil && c.ucViewer(m).sees(n) {
			return c.reply(http.StatusOK, m.renderCredential(n))
		}
	}
	return restErr(http.StatusNotFound, "CREDENTIAL_DOES_NOT_EXIST", "Credential '%s' does not exist.", c.r.PathValue("name"))
}

// ucNotFoundCode is the error code of a missing securable.
func ucNotFoundCode(label string) string {
	return strings.ToUpper(strings.ReplaceAll(label, " ", "_")) + "_DOES_NOT_EXIST"
}

// ucGet serves GET of one securable by (full) name; one the caller cannot
// see is reported as missing.
func ucGet(kind, label string) func(*call) error {
	return func(c *call) error {
		m, err := c.metastoreOf()
		if err != nil {
			return err
		}
		name := c.r.PathValue("name")
		n := m.index[kind+":"+strings.ToLower(name)]
		if n == nil || !c.ucViewer(m).sees(n) {
			return restErr(http.StatusNotFound, ucNotFoundCode(label), "%s '%s' does not exist.", label, name)
		}
		if err := c.ucReachable(n); err != nil {
			return err
		}
		return c.reply(http.StatusOK, m.render(n, c.r.URL.Query()))
	}
}

// render renders any securable in its kind's shape.
func (m *metastoreUC) render(n *ucNode, q url.Values) any {
	switch n.kind {
	case ucCatalog:
		return m.renderCatalog(n)
	case ucSchema:
		return m.renderSchema(n)
	case ucTable:
		return m.renderTable(n, q)
	case ucVolume, ucFunction, ucModel:
		return m.renderChild(n)
	}
	return m.renderTop(n)
}

// ucGrantTypes maps the grants API's securable types (lower case) to the
// node kinds they may name.
var ucGrantTypes = map[string][]string{
	"metastore": {ucKindMetastore}, "catalog": {ucCatalog}, "schema": {ucSchema}, "table": {ucTable},
	"volume": {ucVolume}, "function": {ucFunction, ucModel}, "external_location": {ucExternalLocation},
	"storage_credential": {ucStorageCredential}, "credential": {ucServiceCredential, ucStorageCredential},
	"connection": {ucConnection}, "share": {ucShare}, "recipient": {ucRecipient}, "provider": {ucProvider},
}

type ucPrivilegeJSON struct {
	Privilege         string `json:"privilege"`
	InheritedFromType string `json:"inherited_from_type,omitempty"`
	InheritedFromName string `json:"inherited_from_name,omitempty"`
}

type ucAssignmentJSON struct {
	Principal  string `json:"principal"`
	Privileges any    `json:"privileges"`
}

// ucGrants serves the grants (effective: with the privileges inherited
// from parent securables) of one securable. Reading them needs a metastore
// admin, the owner of the securable or of a parent, or a principal the
// filter names; others get 403.
func ucGrants(effective bool) func(*call) error {
	return func(c *call) error {
		m, err := c.metastoreOf()
		if err != nil {
			return err
		}
		typ, name := strings.ToLower(c.r.PathValue("type")), c.r.PathValue("name")
		kinds, ok := ucGrantTypes[typ]
		if !ok {
			return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid securable type %q.", c.r.PathValue("type"))
		}
		var n *ucNode
		for _, k := range kinds {
			if k == ucKindMetastore {
				if name == m.id {
					n = m.node
				}
				continue
			}
			if x := m.index[k+":"+strings.ToLower(name)]; x != nil {
				n = x
				break
			}
		}
		if n == nil {
			return restErr(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "%s '%s' does not exist.", strings.ToUpper(typ), name)
		}
		if err := c.ucReachable(n); err != nil {
			return err
		}
		q := c.r.URL.Query()
		size, present, err := ucMaxResults(q)
		if err != nil {
			return err
		}
		if present && size > 0 && size < ucGrantsMinResults {
			return restErr(http.StatusBadRequest, errInvalidParameter,
				"max_results must be 0 or at least %d, got %d.", ucGrantsMinResults, size)
		}
		principal := q.Get("principal")
		v := c.ucViewer(m)
		allowed := v.admin || (principal != "" && v.names[strings.ToLower(principal)])
		for x := n; x != nil && !allowed; x = x.parent {
			allowed = v.names[strings.ToLower(x.owner)]
		}
		if !allowed {
			return restErr(http.StatusForbidden, "PERMISSION_DENIED",
				"User does not have MANAGE on %s '%s'.", strings.ToUpper(typ), name)
		}
		type entry struct {
			principal string
			privs     []ucPrivilegeJSON
		}
		var entries []*entry
		add := func(p string, pv ucPrivilegeJSON) {
			if principal != "" && !strings.EqualFold(principal, p) {
				return
			}
			for _, e := range entries {
				if strings.EqualFold(e.principal, p) {
					e.privs = append(e.privs, pv)
					return
				}
			}
			entries = append(entries, &entry{principal: p, privs: []ucPrivilegeJSON{pv}})
		}
		for x := n; x != nil; x = x.parent {
			for _, g := range x.grants {
				for _, p := range g.privileges {
					pv := ucPrivilegeJSON{Privilege: p}
					if x != n {
						pv.InheritedFromType, pv.InheritedFromName = grantTypeOf(x.kind), x.fullName
					}
					add(g.principal, pv)
				}
			}
			if !effective {
				break
			}
		}
		from, to, next, err := ucWindow(c, "grants:"+typ+":"+strings.ToLower(name), len(entries), ucGrantsMinResults, 1000, ucAbsent{}, "GetPermissions")
		if err != nil {
			return err
		}
		out := []ucAssignmentJSON{}
		for _, e := range entries[from:to] {
			if effective {
				out = append(out, ucAssignmentJSON{Principal: e.principal, Privileges: e.privs})
				continue
			}
			names := make([]string, len(e.privs))
			for i, p := range e.privs {
				names[i] = p.Privilege
			}
			out = append(out, ucAssignmentJSON{Principal: e.principal, Privileges: names})
		}
		resp := map[string]any{"privilege_assignments": out}
		if next != "" {
			resp["next_page_token"] = next
		}
		return c.reply(http.StatusOK, resp)
	}
}

// grantTypeOf is the grants API type of a node kind.
func grantTypeOf(kind string) string {
	if kind == ucModel {
		return ucFunction
	}
	return kind
}

// ucSyntheticKeys are the Synthetic spec keys of this family: catalogs in
// the account's default metastore, schemas per catalog and tables per
// schema (default 0; schemas and tables need catalogs).
var ucSyntheticKeys = []string{"catalogs", "schemas", "tables"}

func init() {
	syntheticObjectKeys = append(syntheticObjectKeys, ucSyntheticKeys...)
}

// addSyntheticCatalog gives a synthetic seed a default metastore sized by
// counts (see ucSyntheticKeys), owned by the first account admin. Catalogs,
// schemas and tables are owned by account users and service principals
// drawn from r (one in ten by a service principal), so that owners are
// spread over the account. It does nothing without catalogs.
func addSyntheticCatalog(seed *Seed, counts map[string]int, rngSeed uint64) error {
	nc, ns, nt := counts["catalogs"], counts["schemas"], counts["tables"]
	if nc == 0 {
		if ns > 0 || nt > 0 {
			return fmt.Errorf("synthetic objects spec: schemas and tables need catalogs")
		}
		return nil
	}
	var users, sps []string
	admin := ""
	for _, u := range seed.Users {
		users = append(users, u.UserName)
		if admin == "" && slices.Contains(u.Roles, RoleAccountAdmin) {
			admin = u.UserName
		}
	}
	for _, sp := range seed.ServicePrincipals {
		sps = append(sps, sp.ApplicationID)
	}
	if len(users) == 0 {
		return fmt.Errorf("synthetic objects spec: catalogs need account users to own them")
	}
	r := rand.New(rand.NewPCG(rngSeed, 0xca7a1067))
	owner := func() string {
		if len(sps) > 0 && r.IntN(10) == 0 {
			return sps[r.IntN(len(sps))]
		}
		return users[r.IntN(len(users))]
	}
	m := SeedMetastore{Name: "synthetic", Owner: cmp.Or(admin, users[0]), Catalogs: make([]SeedCatalog, nc)}
	for i := range m.Catalogs {
		c := SeedCatalog{Name: fmt.Sprintf("catalog_%03d", i+1), Owner: owner(), Schemas: make([]SeedSchema, ns)}
		for j := range c.Schemas {
			s := SeedSchema{Name: fmt.Sprintf("schema_%03d", j+1), Owner: owner(), Tables: make([]SeedUCSecurable, nt)}
			for k := range s.Tables {
				t := SeedUCSecurable{Name: fmt.Sprintf("table_%04d", k+1), Owner: owner()}
				if k%10 == 9 {
					t.TableType = "VIEW"
				}
				s.Tables[k] = t
			}
			c.Schemas[j] = s
		}
		m.Catalogs[i] = c
	}
	seed.Metastores = append(seed.Metastores, m)
	return nil
}
