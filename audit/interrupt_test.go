package audit

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestCommandNotFoundIdentity: a mistyped name is a pre-deletion check that
// found nothing to check. The report is written with the not-found row,
// stderr warns about the name and where it was looked up, and the command
// fails with exit code 2.
func TestCommandNotFoundIdentity(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, nil)
	out := e.path("audit.csv")
	app := &cliApp{cmd: Command(e.deps.Streams, e.deps.Connect)}
	err := app.run("audit", "--user", "nobdy@corp.test", "--user", "alice@corp.test", "--format", "csv", "--out", out)
	var coded interface{ ExitCode() int }
	if !errors.As(err, &coded) || coded.ExitCode() != 2 {
		t.Fatalf("err = %v, want exit code 2\n%s", err, e.stderr)
	}
	var pe *PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.NotFound, []string{"user:nobdy@corp.test"}) || len(pe.NotCovered) != 0 {
		t.Fatalf("err = %v, want a PartialError naming user:nobdy@corp.test only", err)
	}
	if !strings.Contains(err.Error(), "nobdy@corp.test") {
		t.Errorf("error %q does not name the identity", err)
	}
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("report not written: %v", rerr)
	}
	if !strings.Contains(string(b), "nobdy@corp.test") || !strings.Contains(string(b), "identity not found") {
		t.Errorf("report lacks the not-found row:\n%s", b)
	}
	warns := 0
	for _, l := range strings.Split(e.stderr.String(), "\n") {
		if strings.Contains(l, "WARN") && strings.Contains(l, "not found") {
			warns++
			if !strings.Contains(l, `identity="user:nobdy@corp.test"`) ||
				!strings.Contains(l, `looked_up_in="account, 3 workspaces: ws-main (1001), ws-second (1002), ws-local (1003)"`) {
				t.Errorf("warning does not name the identity and where it was looked up: %s", l)
			}
		}
	}
	if warns != 1 {
		t.Errorf("%d not-found warnings, want 1:\n%s", warns, e.stderr)
	}
}

// TestAuditNotFoundWithoutAccount: without an account id the warning says
// that only workspaces were searched.
func TestAuditNotFoundWithoutAccount(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, func(s *scim.Settings) { s.AccountID = "" })
	_, err := e.runJSON(t, Options{Users: []string{"nobdy@corp.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || !slices.Equal(pe.NotFound, []string{"user:nobdy@corp.test"}) {
		t.Fatalf("err = %v, want a PartialError naming user:nobdy@corp.test", err)
	}
	want := `WARN audit identity not found identity="user:nobdy@corp.test" looked_up_in="workspace 127.0.0.1`
	if !strings.Contains(e.stderr.String(), want) || !strings.Contains(e.stderr.String(), `(account not searched: no account id)"`) {
		t.Errorf("stderr lacks %s:\n%s", want, e.stderr)
	}
}

// cancelOn is a RoundTripper that cancels the run's context when a request
// for path arrives, once the request for after (read in parallel with it)
// has been answered, and fails the path's request as cancelled: the
// workspace has then read some kinds and not others.
type cancelOn struct {
	path, after string
	cancel      context.CancelFunc
	answered    chan struct{}
	once        sync.Once
}

func (c *cancelOn) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.URL.Path {
	case c.path:
		select {
		case <-c.answered:
		case <-r.Context().Done():
		}
		c.cancel()
		return nil, context.Canceled
	case c.after:
		resp, err := http.DefaultTransport.RoundTrip(r)
		c.once.Do(func() { close(c.answered) })
		return resp, err
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestAuditInterrupted: Ctrl-C during the scan logs no workspace as done
// (or failed), writes no report file and returns the cancellation.
func TestAuditInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt := &cancelOn{path: "/api/2.2/jobs/list", after: "/api/2.0/token-management/tokens", cancel: cancel, answered: make(chan struct{})}
	e := newEnv(t, sandbox.Options{Seed: testSeed(t)}, func(s *scim.Settings) {
		s.Parallel = 1
		s.HTTPClient = &http.Client{Transport: rt}
	})
	out := e.path("audit.csv")
	err := Run(ctx, Options{Users: []string{"alice@corp.test"}, Format: FormatCSV, Out: out}, e.deps)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled\n%s", err, e.stderr)
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		t.Errorf("err = %v, want the cancellation, not a partial result", err)
	}
	for _, l := range strings.Split(e.stderr.String(), "\n") {
		if strings.Contains(l, `task="metastore `) {
			// The metastore, read alongside the workspaces, may really
			// have been read before the interrupt.
			continue
		}
		if strings.Contains(l, "audit done") || strings.Contains(l, "audit failed") || strings.Contains(l, "audit finished") {
			t.Errorf("interrupted run logged %q", l)
		}
	}
	if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("report file after an interrupt: %v", serr)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*"))
	if len(left) != 0 {
		t.Errorf("files left after an interrupt: %v", left)
	}
}
