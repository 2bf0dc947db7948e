package scim

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// adaptiveLimiter is one class's token bucket for one (host, workspace). Its
// rate drops on throttling and recovers on success (see decreaseRate and
// increaseRate). It is safe for concurrent use.
type adaptiveLimiter struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	configured float64
	current    float64
}

func newAdaptiveLimiter(r float64) *adaptiveLimiter {
	return &adaptiveLimiter{lim: rate.NewLimiter(toLimit(r), 1), configured: r, current: r}
}

func toLimit(r float64) rate.Limit {
	if math.IsInf(r, 1) {
		return rate.Inf
	}
	return rate.Limit(r)
}

// reserve takes the next token at time now and returns how long the caller
// must wait before sending. The reservation is returned so the caller can
// give the token back if it stops waiting.
func (a *adaptiveLimiter) reserve(now time.Time) (*rate.Reservation, time.Duration) {
	r := a.lim.ReserveN(now, 1)
	return r, r.DelayFrom(now)
}

// throttled records a throttled reply at time now.
func (a *adaptiveLimiter) throttled(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if next := decreaseRate(a.current, a.configured); next != a.current {
		a.current = next
		a.lim.SetLimitAt(now, toLimit(next))
	}
}

// succeeded records a successful reply at time now.
func (a *adaptiveLimiter) succeeded(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if next := increaseRate(a.current, a.configured); next != a.current {
		a.current = next
		a.lim.SetLimitAt(now, toLimit(next))
	}
}

// rate returns the current rate in requests per second.
func (a *adaptiveLimiter) rate() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.current
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
type registry struct {
	rates       map[Class]float64
	concurrency int

	mu         sync.Mutex
	limiters   map[limiterKey]*adaptiveLimiter
	semaphores map[semaphoreKey]chan struct{}
}

func newRegistry(rates map[Class]float64, concurrency int) *registry {
	return &registry{
		rates:       rates,
		concurrency: concurrency,
		limiters:    map[limiterKey]*adaptiveLimiter{},
		semaphores:  map[semaphoreKey]chan struct{}{},
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
		l = newAdaptiveLimiter(g.rates[c])
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
