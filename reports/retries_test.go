package reports

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRetriesSummarised: retries are logged once when they start, then as
// a count at most every interval and at Flush, per workspace, class and
// kind; never one line per retry.
func TestRetriesSummarised(t *testing.T) {
	var buf bytes.Buffer
	clock := &fakeClock{t: testNow}
	rs := NewRetries(NewLogger(&buf, LoggerOptions{Now: fixedClock}), 30*time.Second, clock.Now)
	throttle := Retry{Workspace: "acme-prod", Class: "scim-read", Throttled: true, Wait: time.Second,
		Err: errors.New("GET /api/2.0/preview/scim/v2/Users: 500 REQUEST_LIMIT_EXCEEDED: Workspace 1 exceeded the concurrent limit of 4 requests.")}
	for range 13 {
		rs.Note(throttle)
		clock.Advance(time.Second)
	}
	rs.Note(Retry{Workspace: "acme-ml", Class: "scim-read", Wait: 2 * time.Second, Err: errors.New("GET /x: 503 Service Unavailable")})
	clock.Advance(30 * time.Second)
	rs.Note(throttle) // the 14th, 30 s after the first line: a count line
	rs.Note(throttle)
	rs.Note(Retry{Workspace: "account", Class: "account-scim-read", Throttled: true, Wait: time.Second})
	rs.Flush()
	rs.Flush() // nothing new

	want := `2026-11-24T21:14:33Z INFO throttled by acme-prod scim-read, backing off wait=1s
2026-11-24T21:14:33Z WARN retrying after an error from acme-ml scim-read wait=2s err="GET /x: 503 Service Unavailable"
2026-11-24T21:14:33Z INFO throttled 14 times by acme-prod scim-read, backing off waited=14s
2026-11-24T21:14:33Z INFO throttled by account account-scim-read, backing off wait=1s
2026-11-24T21:14:33Z INFO throttled 15 times by acme-prod scim-read, backing off waited=15s
`
	if got := buf.String(); got != want {
		t.Errorf("log:\n got  %s\n want %s", got, want)
	}
	if strings.Count(buf.String(), "REQUEST_LIMIT_EXCEEDED") != 0 {
		t.Error("throttling lines repeat the server's error")
	}
	if c := rs.Counts(); c["acme-prod scim-read throttled"] != 15 || c["acme-ml scim-read failed"] != 1 {
		t.Errorf("counts %v", c)
	}
}

func TestRetriesDebugLogsEach(t *testing.T) {
	var buf bytes.Buffer
	rs := NewRetries(NewLogger(&buf, LoggerOptions{Now: fixedClock, Level: LevelDebug}), 0, nil)
	rs.Note(Retry{Workspace: "w", Class: "c", Throttled: true, Wait: time.Second, Err: errors.New("429")})
	rs.Note(Retry{Workspace: "w", Class: "c", Throttled: true, Wait: time.Second, Err: errors.New("429")})
	if n := strings.Count(buf.String(), "DEBUG retry "); n != 2 {
		t.Errorf("%d debug lines, want one per retry:\n%s", n, buf.String())
	}
}
