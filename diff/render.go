package diff

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dbiam/dbiam/reports"
)

// Side describes one of the compared exports, from its About table (empty
// fields for exports made before dbiam wrote one).
type Side struct {
	Path         string `json:"path"`
	Format       string `json:"format"`
	AsOf         string `json:"as_of,omitempty"`
	AccountID    string `json:"account_id,omitempty"`
	Host         string `json:"host,omitempty"`
	DbiamVersion string `json:"dbiam_version,omitempty"`
	Status       string `json:"status,omitempty"`
}

func side(x *rawExport) Side {
	return Side{Path: x.path, Format: x.format, AsOf: x.about["as_of"], AccountID: x.about["account_id"],
		Host: x.about["host"], DbiamVersion: x.about["dbiam_version"], Status: x.about["status"]}
}

// Report is a comparison of two exports: the JSON output's document.
type Report struct {
	ReportVersion int            `json:"report_version"`
	Generated     time.Time      `json:"generated"`
	Old           Side           `json:"old"`
	New           Side           `json:"new"`
	Summary       string         `json:"summary"`
	Counts        map[string]int `json:"counts"`
	NotCompared   []NotCompared  `json:"not_compared"`
	Changes       []Change       `json:"changes"`
}

// reportVersion is the version of the JSON document.
const reportVersion = 1

// changeColumns are the columns of the CSV report and of the XLSX change
// sheets.
var changeColumns = []reports.Column{
	{Name: "workspace_id"}, {Name: "workspace_name"}, {Name: "category"}, {Name: "change"},
	{Name: "principal_kind"}, {Name: "principal"}, {Name: "subject"}, {Name: "detail"}, {Name: "old"}, {Name: "new"},
}

func (c Change) values() []any {
	return []any{c.WorkspaceID, c.WorkspaceName, c.Category, c.Change, c.PrincipalKind, c.Principal, c.Subject, c.Detail, c.Old, c.New}
}

// fullDetail is the detail with the old and new values, for one-column
// renderings.
func (c Change) fullDetail() string {
	d := c.Detail
	if c.Old != "" || c.New != "" {
		fromTo := c.Old + " → " + c.New
		switch {
		case c.Old == "":
			fromTo = c.New
		case c.New == "":
			fromTo = "was " + c.Old
		}
		if d != "" {
			d += "; "
		}
		d += fromTo
	}
	return d
}

// writeTable prints the changes: aligned on a terminal, TSV otherwise,
// then the parts not compared.
func writeTable(r *Report, s *reports.Streams) error {
	tp := reports.NewTablePrinter(s)
	tp.SetColumns(reports.Column{Name: "workspace"}, reports.Column{Name: "category"}, reports.Column{Name: "change"},
		reports.Column{Name: "kind"}, reports.Column{Name: "principal"}, reports.Column{Name: "subject"}, reports.Column{Name: "detail"})
	tp.Wrap("detail") // how, from what to what, or why not compared: never cut
	for _, c := range r.Changes {
		ws := c.WorkspaceName
		if ws == "" {
			ws = c.WorkspaceID
		}
		if err := tp.AddRow(ws, c.Category, c.Change, c.PrincipalKind, c.Principal, c.Subject, c.fullDetail()); err != nil {
			return err
		}
	}
	for _, n := range r.NotCompared {
		ws := n.WorkspaceName
		if ws == "" {
			ws = n.WorkspaceID
		}
		if err := tp.AddRow(ws, "not-compared", "", "", "", n.Table, n.Reason); err != nil {
			return err
		}
	}
	return tp.Render()
}

// WriteCSV writes the changes as CSV under changeColumns, in report order.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	header := make([]string, len(changeColumns))
	for i, c := range changeColumns {
		header[i] = c.Name
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, c := range r.Changes {
		if err := cw.Write([]string{c.WorkspaceID, c.WorkspaceName, c.Category, c.Change, c.PrincipalKind, c.Principal,
			c.Subject, c.Detail, c.Old, c.New}); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	for _, n := range r.NotCompared {
		if err := cw.Write([]string{n.WorkspaceID, n.WorkspaceName, "not-compared", "", "", "", n.Table, n.Reason, "", ""}); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// WriteJSON writes r as one indented JSON document.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// writeXLSX writes a workbook whose first sheet is the admin rights
// gained and lost, then every change, the parts not compared, and the two
// exports compared.
func writeXLSX(r *Report, path string, force bool, creator string) error {
	tb, err := reports.NewTables(reports.FormatXLSX, path, reports.TablesOptions{Force: force, Creator: creator, Created: r.Generated})
	if err != nil {
		return err
	}
	defer tb.Abort()
	write := func(name string, cols []reports.Column, rows [][]any) error {
		s, err := tb.Table(name, cols)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := s.WriteRow(row...); err != nil {
				return err
			}
		}
		return s.Close()
	}
	var admin, all [][]any
	for _, c := range r.Changes {
		if c.Category == CategoryAdmin {
			admin = append(admin, c.values())
		}
		all = append(all, c.values())
	}
	var nc [][]any
	for _, n := range r.NotCompared {
		nc = append(nc, []any{n.WorkspaceID, n.WorkspaceName, n.Table, n.Reason})
	}
	sides := [][]any{}
	for _, s := range []struct {
		name string
		s    Side
	}{{"old", r.Old}, {"new", r.New}} {
		sides = append(sides, []any{s.name, s.s.Path, s.s.Format, s.s.AsOf, s.s.AccountID, s.s.Host, s.s.DbiamVersion, s.s.Status})
	}
	str := func(names ...string) []reports.Column {
		cols := make([]reports.Column, len(names))
		for i, n := range names {
			cols[i] = reports.Column{Name: n}
		}
		return cols
	}
	for _, t := range []struct {
		name string
		cols []reports.Column
		rows [][]any
	}{
		{"admin_changes", changeColumns, admin},
		{"changes", changeColumns, all},
		{"not_compared", str("workspace_id", "workspace_name", "table", "reason"), nc},
		{"exports", str("export", "path", "format", "as_of", "account_id", "host", "dbiam_version", "status"), sides},
	} {
		if err := write(t.name, t.cols, t.rows); err != nil {
			return err
		}
	}
	return tb.Commit()
}

// htmlReport lays r out for reports.WriteHTML: the parts not compared as
// notices, counts as cards, the admin rights gained and lost first, then
// every change in a filterable table.
func htmlReport(r *Report) reports.HTMLReport {
	h := reports.HTMLReport{
		Title:     "Access review: changes between two exports",
		Subtitle:  fmt.Sprintf("OLD %s (as of %s) → NEW %s (as of %s): %s", r.Old.Path, orUnknown(r.Old.AsOf), r.New.Path, orUnknown(r.New.AsOf), r.Summary),
		Generated: r.Generated,
	}
	for _, n := range r.NotCompared {
		where := n.Table
		if n.WorkspaceID != "" {
			where = strings.TrimSpace("workspace " + n.WorkspaceID + " (" + n.WorkspaceName + ") " + n.Table)
		}
		h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneCritical, Text: "Not compared: " + where + ": " + n.Reason})
	}
	n := r.Counts
	h.Stats = []reports.HTMLStat{
		{Label: "admin rights gained", Value: n[CategoryAdmin+" "+ChangeGained], Tone: reports.ToneDanger},
		{Label: "admin rights lost", Value: n[CategoryAdmin+" "+ChangeLost], Tone: reports.ToneNotice},
		{Label: "principals added", Value: n[CategoryPrincipal+" "+ChangeAdded], Tone: reports.ToneWarning},
		{Label: "principals removed", Value: n[CategoryPrincipal+" "+ChangeRemoved], Tone: reports.ToneNeutral},
		{Label: "entitlements gained", Value: n[CategoryEntitlement+" "+ChangeGained], Tone: reports.ToneWarning},
		{Label: "changes", Value: len(r.Changes), Tone: reports.ToneNeutral},
	}
	cols := []reports.HTMLColumn{{Name: "workspace", Filter: true}, {Name: "category", Filter: true}, {Name: "change", Filter: true},
		{Name: "kind", Filter: true}, {Name: "principal"}, {Name: "subject"}, {Name: "detail"}}
	row := func(c Change) reports.HTMLRow {
		tone := reports.ToneNeutral
		switch {
		case c.Category == CategoryAdmin && c.Change == ChangeGained:
			tone = reports.ToneDanger
		case c.Change == ChangeGained || c.Change == ChangeAdded || c.Change == ChangeActivated:
			tone = reports.ToneWarning
		}
		ws := c.WorkspaceName
		if ws == "" {
			ws = c.WorkspaceID
		}
		return reports.HTMLRow{Cells: []reports.HTMLCell{{Text: ws}, {Text: c.Category}, {Text: c.Change, Tone: tone},
			{Text: c.PrincipalKind}, {Text: c.Principal}, {Text: c.Subject}, {Text: c.fullDetail()}}}
	}
	for _, want := range []string{ChangeGained, ChangeLost} {
		t := reports.HTMLTable{Title: "Admin rights " + want, Columns: cols, Empty: "None."}
		for _, c := range r.Changes {
			if c.Category == CategoryAdmin && c.Change == want {
				t.Rows = append(t.Rows, row(c))
			}
		}
		h.Summaries = append(h.Summaries, t)
	}
	h.Table = reports.HTMLTable{Title: "All changes", Columns: cols, Empty: "No differences."}
	for _, c := range r.Changes {
		h.Table.Rows = append(h.Table.Rows, row(c))
	}
	return h
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// countsOf counts changes by "category change", every pair present.
func countsOf(cs []Change) map[string]int {
	out := map[string]int{}
	for _, cat := range []string{CategoryAdmin, CategoryWorkspace, CategoryPrincipal, CategoryMembership, CategoryEntitlement, CategoryAssignment} {
		for _, ch := range []string{ChangeGained, ChangeLost, ChangeAdded, ChangeRemoved, ChangeActivated, ChangeDeactivated, ChangeChanged} {
			if validPair(cat, ch) {
				out[cat+" "+ch] = 0
			}
		}
	}
	for k, v := range counts(cs) {
		out[k] = v
	}
	return out
}

// validPair reports whether a category has changes of kind ch.
func validPair(cat, ch string) bool {
	switch cat {
	case CategoryAdmin, CategoryEntitlement:
		return ch == ChangeGained || ch == ChangeLost
	case CategoryWorkspace:
		return ch == ChangeAdded || ch == ChangeRemoved
	case CategoryPrincipal:
		return slices.Contains([]string{ChangeAdded, ChangeRemoved, ChangeActivated, ChangeDeactivated}, ch)
	case CategoryMembership, CategoryAssignment:
		return ch == ChangeAdded || ch == ChangeRemoved || ch == ChangeChanged
	}
	return false
}
