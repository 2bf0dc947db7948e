package reports

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	kflate "github.com/klauspost/compress/flate"
	"github.com/xuri/excelize/v2"
)

const (
	// summarySheet is the name of the summary sheet; tables cannot use it.
	summarySheet = "Summary"
	// maxSheetName is Excel's limit on sheet names, in UTF-16 units.
	maxSheetName = 31
	// maxXLSXRows is the number of data rows that fit below the header.
	maxXLSXRows = excelize.TotalRows - 1
	// widthSampleRows bounds the rows measured to fit column widths.
	widthSampleRows = 1000
	// maxColumnWidth caps a fitted column width, in characters.
	maxColumnWidth = 60
	// minColumnWidth leaves room for the header's filter button.
	minColumnWidth = 8
	// xlsxTimeFormat is the number format of time cells.
	xlsxTimeFormat = "yyyy-mm-dd hh:mm:ss"
)

// ErrTooManyRows is matched (with errors.Is) when a table outgrows an XLSX
// sheet (1,048,575 data rows).
var ErrTooManyRows = errors.New("too many rows for an XLSX sheet")

// xlsxTables writes one workbook. Rows are spooled to one temporary file
// per table (in a directory next to the output) while tables are filled,
// concurrently if need be; Commit streams each spool into its sheet with
// excelize's StreamWriter, so memory stays bounded whatever the row count.
type xlsxTables struct {
	path  string
	force bool

	mu      sync.Mutex
	spool   string          // temporary directory next to path
	tables  map[string]bool // table names in use
	sheets  map[string]bool // lower-cased sheet names in use
	sinks   []*xlsxSink
	summary *Summary
	done    bool
}

func newXLSXTables(path string, opts TablesOptions) (*xlsxTables, error) {
	if err := CheckOverwrite(path, opts.Force); err != nil {
		return nil, err
	}
	spool, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".spool-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &xlsxTables{
		path:   path,
		force:  opts.Force,
		spool:  spool,
		tables: map[string]bool{},
		sheets: map[string]bool{strings.ToLower(summarySheet): true, "history": true},
	}, nil
}

// Table implements Tables.
func (t *xlsxTables) Table(name string, cols []Column) (Sink, error) {
	if err := checkColumns(name, cols); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, fmt.Errorf("start table %s: %w", name, os.ErrClosed)
	}
	if t.tables[name] {
		return nil, fmt.Errorf("start table %s: table already exists", name)
	}
	sheet := uniqueSheetName(sanitizeSheetName(name), t.sheets)
	f, err := os.OpenFile(filepath.Join(t.spool, strconv.Itoa(len(t.sinks))+".spool"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start table %s: %w", name, err)
	}
	s := &xlsxSink{name: name, sheet: sheet, cols: cols, f: f, bw: bufio.NewWriterSize(f, 64<<10)}
	s.widths = make([]int, len(cols))
	for i, c := range cols {
		s.widths[i] = textWidth(c.Name)
	}
	t.tables[name] = true
	t.sheets[strings.ToLower(sheet)] = true
	t.sinks = append(t.sinks, s)
	return s, nil
}

// Summary implements Tables.
func (t *xlsxTables) Summary(s Summary) error {
	if err := checkColumns(summarySheet, s.Columns); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	rows := make([][]any, len(s.Rows))
	for i, r := range s.Rows {
		n, err := normalizeRow(s.Columns, r)
		if err != nil {
			return fmt.Errorf("write summary: row %d: %w", i+1, err)
		}
		rows[i] = n
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("write summary: %w", os.ErrClosed)
	}
	if t.summary != nil {
		return errors.New("write summary: summary already written")
	}
	t.summary = &Summary{Title: s.Title, Columns: s.Columns, Rows: rows}
	return nil
}

// Abort implements Tables.
func (t *xlsxTables) Abort() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	for _, s := range t.sinks {
		s.abort()
	}
	_ = os.RemoveAll(t.spool)
}

// Commit implements Tables: it builds the workbook from the spools and
// writes it atomically.
func (t *xlsxTables) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("commit %s: %w", t.path, os.ErrClosed)
	}
	t.done = true
	defer func() {
		for _, s := range t.sinks {
			_ = s.f.Close() // already closed when streamed
		}
		_ = os.RemoveAll(t.spool)
	}()
	var errs []error
	for _, s := range t.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commit %s: %w", t.path, err)
	}
	out, err := CreateAtomic(t.path, 0o600, Force(t.force))
	if err != nil {
		return err
	}
	defer out.Abort()
	if err := t.build(out); err != nil {
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	return out.Commit()
}

// build writes the workbook to w.
func (t *xlsxTables) build(w io.Writer) (err error) {
	f := excelize.NewFile(excelize.Options{TmpDir: t.spool})
	f.SetZipWriter(newZipWriter)
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := newXLSXStyles(f)
	if err != nil {
		return err
	}
	var names []string
	if t.summary != nil {
		names = append(names, summarySheet)
	}
	for _, s := range t.sinks {
		names = append(names, s.sheet)
	}
	if len(names) == 0 {
		names = append(names, summarySheet) // a workbook needs a sheet
	}
	if err := f.SetSheetName("Sheet1", names[0]); err != nil {
		return err
	}
	for _, n := range names[1:] {
		if _, err := f.NewSheet(n); err != nil {
			return fmt.Errorf("add sheet %s: %w", n, err)
		}
	}
	if t.summary != nil {
		if err := writeSummarySheet(f, st, t.summary); err != nil {
			return fmt.Errorf("write sheet %s: %w", summarySheet, err)
		}
	}
	for _, s := range t.sinks {
		if err := s.stream(f, st); err != nil {
			return fmt.Errorf("write sheet %s: %w", s.sheet, err)
		}
	}
	f.SetActiveSheet(0)
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := f.Write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// newZipWriter is the workbook's ZIP writer: archive/zip with klauspost's
// deflate, which compresses sheet XML about twice as fast as
// compress/flate to a file of about the same size (excelize spends a third
// of a large workbook's time compressing).
func newZipWriter(w io.Writer) excelize.ZipWriter {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return kflate.NewWriter(out, kflate.DefaultCompression)
	})
	return zw
}

// xlsxStyles are the style ids shared by all sheets.
type xlsxStyles struct {
	header int
	time   int
}

func newXLSXStyles(f *excelize.File) (xlsxStyles, error) {
	var st xlsxStyles
	var err error
	st.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "8EA9DB", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "center"},
	})
	if err != nil {
		return st, fmt.Errorf("add header style: %w", err)
	}
	format := xlsxTimeFormat
	st.time, err = f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		return st, fmt.Errorf("add time style: %w", err)
	}
	return st, nil
}

// xlsxSink spools the rows of one sheet.
type xlsxSink struct {
	name  string
	sheet string
	cols  []Column

	mu     sync.Mutex
	f      *os.File
	bw     *bufio.Writer
	buf    []byte
	row    []any // scratch for the normalised row
	rows   int
	widths []int // fitted widths, from the header and a bounded sample
	err    error
	closed bool
}

// WriteRow implements Sink.
func (s *xlsxSink) WriteRow(vals ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	row, err := normalizeRowInto(s.row, s.cols, vals)
	if err != nil {
		return fmt.Errorf("write table %s: %w", s.name, err)
	}
	s.row = row
	switch {
	case s.closed:
		return fmt.Errorf("write table %s: %w", s.name, os.ErrClosed)
	case s.err != nil:
		return s.err
	case s.rows >= maxXLSXRows:
		return fmt.Errorf("write table %s: %w (%d)", s.name, ErrTooManyRows, maxXLSXRows)
	}
	if s.rows < widthSampleRows {
		for i, v := range row {
			s.widths[i] = max(s.widths[i], cellWidth(v))
		}
	}
	b := s.buf[:0]
	for _, v := range row {
		b = appendSpoolValue(b, v)
	}
	s.buf = b
	if _, err := s.bw.Write(b); err != nil {
		s.err = fmt.Errorf("write table %s: %w", s.name, err)
		return s.err
	}
	s.rows++
	return nil
}

// Close implements Sink: it flushes the spool. The rows reach the workbook
// on Commit.
func (s *xlsxSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	if err := s.bw.Flush(); err != nil && s.err == nil {
		s.err = fmt.Errorf("write table %s: %w", s.name, err)
	}
	return s.err
}

func (s *xlsxSink) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	_ = s.f.Close()
}

// stream writes the sheet from the spool: header, fitted widths, frozen
// header row, rows, and an auto-filter over the data range.
func (s *xlsxSink) stream(f *excelize.File, st xlsxStyles) error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(s.sheet)
	if err != nil {
		return err
	}
	for i, w := range s.widths {
		if err := sw.SetColWidth(i+1, i+1, fitWidth(w)); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(freezeHeader()); err != nil {
		return err
	}
	header := make([]any, len(s.cols))
	for i, c := range s.cols {
		header[i] = excelize.Cell{StyleID: st.header, Value: c.Name}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return err
	}
	r := bufio.NewReaderSize(s.f, 64<<10)
	vals := make([]any, len(s.cols))
	var sbuf []byte
	for row := 2; row < s.rows+2; row++ {
		for i := range vals {
			v, err := readSpoolValue(r, &sbuf)
			if err != nil {
				return fmt.Errorf("read spool of row %d: %w", row-1, err)
			}
			vals[i] = xlsxValue(v, st)
		}
		if err := sw.SetRow("A"+strconv.Itoa(row), vals); err != nil {
			return err
		}
	}
	last, err := excelize.CoordinatesToCellName(len(s.cols), s.rows+1)
	if err != nil {
		return err
	}
	// AutoFilter edits the worksheet that the stream writer flushes, so it
	// must come before Flush.
	if err := f.AutoFilter(s.sheet, "A1:"+last, nil); err != nil {
		return err
	}
	return sw.Flush()
}

// xlsxValue maps a normalised value to an excelize cell value.
func xlsxValue(v any, st xlsxStyles) any {
	if t, ok := v.(time.Time); ok {
		return excelize.Cell{StyleID: st.time, Value: t}
	}
	return v
}

func freezeHeader() *excelize.Panes {
	return &excelize.Panes{
		Freeze:      true,
		YSplit:      1,
		TopLeftCell: "A2",
		ActivePane:  "bottomLeft",
		Selection:   []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}
}

// writeSummarySheet writes the summary table and, when it has rows and
// numeric columns, a clustered bar chart of it to the right.
func writeSummarySheet(f *excelize.File, st xlsxStyles, s *Summary) error {
	widths := make([]int, len(s.Columns))
	header := make([]any, len(s.Columns))
	for i, c := range s.Columns {
		header[i] = c.Name
		widths[i] = textWidth(c.Name)
	}
	if err := f.SetSheetRow(summarySheet, "A1", &header); err != nil {
		return err
	}
	lastCol, err := excelize.ColumnNumberToName(len(s.Columns))
	if err != nil {
		return err
	}
	if err := f.SetCellStyle(summarySheet, "A1", lastCol+"1", st.header); err != nil {
		return err
	}
	for r, row := range s.Rows {
		for c, v := range row {
			cell, err := excelize.CoordinatesToCellName(c+1, r+2)
			if err != nil {
				return err
			}
			widths[c] = max(widths[c], cellWidth(v))
			if err := setSummaryCell(f, cell, v, st); err != nil {
				return err
			}
		}
	}
	for i, w := range widths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(summarySheet, col, col, fitWidth(w)); err != nil {
			return err
		}
	}
	if err := f.SetPanes(summarySheet, freezeHeader()); err != nil {
		return err
	}
	chart := summaryChart(s)
	if chart == nil {
		return nil
	}
	anchor, _ := excelize.ColumnNumberToName(len(s.Columns) + 2)
	return f.AddChart(summarySheet, anchor+"2", chart)
}

func setSummaryCell(f *excelize.File, cell string, v any, st xlsxStyles) error {
	if v == nil {
		return nil
	}
	if err := f.SetCellValue(summarySheet, cell, v); err != nil {
		return err
	}
	if _, ok := v.(time.Time); ok {
		return f.SetCellStyle(summarySheet, cell, cell, st.time)
	}
	return nil
}

// summaryChart returns a clustered bar chart with the first column as
// categories and one series per numeric column, or nil if there is nothing
// to plot.
func summaryChart(s *Summary) *excelize.Chart {
	if len(s.Rows) == 0 {
		return nil
	}
	sheet := "'" + summarySheet + "'!"
	last := strconv.Itoa(len(s.Rows) + 1)
	var series []excelize.ChartSeries
	for i, c := range s.Columns {
		if i == 0 || (c.Type != TypeInt && c.Type != TypeFloat) {
			continue
		}
		col, _ := excelize.ColumnNumberToName(i + 1)
		series = append(series, excelize.ChartSeries{
			Name:       sheet + "$" + col + "$1",
			Categories: sheet + "$A$2:$A$" + last,
			Values:     sheet + "$" + col + "$2:$" + col + "$" + last,
		})
	}
	if len(series) == 0 {
		return nil
	}
	title := s.Title
	if title == "" {
		title = summarySheet
	}
	// Horizontal bars: roughly one bar group per 20 pixels, at least 320.
	height := max(320, 60+len(s.Rows)*len(series)*14)
	vary := false // one colour per series, not per bar
	return &excelize.Chart{
		Type:       excelize.Bar,
		Series:     series,
		VaryColors: &vary,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title}}},
		Legend:     excelize.ChartLegend{Position: "bottom"},
		Dimension:  excelize.ChartDimension{Width: 640, Height: uint(min(height, 4000))},
		// Categories read top to bottom in the same order as the table.
		XAxis: excelize.ChartAxis{ReverseOrder: true},
	}
}

// cellWidth is the display width of a normalised value, in characters.
func cellWidth(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case time.Time:
		return len(xlsxTimeFormat)
	case string:
		// Only the first line shows in a cell of default height.
		if i := strings.IndexAny(v, "\r\n"); i >= 0 {
			v = v[:i]
		}
		return textWidth(v)
	default:
		return len(formatNormalized(v))
	}
}

// textWidth approximates the width of s in characters.
func textWidth(s string) int { return utf8.RuneCountInString(s) }

// fitWidth turns a content width into an Excel column width: padding for
// the filter button, within [minColumnWidth, maxColumnWidth].
func fitWidth(w int) float64 {
	return float64(min(max(w+3, minColumnWidth), maxColumnWidth))
}

// sanitizeSheetName applies Excel's rules: no []:*?/\ (replaced by '_'),
// no leading or trailing apostrophe, not empty, at most 31 UTF-16 units.
func sanitizeSheetName(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case strings.ContainsRune(`[]:*?/\`, r):
			return '_'
		case r < 0x20 || r == utf8.RuneError:
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, "'")
	if name == "" {
		name = "Sheet"
	}
	return truncateUTF16(name, maxSheetName)
}

// truncateUTF16 cuts s to at most n UTF-16 units, on a rune boundary.
func truncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return strings.TrimRight(s[:i], "'")
		}
	}
	return s
}

// uniqueSheetName returns name, or name with a "~2", "~3"… suffix, so that
// it is not in taken (compared case-insensitively, as Excel does).
func uniqueSheetName(name string, taken map[string]bool) string {
	if !taken[strings.ToLower(name)] {
		return name
	}
	for i := 2; ; i++ {
		suffix := "~" + strconv.Itoa(i)
		cand := truncateUTF16(name, maxSheetName-len(suffix)) + suffix
		if !taken[strings.ToLower(cand)] {
			return cand
		}
	}
}
