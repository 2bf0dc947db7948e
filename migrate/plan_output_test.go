package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/scim"
)

// TestPlanChecksOutputsBeforeTheFirstRequest: an --out or --report-out that
// cannot be written fails before any request, naming the path given (not
// a temporary file), and leaves no file.
func TestPlanChecksOutputsBeforeTheFirstRequest(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no such dir")
	tests := []struct {
		name string
		opts PlanOptions
		want string
	}{
		{"out in a missing directory", PlanOptions{Out: filepath.Join(missing, "plan.json")},
			"flag --out " + filepath.Join(missing, "plan.json") + ": directory " + missing + " does not exist"},
		{"out is a directory", PlanOptions{Out: dir, Force: true}, "flag --out " + dir + ": is a directory"},
		{"report in a missing directory", PlanOptions{Out: filepath.Join(dir, "plan.json"), Report: ReportHTML, ReportOut: filepath.Join(missing, "r.html")},
			"flag --report-out " + filepath.Join(missing, "r.html") + ": directory " + missing + " does not exist"},
		{"report under a file", PlanOptions{Out: filepath.Join(dir, "plan.json"), Report: ReportXLSX, ReportOut: filepath.Join(dir, "f", "r.xlsx")},
			"is not a directory"},
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _, _, connects := planDeps(t, nil)
			err := RunPlan(context.Background(), tc.opts, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), ".tmp-") || strings.Contains(err.Error(), "probe") {
				t.Errorf("error names a temporary file: %v", err)
			}
			if *connects != 0 {
				t.Errorf("connected (%d) before refusing the output", *connects)
			}
			if _, err := os.Stat(filepath.Join(dir, "plan.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("plan file written despite the error")
			}
		})
	}
}

// TestPlanLeavesNoFileWhenAWriteFails: when the report or the plan cannot
// be written at the end (here its directory vanishes during the reads),
// the plan fails with exit code 1 and neither file is left.
func TestPlanLeavesNoFileWhenAWriteFails(t *testing.T) {
	srv := newPlanServer(t, "")
	for _, tc := range []struct {
		name   string
		vanish string // "plan" or "report": whose directory vanishes
	}{{"report write fails", "report"}, {"plan write fails after the report", "plan"}} {
		t.Run(tc.name, func(t *testing.T) {
			planDir, reportDir := filepath.Join(t.TempDir(), "plans"), filepath.Join(t.TempDir(), "reports")
			for _, d := range []string{planDir, reportDir} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			o := PlanOptions{Out: filepath.Join(planDir, "plan.json"), Report: ReportHTML, ReportOut: filepath.Join(reportDir, "plan.html"), ToolVersion: "test"}
			d, _, _, _ := planDeps(t, srv)
			connect := d.Connect
			d.Connect = func(ctx context.Context) (*scim.Session, error) {
				gone := reportDir
				if tc.vanish == "plan" {
					gone = planDir
				}
				if err := os.RemoveAll(gone); err != nil {
					t.Fatal(err)
				}
				return connect(ctx)
			}
			err := RunPlan(context.Background(), o, d)
			var re *PlanReviewError
			if err == nil || errors.As(err, &re) {
				t.Fatalf("err = %v, want a plain error (exit 1)", err)
			}
			for _, f := range []string{o.Out, o.ReportOut} {
				if _, serr := os.Stat(f); !errors.Is(serr, os.ErrNotExist) {
					t.Errorf("%s is left after the failure (%v)", f, err)
				}
			}
		})
	}
}
