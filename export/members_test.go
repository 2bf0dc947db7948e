package export

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/scim"
)

// testGraph builds a graph from "group: member member ..." lines. Names
// starting with u are users, s service principals, anything else groups;
// ids equal names.
func testGraph(t *testing.T, lines ...string) *graph {
	t.Helper()
	g := newGraph()
	kind := func(name string) string {
		switch name[0] {
		case 'u':
			return kindUser
		case 's':
			return kindSP
		}
		return kindGroup
	}
	for _, l := range lines {
		grp, members, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad line %q", l)
		}
		grp = strings.TrimSpace(grp)
		n := newNode(grp, grp, kindGroup)
		n.groupType = groupTypeWorkspace
		g.add(n)
		for _, m := range strings.Fields(members) {
			if g.nodes[m] == nil {
				g.add(newNode(m, m, kind(m)))
			}
			g.link(grp, grp, m)
		}
	}
	g.finish()
	return g
}

// describe renders a closure as "member@depth[via]" items.
func describe(g *graph, c closure) []string {
	var out []string
	for _, r := range c.reached {
		s := fmt.Sprintf("%s@%d", r.id, r.depth)
		if v := g.via(c, r.id); len(v) > 0 {
			s += "[" + strings.Join(v, ">") + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestExpandNested(t *testing.T) {
	g := testGraph(t,
		"eng: u1 data ml",
		"data: u2 s1 etl",
		"ml: u3 u2",
		"etl: u4 u1",
	)
	c := g.expand("eng")
	got := describe(g, c)
	// Direct members first (users, then groups, by name), then depth 2 in
	// member order, each principal once at its shortest depth: u1 is direct
	// although etl also holds it, u2 is reached through data (first in order).
	want := []string{"u1@1", "data@1", "ml@1", "u2@2[data]", "s1@2[data]", "etl@2[data]", "u3@2[ml]", "u4@3[data>etl]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("expand(eng) = %v\nwant %v", got, want)
	}
	if c.cycleVia != "" || g.cyclePath(c) != nil {
		t.Errorf("no cycle expected, got via %q", c.cycleVia)
	}
	if cy := g.cycles(); len(cy) != 0 {
		t.Errorf("cycles = %v, want none", cy)
	}
}

func TestExpandCycleTerminates(t *testing.T) {
	g := testGraph(t,
		"a: u1 b",
		"b: u2 c",
		"c: a u3",
		"d: d u4",
		"e: a",
	)
	c := g.expand("a")
	want := []string{"u1@1", "b@1", "u2@2[b]", "c@2[b]", "u3@3[b>c]"}
	if got := describe(g, c); !reflect.DeepEqual(got, want) {
		t.Fatalf("expand(a) = %v\nwant %v", got, want)
	}
	if got, want := g.cyclePath(c), []string{"a", "b", "c", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cyclePath(a) = %v, want %v", got, want)
	}
	// A group that contains itself directly.
	if got, want := g.cyclePath(g.expand("d")), []string{"d", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cyclePath(d) = %v, want %v", got, want)
	}
	// e reaches the cycle but is not in it.
	ce := g.expand("e")
	if ce.cycleVia != "" {
		t.Errorf("e is not in a cycle, got via %q", ce.cycleVia)
	}
	if got, want := describe(g, ce), []string{"a@1", "u1@2[a]", "b@2[a]", "u2@3[a>b]", "c@3[a>b]", "u3@4[a>b>c]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("expand(e) = %v\nwant %v", got, want)
	}
	if got, want := g.cycles(), [][]string{{"a", "b", "c"}, {"d"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("cycles = %v, want %v", got, want)
	}
}

func TestCyclesLongChainNoStackGrowth(t *testing.T) {
	// 20000 nested groups closed into one big cycle: the iterative Tarjan
	// and the breadth-first expansion must both handle it.
	const n = 20000
	lines := make([]string, n)
	for i := range n {
		lines[i] = fmt.Sprintf("g%05d: g%05d", i, (i+1)%n)
	}
	g := testGraph(t, lines...)
	cy := g.cycles()
	if len(cy) != 1 || len(cy[0]) != n {
		t.Fatalf("cycles: got %d sets (first of %d), want 1 of %d", len(cy), len(cy[0]), n)
	}
	c := g.expand("g00000")
	if len(c.reached) != n-1 || c.cycleVia != fmt.Sprintf("g%05d", n-1) {
		t.Fatalf("expand reached %d, cycleVia %q", len(c.reached), c.cycleVia)
	}
}

func TestBuildGraphFromGroupsAttributes(t *testing.T) {
	ref := func(id, display string) scim.ComplexValue { return scim.ComplexValue{Value: id, Display: display} }
	users := []scim.User{
		{ID: "10", UserName: "b@x.test", Groups: []scim.ComplexValue{ref("1", "eng"), ref("9", "lagging")}},
		{ID: "11", UserName: "A@x.test", Groups: []scim.ComplexValue{ref("2", "data"), ref("2", "data")}},
	}
	sps := []scim.ServicePrincipal{{ID: "20", DisplayName: "etl-bot", Groups: []scim.ComplexValue{ref("2", "data")}}}
	groups := []scim.Group{
		{ID: "1", DisplayName: "eng", Meta: &scim.Meta{ResourceType: scim.ResourceTypeAccountGroup}},
		{ID: "2", DisplayName: "data", Meta: &scim.Meta{ResourceType: scim.ResourceTypeWorkspaceGroup},
			Groups: []scim.ComplexValue{ref("1", "eng")}},
	}
	g := buildGraph(users, sps, groups, nil, nil)
	if got, want := g.members["1"], []string{"10", "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members(eng) = %v, want %v", got, want)
	}
	// Users sort by name case-insensitively, before service principals;
	// the duplicate reference counts once.
	if got, want := g.members["2"], []string{"11", "20"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members(data) = %v, want %v", got, want)
	}
	lag := g.nodes["9"]
	if lag == nil || lag.listed || lag.name != "lagging" || lag.kind != kindGroup {
		t.Errorf("unlisted group = %+v, want a placeholder named from the reference", lag)
	}
	if g.nodes["1"].groupType != groupTypeAccount || g.nodes["2"].groupType != groupTypeWorkspace {
		t.Errorf("group types = %q, %q", g.nodes["1"].groupType, g.nodes["2"].groupType)
	}
	if got, want := g.parents["10"], []string{"1", "9"}; !reflect.DeepEqual(got, want) {
		t.Errorf("parents(b) = %v, want %v", got, want)
	}
}
