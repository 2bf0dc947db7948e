package handover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
)

// VerifyOptions are the options of "dbiam handover verify".
type VerifyOptions struct {
	PlanPath   string
	JournalDir string // "" means "<plan>.journal"; without a journal every change is expected done
	Parallel   int    // objects read at once per workspace; 0 means DefaultParallel
	Remote     Remote // tests
}

// Difference is one change whose live state is not what the plan and the
// journal say it should be, or whose object could not be read (NotRead:
// the change is not verified).
type Difference struct {
	Change Change
	// Expected and Found describe the state.
	Expected, Found string
	// NotRead is the error of a read that failed.
	NotRead error
}

// RunVerify re-reads every object of the plan (GET only) and reports every
// difference from what the plan and the journal say: a change apply made
// (or found made) must be in place, a change not made must no longer
// depend on the leaving identity, a deactivated identity must be inactive
// and unassigned, a revoked token gone. A read that fails does not stop
// it: every object that can be read is checked, and each one that cannot
// is listed as not verified, with the error. It returns a *PartialError
// (exit 2) when there are differences or changes not verified.
func RunVerify(ctx context.Context, opts VerifyOptions, d Deps) error {
	if opts.PlanPath == "" {
		return &InputError{Input: "handover verify", Problem: "no plan file", Fix: "pass the plan written by \"dbiam handover plan\""}
	}
	if opts.JournalDir == "" {
		opts.JournalDir = journal.DefaultDir(opts.PlanPath)
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	plan, raw, err := ReadPlan(opts.PlanPath)
	if err != nil {
		return err
	}
	var views map[string]*journal.View[record]
	h, recs, err := journal.Read[record](opts.JournalDir)
	switch {
	case errors.Is(err, journal.ErrNoJournal):
	case err != nil:
		return damagedJournal("verify", err)
	default:
		if err := journal.CheckHeader(journal.Path(opts.JournalDir), h, journal.Header{Kind: JournalKind, PlanSHA256: journal.SHA256(raw)}); err != nil {
			return err
		}
		views = journal.Replay(recs, mergeRecord)
	}
	remote := opts.Remote
	if remote == nil {
		if d.Connect == nil {
			return errors.New("verify: no connection configured")
		}
		sess, err := d.Connect(ctx)
		if err != nil {
			return err
		}
		if remote, err = NewRemote(ctx, sess, plan); err != nil {
			return err
		}
	}
	prog := newProgress(d.Streams, "verify", plan.Changes)
	diffs := verifyPlan(ctx, plan, views, remote, opts.Parallel, prog)
	prog.close()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("verify interrupted: %w", err)
	}
	if d.Streams != nil {
		if err := printDifferences(d.Streams, plan, diffs); err != nil {
			return err
		}
	}
	differ, unread := countDifferences(diffs)
	if d.Streams != nil {
		did := fmt.Sprintf("%d changes checked, %d differences", len(plan.Changes)-unread, differ)
		if unread > 0 {
			did += fmt.Sprintf(", %d not verified", unread)
		}
		d.Streams.SetOutcome(reports.Outcome{Command: "handover verify", Stdout: true, Did: did})
	}
	switch {
	case unread > 0:
		return &PartialError{Op: "verify", Failed: differ + unread, Total: len(plan.Changes),
			What: fmt.Sprintf("changes differ from the plan or are not verified (%d differ, %d could not be read)", differ, unread),
			Hint: "see the lines above; fix what kept an object from being read (permissions, throttling, a workspace out of reach) and verify again"}
	case differ > 0:
		return &PartialError{Op: "verify", Failed: differ, Total: len(plan.Changes), What: "changes differ from the plan",
			Hint: "see the differences above; run apply again, or plan again for objects that changed"}
	}
	return nil
}

// countDifferences counts the differences found and the changes not
// verified.
func countDifferences(diffs []Difference) (differ, unread int) {
	for _, d := range diffs {
		if d.NotRead != nil {
			unread++
		} else {
			differ++
		}
	}
	return differ, unread
}

// expectation says what a change's live state should be, from its journal
// view (nil: no journal, the change should be done).
func expectation(c Change, v *journal.View[record]) (wantDone bool, label string) {
	if v == nil {
		return true, "done"
	}
	switch {
	case v.Undone:
		return false, "rolled back"
	case v.State == journal.Done:
		return true, "done"
	case v.State == journal.Skipped:
		return false, "skipped at apply (" + v.Data.Reason + ")"
	case v.State == "":
		return false, "not applied yet"
	}
	return false, "apply " + string(v.State)
}

// verifyPlan reads every change's object and returns the differences and
// the changes whose object could not be read, in plan order.
func verifyPlan(ctx context.Context, plan *Plan, views map[string]*journal.View[record], remote Remote, parallel int, prog *progress) []Difference {
	var (
		mu    sync.Mutex
		diffs = map[string]Difference{}
	)
	sems := map[int64]chan struct{}{}
	for _, c := range plan.Changes {
		if sems[c.WorkspaceID] == nil {
			sems[c.WorkspaceID] = make(chan struct{}, parallel)
		}
	}
	var wg sync.WaitGroup
	for _, c := range plan.Changes {
		wg.Go(func() {
			sem := sems[c.WorkspaceID]
			sem <- struct{}{}
			defer func() { <-sem }()
			prog.start(c)
			st, err := remote.Read(ctx, c)
			read := &outcome{c: c, state: journal.Done}
			if err != nil {
				read.state = journal.Failed
			}
			defer prog.done(read) // after the lock below is released
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				want, _ := expectation(c, views[c.ID])
				expected := describe(c)
				if !want {
					expected = "no dependency on " + c.Identity
				}
				diffs[c.ID] = Difference{Change: c, Expected: expected, Found: "not verified: could not read it: " + oneLine(err.Error()), NotRead: err}
				return
			}
			want, label := expectation(c, views[c.ID])
			switch {
			case want && !reached(c, st):
				diffs[c.ID] = Difference{Change: c, Expected: describe(c), Found: foundText(c, st)}
			case !want && c.Phase == PhaseObjects && dependsOn(c, st) && (views[c.ID] == nil || !views[c.ID].Undone):
				diffs[c.ID] = Difference{Change: c, Expected: "no dependency on " + c.Identity + " (" + label + ")", Found: foundText(c, st)}
			}
		})
	}
	wg.Wait()
	var out []Difference
	for _, c := range plan.Changes {
		if d, ok := diffs[c.ID]; ok {
			out = append(out, d)
		}
	}
	return out
}

// oneLine keeps a message on one table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func foundText(c Change, st live) string {
	switch {
	case !st.Exists && c.Action == ActionRevoke:
		return "revoked"
	case !st.Exists:
		return "the object no longer exists"
	case c.Action == ActionManage:
		return c.To.String() + " holds " + cmpOr(st.Level, "nothing")
	case c.Action == ActionRevoke:
		return "the token still exists"
	case c.Action == ActionDeactivate && st.Value != "":
		return c.Identity + " is active"
	case c.Action == ActionUnassign && st.Value != "":
		return "assigned " + strings.Join(st.Permissions, ",")
	}
	return c.Action + " " + cmpOr(st.Value, "(none)")
}

func printDifferences(s *reports.Streams, plan *Plan, diffs []Difference) error {
	if len(diffs) > 0 {
		tp := reports.NewTablePrinter(s)
		tp.SetColumns(reports.Column{Name: "workspace"}, reports.Column{Name: "object"}, reports.Column{Name: "expected"}, reports.Column{Name: "found"})
		tp.Wrap("expected", "found") // what differs, or why it was not verified: never cut
		for _, d := range diffs {
			c := d.Change
			if err := tp.AddRow(cmpOr(c.Workspace, "account"), objectLabel(c.Kind, c.ObjectID, c.ObjectName), d.Expected, d.Found); err != nil {
				return err
			}
		}
		if err := tp.Render(); err != nil {
			return err
		}
	}
	differ, unread := countDifferences(diffs)
	if unread > 0 {
		fmt.Fprintf(s.Out, "Verify: %d of %d changes checked, %d differences; %d not verified (their object could not be read)\n",
			len(plan.Changes)-unread, len(plan.Changes), differ, unread)
		return nil
	}
	fmt.Fprintf(s.Out, "Verify: %d changes checked, %d differences\n", len(plan.Changes), differ)
	return nil
}
