package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// FinalizeOptions are the options of "dbiam migrate finalize".
type FinalizeOptions struct {
	// JournalDir is the journal directory of the apply to finish.
	JournalDir string
	// Groups restricts finalize to these local or account group names.
	Groups []string
	// DryRun logs what would be deleted and deletes nothing.
	DryRun bool
	// ForceUnlock removes another run's lock.
	ForceUnlock bool
	// Yes skips the confirmation (--yes); without it a run that is not
	// on a terminal is refused before any change.
	Yes bool
	// Remote, if set, is used instead of connecting (tests).
	Remote Remote
}

// FinalizeResult summarises a finalize run.
type FinalizeResult struct {
	Deleted int // backup groups deleted (this run or before)
	Before  int // of Deleted, those deleted before this run
	// Gone counts, of Deleted, the backup groups this run found already
	// deleted (by someone else): it deleted nothing for them.
	Gone int
	Kept []string // "<group>: <reason>" for groups left alone
}

// deleted says how many backup groups are deleted, and how many of them
// before this run (a run that deleted nothing new must not read as if it
// had).
func (r FinalizeResult) deleted() string {
	var of []string
	if r.Before > 0 {
		of = append(of, fmt.Sprintf("%d of them before this run", r.Before))
	}
	if r.Gone > 0 {
		of = append(of, fmt.Sprintf("%d of them already gone, deleted by someone else", r.Gone))
	}
	if len(of) == 0 {
		return fmt.Sprintf("%d backup groups deleted", r.Deleted)
	}
	return fmt.Sprintf("%d backup groups deleted (%s)", r.Deleted, strings.Join(of, ", "))
}

// RunFinalize deletes the renamed backup (local) groups of migrated groups,
// only for groups whose apply finished and whose live state verifies
// cleanly now; others are listed with the reason and kept. Deletions are
// journaled (step delete-backup). It returns a *PartialError when some
// groups were kept.
func RunFinalize(ctx context.Context, opts FinalizeOptions, d Deps) error {
	if opts.JournalDir == "" {
		return errors.New("finalize: flag --journal is required: the journal directory apply used")
	}
	ex, done, err := openJournalRun(ctx, journalRun{op: "finalize", dir: opts.JournalDir, groups: opts.Groups, dryRun: opts.DryRun,
		forceUnlock: opts.ForceUnlock, remote: opts.Remote, yes: opts.Yes, verb: "make", changes: finalizeChanges}, d)
	if err != nil {
		return err
	}
	defer done()
	res, err := ex.finalize(ctx, opts.Groups, d.Streams)
	if d.Streams != nil {
		kept := "kept"
		if opts.DryRun {
			kept = "would keep"
			fmt.Fprintf(d.Streams.Out, "Finalize (dry run): would delete %d backup groups (%d deleted before), would keep %d\n",
				res.Deleted-res.Before, res.Before, len(res.Kept))
		} else {
			fmt.Fprintf(d.Streams.Out, "Finalize: %s, %d kept\n", res.deleted(), len(res.Kept))
		}
		for _, k := range res.Kept {
			fmt.Fprintf(d.Streams.Out, "  %s: %s\n", kept, k)
		}
	}
	did := fmt.Sprintf("%s, %d kept", res.deleted(), len(res.Kept))
	if opts.DryRun {
		did = fmt.Sprintf("would delete %d backup groups, would keep %d", res.Deleted-res.Before, len(res.Kept))
	}
	d.setOutcome(journalOutcome("migrate finalize", opts.JournalDir, opts.DryRun, did))
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("finalize interrupted; run the same command again to resume: %w", ctx.Err())
	}
	if len(res.Kept) > 0 {
		return &PartialError{Op: "finalize", Failed: len(res.Kept), Total: res.Deleted + len(res.Kept),
			Hint: "each kept group is listed with the reason; fix it (run apply or verify for a group that does not verify cleanly) and run finalize again"}
	}
	return nil
}

// finalize deletes clean groups' backups. It reports its progress on s
// (nil: none): a task per workspace counting its selected groups.
func (ex *executor) finalize(ctx context.Context, filter []string, s *reports.Streams) (FinalizeResult, error) {
	var res FinalizeResult
	ids := map[string]string{}
	for i := range ex.plan.AccountGroups {
		ag := &ex.plan.AccountGroups[i]
		ids[ag.Key] = ex.agID(ag)
	}
	members := map[string][]string{} // account group key -> differences (read once)
	// Parents before the groups nested in them: a nested group's backup may
	// go only once its migrated parents' backups are gone (see
	// backupStillNeeded), so that a rollback never meets a parent that lost
	// members to finalize.
	groups := activeGroups(ex.plan)
	slices.Reverse(groups)
	var units []taskRef
	for _, gr := range groups {
		if selected(filter, gr.g.LocalName, findAG(ex.plan, gr.g.AccountGroupKey).DisplayName) {
			units = append(units, wsTaskRef(gr.ws))
		}
	}
	prog := newCmdProgress(s, "finalize", "groups", "kept", units)
	defer prog.close()
	// A group's unit is over when the next one starts (or the loop ends):
	// kept if it added to res.Kept.
	var last *WorkspacePlan
	keptBefore := 0
	flush := func() {
		if last != nil {
			prog.done(wsTaskRef(last), 1, len(res.Kept) > keptBefore)
			last = nil
		}
	}
	for _, gr := range groups {
		ag := findAG(ex.plan, gr.g.AccountGroupKey)
		if !selected(filter, gr.g.LocalName, ag.DisplayName) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, ex.fatalErr()
		}
		flush()
		prog.start(wsTaskRef(gr.ws))
		last, keptBefore = gr.ws, len(res.Kept)
		label := fmt.Sprintf("group %q in workspace %s (%d)", gr.g.LocalName, gr.ws.WorkspaceName, gr.ws.WorkspaceID)
		del := groupStepID(KindDeleteBackup, gr.ws.WorkspaceID, gr.g.LocalID)
		if v := ex.view(del); v != nil && v.State == StateDone {
			res.Deleted++
			res.Before++
			continue
		}
		if v := ex.view(groupStepID(KindRenameLocal, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil && v.Undone {
			res.Kept = append(res.Kept, label+": rollback undid its migration; run apply to migrate it again")
			continue
		}
		if !ex.groupDone(gr.ws.WorkspaceID, gr.g.LocalID) {
			res.Kept = append(res.Kept, label+": apply has not finished it")
			continue
		}
		diffs, local, err := verifyGroup(ctx, ex.remote, gr.ws, gr.g, ag, ids[ag.Key])
		if err != nil {
			return res, err
		}
		md, ok := members[ag.Key]
		if !ok {
			if md, err = verifyMembers(ctx, ex.remote, ag, ids[ag.Key], ids); err != nil {
				return res, err
			}
			members[ag.Key] = md
		}
		diffs = append(diffs, md...)
		if len(diffs) > 0 {
			res.Kept = append(res.Kept, fmt.Sprintf("%s: %s", label, diffs[0]))
			continue
		}
		if reason := ex.backupStillNeeded(gr, local); reason != "" {
			res.Kept = append(res.Kept, fmt.Sprintf("%s: %s", label, reason))
			continue
		}
		spec := stepSpec{id: del, kind: KindDeleteBackup, wsID: gr.ws.WorkspaceID, group: gr.g.LocalName}
		gone := false // the backup was deleted by someone else
		err = ex.runStep(ctx, spec, func(r *stepRun) (*Detail, error) {
			live, err := ex.remote.WorkspaceGroup(r.ctx, gr.ws.WorkspaceID, gr.g.LocalID)
			if errors.Is(err, scim.ErrNotFound) {
				gone = true
				return &Detail{PreviousName: gr.g.BackupName}, nil
			}
			if err != nil {
				return nil, err
			}
			if live.DisplayName != gr.g.BackupName || !live.IsWorkspaceLocal() {
				return nil, fmt.Errorf("group %s is %q, not the backup group %q; not deleting it", gr.g.LocalID, live.DisplayName, gr.g.BackupName)
			}
			wctx := r.sending(&Detail{PreviousName: gr.g.BackupName})
			err = ex.remote.DeleteWorkspaceGroup(wctx, gr.ws.WorkspaceID, gr.g.LocalID)
			if err != nil && !errors.Is(err, scim.ErrNotFound) {
				return nil, fmt.Errorf("delete backup group %q: %w", gr.g.BackupName, err)
			}
			gone = err != nil
			return &Detail{PreviousName: gr.g.BackupName}, nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return res, ex.fatalErr()
			}
			res.Kept = append(res.Kept, fmt.Sprintf("%s: %v", label, err))
			continue
		}
		res.Deleted++
		if gone {
			res.Gone++
			ex.log.Info("backup group already gone: nothing to delete", "workspace", gr.ws.WorkspaceName, "group", gr.g.BackupName)
			continue
		}
		if ex.dryRun {
			ex.log.Info("would delete backup group", "workspace", gr.ws.WorkspaceName, "group", gr.g.BackupName)
		} else {
			ex.log.Info("deleted backup group", "workspace", gr.ws.WorkspaceName, "group", gr.g.BackupName)
		}
	}
	flush()
	return res, ex.fatalErr()
}

// backupStillNeeded returns why the backup group of gr must stay, "" if
// it may go. It is still a direct member of:
//   - a group that this plan did not migrate (a local parent left out of
//     the plan, skipped, or not finished): deleting it would take its
//     members out of that parent, and with it out of the parent's
//     entitlements, roles and grants; the account group is not a member of
//     the parent;
//   - the backup of a migrated group that is not finalized: deleting it
//     would take its members out of that backup, and a rollback could then
//     no longer restore the parent as it was. Finalize the parent first
//     (or in the same run, which handles parents first).
//
// A finalized parent is fine: its account group holds this group's
// account group. live is the backup group as just read, nil if it no
// longer exists.
func (ex *executor) backupStillNeeded(gr groupRef, live *scim.Group) string {
	if live == nil {
		return ""
	}
	for _, p := range live.Groups {
		name := p.Display
		if name == "" {
			name = p.Value
		}
		i := slices.IndexFunc(gr.ws.Groups, func(g GroupPlan) bool { return g.Skipped == "" && g.LocalID == p.Value })
		if i >= 0 && ex.groupDone(gr.ws.WorkspaceID, p.Value) {
			if ex.finalized(gr.ws.WorkspaceID, p.Value) {
				continue
			}
			parent := gr.ws.Groups[i].LocalName
			return fmt.Sprintf("the backup group %q is a member of %q, the backup of migrated group %q, which is not finalized: deleting it first would take its members out of %q, which rollback could then no longer restore; finalize %q first, or with it (--group %s --group %s)",
				gr.g.BackupName, name, parent, name, parent, strconv.Quote(parent), strconv.Quote(gr.g.LocalName))
		}
		return fmt.Sprintf("the backup group %q is still a member of group %q, which this plan did not migrate: deleting it would remove its members from that group; migrate %q too, or give its members another path into it, then run finalize again",
			gr.g.BackupName, name, name)
	}
	return ""
}
