package reports

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func sampleHTMLReport() HTMLReport {
	return HTMLReport{
		Title:     "Impact of removing <alice>",
		Subtitle:  "2 workspaces",
		Generated: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Notices:   []HTMLNotice{{Tone: ToneCritical, Text: "workspace ws-b: jobs not covered"}},
		Stats:     []HTMLStat{{Label: "breaks", Value: 2, Tone: ToneDanger}, {Label: "info", Value: 1, Tone: ToneNeutral}},
		Chart: &HTMLChart{
			Title:      "Findings by kind and severity",
			Categories: []string{"job", "token"},
			Series: []HTMLSeries{
				{Name: "breaks", Tone: ToneDanger, Values: []int{2, 0}},
				{Name: "info", Tone: ToneNeutral, Values: []int{1, 1}},
			},
		},
		Summaries: []HTMLTable{{
			Title:   "By identity",
			Columns: []HTMLColumn{{Name: "identity"}, {Name: "findings", Numeric: true}},
			Rows:    []HTMLRow{{Cells: []HTMLCell{{Text: "alice@example.test"}, {Text: "4"}}}},
		}, {
			Title:   "Empty summary",
			Columns: []HTMLColumn{{Name: "x"}},
			Empty:   "nothing here",
		}},
		Table: HTMLTable{
			Title:   "Findings",
			Columns: []HTMLColumn{{Name: "severity", Filter: true}, {Name: "kind", Filter: true}, {Name: "object"}},
			Rows: []HTMLRow{
				{Tone: ToneDanger, Cells: []HTMLCell{{Text: "breaks", Tone: ToneDanger, SortKey: "1"}, {Text: "job"}, {Text: "nightly <etl>", Link: "https://ws-a.example.test/jobs/1"}}},
				{Tone: ToneDanger, Cells: []HTMLCell{{Text: "breaks", Tone: ToneDanger, SortKey: "1"}, {Text: "job"}, {Text: "evil", Link: "javascript:alert(1)"}}},
				{Tone: ToneNeutral, Cells: []HTMLCell{{Text: "info", Tone: ToneNeutral, SortKey: "4"}, {Text: "token"}, {Text: "ci token"}}},
			},
		},
	}
}

// walk calls f for every element node.
func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if v, _ := attr(n, "id"); v == id && found == nil {
			found = n
		}
	})
	return found
}

func render(t *testing.T, r HTMLReport) (string, *html.Node) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse output: %v", err)
	}
	return buf.String(), doc
}

func TestWriteHTMLSelfContained(t *testing.T) {
	out, doc := render(t, sampleHTMLReport())
	var csp bool
	walk(doc, func(n *html.Node) {
		if n.Data == "meta" {
			if v, _ := attr(n, "http-equiv"); v == "Content-Security-Policy" {
				c, _ := attr(n, "content")
				csp = strings.Contains(c, "default-src 'none'")
			}
		}
		// No element may load anything: no src, no stylesheet links.
		if v, ok := attr(n, "src"); ok {
			t.Errorf("<%s src=%q> loads an external asset", n.Data, v)
		}
		if n.Data == "link" {
			t.Errorf("<link> element found: %v", n.Attr)
		}
	})
	if !csp {
		t.Error("no Content-Security-Policy forbidding external loads")
	}
	if !strings.Contains(out, "<script>") || !strings.Contains(out, "<style>") {
		t.Error("inline script or style missing")
	}
}

func TestWriteHTMLEscapesAndSanitises(t *testing.T) {
	out, doc := render(t, sampleHTMLReport())
	if strings.Contains(out, "<alice>") || strings.Contains(out, "<etl>") {
		t.Error("text was not escaped")
	}
	if !strings.Contains(out, "Impact of removing &lt;alice&gt;") {
		t.Error("escaped title missing")
	}
	var hrefs []string
	walk(doc, func(n *html.Node) {
		if n.Data == "a" {
			h, _ := attr(n, "href")
			hrefs = append(hrefs, h)
		}
	})
	if len(hrefs) != 2 || hrefs[0] != "https://ws-a.example.test/jobs/1" || strings.HasPrefix(hrefs[1], "javascript:") {
		t.Errorf("links = %q, want the https link kept and the javascript: link neutralised", hrefs)
	}
}

func TestWriteHTMLTableAndFilters(t *testing.T) {
	_, doc := render(t, sampleHTMLReport())
	table := byID(doc, "main-table")
	if table == nil {
		t.Fatal("main table missing")
	}
	var rows, badges int
	var sortKeys []string
	walk(table, func(n *html.Node) {
		if n.Data == "tr" {
			if p := n.Parent; p != nil && p.Data == "tbody" {
				rows++
			}
		}
		if n.Data == "span" {
			if c, _ := attr(n, "class"); c == "badge t-danger" || c == "badge t-neutral" {
				badges++
			}
		}
		if v, ok := attr(n, "data-sort"); ok {
			sortKeys = append(sortKeys, v)
		}
	})
	if rows != 3 || badges != 3 {
		t.Errorf("rows = %d, badges = %d; want 3 and 3", rows, badges)
	}
	if strings.Join(sortKeys, ",") != "1,1,4" {
		t.Errorf("sort keys = %v, want 1,1,4", sortKeys)
	}
	filters := byID(doc, "filters")
	var selects []string
	walk(filters, func(n *html.Node) {
		if n.Data == "select" {
			col, _ := attr(n, "data-col")
			var opts []string
			walk(n, func(o *html.Node) {
				if o.Data == "option" {
					opts = append(opts, text(o))
				}
			})
			selects = append(selects, col+":"+strings.Join(opts, "|"))
		}
	})
	want := []string{"0:all|breaks|info", "1:all|job|token"}
	if strings.Join(selects, " ") != strings.Join(want, " ") {
		t.Errorf("filters = %v, want %v", selects, want)
	}
	if got := text(byID(doc, "shown")); got != "3 rows" {
		t.Errorf("row count label = %q", got)
	}
}

func TestWriteHTMLChart(t *testing.T) {
	_, doc := render(t, sampleHTMLReport())
	chart := byID(doc, "chart")
	if chart == nil {
		t.Fatal("chart missing")
	}
	type seg struct{ class, style, title string }
	var segs []seg
	var labels, totals, spoken []string
	walk(chart, func(n *html.Node) {
		c, _ := attr(n, "class")
		switch {
		case strings.HasPrefix(c, "seg "):
			st, _ := attr(n, "style")
			ti, _ := attr(n, "title")
			segs = append(segs, seg{strings.TrimPrefix(c, "seg "), st, ti})
		case c == "clabel":
			labels = append(labels, text(n))
		case c == "ctotal":
			totals = append(totals, text(n))
		case c == "sr":
			spoken = append(spoken, text(n))
		}
	})
	// job: 2 breaks + 1 info = 3 (the longest bar, the whole track);
	// token: 1 info. Labels are HTML text at the page's font size, not
	// SVG text scaled down with the chart.
	want := []seg{
		{"t-danger", "width:66.67%", "job, breaks: 2"},
		{"t-neutral", "width:33.33%", "job, info: 1"},
		{"t-neutral", "width:33.33%", "token, info: 1"},
	}
	if len(segs) != len(want) {
		t.Fatalf("segments = %+v, want %+v", segs, want)
	}
	for i := range want {
		if segs[i] != want[i] {
			t.Errorf("segment %d = %+v, want %+v", i, segs[i], want[i])
		}
	}
	if strings.Join(labels, ",") != "job,token" || strings.Join(totals, ",") != "3,1" {
		t.Errorf("labels = %v, totals = %v", labels, totals)
	}
	// Screen readers get each bar as words.
	if strings.Join(spoken, "|") != "job: 2 breaks, 1 info|token: 1 info" {
		t.Errorf("bar texts = %q", spoken)
	}
	if !strings.Contains(text(chart), "breaks (2)") || !strings.Contains(text(chart), "info (2)") {
		t.Errorf("legend totals missing: %q", text(chart))
	}
	walk(chart, func(n *html.Node) {
		if n.Data == "svg" {
			t.Error("the chart is an SVG again: its labels shrink with it on a phone")
		}
	})
}

// TestWriteHTMLScriptContract checks, in the DOM, what the page's script
// and its keyboard use rely on: each main table heading is a button in a
// column header with an aria-sort state, headings are words, each cell
// carries its heading for the phone layout, multi-valued cells carry their
// values for the filter, and the filters are labelled controls.
func TestWriteHTMLScriptContract(t *testing.T) {
	r := sampleHTMLReport()
	r.Table.Columns = append(r.Table.Columns, HTMLColumn{Name: "relation_kind", Filter: true})
	rel := [][]string{{"created", "owns"}, {"owns"}, {"runs-as"}}
	for i := range r.Table.Rows {
		r.Table.Rows[i].Cells = append(r.Table.Rows[i].Cells, HTMLCell{Text: strings.Join(rel[i], ", "), Values: rel[i]})
	}
	_, doc := render(t, r)
	table := byID(doc, "main-table")
	var heads []string
	walk(table, func(n *html.Node) {
		if n.Data != "th" {
			return
		}
		scope, _ := attr(n, "scope")
		sort, _ := attr(n, "aria-sort")
		var button *html.Node
		walk(n, func(c *html.Node) {
			if c.Data == "button" {
				button = c
			}
		})
		if scope != "col" || sort != "none" || button == nil {
			t.Errorf("header %q: scope %q, aria-sort %q, button %v; want col, none and a sort button", text(n), scope, sort, button != nil)
			return
		}
		if typ, _ := attr(button, "type"); typ != "button" {
			t.Errorf("sort button type %q", typ)
		}
		heads = append(heads, text(button))
	})
	if got := strings.Join(heads, ","); got != "Severity,Kind,Object,Relation kind" {
		t.Errorf("headings %q", got)
	}
	var labels []string
	var values []string
	walk(table, func(n *html.Node) {
		if n.Data == "td" {
			l, _ := attr(n, "data-label")
			labels = append(labels, l)
			if v, ok := attr(n, "data-values"); ok {
				values = append(values, v)
			}
		}
	})
	if strings.Join(labels[:4], ",") != "Severity,Kind,Object,Relation kind" {
		t.Errorf("cell labels %q", labels[:4])
	}
	if strings.Join(values, " ") != `["created","owns"] ["owns"] ["runs-as"]` {
		t.Errorf("data-values %q", values)
	}
	var filters []string
	walk(byID(doc, "filters"), func(n *html.Node) {
		if n.Data == "label" {
			var opts []string
			walk(n, func(o *html.Node) {
				if o.Data == "option" {
					opts = append(opts, text(o))
				}
			})
			name := strings.TrimSpace(strings.SplitN(text(n), "all", 2)[0])
			filters = append(filters, name+":"+strings.Join(opts, "|"))
		}
	})
	// The multi-valued column's filter offers single values.
	if got := strings.Join(filters, " "); got != "Search: Severity:all|breaks|info Kind:all|job|token Relation kind:all|created|owns|runs-as" {
		t.Errorf("filters %q", got)
	}
	for _, id := range []string{"shown", "sortnote"} {
		if live, _ := attr(byID(doc, id), "aria-live"); live != "polite" {
			t.Errorf("#%s aria-live %q, want polite", id, live)
		}
	}
}

func TestHeading(t *testing.T) {
	for in, want := range map[string]string{"object_name": "Object name", "severity": "Severity", "if_per_workspace": "If per workspace", "": "", "Données": "Données"} {
		if got := heading(in); got != want {
			t.Errorf("heading(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteHTMLEmpty(t *testing.T) {
	r := HTMLReport{Title: "Nothing", Table: HTMLTable{Title: "Findings", Columns: []HTMLColumn{{Name: "a"}}, Empty: "No findings."}}
	out, doc := render(t, r)
	if byID(doc, "main-table") != nil || byID(doc, "chart") != nil {
		t.Error("empty report has a table or chart")
	}
	if !strings.Contains(out, "No findings.") {
		t.Error("empty message missing")
	}
}

func TestWriteHTMLRejectsRaggedInput(t *testing.T) {
	r := sampleHTMLReport()
	r.Chart.Series[0].Values = []int{1}
	if err := WriteHTML(&bytes.Buffer{}, r); err == nil || !strings.Contains(err.Error(), "series \"breaks\"") {
		t.Errorf("ragged chart: err = %v", err)
	}
	r = sampleHTMLReport()
	r.Table.Rows[1].Cells = r.Table.Rows[1].Cells[:2]
	if err := WriteHTML(&bytes.Buffer{}, r); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Errorf("ragged table: err = %v", err)
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteHTMLWriteError(t *testing.T) {
	if err := WriteHTML(failWriter{}, sampleHTMLReport()); !errors.Is(err, errWrite) {
		t.Errorf("err = %v, want wrapping %v", err, errWrite)
	}
}
