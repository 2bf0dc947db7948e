package sandbox

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

//go:embed seeds/default.json
var defaultSeedJSON []byte

// DefaultSeed returns a fresh copy of the canonical default seed
// (sandbox/seeds/default.json). It is safe for concurrent use.
func DefaultSeed() *Seed {
	s, err := ParseSeed(defaultSeedJSON)
	if err != nil {
		panic("sandbox: embedded default seed is invalid: " + err.Error())
	}
	objs, err := ParseObjectsFile(defaultObjectsJSON)
	if err == nil {
		err = objs.AttachTo(s)
	}
	if err == nil {
		err = attachDefaultCatalog(s)
	}
	if err != nil {
		panic("sandbox: embedded default objects are invalid: " + err.Error())
	}
	return s
}

// Seed is the initial state of a sandbox: one account with its principals,
// its workspaces and their workspace-local state, tokens, and optional knobs.
// The JSON form is documented in the package documentation; ParseSeed reads
// it strictly. A Seed is plain data: New copies what it needs and never
// modifies it.
type Seed struct {
	// AccountID is the account's id (a UUID in real Databricks).
	AccountID string `json:"account_id"`
	// Users are account users.
	Users []SeedUser `json:"users,omitempty"`
	// ServicePrincipals are account service principals.
	ServicePrincipals []SeedServicePrincipal `json:"service_principals,omitempty"`
	// Groups are account groups. The system group "account users" is
	// added when absent.
	Groups []SeedGroup `json:"groups,omitempty"`
	// Workspaces are the account's workspaces, in listing order. The first
	// one receives workspace calls that carry no X-Databricks-Workspace-Id.
	Workspaces []SeedWorkspace `json:"workspaces"`
	// Metastores are Unity Catalog metastores and their securables (see
	// SeedMetastore in unitycatalog.go).
	Metastores []SeedMetastore `json:"metastores,omitempty"`
	// Tokens are the accepted bearer tokens. When empty, an account-admin
	// token and a user token are derived (see the package documentation).
	Tokens []SeedToken `json:"tokens,omitempty"`
	// ServicePrincipalRoles are the rule sets of service principals: who
	// holds the Service Principal User and Manager roles (rulesets.go).
	ServicePrincipalRoles []SeedSPRoles `json:"service_principal_roles,omitempty"`
	// Knobs are default behaviour knobs; non-zero Options fields override them.
	Knobs *SeedKnobs `json:"knobs,omitempty"`
}

// SeedUser is a user, at account level or local to a workspace.
type SeedUser struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName,omitempty"`
	GivenName   string `json:"givenName,omitempty"`
	FamilyName  string `json:"familyName,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
	// Active defaults to true.
	Active *bool `json:"active,omitempty"`
	// Roles are account roles (e.g. "account_admin") for account users.
	// Workspace roles live in SeedWorkspace.Roles.
	Roles []string `json:"roles,omitempty"`
}

// SeedServicePrincipal is a service principal, at account level or local to
// a workspace.
type SeedServicePrincipal struct {
	ID            string `json:"id"`
	ApplicationID string `json:"applicationId"`
	DisplayName   string `json:"displayName,omitempty"`
	ExternalID    string `json:"externalId,omitempty"`
	// Active defaults to true.
	Active *bool    `json:"active,omitempty"`
	Roles  []string `json:"roles,omitempty"`
}

// SeedGroup is an account group or a workspace-local group. Members are
// principal ids.
type SeedGroup struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	ExternalID  string   `json:"externalId,omitempty"`
	Members     []string `json:"members,omitempty"`
	// Roles are account roles for account groups. Workspace roles live in
	// SeedWorkspace.Roles.
	Roles []string `json:"roles,omitempty"`
}

// SeedWorkspace is one workspace and its workspace-level state.
type SeedWorkspace struct {
	WorkspaceID     int64  `json:"workspace_id"`
	WorkspaceName   string `json:"workspace_name"`
	DeploymentName  string `json:"deployment_name,omitempty"`
	Cloud           string `json:"cloud,omitempty"`            // aws, azure or gcp; default aws
	WorkspaceStatus string `json:"workspace_status,omitempty"` // default RUNNING
	Region          string `json:"region,omitempty"`           // aws_region (aws) or location (gcp)
	CreationTime    int64  `json:"creation_time,omitempty"`    // epoch ms
	PricingTier     string `json:"pricing_tier,omitempty"`
	// IdentityFederated marks a workspace with a Unity Catalog metastore:
	// account principals assigned to it are visible in its SCIM API.
	IdentityFederated bool   `json:"identity_federated"`
	MetastoreID       string `json:"metastore_id,omitempty"`
	// Assignments are account-level permission assignments (federated only).
	Assignments []SeedAssignment `json:"assignments,omitempty"`
	// Users and ServicePrincipals are workspace-local principals.
	Users             []SeedUser             `json:"users,omitempty"`
	ServicePrincipals []SeedServicePrincipal `json:"service_principals,omitempty"`
	// Groups are workspace-local groups. The system groups "admins" and
	// "users" are added when absent.
	Groups []SeedGroup `json:"groups,omitempty"`
	// Entitlements and Roles map a principal id (local, or account principal
	// visible in the workspace) to its workspace entitlements and roles.
	Entitlements map[string][]string `json:"entitlements,omitempty"`
	Roles        map[string][]string `json:"roles,omitempty"`
	// Grants are object and secret scope ACLs (see permissions.go).
	Grants *SeedGrants `json:"grants,omitempty"`
	// Objects are the workspace's tokens, jobs, clusters and other objects
	// that audit reads (see SeedObjects).
	Objects *SeedObjects `json:"objects,omitempty"`
}

// SeedAssignment assigns an account principal to a workspace.
type SeedAssignment struct {
	Principal   string   `json:"principal"`
	Permissions []string `json:"permissions"`
}

// Token roles.
const (
	RoleAccountAdmin   = "account_admin"   // account APIs; in workspaces, what its principal may do there
	RoleWorkspaceAdmin = "workspace_admin" // admin of the workspace that issued it (SeedToken.WorkspaceID)
	RoleUser           = "user"            // no account API; in workspaces, what its principal may do there
)

// SeedToken is one accepted bearer token and the principal it authenticates.
// A token with a WorkspaceID is a personal access token issued by that
// workspace: valid there only, and on account APIs only with the
// account_pats knob. A token without one is an account-level token (as
// OAuth at the account console issues): account APIs by its role, and
// every workspace where its principal has access. Role workspace_admin
// needs a WorkspaceID.
type SeedToken struct {
	Token       string `json:"token"`
	Principal   string `json:"principal"`
	Role        string `json:"role"`
	WorkspaceID int64  `json:"workspace_id,omitempty"`
}

// SeedKnobs are behaviour knobs stored with a seed. Field meanings match
// Options.
type SeedKnobs struct {
	PageCap            int                `json:"page_cap,omitempty"`
	Latency            Duration           `json:"latency,omitempty"`
	RateLimits         map[string]float64 `json:"rate_limits,omitempty"`
	ThrottleStyle      string             `json:"throttle_style,omitempty"`
	OmitRetryAfter     bool               `json:"omit_retry_after,omitempty"`
	MaxConcurrent      int                `json:"max_concurrent,omitempty"`
	FaultRate          float64            `json:"fault_rate,omitempty"`
	FaultSeed          uint64             `json:"fault_seed,omitempty"`
	Consistency        Duration           `json:"consistency,omitempty"`
	AccountListMembers bool               `json:"account_list_members,omitempty"`
	PatchStatus        int                `json:"patch_status,omitempty"`
	FilterDialect      string             `json:"filter_dialect,omitempty"`
	AccountPATs        bool               `json:"account_pats,omitempty"`
	ListAllObjects     bool               `json:"list_all_objects,omitempty"`
	ManagersSetOwner   bool               `json:"managers_set_owner,omitempty"`
	ListUnboundModels  bool               `json:"list_unbound_models,omitempty"`

	// PermissionMigration is "strict", "copy" or "move".
	PermissionMigration string `json:"permission_migration,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("250ms", "1m").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a non-negative duration string such as "250ms".
// Errors are *json.UnmarshalTypeError, so encoding/json names the field.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	err := json.Unmarshal(b, &s)
	v, perr := time.ParseDuration(s)
	if err != nil || perr != nil || v < 0 {
		return &json.UnmarshalTypeError{Value: "duration " + string(b) + ` (want a non-negative duration such as "250ms")`,
			Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// LoadSeed reads and validates a seed file (see ParseSeed).
func LoadSeed(path string) (*Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load seed: %w", err)
	}
	s, err := ParseSeed(b)
	if err != nil {
		return nil, fmt.Errorf("load seed %s: %w", path, err)
	}
	return s, nil
}

// ParseSeed decodes a JSON seed strictly (an unknown field is an error that
// names it) and validates it: ids, uniqueness of names per scope, member and
// assignment references, group cycles, tokens and knobs.
func ParseSeed(b []byte) (*Seed, error) {
	var s Seed
	if err := decodeStrict(b, &s); err != nil {
		return nil, fmt.Errorf("parse seed: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeStrict decodes the one JSON value in b into v: an unknown field is
// an error that names it, and so is anything after the value. An error
// says where the problem is: the path of the field or value
// (`workspaces[2].groups[5]: unknown field "bogus"`), or the line and
// column of bad syntax.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return locateJSONError(b, reflect.TypeOf(v), err)
	}
	end := dec.InputOffset()
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		rest := b[end:]
		line, col := lineCol(b, end+int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n"))))
		return fmt.Errorf("line %d, column %d: unexpected data after the JSON value", line, col)
	}
	return nil
}

// Validate checks the seed's consistency. New calls it too, so a seed built
// in Go (Synthetic, tests) gets the same checks as a parsed one.
func (s *Seed) Validate() error {
	v := validator{ids: map[string]idInfo{}}
	v.validate(s)
	if len(v.errs) > 0 {
		return fmt.Errorf("invalid seed: %w", errors.Join(v.errs...))
	}
	return nil
}

type idInfo struct {
	kind kind
	ws   int64 // 0 = account
	name string
}

type validator struct {
	ids  map[string]idInfo
	errs []error
}

func (v *validator) errf(format string, a ...any) {
	if len(v.errs) < 20 {
		v.errs = append(v.errs, fmt.Errorf(format, a...))
	}
}

func validID(id string) bool {
	if id == "" || len(id) > 19 {
		return false
	}
	_, err := strconv.ParseInt(id, 10, 64)
	return err == nil && id[0] != '-' && id[0] != '+'
}

func (v *validator) addID(field, id string, info idInfo) {
	if !validID(id) {
		v.errf("%s.id: %q is not a numeric id", field, id)
		return
	}
	if prev, dup := v.ids[id]; dup {
		v.errf("%s.id: %q is already used by %s %q", field, id, prev.kind, prev.name)
		return
	}
	v.ids[id] = info
}

func (v *validator) principals(prefix string, ws int64, users []SeedUser, sps []SeedServicePrincipal, groups []SeedGroup) {
	names := map[string]bool{}
	for i, u := range users {
		f := fmt.Sprintf("%s.users[%d]", prefix, i)
		v.addID(f, u.ID, idInfo{kindUser, ws, u.UserName})
		if strings.TrimSpace(u.UserName) == "" {
			v.errf("%s.userName: required", f)
		}
		if k := strings.ToLower(u.UserName); names[k] {
			v.errf("%s.userName: duplicate %q", f, u.UserName)
		} else {
			names[k] = true
		}
		if ws != 0 && len(u.Roles) > 0 {
			v.errf("%s.roles: workspace roles belong in the workspace's roles map", f)
		}
	}
	apps := map[string]bool{}
	for i, sp := range sps {
		f := fmt.Sprintf("%s.service_principals[%d]", prefix, i)
		v.addID(f, sp.ID, idInfo{kindSP, ws, sp.ApplicationID})
		if strings.TrimSpace(sp.ApplicationID) == "" {
			v.errf("%s.applicationId: required", f)
		}
		if k := strings.ToLower(sp.ApplicationID); apps[k] {
			v.errf("%s.applicationId: duplicate %q", f, sp.ApplicationID)
		} else {
			apps[k] = true
		}
		if ws != 0 && len(sp.Roles) > 0 {
			v.errf("%s.roles: workspace roles belong in the workspace's roles map", f)
		}
	}
	gnames := map[string]bool{}
	for i, g := range groups {
		f := fmt.Sprintf("%s.groups[%d]", prefix, i)
		v.addID(f, g.ID, idInfo{kindGroup, ws, g.DisplayName})
		if strings.TrimSpace(g.DisplayName) == "" {
			v.errf("%s.displayName: required", f)
		}
		if k := strings.ToLower(g.DisplayName); gnames[k] {
			v.errf("%s.displayName: duplicate %q", f, g.DisplayName)
		} else {
			gnames[k] = true
		}
		if ws != 0 && len(g.Roles) > 0 {
			v.errf("%s.roles: workspace roles belong in the workspace's roles map", f)
		}
	}
}

func (v *validator) validate(s *Seed) {
	if strings.TrimSpace(s.AccountID) == "" {
		v.errf("account_id: required")
	}
	if len(s.Workspaces) == 0 {
		v.errf("workspaces: at least one workspace is required")
	}
	v.principals("seed", 0, s.Users, s.ServicePrincipals, s.Groups)
	wsIDs := map[int64]bool{}
	for i, w := range s.Workspaces {
		f := fmt.Sprintf("workspaces[%d]", i)
		if w.WorkspaceID <= 0 {
			v.errf("%s.workspace_id: must be a positive integer", f)
		} else if wsIDs[w.WorkspaceID] {
			v.errf("%s.workspace_id: duplicate %d", f, w.WorkspaceID)
		}
		wsIDs[w.WorkspaceID] = true
		if strings.TrimSpace(w.WorkspaceName) == "" {
			v.errf("%s.workspace_name: required", f)
		}
		switch strings.ToLower(w.Cloud) {
		case "", "aws", "azure", "gcp":
		default:
			v.errf("%s.cloud: %q is not aws, azure or gcp", f, w.Cloud)
		}
		switch w.WorkspaceStatus {
		case "", "NOT_PROVISIONED", "PROVISIONING", "RUNNING", "FAILED", "BANNED", "CANCELLING":
		default:
			v.errf("%s.workspace_status: unknown status %q", f, w.WorkspaceStatus)
		}
		v.principals(f, w.WorkspaceID, w.Users, w.ServicePrincipals, w.Groups)
	}
	if len(v.errs) > 0 {
		return // references are meaningless with broken ids
	}
	// Account group members: account principals only.
	for i, g := range s.Groups {
		if g.DisplayName == accountUsersGroup && len(g.Members) > 0 {
			v.errf("seed.groups[%d].members: the members of %q are implicit (every account user and service principal)", i, accountUsersGroup)
		}
		for j, m := range g.Members {
			info, ok := v.ids[m]
			switch {
			case !ok:
				v.errf("seed.groups[%d].members[%d]: unknown principal id %q", i, j, m)
			case info.ws != 0:
				v.errf("seed.groups[%d].members[%d]: %q is workspace-local; account groups hold account principals only", i, j, m)
			case m == g.ID:
				v.errf("seed.groups[%d].members[%d]: a group cannot contain itself", i, j)
			}
		}
	}
	vis := visibilityFromSeed(s)
	for i, w := range s.Workspaces {
		f := fmt.Sprintf("workspaces[%d]", i)
		if !w.IdentityFederated && len(w.Assignments) > 0 {
			v.errf("%s.assignments: workspace %d is not identity federated", f, w.WorkspaceID)
		}
		seen := map[string]bool{}
		for j, a := range w.Assignments {
			info, ok := v.ids[a.Principal]
			switch {
			case !ok:
				v.errf("%s.assignments[%d].principal: unknown principal id %q", f, j, a.Principal)
			case info.ws != 0:
				v.errf("%s.assignments[%d].principal: %q is workspace-local", f, j, a.Principal)
			case seen[a.Principal]:
				v.errf("%s.assignments[%d].principal: %q assigned twice", f, j, a.Principal)
			}
			seen[a.Principal] = true
			if len(normalizePermissions(a.Permissions)) == 0 {
				v.errf("%s.assignments[%d].permissions: want USER and/or ADMIN", f, j)
			}
			if ok && info.kind == kindGroup {
				for _, g := range w.Groups {
					if strings.EqualFold(g.DisplayName, info.name) {
						v.errf("%s.assignments[%d]: account group %q cannot be assigned: workspace group with name %q already exists", f, j, info.name, g.DisplayName)
					}
				}
			}
		}
		inScope := func(id string) bool {
			info, ok := v.ids[id]
			return ok && (info.ws == w.WorkspaceID || (info.ws == 0 && vis[w.WorkspaceID][id]))
		}
		for j, g := range w.Groups {
			if g.DisplayName == usersGroup && len(g.Members) > 0 {
				v.errf("%s.groups[%d].members: the members of %q are implicit (every workspace user and service principal)", f, j, usersGroup)
			}
			for k, m := range g.Members {
				if !inScope(m) {
					v.errf("%s.groups[%d].members[%d]: principal %q is not in workspace %d", f, j, k, m, w.WorkspaceID)
				} else if m == g.ID {
					v.errf("%s.groups[%d].members[%d]: a group cannot contain itself", f, j, k)
				}
			}
		}
		for _, m := range []struct {
			name string
			vals map[string][]string
		}{{"entitlements", w.Entitlements}, {"roles", w.Roles}} {
			for id, vals := range m.vals {
				if !inScope(id) {
					v.errf("%s.%s: principal %q is not in workspace %d", f, m.name, id, w.WorkspaceID)
				}
				if m.name == "entitlements" {
					for _, e := range vals {
						if !validEntitlement(e) {
							v.errf("%s.entitlements[%q]: unknown entitlement %q", f, id, e)
						}
					}
				}
			}
		}
	}
	if cyc := seedCycle(s); cyc != "" {
		v.errf("groups: membership cycle through group %q", cyc)
	}
	for i, t := range s.Tokens {
		f := fmt.Sprintf("tokens[%d]", i)
		if len(t.Token) < 8 {
			v.errf("%s.token: must be at least 8 characters", f)
		}
		info, ok := v.ids[t.Principal]
		if !ok || info.kind == kindGroup {
			v.errf("%s.principal: %q is not a user or service principal id", f, t.Principal)
		}
		switch t.Role {
		case RoleAccountAdmin, RoleUser:
			if t.WorkspaceID != 0 && !wsIDs[t.WorkspaceID] {
				v.errf("%s.workspace_id: %d is not a workspace of the seed", f, t.WorkspaceID)
			}
		case RoleWorkspaceAdmin:
			if !wsIDs[t.WorkspaceID] {
				v.errf("%s.workspace_id: %d is not a workspace of the seed (a workspace admin token is a personal access token of one workspace)", f, t.WorkspaceID)
			}
		default:
			v.errf("%s.role: %q is not %s, %s or %s", f, t.Role, RoleAccountAdmin, RoleWorkspaceAdmin, RoleUser)
		}
		for _, u := range s.Tokens[:i] {
			if u.Token == t.Token {
				v.errf("%s.token: duplicate token", f)
			}
		}
	}
	if s.Knobs != nil {
		if err := s.Knobs.validate(); err != nil {
			v.errf("knobs.%w", err)
		}
	}
}

func (k *SeedKnobs) validate() error {
	o := Options{}
	k.applyTo(&o)
	return o.validate()
}

// visibilityFromSeed computes, per federated workspace, the set of account
// principal ids visible in it: assigned principals and, transitively, the
// members of assigned account groups.
func visibilityFromSeed(s *Seed) map[int64]map[string]bool {
	members := map[string][]string{}
	for _, g := range s.Groups {
		members[g.ID] = g.Members
	}
	accountUsers := ""
	for _, g := range s.Groups {
		if g.DisplayName == accountUsersGroup {
			accountUsers = g.ID
		}
	}
	out := map[int64]map[string]bool{}
	for _, w := range s.Workspaces {
		vis := map[string]bool{}
		out[w.WorkspaceID] = vis
		if !w.IdentityFederated {
			continue
		}
		var queue []string
		for _, a := range w.Assignments {
			if len(normalizePermissions(a.Permissions)) > 0 {
				queue = append(queue, a.Principal)
			}
		}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			if vis[id] {
				continue
			}
			vis[id] = true
			if id == accountUsers && id != "" {
				for _, u := range s.Users {
					queue = append(queue, u.ID)
				}
				for _, sp := range s.ServicePrincipals {
					queue = append(queue, sp.ID)
				}
			}
			queue = append(queue, members[id]...)
		}
	}
	return out
}

// seedCycle returns the name of a group on a membership cycle, or "".
func seedCycle(s *Seed) string {
	members := map[string][]string{}
	names := map[string]string{}
	add := func(gs []SeedGroup) {
		for _, g := range gs {
			members[g.ID] = g.Members
			names[g.ID] = g.DisplayName
		}
	}
	add(s.Groups)
	for _, w := range s.Workspaces {
		add(w.Groups)
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(id string) string
	visit = func(id string) string {
		color[id] = grey
		for _, m := range members[id] {
			if _, isGroup := members[m]; !isGroup {
				continue
			}
			switch color[m] {
			case grey:
				return names[m]
			case white:
				if c := visit(m); c != "" {
					return c
				}
			}
		}
		color[id] = black
		return ""
	}
	for id := range members {
		if color[id] == white {
			if c := visit(id); c != "" {
				return c
			}
		}
	}
	return ""
}

// normalizePermissions reduces a permission list to ["ADMIN"], ["USER"] or
// nil: values are case-sensitive, ADMIN wins over USER, anything else is
// dropped (so an invalid list means "no access", as in the real API).
func normalizePermissions(in []string) []string {
	var user, admin bool
	for _, p := range in {
		switch p {
		case "USER":
			user = true
		case "ADMIN":
			admin = true
		}
	}
	switch {
	case admin: // ADMIN wins when both are given
		return []string{"ADMIN"}
	case user:
		return []string{"USER"}
	}
	return nil
}

var knownEntitlements = []string{
	"allow-cluster-create",
	"allow-instance-pool-create",
	"databricks-sql-access",
	"workspace-access",
	"workspace-consume",
}

func validEntitlement(e string) bool {
	for _, k := range knownEntitlements {
		if e == k {
			return true
		}
	}
	return false
}
