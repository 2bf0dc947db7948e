package handover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// JournalKind names handover journals (journal.Header.Kind).
const JournalKind = "handover"

// record is the payload of a handover journal record: what a later run
// needs to resume or undo a change.
type record struct {
	Kind        string `json:"kind,omitempty"`
	WorkspaceID int64  `json:"workspace_id,omitempty"`
	Object      string `json:"object,omitempty"`
	Action      string `json:"action,omitempty"`
	// Call is the write an intent announces: "set", "terminate",
	// "start".
	Call string `json:"call,omitempty"`
	// Previous is the value before handover changed it (a principal name;
	// "active" for a deactivation), PreviousType its principal type.
	Previous     string `json:"previous,omitempty"`
	PreviousType string `json:"previous_type,omitempty"`
	// PreviousLevel is, for manage, the successor's direct level before
	// ("NONE" when it had none).
	PreviousLevel string `json:"previous_level,omitempty"`
	// PreviousPermissions is, for an unassignment, the assignment removed.
	PreviousPermissions []string `json:"previous_permissions,omitempty"`
	// Changed is set by every intent: handover sent a write for this
	// change (rollback undoes only those).
	Changed bool `json:"changed,omitempty"`
	// Terminated is set when handover is about to terminate a running
	// cluster to change it; Started when it is about to start it again
	// (intents: the live state says whether the calls went out).
	Terminated bool `json:"terminated,omitempty"`
	Started    bool `json:"started,omitempty"`
	// Reason says why a change was skipped; Found what was found.
	Reason string `json:"reason,omitempty"`
	Found  string `json:"found,omitempty"`
}

func mergeRecord(dst *record, src record) {
	set := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	set(&dst.Kind, src.Kind)
	if src.WorkspaceID != 0 {
		dst.WorkspaceID = src.WorkspaceID
	}
	set(&dst.Object, src.Object)
	set(&dst.Action, src.Action)
	set(&dst.Call, src.Call)
	set(&dst.Previous, src.Previous)
	set(&dst.PreviousType, src.PreviousType)
	set(&dst.PreviousLevel, src.PreviousLevel)
	if src.PreviousPermissions != nil {
		dst.PreviousPermissions = src.PreviousPermissions
	}
	dst.Changed = dst.Changed || src.Changed
	dst.Terminated = dst.Terminated || src.Terminated
	dst.Started = dst.Started || src.Started
	set(&dst.Reason, src.Reason)
	set(&dst.Found, src.Found)
}

func baseRecord(c Change) record {
	return record{Kind: c.Kind, WorkspaceID: c.WorkspaceID, Object: c.ObjectID, Action: c.Action}
}

// Defaults of ApplyOptions.
const (
	// DefaultParallel is how many objects of one workspace are changed at
	// once; the transport's per-workspace concurrency cap and the rate
	// limits are the real bounds.
	DefaultParallel = 8
	// DefaultClusterTimeout bounds the wait for a terminated cluster.
	DefaultClusterTimeout = 20 * time.Minute
)

// ApplyOptions are the options of "dbiam handover apply" (and, with
// Rollback, of "dbiam handover rollback").
type ApplyOptions struct {
	// PlanPath is the plan file; for rollback "" means the journal's copy.
	PlanPath string
	// JournalDir is the journal directory; "" means "<plan>.journal".
	JournalDir string
	// DryRun logs every write instead of making it and writes no journal.
	DryRun bool
	// Yes skips the confirmation; off a terminal it is required.
	Yes bool
	// Terminal says stdin is a terminal, where apply asks for
	// confirmation.
	Terminal bool
	// ForceUnlock removes another run's lock.
	ForceUnlock bool
	// Parallel is how many objects of a workspace are changed at once; 0
	// means DefaultParallel.
	Parallel int
	// ClusterTimeout bounds the wait for a terminated cluster; 0 means
	// DefaultClusterTimeout.
	ClusterTimeout time.Duration
	// Grace is how long in-flight calls may finish after Ctrl-C; 0 means
	// journal.DefaultGrace.
	Grace time.Duration
	// ToolVersion is recorded in the journal header.
	ToolVersion string
	// Remote, if set, is used instead of connecting (tests).
	Remote Remote
	// Sleep replaces the timer of polling waits and retry pauses (tests).
	Sleep func(ctx context.Context, d time.Duration) error
	// BeforeAppend, if set, runs before each journal record (tests stop a
	// run at an exact point with it).
	BeforeAppend func(seq int64)
}

func (o *ApplyOptions) normalize(op string) error {
	if o.PlanPath == "" && o.JournalDir == "" {
		return &InputError{Input: "handover " + op, Problem: "no plan file", Fix: "pass the plan written by \"dbiam handover plan\""}
	}
	if o.JournalDir == "" {
		o.JournalDir = journal.DefaultDir(o.PlanPath)
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.ClusterTimeout <= 0 {
		o.ClusterTimeout = DefaultClusterTimeout
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// ErrConflicts is matched (errors.Is) by apply's refusal of a plan with
// blocking conflicts.
var ErrConflicts = errors.New("the plan has blocking conflicts")

// ErrNotConfirmed is matched when apply was not confirmed.
var ErrNotConfirmed = errors.New("not confirmed")

// outcome is the result of one change in a run.
type outcome struct {
	c      Change
	state  journal.State
	before bool   // done before this run
	wrote  bool   // this run sent its write
	reason string // skipped: why; failed: the error
}

// runner executes a plan's changes against a journal.
type runner struct {
	plan   *Plan
	remote Remote
	ex     *journal.Executor[record]
	opts   ApplyOptions
	log    *reports.Logger
	undo   bool
	prog   *progress        // nil until the steps start
	stream *reports.Streams // nil in tests without output

	// objects are the changes of each object in the order runObjects
	// makes them (objectKey); set before the steps run, then read only.
	objects map[string][]Change

	mu  sync.Mutex
	out map[string]*outcome
}

func (r *runner) set(o *outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out[o.c.ID] = o
}

// retryThrottled runs a step again, after a pause that doubles (30 s, 1
// min, ... 8 min), when it was throttled past the client's retry budget:
// the server ran nothing and steps read live state first.
func retryThrottled(err error, round int) (time.Duration, bool) {
	if !errors.Is(err, scim.ErrThrottled) || round >= 5 {
		return 0, false
	}
	return 30 * time.Second << round, true
}

// journalAdvice is the advice that ends package journal's message for a
// damaged journal; handover replaces it with its own recovery path.
const journalAdvice = "; move the directory aside or pass another journal directory"

// damagedJournal returns err, a damaged journal's error (journal.ErrCorrupt)
// met by handover op, with handover's recovery path instead of package
// journal's advice; other errors are returned as they are. Handover has no
// command that repairs or adopts a journal: the live state is the truth
// to plan from again, and what the damaged journal recorded (the values
// rollback would put back) is only in its intact lines.
func damagedJournal(op string, err error) error {
	if !errors.Is(err, journal.ErrCorrupt) {
		return err
	}
	fix := "handover cannot repair a journal: keep this directory, the record of what apply changed (each intact \"started\" line names a change and the value it replaced, \"previous\"); " +
		"plan again against the live state to a new file (dbiam handover plan with the same options and --out NEW.json: what is already handed over is not planned again) " +
		"and apply that plan; start by hand any cluster the earlier run terminated (a line with \"terminated\":true and no \"started\" after it) that is still terminated"
	if op == "rollback" {
		fix = "rollback cannot work from a damaged journal: keep this directory; each intact \"started\" line names a change apply made and the value it replaced (\"previous\"), " +
			"which must be put back by hand (rollback of a plan applied again from the live state undoes only that plan's changes)"
	}
	return &damagedError{err: err, fix: fix}
}

// damagedError is a damaged journal's error with handover's fix.
type damagedError struct {
	err error
	fix string
}

func (e *damagedError) Error() string {
	return strings.TrimSuffix(e.err.Error(), journalAdvice) + "; " + e.fix
}

func (e *damagedError) Unwrap() error { return e.err }

// openRun reads the plan, checks it, and opens the journal (or, in a dry
// run, reads it) for apply or rollback.
func openRun(ctx context.Context, op string, opts *ApplyOptions, d Deps) (*runner, func(), error) {
	path := opts.PlanPath
	if path == "" {
		path = journal.PlanPath(opts.JournalDir)
	}
	plan, raw, err := ReadPlan(path)
	if err != nil {
		return nil, nil, err
	}
	if op == "apply" && len(plan.Conflicts) > 0 {
		return nil, nil, fmt.Errorf("apply %s: %w: %d (see \"dbiam handover plan\"'s output); fix them and plan again", path, ErrConflicts, len(plan.Conflicts))
	}
	if left := kindsLeftOut(plan.Settings.Kinds); op == "apply" && plan.Settings.Deactivate && len(left) > 0 {
		// A plan an earlier dbiam wrote with --deactivate and --kinds.
		return nil, nil, deactivateKindsError("plan "+path, left)
	}
	hdr := journal.Header{Kind: JournalKind, PlanSHA256: journal.SHA256(raw), Lineage: plan.Lineage, ToolVersion: opts.ToolVersion}
	log := d.logger()
	r := &runner{plan: plan, opts: *opts, log: log, out: map[string]*outcome{}, undo: op == "rollback", stream: d.Streams}
	execOpts := journal.ExecOptions[record]{Merge: mergeRecord, Grace: opts.Grace, Retry: retryThrottled, Sleep: opts.Sleep,
		OnRetry: func(step string, err error, round int, wait time.Duration) {
			log.Warn("change throttled past the retry budget; running it again", "change", step, "round", round+1, "wait", wait)
		}}
	// A damaged journal, or one of another plan, is refused before any
	// request (Open checks it again under the lock).
	if h, _, err := journal.Read[record](opts.JournalDir); err == nil {
		if err := journal.CheckHeader(journal.Path(opts.JournalDir), h, hdr); err != nil {
			return nil, nil, err
		}
	} else if !errors.Is(err, journal.ErrNoJournal) {
		return nil, nil, damagedJournal(op, err)
	}
	if !opts.DryRun && op == "apply" {
		if err := confirm(plan, opts, d); err != nil {
			return nil, nil, err
		}
	}
	// Connect before the journal is created: a bad token or an unreachable
	// host leaves no journal directory behind (one would bind the
	// directory to this plan for nothing).
	remote := opts.Remote
	if remote == nil {
		if d.Connect == nil {
			return nil, nil, fmt.Errorf("%s: no connection configured", op)
		}
		sess, err := d.Connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		if id := sess.AccountID(); id != "" && id != plan.AccountID {
			return nil, nil, fmt.Errorf("%s: the plan was made for account %s, but the connection is to account %s; use the connection the plan was made with", op, plan.AccountID, id)
		}
		if remote, err = NewRemote(ctx, sess, plan); err != nil {
			return nil, nil, err
		}
	}
	cleanup := func() {}
	if opts.DryRun {
		_, recs, err := journal.Read[record](opts.JournalDir)
		if err != nil && !errors.Is(err, journal.ErrNoJournal) {
			return nil, nil, damagedJournal(op, err)
		}
		r.ex = journal.NewExecutor[record](nil, recs, execOpts)
		remote = dryRemote{Remote: remote, log: func(msg string, kv ...any) { log.Info(msg, kv...) }}
	} else {
		lock, err := journal.AcquireLock(opts.JournalDir, journal.LockOptions{Command: "handover " + op, Activity: "handover",
			Force: opts.ForceUnlock, Now: d.Now, Log: log})
		if err != nil {
			return nil, nil, err
		}
		j, err := journal.Open[record](opts.JournalDir, hdr, journal.Options{Now: d.Now, BeforeAppend: opts.BeforeAppend})
		if err != nil {
			lock.Release()
			return nil, nil, damagedJournal(op, err)
		}
		cleanup = func() {
			j.Close()
			lock.Release()
		}
		if err := journal.SavePlan(opts.JournalDir, raw); err != nil {
			cleanup()
			return nil, nil, err
		}
		r.ex = journal.NewExecutor(j, nil, execOpts)
	}
	r.remote = remote
	return r, cleanup, nil
}

// confirm asks for confirmation on a terminal; off a terminal it needs
// --yes.
func confirm(p *Plan, opts *ApplyOptions, d Deps) error {
	if opts.Yes {
		return nil
	}
	objects, deact, tokens, restarts := planCounts(p)
	workspaces, identities := map[int64]bool{}, map[string]bool{}
	for _, c := range p.Changes {
		switch {
		case c.Phase == PhaseObjects:
			workspaces[c.WorkspaceID] = true
		case c.Phase == PhaseDeactivate:
			identities[c.Identity] = true
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Handover will make %s in %s of account %s", plural(objects, "object change"), plural(len(workspaces), "workspace"), p.AccountID)
	if restarts > 0 {
		fmt.Fprintf(&b, ", restarting %s (each once)", plural(restarts, "running cluster"))
	}
	if deact > 0 {
		fmt.Fprintf(&b, ", then deactivate %s and remove direct workspace assignments (%s)", plural(len(identities), "identity"), plural(deact, "change"))
	}
	if tokens > 0 {
		fmt.Fprintf(&b, ", then revoke %s: IRREVERSIBLE, rollback cannot bring them back", plural(tokens, "token"))
	}
	if !opts.Terminal || d.Streams == nil {
		return &InputError{Input: "handover apply", Problem: b.String() + ", and stdin is not a terminal to confirm it",
			Fix: "review the plan, then pass --yes", Err: ErrNotConfirmed}
	}
	fmt.Fprintf(d.Streams.Err, "%s.\nOnly 'yes' will be accepted to approve.\nApply? ", b.String())
	line, err := bufio.NewReader(d.Streams.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("apply: %w: nothing was changed", ErrNotConfirmed)
	}
	return nil
}

// plural returns "1 thing" or "n things" ("identity": "identities").
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// RunApply applies the plan at opts.PlanPath, resuming from its journal:
// phase 1 hands every object over (workspaces at once, each object's
// changes in order, one failed change never stopping the rest); phase 2,
// for each identity whose objects are all handed over and verified,
// deactivates it and removes its direct workspace assignments; phase 3,
// last, revokes its tokens. It returns a *PartialError (exit 2) when some
// changes failed or were skipped because the object changed since the
// plan, and an error wrapping context.Canceled when interrupted (the
// journal is consistent; run it again to resume).
func RunApply(ctx context.Context, opts ApplyOptions, d Deps) error {
	if err := opts.normalize("apply"); err != nil {
		return err
	}
	r, cleanup, err := openRun(ctx, "apply", &opts, d)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ex.OnFatal(cancel)
	r.prog = newProgress(r.stream, "apply", r.plan.Changes)
	r.runApply(ctx)
	r.prog.close()
	if err := r.ex.Fatal(); err != nil {
		return err
	}
	res := r.result()
	if d.Streams != nil {
		writeResult(d.Streams.Out, "Apply", res, opts.DryRun)
		d.Streams.SetOutcome(runOutcome("apply", res, opts))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("apply interrupted with %d changes pending; run the same command again to resume: %w", res.pending, ctx.Err())
	}
	if n := len(res.failed) + len(res.skipped); n > 0 && opts.DryRun {
		return &PartialError{Op: "apply --dry-run", Failed: n, Total: res.total, What: "changes would fail or be skipped", Hint: "nothing was changed; see the lines above"}
	} else if n > 0 {
		hint := fmt.Sprintf("see \"dbiam handover status --journal %s\"; fix the cause and run apply again (a skipped change needs a new plan)", opts.JournalDir)
		return &PartialError{Op: "apply", Failed: n, Total: res.total, What: "changes failed or were skipped", Hint: hint}
	}
	return nil
}

// pending counts changes as pending until their step reports, so that a
// run stopped before reaching them says they are left to do.
func (r *runner) pending(changes []Change) {
	for _, c := range changes {
		r.set(&outcome{c: c})
	}
}

// objectKey groups the changes of one object, run in plan order.
func objectKey(c Change) string {
	return fmt.Sprintf("%d/%s/%s", c.WorkspaceID, c.Kind, c.ObjectID)
}

func (r *runner) runApply(ctx context.Context) {
	r.pending(r.plan.Changes)
	var phase1 []Change
	for _, c := range r.plan.Changes {
		if c.Phase == PhaseObjects {
			phase1 = append(phase1, c)
		}
	}
	r.runObjects(ctx, phase1, r.applyChange)
	if ctx.Err() != nil {
		return
	}
	for _, id := range r.plan.Identities {
		key := id.Principal.String()
		r.runIdentity(ctx, key)
	}
}

// lane is the rate-limit bucket a change's write is charged to: the
// permissions API (class permissions-write) or the other REST APIs (class
// rest-write, which never probes). Objects of each lane of a workspace have their own slots, so
// that a queue on one bucket never starves the other.
func lane(c Change) string {
	if c.Action == ActionManage || (c.Action == ActionOwner && permType(c.Kind) != "") {
		return "permissions"
	}
	return "rest"
}

// runObjects runs changes grouped by object: every workspace at once, at
// most Parallel objects of a workspace and lane at a time, one object's
// changes in order.
func (r *runner) runObjects(ctx context.Context, changes []Change, fn func(Change) journal.StepFunc[record]) {
	type group struct {
		key     string // workspace and lane
		changes []Change
	}
	var groups []*group
	index := map[string]*group{}
	for _, c := range changes {
		k := objectKey(c)
		g := index[k]
		if g == nil {
			g = &group{key: fmt.Sprint(c.WorkspaceID, "/", lane(c))}
			index[k] = g
			groups = append(groups, g)
		}
		g.changes = append(g.changes, c)
	}
	r.objects = map[string][]Change{}
	for k, g := range index {
		r.objects[k] = g.changes
	}
	sems := map[string]chan struct{}{}
	for _, g := range groups {
		if sems[g.key] == nil {
			sems[g.key] = make(chan struct{}, r.opts.Parallel)
		}
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			sem := sems[g.key]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			for _, c := range g.changes {
				if ctx.Err() != nil {
					return
				}
				r.step(ctx, c, fn(c))
			}
		})
	}
	wg.Wait()
}

// stepID is the journal step of a change (of its undo in a rollback).
func (r *runner) stepID(c Change) string {
	if r.undo {
		return journal.UndoID(c.ID)
	}
	return c.ID
}

// step runs one change's step and records its outcome.
func (r *runner) step(ctx context.Context, c Change, fn journal.StepFunc[record]) {
	id := r.stepID(c)
	prior, _ := r.ex.View(id)
	wrote := false
	r.prog.start(c)
	st, err := r.ex.Run(ctx, id, baseRecord(c), func(s *journal.Step[record]) (journal.Outcome, record, error) {
		o, rec, err := fn(s)
		wrote = s.Began()
		return o, rec, err
	})
	o := &outcome{c: c, state: st, before: prior.State == journal.Done || prior.State == journal.Skipped, wrote: wrote}
	v, _ := r.ex.View(id)
	switch {
	case st == "":
		o.state = "" // interrupted: pending
	case st == journal.Failed:
		o.reason = err.Error()
		r.log.Error("change failed", "change", c.ID, "object", objectLabel(c.Kind, c.ObjectID, c.ObjectName), "error", err)
	case st == journal.Skipped:
		o.reason = v.Data.Reason
		if !o.before {
			r.log.Warn("change skipped", "change", c.ID, "reason", v.Data.Reason)
		}
	}
	r.set(o)
	if st != "" {
		r.prog.done(o)
	}
}

// reached reports whether the live state is what the change sets.
func reached(c Change, st live) bool {
	switch c.Action {
	case ActionManage:
		return st.Exists && (st.Level == scim.PermissionCanManage || st.Level == scim.PermissionIsOwner || st.Level == "MANAGE")
	case ActionRevoke:
		return !st.Exists
	case ActionDeactivate, ActionUnassign:
		return st.Exists && st.Value == ""
	}
	return st.Exists && strings.EqualFold(st.Value, c.To.Name)
}

// stillFrom reports whether the live state is what the plan read, so that
// the change may be made.
func stillFrom(c Change, st live) bool {
	switch c.Action {
	case ActionManage, ActionRevoke:
		return st.Exists
	}
	return st.Exists && strings.EqualFold(st.Value, c.From.Name)
}

// skipped returns the skipped outcome of a change whose object changed.
func skippedRecord(c Change, st live) record {
	if !st.Exists {
		return record{Reason: "the object no longer exists"}
	}
	found := st.Value
	if found == "" {
		found = "(none)"
	}
	return record{Reason: fmt.Sprintf("%s changed since the plan: it is now %s, not %s", c.Action, found, c.From.String()), Found: st.Value}
}

// applyChange is the step of one object change: read the live state; done
// when the change is in place; skipped when the object changed since the
// plan; otherwise record the intent and write.
func (r *runner) applyChange(c Change) journal.StepFunc[record] {
	return func(s *journal.Step[record]) (journal.Outcome, record, error) {
		ctx := s.Ctx
		st, err := r.remote.Read(ctx, c)
		if err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("read %s: %w", objectLabel(c.Kind, c.ObjectID, c.ObjectName), err)
		}
		if c.Kind == KindCluster {
			return r.applyCluster(s, c, st, c.To.Name, c.From)
		}
		if reached(c, st) {
			return journal.OutcomeDone, record{}, nil
		}
		if !stillFrom(c, st) {
			return journal.OutcomeSkipped, skippedRecord(c, st), nil
		}
		intent := record{Call: "set", Changed: true}
		value := c.To.Name
		switch c.Action {
		case ActionManage:
			intent.PreviousLevel = st.Level
			if intent.PreviousLevel == "" {
				intent.PreviousLevel = "NONE"
			}
			value = manageLevel(c.Kind)
		case ActionRevoke:
			intent.Previous = c.ObjectID
		default:
			intent.Previous, intent.PreviousType = st.Value, c.From.Type
		}
		if err := r.send(s, intent, func(ctx context.Context) error { return r.remote.Write(ctx, c, value, nil, st) }); err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("%s %s: %w", c.Action, objectLabel(c.Kind, c.ObjectID, c.ObjectName), err)
		}
		return journal.OutcomeDone, record{}, nil
	}
}

// send makes the write calls of call, announced by intent: the started
// record with intent is written (and made durable) by the transport's
// before-send hook (scim.WithBeforeSend) once the first of those calls
// was granted by the rate limiter, right before it is sent, so that a
// call still waiting for its slot has no record, and a killed run leaves
// announced only what it was about to send. Once the run is stopped
// (Ctrl-C) no call of the step is sent any more: a call still waiting
// for the limiter stops waiting at once and is abandoned (the change
// stays pending for a resumed run, which reads the live state), and one
// the limiter grants during the grace period is refused by the hook. The
// grace period is for the calls already sent (their retries included).
// In a dry run the intent (kept in memory) is recorded at once.
func (r *runner) send(s *journal.Step[record], intent record, call func(context.Context) error) error {
	if r.ex.DryRun() {
		if err := s.Intend(intent); err != nil {
			return err
		}
		return call(s.Ctx)
	}
	stopped := func() error {
		return fmt.Errorf("step %s: no new write after the run was stopped: %w", s.ID, context.Cause(s.Run))
	}
	ctx, cancel := context.WithCancelCause(s.Ctx)
	defer cancel(nil)
	var (
		mu   sync.Mutex
		sent bool
	)
	// A call that waits for its slot when the run stops is abandoned at
	// once; one already sent may finish within the grace period.
	unwatch := context.AfterFunc(s.Run, func() {
		mu.Lock()
		defer mu.Unlock()
		if !sent {
			cancel(stopped())
		}
	})
	defer unwatch()
	return call(scim.WithBeforeSend(ctx, func() error {
		mu.Lock()
		defer mu.Unlock()
		if s.Run.Err() != nil {
			return stopped()
		}
		if sent {
			return nil // the intent announces every call of the step
		}
		if err := s.Intend(intent); err != nil {
			return err
		}
		sent = true
		return nil
	}))
}

// applyCluster changes a cluster's owner (change-owner, which needs it
// terminated) or dedicated user (update, which restarts a running one) to
// value; from is the value expected now. A running cluster is changed only
// when the plan allows restarts: its owner change terminates it, changes
// the owner and starts it again, each step recorded first.
//
// A running cluster whose owner and dedicated user both change in the run
// is restarted once, not twice: the first of its changes terminates it
// (even a dedicated user change, which would otherwise restart it) and
// leaves the start to the change after it (clusterRun); the last one
// starts it again, also when it finds its own change in place or the
// cluster changed since the plan.
func (r *runner) applyCluster(s *journal.Step[record], c Change, st live, value string, from Principal) (journal.Outcome, record, error) {
	later, inherited := r.clusterRun(c)
	prior := s.Prior.Data
	// terminated: handover terminated the cluster (this change in an
	// earlier run, or the change before it) and has not started it yet.
	terminated := prior.Terminated || inherited
	startAgain := func() error {
		if later {
			return nil // the next change of the cluster starts it
		}
		return r.send(s, record{Call: "start", Started: true}, func(ctx context.Context) error { return r.remote.Start(ctx, c) })
	}
	if st.Exists && strings.EqualFold(st.Value, value) {
		// handover terminated it and the run stopped before (or right
		// after) the start intent: the intent does not say the call went
		// out, the live state does.
		if terminated && st.ClusterState == "TERMINATED" {
			if err := startAgain(); err != nil {
				return journal.OutcomeDone, record{}, fmt.Errorf("start cluster %s again: %w", c.ObjectID, err)
			}
		}
		return journal.OutcomeDone, record{}, nil
	}
	if !st.Exists || !strings.EqualFold(st.Value, from.Name) {
		cc := c
		cc.From = from
		if st.Exists && terminated && st.ClusterState == "TERMINATED" {
			// Not changed, but handover terminated it: start it again.
			if err := startAgain(); err != nil {
				return journal.OutcomeDone, record{}, fmt.Errorf("start cluster %s again: %w", c.ObjectID, err)
			}
		}
		return journal.OutcomeSkipped, skippedRecord(cc, st), nil
	}
	running := st.ClusterState != "TERMINATED"
	if running && st.ClusterState != "RUNNING" && c.Action == ActionSingleUser {
		return journal.OutcomeDone, record{}, fmt.Errorf("cluster %s is %s: it can be changed when RUNNING or TERMINATED; run again later", c.ObjectID, st.ClusterState)
	}
	if running && !r.plan.Settings.RestartClusters {
		return journal.OutcomeSkipped, record{Reason: fmt.Sprintf("the cluster is now %s and the plan does not allow restarts (plan again with --restart-clusters)", st.ClusterState), Found: st.ClusterState}, nil
	}
	if running && (c.Action == ActionOwner || later) {
		if err := r.send(s, record{Call: "terminate", Changed: true, Terminated: true, Previous: st.Value, PreviousType: from.Type},
			func(ctx context.Context) error { return r.remote.Terminate(ctx, c) }); err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("terminate cluster %s: %w", c.ObjectID, err)
		}
		terminated = true
		if !r.ex.DryRun() {
			// The wait sends no write: it stops at once when the run
			// is stopped (the next run starts the cluster again).
			if err := waitTerminated(s.Run, r.remote, c, r.opts.Sleep, r.opts.ClusterTimeout); err != nil {
				return journal.OutcomeDone, record{}, err
			}
		}
	}
	// The set intent carries Terminated when handover holds the cluster
	// terminated, so that a run stopped before the start knows to start
	// it.
	if err := r.send(s, record{Call: "set", Changed: true, Previous: st.Value, PreviousType: from.Type, Terminated: terminated},
		func(ctx context.Context) error { return r.remote.Write(ctx, c, value, nil, st) }); err != nil {
		if terminated {
			return journal.OutcomeDone, record{}, fmt.Errorf("%s cluster %s (left terminated: the next run makes the change and starts it again): %w", c.Action, c.ObjectID, err)
		}
		return journal.OutcomeDone, record{}, fmt.Errorf("%s cluster %s: %w", c.Action, c.ObjectID, err)
	}
	if terminated {
		if err := startAgain(); err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("start cluster %s again: %w", c.ObjectID, err)
		}
	}
	return journal.OutcomeDone, record{}, nil
}

// clusterRun reports, for a change of a cluster in this run, whether a
// change of the same cluster after it in the run is still to be made
// (later: that one starts the cluster again), and whether a change before
// it terminated the cluster and left the start to the changes after it
// (inherited).
func (r *runner) clusterRun(c Change) (later, inherited bool) {
	run := r.objects[objectKey(c)]
	i := slices.IndexFunc(run, func(o Change) bool { return o.ID == c.ID })
	if i < 0 {
		return false, false
	}
	for _, o := range run[:i] {
		if v, _ := r.ex.View(r.stepID(o)); v.Data.Terminated && !v.Data.Started {
			inherited = true
		}
	}
	for _, o := range run[i+1:] {
		if v, _ := r.ex.View(r.stepID(o)); v.State != journal.Done && v.State != journal.Skipped {
			later = true
		}
	}
	return later, inherited
}

// dependsOn reports whether an object change's object still depends on
// the leaver (live state st): it has the planned value, or for manage the
// successor does not manage it.
func dependsOn(c Change, st live) bool {
	if !st.Exists {
		return false
	}
	if c.Action == ActionManage {
		return !reached(c, st)
	}
	return strings.EqualFold(st.Value, c.From.Name)
}

// runIdentity runs phases 2 and 3 for one identity: deactivate it (when
// planned) once every object change of it is done and re-read, remove its
// direct assignments, then revoke its tokens (when planned) last.
func (r *runner) runIdentity(ctx context.Context, key string) {
	var objects, deact, unassign, tokens []Change
	for _, c := range r.plan.Changes {
		if c.Identity != key {
			continue
		}
		switch {
		case c.Phase == PhaseObjects:
			objects = append(objects, c)
		case c.Action == ActionDeactivate:
			deact = append(deact, c)
		case c.Action == ActionUnassign:
			unassign = append(unassign, c)
		case c.Action == ActionRevoke:
			tokens = append(tokens, c)
		}
	}
	if len(deact)+len(tokens) == 0 {
		return
	}
	blocked := r.objectsPending(ctx, objects)
	for _, c := range deact {
		if blocked != "" {
			r.fail(ctx, c, errors.New("not deactivated: "+blocked))
			continue
		}
		r.step(ctx, c, r.applyIdentity(c))
	}
	if len(deact) > 0 {
		if v, _ := r.ex.View(deact[0].ID); v.State != journal.Done && blocked == "" {
			blocked = "its deactivation is not done"
		}
	}
	for _, c := range unassign {
		if blocked != "" {
			r.fail(ctx, c, errors.New("not unassigned: "+blocked))
			continue
		}
		r.step(ctx, c, r.applyIdentity(c))
	}
	for _, c := range tokens {
		if blocked != "" {
			r.fail(ctx, c, errors.New("not revoked: "+blocked))
			continue
		}
		r.step(ctx, c, r.applyChange(c))
	}
}

// fail records a change as failed without running it.
func (r *runner) fail(ctx context.Context, c Change, err error) {
	r.step(ctx, c, func(Change) journal.StepFunc[record] {
		return func(*journal.Step[record]) (journal.Outcome, record, error) {
			return journal.OutcomeDone, record{}, err
		}
	}(c))
}

// objectsPending returns why an identity's objects are not all handed
// over ("" when they are): a change not done, or an object that the live
// state shows still depends on it.
func (r *runner) objectsPending(ctx context.Context, objects []Change) string {
	var notDone, depends []string
	for _, c := range objects {
		v, _ := r.ex.View(c.ID)
		if v.State != journal.Done && v.State != journal.Skipped {
			notDone = append(notDone, c.ID)
			continue
		}
		if r.ex.DryRun() {
			continue // the dry run made no change to read back
		}
		st, err := r.remote.Read(ctx, c)
		if err != nil {
			depends = append(depends, c.ID+" (not read: "+err.Error()+")")
			continue
		}
		if dependsOn(c, st) {
			depends = append(depends, c.ID)
		}
	}
	var parts []string
	if len(notDone) > 0 {
		parts = append(parts, fmt.Sprintf("%d object changes are not done (%s)", len(notDone), short(notDone)))
	}
	if len(depends) > 0 {
		parts = append(parts, fmt.Sprintf("%d objects still depend on it (%s)", len(depends), short(depends)))
	}
	return strings.Join(parts, "; ")
}

func short(ids []string) string {
	if len(ids) > 3 {
		return strings.Join(ids[:3], ", ") + fmt.Sprintf(" and %d more", len(ids)-3)
	}
	return strings.Join(ids, ", ")
}

// applyIdentity is the step of a deactivation or an unassignment.
func (r *runner) applyIdentity(c Change) journal.StepFunc[record] {
	return func(s *journal.Step[record]) (journal.Outcome, record, error) {
		st, err := r.remote.Read(s.Ctx, c)
		if err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("read %s: %w", c.Identity, err)
		}
		if !st.Exists {
			return journal.OutcomeSkipped, record{Reason: c.Identity + " no longer exists"}, nil
		}
		if reached(c, st) {
			return journal.OutcomeDone, record{}, nil
		}
		intent := record{Call: "set", Changed: true, Previous: "active"}
		if c.Action == ActionUnassign {
			intent = record{Call: "set", Changed: true, PreviousPermissions: st.Permissions}
		}
		value := "inactive"
		if c.Action == ActionUnassign {
			value = ""
		}
		if err := r.send(s, intent, func(ctx context.Context) error { return r.remote.Write(ctx, c, value, nil, st) }); err != nil {
			return journal.OutcomeDone, record{}, fmt.Errorf("%s %s: %w", c.Action, c.Identity, err)
		}
		return journal.OutcomeDone, record{}, nil
	}
}

// result summarises the outcomes of a run.
type result struct {
	total, done, before, wrote, pending int
	skipped, failed                     []*outcome
	irreversible                        int // rollback: changes that cannot be undone
	undone                              bool
}

func (r *runner) result() result {
	var res result
	for _, c := range r.plan.Changes {
		o := r.out[c.ID]
		if o == nil {
			continue
		}
		res.total++
		switch o.state {
		case journal.Done:
			res.done++
			if o.before {
				res.before++
			}
			if o.wrote {
				res.wrote++
			}
		case journal.Skipped:
			res.skipped = append(res.skipped, o)
		case journal.Failed:
			res.failed = append(res.failed, o)
		default:
			res.pending++
		}
	}
	return res
}

// runOutcome is the line that ends apply or rollback (op): what was
// done, and the journal written.
func runOutcome(op string, res result, opts ApplyOptions) reports.Outcome {
	if opts.DryRun {
		return reports.Outcome{Command: "handover " + op, Nothing: true, Did: fmt.Sprintf("dry run, %d changes", res.total)}
	}
	verb := "done"
	if op == "rollback" {
		verb = "put back"
	}
	did := fmt.Sprintf("%d of %d changes %s, %d failed, %d skipped, %d pending", res.done, res.total, verb, len(res.failed), len(res.skipped), res.pending)
	if res.irreversible > 0 {
		did += fmt.Sprintf(", %d revoked tokens cannot come back", res.irreversible)
	}
	return reports.Outcome{Command: "handover " + op, Did: did, Wrote: []string{"journal " + opts.JournalDir}}
}

func writeResult(w io.Writer, op string, res result, dry bool) {
	if dry {
		op = "Dry run: " + strings.ToLower(op) + " would make"
		fmt.Fprintf(w, "%s %d writes; %d of %d changes in place or would be (%d already done before), %d would be skipped, %d failed",
			op, res.wrote, res.done, res.total, res.before, len(res.skipped), len(res.failed))
	} else {
		fmt.Fprintf(w, "%s: %d of %d changes done (%d written now, %d done before this run, the others found in place), %d skipped (changed since the plan), %d failed",
			op, res.done, res.total, res.wrote, res.before, len(res.skipped), len(res.failed))
	}
	if res.pending > 0 {
		fmt.Fprintf(w, ", %d pending (interrupted)", res.pending)
	}
	if res.irreversible > 0 {
		fmt.Fprintf(w, ", %d revoked tokens cannot come back (irreversible)", res.irreversible)
	}
	fmt.Fprintln(w)
	for _, o := range res.skipped {
		fmt.Fprintf(w, "  skipped: %s %s in %s: %s\n", o.c.Action, objectLabel(o.c.Kind, o.c.ObjectID, o.c.ObjectName), cmpOr(o.c.Workspace, "the account"), o.reason)
	}
	for _, o := range res.failed {
		fmt.Fprintf(w, "  failed: %s %s in %s: %s\n", o.c.Action, objectLabel(o.c.Kind, o.c.ObjectID, o.c.ObjectName), cmpOr(o.c.Workspace, "the account"), o.reason)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
