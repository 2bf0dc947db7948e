package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xuri/excelize/v2"

	"github.com/dbiam/dbiam/export"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var fixedNow = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)

// Default seed ids (sandbox/seeds/default.json).
const (
	wsProd      = 6051921418418891
	wsAnalytics = 6051921418418892
	wsLegacy    = 6051921418418894

	aishaLopez  = "1100000000000041"
	elenaPatel  = "1100000000000005"
	benHaddad   = "1100000000000002"
	prodAdmins  = "1400000000000001"
	finReport   = "1400000000000007"
	sandboxHost = "http://sandbox.test"
)

// env is a sandbox and a session on it.
type env struct {
	srv  *sandbox.Server
	sess *scim.Session
	dir  string
	set  scim.Settings
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	set := scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
		Rates: scim.UnlimitedRates(), Parallel: 4}
	sess, err := scim.Connect(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, sess: sess, dir: t.TempDir(), set: set}
}

// export writes an export of the sandbox's current state.
func (e *env) export(t *testing.T, name, format string, adjust func(*scim.Settings)) string {
	t.Helper()
	set := e.set
	if adjust != nil {
		adjust(&set)
	}
	path := filepath.Join(e.dir, name)
	streams, _, _ := reports.Test()
	err := export.Run(context.Background(), export.Options{Format: format, Out: path}, export.Deps{
		Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, set) },
		Now: func() time.Time { return fixedNow }, Version: "v0.0.0-test", Args: []string{"dbiam", "export"}})
	var pe *export.PartialError
	if err != nil && !errors.As(err, &pe) {
		t.Fatal(err)
	}
	return path
}

func (e *env) workspace(t *testing.T, id int64) *scim.WorkspaceClient {
	t.Helper()
	all, err := e.sess.Workspaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range all {
		if w.ID == id {
			c, err := e.sess.Workspace(w)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatalf("no workspace %d", id)
	return nil
}

// change makes the changes the golden report shows: in acme-prod,
// aisha.lopez joins admins and ben.haddad leaves it, platform-admins is
// assigned USER instead of ADMIN, elena.patel is deactivated and Finance
// Reporting gains allow-cluster-create; in acme-analytics aisha.lopez is
// assigned ADMIN; in acme-legacy a user is created.
func (e *env) change(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	prod := e.workspace(t, wsProd)
	for _, err := range []error{
		prod.Groups.Patch(ctx, prodAdmins, scim.AddMembers(aishaLopez)),
		prod.Groups.Patch(ctx, prodAdmins, scim.RemoveMember(benHaddad)),
		prod.Users.Patch(ctx, elenaPatel, scim.SetActive(false)),
		prod.Groups.Patch(ctx, finReport, scim.AddEntitlements("allow-cluster-create")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	acct, err := e.sess.Account()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acct.PutAssignment(ctx, wsAnalytics, 1100000000000041, []string{"ADMIN", "USER"}); err != nil {
		t.Fatal(err)
	}
	// platform-admins (ben.haddad's other way in) loses its ADMIN assignment.
	if _, err := acct.PutAssignment(ctx, wsProd, 1200000000000004, []string{"USER"}); err != nil {
		t.Fatal(err)
	}
	legacy := e.workspace(t, wsLegacy)
	if _, err := legacy.Users.Create(ctx, scim.User{UserName: "new.hire@acme.test", DisplayName: "New Hire"}); err != nil {
		t.Fatal(err)
	}
}

// run runs diff and returns its stdout, stderr and error.
func run(t *testing.T, o Options) (string, string, error) {
	t.Helper()
	streams, out, errb := reports.Test()
	err := Run(context.Background(), o, Deps{Streams: streams, Now: func() time.Time { return fixedNow }, Version: "v0.0.0-test"})
	// The line main prints last, with a fixed duration.
	if oc, ok := streams.Outcome(); ok {
		errb.WriteString("dbiam: " + oc.Line(time.Second) + "\n")
	}
	return out.String(), errb.String(), err
}

// golden compares got with testdata/name, after replacing the temporary
// directory and the sandbox's address.
func golden(t *testing.T, name, got string, e *env) {
	t.Helper()
	got = strings.ReplaceAll(got, e.dir, "/exports")
	got = strings.ReplaceAll(got, e.srv.URL(), sandboxHost)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./diff -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestGoldenDiff compares a CSV export with an XLSX export made after the
// changes, and checks the report in every format against golden files.
func TestGoldenDiff(t *testing.T) {
	e := newEnv(t)
	oldCSV := e.export(t, "old-csv", "csv", nil)
	oldJSON := e.export(t, "old-jsonl", "json", nil)
	e.change(t)
	newXLSX := e.export(t, "new.xlsx", "xlsx", nil)
	newCSV := e.export(t, "new-csv", "csv", nil)

	stdout, _, err := run(t, Options{Old: oldCSV, New: newXLSX, Format: "csv"})
	var de *DifferentError
	if !errors.As(err, &de) || de.ExitCode() != 3 {
		t.Fatalf("Run = %v, want a *DifferentError with exit code 3", err)
	}
	golden(t, "report.csv", stdout, e)

	table, _, _ := run(t, Options{Old: oldCSV, New: newXLSX})
	golden(t, "report.tsv", table, e)

	js, _, _ := run(t, Options{Old: oldCSV, New: newXLSX, Format: "json"})
	golden(t, "report.json", js, e)
	var doc Report
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Old.Format != "csv" || doc.New.Format != "xlsx" || doc.New.AsOf != "2026-06-30T12:00:00Z" || doc.Counts["admin gained"] != 2 || doc.Counts["admin lost"] != 2 {
		t.Errorf("report head = %+v %+v %v", doc.Old, doc.New, doc.Counts)
	}

	// The formats read alike: JSON Lines against CSV gives the same report.
	other, _, _ := run(t, Options{Old: oldJSON, New: newCSV, Format: "csv"})
	if other != stdout {
		t.Errorf("jsonl -> csv report differs from csv -> xlsx:\n%s\n%s", other, stdout)
	}
	// A JSON Lines export is named as --output names it (and its about.json says).
	if js, _, _ := run(t, Options{Old: oldJSON, New: newCSV, Format: "json"}); !strings.Contains(js, `"format": "json"`) {
		t.Errorf("a JSON Lines export's format in the report is not json:\n%.300s", js)
	}
	// And an export compared with itself in another format is equal.
	if out, _, err := run(t, Options{Old: oldCSV, New: oldJSON}); err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("csv vs jsonl of one state: %v\n%s", err, out)
	}

	// XLSX: the first sheet is the admin changes, gains first.
	xpath := filepath.Join(e.dir, "review.xlsx")
	if _, stderr, _ := run(t, Options{Old: oldCSV, New: newXLSX, Format: "xlsx", Out: xpath}); !strings.Contains(stderr, "diff finished in 1s: ") || !strings.HasSuffix(stderr, "; wrote "+xpath+"\n") {
		t.Errorf("stderr = %q", stderr)
	}
	f, err := excelize.OpenFile(xpath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetName(0))
	if err != nil || f.GetSheetName(0) != "admin_changes" || len(rows) != 5 || rows[1][3] != "gained" || rows[2][3] != "gained" || rows[4][3] != "lost" {
		t.Errorf("first sheet %q = %q, %v", f.GetSheetName(0), rows, err)
	}

	// HTML: admin rights gained first.
	hpath := filepath.Join(e.dir, "review.html")
	run(t, Options{Old: oldCSV, New: newXLSX, Format: "html", Out: hpath})
	b, err := os.ReadFile(hpath)
	if err != nil {
		t.Fatal(err)
	}
	h := string(b)
	gained, lost, all := strings.Index(h, "Admin rights gained"), strings.Index(h, "Admin rights lost"), strings.Index(h, "All changes")
	if gained < 0 || !(gained < lost && lost < all) || !strings.Contains(h[gained:lost], "aisha.lopez@acme.test") {
		t.Errorf("html: admin gains not first (%d, %d, %d)", gained, lost, all)
	}
}

// denyWorkspace answers 403 to the SCIM lists of one workspace.
type denyWorkspace struct {
	id   string
	base http.RoundTripper
}

func (d denyWorkspace) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get(scim.WorkspaceHeader) != d.id || !strings.HasPrefix(r.URL.Path, "/api/2.0/preview/scim/") {
		return d.base.RoundTrip(r)
	}
	return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// TestFailedWorkspaceIsNotCompared: a workspace that failed in the NEW
// export is listed as not compared, not as everyone removed, and nothing
// else differing, the exit code says "not fully compared" (2), not equal.
func TestFailedWorkspaceIsNotCompared(t *testing.T) {
	e := newEnv(t)
	oldX := e.export(t, "old.xlsx", "xlsx", nil)
	newX := e.export(t, "new", "json", func(s *scim.Settings) {
		s.HTTPClient = &http.Client{Transport: denyWorkspace{id: "6051921418418893", base: http.DefaultTransport}}
	})
	out, _, err := run(t, Options{Old: oldX, New: newX, Format: "json"})
	var de *DifferentError
	if !errors.As(err, &de) || de.ExitCode() != 2 || de.Changes != 0 {
		t.Fatalf("Run = %v, want a *DifferentError with exit code 2 and no changes", err)
	}
	var doc Report
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.NotCompared) != 1 || doc.NotCompared[0].WorkspaceID != "6051921418418893" ||
		!strings.Contains(doc.NotCompared[0].Reason, "export_status failed in the NEW export") {
		t.Errorf("not compared = %+v", doc.NotCompared)
	}
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	notXLSX := filepath.Join(dir, "x.xlsx")
	if err := os.WriteFile(notXLSX, []byte("not a zip"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"missing", Options{Old: filepath.Join(dir, "nope"), New: empty}, "no such file"},
		{"empty dir", Options{Old: empty, New: empty}, "not a dbiam export"},
		{"not a workbook", Options{Old: notXLSX, New: empty}, "not a dbiam export"},
		{"bad format", Options{Old: empty, New: empty, Format: "pdf"}, `--output "pdf"`},
		{"xlsx to stdout", Options{Old: empty, New: empty, Format: "xlsx"}, "pass --out FILE.xlsx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := run(t, tt.o)
			if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrBadOptions mentioning %q", err, tt.want)
			}
			if stdout != "" {
				t.Errorf("wrote %q", stdout)
			}
		})
	}
}

// TestReportIsStable: the same inputs give the same bytes.
func TestReportIsStable(t *testing.T) {
	e := newEnv(t)
	a := e.export(t, "a", "csv", nil)
	e.change(t)
	b := e.export(t, "b", "csv", nil)
	first, _, _ := run(t, Options{Old: a, New: b, Format: "json"})
	for range 3 {
		again, _, _ := run(t, Options{Old: a, New: b, Format: "json"})
		if !bytes.Equal([]byte(first), []byte(again)) {
			t.Fatal("reports differ between runs")
		}
	}
	if !strings.Contains(first, `"changes": [`) {
		t.Fatalf("no changes in %s", first)
	}
}

// copyDir copies the files of directory src to a new directory dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// keepLines rewrites file to its first n lines.
func keepLines(t *testing.T, file string, n int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if err := os.WriteFile(file, []byte(strings.Join(lines[:n], "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTruncatedExportIsRefused: a table cut short at a row boundary (a
// partial copy) reads without a parse error; its row count, checked
// against the About table, refuses it with one line, rather than every
// lost row reported as removed.
func TestTruncatedExportIsRefused(t *testing.T) {
	e := newEnv(t)
	csvDir := e.export(t, "q1-csv", "csv", nil)
	jsonDir := e.export(t, "q1-jsonl", "json", nil)
	xlsx := e.export(t, "q1.xlsx", "xlsx", nil)

	cutCSV := filepath.Join(e.dir, "cut-csv")
	copyDir(t, csvDir, cutCSV)
	keepLines(t, filepath.Join(cutCSV, "memberships.csv"), 300)
	cutJSON := filepath.Join(e.dir, "cut-jsonl")
	copyDir(t, jsonDir, cutJSON)
	keepLines(t, filepath.Join(cutJSON, "users.jsonl"), 100)
	cutXLSX := filepath.Join(e.dir, "cut.xlsx")
	f, err := excelize.OpenFile(xlsx)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := f.RemoveRow("entitlements", 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(cutXLSX); err != nil {
		t.Fatal(err)
	}
	f.Close()

	for _, tt := range []struct{ old, new, table string }{
		{csvDir, cutCSV, "memberships"},
		{cutJSON, csvDir, "users"},
		{xlsx, cutXLSX, "entitlements"},
	} {
		stdout, _, err := run(t, Options{Old: tt.old, New: tt.new})
		if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "table "+tt.table+" has ") ||
			!strings.Contains(err.Error(), "truncated") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s vs %s: err = %v, want one line saying %s is truncated", filepath.Base(tt.old), filepath.Base(tt.new), err, tt.table)
		}
		if stdout != "" {
			t.Errorf("wrote a report: %q", stdout)
		}
	}
	// The complete exports still compare equal.
	if _, _, err := run(t, Options{Old: csvDir, New: xlsx}); err != nil {
		t.Errorf("complete exports: %v", err)
	}
}

// TestExportsOfTwoAccountsAreRefused: exports of different accounts share
// no workspace; rather than every workspace added and removed, the
// comparison is refused with one line naming both accounts.
func TestExportsOfTwoAccountsAreRefused(t *testing.T) {
	e := newEnv(t)
	csvDir := e.export(t, "a-csv", "csv", nil)
	jsonDir := e.export(t, "a-jsonl", "json", nil)
	const other = "0d1e2f3a-0000-4000-8000-000000000001"
	for _, tt := range []struct{ dir, about string }{{csvDir, "about.csv"}, {jsonDir, "about.json"}} {
		moved := tt.dir + "-other"
		copyDir(t, tt.dir, moved)
		p := filepath.Join(moved, tt.about)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), e.srv.AccountID()) {
			t.Fatalf("%s does not hold the account id", tt.about)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), e.srv.AccountID(), other)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err = run(t, Options{Old: tt.dir, New: moved})
		if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "account "+e.srv.AccountID()) ||
			!strings.Contains(err.Error(), "account "+other) {
			t.Errorf("%s: err = %v, want a refusal naming both accounts", tt.about, err)
		}
	}
}

// TestFlagsAfterTheExports: flags go before OLD and NEW (urfave/cli stops
// at the first argument); written after them, the error shows the line in
// order instead of a bare count of arguments.
func TestFlagsAfterTheExports(t *testing.T) {
	streams, _, _ := reports.Test()
	app := &cli.App{Name: "dbiam", Commands: []*cli.Command{Command(streams)},
		Writer: streams.Out, ErrWriter: streams.Err, ExitErrHandler: func(*cli.Context, error) {}}
	err := app.RunContext(context.Background(), []string{"dbiam", "diff", "q1", "q2 .xlsx", "--format", "html", "--out", "review.html"})
	want := `flags go before them: dbiam diff --format html --out review.html q1 "q2 .xlsx"`
	if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want ErrBadOptions showing %q", err, want)
	}
	err = app.RunContext(context.Background(), []string{"dbiam", "diff", "q1"})
	if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "got 1 arguments") {
		t.Errorf("one argument: %v", err)
	}
}

// TestSummaryLine: counts in the summary agree in number with their nouns.
func TestSummaryLine(t *testing.T) {
	gain := Change{Category: CategoryAdmin, Change: ChangeGained}
	other := Change{Category: CategoryPrincipal, Change: ChangeAdded}
	nc := NotCompared{Reason: "x"}
	for _, tt := range []struct {
		r    result
		want string
	}{
		{result{}, "no differences"},
		{result{NotCompared: []NotCompared{nc}}, "no differences in what could be compared; 1 part not compared"},
		{result{NotCompared: []NotCompared{nc, nc}}, "no differences in what could be compared; 2 parts not compared"},
		{result{Changes: []Change{gain}}, "1 change (1 admin right gained)"},
		{result{Changes: []Change{gain, gain, other}, NotCompared: []NotCompared{nc}}, "3 changes (2 admin rights gained); 1 part not compared"},
	} {
		if got := summaryLine(tt.r); got != tt.want {
			t.Errorf("summaryLine = %q, want %q", got, tt.want)
		}
	}
}
