package audit

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xuri/excelize/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// fixedNow is the clock of the sandbox and of every audit run in tests: the
// default seed's relative times ("now-1d") resolve against it.
var fixedNow = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// testEnv is a sandbox and the Deps of an audit run against it.
type testEnv struct {
	srv            *sandbox.Server
	deps           Deps
	stdout, stderr *bytes.Buffer
	dir            string
}

// newEnv starts a sandbox with opts (fixed clock) and returns Deps that
// connect to it as the account admin, with unlimited client rates and
// instant retries. adjust may change the settings.
func newEnv(t *testing.T, opts sandbox.Options, adjust func(*scim.Settings)) *testEnv {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixedNow }
	}
	srv := sandbox.NewTestServer(t, opts)
	streams, stdout, stderr := reports.Test()
	streams.SetLogger(reports.NewLogger(stderr, reports.LoggerOptions{Now: func() time.Time { return fixedNow }}))
	s := scim.Settings{
		Host:      srv.URL(),
		AccountID: srv.AccountID(),
		Token:     srv.AdminToken(),
		Hermetic:  true,
		Parallel:  4,
		Rates:     scim.UnlimitedRates(),
		Sleep:     func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	if adjust != nil {
		adjust(&s)
	}
	connect := func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, s) }
	return &testEnv{
		srv:    srv,
		deps:   Deps{Streams: streams, Connect: connect, Now: func() time.Time { return fixedNow }},
		stdout: stdout,
		stderr: stderr,
		dir:    t.TempDir(),
	}
}

func (e *testEnv) path(name string) string { return filepath.Join(e.dir, name) }

// run runs an audit with o and returns its error.
func (e *testEnv) run(t *testing.T, o Options) error {
	t.Helper()
	return Run(context.Background(), o, e.deps)
}

// testSeed returns the audit test seed (testdata/seed.json) with its
// objects (testdata/objects.json) attached.
func testSeed(t *testing.T) *sandbox.Seed {
	t.Helper()
	seed, err := sandbox.LoadSeed(filepath.Join("testdata", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "objects.json"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := sandbox.ParseObjectsFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := objs.AttachTo(seed); err != nil {
		t.Fatal(err)
	}
	return seed
}

// xlsxSheets returns the sheet names of a workbook, in order.
func xlsxSheets(t *testing.T, path string) []string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.GetSheetList()
}

// xlsxRows returns the rows of one sheet.
func xlsxRows(t *testing.T, path, sheet string) [][]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// cliApp runs one command in a minimal urfave/cli app.
type cliApp struct{ cmd *cli.Command }

func (a *cliApp) run(args ...string) error {
	app := &cli.App{Name: "dbiam", Commands: []*cli.Command{a.cmd}, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {}}
	return app.Run(append([]string{"dbiam"}, args...))
}

// prodBoundSeed is the default seed with its isolated finance catalog
// bound to acme-prod as well as acme-analytics, so that an audit of
// acme-prod alone covers the whole metastore (tests about other kinds).
func prodBoundSeed() *sandbox.Seed {
	s := sandbox.DefaultSeed()
	for i, c := range s.Metastores[0].Catalogs {
		if c.Name == "finance" {
			s.Metastores[0].Catalogs[i].Workspaces = append(c.Workspaces, s.Workspaces[0].WorkspaceID)
		}
	}
	return s
}
