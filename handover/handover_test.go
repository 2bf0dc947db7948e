package handover

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/audit"
	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
)

// TestPlanDemoAccount: elena's handover plan on the demo account is made
// with GET requests only and lists every change, in order, with the
// successor each rule picks.
func TestPlanDemoAccount(t *testing.T) {
	srv := newServer(t)
	srv.ResetStats()
	_, p := demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate, o.RevokeTokens = true, true })
	if n := nonGET(srv); n != 0 {
		t.Errorf("plan sent %d requests other than GET", n)
	}
	if len(p.Conflicts) != 0 {
		t.Fatalf("conflicts: %+v", p.Conflicts)
	}
	want := []string{
		"6051921418418891/job/101/owner", "6051921418418891/job/102/owner", "6051921418418891/job/103/owner",
		"6051921418418891/job/108/run-as", "6051921418418891/job/108/owner", "6051921418418891/job/110/owner",
		"6051921418418891/pipeline/edc846dc-9e46-4dab-999b-673b4e6c9624/run-as", "6051921418418891/pipeline/edc846dc-9e46-4dab-999b-673b4e6c9624/owner",
		"6051921418418891/cluster/0301-101010-b16fbef0/owner", "6051921418418891/cluster/0301-101010-b16fbef0/single-user",
		"6051921418418891/cluster/0817-121500-c5c0b440/owner",
		"6051921418418891/cluster/1102-083015-9cfb92b4/owner", "6051921418418891/cluster/1102-083015-9cfb92b4/single-user",
		"6051921418418891/warehouse/e669a1c51a7d436c/owner",
		"6051921418418891/query/290d97f5-738c-4412-adf9-26d436f73105/owner", "6051921418418891/query/9e36bbed-a57f-44cf-9f24-b8bf7e2ad14f/owner",
		"6051921418418891/alert/3f56973a-bd87-4b4d-a0a0-8e03ed123634/owner",
		"6051921418418891/alert-v2/5b0e7c41-2d9a-4f3e-8b6c-0a7d19e4c2f3/owner",
		"6051921418418891/alert-v2/8e2f4a06-91c7-4d5b-a3e8-6f1b0c9d7a24/run-as", "6051921418418891/alert-v2/8e2f4a06-91c7-4d5b-a3e8-6f1b0c9d7a24/owner",
		"6051921418418891/legacy-dashboard/0ea7f940-86b5-43d9-b476-b7afb92922d3/owner",
		"6051921418418891/dashboard/72ada18cd1af96ada456d1177cd59088/manage",
		"6051921418418891/serving-endpoint/7777dbe35dd1db580c7a0444cbd5b378/manage",
		"6051921418418891/app/sales-insights/manage",
		"6051921418418891/experiment/3101/manage", "6051921418418891/workspace-model/6c0f1e2d3c4b5a69788796a5b4c3d2e1/manage",
		"6051921418418891/instance-pool/0301-090000-pool0001/manage", "6051921418418891/vector-search-endpoint/1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b/manage",
		"6051921418418891/repo/4401/manage", "6051921418418891/secret-scope/etl-secrets/manage",
		"uc/catalog/elena_sandbox/owner", "uc/schema/elena_sandbox.scratch/owner", "uc/schema/main.sales/owner",
		"uc/table/elena_sandbox.scratch.tmp_orders/owner", "uc/table/main.sales.daily_revenue/owner",
		"uc/table/main.sales.orders/owner", "uc/table/main.sales.orders_eu/owner",
		"uc/volume/main.sales.landing/owner", "uc/function/main.sales.mask_email/owner",
		"uc/registered-model/main.sales.churn/owner", "uc/external-location/raw-landing/owner",
		"uc/storage-credential/s3-raw/owner", "uc/service-credential/kinesis-reader/owner",
		"uc/connection/crm-postgres/owner", "uc/share/partner-sales/owner",
		"uc/recipient/northwind-partner/owner", "uc/provider/weather-data-inc/owner",
		"6051921418418892/job/203/owner", "6051921418418893/job/302/owner",
		"account/identity/user:elena.patel@acme.test/deactivate",
		"6051921418418891/token/47408e192d110d40c5e46d62b01c533a095e4e7e5ed0df9c01f77792d2a48367/revoke",
		"6051921418418891/token/b9865f8fe8f51baa9a431c96ca98e14ac0d101ec8c90680f5e26dde5d8df31dd/revoke",
		"6051921418418891/token/f2f5fd644ff23e9419c4610aa5045b28853359dda69d13747bc5150bb563d886/revoke",
	}
	// Unity Catalog changes go through the workspaces attached to the
	// metastore in turn (rate limits are per workspace): compare them
	// without their workspace, sorted as the plan sorts them.
	var got []string
	perWS := map[int64]int{}
	for _, c := range p.Changes {
		id := c.ID
		if isUC(c.Kind) {
			id = "uc/" + c.Kind + "/" + c.ObjectID + "/" + c.Action
			perWS[c.WorkspaceID]++
		}
		got = append(got, id)
	}
	ucSorted := func(ids []string) []string {
		var uc, other []string
		for _, id := range ids {
			if strings.HasPrefix(id, "uc/") {
				uc = append(uc, id)
			} else {
				other = append(other, id)
			}
		}
		slices.Sort(uc)
		return append(other, uc...)
	}
	if len(perWS) != 3 {
		t.Errorf("Unity Catalog changes go through %d workspaces, want the 3 attached to the metastore: %v", len(perWS), perWS)
	}
	if got, want := ucSorted(got), ucSorted(want); !slices.Equal(got, want) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range p.Changes {
		wantTo := "service-principal:" + etlProd
		switch {
		case c.Phase != PhaseObjects:
			wantTo = ""
		case (c.WorkspaceID == wsAnaly && !isUC(c.Kind)) || c.Kind == KindQuery || c.Kind == KindAlert || c.Kind == KindAlertV2 || c.Kind == KindLegacyDashboard:
			wantTo = "user:" + dana
		}
		if c.To.String() != wantTo {
			t.Errorf("%s goes to %q, want %q", c.ID, c.To.String(), wantTo)
		}
		if (c.ObjectID == "1102-083015-9cfb92b4" || c.ObjectID == "0817-121500-c5c0b440") != c.Restart {
			t.Errorf("%s: restart %v", c.ID, c.Restart)
		}
	}
	if len(p.LeftAsIs) != 1 || p.LeftAsIs[0].ObjectID != "1020-111111-b30e3e83" {
		t.Errorf("left as is: %+v, want only the job cluster", p.LeftAsIs)
	}
	if p.Caller.String() != "user:aisha.adeyemi@acme.test" || p.Digest == "" || p.Identities[0].AccountID != "1100000000000005" {
		t.Errorf("plan header: caller %s digest %q identities %+v", p.Caller, p.Digest, p.Identities)
	}
}

// conflictReasons returns "object: reason" of each conflict.
func conflictReasons(p *Plan) []string {
	var out []string
	for _, c := range p.Conflicts {
		out = append(out, c.ObjectID+"/"+c.Action+": "+c.Reason)
	}
	return out
}

func hasConflict(p *Plan, object, part string) bool {
	for _, c := range p.Conflicts {
		if c.ObjectID == object && strings.Contains(c.Reason, part) {
			return true
		}
	}
	return false
}

// TestPlanConflicts: a successor that cannot take an object is a blocking
// conflict, never a silent skip; apply refuses such a plan before any
// request.
func TestPlanConflicts(t *testing.T) {
	srv := newServer(t)
	d, stdout, _ := deps(srv)
	out := t.TempDir() + "/plan.json"
	m := writeFile(t, "map.csv", "from,kind,workspace,to\n*,pipeline,*,user:"+dana+"\n*,job,acme-ml,service-principal:"+etlDev+"\n")
	err := RunPlan(context.Background(), PlanOptions{From: []string{"user:" + elena}, To: "service-principal:" + etlProd,
		MapFile: m, Out: out, Deactivate: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 {
		t.Fatalf("plan with conflicts: %v, want a *PartialError", err)
	}
	p, _, rerr := ReadPlan(out)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, c := range []struct{ object, part string }{
		{"9e36bbed-a57f-44cf-9f24-b8bf7e2ad14f", "a service principal cannot own a query"},
		{"3f56973a-bd87-4b4d-a0a0-8e03ed123634", "cannot own an alert"},
		{"0ea7f940-86b5-43d9-b476-b7afb92922d3", "cannot own a legacy dashboard"},
		{"203", "is not an active principal of workspace acme-analytics"},
		{"edc846dc-9e46-4dab-999b-673b4e6c9624", "a pipeline can run as another user only if that user sets it"},
		{"1102-083015-9cfb92b4", "deactivating user:elena.patel@acme.test would break it"},
	} {
		if !hasConflict(p, c.object, c.part) {
			t.Errorf("no conflict on %s saying %q; conflicts:\n%s", c.object, c.part, strings.Join(conflictReasons(p), "\n"))
		}
	}
	if !strings.Contains(stdout.String(), "Blocking conflicts (apply refuses this plan") {
		t.Errorf("the printed plan does not list the conflicts:\n%s", stdout)
	}

	// A job in acme-ml mapped to etl-dev (no User role): only the run-as
	// needs the role; the owner change does not. elena's job 302 has no
	// explicit run_as, so there is no conflict; job 108's run-as to
	// etl-prod is fine.
	if hasConflict(p, "108", "Service Principal User") {
		t.Errorf("job 108 run-as to etl-prod flagged: %v", conflictReasons(p))
	}

	srv.ResetStats()
	err = RunApply(context.Background(), ApplyOptions{PlanPath: out, Yes: true}, d)
	if !errors.Is(err, ErrConflicts) {
		t.Fatalf("apply of a plan with conflicts: %v", err)
	}
	if srv.Stats().Total != 0 {
		t.Errorf("apply of a refused plan sent %d requests", srv.Stats().Total)
	}
	if _, err := os.Stat(journal.DefaultDir(out)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused apply created its journal: %v", err)
	}
}

// TestPlanSummaryCountsWorkspacesWithChanges: the summary says in how many
// of the workspaces read the plan changes something.
func TestPlanSummaryCountsWorkspacesWithChanges(t *testing.T) {
	srv := newServer(t)
	out := filepath.Join(t.TempDir(), "handover.json")
	d, stdout, _ := deps(srv)
	if err := RunPlan(context.Background(), PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Kinds: []string{"query"}, Out: out}, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "Plan: 2 object changes in 1 of the 4 workspaces read") {
		t.Errorf("summary:\n%s", stdout)
	}
}

// TestPlanUnknownLeaverIsAConflict: a leaving identity that no directory
// knows and no object names (a misspelt name) is a blocking conflict, not
// an empty plan that would pass for a finished handover; a known one is
// planned as usual.
func TestPlanUnknownLeaverIsAConflict(t *testing.T) {
	srv := newServer(t)
	out := filepath.Join(t.TempDir(), "handover.json")
	d, stdout, _ := deps(srv)
	err := RunPlan(context.Background(), PlanOptions{From: []string{"user:elena.patle@acme.test", "user:" + elena},
		To: "user:" + dana, Kinds: []string{"query"}, Out: out}, d)
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("plan: %v; want exit 2 for a conflict", err)
	}
	p, _, err := ReadPlan(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Conflicts) != 1 || p.Conflicts[0].Identity != "user:elena.patle@acme.test" || !strings.Contains(p.Conflicts[0].Reason, "no object names it") {
		t.Errorf("conflicts: %+v", p.Conflicts)
	}
	if len(p.Changes) == 0 || !strings.Contains(stdout.String(), "check the name in --from") {
		t.Errorf("changes %v; output:\n%s", changeIDs(p), stdout)
	}
}

// TestPlanRunAsNeedsServicePrincipalUserRole: running a job as a service
// principal the caller holds no User role on is a blocking conflict that
// says how to fix it; a successor that is itself leaving is one too.
func TestPlanRunAsNeedsServicePrincipalUserRole(t *testing.T) {
	srv := newServer(t)
	d, _, _ := deps(srv)
	out := t.TempDir() + "/plan.json"
	err := RunPlan(context.Background(), PlanOptions{From: []string{"user:" + elena, "user:" + dana}, To: "service-principal:" + etlDev,
		MapFile: writeFile(t, "m.csv", "*,query,*,user:"+dana+"\n"), Kinds: []string{"job,query"}, Out: out}, d)
	if err == nil {
		t.Fatal("plan without conflicts")
	}
	p, _, _ := ReadPlan(out)
	if !hasConflict(p, "108", "does not hold the Service Principal User role on service-principal:"+etlDev) {
		t.Errorf("no role conflict on job 108: %v", conflictReasons(p))
	}
	if !hasConflict(p, "9e36bbed-a57f-44cf-9f24-b8bf7e2ad14f", "is itself being handed over") {
		t.Errorf("no conflict for a successor that leaves: %v", conflictReasons(p))
	}
	for _, c := range p.Changes {
		if c.Kind != KindJob {
			t.Errorf("--kinds job,query planned %s", c.ID)
		}
	}
}

// snapshot is the sandbox state apply and rollback change.
func snapshot(srv *sandbox.Server) sandbox.State { return srv.Snapshot() }

// TestApplyVerifyAuditRollback: apply hands everything over and
// deactivates elena; verify finds no difference; audit of elena then
// shows nothing that breaks or is orphaned; rollback puts the account back
// exactly as it was.
func TestApplyVerifyAuditRollback(t *testing.T) {
	srv := newProdBoundServer(t)
	before := snapshot(srv)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) {
		o.Deactivate = true
		o.Workspaces = []string{"acme-prod"}
	})
	d, stdout, stderr := deps(srv)
	ctx := context.Background()
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "Apply: 48 of 48 changes done (48 written now") {
		t.Errorf("apply summary:\n%s", stdout)
	}
	after := snapshot(srv)
	diff := strings.Join(sandbox.Diff(before, after), "\n")
	for _, want := range []string{
		`+ workspace 6051921418418891 object jobs/108 run_as="` + etlProd + `"`,
		`+ workspace 6051921418418891 object clusters/1102-083015-9cfb92b4 single_user="` + etlProd + `"`,
		`+ workspace 6051921418418891 object queries/9e36bbed-a57f-44cf-9f24-b8bf7e2ad14f owner="` + dana + `"`,
		`+ account user 1100000000000005 active=false`,
		`+ metastore e2ba97a5-a262-431b-982c-15d9b9f72d45 catalog "elena_sandbox" owner="` + etlProd + `"`,
		`+ metastore e2ba97a5-a262-431b-982c-15d9b9f72d45 function "main.sales.mask_email" owner="` + etlProd + `"`,
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("apply did not make %s; diff:\n%s", want, diff)
		}
	}
	if srv.ClusterRestarts(wsProd, "1102-083015-9cfb92b4") != 0 {
		t.Errorf("elena-dev restarted %d times by update, want 0 (its dedicated user changes while it is terminated for its owner change)",
			srv.ClusterRestarts(wsProd, "1102-083015-9cfb92b4"))
	}

	stdout.Reset()
	if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "Verify: 48 changes checked, 0 differences") {
		t.Errorf("verify: %s", stdout)
	}

	// audit of elena afterwards: nothing that breaks or is orphaned in
	// the workspace handed over.
	aio, aout, _ := deps(srv)
	err := audit.Run(ctx, audit.Options{Users: []string{elena}, Workspaces: []string{"acme-prod"}, Format: audit.FormatJSON},
		audit.Deps{Streams: aio.Streams, Connect: aio.Connect, Now: aio.Now})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var rep struct {
		Findings []struct {
			Kind, Severity, Reason string
			ObjectID               string   `json:"object_id"`
			Relations              []string `json:"relations"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(aout.Bytes(), &rep); err != nil || len(rep.Findings) == 0 {
		t.Fatalf("audit report: %v, %d findings\n%s", err, len(rep.Findings), aout)
	}
	for _, f := range rep.Findings {
		// Tokens were not handed over (no --revoke-tokens): they still
		// break when elena goes, and audit says so. Objects stored in her
		// home folder (in-home) are not moved by a handover: audit lists
		// them for the admin to move.
		handed := slices.Contains(Kinds(), f.Kind) && f.Kind != KindToken
		if handed && !slices.Contains(f.Relations, "in-home") && (f.Severity == "breaks" || f.Severity == "orphaned") {
			t.Errorf("audit after handover: %s %s is %s: %s %v", f.Kind, f.ObjectID, f.Severity, f.Reason, f.Relations)
		}
	}

	stdout.Reset()
	if err := RunRollback(ctx, ApplyOptions{JournalDir: journal.DefaultDir(plan), Yes: true}, d); err != nil {
		t.Fatalf("rollback: %v\n%s%s", err, stdout, stderr)
	}
	got := snapshot(srv)
	if diff := sandbox.Diff(before, got); len(diff) > 0 {
		t.Errorf("rollback left differences:\n%s", strings.Join(diff, "\n"))
	}
	for i := range before.Workspaces {
		if !reflect.DeepEqual(before.Workspaces[i].Grants, got.Workspaces[i].Grants) {
			t.Errorf("workspace %d grants differ after rollback:\nbefore %v\nafter  %v", before.Workspaces[i].WorkspaceID,
				before.Workspaces[i].Grants, got.Workspaces[i].Grants)
		}
	}
	_ = p
}

// TestPlanFindsGitFoldersInHomeFolders: a Git folder in the leaver's home
// folder (/Users/<leaver>/...) gets a manage change like one under /Repos.
// GET /api/2.0/repos without a path prefix serves only the Git folders
// under /Repos (docs repos/v1/list-repos), so the plan must also list
// /Users, as audit does.
func TestPlanFindsGitFoldersInHomeFolders(t *testing.T) {
	s := sandbox.DefaultSeed()
	added := false
	for i, w := range s.Workspaces {
		if w.WorkspaceID == wsProd && w.Objects != nil {
			s.Workspaces[i].Objects.Repos = append(w.Objects.Repos, sandbox.SeedRepo{ID: 4409,
				Path: "/Users/" + elena + "/forecasting", URL: "https://github.com/acme/forecasting.git", Provider: "gitHub", Branch: "main"})
			added = true
		}
	}
	if !added {
		t.Fatal("the default seed has no objects in acme-prod")
	}
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: s})
	_, p := demoPlan(t, srv, nil)
	var repos []string
	for _, c := range p.Changes {
		if c.Kind == KindRepo {
			repos = append(repos, c.ID)
		}
	}
	want := []string{"6051921418418891/repo/4401/manage", "6051921418418891/repo/4409/manage"}
	if !slices.Equal(repos, want) {
		t.Errorf("Git folder changes %v, want %v (the one in elena's home folder included)", repos, want)
	}
}
