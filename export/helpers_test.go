package export

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// fixedNow is the clock of every test run.
var fixedNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// testEnv is a sandbox and the Deps of a run against it.
type testEnv struct {
	srv    *sandbox.Server
	deps   Deps
	stderr interface{ String() string }
	dir    string
}

// newEnv starts a sandbox with opts (small pages, no latency) and returns
// Deps connecting to it as the account admin, with unlimited client rates
// and instant retries. adjust may change the settings.
func newEnv(t *testing.T, opts sandbox.Options, adjust func(*scim.Settings)) *testEnv {
	t.Helper()
	if opts.PageCap == 0 {
		opts.PageCap = 20
	}
	srv := sandbox.NewTestServer(t, opts)
	streams, _, stderr := reports.Test()
	streams.SetLogger(reports.NewLogger(stderr, reports.LoggerOptions{Now: func() time.Time { return fixedNow }}))
	s := scim.Settings{
		Host:      srv.URL(),
		AccountID: srv.AccountID(),
		Token:     srv.AdminToken(),
		Hermetic:  true,
		Parallel:  2,
		Rates:     scim.UnlimitedRates(),
		Sleep:     func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	if adjust != nil {
		adjust(&s)
	}
	connect := func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, s) }
	return &testEnv{
		srv: srv,
		deps: Deps{Streams: streams, Connect: connect, Now: func() time.Time { return fixedNow },
			Version: "v0.0.0-test", Args: testArgs},
		stderr: stderr,
		dir:    t.TempDir(),
	}
}

// testArgs is the command line tests record: a credential in a URL, which
// the About table must leave out, and an argument that needs quoting.
var testArgs = []string{"/usr/local/bin/dbiam", "--host", "https://admin:hunter2@accounts.test", "export", "--out", "my export"}

func (e *testEnv) path(name string) string { return filepath.Join(e.dir, name) }

// outcome is the end line the run recorded (main.go prints it), with a
// fixed duration.
func (e *testEnv) outcome() string {
	o, ok := e.deps.Streams.Outcome()
	if !ok {
		return ""
	}
	return o.Line(time.Second)
}
