package reports

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

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
// concurrently if need be; Commit renders each spool as compressed sheet
// XML and splices it into the workbook excelize lays out (see build), so
// memory stays bounded whatever the row count.
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

// build writes the workbook to w. The rows of every table are rendered
// and compressed first (tables two at a time, chunks of a table in
// parallel); excelize then lays out the workbook around empty table sheets
// (widths, frozen header, auto-filter, summary and chart), and its parts go
// straight to w through a sheetZip that splices the rows into their sheets.
func (t *xlsxTables) build(w io.Writer) (err error) {
	f := excelize.NewFile(excelize.Options{TmpDir: t.spool})
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := newXLSXStyles(f)
	if err != nil {
		return err
	}
	parts := make([]sheetPart, len(t.sinks))
	errs := make([]error, len(t.sinks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, s := range t.sinks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			parts[i], errs[i] = s.renderRows(t.spool, i, st)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("write sheet %s: %w", s.sheet, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
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
		if err := s.layout(f); err != nil {
			return fmt.Errorf("write sheet %s: %w", s.sheet, err)
		}
	}
	f.SetActiveSheet(0)

	bw := bufio.NewWriterSize(w, 256<<10)
	z := newSheetZip(bw)
	ids := map[string]int{}
	for id, name := range f.GetSheetMap() {
		ids[name] = id
	}
	for i, s := range t.sinks {
		id, ok := ids[s.sheet]
		if !ok {
			return fmt.Errorf("write sheet %s: not in the workbook", s.sheet)
		}
		header := make([]any, len(s.cols))
		for j, c := range s.cols {
			header[j] = c.Name
		}
		name := "xl/worksheets/sheet" + strconv.Itoa(id) + ".xml"
		z.sheets[name] = &sheetSplice{name: name, header: appendXLSXRow(nil, 1, header, st.header, st), part: parts[i]}
	}
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return z })
	// The parts go to bw through z; excelize's own buffer stays empty.
	if err := f.Write(io.Discard); err != nil {
		return err
	}
	if z.err != nil {
		return z.err
	}
	return bw.Flush()
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
	rows   int
	widths []int // fitted widths, from the header and a bounded sample
	err    error
	closed bool
}

// WriteRow implements Sink.
func (s *xlsxSink) WriteRow(vals ...any) error {
	row, err := normalizeRow(s.cols, vals)
	if err != nil {
		return fmt.Errorf("write table %s: %w", s.name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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

// layout sets up the (empty) sheet of s: fitted widths, frozen header
// row, and an auto-filter over the header and data range. The rows are
// spliced in when the workbook is written.
func (s *xlsxSink) layout(f *excelize.File) error {
	for i, w := range s.widths {
		col, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return err
		}
		if err := f.SetColWidth(s.sheet, col, col, fitWidth(w)); err != nil {
			return err
		}
	}
	if err := f.SetPanes(s.sheet, freezeHeader()); err != nil {
		return err
	}
	last, err := excelize.CoordinatesToCellName(len(s.cols), s.rows+1)
	if err != nil {
		return err
	}
	return f.AutoFilter(s.sheet, "A1:"+last, nil)
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

// Sheet rows are rendered here rather than by excelize's StreamWriter: the
// cells are byte for byte what StreamWriter.SetRow writes for the same
// values (inline strings, number, boolean and styled date cells; see
// TestXLSXCellsMatchExcelize), at a fraction of the cost, and the rows go
// straight into compressed chunks instead of excelize's in-memory buffers.

// appendXLSXRow appends row number n (from 1) holding vals (normalised
// values; style, when not 0, applies to every cell) to b.
func appendXLSXRow(b []byte, n int, vals []any, style int, st xlsxStyles) []byte {
	b = append(b, `<row r="`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `">`...)
	for i, v := range vals {
		if v == nil {
			continue
		}
		b = appendXLSXCell(b, i, n, v, style, st)
	}
	return append(b, `</row>`...)
}

// appendCellRef appends the A1-style reference of column col (from 0) and
// row n.
func appendCellRef(b []byte, col, n int) []byte {
	var name [8]byte
	i := len(name)
	for c := col + 1; c > 0; c = (c - 1) / 26 {
		i--
		name[i] = byte('A' + (c-1)%26)
	}
	b = append(b, name[i:]...)
	return strconv.AppendInt(b, int64(n), 10)
}

func appendXLSXCell(b []byte, col, n int, v any, style int, st xlsxStyles) []byte {
	var typ, val string // val: the escaped content of <v>
	var num []byte
	inline := false
	switch v := v.(type) {
	case string:
		typ, inline = "inlineStr", true
	case int64:
		num = strconv.AppendInt(nil, v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return appendXLSXCell(b, col, n, fmt.Sprint(v), style, st)
		}
		val = formatCellFloat(v)
	case bool:
		typ, val = "b", "0"
		if v {
			val = "1"
		}
	case time.Time:
		if style == 0 {
			style = st.time
		}
		x := timeToExcelTime(v)
		if x <= 0 { // before 1900: excelize writes the RFC 3339 text as is
			return appendInlineCell(b, col, n, style, v.Format(time.RFC3339Nano), false)
		}
		val = strconv.FormatFloat(x, 'f', -1, 64)
	}
	if inline {
		return appendInlineCell(b, col, n, style, v.(string), true)
	}
	b = append(b, `<c r="`...)
	b = appendCellRef(b, col, n)
	b = append(b, '"')
	if style != 0 {
		b = append(b, ` s="`...)
		b = strconv.AppendInt(b, int64(style), 10)
		b = append(b, '"')
	}
	if typ != "" {
		b = append(b, ` t="`...)
		b = append(b, typ...)
		b = append(b, '"')
	}
	b = append(b, '>')
	if num != nil || val != "" {
		b = append(b, `<v>`...)
		b = append(b, num...)
		b = appendXMLEscaped(b, val, false)
		b = append(b, `</v>`...)
	}
	return append(b, `</c>`...)
}

// appendInlineCell appends an inline string cell. escape is false for text
// that excelize writes unescaped (a date too early for a serial number).
func appendInlineCell(b []byte, col, n, style int, s string, escape bool) []byte {
	if len(s) > maxCellChars { // bytes >= UTF-16 units: only then can it be too long
		s = truncateUTF16Units(s, maxCellChars)
	}
	b = append(b, `<c r="`...)
	b = appendCellRef(b, col, n)
	b = append(b, '"')
	if style != 0 {
		b = append(b, ` s="`...)
		b = strconv.AppendInt(b, int64(style), 10)
		b = append(b, '"')
	}
	b = append(b, ` t="inlineStr"><is><t`...)
	if s != "" && escape && (isXMLSpace(s[0]) || isXMLSpace(s[len(s)-1])) {
		b = append(b, ` xml:space="preserve"`...)
	}
	b = append(b, '>')
	if strings.Contains(s, "_x") {
		if escape {
			s = string(appendXMLEscaped(nil, s, true))
		}
		b = append(b, bstrMarshal(s)...)
	} else if escape {
		b = appendXMLEscaped(b, s, true)
	} else {
		b = append(b, s...)
	}
	return append(b, `</t></is></c>`...)
}

func isXMLSpace(c byte) bool { return c == '\t' || c == '\n' || c == '\r' || c == ' ' }

// maxCellChars is Excel's limit on a cell's text, in UTF-16 units.
const maxCellChars = 32767

// truncateUTF16Units cuts s to at most n UTF-16 units, on a rune boundary.
func truncateUTF16Units(s string, n int) string {
	units := 0
	for i, r := range s {
		if units += utf16.RuneLen(r); units > n {
			return s[:i]
		}
	}
	return s
}

// appendXMLEscaped appends s escaped as encoding/xml.EscapeText does
// (invalid characters become U+FFFD), with newlines kept as they are when
// keepNewline is set (excelize undoes their escaping in inline strings).
func appendXMLEscaped(b []byte, s string, keepNewline bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		width := 1
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				esc = "&#34;"
			case '\'':
				esc = "&#39;"
			case '&':
				esc = "&amp;"
			case '<':
				esc = "&lt;"
			case '>':
				esc = "&gt;"
			case '\t':
				esc = "&#x9;"
			case '\n':
				if keepNewline {
					i++
					continue
				}
				esc = "&#xA;"
			case '\r':
				esc = "&#xD;"
			default:
				if c < 0x20 {
					esc = "\uFFFD"
				} else {
					i++
					continue
				}
			}
		} else {
			r, w := utf8.DecodeRuneInString(s[i:])
			width = w
			if !(r == utf8.RuneError && w == 1) && isInCharacterRange(r) {
				i += w
				continue
			}
			esc = "\uFFFD"
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, s[last:]...)
}

// isInCharacterRange is encoding/xml's test for characters allowed in XML.
func isInCharacterRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// The following mirror excelize v2 (BSD-3-Clause) helpers that it does not
// export, so that cells come out as its StreamWriter writes them.

var (
	bstrExp       = regexp.MustCompile(`_x[a-fA-F\d]{4}_`)
	bstrEscapeExp = regexp.MustCompile(`x[a-fA-F\d]{4}_`)
)

// bstrMarshal escapes literal "_xHHHH_" sequences, which spreadsheet
// readers would otherwise decode (excelize's bstrMarshal).
func bstrMarshal(s string) (result string) {
	matches, l, cursor := bstrExp.FindAllStringSubmatchIndex(s, -1), len(s), 0
	for _, match := range matches {
		result += s[cursor:match[0]]
		subStr := s[match[0]:match[1]]
		if subStr == "_x005F_" {
			cursor = match[1]
			if match[1]+6 <= l && bstrEscapeExp.MatchString(s[match[1]:match[1]+6]) {
				_, err := strconv.Unquote(`"\u` + s[match[1]+1:match[1]+5] + `"`)
				if err == nil {
					result += subStr + "x005F" + subStr
					continue
				}
			}
			result += subStr + "x005F_"
			continue
		}
		if bstrExp.MatchString(subStr) {
			cursor = match[1]
			if _, err := strconv.Unquote(`"\u` + s[match[0]+2:match[1]-1] + `"`); err == nil {
				result += "_x005F" + subStr
				continue
			}
		}
	}
	if cursor < l {
		result += s[cursor:]
	}
	return result
}

// formatCellFloat is excelize's automatic float format: the shortest
// representation, cut to Excel's 15 significant digits.
func formatCellFloat(value float64) string {
	str := strconv.FormatFloat(value, 'f', -1, 64)
	if math.Abs(value) == math.MaxFloat64 {
		return str
	}
	const maxPrec = 15
	decimal := strings.IndexByte(str, '.')
	significant := 0
	for idx := range str {
		if str[idx] < '0' || str[idx] > '9' || significant == 0 && str[idx] == '0' {
			continue
		}
		significant++
		if significant <= maxPrec {
			continue
		}
		if decimal >= 0 && idx > decimal {
			return strings.TrimSuffix(str[:idx], ".")
		}
		if decimal < 0 {
			decimal = len(str)
		}
		truncated := []byte(str[:decimal])
		for ; idx < len(truncated); idx++ {
			truncated[idx] = '0'
		}
		return string(truncated)
	}
	return str
}

const (
	dayNanoseconds = 24 * time.Hour
	maxDuration    = 290 * 364 * dayNanoseconds
)

var (
	excelMinTime1900      = time.Date(1899, time.December, 31, 0, 0, 0, 0, time.UTC)
	excelBuggyPeriodStart = time.Date(1900, time.March, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
)

// timeToExcelTime is excelize's serial date of t (1900 date system), 0
// before 1900. t is in UTC.
func timeToExcelTime(t time.Time) float64 {
	date := excelMinTime1900
	if t.Before(date) {
		return 0
	}
	tt, diff, result := t, t.Sub(date), 0.0
	for diff >= maxDuration {
		result += float64(maxDuration / dayNanoseconds)
		tt = tt.Add(-maxDuration)
		diff = tt.Sub(date)
	}
	rem := diff % dayNanoseconds
	result += float64(diff-rem)/float64(dayNanoseconds) + float64(rem)/float64(dayNanoseconds)
	// Excel counts a 29 February 1900 that did not exist.
	if t.After(excelBuggyPeriodStart) {
		result++
	}
	return result
}

// xlsxDeflateLevel trades size for speed: level 2 compresses sheet XML
// about four times faster than the default level, for files about an
// eighth larger.
const xlsxDeflateLevel = 2

// xlsxChunk is the uncompressed size at which sheet XML is handed to a
// compressor; chunks are compressed in parallel.
const xlsxChunk = 512 << 10

// flateWriters recycles compressors (each holds about a megabyte).
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, xlsxDeflateLevel)
	return w
}}

// deflateRaw compresses p into a flushed, non-final raw deflate segment
// appended to dst: segments concatenate into one stream, which a final
// segment ends.
func deflateRaw(dst, p []byte, final bool) []byte {
	buf := bytes.NewBuffer(dst)
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(p) // a bytes.Buffer does not fail
	if final {
		_ = w.Close()
	} else {
		_ = w.Flush()
	}
	flateWriters.Put(w)
	return buf.Bytes()
}

// sheetPart is a sheet's data rows, rendered and compressed into a
// temporary file as a non-final deflate segment, with the CRC-32 and size
// of the uncompressed XML.
type sheetPart struct {
	path        string
	crc         uint32
	size, zsize int64
}

// renderRows renders the spooled rows of s as sheet XML (rows 2 onwards)
// and compresses them to a file in dir, chunks compressed by up to
// GOMAXPROCS goroutines at once.
func (s *xlsxSink) renderRows(dir string, idx int, st xlsxStyles) (part sheetPart, err error) {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return part, err
	}
	out, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(idx)+".xml.z"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return part, err
	}
	part.path = out.Name()
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	workers := max(runtime.GOMAXPROCS(0), 1)
	type job struct {
		in  []byte
		res chan []byte
	}
	pending := make(chan chan []byte, workers)
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.res <- deflateRaw(nil, j.in, false)
			}
		})
	}
	written := make(chan error, 1)
	go func() {
		var werr error
		for res := range pending {
			z := <-res
			if werr == nil {
				_, werr = out.Write(z)
				part.zsize += int64(len(z))
			}
		}
		written <- werr
	}()
	submit := func(b []byte) {
		part.crc = crc32.Update(part.crc, crc32.IEEETable, b)
		part.size += int64(len(b))
		res := make(chan []byte, 1)
		pending <- res
		jobs <- job{in: b, res: res}
	}
	r := bufio.NewReaderSize(s.f, 64<<10)
	vals := make([]any, len(s.cols))
	var sbuf []byte
	b := make([]byte, 0, xlsxChunk+4096)
	for row := 2; row < s.rows+2 && err == nil; row++ {
		for i := range vals {
			v, rerr := readSpoolValue(r, &sbuf)
			if rerr != nil {
				err = fmt.Errorf("read spool of row %d: %w", row-1, rerr)
				break
			}
			vals[i] = v
		}
		if err != nil {
			break
		}
		b = appendXLSXRow(b, row, vals, 0, st)
		if len(b) >= xlsxChunk {
			submit(b)
			b = make([]byte, 0, xlsxChunk+4096)
		}
	}
	if err == nil && len(b) > 0 {
		submit(b)
	}
	close(jobs)
	close(pending)
	wg.Wait()
	if werr := <-written; err == nil {
		err = werr
	}
	return part, err
}

// sheetZip is the excelize ZipWriter that writes the workbook straight to
// the output: every part as excelize made it, except the table sheets,
// whose (empty) sheetData receives the header row and the rendered rows.
// A part is compressed at xlsxDeflateLevel.
type sheetZip struct {
	zw     *zip.Writer
	sheets map[string]*sheetSplice // by part name
	open   *sheetSplice            // the sheet part being received
	err    error
}

// sheetSplice is one table sheet to splice.
type sheetSplice struct {
	name   string // the part name
	header []byte // the header row
	part   sheetPart
	buf    bytes.Buffer
	done   bool
}

func newSheetZip(w io.Writer) *sheetZip {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, xlsxDeflateLevel)
	})
	return &sheetZip{zw: zw, sheets: map[string]*sheetSplice{}}
}

// Create implements excelize.ZipWriter.
func (z *sheetZip) Create(name string) (io.Writer, error) {
	if err := z.finish(); err != nil {
		return nil, err
	}
	if s, ok := z.sheets[name]; ok {
		if s.done {
			z.err = fmt.Errorf("sheet part %s written twice", name)
			return nil, z.err
		}
		z.open = s
		return &s.buf, nil
	}
	w, err := z.zw.Create(name)
	if err != nil {
		z.err = err
	}
	return w, err
}

// AddFS implements excelize.ZipWriter.
func (z *sheetZip) AddFS(fsys fs.FS) error {
	if err := z.finish(); err != nil {
		return err
	}
	return z.zw.AddFS(fsys)
}

// Close implements excelize.ZipWriter: it checks that every table sheet was
// written.
func (z *sheetZip) Close() error {
	if err := z.finish(); err != nil {
		return err
	}
	for name, s := range z.sheets {
		if !s.done {
			return fmt.Errorf("sheet part %s not written", name)
		}
	}
	return z.zw.Close()
}

// finish writes the sheet part received last, if any: excelize's XML up to
// and including <sheetData>, the header and data rows, and the rest.
func (z *sheetZip) finish() error {
	s := z.open
	if z.err != nil || s == nil {
		return z.err
	}
	z.open, s.done = nil, true
	z.err = s.write(z.zw)
	return z.err
}

var sheetDataRE = regexp.MustCompile(`<sheetData\s*/>|<sheetData>\s*</sheetData>`)

func (s *sheetSplice) write(zw *zip.Writer) error {
	xml := s.buf.Bytes()
	loc := sheetDataRE.FindIndex(xml)
	if loc == nil || sheetDataRE.Match(xml[loc[1]:]) {
		return errors.New("sheet part without one empty sheetData")
	}
	head := append(append(slices.Clip(xml[:loc[0]]), "<sheetData>"...), s.header...)
	tail := append([]byte("</sheetData>"), xml[loc[1]:]...)
	zhead := deflateRaw(nil, head, false)
	ztail := deflateRaw(nil, tail, true)
	crc := crc32Combine(crc32Combine(crc32.ChecksumIEEE(head), s.part.crc, s.part.size), crc32.ChecksumIEEE(tail), int64(len(tail)))
	fh := &zip.FileHeader{
		Name:               s.name,
		Method:             zip.Deflate,
		CRC32:              crc,
		CompressedSize64:   uint64(int64(len(zhead)) + s.part.zsize + int64(len(ztail))),
		UncompressedSize64: uint64(int64(len(head)) + s.part.size + int64(len(tail))),
		CreatorVersion:     20,
		ReaderVersion:      20,
	}
	w, err := zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	if _, err := w.Write(zhead); err != nil {
		return err
	}
	f, err := os.Open(s.part.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := io.Copy(w, f); err != nil {
		return err
	} else if n != s.part.zsize {
		return fmt.Errorf("rendered rows: %d bytes, want %d", n, s.part.zsize)
	}
	_, err = w.Write(ztail)
	return err
}

// crc32Combine returns the CRC-32 (IEEE) of the concatenation of two
// blocks from their CRCs and the length of the second (zlib's
// crc32_combine).
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = crc32.IEEE // the operator for one zero bit
	row := uint32(1)
	for n := 1; n < 32; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(even[:], odd[:]) // two zero bits
	gf2Square(odd[:], even[:]) // four zero bits
	for {
		gf2Square(even[:], odd[:])
		if len2&1 != 0 {
			crc1 = gf2Times(even[:], crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(odd[:], even[:])
		if len2&1 != 0 {
			crc1 = gf2Times(odd[:], crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat []uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat []uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}
