package export

import (
	"context"
	"sync"
)

// Memory: a workspace holds its lists from its first page until its rows
// are spooled. The budget bounds the sum of those holdings, estimated from
// the lists' sizes (totalResults of their first pages), so that however
// large the account and whatever --parallel says, an export stays within
// memory: workspaces wait for room before reading past their first pages.
const (
	// defaultBudget is the estimated memory the workspaces in flight may
	// hold together (see workspaceCost). With the process's soft memory
	// limit (memoryLimit) it keeps an export of any account under 1 GB:
	// the rest is the Go runtime, the account's lists and the output's
	// buffers (an XLSX sheet buffers up to 32 MB before spilling to disk).
	defaultBudget = 512 << 20
	// memoryLimit is the soft memory limit an export sets for the process
	// (runtime/debug.SetMemoryLimit) unless GOMEMLIMIT is set: the garbage
	// collector works harder near it instead of letting the heap double.
	memoryLimit = 800 << 20
	// workspaceBase is what a workspace holds whatever its size: replies
	// being read (up to 4 at once, a page of 1,000 resources each) and
	// their decoding.
	workspaceBase = 4 << 20
	// principalCost is what one listed principal (user, service principal
	// or group) costs a workspace in flight, its memberships and rows
	// included: about 1 KB measured by BenchmarkExportMemory (6,100
	// principals and 35,000 memberships held about 6 MB), rounded up.
	principalCost = 1 << 10
)

// workspaceCost estimates the memory a workspace of n principals holds.
func workspaceCost(n int) int64 { return workspaceBase + int64(n)*principalCost }

// budget is a pool of bytes shared by the workspaces in flight. A
// workspace takes workspaceBase before its first request, grows its share
// once its lists' sizes are known, and gives it all back when its rows are
// spooled. A grow that does not fit waits until it fits, or until every
// other holder is waiting too (then the oldest waiter goes first, so that
// a workspace larger than the whole budget still runs, alone). It is safe
// for concurrent use.
type budget struct {
	mu      sync.Mutex
	cond    *sync.Cond
	total   int64
	used    int64
	holders int      // workspaces holding a share
	waiting []*share // grows waiting, oldest first
}

// share is one workspace's part of the budget.
type share struct {
	b    *budget
	held int64
}

func newBudget(total int64) *budget {
	b := &budget{total: total}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// take waits for n bytes for a new workspace (workspaceBase) and returns
// its share, or ctx's error.
func (b *budget) take(ctx context.Context, n int64) (*share, error) {
	s := &share{b: b}
	b.mu.Lock()
	b.holders++
	b.mu.Unlock()
	if err := s.grow(ctx, n); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// grow raises the share to n bytes (nothing if it holds as much), waiting
// as the budget says.
func (s *share) grow(ctx context.Context, n int64) error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	extra := n - s.held
	if extra <= 0 {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.waiting = append(b.waiting, s)
	b.cond.Broadcast() // one more waiter: the oldest may now be the only one able to go
	defer func() {
		for i, w := range b.waiting {
			if w == s {
				b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
				break
			}
		}
		b.cond.Broadcast()
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		fits := b.used+extra <= b.total
		// Everyone else waits too: nobody will give anything back, so the
		// oldest waiter goes over the budget rather than all wait forever.
		stuck := len(b.waiting) >= b.holders && b.waiting[0] == s
		if fits || stuck {
			b.used += extra
			s.held = n
			return nil
		}
		b.cond.Wait()
	}
}

// release gives the whole share back.
func (s *share) release() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= s.held
	s.held = 0
	b.holders--
	b.cond.Broadcast()
}

// sizer gathers the sizes of a workspace's lists from their first pages
// and, once every list has reported (or failed), grows the workspace's
// share to its estimated cost; the lists wait for that before reading
// their other pages. It is safe for concurrent use.
type sizer struct {
	share   *share
	mu      sync.Mutex
	pending int
	total   int
	ready   chan struct{}
	err     error
}

// newSizer waits for lists lists of share's workspace.
func newSizer(s *share, lists int) *sizer {
	z := &sizer{share: s, pending: lists, ready: make(chan struct{})}
	if lists == 0 {
		close(z.ready)
	}
	return z
}

// size reports one list's totalResults and waits until the workspace may
// read on. Every list must call it (or done) exactly once.
func (z *sizer) size(ctx context.Context, n int) error {
	z.mu.Lock()
	z.total += max(n, 0)
	z.pending--
	last := z.pending == 0
	z.mu.Unlock()
	if last {
		z.err = z.share.grow(ctx, workspaceCost(z.total))
		close(z.ready)
	}
	select {
	case <-z.ready:
		return z.err
	case <-ctx.Done():
		return ctx.Err()
	}
}
