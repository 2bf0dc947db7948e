package migrate

import (
	"archive/zip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/reports"
)

// The seed testdata/plan/limits.json: workspace "lim" with the chain of
// local groups top > l1 > l2 > l3 > l4 (bob in l2 and l4), wrap-acct
// holding the account group acct-b (which holds acct-c, which holds carol)
// and carol, and "emoji-😀" holding carol; bob is already in the account
// group acct-a, carol in acct-c; the account has 4 groups (with
// "account users").

// planLimitConflicts returns the service-limit conflicts as "group: detail".
func planLimitConflicts(p *Plan) []string {
	var out []string
	for _, c := range p.Conflicts {
		if c.Kind == ConflictServiceLimit {
			if !c.Blocking {
				out = append(out, "NOT BLOCKING ")
			}
			out = append(out, c.Group+": "+c.Detail)
		}
	}
	return out
}

func TestPlanServiceLimits(t *testing.T) {
	srv := newPlanServer(t, "limits")
	all := map[string]string{"lim/top": "top", "lim/l1": "l1", "lim/l2": "l2", "lim/l3": "l3", "lim/l4": "l4",
		"lim/wrap-acct": "wrap-acct", "lim/emoji-😀": "emoji-😀"}
	with := func(changes map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range all {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name     string
		opts     PlanOptions
		outcome  map[string]string
		conflict []string
	}{
		{name: "within the documented limits", outcome: all},
		{
			name: "direct parents",
			opts: PlanOptions{Limits: ServiceLimits{DirectParents: 2}},
			// bob: acct-a (read from the workspace's lists) + l2 + l4;
			// carol: acct-c (the same) + wrap-acct + emoji-😀. The groups
			// that nest a blocked one follow it.
			outcome: with(map[string]string{"lim/l2": "skip:service-limit", "lim/l4": "skip:service-limit",
				"lim/wrap-acct": "skip:service-limit", "lim/emoji-😀": "skip:service-limit",
				"lim/l3": "skip:member-without-account-identity", "lim/l1": "skip:member-without-account-identity",
				"lim/top": "skip:member-without-account-identity"}),
			conflict: []string{
				`bob@limits.test: user "bob@limits.test" would be a direct member of 3 account groups: 1 it is in already (as far as the plan read) and 2 this plan adds it to; the service allows 2 direct group memberships per principal: migrate fewer of its groups, or take it out of some first`,
				`carol@limits.test: user "carol@limits.test" would be a direct member of 3 account groups: 1 it is in already (as far as the plan read) and 2 this plan adds it to; the service allows 2 direct group memberships per principal: migrate fewer of its groups, or take it out of some first`,
			},
		},
		{name: "direct parents at the limit", opts: PlanOptions{Limits: ServiceLimits{DirectParents: 3}}, outcome: all},
		{
			name:    "nesting one layer too deep",
			opts:    PlanOptions{Limits: ServiceLimits{NestingDepth: 4}},
			outcome: with(map[string]string{"lim/top": "skip:service-limit"}),
			conflict: []string{
				`top: account group "top" would head 5 layers of nested groups (top > l1 > l2 > l3 > l4) and the service allows 4: flatten the nesting, or migrate the nested groups without their parents first`,
			},
		},
		{
			name: "nesting through existing account groups",
			opts: PlanOptions{Limits: ServiceLimits{NestingDepth: 2}},
			// l2 heads l2 > l3 > l4; wrap-acct heads wrap-acct > acct-b >
			// acct-c (acct-b's members are read; acct-c's are not).
			outcome: with(map[string]string{"lim/l2": "skip:service-limit", "lim/l1": "skip:member-without-account-identity",
				"lim/top": "skip:member-without-account-identity", "lim/wrap-acct": "skip:service-limit"}),
			conflict: []string{
				`l2: account group "l2" would head 3 layers of nested groups (l2 > l3 > l4) and the service allows 2: flatten the nesting, or migrate the nested groups without their parents first`,
				`wrap-acct: account group "wrap-acct" would head 3 layers of nested groups (wrap-acct > acct-b ...) and the service allows 2: flatten the nesting, or migrate the nested groups without their parents first`,
			},
		},
		{
			name: "backup name counted in UTF-16 code units",
			// "db-temp-emoji-😀" is 15 characters but 16 UTF-16 code units.
			opts:    PlanOptions{Limits: ServiceLimits{NameLength: 15}},
			outcome: with(map[string]string{"lim/emoji-😀": "skip:service-limit", "lim/wrap-acct": "skip:service-limit"}),
			conflict: []string{
				`emoji-😀: backup name "db-temp-emoji-😀" is 16 characters long and the service refuses group names over 15: use a shorter --backup-prefix, or rename the group first`,
				`wrap-acct: backup name "db-temp-wrap-acct" is 17 characters long and the service refuses group names over 15: use a shorter --backup-prefix, or rename the group first`,
			},
		},
		{
			name: "new account group name",
			opts: PlanOptions{Match: MatchPrefix, Prefix: "acme-platform-", Limits: ServiceLimits{NameLength: 22}},
			outcome: map[string]string{"lim/top": "acme-platform-top", "lim/l1": "acme-platform-l1", "lim/l2": "acme-platform-l2",
				"lim/l3": "acme-platform-l3", "lim/l4": "acme-platform-l4", "lim/wrap-acct": "skip:service-limit",
				"lim/emoji-😀": "acme-platform-emoji-😀"},
			conflict: []string{
				`wrap-acct: account group name "acme-platform-wrap-acct" is 23 characters long and the service refuses group names over 22: choose a shorter target (--match, --mapping)`,
			},
		},
		{
			name: "account group count",
			opts: PlanOptions{Limits: ServiceLimits{AccountGroups: 10}},
			outcome: map[string]string{"lim/top": "skip:service-limit", "lim/l1": "skip:service-limit", "lim/l2": "skip:service-limit",
				"lim/l3": "skip:service-limit", "lim/l4": "skip:service-limit", "lim/wrap-acct": "skip:service-limit",
				"lim/emoji-😀": "skip:service-limit"},
			conflict: []string{
				`: the account has 4 groups and this plan would create 7: the service allows 10 groups per account; create at most 6 (narrow the selection with --workspace, --group or --group-regex, or reuse existing account groups), or delete unused account groups first`,
			},
		},
		{name: "account group count at the limit", opts: PlanOptions{Limits: ServiceLimits{AccountGroups: 11}}, outcome: all},
		{
			name:    "account group count after a narrower selection",
			opts:    PlanOptions{Groups: []string{"l4", "l3", "emoji-😀"}, Limits: ServiceLimits{AccountGroups: 7}},
			outcome: map[string]string{"lim/l4": "l4", "lim/l3": "l3", "lim/emoji-😀": "emoji-😀"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, out := runTestPlan(t, srv, tc.opts)
			if got := planOutcome(p); !reflect.DeepEqual(got, tc.outcome) {
				t.Errorf("outcome = %v\nwant %v", got, tc.outcome)
			}
			if got := planLimitConflicts(p); !reflect.DeepEqual(got, tc.conflict) {
				t.Errorf("service-limit conflicts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.conflict, "\n"))
			}
			if err := p.Validate(); err != nil {
				t.Errorf("plan does not validate: %v", err)
			}
			for _, c := range p.Conflicts {
				if c.Kind != ConflictServiceLimit {
					continue
				}
				where := c.Group
				switch {
				case c.Group == "":
					where = "account"
				case c.WorkspaceID != 0:
					where += " in workspace lim"
				}
				if !strings.Contains(out, "  - service-limit: "+where+" [BLOCKING]\n    "+c.Detail+"\n") {
					t.Errorf("summary does not show the conflict on %s:\n%s", where, out)
				}
			}
		})
	}
}

// TestPlanServiceLimitsExitCode: a plan stopped by a limit is written and
// exits 2 naming the blocking conflicts.
func TestPlanServiceLimitsExitCode(t *testing.T) {
	srv := newPlanServer(t, "limits")
	d, _, _, _ := planDeps(t, srv)
	o := PlanOptions{Out: filepath.Join(t.TempDir(), "plan.json"), ToolVersion: "test", Limits: ServiceLimits{NestingDepth: 4}}
	err := RunPlan(context.Background(), o, d)
	var re *PlanReviewError
	if !errors.As(err, &re) || re.ExitCode() != 2 || re.Blocking != 1 {
		t.Fatalf("RunPlan = %v, want a *PlanReviewError with 1 blocking conflict (exit 2)", err)
	}
	if _, err := os.Stat(o.Out); err != nil {
		t.Errorf("plan not written: %v", err)
	}
}

// TestPlanLimitsOnlyLower: a limit above the documented one is bad input,
// refused before connecting; a lower one, or zero (the documented one),
// is accepted.
func TestPlanLimitsOnlyLower(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plan.json")
	for _, tc := range []struct {
		limits ServiceLimits
		want   string
	}{
		{ServiceLimits{AccountGroups: LimitAccountGroups + 1}, "service limit account groups 5001: above the documented limit 5000, which the service does not raise: a plan can only check a lower one"},
		{ServiceLimits{DirectParents: 2000}, "service limit direct parents 2000: above the documented limit 1500"},
		{ServiceLimits{NestingDepth: 11}, "service limit nesting depth 11: above the documented limit 10"},
		{ServiceLimits{NameLength: 256}, "service limit name length 256: above the documented limit 255"},
		{ServiceLimits{WorkspaceGroups: 5001}, "service limit workspace groups 5001: above the documented limit 5000"},
		{ServiceLimits{NestingDepth: -1}, "service limit nesting depth -1: must be positive (0 means the documented 10)"},
	} {
		d, _, _, connects := planDeps(t, nil)
		err := RunPlan(context.Background(), PlanOptions{Out: out, Limits: tc.limits}, d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("limits %+v: err = %v, want %q", tc.limits, err, tc.want)
		}
		if *connects != 0 {
			t.Errorf("limits %+v: connected despite bad input", tc.limits)
		}
	}
	if got, want := (ServiceLimits{NestingDepth: 3}).withDefaults(), (ServiceLimits{AccountGroups: 5000, DirectParents: 1500, NestingDepth: 3, NameLength: 255, WorkspaceGroups: 5000}); got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
	if DefaultServiceLimits() != (ServiceLimits{}).withDefaults() {
		t.Errorf("DefaultServiceLimits %+v", DefaultServiceLimits())
	}
}

// TestPlanWarnings: a plan that migrates groups says once that dbiam does
// not verify legacy table ACLs; local groups with an externalId get one
// warning per workspace (never for a group the plan does not migrate), a
// workspace that would hold too many groups gets another; warnings are in
// the plan file, after the conflicts in the summary and on stderr, and a
// plan with warnings only exits 0. A plan that migrates nothing has none.
func TestPlanWarnings(t *testing.T) {
	srv := newPlanServer(t, "")
	p, _ := runTestPlan(t, srv, PlanOptions{OnConflict: PolicyMerge})
	var got []string
	for _, w := range p.Warnings {
		got = append(got, w.Kind+" "+planWarningWhere(p, w))
	}
	if want := []string{"grants-not-read account", "table-acls-not-verified account", "externally-provisioned workspace acme-prod", "externally-provisioned workspace acme-ml"}; !reflect.DeepEqual(got, want) {
		t.Errorf("warnings = %q, want %q", got, want)
	}
	// Leaving scim-synced out leaves acme-prod without the warning.
	p, _ = runTestPlan(t, srv, PlanOptions{OnConflict: PolicyMerge, Exclude: []string{"scim-synced"}})
	for _, w := range p.Warnings {
		if w.WorkspaceID == 6051921418418891 {
			t.Errorf("warning for acme-prod without its externalId group: %+v", w)
		}
	}

	lim := newPlanServer(t, "limits")
	d, stdout, stderr, _ := planDeps(t, lim)
	o := PlanOptions{Out: filepath.Join(t.TempDir(), "plan.json"), ToolVersion: "test", Limits: ServiceLimits{WorkspaceGroups: 12}}
	if err := RunPlan(context.Background(), o, d); err != nil {
		t.Fatalf("RunPlan with warnings only: %v, want exit 0", err)
	}
	p, _, err := ReadPlan(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{{Kind: WarningGrantsNotRead, Detail: planGrantsWarning(false)}, {Kind: WarningTableACLsNotVerified, Detail: planTableACLWarning}, {Kind: WarningWorkspaceGroups, WorkspaceID: 41, Detail: "workspace lim would show 19 groups from apply until finalize (12 now, the migrated local groups stay under their backup names, and 7 account groups are assigned): Databricks documents up to 12 groups per workspace, without saying whether account groups count; if assignments fail, migrate in smaller batches and finalize each before the next"}}
	if !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("warnings = %+v\nwant %+v", p.Warnings, want)
	}
	if !strings.Contains(stdout.String(), "\nWarnings:\n  - grants-not-read: account\n    each migrated group's baseline holds") ||
		!strings.Contains(stdout.String(), "\n  - table-acls-not-verified: account\n    the permission migration API that apply calls moves") ||
		!strings.Contains(stdout.String(), "\n  - workspace-group-count: workspace lim\n    workspace lim would show 19 groups") {
		t.Errorf("summary lacks the warning:\n%s", stdout)
	}
	if !strings.Contains(stderr.String(), `WARN plan warning (see the summary) kind="workspace-group-count" workspace=41`) {
		t.Errorf("stderr lacks the warning's log line:\n%s", stderr)
	}
	if strings.Contains(stdout.String(), "Conflicts:") {
		t.Errorf("summary shows a conflicts section for a plan without conflicts:\n%s", stdout)
	}

	// The summary on a terminal shows the same section.
	streams, tty, _ := reports.Test()
	streams.SetStdoutTTY(true)
	if err := printPlanSummary(streams, p, "plan.json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tty.String(), "\n  - workspace-group-count: workspace lim\n") {
		t.Errorf("terminal summary lacks the warning:\n%s", tty)
	}

	// (A --group naming no group is an error; a regex may select none.)
	p, _ = runTestPlan(t, lim, PlanOptions{GroupRegex: []string{"^no such group$"}})
	if len(p.Warnings) != 0 {
		t.Errorf("a plan that migrates nothing has warnings: %+v", p.Warnings)
	}
}

// TestPlanReportsShowWarnings: the HTML report shows each warning as a
// notice, the XLSX report has a Warnings sheet.
func TestPlanReportsShowWarnings(t *testing.T) {
	srv := newPlanServer(t, "")
	dir := t.TempDir()
	html := filepath.Join(dir, "h.json")
	runTestPlan(t, srv, PlanOptions{Out: html, Report: ReportHTML})
	b, err := os.ReadFile(strings.TrimSuffix(html, ".json") + ".html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "externally-provisioned (workspace acme-prod): the local groups this plan migrates include 1 with an externalId") {
		t.Errorf("html report lacks the warning")
	}
	xlsx := filepath.Join(dir, "x.json")
	runTestPlan(t, srv, PlanOptions{Out: xlsx, Report: ReportXLSX})
	zr, err := zip.OpenReader(strings.TrimSuffix(xlsx, ".json") + ".xlsx")
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var workbook []byte
	for _, f := range zr.File {
		if f.Name == "xl/workbook.xml" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			workbook, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if !strings.Contains(string(workbook), `name="Warnings"`) {
		t.Errorf("xlsx workbook has no Warnings sheet: %s", workbook)
	}
}
