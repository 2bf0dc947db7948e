package handover

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
)

// ttyStreams returns streams whose stdout is a terminal width columns
// wide, and the buffer stdout writes to.
func ttyStreams(width int) (*reports.Streams, *bytes.Buffer) {
	s, out, _ := reports.Test()
	s.SetStdoutTTY(true)
	s.SetTerminalWidth(width)
	return s, out
}

// wholeIn checks that text is in out once runs of spaces and line breaks
// are one space (a value wrapped under its row), and that no line of out
// is wider than the terminal.
func wholeIn(t *testing.T, what string, width int, out, text string) {
	t.Helper()
	if text == "" {
		return
	}
	if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(text), " ")) {
		t.Errorf("%d columns: %s %q is cut:\n%s", width, what, text, out)
	}
}

// noWideLines checks that no line of the table (out up to its first
// empty line, or its summary line) is wider than the terminal.
func noWideLines(t *testing.T, width int, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if l == "" || strings.HasPrefix(l, "Plan: ") || strings.HasPrefix(l, "Status: ") {
			break
		}
		if utf8.RuneCountInString(l) > width {
			t.Errorf("%d columns: a line of %d: %q", width, utf8.RuneCountInString(l), l)
		}
	}
}

// TestPlanTableNeverCutsChangeOrNote: on a terminal, handover plan's
// table never cuts what a row changes (from whom to whom) nor its note
// (a cluster restart, an irreversible revocation), at any width: they are
// wrapped under the row when they do not fit.
func TestPlanTableNeverCutsChangeOrNote(t *testing.T) {
	srv := newServer(t)
	_, p := demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate, o.RevokeTokens = true, true })
	for _, width := range []int{80, 120, 160, 240} {
		s, out := ttyStreams(width)
		if err := printPlan(s, p); err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Changes {
			wholeIn(t, "change", width, out.String(), describe(c))
		}
		for _, note := range []string{"irreversible: rollback cannot bring a revoked token back",
			"apply terminates it, changes the owner and the dedicated user and starts it again (one restart)"} {
			wholeIn(t, "note", width, out.String(), note)
		}
		noWideLines(t, width, out.String())
	}
}

// TestStatusTableNeverCutsDetail: handover status's DETAIL (why a change
// failed or was skipped) is never cut on a terminal.
func TestStatusTableNeverCutsDetail(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate = true })
	d, _, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr)
	}
	dir := journal.DefaultDir(plan)
	var pe *PartialError
	if err := RunRollback(context.Background(), ApplyOptions{JournalDir: dir, Yes: true}, d); !errors.As(err, &pe) {
		t.Fatalf("rollback: %v, want the job 203 failure (elena has no access to acme-analytics)", err)
	}
	_, recs, err := journal.Read[record](dir)
	if err != nil {
		t.Fatal(err)
	}
	var detail string
	for id, v := range journal.Replay(recs, mergeRecord) {
		if _, undo := journal.UndoneStep(id); undo && v.State == journal.Failed {
			detail = v.Error
		}
	}
	if detail == "" {
		t.Fatal("no failed step in the journal")
	}
	for _, width := range []int{100, 160} {
		s, out := ttyStreams(width)
		d.Streams = s
		if err := RunStatus(context.Background(), StatusOptions{JournalDir: dir}, d); err != nil {
			t.Fatal(err)
		}
		wholeIn(t, "detail", width, out.String(), detail)
		noWideLines(t, width, out.String())
	}
}

// TestVerifyTableNeverCutsFound: verify's FOUND (what is there instead,
// or why the object could not be read) is never cut on a terminal.
func TestVerifyTableNeverCutsFound(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"job"}; o.Workspaces = []string{"acme-prod"} })
	d, _, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s", err, stderr)
	}
	const denied = "denied by a test, as a workspace admin who removed the caller's CAN_MANAGE from this job would"
	if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/permissions/jobs/101$`, Status: 403,
		Body: `{"error_code":"PERMISSION_DENIED","message":"` + denied + `"}`}); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{100, 160} {
		s, out := ttyStreams(width)
		d.Streams = s
		var pe *PartialError
		if err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d); !errors.As(err, &pe) {
			t.Fatalf("verify: %v, want job 101 not verified", err)
		}
		wholeIn(t, "found", width, out.String(), denied)
		noWideLines(t, width, out.String())
	}
}

// TestPlanSummaryCounts: the plan's summary line counts in words that
// agree with their numbers.
func TestPlanSummaryCounts(t *testing.T) {
	srv := newServer(t)
	_, p := demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate, o.RevokeTokens = true, true })
	var b bytes.Buffer
	writePlanSummary(&b, p)
	want := "\nPlan: 49 object changes in 3 of the 4 workspaces read (2 running clusters restarted once each), 1 deactivation change, " +
		"3 token revocations (IRREVERSIBLE), 0 blocking conflicts, 1 object left as it is\n"
	if got := b.String(); got != want {
		t.Errorf("summary\n got  %q\n want %q", got, want)
	}
}
