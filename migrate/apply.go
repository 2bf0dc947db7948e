package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Defaults of ApplyOptions.
const (
	// DefaultMemberBatch is how many members one PATCH adds. Databricks
	// documents no limit; 100 matches the SCIM page size and keeps a
	// request small (UCX sends 20, Terraform 1).
	DefaultMemberBatch = 100
	// MaxMemberBatch is the largest accepted MemberBatch.
	MaxMemberBatch = 100
	// DefaultPermissionBatch is the size of one permission migration call
	// (what UCX uses).
	DefaultPermissionBatch = 1000
	// DefaultVisibleTimeout bounds wait-visible: Databricks caches group
	// names and memberships for up to 60 s, so three minutes leaves room.
	DefaultVisibleTimeout = 3 * time.Minute
	// DefaultGrace is how long in-flight calls may finish after Ctrl-C.
	DefaultGrace = journal.DefaultGrace
	// DefaultParallel is how many groups are worked on at once.
	DefaultParallel = 16
	// DefaultAccountParallel is how many account groups are ensured at once.
	// Account SCIM writes are the scarce resource; the rate limiter paces
	// them, this only keeps a few requests queued.
	DefaultAccountParallel = 8
)

// ApplyOptions are the options of "dbiam migrate apply".
type ApplyOptions struct {
	// PlanPath is the plan file written by "dbiam migrate plan".
	PlanPath string
	// JournalDir is the journal directory; "" means "<plan>.journal".
	JournalDir string
	// DryRun logs every write instead of making it and never writes the
	// journal.
	DryRun bool
	// ForceUnlock removes another run's lock (--force-unlock).
	ForceUnlock bool
	// Yes skips the confirmation (--yes); without it a run that is not
	// on a terminal is refused before any change.
	Yes bool
	// Workspaces and Groups, when set, restrict the run to the plan's
	// groups in those workspaces (names or ids) with those names (local or
	// account group names): a canary; later runs go on with the rest.
	Workspaces []string
	Groups     []string
	// Parallel is how many groups are worked on at once; 0 means
	// DefaultParallel.
	Parallel int
	// MemberBatch is how many members one PATCH adds (1..100); 0 means
	// DefaultMemberBatch.
	MemberBatch int
	// PermissionBatch is the size of one permission migration call; 0
	// means DefaultPermissionBatch.
	PermissionBatch int
	// VisibleTimeout bounds how long wait-visible polls per group; 0 means
	// DefaultVisibleTimeout.
	VisibleTimeout time.Duration
	// Grace is how long in-flight calls may finish after the context is
	// cancelled; 0 means DefaultGrace.
	Grace time.Duration
	// ToolVersion is recorded in the journal header.
	ToolVersion string

	// Remote, if set, is used instead of connecting through Deps.Connect
	// (tests, embedding).
	Remote Remote
	// Sleep, if set, replaces the timer of polling waits; it must return
	// ctx.Err() when ctx is done. Tests inject one that advances a clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o *ApplyOptions) normalize() error {
	if o.PlanPath == "" {
		return errors.New("apply: no plan file: pass the plan written by \"dbiam migrate plan\"")
	}
	if o.JournalDir == "" {
		o.JournalDir = DefaultJournalDir(o.PlanPath)
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	switch {
	case o.MemberBatch == 0:
		o.MemberBatch = DefaultMemberBatch
	case o.MemberBatch < 0 || o.MemberBatch > MaxMemberBatch:
		return fmt.Errorf("apply: member batch %d is out of range: use 1 to %d", o.MemberBatch, MaxMemberBatch)
	}
	if o.PermissionBatch <= 0 {
		o.PermissionBatch = DefaultPermissionBatch
	}
	if o.VisibleTimeout <= 0 {
		o.VisibleTimeout = DefaultVisibleTimeout
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	return nil
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PartialError reports a run in which some groups failed; everything else
// was done. Its exit code is 2.
type PartialError struct {
	Op     string // "apply", "rollback", "finalize", "verify", "status"
	Failed int    // groups that failed (verify: groups with differences)
	Total  int    // groups attempted
	Hint   string // what to do next
	// Differences is, for verify, the number of differences found (a
	// group may have several); 0 otherwise.
	Differences int
}

// Error summarises the failures.
func (e *PartialError) Error() string {
	msg := fmt.Sprintf("%s: %d of %d groups failed", e.Op, e.Failed, e.Total)
	if e.Differences > 0 {
		msg = fmt.Sprintf("%s: %d of %d groups have differences (%d differences)", e.Op, e.Failed, e.Total, e.Differences)
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// ExitCode is 2: partial failure.
func (e *PartialError) ExitCode() int { return 2 }

// ApplyResult summarises a run of apply.
type ApplyResult struct {
	// Groups is the number of local groups the plan migrates.
	Groups int
	// Migrated counts groups whose every step is done (this run or before).
	Migrated int
	// AlreadyDone counts groups that were done before this run.
	AlreadyDone int
	// Members counts the memberships the account groups of migrated groups
	// hold by the plan (each account group once, as the plan's summary
	// counts them), so that plan and apply give the same figure.
	Members int
	// Permissions is the number of grants the permission migration API
	// reported for migrated groups (this run and before); PermissionsAtLeast
	// marks it as a lower bound (some moved without a count, see
	// Detail.PermissionsAtLeast).
	Permissions        int
	PermissionsAtLeast bool
	// SecretACLs counts the secret scope ACLs added.
	SecretACLs int
	// Skipped counts groups the plan skips (conflicts, skipped workspaces).
	Skipped int
	// Failed lists the groups that failed, with their error.
	Failed []GroupFailure
	// Pending counts groups not finished because the run was interrupted.
	Pending int
}

// GroupFailure is one failed group.
type GroupFailure struct {
	WorkspaceID int64
	Workspace   string
	Group       string
	Step        StepKind
	Err         string
}

// RunApply executes the plan at opts.PlanPath, resuming from the journal.
// It returns a *PartialError when some groups failed, and an error
// wrapping context.Canceled when ctx was cancelled (the journal is then
// consistent and a new run resumes).
func RunApply(ctx context.Context, opts ApplyOptions, d Deps) error {
	if err := opts.normalize(); err != nil {
		return err
	}
	log := d.logger()
	plan, raw, err := ReadPlan(opts.PlanPath)
	if err != nil {
		return err
	}
	hdr := journalHeader(plan, raw, opts.ToolVersion)

	// Everything that can refuse the run does so before the lock, which
	// creates the journal directory: the journal (read only) must belong
	// to this plan, the canary names must name groups of the plan, and the
	// changes must be confirmed.
	h, recs, err := ReadJournal(opts.JournalDir)
	switch {
	case errors.Is(err, journal.ErrNoJournal):
	case err != nil:
		return err
	default:
		if err := journal.CheckHeader(journal.Path(opts.JournalDir), h, hdr); err != nil {
			return err
		}
	}
	pre := newExecutor(plan, nil, nil, recs, opts, log)
	scope, err := pre.scopeGroups(opts.Workspaces, opts.Groups)
	if err != nil {
		return err
	}
	if !opts.DryRun {
		if err := confirm(ctx, d, "apply", "apply", opts.Yes, plan, applyChanges(pre, scope)); err != nil {
			return err
		}
	}

	var j *journal.Journal[Payload]
	if !opts.DryRun {
		lock, err := acquireLock(opts.JournalDir, "apply", opts.ForceUnlock, d)
		if err != nil {
			return err
		}
		defer lock.Release()
		j, err = openJournal(opts.JournalDir, hdr, d.Now)
		if err != nil {
			return err
		}
		defer j.Close()
		if err := journal.SavePlan(opts.JournalDir, raw); err != nil {
			return err
		}
		recs = j.Records()
	}

	remote := opts.Remote
	if remote == nil {
		var err error
		if remote, err = connectRemote(ctx, "apply", d, plan); err != nil {
			return err
		}
	}
	if opts.DryRun {
		remote = DryRunPlan(remote, log, plan, Replay(recs))
	}

	ex := newExecutor(plan, remote, j, recs, opts, log)
	ex.dryRun = opts.DryRun
	ex.scope = scope
	if d.Streams != nil {
		ex.progress = reports.NewProgress(d.Streams, reports.ProgressOptions{Label: "migrate", Unit: "groups", TaskUnit: "workspaces",
			Tasks: len(workspacesOf(scope)), Now: d.Now})
	}
	res, err := ex.run(ctx)
	if d.Streams != nil {
		writeApplySummary(d.Streams.Out, res, opts.DryRun)
		if all := len(activeGroups(plan)); len(scope) < all {
			fmt.Fprintf(d.Streams.Out, "canary: %d of the plan's %d groups were in scope (--workspace, --group); run apply without them to go on with the rest\n",
				len(scope), all)
		}
	}
	d.setOutcome(applyOutcome(res, opts))
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("apply interrupted with %d groups pending; run the same command again to resume: %w", res.Pending, ctx.Err())
	}
	if len(res.Failed) > 0 {
		hint := fmt.Sprintf("see \"dbiam migrate status --journal %s\", fix the cause and run apply again", opts.JournalDir)
		if opts.DryRun {
			hint = "the dry run found problems"
		}
		return &PartialError{Op: "apply", Failed: len(res.Failed), Total: res.Groups, Hint: hint}
	}
	return nil
}

// acquireLock takes the lock of the journal directory for "migrate op"
// (see journal.AcquireLock).
func acquireLock(dir, op string, force bool, d Deps) (*journal.Lock, error) {
	return journal.AcquireLock(dir, journal.LockOptions{Command: "migrate " + op, Activity: "migration", Force: force, Now: d.Now, Log: d.logger()})
}

// applyOutcome says how many groups the apply migrated and where its
// journal is.
func applyOutcome(r ApplyResult, o ApplyOptions) reports.Outcome {
	if o.DryRun {
		return reports.Outcome{Command: "migrate apply", Nothing: true,
			Did: fmt.Sprintf("dry run, would migrate %d of %d groups, %d would fail", r.Migrated, r.Groups, len(r.Failed))}
	}
	return reports.Outcome{Command: "migrate apply", Wrote: []string{"journal " + o.JournalDir},
		Did: fmt.Sprintf("%d of %d groups migrated, %d failed, %d pending", r.Migrated, r.Groups, len(r.Failed), r.Pending)}
}

// writeApplySummary prints the final summary.
func writeApplySummary(w io.Writer, r ApplyResult, dry bool) {
	if dry {
		fmt.Fprintf(w, "Dry run: would migrate %d of %d groups (%d already done before), %d memberships, %d groups skipped (conflicts), %d failed",
			r.Migrated, r.Groups, r.AlreadyDone, r.Members, r.Skipped, len(r.Failed))
	} else {
		perms := strconv.Itoa(r.Permissions)
		if r.PermissionsAtLeast {
			perms = "at least " + perms
		}
		fmt.Fprintf(w, "Apply: %d of %d groups migrated (%d already done before this run), %d memberships, %s permissions moved, %d secret ACLs copied, %d groups skipped (conflicts), %d failed",
			r.Migrated, r.Groups, r.AlreadyDone, r.Members, perms, r.SecretACLs, r.Skipped, len(r.Failed))
	}
	if r.Pending > 0 {
		fmt.Fprintf(w, ", %d pending (interrupted)", r.Pending)
	}
	fmt.Fprintln(w)
	for _, f := range r.Failed {
		fmt.Fprintf(w, "  failed: group %q in workspace %s (%d) at %s: %s\n", f.Group, f.Workspace, f.WorkspaceID, f.Step, f.Err)
	}
}

// executor runs the steps of one plan.
type executor struct {
	plan   *Plan
	remote Remote
	// jx runs the steps against the journal (whose records it keeps
	// replayed); its journal is nil in a dry run and before the journal
	// is opened.
	jx *journal.Executor[Payload]
	// scope are the groups apply works on (nil: every migrated group of
	// the plan); see scopeGroups.
	scope []groupRef
	// dryRun is set for a dry run: log lines say what would be done, and
	// waits for the service to catch up are skipped (nothing changed).
	dryRun bool
	opts   ApplyOptions
	log    *reports.Logger

	ags map[string]*agRun

	// progress, if set, shows one task per workspace.
	progress *reports.Progress
	tasks    map[int64]*wsTask

	// renamed holds, per rename-local step id of an active group, a signal
	// closed once that group's rename is done or the group stopped (see
	// waitNameFree). Nil outside apply.
	renamed map[string]*signal
	// assignedBy is rollback's record, per workspace and account group
	// (assignKey), of whether dbiam made the workspace assignment.
	assignedBy map[string]bool
	// wsAssignments caches, per workspace, the assignments rollback read
	// to check the account groups it deletes.
	wsAssignments map[int64][]scim.PermissionAssignment
	// recs are the journal's records when finalize or rollback started;
	// now is their clock (nil: time.Now).
	recs []Record
	now  func() time.Time
	// out, if set, receives rollback's statement about grants (stdout),
	// printed before its first change.
	out io.Writer

	// warm holds back every group but the first unfinished one until that
	// one made progress (see warmUp); nil when nothing is held back.
	warm *gate

	mu      sync.Mutex
	res     ApplyResult
	counted map[string]bool // account group keys whose members res counts
}

// signal is a channel closed at most once.
type signal struct {
	ch   chan struct{}
	once sync.Once
}

func (s *signal) fire() { s.once.Do(func() { close(s.ch) }) }

// wsTask tracks one workspace's progress.
type wsTask struct {
	task      *reports.Task
	remaining int
	failed    int
	migrated  int
}

// groupFinished updates the workspace's progress when one of its groups is
// migrated, fails or is left pending.
func (ex *executor) groupFinished(ws *WorkspacePlan, outcome string) {
	if ex.progress == nil {
		return
	}
	ex.mu.Lock()
	t := ex.tasks[ws.WorkspaceID]
	t.remaining--
	switch outcome {
	case "failed":
		t.failed++
	case "migrated":
		t.migrated++
	}
	last := t.remaining == 0
	failed, migrated := t.failed, t.migrated
	ex.mu.Unlock()
	t.task.Add(1)
	if !last {
		return
	}
	verb := "migrated"
	if ex.dryRun {
		verb = "would migrate"
	}
	if failed > 0 {
		t.task.Fail(fmt.Errorf("%d groups failed, %d %s", failed, migrated, verb))
	} else {
		t.task.Done(fmt.Sprintf("%d groups %s", migrated, verb))
	}
}

// agRun is the outcome of ensure-account-group, shared by the groups that
// wait for it.
type agRun struct {
	plan   *AccountGroupPlan
	needed bool
	done   chan struct{}
	id     string
	err    error
}

// newExecutor returns an executor of plan p over remote r that appends to
// j; with a nil j (a dry run, or a look before the journal is opened) recs
// give the journal's state and nothing is written.
func newExecutor(p *Plan, r Remote, j *journal.Journal[Payload], recs []Record, opts ApplyOptions, log *reports.Logger) *executor {
	ex := &executor{plan: p, remote: r, opts: opts, log: log, ags: map[string]*agRun{}}
	ex.jx = journal.NewExecutor(j, recs, journal.ExecOptions[Payload]{
		Merge:       mergePayload,
		Grace:       opts.Grace,
		Retry:       retryThrottled,
		Sleep:       ex.pause,
		RedoSkipped: true, // a skipped step is run again: its cause may be gone
		OnRetry: func(step string, err error, round int, wait time.Duration) {
			log.Warn("step throttled past the retry budget; running it again", "step", step, "round", round+1, "wait", wait)
		},
	})
	for i := range p.AccountGroups {
		ag := &p.AccountGroups[i]
		ex.ags[ag.Key] = &agRun{plan: ag, done: make(chan struct{})}
	}
	return ex
}

// activeGroups returns the groups apply migrates, with their workspace.
func activeGroups(p *Plan) []groupRef {
	var out []groupRef
	for i := range p.Workspaces {
		ws := &p.Workspaces[i]
		if ws.Skipped != "" {
			continue
		}
		for k := range ws.Groups {
			if ws.Groups[k].Skipped == "" {
				out = append(out, groupRef{ws: ws, g: &ws.Groups[k]})
			}
		}
	}
	return out
}

// skippedGroups counts the groups the plan does not migrate.
func skippedGroups(p *Plan) int {
	n := 0
	for _, ws := range p.Workspaces {
		for _, g := range ws.Groups {
			if ws.Skipped != "" || g.Skipped != "" {
				n++
			}
		}
	}
	return n
}

type groupRef struct {
	ws *WorkspacePlan
	g  *GroupPlan
}

// markNeeded marks the account groups that active groups map to, and the
// nested groups they contain.
func (ex *executor) markNeeded(groups []groupRef) {
	var mark func(key string)
	mark = func(key string) {
		a := ex.ags[key]
		if a == nil || a.needed {
			return
		}
		a.needed = true
		for _, m := range a.plan.Members {
			if m.Kind == KindGroup && m.GroupKey != "" {
				mark(m.GroupKey)
			}
		}
	}
	for _, gr := range groups {
		mark(gr.g.AccountGroupKey)
	}
}

// run executes every needed step. It returns an error only for a failure
// that stops everything (the journal cannot be written).
func (ex *executor) run(parent context.Context) (ApplyResult, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	ex.jx.OnFatal(cancel)

	groups := ex.scope
	if groups == nil {
		groups = activeGroups(ex.plan)
	}
	ex.markNeeded(groups)
	lead, leadAGs := ex.warmUp(groups)
	ex.renamed = make(map[string]*signal, len(groups))
	for _, gr := range groups {
		ex.renamed[groupStepID(KindRenameLocal, gr.ws.WorkspaceID, gr.g.LocalID)] = &signal{ch: make(chan struct{})}
	}
	if ex.progress != nil {
		defer ex.progress.Close()
		ex.tasks = map[int64]*wsTask{}
		for _, gr := range groups {
			t := ex.tasks[gr.ws.WorkspaceID]
			if t == nil {
				t = &wsTask{}
				ex.tasks[gr.ws.WorkspaceID] = t
			}
			t.remaining++
		}
		for _, ws := range workspacesOf(groups) {
			ex.tasks[ws.WorkspaceID].task = ex.progress.Task(ws.WorkspaceName, int64(ex.tasks[ws.WorkspaceID].remaining))
		}
	}
	ex.res.Groups = len(groups)
	ex.res.Skipped = skippedGroups(ex.plan)

	agSem := make(chan struct{}, DefaultAccountParallel)
	grSem := make(chan struct{}, ex.opts.Parallel)
	var wg sync.WaitGroup
	for _, key := range ex.agOrder() {
		a := ex.ags[key]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(a.done)
			if !a.needed {
				a.err = errors.New("not needed")
				return
			}
			if !leadAGs[key] && !ex.warm.wait(ctx) {
				a.err = ctx.Err()
				return
			}
			for _, m := range a.plan.Members {
				if m.Kind != KindGroup || m.GroupKey == "" {
					continue
				}
				child := ex.ags[m.GroupKey]
				select {
				case <-child.done:
				case <-ctx.Done():
					a.err = ctx.Err()
					return
				}
				if child.err != nil {
					a.err = fmt.Errorf("nested group %q was not ensured: %w", child.plan.DisplayName, child.err)
					return
				}
			}
			if !acquire(ctx, agSem) {
				a.err = ctx.Err()
				return
			}
			defer release(agSem)
			a.id, a.err = ex.ensureAccountGroup(ctx, a)
		}()
	}
	for _, gr := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if gr.g == lead {
				defer ex.warm.open()
			} else if !ex.warm.wait(ctx) {
				ex.pending(gr.ws)
				return
			}
			ex.runGroup(ctx, gr, grSem)
		}()
	}
	wg.Wait()
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.res, ex.jx.Fatal()
}

// agOrder returns the account group keys in plan order.
func (ex *executor) agOrder() []string {
	keys := make([]string, len(ex.plan.AccountGroups))
	for i, ag := range ex.plan.AccountGroups {
		keys[i] = ag.Key
	}
	return keys
}

func acquire(ctx context.Context, sem chan struct{}) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func release(sem chan struct{}) { <-sem }

// runGroup runs the per-group steps of one local group.
func (ex *executor) runGroup(ctx context.Context, gr groupRef, sem chan struct{}) {
	ws, g := gr.ws, gr.g
	if sig := ex.renamed[groupStepID(KindRenameLocal, ws.WorkspaceID, g.LocalID)]; sig != nil {
		defer sig.fire()
	}
	if ex.groupDone(ws.WorkspaceID, g.LocalID) {
		ex.mu.Lock()
		ex.res.Migrated++
		ex.res.AlreadyDone++
		ex.mu.Unlock()
		ex.countDone(gr)
		ex.groupFinished(ws, "migrated")
		return
	}
	a := ex.ags[g.AccountGroupKey]
	select {
	case <-a.done:
	case <-ctx.Done():
		ex.pending(ws)
		return
	}
	if a.err != nil {
		if ctx.Err() != nil {
			ex.pending(ws)
			return
		}
		ex.failGroup(gr, KindEnsureAccountGroup, fmt.Errorf("account group %q: %w", a.plan.DisplayName, a.err))
		return
	}
	if !acquire(ctx, sem) {
		ex.pending(ws)
		return
	}
	held := true
	defer func() {
		if held {
			release(sem)
		}
	}()

	gs := &groupSteps{ex: ex, ws: ws, g: g, ag: a.plan, agID: a.id}
	if kind, err := gs.checkDrift(ctx); err != nil {
		if ctx.Err() != nil {
			ex.pending(ws)
			return
		}
		ex.recordFailure(gs.spec(kind), err, nil)
		ex.failGroup(gr, kind, err)
		return
	}
	for _, kind := range groupKinds {
		var err error
		if kind == KindAssignWorkspace {
			// Free the slot while waiting for another group's rename.
			release(sem)
			held = false
			err = gs.waitNameFree(ctx)
			if !acquire(ctx, sem) {
				ex.pending(ws)
				return
			}
			held = true
			if err != nil && ctx.Err() == nil {
				ex.recordFailure(gs.spec(kind), err, nil)
			}
		}
		if err == nil {
			err = ex.runStep(ctx, gs.spec(kind), gs.fn(kind))
		}
		if kind == KindRenameLocal && err == nil {
			if sig := ex.renamed[groupStepID(KindRenameLocal, ws.WorkspaceID, g.LocalID)]; sig != nil {
				sig.fire()
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			ex.pending(ws)
			return
		}
		ex.failGroup(gr, kind, err)
		return
	}
	ex.mu.Lock()
	ex.res.Migrated++
	ex.mu.Unlock()
	ex.countDone(gr)
	msg := "migrated group"
	if ex.dryRun {
		msg = "would migrate group"
	}
	ex.log.Info(msg, "workspace", ws.WorkspaceName, "workspace_id", ws.WorkspaceID,
		"group", g.LocalName, "account_group", a.plan.DisplayName)
	ex.groupFinished(ws, "migrated")
}

// groupDone reports whether every step of a group is done in the journal.
func (ex *executor) groupDone(wsID int64, localID string) bool {
	for _, k := range groupKinds {
		if v := ex.view(groupStepID(k, wsID, localID)); v == nil || v.State != StateDone {
			return false
		}
	}
	return true
}

// countDone adds a finished group's figures to the result.
func (ex *executor) countDone(gr groupRef) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if !ex.counted[gr.g.AccountGroupKey] {
		if ex.counted == nil {
			ex.counted = map[string]bool{}
		}
		ex.counted[gr.g.AccountGroupKey] = true
		if ag := findAG(ex.plan, gr.g.AccountGroupKey); ag != nil {
			ex.res.Members += len(ag.Members)
		}
	}
	if v := ex.view(groupStepID(KindMigratePermissions, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil {
		ex.res.Permissions += v.Detail.PermissionsMigrated
		ex.res.PermissionsAtLeast = ex.res.PermissionsAtLeast || v.Detail.PermissionsAtLeast
	}
	if v := ex.view(groupStepID(KindMigrateSecretACLs, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil {
		ex.res.SecretACLs += len(v.Detail.SecretACLs)
	}
}

func (ex *executor) pending(ws *WorkspacePlan) {
	ex.mu.Lock()
	ex.res.Pending++
	ex.mu.Unlock()
	ex.groupFinished(ws, "pending")
}

func (ex *executor) failGroup(gr groupRef, kind StepKind, err error) {
	ex.mu.Lock()
	ex.res.Failed = append(ex.res.Failed, GroupFailure{WorkspaceID: gr.ws.WorkspaceID, Workspace: gr.ws.WorkspaceName,
		Group: gr.g.LocalName, Step: kind, Err: err.Error()})
	ex.mu.Unlock()
	ex.log.Error("group failed", "workspace", gr.ws.WorkspaceName, "workspace_id", gr.ws.WorkspaceID,
		"group", gr.g.LocalName, "step", string(kind), "error", err)
	ex.groupFinished(gr.ws, "failed")
}

// stepSpec identifies one step for the journal.
type stepSpec struct {
	id    string
	kind  StepKind
	wsID  int64
	group string
}

// payload is the part of every record of the step that identifies it.
func (s stepSpec) payload() Payload {
	return Payload{Kind: s.kind, WorkspaceID: s.wsID, Group: s.group}
}

// stepRun is one execution of a step. ctx carries the grace period after
// cancellation, for calls; parent is the run's context, for loops that
// should stop at once.
type stepRun struct {
	ex     *executor
	s      *journal.Step[Payload]
	view   *StepView // the step's journal state before this run; never nil
	ctx    context.Context
	parent context.Context
}

// begin records at once that the step is under way, with what a later
// run needs to undo or resume it (durable before it returns). Steps use
// it for what a reply told them (the id of a group just created); the
// intent of a write is recorded with sending.
func (r *stepRun) begin(d *Detail) error {
	return r.s.Intend(Payload{Detail: d})
}

// sending returns the context for the write calls that d announces: the
// started record with d is written (and made durable) by the transport's
// before-send hook (scim.WithBeforeSend) once the first of those calls
// has been granted by the rate limiter, right before it is sent; the
// calls after it in the same context write nothing more. A call that is
// never sent leaves no record, so that a killed run leaves announced only
// what it was about to send; and once the run is interrupted (Ctrl-C) no
// call of the context is sent any more, not even one the limiter grants
// during the grace period (which is for the calls already sent). Reads
// made with it would run the hook too: use it for writes only. In a dry
// run the record (kept in memory) is made at once.
func (r *stepRun) sending(d *Detail) context.Context {
	if r.ex.dryRun {
		_ = r.begin(d)
		return r.ctx
	}
	var (
		once sync.Once
		err  error
	)
	return scim.WithBeforeSend(r.ctx, func() error {
		if cerr := r.parent.Err(); cerr != nil {
			return cerr
		}
		once.Do(func() { err = r.begin(d) })
		return err
	})
}

// throttleRounds and throttlePause bound how often, and after what pause
// (doubling each round: 30 s, 1 min, 2 min, 4 min, 8 min), a step that was
// throttled past the client's retry budget is run again before its group
// fails: the server ran nothing, and a step reads live state before it
// acts.
const (
	throttleRounds = 5
	throttlePause  = 30 * time.Second
)

// retryThrottled is the executor's retry policy (journal.ExecOptions).
func retryThrottled(err error, round int) (time.Duration, bool) {
	if !errors.Is(err, scim.ErrThrottled) || round >= throttleRounds {
		return 0, false
	}
	return throttlePause << round, true
}

// runStep runs fn as step spec unless the journal says it is done (see
// journal.Executor.Run): a failure is recorded with the detail fn
// returned, an interruption leaves the started record for a resumed run,
// which reads live state.
func (ex *executor) runStep(ctx context.Context, spec stepSpec, fn func(*stepRun) (*Detail, error)) error {
	ran := false
	_, err := ex.jx.Run(ctx, spec.id, spec.payload(), func(s *journal.Step[Payload]) (journal.Outcome, Payload, error) {
		if !ran {
			ex.log.Debug("step", "step", spec.id)
		}
		ran = true
		prior := stepView(s.Prior)
		d, err := fn(&stepRun{ex: ex, s: s, view: &prior, ctx: s.Ctx, parent: s.Run})
		return journal.OutcomeDone, Payload{Detail: d}, err
	})
	if ran {
		// The first group made progress: the others may go (warmUp).
		ex.warm.open()
	}
	return err
}

// recordFailure appends a failed record.
func (ex *executor) recordFailure(spec stepSpec, err error, d *Detail) {
	p := spec.payload()
	p.Detail = d
	_ = ex.jx.Append(spec.id, journal.Failed, p, err)
}

// fatalErr returns the journal write error that stopped the run, if any.
func (ex *executor) fatalErr() error { return ex.jx.Fatal() }

// view returns a copy of a step's view, or nil when it has no record.
func (ex *executor) view(id string) *StepView {
	v, ok := ex.jx.View(id)
	if !ok {
		return nil
	}
	sv := stepView(v)
	return &sv
}

// views returns every step's view.
func (ex *executor) views() map[string]*StepView {
	out := map[string]*StepView{}
	for id, v := range ex.jx.Views() {
		sv := stepView(v)
		out[id] = &sv
	}
	return out
}

// pause waits d (opts.Sleep) or until ctx is done. Waiting is not
// progress: the groups that warmUp holds back go first.
func (ex *executor) pause(ctx context.Context, d time.Duration) error {
	ex.warm.open()
	return ex.opts.Sleep(ctx, d)
}

// warmUp picks the group a run starts with: the first group of groups
// (plan order) whose steps are not all done. Until it has run one step,
// finished, or waits (for the service, a pause or another group's
// rename), it runs alone with the account groups it needs: a run that is
// restarted again and again (killed every few seconds) then makes
// progress on it in each run, whatever the number of unfinished groups,
// instead of spending each run reading them all before its first write.
// It returns the group and those account groups (their keys), and sets
// ex.warm; nil when every group is done.
func (ex *executor) warmUp(groups []groupRef) (*GroupPlan, map[string]bool) {
	for _, gr := range groups {
		if ex.groupDone(gr.ws.WorkspaceID, gr.g.LocalID) {
			continue
		}
		keys := map[string]bool{}
		var mark func(key string)
		mark = func(key string) {
			a := ex.ags[key]
			if a == nil || keys[key] {
				return
			}
			keys[key] = true
			for _, m := range a.plan.Members {
				if m.Kind == KindGroup && m.GroupKey != "" {
					mark(m.GroupKey)
				}
			}
		}
		mark(gr.g.AccountGroupKey)
		ex.warm = &gate{ch: make(chan struct{})}
		return gr.g, keys
	}
	return nil, nil
}

// gate is a barrier opened once. A nil gate is open.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

// open lets every waiter through.
func (g *gate) open() {
	if g != nil {
		g.once.Do(func() { close(g.ch) })
	}
}

// wait blocks until the gate is open (true) or ctx is done (false).
func (g *gate) wait(ctx context.Context) bool {
	if g == nil {
		return ctx.Err() == nil
	}
	select {
	case <-g.ch:
		return true
	case <-ctx.Done():
		return false
	}
}
