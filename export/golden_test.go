package export

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sandboxURL replaces the sandbox's address (a random loopback port) in
// golden files.
const sandboxURL = "http://sandbox.test"

// TestGoldenCSV compares the CSV export of the default seed with
// testdata/golden/*.csv. Regenerate with: go test ./export/ -run Golden -update
func TestGoldenCSV(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	path := e.path("out")
	if err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden")
	got, err := filepath.Glob(filepath.Join(path, "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(golden); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(golden, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range got {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte(e.srv.URL()), []byte(sandboxURL))
		name := filepath.Join(golden, filepath.Base(f))
		if *update {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%v (run go test ./export/ -run Golden -update)", err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s differs from %s:\n%s", filepath.Base(f), name, firstDiff(string(want), string(b)))
		}
	}
	wantFiles, _ := filepath.Glob(filepath.Join(golden, "*.csv"))
	var gotNames, wantNames []string
	for _, f := range got {
		gotNames = append(gotNames, filepath.Base(f))
	}
	for _, f := range wantFiles {
		wantNames = append(wantNames, filepath.Base(f))
	}
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("files = %v, golden files = %v", gotNames, wantNames)
	}
}

// firstDiff shows the first differing line.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + a + "\n  got  " + b
		}
	}
	return "(same lines)"
}

// TestGoldenStable checks that two exports with different parallelism and
// page sizes give byte-identical CSV: rows are sorted, not listed in
// arrival order.
func TestGoldenStable(t *testing.T) {
	var outs [][]byte
	for _, c := range []struct {
		parallel, pageCap int
	}{{1, 3}, {4, 50}} {
		e := newEnv(t, sandbox.Options{PageCap: c.pageCap}, func(s *scim.Settings) { s.Parallel = c.parallel })
		path := e.path("out")
		if err := Run(context.Background(), Options{Format: "csv", Out: path, Include: []string{"memberships", "users"}}, e.deps); err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, name := range []string{"memberships.csv", "users.csv"} {
			b, err := os.ReadFile(filepath.Join(path, name))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		outs = append(outs, bytes.ReplaceAll(all, []byte(e.srv.URL()), []byte(sandboxURL)))
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("exports differ:\n%s", firstDiff(string(outs[0]), string(outs[1])))
	}
}

// TestGoldenFailedTables exports the default seed while one workspace
// denies its SCIM lists and the account's user list fails, and compares the
// About table with testdata/golden-failed/about.csv: the tables missing
// rows say partial or failed and why, inside the output. The XLSX output
// marks the same sheets, and stderr's summary line counts the failures as
// the error (and so the exit code) does.
func TestGoldenFailedTables(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, func(s *scim.Settings) {
		s.HTTPClient = &http.Client{Transport: denyWorkspace{id: wsAnalytics, base: http.DefaultTransport}}
	})
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2.0/accounts/[^/]+/scim/v2/Users$`, Status: 403}); err != nil {
		t.Fatal(err)
	}
	path := e.path("out")
	err := Run(context.Background(), Options{Format: "csv", Out: path}, e.deps)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 || len(pe.Failures) != 2 {
		t.Fatalf("Run = %v, want a *PartialError for a workspace and the account", err)
	}
	wantErr := "incomplete: 1 of 4 workspaces failed (acme-analytics) and the account reads failed; the rest was written"
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %q lacks %q", err, wantErr)
	}
	if !strings.Contains(e.outcome(), "4 workspaces: 3 ok, 1 failed, 0 skipped; account: failed") {
		t.Errorf("summary line does not count the failures as the error does:\n%s", e.stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(path, "about.csv"))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(e.srv.URL()), []byte(sandboxURL))
	name := filepath.Join("testdata", "golden-failed", "about.csv")
	if *update {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(name); err != nil {
		t.Fatalf("%v (run go test ./export/ -run Golden -update)", err)
	} else if !bytes.Equal(b, want) {
		t.Errorf("about.csv differs from %s:\n%s", name, firstDiff(string(want), string(b)))
	}
	csvAbout := readAbout(t, "csv", path)

	// The workbook says the same, and marks the sheets.
	xpath := e.path("out.xlsx")
	if err := Run(context.Background(), Options{Out: xpath}, e.deps); !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want a *PartialError", err)
	}
	x := readAbout(t, "xlsx", xpath)
	delete(x.fields, "format")
	delete(csvAbout.fields, "format")
	if !reflect.DeepEqual(x, csvAbout) {
		t.Errorf("the workbook's About differs from about.csv:\n%v\n%v", x, csvAbout)
	}
	f, err := excelize.OpenFile(xpath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sheet, want := range map[string]string{TableAccountUsers: "FFC00000", TableUsers: "FFED7D31", TableGroups: "FFED7D31", TableWorkspaces: ""} {
		props, err := f.GetSheetProps(sheet)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if props.TabColorRGB != nil {
			got = *props.TabColorRGB
		}
		if got != want {
			t.Errorf("%s: tab colour %q, want %q", sheet, got, want)
		}
	}
	if hf, err := f.GetHeaderFooter(TableAccountUsers); err != nil || !strings.Contains(hf.OddHeader, "Failed: account list users: ") {
		t.Errorf("account_users page header = %+v, %v", hf, err)
	}
}
