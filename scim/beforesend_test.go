package scim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// eventLog records the order of a call's stages.
type eventLog struct {
	mu sync.Mutex
	ev []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ev)
}

// logged answers with r after logging "sent".
func logged(l *eventLog, r responder) responder {
	return func(req *http.Request) (*http.Response, error) {
		l.add("sent")
		return r(req)
	}
}

// TestBeforeSendRunsAfterTheLimiter: a write-ahead hook runs after the
// call's rate-limit wait and right before the request is sent, once per
// call whatever its retries; a call cancelled while it waits for the
// limiter never runs it and sends nothing; a failing hook sends nothing,
// is not retried and its error comes back.
func TestBeforeSendRunsAfterTheLimiter(t *testing.T) {
	const path = workspaceSCIMBase + "/Groups/7"
	var log eventLog
	reg := newMock(t)
	reg.Register("burst", rest("PATCH", path), logged(&log, respond(204, nil)))
	reg.Register("waited", rest("PATCH", path), logged(&log, respond(204, nil)))
	reg.Register("throttled", rest("PATCH", path), logged(&log, respond(429, nil)))
	reg.Register("retried", rest("PATCH", path), logged(&log, respond(204, nil)))
	sess, _ := connectMock(t, reg, func(s *Settings) { s.Rates = map[string]float64{"scim-patch": 1} })
	frozen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sess.now = func() time.Time { return frozen }
	// The client keeps the session's sleep: switch it through a variable.
	sleep := func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			log.add("wait")
		}
		return ctx.Err()
	}
	sess.sleep = func(ctx context.Context, d time.Duration) error { return sleep(ctx, d) }
	w := workspaceClient(t, sess)
	hook := func() error { log.add("hook"); return nil }
	op := ReplaceDisplayName("x")

	// The first call takes the burst token: no wait.
	if err := w.Groups.Patch(context.Background(), "7", op, BeforeSend(hook)); err != nil {
		t.Fatal(err)
	}
	// The second waits for its slot, then runs the hook, then is sent.
	if err := w.Groups.Patch(context.Background(), "7", op, BeforeSend(hook)); err != nil {
		t.Fatal(err)
	}
	// A throttled call is retried (after its backoff and its slot) without
	// running the hook again; the context form runs its hooks, outermost
	// first, then the option's.
	ctx := WithBeforeSend(WithBeforeSend(context.Background(), func() error { log.add("outer"); return nil }),
		func() error { log.add("inner"); return nil })
	if err := w.Groups.Patch(ctx, "7", op, Idempotent(), BeforeSend(hook)); err != nil {
		t.Fatal(err)
	}
	want := []string{"hook", "sent", "wait", "hook", "sent", "wait", "outer", "inner", "hook", "sent", "wait", "wait", "sent"}
	if got := log.get(); !slices.Equal(got, want) {
		t.Errorf("stages = %v\nwant %v", got, want)
	}

	// Cancelled while waiting for the limiter: no hook, nothing sent.
	before := len(reg.Requests())
	cctx, cancel := context.WithCancel(context.Background())
	sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	ran := false
	err := w.Groups.Patch(cctx, "7", op, BeforeSend(func() error { ran = true; return nil }))
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("cancelled call: err %v, hook ran %v; want context.Canceled and no hook", err, ran)
	}
	// A failing hook: nothing sent, no retry, its error returned.
	sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	boom := errors.New("journal is full")
	calls := 0
	err = w.Groups.Patch(context.Background(), "7", op, Idempotent(), BeforeSend(func() error { calls++; return boom }))
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("failing hook: err %v after %d hook calls; want the hook's error after 1", err, calls)
	}
	if n := len(reg.Requests()); n != before {
		t.Errorf("%d requests sent after the cancelled call and the failing hook, want none", n-before)
	}
}

// TestRunBeforeSend: a stand-in for a client runs the context's hooks in
// order and stops at the first error.
func TestRunBeforeSend(t *testing.T) {
	if err := RunBeforeSend(context.Background()); err != nil {
		t.Fatalf("no hooks: %v", err)
	}
	var got []string
	boom := errors.New("boom")
	ctx := WithBeforeSend(context.Background(), func() error { got = append(got, "a"); return boom })
	ctx = WithBeforeSend(ctx, func() error { got = append(got, "b"); return nil })
	if err := RunBeforeSend(ctx); !errors.Is(err, boom) || !slices.Equal(got, []string{"a"}) {
		t.Errorf("RunBeforeSend = %v after %v, want boom after [a]", err, got)
	}
}
