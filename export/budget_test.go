package export

import (
	"context"
	"errors"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// waiters returns how many grows wait on b.
func (b *budget) waiters() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiting)
}

func TestBudgetHoldsWorkspacesBack(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100)
	a, err := b.take(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	// 60 + 50 > 100: the second waits until the first gives back.
	got := make(chan *share)
	go func() {
		s, err := b.take(ctx, 50)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	waitFor(t, func() bool { return b.waiters() == 1 })
	a.release()
	s := <-got
	if s.held != 50 || b.used != 50 {
		t.Errorf("held %d, used %d; want 50, 50", s.held, b.used)
	}
	// Growing within the budget does not wait.
	if err := s.grow(ctx, 90); err != nil || b.used != 90 {
		t.Errorf("grow: %v, used %d", err, b.used)
	}
	s.release()
	if b.used != 0 || b.holders != 0 {
		t.Errorf("after release: used %d, holders %d", b.used, b.holders)
	}
}

// TestBudgetLetsAnOversizedWorkspaceRun: when every holder waits to grow,
// the oldest goes over the budget instead of all waiting forever; the
// others follow as it gives back.
func TestBudgetLetsAnOversizedWorkspaceRun(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100)
	x, _ := b.take(ctx, 40)
	y, _ := b.take(ctx, 40)
	done := make(chan string, 2)
	go func() {
		if err := x.grow(ctx, 500); err != nil {
			t.Error(err)
		}
		done <- "x"
	}()
	waitFor(t, func() bool { return b.waiters() == 1 })
	go func() {
		if err := y.grow(ctx, 80); err != nil {
			t.Error(err)
		}
		done <- "y"
	}()
	// Both wait: x, the oldest, goes first, over the budget.
	if first := <-done; first != "x" || b.used != 540 {
		t.Fatalf("first = %s, used %d; want x, 540", first, b.used)
	}
	x.release()
	if second := <-done; second != "y" || b.used != 80 {
		t.Fatalf("second = %s, used %d", second, b.used)
	}
}

func TestBudgetWaitEndsWithTheContext(t *testing.T) {
	b := newBudget(10)
	holder, _ := b.take(context.Background(), 10)
	defer holder.release()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := b.take(ctx, 5)
		errc <- err
	}()
	waitFor(t, func() bool { return b.waiters() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if b.holders != 1 || b.used != 10 {
		t.Errorf("holders %d used %d after the cancelled take", b.holders, b.used)
	}
}

// TestSizerGrowsOnceEveryListReported: the lists of a workspace wait for
// each other's sizes, then the share grows to the workspace's cost.
func TestSizerGrowsOnceEveryListReported(t *testing.T) {
	ctx := context.Background()
	b := newBudget(1 << 40)
	s, _ := b.take(ctx, workspaceBase)
	z := newSizer(s, 3)
	errc := make(chan error, 3)
	for _, n := range []int{5000, 100} {
		go func() { errc <- z.size(ctx, n) }()
	}
	waitFor(t, func() bool { z.mu.Lock(); defer z.mu.Unlock(); return z.pending == 1 })
	if s.held != workspaceBase {
		t.Fatalf("grew before every list reported: %d", s.held)
	}
	go func() { errc <- z.size(ctx, 1000) }()
	for range 3 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if want := workspaceCost(6100); s.held != want {
		t.Errorf("share = %d, want %d", s.held, want)
	}
}

// TestExportWithinATightBudget exports the default seed with a budget that
// holds one workspace at a time: the output is the same.
func TestExportWithinATightBudget(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("out")
	if err := Run(context.Background(), Options{Format: "csv", Out: path, memoryBudget: 1}, e.deps); err != nil {
		t.Fatal(err)
	}
	out := readOutput(t, "csv", path)
	if n := len(out[TableMemberships].rows); n != 605 {
		t.Errorf("memberships: %d rows, want 605", n)
	}
}
