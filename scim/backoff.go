package scim

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry defaults; Settings can override the budget.
const (
	defaultMaxAttempts    = 8
	defaultRetryBudget    = 5 * time.Minute
	defaultRequestTimeout = 60 * time.Second
	defaultBackoffBase    = 500 * time.Millisecond
	defaultBackoffCap     = 30 * time.Second
)

// backoff computes retry waits: exponential growth with full jitter, capped,
// and never shorter than the server's Retry-After hint. It is pure, so tests
// assert the computed waits instead of sleeping.
type backoff struct {
	base time.Duration // ceiling of the first retry's wait
	cap  time.Duration // largest ceiling
}

// delay returns the wait before retry number retry (1 for the first retry),
// given u, a uniform random number in [0, 1), and the server's Retry-After
// hint (zero if none). The wait is u times min(cap, base*2^(retry-1)), raised
// to retryAfter if that is longer. retryAfter is not capped: the caller gives
// up when it exceeds the remaining retry budget.
func (b backoff) delay(retry int, u float64, retryAfter time.Duration) time.Duration {
	if retry < 1 {
		retry = 1
	}
	ceiling := b.cap
	if shift := retry - 1; shift < 62 && b.base <= b.cap>>shift {
		ceiling = b.base << shift
	}
	u = min(max(u, 0), 1)
	d := time.Duration(u * float64(ceiling))
	return max(d, retryAfter)
}

// parseRetryAfter reads a Retry-After header value: delay seconds or an
// HTTP-date relative to now. It returns zero for an absent, malformed or past
// value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
