package migrate

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/dbiam/dbiam/scim"
)

// workspaceCandidates lists the names and ids of workspaces, for the
// closest-name hints of a --workspace or mapping cell that names none.
func workspaceCandidates(all []scim.WorkspaceInfo) []nameCandidate {
	out := make([]nameCandidate, 0, 2*len(all))
	for _, w := range all {
		id := strconv.FormatInt(w.ID, 10)
		if w.Name != "" {
			out = append(out, nameCandidate{w.Name, "workspace " + id})
		}
		out = append(out, nameCandidate{id, "id of workspace " + w.Name})
	}
	return out
}

// checkPlanNames runs after the plan's reads and before anything is
// written: every --group and --exclude name, and every mapping row, must
// name something that exists, byte for byte; otherwise the plan fails
// with a *NameError naming the closest names. --group and --exclude name
// workspace-local groups of the workspaces read; a mapping row names a
// workspace of the account (by name or id, or "*") and, when that
// workspace was read, one of its local groups. A row for a workspace
// that exists but was not read (not selected, not federated) stays a
// no-match conflict of the plan. accountWorkspaces lists the account's
// workspaces; it is called only when a mapping row needs it.
func checkPlanNames(ctx context.Context, b *planBuilder, accountWorkspaces func(context.Context) ([]scim.WorkspaceInfo, error)) error {
	var locals []nameCandidate
	byWS := map[string][]nameCandidate{} // workspace id or name -> its local groups
	for _, w := range b.ws {
		id := strconv.FormatInt(w.info.ID, 10)
		if w.federated && w.skipped == "" {
			byWS[id] = append(byWS[id], nameCandidate{})[:0]
			if w.info.Name != "" {
				byWS[w.info.Name] = append(byWS[w.info.Name], nameCandidate{})[:0]
			}
		}
		for _, g := range w.groups {
			if !g.IsWorkspaceLocal() || IsSystemGroup(g.DisplayName) {
				continue
			}
			c := nameCandidate{g.DisplayName, "local group in " + w.planLabel()}
			locals = append(locals, c)
			byWS[id] = append(byWS[id], c)
			if w.info.Name != "" && w.info.Name != id {
				byWS[w.info.Name] = append(byWS[w.info.Name], c)
			}
		}
	}
	has := func(cands []nameCandidate, name string) bool {
		return slices.ContainsFunc(cands, func(c nameCandidate) bool { return c.name == name })
	}
	const what = "workspace-local group of the workspaces planned"
	for _, c := range []struct {
		flag  string
		names []string
	}{{"flag --group", b.settings.Groups}, {"flag --exclude", b.settings.Exclude}} {
		for _, n := range c.names {
			if IsSystemGroup(n) {
				return fmt.Errorf("%s %q: a system group, which migrate never touches", c.flag, n)
			}
			if !has(locals, n) {
				return noMatch(c.flag, n, what, locals)
			}
		}
	}
	m := b.match.opts.Mapping
	if m == nil {
		return nil
	}
	var all []scim.WorkspaceInfo
	for _, row := range m.rows {
		input := fmt.Sprintf("mapping %s line %d", m.Path, row.Line)
		if row.Workspace == "*" {
			if !has(locals, row.LocalGroup) {
				return noMatch(input+" local_group", row.LocalGroup, what, locals)
			}
			continue
		}
		if groups, read := byWS[row.Workspace]; read {
			if !has(groups, row.LocalGroup) {
				return noMatch(input+" local_group", row.LocalGroup, "workspace-local group of workspace "+strconv.Quote(row.Workspace), groups)
			}
			continue
		}
		if all == nil {
			var err error
			if all, err = accountWorkspaces(ctx); err != nil {
				return fmt.Errorf("list workspaces: %w", err)
			}
		}
		found := slices.ContainsFunc(all, func(w scim.WorkspaceInfo) bool {
			return w.Name == row.Workspace || strconv.FormatInt(w.ID, 10) == row.Workspace
		})
		if !found {
			cands := append(workspaceCandidates(all), nameCandidate{"*", "every workspace"})
			return noMatch(input+" workspace", row.Workspace, "workspace of the account (by name or id)", cands)
		}
	}
	return nil
}
