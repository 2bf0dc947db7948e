package migrate

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// dryRunIDPrefix starts the ids of account groups a dry run pretends to
// create: negative numbers, which no real principal has.
const dryRunIDPrefix = "-"

// DryRun wraps r for --dry-run: reads pass through, and every write is
// replaced by the log line "skipped <action> <target> (--dry-run)" and
// remembered, so that later reads of the same run see it (a group the dry
// run "created" can be read back, "assigned" and found visible). Nothing
// is changed remotely. The result is safe for concurrent use.
func DryRun(r Remote, log *reports.Logger) Remote {
	return DryRunPlan(r, log, nil)
}

// DryRunPlan is DryRun for plan p: its log lines name workspaces and
// groups by name (from the plan, the journal's views, and every group the
// run reads or pretends to create), never by an id alone; a pretend
// group's id never shows. p and views may be nil.
func DryRunPlan(r Remote, log *reports.Logger, p *Plan, views ...map[string]*StepView) Remote {
	d := newDryRun(r, log)
	if p != nil {
		for _, w := range p.Workspaces {
			d.wsNames[w.WorkspaceID] = w.WorkspaceName
			for _, g := range w.Groups {
				d.names[g.LocalID] = g.LocalName
			}
		}
		for _, ag := range p.AccountGroups {
			if ag.ExistingID != "" {
				d.names[ag.ExistingID] = ag.DisplayName
			}
			for _, v := range views {
				if sv := v[accountGroupStepID(ag.Key)]; sv != nil && sv.Detail.AccountGroupID != "" {
					d.names[sv.Detail.AccountGroupID] = ag.DisplayName
				}
			}
			for _, m := range ag.Members {
				if m.AccountID != "" {
					d.names[m.AccountID] = memberLabel(m)
				}
			}
		}
	}
	return d
}

func newDryRun(r Remote, log *reports.Logger) *dryRun {
	return &dryRun{next: r, log: log, names: map[string]string{}, wsNames: map[int64]string{},
		groups:  map[string]*scim.Group{},
		members: map[string][]string{},
		renames: map[wsKey]string{},
		assign:  map[wsKey][]string{},
		ents:    map[wsKey][2][]string{},
		acls:    map[aclKey]string{},
		deleted: map[wsKey]bool{},
	}
}

type wsKey struct {
	ws int64 // 0 for the account
	id string
}

type aclKey struct {
	ws               int64
	scope, principal string
}

type dryRun struct {
	next Remote
	log  *reports.Logger

	mu      sync.Mutex
	n       int
	groups  map[string]*scim.Group // pretend-created account groups by id
	members map[string][]string    // pretend-added members by account group id
	renames map[wsKey]string
	assign  map[wsKey][]string    // (ws, principal) -> perms; nil perms = removed
	ents    map[wsKey][2][]string // (ws, group) -> added entitlements, roles
	acls    map[aclKey]string     // "" = removed
	deleted map[wsKey]bool        // (0, account group) or (ws, local group)
	grants  *dryGrants            // dryrun_grants.go
	names   map[string]string     // principal id -> name, for log lines
	wsNames map[int64]string      // workspace id -> name
}

// groupName names a principal id in a log line: its quoted name when the
// run knows it, else "id N". d.mu is held.
func (d *dryRun) groupName(id string) string {
	if n, ok := d.names[id]; ok && n != "" {
		return strconv.Quote(n)
	}
	return "id " + id
}

// wsName names a workspace in a log line: "name (id)". d.mu is held.
func (d *dryRun) wsName(id int64) string {
	if n := d.wsNames[id]; n != "" {
		return fmt.Sprintf("%s (%d)", n, id)
	}
	return strconv.FormatInt(id, 10)
}

// learn remembers the names of a group the run read, and of its members.
func (d *dryRun) learn(g scim.Group) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g.ID != "" && g.DisplayName != "" {
		d.names[g.ID] = g.DisplayName
	}
	for _, m := range g.Members {
		if _, ok := d.names[m.Value]; !ok && m.Display != "" {
			d.names[m.Value] = m.Display
		}
	}
}

var _ Remote = (*dryRun)(nil)

// skip logs the write a dry run does not send. It runs ctx's before-send
// hooks first, where a client would send (scim.RunBeforeSend), so that a
// command noting which steps send a write (rollback's "rolled back" or
// "already as before apply") reports the dry run as it would the run;
// a dry run installs no journaling hook, so a hook's error is ignored.
func (d *dryRun) skip(ctx context.Context, action, target string) {
	_ = scim.RunBeforeSend(ctx)
	d.log.Info(fmt.Sprintf("skipped %s %s (--dry-run)", action, target))
}

func notFoundErr(path string) error {
	return &scim.APIError{Method: http.MethodGet, Path: path, StatusCode: http.StatusNotFound, ErrorCode: "RESOURCE_DOES_NOT_EXIST",
		Message: "(--dry-run) the object was deleted by this dry run"}
}

func (d *dryRun) AccountGroup(ctx context.Context, id string) (scim.Group, error) {
	d.mu.Lock()
	if d.deleted[wsKey{0, id}] {
		d.mu.Unlock()
		return scim.Group{}, notFoundErr("account group " + id)
	}
	g, fake := d.groups[id]
	added := slices.Clone(d.members[id])
	d.mu.Unlock()
	var out scim.Group
	if fake {
		out = *g
		out.Members = slices.Clone(g.Members)
	} else {
		var err error
		if out, err = d.next.AccountGroup(ctx, id); err != nil {
			return out, err
		}
		d.learn(out)
	}
	for _, m := range added {
		if !slices.ContainsFunc(out.Members, func(c scim.ComplexValue) bool { return c.Value == m }) {
			out.Members = append(out.Members, scim.ComplexValue{Value: m})
		}
	}
	return out, nil
}

func (d *dryRun) FindAccountGroups(ctx context.Context, displayName string) ([]scim.Group, error) {
	gs, err := d.next.FindAccountGroups(ctx, displayName)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	gs = slices.DeleteFunc(gs, func(g scim.Group) bool { return d.deleted[wsKey{0, g.ID}] })
	for _, g := range d.groups {
		if g.DisplayName == displayName && !d.deleted[wsKey{0, g.ID}] {
			gs = append(gs, *g)
		}
	}
	return gs, nil
}

func (d *dryRun) Assignments(ctx context.Context, workspaceID int64) ([]scim.PermissionAssignment, error) {
	var as []scim.PermissionAssignment
	var err error
	if workspaceID != 0 {
		as, err = d.next.Assignments(ctx, workspaceID)
		if err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := as[:0:0]
	for _, a := range as {
		k := wsKey{workspaceID, strconv.FormatInt(a.Principal.PrincipalID, 10)}
		if perms, ok := d.assign[k]; ok {
			if perms == nil {
				continue
			}
			a.Permissions = perms
		}
		out = append(out, a)
	}
	for k, perms := range d.assign {
		if k.ws != workspaceID || perms == nil || hasAssignment(out, k.id) {
			continue
		}
		n, _ := strconv.ParseInt(k.id, 10, 64)
		out = append(out, scim.PermissionAssignment{Permissions: perms, Principal: scim.Principal{PrincipalID: n}})
	}
	return out, nil
}

// isFake reports whether id is a pretend-created group. d.mu is held.
func (d *dryRun) isFake(id string) bool {
	_, ok := d.groups[id]
	return ok
}

func (d *dryRun) WorkspaceGroup(ctx context.Context, workspaceID int64, id string) (scim.Group, error) {
	d.mu.Lock()
	fake := d.isFake(id)
	var g scim.Group
	if fake {
		g = *d.groups[id]
		g.Meta = &scim.Meta{ResourceType: scim.ResourceTypeAccountGroup}
	}
	gone := d.deleted[wsKey{workspaceID, id}] || d.deleted[wsKey{0, id}]
	d.mu.Unlock()
	if gone {
		return scim.Group{}, notFoundErr("group " + id)
	}
	if !fake {
		var err error
		if g, err = d.next.WorkspaceGroup(ctx, workspaceID, id); err != nil {
			return g, err
		}
		d.learn(g)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k := wsKey{workspaceID, id}
	if name, ok := d.renames[k]; ok {
		g.DisplayName = name
	}
	if e, ok := d.ents[k]; ok {
		for _, v := range e[0] {
			g.Entitlements = append(g.Entitlements, scim.ComplexValue{Value: v})
		}
		for _, v := range e[1] {
			g.Roles = append(g.Roles, scim.ComplexValue{Value: v})
		}
	}
	return g, nil
}

func (d *dryRun) WorkspaceGroupVisible(ctx context.Context, workspaceID int64, id string) (bool, string, error) {
	d.mu.Lock()
	fake := d.isFake(id)
	name := ""
	if fake {
		name = d.groups[id].DisplayName
	}
	perms, assigned := d.assign[wsKey{workspaceID, id}]
	rename, renamed := d.renames[wsKey{workspaceID, id}]
	gone := d.deleted[wsKey{workspaceID, id}] || d.deleted[wsKey{0, id}]
	d.mu.Unlock()
	if gone || (assigned && perms == nil) {
		return false, "", nil
	}
	vis := false
	if fake {
		vis = assigned
	} else {
		var err error
		if vis, name, err = d.next.WorkspaceGroupVisible(ctx, workspaceID, id); err != nil {
			return false, "", err
		}
		vis = vis || assigned
	}
	if renamed {
		name = rename
	}
	return vis, name, nil
}

func (d *dryRun) SecretScopes(ctx context.Context, workspaceID int64) ([]string, error) {
	return d.next.SecretScopes(ctx, workspaceID)
}

func (d *dryRun) SecretACLs(ctx context.Context, workspaceID int64, scope string) ([]SecretACL, error) {
	acls, err := d.next.SecretACLs(ctx, workspaceID, scope)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := acls[:0:0]
	seen := map[string]bool{}
	for _, a := range acls {
		a.Principal = d.movedName(workspaceID, a.Principal)
		seen[a.Principal] = true
		if p, ok := d.acls[aclKey{workspaceID, scope, a.Principal}]; ok {
			if p == "" {
				continue
			}
			a.Permission = p
		}
		out = append(out, a)
	}
	for k, p := range d.acls {
		if k.ws == workspaceID && k.scope == scope && p != "" && !seen[k.principal] {
			out = append(out, SecretACL{Scope: scope, Principal: k.principal, Permission: p})
		}
	}
	return out, nil
}

func (d *dryRun) CreateAccountGroup(ctx context.Context, g scim.Group) (scim.Group, error) {
	d.skip(ctx, "create account group", fmt.Sprintf("%q with %d members", g.DisplayName, len(g.Members)))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	c := g
	c.ID = dryRunIDPrefix + strconv.Itoa(d.n)
	c.Members = slices.Clone(g.Members)
	d.groups[c.ID] = &c
	d.names[c.ID] = c.DisplayName
	return c, nil
}

func (d *dryRun) AddAccountGroupMembers(ctx context.Context, id string, memberIDs []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "add members to account group", fmt.Sprintf("%s (%d members)", d.groupName(id), len(memberIDs)))
	d.members[id] = append(d.members[id], memberIDs...)
	return nil
}

func (d *dryRun) RemoveAccountGroupMember(ctx context.Context, id, memberID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "remove member from account group", fmt.Sprintf("%s (member %s)", d.groupName(id), d.groupName(memberID)))
	return nil
}

func (d *dryRun) DeleteAccountGroup(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "delete account group", d.groupName(id))
	d.deleted[wsKey{0, id}] = true
	return nil
}

func (d *dryRun) PutAssignment(ctx context.Context, workspaceID int64, principalID string, perms []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "assign", fmt.Sprintf("%s to workspace %s as %v", d.groupName(principalID), d.wsName(workspaceID), perms))
	d.assign[wsKey{workspaceID, principalID}] = slices.Clone(perms)
	return nil
}

func (d *dryRun) DeleteAssignment(ctx context.Context, workspaceID int64, principalID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "unassign", fmt.Sprintf("%s from workspace %s", d.groupName(principalID), d.wsName(workspaceID)))
	d.assign[wsKey{workspaceID, principalID}] = nil
	return nil
}

func (d *dryRun) RenameWorkspaceGroup(ctx context.Context, workspaceID int64, id, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "rename group", fmt.Sprintf("%s in workspace %s to %q", d.groupName(id), d.wsName(workspaceID), name))
	d.renames[wsKey{workspaceID, id}] = name
	return nil
}

func (d *dryRun) AddWorkspaceGroupEntitlements(ctx context.Context, workspaceID int64, id string, entitlements, roles []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "add entitlements", fmt.Sprintf("%v and roles %v to group %s in workspace %s", entitlements, roles, d.groupName(id), d.wsName(workspaceID)))
	k := wsKey{workspaceID, id}
	e := d.ents[k]
	e[0] = append(e[0], entitlements...)
	e[1] = append(e[1], roles...)
	d.ents[k] = e
	return nil
}

func (d *dryRun) RemoveWorkspaceGroupEntitlements(ctx context.Context, workspaceID int64, id string, entitlements, roles []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "remove entitlements", fmt.Sprintf("%v and roles %v from group %s in workspace %s", entitlements, roles, d.groupName(id), d.wsName(workspaceID)))
	return nil
}

func (d *dryRun) DeleteWorkspaceGroup(ctx context.Context, workspaceID int64, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "delete group", fmt.Sprintf("%s in workspace %s", d.groupName(id), d.wsName(workspaceID)))
	d.deleted[wsKey{workspaceID, id}] = true
	return nil
}

func (d *dryRun) MigratePermissions(ctx context.Context, workspaceID int64, from, to string, size int) (int, error) {
	d.mu.Lock()
	d.skip(ctx, "migrate permissions", fmt.Sprintf("of %q to %q in workspace %s", from, to, d.wsName(workspaceID)))
	d.mu.Unlock()
	d.pretendMove(ctx, workspaceID, from, to)
	return 0, nil
}

func (d *dryRun) PutSecretACL(ctx context.Context, workspaceID int64, acl SecretACL) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "put secret ACL", fmt.Sprintf("%s on scope %q for %q in workspace %s", acl.Permission, acl.Scope, acl.Principal, d.wsName(workspaceID)))
	d.acls[aclKey{workspaceID, acl.Scope, acl.Principal}] = acl.Permission
	return nil
}

func (d *dryRun) DeleteSecretACL(ctx context.Context, workspaceID int64, scope, principal string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "delete secret ACL", fmt.Sprintf("on scope %q for %q in workspace %s", scope, principal, d.wsName(workspaceID)))
	d.acls[aclKey{workspaceID, scope, principal}] = ""
	return nil
}
