package scim

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestPacing(t *testing.T) {
	p := newPacing(4, 32)
	// Probing: one start rate more per success, up to the ceiling.
	var got []float64
	for range 9 {
		p = p.succeeded()
		got = append(got, p.rate)
	}
	if want := []float64{8, 12, 16, 20, 24, 28, 32, 32, 32}; !slices.Equal(got, want) {
		t.Errorf("probe = %v, want %v", got, want)
	}
	// A throttle halves it; from there it creeps up by start/40.
	p = p.throttled()
	if p.rate != 16 || p.threshold != 16 {
		t.Errorf("after throttling: %+v, want rate and threshold 16", p)
	}
	p = p.succeeded()
	if math.Abs(p.rate-16.1) > 1e-9 {
		t.Errorf("after a success: %v, want 16.1", p.rate)
	}
	// Brought below the start rate by another bucket's halving (or its own
	// overshoot), it returns to the start rate at once, then creeps.
	r := p.capped(2)
	if r.rate != 2 || r.threshold != 2 {
		t.Errorf("capped: %+v", r)
	}
	if r = r.succeeded(); r.rate != 4 {
		t.Errorf("return to the start rate: %v, want 4", r.rate)
	}
	if r = r.succeeded(); math.Abs(r.rate-4.1) > 1e-9 {
		t.Errorf("then a creep: %v, want 4.1", r.rate)
	}
	// A throttle at or below the start rate proves it too high: the bucket
	// no longer returns to it at once.
	r = r.capped(3).throttled() // throttled at 3: 1.5
	if r.safe != 1.5 || r.succeeded().rate != 1.6 {
		t.Errorf("after a throttle below the start rate: safe %v, next %v", r.safe, r.succeeded().rate)
	}
	// Halving stops at the floor (0.5/s, or the start if lower).
	for range 10 {
		p = p.throttled()
	}
	if p.rate != 0.5 {
		t.Errorf("floor = %v, want 0.5", p.rate)
	}
	if q := newPacing(0.3, 0.3).throttled(); q.rate != 0.3 {
		t.Errorf("start below the floor: %v, want 0.3", q.rate)
	}
	// A class without probing (ceiling = start) never goes above its start,
	// and recovers from a throttle by start/40 (at least 0.05/s) a success.
	q := newPacing(1, 1).succeeded()
	if q.rate != 1 {
		t.Errorf("unprobed class rose to %v", q.rate)
	}
	q = q.throttled().succeeded()
	if math.Abs(q.rate-0.55) > 1e-9 {
		t.Errorf("recovery step: %v, want 0.55", q.rate)
	}
	n := 0
	for r := newPacing(4.25, 4.25).throttled(); r.rate < 4.25; n++ {
		r = r.succeeded()
	}
	if n != 20 {
		t.Errorf("recovery from one halving took %d successes, want 20", n)
	}
	inf := newPacing(math.Inf(1), math.Inf(1))
	if !inf.throttled().succeeded().unlimited() {
		t.Errorf("unlimited became limited")
	}
}

// limClock is a fake clock whose sleeps advance it.
type limClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *limClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *limClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func TestLimiterSpacesGrants(t *testing.T) {
	c := &limClock{t: time.Unix(1000, 0)}
	l := newAdaptiveLimiter(newPacing(4, 4))
	var slots []time.Duration
	for range 3 {
		s, err := l.wait(context.Background(), c.now, c.sleep)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, s.Sub(time.Unix(1000, 0)))
	}
	if want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond}; !slices.Equal(slots, want) {
		t.Errorf("slots = %v, want %v", slots, want)
	}
}

// TestLimiterRelaysWaitersWhenTheRateRises checks that waiters holding
// slots laid out at the start rate wake and take earlier ones when the
// probe raises the rate, and that a throttle lays them out at the halved
// rate.
func TestLimiterRelaysWaitersWhenTheRateRises(t *testing.T) {
	start := time.Unix(1000, 0)
	clock := func() time.Time { return start }
	// sleep reports each wait it starts, then blocks until it is woken or
	// the test ends.
	waits := make(chan time.Duration, 16)
	sleep := func(ctx context.Context, d time.Duration) error {
		waits <- d
		<-ctx.Done()
		return ctx.Err()
	}
	l := newAdaptiveLimiter(newPacing(1, 8))
	if _, err := l.wait(context.Background(), clock, sleep); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := l.wait(ctx, clock, sleep)
			done <- err
		}()
	}
	collect := func() []time.Duration {
		var got []time.Duration
		for range 3 {
			got = append(got, <-waits)
		}
		slices.Sort(got)
		return got
	}
	// Three waiters reserve slots 1 s, 2 s and 3 s away.
	if got, want := collect(), []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits at 1/s = %v, want %v", got, want)
	}
	// A success doubles the rate: they wake and take slots 0.5 s apart.
	l.succeeded()
	if got, want := collect(), []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("waits at 2/s = %v, want %v", got, want)
	}
	// A throttle halves the rate back to 1/s: 1 s apart again.
	l.throttled(start)
	if got, want := collect(), []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits after the throttle = %v, want %v", got, want)
	}
	// A second throttle of an attempt sent before the first halving does
	// not halve again (and wakes no one).
	l.throttled(start)
	if r := l.rate(); r != 1 {
		t.Errorf("rate after a throttle of an older attempt = %v, want 1", r)
	}
	cancel()
	for range 3 {
		if err := <-done; err == nil {
			t.Error("a cancelled wait was granted")
		}
	}
	if len(waits) != 0 {
		t.Errorf("%d unexpected waits", len(waits))
	}
}

func TestLimiterCancelledWaitTakesNoSlot(t *testing.T) {
	c := &limClock{t: time.Unix(1000, 0)}
	l := newAdaptiveLimiter(newPacing(1, 1))
	if _, err := l.wait(context.Background(), c.now, c.sleep); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.wait(ctx, c.now, c.sleep); err == nil {
		t.Fatal("cancelled wait granted")
	}
}
