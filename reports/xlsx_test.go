package reports

import (
	"archive/zip"
	"html"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func openXLSX(t *testing.T, path string) *excelize.File {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// zipText returns the concatenated text of the parts of the zip at path
// whose names start with prefix.
func zipText(t *testing.T, path, prefix string) string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var b strings.Builder
	for _, f := range z.File {
		if !strings.HasPrefix(f.Name, prefix) {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(&b, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestXLSXTables(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "export.xlsx")
	tb, err := NewTables(FormatXLSX, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	writeUsers(t, tb)
	if _, err := tb.Table("users/archived: [old]", []Column{{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"export.xlsx"}) {
		t.Fatalf("dir holds %v: temp or spool files left", got)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("mode = %v, want 0600", m)
	}

	f := openXLSX(t, path)
	if got := f.GetSheetList(); !slices.Equal(got, []string{"Summary", "users", "groups", "users_archived_ _old_"}) {
		t.Fatalf("sheets = %q", got)
	}
	if f.GetActiveSheetIndex() != 0 {
		t.Errorf("active sheet = %d, want the summary", f.GetActiveSheetIndex())
	}

	rows, err := f.GetRows("users")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"workspace_id", "user_name", "active", "score", "created"},
		{"123", "alice@example.test", "TRUE", "1.5", "2026-03-04 04:06:07"},
		{"123", `bob "the builder", jr`, "FALSE", "2"},
		{"7", "line\nbreak", "", "", "2026-03-04 04:06:07"},
		{"", "José <&>", "TRUE"},
	}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("users rows:\n got  %q\n want %q", rows, want)
	}

	// Numbers and times are number cells (no t attribute), booleans are
	// boolean cells, text is inline strings.
	sheetXML := zipText(t, path, "xl/worksheets/sheet2.xml")
	for _, cell := range []string{
		`<c r="A2"><v>123</v></c>`,
		`<c r="D2"><v>1.5</v></c>`,
		`<c r="D3"><v>2</v></c>`,
		`<c r="C2" t="b"><v>1</v></c>`,
		`<c r="B2" t="inlineStr"><is><t>alice@example.test</t></is></c>`,
	} {
		if !strings.Contains(sheetXML, cell) {
			t.Errorf("users sheet lacks %s", cell)
		}
	}
	if !regexp.MustCompile(`<c r="E2" s="\d+"><v>46085\.17091435\d*</v></c>`).MatchString(sheetXML) {
		t.Error("E2 is not a date number cell")
	}
	if ct, _ := f.GetCellType("users", "C2"); ct != excelize.CellTypeBool {
		t.Errorf("C2 type = %v, want bool", ct)
	}
	timeStyle, _ := f.GetCellStyle("users", "E2")
	if st, err := f.GetStyle(timeStyle); err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != "yyyy-mm-dd hh:mm:ss" {
		t.Errorf("E2 style = %+v, %v; want a date format", st, err)
	}
	raw, err := f.GetCellValue("users", "D2", excelize.Options{RawCellValue: true})
	if err != nil || raw != "1.5" {
		t.Errorf("D2 raw = %q, %v", raw, err)
	}

	// Header: bold with a fill; frozen below row 1; widths fitted.
	styleID, err := f.GetCellStyle("users", "B1")
	if err != nil {
		t.Fatal(err)
	}
	style, err := f.GetStyle(styleID)
	if err != nil {
		t.Fatal(err)
	}
	if style.Font == nil || !style.Font.Bold || style.Fill.Pattern != 1 || len(style.Fill.Color) == 0 {
		t.Errorf("header style = font %+v fill %+v, want bold and filled", style.Font, style.Fill)
	}
	panes, err := f.GetPanes("users")
	if err != nil {
		t.Fatal(err)
	}
	if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
		t.Errorf("panes = %+v, want the header row frozen", panes)
	}
	if w, _ := f.GetColWidth("users", "B"); w != float64(len(`bob "the builder", jr`)+3) {
		t.Errorf("column B width = %v", w)
	}
	if w, _ := f.GetColWidth("users", "C"); w != 9 { // "active" + 3
		t.Errorf("column C width = %v", w)
	}

	// Auto-filter over header and data.
	if !strings.Contains(strings.ReplaceAll(sheetXML, "$", ""), `<autoFilter ref="A1:E5"`) {
		t.Errorf("users sheet has no auto-filter over A1:E5")
	}
	var filterName bool
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm._FilterDatabase" && dn.RefersTo == "'users'!$A$1:$E$5" {
			filterName = true
		}
	}
	if !filterName {
		t.Errorf("no filter database name for users: %+v", f.GetDefinedName())
	}

	// Summary: the table and a clustered bar chart of its numeric columns.
	sum, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"workspace", "users", "groups"}, {"prod", "3", "1"}, {"dev", "1", "0"}}; !slices.EqualFunc(sum, want, slices.Equal) {
		t.Errorf("summary rows = %q", sum)
	}
	if !strings.Contains(zipText(t, path, "xl/worksheets/sheet1.xml"), `<c r="B2"><v>3</v></c>`) {
		t.Error("summary B2 is not a number cell")
	}
	chart := html.UnescapeString(zipText(t, path, "xl/charts/chart"))
	for _, part := range []string{"<barChart>", `<barDir val="bar">`, `<grouping val="clustered">`, `<varyColors val="0">`,
		"Users per workspace", "<f>'Summary'!$A$2:$A$3</f>", "<f>'Summary'!$B$2:$B$3</f>", "<f>'Summary'!$C$2:$C$3</f>"} {
		if !strings.Contains(chart, part) {
			t.Errorf("chart XML lacks %s", part)
		}
	}
	if !strings.Contains(zipText(t, path, "xl/drawings/"), "chart") {
		t.Error("no drawing anchors the chart")
	}
}

func TestXLSXEmptyWorkbook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.xlsx")
	tb, err := NewTables(FormatXLSX, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Table("users", userCols); err != nil { // no rows
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, path)
	rows, err := f.GetRows("users")
	if err != nil || len(rows) != 1 || rows[0][0] != "workspace_id" {
		t.Errorf("rows = %q, %v; want the header only", rows, err)
	}
	if !strings.Contains(strings.ReplaceAll(zipText(t, path, "xl/worksheets/sheet1.xml"), "$", ""), `<autoFilter ref="A1:E1"`) {
		t.Error("empty table has no auto-filter on its header")
	}
}
