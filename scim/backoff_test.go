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

func TestResolveRates(t *testing.T) {
	rates, err := resolveRates(map[string]float64{"scim-patch": 3, "default": math.Inf(1)}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rates[ClassSCIMPatch] != (classRate{2, 2}) || rates[ClassDefault] != (classRate{2, 2}) ||
		rates[ClassSCIMWrite] != (classRate{35.0 / 60, 35.0 / 60}) || rates[ClassSCIMRead] != (classRate{2, 2}) {
		t.Errorf("rates = %v: RPS must cap overrides, probes and defaults, and leave lower ones", rates)
	}
	// Without overrides, read classes probe up to probeFactor times their
	// default (a published limit caps it), the others keep their default.
	rates, err = resolveRates(map[string]float64{"account-scim-read": 50}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range map[Class]classRate{
		ClassSCIMRead:         {255.0 / 60, 255.0 / 60 * probeFactor},
		ClassPermissionsRead:  {20, 100},
		ClassSCIMPatch:        {0.5, 0.5},
		ClassAccountSCIMRead:  {50, 50}, // --rate: start there, never above
		ClassRESTWrite:        {10, 10}, // writes never probe
		ClassAssignmentsWrite: {5, 5},
	} {
		if got := rates[c]; math.Abs(got.start-want.start) > 1e-9 || math.Abs(got.ceiling-want.ceiling) > 1e-9 {
			t.Errorf("%s = %+v, want %+v", c, got, want)
		}
	}
	if len(rates) != 12 {
		t.Errorf("%d classes, want 12", len(rates))
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
