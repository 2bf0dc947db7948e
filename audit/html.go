package audit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/reports"
)

// tone colours a severity in the HTML report.
func tone(s Severity) reports.Tone {
	switch s {
	case SeverityNotCovered:
		return reports.ToneCritical
	case SeverityBreaks:
		return reports.ToneDanger
	case SeverityStops:
		return reports.ToneWarning
	case SeverityOrphaned:
		return reports.ToneNotice
	}
	return reports.ToneNeutral
}

// HTMLReport lays r out for reports.WriteHTML: notices for parts not
// covered and identities not found, headline counts, a chart of findings by
// kind and severity, summaries per identity and per workspace, and the
// filterable table of findings.
func HTMLReport(r *Report) reports.HTMLReport {
	h := reports.HTMLReport{
		Title:     "dbiam audit: " + titleSubject(r),
		Subtitle:  subtitle(r),
		Generated: r.GeneratedAt,
	}
	counts := map[Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
	}
	for _, w := range r.Workspaces {
		switch {
		case w.Coverage == CoverageNone:
			h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneCritical,
				Text: fmt.Sprintf("Workspace %s was not covered: %s. Its findings are unknown.", w.Label(), w.Reason)})
		case len(w.NotCovered) > 0:
			for _, g := range w.NotCovered {
				h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneCritical,
					Text: fmt.Sprintf("Workspace %s: %s not covered: %s", w.Label(), g.Kind, g.Error)})
			}
		case w.Coverage == CoverageSkipped:
			h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneNeutral,
				Text: fmt.Sprintf("Workspace %s was skipped: %s.", w.Label(), w.Reason)})
		}
		for _, g := range w.NotAvailable {
			h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneNeutral,
				Text: fmt.Sprintf("Workspace %s: %s not available on this workspace (%s).", w.Label(), g.Kind, g.Error)})
		}
	}
	for _, m := range r.Metastores {
		switch {
		case m.Coverage == CoverageNone:
			h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneCritical,
				Text: fmt.Sprintf("Metastore %s was not covered: %s. Its findings are unknown.", m.Label(), m.Reason)})
		default:
			for _, g := range m.NotCovered {
				h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneCritical,
					Text: fmt.Sprintf("Metastore %s: %s not covered: %s", m.Label(), g.Kind, g.Error)})
			}
		}
	}
	for _, i := range r.Identities {
		if i.Status == StatusNotFound && r.Mode == modeNamed.String() {
			h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneNotice,
				Text: fmt.Sprintf("%s %s was not found in the account or any audited workspace; objects were matched by name.", i.Type, i.Name)})
		}
	}
	for _, n := range r.NotChecked {
		h.Notices = append(h.Notices, reports.HTMLNotice{Tone: reports.ToneNeutral, Text: "Not checked by this audit: " + n + "."})
	}
	for _, s := range Severities() {
		if s == SeverityNotCovered && counts[s] == 0 {
			continue
		}
		h.Stats = append(h.Stats, reports.HTMLStat{Label: s.String(), Value: counts[s], Tone: tone(s)})
	}
	h.Stats = append(h.Stats,
		reports.HTMLStat{Label: "identities", Value: len(r.Identities), Tone: reports.ToneNeutral},
		reports.HTMLStat{Label: "workspaces", Value: len(r.Workspaces), Tone: reports.ToneNeutral})

	byKind := countByKind(r)
	chart := &reports.HTMLChart{Title: "Findings by kind and severity"}
	for _, k := range Kinds() {
		if _, ok := byKind[k]; ok {
			chart.Categories = append(chart.Categories, string(k))
		}
	}
	for _, s := range Severities() {
		series := reports.HTMLSeries{Name: s.String(), Tone: tone(s)}
		total := 0
		for _, k := range chart.Categories {
			n := byKind[Kind(k)][s]
			series.Values = append(series.Values, n)
			total += n
		}
		if total > 0 {
			chart.Series = append(chart.Series, series)
		}
	}
	if len(chart.Categories) > 0 {
		h.Chart = chart
	}

	num := func(n int) reports.HTMLCell { return reports.HTMLCell{Text: strconv.Itoa(n)} }
	sevCols := []reports.HTMLColumn{{Name: "findings", Numeric: true}, {Name: "breaks", Numeric: true},
		{Name: "stops", Numeric: true}, {Name: "orphaned", Numeric: true}, {Name: "info", Numeric: true}}
	ids := reports.HTMLTable{Title: "By identity", Empty: "No identity has findings.",
		Columns: append([]reports.HTMLColumn{{Name: "identity"}, {Name: "type"}, {Name: "status"}}, sevCols...)}
	for _, i := range r.Identities {
		name := i.Label()
		if len(i.Via) > 0 {
			name += " via " + strings.Join(i.Via, ", ")
		}
		ids.Rows = append(ids.Rows, reports.HTMLRow{Tone: identityTone(i), Cells: []reports.HTMLCell{
			{Text: name}, {Text: string(i.Type)}, {Text: string(i.Status)},
			num(i.Findings), num(i.BySeverity["breaks"]), num(i.BySeverity["stops"]), num(i.BySeverity["orphaned"]), num(i.BySeverity["info"]),
		}})
	}
	wsSev := map[int64]map[Severity]int{}
	for _, f := range r.Findings {
		if f.Metastore != nil {
			continue
		}
		if wsSev[f.Workspace.ID] == nil {
			wsSev[f.Workspace.ID] = map[Severity]int{}
		}
		wsSev[f.Workspace.ID][f.Severity]++
	}
	wss := reports.HTMLTable{Title: "By workspace", Empty: "No workspace was audited.",
		Columns: append([]reports.HTMLColumn{{Name: "workspace"}, {Name: "coverage"}, {Name: "objects", Numeric: true}}, sevCols...)}
	for _, w := range r.Workspaces {
		c := wsSev[w.ID]
		t := reports.ToneNeutral
		if w.Coverage == CoverageNone || w.Coverage == CoveragePartial {
			t = reports.ToneCritical
		}
		cov := w.Coverage
		if w.Reason != "" {
			cov += ": " + w.Reason
		}
		wss.Rows = append(wss.Rows, reports.HTMLRow{Tone: t, Cells: []reports.HTMLCell{
			{Text: w.Label(), Link: w.URL}, {Text: cov}, num(w.Objects),
			num(w.Findings), num(c[SeverityBreaks]), num(c[SeverityStops]), num(c[SeverityOrphaned]), num(c[SeverityInfo]),
		}})
	}
	mss := reports.HTMLTable{Title: "By metastore", Empty: "No audited workspace has a Unity Catalog metastore.",
		Columns: append([]reports.HTMLColumn{{Name: "metastore"}, {Name: "serves"}, {Name: "coverage"}, {Name: "securables", Numeric: true}}, sevCols...)}
	msSev := map[string]map[Severity]int{}
	for _, f := range r.Findings {
		if f.Metastore == nil {
			continue
		}
		if msSev[f.Metastore.ID] == nil {
			msSev[f.Metastore.ID] = map[Severity]int{}
		}
		msSev[f.Metastore.ID][f.Severity]++
	}
	for _, m := range r.Metastores {
		c := msSev[m.ID]
		t := reports.ToneNeutral
		if m.Coverage == CoverageNone || m.Coverage == CoveragePartial {
			t = reports.ToneCritical
		}
		cov := m.Coverage
		if m.Reason != "" {
			cov += ": " + m.Reason
		}
		mss.Rows = append(mss.Rows, reports.HTMLRow{Tone: t, Cells: []reports.HTMLCell{
			{Text: m.Label()}, {Text: strings.Join(m.Workspaces, ", ")}, {Text: cov}, num(m.Objects),
			num(m.Findings), num(c[SeverityBreaks]), num(c[SeverityStops]), num(c[SeverityOrphaned]), num(c[SeverityInfo]),
		}})
	}
	h.Summaries = []reports.HTMLTable{ids, wss}
	if len(r.Metastores) > 0 {
		h.Summaries = append(h.Summaries, mss)
	}

	h.Table = reports.HTMLTable{Title: "Findings", Empty: "No findings: nothing the audited identities created, own or run was found.",
		Columns: []reports.HTMLColumn{{Name: "severity", Filter: true}, {Name: "where", Filter: true},
			{Name: "identity", Filter: true}, {Name: "kind", Filter: true}, {Name: "object"},
			{Name: "relation", Filter: true}, {Name: "reason"}, {Name: "flags"}, {Name: "details"}}}
	for _, f := range r.Findings {
		obj := f.ObjectName
		if obj == "" {
			obj = f.ObjectID
		}
		h.Table.Rows = append(h.Table.Rows, reports.HTMLRow{Tone: tone(f.Severity), Cells: []reports.HTMLCell{
			{Text: f.Severity.String(), Tone: tone(f.Severity), SortKey: strconv.Itoa(int(SeverityNotCovered - f.Severity))},
			{Text: f.Where()}, {Text: f.IdentityName}, {Text: string(f.Kind)},
			{Text: obj, Link: f.URL}, relationCell(f), {Text: f.Reason},
			{Text: strings.Join(f.Flags, ", ")}, {Text: detailText(f.Details)},
		}})
	}
	return h
}

// relationCell shows a finding's relations as words, and gives each to
// the relation filter on its own (a finding that is created and owned is
// found by either).
func relationCell(f Finding) reports.HTMLCell {
	vs := make([]string, len(f.Relations))
	for i, r := range f.Relations {
		vs[i] = string(r)
	}
	return reports.HTMLCell{Text: strings.Join(vs, ", "), Values: vs}
}

func identityTone(i IdentitySummary) reports.Tone {
	if w := worstOf(i.BySeverity); w >= 0 {
		return tone(Severity(w))
	}
	return reports.ToneNeutral
}

// titleSubject names what was audited.
func titleSubject(r *Report) string {
	switch r.Mode {
	case modeAll.String():
		return "everything owned or run by every identity"
	case modeInactive.String():
		return "deactivated identities that still own something"
	}
	var names []string
	for _, i := range r.Identities {
		if i.Named {
			names = append(names, i.Name)
		}
	}
	switch {
	case len(names) == 0:
		return "impact of removing identities"
	case len(names) <= 3:
		return "impact of removing " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("impact of removing %s and %d more", strings.Join(names[:2], ", "), len(names)-2)
}

func subtitle(r *Report) string {
	covered := 0
	for _, w := range r.Workspaces {
		if w.Coverage == CoverageFull {
			covered++
		}
	}
	return fmt.Sprintf("%s, %s (%d fully covered), %s", plural(len(r.Identities), "identity", "identities"),
		plural(len(r.Workspaces), "workspace", "workspaces"), covered, plural(len(r.Findings), "finding", "findings"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
