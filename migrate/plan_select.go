package migrate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/dbiam/dbiam/scim"
)

// planSelector decides which workspaces and local groups a plan covers.
type planSelector struct {
	workspaces []string // names or ids; empty = all
	groups     map[string]bool
	groupRes   []*regexp.Regexp
	exclude    map[string]bool
	excludeRes []*regexp.Regexp
	// mapping, when set and no group selector is given, selects the
	// groups the mapping file names.
	mapping *Mapping
}

// newPlanSelector compiles the selection flags; errors name the flag.
func newPlanSelector(o PlanOptions, mapping *Mapping) (*planSelector, error) {
	s := &planSelector{workspaces: o.Workspaces, groups: map[string]bool{}, exclude: map[string]bool{}, mapping: mapping}
	for _, g := range o.Groups {
		if g == "" {
			return nil, fmt.Errorf("flag --group: empty group name")
		}
		s.groups[g] = true
	}
	for _, e := range o.Exclude {
		s.exclude[e] = true
	}
	for _, c := range []struct {
		flag string
		in   []string
		out  *[]*regexp.Regexp
	}{{"group-regex", o.GroupRegex, &s.groupRes}, {"exclude-regex", o.ExcludeRegex, &s.excludeRes}} {
		for _, expr := range c.in {
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("flag --%s %q: %w", c.flag, expr, err)
			}
			*c.out = append(*c.out, re)
		}
	}
	return s, nil
}

// selected reports whether the local group name of workspace ws is in scope
// (system groups are excluded by the caller).
func (s *planSelector) selected(ws planWSIdent, name string) bool {
	if s.exclude[name] || slices.ContainsFunc(s.excludeRes, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
		return false
	}
	if len(s.groups) > 0 || len(s.groupRes) > 0 {
		return s.groups[name] || slices.ContainsFunc(s.groupRes, func(re *regexp.Regexp) bool { return re.MatchString(name) })
	}
	if s.mapping != nil {
		return s.mapping.covers(ws, name)
	}
	return true
}

// selectWorkspaces filters the account's workspaces by --workspace (name or
// id). A selector that names no workspace is an error.
func (s *planSelector) selectWorkspaces(all []scim.WorkspaceInfo) ([]scim.WorkspaceInfo, error) {
	if len(s.workspaces) == 0 {
		return all, nil
	}
	var out []scim.WorkspaceInfo
	used := make([]bool, len(s.workspaces))
	for _, w := range all {
		id := strconv.FormatInt(w.ID, 10)
		hit := false
		for i, sel := range s.workspaces {
			if sel == id || sel == w.Name {
				used[i], hit = true, true
			}
		}
		if hit {
			out = append(out, w)
		}
	}
	for i, ok := range used {
		if !ok {
			return nil, noMatch("flag --workspace", s.workspaces[i], "workspace of the account (by name or id)", workspaceCandidates(all))
		}
	}
	return out, nil
}
