package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dbiam/dbiam/scim"
)

// groupSteps runs the per-group steps of one local group.
type groupSteps struct {
	ex   *executor
	ws   *WorkspacePlan
	g    *GroupPlan
	ag   *AccountGroupPlan
	agID string
	live *scim.Group // the local group as read by checkDrift
}

func (gs *groupSteps) spec(kind StepKind) stepSpec {
	return stepSpec{id: groupStepID(kind, gs.ws.WorkspaceID, gs.g.LocalID), kind: kind, wsID: gs.ws.WorkspaceID, group: gs.g.LocalName}
}

func (gs *groupSteps) fn(kind StepKind) func(*stepRun) (*Detail, error) {
	switch kind {
	case KindRenameLocal:
		return gs.renameLocal
	case KindAssignWorkspace:
		return gs.assignWorkspace
	case KindWaitVisible:
		return gs.waitVisible
	case KindCopyEntitlements:
		return gs.copyEntitlements
	case KindMigratePermissions:
		return gs.migratePermissions
	case KindMigrateSecretACLs:
		return gs.migrateSecretACLs
	case KindVerify:
		return gs.verify
	}
	panic("migrate: no step function for " + string(kind))
}

func (gs *groupSteps) stale(what string) *StaleError {
	return &StaleError{Group: gs.g.LocalName, Workspace: gs.ws.WorkspaceName, WorkspaceID: gs.ws.WorkspaceID, What: what}
}

// checkDrift compares the local group's live state with the plan's
// preconditions before anything is done to it. It returns the first step
// not yet done, for the failure record.
func (gs *groupSteps) checkDrift(ctx context.Context) (StepKind, error) {
	first := KindVerify
	for _, k := range groupKinds {
		if v := gs.ex.view(groupStepID(k, gs.ws.WorkspaceID, gs.g.LocalID)); v == nil || v.State != StateDone {
			first = k
			break
		}
	}
	live, err := gs.ex.remote.WorkspaceGroup(ctx, gs.ws.WorkspaceID, gs.g.LocalID)
	switch {
	case errors.Is(err, scim.ErrNotFound):
		return first, gs.stale("the group was deleted")
	case err != nil:
		return first, fmt.Errorf("read group %q: %w", gs.g.LocalName, err)
	case !live.IsWorkspaceLocal():
		return first, gs.stale("it is no longer a workspace-local group")
	case live.DisplayName != gs.g.LocalName && live.DisplayName != gs.g.BackupName:
		return first, gs.stale(fmt.Sprintf("it was renamed to %q", live.DisplayName))
	case MembersDigest(live.Members) != gs.g.MembersDigest:
		return first, gs.stale("members differ")
	}
	gs.live = &live
	return first, nil
}

// renameLocal renames the local group to its backup name, freeing the name
// for the account group and making it a valid permission migration source.
func (gs *groupSteps) renameLocal(r *stepRun) (*Detail, error) {
	d := &Detail{PreviousName: gs.g.LocalName, NewName: gs.g.BackupName}
	if gs.live != nil && gs.live.DisplayName == gs.g.BackupName {
		return d, nil // renamed by an earlier run whose record was lost
	}
	if err := gs.ex.remote.RenameWorkspaceGroup(r.sending(d), gs.ws.WorkspaceID, gs.g.LocalID, gs.g.BackupName); err != nil {
		return nil, fmt.Errorf("rename group %q to %q: %w", gs.g.LocalName, gs.g.BackupName, err)
	}
	return d, nil
}

// nameHolders returns the other migrated local groups of gs's workspace
// that map to the same account group and hold its name: the account group
// cannot be assigned to the workspace until they are renamed.
func (gs *groupSteps) nameHolders() []*GroupPlan {
	var out []*GroupPlan
	for i := range gs.ws.Groups {
		o := &gs.ws.Groups[i]
		if o.Skipped == "" && o.LocalID != gs.g.LocalID && o.AccountGroupKey == gs.g.AccountGroupKey &&
			strings.EqualFold(o.LocalName, gs.ag.DisplayName) {
			out = append(out, o)
		}
	}
	return out
}

// waitNameFree waits until every other local group of the workspace that
// maps to the same account group and holds its name is renamed (or has
// stopped, which is an error: the assignment would fail).
func (gs *groupSteps) waitNameFree(ctx context.Context) error {
	if v := gs.ex.view(groupStepID(KindAssignWorkspace, gs.ws.WorkspaceID, gs.g.LocalID)); v != nil && v.State == StateDone {
		return nil
	}
	for _, o := range gs.nameHolders() {
		id := groupStepID(KindRenameLocal, gs.ws.WorkspaceID, o.LocalID)
		if sig := gs.ex.renamed[id]; sig != nil {
			// Waiting for another group: let the groups warmUp holds back go.
			gs.ex.warm.open()
			select {
			case <-sig.ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if v := gs.ex.view(id); v == nil || v.State != StateDone {
			return fmt.Errorf("local group %q, also migrated to account group %q, still has its name (its rename did not finish); the account group can be assigned to workspace %s only after that rename: fix that group and run apply again",
				o.LocalName, gs.ag.DisplayName, gs.ws.WorkspaceName)
		}
	}
	return nil
}

// hasAssignment reports whether principal id holds USER or ADMIN.
func hasAssignment(as []scim.PermissionAssignment, id string) bool {
	for _, a := range as {
		if strconv.FormatInt(a.Principal.PrincipalID, 10) != id {
			continue
		}
		if slices.Contains(a.Permissions, scim.PermissionUser) || slices.Contains(a.Permissions, scim.PermissionAdmin) {
			return true
		}
	}
	return false
}

// assignWorkspace gives the account group USER access to the workspace,
// unless it already has access (an ADMIN assignment is never downgraded).
func (gs *groupSteps) assignWorkspace(r *stepRun) (*Detail, error) {
	as, err := gs.ex.remote.Assignments(r.ctx, gs.ws.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("list assignments of workspace %d: %w", gs.ws.WorkspaceID, err)
	}
	if hasAssignment(as, gs.agID) {
		return &Detail{Assigned: r.view.Detail.Assigned}, nil
	}
	d := &Detail{Assigned: true}
	if err := gs.ex.remote.PutAssignment(r.sending(d), gs.ws.WorkspaceID, gs.agID, []string{scim.PermissionUser}); err != nil {
		return nil, fmt.Errorf("assign account group %q to workspace %d: %w", gs.ag.DisplayName, gs.ws.WorkspaceID, err)
	}
	return d, nil
}

// waitVisible polls until the workspace lists the account group (by id)
// and the local group under its backup name: permission migration resolves
// both by name through the same eventually consistent view.
func (gs *groupSteps) waitVisible(r *stepRun) (*Detail, error) {
	ex := gs.ex
	var waited, sinceLog time.Duration
	delay := 250 * time.Millisecond
	for {
		agOK, _, err := ex.remote.WorkspaceGroupVisible(r.ctx, gs.ws.WorkspaceID, gs.agID)
		if err != nil {
			return nil, fmt.Errorf("look for account group %q in workspace %d: %w", gs.ag.DisplayName, gs.ws.WorkspaceID, err)
		}
		localOK, name, err := ex.remote.WorkspaceGroupVisible(r.ctx, gs.ws.WorkspaceID, gs.g.LocalID)
		if err != nil {
			return nil, fmt.Errorf("look for group %q in workspace %d: %w", gs.g.BackupName, gs.ws.WorkspaceID, err)
		}
		localOK = localOK && name == gs.g.BackupName
		if agOK && localOK {
			return &Detail{WaitedMS: waited.Milliseconds()}, nil
		}
		if ex.dryRun {
			// Nothing was changed, so there is nothing to wait for.
			ex.log.Info("would wait for the workspace to see the account group", "workspace", gs.ws.WorkspaceName,
				"group", gs.g.LocalName, "account_group", gs.ag.DisplayName)
			return &Detail{}, nil
		}
		if waited >= ex.opts.VisibleTimeout {
			what := fmt.Sprintf("account group %q (id %s)", gs.ag.DisplayName, gs.agID)
			if agOK {
				what = fmt.Sprintf("the rename of %q to %q", gs.g.LocalName, gs.g.BackupName)
			}
			return nil, fmt.Errorf("%s is not visible in workspace %s (%d) after %s; the workspace may still be catching up: run apply again later",
				what, gs.ws.WorkspaceName, gs.ws.WorkspaceID, waited)
		}
		if sinceLog >= 10*time.Second {
			ex.log.Info("waiting for the workspace to see the account group", "workspace", gs.ws.WorkspaceName,
				"group", gs.g.LocalName, "account_group", gs.ag.DisplayName, "waited", waited, "budget", ex.opts.VisibleTimeout)
			sinceLog = 0
		}
		if err := ex.pause(r.parent, delay); err != nil {
			return nil, err
		}
		waited += delay
		sinceLog += delay
		delay = min(2*delay, 8*time.Second)
	}
}

// values returns the values of complex attributes.
func values(cv []scim.ComplexValue) []string {
	out := make([]string, 0, len(cv))
	for _, v := range cv {
		out = append(out, v.Value)
	}
	return out
}

// minus returns the elements of want not in have, in want's order.
func minus(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// copyEntitlements adds the local group's entitlements and roles to the
// account group in this workspace, recording what it added.
func (gs *groupSteps) copyEntitlements(r *stepRun) (*Detail, error) {
	live, err := gs.ex.remote.WorkspaceGroup(r.ctx, gs.ws.WorkspaceID, gs.agID)
	if err != nil {
		return nil, fmt.Errorf("read account group %q in workspace %d: %w", gs.ag.DisplayName, gs.ws.WorkspaceID, err)
	}
	ents := minus(gs.g.Entitlements, values(live.Entitlements))
	roles := minus(gs.g.Roles, values(live.Roles))
	prior := r.view.Detail
	if len(ents) == 0 && len(roles) == 0 {
		return &Detail{Entitlements: prior.Entitlements, Roles: prior.Roles}, nil
	}
	d := &Detail{Entitlements: union(prior.Entitlements, ents), Roles: union(prior.Roles, roles)}
	if err := gs.ex.remote.AddWorkspaceGroupEntitlements(r.sending(d), gs.ws.WorkspaceID, gs.agID, ents, roles); err != nil {
		return nil, fmt.Errorf("add entitlements to account group %q in workspace %d: %w", gs.ag.DisplayName, gs.ws.WorkspaceID, err)
	}
	return d, nil
}

// secretRank orders secret scope permissions.
func secretRank(p string) int {
	switch strings.ToUpper(p) {
	case "READ":
		return 1
	case "WRITE":
		return 2
	case "MANAGE":
		return 3
	}
	return 0
}

// migrateSecretACLs gives the account group, on every secret scope, the
// permission the local group has there (never lowering one it has).
func (gs *groupSteps) migrateSecretACLs(r *stepRun) (*Detail, error) {
	adds, err := gs.secretACLDiff(r.ctx)
	if err != nil {
		return nil, err
	}
	prior := r.view.Detail.SecretACLs
	if len(adds) == 0 {
		return &Detail{SecretACLs: prior}, nil
	}
	all := slices.Clone(prior)
	for _, a := range adds {
		if !slices.ContainsFunc(all, func(p SecretACL) bool { return p.Scope == a.Scope && p.Principal == a.Principal }) {
			all = append(all, a)
		}
	}
	d := &Detail{SecretACLs: all}
	wctx := r.sending(d)
	for _, a := range adds {
		if err := gs.ex.remote.PutSecretACL(wctx, gs.ws.WorkspaceID, SecretACL{Scope: a.Scope, Principal: a.Principal, Permission: a.Permission}); err != nil {
			return nil, fmt.Errorf("put secret ACL of scope %q for %q: %w", a.Scope, a.Principal, err)
		}
	}
	return d, nil
}

// secretACLDiff returns the ACLs the account group lacks: for each scope on
// which the local (backup) group has, or had according to the plan's
// baseline, a permission higher than the account group's.
func (gs *groupSteps) secretACLDiff(ctx context.Context) ([]SecretACL, error) {
	return secretACLDiff(ctx, gs.ex.remote, gs.ws.WorkspaceID, gs.g.BackupName, gs.ag.DisplayName, baselineSecrets(gs.g))
}

// baselineSecrets returns the secret scope grants of g's baseline.
func baselineSecrets(g *GroupPlan) []SecretGrant {
	if g.Grants == nil {
		return nil
	}
	return g.Grants.Secrets
}

// secretACLDiff returns, for every secret scope on which from holds a
// permission, or held one according to base, higher than to's, the ACL
// that gives to that permission (Previous: to's permission now). The
// permission migration API moves secret scope ACLs (the local group keeps
// none), so the baseline is what from held before apply.
func secretACLDiff(ctx context.Context, rd Reader, wsID int64, from, to string, base []SecretGrant) ([]SecretACL, error) {
	scopes, err := rd.SecretScopes(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("list secret scopes of workspace %d: %w", wsID, err)
	}
	var out []SecretACL
	for _, scope := range scopes {
		acls, err := rd.SecretACLs(ctx, wsID, scope)
		if err != nil {
			return nil, fmt.Errorf("list ACLs of secret scope %q: %w", scope, err)
		}
		var src, dst string
		for _, b := range base {
			if b.Scope == scope && secretRank(b.Permission) > secretRank(src) {
				src = b.Permission
			}
		}
		for _, a := range acls {
			switch a.Principal {
			case from:
				if secretRank(a.Permission) > secretRank(src) {
					src = a.Permission
				}
			case to:
				dst = a.Permission
			}
		}
		if src == "" || secretRank(dst) >= secretRank(src) {
			continue
		}
		out = append(out, SecretACL{Scope: scope, Principal: to, Permission: src, Previous: dst})
	}
	return out, nil
}

// verify checks the group's end state in the workspace.
func (gs *groupSteps) verify(r *stepRun) (*Detail, error) {
	diffs, _, err := verifyGroup(r.ctx, gs.ex.remote, gs.ws, gs.g, gs.ag, gs.agID)
	if err != nil {
		return nil, err
	}
	if len(diffs) > 0 {
		return &Detail{Differences: diffs}, fmt.Errorf("verify found %d differences: %s", len(diffs), strings.Join(diffs, "; "))
	}
	return &Detail{}, nil
}
