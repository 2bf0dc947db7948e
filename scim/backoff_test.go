package scim

import (
	"math"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := backoff{base: 500 * time.Millisecond, cap: 30 * time.Second}
	tests := []struct {
		retry      int
		u          float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 0, 0},
		{1, 0.5, 0, 250 * time.Millisecond},
		{1, 0.999, 0, 499500 * time.Microsecond},
		{2, 0.5, 0, 500 * time.Millisecond},
		{3, 1, 0, 2 * time.Second},
		{7, 1, 0, 30 * time.Second}, // 32 s ceiling capped to 30 s
		{200, 1, 0, 30 * time.Second},
		{200, 0.5, 0, 15 * time.Second},
		{1, 0.5, 7 * time.Second, 7 * time.Second},          // Retry-After is a floor
		{6, 0.9, 2 * time.Second, 14400 * time.Millisecond}, // longer jittered wait wins
		{1, 0.5, 2 * time.Minute, 2 * time.Minute},          // not capped: the budget decides
		{0, 1, 0, 500 * time.Millisecond},                   // retry < 1 is the first retry
		{1, -3, 0, 0},                                       // u is clamped
	}
	for _, tt := range tests {
		if got := b.delay(tt.retry, tt.u, tt.retryAfter); got != tt.want {
			t.Errorf("delay(%d, %v, %v) = %v, want %v", tt.retry, tt.u, tt.retryAfter, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-4", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Mar 2026 11:59:00 GMT", 0}, // in the past
		{"99999999999999999", time.Duration(math.MaxInt64)},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestAIMD(t *testing.T) {
	inf := math.Inf(1)
	decrease := []struct{ current, configured, want float64 }{
		{4.25, 4.25, 2.125},
		{2.125, 4.25, 1.0625},
		{0.8, 4.25, 0.5}, // floor
		{0.5, 4.25, 0.5},
		{0.3, 0.3, 0.3}, // configured below the floor: stay there
		{inf, inf, inf}, // unlimited stays unlimited
	}
	for _, tt := range decrease {
		if got := decreaseRate(tt.current, tt.configured); got != tt.want {
			t.Errorf("decreaseRate(%v, %v) = %v, want %v", tt.current, tt.configured, got, tt.want)
		}
	}
	increase := []struct{ current, configured, want float64 }{
		{2, 4, 2.1},     // configured/40
		{0.5, 1, 0.55},  // at least 0.05
		{3.95, 4, 4},    // never above configured
		{4, 4, 4},       // at the target
		{10, 4, 4},      // above (after a lower override): back to configured
		{inf, inf, inf}, // unlimited
	}
	for _, tt := range increase {
		if got := increaseRate(tt.current, tt.configured); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("increaseRate(%v, %v) = %v, want %v", tt.current, tt.configured, got, tt.want)
		}
	}
	// A halved rate recovers within a bounded number of successes.
	r, n := decreaseRate(4.25, 4.25), 0
	for ; r < 4.25; n++ {
		r = increaseRate(r, 4.25)
	}
	if n != 20 {
		t.Errorf("recovery took %d successes, want 20", n)
	}
}

func TestResolveRates(t *testing.T) {
	rates, err := resolveRates(map[string]float64{"scim-patch": 3, "default": math.Inf(1)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rates[ClassSCIMPatch] != 2 || rates[ClassDefault] != 2 || rates[ClassSCIMWrite] != 35.0/60 {
		t.Errorf("rates = %v: RPS must cap overrides and leave lower defaults", rates)
	}
	if len(rates) != 10 {
		t.Errorf("%d classes, want 10", len(rates))
	}
	for _, bad := range []map[string]float64{{"scim-reads": 1}, {"scim-read": 0}, {"scim-read": -1}, {"scim-read": math.NaN()}} {
		if _, err := resolveRates(bad, 0); err == nil {
			t.Errorf("resolveRates(%v) accepted", bad)
		}
	}
	if _, err := resolveRates(nil, -1); err == nil {
		t.Errorf("negative RPS accepted")
	}
}
