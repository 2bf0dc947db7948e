// Package fanout runs migrate's reads side by side with a bound on how
// many are in flight, and picks the error to report so that it does not
// depend on timing.
package fanout

import (
	"context"
	"errors"
	"sync"
)

// Bounded calls fn(i) for i in [0,n) with at most par in flight. After
// the first failure it starts no new calls and cancels the context of
// those in flight; it returns the failure with the lowest index among
// errs (which fn fills), so the reported error does not depend on timing.
func Bounded(ctx context.Context, n, par int, fn func(context.Context, int) error, errs []error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	if err := FirstError(errs); err != nil {
		return err
	}
	return ctx.Err()
}

// FirstError returns the first error that is not a cancellation, else
// the first error; nil when there is none.
func FirstError(errs []error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
