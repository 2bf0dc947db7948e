package scim

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// List defaults.
const (
	defaultPageSize = 100
	defaultMaxPages = 10000
)

// ListOptions control a SCIM list. The zero value lists everything, 100 per
// page.
type ListOptions struct {
	Filter             string   // build with Eq, And, ...
	Attributes         []string // "id" is always added, for de-duplication
	ExcludedAttributes []string
	SortBy             string
	SortOrder          string // "ascending" or "descending"
	// PageSize is the requested count; 0 means 100. Servers may return fewer.
	PageSize int
	// MaxPages bounds the number of requests; 0 means 10000. Reaching it
	// returns an error wrapping ErrPageLimit.
	MaxPages int
}

// GetOptions control a SCIM get.
type GetOptions struct {
	Attributes         []string
	ExcludedAttributes []string
}

// resourceKey describes a resource type to the generic endpoint: its id and
// the attribute that identifies it uniquely by name.
type resourceKey[T any] struct {
	id      func(*T) string
	keyAttr string
	key     func(*T) string
}

var (
	userKey  = resourceKey[User]{func(u *User) string { return u.ID }, "userName", func(u *User) string { return u.UserName }}
	groupKey = resourceKey[Group]{func(g *Group) string { return g.ID }, "displayName", func(g *Group) string { return g.DisplayName }}
	spKey    = resourceKey[ServicePrincipal]{func(s *ServicePrincipal) string { return s.ID }, "applicationId", func(s *ServicePrincipal) string { return s.ApplicationID }}
)

// Endpoint is one SCIM resource collection (Users, Groups or
// ServicePrincipals of a workspace or of the account). It is safe for
// concurrent use.
type Endpoint[T any] struct {
	c       *client
	path    string
	classes scimClasses
	res     resourceKey[T]
}

func newEndpoint[T any](c *client, path string, classes scimClasses, res resourceKey[T]) *Endpoint[T] {
	return &Endpoint[T]{c: c, path: path, classes: classes, res: res}
}

// Path returns the collection's URL path, e.g. /api/2.0/preview/scim/v2/Users.
func (e *Endpoint[T]) Path() string { return e.path }

func (e *Endpoint[T]) call(ctx context.Context, method, path string, query url.Values, body, out any, opts ...CallOption) error {
	return e.c.do(ctx, e.classes.forMethod(method), method, path, query, body, out, opts...)
}

func (e *Endpoint[T]) itemPath(method, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("%s %s/{id}: empty id", method, e.path)
	}
	return e.path + "/" + url.PathEscape(id), nil
}

// List iterates over the collection, requesting pages with startIndex and
// count (§A.5): the next startIndex is the echoed startIndex plus the number
// of resources returned, and the list ends on an empty page. It survives
// servers that cap the page below count, skips resources already yielded
// (by id), falls back to its own counter when the server does not echo
// startIndex, and stops with an error wrapping ErrPageLimit after MaxPages
// requests or when a page repeats without anything new before totalResults
// is reached. After an error the iterator yields it once and stops.
func (e *Endpoint[T]) List(ctx context.Context, opts ListOptions) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		pageSize := opts.PageSize
		if pageSize <= 0 {
			pageSize = defaultPageSize
		}
		maxPages := opts.MaxPages
		if maxPages <= 0 {
			maxPages = defaultMaxPages
		}
		q := listQuery(opts)
		q.Set("count", strconv.Itoa(pageSize))
		seen := map[string]struct{}{}
		start := 1
		var zero T
		for page := 1; ; page++ {
			if page > maxPages {
				yield(zero, fmt.Errorf("GET %s: %w after %d pages (startIndex %d): narrow the list with a filter or raise MaxPages", e.path, ErrPageLimit, maxPages, start))
				return
			}
			q.Set("startIndex", strconv.Itoa(start))
			var resp ListResponse[T]
			if err := e.call(ctx, http.MethodGet, e.path, q, nil, &resp); err != nil {
				yield(zero, err)
				return
			}
			n := len(resp.Resources)
			if n == 0 {
				return
			}
			fresh := 0
			for i := range resp.Resources {
				r := &resp.Resources[i]
				if id := e.res.id(r); id != "" {
					if _, dup := seen[id]; dup {
						continue
					}
					seen[id] = struct{}{}
				}
				fresh++
				if !yield(*r, nil) {
					return
				}
			}
			if fresh == 0 {
				if resp.TotalResults > 0 && len(seen) >= resp.TotalResults {
					return // a server that repeats the last page instead of an empty one
				}
				yield(zero, fmt.Errorf("GET %s: %w: page at startIndex %d repeated resources already listed (%d of totalResults %d seen)", e.path, ErrPageLimit, start, len(seen), resp.TotalResults))
				return
			}
			start = nextStartIndex(start, resp.StartIndex, n)
		}
	}
}

// nextStartIndex returns the startIndex of the page after one requested at
// requested, echoed as echoed (0 if absent), with n resources. It trusts the
// echo, as the official clients do, unless the echo would not move forward.
func nextStartIndex(requested, echoed, n int) int {
	next := echoed + n
	if echoed <= 0 || next <= requested {
		next = requested + n
	}
	return next
}

func listQuery(opts ListOptions) url.Values {
	q := url.Values{}
	if opts.Filter != "" {
		q.Set("filter", opts.Filter)
	}
	if len(opts.Attributes) > 0 {
		attrs := opts.Attributes
		hasID := false
		for _, a := range attrs {
			hasID = hasID || strings.EqualFold(a, "id")
		}
		if !hasID {
			attrs = append([]string{"id"}, attrs...)
		}
		q.Set("attributes", strings.Join(attrs, ","))
	}
	if len(opts.ExcludedAttributes) > 0 {
		q.Set("excludedAttributes", strings.Join(opts.ExcludedAttributes, ","))
	}
	if opts.SortBy != "" {
		q.Set("sortBy", opts.SortBy)
	}
	if opts.SortOrder != "" {
		q.Set("sortOrder", opts.SortOrder)
	}
	return q
}

// ListAll collects List into a slice.
func (e *Endpoint[T]) ListAll(ctx context.Context, opts ListOptions) ([]T, error) {
	return collect(e.List(ctx, opts))
}

// Get reads one resource by id.
func (e *Endpoint[T]) Get(ctx context.Context, id string, opts GetOptions) (T, error) {
	var out T
	path, err := e.itemPath(http.MethodGet, id)
	if err != nil {
		return out, err
	}
	q := url.Values{}
	if len(opts.Attributes) > 0 {
		q.Set("attributes", strings.Join(opts.Attributes, ","))
	}
	if len(opts.ExcludedAttributes) > 0 {
		q.Set("excludedAttributes", strings.Join(opts.ExcludedAttributes, ","))
	}
	err = e.call(ctx, http.MethodGet, path, q, nil, &out)
	return out, err
}

// Create creates v and returns the server's copy. POST is not idempotent, so
// Create retries only throttled replies (which the server did not run); after
// a transport error or another 5xx it returns an error wrapping
// ErrOutcomeUnknown instead of risking a duplicate. See CreateOnce.
func (e *Endpoint[T]) Create(ctx context.Context, v T) (T, error) {
	var out T
	err := e.call(ctx, http.MethodPost, e.path, nil, v, &out)
	return out, err
}

// CreateOnce is Create for the common case where a lost reply must not turn
// into a duplicate: when the outcome is unknown it looks the resource up by
// its unique name (users by userName, groups by displayName, service
// principals by applicationId) and returns it if it exists. If the lookup
// finds nothing (lists can lag writes by up to a minute) or fails, the error
// still wraps ErrOutcomeUnknown: read the live state later before retrying.
func (e *Endpoint[T]) CreateOnce(ctx context.Context, v T) (T, error) {
	created, err := e.Create(ctx, v)
	if err == nil || !errors.Is(err, ErrOutcomeUnknown) {
		return created, err
	}
	name := e.res.key(&v)
	var zero T
	if name == "" {
		return zero, err
	}
	found, lerr := e.firstPage(ctx, Eq(e.res.keyAttr, name))
	switch {
	case lerr != nil:
		return zero, fmt.Errorf("%w; looking it up by %s failed: %w", err, e.res.keyAttr, lerr)
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return zero, fmt.Errorf("%w; %d resources have %s %q", err, len(found), e.res.keyAttr, name)
	}
	return zero, fmt.Errorf("%w; no resource with %s %q is visible yet", err, e.res.keyAttr, name)
}

// firstPage returns the first page of a filtered list: enough for a lookup
// by a unique attribute, in one request.
func (e *Endpoint[T]) firstPage(ctx context.Context, filter string) ([]T, error) {
	q := listQuery(ListOptions{Filter: filter})
	q.Set("startIndex", "1")
	q.Set("count", "10")
	var resp ListResponse[T]
	if err := e.call(ctx, http.MethodGet, e.path, q, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Resources, nil
}

// Replace replaces resource id with v (PUT).
func (e *Endpoint[T]) Replace(ctx context.Context, id string, v T) error {
	path, err := e.itemPath(http.MethodPut, id)
	if err != nil {
		return err
	}
	return e.call(ctx, http.MethodPut, path, nil, v, nil)
}

// Patch applies op to resource id. PATCH is not retried after an ambiguous
// failure unless opts include Idempotent (adding members or setting a name
// is; removing a value that may already be gone returns 400 the second
// time).
func (e *Endpoint[T]) Patch(ctx context.Context, id string, op PatchOp, opts ...CallOption) error {
	path, err := e.itemPath(http.MethodPatch, id)
	if err != nil {
		return err
	}
	if len(op.Schemas) == 0 {
		op.Schemas = []string{SchemaPatchOp}
	}
	if len(op.Operations) == 0 {
		return fmt.Errorf("PATCH %s: no operations", path)
	}
	return e.call(ctx, http.MethodPatch, path, nil, op, nil, opts...)
}

// Delete deletes resource id.
func (e *Endpoint[T]) Delete(ctx context.Context, id string) error {
	path, err := e.itemPath(http.MethodDelete, id)
	if err != nil {
		return err
	}
	return e.call(ctx, http.MethodDelete, path, nil, nil, nil)
}
