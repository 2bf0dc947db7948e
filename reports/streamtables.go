package reports

import (
	"bufio"
	"fmt"
	"io"
	"sync"
)

// NewStreamTables returns Tables that write one table, the one named keep,
// to w in format (CSV or JSON Lines) as its rows come, for a command's
// "--out -": stdout is a single stream, so it carries a single table. The
// other tables, the summary and the about table are checked and discarded. Commit flushes
// what is buffered; Abort cannot take back what was written, so the
// command must check everything it can before the first row.
func NewStreamTables(w io.Writer, format Format, keep string) (Tables, error) {
	var enc rowEncoding
	switch format {
	case FormatCSV:
		enc = csvEncoding{}
	case FormatJSONL:
		enc = jsonlEncoding{}
	default:
		return nil, fmt.Errorf("%w %q: only csv and jsonl are a single stream", ErrBadFormat, string(format))
	}
	return &streamTables{w: bufio.NewWriter(w), enc: enc, keep: keep}, nil
}

type streamTables struct {
	enc  rowEncoding
	keep string

	mu   sync.Mutex
	w    *bufio.Writer
	sink *streamSink
	done bool
}

// Table returns the sink of the kept table, or one that checks rows and
// discards them.
func (t *streamTables) Table(name string, cols []Column) (Sink, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, fmt.Errorf("table %s: tables already committed", name)
	}
	s := &streamSink{t: t, cols: cols}
	if name != t.keep {
		return s, nil
	}
	if t.sink != nil {
		return nil, fmt.Errorf("table %s: started twice", name)
	}
	s.rw = t.enc.newWriter(t.w, cols)
	if err := s.rw.header(); err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	t.sink = s
	return s, nil
}

// Summary is discarded: stdout carries the one table.
func (t *streamTables) Summary(Summary) error { return nil }

// About is discarded: stdout carries the one table (the outcome line on
// stderr says what was written).
func (t *streamTables) About(About) error { return nil }

// Commit flushes the stream.
func (t *streamTables) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	if t.sink != nil {
		if err := t.sink.rw.flush(); err != nil {
			return fmt.Errorf("write %s: %w", t.keep, err)
		}
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", t.keep, err)
	}
	return nil
}

// Abort stops writing; what was written stays written.
func (t *streamTables) Abort() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

// streamSink is a table of a streamTables: rw is nil for a discarded one.
type streamSink struct {
	t    *streamTables
	cols []Column
	rw   rowWriter
	buf  []any
}

func (s *streamSink) WriteRow(vals ...any) error {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	row, err := normalizeRowInto(s.buf, s.cols, vals)
	if err != nil {
		return err
	}
	s.buf = row
	if s.rw == nil {
		return nil
	}
	if s.t.done {
		return fmt.Errorf("write %s: tables already committed", s.t.keep)
	}
	return s.rw.row(row)
}

func (s *streamSink) Close() error { return nil }
