package handover

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dbiam/dbiam/journal"
)

// RunRollback undoes what apply changed, from the journal in
// opts.JournalDir and the plan copy kept there: first each deactivated
// identity is reactivated and its direct workspace assignments restored,
// then every object change apply made is reversed (the previous owner,
// run-as identity, dedicated user or manager level put back), objects in
// reverse plan order. A change whose object was changed since apply is
// skipped and reported. Revoked tokens cannot come back: they are counted,
// and the run then returns a *PartialError (exit 2), as the state is not
// fully back.
func RunRollback(ctx context.Context, opts ApplyOptions, d Deps) error {
	if opts.JournalDir == "" {
		return &InputError{Input: "handover rollback", Problem: "no --journal", Fix: "pass the journal directory apply used"}
	}
	if err := opts.normalize("rollback"); err != nil {
		return err
	}
	_, recs, err := journal.Read[record](opts.JournalDir)
	if err != nil {
		return damagedJournal("rollback", err)
	}
	question := ""
	if !opts.DryRun && !opts.Yes {
		path := cmpOr(opts.PlanPath, journal.PlanPath(opts.JournalDir))
		plan, _, err := ReadPlan(path)
		if err != nil {
			return err
		}
		question = rollbackSummary(plan, journal.Replay(recs, mergeRecord))
		if !opts.Terminal || d.Streams == nil {
			return &InputError{Input: "handover rollback", Problem: question + ", and stdin is not a terminal to confirm it",
				Fix: "check \"dbiam handover status\", then pass --yes", Err: ErrNotConfirmed}
		}
	}
	r, cleanup, err := openRun(ctx, "rollback", &opts, d)
	if err != nil {
		return err
	}
	defer cleanup()
	if question != "" {
		if err := confirmText(d, question); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ex.OnFatal(cancel)
	irreversible := r.runRollback(ctx)
	r.prog.close()
	if err := r.ex.Fatal(); err != nil {
		return err
	}
	res := r.result()
	res.irreversible = irreversible
	if d.Streams != nil {
		writeResult(d.Streams.Out, "Rollback", res, opts.DryRun)
		d.Streams.SetOutcome(runOutcome("rollback", res, opts))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("rollback interrupted with %d changes pending; run the same command again to resume: %w", res.pending, ctx.Err())
	}
	if n := len(res.failed) + len(res.skipped); n > 0 || irreversible > 0 {
		if opts.DryRun {
			return &PartialError{Op: "rollback --dry-run", Failed: n + irreversible, Total: res.total + irreversible,
				What: "changes would not be put back (failed, changed since apply, or irreversible)",
				Hint: "nothing was changed; see the lines above"}
		}
		return &PartialError{Op: "rollback", Failed: n + irreversible, Total: res.total + irreversible,
			What: "changes were not put back (failed, changed since apply, or irreversible)",
			Hint: "the state is not fully back; see the lines above and \"dbiam handover status\""}
	}
	return nil
}

// rollbackSummary says everything rollback will do, from the plan and the
// journal's views: reactivate each deactivated identity and restore its
// direct workspace assignments, then put back each object change apply
// made (restarting a cluster that is running), skipping an object
// changed since apply; and which revoked tokens cannot come back.
func rollbackSummary(p *Plan, views map[string]*journal.View[record]) string {
	var identities []string
	objectWS, assignWS := map[int64]bool{}, map[int64]bool{}
	clusters := map[string]bool{}
	objects, assignments, tokens := 0, 0, 0
	for _, c := range p.Changes {
		v := views[c.ID]
		if v == nil || !v.Data.Changed || v.Undone {
			continue
		}
		switch {
		case c.Phase == PhaseTokens:
			if v.State == journal.Done {
				tokens++
			}
		case c.Action == ActionDeactivate:
			identities = append(identities, c.Identity)
		case c.Action == ActionUnassign:
			assignments++
			assignWS[c.WorkspaceID] = true
		default:
			objects++
			objectWS[c.WorkspaceID] = true
			if c.Kind == KindCluster {
				clusters[objectKey(c)] = true
			}
		}
	}
	var parts []string
	if len(identities) > 0 {
		parts = append(parts, fmt.Sprintf("reactivate %s at account level (%s)", plural(len(identities), "identity"), strings.Join(identities, ", ")))
	}
	if assignments > 0 {
		parts = append(parts, fmt.Sprintf("restore %s in %s", plural(assignments, "direct workspace assignment"), plural(len(assignWS), "workspace")))
	}
	if objects > 0 {
		what := fmt.Sprintf("put back %s in %s of account %s (previous owners, run-as identities, dedicated users and manager levels; an object changed since apply is skipped and reported)",
			plural(objects, "object change"), plural(len(objectWS), "workspace"), p.AccountID)
		if len(clusters) > 0 {
			what += fmt.Sprintf(", restarting each of %s that is running (once)", plural(len(clusters), "cluster"))
		}
		if len(parts) > 0 {
			what = "then " + what
		}
		parts = append(parts, what)
	}
	if len(parts) == 0 {
		parts = append(parts, "find nothing to put back (the journal records no change apply made that is not undone)")
	}
	out := "Rollback will " + strings.Join(parts, ", ")
	if tokens > 0 {
		out += fmt.Sprintf("; %s revoked by apply cannot come back (IRREVERSIBLE): rollback ends with the state not fully back", plural(tokens, "token"))
	}
	return out
}

// confirmText asks for "yes" on the terminal.
func confirmText(d Deps, what string) error {
	fmt.Fprintf(d.Streams.Err, "%s.\nOnly 'yes' will be accepted to approve.\nContinue? ", what)
	var line strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := d.Streams.In.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line.WriteByte(buf[0])
		}
		if err != nil {
			break
		}
	}
	if strings.TrimSpace(line.String()) != "yes" {
		return fmt.Errorf("rollback: %w: nothing was changed", ErrNotConfirmed)
	}
	return nil
}

// undoable reports whether apply sent a write for change c that rollback
// must consider (whatever the step's last state: a failed write may have
// landed).
func (r *runner) undoable(c Change) (journal.View[record], bool) {
	v, ok := r.ex.View(c.ID)
	return v, ok && v.Data.Changed && !v.Undone
}

// runRollback undoes phase 2, then phase 1; it returns how many revoked
// tokens cannot be undone.
func (r *runner) runRollback(ctx context.Context) int {
	irreversible := 0
	var identity, objects []Change
	for _, c := range r.plan.Changes {
		if _, ok := r.undoable(c); !ok {
			// Already undone, or never changed: nothing to put back. An
			// undo step that is done is reported as done.
			if v, _ := r.ex.View(journal.UndoID(c.ID)); v.State != "" {
				r.set(&outcome{c: c, state: v.State, before: true})
			}
			continue
		}
		switch c.Phase {
		case PhaseTokens:
			if v, _ := r.ex.View(c.ID); v.State == journal.Done {
				irreversible++
			}
		case PhaseDeactivate:
			identity = append(identity, c)
		default:
			objects = append(objects, c)
		}
	}
	r.pending(identity)
	r.pending(objects)
	r.prog = newProgress(r.stream, "rollback", slices.Concat(identity, objects))
	// Reactivate before reassigning; both before objects whose run-as or
	// owner goes back to the identity.
	slices.SortStableFunc(identity, func(a, b Change) int {
		return cmpAction(a.Action) - cmpAction(b.Action)
	})
	for _, c := range identity {
		if ctx.Err() != nil {
			return irreversible
		}
		r.step(ctx, c, r.undoChange(c))
	}
	slices.Reverse(objects)
	r.runObjects(ctx, objects, r.undoChange)
	return irreversible
}

func cmpAction(a string) int {
	if a == ActionDeactivate {
		return 0
	}
	return 1
}

// undoChange is the step that puts back what apply changed for c.
func (r *runner) undoChange(c Change) journal.StepFunc[record] {
	return func(s *journal.Step[record]) (journal.Outcome, record, error) {
		ctx := s.Ctx
		done, _ := r.ex.View(c.ID)
		prev := done.Data
		st, err := r.remote.Read(ctx, c)
		if err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("read %s: %w", objectLabel(c.Kind, c.ObjectID, c.ObjectName), err)
		}
		if !st.Exists {
			return journal.OutcomeSkipped, record{Reason: "the object no longer exists"}, nil
		}
		switch c.Action {
		case ActionDeactivate:
			if st.Value != "" {
				return journal.OutcomeDone, record{}, nil // active again
			}
			return journal.OutcomeDone, record{}, r.send(s, record{Call: "set", Changed: true},
				func(ctx context.Context) error { return r.remote.Write(ctx, c, "active", nil, st) })
		case ActionUnassign:
			if st.Value != "" {
				return journal.OutcomeDone, record{}, nil // assigned again
			}
			return journal.OutcomeDone, record{}, r.send(s, record{Call: "set", Changed: true},
				func(ctx context.Context) error { return r.remote.Write(ctx, c, "", prev.PreviousPermissions, st) })
		case ActionManage:
			want := prev.PreviousLevel
			if want == "NONE" {
				want = ""
			}
			if st.Level == want {
				return journal.OutcomeDone, record{}, nil
			}
			if !reached(c, st) {
				return journal.OutcomeSkipped, record{Reason: fmt.Sprintf("changed since apply: %s now holds %q", c.To.String(), st.Level)}, nil
			}
			return journal.OutcomeDone, record{}, r.send(s, record{Call: "set", Changed: true},
				func(ctx context.Context) error { return r.remote.Write(ctx, c, want, nil, st) })
		}
		back := Principal{cmpOr(prev.PreviousType, c.From.Type), cmpOr(prev.Previous, c.From.Name)}
		if c.Kind == KindCluster {
			return r.applyCluster(s, Change{ID: c.ID, WorkspaceID: c.WorkspaceID, Kind: c.Kind, ObjectID: c.ObjectID, ObjectName: c.ObjectName,
				Action: c.Action, From: c.To, To: back, Restart: c.Restart}, st, back.Name, c.To)
		}
		if strings.EqualFold(st.Value, back.Name) {
			return journal.OutcomeDone, record{}, nil
		}
		if !strings.EqualFold(st.Value, c.To.Name) {
			return journal.OutcomeSkipped, record{Reason: fmt.Sprintf("changed since apply: it is now %s, not %s", cmpOr(st.Value, "(none)"), c.To.String()),
				Found: st.Value}, nil
		}
		undo := Change{ID: c.ID, WorkspaceID: c.WorkspaceID, Kind: c.Kind, ObjectID: c.ObjectID, ObjectName: c.ObjectName,
			Action: c.Action, From: c.To, To: back}
		if err := r.send(s, record{Call: "set", Changed: true},
			func(ctx context.Context) error { return r.remote.Write(ctx, undo, back.Name, nil, st) }); err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("put back %s %s: %w", c.Action, objectLabel(c.Kind, c.ObjectID, c.ObjectName), err)
		}
		return journal.OutcomeDone, record{}, nil
	}
}
