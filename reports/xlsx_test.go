package reports

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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

// sheetPart returns the name of the zip part of sheet in the workbook at
// path, from the workbook and its relationships.
func sheetPart(t *testing.T, path, sheet string) string {
	t.Helper()
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	var rels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.Unmarshal([]byte(zipText(t, path, "xl/workbook.xml")), &wb); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(zipText(t, path, "xl/_rels/workbook.xml.rels")), &rels); err != nil {
		t.Fatal(err)
	}
	for _, s := range wb.Sheets {
		if s.Name != sheet {
			continue
		}
		for _, r := range rels.Rels {
			if r.ID == s.RID {
				return "xl/" + strings.TrimPrefix(r.Target, "/xl/")
			}
		}
	}
	t.Fatalf("no sheet %q in %s", sheet, path)
	return ""
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
	sheetXML := zipText(t, path, sheetPart(t, path, "users"))
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
	if !strings.Contains(zipText(t, path, sheetPart(t, path, "Summary")), `<c r="B2"><v>3</v></c>`) {
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
	if !strings.Contains(strings.ReplaceAll(zipText(t, path, sheetPart(t, path, "users")), "$", ""), `<autoFilter ref="A1:E1"`) {
		t.Error("empty table has no auto-filter on its header")
	}
}

// TestXLSXForReviewers checks what a reviewer's tools see: the About sheet
// first, every sheet's dimension its real range (streamed sheets
// included), the print settings, named fonts, the workbook's properties,
// and incomplete tables marked in their sheet.
func TestXLSXForReviewers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "review.xlsx")
	asOf := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	tb, err := NewTables(FormatXLSX, path, TablesOptions{Creator: "dbiam v9.9.9", Created: asOf})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	big, err := tb.Table("big", []Column{{Name: "n", Type: TypeInt}, {Name: "tags", Type: TypeList, Join: " | "}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500 // more than the rows held back to fit widths
	for i := range n {
		if err := big.WriteRow(i, []string{"a", fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tb.Table("failed one", []Column{{Name: "x"}}); err != nil {
		t.Fatal(err)
	}
	writeUsers(t, tb)
	if err := tb.About(About{
		Fields: []AboutField{{"as_of", "2026-12-01T09:30:00Z"}, {"command", "dbiam export"}},
		Tables: []TableStatus{
			{Table: "big", Status: StatusOK},
			{Table: "failed one", Status: StatusFailed, Detail: "account list users: denied & more"},
			{Table: "users", Status: StatusPartial, Detail: "workspace 7 failed"},
			{Table: "never written", Status: StatusSkipped, Detail: "not in --include"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, path)
	if got, want := f.GetSheetList(), []string{"About", "Summary", "big", "failed one", "users", "groups"}; !slices.Equal(got, want) {
		t.Fatalf("sheets = %q, want %q", got, want)
	}
	if f.GetActiveSheetIndex() != 0 {
		t.Errorf("active sheet %d, want About", f.GetActiveSheetIndex())
	}
	about, err := f.GetRows("About")
	if err != nil {
		t.Fatal(err)
	}
	wantAbout := [][]string{
		{"as_of", "2026-12-01T09:30:00Z"},
		{"command", "dbiam export"},
		nil,
		{"table", "status", "rows", "detail"},
		{"big", "ok", "2500"},
		{"failed one", "failed", "0", "account list users: denied & more"},
		{"users", "partial", "4", "workspace 7 failed"},
		{"never written", "skipped", "", "not in --include"},
	}
	if !slices.EqualFunc(about, wantAbout, slices.Equal) {
		t.Errorf("About rows:\n got  %q\n want %q", about, wantAbout)
	}

	// Dimensions: read from each part, as a read-only reader does.
	for sheet, want := range map[string]string{"big": "A1:B2501", "failed one": "A1", "users": "A1:E5", "groups": "A1:B2", "Summary": "A1:C3"} {
		xml := zipText(t, path, sheetPart(t, path, sheet))
		if !strings.Contains(xml, `<dimension ref="`+want+`"`) {
			i := strings.Index(xml, "<dimension")
			t.Errorf("%s: dimension %q, want %s", sheet, xml[i:min(i+40, len(xml))], want)
		}
		if got, err := f.GetSheetDimension(sheet); err != nil || got != want {
			t.Errorf("%s: GetSheetDimension = %q, %v; want %s", sheet, got, err, want)
		}
	}
	rows, err := f.GetRows("big")
	if err != nil || len(rows) != n+1 || rows[n][1] != "a | 2499" {
		t.Errorf("big: %d rows, last %q, %v", len(rows), rows[len(rows)-1], err)
	}

	// Print settings: landscape, fitted to the page width (the summary and
	// its chart to one page), the header row repeated, a page header.
	for _, sheet := range []string{"big", "users", "Summary", "About"} {
		lay, err := f.GetPageLayout(sheet)
		if err != nil {
			t.Fatal(err)
		}
		wantHeight := 0
		if sheet == "Summary" {
			wantHeight = 1
		}
		if *lay.Orientation != "landscape" || lay.FitToWidth == nil || *lay.FitToWidth != 1 || lay.FitToHeight == nil || *lay.FitToHeight != wantHeight {
			t.Errorf("%s: layout orientation %v fit %v x %v, want landscape 1 x %d", sheet, *lay.Orientation, lay.FitToWidth, lay.FitToHeight, wantHeight)
		}
		props, err := f.GetSheetProps(sheet)
		if err != nil || props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("%s: fit to page not set: %+v %v", sheet, props, err)
		}
	}
	titles := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" {
			titles[dn.Scope] = dn.RefersTo
		}
	}
	if titles["big"] != "'big'!$1:$1" || titles["failed one"] != "'failed one'!$1:$1" {
		t.Errorf("print titles = %v, want row 1 of every table", titles)
	}
	hf, err := f.GetHeaderFooter("failed one")
	if err != nil || !strings.Contains(hf.OddHeader, "&C&BFailed: account list users: denied && more") || !strings.Contains(hf.OddFooter, "&P of &N") {
		t.Errorf("failed sheet header/footer = %+v, %v", hf, err)
	}
	if hf, _ := f.GetHeaderFooter("big"); strings.Contains(hf.OddHeader, "&C") {
		t.Errorf("an ok table's header carries a status: %q", hf.OddHeader)
	}
	for sheet, want := range map[string]string{"failed one": tabFailed, "users": tabPartial, "big": ""} {
		props, _ := f.GetSheetProps(sheet)
		got := ""
		if props.TabColorRGB != nil {
			got = *props.TabColorRGB
		}
		if got != want {
			t.Errorf("%s: tab colour %q, want %q", sheet, got, want)
		}
	}

	// Named fonts.
	styleID, _ := f.GetCellStyle("big", "A1")
	if st, err := f.GetStyle(styleID); err != nil || st.Font == nil || st.Font.Family != "Calibri" || st.Font.Size != 11 {
		t.Errorf("header font = %+v, %v", st.Font, err)
	}
	if font, err := f.GetDefaultFont(); err != nil || font != "Calibri" {
		t.Errorf("default font = %q, %v", font, err)
	}

	// Properties.
	props, err := f.GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	if props.Creator != "dbiam v9.9.9" || props.Created != "2026-12-01T09:30:00Z" || props.Modified != "2026-12-01T09:30:00Z" {
		t.Errorf("doc props = %+v", props)
	}
}

func TestExcelSerial(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want float64
	}{
		{time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC), 61},
		{time.Date(2026, 3, 4, 4, 6, 7, 0, time.UTC), 46085.170914351854},
		{time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600)), 46085.170914351854},
	} {
		if got := excelSerial(tt.t); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("excelSerial(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

// TestXLSXAboutRowsFitWrappedText: a long About value or table detail
// wraps in its cell, and its row is made tall enough for every line, so
// that no viewer prints it over the rows below (LibreOffice does not fit
// row heights to wrapped text by itself); short rows keep one line.
func TestXLSXAboutRowsFitWrappedText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "about.xlsx")
	tb, err := NewTables(FormatXLSX, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	status := "incomplete: 1 of 4 workspaces failed (acme-ml) and the account reads failed; the rest was written" // 98 characters
	detail := strings.Repeat("rows missing for workspace 6051921418418893 (acme-ml): 403 ", 3)                    // 180 characters
	if err := tb.About(About{
		Fields: []AboutField{{"as_of", "2026-12-01T09:30:00Z"}, {"status", status}, {"command", "dbiam export\n--out x"}},
		Tables: []TableStatus{{Table: "groups", Status: StatusPartial, Detail: detail}, {Table: "users", Status: StatusOK}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, path)
	width, err := f.GetColWidth("About", "B")
	if err != nil {
		t.Fatal(err)
	}
	for row, want := range map[int]int{
		1: 1,                                                       // as_of
		2: (textWidth(status) + int(width) - 2) / (int(width) - 1), // status: wraps in column B
		3: 2,                                                       // two lines
		5: 0,                                                       // the tables' header
		6: 3,                                                       // groups: 180 characters in column D (80)
		7: 0,                                                       // users: no detail
	} {
		h, err := f.GetRowHeight("About", row)
		if err != nil {
			t.Fatal(err)
		}
		const line = 15 // points: Excel's default row height at the workbook's 11-point font
		if want <= 1 && h != line || want > 1 && h < float64(want)*line {
			t.Errorf("About row %d height %g, want room for %d lines of %d points", row, h, max(want, 1), line)
		}
	}
}
