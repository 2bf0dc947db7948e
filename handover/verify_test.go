package handover

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestVerifyReadsEverythingItCan: two objects cannot be read (their
// permissions API answers 403) and a third was changed since apply. Verify
// reads every other object, lists the one that differs and each one it
// could not read as not verified (with the error), counts both in its
// summary, and exits 2. Before, it stopped at the first read error with
// that error alone and printed nothing.
func TestVerifyReadsEverythingItCan(t *testing.T) {
	srv := newServer(t)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"job"}; o.Workspaces = []string{"acme-prod"} })
	d, stdout, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	patchOwner(t, srv, "103", dana)
	for _, job := range []string{"101", "110"} {
		if err := srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.0/permissions/jobs/` + job + `$`, Status: 403,
			Body: `{"error_code":"PERMISSION_DENIED","message":"denied by a test"}`}); err != nil {
			t.Fatal(err)
		}
	}
	stdout.Reset()
	err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 || pe.Failed != 3 || pe.Total != len(p.Changes) {
		t.Fatalf("verify: %v, want a *PartialError (exit 2) for 3 of %d changes\n%s", err, len(p.Changes), stdout)
	}
	out := stdout.String()
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, "\t"); len(f) == 4 {
			rows[f[1]] = f[3]
		}
	}
	for obj, want := range map[string]string{
		"job 101 (nightly-sales-etl)": "not verified: could not read it: ",
		"job 110 (":                   "not verified: could not read it: ",
		"job 103 (weekly-report)":     "owner " + dana,
	} {
		found := false
		for o, got := range rows {
			if strings.HasPrefix(o, obj) {
				found = true
				if !strings.Contains(got, want) || (strings.HasPrefix(want, "not verified") && !strings.Contains(got, "denied by a test")) {
					t.Errorf("%s: found %q, want %q with the error", o, got, want)
				}
			}
		}
		if !found {
			t.Errorf("verify does not list %s:\n%s", obj, out)
		}
	}
	if len(rows) != 4 { // the header and 3 rows
		t.Errorf("verify lists %d rows, want the 3 above:\n%s", len(rows)-1, out)
	}
	summary := "Verify: " + strconv.Itoa(len(p.Changes)-2) + " of " + strconv.Itoa(len(p.Changes)) + " changes checked, 1 differences; 2 not verified (their object could not be read)"
	if !strings.Contains(out, summary) {
		t.Errorf("summary: want %q in\n%s", summary, out)
	}
}
