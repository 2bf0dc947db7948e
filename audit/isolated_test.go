package audit

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// financeRows are the demo's findings for the finance group in its
// isolated finance catalog (bound to acme-analytics only).
var financeRows = []string{
	"orphaned |  | finance | catalog | finance | owns",
	"orphaned |  | finance | schema | finance.ledger | owns",
	"orphaned |  | finance | table | finance.ledger.entries | owns",
	"orphaned |  | finance | registered-model | finance.ledger.close_forecast | owns",
}

func ucRows(r *Report) []string {
	return rows(r, func(f Finding) bool { return f.Metastore != nil })
}

// TestAuditIsolatedCatalogThroughBoundWorkspace: the metastore is read
// through acme-prod, but the isolated finance catalog is bound to
// acme-analytics only, so its schemas, tables, models and grants are read
// through acme-analytics: the finance group's ownership of all of it is
// found (the sandbox refuses every read of it from acme-prod, and prod's
// metastore-wide models list leaves its model out), elena's grant on it
// too, and the coverage says which workspace each isolated catalog was
// read through.
func TestAuditIsolatedCatalogThroughBoundWorkspace(t *testing.T) {
	for _, lenient := range []bool{false, true} {
		e := newEnv(t, sandbox.Options{ListUnboundModels: lenient}, nil)
		r, err := e.runJSON(t, Options{Groups: []string{"finance"}, Users: []string{"elena.patel@acme.test"}})
		if err != nil {
			t.Fatalf("lenient=%v: %v\n%s", lenient, err, e.stderr)
		}
		got := ucRows(r)
		for _, want := range append(slices.Clone(financeRows), "info |  | elena.patel@acme.test | catalog | finance | granted") {
			if n := strings.Count(strings.Join(got, "\n")+"\n", want+"\n"); n != 1 {
				t.Errorf("lenient=%v: %q found %d times in\n%s", lenient, want, n, strings.Join(got, "\n"))
			}
		}
		if len(r.Metastores) != 1 {
			t.Fatalf("metastores = %+v", r.Metastores)
		}
		m := r.Metastores[0]
		if m.Coverage != CoverageFull || m.ReadThrough.Name != "acme-prod" || len(m.IsolatedCatalogs) != 1 {
			t.Fatalf("lenient=%v: metastore coverage = %+v", lenient, m)
		}
		iso := m.IsolatedCatalogs[0]
		if iso.Catalog != "finance" || iso.ReadThrough == nil || iso.ReadThrough.Name != "acme-analytics" ||
			!slices.Equal(iso.BoundTo, []int64{6051921418418892}) || iso.Reason != "" {
			t.Errorf("lenient=%v: isolated catalog = %+v", lenient, iso)
		}
		if txt := m.ReadThroughText(); txt != "acme-prod (6051921418418891)\nisolated catalog finance: acme-analytics (6051921418418892)" {
			t.Errorf("read_through cell = %q", txt)
		}
	}
}

// TestAuditIsolatedCatalogNotBoundToAuditedWorkspace: audited through
// acme-prod alone, the isolated finance catalog is out of reach: its owner
// is known from the metastore's catalog list (a finding), but what it
// holds and its grants are not covered, with a reason naming the workspace
// to audit, and the run ends with exit code 2; nothing of it is reported
// as if it held nothing.
func TestAuditIsolatedCatalogNotBoundToAuditedWorkspace(t *testing.T) {
	for _, lenient := range []bool{false, true} {
		e := newEnv(t, sandbox.Options{ListUnboundModels: lenient}, nil)
		r, err := e.runJSON(t, Options{Groups: []string{"finance"}, Workspaces: []string{"acme-prod"}})
		var pe *PartialError
		if !errors.As(err, &pe) || pe.ExitCode() != 2 {
			t.Fatalf("lenient=%v: err = %v, want a PartialError", lenient, err)
		}
		var want []string
		for _, k := range []string{"catalog", "schema", "table", "volume", "function", "registered-model"} {
			want = append(want, "metastore acme-us-east: "+k)
		}
		if !slices.Equal(pe.NotCovered, want) {
			t.Errorf("lenient=%v: not covered = %v, want %v", lenient, pe.NotCovered, want)
		}
		if got := rows(r, func(f Finding) bool { return f.Metastore != nil && f.Severity != SeverityNotCovered }); !slices.Equal(got, financeRows[:1]) {
			t.Errorf("lenient=%v: findings = %v, want only the catalog's ownership", lenient, got)
		}
		const why = "isolated catalog finance is bound only to workspace(s) acme-analytics (6051921418418892), none of them audited and read"
		for _, f := range r.Findings {
			if f.Severity == SeverityNotCovered && (!strings.Contains(f.Reason, why) || !strings.Contains(f.Reason, "--workspace")) {
				t.Errorf("gap %s: reason %q", row(f), f.Reason)
			}
		}
		m := r.Metastores[0]
		if m.Coverage != CoveragePartial || len(m.IsolatedCatalogs) != 1 || m.IsolatedCatalogs[0].ReadThrough != nil ||
			!strings.Contains(m.IsolatedCatalogs[0].Reason, why) {
			t.Errorf("lenient=%v: metastore coverage = %+v", lenient, m)
		}
		if !strings.Contains(m.ReadThroughText(), "isolated catalog finance: not read (see not_covered)") {
			t.Errorf("read_through cell = %q", m.ReadThroughText())
		}
	}
}

// TestAuditIsolatedCatalogBindingsUnreadable: when the bindings cannot be
// read, the catalog is read through the first audited workspace that can
// get it.
func TestAuditIsolatedCatalogBindingsUnreadable(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.1/unity-catalog/bindings/`, Status: 403,
		Body: `{"error_code":"PERMISSION_DENIED","message":"no"}`}); err != nil {
		t.Fatal(err)
	}
	r, err := e.runJSON(t, Options{Groups: []string{"finance"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, e.stderr)
	}
	if got := ucRows(r); !slices.Equal(got, financeRows) {
		t.Errorf("findings = %v, want %v", got, financeRows)
	}
	if iso := r.Metastores[0].IsolatedCatalogs; len(iso) != 1 || iso[0].ReadThrough == nil || iso[0].ReadThrough.Name != "acme-analytics" || iso[0].BoundTo != nil {
		t.Errorf("isolated catalogs = %+v", iso)
	}
}
