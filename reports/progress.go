package reports

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

const (
	defaultStatusInterval  = 30 * time.Second
	defaultRefreshInterval = 150 * time.Millisecond
	// maxTaskBars bounds the task bars drawn at once; further running tasks
	// are summarised in one line.
	maxTaskBars = 10
	// maxTaskName bounds the task name column of the bars.
	maxTaskName = 28
	// barChrome is the room a bar line needs besides the name and the bar:
	// percentage, brackets, count and elapsed time.
	barChrome = 32
	// minBarWidth and maxBarWidth bound the bar itself, in cells.
	minBarWidth, maxBarWidth = 8, 40
)

// ANSI sequences used to redraw the bar block.
const (
	ansiEraseDown = "\x1b[J" // erase from the cursor to the end of the screen
)

// ProgressOptions configure a [Progress].
type ProgressOptions struct {
	// Label names the operation in log lines, e.g. "export".
	Label string
	// Unit names what tasks count, e.g. "identities"; it is the key of the
	// count in log lines. Default "items".
	Unit string
	// Tasks is the number of tasks expected (e.g. workspaces) for the total
	// bar; 0 counts tasks as they start.
	Tasks int
	// StatusInterval is, off a terminal, the minimum time between status
	// lines while tasks run; 0 means 30s, negative disables them.
	StatusInterval time.Duration
	// RefreshInterval is, on a terminal, the time between redraws; 0 means
	// 150ms.
	RefreshInterval time.Duration
	// Now is the clock for task durations and status lines; nil means
	// time.Now.
	Now func() time.Time
}

// Progress reports the progress of concurrent tasks, typically one per
// workspace.
//
// When [Streams.ProgressEnabled] (stderr is a terminal and --no-progress was
// not given), it draws one progressbar/v3 bar per running task plus a total
// bar at the bottom of stderr, redrawn as a block at most every
// RefreshInterval; log lines written meanwhile through the Streams' Logger
// are printed above the bars, and Close erases the bars, leaving only the
// log lines. Otherwise it draws nothing and writes no ANSI sequences: each
// finished or failed task is one log line, and while tasks run a status
// line is logged at most every StatusInterval.
//
// Task lines look like
//
//	2026-11-24T21:14:33Z INFO export done task="prod" users=150 took=1.2s summary="150 users, 12 groups"
//	2026-11-24T21:14:35Z ERROR export failed task="dev" users=30 took=2s err="list users: 503"
//	2026-11-24T21:15:03Z INFO export status tasks=20 finished=3 failed=1 running=4 users=1500
//
// A Progress and its Tasks are safe for concurrent use. Close must be
// called once the tasks are over.
type Progress struct {
	s    *Streams
	log  *Logger
	opts ProgressOptions
	now  func() time.Time
	tty  bool

	stop       chan struct{}
	stopTicker func() // nil when driven by a test
	wg         sync.WaitGroup

	mu         sync.Mutex
	active     []*Task // running tasks, in start order
	started    int
	finished   int
	failed     int
	items      int64 // items counted by finished tasks
	lastStatus time.Time
	drawn      int  // lines of the bar block on screen
	dirty      bool // state changed since the last draw
	total      barState
	closed     bool
}

// NewProgress starts reporting progress on s's stderr, through s's Logger.
func NewProgress(s *Streams, opts ProgressOptions) *Progress {
	tty := s.ProgressEnabled()
	interval := opts.StatusInterval
	if tty {
		interval = opts.RefreshInterval
		if interval <= 0 {
			interval = defaultRefreshInterval
		}
	} else if interval == 0 {
		interval = defaultStatusInterval
	}
	if interval <= 0 {
		return newProgress(s, opts, tty, nil)
	}
	ticker := time.NewTicker(interval)
	p := newProgress(s, opts, tty, ticker.C)
	p.stopTicker = ticker.Stop
	return p
}

// newProgress builds a Progress driven by ticks (nil for none), for tests.
func newProgress(s *Streams, opts ProgressOptions, tty bool, ticks <-chan time.Time) *Progress {
	if opts.Unit == "" {
		opts.Unit = "items"
	}
	if opts.StatusInterval == 0 {
		opts.StatusInterval = defaultStatusInterval
	}
	p := &Progress{s: s, log: s.Logger(), opts: opts, now: opts.Now, stop: make(chan struct{})}
	if p.now == nil {
		p.now = time.Now
	}
	p.lastStatus = p.now()
	// Only one Progress at a time can own the space below the log lines.
	if tty && p.log.sink.setAbove(p.printAbove) {
		p.tty = true
	}
	if ticks != nil {
		p.wg.Add(1)
		go p.loop(ticks)
	}
	return p
}

// loop redraws the bars (terminal) or logs status lines (otherwise).
func (p *Progress) loop(ticks <-chan time.Time) {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-ticks:
			if p.tty {
				p.mu.Lock()
				if p.dirty || len(p.active) > 0 { // elapsed times move
					p.redrawLocked("")
				}
				p.mu.Unlock()
			} else {
				p.status()
			}
		}
	}
}

// status logs a status line if tasks run and the interval has passed.
func (p *Progress) status() {
	if p.opts.StatusInterval < 0 {
		return
	}
	p.mu.Lock()
	now := p.now()
	if len(p.active) == 0 || now.Sub(p.lastStatus) < p.opts.StatusInterval || p.closed {
		p.mu.Unlock()
		return
	}
	p.lastStatus = now
	running := int64(0)
	for _, t := range p.active {
		running += t.cur
	}
	kv := []any{"tasks", max(p.opts.Tasks, p.started), "finished", p.finished, "failed", p.failed,
		"running", len(p.active), p.opts.Unit, p.items + running}
	p.mu.Unlock()
	p.log.Info(p.msg("status"), kv...)
}

func (p *Progress) msg(event string) string {
	if p.opts.Label == "" {
		return event
	}
	return p.opts.Label + " " + event
}

// Task starts a task named name (e.g. a workspace) that will count total
// items; total 0 means unknown for now (see Task.SetTotal).
func (p *Progress) Task(name string, total int64) *Task {
	t := &Task{p: p, name: name, total: max(total, 0), start: p.now()}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started++
	if p.closed {
		t.detached = true
		return t
	}
	p.active = append(p.active, t)
	p.dirty = true
	return t
}

// Close stops the redraws and erases the bars. It is idempotent.
func (p *Progress) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	if p.stopTicker != nil {
		p.stopTicker()
	}
	if p.tty {
		p.mu.Lock()
		p.eraseLocked()
		p.mu.Unlock()
		p.log.sink.setAbove(nil)
	}
	p.s.Retries().Flush()
}

// Task is one unit of work reported by a [Progress]. It is safe for
// concurrent use.
type Task struct {
	p     *Progress
	name  string
	start time.Time

	// guarded by p.mu
	cur, total int64
	bar        barState
	finished   bool
	detached   bool // started after Close: logs its end, counts nothing
}

// Add counts n more items done.
func (t *Task) Add(n int64) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return
	}
	t.cur += n
	p.dirty = true
}

// SetTotal sets the number of items the task will count (e.g. once the
// first SCIM page reports totalResults).
func (t *Task) SetTotal(n int64) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return
	}
	t.total = max(n, 0)
	p.dirty = true
}

// Done ends the task successfully and logs one line at info level with
// its count, duration and summary (omitted when empty). Only the first
// Done or Fail counts.
func (t *Task) Done(summary string) {
	kv, ok := t.finish(false)
	if !ok {
		return
	}
	if summary != "" {
		kv = append(kv, "summary", summary)
	}
	t.p.log.Info(t.p.msg("done"), kv...)
}

// Fail ends the task as failed and logs one line at error level with its
// count, duration and err. Only the first Done or Fail counts.
func (t *Task) Fail(err error) {
	kv, ok := t.finish(true)
	if !ok {
		return
	}
	t.p.log.Error(t.p.msg("failed"), append(kv, "err", err)...)
}

// finish marks the task over and returns the pairs of its log line, or
// false if it was already over.
func (t *Task) finish(failed bool) ([]any, bool) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return nil, false
	}
	t.finished = true
	if !t.detached {
		p.finished++
		if failed {
			p.failed++
		}
		p.items += t.cur
		for i, a := range p.active {
			if a == t {
				p.active = append(p.active[:i], p.active[i+1:]...)
				break
			}
		}
		p.dirty = true
	}
	return []any{"task", t.name, p.opts.Unit, t.cur, "took", p.now().Sub(t.start)}, true
}

// barState is a progressbar/v3 bar used as a renderer: it writes
// nowhere, and Progress reads its text to draw the block itself. Bars are
// only touched with p.mu held, so their unsynchronised String is safe.
type barState struct {
	bar   *progressbar.ProgressBar
	max   int64 // -1: unknown, drawn as a spinner
	width int
}

// render updates the bar to cur of total (0: unknown) and returns its
// text, e.g. "  45% [==========>.............] (450/1000)", with a bar of
// width cells.
func (b *barState) render(cur, total int64, width int) string {
	want := int64(-1)
	if total > 0 {
		want = max(total, cur)
	}
	if b.bar == nil || b.max != want || b.width != width || (b.bar.IsFinished() && cur < want) {
		b.bar = progressbar.NewOptions64(want,
			progressbar.OptionSetWriter(io.Discard),
			progressbar.OptionSetWidth(width),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetSpinnerChangeInterval(0), // no ticker goroutine
			progressbar.OptionThrottle(0),
			progressbar.OptionSetTheme(progressbar.ThemeASCII),
		)
		b.max, b.width = want, width
	}
	_ = b.bar.Set64(cur) // renders; cur never exceeds a known max
	return strings.TrimRight(strings.ReplaceAll(b.bar.String(), "\r", ""), " ")
}

// block renders the bar lines. Called with p.mu held.
func (p *Progress) blockLocked() []string {
	width := p.s.TerminalWidth() - 1 // never touch the last column: no wrap
	nameCap := max(min(maxTaskName, width/3), 5)
	nameW := 5 // "total"
	for i, t := range p.active {
		if i == maxTaskBars {
			break
		}
		nameW = max(nameW, min(displayWidth(t.name), nameCap))
	}
	barW := min(max(width-nameW-1-barChrome, minBarWidth), maxBarWidth)
	var lines []string
	for i, t := range p.active {
		if i == maxTaskBars {
			lines = append(lines, fmt.Sprintf("… and %d more running", len(p.active)-maxTaskBars))
			break
		}
		name := padRight(truncateWidth(t.name, nameW), nameW)
		took := p.now().Sub(t.start).Truncate(time.Second)
		lines = append(lines, fmt.Sprintf("%s %s [%s]", name, t.bar.render(t.cur, t.total, barW), took))
	}
	expected := int64(max(p.opts.Tasks, p.started))
	total := padRight("total", nameW) + " " + p.total.render(int64(p.finished), expected, barW)
	if p.failed > 0 {
		total += fmt.Sprintf(" %d failed", p.failed)
	}
	lines = append(lines, total)
	for i, l := range lines {
		lines[i] = truncateWidth(l, width)
	}
	return lines
}

// eraseSeq returns the sequence that moves to the start of the block and
// erases it.
func (p *Progress) eraseSeq(b *strings.Builder) {
	if p.drawn > 0 {
		fmt.Fprintf(b, "\r\x1b[%dA%s", p.drawn, ansiEraseDown)
	}
}

// redrawLocked erases the block, writes above (log lines, may be empty)
// and draws the block again, in one write. Called with p.mu held.
func (p *Progress) redrawLocked(above string) {
	var b strings.Builder
	p.eraseSeq(&b)
	b.WriteString(above)
	p.drawn = 0
	if !p.closed {
		for _, l := range p.blockLocked() {
			b.WriteString(l)
			b.WriteByte('\n')
			p.drawn++
		}
	}
	p.dirty = false
	_, _ = io.WriteString(p.s.Err, b.String())
}

// eraseLocked removes the block from the screen. Called with p.mu held.
func (p *Progress) eraseLocked() {
	if p.drawn == 0 {
		return
	}
	var b strings.Builder
	p.eraseSeq(&b)
	p.drawn = 0
	_, _ = io.WriteString(p.s.Err, b.String())
}

// printAbove is the Logger hook: it prints a log line above the bars.
func (p *Progress) printAbove(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.eraseLocked()
		_, _ = p.s.Err.Write(line)
		return
	}
	p.redrawLocked(string(line))
}
