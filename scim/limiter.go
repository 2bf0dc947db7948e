package scim

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"
)

// pacing is the rate policy of one class, as a pure value: a probing AIMD
// (additive increase, multiplicative decrease) with a learned ceiling, run
// by one bucket of the class at a time, the leader, while the class's other
// buckets (the other workspaces) follow the rates it has proven.
//
// The leader starts at the class's start rate. While its replies succeed
// the rate rises additively: by step per success below threshold (the
// probe, which finds a server's limit in a few requests), by slowStep at or
// above it (the creep). A throttled reply at rate x halves the rate (never
// below floor) and sets threshold to the halved rate, as TCP sets its slow
// start threshold. Below safe the rate also rises by step: safe starts at
// the start rate (a conservative default, or the rate the user set) and a
// halving only brings the rate under it because the probe overshot, so the
// leader returns to it at once; a throttled reply at or below safe proves
// it wrong, and safe then falls to half of it.
//
// The learned ceiling: a throttled reply at x also records x as refused
// (the lowest such rate), and the rate never rises above refused/margin
// (nor above ceiling). So once a refusal has come within margin of a rate
// the class runs at, it stops creeping: a server's limit does not move, and
// the last quarter of the rate is not worth a throttled reply every few
// seconds for the rest of the run. The learned ceiling never holds the rate
// below safe (the start rate, unless a throttle at or below it proved it
// too fast), so a class set with --rate recovers to its rate after a
// throttle, as it always did.
//
// The followers' rate: a server limits each workspace alike but separately,
// so a rate one bucket probes past the limit drains that workspace's
// server bucket only. The followers run at follow: the lowest rate the
// leader sent its latest proofRun successful requests at (never below
// safe), and fall back to safe at any throttled reply. They lag the leader, so at the same demand they have
// sent fewer requests than it and their server buckets hold more: the
// leader draws the refusal first and the followers come down before they
// draw their own. Against a server as fast as the ceiling they trail the
// leader's probe by a few replies.
type pacing struct {
	start     float64 // the configured start rate
	ceiling   float64 // never above
	floor     float64 // never below after throttling
	step      float64 // additive step per success while probing
	slowStep  float64 // additive step per success once throttled
	rate      float64 // the leader's rate
	threshold float64 // probing (step) below, creeping (slowStep) at or above
	safe      float64 // returning (step) below; the followers' fallback
	refused   float64 // the lowest rate a throttled reply came at (+Inf: none)
	follow    float64 // the followers' rate
	// run counts the leader's successes since the last throttled reply,
	// and recent holds the rates of the latest proofRun of them.
	run    int
	recent [proofRun]float64
}

// minAdaptiveRate is the lowest rate throttling halves a bucket to (or its
// start rate, if that is lower).
const minAdaptiveRate = 0.5

// refusalMargin is how far under the lowest refused rate the learned
// ceiling holds a class: the rate creeps no higher than refused/margin.
const refusalMargin = 1.25

// proofRun is how many successes of the leader at a rate make it the
// followers' rate.
const proofRun = 3

// newPacing returns the policy of a class that starts at start and never
// goes above ceiling (ceiling <= start: no probing).
func newPacing(start, ceiling float64) pacing {
	ceiling = max(ceiling, start)
	return pacing{
		start: start, ceiling: ceiling,
		floor:     min(minAdaptiveRate, start),
		step:      start,
		slowStep:  max(start/40, 0.05),
		rate:      start,
		threshold: ceiling,
		safe:      start,
		refused:   math.Inf(1),
		follow:    start,
	}
}

// unlimited reports whether the class never waits.
func (p pacing) unlimited() bool { return math.IsInf(p.rate, 1) }

// top is the highest rate the leader may reach: the ceiling, lowered by the
// learned ceiling (refused/margin) but not below safe. A class that does
// not probe (a rate set with --rate, or a write class) recovers to its rate.
func (p pacing) top() float64 {
	if p.ceiling <= p.start {
		return p.ceiling
	}
	return min(p.ceiling, max(p.safe, p.refused/refusalMargin))
}

// probing reports whether the leader's rate may still rise.
func (p pacing) probing() bool { return p.rate < p.top() }

// succeeded returns the policy after a successful reply to a request the
// leader sent at x: 1 over the time since its previous request (at most its
// rate), so that the followers' rate is one the leader was sending at, not
// one it was allowed while its callers came slower.
func (p pacing) succeeded(x float64) pacing {
	if p.unlimited() {
		return p
	}
	p.recent[p.run%proofRun] = x
	p.run++
	if p.run >= proofRun {
		p.follow = max(p.follow, slices.Min(p.recent[:]))
	}
	top := p.top()
	switch {
	case p.rate >= top:
	case p.rate < p.safe:
		p.rate = min(p.rate+p.step, p.safe)
	case p.rate < p.threshold:
		p.rate = min(p.rate+p.step, p.threshold)
	default:
		p.rate += p.slowStep
	}
	p.rate = min(p.rate, top)
	return p
}

// throttled returns the policy after a throttled reply to a request sent
// at rate x (the leader's or the followers'). delivered is the rate the
// server was shown to sustain in the round that ended (+Inf: unknown): the
// rate halves, but not above it.
func (p pacing) throttled(x, delivered float64) pacing {
	if p.unlimited() {
		return p
	}
	p.refused = min(p.refused, x)
	if x <= p.safe {
		p.safe = max(x/2, p.floor)
	}
	p.rate = max(min(p.rate/2, x/2, delivered), p.floor)
	p.threshold = p.rate
	p.follow = p.safe
	p.run = 0
	return p
}

// burstAssumed is how much of its rate a server's token bucket is assumed
// to hold: a server that answered n requests over t seconds and then
// refused one sustains at least n/(t+burstAssumed) per second if its
// bucket holds at most burstAssumed of its rate (the sandbox's, and the
// usual token bucket, hold one second's worth). It only lowers a halving:
// a server with a larger bucket is halved as before.
const burstAssumed = time.Second

// idleLeader is how long the leader may go without a grant before another
// bucket of its class takes the lead (the leader's workspace was read).
const idleLeader = 2 * time.Second

// classPacer is the pacing of one class, shared by its buckets (one per
// host and workspace): the leader paces its grants at the policy's rate,
// the others at its follow rate. It is safe for concurrent use; its lock
// also guards the slots of its buckets.
//
// The buckets of a class share it because the workspaces of an account are
// served alike: a rate one of them refused is one the others are about to
// refuse, so the class probes with one bucket, and a bucket that starts
// later (the next round of --parallel) starts at what the class has
// learned instead of probing again.
type classPacer struct {
	mu     sync.Mutex
	p      pacing
	leader *adaptiveLimiter
	last   time.Time // the latest slot granted to a bucket of the class
	cutAt  time.Time // the latest slot granted when the rate was last halved
	// The round: since the leader's first grant after the last halving
	// (or since it took the lead), roundOK of its attempts succeeded.
	roundStart time.Time
	roundOK    int
	buckets    []*adaptiveLimiter
}

func newClassPacer(p pacing) *classPacer { return &classPacer{p: p} }

// bucket returns a new bucket of the class.
func (c *classPacer) bucket() *adaptiveLimiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := &adaptiveLimiter{c: c, laidAt: c.p.follow, waiters: map[*waiter]struct{}{}}
	c.buckets = append(c.buckets, a)
	return a
}

// rateOf returns the rate bucket a is paced at.
func (c *classPacer) rateOf(a *adaptiveLimiter) float64 {
	if a == c.leader {
		return c.p.rate
	}
	return c.p.follow
}

// elect makes a the leader at time t if there is none, or if the leader
// has had no grant for idleLeader and nothing waiting.
func (c *classPacer) elect(a *adaptiveLimiter, t time.Time) {
	l := c.leader
	if l == a {
		return
	}
	if l != nil && (len(l.waiters) > 0 || l.next.After(t) || t.Sub(l.last) <= idleLeader) {
		return
	}
	c.leader = a
	c.roundStart, c.roundOK = time.Time{}, 0
	c.relayChanged()
}

// relayChanged lays out again the slots of every bucket whose rate fell
// or rose by a quarter since they were laid out.
func (c *classPacer) relayChanged() {
	for _, b := range c.buckets {
		if r := c.rateOf(b); r < b.laidAt || r >= 1.25*b.laidAt {
			b.relayLocked(r)
		}
	}
}

// adaptiveLimiter is one class's bucket for one (host, workspace): it spaces
// grants 1/rate apart, at the rate its classPacer gives it. It is safe for
// concurrent use.
//
// A waiter reserves the next free slot. When the rate changes enough to
// matter (it falls, or it has risen by a quarter since the slots were last
// laid out), the reservations are laid out again from the last grant at the
// new spacing and every waiter wakes to take a new slot: a probe that
// doubles the rate in a few replies is not held back by slots reserved at
// the start rate, and a halved rate is not overrun by slots reserved before
// the throttle.
type adaptiveLimiter struct {
	c *classPacer

	// Guarded by c.mu:
	laidAt float64   // the rate the current reservations were laid out at
	last   time.Time // the latest slot granted (zero: none yet)
	next   time.Time // the next free slot (zero: now)
	// waiters are the cancel functions of the waits in progress, woken
	// (cancelled) when the slots are laid out again.
	waiters map[*waiter]struct{}
}

// waiter is one wait in progress.
type waiter struct {
	wake  context.CancelFunc
	woken bool
}

// errWoken ends a wait whose slot was laid out again.
var errWoken = errors.New("limiter slots laid out again")

// grant is a slot a wait granted: when, at what rate, and whether the
// bucket was its class's leader. The reply to the attempt sent in it is
// recorded with it (succeeded, throttled).
type grant struct {
	at     time.Time
	rate   float64
	leader bool
	// sentAt is the rate the bucket was sending at: 1 over the time since
	// its previous grant, at most rate (a bucket whose callers came slower
	// than its rate sent slower).
	sentAt float64
}

// wait blocks until the caller may send, and returns its slot. now is the
// clock and sleep the timer (both injectable); when ctx ends first, its
// error is returned and no slot is used.
func (a *adaptiveLimiter) wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error) (grant, error) {
	c := a.c
	for {
		c.mu.Lock()
		t := now()
		if c.p.unlimited() {
			c.mu.Unlock()
			return grant{at: t, rate: math.Inf(1)}, ctx.Err()
		}
		c.elect(a, t)
		slot := t
		if a.next.After(t) {
			slot = a.next
		}
		a.next = slot.Add(interval(c.rateOf(a)))
		d := slot.Sub(t)
		if d <= 0 {
			g := a.grantLocked(slot)
			c.mu.Unlock()
			return g, nil
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &waiter{wake: cancel}
		a.waiters[w] = struct{}{}
		c.mu.Unlock()

		err := sleep(wctx, d)
		cancel()
		c.mu.Lock()
		delete(a.waiters, w)
		switch {
		case ctx.Err() != nil:
			c.mu.Unlock()
			return grant{}, ctx.Err()
		case w.woken:
			// The slots were laid out again: take a new one.
			c.mu.Unlock()
			continue
		case err != nil:
			c.mu.Unlock()
			return grant{}, err
		}
		g := a.grantLocked(slot)
		c.mu.Unlock()
		return g, nil
	}
}

func (a *adaptiveLimiter) grantLocked(slot time.Time) grant {
	r := a.c.rateOf(a)
	g := grant{at: slot, rate: r, leader: a == a.c.leader}
	if gap := slot.Sub(a.last); !a.last.IsZero() && gap > 0 {
		g.sentAt = min(r, float64(time.Second)/float64(gap))
	}
	a.last = laterOf(a.last, slot)
	a.c.last = laterOf(a.c.last, slot)
	if g.leader && a.c.roundStart.IsZero() {
		a.c.roundStart = slot
	}
	return g
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// interval is the spacing of grants at rate r.
func interval(r float64) time.Duration {
	if r <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(float64(time.Second) / r)
}

// relayLocked lays the free slots out again from the last grant at rate r
// and wakes every waiter to take a new one.
func (a *adaptiveLimiter) relayLocked(r float64) {
	a.laidAt = r
	if a.last.IsZero() {
		a.next = time.Time{}
	} else {
		a.next = a.last.Add(interval(r))
	}
	for w := range a.waiters {
		w.woken = true
		w.wake()
	}
}

// throttled records a throttled reply to the attempt sent in g. Only the
// first throttled reply to attempts sent since the class's rate was last
// halved halves it again: the attempts already in flight when it fell were
// sent at the old rate and say nothing about the new one.
func (a *adaptiveLimiter) throttled(g grant) {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p.unlimited() || c.stale(g) {
		return
	}
	delivered := math.Inf(1)
	if g.leader && !c.roundStart.IsZero() {
		delivered = float64(c.roundOK) / (g.at.Sub(c.roundStart) + burstAssumed).Seconds()
	}
	c.p = c.p.throttled(g.rate, delivered)
	c.cutAt = laterOf(c.last, g.at)
	c.roundStart, c.roundOK = time.Time{}, 0
	c.relayChanged()
}

// succeeded records a successful reply to the attempt sent in g. Only the
// leader's successes, to attempts sent since the last halving, move the
// class's rates.
func (a *adaptiveLimiter) succeeded(g grant) {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p.unlimited() || !g.leader || c.stale(g) {
		return
	}
	if !c.roundStart.IsZero() && !g.at.Before(c.roundStart) {
		c.roundOK++
	}
	c.p = c.p.succeeded(g.sentAt)
	c.relayChanged()
}

// stale reports whether g was sent before the rate was last halved.
func (c *classPacer) stale(g grant) bool {
	return !c.cutAt.IsZero() && !g.at.After(c.cutAt)
}

// rate returns the rate the bucket is paced at, in requests per second.
func (a *adaptiveLimiter) rate() float64 {
	a.c.mu.Lock()
	defer a.c.mu.Unlock()
	return a.c.rateOf(a)
}

// limiterKey identifies a token bucket.
type limiterKey struct {
	host        string
	workspaceID int64
	class       Class
}

// semaphoreKey identifies a concurrency cap.
type semaphoreKey struct {
	host        string
	workspaceID int64
}

// registry holds the session's token buckets, the pacing of each class,
// and the concurrency semaphores, so every client for the same (host,
// workspace) shares them. It is safe for concurrent use.
type registry struct {
	rates       rateTable
	concurrency int

	mu         sync.Mutex
	classes    map[Class]*classPacer
	limiters   map[limiterKey]*adaptiveLimiter
	semaphores map[semaphoreKey]chan struct{}
}

func newRegistry(rates rateTable, concurrency int) *registry {
	return &registry{
		rates:       rates,
		concurrency: concurrency,
		classes:     map[Class]*classPacer{},
		limiters:    map[limiterKey]*adaptiveLimiter{},
		semaphores:  map[semaphoreKey]chan struct{}{},
	}
}

// charged returns the class a request of method is charged to when its
// caller names c: an unknown class is the default class, and a write named
// with a probing class goes to its write class (see chargedClass).
func (g *registry) charged(c Class, method string) Class {
	if _, ok := g.rates[c]; !ok {
		c = ClassDefault
	}
	return chargedClass(c, method)
}

// limiter returns the bucket of class c on (host, workspaceID), creating it on
// first use. Unknown classes share the default class's rate.
func (g *registry) limiter(host string, workspaceID int64, c Class) *adaptiveLimiter {
	if _, ok := g.rates[c]; !ok {
		c = ClassDefault
	}
	k := limiterKey{host, workspaceID, c}
	g.mu.Lock()
	defer g.mu.Unlock()
	l, ok := g.limiters[k]
	if !ok {
		cp, ok := g.classes[c]
		if !ok {
			r := g.rates[c]
			cp = newClassPacer(newPacing(r.start, r.ceiling))
			g.classes[c] = cp
		}
		l = cp.bucket()
		g.limiters[k] = l
	}
	return l
}

// semaphore returns the in-flight cap of (host, workspaceID).
func (g *registry) semaphore(host string, workspaceID int64) chan struct{} {
	k := semaphoreKey{host, workspaceID}
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.semaphores[k]
	if !ok {
		s = make(chan struct{}, g.concurrency)
		g.semaphores[k] = s
	}
	return s
}

// sleepCtx waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the latter case.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
