package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"
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
// inline CSS, inline JavaScript and an inline SVG chart, no external assets
// (a Content-Security-Policy forbids loading any). The main table can be
// filtered (free text and one drop-down per filterable column) and sorted in
// the browser; without JavaScript it is still a complete static table.
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

// HTMLColumn is a table column. Filter adds a drop-down of the column's
// distinct values above the main table. Numeric columns sort as numbers.
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
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"tone":  toneClass,
	"count": func(t HTMLTable) int { return len(t.Rows) },
	"cellArgs": func(c HTMLCell, col HTMLColumn) htmlCellArgs {
		return htmlCellArgs{Cell: c, Column: col}
	},
}).Parse(htmlTemplateText))

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
		data.SVG = layoutChart(*r.Chart)
	}
	if err := htmlTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// htmlData is what the template sees.
type htmlData struct {
	HTMLReport
	Filters []htmlFilter
	SVG     *svgChart
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
// order.
func filters(t HTMLTable) []htmlFilter {
	var out []htmlFilter
	for i, c := range t.Columns {
		if !c.Filter {
			continue
		}
		f := htmlFilter{Column: i, Name: c.Name}
		seen := map[string]bool{}
		for _, r := range t.Rows {
			v := r.Cells[i].Text
			if !seen[v] {
				seen[v] = true
				f.Values = append(f.Values, v)
			}
		}
		out = append(out, f)
	}
	return out
}

// Chart geometry, in SVG user units.
const (
	chartLabelWidth = 170
	chartBarWidth   = 560
	chartRowHeight  = 26
	chartBarHeight  = 18
	chartTop        = 8
	chartTotalWidth = 60
)

// svgChart is a laid-out chart.
type svgChart struct {
	Width, Height int
	Rows          []svgRow
	Legend        []svgLegend
	Title         string
}

type svgRow struct {
	Label    string
	Y, TextY int
	Total    int
	TotalX   int
	Segments []svgSegment
}

type svgSegment struct {
	X, Width float64
	Class    string
	Title    string
}

type svgLegend struct {
	Name  string
	Class string
	Total int
}

// layoutChart computes bar segments scaled to the largest category total.
func layoutChart(c HTMLChart) *svgChart {
	totals := make([]int, len(c.Categories))
	maxTotal := 0
	for i := range c.Categories {
		for _, s := range c.Series {
			totals[i] += s.Values[i]
		}
		maxTotal = max(maxTotal, totals[i])
	}
	out := &svgChart{
		Title:  c.Title,
		Width:  chartLabelWidth + chartBarWidth + chartTotalWidth,
		Height: chartTop*2 + chartRowHeight*max(len(c.Categories), 1),
	}
	for i, cat := range c.Categories {
		y := chartTop + i*chartRowHeight
		row := svgRow{Label: cat, Y: y, TextY: y + chartBarHeight - 4, Total: totals[i]}
		x := float64(chartLabelWidth)
		for _, s := range c.Series {
			v := s.Values[i]
			if v <= 0 {
				continue
			}
			w := float64(v) / float64(maxTotal) * chartBarWidth
			w = math.Round(w*100) / 100
			row.Segments = append(row.Segments, svgSegment{X: x, Width: w, Class: toneClass(s.Tone), Title: fmt.Sprintf("%s, %s: %d", cat, s.Name, v)})
			x += w
		}
		row.TotalX = int(math.Ceil(x)) + 6
		out.Rows = append(out.Rows, row)
	}
	for _, s := range c.Series {
		t := 0
		for _, v := range s.Values {
			t += v
		}
		out.Legend = append(out.Legend, svgLegend{Name: s.Name, Class: toneClass(s.Tone), Total: t})
	}
	return out
}
