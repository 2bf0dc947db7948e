package export

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Deps are what Run needs from outside: the streams (with the run's logger
// and progress switch), a lazy connection and a clock. Tests build one with
// reports.Test, a Connect that opens a session on a sandbox, and a fixed
// clock.
type Deps struct {
	// Streams receives logs, progress and the final summary (stderr); an
	// export writes nothing to stdout. Nil discards everything.
	Streams *reports.Streams
	// Connect opens the session; it is called once, after every option has
	// been validated.
	Connect scim.ConnectFunc
	// Now is the clock, used to date the default output name and the
	// export (its About table and the workbook's properties); nil means
	// time.Now.
	Now func() time.Time
	// Version is dbiam's version, recorded in the About table and the
	// workbook's properties; empty means "dev".
	Version string
	// Args is the command line, recorded (credentials left out) in the
	// About table; nil records none.
	Args []string
}

// Failure is one part of an export that could not be read: a workspace
// (WorkspaceID and Name set) or the account (WorkspaceID 0, Name
// "account").
type Failure struct {
	WorkspaceID int64
	Name        string
	Err         error
}

// PartialError reports an export in which some workspaces (or the account
// tables) failed: everything else was written to Out, and the workspaces
// table says which parts failed and why. Its exit code is 2.
type PartialError struct {
	Out      string
	Failures []Failure
	// Workspaces is the number of workspaces exported or attempted.
	Workspaces int
}

// Error summarises the failures on one line, counted as the summary line
// on stderr counts them; the details are in the About and workspaces
// tables and that summary.
func (e *PartialError) Error() string {
	var names []string
	account := false
	for _, f := range e.Failures {
		if f.WorkspaceID == 0 && f.Name == "account" {
			account = true
			continue
		}
		names = append(names, f.Name)
	}
	var parts []string
	if len(names) > 0 {
		shown := names[:min(len(names), 3)]
		if len(names) > 3 {
			shown = append(slices.Clone(shown), "...")
		}
		parts = append(parts, fmt.Sprintf("%d of %d workspaces failed (%s)", len(names), e.Workspaces, strings.Join(shown, ", ")))
	}
	if account {
		parts = append(parts, "the account reads failed")
	}
	return fmt.Sprintf("export %s: incomplete: %s; the rest was written", e.Out, strings.Join(parts, " and "))
}

// Unwrap returns the failures' errors, for errors.Is and errors.As.
func (e *PartialError) Unwrap() []error {
	out := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Err
	}
	return out
}

// ExitCode is 2: partial failure.
func (e *PartialError) ExitCode() int { return 2 }

// runner holds one export run.
type runner struct {
	cfg   *config
	deps  Deps
	sess  *scim.Session
	acct  *scim.AccountClient // nil without an account id
	log   *reports.Logger
	spool *spool
	// building holds a slot per workspace whose rows are being built (its
	// membership graph, its sorted rows): that is CPU work, so no more run
	// at once than there are processors, and their memory is not held by
	// every workspace in flight at the same time.
	building chan struct{}
	// mem is the memory the workspaces in flight may hold (see budget).
	mem *budget
}

// wsResult is the outcome of one workspace.
type wsResult struct {
	info      scim.WorkspaceInfo
	status    string
	reason    string
	federated *bool
	counts    counts
	file      *spoolFile
	read      map[string]bool // the reads that succeeded
	errs      []error         // the reads that failed (*readError)
	denied    error           // the assignments read refused with 403
	err       error           // the workspace's failed reads, nil when ok
	fatal     error           // a local error (spool I/O) that ends the run
}

// accountResult is the outcome of the account reads.
type accountResult struct {
	file   *spoolFile
	read   map[string]bool // the reads that succeeded
	errs   []error         // the reads that failed (*readError)
	err    error
	reason string
	fatal  error
}

// Run exports the identities of the selected workspaces (and of the
// account) as o says. It validates o completely before connecting, and
// connects before reading anything; an invalid option, an unreadable
// workspaces file or an existing output (without Force) fails with an error
// matching ErrBadOptions before any request. Nothing is visible at the
// output path until every workspace is done: when ctx is cancelled Run
// returns its error and leaves neither output nor temporary files. When
// some workspaces fail, the others are written and Run returns a
// *PartialError. Concurrent calls are safe as long as their outputs differ.
func Run(ctx context.Context, o Options, d Deps) error {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Streams == nil {
		d.Streams = reports.NewStreams(nil, nil, nil)
	}
	cfg, err := o.resolve(d.Now())
	if err != nil {
		return err
	}
	if d.Connect == nil {
		return errors.New("export: no connection configured")
	}
	sess, err := d.Connect(ctx)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	r := &runner{cfg: cfg, deps: d, sess: sess, log: d.Streams.Logger().With("cmd", "export"),
		building: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))), mem: newBudget(cfg.budget)}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(memoryLimit))
	}
	if cfg.parallel == 0 {
		cfg.parallel = max(sess.Parallel(), 1)
	}
	if sess.AccountID() != "" {
		if r.acct, err = sess.Account(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	} else if cfg.include.has(IncludeAccount) {
		if cfg.include.account {
			return fmt.Errorf("%w: --include account needs an account id: pass --account-id or use a profile with account_id", ErrBadOptions)
		}
		r.log.Info("no account id: skipping the account tables and the account_user column")
	}
	targets, err := r.targets(ctx)
	if err != nil {
		return err
	}
	asOf := d.Now()
	var tables reports.Tables
	spoolNextTo := cfg.out
	if cfg.stream != "" {
		tables, err = reports.NewStreamTables(r.deps.Streams.Out, cfg.format, cfg.stream)
		spoolNextTo = filepath.Join(os.TempDir(), "dbiam-export")
	} else {
		tables, err = reports.NewTables(cfg.format, cfg.out, reports.TablesOptions{
			Force: cfg.force, Creator: "dbiam " + r.version(), Created: asOf})
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer tables.Abort()
	if r.spool, err = newSpool(spoolNextTo); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer r.spool.remove()

	sinks, err := r.openTables(tables)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}

	start := time.Now()
	readCtx, cancelReads := context.WithCancel(ctx)
	defer cancelReads()
	cp := newCopier(readCtx, cancelReads, len(targets), sinks)
	results, acct := r.exportAll(readCtx, targets, cp)
	read := time.Since(start)
	copyErr := cp.wait()
	if err := ctx.Err(); err != nil {
		// One line for the whole run: the workspaces cut short are not
		// failures and are not logged one by one.
		r.log.Info("export cancelled: nothing written", "out", cfg.out)
		return fmt.Errorf("export: %w", err)
	}
	for _, res := range results {
		if res.fatal != nil {
			return fmt.Errorf("export: %w", res.fatal)
		}
	}
	if acct != nil && acct.fatal != nil {
		return fmt.Errorf("export: %w", acct.fatal)
	}
	if copyErr != nil {
		return fmt.Errorf("export %s: %w", cfg.out, copyErr)
	}
	if err := r.write(ctx, tables, sinks, results, acct); err != nil {
		return fmt.Errorf("export %s: %w", cfg.out, err)
	}
	if err := tables.About(r.about(asOf, d.Now(), targets, results, acct)); err != nil {
		return fmt.Errorf("export %s: %w", cfg.out, err)
	}
	copied := time.Since(start)
	if err := tables.Commit(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// copy is the part of the copy left once the last read is done. The
	// phases are in milliseconds: the log rounds durations for humans.
	r.log.Debug("export timing", "read_ms", read.Milliseconds(), "copy_ms", (copied - read).Milliseconds(),
		"commit_ms", (time.Since(start) - copied).Milliseconds())
	return r.finish(results, acct)
}

// targets returns the workspaces to export, by id: those of the workspaces
// file or of the session, narrowed to the --workspace selectors.
func (r *runner) targets(ctx context.Context) ([]scim.WorkspaceInfo, error) {
	all := r.cfg.fromFile
	if all == nil {
		var err error
		if all, err = r.sess.Workspaces(ctx); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	all = slices.Clone(all)
	slices.SortStableFunc(all, func(a, b scim.WorkspaceInfo) int { return cmp.Compare(a.ID, b.ID) })
	if len(r.cfg.selectors) == 0 {
		return all, nil
	}
	picked, err := scim.PickWorkspaces(all, r.cfg.selectors)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	var out []scim.WorkspaceInfo
	for i, w := range all {
		if picked[i] {
			out = append(out, w)
		}
	}
	return out, nil
}

// skipReason returns why a workspace is not exported, or "".
func skipReason(w scim.WorkspaceInfo) string {
	if w.Status != "" && !strings.EqualFold(w.Status, "RUNNING") {
		return "workspace status " + w.Status
	}
	return ""
}

// taskName names a workspace in progress lines and summaries.
func taskName(w scim.WorkspaceInfo) string {
	if w.Name != "" {
		return w.Name
	}
	return strconv.FormatInt(w.ID, 10)
}

// exportAll exports every target, cfg.parallel at a time, and the account
// alongside, handing each result to cp as soon as it is known; it returns
// when all are done or ctx is cancelled.
func (r *runner) exportAll(ctx context.Context, targets []scim.WorkspaceInfo, cp *copier) ([]*wsResult, *accountResult) {
	inc := r.cfg.include
	withAccount := r.acct != nil && (inc.has(IncludeAccount) || inc.has(IncludeUsers))
	tasks := len(targets)
	if withAccount {
		tasks++
	}
	unit := "workspaces"
	if withAccount {
		unit = "tasks" // the workspaces and the account
	}
	prog := reports.NewProgress(r.deps.Streams, reports.ProgressOptions{
		Label: "export", Unit: "identities", TaskUnit: unit, Tasks: tasks, Now: r.deps.Now})
	defer prog.Close()

	var wg sync.WaitGroup
	var acct *accountResult
	if withAccount {
		// The account is read alongside the workspaces, outside the
		// --parallel slots: no workspace waits for it.
		wg.Go(func() { acct = r.exportAccount(ctx, prog, cp) })
	} else {
		cp.accountUsersRead(nil)
	}
	results := make([]*wsResult, len(targets))
	sem := make(chan struct{}, r.cfg.parallel)
	for i, info := range targets {
		if why := skipReason(info); why != "" {
			results[i] = &wsResult{info: info, status: statusSkipped, reason: why}
			cp.workspaceDone(i, results[i])
			r.log.Info("workspace skipped", "workspace", info.ID, "name", info.Name, "reason", why)
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = &wsResult{info: info, status: statusFailed, reason: ctx.Err().Error(), err: ctx.Err()}
				cp.workspaceDone(i, results[i])
				return
			}
			defer func() { <-sem }()
			results[i] = r.exportWorkspace(ctx, i, info, prog)
			cp.workspaceDone(i, results[i])
		})
	}
	wg.Wait()
	return results, acct
}

// exportWorkspace reads one workspace and spools its rows.
func (r *runner) exportWorkspace(ctx context.Context, i int, info scim.WorkspaceInfo, prog *reports.Progress) *wsResult {
	res := &wsResult{info: info}
	mem, err := r.mem.take(ctx, workspaceBase)
	if err != nil {
		res.status, res.reason, res.err = statusFailed, err.Error(), err
		return res
	}
	defer mem.release()
	task := prog.Task(taskName(info), 0)
	d := r.fetchWorkspace(ctx, info, &counter{task: task}, mem)
	if err := ctx.Err(); err != nil {
		// Cancelled: Run returns the cancellation and writes nothing, so
		// neither rows nor a per-workspace failure line.
		res.status, res.reason, res.err = statusFailed, err.Error(), err
		return res
	}
	res.federated, res.read, res.errs, res.denied = d.federated, d.read, d.errs, d.assignmentsDenied
	select {
	case r.building <- struct{}{}:
	case <-ctx.Done():
		err := ctx.Err()
		res.status, res.reason, res.err = statusFailed, err.Error(), err
		return res
	}
	res.file, err = r.spoolTo(fmt.Sprintf("workspace-%04d", i), func(w *spoolWriter) {
		res.counts = r.wsRows(w, []any{wsID(info.ID), info.Name}, d)
	})
	<-r.building
	if err != nil {
		res.fatal = err
		task.Fail(err)
		return res
	}
	if len(d.errs) > 0 {
		errs := d.errs
		if te := tokenRefused(errs); te != nil {
			errs = []error{te} // every read failed for it: say it once
		}
		res.status, res.reason = statusFailed, joinErrors(errs)
		res.err = errors.Join(errs...)
		task.Fail(errors.New(res.reason))
		return res
	}
	res.status = statusOK
	if d.assignmentsDenied != nil {
		res.reason = noteAssignmentsDenied + d.assignmentsDenied.Error()
	}
	task.Done(res.counts.String())
	return res
}

// tokenRefused returns the *scim.TokenScopeError among errs: the
// workspace refused the session's personal access token, which explains
// every other failure of its reads.
func tokenRefused(errs []error) error {
	var te *scim.TokenScopeError
	if errors.As(errors.Join(errs...), &te) {
		return te
	}
	return nil
}

// spoolTo writes the spool file key with write and returns it closed; on
// an error nothing of it is left.
func (r *runner) spoolTo(key string, write func(*spoolWriter)) (*spoolFile, error) {
	w, err := r.spool.create(key)
	if err != nil {
		return nil, err
	}
	write(w)
	f, err := w.close()
	if err != nil {
		w.abort()
		return nil, err
	}
	return f, nil
}

// noteAssignmentsDenied starts the error cell of a workspace exported
// without its assignments because reading them was denied (403).
const noteAssignmentsDenied = "assignments not read (not failed): "

// exportAccount reads the account and spools the account tables. It hands
// the account users' ids to cp as soon as they are read.
func (r *runner) exportAccount(ctx context.Context, prog *reports.Progress, cp *copier) *accountResult {
	task := prog.Task("account", 0)
	res := &accountResult{}
	d := r.fetchAccount(ctx, &counter{task: task}, func(users []scim.User, ok bool) {
		var ids map[string]bool // nil: unknown
		if ok {
			ids = make(map[string]bool, len(users))
			for _, u := range users {
				ids[u.ID] = true
			}
		}
		cp.accountUsersRead(ids)
	})
	if err := ctx.Err(); err != nil {
		res.err, res.reason = err, err.Error()
		return res
	}
	res.read, res.errs = d.read, d.errs
	var err error
	if res.file, err = r.spoolTo("account", func(w *spoolWriter) { r.accountRows(w, d) }); err != nil {
		res.fatal = err
		task.Fail(err)
		return res
	}
	if len(d.errs) > 0 {
		res.err, res.reason = errors.Join(d.errs...), joinErrors(d.errs)
		task.Fail(errors.New(res.reason))
		return res
	}
	task.Done(fmt.Sprintf("%d users, %d groups, %d service principals", len(d.users), len(d.groups), len(d.sps)))
	return res
}

// wsID renders a workspace id; 0 (unknown) is empty.
func wsID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// String summarises c for a progress line.
func (c counts) String() string {
	var parts []string
	add := func(p *int, what string) {
		if p != nil {
			parts = append(parts, fmt.Sprintf("%d %s", *p, what))
		}
	}
	add(c.users, "users")
	add(c.sps, "service principals")
	add(c.groups, "groups")
	add(c.direct, "memberships")
	add(c.assignments, "assignments")
	return strings.Join(parts, ", ")
}

// text turns a text value into a cell: an empty text is no value (nil), so
// that JSON Lines has null for it like for every other empty cell (CSV and
// XLSX show both as an empty field or cell).
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// emptyToNil replaces the empty texts of a row by nil, as text does.
func emptyToNil(vals []any) {
	for i, v := range vals {
		if s, ok := v.(string); ok && s == "" {
			vals[i] = nil
		}
	}
}

// val turns an optional count into a row value.
func val(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// openTables starts the output's tables in output order (the order of the
// XLSX sheets): the workspaces table, the included workspace tables, and
// the account tables when they are read. It returns the sinks by table name.
func (r *runner) openTables(tables reports.Tables) (map[string]reports.Sink, error) {
	names := []string{TableWorkspaces}
	for _, t := range workspaceTables {
		if r.cfg.include.has(t.include) {
			names = append(names, t.table)
		}
	}
	if r.acct != nil && r.cfg.include.has(IncludeAccount) {
		names = append(names, accountTables...)
	}
	sinks := make(map[string]reports.Sink, len(names))
	for _, name := range names {
		sink, err := tables.Table(name, columns[name])
		if err != nil {
			return nil, err
		}
		sinks[name] = sink
	}
	return sinks, nil
}

// write fills the tables the copier does not: the workspaces table, the
// account tables, and the summary.
func (r *runner) write(ctx context.Context, tables reports.Tables, sinks map[string]reports.Sink, results []*wsResult, acct *accountResult) error {
	sink := sinks[TableWorkspaces]
	for _, res := range results {
		c := res.counts
		if err := sink.WriteRow(text(wsID(res.info.ID)), text(res.info.Name), text(res.info.Cloud), text(res.info.URL),
			text(res.info.Status), res.federated, val(c.users), val(c.sps), val(c.groups), val(c.wsGroups),
			val(c.acctGroups), val(c.direct), val(c.transitive), val(c.inCycles), val(c.entitlements),
			val(c.assignments), res.status, text(res.reason)); err != nil {
			return fmt.Errorf("write %s: %w", TableWorkspaces, err)
		}
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("write %s: %w", TableWorkspaces, err)
	}
	for _, t := range accountTables {
		sink, ok := sinks[t]
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if acct != nil && acct.file != nil {
			if err := acct.file.copyTo(t, columns[t], sink, emptyToNil); err != nil {
				return err
			}
		}
		if err := sink.Close(); err != nil {
			return err
		}
	}
	sum := reports.Summary{Title: summaryTitle, Columns: []reports.Column{
		str("workspace"), num("users"), num("service_principals"), num("groups")}}
	for _, res := range results {
		c := res.counts
		sum.Rows = append(sum.Rows, []any{taskName(res.info), val(c.users), val(c.sps), val(c.groups)})
	}
	return tables.Summary(sum)
}

// partial returns the *PartialError of an export whose workspaces or
// account reads failed, or nil.
func (r *runner) partial(results []*wsResult, acct *accountResult) error {
	var failures []Failure
	for _, res := range results {
		if res.status != statusOK && res.status != statusSkipped {
			failures = append(failures, Failure{WorkspaceID: res.info.ID, Name: taskName(res.info), Err: res.err})
		}
	}
	if acct != nil && acct.err != nil {
		failures = append(failures, Failure{Name: "account", Err: acct.err})
	}
	if len(failures) == 0 {
		return nil
	}
	return &PartialError{Out: r.cfg.out, Failures: failures, Workspaces: len(results)}
}

// finish prints the final summary on stderr and returns a *PartialError if
// anything failed.
func (r *runner) finish(results []*wsResult, acct *accountResult) error {
	var ok, failed, skipped int
	for _, res := range results {
		switch res.status {
		case statusOK:
			ok++
		case statusSkipped:
			skipped++
		default:
			failed++
		}
	}
	account := ""
	if acct != nil && acct.err != nil {
		account = "; account: failed"
	}
	w := r.deps.Streams.Err
	for _, res := range results {
		switch res.status {
		case statusFailed:
			fmt.Fprintf(w, "workspace %s (%s) failed: %s\n", wsID(res.info.ID), res.info.Name, res.reason)
		case statusSkipped:
			fmt.Fprintf(w, "workspace %s (%s) skipped: %s\n", wsID(res.info.ID), res.info.Name, res.reason)
		case statusOK:
			if res.reason != "" {
				fmt.Fprintf(w, "workspace %s (%s) ok, %s\n", wsID(res.info.ID), res.info.Name, res.reason)
			}
		}
	}
	if acct != nil && acct.err != nil {
		fmt.Fprintf(w, "account failed: %s\n", acct.reason)
	}
	o := reports.Outcome{Command: "export", Wrote: []string{r.cfg.out},
		Did: fmt.Sprintf("%d workspaces: %d ok, %d failed, %d skipped%s", len(results), ok, failed, skipped, account)}
	if r.cfg.stream != "" {
		o.Wrote, o.Stdout = nil, true
		o.Did += "; table " + r.cfg.stream
	}
	r.deps.Streams.SetOutcome(o)
	return r.partial(results, acct)
}
