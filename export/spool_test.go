package export

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/reports"
)

func TestSpoolRoundTrip(t *testing.T) {
	dir := t.TempDir()
	sp, err := newSpool(filepath.Join(dir, "out.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(sp.dir); err != nil || st.Mode().Perm() != 0o700 || !strings.HasPrefix(filepath.Base(sp.dir), ".out.xlsx.rows-") {
		t.Fatalf("spool dir %s: %v %v", sp.dir, st.Mode(), err)
	}
	w, err := sp.create("ws")
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	cols := []reports.Column{str("s"), num("n"), boolean("b"), boolean("p")}
	w.begin("a")
	w.row("héllo, \"world\"\n", 42, true, &yes)
	w.row("", -7, false, (*bool)(nil))
	w.begin("b")
	w.row(nil, nil, nil, nil)
	f, err := w.close()
	if err != nil {
		t.Fatal(err)
	}
	read := func(table string) [][]any {
		t.Helper()
		var rows [][]any
		sink := sinkFunc(func(vals ...any) error {
			rows = append(rows, append([]any(nil), vals...))
			return nil
		})
		if err := f.copyTo(table, cols, sink, nil); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	want := [][]any{{"héllo, \"world\"\n", int64(42), true, true}, {"", int64(-7), false, nil}}
	if got := read("a"); !reflect.DeepEqual(got, want) {
		t.Errorf("a = %v, want %v", got, want)
	}
	if got := read("b"); !reflect.DeepEqual(got, [][]any{{nil, nil, nil, nil}}) {
		t.Errorf("b = %v", got)
	}
	if got := read("missing"); got != nil {
		t.Errorf("missing = %v", got)
	}
	if f.rows("a") != 2 || f.rows("b") != 1 {
		t.Errorf("rows = %d, %d", f.rows("a"), f.rows("b"))
	}
	// A value that does not suit its column is refused when read.
	bad := []reports.Column{num("s"), num("n"), boolean("b"), boolean("p")}
	if err := f.copyTo("a", bad, sinkFunc(func(...any) error { return nil }), nil); err == nil || !strings.Contains(err.Error(), "column s") {
		t.Errorf("copyTo with mismatched columns = %v", err)
	}
	sp.remove()
	if _, err := os.Stat(sp.dir); !os.IsNotExist(err) {
		t.Errorf("spool not removed: %v", err)
	}
}

func TestSpoolRejectsUnsupportedValues(t *testing.T) {
	sp, err := newSpool(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	w, err := sp.create("ws")
	if err != nil {
		t.Fatal(err)
	}
	w.row("outside a section")
	if _, err := w.close(); err == nil {
		t.Error("row outside a section accepted")
	}
	w, _ = sp.create("ws2")
	w.begin("a")
	w.row(3.5)
	if _, err := w.close(); err == nil || !strings.Contains(err.Error(), "unsupported value float64") {
		t.Errorf("float accepted: %v", err)
	}
}

// sinkFunc adapts a function to reports.Sink.
type sinkFunc func(vals ...any) error

func (f sinkFunc) WriteRow(vals ...any) error { return f(vals...) }
func (f sinkFunc) Close() error               { return nil }
