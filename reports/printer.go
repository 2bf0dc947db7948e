package reports

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TablePrinter prints a table on stdout for humans or scripts (cli/cli
// tableprinter style). On a terminal, columns are aligned, headers are
// upper-case (bold with colour), numbers are right-aligned, times are
// relative ("3 days ago") and the table fits the terminal's width: the
// columns that explain a row (see [TablePrinter.Wrap]) are never cut: a
// value that does not fit the room the other columns leave is printed
// under its row, indented and wrapped to the terminal's width; the widest
// other columns are truncated with "…". Off a terminal it prints
// TSV: a header row of column names, then one line per row with canonical
// values ([FormatValue], RFC 3339 times); tabs and line breaks inside
// values become spaces.
//
// Rows are buffered until Render. A TablePrinter is not safe for
// concurrent use.
type TablePrinter struct {
	s    *Streams
	tty  bool
	cols []Column
	rows [][]any
	wrap map[int]bool // columns never cut

	// Now is the clock for relative times; nil means time.Now. Set it
	// before Render.
	Now func() time.Time
}

// NewTablePrinter returns a TablePrinter writing to s.Out, formatted for
// s.IsStdoutTTY().
func NewTablePrinter(s *Streams) *TablePrinter {
	return &TablePrinter{s: s, tty: s.IsStdoutTTY()}
}

// SetColumns sets the columns; it must be called before AddRow.
func (p *TablePrinter) SetColumns(cols ...Column) {
	p.cols = cols
}

// Wrap marks the columns named (by Column.Name) as explaining their row,
// such as a reason or a note: on a terminal they are wrapped, never cut.
// Call it after SetColumns.
func (p *TablePrinter) Wrap(names ...string) {
	if p.wrap == nil {
		p.wrap = map[int]bool{}
	}
	for i, c := range p.cols {
		for _, n := range names {
			if c.Name == n {
				p.wrap[i] = true
			}
		}
	}
}

// AddRow adds a row: one value per column, of a Go type suiting the
// column's type (see [ColumnType]). It fails with [ErrValueType] otherwise.
func (p *TablePrinter) AddRow(vals ...any) error {
	row, err := normalizeRow(p.cols, vals)
	if err != nil {
		return fmt.Errorf("print row %d: %w", len(p.rows)+1, err)
	}
	p.rows = append(p.rows, row)
	return nil
}

// Render writes the table to s.Out.
func (p *TablePrinter) Render() error {
	w := bufio.NewWriter(p.s.Out)
	if p.tty {
		p.renderTTY(w)
	} else {
		p.renderTSV(w)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("print table: %w", err)
	}
	return nil
}

var tsvSpaces = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func (p *TablePrinter) renderTSV(w *bufio.Writer) {
	for i, c := range p.cols {
		if i > 0 {
			w.WriteByte('\t')
		}
		w.WriteString(tsvSpaces.Replace(c.Name))
	}
	w.WriteByte('\n')
	for _, row := range p.rows {
		for i, v := range row {
			if i > 0 {
				w.WriteByte('\t')
			}
			w.WriteString(tsvSpaces.Replace(formatNormalized(v)))
		}
		w.WriteByte('\n')
	}
}

// columnGap separates columns on a terminal.
const columnGap = "  "

// minWrapWidth is the narrowest an explaining column is given.
const minWrapWidth = 24

// belowIndent indents an explanation printed under its row.
const belowIndent = "    "

func (p *TablePrinter) renderTTY(w *bufio.Writer) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	at := now()
	n := len(p.cols)
	if n == 0 {
		return
	}
	header := make([]string, n)
	cells := make([][]string, len(p.rows))
	widths := make([]int, n)
	for i, c := range p.cols {
		header[i] = strings.ToUpper(ttyText(c.Name))
		widths[i] = displayWidth(header[i])
	}
	for r, row := range p.rows {
		cells[r] = make([]string, n)
		for i, v := range row {
			var s string
			if t, ok := v.(time.Time); ok {
				s = RelativeTime(t, at)
			} else {
				s = ttyText(formatNormalized(v))
			}
			cells[r][i] = s
			widths[i] = max(widths[i], displayWidth(s))
		}
	}
	termW := p.s.TerminalWidth()
	below := p.layout(widths, termW, cells)

	// shown lists the columns printed in the row's line.
	var shown []int
	for i := range n {
		if !below[i] {
			shown = append(shown, i)
		}
	}
	line := func(vals []string, isHeader bool) {
		// An explanation that does not fit its column goes under the row.
		under := map[int]bool{}
		var b strings.Builder
		for k, i := range shown {
			v := vals[i]
			if p.wrap[i] && !isHeader && displayWidth(v) > widths[i] {
				under[i], v = true, ""
			}
			v = truncateWidth(v, widths[i])
			last := k == len(shown)-1
			rightAlign := !isHeader && (p.cols[i].Type == TypeInt || p.cols[i].Type == TypeFloat)
			pad := strings.Repeat(" ", max(widths[i]-displayWidth(v), 0))
			switch {
			case rightAlign:
				v = pad + v
			case !last:
				v += pad
			}
			if isHeader && p.s.ColorEnabled() {
				v = "\x1b[1m" + v + "\x1b[0m"
			}
			if k > 0 {
				b.WriteString(columnGap)
			}
			b.WriteString(v)
		}
		w.WriteString(b.String())
		w.WriteByte('\n')
		if isHeader {
			return
		}
		for i := range n {
			if (below[i] || under[i]) && vals[i] != "" {
				for _, l := range wrapWidth(vals[i], max(termW-1-len(belowIndent), minWrapWidth)) {
					w.WriteString(belowIndent + l + "\n")
				}
			}
		}
	}
	line(header, true)
	for _, row := range cells {
		line(row, false)
	}
}

// layout fits the columns into a terminal of termW columns: it sets the
// widths in place and returns the explaining columns that go under every
// row instead. An explaining column gets up to half of the width
// (minWrapWidth at the least, its natural width at the most) and whatever
// the others leave; the others are truncated, widest first, to make that
// room. When even minWrapWidth is not left, or when no value of an
// explaining column fits it, the explaining columns go under their rows
// and the others share the whole width.
func (p *TablePrinter) layout(widths []int, termW int, cells [][]string) map[int]bool {
	n := len(widths)
	below := map[int]bool{}
	avail := func(cols int) int { return termW - len(columnGap)*(cols-1) }
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= avail(n) {
		return below
	}
	if len(p.wrap) == 0 {
		fitWidths(widths, avail(n))
		return below
	}
	orig := slices.Clone(widths)
	var others []int
	reserve := 0
	for i := range n {
		if p.wrap[i] {
			reserve += min(widths[i], max(minWrapWidth, avail(n)/2))
		} else {
			others = append(others, i)
		}
	}
	otherW := make([]int, len(others))
	for k, i := range others {
		otherW[k] = widths[i]
	}
	if left := avail(n) - reserve; left >= 5*len(others) {
		fitWidths(otherW, left)
		used := 0
		for k, i := range others {
			widths[i] = otherW[k]
			used += otherW[k]
		}
		// The explaining columns share what the others leave, in
		// proportion to their natural widths, each within its own.
		room, natural := avail(n)-used, 0
		for i := range n {
			if p.wrap[i] {
				natural += widths[i]
			}
		}
		fits := false
		for i := range n {
			if p.wrap[i] {
				widths[i] = min(widths[i], room*widths[i]/max(natural, 1))
				for _, row := range cells {
					if v := row[i]; v != "" && displayWidth(v) <= widths[i] {
						fits = true
					}
				}
			}
		}
		if fits {
			return below
		}
		for k, i := range others {
			otherW[k] = orig[i]
		}
	}
	// Too narrow, or nothing fits: the explaining columns go under their
	// rows.
	for i := range n {
		if p.wrap[i] {
			below[i] = true
		}
	}
	fitWidths(otherW, avail(len(others)))
	for k, i := range others {
		widths[i] = otherW[k]
	}
	return below
}

// ttyText makes a value printable on one terminal line: control
// characters (line breaks, tabs) become spaces.
func ttyText(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// fitWidths shrinks the widest columns so that the widths sum to at most
// avail, never below a minimum of 5 cells (or the natural width when
// smaller). It finds the largest cap c such that sum(min(w, c)) fits.
func fitWidths(widths []int, avail int) {
	const minWidth = 5
	total := 0
	for _, w := range widths {
		total += w
	}
	if total <= avail {
		return
	}
	sum := func(c int) int {
		s := 0
		for _, w := range widths {
			s += min(w, c)
		}
		return s
	}
	lo, hi := minWidth, 0
	for _, w := range widths {
		hi = max(hi, w)
	}
	for lo < hi { // largest c in [minWidth, hi] with sum(c) <= avail
		mid := (lo + hi + 1) / 2
		if sum(mid) <= avail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for i, w := range widths {
		widths[i] = min(w, lo)
	}
}

// FormatTime formats t for a terminal (relative to now, see RelativeTime)
// or for scripts (RFC 3339 in UTC). The zero time is "".
func FormatTime(t, now time.Time, tty bool) string {
	if t.IsZero() {
		return ""
	}
	if tty {
		return RelativeTime(t, now)
	}
	return t.UTC().Format(time.RFC3339)
}

// RelativeTime describes t relative to now for humans: "just now",
// "5 minutes ago", "about 1 hour ago", "3 days ago", "in 2 months". The
// zero time is "".
func RelativeTime(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 24*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	case d < 30*24*time.Hour:
		s = plural(int(d/(24*time.Hour)), "day")
	case d < 365*24*time.Hour:
		s = plural(int(d/(30*24*time.Hour)), "month")
	default:
		s = plural(int(d/(365*24*time.Hour)), "year")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "about 1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
