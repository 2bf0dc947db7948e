package reports

import (
	"strings"
	"testing"
	"time"
)

// TestProgressSteps: a task whose count has no total (objects listed as
// they come) but whose work is made of a known number of steps (the kinds
// a workspace lists) moves the total and the heartbeat's percentage with
// its steps, and shows a bar with its steps and an ETA on a terminal,
// rather than sitting at 0 % until it ends.
func TestProgressSteps(t *testing.T) {
	s, _, errb := Test()
	s.SetLogger(NewLogger(s.Err, LoggerOptions{Now: fixedClock}))
	clock := &fakeClock{t: testNow}
	ticks := make(chan time.Time)
	p := newProgress(s, ProgressOptions{Label: "audit", Unit: "objects", TaskUnit: "workspaces", Tasks: 2, Now: clock.Now}, false, ticks)
	task := p.Task("acme-prod", 0)
	task.Steps(4, "kinds")
	task.Add(300)
	task.Step()
	clock.Advance(10 * time.Second)
	ticks <- time.Time{} // a quarter of one of two tasks
	ticks <- time.Time{} // barrier
	want := "2026-11-24T21:14:33Z INFO audit status tasks=2 finished=0 failed=0 running=1 queued=1 objects=300 percent=12 eta=1m10s\n"
	if got := errb.String(); got != want {
		t.Errorf("heartbeat:\n got  %q\n want %q", got, want)
	}
	task.Step()
	task.Step()
	task.Step()
	task.Step() // more steps than announced: counted, never past the task's end
	task.Done("")
	p.Close()

	// On a terminal: a bar with the steps, the count and an ETA.
	s, _, errb = Test()
	s.SetStderrTTY(true)
	s.SetTerminalWidth(100)
	clock = &fakeClock{t: testNow}
	ticks = make(chan time.Time)
	p = newProgress(s, ProgressOptions{Label: "audit", Unit: "objects", TaskUnit: "workspaces", Tasks: 1, Now: clock.Now}, true, ticks)
	task = p.Task("acme-prod", 0)
	task.Steps(4, "kinds")
	task.Add(300)
	task.Step()
	clock.Advance(10 * time.Second)
	ticks <- time.Time{}
	ticks <- time.Time{}
	screen := errb.String()
	p.Close()
	if !strings.Contains(screen, "acme-prod  25% [") || !strings.Contains(screen, "] 300 objects, 1/4 kinds 10s ETA 30s") {
		t.Errorf("terminal:\n%s", screen)
	}
}
