package reports

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestWriteFileSuccess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.csv")
	err := WriteFile(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, "a,b\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "a,b\n" {
		t.Errorf("content = %q", got)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode = %v, want 0600", m)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"users.csv"}) {
		t.Errorf("dir holds %v, want only users.csv", got)
	}
}

func TestWriteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := WriteFile(path, 0o640, func(w io.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, path); m != 0o640 {
		t.Errorf("mode = %v, want 0640", m)
	}
}

func TestWriteFileErrorLeavesNothing(t *testing.T) {
	boom := errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, werr := range map[string]error{"write error": boom, "cancelled": ctx.Err()} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.csv")
			err := WriteFile(path, 0o600, func(w io.Writer) error {
				_, _ = io.WriteString(w, strings.Repeat("x", 100<<10)) // past the buffer
				return werr
			})
			if !errors.Is(err, werr) {
				t.Fatalf("err = %v, want %v", err, werr)
			}
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("dir holds %v, want nothing", got)
			}
		})
	}
}

func TestWriteFileExists(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.xlsx")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }

	err := WriteFile(path, 0o600, write)
	if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	var ee *ExistsError
	if !errors.As(err, &ee) || ee.Path != path {
		t.Fatalf("err = %#v, want *ExistsError for %s", err, path)
	}
	if want := "output " + path + " exists: pass --force to overwrite"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	if got := readFile(t, path); got != "old" {
		t.Errorf("old file changed to %q", got)
	}

	if err := WriteFile(path, 0o600, write, Force(true)); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "new" {
		t.Errorf("content = %q, want new", got)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"out.xlsx"}) {
		t.Errorf("dir holds %v", got)
	}
}

func TestCheckOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := CheckOverwrite(filepath.Join(dir, "missing"), false); err != nil {
		t.Errorf("missing path: %v", err)
	}
	if err := CheckOverwrite(dir, false); !errors.Is(err, ErrExists) {
		t.Errorf("existing path: %v, want ErrExists", err)
	}
	if err := CheckOverwrite(dir, true); err != nil {
		t.Errorf("existing path with force: %v", err)
	}
}

func TestCommitDoesNotClobberNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	f, err := CreateAtomic(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := f.Write([]byte("mine")); err != nil {
		t.Fatal(err)
	}
	// Another process writes the output while we are working.
	if err := os.WriteFile(path, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); !errors.Is(err, ErrExists) {
		t.Fatalf("Commit = %v, want ErrExists", err)
	}
	if got := readFile(t, path); got != "theirs" {
		t.Errorf("content = %q, want theirs", got)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"out.json"}) {
		t.Errorf("dir holds %v: temp file left", got)
	}
}

func TestAtomicFileAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	f, err := CreateAtomic(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); len(got) != 1 || !strings.HasPrefix(got[0], ".out.json.tmp-") {
		t.Fatalf("temp file = %v, want .out.json.tmp-*", got)
	}
	if m := mode(t, filepath.Join(dir, dirNames(t, dir)[0])); m != 0o600 {
		t.Errorf("temp mode = %v, want 0600", m)
	}
	f.Abort()
	f.Abort() // idempotent
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("dir holds %v after Abort", got)
	}
	if err := f.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Commit after Abort = %v, want ErrClosed", err)
	}
}

func TestAtomicFileAbortAfterCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	f, err := CreateAtomic(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if got := readFile(t, path); got != "{}" {
		t.Errorf("content = %q after Abort following Commit", got)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Commit = %v, want ErrClosed", err)
	}
}

func writeDirFile(t *testing.T, d *AtomicDir, name, content string) {
	t.Helper()
	f, err := d.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAtomicDir(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "export")
	d, err := CreateAtomicDir(path, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Abort()
	writeDirFile(t, d, "users.csv", "u\n")
	writeDirFile(t, d, "groups.csv", "g\n")
	if _, err := d.Create("../escape.csv"); err == nil {
		t.Error("Create accepted a path")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("output visible before Commit: %v", err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, path); !slices.Equal(got, []string{"groups.csv", "users.csv"}) {
		t.Errorf("output holds %v", got)
	}
	if m := mode(t, path); m != 0o700 {
		t.Errorf("dir mode = %v, want 0700", m)
	}
	if m := mode(t, filepath.Join(path, "users.csv")); m != 0o600 {
		t.Errorf("file mode = %v, want 0600", m)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"export"}) {
		t.Errorf("parent holds %v", got)
	}
}

func TestAtomicDirOverwrite(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "export")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "old.csv"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := CreateAtomicDir(path, 0o700); !errors.Is(err, ErrExists) {
		t.Fatalf("CreateAtomicDir over existing = %v, want ErrExists", err)
	}

	d, err := CreateAtomicDir(path, 0o700, Force(true))
	if err != nil {
		t.Fatal(err)
	}
	writeDirFile(t, d, "users.csv", "new")
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, path); !slices.Equal(got, []string{"users.csv"}) {
		t.Errorf("output holds %v, want the new files only", got)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"export"}) {
		t.Errorf("parent holds %v: temp or backup left", got)
	}
}

func TestAtomicDirRefusesToReplaceForeignDirectory(t *testing.T) {
	parent := t.TempDir()
	path := filepath.Join(parent, "home")
	if err := os.MkdirAll(filepath.Join(path, "projects"), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := CreateAtomicDir(path, 0o700, Force(true))
	if err != nil {
		t.Fatal(err)
	}
	writeDirFile(t, d, "users.csv", "new")
	err = d.Commit()
	if err == nil || !strings.Contains(err.Error(), "refusing to replace") {
		t.Fatalf("Commit = %v, want a refusal", err)
	}
	if got := dirNames(t, path); !slices.Equal(got, []string{"projects"}) {
		t.Errorf("old directory changed: %v", got)
	}
	if got := dirNames(t, parent); !slices.Equal(got, []string{"home"}) {
		t.Errorf("parent holds %v: temp left", got)
	}
}

func TestAtomicDirAbort(t *testing.T) {
	parent := t.TempDir()
	d, err := CreateAtomicDir(filepath.Join(parent, "export"), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	writeDirFile(t, d, "users.csv", "x")
	d.Abort()
	d.Abort()
	if got := dirNames(t, parent); len(got) != 0 {
		t.Errorf("parent holds %v after Abort", got)
	}
	if err := d.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Commit after Abort = %v", err)
	}
}
