package audit

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// etlProd is the application id of the default seed's etl-prod service
// principal, the run-as identity of the "Ledger freshness" v2 alert.
const etlProd = "b83e9e22-b2ed-4451-bcdd-00b79deb79be"

// TestAuditAlertsV2: v2 alerts of the default seed are read once per
// workspace and rated, each identity audited alone: evaluated as the
// identity on an unpaused schedule breaks, paused is info (its other
// manager remains), one running as a service principal breaks for that
// service principal and is orphaned for its owner, its only manager (the
// default permission scope reads the ACL of a v2 alert its owner ties to
// an audited identity; umar's CAN_MANAGE on the paused alert, which he
// neither owns nor runs, is not a finding).
func TestAuditAlertsV2(t *testing.T) {
	type want struct {
		row, reason, paused, runAs string
	}
	for _, c := range []struct {
		o    Options
		want []want
	}{
		{Options{Users: []string{"elena.patel@acme.test"}}, []want{
			{"breaks | acme-prod | elena.patel@acme.test | alert-v2 | Checkout errors spike | owns+runs-as+sole-manager",
				"alert runs as the identity on an unpaused schedule; its evaluations fail", "false", "elena.patel@acme.test"},
			{"info | acme-prod | elena.patel@acme.test | alert-v2 | Weekly churn digest | owns+runs-as",
				"alert runs as the identity but its schedule is paused", "true", "elena.patel@acme.test"},
		}},
		{Options{ServicePrincipals: []string{etlProd}}, []want{
			{"breaks | acme-prod | " + etlProd + " | alert-v2 | Ledger freshness | runs-as",
				"alert runs as the identity on an unpaused schedule; its evaluations fail", "false", etlProd},
		}},
		{Options{Users: []string{"umar.xu@acme.test"}}, []want{
			{"orphaned | acme-prod | umar.xu@acme.test | alert-v2 | Ledger freshness | owns+sole-manager",
				"no other principal can manage it", "false", etlProd},
		}},
	} {
		e := newEnv(t, sandbox.Options{Seed: prodBoundSeed()}, nil)
		c.o.Workspaces = []string{"acme-prod"}
		r, err := e.runJSON(t, c.o)
		if err != nil {
			t.Fatalf("Run %+v: %v\n%s", c.o, err, e.stderr)
		}
		var wantRows []string
		for _, w := range c.want {
			wantRows = append(wantRows, w.row)
		}
		got := rows(r, func(f Finding) bool { return f.Kind == KindAlertV2 })
		if !slices.Equal(got, wantRows) {
			t.Errorf("v2 alert findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
			continue
		}
		i := 0
		for _, f := range r.Findings {
			if f.Kind != KindAlertV2 {
				continue
			}
			w := c.want[i]
			i++
			if f.Reason != w.reason || f.Detail("paused") != w.paused || f.Detail("run_as") != w.runAs || !strings.Contains(f.URL, "/sql/alerts-v2/") {
				t.Errorf("%s: reason %q paused %q run_as %q url %q, want %q %q %q", w.row, f.Reason, f.Detail("paused"), f.Detail("run_as"), f.URL, w.reason, w.paused, w.runAs)
			}
		}
		if len(r.Workspaces) != 1 || r.Workspaces[0].Coverage != CoverageFull || len(r.Workspaces[0].NotAvailable) != 0 {
			t.Errorf("coverage = %+v", r.Workspaces)
		}
		if n := e.srv.Stats().Count("GET", "/api/2.0/alerts"); n != 1 {
			t.Errorf("GET /api/2.0/alerts: %d requests, want 1 (one list per workspace)", n)
		}
	}
}

// TestAuditAlertsV2NotAvailable: a workspace without the alerts v2 API
// (404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED) records the kind as not
// available: no gap, no exit code 2, the other kinds audited.
func TestAuditAlertsV2NotAvailable(t *testing.T) {
	for _, code := range []string{"ENDPOINT_NOT_FOUND", "FEATURE_DISABLED"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{Seed: prodBoundSeed()}, nil)
			if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/alerts$`, Status: 404,
				Body: `{"error_code":"` + code + `","message":"No API found for 'GET /alerts'"}`}); err != nil {
				t.Fatal(err)
			}
			r, err := e.runJSON(t, Options{Users: []string{"elena.patel@acme.test"}, Workspaces: []string{"acme-prod"}})
			if err != nil {
				t.Fatalf("Run: %v, want success (a feature absent is not a gap)\n%s", err, e.stderr)
			}
			if len(r.Workspaces) != 1 {
				t.Fatalf("workspaces = %+v", r.Workspaces)
			}
			w := r.Workspaces[0]
			if w.Coverage != CoverageFull || len(w.NotCovered) != 0 || len(w.NotAvailable) != 1 ||
				w.NotAvailable[0].Kind != KindAlertV2 || !strings.Contains(w.NotAvailable[0].Error, code) {
				t.Errorf("coverage = %+v, want covered with alert-v2 not available", w)
			}
			for _, f := range r.Findings {
				if f.Severity == SeverityNotCovered || f.Kind == KindAlertV2 {
					t.Errorf("unexpected finding: %s", row(f))
				}
			}
			if !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Kind == KindAlert }) {
				t.Error("the SQL alerts were not audited")
			}
			if !strings.Contains(e.stderr.String(), `audit kind not available part="acme-prod (6051921418418891): alert-v2"`) {
				t.Errorf("stderr lacks the not-available line:\n%s", e.stderr)
			}
		})
	}
}

// TestAuditAlertsV2NotCovered: any other failure of the alerts v2 list (a
// 403, or a 404 that does not say the endpoint is absent) is a gap: not
// covered, exit code 2.
func TestAuditAlertsV2NotCovered(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
	}{
		{403, `{"error_code":"PERMISSION_DENIED","message":"no"}`},
		{404, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"gone"}`},
		{500, ""},
	} {
		e := newEnv(t, sandbox.Options{Seed: prodBoundSeed()}, nil)
		if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/alerts$`, Status: c.status, Body: c.body}); err != nil {
			t.Fatal(err)
		}
		r, err := e.runJSON(t, Options{Users: []string{"elena.patel@acme.test"}, Workspaces: []string{"acme-prod"}})
		var pe *PartialError
		if !errors.As(err, &pe) || pe.ExitCode() != 2 || !slices.Equal(pe.NotCovered, []string{"acme-prod (6051921418418891): alert-v2"}) {
			t.Fatalf("status %d: err = %v, want a PartialError for acme-prod alert-v2", c.status, err)
		}
		if w := r.Workspaces[0]; w.Coverage != CoveragePartial || len(w.NotAvailable) != 0 {
			t.Errorf("status %d: coverage = %+v", c.status, w)
		}
		if f := r.Findings[0]; f.Severity != SeverityNotCovered || f.Kind != KindAlertV2 {
			t.Errorf("status %d: first finding = %s, want the alert-v2 gap", c.status, row(f))
		}
	}
}
