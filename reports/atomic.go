package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// ErrExists is matched (with errors.Is) by the error returned when an
// output already exists and [Force] was not given. See [ExistsError].
var ErrExists = errors.New("output exists")

// ExistsError reports an output that exists and may not be overwritten.
// Its message is the one-line hint shown to the user:
//
//	output <path> exists: pass --force to overwrite
//
// It matches [ErrExists] and fs.ErrExist with errors.Is.
type ExistsError struct {
	Path string
}

// Error returns the one-line message.
func (e *ExistsError) Error() string {
	return fmt.Sprintf("output %s exists: pass --force to overwrite", e.Path)
}

// Is reports whether target is ErrExists or fs.ErrExist.
func (e *ExistsError) Is(target error) bool {
	return target == ErrExists || target == fs.ErrExist
}

// AtomicOption configures [WriteFile], [CreateAtomic] and [CreateAtomicDir].
type AtomicOption func(*atomicOptions)

type atomicOptions struct {
	force bool
	// replaceable reports whether an entry of an existing output directory
	// may be deleted when it is replaced; nil means regular files only.
	replaceable func(fs.DirEntry) bool
}

// Force(true) allows an existing output to be replaced (the --force flag).
// Without it, creating or committing over an existing path fails with an
// [*ExistsError].
func Force(overwrite bool) AtomicOption {
	return func(o *atomicOptions) { o.force = overwrite }
}

// replaceOnly restricts which entries an existing output directory may
// hold for it to be replaced with --force.
func replaceOnly(ok func(fs.DirEntry) bool) AtomicOption {
	return func(o *atomicOptions) { o.replaceable = ok }
}

func buildOptions(opts []AtomicOption) atomicOptions {
	var o atomicOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// CheckOverwrite returns an [*ExistsError] if path exists and force is
// false. Commands call it before doing any remote work, so that a run does
// not fail at the very end on an existing output. The atomic writers check
// again when they commit.
func CheckOverwrite(path string, force bool) error {
	if force {
		return nil
	}
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return &ExistsError{Path: path}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("check output %s: %w", path, err)
	}
}

// WriteFile atomically writes the file at path with mode perm: write is
// called with a buffered writer on a temporary file in the same directory,
// which is then flushed, synced, closed, renamed over path, and the
// directory synced. If write (or any step) fails, the temporary file is
// removed and path is left as it was. Pass [Force](true) to replace an
// existing file. Use 0600 for anything holding personal data.
func WriteFile(path string, perm os.FileMode, write func(io.Writer) error, opts ...AtomicOption) error {
	f, err := CreateAtomic(path, perm, opts...)
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}

// AtomicFile is a file being written to a temporary name next to its final
// path. Nothing is visible at the final path until Commit succeeds. Call
// Abort in a defer: it removes the temporary file unless Commit succeeded.
// An AtomicFile is not safe for concurrent use.
type AtomicFile struct {
	f    *os.File
	path string
	perm os.FileMode
	opts atomicOptions
	done bool
}

// CreateAtomic creates a temporary file (mode 0600) in the directory of
// path, to become path with mode perm on Commit. Unless [Force](true) is
// given it fails with an [*ExistsError] if path already exists.
func CreateAtomic(path string, perm os.FileMode, opts ...AtomicOption) (*AtomicFile, error) {
	o := buildOptions(opts)
	if err := CheckOverwrite(path, o.force); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &AtomicFile{f: f, path: path, perm: perm, opts: o}, nil
}

// Name returns the final path of the file.
func (a *AtomicFile) Name() string { return a.path }

// Write writes p to the temporary file.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.done {
		return 0, fmt.Errorf("write %s: %w", a.path, os.ErrClosed)
	}
	return a.f.Write(p)
}

// Commit sets the final mode, syncs and closes the temporary file, moves it
// to the final path and syncs the directory. Without [Force](true) it does
// not replace a file that appeared at the path meanwhile. On error the
// temporary file is removed. Commit may be called once.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: %w", a.path, os.ErrClosed)
	}
	a.done = true
	tmp := a.f.Name()
	err := a.commit(tmp)
	if err != nil {
		_ = a.f.Close()
		_ = os.Remove(tmp)
		var ee *ExistsError
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("save %s: %w", a.path, err)
	}
	return nil
}

func (a *AtomicFile) commit(tmp string) error {
	if a.perm != 0o600 {
		if err := a.f.Chmod(a.perm); err != nil {
			return err
		}
	}
	if err := a.f.Sync(); err != nil {
		return err
	}
	if err := a.f.Close(); err != nil { // before rename, for Windows
		return err
	}
	if err := placeFile(tmp, a.path, a.opts.force); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(a.path))
}

// placeFile moves tmp to path. Without force it uses a hard link, which
// fails if path exists, so a concurrent writer is never clobbered; where
// links are not supported it falls back to check-then-rename.
func placeFile(tmp, path string, force bool) error {
	if force {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return &ExistsError{Path: path}
	}
	if err := CheckOverwrite(path, false); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Abort removes the temporary file. It is a no-op after Commit or a
// previous Abort, so it can always be deferred.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	_ = a.f.Close()
	_ = os.Remove(a.f.Name())
}

// SyncDir fsyncs a directory so that a file created or renamed in it is
// durable. File systems (and Windows) that cannot sync a directory are not
// an error.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync on Windows
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil // file systems that cannot sync directories
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// AtomicDir is a directory being written under a temporary name next to its
// final path, for outputs made of several files (CSV or JSON Lines exports).
// Nothing is visible at the final path until Commit succeeds. Call Abort in
// a defer: it removes the temporary directory unless Commit succeeded.
// An AtomicDir is not safe for concurrent use, but files created in it may
// be written concurrently.
type AtomicDir struct {
	tmp  string
	path string
	perm os.FileMode
	opts atomicOptions
	done bool
}

// CreateAtomicDir creates a temporary directory (mode 0700) next to path,
// to become path with mode perm on Commit. Unless [Force](true) is given it
// fails with an [*ExistsError] if path already exists.
func CreateAtomicDir(path string, perm os.FileMode, opts ...AtomicOption) (*AtomicDir, error) {
	o := buildOptions(opts)
	path = filepath.Clean(path)
	if err := CheckOverwrite(path, o.force); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &AtomicDir{tmp: tmp, path: path, perm: perm, opts: o}, nil
}

// Name returns the final path of the directory.
func (d *AtomicDir) Name() string { return d.path }

// TempDir returns the temporary directory that files are written into.
func (d *AtomicDir) TempDir() string { return d.tmp }

// Create creates the file name (a base name, not a path) in the temporary
// directory with mode 0600. It fails if the file already exists.
func (d *AtomicDir) Create(name string) (*os.File, error) {
	if d.done {
		return nil, fmt.Errorf("create %s in %s: %w", name, d.path, os.ErrClosed)
	}
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return nil, fmt.Errorf("create %q in %s: not a plain file name", name, d.path)
	}
	f, err := os.OpenFile(filepath.Join(d.tmp, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s in %s: %w", name, d.path, err)
	}
	return f, nil
}

// Commit syncs every file in the temporary directory and the directory
// itself, sets its mode and moves it to the final path. With [Force](true)
// an existing output is replaced: it must be a directory holding only
// regular files (so that a mistyped path such as a home directory is never
// deleted); it is moved aside, the new directory moved in, and the old one
// removed. Files must be closed before Commit. On error the temporary
// directory is removed and the old output, if any, is left in place.
func (d *AtomicDir) Commit() error {
	if d.done {
		return fmt.Errorf("commit %s: %w", d.path, os.ErrClosed)
	}
	d.done = true
	if err := d.commit(); err != nil {
		_ = os.RemoveAll(d.tmp)
		var ee *ExistsError
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("save %s: %w", d.path, err)
	}
	return nil
}

func (d *AtomicDir) commit() error {
	entries, err := os.ReadDir(d.tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := syncFile(filepath.Join(d.tmp, e.Name())); err != nil {
			return err
		}
	}
	if err := os.Chmod(d.tmp, d.perm); err != nil {
		return err
	}
	if err := SyncDir(d.tmp); err != nil {
		return err
	}
	parent := filepath.Dir(d.path)
	fi, err := os.Lstat(d.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Rename(d.tmp, d.path); err != nil {
			return err
		}
		return SyncDir(parent)
	case err != nil:
		return err
	case !d.opts.force:
		return &ExistsError{Path: d.path}
	}
	if err := d.checkReplaceable(fi); err != nil {
		return err
	}
	old := d.tmp + "-old"
	if err := os.Rename(d.path, old); err != nil {
		return err
	}
	if err := os.Rename(d.tmp, d.path); err != nil {
		if rerr := os.Rename(old, d.path); rerr != nil {
			return fmt.Errorf("%w (and restoring the old output failed: %v; it is at %s)", err, rerr, old)
		}
		return err
	}
	if err := SyncDir(parent); err != nil {
		return err
	}
	// The new output is in place; the old copy is garbage.
	_ = os.RemoveAll(old)
	return nil
}

// checkReplaceable refuses to replace anything but a directory of regular
// files accepted by the replaceOnly option.
func (d *AtomicDir) checkReplaceable(fi fs.FileInfo) error {
	if !fi.IsDir() {
		return fmt.Errorf("refusing to replace %s: not a directory", d.path)
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		ok := e.Type().IsRegular()
		if ok && d.opts.replaceable != nil {
			ok = d.opts.replaceable(e)
		}
		if !ok {
			return fmt.Errorf("refusing to replace %s: it holds %s, which dbiam did not write", d.path, e.Name())
		}
	}
	return nil
}

// Abort removes the temporary directory. It is a no-op after Commit or a
// previous Abort, so it can always be deferred.
func (d *AtomicDir) Abort() {
	if d.done {
		return
	}
	d.done = true
	_ = os.RemoveAll(d.tmp)
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
