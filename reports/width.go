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

// wrapWidth breaks s into lines of at most w terminal cells, at spaces
// where it can and inside a word longer than w where it must; it never
// splits a grapheme cluster. An empty s is one empty line.
func wrapWidth(s string, w int) []string {
	w = max(w, 1)
	if displayWidth(s) <= w {
		return []string{s}
	}
	var lines []string
	var cur strings.Builder
	curW := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		curW = 0
	}
	for _, word := range strings.Split(s, " ") {
		ww := displayWidth(word)
		if curW > 0 && curW+1+ww > w {
			flush()
		}
		if curW > 0 {
			cur.WriteByte(' ')
			curW++
		}
		if ww <= w-curW {
			cur.WriteString(word)
			curW += ww
			continue
		}
		// A word longer than the line: cut it by grapheme clusters.
		state := -1
		rest := word
		for rest != "" {
			var cluster string
			var cw int
			cluster, rest, cw, state = uniseg.FirstGraphemeClusterInString(rest, state)
			if curW+cw > w && curW > 0 {
				flush()
			}
			cur.WriteString(cluster)
			curW += cw
		}
	}
	if cur.Len() > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}
