package reports

import (
	"strings"

	"github.com/rivo/uniseg"
)

// displayWidth returns the number of terminal cells s occupies.
func displayWidth(s string) int { return uniseg.StringWidth(s) }

// truncateWidth cuts s to at most w terminal cells, ending in "…" when
// something was cut. It never splits a grapheme cluster.
func truncateWidth(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if displayWidth(s) <= w {
		return s
	}
	var b strings.Builder
	used := 0
	state := -1
	rest := s
	for rest != "" {
		var cluster string
		var cw int
		cluster, rest, cw, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if used+cw > w-1 { // keep one cell for the ellipsis
			break
		}
		b.WriteString(cluster)
		used += cw
	}
	b.WriteString("…")
	return b.String()
}

// padRight pads s with spaces to w terminal cells.
func padRight(s string, w int) string {
	if n := w - displayWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// padLeft pads s with spaces on the left to w terminal cells.
func padLeft(s string, w int) string {
	if n := w - displayWidth(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}
