// Package groupgraph holds the pure graph and set work of migrate's
// planner over group keys (strings): the strongly connected components of
// nested groups in children-first order, the description of a cycle, and
// the difference of two member sets. No I/O and no shared state: every
// function is safe for concurrent use.
package groupgraph

import (
	"slices"
	"strings"
)

// SCC returns the strongly connected components of the graph
// (Tarjan), each sorted, in an order where every component comes after all
// the components it has edges to: children before parents. Roots are
// visited in the given order, so the result is deterministic.
func SCC(vertices []string, edges map[string][]string) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			slices.Sort(scc)
			out = append(out, scc)
		}
	}
	for _, v := range vertices {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}

// CyclePath describes one cycle through the strongly connected component
// scc of the graph edges (in holds the members of scc), as display names
// joined by " -> " from the smallest key back to it; when no cycle closes
// along the first edges it finds, the component's names joined by ", ".
func CyclePath(scc []string, edges map[string][]string, in map[string]bool, display map[string]string) string {
	start := slices.Min(scc)
	seen := map[string]bool{}
	walk := []string{start}
	names := func(ts []string) []string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = display[t]
		}
		return out
	}
	for cur := start; ; {
		seen[cur] = true
		next := ""
		for _, e := range edges[cur] {
			if in[e] {
				if e == start {
					return strings.Join(names(append(walk, start)), " -> ")
				}
				if next == "" && !seen[e] {
					next = e
				}
			}
		}
		if next == "" {
			return strings.Join(names(scc), ", ")
		}
		walk = append(walk, next)
		cur = next
	}
}

// DiffSets returns the keys only in want and only in have (both sorted).
func DiffSets(want, have []string) (missing, extra []string) {
	h := map[string]bool{}
	for _, k := range have {
		h[k] = true
	}
	w := map[string]bool{}
	for _, k := range want {
		w[k] = true
		if !h[k] {
			missing = append(missing, k)
		}
	}
	for _, k := range have {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	return missing, extra
}

// Depth is the number of layers of nested groups that vertex id heads: 1
// plus the depth of its deepest child (children lists the children of a
// vertex), 1 for a vertex without children. On a cycle, the vertex met
// again counts as one layer and the walk stops there. memo caches the depths across calls (pass one map for a
// whole graph); it must not be shared by concurrent calls.
func Depth(id string, children func(id string) []string, memo map[string]int) int {
	if d, ok := memo[id]; ok {
		return d
	}
	memo[id] = 1 // a cycle counts once
	d := 1
	for _, c := range children(id) {
		d = max(d, 1+Depth(c, children, memo))
	}
	memo[id] = d
	return d
}
