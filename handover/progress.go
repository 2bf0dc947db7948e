package handover

import (
	"fmt"
	"sync"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
)

// progress reports a run's changes per workspace (the account's identity
// changes are a task of their own) through a reports.Progress: bars with
// an ETA on a terminal, a heartbeat with a percentage off one. Every
// task's total is known before the first change runs; a task is queued
// until its first change starts.
type progress struct {
	p      *reports.Progress
	verify bool // counts reads: a failed one is an object not read
	mu     sync.Mutex
	tasks  map[string]*progressTask
}

type progressTask struct {
	name                         string
	t                            *reports.Task // nil while queued
	total, left, failed, skipped int
}

// progressKey names the task a change counts in.
func progressKey(c Change) string { return cmpOr(c.Workspace, "account") }

// newProgress starts reporting the changes a run will step through; it
// returns nil without streams.
func newProgress(s *reports.Streams, op string, changes []Change) *progress {
	if s == nil {
		return nil
	}
	pr := &progress{tasks: map[string]*progressTask{}, verify: op == "verify"}
	for _, c := range changes {
		k := progressKey(c)
		if pr.tasks[k] == nil {
			pr.tasks[k] = &progressTask{name: k}
		}
		pr.tasks[k].total++
		pr.tasks[k].left++
	}
	pr.p = reports.NewProgress(s, reports.ProgressOptions{Label: op, Unit: "changes", TaskUnit: "workspaces", Tasks: len(pr.tasks)})
	return pr
}

// start starts the task of a change when it is the task's first.
func (pr *progress) start(c Change) {
	if pr == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pt := pr.tasks[progressKey(c)]; pt != nil && pt.t == nil {
		pt.t = pr.p.Task(pt.name, int64(pt.total))
	}
}

// done counts a change's step as over in its task, and ends the task
// with its last change.
func (pr *progress) done(o *outcome) {
	if pr == nil {
		return
	}
	pr.mu.Lock()
	pt := pr.tasks[progressKey(o.c)]
	if pt == nil || pt.t == nil || pt.left == 0 {
		pr.mu.Unlock()
		return
	}
	pt.left--
	switch o.state {
	case journal.Failed:
		pt.failed++
	case journal.Skipped:
		pt.skipped++
	}
	last, failed, skipped := pt.left == 0, pt.failed, pt.skipped
	pr.mu.Unlock()
	pt.t.Add(1)
	switch {
	case last && pr.verify:
		pt.t.Done(fmt.Sprintf("%d not read", failed))
	case last:
		pt.t.Done(fmt.Sprintf("%d failed, %d skipped", failed, skipped))
	}
}

// close erases the bars; it is safe on a nil progress.
func (pr *progress) close() {
	if pr != nil {
		pr.p.Close()
	}
}

// planProgress reports plan's reads: one task per workspace counting the
// kinds it lists, and one for the metastores (after the workspaces)
// counting the Unity Catalog kinds read in each, so that the number of
// tasks is known before the first read.
// Its methods are safe on a nil planProgress (no streams).
type planProgress struct {
	p *reports.Progress
}

// newPlanProgress starts reporting the reads of workspaces workspaces,
// and of their metastores when uc is set.
func newPlanProgress(s *reports.Streams, workspaces int, uc bool) *planProgress {
	if s == nil {
		return nil
	}
	tasks := workspaces
	if uc {
		tasks++
	}
	return &planProgress{p: reports.NewProgress(s, reports.ProgressOptions{Label: "plan", Unit: "kinds", TaskUnit: "workspaces", Tasks: tasks})}
}

// task starts a task whose total is set later (a spinner until then); nil
// on a nil planProgress.
func (pp *planProgress) task(name string) *reports.Task {
	if pp == nil {
		return nil
	}
	return pp.p.Task(name, 0)
}

func (pp *planProgress) close() {
	if pp != nil {
		pp.p.Close()
	}
}
