package migrate

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// Environment of the crash test's child process (the test binary running
// TestMigrateCrashChild). It never reads DATABRICKS_* variables: the
// connection is hermetic.
const (
	envChild      = "DBIAM_MIGRATE_CRASH_CHILD"
	envHost       = "DBIAM_MIGRATE_CRASH_HOST"
	envAccount    = "DBIAM_MIGRATE_CRASH_ACCOUNT"
	envToken      = "DBIAM_MIGRATE_CRASH_TOKEN"
	envPlan       = "DBIAM_MIGRATE_CRASH_PLAN"
	envKillBefore = "DBIAM_MIGRATE_CRASH_KILL_BEFORE_SEQ"
	// envKillAfterRequests makes the child SIGKILL itself when the reply
	// headers of its Nth request arrive (that reply is lost).
	envKillAfterRequests = "DBIAM_MIGRATE_CRASH_KILL_AFTER_REQUESTS"
	// envRates paces classes of the child's client ("class=rps,...");
	// the others stay unlimited.
	envRates = "DBIAM_MIGRATE_CRASH_RATES"
	// envParallel is ApplyOptions.Parallel (default 4).
	envParallel = "DBIAM_MIGRATE_CRASH_PARALLEL"
	// envConcurrency is the client's requests in flight per workspace
	// (scim.Settings.Concurrency; default the client's).
	envConcurrency = "DBIAM_MIGRATE_CRASH_CONCURRENCY"
)

// TestMigrateCrashChild is not a test: it is the child process of
// TestCrashResume. It runs apply and SIGKILLs itself just before writing
// journal record number $DBIAM_MIGRATE_CRASH_KILL_BEFORE_SEQ, so that every
// remote change made after the previous record has happened but its own
// record is lost.
func TestMigrateCrashChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("child process of TestCrashResume")
	}
	if k, err := strconv.ParseInt(os.Getenv(envKillBefore), 10, 64); err == nil && k > 0 {
		beforeAppend = func(seq int64) {
			if seq >= k {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	rates := scim.UnlimitedRates()
	if spec := os.Getenv(envRates); spec != "" {
		for _, kv := range strings.Split(spec, ",") {
			c, r, err := scim.ParseRate(kv)
			if err != nil {
				fmt.Fprintln(os.Stderr, "rates:", err)
				os.Exit(3)
			}
			rates[string(c)] = r
		}
	}
	var onRequest func(scim.RequestEvent)
	if n, err := strconv.ParseInt(os.Getenv(envKillAfterRequests), 10, 64); err == nil && n > 0 {
		var sent atomic.Int64
		onRequest = func(scim.RequestEvent) {
			if sent.Add(1) >= n {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	concurrency, _ := strconv.Atoi(os.Getenv(envConcurrency))
	io, _, _ := reports.Test()
	io.Err = os.Stderr
	d := Deps{Streams: io, Connect: func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: os.Getenv(envHost), AccountID: os.Getenv(envAccount),
			Token: os.Getenv(envToken), Hermetic: true, Rates: rates, OnRequest: onRequest, Concurrency: concurrency})
	}}
	opts := ApplyOptions{Yes: true, PlanPath: os.Getenv(envPlan), Parallel: 4}
	if n, err := strconv.Atoi(os.Getenv(envParallel)); err == nil && n > 0 {
		opts.Parallel = n
	}
	if err := permissionKillOptions(context.Background(), &opts, d); err != nil {
		fmt.Fprintln(os.Stderr, "apply:", err)
		os.Exit(3)
	}
	if err := RunApply(context.Background(), opts, d); err != nil {
		fmt.Fprintln(os.Stderr, "apply:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// runChild runs apply in a child process against srv, with env added to its
// environment. It reports whether the child was killed (true) or finished
// (false); any other outcome is an error carrying the child's stderr.
func runChild(srv *sandbox.Server, plan string, killBefore int64, env ...string) (bool, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=1", envHost+"="+srv.URL(), envAccount+"="+srv.AccountID(),
		envToken+"="+srv.AdminToken(), envPlan+"="+plan, envKillBefore+"="+strconv.FormatInt(killBefore, 10))
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, nil
		}
	}
	return false, fmt.Errorf("child apply (kill before record %d): %v\n%s", killBefore, err, stderr.String())
}

// journalLen returns the number of records in the journal of plan.
func journalLen(t *testing.T, plan string) int64 {
	t.Helper()
	_, recs, err := ReadJournal(DefaultJournalDir(plan))
	if errors.Is(err, journal.ErrNoJournal) {
		return 0
	}
	if err != nil {
		t.Error(err)
		return -1
	}
	return int64(len(recs))
}

// normalize rewrites the ids of principals created after the seed (which
// depend on creation order) as "new:<displayName>", and sorts everything
// that depends on ids, so that two runs of one plan compare equal.
func normalize(st sandbox.State, seed sandbox.State) sandbox.State {
	known := map[string]bool{}
	for _, g := range seed.Groups {
		known[g.ID] = true
	}
	for _, u := range append(slices.Clone(seed.Users), seed.ServicePrincipals...) {
		known[u.ID] = true
	}
	for _, w := range seed.Workspaces {
		for _, g := range w.Groups {
			known[g.ID] = true
		}
		for _, u := range append(slices.Clone(w.Users), w.ServicePrincipals...) {
			known[u.ID] = true
		}
	}
	names := map[string]string{}
	for _, g := range st.Groups {
		if !known[g.ID] {
			names[g.ID] = "new:" + g.DisplayName
		}
	}
	id := func(s string) string {
		if n, ok := names[s]; ok {
			return n
		}
		return s
	}
	ids := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = id(s)
		}
		slices.Sort(out)
		return out
	}
	remap := func(m map[string][]string) map[string][]string {
		if m == nil {
			return nil
		}
		out := map[string][]string{}
		for k, v := range m {
			out[id(k)] = v
		}
		return out
	}
	out := st
	out.Groups = slices.Clone(st.Groups)
	for i := range out.Groups {
		out.Groups[i].ID = id(out.Groups[i].ID)
		out.Groups[i].Members = ids(out.Groups[i].Members)
	}
	slices.SortFunc(out.Groups, func(a, b sandbox.GroupState) int { return strings.Compare(a.ID, b.ID) })
	out.Workspaces = slices.Clone(st.Workspaces)
	for i := range out.Workspaces {
		w := &out.Workspaces[i]
		w.Groups = slices.Clone(w.Groups)
		for j := range w.Groups {
			w.Groups[j].Members = ids(w.Groups[j].Members)
		}
		w.Assignments = slices.Clone(w.Assignments)
		for j := range w.Assignments {
			w.Assignments[j].PrincipalID = id(w.Assignments[j].PrincipalID)
		}
		slices.SortFunc(w.Assignments, func(a, b sandbox.AssignmentState) int { return strings.Compare(a.PrincipalID, b.PrincipalID) })
		w.Entitlements, w.Roles = remap(w.Entitlements), remap(w.Roles)
		w.Grants = slices.Clone(w.Grants)
		for j := range w.Grants {
			w.Grants[j].PrincipalID = id(w.Grants[j].PrincipalID)
		}
		slices.SortFunc(w.Grants, func(a, b sandbox.GrantState) int {
			return strings.Compare(a.Object+"\x00"+a.PrincipalID, b.Object+"\x00"+b.PrincipalID)
		})
		w.SecretACLs = slices.Clone(w.SecretACLs)
		for j := range w.SecretACLs {
			w.SecretACLs[j].PrincipalID = id(w.SecretACLs[j].PrincipalID)
		}
		slices.SortFunc(w.SecretACLs, func(a, b sandbox.SecretACLState) int {
			return strings.Compare(a.Scope+"\x00"+a.PrincipalID, b.Scope+"\x00"+b.PrincipalID)
		})
	}
	return out
}

// referenceRun applies plan without interruption on a fresh default
// sandbox and returns the normalized end state and the journal length.
func referenceRun(t *testing.T, plan string) (sandbox.State, int64) {
	t.Helper()
	return referenceRunIn(t, plan, sandbox.Options{})
}

// referenceRunIn is referenceRun on a fresh sandbox made with opts.
func referenceRunIn(t *testing.T, plan string, opts sandbox.Options) (sandbox.State, int64) {
	t.Helper()
	srv := sandbox.NewTestServer(t, opts)
	seed := srv.Snapshot()
	dir := t.TempDir()
	ref := filepath.Join(dir, "plan.json")
	b, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ref, b, 0o600); err != nil {
		t.Fatal(err)
	}
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: ref}, d); err != nil {
		t.Fatalf("reference apply: %v\n%s\n%s", err, stdout, stderr)
	}
	return normalize(srv.Snapshot(), seed), journalLen(t, ref)
}

// checkNoDuplicateGroups fails when two account groups share a name.
func checkNoDuplicateGroups(t *testing.T, st sandbox.State) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range st.Groups {
		k := strings.ToLower(g.DisplayName)
		if seen[k] {
			t.Errorf("duplicate account group %q", g.DisplayName)
		}
		seen[k] = true
	}
}

// crashAll makes TestCrashResume kill apply at every journal record rather
// than at a spread of them.
var crashAll = flag.Bool("crash.all", false, "TestCrashResume: kill apply before every journal record, not a spread")

// maxCrashPoints bounds the single-crash runs of TestCrashResume (each
// spawns a process) to keep the package's tests fast.
const maxCrashPoints = 100

// crashPoints returns the records to crash after: all of 1..n, or an even
// spread of maxCrashPoints of them that includes 1 and n.
func crashPoints(n int64, all bool) []int64 {
	if all || n <= maxCrashPoints {
		out := make([]int64, 0, n)
		for k := int64(1); k <= n; k++ {
			out = append(out, k)
		}
		return out
	}
	out := make([]int64, 0, maxCrashPoints)
	for i := int64(0); i < maxCrashPoints; i++ {
		k := 1 + i*(n-1)/(maxCrashPoints-1)
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}

// TestCrashResume SIGKILLs apply (a child process) just before journal
// record k+1, for every k of an uninterrupted run (with -crash.all; by
// default an even spread of 100 of them), each time on a fresh sandbox,
// then resumes it; and once more on one sandbox with a kill every
// few records until apply finishes. The end state must equal an
// uninterrupted run's: no membership, assignment, entitlement or grant
// lost, no duplicate group. The last run is then verified and rolled back
// to the seed.
func TestCrashResume(t *testing.T) {
	// Parallel: the two crash tests run their own sandboxes and child
	// processes and touch no package state; they overlap each other only
	// (parallel tests start once the sequential ones are done).
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns two child processes per journal record")
	}
	// The strict permission migration (the default) moves the grants, and
	// rollback puts back those of the baseline: all of this seed's.
	opts := sandbox.Options{Seed: readableSeed()}
	srv := sandbox.NewTestServer(t, opts)
	plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{}))
	want, n := referenceRunIn(t, plan, opts)
	if n < 20 {
		t.Fatalf("reference run wrote only %d journal records", n)
	}
	raw, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, srv *sandbox.Server, seed sandbox.State, what string) {
		t.Helper()
		checkNoDuplicateGroups(t, srv.Snapshot())
		if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
			t.Errorf("%s: state differs from an uninterrupted run:\n%s", what, diffLines(w, g))
		}
	}

	// One crash at every record (or at an even spread of about
	// maxCrashPoints records, always including the first and the last).
	points := crashPoints(n, *crashAll)
	ks := make(chan int64, len(points))
	for _, k := range points {
		ks <- k
	}
	close(ks)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ks {
				if t.Failed() {
					return
				}
				srv := sandbox.NewTestServer(t, opts)
				seed := srv.Snapshot()
				p := filepath.Join(t.TempDir(), "plan.json")
				if err := os.WriteFile(p, raw, 0o600); err != nil {
					t.Error(err)
					return
				}
				killed, err := runChild(srv, p, k+1)
				if err != nil {
					t.Error(err)
					return
				}
				if !killed {
					// This interleaving needed fewer records: nothing to resume.
					check(t, srv, seed, fmt.Sprintf("run with a kill after record %d", k))
					continue
				}
				if got := journalLen(t, p); got != k {
					t.Errorf("child killed before record %d left %d records", k+1, got)
					return
				}
				// Resume in this process: the crash is what matters.
				d, stdout, stderr := sandboxDeps(t, srv)
				if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: p}, d); err != nil {
					t.Errorf("resume after a kill after record %d: %v\n%s\n%s", k, err, stdout, stderr)
					return
				}
				check(t, srv, seed, fmt.Sprintf("crash after record %d", k))
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Many crashes in one run: kill every few records until apply finishes.
	seed := srv.Snapshot()
	kills := 0
	for {
		have := journalLen(t, plan)
		if kills > int(n) {
			t.Fatalf("apply did not finish after %d kills", kills)
		}
		killed, err := runChild(srv, plan, have+9)
		if err != nil {
			t.Fatal(err)
		}
		if !killed {
			break
		}
		kills++
	}
	t.Logf("uninterrupted run: %d records; %d single crashes; chained run: %d kills, %d records", n, len(points), kills, journalLen(t, plan))
	check(t, srv, seed, "chained crashes")

	ctx := context.Background()
	d, stdout, _ := sandboxDeps(t, srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify after crashes: %v\n%s", err, stdout)
	}
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); g != w {
		t.Errorf("rollback after crashes did not restore the seed:\n%s", diffLines(w, g))
	}
}

// fakeClock is a clock the client's waits advance, so that the sandbox's
// rate limits and consistency delays pass without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// clockDeps connects to srv with the client's waits on clk.
func clockDeps(t testing.TB, srv *sandbox.Server, clk *fakeClock, rates map[string]float64) (Deps, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	io, stdout, stderr := reports.Test()
	if rates == nil {
		rates = scim.UnlimitedRates()
	}
	connect := func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: rates, Concurrency: 8, Sleep: clk.Sleep})
	}
	return Deps{Streams: io, Connect: connect, Now: clk.Now}, stdout, stderr
}

// TestApplyThrottleStorm applies under tight account and workspace SCIM
// limits with SCIM-500 throttling and a client that does not pace itself:
// every throttled write is retried and the end state equals an unthrottled
// run's.
func TestApplyThrottleStorm(t *testing.T) {
	clk := newFakeClock()
	srv := sandbox.NewTestServer(t, sandbox.Options{Now: clk.Now, ThrottleStyle: "scim500", RateLimits: map[string]float64{
		"account-scim-write": 1, "account-scim-patch": 1, "scim-patch": 1, "assignments": 2, "permissions-write": 2,
	}})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	want, _ := referenceRun(t, plan)
	d, stdout, stderr := clockDeps(t, srv, clk, nil)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Sleep: clk.Sleep}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	st := srv.Stats()
	if st.Throttled == 0 {
		t.Fatal("no request was throttled: the storm did not happen")
	}
	t.Logf("throttled replies: %d of %d requests", st.Throttled, st.Total)
	if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
		t.Fatalf("state after the storm differs:\n%s", diffLines(w, g))
	}
}

// TestApplyLostCreateReply makes the first account group POST succeed but
// lose its reply: apply reads by name before retrying and creates no
// duplicate, with and without list lag.
func TestApplyLostCreateReply(t *testing.T) {
	for _, lag := range []time.Duration{0, 30 * time.Second} {
		t.Run(fmt.Sprintf("lag=%s", lag), func(t *testing.T) {
			clk := newFakeClock()
			srv := sandbox.NewTestServer(t, sandbox.Options{Now: clk.Now, Consistency: lag})
			seed := srv.Snapshot()
			plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
			want, _ := referenceRun(t, plan)
			if err := srv.AddFault(sandbox.Fault{Method: "POST", PathRegexp: `/scim/v2/Groups$`, Status: http.StatusInternalServerError,
				AfterHandler: true, Times: 1}); err != nil {
				t.Fatal(err)
			}
			d, stdout, stderr := clockDeps(t, srv, clk, nil)
			if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Sleep: clk.Sleep}, d); err != nil {
				t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
			}
			if srv.Stats().Faults != 1 {
				t.Fatalf("faults injected: %d, want 1", srv.Stats().Faults)
			}
			checkNoDuplicateGroups(t, srv.Snapshot())
			if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
				t.Fatalf("state differs from a clean run:\n%s", diffLines(w, g))
			}
		})
	}
}

// TestApplyInterruptAndResume cancels apply (Ctrl-C) after some journal
// records, checks that it says so and leaves a consistent journal, then
// resumes to the same end state as an uninterrupted run.
func TestApplyInterruptAndResume(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	want, n := referenceRun(t, plan)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := n / 2
	beforeAppend = func(seq int64) {
		if seq == stop {
			cancel()
		}
	}
	t.Cleanup(func() { beforeAppend = nil })
	d, stdout, _ := sandboxDeps(t, srv)
	err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d)
	beforeAppend = nil
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted apply: %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "run the same command again to resume") {
		t.Errorf("interrupted apply error %q does not say how to resume", err)
	}
	if !strings.Contains(stdout.String(), "pending (interrupted)") {
		t.Errorf("summary does not count pending groups:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(DefaultJournalDir(plan), journal.LockFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("interrupted apply left its lock: %v", err)
	}
	if got := journalLen(t, plan); got >= n {
		t.Fatalf("interrupted apply wrote %d records, the whole run has %d", got, n)
	}

	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("resumed apply: %v\n%s\n%s", err, stdout, stderr)
	}
	if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
		t.Fatalf("state after resume differs:\n%s", diffLines(w, g))
	}
}
