package export

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

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
