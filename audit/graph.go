package audit

import (
	"slices"
)

// member is one entry of a group's member list.
type member struct {
	ID   string        // SCIM id
	Type PrincipalType // PrincipalGroup for a nested group
}

// graph is an in-memory group membership graph keyed by SCIM id: each group
// maps to its direct members. It holds only the groups the audit fetched; a
// group absent from the map has unknown members. A graph is not safe for
// concurrent writes.
type graph struct {
	members map[string][]member
}

func newGraph() *graph { return &graph{members: map[string][]member{}} }

// set records the direct members of group id.
func (g *graph) set(id string, ms []member) { g.members[id] = ms }

// known reports whether the members of group id were fetched.
func (g *graph) known(id string) bool {
	_, ok := g.members[id]
	return ok
}

// expand returns the transitive members of group root (users, service
// principals and nested groups), each once, in breadth-first order, never
// root itself. Cycles (a group nested in itself, directly or not) are
// tolerated: each group is walked once. missing lists nested groups whose
// members are unknown.
func (g *graph) expand(root string) (out []member, missing []string) {
	seen := map[string]bool{root: true}
	queue := []string{root}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		ms, ok := g.members[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		for _, m := range ms {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			out = append(out, m)
			if m.Type == PrincipalGroup {
				queue = append(queue, m.ID)
			}
		}
	}
	return out, missing
}

// reachable returns every principal that the assigned principals grant
// access to: the assigned principals themselves and, through group
// membership, every transitive member. Groups in removed are treated as
// deleted: they grant nothing and are not reachable themselves.
func (g *graph) reachable(assigned []string, removed map[string]bool) map[string]bool {
	out := map[string]bool{}
	var queue []string
	for _, id := range assigned {
		if removed[id] || out[id] {
			continue
		}
		out[id] = true
		queue = append(queue, id)
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, m := range g.members[id] {
			if removed[m.ID] || out[m.ID] {
				continue
			}
			out[m.ID] = true
			queue = append(queue, m.ID)
		}
	}
	return out
}

// solePaths returns, for each candidate that has access to a workspace now
// but loses it once the removed groups are gone, the removed groups it
// reached the workspace through (sorted). assigned are the principals
// assigned to the workspace; candidates are the principals to check.
// Candidates that are themselves removed are skipped.
func (g *graph) solePaths(assigned []string, removed map[string]bool, candidates []string) map[string][]string {
	before := g.reachable(assigned, nil)
	after := g.reachable(assigned, removed)
	out := map[string][]string{}
	var closures map[string]map[string]bool
	for _, c := range candidates {
		if removed[c] || !before[c] || after[c] {
			continue
		}
		if closures == nil {
			closures = map[string]map[string]bool{}
			for r := range removed {
				if !before[r] {
					continue
				}
				ms, _ := g.expand(r)
				set := map[string]bool{}
				for _, m := range ms {
					set[m.ID] = true
				}
				closures[r] = set
			}
		}
		var via []string
		for r, set := range closures {
			if set[c] {
				via = append(via, r)
			}
		}
		slices.Sort(via)
		out[c] = via
	}
	return out
}
