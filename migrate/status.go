package migrate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
)

// Group states shown by status.
const (
	GroupDone        = "done"
	GroupRunning     = "running"
	GroupInterrupted = "interrupted"
	GroupFailed      = "failed"
	GroupPending     = "pending"
	GroupSkipped     = "skipped"
	GroupRolledBack  = "rolled-back"
	GroupFinalized   = "finalized"
)

// StatusOptions are the options of "dbiam migrate status".
type StatusOptions struct {
	// JournalDir is the journal directory of an apply.
	JournalDir string
	// Alive overrides the check of the lock holder's process (tests).
	Alive func(pid int) bool
}

// GroupStatus is one row of status: a local group (or, with Workspace
// "account", an account group) and where its steps stand.
type GroupStatus struct {
	WorkspaceID  int64
	Workspace    string
	Group        string
	AccountGroup string
	State        string
	// Step is the failed or running step, or the next pending one.
	Step StepKind
	// Done counts finished steps out of Steps.
	Done, Steps int
	// Error is the failed step's error, or the skip reason.
	Error string
}

// StatusReport is what status shows.
type StatusReport struct {
	Groups []GroupStatus
	// Totals counts groups (not account groups) by state.
	Totals map[string]int
	// Running is true when an apply holds the journal's lock.
	Running bool
}

// BuildStatus folds a journal into per-group states. running says whether
// an apply holds the lock (started steps are then running, otherwise
// interrupted).
func BuildStatus(p *Plan, recs []Record, running bool) StatusReport {
	views := Replay(recs)
	rep := StatusReport{Totals: map[string]int{}, Running: running}
	started := GroupInterrupted
	if running {
		started = GroupRunning
	}
	agState := map[string]GroupStatus{}
	for _, ag := range p.AccountGroups {
		gs := GroupStatus{Workspace: "account", Group: ag.DisplayName, AccountGroup: ag.DisplayName, Steps: 1, Step: KindEnsureAccountGroup}
		v := views[accountGroupStepID(ag.Key)]
		switch {
		case v == nil || v.State == "":
			gs.State = GroupPending
			if v != nil && v.Undone {
				gs.State = GroupRolledBack
			}
		case v.State == StateDone:
			gs.State, gs.Done = GroupDone, 1
		case v.State == StateFailed:
			gs.State, gs.Error = GroupFailed, v.Error
		default:
			gs.State = started
		}
		if u := views[UndoStepID(accountGroupStepID(ag.Key))]; u != nil && u.State == StateFailed {
			// Rollback failed to delete or restore it (kept in use, or an
			// error): it and the groups mapped to it are failed.
			gs.State, gs.Error = GroupFailed, "rollback: "+u.Error
		}
		agState[ag.Key] = gs
	}
	used := map[string]bool{}
	var rows []GroupStatus
	for _, ws := range p.Workspaces {
		for _, g := range ws.Groups {
			ag := findAG(p, g.AccountGroupKey)
			gs := GroupStatus{WorkspaceID: ws.WorkspaceID, Workspace: ws.WorkspaceName, Group: g.LocalName, Steps: len(groupKinds)}
			if ag != nil {
				gs.AccountGroup = ag.DisplayName
			}
			switch {
			case ws.Skipped != "":
				gs.State, gs.Error = GroupSkipped, ws.Skipped
			case g.Skipped != "":
				gs.State, gs.Error = GroupSkipped, g.Skipped
			default:
				used[g.AccountGroupKey] = true
				groupState(&gs, views, ws.WorkspaceID, g.LocalID, started, agState[g.AccountGroupKey])
			}
			rep.Totals[gs.State]++
			rows = append(rows, gs)
		}
	}
	for _, ag := range p.AccountGroups {
		if used[ag.Key] {
			rep.Groups = append(rep.Groups, agState[ag.Key])
		}
	}
	rep.Groups = append(rep.Groups, rows...)
	return rep
}

// groupState sets the state of one migrated group from its step views. A
// failed rollback (an undo step) or finalize (delete-backup) recorded in
// the journal makes the group failed, with that step and error.
func groupState(gs *GroupStatus, views map[string]*StepView, wsID int64, localID string, started string, ag GroupStatus) {
	del := views[groupStepID(KindDeleteBackup, wsID, localID)]
	if del != nil && del.State == StateDone {
		gs.State, gs.Done, gs.Step = GroupFinalized, gs.Steps, KindDeleteBackup
		if u := views[UndoStepID(groupStepID(KindRenameLocal, wsID, localID))]; u != nil && u.State == StateFailed && u.Seq > del.Seq {
			// A rollback asked for it after finalize and was refused: the
			// group stays finalized, and the failed rollback counts. (A
			// refusal before the finalize is superseded by it.)
			gs.State, gs.Step, gs.Error = GroupFailed, KindRenameLocal, "rollback: "+u.Error
		}
		return
	}
	applyState(gs, views, wsID, localID, started, ag)
	if gs.State == GroupFailed {
		return
	}
	for _, k := range undoKinds {
		if u := views[UndoStepID(groupStepID(k, wsID, localID))]; u != nil && u.State == StateFailed {
			gs.State, gs.Step, gs.Error = GroupFailed, k, "rollback: "+u.Error
			return
		}
	}
	if ag.State == GroupFailed && strings.HasPrefix(ag.Error, "rollback: ") {
		gs.State, gs.Step, gs.Error = GroupFailed, KindEnsureAccountGroup, ag.Error
		return
	}
	if del != nil && del.State == StateFailed && gs.State == GroupDone {
		gs.State, gs.Step, gs.Error = GroupFailed, KindDeleteBackup, "finalize: "+del.Error
	}
}

// applyState sets the state of one migrated group from its apply steps.
func applyState(gs *GroupStatus, views map[string]*StepView, wsID int64, localID string, started string, ag GroupStatus) {
	undone, next := false, false
	gs.State = ""
	for _, k := range groupKinds {
		v := views[groupStepID(k, wsID, localID)]
		if v != nil && v.Undone {
			undone = true
		}
		switch {
		case v != nil && v.State == StateDone:
			gs.Done++
			continue
		case v != nil && v.State == StateFailed:
			gs.State, gs.Step, gs.Error = GroupFailed, k, v.Error
		case v != nil && v.State == StateStarted:
			gs.State, gs.Step = started, k
		default:
			if !next {
				// The first step not done is the next one.
				gs.Step, next = k, true
			}
		}
		if gs.State != "" {
			return
		}
	}
	switch {
	case gs.Done == gs.Steps:
		gs.State, gs.Step = GroupDone, ""
	case ag.State == GroupFailed:
		gs.State, gs.Step, gs.Error = GroupFailed, KindEnsureAccountGroup, ag.Error
	case undone && gs.Done == 0:
		gs.State = GroupRolledBack
	case ag.State == GroupRunning || ag.State == GroupInterrupted:
		gs.State, gs.Step = ag.State, KindEnsureAccountGroup
	default:
		gs.State = GroupPending
	}
}

// RunStatus prints, per workspace and group, which steps are done, running,
// failed (with the error; a failed rollback or finalize step recorded in
// the journal counts as failed) or pending, then totals. It returns a
// *PartialError (exit code 2) when a group failed.
func RunStatus(ctx context.Context, opts StatusOptions, d Deps) error {
	if opts.JournalDir == "" {
		return fmt.Errorf("status: flag --journal is required: the journal directory apply used")
	}
	p, _, recs, err := loadJournalPlan(opts.JournalDir)
	if err != nil {
		return err
	}
	alive := opts.Alive
	if alive == nil {
		alive = journal.ProcessAlive
	}
	running := false
	if info, err := journal.ReadLock(opts.JournalDir); err == nil && info.PID > 0 && alive(info.PID) {
		running = true
	}
	rep := BuildStatus(p, recs, running)
	if err := writeStatus(d.Streams, rep, d.Now); err != nil {
		return err
	}
	d.setOutcome(reports.Outcome{Command: "migrate status", Stdout: true, Did: "read journal " + opts.JournalDir})
	if n := rep.Totals[GroupFailed]; n > 0 {
		total := 0
		for _, c := range rep.Totals {
			total += c
		}
		hint := "fix the causes shown and run the failed command (apply, rollback or finalize) again"
		final := 0
		for _, g := range rep.Groups {
			if g.State == GroupFailed && strings.HasPrefix(g.Error, "rollback: "+refusalPrefix+"the group stays migrated (finalized)") {
				final++
			}
		}
		if final > 0 {
			hint += fmt.Sprintf("; %d of them are finalized groups whose rollback was refused: they stay migrated, which no command changes", final)
		}
		return &PartialError{Op: "status", Failed: n, Total: total, Hint: hint}
	}
	return nil
}

func writeStatus(s *reports.Streams, rep StatusReport, now func() time.Time) error {
	tp := reports.NewTablePrinter(s)
	tp.Now = now
	tp.SetColumns(
		reports.Column{Name: "workspace"},
		reports.Column{Name: "group"},
		reports.Column{Name: "account group"},
		reports.Column{Name: "state"},
		reports.Column{Name: "step"},
		reports.Column{Name: "done", Type: reports.TypeString},
		reports.Column{Name: "error"},
	)
	tp.Wrap("error")
	for _, g := range rep.Groups {
		ws := g.Workspace
		if g.WorkspaceID != 0 {
			ws = fmt.Sprintf("%s (%d)", g.Workspace, g.WorkspaceID)
		}
		if err := tp.AddRow(ws, g.Group, g.AccountGroup, g.State, string(g.Step), fmt.Sprintf("%d/%d", g.Done, g.Steps), g.Error); err != nil {
			return err
		}
	}
	if err := tp.Render(); err != nil {
		return err
	}
	t := rep.Totals
	_, err := fmt.Fprintf(s.Out, "groups: %d done, %d failed, %d %s, %d pending, %d skipped, %d rolled back, %d finalized\n",
		t[GroupDone], t[GroupFailed], t[GroupRunning]+t[GroupInterrupted], map[bool]string{true: "running", false: "interrupted"}[rep.Running],
		t[GroupPending], t[GroupSkipped], t[GroupRolledBack], t[GroupFinalized])
	return err
}
