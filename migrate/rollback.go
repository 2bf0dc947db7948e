package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// RollbackOptions are the options of "dbiam migrate rollback".
type RollbackOptions struct {
	// JournalDir is the journal directory of the apply to undo.
	JournalDir string
	// Groups restricts the rollback to these local or account group names;
	// empty means every group. An account group is deleted (or its added
	// members removed) only when all its local groups are rolled back.
	Groups []string
	// DryRun logs what would be undone and changes nothing.
	DryRun bool
	// Force deletes an account group dbiam created even when it changed
	// since the migration (other members, other workspace assignments);
	// without it such a group is kept and reported as failed.
	Force bool
	// ForceUnlock removes another run's lock.
	ForceUnlock bool
	// Yes skips the confirmation (--yes); without it a run that is not
	// on a terminal is refused before any change.
	Yes bool
	// Remote, if set, is used instead of connecting (tests).
	Remote Remote
	// VisibleTimeout bounds how long rollback waits for lists to show an
	// account group whose create was sent but not acknowledged (the same
	// budget apply uses); 0 means DefaultVisibleTimeout.
	VisibleTimeout time.Duration
	// Sleep, if set, replaces the timer of that wait (tests).
	Sleep func(ctx context.Context, d time.Duration) error
}

// RollbackResult summarises a rollback.
type RollbackResult struct {
	Groups        int // local groups rolled back: rollback restored something of them
	AccountGroups int // account groups deleted or restored
	// AsBefore and AccountGroupsAsBefore count the local and account
	// groups the journal shows changed whose live state was already as
	// before apply (e.g. the journal of another environment, or undone by
	// hand): nothing to undo, so they are not said to be rolled back. A
	// dry run, which sends nothing, counts them with Groups.
	AsBefore, AccountGroupsAsBefore int
	Failed                          []string // "<group>: <error>", refused groups included
	// Refused counts the groups (of Failed) rollback refused before any
	// change because it could not restore them exactly; they stay as they
	// were.
	Refused  int
	Warnings []string
}

// RunRollback undoes the finished (and interrupted) steps of an apply in
// reverse order: secret scope ACLs dbiam added are removed (or lowered back),
// entitlements and roles it added are removed, the grants the permission
// migration moved go back to the local group as far as the plan's baseline
// recorded them and they did not change since (a line per group on stdout,
// before the first change, says what can and cannot be put back; see
// rollback_grants.go), the account group's workspace
// assignment is removed if dbiam made it, the backup group gets its name
// back, and account groups dbiam created (and only those) are deleted;
// members dbiam added to a reused account group are removed. Every undo is
// journaled, so a rollback resumes too. It returns a *PartialError when
// some groups could not be rolled back.
//
// An account group dbiam created is read before it is deleted, and kept
// (reported as failed) when others have started to use it since: it has
// members dbiam did not set, or lacks some it set after its ensure step
// finished, or it is assigned to a workspace of the plan where dbiam did
// not assign it. opts.Force deletes it anyway. Grants on the group (Unity
// Catalog, workspace objects, secret scopes other than those dbiam copied)
// are not checked: they cannot be listed per principal without reading
// every object, so a group whose only new use is a grant is deleted. Nor
// are assignments to workspaces the plan does not list as federated and
// running (the plan did not read them).
func RunRollback(ctx context.Context, opts RollbackOptions, d Deps) error {
	if opts.JournalDir == "" {
		return errors.New("rollback: flag --journal is required: the journal directory apply used")
	}
	ex, done, err := openJournalRun(ctx, journalRun{op: "rollback", dir: opts.JournalDir, groups: opts.Groups, dryRun: opts.DryRun,
		forceUnlock: opts.ForceUnlock, remote: opts.Remote, visibleTimeout: opts.VisibleTimeout, sleep: opts.Sleep,
		yes: opts.Yes, verb: "roll back", changes: rollbackChanges}, d)
	if err != nil {
		return err
	}
	defer done()
	if d.Streams != nil {
		ex.out = d.Streams.Out
	}
	res, err := ex.rollback(ctx, opts.Groups, opts.Force, d.Streams)
	if d.Streams != nil {
		if opts.DryRun {
			fmt.Fprintf(d.Streams.Out, "Rollback (dry run): %s\n", res.wouldDo())
		} else {
			fmt.Fprintf(d.Streams.Out, "Rollback: %s\n", res.did())
		}
		for _, f := range res.Failed {
			fmt.Fprintf(d.Streams.Out, "  failed: %s\n", f)
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(d.Streams.Out, "  warning: %s\n", w)
		}
	}
	did := res.did()
	if opts.DryRun {
		did = res.wouldDo()
	}
	d.setOutcome(journalOutcome("migrate rollback", opts.JournalDir, opts.DryRun, did))
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("rollback interrupted; run the same command again to resume: %w", ctx.Err())
	}
	if len(res.Failed) > 0 {
		hint := "fix the causes shown and run rollback again"
		if res.Refused > 0 {
			hint = fmt.Sprintf("%d of them were refused before any change and stay as the lines above say; fix the other causes shown and run rollback again", res.Refused)
			if res.Refused == len(res.Failed) {
				hint = "they were refused before any change and stay as the lines above say"
			}
		}
		return &PartialError{Op: "rollback", Failed: len(res.Failed), Total: res.Groups + res.AsBefore + len(res.Failed), Hint: hint}
	}
	return nil
}

// did says what a rollback did: groups it restored, apart from those it
// found already as before apply (named only when there are some).
func (r RollbackResult) did() string {
	groups := fmt.Sprintf("%d groups rolled back", r.Groups)
	if r.AsBefore > 0 {
		groups += fmt.Sprintf(", %d already as before apply (nothing to undo)", r.AsBefore)
	}
	ags := fmt.Sprintf("%d account groups deleted or restored", r.AccountGroups)
	if r.AccountGroupsAsBefore > 0 {
		ags += fmt.Sprintf(", %d account groups already as before apply (nothing to undo)", r.AccountGroupsAsBefore)
	}
	return fmt.Sprintf("%s, %s, %d failed", groups, ags, len(r.Failed))
}

// wouldDo says what a dry run of rollback would do, counting apart, as
// did does, the groups already as before apply.
func (r RollbackResult) wouldDo() string {
	groups := fmt.Sprintf("would roll back %d groups", r.Groups)
	if r.AsBefore > 0 {
		groups += fmt.Sprintf(", %d already as before apply (nothing to undo)", r.AsBefore)
	}
	ags := fmt.Sprintf("would delete or restore %d account groups", r.AccountGroups)
	if r.AccountGroupsAsBefore > 0 {
		ags += fmt.Sprintf(", %d account groups already as before apply (nothing to undo)", r.AccountGroupsAsBefore)
	}
	return fmt.Sprintf("%s, %s, %d would fail", groups, ags, len(r.Failed))
}

// asBefore is the outcome of an undo that found the live state already
// as before apply.
const asBefore = "already as before apply: nothing to undo"

// noting returns ctx with a before-send hook that sets sent: the undo
// sends a write. Journaled steps whose undo sends nothing were already as
// before apply (a dry run sends nothing and sets nothing).
func noting(ctx context.Context, sent *atomic.Bool) context.Context {
	return scim.WithBeforeSend(ctx, func() error {
		sent.Store(true)
		return nil
	})
}

// checkGroupNames refuses --group names the plan does not know, naming
// the closest names it does.
func checkGroupNames(p *Plan, names []string) error {
	var cands []nameCandidate
	for _, gr := range activeGroups(p) {
		cands = append(cands, nameCandidate{gr.g.LocalName, "local group in " + gr.ws.WorkspaceName})
	}
	for _, ag := range p.AccountGroups {
		cands = append(cands, nameCandidate{ag.DisplayName, "account group"})
	}
	for _, n := range names {
		if !slices.ContainsFunc(cands, func(c nameCandidate) bool { return c.name == n }) {
			return noMatch("flag --group", n, "migrated local group or account group of the plan", cands)
		}
	}
	return nil
}

// selected reports whether a group is chosen by a --group filter.
func selected(filter []string, local, account string) bool {
	return len(filter) == 0 || slices.Contains(filter, local) || slices.Contains(filter, account)
}

// touched reports whether any record exists for a step (undone steps
// included: an undo may be half done).
func (ex *executor) touched(id string) bool {
	v := ex.view(id)
	return v != nil && (v.State != "" || v.Undone)
}

// rollback undoes groups in reverse plan order (parents before the nested
// groups they contain, so that a group's name is free when it gets it
// back), then account groups whose every source is rolled back. Before
// its first change it refuses, and journals as failed, the selected
// groups it cannot restore exactly (see rollbackSelection); they stay as
// they are. force deletes created account groups that others changed
// since. It reports its progress on s (nil: none): a task per workspace,
// counting two steps per group (its changes, then its name), and one
// counting the account groups to undo, every total known before the
// first change.
func (ex *executor) rollback(ctx context.Context, filter []string, force bool, s *reports.Streams) (RollbackResult, error) {
	var res RollbackResult
	groups := activeGroups(ex.plan)
	ex.assignedBy = ex.assignedByRun(groups)
	// The checks before any change read every selected group, and the
	// grants of those it will undo: a task of two steps of their own, so
	// that the heartbeat goes on before the groups' totals are known.
	checks := taskRef{key: "checks", name: "checks before any change"}
	check := newCmdProgress(s, "rollback", "checks", "", []taskRef{checks, checks})
	defer check.close()
	check.start(checks)
	todo, refused, err := ex.rollbackSelection(ctx, groups, filter)
	if err != nil {
		return res, err
	}
	check.done(checks, 1, false)
	// Before any change: what rollback can and cannot put back of the
	// grants the permission migration moved (rollback_grants.go).
	grantsWarning, err := ex.sayGrants(ctx, todo)
	if err != nil {
		return res, err
	}
	check.done(checks, 1, false)
	check.close()
	if grantsWarning != "" {
		res.Warnings = append(res.Warnings, grantsWarning)
	}
	var units []taskRef
	for _, gr := range todo {
		units = append(units, wsTaskRef(gr.ws), wsTaskRef(gr.ws))
	}
	for i := range ex.plan.AccountGroups {
		if ex.touched(accountGroupStepID(ex.plan.AccountGroups[i].Key)) {
			units = append(units, accountTask)
		}
	}
	prog := newCmdProgress(s, "rollback", "steps", "failed", units)
	defer prog.close()
	for _, r := range refused {
		gr := r.gr
		spec := stepSpec{id: UndoStepID(groupStepID(KindRenameLocal, gr.ws.WorkspaceID, gr.g.LocalID)), kind: KindRenameLocal,
			wsID: gr.ws.WorkspaceID, group: gr.g.LocalName}
		if !ex.dryRun {
			ex.recordFailure(spec, errors.New(r.journalText()), nil)
			if err := ex.fatalErr(); err != nil {
				return res, err
			}
		}
		res.Refused++
		res.Failed = append(res.Failed, fmt.Sprintf("group %q in workspace %s (%d): not rolled back, it stays %s: %s",
			gr.g.LocalName, gr.ws.WorkspaceName, gr.ws.WorkspaceID, r.stays, r.why))
		ex.log.Error("rollback failed", "workspace", gr.ws.WorkspaceName, "group", gr.g.LocalName, "error", r.journalText())
	}
	// Two passes: first every step but the rename of every group rolled
	// back, then the renames. Several local groups of a workspace may share
	// an account group, and one of them may hold its name: that name is
	// free only once the account group's assignment (recorded by any of
	// them) is gone.
	type undone struct {
		gr       groupRef
		ag       *AccountGroupPlan
		did, had bool
	}
	var second []undone
	for _, gr := range todo {
		ag := findAG(ex.plan, gr.g.AccountGroupKey)
		if ctx.Err() != nil {
			return res, ex.fatalErr()
		}
		prog.start(wsTaskRef(gr.ws))
		did, had, err := ex.rollbackGroup(ctx, gr, ag, undoKinds[:len(undoKinds)-1], false)
		if err != nil {
			if ctx.Err() != nil {
				return res, ex.fatalErr()
			}
			res.Failed = append(res.Failed, fmt.Sprintf("group %q in workspace %s (%d): %v", gr.g.LocalName, gr.ws.WorkspaceName, gr.ws.WorkspaceID, err))
			ex.log.Error("rollback failed", "workspace", gr.ws.WorkspaceName, "group", gr.g.LocalName, "error", err)
			prog.done(wsTaskRef(gr.ws), 2, true)
			continue
		}
		prog.done(wsTaskRef(gr.ws), 1, false)
		second = append(second, undone{gr: gr, ag: ag, did: did, had: had})
	}
	for _, u := range second {
		gr, ag := u.gr, u.ag
		if ctx.Err() != nil {
			return res, ex.fatalErr()
		}
		did, had, err := ex.rollbackGroup(ctx, gr, ag, []StepKind{KindRenameLocal}, true)
		prog.done(wsTaskRef(gr.ws), 1, err != nil)
		if err != nil {
			if ctx.Err() != nil {
				return res, ex.fatalErr()
			}
			res.Failed = append(res.Failed, fmt.Sprintf("group %q in workspace %s (%d): %v", gr.g.LocalName, gr.ws.WorkspaceName, gr.ws.WorkspaceID, err))
			ex.log.Error("rollback failed", "workspace", gr.ws.WorkspaceName, "group", gr.g.LocalName, "error", err)
			continue
		}
		if !did && !u.did && (had || u.had) {
			res.AsBefore++
			ex.log.Info(asBefore, "workspace", gr.ws.WorkspaceName, "workspace_id", gr.ws.WorkspaceID, "group", gr.g.LocalName, "account_group", ag.DisplayName)
		}
		if did || u.did {
			res.Groups++
			msg := "rolled back group"
			if ex.dryRun {
				msg = "would roll back group"
			}
			ex.log.Info(msg, "workspace", gr.ws.WorkspaceName, "workspace_id", gr.ws.WorkspaceID, "group", gr.g.LocalName, "account_group", ag.DisplayName)
		}
	}
	for i := len(ex.plan.AccountGroups) - 1; i >= 0; i-- {
		ag := &ex.plan.AccountGroups[i]
		if !ex.touched(accountGroupStepID(ag.Key)) {
			continue // nothing to undo
		}
		prog.start(accountTask)
		if !ex.sourcesClear(ag, groups) {
			prog.done(accountTask, 1, false)
			continue // some of its local groups stay migrated
		}
		if parent := ex.migratedParent(ag); parent != nil {
			w := fmt.Sprintf("account group %q is kept: it is a member of account group %q, which stays migrated; roll that back too to remove it",
				ag.DisplayName, parent.DisplayName)
			if ex.finalizedSource(parent.Key, nil) {
				w = fmt.Sprintf("account group %q is kept: it is a member of account group %q, which stays migrated: finalize deleted a backup group of %q, so it cannot be rolled back",
					ag.DisplayName, parent.DisplayName, parent.DisplayName)
			}
			res.Warnings = append(res.Warnings, w)
			ex.log.Warn(w)
			prog.done(accountTask, 1, false)
			continue
		}
		outcome, err := ex.rollbackAccountGroup(ctx, ag, force)
		prog.done(accountTask, 1, err != nil)
		if err != nil {
			if ctx.Err() != nil {
				return res, ex.fatalErr()
			}
			res.Failed = append(res.Failed, fmt.Sprintf("account group %q: %v", ag.DisplayName, err))
			ex.log.Error("rollback failed", "account_group", ag.DisplayName, "error", err)
			continue
		}
		if outcome == asBefore {
			res.AccountGroupsAsBefore++
			ex.log.Info(outcome, "account_group", ag.DisplayName)
			continue
		}
		if outcome != "" {
			res.AccountGroups++
			if ex.dryRun {
				outcome = "would " + strings.Replace(strings.Replace(outcome, "removed", "remove", 1), "deleted", "delete", 1)
			}
			ex.log.Info(outcome, "account_group", ag.DisplayName)
		}
	}
	return res, ex.fatalErr()
}

// sourcesClear reports whether no migrated local group mapped to ag has a
// step left done or started (they were all rolled back, or never ran), so
// that undoing ag leaves no migrated group behind.
func (ex *executor) sourcesClear(ag *AccountGroupPlan, groups []groupRef) bool {
	for _, gr := range groups {
		if gr.g.AccountGroupKey != ag.Key {
			continue
		}
		for _, k := range groupKinds {
			if v := ex.view(groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil && v.State != "" {
				return false
			}
		}
	}
	return true
}

// assignedParent returns an account group of the plan that contains ag
// as a nested member and that dbiam assigned to workspace ws (not yet
// undone), nil if none. While it stays assigned, ag is visible in ws and
// its name cannot go back to the local group.
func (ex *executor) assignedParent(ws *WorkspacePlan, ag *AccountGroupPlan) *AccountGroupPlan {
	for i := range ex.plan.AccountGroups {
		p := &ex.plan.AccountGroups[i]
		if !slices.ContainsFunc(p.Members, func(m Member) bool { return m.GroupKey == ag.Key }) {
			continue
		}
		for _, g := range ws.Groups {
			if g.Skipped != "" || g.AccountGroupKey != p.Key {
				continue
			}
			if v := ex.view(groupStepID(KindAssignWorkspace, ws.WorkspaceID, g.LocalID)); v != nil && v.State != "" {
				return p
			}
		}
	}
	return nil
}

// migratedParent returns an account group of the plan that contains ag
// as a nested member and is still ensured, nil if none.
func (ex *executor) migratedParent(ag *AccountGroupPlan) *AccountGroupPlan {
	for i := range ex.plan.AccountGroups {
		p := &ex.plan.AccountGroups[i]
		if !slices.ContainsFunc(p.Members, func(m Member) bool { return m.GroupKey == ag.Key }) {
			continue
		}
		if v := ex.view(accountGroupStepID(p.Key)); v != nil && v.State != "" {
			return p
		}
	}
	return nil
}

// finalizedSource reports whether finalize deleted the backup of a local
// group mapped to the account group key (in workspace ws, or in any when
// ws is nil): that group, and so its account group's assignment there,
// can never be rolled back.
func (ex *executor) finalizedSource(key string, ws *WorkspacePlan) bool {
	for _, gr := range activeGroups(ex.plan) {
		if gr.g.AccountGroupKey != key || (ws != nil && gr.ws.WorkspaceID != ws.WorkspaceID) {
			continue
		}
		if ex.finalized(gr.ws.WorkspaceID, gr.g.LocalID) {
			return true
		}
	}
	return false
}

// finalized reports whether finalize deleted this local group's backup.
func (ex *executor) finalized(wsID int64, localID string) bool {
	v := ex.view(groupStepID(KindDeleteBackup, wsID, localID))
	return v != nil && v.State == StateDone
}

// agCreated reports whether the journal says dbiam created ag.
func (ex *executor) agCreated(ag *AccountGroupPlan) bool {
	v := ex.view(accountGroupStepID(ag.Key))
	return v != nil && v.Detail.Created
}

// agID returns ag's id from the journal, or the reused id.
func (ex *executor) agID(ag *AccountGroupPlan) string {
	if v := ex.view(accountGroupStepID(ag.Key)); v != nil && v.Detail.AccountGroupID != "" {
		return v.Detail.AccountGroupID
	}
	return ag.ExistingID
}

// undoKinds are the per-group steps with something to undo, in undo order.
var undoKinds = []StepKind{KindMigrateSecretACLs, KindCopyEntitlements, KindMigratePermissions, KindAssignWorkspace, KindRenameLocal}

// rollbackGroup undoes one group's steps: had is true when the journal
// shows some of them done or started, did when an undo sent a change (a
// dry run: would have sent one; its writes run the before-send hooks), so
// that a group whose live state was already as before apply is not said
// to be rolled back.
// kinds are the steps to undo (in undoKinds order); last resets the
// steps with nothing to undo.
func (ex *executor) rollbackGroup(ctx context.Context, gr groupRef, ag *AccountGroupPlan, kinds []StepKind, last bool) (did, had bool, err error) {
	var sent atomic.Bool
	defer func() { did = sent.Load() }()
	if v := ex.view(groupStepID(KindDeleteBackup, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil && v.State == StateDone {
		return false, false, fmt.Errorf("finalize deleted the backup group %q; it cannot be rolled back", gr.g.BackupName)
	}
	if parent := ex.assignedParent(gr.ws, ag); parent != nil {
		if ex.finalizedSource(parent.Key, gr.ws) {
			return false, false, fmt.Errorf("account group %q is a member of account group %q, which stays assigned to workspace %s and keeps the name %q taken there; finalize deleted the backup group of %q there, so it cannot be rolled back, and neither can %q",
				ag.DisplayName, parent.DisplayName, gr.ws.WorkspaceName, gr.g.LocalName, parent.DisplayName, gr.g.LocalName)
		}
		return false, false, fmt.Errorf("account group %q is a member of account group %q, which stays assigned to workspace %s and keeps the name %q taken there; roll back %q too (--group %q)",
			ag.DisplayName, parent.DisplayName, gr.ws.WorkspaceName, gr.g.LocalName, parent.DisplayName, parent.DisplayName)
	}
	gs := &groupSteps{ex: ex, ws: gr.ws, g: gr.g, ag: ag, agID: ex.agID(ag)}
	for _, k := range kinds {
		id := groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID)
		v := ex.view(id)
		if v == nil || v.State == "" {
			continue // never started, or already undone
		}
		had = true
		spec := stepSpec{id: UndoStepID(id), kind: k, wsID: gr.ws.WorkspaceID, group: gr.g.LocalName}
		detail := v.Detail
		err := ex.runStep(ctx, spec, func(r *stepRun) (*Detail, error) {
			return nil, gs.undo(r.ctx, noting(r.sending(nil), &sent), k, detail)
		})
		if err != nil {
			return false, had, fmt.Errorf("undo %s: %w", k, err)
		}
	}
	if !last {
		return false, had, nil
	}
	// Steps with nothing to undo are reset with a journaled no-op undo, so
	// a later apply runs them again.
	for _, k := range []StepKind{KindWaitVisible, KindVerify} {
		id := groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID)
		if v := ex.view(id); v != nil && v.State != "" {
			spec := stepSpec{id: UndoStepID(id), kind: k, wsID: gr.ws.WorkspaceID, group: gr.g.LocalName}
			if err := ex.runStep(ctx, spec, func(*stepRun) (*Detail, error) { return nil, nil }); err != nil {
				return false, had, err
			}
		}
	}
	return false, had, nil
}

// undo reverses one step using its journaled detail, after reading the
// live state: what is already gone is not removed twice. Reads use ctx,
// writes wctx (which announces the undo right before its first write).
func (gs *groupSteps) undo(ctx, wctx context.Context, k StepKind, d Detail) error {
	rm := gs.ex.remote
	wsID := gs.ws.WorkspaceID
	if k == KindMigrateSecretACLs || k == KindMigratePermissions {
		// Workspace ACLs name groups: while the local group holds the
		// account group's name, the entries of that name are its own.
		held, err := gs.localHoldsAGName(ctx)
		if err != nil || held {
			return err
		}
	}
	switch k {
	case KindMigrateSecretACLs:
		for _, a := range d.SecretACLs {
			acls, err := rm.SecretACLs(ctx, wsID, a.Scope)
			if errors.Is(err, scim.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("list ACLs of secret scope %q: %w", a.Scope, err)
			}
			i := slices.IndexFunc(acls, func(l SecretACL) bool { return l.Principal == a.Principal })
			if i < 0 || acls[i].Permission != a.Permission {
				continue // gone, or changed by someone else since
			}
			if gs.siblingHoldsScope(acls) {
				continue // another local group keeping the account group holds it too
			}
			if a.Previous != "" {
				err = rm.PutSecretACL(wctx, wsID, SecretACL{Scope: a.Scope, Principal: a.Principal, Permission: a.Previous})
			} else {
				err = rm.DeleteSecretACL(wctx, wsID, a.Scope, a.Principal)
			}
			if err != nil && !errors.Is(err, scim.ErrNotFound) {
				return fmt.Errorf("restore secret ACL of scope %q for %q: %w", a.Scope, a.Principal, err)
			}
		}
	case KindMigratePermissions:
		return gs.undoPermissions(ctx, wctx, d)
	case KindCopyEntitlements:
		if len(d.Entitlements) == 0 && len(d.Roles) == 0 {
			return nil
		}
		live, err := rm.WorkspaceGroup(ctx, wsID, gs.agID)
		if errors.Is(err, scim.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read account group %q in workspace %d: %w", gs.ag.DisplayName, wsID, err)
		}
		// What another local group of this workspace that keeps the
		// account group also brought stays: it is part of that group's
		// migrated state.
		keepEnts, keepRoles := gs.siblingsNeed()
		ents := minus(intersect(d.Entitlements, values(live.Entitlements)), keepEnts)
		roles := minus(intersect(d.Roles, values(live.Roles)), keepRoles)
		if len(ents)+len(roles) > 0 {
			if err := rm.RemoveWorkspaceGroupEntitlements(wctx, wsID, gs.agID, ents, roles); err != nil {
				return fmt.Errorf("remove entitlements from account group %q: %w", gs.ag.DisplayName, err)
			}
		}
	case KindAssignWorkspace:
		if gs.agID == "" || !(d.Assigned || gs.ex.assignedBy[assignKey(wsID, gs.g.AccountGroupKey)]) {
			return nil
		}
		if o := gs.stillAssignedFor(); o != nil {
			return nil // the last of them to be rolled back removes it
		}
		as, err := rm.Assignments(ctx, wsID)
		if err != nil {
			return fmt.Errorf("list assignments of workspace %d: %w", wsID, err)
		}
		if !slices.ContainsFunc(as, func(a scim.PermissionAssignment) bool {
			return strconv.FormatInt(a.Principal.PrincipalID, 10) == gs.agID
		}) {
			return nil
		}
		if err := rm.DeleteAssignment(wctx, wsID, gs.agID); err != nil && !errors.Is(err, scim.ErrNotFound) {
			return fmt.Errorf("remove assignment of account group %q: %w", gs.ag.DisplayName, err)
		}
	case KindRenameLocal:
		live, err := rm.WorkspaceGroup(ctx, wsID, gs.g.LocalID)
		if errors.Is(err, scim.ErrNotFound) {
			return fmt.Errorf("local group %q (id %s) no longer exists", gs.g.BackupName, gs.g.LocalID)
		}
		if err != nil {
			return fmt.Errorf("read group %q: %w", gs.g.BackupName, err)
		}
		prev := d.PreviousName
		if prev == "" {
			prev = gs.g.LocalName
		}
		switch live.DisplayName {
		case prev:
			return nil
		case gs.g.BackupName:
			if o := gs.stillAssignedFor(); o != nil && strings.EqualFold(prev, gs.ag.DisplayName) {
				if gs.ex.finalized(wsID, o.LocalID) {
					return fmt.Errorf("account group %q stays assigned to workspace %s for local group %q, whose backup finalize deleted, so the name %q stays taken there: %q cannot be rolled back, and neither can %q",
						gs.ag.DisplayName, gs.ws.WorkspaceName, o.LocalName, prev, o.LocalName, gs.g.LocalName)
				}
				return fmt.Errorf("account group %q stays assigned to workspace %s for local group %q, which stays migrated, so the name %q is taken there; roll back %q too (--group %q)",
					gs.ag.DisplayName, gs.ws.WorkspaceName, o.LocalName, prev, o.LocalName, o.LocalName)
			}
			if err := rm.RenameWorkspaceGroup(wctx, wsID, gs.g.LocalID, prev); err != nil {
				return fmt.Errorf("rename group %q back to %q: %w", gs.g.BackupName, prev, err)
			}
		default:
			return fmt.Errorf("local group %s is now named %q, neither %q nor %q; rename it by hand", gs.g.LocalID, live.DisplayName, gs.g.BackupName, prev)
		}
	}
	return nil
}

// localHoldsAGName reports whether the local group, read live, holds the
// account group's name in its workspace (it was renamed back, or this is
// not the environment apply ran in): then the workspace's ACL entries of
// that name are the local group's, none the account group's, and undoing
// the grant steps must not touch them. A local group that no longer
// exists holds no name.
func (gs *groupSteps) localHoldsAGName(ctx context.Context) (bool, error) {
	live, err := gs.ex.remote.WorkspaceGroup(ctx, gs.ws.WorkspaceID, gs.g.LocalID)
	if errors.Is(err, scim.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read group %q: %w", gs.g.BackupName, err)
	}
	return strings.EqualFold(live.DisplayName, gs.ag.DisplayName), nil
}

// rollbackAccountGroup deletes an account group dbiam created, or removes
// the members it added to a reused one, and says which it did ("deleted
// account group", "removed the members dbiam added to account group", or
// "" when there was nothing to undo, asBefore when the journal shows it
// changed but the undo found nothing to change). A created group that others changed
// since (see [RunRollback]) is kept with an error unless force.
func (ex *executor) rollbackAccountGroup(ctx context.Context, ag *AccountGroupPlan, force bool) (string, error) {
	id := accountGroupStepID(ag.Key)
	v := ex.view(id)
	if v == nil || v.State == "" {
		return "", nil
	}
	d := v.Detail
	if d.Unknown != "" {
		return "", fmt.Errorf("kept as it is, not rolled back: its journal was rebuilt by \"dbiam migrate adopt\", which could not tell %s; restore it by hand", d.Unknown)
	}
	// A finished ensure step set every planned member; an interrupted one
	// may have set only some.
	ensured := v.State == StateDone
	if d.AccountGroupID == "" && !d.Created && ag.ExistingID == "" && d.Create != CreateSent {
		// No create was sent, or it was refused: a group with this name
		// is someone else's.
		return "", nil
	}
	// outcome says what the undo did; it stays "" when a create of an
	// interrupted run turns out not to have landed.
	outcome := ""
	var sent atomic.Bool
	spec := stepSpec{id: UndoStepID(id), kind: KindEnsureAccountGroup, group: ag.DisplayName}
	err := ex.runStep(ctx, spec, func(r *stepRun) (*Detail, error) {
		wctx := noting(r.sending(nil), &sent) // for the writes: the undo is announced right before the first
		gid := d.AccountGroupID
		if gid == "" {
			if !d.Created && ag.ExistingID == "" {
				// Interrupted before or during the create: find what landed.
				found, err := ex.findCreated(r, ag)
				if err != nil || found == "" {
					return nil, err
				}
				gid, d.Created = found, true
			} else {
				gid = ag.ExistingID
			}
		}
		outcome = "removed the members dbiam added to account group"
		if d.Created {
			outcome = "deleted account group"
		}
		g, err := ex.remote.AccountGroup(r.ctx, gid)
		if errors.Is(err, scim.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read account group %q: %w", ag.DisplayName, err)
		}
		if d.Created {
			if !force {
				changed, err := ex.changedSince(r.ctx, ag, g, ensured)
				if err != nil {
					return nil, err
				}
				if len(changed) > 0 {
					return nil, fmt.Errorf("kept (id %s), not deleted: it changed since the migration: %s; deleting it would remove that access: review it, or pass --force to delete it anyway",
						gid, strings.Join(changed, "; "))
				}
			}
			if err := ex.remote.DeleteAccountGroup(wctx, gid); err != nil && !errors.Is(err, scim.ErrNotFound) {
				return nil, fmt.Errorf("delete account group %q: %w", ag.DisplayName, err)
			}
			return nil, nil
		}
		for _, m := range d.AddedMemberIDs {
			if !slices.ContainsFunc(g.Members, func(c scim.ComplexValue) bool { return c.Value == m }) {
				continue
			}
			if err := ex.remote.RemoveAccountGroupMember(wctx, gid, m); err != nil {
				return nil, fmt.Errorf("remove member %s from account group %q: %w", m, ag.DisplayName, err)
			}
		}
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	if outcome != "" && !sent.Load() {
		return asBefore, nil
	}
	return outcome, nil
}

// findCreated looks for the account group that a create sent by apply may
// have made without its id reaching the journal, by the rules apply uses:
// by name, through lists that show a new group only after a while, polled
// until the visibility budget (VisibleTimeout, counted from the journal
// record of the create) has passed. It returns "" only when no group of
// that name is listed by then: the create did not land. A dry run looks
// once.
func (ex *executor) findCreated(r *stepRun, ag *AccountGroupPlan) (string, error) {
	budget := ex.opts.VisibleTimeout
	if at := ex.createSentAt(ag.Key); !at.IsZero() {
		budget -= ex.clock().Sub(at)
	}
	var waited time.Duration
	delay := 500 * time.Millisecond
	for {
		id, err := ex.findAccountGroup(r.ctx, ag.DisplayName)
		if err != nil || id != "" || ex.dryRun || waited >= budget {
			return id, err
		}
		if waited == 0 {
			ex.log.Info("account group not listed yet; its create was sent but not acknowledged, so rollback waits for lists to catch up",
				"account_group", ag.DisplayName, "budget", budget)
		}
		step := min(delay, budget-waited)
		if err := ex.pause(r.parent, step); err != nil {
			return "", err
		}
		waited += step
		delay = min(2*delay, 8*time.Second)
	}
}

// createSentAt returns the time of the last journal record that says a
// create of account group key was about to be sent, zero if none.
func (ex *executor) createSentAt(key string) time.Time {
	var at time.Time
	id := accountGroupStepID(key)
	for _, r := range ex.recs {
		if r.Step == id && r.Data.Detail != nil && r.Data.Detail.Create == CreateSent {
			at = r.Time
		}
	}
	return at
}

// clock returns the executor's clock (time.Now by default).
func (ex *executor) clock() time.Time {
	if ex.now == nil {
		return time.Now()
	}
	return ex.now()
}

// changedSince returns how live, an account group dbiam created, differs
// from what dbiam made of it: members it did not set (and, when ensured,
// members it set that are gone), and assignments to workspaces of the
// plan where dbiam did not assign it. Nil means unchanged.
func (ex *executor) changedSince(ctx context.Context, ag *AccountGroupPlan, live scim.Group, ensured bool) ([]string, error) {
	set := map[string]string{} // account id -> label
	for _, m := range ag.Members {
		id := m.AccountID
		if m.Kind == KindGroup && m.GroupKey != "" {
			if c := findAG(ex.plan, m.GroupKey); c != nil {
				id = ex.agID(c)
			}
		}
		if id != "" {
			set[id] = memberLabel(m)
		}
	}
	have := map[string]bool{}
	var extra, gone []string
	for _, m := range live.Members {
		have[m.Value] = true
		if _, ok := set[m.Value]; !ok {
			extra = append(extra, orID(m.Display, m.Value))
		}
	}
	if ensured {
		for id, label := range set {
			if !have[id] {
				gone = append(gone, label)
			}
		}
	}
	slices.Sort(extra)
	slices.Sort(gone)
	var out []string
	if len(extra) > 0 {
		out = append(out, "members dbiam did not set: "+firstFew(extra))
	}
	if len(gone) > 0 {
		out = append(out, "members dbiam set are gone: "+firstFew(gone))
	}
	var other []string
	for i := range ex.plan.Workspaces {
		ws := &ex.plan.Workspaces[i]
		if !ws.Federated || ws.Skipped != "" || ex.assignedBy[assignKey(ws.WorkspaceID, ag.Key)] {
			continue
		}
		as, err := ex.workspaceAssignments(ctx, ws.WorkspaceID)
		if err != nil {
			return nil, err
		}
		if hasAssignment(as, live.ID) {
			other = append(other, fmt.Sprintf("%s (%d)", ws.WorkspaceName, ws.WorkspaceID))
		}
	}
	if len(other) > 0 {
		out = append(out, "assigned to workspaces dbiam did not assign it to: "+strings.Join(other, ", "))
	}
	return out, nil
}

// workspaceAssignments lists a workspace's assignments once per run (the
// account groups rollback deletes do not change the others').
func (ex *executor) workspaceAssignments(ctx context.Context, wsID int64) ([]scim.PermissionAssignment, error) {
	if as, ok := ex.wsAssignments[wsID]; ok {
		return as, nil
	}
	as, err := ex.remote.Assignments(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("list assignments of workspace %d: %w", wsID, err)
	}
	if ex.wsAssignments == nil {
		ex.wsAssignments = map[int64][]scim.PermissionAssignment{}
	}
	ex.wsAssignments[wsID] = as
	return as, nil
}

// firstFew joins up to five names, then says how many more.
func firstFew(names []string) string {
	const n = 5
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// orID returns display, or id when it is empty.
func orID(display, id string) string {
	if display == "" {
		return id
	}
	return display
}

// assignKey names an account group of the plan in a workspace.
func assignKey(wsID int64, agKey string) string {
	return strconv.FormatInt(wsID, 10) + "/" + agKey
}

// assignedByRun returns, per workspace and account group, whether any of
// the local groups mapped to it recorded that dbiam made its workspace
// assignment. Read before any undo, which resets the records.
func (ex *executor) assignedByRun(groups []groupRef) map[string]bool {
	out := map[string]bool{}
	for _, gr := range groups {
		if v := ex.view(groupStepID(KindAssignWorkspace, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil && v.State != "" && v.Detail.Assigned {
			out[assignKey(gr.ws.WorkspaceID, gr.g.AccountGroupKey)] = true
		}
	}
	return out
}

// siblingsNeed returns the entitlements and roles that the other local
// groups of gs's workspace mapped to the same account group bring to it,
// for those whose assignment is not undone (they stay migrated).
func (gs *groupSteps) siblingsNeed() (ents, roles []string) {
	for _, o := range gs.siblingsStaying() {
		ents = append(ents, o.Entitlements...)
		roles = append(roles, o.Roles...)
	}
	return ents, roles
}

// siblingHoldsScope reports whether the backup of another local group of
// gs's workspace that keeps the account group holds a permission in acls,
// the ACLs of one secret scope: the account group's ACL there is then
// part of that group's migrated state.
func (gs *groupSteps) siblingHoldsScope(acls []SecretACL) bool {
	for _, o := range gs.siblingsStaying() {
		if slices.ContainsFunc(acls, func(a SecretACL) bool { return a.Principal == o.BackupName || a.Principal == o.LocalName }) {
			return true
		}
	}
	return false
}

// siblingsStaying returns the other local groups of gs's workspace mapped
// to the same account group whose assign-workspace step is not undone.
func (gs *groupSteps) siblingsStaying() []*GroupPlan {
	var out []*GroupPlan
	for i := range gs.ws.Groups {
		o := &gs.ws.Groups[i]
		if o.Skipped != "" || o.LocalID == gs.g.LocalID || o.AccountGroupKey != gs.g.AccountGroupKey {
			continue
		}
		if v := gs.ex.view(groupStepID(KindAssignWorkspace, gs.ws.WorkspaceID, o.LocalID)); v != nil && v.State != "" {
			out = append(out, o)
		}
	}
	return out
}

// stillAssignedFor returns another local group of gs's workspace, mapped
// to the same account group, whose assign-workspace step is not undone
// (it still needs the assignment), or nil.
func (gs *groupSteps) stillAssignedFor() *GroupPlan {
	for i := range gs.ws.Groups {
		o := &gs.ws.Groups[i]
		if o.Skipped != "" || o.LocalID == gs.g.LocalID || o.AccountGroupKey != gs.g.AccountGroupKey {
			continue
		}
		if v := gs.ex.view(groupStepID(KindAssignWorkspace, gs.ws.WorkspaceID, o.LocalID)); v != nil && v.State != "" {
			return o
		}
	}
	return nil
}

// intersect returns the elements of a that are in b.
func intersect(a, b []string) []string {
	var out []string
	for _, v := range a {
		if slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

// journalRun says what openJournalRun prepares: op names the command in
// errors and in the lock; dir is the journal directory; groups the
// --group filter; the rest are the command's options.
type journalRun struct {
	op, dir        string
	groups         []string
	dryRun         bool
	forceUnlock    bool
	remote         Remote
	visibleTimeout time.Duration
	sleep          func(ctx context.Context, d time.Duration) error
	// yes skips the confirmation; verb is what its question asks to do;
	// changes summarises what the run will change (see confirm).
	yes     bool
	verb    string
	changes func(ex *executor, filter []string) changeSummary
}

// openJournalRun prepares what finalize and rollback share: the plan and
// records of the apply journal in o.dir, the journal lock and the journal
// opened for appending (both skipped by a dry run, which never writes the
// journal), and an executor over the remote (connected from the plan when
// nil, wrapped by DryRun for a dry run). Call the returned function when
// finished to release the journal and the lock.
func openJournalRun(ctx context.Context, o journalRun, d Deps) (*executor, func(), error) {
	log := d.logger()
	p, hdr, recs, err := loadJournalPlan(o.dir)
	if err != nil {
		return nil, nil, err
	}
	if len(o.groups) > 0 {
		if err := checkGroupNames(p, o.groups); err != nil {
			return nil, nil, err
		}
	}
	if !o.dryRun && o.changes != nil {
		pre := newExecutor(p, nil, nil, recs, ApplyOptions{}, log)
		if err := confirm(ctx, d, o.op, o.verb, o.yes, p, o.changes(pre, o.groups)); err != nil {
			return nil, nil, err
		}
	}
	// release undoes what was set up, in reverse order. Every error return
	// below calls it, so that a failure after the lock step (a lock held by
	// a running apply, a refused token, an unreachable host, an unwritable
	// journal) releases the lock and reaches the caller as itself.
	var cleanups []func()
	release := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	var j *journal.Journal[Payload]
	if !o.dryRun {
		lock, err := acquireLock(o.dir, o.op, o.forceUnlock, d)
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { _ = lock.Release() })
		if j, err = openJournal(o.dir, hdr, d.Now); err != nil {
			release()
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { _ = j.Close() })
		recs = j.Records()
	}
	remote := o.remote
	if remote == nil {
		if remote, err = connectRemote(ctx, o.op, d, p); err != nil {
			release()
			return nil, nil, err
		}
	}
	if o.dryRun {
		remote = DryRunPlan(remote, log, p, Replay(recs))
	}
	opts := ApplyOptions{Grace: DefaultGrace, Sleep: o.sleep, VisibleTimeout: o.visibleTimeout}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.VisibleTimeout <= 0 {
		opts.VisibleTimeout = DefaultVisibleTimeout
	}
	ex := newExecutor(p, remote, j, recs, opts, log)
	ex.dryRun = o.dryRun
	ex.recs = recs
	ex.now = d.Now
	return ex, release, nil
}
