package export

import (
	"context"
	"sync/atomic"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// pageWorkers is how many pages of one list are requested at once. The
// client's per-workspace concurrency cap and rate limit bound the total.
const pageWorkers = 4

// counter counts listed items on a progress task, whose total is the sum
// of the lists' totalResults: lists(k) announces k lists, and the task
// shows a spinner until each has reported its total (expect), so that its
// bar never runs against a total that still grows. It is safe for
// concurrent use; a nil *counter counts nothing.
type counter struct {
	task *reports.Task
}

func (c *counter) add(n int64) {
	if c != nil && n != 0 {
		c.task.Add(n)
	}
}

// lists announces the k lists whose totals make up the task's total.
func (c *counter) lists(k int) {
	if c != nil {
		c.task.ExpectTotals(k)
	}
}

// expect reports one list's total (0 for an empty list).
func (c *counter) expect(n int64) {
	if c != nil {
		c.task.AddTotal(max(n, 0))
	}
}

// collection is one SCIM collection to list: its endpoint, the rate-limit
// class of its reads, the client that performs them and how to get a
// resource's id. onPage, if not nil, sees every page's resources as they
// arrive (concurrently, in any order; resources of an attempt abandoned for
// the sequential iterator included), for decisions that need not wait for
// the whole list.
type collection[T any] struct {
	ep     *scim.Endpoint[T]
	doer   scim.Doer
	class  scim.Class
	id     func(*T) string
	onPage func([]T)
	// slim, if not nil, trims each resource as it arrives (see interner):
	// a list is held until its workspace is done, so what is never read
	// must not stay. reset, if not nil, is called when the list is read
	// again with the sequential iterator.
	slim  func(*T)
	reset func()
	// sized, if not nil, is told the list's totalResults from its first
	// page (0 for an empty list), and may hold the list back (see budget)
	// until it returns.
	sized func(n int)
}

// listAll reads a whole SCIM collection with up to pageWorkers pages in
// flight (scim's Endpoint.ListConcurrent, shared with migrate plan): the
// first page gives the page size and totalResults, the others are requested
// concurrently, and a list whose pages do not fit together is read again
// with the sequential iterator. Items are counted on task as pages arrive,
// each once.
//
// Resources are trimmed (slim) as their pages arrive; after a restart they
// are trimmed once the sequential read is over, as that iterator hands
// copies to OnPage.
func listAll[T any](ctx context.Context, c collection[T], attrs []string, pageSize int, task *counter) ([]T, error) {
	var restarted atomic.Bool
	out, err := c.ep.ListConcurrent(ctx, scim.ConcurrentListOptions[T]{
		Attributes: attrs,
		PageSize:   pageSize,
		Workers:    pageWorkers,
		Doer:       c.doer,
		Class:      c.class,
		ID:         c.id,
		OnPage: func(rs []T) {
			if c.slim != nil && !restarted.Load() {
				for i := range rs {
					c.slim(&rs[i])
				}
			}
			if c.onPage != nil {
				c.onPage(rs)
			}
		},
		OnTotal: func(n int) {
			task.expect(int64(n))
			if c.sized != nil {
				c.sized(n)
			}
		},
		OnProgress: func(n int) { task.add(int64(n)) },
		OnRestart: func(error) {
			restarted.Store(true)
			if c.reset != nil {
				c.reset()
			}
		},
	})
	if err == nil && restarted.Load() && c.slim != nil {
		for i := range out {
			c.slim(&out[i])
		}
	}
	return out, err
}
