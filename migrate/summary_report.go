package migrate

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/reports"
)

// writePlanReport writes the plan as an XLSX workbook or a self-contained HTML
// page at path (atomically, mode 0600).
func writePlanReport(format, path string, p *Plan, force bool) error {
	switch format {
	case ReportXLSX:
		return writePlanXLSX(path, p, force)
	case ReportHTML:
		return reports.WriteFile(path, 0o600, func(w io.Writer) error {
			return reports.WriteHTML(w, planHTMLReport(p))
		}, reports.Force(force))
	}
	return fmt.Errorf("flag --report %q: want xlsx or html", format)
}

var (
	planAGColumns = []reports.Column{
		{Name: "key"}, {Name: "account_group"}, {Name: "action"}, {Name: "existing_id"},
		{Name: "external_id"}, {Name: "members", Type: reports.TypeInt}, {Name: "sources"},
	}
	planMemberColumns = []reports.Column{
		{Name: "account_group"}, {Name: "kind"}, {Name: "member"}, {Name: "account_id"}, {Name: "nested_group_key"},
	}
	planConflictColumns = []reports.Column{
		{Name: "kind"}, {Name: "workspace"}, {Name: "group"}, {Name: "blocking", Type: reports.TypeBool},
		{Name: "detail"}, {Name: "if_fail"}, {Name: "if_merge"}, {Name: "if_per_workspace"},
	}
	planWarningColumns   = []reports.Column{{Name: "kind"}, {Name: "workspace"}, {Name: "detail"}}
	planWorkspaceColumns = []reports.Column{
		{Name: "workspace_id", Type: reports.TypeInt}, {Name: "workspace"}, {Name: "federated", Type: reports.TypeBool},
		{Name: "skipped"}, {Name: "groups", Type: reports.TypeInt}, {Name: "to_migrate", Type: reports.TypeInt},
	}
)

// planSourcesText lists the local groups mapped to ag.
func planSourcesText(names map[GroupRef]string, ag AccountGroupPlan) string {
	var out []string
	for _, s := range ag.Sources {
		out = append(out, names[s])
	}
	return strings.Join(out, ", ")
}

// planSourceNames maps every local group of the plan to "workspace/name".
func planSourceNames(p *Plan) map[GroupRef]string {
	names := map[GroupRef]string{}
	for _, w := range p.Workspaces {
		for _, g := range w.Groups {
			names[GroupRef{w.WorkspaceID, g.LocalID}] = w.WorkspaceName + "/" + g.LocalName
		}
	}
	return names
}

func planAGAction(ag AccountGroupPlan) string {
	if ag.ExistingID != "" {
		return planActionReuse
	}
	return planActionCreate
}

func planWorkspaceCounts(w WorkspacePlan) (groups, migrate int) {
	for _, g := range w.Groups {
		groups++
		if g.Skipped == "" {
			migrate++
		}
	}
	return groups, migrate
}

// writePlanXLSX writes one sheet per table plus the summary sheet.
func writePlanXLSX(path string, p *Plan, force bool) (err error) {
	tables, err := reports.NewTables(reports.FormatXLSX, path, reports.TablesOptions{Force: force})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tables.Abort()
		}
	}()
	write := func(name string, cols []reports.Column, rows [][]any) error {
		sink, err := tables.Table(name, cols)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := sink.WriteRow(r...); err != nil {
				return fmt.Errorf("write report %s table %s: %w", path, name, err)
			}
		}
		return sink.Close()
	}
	var groups, ags, members, conflicts, warnings, workspaces [][]any
	names := planSourceNames(p)
	for _, r := range planRows(p) {
		groups = append(groups, r.planValues())
	}
	for _, ag := range p.AccountGroups {
		ags = append(ags, []any{ag.Key, ag.DisplayName, planAGAction(ag), ag.ExistingID, ag.ExternalID, len(ag.Members), planSourcesText(names, ag)})
		for _, m := range ag.Members {
			members = append(members, []any{ag.DisplayName, m.Kind, memberText(m), m.AccountID, m.GroupKey})
		}
	}
	for _, c := range p.Conflicts {
		ws := ""
		if c.WorkspaceID != 0 {
			ws = planWorkspaceName(p, c.WorkspaceID)
		}
		conflicts = append(conflicts, []any{c.Kind, ws, c.Group, c.Blocking, c.Detail,
			c.Policies[PolicyFail], c.Policies[PolicyMerge], c.Policies[PolicyPerWorkspace]})
	}
	for _, w := range p.Warnings {
		warnings = append(warnings, []any{w.Kind, planWarningWhere(p, w), w.Detail})
	}
	summary := reports.Summary{
		Title:   "Local groups per workspace",
		Columns: []reports.Column{{Name: "workspace"}, {Name: "migrate", Type: reports.TypeInt}, {Name: "skip", Type: reports.TypeInt}},
	}
	for _, w := range p.Workspaces {
		n, m := planWorkspaceCounts(w)
		workspaces = append(workspaces, []any{w.WorkspaceID, w.WorkspaceName, w.Federated, w.Skipped, n, m})
		summary.Rows = append(summary.Rows, []any{w.WorkspaceName, m, n - m})
	}
	for _, t := range []struct {
		name string
		cols []reports.Column
		rows [][]any
	}{
		{"Groups", planGroupColumns, groups},
		{"Account groups", planAGColumns, ags},
		{"Members", planMemberColumns, members},
		{"Conflicts", planConflictColumns, conflicts},
		{"Warnings", planWarningColumns, warnings},
		{"Workspaces", planWorkspaceColumns, workspaces},
	} {
		if err := write(t.name, t.cols, t.rows); err != nil {
			return err
		}
	}
	if err := tables.Summary(summary); err != nil {
		return err
	}
	return tables.Commit()
}

// planHTMLReport builds the HTML page of a plan.
func planHTMLReport(p *Plan) reports.HTMLReport {
	t := planTotalsOf(p)
	r := reports.HTMLReport{
		Title:     "dbiam migration plan",
		Subtitle:  planHeadline(p, t),
		Generated: p.CreatedAt,
		Stats: []reports.HTMLStat{
			{Label: "local groups to migrate", Value: t.Migrated, Tone: reports.ToneGood},
			{Label: "account groups to create", Value: t.Create, Tone: reports.ToneNeutral},
			{Label: "account groups to reuse", Value: t.Reuse, Tone: reports.ToneNeutral},
			{Label: "groups skipped", Value: t.Skipped, Tone: planToneIf(t.Skipped > 0, reports.ToneWarning)},
			{Label: "blocking conflicts", Value: t.BlockingConflicts, Tone: planToneIf(t.BlockingConflicts > 0, reports.ToneDanger)},
		},
	}
	chart := &reports.HTMLChart{Title: "Local groups per workspace"}
	var mig, skip []int
	for _, w := range p.Workspaces {
		if w.Skipped != "" {
			r.Notices = append(r.Notices, reports.HTMLNotice{Tone: reports.ToneWarning,
				Text: fmt.Sprintf("workspace %s skipped: %s", w.WorkspaceName, w.Skipped)})
			continue
		}
		n, m := planWorkspaceCounts(w)
		chart.Categories = append(chart.Categories, w.WorkspaceName)
		mig, skip = append(mig, m), append(skip, n-m)
	}
	if len(chart.Categories) > 0 {
		chart.Series = []reports.HTMLSeries{{Name: "migrate", Tone: reports.ToneGood, Values: mig}, {Name: "skip", Tone: reports.ToneWarning, Values: skip}}
		r.Chart = chart
	}
	for _, w := range p.Warnings {
		r.Notices = append(r.Notices, reports.HTMLNotice{Tone: reports.ToneWarning,
			Text: fmt.Sprintf("%s (%s): %s", w.Kind, planWarningWhere(p, w), w.Detail)})
	}
	conf := reports.HTMLTable{Title: "Conflicts", Empty: "No conflicts."}
	for _, c := range planConflictColumns {
		conf.Columns = append(conf.Columns, reports.HTMLColumn{Name: c.Name, Filter: c.Name == "kind"})
	}
	for _, c := range p.Conflicts {
		ws := ""
		if c.WorkspaceID != 0 {
			ws = planWorkspaceName(p, c.WorkspaceID)
		}
		tone := reports.ToneNotice
		if c.Blocking {
			tone = reports.ToneDanger
		}
		conf.Rows = append(conf.Rows, reports.HTMLRow{Tone: tone, Cells: []reports.HTMLCell{
			{Text: c.Kind}, {Text: ws}, {Text: c.Group}, {Text: strconv.FormatBool(c.Blocking)}, {Text: c.Detail},
			{Text: c.Policies[PolicyFail]}, {Text: c.Policies[PolicyMerge]}, {Text: c.Policies[PolicyPerWorkspace]},
		}})
	}
	agt := reports.HTMLTable{Title: "Account groups", Empty: "No account groups to create or reuse."}
	for _, c := range planAGColumns {
		agt.Columns = append(agt.Columns, reports.HTMLColumn{Name: c.Name, Numeric: c.Type == reports.TypeInt})
	}
	names := planSourceNames(p)
	for _, ag := range p.AccountGroups {
		agt.Rows = append(agt.Rows, reports.HTMLRow{Cells: []reports.HTMLCell{
			{Text: ag.Key}, {Text: ag.DisplayName}, {Text: planAGAction(ag)}, {Text: ag.ExistingID}, {Text: ag.ExternalID},
			{Text: strconv.Itoa(len(ag.Members))}, {Text: planSourcesText(names, ag)},
		}})
	}
	r.Summaries = []reports.HTMLTable{conf, agt}
	main := reports.HTMLTable{Title: "Local groups", Empty: "No local groups selected."}
	for _, c := range planGroupColumns {
		main.Columns = append(main.Columns, reports.HTMLColumn{Name: c.Name,
			Filter: c.Name == "workspace" || c.Name == "action", Numeric: c.Type == reports.TypeInt})
	}
	for _, row := range planRows(p) {
		var hc []reports.HTMLCell
		for i, c := range planCells(row) {
			cell := reports.HTMLCell{Text: c}
			if planGroupColumns[i].Name == "action" {
				cell.Tone = map[string]reports.Tone{planActionCreate: reports.ToneGood, planActionReuse: reports.ToneNeutral, planActionSkip: reports.ToneWarning}[c]
			}
			hc = append(hc, cell)
		}
		main.Rows = append(main.Rows, reports.HTMLRow{Cells: hc})
	}
	r.Table = main
	return r
}

// planWarningWhere names what a warning is about: its workspace, or the
// account.
func planWarningWhere(p *Plan, w Warning) string {
	if w.WorkspaceID == 0 {
		return "account"
	}
	return "workspace " + planWorkspaceName(p, w.WorkspaceID)
}

func planToneIf(cond bool, t reports.Tone) reports.Tone {
	if cond {
		return t
	}
	return reports.ToneGood
}
