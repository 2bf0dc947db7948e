package migrate

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// Liveness: an apply killed soon after every start, again and again, must
// still make progress, and journal only what it sends.
const (
	// livenessKills is how many times TestApplyKilledEarlyAndOften kills
	// apply.
	livenessKills = 20
	// livenessMinRequests and livenessMaxRequests bound the requests a
	// killed run sends (its last reply is lost). The minimum leaves room
	// for the run's start (the workspace list) and one step of its first
	// group with that group's account group (at most 9 requests with this
	// seed): a run that does that first makes progress in every life.
	livenessMinRequests = 12
	livenessMaxRequests = 40
	// livenessPatchRate paces the workspace SCIM PATCH class (renames,
	// entitlements) in the killed runs, so that writes wait for the rate
	// limiter as they do against Databricks (0.5/s by default).
	livenessPatchRate = "scim-patch=10"
	// livenessStrandsPerKill bounds the intents a kill may strand: those
	// of writes between their record and their request. The hook that
	// writes them runs once a call holds its concurrency slot, and the
	// killed runs send one request at a time per scope (account,
	// workspace), so at most one per scope. Measured: about 0.5 per kill;
	// apply before intents waited for the rate limiter: 5.3.
	livenessStrandsPerKill = 2
)

// livenessSeed has more local groups in its one workspace than apply
// works on at once, with a few members each and no grants.
const livenessSeed = "workspaces=1,users=40,groups=0,members=2,sps=0,local-groups=24,seed=7"

// TestApplyKilledEarlyAndOften kills apply (a child process working on 16
// groups at once, one request in flight per scope) after 12 to 40 requests, 20 times in a row on one
// sandbox, with the workspace SCIM PATCH class paced: the apply
// killed every 0.05-3 s that stalled, because every start read all its
// unfinished groups before its first write and journaled writes still
// waiting for the rate limiter. Each restart must finish at least one more
// step of its first unfinished group (plan order) or of that group's
// account group, whatever the number of unfinished groups; the journal
// may hold no more intent (started) records of the groups' steps than
// the writes the server received for them, but for a few stranded by
// each kill between their record and their request. A last uninterrupted run ends in the state of a run that was
// never killed.
func TestApplyKilledEarlyAndOften(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	seed, err := sandbox.Synthetic(livenessSeed)
	if err != nil {
		t.Fatal(err)
	}
	opts := sandbox.Options{Seed: seed}
	srv := sandbox.NewTestServer(t, opts)
	base := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	groups := activeGroups(p)
	if len(groups) <= DefaultParallel {
		t.Fatalf("the plan migrates %d groups, want more than %d (worked on at once)", len(groups), DefaultParallel)
	}
	want, _ := referenceRunIn(t, plan, opts)
	srv.ResetStats()

	jdir := DefaultJournalDir(plan)
	views := func() map[string]*StepView {
		_, recs, err := ReadJournal(jdir)
		if err != nil {
			return map[string]*StepView{}
		}
		return Replay(recs)
	}
	rng := rand.New(rand.NewPCG(10, 11))
	kills := 0
	for life := range livenessKills {
		v := views()
		lead := firstUnfinished(groups, v)
		if lead == nil {
			break
		}
		before := doneSteps(p, *lead, v)
		n := livenessMinRequests + rng.IntN(livenessMaxRequests-livenessMinRequests+1)
		killed, err := runChild(srv, plan, 0, envKillAfterRequests+"="+strconv.Itoa(n), envRates+"="+livenessPatchRate,
			envParallel+"="+strconv.Itoa(DefaultParallel), envConcurrency+"=1")
		if err != nil {
			t.Fatal(err)
		}
		if !killed {
			break
		}
		kills++
		if after := doneSteps(p, *lead, views()); after <= before {
			t.Errorf("life %d (killed after %d requests): no step of its first unfinished group %q or of its account group finished (%d done before and after)",
				life+1, n, lead.g.LocalName, before)
		}
	}
	if kills < livenessKills/2 {
		t.Fatalf("apply was killed only %d times: the runs were too short to test", kills)
	}

	// Intents of the groups' steps against the writes the server got for
	// them (account group creates and member PATCHes are left out: the id
	// a create returns is recorded with its reply).
	_, recs, err := ReadJournal(jdir)
	if err != nil {
		t.Fatal(err)
	}
	intents := 0
	for _, r := range recs {
		if r.State == StateStarted && r.Data.Kind != KindEnsureAccountGroup {
			intents++
		}
	}
	writes := 0
	for _, r := range srv.Stats().Requests {
		if r.Method != "GET" && !strings.Contains(r.Route, "/accounts/{account_id}/scim/v2/Groups") {
			writes += r.Count
		}
	}
	t.Logf("%d kills; %d intent records of group steps for %d writes sent (ratio %.2f)", kills, intents, writes, float64(intents)/float64(max(writes, 1)))
	// A kill may strand the intents of the writes between their record
	// and their request (the fsync): a few, never the writes still waiting
	// for the rate limiter.
	if intents > writes+livenessStrandsPerKill*kills {
		t.Errorf("%d intent records of group steps for %d writes sent after %d kills: records were written for calls that were not sent",
			intents, writes, kills)
	}

	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("final apply: %v\n%s\n%s", err, stdout, stderr)
	}
	if g, w := snapshotJSON(t, normalize(srv.Snapshot(), base)), snapshotJSON(t, want); g != w {
		t.Errorf("state after the killed runs differs from an uninterrupted run:\n%s", diffLines(w, g))
	}
}

// firstUnfinished returns the first group of groups whose steps are not
// all done in views, nil if none.
func firstUnfinished(groups []groupRef, views map[string]*StepView) *groupRef {
	for i, gr := range groups {
		for _, k := range groupKinds {
			if v := views[groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID)]; v == nil || v.State != StateDone {
				return &groups[i]
			}
		}
	}
	return nil
}

// doneSteps counts the done steps of gr and of the account groups it
// needs (its own and those nested in it).
func doneSteps(p *Plan, gr groupRef, views map[string]*StepView) int {
	n := 0
	for _, k := range groupKinds {
		if v := views[groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID)]; v != nil && v.State == StateDone {
			n++
		}
	}
	seen := map[string]bool{}
	var walk func(key string)
	walk = func(key string) {
		ag := findAG(p, key)
		if ag == nil || seen[key] {
			return
		}
		seen[key] = true
		if v := views[accountGroupStepID(key)]; v != nil && v.State == StateDone {
			n++
		}
		for _, m := range ag.Members {
			if m.Kind == KindGroup && m.GroupKey != "" {
				walk(m.GroupKey)
			}
		}
	}
	walk(gr.g.AccountGroupKey)
	return n
}

// TestIntentOnlyForCallsSent: the intent of a write is recorded once the
// rate limiter granted the call, not while it waits, and a call granted
// after the run was interrupted is not sent. Two groups' renames share a
// workspace SCIM PATCH bucket that grants one call every 1,000 s: while
// the second rename waits for its slot the journal holds no record of it;
// the run is interrupted during that wait; when the wait ends (within the
// grace period for calls in flight) the rename is not sent. The first
// rename is done, the second has no record at all, and a resumed run
// renames it.
func TestIntentOnlyForCallsSent(t *testing.T) {
	seed, err := sandbox.Synthetic("workspaces=1,users=6,groups=0,members=2,sps=0,local-groups=2,seed=3")
	if err != nil {
		t.Fatal(err)
	}
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: seed})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	groups := activeGroups(p)
	if len(groups) != 2 {
		t.Fatalf("the plan migrates %d groups, want 2", len(groups))
	}
	jdir := DefaultJournalDir(plan)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waiting []Record // the journal while a rename waits for the limiter
	waits := 0
	rates := scim.UnlimitedRates()
	rates[string(scim.ClassSCIMPatch)] = 0.001
	io, stdout, stderr := reports.Test()
	d := Deps{Streams: io, Connect: func(c context.Context) (*scim.Session, error) {
		return scim.Connect(c, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: rates, Sleep: func(c context.Context, d time.Duration) error {
				// Only the PATCH bucket waits: a rename waits for its slot.
				waits++
				_, waiting, _ = ReadJournal(jdir)
				cancel()
				return c.Err()
			}})
	}}
	err = RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan, Parallel: 2}, d)
	if !errors.Is(err, context.Canceled) || waits != 1 {
		t.Fatalf("apply: %v after %d limiter waits, want context.Canceled after 1\n%s\n%s", err, waits, stdout, stderr)
	}
	_, recs, err := ReadJournal(jdir)
	if err != nil {
		t.Fatal(err)
	}
	views, during := Replay(recs), Replay(waiting)
	var done, untouched int
	for _, gr := range groups {
		id := groupStepID(KindRenameLocal, gr.ws.WorkspaceID, gr.g.LocalID)
		switch v := views[id]; {
		case v == nil:
			untouched++
			if w := during[id]; w != nil {
				t.Errorf("while the rename of %q waited for the rate limiter the journal said it was %s", gr.g.LocalName, w.State)
			}
		case v.State == StateDone:
			done++
		default:
			t.Errorf("rename of %q is %s in the journal, want done or no record", gr.g.LocalName, v.State)
		}
	}
	if done != 1 || untouched != 1 {
		t.Errorf("renames: %d done and %d without a record, want 1 and 1 (the one waiting for the limiter must leave none)", done, untouched)
	}
	if got := patchesReceived(srv); got != 1 {
		t.Errorf("the server got %d group PATCHes, want 1 (the first rename)", got)
	}

	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("resumed apply: %v\n%s\n%s", err, stdout, stderr)
	}
	st := srv.Snapshot()
	for _, gr := range groups {
		if got := localGroupName(st, gr.ws.WorkspaceID, gr.g.LocalID); got != gr.g.BackupName {
			t.Errorf("after the resumed run local group %q is named %q, want %q", gr.g.LocalName, got, gr.g.BackupName)
		}
	}
}

// patchesReceived counts the workspace SCIM PATCHes of groups srv got
// (renames, entitlements).
func patchesReceived(srv *sandbox.Server) int {
	n := 0
	for _, r := range srv.Stats().Requests {
		if r.Method == "PATCH" && r.Route == "/api/2.0/preview/scim/v2/Groups/{id}" {
			n += r.Count
		}
	}
	return n
}
