package scim

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

const eps = 1e-9

// sendAt records a success of the leader sending at its current rate.
func sendAt(p pacing) pacing { return p.succeeded(p.rate) }

func TestPacingProbe(t *testing.T) {
	p := newPacing(4, 32)
	// Probing: one start rate more per success, up to the ceiling.
	var rates, follows []float64
	for range 9 {
		p = sendAt(p)
		rates = append(rates, p.rate)
		follows = append(follows, p.follow)
	}
	if want := []float64{8, 12, 16, 20, 24, 28, 32, 32, 32}; !slices.Equal(rates, want) {
		t.Errorf("probe = %v, want %v", rates, want)
	}
	// The followers take a rate once the leader has sent proofRun requests
	// at it: the lowest of its latest three.
	if want := []float64{4, 4, 4, 8, 12, 16, 20, 24, 28}; !slices.Equal(follows, want) {
		t.Errorf("follow = %v, want %v", follows, want)
	}
	// A success of a request sent slower than the rate (its callers came
	// slower) raises the leader but does not prove the rate to followers.
	q := newPacing(4, 32)
	for range 5 {
		q = q.succeeded(2)
	}
	if q.follow != 4 || q.rate != 24 {
		t.Errorf("slow sends: follow %v rate %v, want 4 and 24", q.follow, q.rate)
	}
}

func TestPacingThrottled(t *testing.T) {
	probed := newPacing(4, 32)
	for range 7 {
		probed = sendAt(probed)
	}
	for _, c := range []struct {
		name                string
		p                   pacing
		x, delivered        float64
		rate, safe, refused float64
		top                 float64 // the learned ceiling after
	}{
		// Halved from the rate it was sent at; the learned ceiling is the
		// refused rate over the margin; the followers fall back to safe.
		{"probe overshot", probed, 32, math.Inf(1), 16, 4, 32, 32 / refusalMargin},
		// The server delivered less than half the rate in the round that
		// ended: the rate comes down to what it delivered.
		{"delivered less", probed, 32, 10, 10, 4, 32, 32 / refusalMargin},
		// A throttle at or below the start rate proves it too high: safe
		// falls to half of it, and the learned ceiling holds the probe
		// under the refused rate.
		{"at the start rate", newPacing(4, 32), 4, math.Inf(1), 2, 2, 4, 4 / refusalMargin},
		// Refused just above the start: the learned ceiling never holds
		// the rate below the start, which stays trusted.
		{"just above the start", newPacing(4, 32), 4.5, math.Inf(1), 2, 4, 4.5, 4},
		// Halving stops at the floor (0.5/s, or the start if lower).
		{"floor", newPacing(0.8, 6.4), 0.8, math.Inf(1), 0.5, 0.5, 0.8, 0.64},
		{"start below the floor", newPacing(0.3, 0.3), 0.3, math.Inf(1), 0.3, 0.3, 0.3, 0.3},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := c.p.throttled(c.x, c.delivered)
			if math.Abs(p.rate-c.rate) > eps || math.Abs(p.safe-c.safe) > eps || p.refused != c.refused || math.Abs(p.top()-c.top) > eps {
				t.Errorf("after a throttle at %v: rate %v safe %v refused %v top %v, want %v %v %v %v",
					c.x, p.rate, p.safe, p.refused, p.top(), c.rate, c.safe, c.refused, c.top)
			}
			if p.follow != p.safe || p.threshold != p.rate || p.run != 0 {
				t.Errorf("follow %v threshold %v run %d, want safe, the rate and 0", p.follow, p.threshold, p.run)
			}
		})
	}
}

func TestPacingRecovery(t *testing.T) {
	// After an overshoot, the leader creeps by start/40 a success up to the
	// learned ceiling, and stays there.
	p := newPacing(4, 32)
	for range 7 {
		p = sendAt(p)
	}
	p = p.throttled(32, math.Inf(1))
	if p = sendAt(p); math.Abs(p.rate-16.1) > eps {
		t.Errorf("after a success: %v, want 16.1", p.rate)
	}
	for range 200 {
		p = sendAt(p)
	}
	if math.Abs(p.rate-32/refusalMargin) > eps {
		t.Errorf("after 200 successes: %v, want the learned ceiling %v", p.rate, 32/refusalMargin)
	}
	// Halved below the start rate by an overshoot, it returns to the start
	// at once, then creeps.
	r := newPacing(4, 32)
	r = sendAt(r).throttled(8, 3) // delivered 3: rate 3
	if r.rate != 3 {
		t.Fatalf("rate %v, want 3", r.rate)
	}
	if r = sendAt(r); r.rate != 4 {
		t.Errorf("return to the start rate: %v, want 4", r.rate)
	}
	if r = sendAt(r); math.Abs(r.rate-4.1) > eps {
		t.Errorf("then a creep: %v, want 4.1", r.rate)
	}
	// Below a proven-wrong start rate, it creeps.
	if s := newPacing(4, 32).throttled(4, math.Inf(1)); math.Abs(sendAt(s).rate-2.1) > eps {
		t.Errorf("after a throttle at the start rate: next %v, want 2.1", sendAt(s).rate)
	}
	// A class without probing (ceiling = start) recovers from a throttle by
	// start/40 (at least 0.05/s) a success, back to its start.
	q := newPacing(1, 1).throttled(1, math.Inf(1))
	if q = sendAt(q); math.Abs(q.rate-0.55) > eps {
		t.Errorf("recovery step: %v, want 0.55", q.rate)
	}
	n := 0
	for r := newPacing(4.25, 4.25).throttled(4.25, math.Inf(1)); r.rate < 4.25-eps; n++ {
		r = sendAt(r)
	}
	if n != 20 {
		t.Errorf("recovery from one halving took %d successes, want 20", n)
	}
	inf := newPacing(math.Inf(1), math.Inf(1))
	if !inf.throttled(1, 1).succeeded(1).unlimited() {
		t.Errorf("unlimited became limited")
	}
}

// TestPacingWithoutProbingNeverExceedsItsRate drives classes that do not
// probe (writes, and classes set with --rate) through random replies at
// random send rates: neither the leader's nor the followers' rate ever
// exceeds the configured rate.
func TestPacingWithoutProbingNeverExceedsItsRate(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, start := range []float64{35.0 / 60, 0.5, 2, 5, 10} {
		p := newPacing(start, start)
		for i := range 5000 {
			x := rnd.Float64() * 3 * start
			if rnd.IntN(10) == 0 {
				p = p.throttled(x, rnd.Float64()*3*start)
			} else {
				p = p.succeeded(min(x, p.rate))
			}
			if p.rate > start+eps || p.follow > start+eps {
				t.Fatalf("start %v, step %d: rate %v follow %v", start, i, p.rate, p.follow)
			}
		}
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

func (c *limClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestLimiterSpacesGrants(t *testing.T) {
	c := &limClock{t: time.Unix(1000, 0)}
	l := newClassPacer(newPacing(4, 4)).bucket()
	var slots []time.Duration
	for range 3 {
		g, err := l.wait(context.Background(), c.now, c.sleep)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, g.at.Sub(time.Unix(1000, 0)))
	}
	if want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond}; !slices.Equal(slots, want) {
		t.Errorf("slots = %v, want %v", slots, want)
	}
}

// TestLimiterRelaysWaitersWhenTheRateChanges checks that waiters holding
// slots laid out at the start rate wake and take earlier ones when the
// probe raises the rate, and that a throttle lays them out at the halved
// rate.
func TestLimiterRelaysWaitersWhenTheRateChanges(t *testing.T) {
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
	l := newClassPacer(newPacing(1, 8)).bucket()
	g, err := l.wait(context.Background(), clock, sleep)
	if err != nil {
		t.Fatal(err)
	}
	if !g.leader {
		t.Fatal("the class's first bucket is not its leader")
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
	l.succeeded(g)
	if got, want := collect(), []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("waits at 2/s = %v, want %v", got, want)
	}
	// A throttle of the attempt sent at 1/s halves that rate (and proves
	// the start too fast): 0.5/s, slots 2 s apart.
	l.throttled(g)
	if got, want := collect(), []time.Duration{2 * time.Second, 4 * time.Second, 6 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits after the throttle = %v, want %v", got, want)
	}
	// A second throttle of an attempt sent before the halving does not
	// halve again (and wakes no one).
	l.throttled(g)
	if r := l.rate(); r != 0.5 {
		t.Errorf("rate after a throttle of an older attempt = %v, want 0.5", r)
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
	l := newClassPacer(newPacing(1, 1)).bucket()
	if _, err := l.wait(context.Background(), c.now, c.sleep); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.wait(ctx, c.now, c.sleep); err == nil {
		t.Fatal("cancelled wait granted")
	}
}

// TestLimiterFollowersTrailTheLeader checks the class's split: the first
// bucket to send leads the probe; the others are paced at the rates it
// has proven, fall back to the safe rate at any throttled reply, and one
// takes the lead when the leader has been idle.
func TestLimiterFollowersTrailTheLeader(t *testing.T) {
	c := &limClock{t: time.Unix(1000, 0)}
	cp := newClassPacer(newPacing(4, 32))
	lead, follower := cp.bucket(), cp.bucket()
	grant := func(l *adaptiveLimiter) grant {
		t.Helper()
		g, err := l.wait(context.Background(), c.now, c.sleep)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	var follows []float64
	for range 5 {
		g := grant(lead)
		if !g.leader {
			t.Fatal("the first bucket is not the leader")
		}
		lead.succeeded(g)
		follows = append(follows, follower.rate())
	}
	// The leader's sends: at 4 (its first, no previous send: 0), 8, 12,
	// 16, 20. The followers take the lowest of its latest three.
	if want := []float64{4, 4, 4, 8, 12}; !slices.Equal(follows, want) {
		t.Errorf("follower rates = %v, want %v", follows, want)
	}
	if r := lead.rate(); r != 24 {
		t.Errorf("leader rate = %v, want 24", r)
	}
	// A follower's success moves nothing.
	fg := grant(follower)
	if fg.leader || fg.rate != 12 {
		t.Errorf("follower grant = %+v, want a follower's at 12", fg)
	}
	follower.succeeded(fg)
	if lead.rate() != 24 || follower.rate() != 12 {
		t.Errorf("after a follower's success: %v and %v, want 24 and 12", lead.rate(), follower.rate())
	}
	// A follower's throttled reply at 12 halves the class and sends the
	// followers back to the safe rate (the start).
	follower.throttled(fg)
	if lead.rate() != 6 || follower.rate() != 4 {
		t.Errorf("after a follower's throttle at 12: leader %v follower %v, want 6 and 4", lead.rate(), follower.rate())
	}
	// The leader idle for more than idleLeader: the follower takes the lead.
	c.advance(idleLeader + time.Second)
	if g := grant(follower); !g.leader {
		t.Errorf("the follower did not take the lead from an idle leader")
	}
	if g := grant(lead); g.leader {
		t.Errorf("the old leader still leads")
	}
}

// TestChargedClass checks that a probing class paces reads only: a write
// named with one is charged to a class that does not probe.
func TestChargedClass(t *testing.T) {
	for _, c := range Classes() {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			if got := chargedClass(c, m); got != c {
				t.Errorf("%s %s charged to %s", m, c, got)
			}
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			got := chargedClass(c, m)
			if probing[got] {
				t.Errorf("%s named %s is charged to %s, which probes", m, c, got)
			}
			if start, ceiling := defaultRates[got], must(DefaultCeiling(got)); ceiling != start {
				t.Errorf("%s named %s: ceiling %v above its rate %v", m, c, ceiling, start)
			}
			if !probing[c] && got != c {
				t.Errorf("%s named %s (no probe) moved to %s", m, c, got)
			}
		}
	}
	if got := chargedClass(ClassDefault, http.MethodPost); got != ClassRESTWrite {
		t.Errorf("POST named default charged to %s, want %s", got, ClassRESTWrite)
	}
}

func must[T any](v T, _ bool) T { return v }

// TestWritesNeverProbe sends REST reads until the default class has probed
// far above its rate, then the writes of a handover (charged by their
// callers to rest-write, and one named with the default class): every
// write goes to rest-write and is sent no faster than its rate, 10/s.
func TestWritesNeverProbe(t *testing.T) {
	reg := newMock(t)
	c := &limClock{t: time.Unix(1000, 0)}
	var mu sync.Mutex
	sent := map[string][]time.Time{}
	record := func(r responder) responder {
		return func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			sent[req.Method] = append(sent[req.Method], c.now())
			mu.Unlock()
			return r(req)
		}
	}
	reg.Register("reads", rest("GET", pathClustersGet), record(respond(200, Cluster{ClusterID: "c1"}))).Times(40)
	reg.Register("owner", rest("POST", pathClustersChangeOwner), record(respond(200, map[string]any{}))).Times(10)
	reg.Register("default-named", rest("POST", "/api/2.0/some/write"), record(respond(200, map[string]any{}))).Times(5)
	var events []RequestEvent
	sess, _ := connectMock(t, reg, func(s *Settings) {
		s.Rates = nil // the defaults: default probes, rest-write does not
		s.Sleep = c.sleep
		s.OnRequest = func(e RequestEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	sess.now = c.now
	w := workspaceClient(t, sess)
	ctx := context.Background()
	for range 40 {
		if _, err := GetCluster(ctx, w, "c1"); err != nil {
			t.Fatal(err)
		}
	}
	if r := sess.registry.limiter(sess.Host(), 42, ClassDefault).rate(); r <= 10 {
		t.Fatalf("the default class did not probe: %v", r)
	}
	for range 10 {
		if err := ChangeClusterOwner(ctx, w, "c1", "new@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if err := w.Do(ctx, ClassDefault, http.MethodPost, "/api/2.0/some/write", nil, map[string]string{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	posts := sent[http.MethodPost]
	if len(posts) != 15 {
		t.Fatalf("%d writes sent, want 15", len(posts))
	}
	for i := 1; i < len(posts); i++ {
		if gap := posts[i].Sub(posts[i-1]); gap < 100*time.Millisecond {
			t.Errorf("write %d sent %v after the previous one, faster than 10/s", i, gap)
		}
	}
	for _, e := range events {
		want := ClassDefault
		if e.Method != http.MethodGet {
			want = ClassRESTWrite
		}
		if e.Class != want {
			t.Errorf("%s %s charged to %s, want %s", e.Method, e.Path, e.Class, want)
		}
	}
}
