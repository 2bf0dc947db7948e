package migrate

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/dbiam/dbiam/reports"
)

// taskRef names the progress task an item of a journal command counts in:
// a workspace, or the account (its account groups).
type taskRef struct{ key, name string }

// wsTaskRef is the task of workspace ws.
func wsTaskRef(ws *WorkspacePlan) taskRef {
	return taskRef{key: strconv.FormatInt(ws.WorkspaceID, 10), name: ws.WorkspaceName}
}

// accountTask is the task of the account groups.
var accountTask = taskRef{key: "account", name: "account groups"}

// cmdProgress reports the progress of verify, rollback, finalize and
// adopt through a reports.Progress, like apply: one task per workspace
// (and one for the account groups) whose total, in units, is known before
// the bar starts; a task is queued until its first unit starts. On a
// terminal it draws bars with an ETA, off one it logs a line per finished
// task and a heartbeat with a percentage every 10 s. Its methods are safe
// on a nil *cmdProgress (no streams) and for concurrent use.
type cmdProgress struct {
	p        *reports.Progress
	failWord string // what a failed unit is, in the task's summary
	mu       sync.Mutex
	tasks    map[string]*cmdTask
}

type cmdTask struct {
	name                string
	t                   *reports.Task // nil while queued
	total, left, failed int
}

// newCmdProgress starts reporting units of work for op (e.g. "rollback"):
// units lists the task of each unit, repeated as often as it has units.
// failWord names a failed unit in a task's summary ("failed", "kept"; ""
// for none).
func newCmdProgress(s *reports.Streams, op, unit, failWord string, units []taskRef) *cmdProgress {
	if s == nil {
		return nil
	}
	cp := &cmdProgress{failWord: failWord, tasks: map[string]*cmdTask{}}
	for _, u := range units {
		t := cp.tasks[u.key]
		if t == nil {
			t = &cmdTask{name: u.name}
			cp.tasks[u.key] = t
		}
		t.total++
		t.left++
	}
	cp.p = reports.NewProgress(s, reports.ProgressOptions{Label: op, Unit: unit, TaskUnit: "tasks", Tasks: len(cp.tasks)})
	return cp
}

// start starts the task of r when its first unit starts.
func (cp *cmdProgress) start(r taskRef) {
	if cp == nil {
		return
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if t := cp.tasks[r.key]; t != nil && t.t == nil {
		t.t = cp.p.Task(t.name, int64(t.total))
	}
}

// done counts n units of r's task as over (failed ones in its summary),
// and ends the task with its last unit.
func (cp *cmdProgress) done(r taskRef, n int, failed bool) {
	if cp == nil {
		return
	}
	cp.start(r)
	cp.mu.Lock()
	t := cp.tasks[r.key]
	if t == nil || t.left == 0 {
		cp.mu.Unlock()
		return
	}
	n = min(n, t.left)
	t.left -= n
	if failed {
		t.failed++
	}
	last, nfailed := t.left == 0, t.failed
	cp.mu.Unlock()
	t.t.Add(int64(n))
	switch {
	case !last:
	case cp.failWord == "":
		t.t.Done("")
	default:
		t.t.Done(fmt.Sprintf("%d %s", nfailed, cp.failWord))
	}
}

// close erases the bars.
func (cp *cmdProgress) close() {
	if cp != nil {
		cp.p.Close()
	}
}
