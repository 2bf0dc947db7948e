package reports

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestProgressPlainLines(t *testing.T) {
	s, out, errb := Test()
	s.SetLogger(NewLogger(s.Err, LoggerOptions{Now: fixedClock}))
	clock := &fakeClock{t: testNow}
	ticks := make(chan time.Time)
	p := newProgress(s, ProgressOptions{Label: "export", Unit: "users", Tasks: 3, Now: clock.Now}, false, ticks)

	prod := p.Task("prod", 0)
	dev := p.Task("dev", 10)
	prod.SetTotal(150)
	prod.Add(100)
	prod.Add(50)
	clock.Advance(1200 * time.Millisecond)
	prod.Done("150 users, 12 groups")
	prod.Done("again") // ignored
	dev.Add(30)
	ticks <- time.Time{} // 1.2s after start: no status line yet
	clock.Advance(30 * time.Second)
	ticks <- time.Time{} // due: one status line
	ticks <- time.Time{} // handled only after the previous tick; not due again
	dev.Fail(errors.New("list users: 503 Service Unavailable"))
	dev.Add(5) // ignored after the end
	p.Close()
	p.Close()
	late := p.Task("late", 0) // after Close: still logs, draws nothing
	late.Done("")

	want := `2026-11-24T21:14:33Z INFO export done task="prod" users=150 took=1.2s summary="150 users, 12 groups"
2026-11-24T21:14:33Z INFO export status tasks=3 finished=1 failed=0 running=1 queued=1 users=180 percent=66 eta=16s
2026-11-24T21:14:33Z ERROR export failed task="dev" users=30 took=31.2s err="list users: 503 Service Unavailable"
2026-11-24T21:14:33Z INFO export done task="late" users=0 took=0s
`
	if got := errb.String(); got != want {
		t.Errorf("stderr:\n got  %s\n want %s", got, want)
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out)
	}
}

// TestProgressHeartbeat: off a terminal, a status line comes every
// interval while the Progress is open, whether tasks run or not (an export
// writing its file after the last read), with the share done and an ETA;
// a negative interval disables it.
func TestProgressHeartbeat(t *testing.T) {
	for _, interval := range []time.Duration{-1, 10 * time.Second} {
		s, _, errb := Test()
		s.SetLogger(NewLogger(s.Err, LoggerOptions{Now: fixedClock}))
		clock := &fakeClock{t: testNow}
		ticks := make(chan time.Time)
		p := newProgress(s, ProgressOptions{StatusInterval: interval, Tasks: 2, TaskUnit: "workspaces", Now: clock.Now}, false, ticks)
		clock.Advance(9 * time.Second)
		ticks <- time.Time{} // not due yet
		clock.Advance(time.Second)
		ticks <- time.Time{} // due: nothing started, 2 queued
		ticks <- time.Time{} // barrier: the line above is written
		task := p.Task("ws", 0)
		task.SetTotal(100)
		task.Add(25)
		clock.Advance(10 * time.Second)
		ticks <- time.Time{} // a quarter of one of two tasks
		ticks <- time.Time{} // barrier
		task.Done("")
		clock.Advance(10 * time.Second)
		ticks <- time.Time{} // no task running: still a heartbeat
		ticks <- time.Time{} // barrier
		p.Close()
		want := "2026-11-24T21:14:33Z INFO status tasks=2 finished=0 failed=0 running=0 queued=2 items=0 percent=0\n" +
			"2026-11-24T21:14:33Z INFO status tasks=2 finished=0 failed=0 running=1 queued=1 items=25 percent=12 eta=2m20s\n" +
			"2026-11-24T21:14:33Z INFO done task=\"ws\" items=25 took=10s\n" +
			"2026-11-24T21:14:33Z INFO status tasks=2 finished=1 failed=0 running=0 queued=1 items=25 percent=50 eta=30s\n"
		if interval < 0 {
			want = "2026-11-24T21:14:33Z INFO done task=\"ws\" items=25 took=10s\n"
		}
		if got := errb.String(); got != want {
			t.Errorf("interval %v: stderr:\n got  %q\n want %q", interval, got, want)
		}
	}
}

// TestProgressHeartbeatNeverLate: the ticker of a heartbeat comes every
// fifth of the interval, and a status line is logged at the last tick
// before the interval is over, never a tick after it (lines were up to
// 12 s apart with a 10 s interval).
func TestProgressHeartbeatNeverLate(t *testing.T) {
	s, _, errb := Test()
	s.SetLogger(NewLogger(s.Err, LoggerOptions{Now: fixedClock}))
	clock := &fakeClock{t: testNow}
	ticks := make(chan time.Time)
	p := newProgress(s, ProgressOptions{StatusInterval: 10 * time.Second, Tasks: 1, Now: clock.Now}, false, ticks)
	p.tick = 2 * time.Second // as NewProgress sets it off a terminal
	clock.Advance(7900 * time.Millisecond)
	ticks <- time.Time{} // more than a tick before the interval: not yet
	clock.Advance(500 * time.Millisecond)
	ticks <- time.Time{} // 8.4 s: the next tick would come after 10 s
	ticks <- time.Time{} // barrier
	p.Close()
	if got := strings.Count(errb.String(), "INFO status "); got != 1 {
		t.Errorf("%d status lines after 7.9 s and 8.4 s, want one at 8.4 s:\n%s", got, errb.String())
	}
}

// screen is a minimal terminal emulator: enough of VT100 to replay what
// Progress writes (\r, \n, ESC[nA, ESC[J) and check what is left visible.
type screen struct {
	lines    [][]rune
	row, col int
	maxCol   int
}

func (sc *screen) write(t *testing.T, s string) {
	t.Helper()
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\r':
			sc.col = 0
		case '\n':
			sc.row++
			sc.col = 0
		case '\x1b':
			if i+1 >= len(rs) || rs[i+1] != '[' {
				t.Fatalf("unsupported escape at %q", string(rs[i:]))
			}
			j := i + 2
			for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
				j++
			}
			n := 1
			if j > i+2 {
				n, _ = strconv.Atoi(string(rs[i+2 : j]))
			}
			switch rs[j] {
			case 'A':
				sc.row = max(sc.row-n, 0)
			case 'J':
				sc.grow()
				sc.lines[sc.row] = sc.lines[sc.row][:min(sc.col, len(sc.lines[sc.row]))]
				sc.lines = sc.lines[:sc.row+1]
			default:
				t.Fatalf("unsupported escape %q", string(rs[i:j+1]))
			}
			i = j
		default:
			sc.grow()
			line := sc.lines[sc.row]
			for len(line) <= sc.col {
				line = append(line, ' ')
			}
			line[sc.col] = r
			sc.lines[sc.row] = line
			sc.col++
			sc.maxCol = max(sc.maxCol, sc.col)
		}
	}
}

func (sc *screen) grow() {
	for len(sc.lines) <= sc.row {
		sc.lines = append(sc.lines, nil)
	}
}

func (sc *screen) text() string {
	var b strings.Builder
	for _, l := range sc.lines {
		if s := strings.TrimRight(string(l), " "); s != "" {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func replay(t *testing.T, out string) *screen {
	t.Helper()
	sc := &screen{}
	sc.write(t, out)
	return sc
}

// snapshot reads the terminal output of p while no redraw is under way:
// on a terminal, every write to stderr happens with p.mu held. A redraw
// triggered by a barrier tick may or may not have happened, but it draws
// the same screen.
func snapshot(p *Progress, errb *bytes.Buffer) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errb.String()
}

func TestProgressTerminal(t *testing.T) {
	s, out, errb := Test()
	s.SetStderrTTY(true)
	s.SetTerminalWidth(100)
	s.SetLogger(NewLogger(s.Err, LoggerOptions{Now: fixedClock}))
	clock := &fakeClock{t: testNow}
	ticks := make(chan time.Time)
	p := newProgress(s, ProgressOptions{Label: "export", Unit: "users", Tasks: 3, Now: clock.Now}, s.ProgressEnabled(), ticks)

	prod := p.Task("prod", 10)
	prod.Add(5)
	long := p.Task("a-very-long-workspace-name-that-needs-truncating", 0)
	long.Add(3)
	clock.Advance(2 * time.Second)
	ticks <- time.Time{}
	ticks <- time.Time{} // barrier: the first redraw is complete

	drawn := replay(t, snapshot(p, errb)).text()
	for _, want := range []string{
		"prod ", " 50% [", "] 5/10 users 2s ETA 2s",
		"a-very-long-workspace-n…", " 3 users 2s",
		"total ", "0/3 tasks, 2 running, 1 queued 2s ETA 10s",
	} {
		if !strings.Contains(drawn, want) {
			t.Errorf("bars lack %q:\n%s", want, drawn)
		}
	}
	if !strings.ContainsAny(strings.Split(drawn, "\n")[1], strings.Join(spinnerFrames, "")) {
		t.Errorf("a task with no total yet shows no spinner:\n%s", drawn)
	}
	if n := strings.Count(drawn, "\n"); n != 3 {
		t.Errorf("block has %d lines, want 3 (two tasks and the total):\n%s", n, drawn)
	}

	// Log lines go above the bars.
	s.Logger().Warn("retrying", "workspace", "prod")
	prod.Add(5)
	prod.Done("10 users")
	long.Fail(errors.New("boom"))
	ticks <- time.Time{}
	ticks <- time.Time{}
	logLines := "2026-11-24T21:14:33Z WARN retrying workspace=\"prod\"\n" +
		"2026-11-24T21:14:33Z INFO export done task=\"prod\" users=10 took=2s summary=\"10 users\"\n" +
		"2026-11-24T21:14:33Z ERROR export failed task=\"a-very-long-workspace-name-that-needs-truncating\" users=3 took=2s err=\"boom\"\n"
	got := replay(t, snapshot(p, errb)).text()
	if !strings.HasPrefix(got, logLines) || !strings.Contains(got, "2/3 tasks (1 failed), 0 running, 1 queued") || strings.Count(got, "\n") != 4 {
		t.Errorf("screen after the tasks ended:\n%s", got)
	}

	p.Close()
	if got := replay(t, errb.String()).text(); got != logLines {
		t.Errorf("screen after Close (bars must be gone):\n got  %q\n want %q", got, logLines)
	}
	if !strings.HasSuffix(errb.String(), "\x1b[J") {
		t.Errorf("output does not end by erasing the bars: %q", errb.String()[max(0, errb.Len()-20):])
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", out)
	}

	// After Close the Logger writes plainly again.
	errb.Reset()
	s.Logger().Info("after")
	if got := errb.String(); got != "2026-11-24T21:14:33Z INFO after\n" {
		t.Errorf("after Close: %q", got)
	}
}

func TestProgressTerminalWidthAndOverflow(t *testing.T) {
	s, _, errb := Test()
	s.SetStderrTTY(true)
	s.SetTerminalWidth(40)
	ticks := make(chan time.Time)
	p := newProgress(s, ProgressOptions{Tasks: 20}, true, ticks)
	for i := range 12 {
		p.Task(fmt.Sprintf("workspace-%02d", i), 1000).Add(int64(i * 80))
	}
	ticks <- time.Time{}
	ticks <- time.Time{}
	p.Close()
	// Replay the drawing only, not the final erase.
	drawn := errb.String()
	drawn = drawn[:strings.LastIndex(drawn, "\r\x1b[")]
	sc := replay(t, drawn)
	if sc.maxCol > 39 {
		t.Errorf("a line reached column %d of a 40-column terminal:\n%s", sc.maxCol, sc.text())
	}
	if got := sc.text(); !strings.Contains(got, "… and 2 more running") || strings.Count(got, "\n") != maxTaskBars+2 {
		t.Errorf("block:\n%s", got)
	}
	if got := replay(t, errb.String()).text(); got != "" {
		t.Errorf("screen after Close = %q, want empty", got)
	}
}

func TestProgressDisabledOnTerminal(t *testing.T) {
	s, _, errb := Test()
	s.SetStderrTTY(true)
	s.SetProgressEnabled(false) // --no-progress
	p := NewProgress(s, ProgressOptions{StatusInterval: -1})
	p.Task("ws", 3).Done("ok")
	p.Close()
	if got := errb.String(); strings.Contains(got, "\x1b") || !strings.Contains(got, ` INFO done task="ws" items=0 took=`) ||
		strings.Count(got, "\n") != 1 {
		t.Errorf("stderr = %q, want one plain line", got)
	}
}

func TestProgressConcurrent(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			s, _, errb := Test()
			s.SetStderrTTY(tty)
			p := NewProgress(s, ProgressOptions{Label: "export", RefreshInterval: time.Millisecond, StatusInterval: -1})
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					task := p.Task(fmt.Sprintf("ws%d", w), 100)
					for range 100 {
						task.Add(1)
					}
					s.Logger().Debug("hidden")
					if w%4 == 0 {
						task.Fail(errors.New("x"))
					} else {
						task.Done("")
					}
				}()
			}
			wg.Wait()
			p.Close()
			got := replay(t, errb.String()).text()
			if n := strings.Count(got, " INFO export done "); n != 12 {
				t.Errorf("%d done lines, want 12:\n%s", n, got)
			}
			if n := strings.Count(got, " ERROR export failed "); n != 4 {
				t.Errorf("%d failed lines, want 4", n)
			}
			if n := strings.Count(got, "\n"); n != 16 {
				t.Errorf("screen holds %d lines, want exactly the 16 task lines:\n%s", n, got)
			}
		})
	}
}
