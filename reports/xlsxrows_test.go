package reports

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// awkwardStrings are texts whose encoding an XLSX writer can get wrong.
var awkwardStrings = []string{
	"", "plain", " leading", "trailing ", "\tTab", "new\nline", "line end\n", "cr\rlf\r\n",
	`"quotes" and 'apostrophes'`, "a & b < c > d", "=SUM(A1:A2)", "+1", "@mention", "-2",
	"مرحبا بالعالم", "emoji 👩‍💻 🏳️‍🌈", "\u200fRTL mark", "bad utf8 \xff\xfe end", "nul \x00 and \x01 and \x1f",
	"\ufffe \uffff", "literal \ufffd", "_xyz_", "data_x12_", "_x004_", "x0041_", "_X0041_", "a]b eq c",
	"_x0041_", "_x005F_", "_x005F_x0041_", "a_x0041__x0042_b", "__x0041_", "_x00e9_ and _xABCD_",
	strings.Repeat("é", maxFastString/2), strings.Repeat("x", maxFastString),
}

// excelizeRows streams rows (from row 2) through excelize's StreamWriter
// and returns the sheet's rows as it wrote them.
func excelizeRows(t *testing.T, rows [][]any) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if err := sw.SetRow("A"+strconv.Itoa(i+2), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if zf.Name != "xl/worksheets/sheet1.xml" {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := bytes.Cut(b, []byte("<sheetData>"))
		data, _, ok2 := bytes.Cut(after, []byte("</sheetData>"))
		if !ok || !ok2 {
			t.Fatalf("no sheetData in %s", b)
		}
		return string(data)
	}
	t.Fatal("no sheet1.xml")
	return ""
}

// TestRowEncoderMatchesExcelize checks that the rows rowEncoder writes are
// byte for byte the rows excelize's StreamWriter writes, for awkward texts,
// numbers, booleans and empty cells across many columns.
func TestRowEncoderMatchesExcelize(t *testing.T) {
	var rows [][]any
	for i, s := range awkwardStrings {
		// The last: cut in half, maybe inside a character (invalid UTF-8).
		rows = append(rows, []any{s, int64(i), nil, i%2 == 0, int64(-i * 1000003), s[:len(s)/2]})
	}
	rows = append(rows,
		[]any{nil, nil, nil, nil, nil, nil},
		[]any{int64(math.MaxInt64), int64(math.MinInt64), true, false, "", " "},
	)
	// 30 columns: references past Z.
	wide := make([]any, 30)
	for i := range wide {
		wide[i] = "col " + strconv.Itoa(i)
	}
	rows = append(rows, wide)
	for _, r := range rows {
		if !fastRow(r) {
			t.Fatalf("fastRow(%q) = false", r)
		}
	}
	enc := newRowEncoder(30)
	var got []byte
	for i, r := range rows {
		got = enc.appendRow(got, i+2, r)
	}
	if want := excelizeRows(t, rows); string(got) != want {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("rows differ at byte %d:\n got %q\nwant %q", i, got[max(0, i-80):min(len(got), i+80)], want[max(0, i-80):min(len(want), i+80)])
			}
		}
		t.Fatalf("rows differ in length: %d, want %d", len(got), len(want))
	}
}

func TestFastRow(t *testing.T) {
	for _, c := range []struct {
		row  []any
		want bool
	}{
		{[]any{"a", int64(1), true, nil}, true},
		{[]any{"_xyz_ data_x12_ _x004_ x0041_"}, true},
		{[]any{"_x0041_"}, true},
		{[]any{"name _xD800_ end"}, true},
		{[]any{strings.Repeat("x", maxFastString+1)}, false},
		{[]any{1.5}, false},
		{[]any{time.Unix(0, 0)}, false},
		{[]any{excelize.Cell{Value: "x"}}, false},
	} {
		if got := fastRow(c.row); got != c.want {
			t.Errorf("fastRow(%.40q) = %v, want %v", c.row, got, c.want)
		}
	}
}

// TestXLSXMixesEncodedAndExcelizeRows writes a table whose rows go through
// the rowEncoder until one it cannot encode (a text longer than a cell
// holds), after which excelize writes the rest; reading the workbook back
// gives every row, in order, as written.
func TestXLSXMixesEncodedAndExcelizeRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mixed.xlsx")
	tb, err := NewTables(FormatXLSX, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	s, err := tb.Table("t", []Column{{Name: "name"}, {Name: "n", Type: TypeInt}, {Name: "ok", Type: TypeBool}})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("y", maxFastString+10)
	var want [][]string
	for i := range 300 {
		name := awkwardStrings[i%len(awkwardStrings)]
		switch i {
		case 150:
			name = "_x0041_ literal"
		case 200:
			name = long
		}
		if err := s.WriteRow(name, i, i%3 == 0); err != nil {
			t.Fatal(err)
		}
		want = append(want, []string{name, strconv.Itoa(i), strings.ToUpper(strconv.FormatBool(i%3 == 0))})
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	x := openXLSX(t, path)
	got, err := x.GetRows("t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 301 {
		t.Fatalf("%d rows, want 301", len(got))
	}
	for i, w := range want {
		g := got[i+1]
		// Read back: an empty text is an empty cell, excelize cuts a text
		// at 32,767 characters, and XML cannot hold some characters.
		w[0] = expectedCell(w[0])
		for len(g) < 3 {
			g = append(g, "")
		}
		if !slices.Equal(g, w) {
			t.Errorf("row %d = %.60q, want %.60q", i+2, g, w)
		}
	}
	if dim, _ := x.GetSheetDimension("t"); dim != "A1:C301" {
		t.Errorf("dimension %q, want A1:C301", dim)
	}
	checkZip(t, path)
}

// checkZip reads every entry of the ZIP file at path to its end, which
// checks its size and CRC-32.
func checkZip(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || uint64(n) != f.UncompressedSize64 {
			t.Errorf("%s: read %d of %d bytes: %v", f.Name, n, f.UncompressedSize64, err)
		}
	}
}

// TestXLSXEncodedRowsOnly checks a sheet whose rows all went through the
// rowEncoder (its entry is three deflate segments) against the values
// written, and its ZIP entry's CRC.
func TestXLSXEncodedRowsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fast.xlsx")
	tb, err := NewTables(FormatXLSX, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	s, err := tb.Table("t", []Column{{Name: "name"}, {Name: "n", Type: TypeInt}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000 // more than one deflate block
	for i := range n {
		if err := s.WriteRow("user "+strconv.Itoa(i*7919%n)+" "+awkwardStrings[i%10], i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	checkZip(t, path)
	x := openXLSX(t, path)
	got, err := x.GetRows("t")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 {
		t.Fatalf("%d rows, want %d", len(got), n+1)
	}
	for i := range n {
		want := expectedCell("user " + strconv.Itoa(i*7919%n) + " " + awkwardStrings[i%10])
		if g := got[i+1]; len(g) != 2 || g[0] != want || g[1] != strconv.Itoa(i) {
			t.Fatalf("row %d = %q, want [%q %d]", i+2, g, want, i)
		}
	}
}

func TestCRC32Combine(t *testing.T) {
	data := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog 0123456789", 300))
	for _, cut := range []int{0, 1, 7, 64, 1000, len(data) - 1, len(data)} {
		a, b := data[:cut], data[cut:]
		if got, want := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))), crc32.ChecksumIEEE(data); got != want {
			t.Errorf("cut at %d: %08x, want %08x", cut, got, want)
		}
	}
}

// expectedCell is text s as a cell reads back: cut at 32,767 characters
// (all of one byte here), and each byte of invalid UTF-8 and each
// character XML cannot hold as U+FFFD.
func expectedCell(s string) string {
	if len(s) > maxFastString {
		s = s[:maxFastString]
	}
	var b []byte
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if !inXMLCharRange(r) || (r == utf8.RuneError && w == 1) {
			r = utf8.RuneError
		}
		b = utf8.AppendRune(b, r)
		i += w
	}
	return string(b)
}

// TestXLSXEscapeSequencesReadBack writes texts holding "_xHHHH_" sequences
// that excelize's own writer loses (a surrogate's, and one starting at the
// last "_" of another) and reads them back exactly.
func TestXLSXEscapeSequencesReadBack(t *testing.T) {
	texts := []string{"a_xD800_b", "_x0041_x0042_", "_x005F_xD800_", "_xDFFF__x0041_", "x_x0041_x005F_x0042_y", "_x005F_x005F_"}
	path := filepath.Join(t.TempDir(), "seq.xlsx")
	tb, err := NewTables(FormatXLSX, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	s, err := tb.Table("t", []Column{{Name: "name"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range texts {
		if err := s.WriteRow(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := openXLSX(t, path).GetRows("t")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range texts {
		if g := got[i+1]; len(g) != 1 || g[0] != want {
			t.Errorf("row %d = %q, want %q", i+2, g, want)
		}
	}
}
