package reports

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 24, 21, 14, 33, 0, time.UTC)

func fixedClock() time.Time { return testNow }

func TestLoggerFormat(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, LoggerOptions{Now: fixedClock})
	log.Info("export", "workspace", 123, "name", "prod", "users", 150, "took", 1200*time.Millisecond)
	want := "2026-11-24T21:14:33Z INFO export workspace=123 name=\"prod\" users=150 took=1.2s\n"
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestLoggerValues(t *testing.T) {
	tests := []struct {
		name string
		kv   []any
		want string
	}{
		{"quoted string", []any{"k", `a "b" c`}, `k="a \"b\" c"`},
		{"unicode kept", []any{"k", "José"}, `k="José"`},
		{"newline escaped", []any{"k", "a\nb"}, `k="a\nb"`},
		{"bool", []any{"ok", true}, `ok=true`},
		{"float", []any{"f", 0.5}, `f=0.5`},
		{"uint64", []any{"n", uint64(7)}, `n=7`},
		{"nil", []any{"v", nil}, `v=null`},
		{"error", []any{"err", fmt.Errorf("list users: %w", errors.New("boom"))}, `err="list users: boom"`},
		{"time", []any{"at", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}, `at=2026-01-02T02:04:05Z`},
		{"duration ms", []any{"d", 1234567 * time.Nanosecond}, `d=1ms`},
		{"duration min", []any{"d", 90*time.Second + 400*time.Millisecond}, `d=1m30s`},
		{"missing value", []any{"k"}, `k=!MISSING`},
		{"bad key", []any{42, "k", "v"}, `!BADKEY=42 k="v"`},
		{"key sanitised", []any{"a b=c", 1}, `a_b_c=1`},
		{"stringer", []any{"lvl", LevelWarn}, `lvl="WARN"`},
		{"secret in value", []any{"url", "https://h.test/x?access_token=abcdefgh"}, `url="https://h.test/x?access_token=[REDACTED]"`},
		{"header", []any{"h", http.Header{"Authorization": {"Bearer dapi0123456789abcdef"}}}, `h="map[Authorization:[[REDACTED]]]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			NewLogger(&buf, LoggerOptions{Now: fixedClock}).Warn("m", tt.kv...)
			want := "2026-11-24T21:14:33Z WARN m " + tt.want + "\n"
			if got := buf.String(); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestLoggerLevelsAndWith(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, LoggerOptions{Level: LevelWarn, Now: fixedClock})
	log.Debug("no")
	log.Info("no")
	ws := log.With("workspace", 7)
	ws.Warn("slow", "retry", 2)
	log.Error("failed\nbadly", "err", "x")
	want := "2026-11-24T21:14:33Z WARN slow workspace=7 retry=2\n" +
		"2026-11-24T21:14:33Z ERROR failed\\nbadly err=\"x\"\n"
	if got := buf.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if log.Enabled(LevelInfo) || !log.Enabled(LevelError) {
		t.Errorf("Enabled: info=%v error=%v, want false true", log.Enabled(LevelInfo), log.Enabled(LevelError))
	}
}

func TestNilLoggerDiscards(t *testing.T) {
	var log *Logger
	log.Info("x", "k", 1) // must not panic
	if log.With("a", 1) != nil || log.Enabled(LevelError) {
		t.Error("nil logger should stay nil and disabled")
	}
}

func TestLoggerConcurrentLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, LoggerOptions{Now: fixedClock})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := log.With("g", g)
			for i := range 50 {
				l.Info("tick", "i", i)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("got %d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "2026-11-24T21:14:33Z INFO tick g=") || !strings.Contains(l, " i=") {
			t.Fatalf("malformed line %q", l)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"debug": LevelDebug, "INFO": LevelInfo, "warning": LevelWarn, "Warn": LevelWarn, "error": LevelError} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := ParseLevel("verbose")
	if !errors.Is(err, ErrBadLevel) {
		t.Fatalf("err = %v, want ErrBadLevel", err)
	}
	if want := `invalid log level "verbose": use one of debug, info, warn, error`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Authorization: Bearer dapi0123456789abcdef0123456789abcdef", "Authorization: Bearer [REDACTED]"},
		{"token dapi0123456789abcdef0123456789abcdef-2 leaked", "token [REDACTED] leaked"},
		{"oauth dose0123456789ABCDEF ok", "oauth [REDACTED] ok"},
		{"basic Basic dXNlcjpwYXNzd29yZA==", "basic Basic [REDACTED]"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", "jwt [REDACTED] end"},
		{`{"access_token":"abc def","token_type":"Bearer"}`, `{"access_token":"[REDACTED]","token_type":"Bearer"}`},
		{"grant_type=client_credentials&client_secret=s3cr3t&scope=all-apis", "grant_type=client_credentials&client_secret=[REDACTED]&scope=all-apis"},
		{`password: hunter2`, `password: [REDACTED]`},
		{"next_page_token=abc123&token_id=42", "next_page_token=abc123&token_id=42"},
		{"bearer token expired", "bearer token expired"},
		{"list users in workspace 123: 503", "list users in workspace 123: 503"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got  %q\n want %q", tt.in, got, tt.want)
		}
		if got := Redact(Redact(tt.in)); got != tt.want {
			t.Errorf("Redact is not idempotent on %q: %q", tt.in, got)
		}
	}
}

func TestRedactHeaders(t *testing.T) {
	h := http.Header{
		"Authorization":                          {"Bearer dapi0123456789abcdef"},
		"X-Databricks-Azure-Sp-Management-Token": {"eyJabc"},
		"Cookie":                                 {"session=1"},
		"X-Custom-Secret":                        {"s"},
		"X-Auth-Token":                           {"t"},
		"Content-Type":                           {"application/json"},
		"X-Databricks-Workspace-Id":              {"123"},
		"Referer":                                {"https://h.test/?access_token=abcdefgh"},
	}
	got := RedactHeaders(h)
	want := map[string]string{
		"Authorization":                          Redacted,
		"X-Databricks-Azure-Sp-Management-Token": Redacted,
		"Cookie":                                 Redacted,
		"X-Custom-Secret":                        Redacted,
		"X-Auth-Token":                           Redacted,
		"Content-Type":                           "application/json",
		"X-Databricks-Workspace-Id":              "123",
		"Referer":                                "https://h.test/?access_token=[REDACTED]",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if h.Get("Authorization") != "Bearer dapi0123456789abcdef" {
		t.Error("RedactHeaders modified its input")
	}
	if RedactHeaders(nil) != nil {
		t.Error("RedactHeaders(nil) != nil")
	}
}

func TestRedactArgs(t *testing.T) {
	in := []string{"dbiam", "--host", "https://admin:hunter2@acme.test", "--token", "dapiabcdef123456", "--client-secret=s3cret",
		"--api-key", "k", "export", "--out", "a b.xlsx", "--workspace", "token-team"}
	want := []string{"dbiam", "--host", "https://" + Redacted + "@acme.test", "--token", Redacted, "--client-secret=" + Redacted,
		"--api-key", Redacted, "export", "--out", "a b.xlsx", "--workspace", "token-team"}
	if got := RedactArgs(in); !slices.Equal(got, want) {
		t.Errorf("RedactArgs = %q, want %q", got, want)
	}
}
