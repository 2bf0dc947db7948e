package journal

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mergePayload(dst *payload, src payload) {
	if src.Object != "" {
		dst.Object = src.Object
	}
	if src.Before != "" {
		dst.Before = src.Before
	}
}

func openExec(t *testing.T, dir string) (*Journal[payload], *Executor[payload]) {
	t.Helper()
	j, err := Open[payload](dir, header(), Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, NewExecutor(j, nil, ExecOptions[payload]{Merge: mergePayload})
}

func states(recs []Record[payload]) string {
	var s []string
	for _, r := range recs {
		s = append(s, r.Step+"="+string(r.State))
	}
	return strings.Join(s, " ")
}

// TestRunRecordsIntentBeforeWriteAndOutcome: the started record is on disk
// when the write is sent; a step whose change is already in place writes
// only its outcome; a done step is not run again.
func TestRunRecordsIntentBeforeWriteAndOutcome(t *testing.T) {
	dir := t.TempDir()
	j, ex := openExec(t, dir)
	ctx := context.Background()
	sent := 0
	write := func(s *Step[payload]) (Outcome, payload, error) {
		if err := s.Intend(payload{Before: "elena"}); err != nil {
			return OutcomeDone, payload{}, err
		}
		// The intent is durable before the write goes out.
		_, recs, err := Read[payload](dir)
		if err != nil || len(recs) == 0 || recs[len(recs)-1].State != Started || recs[len(recs)-1].Data.Before != "elena" {
			t.Errorf("at the write the journal is %s (%v)", states(recs), err)
		}
		sent++
		return OutcomeDone, payload{}, nil
	}
	if st, err := ex.Run(ctx, "a", payload{Object: "1"}, write); st != Done || err != nil {
		t.Fatalf("Run a = %s, %v", st, err)
	}
	if st, err := ex.Run(ctx, "a", payload{Object: "1"}, write); st != Done || err != nil || sent != 1 {
		t.Fatalf("Run of a done step = %s, %v, sent %d; want done without a call", st, err, sent)
	}
	already := func(s *Step[payload]) (Outcome, payload, error) { return OutcomeDone, payload{}, nil }
	if st, _ := ex.Run(ctx, "b", payload{Object: "2"}, already); st != Done {
		t.Fatalf("Run b = %s", st)
	}
	if got, want := states(j.Records()), "a=started a=done b=done"; got != want {
		t.Errorf("records = %s, want %s", got, want)
	}
	v, _ := ex.View("a")
	if v.State != Done || v.Data.Object != "1" || v.Data.Before != "elena" {
		t.Errorf("view a = %+v; want done with the base and the intent's data", v)
	}
	// A new executor on the reopened journal sees the same.
	j.Close()
	_, ex2 := openExec(t, dir)
	if v, ok := ex2.View("a"); !ok || v.State != Done {
		t.Errorf("after reopen view a = %+v", v)
	}
}

func TestRunFailureSkipAndRetry(t *testing.T) {
	dir := t.TempDir()
	j, ex := openExec(t, dir)
	ctx := context.Background()
	boom := errors.New("boom")
	st, err := ex.Run(ctx, "f", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		s.Intend(payload{Before: "x"})
		return OutcomeDone, payload{}, boom
	})
	if st != Failed || !errors.Is(err, boom) {
		t.Fatalf("Run = %s, %v", st, err)
	}
	st, _ = ex.Run(ctx, "s", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		return OutcomeSkipped, payload{Before: "changed since the plan"}, nil
	})
	if st != Skipped {
		t.Fatalf("skip = %s", st)
	}
	if st, _ := ex.Run(ctx, "s", payload{}, func(*Step[payload]) (Outcome, payload, error) {
		t.Error("a skipped step ran again")
		return OutcomeDone, payload{}, nil
	}); st != Skipped {
		t.Errorf("rerun of skipped = %s", st)
	}
	if got, want := states(j.Records()), "f=started f=failed s=skipped"; got != want {
		t.Errorf("records = %s, want %s", got, want)
	}
	if v, _ := ex.View("f"); v.Error != "boom" {
		t.Errorf("failed view = %+v", v)
	}

	// Retry runs the step again after the pause it asks for.
	var slept []time.Duration
	rex := NewExecutor(j, nil, ExecOptions[payload]{Merge: mergePayload,
		Retry: func(err error, round int) (time.Duration, bool) {
			return time.Duration(round+1) * time.Second, round < 2
		},
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }})
	calls := 0
	st, err = rex.Run(ctx, "r", payload{}, func(*Step[payload]) (Outcome, payload, error) {
		calls++
		if calls < 3 {
			return OutcomeDone, payload{}, boom
		}
		return OutcomeDone, payload{}, nil
	})
	if st != Done || err != nil || calls != 3 || len(slept) != 2 || slept[1] != 2*time.Second {
		t.Errorf("retry: %s, %v, calls %d, slept %v", st, err, calls, slept)
	}
}

// TestRunInterrupted: a step whose calls fail because the run was cancelled
// records nothing after its intent; a resumed run sees it started.
func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	j, ex := openExec(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := ex.Run(ctx, "a", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		s.Intend(payload{})
		cancel()
		return OutcomeDone, payload{}, ctx.Err()
	})
	if st != "" || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %q, %v", st, err)
	}
	if got := states(j.Records()); got != "a=started" {
		t.Errorf("records = %s, want only the intent", got)
	}
	if _, err := ex.Run(ctx, "b", payload{}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
	j.Close()
	_, ex3 := openExec(t, dir)
	var prior View[payload]
	ex3.Run(context.Background(), "a", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		prior = s.Prior
		return OutcomeDone, payload{}, nil
	})
	if prior.State != Started {
		t.Errorf("resumed step's prior = %+v, want started", prior)
	}
}

// TestNoNewWriteAfterCancel: once the run is stopped, a step still in its
// grace period may finish the write it sent, but Intend refuses a new one:
// nothing is recorded and the write is not sent.
func TestNoNewWriteAfterCancel(t *testing.T) {
	dir := t.TempDir()
	j, ex := openExec(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	sent := 0
	st, err := ex.Run(ctx, "a", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		if err := s.Intend(payload{Before: "x"}); err != nil {
			return OutcomeDone, payload{}, err
		}
		sent++
		cancel() // Ctrl-C while the first write is in flight
		if s.Ctx.Err() != nil {
			t.Error("the step's calls lost their grace period")
		}
		if err := s.Intend(payload{Before: "y"}); err != nil {
			return OutcomeDone, payload{}, err
		}
		sent++
		return OutcomeDone, payload{}, nil
	})
	if st != "" || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %q, %v; want interrupted", st, err)
	}
	if sent != 1 {
		t.Errorf("%d writes sent, want only the one before the stop", sent)
	}
	if got := states(j.Records()); got != "a=started" {
		t.Errorf("records = %s, want only the first intent", got)
	}
}

// TestNoIntentAfterCancelUnderContention: steps that passed the stop check
// but wait on the journal's lock when the run is stopped record nothing
// and send nothing (handover's apply, with 8 workers, recorded a dozen
// intents after a stop this way).
func TestNoIntentAfterCancelUnderContention(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stoppedAt int64
	release := make(chan struct{})
	j, err := Open[payload](dir, header(), Options{Now: testClock(), BeforeAppend: func(seq int64) {
		if seq == 1 {
			<-release // hold the lock until every other step waits on it
			stoppedAt = seq
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ex := NewExecutor(j, nil, ExecOptions[payload]{Merge: mergePayload})
	const steps = 16
	var sent atomic.Int32
	var waiting, done sync.WaitGroup
	waiting.Add(steps)
	for i := range steps {
		done.Go(func() {
			ex.Run(ctx, fmt.Sprint("s", i), payload{}, func(s *Step[payload]) (Outcome, payload, error) {
				waiting.Done()
				if err := s.Intend(payload{Before: "x"}); err != nil {
					return OutcomeDone, payload{}, err
				}
				sent.Add(1)
				return OutcomeDone, payload{}, nil
			})
		})
	}
	waiting.Wait()
	time.Sleep(10 * time.Millisecond) // let the steps reach the lock; the assertion holds either way
	close(release)
	done.Wait()
	for _, r := range j.Records() {
		if r.Seq > stoppedAt && r.State == Started {
			t.Errorf("record %d: %s started after the stop (record %d)", r.Seq, r.Step, stoppedAt)
		}
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("%d writes sent, want the one whose intent was recorded before the stop", n)
	}
}

// TestGraceLetsCallsFinish: the step's context outlives the run's by the
// grace period.
func TestGraceLetsCallsFinish(t *testing.T) {
	_, ex := openExec(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	ex.Run(ctx, "a", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		cancel()
		if s.Run.Err() == nil {
			t.Error("run context not cancelled")
		}
		if s.Ctx.Err() != nil {
			t.Error("step context cancelled at once, without grace")
		}
		return OutcomeDone, payload{}, nil
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	recs := []Record[payload]{{Seq: 1, Step: "a", State: Done}}
	ex := NewExecutor[payload](nil, recs, ExecOptions[payload]{})
	if !ex.DryRun() {
		t.Fatal("not a dry run")
	}
	ran := false
	ex.Run(context.Background(), "a", payload{}, func(*Step[payload]) (Outcome, payload, error) { ran = true; return OutcomeDone, payload{}, nil })
	if ran {
		t.Error("a step done in the journal ran in the dry run")
	}
	st, err := ex.Run(context.Background(), "b", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		return OutcomeDone, payload{}, s.Intend(payload{})
	})
	if st != Done || err != nil {
		t.Fatalf("dry step = %s, %v", st, err)
	}
	if v, _ := ex.View("b"); v.State != Done {
		t.Errorf("dry view = %+v", v)
	}
}

// TestJournalFailureStopsTheRun: once the journal cannot be written, the
// run is cancelled and no step reports success.
func TestJournalFailureStopsTheRun(t *testing.T) {
	j, ex := openExec(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ex.OnFatal(cancel)
	j.f.Close()
	wrote := false
	st, err := ex.Run(ctx, "a", payload{}, func(s *Step[payload]) (Outcome, payload, error) {
		if err := s.Intend(payload{}); err != nil {
			return OutcomeDone, payload{}, err
		}
		wrote = true
		return OutcomeDone, payload{}, nil
	})
	if wrote || st == Done || err == nil || ex.Fatal() == nil || ctx.Err() == nil {
		t.Errorf("after a journal failure: wrote %v, state %s, err %v, fatal %v, ctx %v", wrote, st, err, ex.Fatal(), ctx.Err())
	}
}
