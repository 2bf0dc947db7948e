package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/reports"
)

// writeReport renders r in the run's format to the output file (written
// atomically, mode 0600: reports hold names and emails) or to stdout.
func writeReport(r *Report, p plan, s *reports.Streams) error {
	switch p.format {
	case FormatXLSX:
		return writeXLSX(r, p.out, p.force)
	case FormatTable:
		if p.out == "" {
			return writeTable(r, s)
		}
		return reports.WriteFile(p.out, 0o600, func(w io.Writer) error {
			return writeTable(r, reports.NewStreams(nil, w, nil))
		}, reports.Force(p.force))
	}
	var render func(io.Writer) error
	switch p.format {
	case FormatCSV:
		render = func(w io.Writer) error { return WriteCSV(w, r) }
	case FormatJSON:
		render = func(w io.Writer) error { return WriteJSON(w, r) }
	case FormatHTML:
		render = func(w io.Writer) error { return reports.WriteHTML(w, HTMLReport(r)) }
	default:
		return fmt.Errorf("write report: unknown format %q", p.format)
	}
	if p.out == "" {
		return render(s.Out)
	}
	return reports.WriteFile(p.out, 0o600, render, reports.Force(p.force))
}

// CSVHeader is the header row of the CSV report.
var CSVHeader = []string{"severity", "workspace_id", "workspace", "identity_type", "identity", "kind",
	"object_id", "object_name", "relation", "reason", "flags", "details", "url", "metastore_id", "metastore"}

// WriteCSV writes r's findings as CSV: one row per finding, in report
// order, under CSVHeader. Details are "key=value" pairs joined with "; ". A
// Unity Catalog securable's finding has no workspace but a metastore
// (metastore_id, metastore; the workspaces it serves are its "workspaces"
// detail).
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, f := range r.Findings {
		ws := ""
		if f.Workspace.ID != 0 {
			ws = strconv.FormatInt(f.Workspace.ID, 10)
		}
		msID, msName := "", ""
		details := f.Details
		if f.Metastore != nil {
			msID, msName = f.Metastore.ID, f.Metastore.Name
			details = append(slices.Clone(details), Detail{"workspaces", strings.Join(f.Metastore.Workspaces, ", ")})
		}
		if err := cw.Write([]string{f.Severity.String(), ws, f.Workspace.Name, string(f.IdentityType), f.IdentityName,
			string(f.Kind), f.ObjectID, f.ObjectName, f.RelationText(), f.Reason, strings.Join(f.Flags, ","),
			detailText(details), f.URL, msID, msName}); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// detailText joins non-empty details as "key=value; key=value".
func detailText(ds []Detail) string {
	var parts []string
	for _, d := range ds {
		if d.Value != "" {
			parts = append(parts, d.Key+"="+d.Value)
		}
	}
	return strings.Join(parts, "; ")
}

// WriteJSON writes r as one indented JSON document (see Report).
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// tableColumns are the columns of the terminal table.
var tableColumns = []reports.Column{
	{Name: "severity"}, {Name: "workspace"}, {Name: "identity"}, {Name: "kind"},
	{Name: "object"}, {Name: "relation"}, {Name: "reason"},
}

// writeTable prints the findings: aligned columns on a terminal, TSV
// otherwise. Coverage gaps are rows with severity not-covered.
func writeTable(r *Report, s *reports.Streams) error {
	tp := reports.NewTablePrinter(s)
	tp.SetColumns(tableColumns...)
	tp.Wrap("reason") // never cut the explanation
	for _, f := range r.Findings {
		obj := f.ObjectName
		if f.ObjectID != "" && f.ObjectID != f.ObjectName {
			obj = strings.TrimSpace(f.ObjectName + " [" + f.ObjectID + "]")
		}
		if err := tp.AddRow(f.Severity.String(), f.Where(), f.IdentityName, string(f.Kind), obj, f.RelationText(), f.Reason); err != nil {
			return err
		}
	}
	return tp.Render()
}

// writeXLSX writes a workbook: a Summary sheet (findings by kind and
// severity, with a chart), an Identities sheet, a Coverage sheet and one
// sheet per kind that has findings, with that kind's details as columns.
func writeXLSX(r *Report, path string, force bool) error {
	tb, err := reports.NewTables(reports.FormatXLSX, path, reports.TablesOptions{Force: force})
	if err != nil {
		return err
	}
	defer tb.Abort()
	sum := reports.Summary{Title: "Findings by kind and severity", Columns: []reports.Column{{Name: "kind"}}}
	sevs := Severities()
	for _, s := range sevs {
		sum.Columns = append(sum.Columns, reports.Column{Name: s.String(), Type: reports.TypeInt})
	}
	counts := countByKind(r)
	for _, k := range Kinds() {
		c, ok := counts[k]
		if !ok {
			continue
		}
		row := []any{string(k)}
		for _, s := range sevs {
			row = append(row, c[s])
		}
		sum.Rows = append(sum.Rows, row)
	}
	if err := tb.Summary(sum); err != nil {
		return err
	}
	ids, err := tb.Table("Identities", []reports.Column{{Name: "type"}, {Name: "name"}, {Name: "display_name"},
		{Name: "status"}, {Name: "scope"}, {Name: "via"}, {Name: "findings", Type: reports.TypeInt},
		{Name: "breaks", Type: reports.TypeInt}, {Name: "stops", Type: reports.TypeInt},
		{Name: "orphaned", Type: reports.TypeInt}, {Name: "info", Type: reports.TypeInt}})
	if err != nil {
		return err
	}
	for _, i := range r.Identities {
		if err := ids.WriteRow(string(i.Type), i.Name, i.DisplayName, string(i.Status), i.Scope, strings.Join(i.Via, ", "),
			i.Findings, i.BySeverity["breaks"], i.BySeverity["stops"], i.BySeverity["orphaned"], i.BySeverity["info"]); err != nil {
			return err
		}
	}
	cov, err := tb.Table("Coverage", []reports.Column{{Name: "workspace_id", Type: reports.TypeInt}, {Name: "workspace"},
		{Name: "coverage"}, {Name: "objects", Type: reports.TypeInt}, {Name: "findings", Type: reports.TypeInt},
		{Name: "not_covered"}, {Name: "not_available"}, {Name: "reason"}})
	if err != nil {
		return err
	}
	for _, w := range r.Workspaces {
		var gaps []string
		for _, g := range w.NotCovered {
			gaps = append(gaps, string(g.Kind)+": "+g.Error)
		}
		var absent []string
		for _, g := range w.NotAvailable {
			absent = append(absent, string(g.Kind)+": "+g.Error)
		}
		if err := cov.WriteRow(w.ID, w.Name, w.Coverage, w.Objects, w.Findings, strings.Join(gaps, "\n"), strings.Join(absent, "\n"), w.Reason); err != nil {
			return err
		}
	}
	mss, err := tb.Table("Metastore coverage", []reports.Column{{Name: "metastore_id"}, {Name: "metastore"}, {Name: "owner"},
		{Name: "region"}, {Name: "serves"}, {Name: "read_through"}, {Name: "coverage"}, {Name: "objects", Type: reports.TypeInt},
		{Name: "grants_read"}, {Name: "grant_reads", Type: reports.TypeInt}, {Name: "findings", Type: reports.TypeInt},
		{Name: "not_covered"}, {Name: "reason"}})
	if err != nil {
		return err
	}
	for _, m := range r.Metastores {
		var gaps []string
		for _, g := range m.NotCovered {
			gaps = append(gaps, string(g.Kind)+": "+g.Error)
		}
		if err := mss.WriteRow(m.ID, m.Name, m.Owner, m.Region, strings.Join(m.Workspaces, ", "), m.ReadThroughText(),
			m.Coverage, m.Objects, m.GrantsRead, m.GrantReads, m.Findings, strings.Join(gaps, "\n"), m.Reason); err != nil {
			return err
		}
	}
	for _, k := range Kinds() {
		var fs []Finding
		var keys []string
		for _, f := range r.Findings {
			if f.Kind != k {
				continue
			}
			fs = append(fs, f)
			for _, d := range f.Details {
				if !slices.Contains(keys, d.Key) {
					keys = append(keys, d.Key)
				}
			}
		}
		if len(fs) == 0 {
			continue
		}
		cols := []reports.Column{{Name: "severity"}, {Name: "workspace_id", Type: reports.TypeInt}, {Name: "workspace"}, {Name: "metastore"},
			{Name: "identity_type"}, {Name: "identity"}, {Name: "object_id"}, {Name: "object_name"},
			{Name: "relation"}, {Name: "reason"}, {Name: "flags"}}
		for _, key := range keys {
			cols = append(cols, reports.Column{Name: key})
		}
		cols = append(cols, reports.Column{Name: "url"})
		sink, err := tb.Table(sheetName(k), cols)
		if err != nil {
			return err
		}
		for _, f := range fs {
			ms := ""
			if f.Metastore != nil {
				ms = f.Metastore.Name + " (serves " + strings.Join(f.Metastore.Workspaces, ", ") + ")"
			}
			row := []any{f.Severity.String(), f.Workspace.ID, f.Workspace.Name, ms, string(f.IdentityType), f.IdentityName,
				f.ObjectID, f.ObjectName, f.RelationText(), f.Reason, strings.Join(f.Flags, ",")}
			for _, key := range keys {
				row = append(row, f.Detail(key))
			}
			row = append(row, f.URL)
			if err := sink.WriteRow(row...); err != nil {
				return err
			}
		}
	}
	return tb.Commit()
}

// sheetName names a kind's sheet: "Tokens", "Jobs", "Legacy dashboards".
func sheetName(k Kind) string {
	s := strings.ReplaceAll(string(k), "-", " ")
	switch k {
	case KindWorkspaceAccess:
		s = "workspace access"
	case KindIdentity:
		s = "identities not found"
	case KindWorkspace:
		s = "workspaces not covered"
	case KindQuery:
		s = "queries"
	case KindAlertV2:
		s = "alerts v2"
	case KindClusterPolicy:
		s = "cluster policies"
	default:
		s += "s"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// countByKind counts findings per kind and severity.
func countByKind(r *Report) map[Kind]map[Severity]int {
	out := map[Kind]map[Severity]int{}
	for _, f := range r.Findings {
		c := out[f.Kind]
		if c == nil {
			c = map[Severity]int{}
			out[f.Kind] = c
		}
		c[f.Severity]++
	}
	return out
}
