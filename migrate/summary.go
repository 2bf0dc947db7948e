package migrate

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/dbiam/dbiam/reports"
)

// Actions shown per group in the summary and reports.
const (
	planActionCreate = "create"
	planActionReuse  = "reuse"
	planActionSkip   = "skip"
)

// planRow is one line of the group summary: a local group, or a skipped
// workspace (LocalName empty).
type planRow struct {
	Workspace    string
	LocalName    string
	AccountGroup string
	Action       string
	Members      int
	Entitlements string
	Roles        string
	// Route is how the group's grants move (GroupPlan.PermissionRoute) and
	// Grants how many the plan recorded as its baseline; both unset for a
	// skipped group.
	Route  string
	Grants any
	Note   string
}

// planGroupColumns are the columns of the group table, in every renderer.
var planGroupColumns = []reports.Column{
	{Name: "workspace"},
	{Name: "local_group"},
	{Name: "account_group"},
	{Name: "action"},
	{Name: "members", Type: reports.TypeInt},
	{Name: "entitlements"},
	{Name: "roles"},
	{Name: "permissions"},
	{Name: "grants", Type: reports.TypeInt},
	{Name: "note"},
}

func (r planRow) planValues() []any {
	return []any{r.Workspace, r.LocalName, r.AccountGroup, r.Action, r.Members, r.Entitlements, r.Roles, r.Route, r.Grants, r.Note}
}

// planTotals are the headline numbers of a plan.
type planTotals struct {
	Workspaces, SkippedWorkspaces int
	Groups, Migrated, Skipped     int
	Create, Reuse                 int
	Members                       int // desired account group memberships
	Conflicts, BlockingConflicts  int
}

func planTotalsOf(p *Plan) planTotals {
	var t planTotals
	t.Workspaces = len(p.Workspaces)
	for _, w := range p.Workspaces {
		if w.Skipped != "" {
			t.SkippedWorkspaces++
		}
		for _, g := range w.Groups {
			t.Groups++
			if g.Skipped != "" {
				t.Skipped++
			} else {
				t.Migrated++
			}
		}
	}
	for _, ag := range p.AccountGroups {
		if ag.ExistingID != "" {
			t.Reuse++
		} else {
			t.Create++
		}
		t.Members += len(ag.Members)
	}
	t.Conflicts = len(p.Conflicts)
	for _, c := range p.Conflicts {
		if c.Blocking {
			t.BlockingConflicts++
		}
	}
	return t
}

// planHeadline is the one-paragraph summary of a plan.
func planHeadline(p *Plan, t planTotals) string {
	return fmt.Sprintf("%d local groups in %d workspaces (%d skipped): %d to migrate into %d account groups (%d to create, %d to reuse, %d memberships), %d skipped; %d conflicts (%d blocking); on-conflict %s",
		t.Groups, t.Workspaces, t.SkippedWorkspaces, t.Migrated, t.Create+t.Reuse, t.Create, t.Reuse, t.Members,
		t.Skipped, t.Conflicts, t.BlockingConflicts, p.Settings.OnConflict)
}

// planRows lists the plan's groups for the summary and the reports:
// workspaces in plan order, each skipped workspace as one row, groups in
// plan order.
func planRows(p *Plan) []planRow {
	ags := map[string]*AccountGroupPlan{}
	for i := range p.AccountGroups {
		ags[p.AccountGroups[i].Key] = &p.AccountGroups[i]
	}
	notes := planConflictNotes(p)
	var rows []planRow
	for _, w := range p.Workspaces {
		ws := w.WorkspaceName
		if ws == "" {
			ws = strconv.FormatInt(w.WorkspaceID, 10)
		}
		if w.Skipped != "" {
			rows = append(rows, planRow{Workspace: ws, Action: planActionSkip, Note: "workspace skipped: " + w.Skipped})
			continue
		}
		for _, g := range w.Groups {
			r := planRow{
				Workspace:    ws,
				LocalName:    g.LocalName,
				Action:       planActionSkip,
				Members:      g.MemberCount,
				Entitlements: strings.Join(g.Entitlements, " "),
				Roles:        strings.Join(g.Roles, " "),
				Note:         g.Skipped,
			}
			if ag := ags[g.AccountGroupKey]; g.Skipped == "" && ag != nil {
				r.AccountGroup = ag.DisplayName
				r.Action = planActionCreate
				if ag.ExistingID != "" {
					r.Action = planActionReuse
				}
				r.Note = strings.Join(notes[planNoteKey{w.WorkspaceID, g.LocalName, ag.DisplayName}], "; ")
				r.Route, r.Grants = routeOf(&g), g.Grants.Len()
			}
			rows = append(rows, r)
		}
	}
	return rows
}

type planNoteKey struct {
	ws           int64
	local, group string
}

// planConflictNotes collects the non-blocking conflicts that concern a
// migrated group, keyed by workspace, local name and account group name
// (workspace-wide conflicts are keyed by the account group they name).
func planConflictNotes(p *Plan) map[planNoteKey][]string {
	out := map[planNoteKey][]string{}
	names := map[string]map[int64][]GroupPlan{}
	ags := map[string]string{}
	for _, ag := range p.AccountGroups {
		ags[ag.Key] = ag.DisplayName
	}
	for _, w := range p.Workspaces {
		for _, g := range w.Groups {
			if g.Skipped != "" {
				continue
			}
			name := ags[g.AccountGroupKey]
			if names[name] == nil {
				names[name] = map[int64][]GroupPlan{}
			}
			names[name][w.WorkspaceID] = append(names[name][w.WorkspaceID], g)
		}
	}
	for _, c := range p.Conflicts {
		if c.Blocking {
			continue
		}
		note := c.Kind + " (" + p.Settings.OnConflict + ": " + c.Policies[p.Settings.OnConflict] + ")"
		switch c.Kind {
		case ConflictTargetTaken, ConflictParentNotMigrated:
			// Group is the local group that was diverted, or that is a
			// member of groups the plan does not migrate.
			for _, w := range p.Workspaces {
				if w.WorkspaceID != c.WorkspaceID {
					continue
				}
				for _, g := range w.Groups {
					if g.LocalName == c.Group && g.Skipped == "" {
						k := planNoteKey{w.WorkspaceID, g.LocalName, ags[g.AccountGroupKey]}
						out[k] = append(out[k], note)
					}
				}
			}
		default:
			// Group is the account group name the conflict is about; a
			// per-workspace split moved the groups to other names.
			for ws, gs := range names[c.Group] {
				for _, g := range gs {
					k := planNoteKey{ws, g.LocalName, c.Group}
					out[k] = append(out[k], note)
				}
			}
			if p.Settings.OnConflict == PolicyPerWorkspace {
				for _, w := range p.Workspaces {
					alt := w.WorkspaceName + "_" + c.Group
					for _, g := range names[alt][w.WorkspaceID] {
						k := planNoteKey{w.WorkspaceID, g.LocalName, alt}
						out[k] = append(out[k], note)
					}
				}
			}
		}
	}
	return out
}

// printPlanSummary writes the plan summary to stdout through a
// reports.TablePrinter: on a terminal a headline, the aligned table of
// groups and the conflicts with what each policy would do; otherwise the
// group table as TSV followed by the same plain-text conflicts section
// (the headline goes to the log on stderr), so that a review in CI sees
// every conflict's explanation.
func printPlanSummary(s *reports.Streams, p *Plan, path string) error {
	if s == nil || s.Out == nil {
		return nil
	}
	t := planTotalsOf(p)
	tty := s.IsStdoutTTY()
	if !tty {
		s.Logger().Info("plan summary", "file", path, "summary", planHeadline(p, t))
	} else if _, err := fmt.Fprintf(s.Out, "Plan %s: %s.\n\n", path, planHeadline(p, t)); err != nil {
		return err
	}
	tp := reports.NewTablePrinter(s)
	tp.SetColumns(planGroupColumns...)
	tp.Wrap("note") // never cut the explanation
	for _, r := range planRows(p) {
		if tty {
			r.LocalName, r.AccountGroup = planShowName(r.LocalName), planShowName(r.AccountGroup)
		}
		if err := tp.AddRow(r.planValues()...); err != nil {
			return err
		}
	}
	if err := tp.Render(); err != nil {
		return err
	}
	if len(p.Conflicts) == 0 && len(p.Warnings) == 0 {
		return nil
	}
	var b strings.Builder
	if len(p.Conflicts) > 0 {
		b.WriteString("\nConflicts:\n")
	}
	for _, c := range p.Conflicts {
		where := c.Group
		switch {
		case c.WorkspaceID == 0 && c.Group == "":
			where = "account"
		case c.WorkspaceID != 0 && c.Group == "":
			where = "workspace " + planWorkspaceName(p, c.WorkspaceID)
		case c.WorkspaceID != 0:
			where = fmt.Sprintf("%s in workspace %s", c.Group, planWorkspaceName(p, c.WorkspaceID))
		}
		state := "resolved by on-conflict " + p.Settings.OnConflict
		if c.Blocking {
			state = "BLOCKING"
		}
		fmt.Fprintf(&b, "  - %s: %s [%s]\n    %s\n", c.Kind, where, state, c.Detail)
		for _, pol := range []string{PolicyFail, PolicyMerge, PolicyPerWorkspace} {
			if v, ok := c.Policies[pol]; ok {
				fmt.Fprintf(&b, "    --on-conflict %-15s %s\n", pol+":", v)
			}
		}
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "  - %s: %s\n    %s\n", w.Kind, planWarningWhere(p, w), w.Detail)
	}
	_, err := io.WriteString(s.Out, b.String())
	return err
}

func planWorkspaceName(p *Plan, id int64) string {
	for _, w := range p.Workspaces {
		if w.WorkspaceID == id && w.WorkspaceName != "" {
			return w.WorkspaceName
		}
	}
	return strconv.FormatInt(id, 10)
}

// planCells renders a row's values as text.
func planCells(r planRow) []string {
	out := make([]string, len(planGroupColumns))
	for i, v := range r.planValues() {
		s, err := reports.FormatValue(planGroupColumns[i].Type, v)
		if err != nil {
			s = fmt.Sprint(v)
		}
		out[i] = s
	}
	return out
}

// planShowName quotes a group name whose edges are blank or that holds
// control characters, so that it reads unambiguously in a table.
func planShowName(s string) string {
	if s != strings.TrimSpace(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}
