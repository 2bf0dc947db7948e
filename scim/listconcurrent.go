package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// defaultListWorkers is how many pages of one list ListConcurrent requests
// at once by default. The client's per-workspace concurrency cap and rate
// limit bound the total.
const defaultListWorkers = 4

// maxPlannedPages bounds the pages ListConcurrent requests in parallel;
// longer lists are read with the sequential iterator (which has its own
// page ceiling).
const maxPlannedPages = 10000

// errInconsistentPages marks a list whose pages did not fit together.
var errInconsistentPages = errors.New("pages inconsistent")

// ConcurrentListOptions control [Endpoint.ListConcurrent]. The zero value
// lists everything, 100 per page, four pages at a time.
type ConcurrentListOptions[T any] struct {
	// Attributes and PageSize are as in ListOptions ("id" is always added;
	// PageSize 0 means 100, and the server may cap it lower).
	Attributes []string
	PageSize   int
	// Workers is the number of pages in flight; 0 means 4.
	Workers int
	// Doer and Class perform the page requests; nil and "" mean the
	// endpoint's own client and read class.
	Doer  Doer
	Class Class
	// ID returns a resource's id, used to check that pages fit together;
	// nil means the resource type's id.
	ID func(*T) string
	// OnPage, if set, sees every page's resources as they arrive
	// (concurrently, in any order; resources of an attempt abandoned for the
	// sequential iterator included), for decisions that need not wait for
	// the whole list.
	OnPage func([]T)
	// OnTotal, if set, is called once with the first page's totalResults
	// (0 for an empty list), so that a caller adding up several lists'
	// totals knows when it has them all.
	OnTotal func(total int)
	// OnProgress, if set, is called with the number of items newly listed,
	// so that the calls add up to the length of the list: items of an
	// abandoned attempt are not counted again when the sequential iterator
	// reads them a second time.
	OnProgress func(n int)
	// OnRestart, if set, is called with the reason when the pages did not
	// fit together and the list is read again with the sequential iterator.
	OnRestart func(reason error)
}

// ListConcurrent reads a whole collection with up to Workers pages in
// flight: a sequential iterator waits a full round trip per page, which on a
// rate-limited server leaves most of the rate unused. The first page gives
// the server's page size and totalResults; the other pages, up to and
// including the first one past the end (which must be empty, as the official
// clients require before they stop), are then requested concurrently, so
// the list costs as many requests as List. If the pages do not fit together
// (a page shorter than planned, totalResults changing, a resource listed
// twice, the page past the end not empty), the list is read again with the
// sequential iterator ([Endpoint.List]), which survives such servers. The
// first failed page's error is returned, never the cancellation of the
// others. It is safe for concurrent use; the hooks may be called
// concurrently.
func (e *Endpoint[T]) ListConcurrent(ctx context.Context, opts ConcurrentListOptions[T]) ([]T, error) {
	if opts.Doer == nil {
		opts.Doer = doerFunc(e.c.do)
	}
	if opts.Class == "" {
		opts.Class = e.classes.read
	}
	if opts.ID == nil {
		opts.ID = e.res.id
	}
	if opts.PageSize <= 0 {
		opts.PageSize = defaultPageSize
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultListWorkers
	}
	out, counted, err := listParallel(ctx, e.path, opts)
	if !errors.Is(err, errInconsistentPages) {
		return out, err
	}
	if opts.OnRestart != nil {
		opts.OnRestart(err)
	}
	out = out[:0]
	for v, err := range e.List(ctx, ListOptions{Attributes: opts.Attributes, PageSize: opts.PageSize}) {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if opts.OnPage != nil {
			opts.OnPage([]T{v})
		}
		if counted > 0 {
			counted-- // already counted by the parallel attempt
		} else if opts.OnProgress != nil {
			opts.OnProgress(1)
		}
	}
	return out, nil
}

// doerFunc adapts a client's do method to Doer.
type doerFunc func(ctx context.Context, class Class, method, path string, query url.Values, body, out any, opts ...CallOption) error

func (f doerFunc) Do(ctx context.Context, class Class, method, path string, query url.Values, body, out any, opts ...CallOption) error {
	return f(ctx, class, method, path, query, body, out, opts...)
}

// pageQuery returns the query of the page at start.
func pageQuery(attrs []string, pageSize, start int) url.Values {
	q := listQuery(ListOptions{Attributes: attrs})
	q.Set("count", strconv.Itoa(pageSize))
	q.Set("startIndex", strconv.Itoa(start))
	return q
}

// listParallel performs the parallel read of the collection at path. It
// returns errInconsistentPages (with the number of items it reported to
// OnProgress) when the sequential iterator must take over.
func listParallel[T any](ctx context.Context, path string, o ConcurrentListOptions[T]) ([]T, int, error) {
	seen := func(rs []T) {
		if o.OnPage != nil && len(rs) > 0 {
			o.OnPage(rs)
		}
	}
	// Progress counts distinct ids, so that a resource served on two pages
	// is counted once.
	var mu sync.Mutex
	counted := 0
	counts := map[string]bool{}
	progress := func(rs []T) {
		k := 0
		mu.Lock()
		for i := range rs {
			if id := o.ID(&rs[i]); !counts[id] {
				counts[id] = true
				k++
			}
		}
		counted += k
		mu.Unlock()
		if o.OnProgress != nil && k > 0 {
			o.OnProgress(k)
		}
	}
	var first ListResponse[T]
	if err := o.Doer.Do(ctx, o.Class, http.MethodGet, path, pageQuery(o.Attributes, o.PageSize, 1), nil, &first); err != nil {
		return nil, 0, err
	}
	n, total := len(first.Resources), first.TotalResults
	seen(first.Resources)
	if o.OnTotal != nil {
		o.OnTotal(max(total, 0))
	}
	progress(first.Resources)
	if n == 0 && total <= 0 {
		return nil, counted, nil
	}
	if n == 0 || total <= 0 || (first.StartIndex != 0 && first.StartIndex != 1) {
		return nil, counted, fmt.Errorf("%w: %s first page: %d resources of totalResults %d at startIndex %d",
			errInconsistentPages, path, n, total, first.StartIndex)
	}
	// Pages after the first, each expected to hold min(n, what is left),
	// then the page just past the end, expected empty.
	var starts []int
	for s := 1 + n; s <= total; s += n {
		starts = append(starts, s)
	}
	starts = append(starts, total+1)
	if len(starts) > maxPlannedPages {
		return nil, counted, fmt.Errorf("%w: %s: %d pages", errInconsistentPages, path, len(starts))
	}

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([]ListResponse[T], len(starts))
	errs := make([]error, len(starts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.Workers, len(starts)) {
		wg.Go(func() {
			for i := range next {
				err := o.Doer.Do(ctx, o.Class, http.MethodGet, path, pageQuery(o.Attributes, o.PageSize, starts[i]), nil, &pages[i])
				if err != nil {
					errs[i] = err
					cancel()
					continue
				}
				seen(pages[i].Resources)
				progress(pages[i].Resources)
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
	ids := make(map[string]bool, total)
	add := func(rs []T) bool {
		for i := range rs {
			id := o.ID(&rs[i])
			if id == "" || ids[id] {
				return false
			}
			ids[id] = true
			out = append(out, rs[i])
		}
		return true
	}
	if !add(first.Resources) {
		return nil, counted, fmt.Errorf("%w: %s first page: a resource without an id or listed twice", errInconsistentPages, path)
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
