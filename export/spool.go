package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dbiam/dbiam/reports"
)

// The spool keeps memory bounded whatever the account size: each workspace's
// rows are sorted and written to its own temporary file as soon as the
// workspace is done, one section per table; once every workspace is done the
// sections are copied into the output, table by table, in workspace order.
// Only the workspaces being exported are held in memory at once.
//
// A row is one JSON array per line. Its values are nil, string, bool or an
// integer, and are read back according to the table's column types.

// spool is a temporary directory of per-workspace row files. Its files
// hold personal data: the directory is created with mode 0700 next to the
// output and removed by remove, whatever happened.
type spool struct {
	dir string
}

func newSpool(nextTo string) (*spool, error) {
	dir, err := os.MkdirTemp(filepath.Dir(nextTo), "."+filepath.Base(nextTo)+".rows-*")
	if err != nil {
		return nil, fmt.Errorf("create spool for %s: %w", nextTo, err)
	}
	return &spool{dir: dir}, nil
}

// remove deletes the spool and everything in it.
func (s *spool) remove() { os.RemoveAll(s.dir) }

// section locates one table's rows in a spool file.
type section struct {
	off, len int64
	rows     int
}

// spoolFile is a finished, closed spool file.
type spoolFile struct {
	path     string
	sections map[string]section
}

// rows returns how many rows table has in f (0 if none).
func (f *spoolFile) rows(table string) int {
	if f == nil {
		return 0
	}
	return f.sections[table].rows
}

// spoolWriter writes one spool file. It is not safe for concurrent use.
type spoolWriter struct {
	f        *os.File
	w        *bufio.Writer
	off      int64
	table    string
	start    int64
	rows     int
	sections map[string]section
	buf      []byte
	err      error
}

// create starts a new spool file named after key.
func (s *spool) create(key string) (*spoolWriter, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, key+".jsonl"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create spool file: %w", err)
	}
	return &spoolWriter{f: f, w: bufio.NewWriterSize(f, 64<<10), sections: map[string]section{}}, nil
}

// begin starts the section of table; rows follow with row.
func (w *spoolWriter) begin(table string) {
	w.end()
	w.table, w.start, w.rows = table, w.off, 0
}

// end closes the current section, if any.
func (w *spoolWriter) end() {
	if w.table != "" {
		w.sections[w.table] = section{off: w.start, len: w.off - w.start, rows: w.rows}
		w.table = ""
	}
}

// row appends one row to the current section.
func (w *spoolWriter) row(vals ...any) {
	if w.err != nil {
		return
	}
	if w.table == "" {
		w.err = errors.New("spool row outside a section")
		return
	}
	b, err := json.Marshal(vals)
	if err != nil {
		w.err = fmt.Errorf("encode %s row: %w", w.table, err)
		return
	}
	w.buf = append(append(w.buf[:0], b...), '\n')
	n, err := w.w.Write(w.buf)
	w.off += int64(n)
	w.rows++
	w.err = err
}

// close flushes and closes the file and returns it for reading.
func (w *spoolWriter) close() (*spoolFile, error) {
	w.end()
	err := w.err
	if ferr := w.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write spool file %s: %w", w.f.Name(), err)
	}
	return &spoolFile{path: w.f.Name(), sections: w.sections}, nil
}

// abort closes and deletes an unfinished file.
func (w *spoolWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// copyTo writes the rows of table from f to sink, decoded according to
// cols; fix, if not nil, may change each row before it is written.
func (f *spoolFile) copyTo(table string, cols []reports.Column, sink reports.Sink, fix func([]any)) error {
	sec, ok := f.sections[table]
	if !ok || sec.rows == 0 {
		return nil
	}
	file, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("read spool file: %w", err)
	}
	defer file.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(file, sec.off, sec.len), 64<<10)
	vals := make([]any, len(cols))
	for n := 0; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			if n != sec.rows {
				return fmt.Errorf("read spool file %s: %s: %d rows, want %d", f.path, table, n, sec.rows)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read spool file %s: %w", f.path, err)
		}
		if err := decodeRow(line, cols, vals); err != nil {
			return fmt.Errorf("read spool file %s: %s row %d: %w", f.path, table, n+1, err)
		}
		if fix != nil {
			fix(vals)
		}
		if err := sink.WriteRow(vals...); err != nil {
			return fmt.Errorf("write %s: %w", table, err)
		}
	}
}

// decodeRow decodes one spooled row into vals, restoring integers in
// TypeInt columns.
func decodeRow(line []byte, cols []reports.Column, vals []any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if len(raw) != len(cols) {
		return fmt.Errorf("%d values for %d columns", len(raw), len(cols))
	}
	for i, v := range raw {
		if n, ok := v.(json.Number); ok {
			if cols[i].Type != reports.TypeInt {
				return fmt.Errorf("column %s: unexpected number", cols[i].Name)
			}
			x, err := n.Int64()
			if err != nil {
				return fmt.Errorf("column %s: %w", cols[i].Name, err)
			}
			v = x
		}
		vals[i] = v
	}
	return nil
}
