package handover

import (
	"context"
	"fmt"
	"strings"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
)

// StatusOptions are the options of "dbiam handover status".
type StatusOptions struct {
	JournalDir string
}

// RunStatus prints, from the journal and the plan copy in opts.JournalDir
// (no request, no lock), the state of every change: pending, started (a
// write may have been sent), done, skipped (with why), failed (with the
// error) or rolled back, then a count of each.
func RunStatus(ctx context.Context, opts StatusOptions, d Deps) error {
	if opts.JournalDir == "" {
		return &InputError{Input: "handover status", Problem: "no --journal", Fix: "pass the journal directory apply used"}
	}
	h, recs, err := journal.Read[record](opts.JournalDir)
	if err != nil {
		return damagedJournal("status", err)
	}
	plan, raw, err := ReadPlan(journal.PlanPath(opts.JournalDir))
	if err != nil {
		return err
	}
	if err := journal.CheckHeader(journal.Path(opts.JournalDir), h, journal.Header{Kind: JournalKind, PlanSHA256: journal.SHA256(raw)}); err != nil {
		return err
	}
	views := journal.Replay(recs, mergeRecord)
	if d.Streams == nil {
		return nil
	}
	if lock, err := journal.ReadLock(opts.JournalDir); err == nil {
		fmt.Fprintf(d.Streams.Err, "the journal is locked by %s@%s (pid %d) running %s since %s\n", lock.User, lock.Host, lock.PID, lock.Command,
			lock.StartedAt.UTC().Format("2006-01-02T15:04:05Z"))
	}
	tp := reports.NewTablePrinter(d.Streams)
	tp.SetColumns(reports.Column{Name: "state"}, reports.Column{Name: "workspace"}, reports.Column{Name: "object"},
		reports.Column{Name: "change"}, reports.Column{Name: "detail"})
	tp.Wrap("detail") // why a change failed or was skipped: never cut
	counts := map[string]int{}
	var order []string
	for _, c := range plan.Changes {
		state, detail := statusOf(views, c)
		if _, ok := counts[state]; !ok {
			order = append(order, state)
		}
		counts[state]++
		if err := tp.AddRow(state, cmpOr(c.Workspace, "account"), objectLabel(c.Kind, c.ObjectID, c.ObjectName), describe(c), detail); err != nil {
			return err
		}
	}
	if err := tp.Render(); err != nil {
		return err
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	fmt.Fprintf(d.Streams.Out, "Status: %d changes: %s\n", len(plan.Changes), strings.Join(parts, ", "))
	d.Streams.SetOutcome(reports.Outcome{Command: "handover status", Stdout: true,
		Did: fmt.Sprintf("%d changes: %s; read journal %s", len(plan.Changes), strings.Join(parts, ", "), opts.JournalDir)})
	return nil
}

// statusOf names a change's state in the journal, with its detail.
func statusOf(views map[string]*journal.View[record], c Change) (string, string) {
	v := views[c.ID]
	u := views[journal.UndoID(c.ID)]
	switch {
	case v != nil && v.Undone:
		return "rolled-back", ""
	case u != nil && u.State == journal.Failed:
		return "rollback-failed", u.Error
	case u != nil && u.State == journal.Skipped:
		return "rollback-skipped", u.Data.Reason
	case u != nil && u.State == journal.Started:
		return "rollback-started", "a write may have been sent"
	case v == nil || v.State == "":
		return "pending", ""
	case v.State == journal.Started:
		return "started", "a write may have been sent; apply reads the object before going on"
	case v.State == journal.Failed:
		return "failed", v.Error
	case v.State == journal.Skipped:
		return "skipped", v.Data.Reason
	}
	if !v.Data.Changed {
		return "done", "found in place"
	}
	return "done", ""
}
