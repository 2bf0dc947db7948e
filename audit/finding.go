package audit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Severity ranks what happens to a finding's object when its identity goes.
// Higher values are worse; reports sort by severity, worst first.
type Severity int

// Severities, from least to most severe.
const (
	// SeverityInfo: the object is related to the identity, but nothing stops
	// or fails when it goes.
	SeverityInfo Severity = iota
	// SeverityOrphaned: no principal other than the removed ones can manage
	// the object afterwards (workspace admins aside).
	SeverityOrphaned
	// SeverityStops: something running now stops (a running cluster or
	// pipeline).
	SeverityStops
	// SeverityBreaks: something scheduled or in use fails (a scheduled job
	// running as the identity, a query running as its owner, a token used in
	// the last 30 days).
	SeverityBreaks
	// SeverityNotCovered is not an impact: a workspace or resource kind could
	// not be read, so its findings are unknown. It ranks first so that a gap
	// is never mistaken for "no findings".
	SeverityNotCovered
)

var severityNames = [...]string{
	SeverityInfo:       "info",
	SeverityOrphaned:   "orphaned",
	SeverityStops:      "stops",
	SeverityBreaks:     "breaks",
	SeverityNotCovered: "not-covered",
}

// Severities returns every severity, most severe first.
func Severities() []Severity {
	return []Severity{SeverityNotCovered, SeverityBreaks, SeverityStops, SeverityOrphaned, SeverityInfo}
}

// String returns the severity's wire name: "breaks", "stops", "orphaned",
// "info" or "not-covered".
func (s Severity) String() string {
	if s >= 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("marshal severity: unknown value %d", int(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity returns the severity named name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("parse severity %q: want one of breaks, stops, orphaned, info, not-covered", name)
}

// Kind is the kind of object a finding is about.
type Kind string

// Object kinds. Each is read from one list API per workspace (reference §F).
const (
	KindToken     Kind = "token"
	KindJob       Kind = "job"
	KindCluster   Kind = "cluster"
	KindWarehouse Kind = "warehouse"
	KindPipeline  Kind = "pipeline"
	KindQuery     Kind = "query"
	KindAlert     Kind = "alert"
	// KindAlertV2 is an alert of the new alerts experience (alerts v2 API).
	KindAlertV2         Kind = "alert-v2"
	KindLegacyDashboard Kind = "legacy-dashboard"
	KindDashboard       Kind = "dashboard"
	KindServingEndpoint Kind = "serving-endpoint"
	KindApp             Kind = "app"
	// KindExperiment is an MLflow experiment.
	KindExperiment Kind = "experiment"
	// KindMLModel is a model of the workspace model registry.
	KindMLModel       Kind = "workspace-model"
	KindInstancePool  Kind = "instance-pool"
	KindClusterPolicy Kind = "cluster-policy"
	KindSecretScope   Kind = "secret-scope"
	KindVectorSearch  Kind = "vector-search-endpoint"
	KindRepo          Kind = "repo"             // a Git folder
	KindHomeFolder    Kind = "home-folder"      // /Users/<name>
	KindWorkspaceFile Kind = "workspace-file"   // a notebook or file of a home folder that others' objects use
	KindMetastore     Kind = "metastore"        // a Unity Catalog metastore (its admin)
	KindCatalog       Kind = "catalog"          // Unity Catalog securables from here on
	KindSchema        Kind = "schema"           //
	KindTable         Kind = "table"            // tables, views, materialized views, streaming tables
	KindVolume        Kind = "volume"           //
	KindFunction      Kind = "function"         //
	KindUCModel       Kind = "registered-model" // a Unity Catalog registered model
	KindExtLocation   Kind = "external-location"
	KindStorageCred   Kind = "storage-credential"
	KindServiceCred   Kind = "service-credential"
	KindConnection    Kind = "connection"
	KindShare         Kind = "share"
	KindRecipient     Kind = "recipient"
	KindProvider      Kind = "provider"
	// KindWorkspaceAccess findings say a member loses access to a workspace.
	KindWorkspaceAccess Kind = "workspace-access"
	// KindIdentity findings are about an audited identity itself (for
	// example one that does not exist).
	KindIdentity Kind = "identity"
	// KindWorkspace marks a whole workspace that could not be audited.
	KindWorkspace Kind = "workspace"
)

// ObjectKinds returns the kinds read from workspace list APIs, in report
// order.
func ObjectKinds() []Kind {
	return []Kind{KindToken, KindJob, KindCluster, KindWarehouse, KindPipeline, KindQuery, KindAlert,
		KindAlertV2, KindLegacyDashboard, KindDashboard, KindServingEndpoint, KindApp,
		KindExperiment, KindMLModel, KindInstancePool, KindClusterPolicy, KindSecretScope, KindVectorSearch,
		KindRepo, KindHomeFolder}
}

// MetastoreKinds returns the Unity Catalog kinds, read once per metastore,
// in report order.
func MetastoreKinds() []Kind {
	return []Kind{KindMetastore, KindCatalog, KindSchema, KindTable, KindVolume, KindFunction, KindUCModel,
		KindExtLocation, KindStorageCred, KindServiceCred, KindConnection, KindShare, KindRecipient, KindProvider}
}

// Kinds returns every kind in report order.
func Kinds() []Kind {
	out := append(ObjectKinds(), KindWorkspaceFile)
	out = append(out, MetastoreKinds()...)
	return append(out, KindWorkspaceAccess, KindIdentity, KindWorkspace)
}

// kindRanks maps each kind to its position in Kinds(), built once:
// kindRank runs in every findings comparison.
var kindRanks = func() map[Kind]int {
	m := map[Kind]int{}
	for i, k := range Kinds() {
		m[k] = i
	}
	return m
}()

// kindRank returns k's position in Kinds(); unknown kinds sort last.
func kindRank(k Kind) int {
	if i, ok := kindRanks[k]; ok {
		return i
	}
	return len(kindRanks)
}

// Relation is how an identity is tied to an object.
type Relation string

// Relations.
const (
	RelCreated     Relation = "created"      // creator_user_name, created_by, creator
	RelOwns        Relation = "owns"         // IS_OWNER, owner_user_name, legacy owner, CAN_MANAGE on a Lakeview dashboard
	RelRunsAs      Relation = "runs-as"      // run_as, run_as_user_name, a query or alert running as its owner
	RelDedicated   Relation = "dedicated"    // single_user_name of a dedicated cluster
	RelSoleManager Relation = "sole-manager" // the only remaining CAN_MANAGE/IS_OWNER
	RelSolePath    Relation = "sole-path"    // the group is the member's only path into the workspace
	RelGranted     Relation = "granted"      // a direct grant: Unity Catalog privileges, a secret scope ACL entry
	RelInHome      Relation = "in-home"      // the object is in the identity's home folder and others use it
)

var relationOrder = []Relation{RelCreated, RelOwns, RelRunsAs, RelDedicated, RelSoleManager, RelSolePath, RelGranted, RelInHome}

// PrincipalType is the type of an identity.
type PrincipalType string

// Principal types.
const (
	PrincipalUser             PrincipalType = "user"
	PrincipalServicePrincipal PrincipalType = "service-principal"
	PrincipalGroup            PrincipalType = "group"
)

// IdentityStatus says what the audit found out about an identity.
type IdentityStatus string

// Identity statuses.
const (
	StatusActive   IdentityStatus = "active"
	StatusInactive IdentityStatus = "inactive"
	// StatusNotFound: no user, service principal or group of that name exists
	// in the account or in any audited workspace. Objects are still matched
	// by name (a deleted user's jobs keep its name).
	StatusNotFound IdentityStatus = "not-found"
	// StatusUnresolved: the identity could not be looked up (--all: the
	// directory of a workspace it was seen in could not be read); that
	// workspace is reported as not covered for identities.
	StatusUnresolved IdentityStatus = "unresolved"
)

// Identity is an audited principal.
type Identity struct {
	Type PrincipalType `json:"type"`
	// Name is the name objects refer to it by: the user name (email) of a
	// user, the application id of a service principal, the display name of
	// a group.
	Name        string         `json:"name"`
	DisplayName string         `json:"display_name,omitempty"`
	ID          string         `json:"id,omitempty"` // SCIM id, "" when not found
	Status      IdentityStatus `json:"status"`
	// Named is true for an identity named on the command line or in the
	// --from-file list (not only reached through a group).
	Named bool `json:"named,omitempty"`
	// Via names the audited groups the identity is a member of (directly
	// or through nested groups).
	Via []string `json:"via,omitempty"`
	// Scope is "account", or "workspace" for a workspace-local
	// principal, or "" when not found.
	Scope string `json:"scope,omitempty"`
	// WorkspaceID is the workspace of a workspace-local group: a group name
	// is resolved in each workspace, and groups of the same name in
	// different workspaces are different identities.
	WorkspaceID int64 `json:"workspace_id,omitempty"`
	// WorkspaceName names that workspace.
	WorkspaceName string `json:"workspace_name,omitempty"`
}

// Key returns the identity's unique key: "type:name" with the name
// lowercased for users and service principals (user names and application
// ids are case-insensitive) and exact for groups (case and spaces are part
// of a group's name), plus "@<workspace id>" for a workspace-local group.
func (i Identity) Key() string {
	k := identityKey(i.Type, i.Name)
	if i.Type == PrincipalGroup && i.WorkspaceID != 0 {
		k += "@" + strconv.FormatInt(i.WorkspaceID, 10)
	}
	return k
}

// Label returns a short human label: the name, with the display name when
// it differs, and the workspace of a workspace-local group.
func (i Identity) Label() string {
	l := i.Name
	if i.DisplayName != "" && !strings.EqualFold(i.DisplayName, i.Name) {
		l += " (" + i.DisplayName + ")"
	}
	if i.Type == PrincipalGroup && i.WorkspaceID != 0 {
		l += fmt.Sprintf(" [workspace %s]", cmpOr(i.WorkspaceName, strconv.FormatInt(i.WorkspaceID, 10)))
	}
	return l
}

func identityKey(t PrincipalType, name string) string {
	return string(t) + ":" + nameKey(t, name)
}

// nameKey is how a principal name compares: exactly for groups, whose
// names keep their case and spaces ("ops", "Ops" and "ops " are three
// groups), else normalised (normName).
func nameKey(t PrincipalType, name string) string {
	if t == PrincipalGroup {
		return name
	}
	return normName(name)
}

// normName normalises a principal name for comparison: Databricks compares
// user names, application ids and group names case-insensitively.
func normName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// WorkspaceRef names a workspace in a finding.
type WorkspaceRef struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Label returns "name (id)".
func (w WorkspaceRef) Label() string {
	if w.Name == "" {
		return fmt.Sprint(w.ID)
	}
	return fmt.Sprintf("%s (%d)", w.Name, w.ID)
}

// MetastoreRef names the Unity Catalog metastore of a finding about one
// of its securables, and the audited workspaces it serves.
type MetastoreRef struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Workspaces []string `json:"workspaces,omitempty"`
}

// Label returns "name (id)".
func (m MetastoreRef) Label() string { return fmt.Sprintf("%s (%s)", m.Name, m.ID) }

// Detail is one kind-specific attribute of a finding (a token's expiry, a
// job's schedule). Details keep their order.
type Detail struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Finding is one identity's tie to one object in one workspace, with the
// severity of removing the identity.
type Finding struct {
	// Identity is the audited identity's key (Identity.Key), empty for
	// findings that concern every identity (coverage gaps).
	Identity     string        `json:"identity,omitempty"`
	IdentityName string        `json:"identity_name,omitempty"`
	IdentityType PrincipalType `json:"identity_type,omitempty"`
	// Workspace is where the object lives; zero for Unity Catalog
	// securables, which live in a metastore (Metastore).
	Workspace  WorkspaceRef  `json:"workspace"`
	Metastore  *MetastoreRef `json:"metastore,omitempty"`
	Kind       Kind          `json:"kind"`
	ObjectID   string        `json:"object_id,omitempty"`
	ObjectName string        `json:"object_name,omitempty"`
	URL        string        `json:"url,omitempty"`
	Relations  []Relation    `json:"relations,omitempty"`
	Severity   Severity      `json:"severity"`
	// Reason is one line saying why the finding has its severity.
	Reason string `json:"reason"`
	// Flags are notable conditions, such as "no-expiry" on a token.
	Flags   []string `json:"flags,omitempty"`
	Details []Detail `json:"details,omitempty"`
}

// Where names where the object lives: the workspace name, or "metastore
// <name>" for a Unity Catalog securable.
func (f Finding) Where() string {
	if f.Metastore != nil {
		return "metastore " + f.Metastore.Name
	}
	return f.Workspace.Name
}

// RelationText returns the relations joined with "+", e.g. "created+runs-as".
func (f Finding) RelationText() string {
	s := make([]string, len(f.Relations))
	for i, r := range f.Relations {
		s[i] = string(r)
	}
	return strings.Join(s, "+")
}

// Detail returns the value of the detail named key, or "".
func (f Finding) Detail(key string) string {
	for _, d := range f.Details {
		if d.Key == key {
			return d.Value
		}
	}
	return ""
}

// addRelation adds r to f once, keeping relationOrder.
func (f *Finding) addRelation(r Relation) {
	if slices.Contains(f.Relations, r) {
		return
	}
	f.Relations = append(f.Relations, r)
	slices.SortFunc(f.Relations, func(a, b Relation) int {
		return cmp.Compare(slices.Index(relationOrder, a), slices.Index(relationOrder, b))
	})
}

// compareFindings orders findings for every report: severity (worst first),
// then workspace name, identity, kind, object name and object id.
func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity, a.Severity),
		cmp.Compare(a.Where(), b.Where()),
		cmp.Compare(a.Workspace.ID, b.Workspace.ID),
		cmp.Compare(a.IdentityName, b.IdentityName),
		cmp.Compare(a.Identity, b.Identity),
		cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
		cmp.Compare(a.ObjectName, b.ObjectName),
		cmp.Compare(a.ObjectID, b.ObjectID),
	)
}

// SortFindings sorts fs in report order: severity (worst first), workspace,
// identity, kind, object.
func SortFindings(fs []Finding) { slices.SortStableFunc(fs, compareFindings) }
