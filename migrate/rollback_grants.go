package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// This file is rollback's part for grants. The permission migration API has
// no undo and moves grants off the local group (docs/permission-migration.md,
// rule 1). Rollback puts back, with the permissions and secrets APIs, the
// grants of the plan's baseline that moved and have not changed since: the
// local group (still under its backup name) gets its level back on each
// object and secret scope where the account group holds exactly that level
// and the local group none that includes it. That is faithful: the entry is
// a direct grant of the same principal (the local group keeps its id) at the
// same level, as the baseline recorded it; inherited levels and ownership
// were never in the baseline. The account group loses those grants in that
// workspace (the plan made sure a reused one held none there before, or the
// API would have refused it), whether rollback then deletes it or it stays
// for the local groups of other workspaces, unless another local group of
// the same workspace that stays migrated held the same grant. What rollback cannot put back it says before it changes
// anything: grants that changed since the migration, grants the local group
// received after the plan, and grants on the kinds dbiam does not read
// (notebooks, directories, ..., legacy table ACLs), which it never recorded.
// For the acl-copy route the local group kept its grants, and rollback sets
// the account group's entries back to their recorded levels.

// grantFate is what rollback finds of one baseline grant.
type grantFate int

const (
	fateRestore grantFate = iota // moved, unchanged: rollback puts it back
	fateStayed                   // the local group still holds it (copied, or never moved)
	fateChanged                  // moved, then changed: rollback leaves it
	fateGone                     // the object or secret scope was deleted
)

// grantsPlan is what rollback finds of a group's grants, read before any
// change.
type grantsPlan struct {
	restore, stayed, gone int
	changed               []string // "jobs/107 (account group holds CAN_VIEW, want CAN_MANAGE)"
	// aclCopy counts, for the acl-copy route, the entries rollback sets
	// back and the ones changed since.
	aclCopy bool
	// noBaseline: the plan read no grants of the workspace (a plan of an
	// older dbiam), so nothing can be put back.
	noBaseline bool
}

// objectFate classifies one baseline object grant: from is the local
// group's live name, to the account group's.
func objectFate(gr ObjectGrant, acl scim.ObjectPermissions, from, to string) (grantFate, string) {
	local, account := directLevel(gr.ObjectType, acl, from), directLevel(gr.ObjectType, acl, to)
	switch {
	case local != "" && levelCovers(gr.ObjectType, local, gr.Level):
		return fateStayed, ""
	case account == gr.Level:
		return fateRestore, ""
	}
	return fateChanged, fmt.Sprintf("%s (account group holds %s, local group %s, moved %s)", gr.Object(), orNone(account), orNone(local), gr.Level)
}

// secretFate classifies one baseline secret grant.
func secretFate(gr SecretGrant, acls []SecretACL, from, to string) (grantFate, string) {
	var local, account string
	for _, a := range acls {
		switch a.Principal {
		case from:
			local = a.Permission
		case to:
			account = a.Permission
		}
	}
	switch {
	case local != "" && secretCovers(local, gr.Permission):
		return fateStayed, ""
	case account == gr.Permission:
		return fateRestore, ""
	}
	return fateChanged, fmt.Sprintf("secret scope %q (account group holds %s, local group %s, moved %s)", gr.Scope, orNone(account), orNone(local), gr.Permission)
}

// localName returns the live name of the local group (its backup name
// after apply), by which ACLs name it.
func (gs *groupSteps) localName(ctx context.Context) (string, error) {
	g, err := gs.ex.remote.WorkspaceGroup(ctx, gs.ws.WorkspaceID, gs.g.LocalID)
	if err != nil {
		return "", fmt.Errorf("read group %q: %w", gs.g.BackupName, err)
	}
	return g.DisplayName, nil
}

// inspectGrants reads, without changing anything, what rollback would do
// with the group's grants.
func (gs *groupSteps) inspectGrants(ctx context.Context, d Detail) (grantsPlan, error) {
	var gp grantsPlan
	to := gs.ag.DisplayName
	if routeOf(gs.g) == RouteACLCopy {
		gp.aclCopy = true
		for _, c := range d.ObjectGrants {
			acl, err := gs.ex.remote.ObjectPermissions(ctx, gs.ws.WorkspaceID, c.ObjectType, c.ObjectID)
			switch {
			case isNotFound(err):
				gp.gone++
			case err != nil:
				return gp, fmt.Errorf("read permissions of %s/%s: %w", c.ObjectType, c.ObjectID, err)
			case directLevel(c.ObjectType, acl, to) == c.Level:
				gp.restore++
			default:
				gp.changed = append(gp.changed, fmt.Sprintf("%s/%s (account group holds %s, dbiam gave it %s)", c.ObjectType, c.ObjectID,
					orNone(directLevel(c.ObjectType, acl, to)), c.Level))
			}
		}
		return gp, nil
	}
	gp.noBaseline = gs.ws.Grants == nil
	if gs.g.Grants == nil {
		return gp, nil
	}
	from, err := gs.localName(ctx)
	if err != nil {
		return gp, err
	}
	for _, o := range gs.g.Grants.Objects {
		acl, err := gs.ex.remote.ObjectPermissions(ctx, gs.ws.WorkspaceID, o.ObjectType, o.ObjectID)
		if isNotFound(err) {
			gp.gone++
			continue
		}
		if err != nil {
			return gp, fmt.Errorf("read permissions of %s: %w", o.Object(), err)
		}
		gp.count(objectFate(o, acl, from, to))
	}
	for _, s := range gs.g.Grants.Secrets {
		acls, err := gs.ex.remote.SecretACLs(ctx, gs.ws.WorkspaceID, s.Scope)
		if isNotFound(err) {
			gp.gone++
			continue
		}
		if err != nil {
			return gp, fmt.Errorf("list ACLs of secret scope %q: %w", s.Scope, err)
		}
		gp.count(secretFate(s, acls, from, to))
	}
	return gp, nil
}

func (gp *grantsPlan) count(f grantFate, why string) {
	switch f {
	case fateRestore:
		gp.restore++
	case fateStayed:
		gp.stayed++
	case fateChanged:
		gp.changed = append(gp.changed, why)
	case fateGone:
		gp.gone++
	}
}

// statement says plainly what rollback can and cannot put back of one
// group's grants.
func (gp grantsPlan) statement(gs *groupSteps) string {
	var b strings.Builder
	sets, puts, leaves := "sets", "puts back", "leaves"
	if gs.ex.dryRun {
		sets, puts, leaves = "would set", "would put back", "would leave"
	}
	fmt.Fprintf(&b, "grants of group %q in workspace %s: ", gs.g.LocalName, gs.ws.WorkspaceName)
	if gp.aclCopy {
		fmt.Fprintf(&b, "the local group kept its grants (acl-copy route); rollback %s %s that dbiam gave account group %q back to their levels before",
			sets, plural(gp.restore, "object ACL entry", "object ACL entries"), gs.ag.DisplayName)
		if len(gp.changed) > 0 {
			fmt.Fprintf(&b, "; it %s %d changed since: %s", leaves, len(gp.changed), summarize(gp.changed, 5))
		}
		return b.String()
	}
	if gp.noBaseline {
		fmt.Fprintf(&b, "the plan recorded none (made by an older dbiam), so rollback cannot put back any grant the permission migration API moved to account group %q", gs.ag.DisplayName)
		return b.String()
	}
	fmt.Fprintf(&b, "rollback %s %s of the plan's baseline that the permission migration API moved to account group %q",
		puts, plural(gp.restore, "grant", "grants"), gs.ag.DisplayName)
	if gp.stayed > 0 {
		fmt.Fprintf(&b, " (%d more stayed with the local group)", gp.stayed)
	}
	if gp.gone > 0 {
		fmt.Fprintf(&b, " (%d are on objects or secret scopes deleted since)", gp.gone)
	}
	if len(gp.changed) > 0 {
		fmt.Fprintf(&b, "; it cannot put back %d that changed since the migration: %s", len(gp.changed), summarize(gp.changed, 5))
	}
	fmt.Fprintf(&b, "; it cannot put back what the API moved beyond the baseline: the group's grants on %s, and grants it received after the plan (dbiam never recorded them)", unreadKinds(treeRead(gs.ws.Grants)))
	return b.String()
}

// sayGrants reads, before rollback changes anything, what it can and cannot
// put back of the grants of every group of todo (the groups it rolls back)
// whose permissions step ran, and says it, one line per such group, on
// ex.out and in the log. A read that fails stops the rollback before any
// change. It returns the warning for the summary ("" when no group's
// grants went through the permission migration API).
func (ex *executor) sayGrants(ctx context.Context, todo []groupRef) (string, error) {
	stmt, err := ex.grantsStatement(ctx, todo)
	if err != nil {
		return "", err
	}
	warn := ""
	for _, gr := range todo {
		if v := ex.view(groupStepID(KindMigratePermissions, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil && v.State != "" && routeOf(gr.g) == RouteAPI {
			warn = "the grants the permission migration API moved beyond the plans' baselines are not restored (the lines before the first change name them per group); check them by hand"
			break
		}
	}
	for _, s := range stmt {
		if ex.out != nil {
			fmt.Fprintln(ex.out, s)
		}
		ex.log.Info(s)
	}
	return warn, nil
}

// grantsStatement returns sayGrants' lines.
func (ex *executor) grantsStatement(ctx context.Context, todo []groupRef) ([]string, error) {
	var out []string
	for _, gr := range todo {
		ag := findAG(ex.plan, gr.g.AccountGroupKey)
		v := ex.view(groupStepID(KindMigratePermissions, gr.ws.WorkspaceID, gr.g.LocalID))
		if v == nil || v.State == "" {
			continue
		}
		gs := &groupSteps{ex: ex, ws: gr.ws, g: gr.g, ag: ag, agID: ex.agID(ag)}
		gp, err := gs.inspectGrants(ctx, v.Detail)
		if err != nil {
			return nil, fmt.Errorf("rollback: group %q in workspace %s: %w", gr.g.LocalName, gr.ws.WorkspaceName, err)
		}
		out = append(out, gp.statement(gs))
	}
	return out, nil
}

// undoPermissions is the undo of migrate-permissions (see the file
// comment). It reads every ACL again, so it changes only what is still as
// the migration left it.
func (gs *groupSteps) undoPermissions(ctx, wctx context.Context, d Detail) error {
	rm, wsID, to := gs.ex.remote, gs.ws.WorkspaceID, gs.ag.DisplayName
	kept := gs.keptGrants()
	if routeOf(gs.g) == RouteACLCopy {
		for _, c := range d.ObjectGrants {
			if kept.object(c.ObjectType, c.ObjectID) {
				continue // part of another migrated group's state
			}
			acl, err := rm.ObjectPermissions(ctx, wsID, c.ObjectType, c.ObjectID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read permissions of %s/%s: %w", c.ObjectType, c.ObjectID, err)
			}
			if directLevel(c.ObjectType, acl, to) != c.Level {
				continue // changed since: said so before
			}
			if err := rm.SetObjectPermissions(wctx, wsID, c.ObjectType, c.ObjectID, withGroupLevel(c.ObjectType, acl, to, c.Previous)); err != nil {
				return fmt.Errorf("set account group %q back to %s on %s/%s: %w", to, orNone(c.Previous), c.ObjectType, c.ObjectID, err)
			}
		}
		return nil
	}
	if gs.g.Grants == nil {
		return nil
	}
	from, err := gs.localName(ctx)
	if err != nil {
		return err
	}
	for _, o := range gs.g.Grants.Objects {
		acl, err := rm.ObjectPermissions(ctx, wsID, o.ObjectType, o.ObjectID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read permissions of %s: %w", o.Object(), err)
		}
		fate, _ := objectFate(o, acl, from, to)
		if fate == fateRestore {
			if err := rm.GrantObjectPermission(wctx, wsID, o.ObjectType, o.ObjectID, from, o.Level); err != nil {
				return fmt.Errorf("give local group %q %s on %s back: %w", from, o.Level, o.Object(), err)
			}
		}
		if !kept.object(o.ObjectType, o.ObjectID) && (fate == fateRestore || fate == fateStayed) && directLevel(o.ObjectType, acl, to) == o.Level {
			if acl, err = rm.ObjectPermissions(ctx, wsID, o.ObjectType, o.ObjectID); err != nil {
				return fmt.Errorf("read permissions of %s: %w", o.Object(), err)
			}
			if err := rm.SetObjectPermissions(wctx, wsID, o.ObjectType, o.ObjectID, withGroupLevel(o.ObjectType, acl, to, "")); err != nil {
				return fmt.Errorf("remove account group %q from %s: %w", to, o.Object(), err)
			}
		}
	}
	for _, s := range gs.g.Grants.Secrets {
		acls, err := rm.SecretACLs(ctx, wsID, s.Scope)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list ACLs of secret scope %q: %w", s.Scope, err)
		}
		fate, _ := secretFate(s, acls, from, to)
		if fate == fateRestore {
			if err := rm.PutSecretACL(wctx, wsID, SecretACL{Scope: s.Scope, Principal: from, Permission: s.Permission}); err != nil {
				return fmt.Errorf("give local group %q %s on secret scope %q back: %w", from, s.Permission, s.Scope, err)
			}
		}
		if !kept.scopes[s.Scope] && (fate == fateRestore || fate == fateStayed) && secretHeld(acls, to) == s.Permission {
			if err := rm.DeleteSecretACL(wctx, wsID, s.Scope, to); err != nil && !errors.Is(err, scim.ErrNotFound) {
				return fmt.Errorf("remove account group %q from secret scope %q: %w", to, s.Scope, err)
			}
		}
	}
	return nil
}

// secretHeld returns principal's permission in acls, "" when none.
func secretHeld(acls []SecretACL, principal string) string {
	for _, a := range acls {
		if a.Principal == principal {
			return a.Permission
		}
	}
	return ""
}

// keptSet is what other local groups of a workspace, mapped to the same
// account group and still migrated, hold of their baselines: the account
// group keeps those grants when one of them is rolled back.
type keptSet struct {
	objects map[dryObject]bool
	scopes  map[string]bool
}

func (k keptSet) object(typ, id string) bool { return k.objects[dryObject{0, typ, id}] }

// keptGrants returns the grants the account group keeps for the other
// local groups of gs's workspace mapped to it whose permissions step is not
// undone (rollback undoes groups one at a time: the last one rolled back
// takes the grants off).
func (gs *groupSteps) keptGrants() keptSet {
	k := keptSet{objects: map[dryObject]bool{}, scopes: map[string]bool{}}
	for i := range gs.ws.Groups {
		o := &gs.ws.Groups[i]
		if o.Skipped != "" || o.LocalID == gs.g.LocalID || o.AccountGroupKey != gs.g.AccountGroupKey || o.Grants == nil {
			continue
		}
		if v := gs.ex.view(groupStepID(KindMigratePermissions, gs.ws.WorkspaceID, o.LocalID)); v == nil || v.State == "" {
			continue
		}
		for _, g := range o.Grants.Objects {
			k.objects[dryObject{0, g.ObjectType, g.ObjectID}] = true
		}
		for _, s := range o.Grants.Secrets {
			k.scopes[s.Scope] = true
		}
	}
	return k
}

// movedGrantsBound is how many grants of gr's baseline rollback may put
// back (its permissions step ran through the API), for the confirmation
// summary, which reads nothing.
func movedGrantsBound(ex *executor, gr groupRef) int {
	if routeOf(gr.g) != RouteAPI {
		return 0
	}
	if v := ex.view(groupStepID(KindMigratePermissions, gr.ws.WorkspaceID, gr.g.LocalID)); v == nil || v.State == "" {
		return 0
	}
	return gr.g.Grants.Len()
}
