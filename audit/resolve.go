package audit

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// principal is a user, service principal or group read from SCIM.
type principal struct {
	Type        PrincipalType
	ID          string
	Name        string // userName, applicationId or displayName
	DisplayName string
	Active      bool
	// Local is set on a workspace-local group (meta.resourceType
	// WorkspaceGroup).
	Local bool
}

// status returns the identity status of a principal that was found.
func (p principal) status() IdentityStatus {
	if p.Active {
		return StatusActive
	}
	return StatusInactive
}

func (p principal) numericID() []int64 {
	if n, err := strconv.ParseInt(p.ID, 10, 64); err == nil {
		return []int64{n}
	}
	return nil
}

// directory is one SCIM directory: the account's or a workspace's.
type directory struct {
	scope  string // "account" or "workspace"
	ws     int64  // the workspace id, 0 for the account
	users  *scim.Endpoint[scim.User]
	sps    *scim.Endpoint[scim.ServicePrincipal]
	groups *scim.Endpoint[scim.Group]
}

func accountDirectory(a *scim.AccountClient) directory {
	return directory{scope: "account", users: a.Users, sps: a.ServicePrincipals, groups: a.Groups}
}

func workspaceDirectory(w *scim.WorkspaceClient) directory {
	return directory{scope: "workspace", ws: w.ID, users: w.Users, sps: w.ServicePrincipals, groups: w.Groups}
}

// filterBatch is how many names one "or" filter looks up: 50 comparisons
// stay well under the 200-node filter limit (reference §I.1).
const filterBatch = 50

var (
	userAttrs  = []string{"id", "userName", "displayName", "active"}
	spAttrs    = []string{"id", "applicationId", "displayName", "active"}
	groupAttrs = []string{"id", "displayName", "meta"}
)

func fromUser(u scim.User) principal {
	return principal{Type: PrincipalUser, ID: u.ID, Name: u.UserName, DisplayName: u.DisplayName, Active: u.IsActive()}
}

func fromSP(s scim.ServicePrincipal) principal {
	return principal{Type: PrincipalServicePrincipal, ID: s.ID, Name: s.ApplicationID, DisplayName: s.DisplayName, Active: s.IsActive()}
}

func fromGroup(g scim.Group) principal {
	return principal{Type: PrincipalGroup, ID: g.ID, Name: g.DisplayName, DisplayName: g.DisplayName, Active: true,
		Local: g.IsWorkspaceLocal()}
}

// batched looks values up attr-eq-value in batches of filterBatch with one
// "or" filter each.
func batched[T any](ctx context.Context, e *scim.Endpoint[T], attr string, values []string, attrs []string, conv func(T) principal) ([]principal, error) {
	var out []principal
	for chunk := range slices.Chunk(values, filterBatch) {
		fs := make([]string, len(chunk))
		for i, v := range chunk {
			fs[i] = scim.Eq(attr, v)
		}
		for v, err := range e.List(ctx, scim.ListOptions{Filter: scim.Or(fs...), Attributes: attrs}) {
			if err != nil {
				return nil, err
			}
			out = append(out, conv(v))
		}
	}
	return out, nil
}

// lookup finds principals of type t by name (user name, application id or
// group name). The result maps nameKey(t, name) to principals: SCIM
// filters compare strings ignoring case, so of the groups a filter
// returns only the one whose name is exactly the one asked for is kept.
func (d directory) lookup(ctx context.Context, t PrincipalType, names []string) (map[string]principal, error) {
	if len(names) == 0 {
		return map[string]principal{}, nil
	}
	var ps []principal
	var err error
	switch t {
	case PrincipalUser:
		ps, err = batched(ctx, d.users, "userName", names, userAttrs, fromUser)
	case PrincipalServicePrincipal:
		ps, err = batched(ctx, d.sps, "applicationId", names, spAttrs, fromSP)
	default:
		ps, err = batched(ctx, d.groups, "displayName", names, groupAttrs, fromGroup)
	}
	if err != nil {
		return nil, fmt.Errorf("look up %ss in %s: %w", t, d.label(), err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[nameKey(t, n)] = true
	}
	out := make(map[string]principal, len(ps))
	for _, p := range ps {
		if k := nameKey(t, p.Name); want[k] {
			out[k] = p
		}
	}
	return out, nil
}

// byIDs resolves SCIM ids to principals. types gives each id's type when
// known ("" = unknown: users, then service principals, then groups are
// searched).
func (d directory) byIDs(ctx context.Context, types map[string]PrincipalType) (map[string]principal, error) {
	out := map[string]principal{}
	pending := func(t PrincipalType) []string {
		var ids []string
		for id, ty := range types {
			if _, done := out[id]; !done && (ty == t || ty == "") {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	steps := []struct {
		t    PrincipalType
		look func([]string) ([]principal, error)
	}{
		{PrincipalUser, func(ids []string) ([]principal, error) {
			return batched(ctx, d.users, "id", ids, userAttrs, fromUser)
		}},
		{PrincipalServicePrincipal, func(ids []string) ([]principal, error) {
			return batched(ctx, d.sps, "id", ids, spAttrs, fromSP)
		}},
		{PrincipalGroup, func(ids []string) ([]principal, error) {
			return batched(ctx, d.groups, "id", ids, groupAttrs, fromGroup)
		}},
	}
	for _, s := range steps {
		ids := pending(s.t)
		if len(ids) == 0 {
			continue
		}
		ps, err := s.look(ids)
		if err != nil {
			return nil, fmt.Errorf("look up %ss by id in %s: %w", s.t, d.label(), err)
		}
		for _, p := range ps {
			out[p.ID] = p
		}
	}
	return out, nil
}

// inactive lists deactivated users and service principals. It reads every
// user and service principal and keeps the inactive ones: the SDK documents
// filters on eq, co, sw and ne only, and nothing in the public record shows
// the service accepting "active eq false" (a boolean value on a
// non-string attribute), so the sandbox's strict dialect refuses it.
func (d directory) inactive(ctx context.Context) ([]principal, error) {
	var out []principal
	for u, err := range d.users.List(ctx, scim.ListOptions{Attributes: userAttrs}) {
		if err != nil {
			return nil, fmt.Errorf("list inactive users in %s: %w", d.label(), err)
		}
		if !u.IsActive() {
			out = append(out, fromUser(u))
		}
	}
	for s, err := range d.sps.List(ctx, scim.ListOptions{Attributes: spAttrs}) {
		if err != nil {
			return nil, fmt.Errorf("list inactive service principals in %s: %w", d.label(), err)
		}
		if !s.IsActive() {
			out = append(out, fromSP(s))
		}
	}
	return out, nil
}

// members reads a group's direct members. A member's type comes from its
// $ref ("Users/1", "Groups/2", "ServicePrincipals/3") or type field; it is
// "" when neither says.
func (d directory) members(ctx context.Context, groupID string) ([]member, error) {
	g, err := d.groups.Get(ctx, groupID, scim.GetOptions{Attributes: []string{"id", "displayName", "members"}})
	if err != nil {
		return nil, fmt.Errorf("read members of group %s in %s: %w", groupID, d.label(), err)
	}
	out := make([]member, 0, len(g.Members))
	for _, m := range g.Members {
		if m.Value == "" {
			continue
		}
		out = append(out, member{ID: m.Value, Type: memberType(m)})
	}
	return out, nil
}

func memberType(m scim.ComplexValue) PrincipalType {
	ref := m.Ref
	if i := strings.LastIndex(ref, "/v2/"); i >= 0 {
		ref = ref[i+len("/v2/"):]
	}
	switch {
	case strings.HasPrefix(ref, "Users/"), strings.EqualFold(m.Type, "User"):
		return PrincipalUser
	case strings.HasPrefix(ref, "Groups/"), strings.EqualFold(m.Type, "Group"):
		return PrincipalGroup
	case strings.HasPrefix(ref, "ServicePrincipals/"), strings.EqualFold(m.Type, "ServicePrincipal"):
		return PrincipalServicePrincipal
	}
	return ""
}

func (d directory) label() string {
	if d.ws == 0 {
		return d.scope
	}
	return fmt.Sprintf("workspace %d", d.ws)
}

// groupCache holds a directory's membership graph and the principals it
// resolved, shared by every expansion in a run. It is safe for concurrent
// use.
type groupCache struct {
	dir directory

	mu         sync.Mutex
	g          *graph
	principals map[string]principal
}

func newGroupCache(d directory) *groupCache {
	return &groupCache{dir: d, g: newGraph(), principals: map[string]principal{}}
}

// load fetches the members of the groups roots and of every group nested
// in them, unless already known. Members whose type the group did not say
// are resolved by id; those that turn out to be groups are loaded in turn.
func (c *groupCache) load(ctx context.Context, roots []string) error {
	queue := slices.Clone(roots)
	for {
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			c.mu.Lock()
			known := c.g.known(id)
			c.mu.Unlock()
			if known {
				continue
			}
			ms, err := c.dir.members(ctx, id)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.g.set(id, ms)
			c.mu.Unlock()
			for _, m := range ms {
				if m.Type == PrincipalGroup {
					queue = append(queue, m.ID)
				}
			}
		}
		var untyped []member
		c.mu.Lock()
		for _, ms := range c.g.members {
			for _, m := range ms {
				if m.Type == "" {
					untyped = append(untyped, m)
				}
			}
		}
		c.mu.Unlock()
		if len(untyped) == 0 {
			return nil
		}
		if err := c.resolve(ctx, untyped); err != nil {
			return err
		}
		queue = c.retype()
		if len(queue) == 0 {
			return nil
		}
	}
}

// retype gives untyped members the type of their resolved principal (or
// user, when the id resolved to nothing) and returns the groups found that
// way whose members are not loaded yet.
func (c *groupCache) retype() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var groups []string
	for _, ms := range c.g.members {
		for i, m := range ms {
			if m.Type != "" {
				continue
			}
			p, ok := c.principals[m.ID]
			if !ok {
				ms[i].Type = PrincipalUser // unknown id: a member that no longer exists
				continue
			}
			ms[i].Type = p.Type
			if p.Type == PrincipalGroup && !c.g.known(m.ID) && !slices.Contains(groups, m.ID) {
				groups = append(groups, m.ID)
			}
		}
	}
	return groups
}

// expand returns the transitive members of group root (users, service
// principals and nested groups) as principals, after loading them.
func (c *groupCache) expand(ctx context.Context, root string) ([]principal, error) {
	if err := c.load(ctx, []string{root}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	ms, _ := c.g.expand(root)
	c.mu.Unlock()
	if err := c.resolve(ctx, ms); err != nil {
		return nil, err
	}
	out := make([]principal, 0, len(ms))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range ms {
		if p, ok := c.principals[m.ID]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// resolve looks up the principals of members not resolved yet.
func (c *groupCache) resolve(ctx context.Context, ms []member) error {
	types := map[string]PrincipalType{}
	c.mu.Lock()
	for _, m := range ms {
		if _, ok := c.principals[m.ID]; !ok {
			types[m.ID] = m.Type
		}
	}
	c.mu.Unlock()
	if len(types) == 0 {
		return nil
	}
	ps, err := c.dir.byIDs(ctx, types)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, p := range ps {
		c.principals[id] = p
	}
	return nil
}

// solePaths returns, for the candidates (principal ids), the removed
// groups that are their only path to the assigned principals.
func (c *groupCache) solePaths(assigned []string, removed map[string]bool, candidates []string) map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.g.solePaths(assigned, removed, candidates)
}
