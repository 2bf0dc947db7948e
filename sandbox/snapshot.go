package sandbox

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// State is a deep copy of the sandbox's identity state, with deterministic
// ordering (principals and members by numeric id), so two States compare with
// reflect.DeepEqual and Diff. Deleted principals are not included, nor are
// the computed members of the system groups "users" and "account users".
type State struct {
	AccountID         string           `json:"account_id"`
	Users             []PrincipalState `json:"users"`
	ServicePrincipals []PrincipalState `json:"service_principals"`
	Groups            []GroupState     `json:"groups"`
	Workspaces        []WorkspaceState `json:"workspaces"`
	// Securables are the owners of every Unity Catalog and Delta Sharing
	// securable, by metastore, kind and full name (handover_uc.go).
	Securables []SecurableState `json:"securables,omitempty"`
}

// SecurableState is the owner of one Unity Catalog or Delta Sharing
// securable (the metastore itself included).
type SecurableState struct {
	MetastoreID string `json:"metastore_id"`
	Kind        string `json:"kind"` // CATALOG, SCHEMA, TABLE, ...
	FullName    string `json:"full_name"`
	Owner       string `json:"owner"`
}

// PrincipalState is a user or service principal.
type PrincipalState struct {
	ID            string   `json:"id"`
	UserName      string   `json:"userName,omitempty"`
	ApplicationID string   `json:"applicationId,omitempty"`
	DisplayName   string   `json:"displayName"`
	GivenName     string   `json:"givenName,omitempty"`
	FamilyName    string   `json:"familyName,omitempty"`
	ExternalID    string   `json:"externalId,omitempty"`
	Active        bool     `json:"active"`
	Roles         []string `json:"roles,omitempty"` // account roles
}

// GroupState is a group and its explicit members.
type GroupState struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	ExternalID  string   `json:"externalId,omitempty"`
	Members     []string `json:"members,omitempty"`
	Roles       []string `json:"roles,omitempty"` // account roles
}

// WorkspaceState is one workspace's local principals and workspace-level
// grants.
type WorkspaceState struct {
	WorkspaceID       int64               `json:"workspace_id"`
	WorkspaceName     string              `json:"workspace_name"`
	IdentityFederated bool                `json:"identity_federated"`
	Users             []PrincipalState    `json:"users,omitempty"`
	ServicePrincipals []PrincipalState    `json:"service_principals,omitempty"`
	Groups            []GroupState        `json:"groups"`
	Assignments       []AssignmentState   `json:"assignments,omitempty"`
	Entitlements      map[string][]string `json:"entitlements,omitempty"` // principal id -> values
	Roles             map[string][]string `json:"roles,omitempty"`        // principal id -> workspace roles
	Grants            []GrantState        `json:"grants,omitempty"`       // object ACLs (permissions.go)
	SecretACLs        []SecretACLState    `json:"secret_acls,omitempty"`  // secret scope ACLs (permissions.go)
	Objects           []ObjectState       `json:"objects,omitempty"`      // ownership of objects (handover_writes.go)
}

// AssignmentState is one account-level permission assignment.
type AssignmentState struct {
	PrincipalID string   `json:"principal_id"`
	Permissions []string `json:"permissions"`
}

// Snapshot returns a deep copy of the current state.
func (s *Server) Snapshot() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snapshot()
}

// snapshot builds a State; the caller holds s.mu.
func (s *Server) snapshot() State {
	st := s.st
	out := State{AccountID: st.accountID}
	ws := map[int64]*WorkspaceState{}
	for _, w := range st.workspaces {
		out.Workspaces = append(out.Workspaces, WorkspaceState{
			WorkspaceID: w.id, WorkspaceName: w.name, IdentityFederated: w.federated,
			Entitlements: cloneGrants(w.entitlements), Roles: cloneGrants(w.roles),
		})
	}
	for i := range out.Workspaces {
		ws[out.Workspaces[i].WorkspaceID] = &out.Workspaces[i]
	}
	live := make([]*principal, 0, len(st.order))
	for _, p := range st.order {
		if p.live() {
			live = append(live, p)
		}
	}
	slices.SortFunc(live, func(a, b *principal) int { return compareIDs(a.id, b.id) })
	for _, p := range live {
		switch p.kind {
		case kindUser, kindSP:
			ps := PrincipalState{ID: p.id, UserName: p.userName, ApplicationID: p.applicationID,
				DisplayName: p.displayName, GivenName: p.givenName, FamilyName: p.familyName,
				ExternalID: p.externalID, Active: p.active, Roles: cloneOrNil(p.roles)}
			switch {
			case p.ws != 0 && p.kind == kindUser:
				ws[p.ws].Users = append(ws[p.ws].Users, ps)
			case p.ws != 0:
				ws[p.ws].ServicePrincipals = append(ws[p.ws].ServicePrincipals, ps)
			case p.kind == kindUser:
				out.Users = append(out.Users, ps)
			default:
				out.ServicePrincipals = append(out.ServicePrincipals, ps)
			}
		case kindGroup:
			members := slices.Clone(p.members)
			slices.SortFunc(members, compareIDs)
			gs := GroupState{ID: p.id, DisplayName: p.displayName, ExternalID: p.externalID,
				Members: cloneOrNil(members), Roles: cloneOrNil(p.roles)}
			if p.ws != 0 {
				ws[p.ws].Groups = append(ws[p.ws].Groups, gs)
			} else {
				out.Groups = append(out.Groups, gs)
			}
		}
	}
	for i, w := range st.workspaces {
		ids := slices.Collect(maps.Keys(w.assignments))
		slices.SortFunc(ids, compareIDs)
		for _, id := range ids {
			out.Workspaces[i].Assignments = append(out.Workspaces[i].Assignments,
				AssignmentState{PrincipalID: id, Permissions: slices.Clone(w.assignments[id])})
		}
	}
	for _, f := range families {
		if f.snapshot != nil {
			f.snapshot(s, &out)
		}
	}
	return out
}

func cloneOrNil(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return slices.Clone(in)
}

func cloneGrants(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// Diff lists the differences from a to b, one fact per line, prefixed "- "
// (only in a) or "+ " (only in b), sorted. An empty result means the states
// are equal.
func Diff(a, b State) []string {
	fa, fb := a.facts(), b.facts()
	var out []string
	for f := range fa {
		if !fb[f] {
			out = append(out, "- "+f)
		}
	}
	for f := range fb {
		if !fa[f] {
			out = append(out, "+ "+f)
		}
	}
	slices.SortFunc(out, func(x, y string) int {
		return strings.Compare(x[2:]+x[:1], y[2:]+y[:1])
	})
	return out
}

// facts flattens a State into independent statements.
func (s State) facts() map[string]bool {
	out := map[string]bool{}
	add := func(format string, a ...any) { out[fmt.Sprintf(format, a...)] = true }
	principal := func(scope string, p PrincipalState, what string) {
		name := p.UserName
		if what == "service principal" {
			name = p.ApplicationID
		}
		add("%s %s %s %q", scope, what, p.ID, name)
		add("%s %s %s displayName=%q", scope, what, p.ID, p.DisplayName)
		add("%s %s %s active=%t", scope, what, p.ID, p.Active)
		if p.GivenName != "" || p.FamilyName != "" {
			add("%s %s %s name=%q %q", scope, what, p.ID, p.GivenName, p.FamilyName)
		}
		if p.ExternalID != "" {
			add("%s %s %s externalId=%q", scope, what, p.ID, p.ExternalID)
		}
		for _, r := range p.Roles {
			add("%s %s %s role %q", scope, what, p.ID, r)
		}
	}
	group := func(scope string, g GroupState) {
		add("%s group %s %q", scope, g.ID, g.DisplayName)
		if g.ExternalID != "" {
			add("%s group %s externalId=%q", scope, g.ID, g.ExternalID)
		}
		for _, m := range g.Members {
			add("%s group %s member %s", scope, g.ID, m)
		}
		for _, r := range g.Roles {
			add("%s group %s role %q", scope, g.ID, r)
		}
	}
	add("account %s", s.AccountID)
	for _, p := range s.Users {
		principal("account", p, "user")
	}
	for _, p := range s.ServicePrincipals {
		principal("account", p, "service principal")
	}
	for _, g := range s.Groups {
		group("account", g)
	}
	for _, w := range s.Workspaces {
		scope := "workspace " + strconv.FormatInt(w.WorkspaceID, 10)
		add("%s name=%q federated=%t", scope, w.WorkspaceName, w.IdentityFederated)
		for _, p := range w.Users {
			principal(scope, p, "user")
		}
		for _, p := range w.ServicePrincipals {
			principal(scope, p, "service principal")
		}
		for _, g := range w.Groups {
			group(scope, g)
		}
		for _, a := range w.Assignments {
			add("%s assignment %s %s", scope, a.PrincipalID, strings.Join(a.Permissions, ","))
		}
		for id, vals := range w.Entitlements {
			for _, v := range vals {
				add("%s principal %s entitlement %q", scope, id, v)
			}
		}
		for id, vals := range w.Roles {
			for _, v := range vals {
				add("%s principal %s role %q", scope, id, v)
			}
		}
		for _, o := range w.Objects {
			add("%s object %s %s=%q", scope, o.Object, o.Field, o.Value)
		}
	}
	for _, u := range s.Securables {
		add("metastore %s %s %q owner=%q", u.MetastoreID, strings.ToLower(u.Kind), u.FullName, u.Owner)
	}
	return out
}
