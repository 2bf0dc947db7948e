package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Run audits the identities o selects across the workspaces it selects and
// writes the report. Bad options fail before any request with an
// *InputError. When some workspace or resource kind could not be read, or
// a named identity was found nowhere, the report is still written (listing
// them as not covered or not-found) and Run returns a *PartialError (exit
// code 2). When ctx is cancelled, Run writes no report and returns an
// error matching ctx.Err().
func Run(ctx context.Context, o Options, d Deps) error {
	p, err := o.check()
	if err != nil {
		return err
	}
	if d.Streams == nil {
		return errors.New("audit: no streams")
	}
	if p.out != "" {
		if err := reports.CheckOverwrite(p.out, p.force); err != nil {
			return err
		}
	}
	if d.Connect == nil {
		return errors.New("audit: no connection")
	}
	sess, err := d.Connect(ctx)
	if err != nil {
		return err
	}
	a := &auditor{plan: p, sess: sess, now: d.now(), log: d.Streams.Logger(), streams: d.Streams}
	rep, err := a.run(ctx)
	if err != nil {
		return err
	}
	// Interrupted after the scan: an incomplete run writes nothing.
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeReport(rep, p, d.Streams); err != nil {
		return err
	}
	gaps := rep.notCovered()
	missing := rep.notFound()
	a.log.Info("audit finished", "identities", len(rep.Identities), "workspaces", len(rep.Workspaces),
		"findings", len(rep.Findings)-len(gaps), "not_covered", len(gaps), "not_found", len(missing))
	d.Streams.SetOutcome(outcome(rep, p, len(gaps), len(missing)))
	for _, g := range gaps {
		a.log.Warn("audit not covered", "part", g)
	}
	for _, n := range rep.NotChecked {
		a.log.Info("audit did not check", "scope", n)
	}
	for _, id := range missing {
		a.log.Warn("audit identity not found", "identity", id, "looked_up_in", a.lookedUpIn)
	}
	var partial *PartialError
	if len(gaps) > 0 || len(missing) > 0 {
		partial = &PartialError{NotCovered: gaps, NotFound: missing}
	}
	if f := p.failOn; f != nil {
		n := 0
		for _, x := range rep.Findings {
			if x.Severity >= *f {
				n++
			}
		}
		if n > 0 {
			a.log.Warn("audit gate closed", "fail_on", f.String(), "findings", n)
			return &GateError{FailOn: *f, Count: n, Partial: partial}
		}
	}
	if partial != nil {
		return partial
	}
	return nil
}

// outcome says what the audit found and where the report went, for the
// line that ends the run.
func outcome(rep *Report, p plan, gaps, missing int) reports.Outcome {
	bySev := map[Severity]int{}
	for _, f := range rep.Findings {
		bySev[f.Severity]++
	}
	var sev []string
	for _, s := range Severities() {
		if n := bySev[s]; n > 0 && s != SeverityNotCovered {
			sev = append(sev, fmt.Sprintf("%d %s", n, s))
		}
	}
	did := fmt.Sprintf("%s, %s, %s", plural(len(rep.Identities), "identity", "identities"),
		plural(len(rep.Workspaces), "workspace", "workspaces"), plural(len(rep.Findings)-gaps, "finding", "findings"))
	if len(sev) > 0 {
		did += " (" + strings.Join(sev, ", ") + ")"
	}
	if gaps > 0 {
		did += fmt.Sprintf(", %d not covered", gaps)
	}
	if missing > 0 {
		did += fmt.Sprintf(", %d not found", missing)
	}
	o := reports.Outcome{Command: "audit", Did: did}
	if p.out != "" {
		o.Wrote = []string{p.out}
	} else {
		o.Stdout = true
	}
	return o
}

// auditor holds one run's state.
type auditor struct {
	// listed are every workspace listed (or in --workspaces-file), audited
	// or not: the names of the workspaces an isolated catalog is bound to.
	listed  []scim.WorkspaceInfo
	plan    plan
	sess    *scim.Session
	now     time.Time
	log     *reports.Logger
	streams *reports.Streams

	acct      *scim.AccountClient // nil without an account id
	acctCache *groupCache         // account membership graph, nil without an account

	targets *targetSet // named and --inactive
	// lookedUpIn says where named identities found nowhere were looked up
	// (for their warning); empty when every name was found in the account.
	lookedUpIn string
	all        *allMatcher // --all
	everyone   *everyone   // --all: every principal, listed during the scan

	mu sync.Mutex
	ws []*wsRun // selected workspaces, in listing order
	ms []*msRun // metastores serving them, in order of their first workspace
}

// wsRun is one workspace's part of the run.
type wsRun struct {
	info    scim.WorkspaceInfo
	ref     WorkspaceRef
	client  *scim.WorkspaceClient
	skipped string // why the workspace was not audited (not running)

	// failed is set when the workspace could not be audited at all.
	failed error
	// gaps are the kinds not covered, with the cause.
	gaps map[Kind]error
	// unavailable are the optional kinds the workspace does not have (their
	// API answered 404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED): not a gap.
	unavailable map[Kind]error
	// objects is the number of objects read.
	objects  int
	acls     int
	jobGets  int
	findings []Finding
	// assigned are the principal ids assigned to the workspace (for
	// sole-path checks); nil when not needed or not federated.
	assigned []string
}

func (w *wsRun) gap(k Kind, err error) {
	if w.gaps == nil {
		w.gaps = map[Kind]error{}
	}
	if _, ok := w.gaps[k]; !ok {
		w.gaps[k] = err
	}
}

func (a *auditor) run(ctx context.Context) (*Report, error) {
	if err := a.selectWorkspaces(ctx); err != nil {
		return nil, err
	}
	acct, err := a.sess.Account()
	switch {
	case err == nil:
		a.acct = acct
		a.acctCache = newGroupCache(accountDirectory(acct))
	case errors.Is(err, scim.ErrNoAccountID):
		a.log.Debug("audit without an account id: identities are resolved in each workspace")
	default:
		return nil, err
	}
	switch a.plan.mode {
	case modeAll:
		a.all = newAllMatcher()
		a.everyone = a.startListingEveryone(ctx)
	default:
		if err := a.resolveTargets(ctx); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	a.discoverMetastores(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.scan(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.log.Debug("audit scanned workspaces and metastores", "workspaces", len(a.active()), "metastores", len(a.ms), "took", time.Since(start))
	start = time.Now()
	rep, err := a.buildReport(ctx)
	if err != nil {
		return nil, err
	}
	a.log.Debug("audit built report", "identities", len(rep.Identities), "findings", len(rep.Findings), "took", time.Since(start))
	return rep, nil
}

// selectWorkspaces lists the workspaces (or takes those of
// --workspaces-file) and applies --workspace.
func (a *auditor) selectWorkspaces(ctx context.Context) error {
	infos := a.plan.fromFile
	if infos == nil {
		var err error
		if infos, err = a.sess.Workspaces(ctx); err != nil {
			return err // scim.Session.Workspaces names the operation
		}
	}
	a.listed = infos
	picked, err := pickWorkspaces(infos, a.plan.workspaces)
	if err != nil {
		return err
	}
	for i, info := range infos {
		if picked != nil && !picked[i] {
			continue
		}
		w := &wsRun{info: info, ref: WorkspaceRef{ID: info.ID, Name: info.Name, URL: info.URL}}
		if info.Status != "" && info.Status != "RUNNING" {
			w.skipped = "workspace status " + info.Status
		}
		a.ws = append(a.ws, w)
	}
	for _, w := range a.ws {
		if w.skipped != "" {
			continue
		}
		c, err := a.sess.Workspace(w.info)
		if err != nil {
			w.failed = err
			continue
		}
		w.client = c
	}
	return nil
}

// pickWorkspaces returns which of infos the --workspace selectors name
// (nil: no selector, every workspace), by scim.PickWorkspaces' rule (id or
// exact name; ignoring case only when that names one workspace). A
// selector that names none, or several only ignoring case, is an
// *InputError.
func pickWorkspaces(infos []scim.WorkspaceInfo, sels []string) ([]bool, error) {
	picked, err := scim.PickWorkspaces(infos, sels)
	var amb *scim.AmbiguousWorkspaceError
	var nf *scim.WorkspaceNotFoundError
	switch {
	case errors.As(err, &amb):
		names := make([]string, len(amb.Matches))
		for j, w := range amb.Matches {
			names[j] = fmt.Sprintf("%q (%d)", w.Name, w.ID)
		}
		return nil, &InputError{Input: fmt.Sprintf("--workspace %q", amb.Given),
			Problem: "names no workspace exactly, and " + strings.Join(names, ", ") + " ignoring case",
			Fix:     amb.Hint(), Err: amb}
	case errors.As(err, &nf):
		return nil, &InputError{Input: "--workspace " + strings.Join(append([]string{nf.Given}, nf.Also...), ", "),
			Problem: "no such workspace", Fix: nf.Hint(), Err: nf}
	case err != nil:
		return nil, err
	}
	return picked, nil
}

// active returns the workspaces that can be audited.
func (a *auditor) active() []*wsRun {
	var out []*wsRun
	for _, w := range a.ws {
		if w.skipped == "" && w.failed == nil {
			out = append(out, w)
		}
	}
	return out
}

// forEachWorkspace runs f on every auditable workspace, Session.Parallel at
// a time.
func (a *auditor) forEachWorkspace(ctx context.Context, f func(*wsRun)) {
	parallel(ctx, a.active(), a.sess.Parallel(), f)
}

// matcher returns the run's matcher.
func (a *auditor) matcher() matcher {
	if a.all != nil {
		return a.all
	}
	return a.targets
}

// scan reads every workspace and every metastore at once: a metastore is
// read through one of its workspaces, whose own reads share its rate
// limits.
func (a *auditor) scan(ctx context.Context) {
	unit := "workspaces"
	if len(a.ms) > 0 {
		unit = "workspaces and metastores"
	}
	tasks := len(a.active()) + len(a.ms)
	if a.everyone != nil {
		unit = "tasks"
		tasks++
	}
	prog := reports.NewProgress(a.streams, reports.ProgressOptions{Label: "audit", Unit: "objects", TaskUnit: unit, Tasks: tasks})
	defer prog.Close()
	var wg sync.WaitGroup
	wg.Go(func() { a.scanMetastores(ctx, prog) })
	if a.everyone != nil {
		// --all also lists every identity, which can take longer than
		// the objects: the progress (and off a terminal its heartbeat)
		// goes on until that is done too.
		wg.Go(func() { a.everyone.track(ctx, prog.Task("every identity", 0)) })
	}
	a.scanWorkspaces(ctx, prog)
	wg.Wait()
}

// scanWorkspaces lists each workspace's objects once, reads the details
// that matter, and analyses them.
func (a *auditor) scanWorkspaces(ctx context.Context, prog *reports.Progress) {
	m := a.matcher()
	a.forEachWorkspace(ctx, func(w *wsRun) {
		task := prog.Task(w.info.Name, 0)
		task.Steps(len(listers), "kinds") // the objects have no total: the share done is the kinds read
		hooks := inventoryHooks{listed: func(objs []*object) { task.Add(int64(len(objs))) }, kindDone: task.Step}
		inv, acls, gets := scanInventory(ctx, w.client, w.info, a.plan.permissions, m, hooks)
		if ctx.Err() != nil {
			// Interrupted: the workspace is neither done nor failed, and
			// Run returns the cancellation without a report.
			return
		}
		if te := tokenRefused(inv.failed); te != nil {
			// The workspace refused the credentials: nothing was read, and
			// one reason says why and what to do.
			w.failed = te
			task.Fail(te)
			return
		}
		for k, err := range inv.failed {
			w.gap(k, err)
		}
		w.unavailable = inv.unavailable
		if errors.Is(inv.failed[KindToken], scim.ErrPermissionDenied) {
			// Token management answers workspace admins only: the caller
			// is not one here, and the other lists show it only what it
			// can access, which is not everything.
			for _, k := range ObjectKinds() {
				_, failed := inv.failed[k]
				_, absent := inv.unavailable[k]
				if !failed && !absent {
					w.gap(k, errNotAdmin)
				}
			}
		}
		for _, k := range ObjectKinds() {
			if err, ok := w.unavailable[k]; ok {
				a.log.Info("audit kind not available", "part", w.ref.Label()+": "+string(k), "cause", err.Error())
			}
		}
		w.objects, w.acls, w.jobGets = len(inv.objects), acls, gets
		a.detailGaps(w, inv.objects)
		w.findings = append(w.findings, analyze(w.ref, inv.objects, m, a.now)...)
		n, gap := homeFolderFindings(ctx, w.client, w.ref, w.info, inv.objects, m, &w.findings)
		w.jobGets += n
		if gap != nil {
			w.gap(KindWorkspaceFile, gap)
		}
		if w.nothingRead() {
			task.Fail(firstGap(w.gaps))
			return
		}
		task.Done(fmt.Sprintf("%d objects, %d permission reads, %d findings", w.objects, w.acls, len(w.findings)))
	})
}

// tokenRefused returns the *scim.TokenScopeError among the failed lists:
// the workspace refused the session's personal access token.
func tokenRefused(failed map[Kind]error) error {
	for _, k := range ObjectKinds() {
		var te *scim.TokenScopeError
		if errors.As(failed[k], &te) {
			return te
		}
	}
	return nil
}

// errNotAdmin is the gap of every list a non-admin read: the service
// shows a non-admin only the objects it can access (the SDK documents it
// for queries, alerts, warehouses and dashboards), so the list is complete
// only for a workspace admin.
var errNotAdmin = errors.New("the caller is not an admin of this workspace (token management answered 403): " +
	"the list shows only the objects the caller can access; run audit as a workspace admin, or with OAuth M2M of an admin service principal")

// detailGaps records permission and jobs/get reads that failed. An object
// deleted since it was listed (404) is not a gap.
func (a *auditor) detailGaps(w *wsRun, objs []*object) {
	type count struct {
		failed, total int
		first         error
	}
	acl := map[Kind]*count{}
	for _, o := range objs {
		if o.acl == nil && o.aclErr == nil {
			continue
		}
		c := acl[o.kind]
		if c == nil {
			c = &count{}
			acl[o.kind] = c
		}
		c.total++
		if o.aclErr != nil && !errors.Is(o.aclErr, scim.ErrNotFound) {
			c.failed++
			if c.first == nil {
				c.first = o.aclErr
			}
		}
	}
	for _, k := range ObjectKinds() {
		if c := acl[k]; c != nil && c.failed > 0 {
			w.gap(k, fmt.Errorf("permissions of %d of %d %ss could not be read: %w", c.failed, c.total, k, c.first))
		}
	}
	failed, total := 0, 0
	var first error
	tasksFailed, tasksTotal := 0, 0
	var tasksFirst error
	for _, o := range objs {
		if o.kind != KindJob {
			continue
		}
		lost := o.jobErr != nil && !errors.Is(o.jobErr, scim.ErrNotFound)
		if o.job.HasMore || o.tasksRead {
			// Listed with more tasks than the list shows: the rest were
			// to come from jobs/get.
			tasksTotal++
			if lost {
				tasksFailed++
				tasksFirst = cmp.Or(tasksFirst, o.jobErr)
			}
		}
		if !o.jobGetRunAs {
			continue
		}
		total++
		if lost {
			failed++
			if first == nil {
				first = o.jobErr
			}
		}
	}
	if failed > 0 {
		w.gap(KindJob, fmt.Errorf("run-as of %d of %d jobs could not be read: %w", failed, total, first))
	}
	if tasksFailed > 0 {
		w.gap(KindWorkspaceFile, fmt.Errorf("tasks of %d of %d jobs with more than 100 tasks could not be read: %w", tasksFailed, tasksTotal, tasksFirst))
	}
	failed, total, first = 0, 0, nil
	for _, o := range objs {
		if o.kind != KindPipeline {
			continue
		}
		total++
		if o.libsErr != nil && !errors.Is(o.libsErr, scim.ErrNotFound) {
			failed++
			if first == nil {
				first = o.libsErr
			}
		}
	}
	if failed > 0 {
		w.gap(KindWorkspaceFile, fmt.Errorf("libraries of %d of %d pipelines could not be read: %w", failed, total, first))
	}
}

// objectGaps counts the object kinds that could not be read.
func (w *wsRun) objectGaps() int {
	n := 0
	for _, k := range ObjectKinds() {
		if _, ok := w.gaps[k]; ok {
			n++
		}
	}
	return n
}

// nothingRead reports whether no object kind of the workspace could be
// read: every kind failed or, for optional kinds, is not available.
func (w *wsRun) nothingRead() bool {
	gaps := w.objectGaps()
	return gaps > 0 && gaps+len(w.unavailable) == len(ObjectKinds())
}

func firstGap(g map[Kind]error) error {
	for _, k := range ObjectKinds() {
		if err, ok := g[k]; ok {
			return err
		}
	}
	return nil
}
