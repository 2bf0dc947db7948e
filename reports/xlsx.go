package reports

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// xlsxTables writes one workbook. Each table streams into its sheet with
// excelize's StreamWriter as its rows arrive: the first widthSampleRows rows
// are held back to fit the column widths (which must precede the rows),
// then every row goes straight to the stream. Sheets fill concurrently (a
// lock per sheet; calls on the workbook itself take another). Commit adds
// the About and Summary sheets in front, the print settings, the
// auto-filters and the properties, and writes the workbook atomically.
type xlsxTables struct {
	path    string
	force   bool
	creator string
	created time.Time

	mu      sync.Mutex
	spool   string          // temporary directory next to path (excelize's temporary files)
	tables  map[string]bool // table names in use
	sheets  map[string]bool // lower-cased sheet names in use
	sinks   []*xlsxSink
	summary *Summary
	about   *About
	done    bool

	fileMu sync.Mutex // guards f, except a sheet's stream (see xlsxSink.mu)
	f      *excelize.File
	st     xlsxStyles
	// sheet1 is true while the workbook's initial sheet awaits a name.
	sheet1 bool
	// paths are the part names of streamed sheets, by sheet name.
	paths map[string]string
}

// aboutSheet is the name of the About sheet; tables cannot use it.
const aboutSheet = "About"

func newXLSXTables(path string, opts TablesOptions) (*xlsxTables, error) {
	if err := CheckOverwrite(path, opts.Force); err != nil {
		return nil, err
	}
	spool, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".spool-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	t := &xlsxTables{
		path:    path,
		force:   opts.Force,
		creator: opts.Creator,
		created: opts.Created,
		spool:   spool,
		tables:  map[string]bool{},
		sheets: map[string]bool{strings.ToLower(summarySheet): true, strings.ToLower(aboutSheet): true,
			"history": true},
		sheet1: true,
		paths:  map[string]string{},
	}
	if t.creator == "" {
		t.creator = "dbiam"
	}
	if t.created.IsZero() {
		t.created = time.Now()
	}
	t.f = excelize.NewFile(excelize.Options{TmpDir: spool})
	t.f.SetZipWriter(t.newZipWriter)
	if t.st, err = newXLSXStyles(t.f); err != nil {
		t.f.Close()
		os.RemoveAll(spool)
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return t, nil
}

// addSheet adds a sheet named name, or names the initial sheet name if
// it is still unused. fileMu must be held.
func (t *xlsxTables) addSheet(name string) error {
	if t.sheet1 {
		t.sheet1 = false
		return t.f.SetSheetName("Sheet1", name)
	}
	_, err := t.f.NewSheet(name)
	return err
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
	t.fileMu.Lock()
	err := t.addSheet(sheet)
	if err == nil {
		// Fit to page is a sheet property, written when the stream starts.
		fit := true
		err = t.f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit})
	}
	t.fileMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start table %s: %w", name, err)
	}
	s := &xlsxSink{t: t, name: name, sheet: sheet, cols: cols, widths: make([]int, len(cols))}
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

// About implements Tables.
func (t *xlsxTables) About(a About) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.done:
		return fmt.Errorf("write about: %w", os.ErrClosed)
	case t.about != nil:
		return errors.New("write about: about already written")
	}
	t.about = &a
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
	t.fileMu.Lock()
	_ = t.f.Close()
	t.fileMu.Unlock()
	_ = os.RemoveAll(t.spool)
}

// Commit implements Tables: it finishes the sheets and writes the workbook
// atomically.
func (t *xlsxTables) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("commit %s: %w", t.path, os.ErrClosed)
	}
	t.done = true
	defer func() {
		t.fileMu.Lock()
		_ = t.f.Close()
		t.fileMu.Unlock()
		for _, s := range t.sinks {
			s.closeRows()
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
	t.fileMu.Lock()
	err = t.build(out)
	t.fileMu.Unlock()
	if err != nil {
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	return out.Commit()
}

// build finishes the workbook and writes it to w. fileMu is held; the sinks
// are closed.
func (t *xlsxTables) build(w io.Writer) error {
	f := t.f
	status := map[string]TableStatus{}
	if t.about != nil {
		for _, ts := range t.about.Tables {
			status[ts.Table] = ts
		}
	}
	// The About and Summary sheets go in front, in that order.
	var front []string
	if t.about != nil {
		front = append(front, aboutSheet)
	}
	if t.summary != nil || (len(t.sinks) == 0 && t.about == nil) {
		front = append(front, summarySheet) // a workbook needs a sheet
	}
	for _, n := range front {
		if err := t.addSheet(n); err != nil {
			return fmt.Errorf("add sheet %s: %w", n, err)
		}
	}
	if t.about != nil {
		rows := func(table string) (int, bool) {
			for _, s := range t.sinks {
				if s.name == table {
					return s.rows, true
				}
			}
			if table == "summary" && t.summary != nil {
				return len(t.summary.Rows), true // as the table of that name in CSV and JSON
			}
			return 0, false
		}
		if err := writeAboutSheet(f, t.st, t.about, rows); err != nil {
			return fmt.Errorf("write sheet %s: %w", aboutSheet, err)
		}
	}
	if t.summary != nil {
		if err := writeSummarySheet(f, t.st, t.summary); err != nil {
			return fmt.Errorf("write sheet %s: %w", summarySheet, err)
		}
	}
	for i := len(front) - 1; i >= 0; i-- {
		if first := f.GetSheetName(0); first != front[i] {
			if err := f.MoveSheet(front[i], first); err != nil {
				return fmt.Errorf("move sheet %s: %w", front[i], err)
			}
		}
	}
	for _, n := range front {
		if err := setPrint(f, n, n == summarySheet, TableStatus{}, false); err != nil {
			return fmt.Errorf("print settings of %s: %w", n, err)
		}
	}
	for _, s := range t.sinks {
		ts, known := status[s.name]
		if err := s.finish(f, ts, known); err != nil {
			return fmt.Errorf("write sheet %s: %w", s.sheet, err)
		}
	}
	if err := f.SetDocProps(&excelize.DocProperties{
		Creator:        t.creator,
		LastModifiedBy: t.creator,
		Created:        t.created.UTC().Format(time.RFC3339),
		Modified:       t.created.UTC().Format(time.RFC3339),
	}); err != nil {
		return err
	}
	if err := f.SetAppProps(&excelize.AppProperties{Application: t.creator}); err != nil {
		return err
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
// of a large workbook's time compressing). It also corrects the head of
// each streamed sheet (see sheetHead).
func (t *xlsxTables) newZipWriter(w io.Writer) excelize.ZipWriter {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return kflate.NewWriter(out, kflate.DefaultCompression)
	})
	sheets := map[string]*xlsxSink{}
	for _, s := range t.sinks {
		if p, ok := t.paths[s.sheet]; ok {
			sheets[p] = s
		}
	}
	return &patchingZip{zw: zw, sheets: sheets}
}

// patchingZip is a ZipWriter that rewrites the head of the streamed
// sheets' entries and splices in their encoded rows.
type patchingZip struct {
	zw     *zip.Writer
	sheets map[string]*xlsxSink
	open   *headPatcher
}

func (z *patchingZip) Create(name string) (io.Writer, error) {
	if err := z.closeOpen(); err != nil {
		return nil, err
	}
	s, sheet := z.sheets[name]
	if sheet {
		rows, err := s.encodedRows()
		if err != nil {
			return nil, err
		}
		if rows != nil {
			// Written raw when it ends (see splicedSheet).
			z.open = &headPatcher{fix: s.head, spliced: &splicedSheet{zw: z.zw, name: name, rows: rows}}
			return z.open, nil
		}
	}
	w, err := z.zw.Create(name)
	if err != nil {
		return nil, err
	}
	if sheet {
		z.open = &headPatcher{w: w, fix: s.head}
		return z.open, nil
	}
	return w, nil
}

func (z *patchingZip) AddFS(fsys fs.FS) error {
	if err := z.closeOpen(); err != nil {
		return err
	}
	return z.zw.AddFS(fsys)
}

func (z *patchingZip) Close() error {
	if err := z.closeOpen(); err != nil {
		return err
	}
	return z.zw.Close()
}

func (z *patchingZip) closeOpen() error {
	if z.open == nil {
		return nil
	}
	err := z.open.close()
	z.open = nil
	return err
}

// headPatcher holds back the start of a streamed sheet's entry up to the
// end of its header row (the first "</row>" in "<sheetData>"), or headLimit
// bytes, passes it through fix once, and writes the rest as it comes. For
// a sheet whose rows a rowEncoder wrote (spliced), those rows go after the
// header row, before the rest (the rows excelize wrote, and the tail).
type headPatcher struct {
	w       io.Writer
	fix     func([]byte) []byte
	spliced *splicedSheet // nil: the entry is written to w as it comes
	head    []byte
	done    bool
}

// headLimit bounds the bytes held back: a sheet's head (declarations,
// properties, dimension, views, columns) and header row are far smaller.
const headLimit = 1 << 20

func (h *headPatcher) Write(p []byte) (int, error) {
	if h.done {
		return h.w.Write(p)
	}
	h.head = append(h.head, p...)
	if h.split() >= 0 || len(h.head) >= headLimit {
		if err := h.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// split returns where the header row ends in the bytes held back, or -1.
func (h *headPatcher) split() int { return headerRowEnd(h.head) }

// headerRowEnd returns where the header row (the first "</row>" after
// "<sheetData") ends in b, or -1.
func headerRowEnd(b []byte) int {
	i := bytes.Index(b, []byte("<sheetData"))
	if i < 0 {
		return -1
	}
	j := bytes.Index(b[i:], []byte("</row>"))
	if j < 0 {
		return -1
	}
	return i + j + len("</row>")
}

func (h *headPatcher) flush() error {
	if h.done {
		return nil
	}
	h.done = true
	head := h.head
	h.head = nil
	if h.spliced == nil {
		_, err := h.w.Write(h.fix(head))
		return err
	}
	k := headerRowEnd(head)
	if k < 0 {
		return errors.New("sheet part without a header row to put its rows after")
	}
	if err := h.spliced.start(h.fix(head[:k])); err != nil {
		return err
	}
	h.w = h.spliced
	_, err := h.w.Write(head[k:])
	return err
}

// close ends the entry.
func (h *headPatcher) close() error {
	if err := h.flush(); err != nil {
		return err
	}
	if h.spliced != nil {
		return h.spliced.close()
	}
	return nil
}

// splicedSheet writes the entry of a sheet whose rows a rowEncoder wrote,
// raw, as three deflate segments: the head up to the header row, the
// encoded rows (compressed as they were written), and the rest (the rows
// excelize wrote, then the tail), the first two ended by a sync flush so
// that they concatenate into one deflate stream; the entry's CRC-32
// combines theirs.
type splicedSheet struct {
	zw   *zip.Writer
	name string
	rows *encodedRows

	head     []byte // the head, compressed
	headCRC  uint32
	headSize int64
	tail     bytes.Buffer // the rest, compressed
	tz       *kflate.Writer
	tailCRC  uint32
	tailSize int64
}

// start compresses the head (up to the header row's end).
func (s *splicedSheet) start(head []byte) error {
	var b bytes.Buffer
	zw, err := kflate.NewWriter(&b, kflate.DefaultCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(head); err != nil {
		return err
	}
	if err := zw.Flush(); err != nil {
		return err
	}
	s.head, s.headCRC, s.headSize = b.Bytes(), crc32.ChecksumIEEE(head), int64(len(head))
	s.tz, err = kflate.NewWriter(&s.tail, kflate.DefaultCompression)
	return err
}

// Write takes the rest of the entry.
func (s *splicedSheet) Write(p []byte) (int, error) {
	s.tailCRC = crc32.Update(s.tailCRC, crc32.IEEETable, p)
	s.tailSize += int64(len(p))
	return s.tz.Write(p)
}

// close writes the entry.
func (s *splicedSheet) close() error {
	if s.tz == nil {
		return fmt.Errorf("%s: ended before its header row", s.name)
	}
	if err := s.tz.Close(); err != nil {
		return err
	}
	fh := &zip.FileHeader{
		Name:               s.name,
		Method:             zip.Deflate,
		CRC32:              crc32Combine(crc32Combine(s.headCRC, s.rows.crc, s.rows.size), s.tailCRC, s.tailSize),
		CompressedSize64:   uint64(len(s.head)) + uint64(s.rows.deflated.Size()) + uint64(s.tail.Len()),
		UncompressedSize64: uint64(s.headSize + s.rows.size + s.tailSize),
	}
	w, err := s.zw.CreateRaw(fh)
	if err != nil {
		return err
	}
	if _, err := w.Write(s.head); err != nil {
		return err
	}
	if _, err := io.Copy(w, s.rows.deflated); err != nil {
		return err
	}
	_, err = w.Write(s.tail.Bytes())
	return err
}

// xlsxStyles are the style ids shared by all sheets.
type xlsxStyles struct {
	header int
	time   int
	text   int // wrapped text (the About sheet's values)
}

// xlsxFont is the font of every cell: named, so that every viewer renders
// the same (the theme's "minor" font differs between applications).
const (
	xlsxFontFamily = "Calibri"
	xlsxFontSize   = 11
)

func newXLSXStyles(f *excelize.File) (xlsxStyles, error) {
	var st xlsxStyles
	var err error
	if err = f.SetDefaultFont(xlsxFontFamily); err != nil {
		return st, fmt.Errorf("set default font: %w", err)
	}
	st.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Family: xlsxFontFamily, Size: xlsxFontSize},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "8EA9DB", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "center"},
	})
	if err != nil {
		return st, fmt.Errorf("add header style: %w", err)
	}
	format := xlsxTimeFormat
	st.time, err = f.NewStyle(&excelize.Style{CustomNumFmt: &format,
		Font: &excelize.Font{Family: xlsxFontFamily, Size: xlsxFontSize}})
	if err != nil {
		return st, fmt.Errorf("add time style: %w", err)
	}
	st.text, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Family: xlsxFontFamily, Size: xlsxFontSize},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return st, fmt.Errorf("add text style: %w", err)
	}
	return st, nil
}

// xlsxSink streams the rows of one sheet.
type xlsxSink struct {
	t     *xlsxTables
	name  string
	sheet string
	cols  []Column

	mu      sync.Mutex
	pending [][]any // rows held back until the widths are fitted
	sw      *excelize.StreamWriter
	enc     *rowEncoder // encodes rows as sw would, faster (nil: none yet)
	slow    bool        // a row went to sw: so do all after it
	cells   []any       // scratch for a row's cells
	row     []any       // scratch for the normalised row
	rows    int
	widths  []int  // fitted widths, from the header and the first rows
	tab     string // the tab colour (RGB), "" for none
	err     error
	closed  bool
	aborted bool
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
	case s.closed || s.aborted:
		return fmt.Errorf("write table %s: %w", s.name, os.ErrClosed)
	case s.err != nil:
		return s.err
	case s.rows >= maxXLSXRows:
		return fmt.Errorf("write table %s: %w (%d)", s.name, ErrTooManyRows, maxXLSXRows)
	}
	for i, v := range row {
		if l, ok := v.(textList); ok {
			row[i] = l.String() // a cell holds the joined text
		}
	}
	if s.sw == nil {
		for i, v := range row {
			s.widths[i] = max(s.widths[i], cellWidth(v))
		}
		s.pending = append(s.pending, slices.Clone(row))
		s.rows++
		if len(s.pending) >= widthSampleRows {
			s.err = s.start()
		}
		return s.err
	}
	if err := s.setRow(s.rows+2, row); err != nil {
		s.err = fmt.Errorf("write table %s: %w", s.name, err)
		return s.err
	}
	s.rows++
	return nil
}

// start opens the sheet's stream: fitted widths, frozen header, header
// row, then the rows held back. s.mu is held.
func (s *xlsxSink) start() error {
	t := s.t
	t.fileMu.Lock()
	sw, err := t.f.NewStreamWriter(s.sheet)
	if err == nil {
		t.paths[s.sheet] = "xl/worksheets/sheet" + strconv.Itoa(sheetID(t.f, s.sheet)) + ".xml"
	}
	t.fileMu.Unlock()
	if err != nil {
		return fmt.Errorf("write table %s: %w", s.name, err)
	}
	s.sw = sw
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
		header[i] = excelize.Cell{StyleID: t.st.header, Value: c.Name}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return err
	}
	for i, r := range s.pending {
		if err := s.setRow(i+2, r); err != nil {
			return fmt.Errorf("write table %s: %w", s.name, err)
		}
	}
	s.pending = nil
	return nil
}

// sheetID returns the id of the sheet named name (0 if none); the sheet's
// part is xl/worksheets/sheet<id>.xml.
func sheetID(f *excelize.File, name string) int {
	for id, n := range f.GetSheetMap() {
		if n == name {
			return id
		}
	}
	return 0
}

// setRow streams one normalised row as row number n: through the sheet's
// rowEncoder while it can encode every row so far, else through excelize.
func (s *xlsxSink) setRow(n int, row []any) error {
	if !s.slow && fastRow(row) {
		if s.enc == nil {
			s.enc = newRowEncoder(len(s.cols))
		}
		return s.enc.write(s.t.spool, n, row)
	}
	s.slow = true
	cells := s.cells[:0]
	for _, v := range row {
		cells = append(cells, xlsxValue(v, s.t.st))
	}
	s.cells = cells
	return s.sw.SetRow("A"+strconv.Itoa(n), cells)
}

// Close implements Sink: no row may follow. The sheet is finished on
// Commit.
func (s *xlsxSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err == nil && s.sw == nil && !s.aborted {
		s.err = s.start()
	}
	return s.err
}

// encodedRows returns the rows the sheet's rowEncoder wrote (nil: none).
func (s *xlsxSink) encodedRows() (*encodedRows, error) {
	if s.enc == nil {
		return nil, nil
	}
	r, err := s.enc.segment()
	if err != nil {
		return nil, fmt.Errorf("write sheet %s: %w", s.sheet, err)
	}
	return r, nil
}

// closeRows closes the file of the rows encoded.
func (s *xlsxSink) closeRows() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc != nil {
		s.enc.close()
	}
}

func (s *xlsxSink) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	s.pending = nil
	if s.enc != nil {
		s.enc.close()
	}
}

// finish ends the sheet's stream: the auto-filter over its range, the print
// settings (status, when known, in the page header) and the flush.
// fileMu is held and the sink is closed.
func (s *xlsxSink) finish(f *excelize.File, ts TableStatus, known bool) error {
	last, err := excelize.CoordinatesToCellName(len(s.cols), s.rows+1)
	if err != nil {
		return err
	}
	// AutoFilter and the print settings edit the worksheet that the stream
	// writer flushes, so they come before Flush.
	if err := f.AutoFilter(s.sheet, "A1:"+last, nil); err != nil {
		return err
	}
	if err := setPrint(f, s.sheet, false, ts, known); err != nil {
		return err
	}
	switch {
	case known && ts.Status == StatusFailed:
		s.tab = tabFailed
	case known && ts.Status == StatusPartial:
		s.tab = tabPartial
	}
	return s.sw.Flush()
}

// head corrects the head of the sheet's part as excelize streamed it: the
// dimension it declares before any row is known (A1) becomes the sheet's
// real range, and an incomplete table's tab is coloured. It runs while the
// workbook is written, after finish.
func (s *xlsxSink) head(b []byte) []byte {
	ref := rangeRef(len(s.cols), s.rows+1)
	b = bytes.Replace(b, []byte(`<dimension ref="A1"></dimension>`), []byte(`<dimension ref="`+ref+`"></dimension>`), 1)
	b = bytes.Replace(b, []byte(`<dimension ref="A1"/>`), []byte(`<dimension ref="`+ref+`"/>`), 1)
	if s.tab != "" {
		if i := bytes.Index(b, []byte("<sheetPr")); i >= 0 {
			if j := bytes.IndexByte(b[i:], '>'); j >= 0 {
				at := i + j + 1
				b = slices.Concat(b[:at], []byte(`<tabColor rgb="`+s.tab+`"></tabColor>`), b[at:])
			}
		}
	}
	return b
}

// rangeRef is the reference of the range from A1 to column cols, row rows:
// "A1" for a single cell.
func rangeRef(cols, rows int) string {
	last, err := excelize.CoordinatesToCellName(max(cols, 1), max(rows, 1))
	if err != nil || last == "A1" {
		return "A1"
	}
	return "A1:" + last
}

// Tab colours of incomplete tables.
const (
	tabFailed  = "FFC00000" // red
	tabPartial = "FFED7D31" // orange
)

// setPrint sets a sheet's print settings: landscape, fitted to the page
// width (to one page for the summary and its chart), the header row on
// every page, and a page header naming the sheet (with the table's status
// when it is not ok) and a page number footer.
func setPrint(f *excelize.File, sheet string, onePage bool, ts TableStatus, known bool) error {
	landscape, one, any0 := "landscape", 1, 0
	layout := &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &one, FitToHeight: &any0}
	if onePage {
		layout.FitToHeight = &one
	}
	if err := f.SetPageLayout(sheet, layout); err != nil {
		return err
	}
	fit := true
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	quoted := "'" + strings.ReplaceAll(sheet, "'", "''") + "'"
	if !onePage {
		if err := f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: quoted + "!$1:$1", Scope: sheet}); err != nil {
			return err
		}
	}
	header := "&L&A"
	if known && ts.Status != StatusOK {
		note := ts.Status
		if ts.Detail != "" {
			note += ": " + ts.Detail
		}
		header += "&C&B" + headerText(strings.ToUpper(note[:1])+note[1:])
	}
	return f.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{
		OddHeader: header,
		OddFooter: "&RPage &P of &N",
	})
}

// headerText escapes text for a page header section: "&" doubles, and it
// is cut to fit Excel's 255 characters per header.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:199]) + "…"
	}
	return strings.ReplaceAll(s, "&", "&&")
}

// xlsxValue maps a normalised value to an excelize cell value. Times are
// written as serial date numbers with the date style, without asking the
// workbook (streams run concurrently).
func xlsxValue(v any, st xlsxStyles) any {
	if t, ok := v.(time.Time); ok {
		return excelize.Cell{StyleID: st.time, Value: excelSerial(t)}
	}
	return v
}

// excelEpoch is day 0 of Excel's 1900 date system, as Excel counts it
// (1900 is wrongly taken as a leap year, so serials from March 1900 on
// count from 30 December 1899).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// excelSerial is t as a serial date number of the 1900 date system.
func excelSerial(t time.Time) float64 {
	d := t.UTC().Sub(excelEpoch)
	return float64(d/(24*time.Hour)) + float64(d%(24*time.Hour))/float64(24*time.Hour)
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

// writeAboutSheet writes the About sheet: one row per field (name, value),
// a blank row, then the status of every table (table, status, rows,
// detail), with the statuses of incomplete tables highlighted.
func writeAboutSheet(f *excelize.File, st xlsxStyles, a *About, rows func(table string) (int, bool)) error {
	set := func(cell string, v any, style int) error {
		if v == nil {
			return nil
		}
		if err := f.SetCellValue(aboutSheet, cell, v); err != nil {
			return err
		}
		if style != 0 {
			return f.SetCellStyle(aboutSheet, cell, cell, style)
		}
		return nil
	}
	warn, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "C00000", Family: xlsxFontFamily, Size: xlsxFontSize},
		Alignment: &excelize.Alignment{Vertical: "top"}})
	if err != nil {
		return err
	}
	widths := []int{textWidth("table"), textWidth("status"), textWidth("rows"), textWidth("detail")}
	// wrapped are the texts of the wrapped cells by row: a field's value
	// (column B) and a table's detail (column D).
	type wrappedRow struct{ value, detail string }
	wrapped := map[int]wrappedRow{}
	r := 1
	for _, fl := range a.Fields {
		n := strconv.Itoa(r)
		if err := set("A"+n, fl.Name, st.header); err != nil {
			return err
		}
		if err := set("B"+n, fl.Value, st.text); err != nil {
			return err
		}
		widths[0] = max(widths[0], textWidth(fl.Name))
		wrapped[r] = wrappedRow{value: fl.Value}
		r++
	}
	if len(a.Tables) > 0 {
		if len(a.Fields) > 0 {
			r++
		}
		for i, h := range []string{"table", "status", "rows", "detail"} {
			cell, _ := excelize.CoordinatesToCellName(i+1, r)
			if err := set(cell, h, st.header); err != nil {
				return err
			}
		}
		r++
		for _, ts := range a.Tables {
			n := strconv.Itoa(r)
			// Top-aligned, as the detail that may wrap beside them.
			if err := set("A"+n, ts.Table, st.text); err != nil {
				return err
			}
			style := st.text
			if incomplete(ts.Status) {
				style = warn
			}
			if err := set("B"+n, ts.Status, style); err != nil {
				return err
			}
			if c, ok := rows(ts.Table); ok {
				if err := set("C"+n, c, st.text); err != nil {
					return err
				}
			}
			if err := set("D"+n, emptyToNil(ts.Detail), st.text); err != nil {
				return err
			}
			wrapped[r] = wrappedRow{detail: ts.Detail}
			widths[0] = max(widths[0], textWidth(ts.Table))
			widths[1] = max(widths[1], textWidth(ts.Status))
			r++
		}
	}
	cols := 2
	if len(a.Tables) > 0 {
		cols = 4
	}
	if err := f.SetSheetDimension(aboutSheet, rangeRef(cols, r-1)); err != nil {
		return err
	}
	colWidths := []float64{fitWidth(widths[0]), max(40, fitWidth(widths[1])), 10, 80}
	for i, w := range colWidths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(aboutSheet, col, col, w); err != nil {
			return err
		}
	}
	// A wrapped cell's row is made tall enough for its lines: not every
	// viewer fits a row's height to its wrapped text (LibreOffice keeps one
	// line, so a long status or detail printed over the rows below it).
	for row, w := range wrapped {
		lines := max(wrappedLines(w.value, colWidths[1]), wrappedLines(w.detail, colWidths[3]))
		if lines > 1 {
			if err := f.SetRowHeight(aboutSheet, row, float64(lines)*xlsxLineHeight); err != nil {
				return err
			}
		}
	}
	return nil
}

// xlsxLineHeight is the height of one line of text at the workbook's font
// size, in points (Excel's default row height).
const xlsxLineHeight = 15

// wrappedLines is the number of lines s takes wrapped in a column width
// characters wide: each of its lines, at least one, takes one line per
// width characters or part of them. Proportional text is narrower than
// width digits, so this errs on the side of room to spare.
func wrappedLines(s string, width float64) int {
	if s == "" {
		return 1
	}
	per := max(int(width)-1, 1)
	n := 0
	for _, line := range strings.Split(s, "\n") {
		n += max(1, (textWidth(line)+per-1)/per)
	}
	return n
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
	if err := f.SetSheetDimension(summarySheet, rangeRef(len(s.Columns), len(s.Rows)+1)); err != nil {
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
	if l, ok := v.(textList); ok {
		v = l.String()
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
	font := excelize.Font{Family: xlsxFontFamily, Size: 10}
	titleFont := excelize.Font{Family: xlsxFontFamily, Size: 14, Bold: true}
	return &excelize.Chart{
		Type:       excelize.Bar,
		Series:     series,
		VaryColors: &vary,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title, Font: &titleFont}}},
		Legend:     excelize.ChartLegend{Position: "bottom", Font: &font},
		Dimension:  excelize.ChartDimension{Width: 640, Height: uint(min(height, 4000))},
		// Categories read top to bottom in the same order as the table.
		XAxis: excelize.ChartAxis{ReverseOrder: true, Font: font},
		YAxis: excelize.ChartAxis{Font: font},
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
