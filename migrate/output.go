package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dbiam/dbiam/reports"
)

// checkOutputPath checks, before any request, that the file named by flag
// can be written at path: it does not exist (unless force), is not a
// directory, and its directory exists and takes new files (a probe file
// is created there and removed at once). Errors name the flag and the
// path the user gave, never a temporary file.
func checkOutputPath(flag, path string, force bool) error {
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("flag %s %s: directory %s does not exist; create it or pass another path", flag, path, dir)
	case err != nil:
		return fmt.Errorf("flag %s %s: %w", flag, path, err)
	case !di.IsDir():
		return fmt.Errorf("flag %s %s: %s is not a directory", flag, path, dir)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("flag %s %s: is a directory; pass a file name", flag, path)
	}
	if err := reports.CheckOverwrite(path, force); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".dbiam-probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("flag %s %s: cannot create files in %s: %w", flag, path, dir, err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("flag %s %s: remove probe file in %s: %w", flag, path, dir, err)
	}
	return nil
}
