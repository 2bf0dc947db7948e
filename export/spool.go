package export

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/dbiam/dbiam/reports"
)

// The spool keeps memory bounded whatever the account size: each workspace's
// rows are sorted and written to its own temporary file as soon as the
// workspace is done, one section per table; once every workspace is done the
// sections are copied into the output, table by table, in workspace order.
// Only the workspaces being exported are held in memory at once.
//
// A row is a count of values, then each value as a tag byte (nil, false,
// true, integer, string, list) followed, for integers, by a zig-zag varint,
// for strings, by a length varint and the bytes, and for lists by a count
// varint and each item as a string. Encoding and decoding cost
// little next to the requests; JSON was a fifth of the CPU of a large export.

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
	buf      []byte // scratch for one encoded row
	err      error
}

// create starts a new spool file named after key.
func (s *spool) create(key string) (*spoolWriter, error) {
	f, err := os.OpenFile(filepath.Join(s.dir, key+".rows"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
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

// row appends one row to the current section. Values must be nil, string,
// bool, int, *bool, []string or [][]string (an empty list is nil).
func (w *spoolWriter) row(vals ...any) {
	if w.err != nil {
		return
	}
	if w.table == "" {
		w.err = errors.New("spool row outside a section")
		return
	}
	b := binary.AppendUvarint(w.buf[:0], uint64(len(vals)))
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b = append(b, tagNil)
		case bool:
			b = appendBool(b, v)
		case *bool:
			if v == nil {
				b = append(b, tagNil)
			} else {
				b = appendBool(b, *v)
			}
		case int:
			b = binary.AppendVarint(append(b, tagInt), int64(v))
		case string:
			b = binary.AppendUvarint(append(b, tagString), uint64(len(v)))
			b = append(b, v...)
		case []string:
			if len(v) == 0 {
				b = append(b, tagNil)
				continue
			}
			b = binary.AppendUvarint(append(b, tagList), uint64(len(v)))
			for _, item := range v {
				b = binary.AppendUvarint(b, uint64(len(item)))
				b = append(b, item...)
			}
		case [][]string:
			if len(v) == 0 {
				b = append(b, tagNil)
				continue
			}
			b = binary.AppendUvarint(append(b, tagPaths), uint64(len(v)))
			for _, path := range v {
				b = binary.AppendUvarint(b, uint64(len(path)))
				for _, item := range path {
					b = binary.AppendUvarint(b, uint64(len(item)))
					b = append(b, item...)
				}
			}
		default:
			w.err = fmt.Errorf("spool %s row: unsupported value %T", w.table, v)
			return
		}
	}
	w.buf = b
	n, err := w.w.Write(b)
	w.off += int64(n)
	w.rows++
	w.err = err
}

// Value tags of the spool encoding.
const (
	tagNil byte = iota
	tagFalse
	tagTrue
	tagInt
	tagString
	tagList
	tagPaths // a list of lists of strings
)

// tagType is the column type that holds values of tag.
func tagType(tag byte) reports.ColumnType {
	switch tag {
	case tagFalse, tagTrue:
		return reports.TypeBool
	case tagInt:
		return reports.TypeInt
	case tagList, tagPaths:
		return reports.TypeList
	}
	return reports.TypeString
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, tagTrue)
	}
	return append(b, tagFalse)
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
	var d rowDecoder
	for n := range sec.rows {
		if err := d.decode(r, cols, vals); err != nil {
			return fmt.Errorf("read spool file %s: %s row %d: %w", f.path, table, n+1, err)
		}
		if fix != nil {
			fix(vals)
		}
		if err := sink.WriteRow(vals...); err != nil {
			return fmt.Errorf("write %s: %w", table, err)
		}
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("read spool file %s: %s: data after %d rows", f.path, table, sec.rows)
	}
	return nil
}

// rowDecoder decodes spooled rows. Its scratch space is reused from row to
// row; the strings of a row share one allocation, and so do its lists'
// items.
type rowDecoder struct {
	buf   []byte       // the row's string bytes
	spans []stringSpan // where each string value is in buf
	lists []listSpan   // which spans are the items of each list value
}

// stringSpan locates a string of the row in buf; col is -1 for a list
// item.
type stringSpan struct{ col, from, to int }

// listSpan is the list value of column col: spans[first:first+n].
type listSpan struct{ col, first, n int }

// decode reads one spooled row into vals, checking it against cols.
func (d *rowDecoder) decode(r *bufio.Reader, cols []reports.Column, vals []any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if n != uint64(len(cols)) {
		return fmt.Errorf("%d values for %d columns", n, len(cols))
	}
	d.buf, d.spans, d.lists = d.buf[:0], d.spans[:0], d.lists[:0]
	for i, c := range cols {
		tag, err := r.ReadByte()
		if err != nil {
			return err
		}
		if tag != tagNil && tagType(tag) != c.Type {
			return fmt.Errorf("column %s: value tag %d in a %v column", c.Name, tag, c.Type)
		}
		switch tag {
		case tagNil:
			vals[i] = nil
		case tagFalse, tagTrue:
			vals[i] = tag == tagTrue
		case tagInt:
			x, err := binary.ReadVarint(r)
			if err != nil {
				return err
			}
			vals[i] = x
		case tagString:
			if err := d.readString(r, c, i); err != nil {
				return err
			}
		case tagList:
			n, err := binary.ReadUvarint(r)
			if err != nil {
				return err
			}
			if n == 0 || n > 1<<20 {
				return fmt.Errorf("column %s: list of %d items", c.Name, n)
			}
			d.lists = append(d.lists, listSpan{col: i, first: len(d.spans), n: int(n)})
			for range n {
				if err := d.readString(r, c, -1); err != nil {
					return err
				}
			}
		case tagPaths:
			paths, err := readPaths(r, c)
			if err != nil {
				return err
			}
			vals[i] = paths
		default:
			return fmt.Errorf("column %s: unknown value tag %d", c.Name, tag)
		}
	}
	all := string(d.buf)
	for _, sp := range d.spans {
		if sp.col >= 0 {
			vals[sp.col] = all[sp.from:sp.to]
		}
	}
	for _, l := range d.lists {
		items := make([]string, l.n)
		for k, sp := range d.spans[l.first : l.first+l.n] {
			items[k] = all[sp.from:sp.to]
		}
		vals[l.col] = items
	}
	return nil
}

// readPaths reads a list of lists of strings (tagPaths), each string in
// an allocation of its own (they are few: the paths of via_groups).
func readPaths(r *bufio.Reader, c reports.Column) ([][]string, error) {
	count := func(what string) (int, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return 0, err
		}
		if n == 0 || n > 1<<20 {
			return 0, fmt.Errorf("column %s: %s of %d items", c.Name, what, n)
		}
		return int(n), nil
	}
	n, err := count("list")
	if err != nil {
		return nil, err
	}
	paths := make([][]string, n)
	for i := range paths {
		m, err := count("inner list")
		if err != nil {
			return nil, err
		}
		paths[i] = make([]string, m)
		for k := range paths[i] {
			l, err := binary.ReadUvarint(r)
			if err != nil {
				return nil, err
			}
			if l > 1<<30 {
				return nil, fmt.Errorf("column %s: string of %d bytes", c.Name, l)
			}
			b := make([]byte, l)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			paths[i][k] = string(b)
		}
	}
	return paths, nil
}

// readString reads one length-prefixed string into buf and records its
// span for column col (-1: a list item).
func (d *rowDecoder) readString(r *bufio.Reader, c reports.Column, col int) error {
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	if l > 1<<30 {
		return fmt.Errorf("column %s: string of %d bytes", c.Name, l)
	}
	from := len(d.buf)
	d.buf = slices.Grow(d.buf, int(l))[:from+int(l)]
	if _, err := io.ReadFull(r, d.buf[from:]); err != nil {
		return err
	}
	d.spans = append(d.spans, stringSpan{col, from, len(d.buf)})
	return nil
}
