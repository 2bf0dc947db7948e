package audit

import (
	"maps"
	"slices"
	"testing"
)

func ids(ms []member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func u(id string) member   { return member{ID: id, Type: PrincipalUser} }
func sp(id string) member  { return member{ID: id, Type: PrincipalServicePrincipal} }
func grp(id string) member { return member{ID: id, Type: PrincipalGroup} }

func TestGraphExpandNestedAndCycles(t *testing.T) {
	g := newGraph()
	g.set("G", []member{u("alice"), grp("N1"), sp("robot")})
	g.set("N1", []member{u("bob"), grp("N2"), u("alice")})
	g.set("N2", []member{u("carol"), grp("G")}) // cycle back to G
	got, missing := g.expand("G")
	if want := []string{"alice", "N1", "robot", "bob", "N2", "carol"}; !slices.Equal(ids(got), want) {
		t.Errorf("expand = %v, want %v", ids(got), want)
	}
	if len(missing) != 0 {
		t.Errorf("missing = %v", missing)
	}
	// A group nested in itself.
	g.set("S", []member{grp("S"), u("dan")})
	if got, _ := g.expand("S"); !slices.Equal(ids(got), []string{"dan"}) {
		t.Errorf("self-nested expand = %v", ids(got))
	}
}

func TestGraphExpandReportsUnknownGroups(t *testing.T) {
	g := newGraph()
	g.set("G", []member{u("alice"), grp("X")})
	got, missing := g.expand("G")
	if !slices.Equal(ids(got), []string{"alice", "X"}) || !slices.Equal(missing, []string{"X"}) {
		t.Errorf("expand = %v, missing %v", ids(got), missing)
	}
	if !g.known("G") || g.known("X") {
		t.Error("known() wrong")
	}
}

func TestGraphSolePaths(t *testing.T) {
	// Workspace assignments: group G (being removed), group Other, user dan
	// directly. G contains alice, bob, nested N (carol, erin). Other contains
	// bob. N is also assigned in workspace 2 only.
	g := newGraph()
	g.set("G", []member{u("alice"), u("bob"), grp("N"), u("dan")})
	g.set("N", []member{u("carol"), u("erin")})
	g.set("Other", []member{u("bob"), grp("Deep")})
	g.set("Deep", []member{u("erin")})
	removed := map[string]bool{"G": true}
	candidates := []string{"alice", "bob", "N", "carol", "dan", "erin", "frank"}

	tests := []struct {
		name     string
		assigned []string
		want     map[string][]string
	}{
		{
			name:     "group is the only path for alice, N and carol",
			assigned: []string{"G", "Other", "dan"},
			// bob keeps access via Other, dan is assigned directly, erin via
			// Other > Deep, frank never had access.
			want: map[string][]string{"alice": {"G"}, "N": {"G"}, "carol": {"G"}},
		},
		{
			name:     "nested group assigned on its own keeps its members in",
			assigned: []string{"G", "N"},
			want:     map[string][]string{"alice": {"G"}, "bob": {"G"}, "dan": {"G"}},
		},
		{
			name:     "group not assigned: nobody loses access",
			assigned: []string{"Other"},
			want:     map[string][]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := g.solePaths(tt.assigned, removed, candidates)
			if !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("solePaths = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGraphSolePathsSeveralRemovedGroups(t *testing.T) {
	g := newGraph()
	g.set("A", []member{u("alice"), grp("B")})
	g.set("B", []member{u("alice"), u("bob")})
	g.set("C", []member{u("bob")})
	// A and B are both removed; alice reached the workspace through both.
	got := g.solePaths([]string{"A", "C"}, map[string]bool{"A": true, "B": true}, []string{"alice", "bob", "B"})
	want := map[string][]string{"alice": {"A", "B"}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("solePaths = %v, want %v", got, want)
	}
}

func TestGraphSolePathsCycle(t *testing.T) {
	g := newGraph()
	g.set("G", []member{u("alice"), grp("H")})
	g.set("H", []member{grp("G"), u("bob")})
	got := g.solePaths([]string{"H"}, map[string]bool{"G": true}, []string{"alice", "bob"})
	// H is assigned; alice is only in G, which H contains: alice loses access.
	want := map[string][]string{"alice": {"G"}}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("solePaths = %v, want %v", got, want)
	}
}
