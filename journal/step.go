package journal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultGrace is how long in-flight calls may finish after the run's
// context is cancelled (Ctrl-C), so that an intent written just before a
// call is followed by its outcome when the call completes.
const DefaultGrace = 10 * time.Second

// ExecOptions configure an [Executor]. The zero value is usable.
type ExecOptions[P any] struct {
	// Merge folds payloads into views (see [Replay]); nil replaces.
	Merge Merge[P]
	// Grace is how long a step's calls may go on after the run's context
	// is cancelled; 0 means DefaultGrace.
	Grace time.Duration
	// Retry, if set, is asked after a step failed whether to run it again
	// and after which pause (round counts from 0). Steps read live state
	// first, so running one again is safe. Retry is not asked once the run
	// is cancelled.
	Retry func(err error, round int) (time.Duration, bool)
	// Sleep waits between retries; it must return ctx.Err() when ctx is
	// done. nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, if set, is told before each retry.
	OnRetry func(step string, err error, round int, wait time.Duration)
	// RedoSkipped makes Run run a step again whose last record is
	// skipped; by default skipped, like done, is final.
	RedoSkipped bool
}

// Executor runs steps against a journal. It keeps the replayed views of
// every step up to date as records are appended. With a nil journal (a dry
// run) it replays the given records and writes nothing. An Executor is
// safe for concurrent use: steps of different ids may run at once (two
// concurrent runs of one id are the caller's mistake).
type Executor[P any] struct {
	j    *Journal[P]
	opts ExecOptions[P]

	mu     sync.Mutex
	views  map[string]*View[P]
	fatal  error
	cancel func()
}

// NewExecutor returns an executor that appends to j. When j is nil (a dry
// run), recs (e.g. from [Read]) give the views and nothing is written;
// otherwise recs is ignored and j's records are replayed.
func NewExecutor[P any](j *Journal[P], recs []Record[P], opts ExecOptions[P]) *Executor[P] {
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if j != nil {
		recs = j.Records()
	}
	return &Executor[P]{j: j, opts: opts, views: Replay(recs, opts.Merge)}
}

// DryRun reports whether the executor writes nothing.
func (e *Executor[P]) DryRun() bool { return e.j == nil }

// OnFatal registers cancel, called once when a journal write fails: the
// run must stop, as no remote change may follow an unrecorded intent.
func (e *Executor[P]) OnFatal(cancel func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancel = cancel
}

// Fatal returns the journal write error that stopped the run, if any.
func (e *Executor[P]) Fatal() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fatal
}

// View returns a copy of a step's view and whether the step has records.
func (e *Executor[P]) View(id string) (View[P], bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := e.views[id]
	if v == nil {
		return View[P]{Step: id}, false
	}
	return *v, true
}

// Views returns a copy of every view, keyed by step id.
func (e *Executor[P]) Views() map[string]View[P] {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]View[P], len(e.views))
	for k, v := range e.views {
		out[k] = *v
	}
	return out
}

// Append writes a record of step id (not in a dry run) and folds it into
// the views. A write failure is fatal (see OnFatal).
func (e *Executor[P]) Append(id string, state State, data P, stepErr error) error {
	return e.appendUnless(id, state, data, stepErr, nil)
}

// appendUnless is Append, writing nothing when stop returns an error
// under the journal's lock (see [Journal.AppendUnless]); that error is
// returned and is not fatal.
func (e *Executor[P]) appendUnless(id string, state State, data P, stepErr error, stop func() error) error {
	r := Record[P]{Step: id, State: state, Data: data}
	if stepErr != nil {
		r.Error = stepErr.Error()
	}
	if e.j != nil {
		var err error
		var stopped error
		check := func() error {
			if stop == nil {
				return nil
			}
			stopped = stop()
			return stopped
		}
		if r, err = e.j.AppendUnless(r, check); stopped != nil {
			return stopped
		} else if err != nil {
			e.mu.Lock()
			if e.fatal == nil {
				e.fatal = err
			}
			cancel := e.cancel
			e.mu.Unlock()
			if cancel != nil {
				cancel()
			}
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	Fold(e.views, r, e.opts.Merge)
	return nil
}

// Step is one execution of a step, handed to the function [Executor.Run]
// runs. It is not safe for concurrent use.
type Step[P any] struct {
	// ID is the step id.
	ID string
	// Prior is the step's journal view before this run (State "" when it
	// never ran): a started step may have sent its write.
	Prior View[P]
	// Ctx is for the step's calls: it is cancelled only Grace after the
	// run's context, so that a call in flight completes and is recorded.
	Ctx context.Context
	// Run is the run's context, for waits that should stop at once.
	Run context.Context

	e     *Executor[P]
	base  P
	began bool
}

// Intend records that the step is about to send a remote write, with what
// a later run needs to resume or undo it. The record is durable before
// Intend returns; call it right before each such write (never for a read,
// never for a call that will not be sent). In a dry run it writes nothing.
//
// Once the run's context is cancelled (Ctrl-C), Intend records nothing and
// returns an error wrapping the context's; the check is made again under
// the journal's lock, so that no intent follows the stop, not even one
// whose append was waiting for the lock. The grace period lets a write
// whose intent is recorded go out and be recorded, never starts a new one.
// Call Intend from the transport's before-send hook (scim.BeforeSend),
// once the rate limiter granted the write: an intent recorded before that
// wait announces a write that the stop may abandon. The step then stops;
// a resumed run reads the live state and goes on.
func (s *Step[P]) Intend(data P) error {
	stopped := func() error {
		if err := s.Run.Err(); err != nil {
			return fmt.Errorf("step %s: no new write after the run was stopped: %w", s.ID, err)
		}
		return nil
	}
	if err := stopped(); err != nil {
		return err
	}
	// Checked again under the journal's lock: a step that waited on it
	// while the run was stopped records nothing.
	if err := s.e.appendUnless(s.ID, Started, s.e.payload(s.base, data), nil, stopped); err != nil {
		return err
	}
	s.began = true
	return nil
}

// Began reports whether Intend was called in this run.
func (s *Step[P]) Began() bool { return s.began }

func (e *Executor[P]) payload(base, data P) P {
	if e.opts.Merge == nil {
		return data
	}
	out := base
	e.opts.Merge(&out, data)
	return out
}

// Outcome is what a step function decided.
type Outcome int

// Outcomes of a step function.
const (
	// OutcomeDone: the step's change is in place (made now or found made).
	OutcomeDone Outcome = iota
	// OutcomeSkipped: the step was not run (e.g. the object changed since
	// the plan); the returned data says why.
	OutcomeSkipped
)

// StepFunc is a step's work. It reads live state, calls s.Intend before
// each write, and returns the outcome and the data for the final record.
type StepFunc[P any] func(s *Step[P]) (Outcome, P, error)

// Run runs fn as step id unless the journal says the step is done (or
// skipped), in which case it returns the recorded view's state without
// calling fn. base is merged under the data of every record the run writes
// (the fields that identify the step). After fn returns, Run records done,
// skipped or failed; when the run's context was cancelled and fn failed
// because of it, nothing is recorded (the started record stays and a
// resumed run reads live state). Run returns the state recorded (or found)
// and fn's error.
func (e *Executor[P]) Run(ctx context.Context, id string, base P, fn StepFunc[P]) (State, error) {
	prior, _ := e.View(id)
	if prior.State == Done || (prior.State == Skipped && !e.opts.RedoSkipped) {
		return prior.State, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	cctx, cancel := graceContext(ctx, e.opts.Grace)
	defer cancel()
	s := &Step[P]{ID: id, Prior: prior, Ctx: cctx, Run: ctx, e: e, base: base}
	out, data, err := fn(s)
	for round := 0; err != nil && e.opts.Retry != nil && ctx.Err() == nil && e.Fatal() == nil; round++ {
		wait, again := e.opts.Retry(err, round)
		if !again {
			break
		}
		if e.opts.OnRetry != nil {
			e.opts.OnRetry(id, err, round, wait)
		}
		if serr := e.opts.Sleep(ctx, wait); serr != nil {
			err = serr
			break
		}
		out, data, err = fn(s)
	}
	if ferr := e.Fatal(); ferr != nil {
		return "", ferr
	}
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return "", err
		}
		if aerr := e.Append(id, Failed, e.payload(base, data), err); aerr != nil {
			return "", aerr
		}
		return Failed, err
	}
	state := Done
	if out == OutcomeSkipped {
		state = Skipped
	}
	if aerr := e.Append(id, state, e.payload(base, data), nil); aerr != nil {
		return "", aerr
	}
	return state, nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// graceContext returns a context that is not cancelled with parent but
// grace after it, so that in-flight calls can finish cleanly.
func graceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	return ctx, func() {
		stop()
		cancel()
	}
}
