package reports

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/internal/browsertest"
)

// browserReport is a report with enough rows to scroll, names that do not
// break, a multi-valued relation column, a numeric column and a chart with
// long labels.
func browserReport() HTMLReport {
	r := sampleHTMLReport()
	r.Chart.Categories = []string{"legacy-dashboard-with-a-long-kind-name", "token"}
	r.Summaries[0].Columns = append(r.Summaries[0].Columns, HTMLColumn{Name: "workspace_url"})
	r.Summaries[0].Rows[0].Cells = append(r.Summaries[0].Rows[0].Cells, HTMLCell{Text: "https://adb-6051921418418891.11.azuredatabricks.net/?o=6051921418418891"})
	r.Table = HTMLTable{
		Title: "Findings",
		Columns: []HTMLColumn{{Name: "severity", Filter: true}, {Name: "object_name"}, {Name: "relation", Filter: true},
			{Name: "runs", Numeric: true}, {Name: "details"}},
	}
	relations := [][]string{{"created", "owns"}, {"owns"}, {"created", "owns", "runs-as"}, {"runs-as"}}
	for i := range 60 {
		sev, tone, key := "info", ToneNeutral, "4"
		if i%3 == 0 {
			sev, tone, key = "breaks", ToneDanger, "1"
		}
		rel := relations[i%len(relations)]
		r.Table.Rows = append(r.Table.Rows, HTMLRow{Tone: tone, Cells: []HTMLCell{
			{Text: sev, Tone: tone, SortKey: key},
			{Text: fmt.Sprintf("nightly-etl-%02d", i), Link: fmt.Sprintf("https://ws.example.test/jobs/%d", i)},
			{Text: strings.Join(rel, ", "), Values: rel},
			{Text: fmt.Sprint((i * 37) % 100)},
			{Text: "token=" + strings.Repeat("0123456789abcdef", 4) + "; trigger=cron 0 15 2 * * ? UTC"},
		}})
	}
	return r
}

// TestHTMLReportInBrowser opens a report in headless Chromium and uses it
// as a person would: at a phone's width nothing scrolls sideways and the
// chart's labels are readable; on a desktop the table header stays in view
// while the findings scroll; the filters, the search and the sort work
// from the keyboard (Tab, Enter, Space, arrows) with a visible focus and
// the sort state in aria-sort; the relation filter offers single
// relations; headings are words; the script throws nothing.
func TestHTMLReportInBrowser(t *testing.T) {
	b := browsertest.Start(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, browserReport()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "file://" + path

	t.Run("phone width", func(t *testing.T) {
		p := b.Open(url, 400, 800)
		if sw, cw := p.Number("document.documentElement.scrollWidth"), p.Number("document.documentElement.clientWidth"); sw > cw {
			t.Errorf("the page scrolls sideways at 400 px: %v wide in %v", sw, cw)
		}
		wide := p.String(`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5 && !e.closest(".sr")).map(e => e.tagName + "." + e.className).slice(0, 5).join(" ")`)
		if wide != "" {
			t.Errorf("elements reach past the right edge at 400 px: %s", wide)
		}
		for _, sel := range []string{".clabel", ".ctotal"} {
			size := p.Number(`parseFloat(getComputedStyle(document.querySelector("` + sel + `")).fontSize)`)
			height := p.Number(`document.querySelector("` + sel + `").getBoundingClientRect().height`)
			if size < 12 || height < 12 {
				t.Errorf("chart %s: font %v px, box %v px high; want readable text (12 px or more)", sel, size, height)
			}
		}
		if cut := p.Number(`Array.from(document.querySelectorAll(".clabel")).filter(e => e.scrollWidth > e.clientWidth + 1).length`); cut != 0 {
			t.Errorf("%v chart labels are cut", cut)
		}
		if ex := p.Exceptions(); len(ex) > 0 {
			t.Errorf("script errors: %v", ex)
		}
	})

	t.Run("desktop", func(t *testing.T) {
		p := b.Open(url, 1280, 800)
		if sw, cw := p.Number("document.documentElement.scrollWidth"), p.Number("document.documentElement.clientWidth"); sw > cw {
			t.Errorf("the page scrolls sideways at 1280 px: %v wide in %v", sw, cw)
		}
		// Headings are words, in every table and filter.
		if h := p.String(`Array.from(document.querySelectorAll("th, .filters label")).map(e => e.textContent).filter(s => s.includes("_")).join(" | ")`); h != "" {
			t.Errorf("headings with underscores: %s", h)
		}
		if got := p.String(`document.querySelector("#main-table th:nth-child(2)").textContent.trim()`); got != "Object name" {
			t.Errorf("heading %q, want Object name", got)
		}
		// The relation filter offers single relations.
		opts := p.String(`Array.from(document.querySelectorAll('#filters select[data-col="2"] option')).map(o => o.textContent).join(",")`)
		if opts != "all,created,owns,runs-as" {
			t.Errorf("relation filter options %q, want all,created,owns,runs-as", opts)
		}

		// Sticky header: scroll into the middle of the findings.
		p.Eval(`window.scrollTo(0, document.querySelector("#main-table tbody").getBoundingClientRect().top + window.scrollY + 900)`)
		top := p.Number(`document.querySelector("#main-table thead th").getBoundingClientRect().top`)
		rows := p.Number(`Array.from(document.querySelectorAll("#main-table tbody tr")).filter(r => { const b = r.getBoundingClientRect(); return b.top < 0 && b.bottom > 0 || b.top > 0 && b.top < 400 }).length`)
		if math.Abs(top) > 1 || rows == 0 {
			t.Errorf("after scrolling into the findings the header is at %v px (want 0, stuck to the top) with %v rows in view", top, rows)
		}
		p.Eval(`window.scrollTo(0, 0)`)

		// Keyboard: Tab from the top of the page goes through the search,
		// the filters, Clear, then the sort buttons.
		p.Eval(`document.activeElement && document.activeElement.blur(), true`)
		var order []string
		for range 12 {
			p.Press("Tab", false)
			order = append(order, p.String(`(e => e.id || (e.tagName.toLowerCase() + ":" + (e.getAttribute("data-col") || e.textContent.trim())))(document.activeElement)`))
		}
		want := []string{"q", "select:0", "select:2", "clear", "button:Severity", "button:Object name", "button:Relation", "button:Runs", "button:Details"}
		if i := indexOf(order, "q"); i < 0 || strings.Join(order[i:i+len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("tab order %q, want %q in this order", order, want)
		}

		// Focus is visible on the sort button reached with Tab.
		p.Eval(`document.activeElement.blur(), true`)
		tabTo(t, p, "button:Runs")
		if o := p.String(`(s => s.outlineStyle + " " + s.outlineWidth)(getComputedStyle(document.activeElement))`); o != "solid 3px" {
			t.Errorf("focused sort button outline %q, want a visible one (solid 3px)", o)
		}
		// Enter sorts ascending, Space descending; aria-sort says so.
		p.Press("Enter", false)
		if s := p.String(`document.querySelector("#main-table th:nth-child(4)").getAttribute("aria-sort")`); s != "ascending" {
			t.Errorf("after Enter aria-sort = %q, want ascending", s)
		}
		if first := p.String(`document.querySelector("#main-table tbody tr td:nth-child(4)").textContent`); first != "0" {
			t.Errorf("ascending by runs, first row has %q", first)
		}
		p.Press("Space", false)
		if s := p.String(`document.querySelector("#main-table th:nth-child(4)").getAttribute("aria-sort")`); s != "descending" {
			t.Errorf("after Space aria-sort = %q, want descending", s)
		}
		if first := p.String(`document.querySelector("#main-table tbody tr td:nth-child(4)").textContent`); first != "99" {
			t.Errorf("descending by runs, first row has %q", first)
		}
		if others := p.String(`Array.from(document.querySelectorAll("#main-table th")).filter((h, i) => i != 3).map(h => h.getAttribute("aria-sort")).join(",")`); others != "none,none,none,none" {
			t.Errorf("aria-sort of the other columns %q, want none", others)
		}
		if note := p.String(`document.getElementById("sortnote").textContent`); note != "Sorted by Runs, descending" {
			t.Errorf("sort announcement %q", note)
		}

		// The relation filter from the keyboard: one arrow down picks
		// "created"; rows whose relations include it stay.
		p.Eval(`document.activeElement.blur(), true`)
		tabTo(t, p, "select:2")
		p.Press("ArrowDown", false)
		if v := p.String(`document.activeElement.value`); v != "created" {
			t.Fatalf("relation filter value %q after ArrowDown, want created", v)
		}
		visible := p.Number(`Array.from(document.querySelectorAll("#main-table tbody tr")).filter(r => !r.hidden).length`)
		if visible != 30 { // relations 0 and 2 of every 4
			t.Errorf("%v rows shown for relation created, want 30", visible)
		}
		// Search narrows further; Clear (Enter on it) resets.
		p.Eval(`document.activeElement.blur(), true`)
		tabTo(t, p, "q")
		p.Type("etl-0")
		if shown := p.String(`document.getElementById("shown").textContent`); shown != "5 of 60 rows" {
			t.Errorf("after searching %q", shown)
		}
		tabTo(t, p, "clear")
		p.Press("Enter", false)
		if shown := p.String(`document.getElementById("shown").textContent`); shown != "60 rows" {
			t.Errorf("after Clear %q", shown)
		}
		if ex := p.Exceptions(); len(ex) > 0 {
			t.Errorf("script errors: %v", ex)
		}
	})
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// tabTo presses Tab until the focused element is the one named as in the
// tab order above (going round the page if it must), and fails after 200
// presses.
func tabTo(t *testing.T, p *browsertest.Page, name string) {
	t.Helper()
	for range 200 {
		p.Press("Tab", false)
		if p.String(`(e => e.id || (e.tagName.toLowerCase() + ":" + (e.getAttribute("data-col") || e.textContent.trim())))(document.activeElement)`) == name {
			return
		}
	}
	t.Fatalf("Tab never reached %s", name)
}
