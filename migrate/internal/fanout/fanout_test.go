package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// TestBoundedReportsLowestIndex: every call runs when none fails, never
// more than par at once; after failures the error reported is the one
// with the lowest index that is not a cancellation, whatever the timing.
func TestBoundedReportsLowestIndex(t *testing.T) {
	var inFlight, most atomic.Int32
	errs := make([]error, 20)
	var calls atomic.Int32
	err := Bounded(context.Background(), len(errs), 3, func(ctx context.Context, i int) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		calls.Add(1)
		return nil
	}, errs)
	if err != nil || calls.Load() != 20 || most.Load() > 3 {
		t.Errorf("Bounded = %v after %d calls, %d at once; want nil, 20, at most 3", err, calls.Load(), most.Load())
	}

	errs = make([]error, 4)
	errs[0] = context.Canceled // an earlier call cancelled by a later failure
	err = Bounded(context.Background(), 0, 2, nil, errs)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Bounded with only a cancellation = %v", err)
	}
	errs[3] = fmt.Errorf("read 3: %w", errors.New("boom"))
	errs[2] = errors.New("read 2")
	if got := FirstError(errs); got != errs[2] {
		t.Errorf("FirstError = %v, want read 2", got)
	}
	if FirstError(make([]error, 3)) != nil {
		t.Errorf("FirstError of no errors is not nil")
	}
}

// TestBoundedStopsAfterFailure: once a call fails, no new call starts and
// the failure is returned.
func TestBoundedStopsAfterFailure(t *testing.T) {
	errs := make([]error, 100)
	boom := errors.New("boom")
	var calls atomic.Int32
	err := Bounded(context.Background(), len(errs), 1, func(ctx context.Context, i int) error {
		calls.Add(1)
		if i == 1 {
			errs[i] = boom
			return boom
		}
		return nil
	}, errs)
	if err != boom {
		t.Errorf("Bounded = %v, want boom", err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls with par 1 and call 1 failing, want 2 (none after the failure)", n)
	}
}
