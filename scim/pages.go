package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
)

// PageTokenOptions describe a REST list paginated with page tokens (jobs,
// clusters, warehouses, pipelines, ...; reference §F).
type PageTokenOptions struct {
	// Items is the reply field holding the page's items, e.g. "jobs".
	Items string
	// RequestParam is the query parameter carrying the token; "" means
	// "page_token" (the repos API uses "next_page_token").
	RequestParam string
	// ResponseField is the reply field with the next token; "" means
	// "next_page_token".
	ResponseField string
	// MaxPages bounds the number of requests; 0 means 10000.
	MaxPages int
}

// ListPages iterates over a page-token list: it GETs path with query (not
// modified), decodes each page's Items field into T values, and follows the
// next token until it is empty. A repeated token or MaxPages pages stop it
// with an error wrapping ErrPageLimit. After an error the iterator yields it
// once and stops.
func ListPages[T any](ctx context.Context, d Doer, class Class, path string, query url.Values, o PageTokenOptions) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		reqParam, respField, maxPages := o.RequestParam, o.ResponseField, o.MaxPages
		if reqParam == "" {
			reqParam = "page_token"
		}
		if respField == "" {
			respField = "next_page_token"
		}
		if maxPages <= 0 {
			maxPages = defaultMaxPages
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = append([]string(nil), v...)
		}
		var zero T
		seen := map[string]bool{}
		for page := 1; ; page++ {
			if page > maxPages {
				yield(zero, fmt.Errorf("GET %s: %w after %d pages", path, ErrPageLimit, maxPages))
				return
			}
			var raw map[string]json.RawMessage
			if err := d.Do(ctx, class, http.MethodGet, path, q, nil, &raw); err != nil {
				yield(zero, err)
				return
			}
			var items []T
			if b, ok := raw[o.Items]; ok && string(b) != "null" {
				if err := json.Unmarshal(b, &items); err != nil {
					yield(zero, fmt.Errorf("GET %s: decode %s: %w", path, o.Items, err))
					return
				}
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			var next string
			if b, ok := raw[respField]; ok {
				if err := json.Unmarshal(b, &next); err != nil {
					yield(zero, fmt.Errorf("GET %s: decode %s: %w", path, respField, err))
					return
				}
			}
			if next == "" {
				return
			}
			if seen[next] {
				yield(zero, fmt.Errorf("GET %s: %w: server repeated page token", path, ErrPageLimit))
				return
			}
			seen[next] = true
			q.Set(reqParam, next)
		}
	}
}
