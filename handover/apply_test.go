package handover

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// patchOwner makes who the IS_OWNER of job id in acme-prod, through the
// API, as someone else would after the plan.
func patchOwner(t *testing.T, srv *sandbox.Server, job, who string) {
	t.Helper()
	d, _, _ := deps(srv)
	sess, err := d.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := sess.Workspaces(context.Background())
	w, err := sess.Workspace(ws[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scim.UpdatePermissions(context.Background(), w, "jobs", job,
		[]scim.AccessControlRequest{{UserName: who, PermissionLevel: "IS_OWNER"}}); err != nil {
		t.Fatal(err)
	}
}

// TestApplySkipsStaleObjects: an object whose owner changed since the plan
// is skipped and reported; the rest is done; the exit code is 2; the
// deactivation that depends on it still goes ahead only because the object
// no longer depends on the leaver.
func TestApplySkipsStaleObjects(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"job"}; o.Workspaces = []string{"acme-prod"} })
	patchOwner(t, srv, "103", dana)
	d, stdout, _ := deps(srv)
	err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("apply: %v, want a *PartialError for one change", err)
	}
	out := stdout.String()
	for _, want := range []string{"5 of 6 changes done", "1 skipped (changed since the plan)",
		"skipped: owner job 103 (weekly-report) in acme-prod: owner changed since the plan: it is now " + dana + ", not user:" + elena} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	after := srv.Snapshot()
	owner := ""
	for _, g := range after.Workspaces[0].Grants {
		if g.Object == "jobs/103" && g.PermissionLevel == "IS_OWNER" {
			owner = g.PrincipalID
		}
	}
	if owner != "1100000000000004" { // dana
		t.Errorf("job 103 owner = %s, want dana's id (the skipped change must not be made)", owner)
	}
	// A second apply does not retry the skipped change (it needs a new
	// plan) and changes nothing else.
	srv.ResetStats()
	err = RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d)
	if !errors.As(err, &pe) || nonGET(srv) != 0 {
		t.Errorf("second apply: %v, %d writes", err, nonGET(srv))
	}
}

// TestApplyOneFailureDoesNotStopTheRest: a change the service refuses
// fails alone (exit 2); the others are done; the identity is not
// deactivated and its tokens are not revoked; once the cause is gone, the
// same command finishes.
func TestApplyOneFailureDoesNotStopTheRest(t *testing.T) {
	srv := newProdBoundServer(t)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) {
		o.Workspaces = []string{"acme-prod"}
		o.Deactivate, o.RevokeTokens = true, true
	})
	if err := srv.AddFault(sandbox.Fault{Method: "PATCH", PathRegexp: `^/api/2\.0/permissions/jobs/101$`, Status: 403, Times: 1,
		Body: `{"error_code":"PERMISSION_DENIED","message":"denied by a test"}`}); err != nil {
		t.Fatal(err)
	}
	d, stdout, _ := deps(srv)
	err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 {
		t.Fatalf("apply: %v", err)
	}
	out := stdout.String()
	objects, _, tokens, _ := planCounts(p)
	for _, want := range []string{
		"failed: owner job 101 (nightly-sales-etl) in acme-prod",
		"failed: deactivate identity 1100000000000005 (Elena Patel) in the account: not deactivated: 1 object changes are not done (6051921418418891/job/101/owner)",
		"not revoked: 1 object changes are not done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "failed: "); n != 2+tokens {
		t.Errorf("%d failures, want job 101, the deactivation and %d tokens:\n%s", n, tokens, out)
	}
	st := srv.Snapshot()
	for _, u := range st.Users {
		if u.UserName == elena && !u.Active {
			t.Error("elena was deactivated although one object is not handed over")
		}
	}
	if !strings.Contains(out, "Apply: "+itoa(objects-1)+" of ") {
		t.Errorf("the other %d object changes were not all done:\n%s", objects-1, out)
	}
	stdout.Reset()
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("second apply: %v\n%s", err, stdout)
	}
	for _, u := range srv.Snapshot().Users {
		if u.UserName == elena && u.Active {
			t.Error("elena is still active after the second apply")
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestApplyDryRunChangesNothing: a dry run sends only GET requests, writes
// no journal and says what it would do.
func TestApplyDryRunChangesNothing(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate, o.RevokeTokens = true, true })
	before := srv.Snapshot()
	srv.ResetStats()
	d, stdout, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, DryRun: true}, d); err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr)
	}
	if n := nonGET(srv); n != 0 {
		t.Errorf("dry run sent %d writes", n)
	}
	if d := sandbox.Diff(before, srv.Snapshot()); len(d) > 0 {
		t.Errorf("dry run changed: %v", d)
	}
	if _, err := os.Stat(journal.DefaultDir(plan)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run wrote a journal: %v", err)
	}
	if !strings.Contains(stdout.String(), "Dry run: apply would make 53 writes") || !strings.Contains(stderr.String(), "skipped write (--dry-run)") {
		t.Errorf("dry run output:\n%s\n%s", stdout, stderr)
	}
}

// TestRollbackDryRunSaysWould: a rollback dry run that finds changes it
// could not put back (revoked tokens) says they would not be, and that
// nothing was changed; it never says the state "is not fully back".
func TestRollbackDryRunSaysWould(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds, o.RevokeTokens = []string{"query", "token"}, true })
	d, _, _ := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatal(err)
	}
	before := srv.Snapshot()
	err := RunRollback(context.Background(), ApplyOptions{JournalDir: journal.DefaultDir(plan), DryRun: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "would not be put back") || !strings.Contains(err.Error(), "nothing was changed") ||
		strings.Contains(err.Error(), "not fully back") {
		t.Errorf("rollback --dry-run: %v", err)
	}
	if diff := sandbox.Diff(before, srv.Snapshot()); len(diff) > 0 {
		t.Errorf("rollback --dry-run changed: %v", diff)
	}
}

// TestApplyConfirmation: off a terminal apply refuses without --yes and
// changes nothing; on a terminal only "yes" goes ahead, and the question
// says what is irreversible.
func TestApplyConfirmation(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.RevokeTokens = true; o.Kinds = []string{"job,token"} })
	d, _, stderr := deps(srv)
	srv.ResetStats()
	err := RunApply(context.Background(), ApplyOptions{PlanPath: plan}, d)
	if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "pass --yes") || !strings.Contains(err.Error(), "IRREVERSIBLE") ||
		!strings.HasPrefix(err.Error(), "handover apply: ") { // main adds "dbiam: " (it said "dbiam: dbiam handover apply: ")
		t.Fatalf("apply off a terminal: %v", err)
	}
	if srv.Stats().Total != 0 {
		t.Errorf("an unconfirmed apply sent %d requests", srv.Stats().Total)
	}
	d.Streams.In = strings.NewReader("no\n")
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Terminal: true}, d); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("apply answered no: %v", err)
	}
	if !strings.Contains(stderr.String(), "revoke 3 tokens: IRREVERSIBLE") || !strings.Contains(stderr.String(), "Only 'yes' will be accepted") {
		t.Errorf("question:\n%s", stderr)
	}
	if srv.Stats().Total != 0 {
		t.Errorf("a refused apply sent %d requests", srv.Stats().Total)
	}
	d.Streams.In = strings.NewReader("yes\n")
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Terminal: true}, d); err != nil {
		t.Fatalf("apply answered yes: %v", err)
	}
}

// TestApplyConfirmationCounts: the question's figures are true: changes
// (not objects), the workspaces that have some, running clusters (each
// restarted once, elena-dev too, whose owner and dedicated user change),
// and one
// identity deactivated; it names the account.
func TestApplyConfirmationCounts(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"cluster", "query"} })
	d, _, _ := deps(srv)
	err := RunApply(context.Background(), ApplyOptions{PlanPath: plan}, d)
	for _, want := range []string{"Handover will make 7 object changes in 1 workspace of account " + srv.AccountID(),
		"restarting 2 running clusters (each once), and stdin"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("question: %v\nwant %q", err, want)
		}
	}
	// --deactivate needs every kind: acme-prod alone, its finance
	// catalog bound to it.
	srv = newProdBoundServer(t)
	plan, _ = demoPlan(t, srv, func(o *PlanOptions) { o.Deactivate = true; o.Workspaces = []string{"acme-prod"} })
	d, _, _ = deps(srv)
	err = RunApply(context.Background(), ApplyOptions{PlanPath: plan}, d)
	for _, want := range []string{"Handover will make 47 object changes in 1 workspace of account " + srv.AccountID(),
		"restarting 2 running clusters (each once), then deactivate 1 identity and remove direct workspace assignments (1 change)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("question: %v\nwant %q", err, want)
		}
	}
}

// TestApplyInterruptedResumes: cancelled right after an intent is on disk
// (the write may or may not have gone out), apply stops with the journal
// consistent; the next run reads the object, finds it done or does it, and
// finishes without sending a write twice.
func TestApplyInterruptedResumes(t *testing.T) {
	srv := newProdBoundServer(t)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Workspaces = []string{"acme-prod"} })
	d, _, _ := deps(srv)
	for _, stopAt := range []int{1, 2, 7} {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true, Parallel: 1, BeforeAppend: func(int64) {
			if n++; n == stopAt {
				cancel()
			}
		}}, d)
		cancel()
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("run stopped at %d: %v", stopAt, err)
		}
	}
	srv.ResetStats()
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("resumed apply: %v", err)
	}
	st := srv.Stats()
	writes := nonGET(srv)
	objects, _, _, restarts := planCounts(p)
	// Every change writes once, plus a terminate and a start per running
	// cluster whose owner changes; a resumed run never writes a change
	// that is in place.
	if writes > objects+2*restarts {
		t.Errorf("the resumed run sent %d writes for %d changes; requests: %+v", writes, objects, st.Requests)
	}
	if err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify after resume: %v", err)
	}
}

// TestSecretScopeManageIsMANAGE: the plan, the status and the dry run
// name the level a secret scope ACL takes (MANAGE; there is no
// CAN_MANAGE on scopes).
func TestSecretScopeManageIsMANAGE(t *testing.T) {
	srv := newServer(t)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"secret-scope"} })
	if len(p.Changes) != 1 {
		t.Fatalf("changes: %v", changeIDs(p))
	}
	if got := describe(p.Changes[0]); !strings.Contains(got, ": MANAGE for service-principal:"+etlProd) {
		t.Errorf("describe = %q", got)
	}
	d, _, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, DryRun: true}, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), `value="MANAGE"`) || strings.Contains(stderr.String(), "CAN_MANAGE") {
		t.Errorf("dry run log:\n%s", stderr)
	}
}

// TestApplyStopSendsNoNewWrite: after Ctrl-C, writes already sent finish
// and are recorded, but no step sends a new one (no intent follows the
// stop), and the run counts what it left pending.
func TestApplyStopSendsNoNewWrite(t *testing.T) {
	srv := newProdBoundServer(t)
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Workspaces = []string{"acme-prod"} })
	d, stdout, _ := deps(srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stoppedAt int64
	applyErr := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true, Parallel: 8, BeforeAppend: func(seq int64) {
		if seq == 4 {
			stoppedAt = seq
			cancel()
		}
	}}, d)
	if !errors.Is(applyErr, context.Canceled) {
		t.Fatalf("apply: %v; want interrupted", applyErr)
	}
	_, recs, err := journal.Read[record](journal.DefaultDir(plan))
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, r := range recs {
		if r.State == journal.Started && r.Seq > stoppedAt {
			t.Errorf("record %d: %s started after the stop (record %d)", r.Seq, r.Step, stoppedAt)
		}
		if r.State == journal.Done {
			done++
		}
	}
	pending := len(p.Changes) - done
	if pending == 0 || !strings.Contains(stdout.String(), ", "+strconv.Itoa(pending)+" pending (interrupted)") ||
		!strings.Contains(applyErr.Error(), "with "+strconv.Itoa(pending)+" changes pending") {
		t.Errorf("summary does not count the %d changes left pending: %v\n%s", pending, applyErr, stdout)
	}
}

// TestApplyRefusesEditedPlanAndDamagedJournal: an edited plan, and a
// journal whose chain is broken, are refused before any request.
func TestApplyRefusesEditedPlanAndDamagedJournal(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"query"} })
	raw, _ := os.ReadFile(plan)
	edited := bytes.Replace(raw, []byte(`"user:`+dana), []byte(`"user:`+"ben.haddad@acme.test"), 1)
	edited = bytes.Replace(edited, []byte(`"name": "`+dana+`"`), []byte(`"name": "ben.haddad@acme.test"`), 1)
	if bytes.Equal(raw, edited) {
		t.Fatal("the edit changed nothing")
	}
	bad := writeFile(t, "edited.json", string(edited))
	d, _, _ := deps(srv)
	srv.ResetStats()
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: bad, Yes: true}, d); !errors.Is(err, ErrPlanEdited) {
		t.Fatalf("edited plan: %v", err)
	}
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatal(err)
	}
	// Duplicate a record in the middle of the journal.
	jp := journal.Path(journal.DefaultDir(plan))
	data, _ := os.ReadFile(jp)
	lines := strings.SplitAfter(string(data), "\n")
	tampered := strings.Join(append(append(append([]string{}, lines[:3]...), lines[2]), lines[3:]...), "")
	os.WriteFile(jp, []byte(tampered), 0o600)
	srv.ResetStats()
	err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d)
	if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "line 4 repeats sequence number 2") {
		t.Fatalf("apply on a damaged journal: %v", err)
	}
	if srv.Stats().Total != 0 {
		t.Errorf("apply on a damaged journal sent %d requests", srv.Stats().Total)
	}
}

// TestApplyConnectFailureLeavesNoJournal: apply with a token the service
// refuses (or a host it cannot reach) fails before it creates the journal
// directory, so that planning again to the same file and applying works.
func TestApplyConnectFailureLeavesNoJournal(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"query"} })
	d, _, _ := deps(srv)
	d.Connect = func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: "dapi-not-a-token",
			Hermetic: true, Rates: scim.UnlimitedRates()})
	}
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err == nil {
		t.Fatal("apply with a refused token succeeded")
	}
	if _, err := os.Stat(journal.DefaultDir(plan)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("apply that could not connect left a journal directory: %v", err)
	}
}

// TestStatus prints every change's state from the journal alone.
func TestStatus(t *testing.T) {
	srv := newServer(t)
	plan, _ := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"job"}; o.Workspaces = []string{"acme-prod"} })
	patchOwner(t, srv, "103", dana)
	d, stdout, _ := deps(srv)
	_ = RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d)
	stdout.Reset()
	srv.ResetStats()
	if err := RunStatus(context.Background(), StatusOptions{JournalDir: journal.DefaultDir(plan)}, d); err != nil {
		t.Fatal(err)
	}
	if srv.Stats().Total != 0 {
		t.Errorf("status sent %d requests", srv.Stats().Total)
	}
	out := stdout.String()
	for _, want := range []string{"skipped\tacme-prod\tjob 103 (weekly-report)", "owner changed since the plan", "Status: 6 changes: 5 done, 1 skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// clusterOf reads a cluster of acme-prod through the API.
func clusterOf(t *testing.T, srv *sandbox.Server, id string) scim.Cluster {
	t.Helper()
	d, _, _ := deps(srv)
	sess, err := d.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := sess.Workspace(scim.WorkspaceInfo{ID: wsProd, Name: "acme-prod", URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := scim.GetCluster(context.Background(), w, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClusterOwnerAndUserOneRestart: elena-dev is running, owned by elena
// and dedicated to her; both change. Apply restarts it once (terminate,
// change the owner, change the dedicated user while it is terminated,
// start), not twice (the update of a running cluster's dedicated user
// restarts it again), and so does rollback; the plan and the confirmation
// count one restart per cluster. Before this, apply and rollback each
// restarted it twice: the terminate and start of the owner change, then
// the update's restart.
func TestClusterOwnerAndUserOneRestart(t *testing.T) {
	const dev = "1102-083015-9cfb92b4"
	srv := newServer(t)
	if c := clusterOf(t, srv, dev); c.State != "RUNNING" || c.CreatorUserName != elena || c.SingleUserName != elena {
		t.Fatalf("seed: elena-dev is %s, owner %q, dedicated to %q", c.State, c.CreatorUserName, c.SingleUserName)
	}
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"cluster"}; o.Workspaces = []string{"acme-prod"} })
	var running []string
	for _, c := range p.Changes {
		if c.Restart && !slices.Contains(running, c.ObjectID) {
			running = append(running, c.ObjectID)
		}
	}
	if !slices.Contains(running, dev) {
		t.Fatalf("the plan does not restart elena-dev: %v", changeIDs(p))
	}
	d, stdout, stderr := deps(srv)
	err := RunApply(context.Background(), ApplyOptions{PlanPath: plan}, d)
	if want := "restarting " + plural(len(running), "running cluster") + " (each once)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("question: %v\nwant %q", err, want)
	}
	restarts := func(what string) {
		t.Helper()
		st := srv.Stats()
		if n := st.Count("POST", "/api/2.1/clusters/delete"); n != len(running) {
			t.Errorf("%s terminated clusters %d times, want %d (once per running cluster)", what, n, len(running))
		}
		if n := st.Count("POST", "/api/2.1/clusters/start"); n != len(running) {
			t.Errorf("%s started clusters %d times, want %d", what, n, len(running))
		}
		if n := srv.ClusterRestarts(wsProd, dev); n != 0 {
			t.Errorf("%s: the update of elena-dev's dedicated user restarted it %d times, want 0 (it is changed while terminated)", what, n)
		}
		if c := clusterOf(t, srv, dev); c.State != "RUNNING" {
			t.Errorf("after %s elena-dev is %s, want RUNNING", what, c.State)
		}
	}
	srv.ResetStats()
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	restarts("apply")
	if c := clusterOf(t, srv, dev); c.CreatorUserName != etlProd || c.SingleUserName != etlProd {
		t.Errorf("after apply elena-dev is owned by %q, dedicated to %q; want %s for both", c.CreatorUserName, c.SingleUserName, etlProd)
	}
	srv.ResetStats()
	if err := RunRollback(context.Background(), ApplyOptions{JournalDir: journal.DefaultDir(plan), Yes: true}, d); err != nil {
		t.Fatalf("rollback: %v\n%s%s", err, stdout, stderr)
	}
	restarts("rollback")
	if c := clusterOf(t, srv, dev); c.CreatorUserName != elena || c.SingleUserName != elena {
		t.Errorf("after rollback elena-dev is owned by %q, dedicated to %q; want elena for both", c.CreatorUserName, c.SingleUserName)
	}
}

// permissionWrites counts the permission writes (PATCH or PUT of
// /api/2.0/permissions/...) srv received.
func permissionWrites(srv *sandbox.Server) int {
	n := 0
	for _, r := range srv.Stats().Requests {
		if r.Method != "GET" && strings.HasPrefix(r.Route, "/api/2.0/permissions/") {
			n += r.Count
		}
	}
	return n
}

// TestApplyStopAbandonsWriteWaitingForLimiter: a write's intent is
// recorded once the rate limiter granted the call, right before it is
// sent, never while it waits; and once the run is interrupted a write
// still waiting for its slot is abandoned, not sent during the grace
// period. The permissions-write bucket grants one call every 1,000 s: the
// CAN_MANAGE grants of acme-prod queue on it. While the first waiting one
// waits, the journal announces exactly the permission writes the server
// got; the run is interrupted during that wait, and no permission write
// reaches the server after it. The waiting change stays pending (no
// record), and a resumed run hands everything over. Before this, the
// intent was written before the wait and the write went out during the
// grace period.
func TestApplyStopAbandonsWriteWaitingForLimiter(t *testing.T) {
	srv := newServer(t)
	// Kinds handed over by CAN_MANAGE alone: each change is one permission
	// write, and with Parallel 1 they run one after the other.
	plan, p := demoPlan(t, srv, func(o *PlanOptions) {
		o.Kinds = []string{"dashboard,serving-endpoint,app,experiment"}
		o.Workspaces = []string{"acme-prod"}
	})
	owners := map[string]bool{}
	for _, c := range p.Changes {
		if lane(c) == "permissions" {
			owners[c.ID] = true
		}
	}
	if len(owners) < 2 {
		t.Fatalf("the plan has %d permission writes, want 2 or more: %v", len(owners), changeIDs(p))
	}
	jdir := journal.DefaultDir(plan)
	// intents counts the started records of permission writes.
	intents := func(recs []journal.Record[record]) int {
		n := 0
		for _, r := range recs {
			if r.State == journal.Started && owners[r.Step] {
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits atomic.Int32
	sentAtWait, announcedAtWait := -1, -1
	rates := scim.UnlimitedRates()
	rates[string(scim.ClassPermissionsWrite)] = 0.001
	d, stdout, stderr := deps(srv)
	d.Connect = func(c context.Context) (*scim.Session, error) {
		return scim.Connect(c, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: rates, Sleep: func(c context.Context, _ time.Duration) error {
				// Only the permissions-write bucket waits. The first
				// wait ends right after Ctrl-C, within the grace period
				// (its slot comes then); the others last until their
				// call's context ends, as a wait of 1,000 s would.
				if waits.Add(1) != 1 {
					<-c.Done()
					return c.Err()
				}
				_, recs, err := journal.Read[record](jdir)
				if err != nil {
					t.Errorf("journal during the wait: %v", err)
				}
				sentAtWait, announcedAtWait = permissionWrites(srv), intents(recs)
				cancel() // Ctrl-C while a write waits for its slot
				return nil
			}})
	}
	srv.ResetStats()
	err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true, Parallel: 1}, d)
	if !errors.Is(err, context.Canceled) || waits.Load() == 0 {
		t.Fatalf("apply: %v after %d limiter waits, want context.Canceled after a wait\n%s\n%s", err, waits.Load(), stdout, stderr)
	}
	t.Logf("%d permission writes; at the first limiter wait the server had got %d, the journal announced %d", len(owners), sentAtWait, announcedAtWait)
	if announcedAtWait != sentAtWait {
		t.Errorf("while a permission write waited for the rate limiter the journal announced %d permission writes, the server had got %d: an intent was recorded for a call not sent",
			announcedAtWait, sentAtWait)
	}
	if got := permissionWrites(srv); got != sentAtWait {
		t.Errorf("the server got %d permission writes, %d of them after the run was interrupted (a write waiting for the limiter went out in the grace period)",
			got, got-sentAtWait)
	}
	_, recs, err := journal.Read[record](jdir)
	if err != nil {
		t.Fatal(err)
	}
	if got := intents(recs); got != permissionWrites(srv) {
		t.Errorf("after the stop the journal announces %d permission writes, the server got %d", got, permissionWrites(srv))
	}
	views := journal.Replay(recs, mergeRecord)
	pending := 0
	for id := range owners {
		if views[id] == nil {
			pending++
		}
	}
	if pending == 0 {
		t.Errorf("no owner change was left pending without a record; journal: %+v", recs)
	}

	d, stdout, stderr = deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("resumed apply: %v\n%s%s", err, stdout, stderr)
	}
	if err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify after the resumed apply: %v", err)
	}
}

// TestApplyRefusesDeactivateWithKindsLeftOut: a plan with --deactivate and
// kinds left out (as an earlier dbiam wrote them) is refused by apply
// before any request: deactivating elena would break what she still has
// in the kinds not handed over.
func TestApplyRefusesDeactivateWithKindsLeftOut(t *testing.T) {
	srv := newServer(t)
	_, p := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{"job"}; o.Workspaces = []string{"acme-prod"} })
	p.Settings.Deactivate = true
	raw, err := MarshalPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	plan := writeFile(t, "old.json", string(raw))
	d, _, _ := deps(srv)
	srv.ResetStats()
	err = RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "--deactivate needs every kind handed over") {
		t.Fatalf("apply: %v, want the refusal of --deactivate with kinds left out", err)
	}
	if n := srv.Stats().Total; n != 0 {
		t.Errorf("the refused apply sent %d requests", n)
	}
	if _, err := os.Stat(journal.DefaultDir(plan)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused apply left a journal directory: %v", err)
	}
}

// TestDamagedJournalRecoveryPath: a damaged journal's message names
// handover's recovery path, not package journal's "move aside", for apply,
// status, verify and rollback, and the path is true: after an interrupted
// apply whose journal is then damaged, planning again against the live
// state to a new file plans only what is left, applying that plan
// finishes the handover, and a third plan finds nothing left.
func TestDamagedJournalRecoveryPath(t *testing.T) {
	srv := newServer(t)
	opts := func(o *PlanOptions) {
		o.Kinds = []string{"job,query"}
		o.Workspaces = []string{"acme-prod"}
	}
	plan, p := demoPlan(t, srv, opts)
	d, stdout, stderr := deps(srv)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true, Parallel: 1, BeforeAppend: func(int64) {
		if n++; n == 6 {
			cancel()
		}
	}}, d)
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted apply: %v", err)
	}
	// Duplicate a record in the middle of the journal.
	jdir := journal.DefaultDir(plan)
	data, _ := os.ReadFile(journal.Path(jdir))
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(journal.Path(jdir), []byte(strings.Join(append(append(append([]string{}, lines[:3]...), lines[2]), lines[3:]...), "")), 0o600)

	srv.ResetStats()
	for _, c := range []struct {
		op   string
		run  func() error
		want string
	}{
		{"apply", func() error { return RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d) }, "plan again against the live state to a new file"},
		{"status", func() error { return RunStatus(context.Background(), StatusOptions{JournalDir: jdir}, d) }, "plan again against the live state to a new file"},
		{"verify", func() error { return RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d) }, "plan again against the live state to a new file"},
		{"rollback", func() error { return RunRollback(context.Background(), ApplyOptions{JournalDir: jdir, Yes: true}, d) }, "must be put back by hand"},
	} {
		err := c.run()
		if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "line 4 repeats sequence number 2") ||
			!strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "move the directory aside") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s on a damaged journal: %v\nwant one line naming the line and %q, without \"move the directory aside\"", c.op, err, c.want)
		}
	}
	if n := srv.Stats().Total; n != 0 {
		t.Errorf("the commands refusing the damaged journal sent %d requests", n)
	}

	// The path the message names (demoPlan writes to a new file).
	again, p2 := demoPlan(t, srv, opts)
	if len(p2.Changes) == 0 || len(p2.Changes) >= len(p.Changes) {
		t.Fatalf("the plan made again has %d changes, want fewer than the %d of the first and some", len(p2.Changes), len(p.Changes))
	}
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: again, Yes: true}, d); err != nil {
		t.Fatalf("apply of the plan made again: %v\n%s%s", err, stdout, stderr)
	}
	if err := RunVerify(context.Background(), VerifyOptions{PlanPath: again}, d); err != nil {
		t.Fatalf("verify of the plan made again: %v", err)
	}
	if _, p3 := demoPlan(t, srv, opts); len(p3.Changes) != 0 {
		t.Errorf("after the plan made again was applied, a new plan still has %v", changeIDs(p3))
	}
}
