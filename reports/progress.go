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
	// defaultStatusInterval is, off a terminal, the time between status
	// lines: a heartbeat with a percentage, so that a log never goes
	// quiet for longer while work happens.
	defaultStatusInterval  = 10 * time.Second
	defaultRefreshInterval = 150 * time.Millisecond
	// maxTaskBars bounds the task bars drawn at once; further running tasks
	// are summarised in one line.
	maxTaskBars = 10
	// maxTaskName bounds the task name column of the bars (and a quarter
	// of the terminal does).
	maxTaskName = 28
	// minBarWidth and maxBarWidth bound the bar itself, in cells.
	minBarWidth, maxBarWidth = 5, 40
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
	// TaskUnit names the tasks in the total line, e.g. "workspaces".
	// Default "tasks".
	TaskUnit string
	// Tasks is the number of tasks expected (e.g. workspaces) for the total
	// bar; 0 counts tasks as they start.
	Tasks int
	// StatusInterval is, off a terminal, the time between status lines
	// while the Progress is open; 0 means 10s, negative disables them.
	StatusInterval time.Duration
	// RefreshInterval is, on a terminal, the time between redraws; 0 means
	// 150ms.
	RefreshInterval time.Duration
	// Now is the clock for task durations and status lines; nil means
	// time.Now.
	Now func() time.Time
}

// Progress reports the progress of concurrent tasks, typically one per
// workspace, of which Tasks are expected: those not started yet are
// queued.
//
// When [Streams.ProgressEnabled] (stderr is a terminal and --no-progress was
// not given), it draws one progressbar/v3 bar per running task plus a total
// bar at the bottom of stderr, redrawn as a block at most every
// RefreshInterval; log lines written meanwhile through the Streams' Logger
// are printed above the bars, and Close erases the bars, leaving only the
// log lines. A task's bar shows its count, its elapsed time and an ETA once
// its total is known (see [Task.SetTotal] and [Task.ExpectTotals]); until
// then a spinner with its count, so that a bar never sits still at 0 while
// the task works. The total bar moves with the running tasks' shares, and
// says how many tasks are done, running and queued, with an ETA:
//
//	acme-prod        45% [======>........] 450/1000 identities 12s ETA 15s
//	acme-analytics  ⠙ 120 identities 3s
//	total            40% [=====>.........] 1/4 workspaces done, 2 running, 1 queued 15s ETA 22s
//
// Otherwise it draws nothing and writes no ANSI sequences: each finished or
// failed task is one log line, and while the Progress is open a status line
// (the heartbeat) is logged every StatusInterval with the share done and an
// ETA.
//
// Task lines look like
//
//	2026-11-24T21:14:33Z INFO export done task="prod" users=150 took=1.2s summary="150 users, 12 groups"
//	2026-11-24T21:14:35Z ERROR export failed task="dev" users=30 took=2s err="list users: 503"
//	2026-11-24T21:15:03Z INFO export status tasks=20 finished=3 failed=1 running=4 queued=12 users=1500 percent=23 eta=1m10s
//
// A Progress and its Tasks are safe for concurrent use. Close must be
// called once the tasks are over; it also flushes the Streams' [Retries].
type Progress struct {
	s     *Streams
	log   *Logger
	opts  ProgressOptions
	now   func() time.Time
	tty   bool
	start time.Time

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
	tick       time.Duration // the ticker's interval off a terminal (0 when driven by a test)
	drawn      int           // lines of the bar block on screen
	frame      int           // spinner frame
	dirty      bool          // state changed since the last draw
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
	} else {
		if interval == 0 {
			interval = defaultStatusInterval
		}
		// Tick several times per interval, so that a status line is never
		// later than the interval.
		interval = max(interval/5, 10*time.Millisecond)
	}
	if interval <= 0 || (!tty && opts.StatusInterval < 0) {
		return newProgress(s, opts, tty, nil)
	}
	ticker := time.NewTicker(interval)
	p := newProgress(s, opts, tty, ticker.C)
	p.stopTicker = ticker.Stop
	if !tty {
		p.tick = interval
	}
	return p
}

// newProgress builds a Progress driven by ticks (nil for none), for tests.
func newProgress(s *Streams, opts ProgressOptions, tty bool, ticks <-chan time.Time) *Progress {
	if opts.Unit == "" {
		opts.Unit = "items"
	}
	if opts.TaskUnit == "" {
		opts.TaskUnit = "tasks"
	}
	if opts.StatusInterval == 0 {
		opts.StatusInterval = defaultStatusInterval
	}
	p := &Progress{s: s, log: s.Logger(), opts: opts, now: opts.Now, stop: make(chan struct{})}
	if p.now == nil {
		p.now = time.Now
	}
	p.start = p.now()
	p.lastStatus = p.start
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

// status logs a status line if the interval has passed since the last.
func (p *Progress) status() {
	if p.opts.StatusInterval < 0 {
		return
	}
	p.mu.Lock()
	now := p.now()
	// A tick comes every p.tick: log at the last tick before the interval
	// is over, so that the lines are never further apart than it.
	if now.Sub(p.lastStatus) < p.opts.StatusInterval-p.tick || p.closed {
		p.mu.Unlock()
		return
	}
	p.lastStatus = now
	running := int64(0)
	for _, t := range p.active {
		running += t.cur
	}
	f := p.fractionLocked()
	kv := []any{"tasks", p.expectedLocked(), "finished", p.finished, "failed", p.failed,
		"running", len(p.active), "queued", p.queuedLocked(), p.opts.Unit, p.items + running, "percent", int(f * 100)}
	if eta, ok := eta(now.Sub(p.start), f); ok {
		kv = append(kv, "eta", eta)
	}
	p.mu.Unlock()
	p.log.Info(p.msg("status"), kv...)
}

// expectedLocked is the number of tasks expected. Called with p.mu held.
func (p *Progress) expectedLocked() int { return max(p.opts.Tasks, p.started) }

// queuedLocked is the number of tasks expected but not started. Called
// with p.mu held.
func (p *Progress) queuedLocked() int { return max(p.opts.Tasks-p.started, 0) }

// fractionLocked is the share of the work done: finished tasks count
// whole, running ones by their count over their total when it is known.
// Called with p.mu held.
func (p *Progress) fractionLocked() float64 {
	expected := p.expectedLocked()
	if expected == 0 {
		return 0
	}
	done := float64(p.finished)
	for _, t := range p.active {
		if total, ok := t.knownTotal(); ok && total > 0 {
			done += min(float64(t.cur)/float64(total), 0.99)
		} else if f, ok := t.stepShare(); ok {
			done += min(f, 0.99)
		}
	}
	return min(done/float64(expected), 1)
}

// eta estimates the time left when a share f of the work took elapsed.
func eta(elapsed time.Duration, f float64) (time.Duration, bool) {
	if f <= 0 || f >= 1 || elapsed <= 0 {
		return 0, false
	}
	left := time.Duration(float64(elapsed) * (1 - f) / f)
	return left.Round(time.Second), true
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
	parts      int // totals expected from AddTotal; 0: SetTotal decides
	// steps is the number of steps the task's work is made of, when its
	// count has no total (see Steps); stepsDone counts them, stepUnit
	// names them.
	steps, stepsDone int
	stepUnit         string
	bar              barState
	finished         bool
	detached         bool // started after Close: logs its end, counts nothing
}

// knownTotal returns the task's total if it is known. Called with p.mu
// held.
func (t *Task) knownTotal() (int64, bool) {
	return t.total, t.total > 0 && t.parts <= 0
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
	t.total, t.parts = max(n, 0), 0
	p.dirty = true
}

// ExpectTotals says that the task's total is the sum of k parts given
// with AddTotal (e.g. one per list it reads): until all k have come, the
// task shows a spinner with its count rather than a bar whose total would
// still grow.
func (t *Task) ExpectTotals(k int) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return
	}
	t.total, t.parts = 0, k
	p.dirty = true
}

// AddTotal adds one part of the total announced with ExpectTotals (0 for
// a part with nothing to count).
func (t *Task) AddTotal(n int64) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return
	}
	t.total += max(n, 0)
	t.parts--
	p.dirty = true
}

// Steps says that the task's work is made of n steps (e.g. the kinds of
// objects a workspace lists), named unit: while the total of its count is
// not known, the task's share of the work is the share of its steps done
// (see Step), so that the total and the heartbeat's percentage move, and
// a terminal shows a bar with the steps and an ETA instead of a spinner.
func (t *Task) Steps(n int, unit string) {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return
	}
	t.steps, t.stepUnit = max(n, 0), unit
	p.dirty = true
}

// Step counts one more step of those announced with Steps done.
func (t *Task) Step() {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.finished {
		return
	}
	t.stepsDone++
	p.dirty = true
}

// stepShare is the share of the task's steps done, if it has steps.
// Called with p.mu held.
func (t *Task) stepShare() (float64, bool) {
	if t.steps <= 0 {
		return 0, false
	}
	return float64(min(t.stepsDone, t.steps)) / float64(t.steps), true
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
	max   int64
	width int
}

// render updates the bar to cur of total (more than 0) and returns its
// text, e.g. "  45% [==========>.............]" with a bar of width cells.
func (b *barState) render(cur, total int64, width int) string {
	want := max(total, cur)
	if b.bar == nil || b.max != want || b.width != width || (b.bar.IsFinished() && cur < want) {
		b.bar = progressbar.NewOptions64(want,
			progressbar.OptionSetWriter(io.Discard),
			progressbar.OptionSetWidth(width),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetSpinnerChangeInterval(0), // no ticker goroutine
			progressbar.OptionThrottle(0),
			progressbar.OptionSetTheme(progressbar.ThemeASCII),
		)
		b.max, b.width = want, width
	}
	_ = b.bar.Set64(cur) // renders; cur never exceeds a known max
	if cur == 0 {
		_ = b.bar.RenderBlank() // Set64 does not render a new bar's 0
	}
	return strings.TrimSpace(strings.ReplaceAll(b.bar.String(), "\r", ""))
}

// timing is " 12s" or " 12s ETA 15s".
func timing(elapsed, left time.Duration, ok bool) string {
	s := " " + elapsed.Truncate(time.Second).String()
	if ok {
		s += " ETA " + left.String()
	}
	return s
}

// totalScale is the resolution of the total bar, which moves with the
// running tasks' shares.
const totalScale = 1000

// barLine is one line of the block before layout: a name, the bar's
// count and total (total 0: a spinner) and the text after the bar.
type barLine struct {
	name       string
	bar        *barState
	cur, total int64
	text       string
}

// block renders the bar lines: names in a column, then the bars, as wide
// as the terminal leaves room for after the longest text (none when it
// leaves too little), then the counts, times and ETAs. Called with p.mu
// held.
func (p *Progress) blockLocked() []string {
	width := p.s.TerminalWidth() - 1 // never touch the last column: no wrap
	nameCap := max(min(maxTaskName, width/4), 5)
	nameW := 5 // "total"
	now := p.now()
	var lines []barLine
	for i, t := range p.active {
		if i == maxTaskBars {
			break
		}
		nameW = max(nameW, min(displayWidth(t.name), nameCap))
		elapsed := now.Sub(t.start)
		l := barLine{name: t.name, bar: &t.bar, cur: t.cur}
		if total, ok := t.knownTotal(); ok {
			left, okETA := eta(elapsed, float64(t.cur)/float64(max(total, t.cur)))
			l.total = total
			l.text = fmt.Sprintf("%d/%d %s%s", t.cur, total, p.opts.Unit, timing(elapsed, left, okETA))
		} else if f, ok := t.stepShare(); ok {
			left, okETA := eta(elapsed, f)
			l.cur, l.total = int64(min(t.stepsDone, t.steps)), int64(t.steps)
			l.text = fmt.Sprintf("%d %s, %d/%d %s%s", t.cur, p.opts.Unit, l.cur, t.steps, t.stepUnit, timing(elapsed, left, okETA))
		} else {
			l.text = fmt.Sprintf("%d %s%s", t.cur, p.opts.Unit, timing(elapsed, 0, false))
		}
		lines = append(lines, l)
	}
	f := p.fractionLocked()
	left, okETA := eta(now.Sub(p.start), f)
	total := fmt.Sprintf("%d/%d %s", p.finished, p.expectedLocked(), p.opts.TaskUnit)
	if p.failed > 0 {
		total += fmt.Sprintf(" (%d failed)", p.failed)
	}
	total += fmt.Sprintf(", %d running", len(p.active))
	if q := p.queuedLocked(); q > 0 {
		total += fmt.Sprintf(", %d queued", q)
	}
	lines = append(lines, barLine{name: "total", bar: &p.total, cur: int64(f * totalScale), total: totalScale,
		text: total + timing(now.Sub(p.start), left, okETA)})

	textW := 0
	for _, l := range lines {
		textW = max(textW, displayWidth(l.text))
	}
	// name, space, "100% [", bar, "]", space, text
	barW := min(width-nameW-1-7-1-textW, maxBarWidth)
	if barW < minBarWidth {
		barW = 0
	}
	out := make([]string, 0, len(lines)+1)
	for i, l := range lines {
		if i == maxTaskBars && len(p.active) > maxTaskBars {
			out = append(out, fmt.Sprintf("… and %d more running", len(p.active)-maxTaskBars))
		}
		var bar string
		switch {
		case l.total <= 0:
			// Unknown total: a spinner that moves on every redraw.
			bar = padRight(padLeft(spinnerFrames[p.frame%len(spinnerFrames)], 4), max(barW+7, 4))
		case barW > 0:
			bar = padLeft(l.bar.render(l.cur, l.total, barW), barW+7)
		default:
			bar = fmt.Sprintf("%3d%%", l.cur*100/l.total)
		}
		line := padRight(truncateWidth(l.name, nameW), nameW) + " " + bar + " " + l.text
		out = append(out, truncateWidth(line, width))
	}
	p.frame++
	return out
}

// spinnerFrames are the frames of the spinner of a task whose total is
// not known yet.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

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
