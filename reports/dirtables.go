package reports

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// rowEncoding is a file format for directory outputs.
type rowEncoding interface {
	ext() string
	newWriter(w io.Writer, cols []Column) rowWriter
}

// rowWriter writes the rows of one table file. Methods are called with the
// sink's lock held.
type rowWriter interface {
	header() error
	row(vals []any) error // normalised values
	flush() error
}

// dirTables writes one file per table into an AtomicDir.
type dirTables struct {
	enc rowEncoding

	mu      sync.Mutex
	dir     *AtomicDir
	files   map[string]bool // lower-cased file names in use
	sinks   []*fileSink
	summary bool
	about   *About
	done    bool
}

func newDirTables(path string, opts TablesOptions, enc rowEncoding) (*dirTables, error) {
	ext := enc.ext()
	dir, err := CreateAtomicDir(path, 0o700, Force(opts.Force), replaceOnly(func(e fs.DirEntry) bool {
		return strings.HasSuffix(e.Name(), ext)
	}))
	if err != nil {
		return nil, err
	}
	return &dirTables{enc: enc, dir: dir, files: map[string]bool{}}, nil
}

// Table implements Tables.
func (t *dirTables) Table(name string, cols []Column) (Sink, error) {
	if err := checkColumns(name, cols); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, fmt.Errorf("start table %s: %w", name, os.ErrClosed)
	}
	file := sanitizeFileName(name) + t.enc.ext()
	if t.files[strings.ToLower(file)] {
		return nil, fmt.Errorf("start table %s: file %s already used by another table", name, file)
	}
	f, err := t.dir.Create(file)
	if err != nil {
		return nil, fmt.Errorf("start table %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	s := &fileSink{name: name, cols: cols, f: f, bw: bw, w: t.enc.newWriter(bw, cols)}
	if err := s.w.header(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start table %s: %w", name, err)
	}
	t.files[strings.ToLower(file)] = true
	t.sinks = append(t.sinks, s)
	return s, nil
}

// Summary implements Tables: the summary is a table named "summary".
func (t *dirTables) Summary(s Summary) error {
	t.mu.Lock()
	if t.summary {
		t.mu.Unlock()
		return errors.New("write summary: summary already written")
	}
	t.summary = true
	t.mu.Unlock()
	return writeSummaryTable(t, s)
}

// writeSummaryTable writes s as an ordinary table named "summary".
func writeSummaryTable(t Tables, s Summary) error {
	sink, err := t.Table("summary", s.Columns)
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	for _, r := range s.Rows {
		if err := sink.WriteRow(r...); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	}
	return sink.Close()
}

// About implements Tables: about.csv or about.json, written on Commit.
func (t *dirTables) About(a About) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.done:
		return fmt.Errorf("write about: %w", os.ErrClosed)
	case t.about != nil:
		return errors.New("write about: about already written")
	case t.files[strings.ToLower(t.aboutFile())]:
		return fmt.Errorf("write about: file %s already used by a table", t.aboutFile())
	}
	t.files[strings.ToLower(t.aboutFile())] = true
	t.about = &a
	return nil
}

// aboutFile is the name of the about file: about.json next to JSON Lines
// files, about.csv next to CSV files.
func (t *dirTables) aboutFile() string {
	if _, ok := t.enc.(jsonlEncoding); ok {
		return "about.json"
	}
	return "about" + t.enc.ext()
}

// aboutColumns are the columns of about.csv.
var aboutColumns = []Column{
	{Name: "section"}, {Name: "name"}, {Name: "value"}, {Name: "rows", Type: TypeInt}, {Name: "detail"},
}

// aboutRows returns the rows of an About in aboutColumns: one per field
// (section "about"), then one per table (section "table") with its status
// as the value and the rows written, from rows (nil when the table was not
// written).
func aboutRows(a *About, rows func(table string) (int, bool)) [][]any {
	var out [][]any
	for _, f := range a.Fields {
		out = append(out, []any{"about", f.Name, f.Value, nil, nil})
	}
	for _, ts := range a.Tables {
		var n any
		if c, ok := rows(ts.Table); ok {
			n = c
		}
		out = append(out, []any{"table", ts.Table, ts.Status, n, ts.Detail})
	}
	return out
}

// writeAbout writes the about file.
func (t *dirTables) writeAbout() error {
	rows := func(table string) (int, bool) {
		for _, s := range t.sinks {
			if s.name == table {
				return s.rows, true
			}
		}
		return 0, false
	}
	f, err := t.dir.Create(t.aboutFile())
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if _, ok := t.enc.(jsonlEncoding); ok {
		err = writeAboutJSON(bw, t.about, rows)
	} else {
		w := t.enc.newWriter(bw, aboutColumns)
		err = w.header()
		for _, r := range aboutRows(t.about, rows) {
			if err != nil {
				break
			}
			var n []any
			if n, err = normalizeRow(aboutColumns, r); err == nil {
				err = w.row(n)
			}
		}
		if err == nil {
			err = w.flush()
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", t.aboutFile(), err)
	}
	return nil
}

// writeAboutJSON writes a as one JSON object: the fields as string
// members in order, then "tables", an array of {"table", "status", "rows",
// "detail"} objects (rows and detail null when unknown or empty).
func writeAboutJSON(w io.Writer, a *About, rows func(string) (int, bool)) error {
	b := []byte("{")
	for _, f := range a.Fields {
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = appendJSONValue(b, emptyToNil(f.Value))
		b = append(b, ",\n"...)
	}
	b = append(b, `"tables":[`...)
	for i, ts := range a.Tables {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n{\"table\":"...)
		b = appendJSONString(b, ts.Table)
		b = append(b, `,"status":`...)
		b = appendJSONString(b, ts.Status)
		b = append(b, `,"rows":`...)
		if n, ok := rows(ts.Table); ok {
			b = strconv.AppendInt(b, int64(n), 10)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"detail":`...)
		b = appendJSONValue(b, emptyToNil(ts.Detail))
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	_, err := w.Write(b)
	return err
}

// emptyToNil is nil for "", else s.
func emptyToNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Commit implements Tables.
func (t *dirTables) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("commit %s: %w", t.dir.Name(), os.ErrClosed)
	}
	t.done = true
	var errs []error
	for _, s := range t.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if t.about != nil && len(errs) == 0 {
		if err := t.writeAbout(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.dir.Abort()
		return fmt.Errorf("commit %s: %w", t.dir.Name(), err)
	}
	return t.dir.Commit()
}

// Abort implements Tables.
func (t *dirTables) Abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	for _, s := range t.sinks {
		s.abort()
	}
	t.dir.Abort()
}

// fileSink is the Sink of one table file.
type fileSink struct {
	name string
	cols []Column

	mu     sync.Mutex
	f      *os.File
	bw     *bufio.Writer
	w      rowWriter
	row    []any // scratch for the normalised row
	rows   int   // rows written
	err    error // first write error; sticky
	closed bool
}

// WriteRow implements Sink.
func (s *fileSink) WriteRow(vals ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, err := normalizeRowInto(s.row, s.cols, vals)
	if err != nil {
		return fmt.Errorf("write table %s: %w", s.name, err)
	}
	s.row = row
	if s.closed {
		return fmt.Errorf("write table %s: %w", s.name, os.ErrClosed)
	}
	if s.err != nil {
		return s.err
	}
	if err := s.w.row(row); err != nil {
		s.err = fmt.Errorf("write table %s: %w", s.name, err)
		return s.err
	}
	s.rows++
	return nil
}

// Close implements Sink. It flushes and closes the file; it returns the
// first write error, if any, and is idempotent.
func (s *fileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	err := s.w.flush()
	if err == nil {
		err = s.bw.Flush()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("write table %s: %w", s.name, err)
	}
	return s.err
}

func (s *fileSink) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		_ = s.f.Close()
	}
}

// checkColumns rejects tables without columns and duplicate or empty
// column names (JSON keys and headers must be unique).
func checkColumns(table string, cols []Column) error {
	if table == "" {
		return errors.New("start table: empty table name")
	}
	if len(cols) == 0 {
		return fmt.Errorf("start table %s: no columns", table)
	}
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if c.Name == "" {
			return fmt.Errorf("start table %s: empty column name", table)
		}
		if seen[c.Name] {
			return fmt.Errorf("start table %s: duplicate column %q", table, c.Name)
		}
		if c.Type < TypeString || c.Type > TypeList {
			return fmt.Errorf("start table %s: column %q: unknown type %v", table, c.Name, c.Type)
		}
		seen[c.Name] = true
	}
	return nil
}

// sanitizeFileName turns a table name into a portable file name: letters,
// digits, '-', '_' and '.' are kept, anything else becomes '_', a leading
// '.' becomes '_', and the result is at most 100 bytes.
func sanitizeFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := b.String()
	if strings.HasPrefix(s, ".") {
		s = "_" + s[1:]
	}
	if s == "" {
		s = "table"
	}
	return s
}

// csvEncoding writes RFC 4180 CSV with encoding/csv: a header row of
// column names, then one record per row in canonical text (FormatValue).
// Lines end in "\n".
type csvEncoding struct{}

func (csvEncoding) ext() string { return ".csv" }

func (csvEncoding) newWriter(w io.Writer, cols []Column) rowWriter {
	return &csvWriter{w: csv.NewWriter(w), cols: cols, rec: make([]string, len(cols))}
}

type csvWriter struct {
	w    *csv.Writer
	cols []Column
	rec  []string
}

func (c *csvWriter) header() error {
	for i, col := range c.cols {
		c.rec[i] = col.Name
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) row(vals []any) error {
	for i, v := range vals {
		c.rec[i] = formatNormalized(v)
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonlEncoding writes JSON Lines: one object per row, keyed by column
// name in column order, with numbers and booleans as JSON numbers and
// booleans, times as RFC 3339 strings, lists as arrays of strings and
// empty values as null.
type jsonlEncoding struct{}

func (jsonlEncoding) ext() string { return ".jsonl" }

func (jsonlEncoding) newWriter(w io.Writer, cols []Column) rowWriter {
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		keys[i] = appendJSONString(nil, c.Name)
	}
	return &jsonlWriter{w: w, keys: keys}
}

type jsonlWriter struct {
	w    io.Writer
	keys [][]byte // JSON-quoted column names
	buf  []byte
}

func (j *jsonlWriter) header() error { return nil }

func (j *jsonlWriter) row(vals []any) error {
	b := append(j.buf[:0], '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, j.keys[i]...)
		b = append(b, ':')
		b = appendJSONValue(b, v)
	}
	b = append(b, '}', '\n')
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonlWriter) flush() error { return nil }

// appendJSONValue appends a normalised value as JSON.
func appendJSONValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		// Like encoding/json: exponent form only for very small or large values.
		format := byte('f')
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
		return strconv.AppendFloat(b, v, format, -1, 64)
	case bool:
		return strconv.AppendBool(b, v)
	case time.Time:
		b = append(b, '"')
		b = v.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	case textList:
		if v.nested != nil {
			b = append(b, '[')
			for i, inner := range v.nested {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONStrings(b, inner)
			}
			return append(b, ']')
		}
		return appendJSONStrings(b, v.items)
	}
	panic(fmt.Sprintf("reports: unnormalised value %T", v))
}

// appendJSONStrings appends ss as a JSON array of strings.
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Control characters, quotes,
// backslashes and U+2028/U+2029 are escaped; invalid UTF-8 becomes U+FFFD;
// '<', '>' and '&' are kept as they are.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	kept := 0 // s[kept:i] is copied as it is, in one append
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[kept:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			kept = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[kept:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[kept:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		kept = i
	}
	b = append(b, s[kept:]...)
	return append(b, '"')
}
