package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// This file is "dbiam migrate adopt": it rebuilds the journal of an apply
// from the plan and the live state when the journal is damaged or lost,
// so that apply can go on and rollback can undo what was done.

// AdoptOptions are the options of "dbiam migrate adopt".
type AdoptOptions struct {
	// PlanPath is the plan the apply ran (the plan file, or the copy in
	// the old journal directory).
	PlanPath string
	// JournalDir is the directory of the journal to write; it must not
	// exist or be empty.
	JournalDir string
	// Wait is how long adopt looks again for an account group the plan
	// creates that no list shows by its name: lists show a new group only
	// after a while, so the lost run may have created it. Adopt stops
	// looking once every such group is listed. When Wait is shorter than
	// [DefaultVisibleTimeout] a group still not listed is recorded as a
	// create that may have been sent (see RunAdopt); 0 does not wait.
	Wait time.Duration
	// Sleep, if set, replaces the timer of that wait (tests).
	Sleep func(ctx context.Context, d time.Duration) error
	// ToolVersion is recorded in the journal header.
	ToolVersion string
	// Remote, if set, is used instead of connecting (tests).
	Remote Remote
}

// AdoptResult summarises what adopt found and recorded.
type AdoptResult struct {
	// Groups counts the plan's migrated local groups by what adopt found:
	// "migrated" (every step's effect in place, verified), "started"
	// (some steps' effects in place), "not started", "finalized" (the
	// backup group is gone) and "unknown" (renamed by someone else).
	Groups map[string]int
	// Lines say, per account group and local group, what was found.
	Lines []string
	// Warnings say what the rebuilt journal cannot tell rollback.
	Warnings []string
	// Records is the number of records written.
	Records int
}

// Group states of AdoptResult.Groups.
const (
	adoptMigrated   = "migrated"
	adoptStarted    = "started"
	adoptNotStarted = "not started"
	adoptFinalized  = "finalized"
	adoptUnknown    = "unknown"
)

// RunAdopt reads the live state of every account group and migrated local
// group of the plan and writes a new journal in opts.JournalDir that says
// what apply (and finalize) did, as its records would have: the account
// groups that exist with the planned name (taken as created by this
// migration) or that the plan reuses, the local groups renamed to their
// backup names, the assignments, the grants, entitlements and roles on the
// account groups, the groups that verify cleanly (all their steps done)
// and the backup groups that are gone (finalized). Every record it writes
// is marked adopted. Apply, status, verify, finalize and rollback then
// work from the new journal (--journal). Adopt changes nothing remotely,
// and writes the journal atomically: it is built in a temporary directory
// next to opts.JournalDir and renamed into place once complete.
//
// Lists show a new account group only after a while: a planned group not
// listed by its name is looked for again until opts.Wait has passed. One
// still not listed after [DefaultVisibleTimeout] was not created; one not
// listed after a shorter wait is recorded as a create that may have been
// sent (apply then takes a group with that name that appears as its own,
// and rollback looks for it again within its own budget), and a warning
// says so.
//
// What it cannot tell from the live state is said in warnings and
// recorded ([Detail.Unknown]): for an account group the plan reuses,
// which members dbiam added when the plan's digest of its members does
// not tell, and, unless the group has the name of a local group of the
// workspace (then it could not be assigned there before apply), whether
// dbiam assigned it and gave it the entitlements, roles and grants the
// local group brings. Rollback refuses the groups concerned, before any
// change, instead of restoring them in part.
func RunAdopt(ctx context.Context, opts AdoptOptions, d Deps) error {
	if opts.PlanPath == "" {
		return errors.New("adopt: no plan file: pass the plan the apply ran (or the copy plan.json in its journal directory)")
	}
	if opts.JournalDir == "" {
		return errors.New("adopt: flag --journal is required: a new directory for the rebuilt journal")
	}
	if opts.Wait < 0 {
		return fmt.Errorf("adopt: --wait %v: must not be negative", opts.Wait)
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	plan, raw, err := ReadPlan(opts.PlanPath)
	if err != nil {
		return err
	}
	// Refuse before any read: a directory that holds anything is never
	// written to, and a run still working on the plan's journal must stop
	// first (adopt would record a state it is changing).
	if err := checkAdoptDir(opts.JournalDir); err != nil {
		return err
	}
	if err := refuseRunning(opts.PlanPath); err != nil {
		return err
	}
	remote := opts.Remote
	if remote == nil {
		if remote, err = connectRemote(ctx, "adopt", d, plan); err != nil {
			return err
		}
	}
	a := &adopter{plan: plan, rd: remote, opts: opts, log: d.logger(), res: AdoptResult{Groups: map[string]int{}},
		agIDs: map[string]string{}, created: map[string]bool{}, assignments: map[int64][]scim.PermissionAssignment{}, streams: d.Streams}
	recs, err := a.build(ctx)
	if err != nil {
		return err
	}
	if err := writeAdoptedJournal(opts.JournalDir, journalHeader(plan, raw, opts.ToolVersion), raw, recs, d.Now); err != nil {
		return err
	}
	a.res.Records = len(recs)
	if d.Streams != nil {
		writeAdoptSummary(d.Streams.Out, a.res, opts.JournalDir)
		g := a.res.Groups
		d.Streams.SetOutcome(reports.Outcome{Command: "migrate adopt", Wrote: []string{"journal " + opts.JournalDir},
			Did: fmt.Sprintf("%s: %d groups migrated, %d started, %d not started, %d finalized, %d unknown",
				plural(a.res.Records, "record", "records"), g[adoptMigrated], g[adoptStarted], g[adoptNotStarted], g[adoptFinalized], g[adoptUnknown])})
	}
	for _, w := range a.res.Warnings {
		a.log.Warn(w)
	}
	return nil
}

// errAdoptDir is the advice when --journal names a directory in use.
const errAdoptDir = "pass a new or empty directory to --journal (adopt never writes into one that holds something)"

// checkAdoptDir refuses a journal directory that exists and is not empty,
// naming a journal it holds.
func checkAdoptDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("adopt: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("adopt: %s is a file, not a directory: %s", dir, errAdoptDir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(journal.Path(dir)); err == nil {
		return fmt.Errorf("adopt: %s already holds a journal: %s", dir, errAdoptDir)
	}
	return fmt.Errorf("adopt: %s is not empty (it holds %q): %s", dir, entries[0].Name(), errAdoptDir)
}

// writeAdoptedJournal writes the journal of recs, with header h and the
// plan copy raw, into a temporary directory next to dir, then renames it
// to dir: dir holds the whole journal or none. Files are mode 0600, the
// directory 0700.
func writeAdoptedJournal(dir string, h journal.Header, raw []byte, recs []Record, now func() time.Time) (err error) {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("adopt: create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".adopt-")
	if err != nil {
		return fmt.Errorf("adopt: create a temporary journal next to %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	j, err := openJournal(tmp, h, now)
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	for _, r := range recs {
		if _, err := j.Append(r); err != nil {
			_ = j.Close()
			return fmt.Errorf("adopt: %w", err)
		}
	}
	if err := j.Close(); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	if err := journal.SavePlan(tmp, raw); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	// An empty directory made ahead is replaced (os.Rename never replaces
	// a directory); one that is no longer empty stays: another adopt got
	// there first.
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		if err := os.Remove(dir); err != nil {
			if cerr := checkAdoptDir(dir); cerr != nil {
				return cerr
			}
			return fmt.Errorf("adopt: replace the empty directory %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if cerr := checkAdoptDir(dir); cerr != nil {
			return cerr
		}
		return fmt.Errorf("adopt: move the journal into place: %w", err)
	}
	if err := reports.SyncDir(parent); err != nil {
		return fmt.Errorf("adopt: sync %s: %w", parent, err)
	}
	return nil
}

// refuseRunning refuses while a process of this host holds the lock of a
// journal directory of the plan: the default one next to it, or the one
// the plan is the copy of.
func refuseRunning(planPath string) error {
	dirs := []string{DefaultJournalDir(planPath)}
	if filepath.Base(planPath) == journal.PlanFileName {
		dirs = append(dirs, filepath.Dir(planPath))
	}
	host, _ := os.Hostname()
	for _, dir := range dirs {
		info, err := journal.ReadLock(dir)
		if err != nil || info.PID <= 0 || info.Host != host || !journal.ProcessAlive(info.PID) {
			continue
		}
		return fmt.Errorf("adopt: %s is locked by a running %s (pid %d on %s): stop it before rebuilding its journal",
			dir, orDefault(info.Command, "dbiam run"), info.PID, info.Host)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// adopter reads the live state of one plan and builds the records.
type adopter struct {
	plan *Plan
	rd   Reader
	opts AdoptOptions
	log  *reports.Logger
	res  AdoptResult
	// agIDs are the ids of the plan's account groups found, by key.
	agIDs map[string]string
	// created marks the account groups taken as created by the migration.
	created     map[string]bool
	assignments map[int64][]scim.PermissionAssignment
	recs        []Record
	// streams, if set, get the progress of build (see adoptProgress).
	streams *reports.Streams
	prog    *cmdProgress
}

// record adds a record of step id, marked adopted.
func (a *adopter) record(id string, st StepState, p Payload, d Detail) {
	d.Adopted = true
	p.Detail = &d
	a.recs = append(a.recs, Record{Step: id, State: st, Data: p})
}

// build reads the live state and returns the records, account groups
// first (in plan order), then each local group's steps in apply's order.
//
// Its progress has a task per workspace counting its groups, and one
// counting the account groups, each twice when the plan creates it: once
// looked up by name, once read.
func (a *adopter) build(ctx context.Context) ([]Record, error) {
	var units []taskRef
	for i := range a.plan.AccountGroups {
		units = append(units, accountTask)
		if a.plan.AccountGroups[i].ExistingID == "" {
			units = append(units, accountTask)
		}
	}
	for _, gr := range activeGroups(a.plan) {
		units = append(units, wsTaskRef(gr.ws))
	}
	a.prog = newCmdProgress(a.streams, "adopt", "groups", "", units)
	defer a.prog.close()
	a.prog.start(accountTask)
	found, waited, err := a.findPlanned(ctx)
	if err != nil {
		return nil, err
	}
	// Every id first: a group's planned members name the groups nested in
	// it by key, wherever they are in the plan.
	for i := range a.plan.AccountGroups {
		ag := &a.plan.AccountGroups[i]
		if id := cmp.Or(ag.ExistingID, found[ag.Key]); id != "" {
			a.agIDs[ag.Key] = id
		}
	}
	for i := range a.plan.AccountGroups {
		ag := &a.plan.AccountGroups[i]
		if i > 0 {
			a.prog.done(accountTask, 1, false) // the one before
		}
		if ag.ExistingID != "" {
			if err := a.accountGroup(ctx, ag, ag.ExistingID); err != nil {
				return nil, err
			}
			continue
		}
		if id := found[ag.Key]; id != "" {
			if err := a.accountGroup(ctx, ag, id); err != nil {
				return nil, err
			}
			continue
		}
		if waited >= DefaultVisibleTimeout {
			a.res.Lines = append(a.res.Lines, fmt.Sprintf("account group %q: not listed by its name after %s: not created", ag.DisplayName, waited))
			continue
		}
		// A create sent by the lost run may not be listed yet.
		a.res.Lines = append(a.res.Lines, fmt.Sprintf("account group %q: not listed by its name after %s: recorded as a create that may have been sent", ag.DisplayName, waited))
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("account group %q is not listed by its name after %s, and lists may take up to %s (apply's visibility budget) to show a new group: adopt cannot confirm that the lost run did not create it, so it records a create that may have been sent (apply takes a group of that name that appears as its own; rollback looks for it again, up to %s, and deletes it); run adopt with --wait %s to confirm",
			ag.DisplayName, waited, DefaultVisibleTimeout, DefaultVisibleTimeout, DefaultVisibleTimeout))
		a.record(accountGroupStepID(ag.Key), StateStarted, Payload{Kind: KindEnsureAccountGroup, Group: ag.DisplayName}, Detail{Create: CreateSent})
	}
	if len(a.plan.AccountGroups) > 0 {
		a.prog.done(accountTask, 1, false)
	}
	agRecs := a.recs
	a.recs = nil
	for _, gr := range activeGroups(a.plan) {
		a.prog.start(wsTaskRef(gr.ws))
		if err := a.localGroup(ctx, gr); err != nil {
			return nil, err
		}
		a.prog.done(wsTaskRef(gr.ws), 1, false)
	}
	return append(agRecs, a.recs...), nil
}

// findPlanned looks up by name every account group the plan creates and
// returns the ids found, by key. Groups not listed are looked for again,
// with growing pauses, until all are listed or opts.Wait has passed;
// waited is how long it paused.
func (a *adopter) findPlanned(ctx context.Context) (found map[string]string, waited time.Duration, err error) {
	found = map[string]string{}
	var missing []*AccountGroupPlan
	look := func(ags []*AccountGroupPlan) ([]*AccountGroupPlan, error) {
		var still []*AccountGroupPlan
		for _, ag := range ags {
			id, err := a.find(ctx, ag.DisplayName)
			if err != nil {
				return nil, err
			}
			if id == "" {
				still = append(still, ag)
			} else {
				found[ag.Key] = id
				a.prog.done(accountTask, 1, false)
			}
		}
		return still, nil
	}
	for i := range a.plan.AccountGroups {
		if ag := &a.plan.AccountGroups[i]; ag.ExistingID == "" {
			missing = append(missing, ag)
		}
	}
	if missing, err = look(missing); err != nil {
		return nil, 0, err
	}
	delay := 500 * time.Millisecond
	for len(missing) > 0 && waited < a.opts.Wait {
		if waited == 0 {
			a.log.Info("account groups of the plan are not listed by their names; lists show a new group only after a while, so adopt looks again",
				"groups", len(missing), "wait", a.opts.Wait)
		}
		step := min(delay, a.opts.Wait-waited)
		if err := a.opts.Sleep(ctx, step); err != nil {
			return nil, waited, fmt.Errorf("adopt: %w", err)
		}
		waited += step
		delay = min(2*delay, 8*time.Second)
		if missing, err = look(missing); err != nil {
			return nil, waited, err
		}
	}
	a.prog.done(accountTask, len(missing), false) // looked up: not listed
	return found, waited, nil
}

// find returns the id of the account group named name, "" if none is
// listed; several groups with the name is an error.
func (a *adopter) find(ctx context.Context, name string) (string, error) {
	gs, err := a.rd.FindAccountGroups(ctx, name)
	if err != nil {
		return "", fmt.Errorf("adopt: look up account group %q: %w", name, err)
	}
	var ids []string
	for _, g := range gs {
		if g.DisplayName == name {
			ids = append(ids, g.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("adopt: look up account group %q: %d groups have this name (ids %v); remove the duplicates and run adopt again", name, len(ids), ids)
}

// desiredIDs returns the account ids of ag's planned members, nested
// groups by the ids found for them; complete is false when a nested group
// was not found (its id is then left out).
func (a *adopter) desiredIDs(ag *AccountGroupPlan) (ids []string, complete bool) {
	complete = true
	for _, m := range ag.Members {
		id := m.AccountID
		if m.Kind == KindGroup && m.GroupKey != "" {
			id = a.agIDs[m.GroupKey]
		}
		if id == "" {
			complete = false
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), complete
}

// accountGroup reads the plan's account group ag, found with id, and
// records its ensure step.
func (a *adopter) accountGroup(ctx context.Context, ag *AccountGroupPlan, id string) error {
	p := Payload{Kind: KindEnsureAccountGroup, Group: ag.DisplayName}
	reused := ag.ExistingID != ""
	live, err := a.rd.AccountGroup(ctx, id)
	switch {
	case errors.Is(err, scim.ErrNotFound) && reused:
		delete(a.agIDs, ag.Key)
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("account group %q (id %s), which the plan reuses, no longer exists: nothing recorded for it; plan again", ag.DisplayName, id))
		return nil
	case errors.Is(err, scim.ErrNotFound):
		delete(a.agIDs, ag.Key)
		a.res.Lines = append(a.res.Lines, fmt.Sprintf("account group %q (id %s): listed, but gone when read: nothing recorded", ag.DisplayName, id))
		return nil
	case err != nil:
		return fmt.Errorf("adopt: read account group %q: %w", ag.DisplayName, err)
	}
	have := map[string]bool{}
	for _, m := range live.Members {
		have[m.Value] = true
	}
	desired, complete := a.desiredIDs(ag)
	n := 0
	for _, m := range desired {
		if have[m] {
			n++
		} else {
			complete = false
		}
	}
	state := StateStarted
	if complete {
		state = StateDone
	}
	if !reused {
		a.created[ag.Key] = true
		a.record(accountGroupStepID(ag.Key), state, p, Detail{AccountGroupID: id, Created: true, MembersAdded: n})
		a.res.Lines = append(a.res.Lines, fmt.Sprintf("account group %q (id %s): exists with its planned name: taken as created by this migration, %d of %d planned members",
			ag.DisplayName, id, n, len(ag.Members)))
		return nil
	}
	// A reused group: the plan kept a digest of its members, which tells
	// which of the planned members it holds were there before.
	d := Detail{AccountGroupID: id}
	added, known := addedMembers(live.Members, intersect(desired, keys(have)), ag.ExistingMembersDigest)
	switch {
	case known && len(added) == 0 && !complete:
		a.res.Lines = append(a.res.Lines, fmt.Sprintf("account group %q (id %s, reused): as planned, no member added yet", ag.DisplayName, id))
		return nil // nothing done: apply ensures it
	case known:
		d.AddedMemberIDs = added
	default:
		d.Unknown = fmt.Sprintf("which members of account group %q, which the plan reuses, this migration added (its members are neither those the plan read nor those plus planned members)", ag.DisplayName)
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("account group %q (id %s), which the plan reuses, has members the plan did not read: adopt cannot tell which of them this migration added (the plan kept only a digest of its members): rollback refuses its groups; if members are still missing, apply calls the plan stale for it",
			ag.DisplayName, id))
	}
	a.record(accountGroupStepID(ag.Key), state, p, d)
	addedText := fmt.Sprint(len(d.AddedMemberIDs))
	if !known {
		addedText = "unknown how many"
	}
	a.res.Lines = append(a.res.Lines, fmt.Sprintf("account group %q (id %s, reused): %d of %d planned members, %s added by this migration",
		ag.DisplayName, id, n, len(ag.Members), addedText))
	return nil
}

// maxAddedSearch bounds the work of addedMembers: subsets tried times
// members hashed.
const maxAddedSearch = 1 << 22

// addedMembers finds which of cands (planned members the group holds)
// apply added: the subset whose removal from members gives the digest the
// plan read. known is false when no subset does, or there are too many to
// try.
func addedMembers(members []scim.ComplexValue, cands []string, digest string) (added []string, known bool) {
	if MembersDigest(members) == digest {
		return nil, true
	}
	if MembersDigest(without(members, cands)) == digest {
		return cands, true
	}
	if len(cands) >= 30 || (1<<len(cands))*max(len(members), 1) > maxAddedSearch {
		return nil, false
	}
	for mask := 1; mask < 1<<len(cands)-1; mask++ {
		var s []string
		for i, c := range cands {
			if mask&(1<<i) != 0 {
				s = append(s, c)
			}
		}
		if MembersDigest(without(members, s)) == digest {
			return s, true
		}
	}
	return nil, false
}

// without returns the members whose id is not in ids.
func without(members []scim.ComplexValue, ids []string) []scim.ComplexValue {
	return slices.DeleteFunc(slices.Clone(members), func(m scim.ComplexValue) bool { return slices.Contains(ids, m.Value) })
}

// keys returns the keys of a set.
func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// workspaceAssignments lists a workspace's assignments once.
func (a *adopter) workspaceAssignments(ctx context.Context, wsID int64) ([]scim.PermissionAssignment, error) {
	if as, ok := a.assignments[wsID]; ok {
		return as, nil
	}
	as, err := a.rd.Assignments(ctx, wsID)
	if err != nil {
		return nil, fmt.Errorf("adopt: list assignments of workspace %d: %w", wsID, err)
	}
	a.assignments[wsID] = as
	return as, nil
}

// localGroup reads one migrated local group and records its steps.
func (a *adopter) localGroup(ctx context.Context, gr groupRef) error {
	ws, g := gr.ws, gr.g
	ag := findAG(a.plan, g.AccountGroupKey)
	label := fmt.Sprintf("group %q in workspace %s (%d)", g.LocalName, ws.WorkspaceName, ws.WorkspaceID)
	step := func(k StepKind) (string, Payload) {
		return groupStepID(k, ws.WorkspaceID, g.LocalID), Payload{Kind: k, WorkspaceID: ws.WorkspaceID, Group: g.LocalName}
	}
	say := func(state, what string) {
		a.res.Groups[state]++
		a.res.Lines = append(a.res.Lines, label+": "+what)
	}
	renamed := Detail{PreviousName: g.LocalName, NewName: g.BackupName}
	agID := a.agIDs[g.AccountGroupKey]
	assigned := false
	if agID != "" {
		as, err := a.workspaceAssignments(ctx, ws.WorkspaceID)
		if err != nil {
			return err
		}
		assigned = hasAssignment(as, agID)
	}
	// Assigned by this migration, and holding nothing in the workspace
	// before: a group it created, and a reused one with the name of a
	// local group of the workspace when the plan was made (an assignment
	// fails while a local group of the same name exists, so it was not
	// assigned then). For any other reused group it cannot be told (the
	// plan does not say whether it was assigned before), nor what the
	// group held there before.
	fresh := a.created[g.AccountGroupKey] || localNameAt(ws, ag.DisplayName)
	assignedByUs := assigned && fresh
	assign := Detail{Assigned: assignedByUs}
	if assigned && !assignedByUs {
		assign.Unknown = fmt.Sprintf("whether this migration assigned account group %q, which the plan reuses, to workspace %s, nor which entitlements, roles and grants it held there before",
			ag.DisplayName, ws.WorkspaceName)
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%s: account group %q, which the plan reuses, is assigned to the workspace; adopt cannot tell whether this migration assigned it, nor what it held there before: rollback refuses this group (restore it by hand, or finish it with apply and finalize)", label, ag.DisplayName))
	}

	live, err := a.rd.WorkspaceGroup(ctx, ws.WorkspaceID, g.LocalID)
	switch {
	case errors.Is(err, scim.ErrNotFound):
		if !assigned {
			a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%s: the local group (id %s) no longer exists and its account group is not assigned to the workspace: deleted by someone; nothing recorded for it", label, g.LocalID))
			say(adoptUnknown, "deleted, account group not assigned: nothing recorded")
			return nil
		}
		// Finalize deletes a backup only once every step of its group is
		// done.
		for _, k := range groupKinds {
			id, p := step(k)
			d := Detail{}
			switch k {
			case KindRenameLocal:
				d = renamed
			case KindAssignWorkspace:
				d = assign
			}
			a.record(id, StateDone, p, d)
		}
		id, p := step(KindDeleteBackup)
		a.record(id, StateDone, p, Detail{PreviousName: g.BackupName})
		say(adoptFinalized, fmt.Sprintf("the backup group (id %s) is gone and the account group is assigned: taken as finalized (it cannot be rolled back)", g.LocalID))
		return nil
	case err != nil:
		return fmt.Errorf("adopt: read %s: %w", label, err)
	case live.DisplayName == g.LocalName:
		say(adoptNotStarted, "not renamed: not started")
		return nil
	case live.DisplayName != g.BackupName:
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%s: the local group (id %s) is now named %q, neither its name nor its backup name %q: nothing recorded for it; rename it by hand", label, g.LocalID, live.DisplayName, g.BackupName))
		say(adoptUnknown, fmt.Sprintf("named %q: nothing recorded", live.DisplayName))
		return nil
	}
	id, p := step(KindRenameLocal)
	a.record(id, StateDone, p, renamed)
	if !assigned {
		say(adoptStarted, "renamed to its backup name; account group not assigned yet")
		return nil
	}
	id, p = step(KindAssignWorkspace)
	a.record(id, StateDone, p, assign)

	gs := &groupSteps{ws: ws, g: g, ag: ag, agID: agID}
	perms, ents, secrets, err := a.grants(ctx, gs, fresh)
	if err != nil {
		return err
	}
	diffs, _, err := verifyGroup(ctx, a.rd, ws, g, ag, agID)
	if err != nil {
		return fmt.Errorf("adopt: verify %s: %w", label, err)
	}
	state := StateStarted
	if len(diffs) == 0 {
		state = StateDone
		id, p = step(KindWaitVisible)
		a.record(id, StateDone, p, Detail{})
	}
	// The permissions step may have moved grants: rollback puts back the
	// baseline's (RouteAPI), or takes back the copies found (RouteACLCopy).
	id, p = step(KindMigratePermissions)
	a.record(id, state, p, perms)
	if state == StateDone || len(ents.Entitlements)+len(ents.Roles) > 0 {
		id, p = step(KindCopyEntitlements)
		a.record(id, state, p, ents)
	}
	if state == StateDone || len(secrets.SecretACLs) > 0 {
		id, p = step(KindMigrateSecretACLs)
		a.record(id, state, p, secrets)
	}
	if state == StateDone {
		id, p = step(KindVerify)
		a.record(id, StateDone, p, Detail{})
		say(adoptMigrated, "renamed, assigned, and verifies cleanly: migrated")
		return nil
	}
	say(adoptStarted, fmt.Sprintf("renamed and assigned; not finished (%s)", diffs[0]))
	return nil
}

// localNameAt reports whether a local group of ws had exactly this name
// when the plan was made.
func localNameAt(ws *WorkspacePlan, name string) bool {
	return slices.ContainsFunc(ws.Groups, func(g GroupPlan) bool { return g.LocalName == name })
}

// grants returns the details of the permissions, entitlements and secret
// ACL steps as the live state shows them: what the account group holds in
// the workspace of what the local group brings. Only when the account
// group held nothing there before apply (fresh, see localGroup) is all of
// it the migration's: otherwise adopt cannot tell what it held before and
// records none (its assignment step says so).
func (a *adopter) grants(ctx context.Context, gs *groupSteps, fresh bool) (perms, ents, secrets Detail, err error) {
	if !fresh {
		return perms, ents, secrets, nil
	}
	wsID, to := gs.ws.WorkspaceID, gs.ag.DisplayName
	wg, err := a.rd.WorkspaceGroup(ctx, wsID, gs.agID)
	if err != nil && !errors.Is(err, scim.ErrNotFound) {
		return perms, ents, secrets, fmt.Errorf("adopt: read account group %q in workspace %d: %w", to, wsID, err)
	}
	heldEnts := intersect(gs.g.Entitlements, values(wg.Entitlements))
	heldRoles := intersect(gs.g.Roles, values(wg.Roles))
	var copied []GrantChange
	var acls []SecretACL
	if routeOf(gs.g) == RouteACLCopy && gs.g.Grants != nil {
		for _, o := range gs.g.Grants.Objects {
			acl, err := a.rd.ObjectPermissions(ctx, wsID, o.ObjectType, o.ObjectID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return perms, ents, secrets, fmt.Errorf("adopt: read permissions of %s: %w", o.Object(), err)
			}
			if directLevel(o.ObjectType, acl, to) == o.Level {
				copied = append(copied, GrantChange{ObjectType: o.ObjectType, ObjectID: o.ObjectID, Level: o.Level})
			}
		}
		best := map[string]string{}
		for _, s := range gs.g.Grants.Secrets {
			if secretRank(s.Permission) > secretRank(best[s.Scope]) {
				best[s.Scope] = s.Permission
			}
		}
		scopes := make([]string, 0, len(best))
		for s := range best {
			scopes = append(scopes, s)
		}
		slices.Sort(scopes)
		for _, scope := range scopes {
			live, err := a.rd.SecretACLs(ctx, wsID, scope)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return perms, ents, secrets, fmt.Errorf("adopt: list ACLs of secret scope %q: %w", scope, err)
			}
			if held := secretHeld(live, to); held == best[scope] {
				acls = append(acls, SecretACL{Scope: scope, Principal: to, Permission: held})
			}
		}
	}
	return Detail{ObjectGrants: copied}, Detail{Entitlements: heldEnts, Roles: heldRoles}, Detail{SecretACLs: acls}, nil
}

// writeAdoptSummary prints what adopt found and where the journal is.
func writeAdoptSummary(w io.Writer, r AdoptResult, dir string) {
	for _, l := range r.Lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
	g := r.Groups
	fmt.Fprintf(w, "Adopt: %s written to %s: %d groups migrated, %d started, %d not started, %d finalized, %d unknown\n",
		plural(r.Records, "record", "records"), journal.Path(dir), g[adoptMigrated], g[adoptStarted], g[adoptNotStarted], g[adoptFinalized], g[adoptUnknown])
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", x)
	}
	fmt.Fprintf(w, "next: pass --journal %s to migrate status, apply, verify, finalize and rollback\n", shellArg(dir))
}

// shellArg returns s as typed on a command line: as it is when it holds
// only characters no shell treats specially, Go-quoted otherwise.
func shellArg(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./:=@+-,", r)) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
