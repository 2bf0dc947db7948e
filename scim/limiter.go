package scim

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// pacing is the rate policy of one bucket, as a pure value: a probing AIMD
// (additive increase, multiplicative decrease) bounded by a ceiling.
//
// A bucket starts at its class's start rate. While replies succeed the rate
// rises additively: by step per success below threshold (the probe, which
// finds a server's limit in a few requests), by slowStep above it. A
// throttled reply halves the rate (never below floor) and sets threshold to
// the halved rate, so that from then on the rate creeps back up by
// slowStep. The rate never exceeds ceiling.
//
// Below safe the rate also rises by step: safe starts at the start rate (a
// conservative default, or the rate the user set) and a halving only brings
// the rate under it because the probe overshot, so the bucket returns to it
// at once rather than creeping back over dozens of replies. A throttled
// reply at or below safe proves it wrong: safe then falls to the halved
// rate.
type pacing struct {
	start     float64 // the configured start rate
	ceiling   float64 // never above
	floor     float64 // never below after throttling
	step      float64 // additive step per success while probing
	slowStep  float64 // additive step per success once throttled
	rate      float64 // current rate
	threshold float64 // probing (step) below, creeping (slowStep) at or above
	safe      float64 // returning (step) below
}

// minAdaptiveRate is the lowest rate throttling halves a bucket to (or its
// start rate, if that is lower).
const minAdaptiveRate = 0.5

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
	}
}

// unlimited reports whether the bucket never waits.
func (p pacing) unlimited() bool { return math.IsInf(p.rate, 1) }

// succeeded returns the policy after a successful reply.
func (p pacing) succeeded() pacing {
	if p.unlimited() || p.rate >= p.ceiling {
		p.rate = min(p.rate, p.ceiling)
		return p
	}
	switch {
	case p.rate < p.safe:
		p.rate = min(p.rate+p.step, p.safe)
	case p.rate < p.threshold:
		p.rate = min(p.rate+p.step, p.threshold)
	default:
		p.rate += p.slowStep
	}
	p.rate = min(p.rate, p.ceiling)
	return p
}

// throttled returns the policy after a throttled reply.
func (p pacing) throttled() pacing {
	if p.unlimited() {
		return p
	}
	refused := p.rate
	p.rate = max(p.rate/2, p.floor)
	p.threshold = p.rate
	if refused <= p.safe {
		p.safe = p.rate
	}
	return p
}

// capped returns the policy after another bucket of the class was halved
// to limit: the rate comes down to it (not below the floor) and probing
// stops there, so the bucket creeps past a rate the server has just
// refused elsewhere instead of probing through it.
func (p pacing) capped(limit float64) pacing {
	if p.unlimited() {
		return p
	}
	limit = max(limit, p.floor)
	p.rate = min(p.rate, limit)
	p.threshold = min(p.threshold, limit)
	return p
}

// adaptiveLimiter is one class's bucket for one (host, workspace): it spaces
// grants 1/rate apart, with the rate following a pacing policy. It is safe
// for concurrent use.
//
// A waiter reserves the next free slot. When the rate changes enough to
// matter (it falls, or it has risen by a quarter since the slots were last
// laid out), the reservations are laid out again from the last grant at the
// new spacing and every waiter wakes to take a new slot: a probe that
// doubles the rate in a few replies is not held back by slots reserved at
// the start rate, and a halved rate is not overrun by slots reserved before
// the throttle.
type adaptiveLimiter struct {
	// onHalved, if set, is called (without the lock) with the halved rate
	// after a throttled reply halved it: the registry shares it with the
	// class's other buckets.
	onHalved func(rate float64)

	mu     sync.Mutex
	p      pacing
	laidAt float64   // the rate the current reservations were laid out at
	last   time.Time // the latest slot granted (zero: none yet)
	next   time.Time // the next free slot (zero: now)
	cutAt  time.Time // when the rate was last halved
	// waiters are the cancel functions of the waits in progress, woken
	// (cancelled) when the slots are laid out again.
	waiters map[*waiter]struct{}
}

// waiter is one wait in progress.
type waiter struct {
	wake  context.CancelFunc
	woken bool
}

func newAdaptiveLimiter(p pacing) *adaptiveLimiter {
	return &adaptiveLimiter{p: p, laidAt: p.rate, waiters: map[*waiter]struct{}{}}
}

// errWoken ends a wait whose slot was laid out again.
var errWoken = errors.New("limiter slots laid out again")

// wait blocks until the caller may send, and returns the time of its slot.
// now is the clock and sleep the timer (both injectable); when ctx ends
// first, its error is returned and no slot is used.
func (a *adaptiveLimiter) wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error) (time.Time, error) {
	for {
		a.mu.Lock()
		t := now()
		if a.p.unlimited() {
			a.mu.Unlock()
			return t, ctx.Err()
		}
		slot := t
		if a.next.After(t) {
			slot = a.next
		}
		a.next = slot.Add(interval(a.p.rate))
		d := slot.Sub(t)
		if d <= 0 {
			a.last = laterOf(a.last, slot)
			a.mu.Unlock()
			return slot, nil
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &waiter{wake: cancel}
		a.waiters[w] = struct{}{}
		a.mu.Unlock()

		err := sleep(wctx, d)
		cancel()
		a.mu.Lock()
		delete(a.waiters, w)
		switch {
		case ctx.Err() != nil:
			a.mu.Unlock()
			return time.Time{}, ctx.Err()
		case w.woken:
			// The slots were laid out again: take a new one.
			a.mu.Unlock()
			continue
		case err != nil:
			a.mu.Unlock()
			return time.Time{}, err
		}
		a.last = laterOf(a.last, slot)
		a.mu.Unlock()
		return slot, nil
	}
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

// relayLocked lays the free slots out again from the last grant at the
// current rate and wakes every waiter to take a new one.
func (a *adaptiveLimiter) relayLocked() {
	a.laidAt = a.p.rate
	if a.last.IsZero() {
		a.next = time.Time{}
	} else {
		a.next = a.last.Add(interval(a.p.rate))
	}
	for w := range a.waiters {
		w.woken = true
		w.wake()
	}
}

// throttled records a throttled reply to an attempt sent at sent. Only the
// first throttled reply to attempts sent since the last halving halves the
// rate again: the attempts already in flight when it fell were sent at the
// old rate and say nothing about the new one.
func (a *adaptiveLimiter) throttled(sent time.Time) {
	a.mu.Lock()
	if a.p.unlimited() || (!a.cutAt.IsZero() && !sent.After(a.cutAt)) {
		a.mu.Unlock()
		return
	}
	a.p = a.p.throttled()
	a.cutAt = laterOf(a.last, sent)
	a.relayLocked()
	r := a.p.rate
	a.mu.Unlock()
	if a.onHalved != nil {
		a.onHalved(r)
	}
}

// capAt brings the rate down to limit if it is above it, and stops the
// probe there (see pacing.capped). Like a halving, it starts a new round:
// throttled replies to requests sent before it were sent at the old rate
// and do not halve the new one (else the buckets of a class, all probing
// at once, would halve each other down to the floor).
func (a *adaptiveLimiter) capAt(limit float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	before := a.p.rate
	a.p = a.p.capped(limit)
	if a.p.rate < before {
		a.cutAt = laterOf(a.cutAt, a.last)
		a.relayLocked()
	}
}

// succeeded records a successful reply.
func (a *adaptiveLimiter) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p.unlimited() {
		return
	}
	a.p = a.p.succeeded()
	if a.p.rate >= 1.25*a.laidAt {
		a.relayLocked()
	}
}

// rate returns the current rate in requests per second.
func (a *adaptiveLimiter) rate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.p.rate
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

// registry holds the session's token buckets and concurrency semaphores, so
// every client for the same (host, workspace) shares them. It is safe for
// concurrent use.
//
// The buckets of one class learn from each other: when a throttled reply
// halves one bucket, every other bucket of the class (other workspaces, or
// the account and the workspaces) comes down to the halved rate if it is
// above it and stops probing there, and so do buckets made later. The
// workspaces of an account are served alike, so a rate one of them refused
// is one the others are about to refuse; a bucket that is wrong about it
// only creeps back up more slowly.
type registry struct {
	rates       rateTable
	concurrency int

	mu         sync.Mutex
	limiters   map[limiterKey]*adaptiveLimiter
	semaphores map[semaphoreKey]chan struct{}
	refused    map[Class]float64 // the lowest rate a bucket of the class was halved to
}

func newRegistry(rates rateTable, concurrency int) *registry {
	return &registry{
		rates:       rates,
		concurrency: concurrency,
		limiters:    map[limiterKey]*adaptiveLimiter{},
		semaphores:  map[semaphoreKey]chan struct{}{},
		refused:     map[Class]float64{},
	}
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
		r := g.rates[c]
		p := newPacing(r.start, r.ceiling)
		if limit, ok := g.refused[c]; ok {
			p = p.capped(limit)
		}
		l = newAdaptiveLimiter(p)
		l.onHalved = func(rate float64) { g.halved(k, rate) }
		g.limiters[k] = l
	}
	return l
}

// halved shares the halving of bucket k to rate with the class's other
// buckets.
func (g *registry) halved(k limiterKey, rate float64) {
	g.mu.Lock()
	if old, ok := g.refused[k.class]; !ok || rate < old {
		g.refused[k.class] = rate
	}
	var others []*adaptiveLimiter
	for ok, l := range g.limiters {
		if ok.class == k.class && ok != k {
			others = append(others, l)
		}
	}
	g.mu.Unlock()
	for _, l := range others {
		l.capAt(rate)
	}
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
