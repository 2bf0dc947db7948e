package reports

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// excelizeRow renders vals as row n with excelize's StreamWriter, the
// reference for appendXLSXRow.
func excelizeRow(t *testing.T, n int, vals []any) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	st, err := newXLSXStyles(f)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	cells := make([]any, len(vals))
	for i, v := range vals {
		cells[i] = v
		if tm, ok := v.(time.Time); ok {
			cells[i] = excelize.Cell{StyleID: st.time, Value: tm}
		}
	}
	cell, _ := excelize.CoordinatesToCellName(1, n)
	if err := sw.SetRow(cell, cells); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := z.Open("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	xml, _ := io.ReadAll(rc)
	m := regexp.MustCompile(`(?s)<row r="\d+">.*</row>`).Find(xml)
	if m == nil {
		t.Fatalf("no row in %s", xml)
	}
	return string(m)
}

func TestXLSXCellsMatchExcelize(t *testing.T) {
	long := strings.Repeat("é", maxCellChars+5)
	rows := [][]any{
		{"plain", int64(-42), true, false, nil, 1.5, time.Date(2026, 3, 4, 4, 6, 7, 0, time.UTC)},
		{`quote " apos ' amp & lt < gt >`, "tab\there", "line\nbreak\r\nend", " lead", "trail ", "\ttab", ""},
		{"ctl \x01\x1f", "bad utf8 \xff\xfe", "emoji 😀 ü", "\uFFFE\uFFFF", "_x0041_", "_x005F_x0041_", "a_x005F_b_xZZZZ_"},
		{math.NaN(), math.Inf(1), math.Inf(-1), 0.1 + 0.2, 1e21, 123456789.123456789, -0.000001234},
		{time.Date(1899, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1900, 2, 28, 12, 0, 0, 0, time.UTC),
			time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		{long, strings.Repeat("x", maxCellChars+1), "&#xA;", int64(math.MaxInt64), int64(math.MinInt64)},
	}
	f := excelize.NewFile()
	defer f.Close()
	st, err := newXLSXStyles(f)
	if err != nil {
		t.Fatal(err)
	}
	for i, vals := range rows {
		for _, n := range []int{2, 27, 1048576} {
			want := excelizeRow(t, n, vals)
			if got := string(appendXLSXRow(nil, n, vals, 0, st)); got != want {
				t.Errorf("row %d as row %d:\n got  %.400q\n want %.400q", i, n, got, want)
			}
		}
	}
	// Column references past Z, AZ and ZZ.
	wide := make([]any, 800)
	for i := range wide {
		wide[i] = int64(i)
	}
	if got, want := string(appendXLSXRow(nil, 3, wide, 0, st)), excelizeRow(t, 3, wide); got != want {
		t.Errorf("wide row differs:\n got  %.300q\n want %.300q", got, want)
	}
}

func TestCRC32Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {100, 3}, {3, 100000}, {70000, 1 << 20}} {
		a, b := make([]byte, n[0]), make([]byte, n[1])
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := crc32.ChecksumIEEE(append(append([]byte{}, a...), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Errorf("combine(%d, %d bytes) = %08x, want %08x", n[0], n[1], got, want)
		}
	}
}
