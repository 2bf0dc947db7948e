package export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// pageWorkers is how many pages of one list are requested at once. The
// client's per-workspace concurrency cap and rate limit bound the total.
const pageWorkers = 4

// maxPlannedPages bounds the pages requested in parallel; longer lists are
// read with the sequential iterator (which has its own page ceiling).
const maxPlannedPages = 10000

// errInconsistentPages marks a list whose pages did not fit together.
var errInconsistentPages = errors.New("pages inconsistent")

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
}

// seen passes a page to onPage, if set.
func (c collection[T]) seen(rs []T) {
	if c.onPage != nil && len(rs) > 0 {
		c.onPage(rs)
	}
}

// listAll reads a whole SCIM collection with up to pageWorkers pages in
// flight: a sequential iterator waits a full round trip per page, which on a
// rate-limited server leaves most of the rate unused. The first page gives
// the server's page size and totalResults; the other pages, up to and
// including the first one past the end (which must be empty, as the official
// clients require before they stop), are then requested concurrently. If the
// pages do not fit together (a page shorter than planned, totalResults
// changing, a resource listed twice, the page past the end not empty), the
// list is read again with the sequential iterator, which survives such
// servers. Items are counted on task as pages arrive.
func listAll[T any](ctx context.Context, c collection[T], attrs []string, pageSize int, task *counter) ([]T, error) {
	out, counted, err := listParallel(ctx, c, attrs, pageSize, task)
	if !errors.Is(err, errInconsistentPages) {
		return out, err
	}
	out = out[:0]
	for v, err := range c.ep.List(ctx, scim.ListOptions{Attributes: attrs, PageSize: pageSize}) {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		c.seen([]T{v})
		if counted > 0 {
			counted-- // already counted by the parallel attempt
		} else {
			task.add(1)
		}
	}
	return out, nil
}

// pageQuery returns the query of the page at start.
func pageQuery(attrs []string, pageSize, start int) url.Values {
	q := url.Values{}
	if len(attrs) > 0 {
		if !containsFold(attrs, "id") {
			attrs = append([]string{"id"}, attrs...)
		}
		q.Set("attributes", strings.Join(attrs, ","))
	}
	q.Set("count", strconv.Itoa(pageSize))
	q.Set("startIndex", strconv.Itoa(start))
	return q
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// listParallel performs the parallel read. It returns errInconsistentPages
// (with the number of items it counted on task) when the sequential
// iterator must take over.
func listParallel[T any](ctx context.Context, c collection[T], attrs []string, pageSize int, task *counter) ([]T, int64, error) {
	path := c.ep.Path()
	var first scim.ListResponse[T]
	if err := c.doer.Do(ctx, c.class, http.MethodGet, path, pageQuery(attrs, pageSize, 1), nil, &first); err != nil {
		return nil, 0, err
	}
	n, total := len(first.Resources), first.TotalResults
	c.seen(first.Resources)
	task.expect(int64(total))
	task.add(int64(n))
	counted := int64(n)
	if n == 0 && total <= 0 {
		return nil, counted, nil
	}
	if n == 0 || total <= 0 || (first.StartIndex != 0 && first.StartIndex != 1) {
		return nil, counted, errInconsistentPages
	}
	// Pages after the first, each expected to hold min(n, what is left),
	// then the page just past the end, expected empty.
	var starts []int
	for s := 1 + n; s <= total; s += n {
		starts = append(starts, s)
	}
	starts = append(starts, total+1)
	if len(starts) > maxPlannedPages {
		return nil, counted, errInconsistentPages
	}

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([]scim.ListResponse[T], len(starts))
	errs := make([]error, len(starts))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(pageWorkers, len(starts)) {
		wg.Go(func() {
			for i := range next {
				err := c.doer.Do(ctx, c.class, http.MethodGet, path, pageQuery(attrs, pageSize, starts[i]), nil, &pages[i])
				if err != nil {
					errs[i] = err
					cancel()
					continue
				}
				c.seen(pages[i].Resources)
				k := int64(len(pages[i].Resources))
				task.add(k)
				mu.Lock()
				counted += k
				mu.Unlock()
			}
		})
	}
feed:
	for i := range starts {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	// A page that failed cancelled the others: report its error, not theirs.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, counted, err
		}
	}
	if err := outer.Err(); err != nil {
		return nil, counted, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, counted, err
		}
	}

	out := make([]T, 0, total)
	seen := make(map[string]bool, total)
	add := func(rs []T) bool {
		for i := range rs {
			id := c.id(&rs[i])
			if id == "" || seen[id] {
				return false
			}
			seen[id] = true
			out = append(out, rs[i])
		}
		return true
	}
	if !add(first.Resources) {
		return nil, counted, errInconsistentPages
	}
	for i, p := range pages {
		want := min(n, total-starts[i]+1)
		ok := len(p.Resources) == want && p.TotalResults == total &&
			(p.StartIndex == 0 || p.StartIndex == starts[i])
		if want == 0 {
			ok = len(p.Resources) == 0 // the page past the end
		}
		if !ok || !add(p.Resources) {
			return nil, counted, fmt.Errorf("%w: %s page at %d: %d resources of totalResults %d, want %d",
				errInconsistentPages, path, starts[i], len(p.Resources), p.TotalResults, want)
		}
	}
	return out, counted, nil
}
