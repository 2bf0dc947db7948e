package reports

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultRetryInterval is how often a [Retries] logs the count of retries
// that go on for one workspace and class.
const DefaultRetryInterval = time.Minute

// Retry is one failed attempt that will be retried: where it went (a
// workspace name, "account", a host) and its endpoint class, whether the
// server throttled it, the wait before the next attempt and the error.
type Retry struct {
	Workspace string
	Class     string
	Throttled bool
	Wait      time.Duration
	Err       error
}

// Retries summarises retries in the log instead of writing a line for each:
// retries are counted per workspace, class and kind (throttled, or failed
// and retried), the first of a kind is logged at once, and while they go
// on a line with the count since is logged at most every Interval; Flush
// logs the counts not logged yet. Throttling is logged at info level (it is
// expected and handled: dbiam slows down), other retried failures at warn
// level with the last error. At debug level every retry is also logged
// with its error.
//
//	INFO throttled by acme-prod scim-read, backing off wait=1.5s
//	INFO throttled 14 times by acme-prod scim-read, backing off waited=41s
//	WARN retried 2 times after errors from acme-ml scim-read waited=3s err="GET /api/2.0/preview/scim/v2/Users: 503 ..."
//
// A Retries is safe for concurrent use.
type Retries struct {
	log      *Logger
	interval time.Duration
	now      func() time.Time

	mu     sync.Mutex
	counts map[retryKey]*retryCount
	order  []retryKey
}

type retryKey struct {
	workspace, class string
	throttled        bool
}

type retryCount struct {
	n, logged int // retries seen, and counted in lines already written
	waited    time.Duration
	last      time.Time // when the last line was written
	err       error
}

// NewRetries returns a Retries logging through log every interval (0 means
// DefaultRetryInterval) with the clock now (nil means time.Now).
func NewRetries(log *Logger, interval time.Duration, now func() time.Time) *Retries {
	if interval <= 0 {
		interval = DefaultRetryInterval
	}
	if now == nil {
		now = time.Now
	}
	return &Retries{log: log, interval: interval, now: now, counts: map[retryKey]*retryCount{}}
}

// Note counts r, and logs a line if it is the first of its kind or the
// interval has passed since the last line of its kind.
func (rs *Retries) Note(r Retry) {
	if rs.log.Enabled(LevelDebug) {
		rs.log.Debug("retry", "workspace", r.Workspace, "class", r.Class, "throttled", r.Throttled, "wait", r.Wait, "err", r.Err)
	}
	k := retryKey{r.Workspace, r.Class, r.Throttled}
	rs.mu.Lock()
	c := rs.counts[k]
	if c == nil {
		c = &retryCount{}
		rs.counts[k] = c
		rs.order = append(rs.order, k)
	}
	c.n++
	c.waited += r.Wait
	c.err = r.Err
	now := rs.now()
	due := c.logged == 0 || now.Sub(c.last) >= rs.interval
	var line func()
	if due {
		line = rs.lineLocked(k, c, now, r.Wait)
	}
	rs.mu.Unlock()
	if line != nil {
		line()
	}
}

// Flush logs, for every kind with retries not logged yet, a line with the
// total count. Call it when the command's work is over.
func (rs *Retries) Flush() {
	rs.mu.Lock()
	var lines []func()
	now := rs.now()
	for _, k := range rs.order {
		if c := rs.counts[k]; c.n > c.logged {
			lines = append(lines, rs.lineLocked(k, c, now, 0))
		}
	}
	rs.mu.Unlock()
	for _, l := range lines {
		l()
	}
}

// lineLocked marks c logged and returns the function that writes its
// line (outside the lock). wait is the first retry's wait, for the first
// line.
func (rs *Retries) lineLocked(k retryKey, c *retryCount, now time.Time, wait time.Duration) func() {
	first := c.logged == 0 && c.n == 1
	c.logged, c.last = c.n, now
	n, waited, err := c.n, c.waited, c.err
	where := strings.TrimSpace(k.workspace + " " + k.class)
	if k.throttled {
		if first {
			return func() { rs.log.Info("throttled by "+where+", backing off", "wait", wait) }
		}
		return func() { rs.log.Info(fmt.Sprintf("throttled %s by %s, backing off", times(n), where), "waited", waited) }
	}
	if first {
		return func() { rs.log.Warn("retrying after an error from "+where, "wait", wait, "err", err) }
	}
	return func() {
		rs.log.Warn(fmt.Sprintf("retried %s after errors from %s", times(n), where), "waited", waited, "err", err)
	}
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// Counts returns the retries counted so far per "workspace class kind",
// kind being "throttled" or "failed", e.g. {"acme-prod scim-read
// throttled": 14}.
func (rs *Retries) Counts() map[string]int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := map[string]int{}
	for _, k := range rs.order {
		kind := "failed"
		if k.throttled {
			kind = "throttled"
		}
		out[strings.TrimSpace(k.workspace+" "+k.class)+" "+kind] = rs.counts[k].n
	}
	return out
}
