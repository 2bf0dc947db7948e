package migrate

import (
	"fmt"
	"slices"
	"strconv"
)

// Canary. apply --workspace NAME_OR_ID ... --group NAME ... migrates only
// the plan's groups in those workspaces with those names (a local group's
// name, or the name of the account group it maps to); a later apply, with
// other names or none, goes on with the rest (what is done is skipped).
// The account groups the selected groups need, nested ones included, are
// ensured as a whole. A selection that would leave a group half served is
// refused before any change: a group whose nested groups (in its
// workspace) are neither selected nor migrated, or one of several local
// groups of a workspace that share an account group without the others.

// scopeGroups returns the groups apply works on: every migrated group of
// the plan, or the canary selection. Names are matched exactly; one that
// matches nothing is a *NameError naming the closest names.
func (ex *executor) scopeGroups(workspaces, groups []string) ([]groupRef, error) {
	all := activeGroups(ex.plan)
	if len(workspaces) == 0 && len(groups) == 0 {
		return all, nil
	}
	var wsCands []nameCandidate
	for _, ws := range workspacesOf(all) {
		id := strconv.FormatInt(ws.WorkspaceID, 10)
		wsCands = append(wsCands, nameCandidate{ws.WorkspaceName, "workspace " + id}, nameCandidate{id, "id of workspace " + ws.WorkspaceName})
	}
	inWS := func(ws *WorkspacePlan) bool {
		return len(workspaces) == 0 || slices.Contains(workspaces, ws.WorkspaceName) || slices.Contains(workspaces, strconv.FormatInt(ws.WorkspaceID, 10))
	}
	for _, w := range workspaces {
		if !slices.ContainsFunc(wsCands, func(c nameCandidate) bool { return c.name == w }) {
			return nil, noMatch("flag --workspace", w, "workspace of the plan with groups to migrate (by name or id)", wsCands)
		}
	}
	var gCands []nameCandidate
	for _, gr := range all {
		if inWS(gr.ws) {
			gCands = append(gCands, nameCandidate{gr.g.LocalName, "local group in " + gr.ws.WorkspaceName},
				nameCandidate{findAG(ex.plan, gr.g.AccountGroupKey).DisplayName, "account group"})
		}
	}
	for _, g := range groups {
		if !slices.ContainsFunc(gCands, func(c nameCandidate) bool { return c.name == g }) {
			return nil, noMatch("flag --group", g, "migrated local group or account group of the plan in the workspaces selected", gCands)
		}
	}
	var out []groupRef
	for _, gr := range all {
		if inWS(gr.ws) && selected(groups, gr.g.LocalName, findAG(ex.plan, gr.g.AccountGroupKey).DisplayName) {
			out = append(out, gr)
		}
	}
	in := func(o groupRef) bool {
		return slices.ContainsFunc(out, func(s groupRef) bool { return s.ws == o.ws && s.g.LocalID == o.g.LocalID }) ||
			ex.groupDone(o.ws.WorkspaceID, o.g.LocalID)
	}
	for _, gr := range out {
		for _, c := range all {
			if c.ws != gr.ws || c.g.LocalID == gr.g.LocalID || in(c) {
				continue
			}
			var why string
			switch {
			case c.g.AccountGroupKey == gr.g.AccountGroupKey:
				why = fmt.Sprintf("shares account group %q with it", findAG(ex.plan, gr.g.AccountGroupKey).DisplayName)
			case slices.ContainsFunc(findAG(ex.plan, gr.g.AccountGroupKey).Members, func(m Member) bool { return m.GroupKey == c.g.AccountGroupKey }):
				why = "is nested in it"
			default:
				continue
			}
			return nil, fmt.Errorf("apply: group %q in workspace %s needs %q, which %s and is not migrated yet: add --group %s (or migrate it first)",
				gr.g.LocalName, gr.ws.WorkspaceName, c.g.LocalName, why, strconv.Quote(c.g.LocalName))
		}
	}
	return out, nil
}
