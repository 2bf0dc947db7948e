package reports

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Tone colours a chart series, a table row or a badge in an HTML report.
type Tone string

// Tones, from most to least alarming.
const (
	ToneCritical Tone = "critical" // purple: something could not be checked
	ToneDanger   Tone = "danger"   // red
	ToneWarning  Tone = "warning"  // orange
	ToneNotice   Tone = "notice"   // amber
	ToneNeutral  Tone = "neutral"  // blue-grey
	ToneGood     Tone = "good"     // green
)

// HTMLReport is the content of a self-contained HTML report: one file with
// inline CSS and JavaScript, no external assets (a Content-Security-Policy
// forbids loading any). The main table can be filtered (free text and one
// drop-down per filterable column) and sorted in the browser, from the
// mouse or the keyboard (sort buttons in the headers, with their ARIA sort
// state); without JavaScript it is still a complete static table. The page
// fits a phone's width (400 px) without scrolling sideways: tables become
// one card per row, and the chart's labels keep the page's font size; the
// main table's header stays visible while the page scrolls.
type HTMLReport struct {
	Title     string
	Subtitle  string
	Generated time.Time
	// Notices are highlighted messages shown first (for example parts that
	// could not be read).
	Notices []HTMLNotice
	// Stats are headline numbers shown as cards.
	Stats []HTMLStat
	// Chart is an optional stacked bar chart.
	Chart *HTMLChart
	// Summaries are small tables shown before the main table.
	Summaries []HTMLTable
	// Table is the main, filterable table.
	Table HTMLTable
}

// HTMLNotice is a highlighted message.
type HTMLNotice struct {
	Tone Tone
	Text string
}

// HTMLStat is a headline number.
type HTMLStat struct {
	Label string
	Value int
	Tone  Tone
}

// HTMLTable is a table with a title.
type HTMLTable struct {
	Title   string
	Columns []HTMLColumn
	Rows    []HTMLRow
	// Empty is shown instead of the table when it has no rows.
	Empty string
}

// HTMLColumn is a table column. Name is its heading, written as words; a
// snake_case name is shown as words ("object_name" as "Object name").
// Filter adds a drop-down of the column's distinct values above the main
// table (of each cell's Values where given). Numeric columns sort as
// numbers.
type HTMLColumn struct {
	Name    string
	Filter  bool
	Numeric bool
}

// HTMLRow is a table row; Tone tints it.
type HTMLRow struct {
	Tone  Tone
	Cells []HTMLCell
}

// HTMLCell is a table cell. A cell with a Link renders as a link (only
// http, https and mailto links survive html/template's URL sanitising); a
// cell with a Tone renders as a coloured badge.
type HTMLCell struct {
	Text string
	Link string
	Tone Tone
	// SortKey, when set, is what the column sorts by instead of Text (for
	// example a rank for severity names).
	SortKey string
	// Values, when set, are the single values the cell holds (Text shows
	// them together, e.g. "created, owns"): the column's filter offers
	// each, and a row matches when its cell holds the one chosen.
	Values []string
}

// HTMLChart is a horizontal stacked bar chart: one bar per category, one
// segment per series.
type HTMLChart struct {
	Title      string
	Categories []string
	Series     []HTMLSeries
}

// HTMLSeries is one stacked segment of every bar; Values[i] belongs to
// Categories[i].
type HTMLSeries struct {
	Name   string
	Tone   Tone
	Values []int
}

//go:embed html_report.tmpl
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"tone":    toneClass,
	"heading": heading,
	"count":   func(t HTMLTable) int { return len(t.Rows) },
	"values": func(vs []string) string {
		b, _ := json.Marshal(vs)
		return string(b)
	},
	"cellArgs": func(c HTMLCell, col HTMLColumn) htmlCellArgs {
		return htmlCellArgs{Cell: c, Column: col}
	},
}).Parse(htmlTemplateText))

// heading writes a column name as words: "object_name" is "Object name".
func heading(name string) string {
	name = strings.ReplaceAll(name, "_", " ")
	r, size := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError {
		return name
	}
	return string(unicode.ToUpper(r)) + name[size:]
}

func toneClass(t Tone) string {
	switch t {
	case ToneCritical, ToneDanger, ToneWarning, ToneNotice, ToneNeutral, ToneGood:
		return "t-" + string(t)
	}
	return "t-none"
}

// WriteHTML renders r to w as a complete HTML document. Every value is
// escaped by html/template. It returns the first error from rendering or
// writing. It is safe for concurrent use with distinct writers.
func WriteHTML(w io.Writer, r HTMLReport) error {
	if r.Chart != nil {
		for _, s := range r.Chart.Series {
			if len(s.Values) != len(r.Chart.Categories) {
				return fmt.Errorf("render html report: series %q has %d values for %d categories", s.Name, len(s.Values), len(r.Chart.Categories))
			}
		}
	}
	for _, t := range append([]HTMLTable{r.Table}, r.Summaries...) {
		for i, row := range t.Rows {
			if len(row.Cells) != len(t.Columns) {
				return fmt.Errorf("render html report: table %q row %d has %d cells for %d columns", t.Title, i+1, len(row.Cells), len(t.Columns))
			}
		}
	}
	data := htmlData{HTMLReport: r, Filters: filters(r.Table)}
	if r.Chart != nil {
		data.ChartData = layoutChart(*r.Chart)
	}
	if err := htmlTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// htmlData is what the template sees.
type htmlData struct {
	HTMLReport
	Filters   []htmlFilter
	ChartData *chartData
}

// htmlCellArgs is what the "cell" template sees.
type htmlCellArgs struct {
	Cell   HTMLCell
	Column HTMLColumn
}

// htmlFilter is a drop-down above the main table.
type htmlFilter struct {
	Column int
	Name   string
	Values []string
}

// filters lists the distinct values of each filterable column, in first-seen
// order: each of a cell's Values, or its Text.
func filters(t HTMLTable) []htmlFilter {
	var out []htmlFilter
	for i, c := range t.Columns {
		if !c.Filter {
			continue
		}
		f := htmlFilter{Column: i, Name: c.Name}
		seen := map[string]bool{}
		for _, r := range t.Rows {
			vs := r.Cells[i].Values
			if vs == nil {
				vs = []string{r.Cells[i].Text}
			}
			for _, v := range vs {
				if !seen[v] {
					seen[v] = true
					f.Values = append(f.Values, v)
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// chartData is a laid-out chart: bars as shares of the longest.
type chartData struct {
	Title  string
	Rows   []chartRow
	Legend []chartLegend
}

type chartRow struct {
	Label    string
	Total    int
	Segments []chartSegment
	// Text reads the bar for screen readers: "job: 2 breaks, 1 info".
	Text string
}

type chartSegment struct {
	// Percent is the segment's width, a share of the bar track (the
	// longest bar fills it).
	Percent float64
	Class   string
	Title   string
}

type chartLegend struct {
	Name  string
	Class string
	Total int
}

// layoutChart computes bar segments scaled to the largest category total.
func layoutChart(c HTMLChart) *chartData {
	totals := make([]int, len(c.Categories))
	maxTotal := 0
	for i := range c.Categories {
		for _, s := range c.Series {
			totals[i] += s.Values[i]
		}
		maxTotal = max(maxTotal, totals[i])
	}
	out := &chartData{Title: c.Title}
	for i, cat := range c.Categories {
		row := chartRow{Label: cat, Total: totals[i]}
		var parts []string
		for _, s := range c.Series {
			v := s.Values[i]
			if v <= 0 {
				continue
			}
			pct := math.Round(float64(v)/float64(maxTotal)*10000) / 100
			row.Segments = append(row.Segments, chartSegment{Percent: pct, Class: toneClass(s.Tone), Title: fmt.Sprintf("%s, %s: %d", cat, s.Name, v)})
			parts = append(parts, fmt.Sprintf("%d %s", v, s.Name))
		}
		row.Text = cat + ": " + strings.Join(parts, ", ")
		out.Rows = append(out.Rows, row)
	}
	for _, s := range c.Series {
		t := 0
		for _, v := range s.Values {
			t += v
		}
		out.Legend = append(out.Legend, chartLegend{Name: s.Name, Class: toneClass(s.Tone), Total: t})
	}
	return out
}
