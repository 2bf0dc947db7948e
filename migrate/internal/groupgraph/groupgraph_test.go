package groupgraph

import (
	"slices"
	"testing"
)

func TestStronglyConnectedOrdersChildrenFirst(t *testing.T) {
	edges := map[string][]string{"p": {"c", "d"}, "c": {"d"}, "x": {"y"}, "y": {"x"}, "s": {"s"}}
	got := SCC([]string{"c", "d", "p", "s", "x", "y"}, edges)
	pos := map[string]int{}
	for i, scc := range got {
		for _, v := range scc {
			pos[v] = i
		}
	}
	if !(pos["d"] < pos["c"] && pos["c"] < pos["p"]) {
		t.Errorf("order %v: children must come first", got)
	}
	if pos["x"] != pos["y"] {
		t.Errorf("x and y must share a component: %v", got)
	}
	if len(got) != 5 {
		t.Errorf("components = %v, want 5", got)
	}
}

func TestCyclePath(t *testing.T) {
	display := map[string]string{"a": "A", "b": "B", "c": "C"}
	edges := map[string][]string{"a": {"b"}, "b": {"c", "x"}, "c": {"a"}}
	in := map[string]bool{"a": true, "b": true, "c": true}
	if got, want := CyclePath([]string{"c", "b", "a"}, edges, in, display), "A -> B -> C -> A"; got != want {
		t.Errorf("CyclePath = %q, want %q", got, want)
	}
	// A component whose first edges lead nowhere new is listed by name.
	edges = map[string][]string{"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}
	if got, want := CyclePath([]string{"a", "b", "c"}, map[string][]string{"a": {"b"}, "b": {"b"}}, in, display), "A, B, C"; got != want {
		t.Errorf("CyclePath without a closing walk = %q, want %q", got, want)
	}
	if got, want := CyclePath([]string{"a", "b", "c"}, edges, in, display), "A -> B -> A"; got != want {
		t.Errorf("CyclePath = %q, want %q", got, want)
	}
}

func TestDiffSets(t *testing.T) {
	missing, extra := DiffSets([]string{"a", "b", "c"}, []string{"b", "d"})
	if !slices.Equal(missing, []string{"a", "c"}) || !slices.Equal(extra, []string{"d"}) {
		t.Errorf("DiffSets = %q, %q; want [a c], [d]", missing, extra)
	}
	if missing, extra := DiffSets([]string{"x"}, []string{"x"}); missing != nil || extra != nil {
		t.Errorf("DiffSets of equal sets = %q, %q; want nil, nil", missing, extra)
	}
}

func TestDepth(t *testing.T) {
	edges := map[string][]string{"top": {"mid", "leaf"}, "mid": {"leaf"}, "x": {"y"}, "y": {"x"}}
	children := func(id string) []string { return edges[id] }
	memo := map[string]int{}
	for _, c := range []struct {
		id   string
		want int
	}{{"leaf", 1}, {"mid", 2}, {"top", 3}, {"x", 3}, {"y", 2}} { // x > y > x again, which counts one
		if got := Depth(c.id, children, memo); got != c.want {
			t.Errorf("Depth(%q) = %d, want %d", c.id, got, c.want)
		}
	}
}
