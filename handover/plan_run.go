package handover

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xrash/smetrics"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Deps are what every handover command needs from outside: the streams
// (with the run's logger), a lazy connection and a clock. Tests build one
// with reports.Test, a Connect that opens a session on a sandbox, and a
// fixed clock.
type Deps struct {
	Streams *reports.Streams
	Connect scim.ConnectFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d Deps) logger() *reports.Logger {
	if d.Streams == nil {
		return nil
	}
	return d.Streams.Logger()
}

// PlanOptions are the options of "dbiam handover plan".
type PlanOptions struct {
	// From are the leaving identities, "user:EMAIL" or
	// "service-principal:APP_ID" (see ParsePrincipal).
	From []string
	// FromFile names a file of more leaving identities (ReadIdentities).
	FromFile string
	// To is the default successor, "user:EMAIL" or
	// "service-principal:APP_ID".
	To string
	// MapFile names a CSV of successors by identity, kind and workspace
	// (ReadMap); its rows override To.
	MapFile string
	// Kinds restricts the kinds handed over; empty means every kind.
	Kinds []string
	// RevokeTokens plans the revocation of the leavers' tokens (last,
	// irreversible).
	RevokeTokens bool
	// Deactivate plans the deactivation of the leavers at account level
	// and the removal of their direct workspace assignments (after every
	// object change is verified). It needs every kind: with Kinds
	// leaving one out it is an InputError (what the leaver still has in
	// that kind would break), and apply refuses such a plan.
	Deactivate bool
	// RestartClusters lets apply terminate and restart running clusters
	// whose owner or dedicated user changes.
	RestartClusters bool
	// Workspaces restricts the plan to these workspaces (names, byte-exact,
	// or ids); empty means every running workspace.
	Workspaces []string
	// Out is the plan file to write (mode 0600, atomically).
	Out string
	// Force replaces an existing Out.
	Force bool
	// ToolVersion is recorded in the plan.
	ToolVersion string
}

// planInput is PlanOptions checked.
type planInput struct {
	from  []Principal
	succ  successors
	kinds map[string]bool
	order []string
}

func (o PlanOptions) check() (planInput, error) {
	var in planInput
	for _, f := range o.From {
		p, err := ParsePrincipal(f)
		if err != nil {
			return in, &InputError{Input: "--from " + f, Problem: err.Error(), Fix: `write user:EMAIL or service-principal:APP_ID`}
		}
		in.from = append(in.from, p)
	}
	if o.FromFile != "" {
		ps, err := ReadIdentities(o.FromFile)
		if err != nil {
			return in, err
		}
		in.from = append(in.from, ps...)
	}
	var uniq []Principal
	for _, p := range in.from {
		if p.Type == TypeGroup {
			return in, &InputError{Input: "--from " + p.String(), Problem: "a group does not leave", Fix: "name the users or service principals that leave"}
		}
		if !slices.ContainsFunc(uniq, p.Is) {
			uniq = append(uniq, p)
		}
	}
	in.from = uniq
	if len(in.from) == 0 {
		return in, &InputError{Input: "handover plan", Problem: "no leaving identity", Fix: "pass --from user:EMAIL (or --from-file FILE)"}
	}
	if o.To != "" {
		p, err := ParsePrincipal(o.To)
		if err != nil {
			return in, &InputError{Input: "--to " + o.To, Problem: err.Error(), Fix: `write user:EMAIL or service-principal:APP_ID`}
		}
		if p.Type == TypeGroup {
			return in, &InputError{Input: "--to " + p.String(), Problem: "a group cannot own jobs, pipelines, clusters, warehouses, queries or alerts",
				Fix: "pass a user or service principal; name a group in --map only for the kinds it can take"}
		}
		in.succ.to = &p
	}
	if o.MapFile != "" {
		rules, err := ReadMap(o.MapFile)
		if err != nil {
			return in, err
		}
		for _, r := range rules {
			if r.From != nil && !slices.ContainsFunc(in.from, r.From.Is) {
				return in, &InputError{Input: fmt.Sprintf("%s:%d", o.MapFile, r.Line), Problem: "from " + r.From.String() + " is not a leaving identity",
					Fix: "name an identity of --from or --from-file, or *"}
			}
		}
		in.succ.rules, in.succ.path = rules, o.MapFile
	}
	if in.succ.to == nil && len(in.succ.rules) == 0 {
		return in, &InputError{Input: "handover plan", Problem: "no successor", Fix: "pass --to user:EMAIL or service-principal:APP_ID, or --map FILE"}
	}
	in.kinds = map[string]bool{}
	if len(o.Kinds) == 0 {
		for _, k := range Kinds() {
			in.kinds[k] = true
		}
	}
	for _, arg := range o.Kinds {
		for _, k := range strings.Split(arg, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(Kinds(), k) {
				return in, &InputError{Input: "--kinds " + arg, Problem: fmt.Sprintf("unknown kind %q", k), Fix: "use " + strings.Join(Kinds(), ", ")}
			}
			in.kinds[k] = true
		}
	}
	if o.RevokeTokens && !in.kinds[KindToken] {
		return in, &InputError{Input: "--revoke-tokens", Problem: "--kinds leaves tokens out", Fix: "add token to --kinds or leave --revoke-tokens out"}
	}
	for _, k := range Kinds() {
		if in.kinds[k] {
			in.order = append(in.order, k)
		}
	}
	if o.Deactivate {
		if left := kindsLeftOut(in.order); len(left) > 0 {
			return in, deactivateKindsError("--kinds "+strings.Join(o.Kinds, ","), left)
		}
	}
	if o.Out == "" {
		return in, &InputError{Input: "handover plan", Problem: "no --out", Fix: "pass --out handover.json"}
	}
	if err := reports.CheckOverwrite(o.Out, o.Force); err != nil {
		return in, &InputError{Input: "--out " + o.Out, Problem: "the file exists", Fix: "pass another path, or --force to replace it", Err: err}
	}
	return in, nil
}

// kindsLeftOut returns the kinds of Kinds that kinds does not hold.
func kindsLeftOut(kinds []string) []string {
	var left []string
	for _, k := range Kinds() {
		if !slices.Contains(kinds, k) {
			left = append(left, k)
		}
	}
	return left
}

// deactivateKindsError refuses --deactivate with kinds left out: a
// deactivated identity breaks what it still owns, runs as or alone
// manages in a kind that was neither read nor handed over (a job that
// runs as it fails, a query it owns is orphaned), and audit's "nothing
// breaks" holds only when every kind was read.
func deactivateKindsError(input string, left []string) error {
	return &InputError{Input: input,
		Problem: fmt.Sprintf("--deactivate needs every kind handed over, and %s %s left out (what the identity still owns, runs as or manages there would break once it is deactivated)",
			short(left), plural1(len(left), "is", "are")),
		Fix: "leave --kinds out to plan every kind with --deactivate, or plan without --deactivate and deactivate in a later plan of every kind"}
}

// plural1 returns one when n is 1, else many.
func plural1(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// planner holds one plan run.
type planner struct {
	opts PlanOptions
	in   planInput
	d    Deps
	log  *reports.Logger
	sess *scim.Session
	acct *scim.AccountClient

	ls        leavers
	ws        []*wsState
	inAccount map[string]bool // successor key -> an active account principal
	caller    Principal
	callerGrp map[string]bool // lower-cased names of the caller's groups
	plan      *Plan
	prog      *planProgress // nil without streams
}

// wsState is one workspace of the plan.
type wsState struct {
	info    scim.WorkspaceInfo
	client  *scim.WorkspaceClient
	plan    WorkspacePlan
	read    workspaceRead
	visible map[string]bool  // successor key -> usable in the workspace
	local   map[string]int64 // leaver key -> its id in this workspace
}

// RunPlan makes a handover plan: it reads (GET only) what the leaving
// identities own, run as or alone manage in every selected workspace, works
// out each change and its successor, checks that each successor can take
// it, and writes the plan file. The plan is printed on stdout. It returns a
// *PartialError (exit 2) when a part of a workspace could not be read or
// the plan has conflicts (the plan is still written; apply refuses it).
func RunPlan(ctx context.Context, opts PlanOptions, d Deps) error {
	in, err := opts.check()
	if err != nil {
		return err
	}
	if d.Connect == nil {
		return errors.New("plan: no connection configured")
	}
	sess, err := d.Connect(ctx)
	if err != nil {
		return err
	}
	acct, err := sess.Account()
	if err != nil {
		return fmt.Errorf("plan: %w: handover needs an account (pass --account-id)", err)
	}
	pl := &planner{opts: opts, in: in, d: d, log: d.logger(), sess: sess, acct: acct}
	if err := pl.run(ctx); err != nil {
		return err
	}
	raw, err := MarshalPlan(pl.plan)
	if err != nil {
		return err
	}
	if err := reports.WriteFile(opts.Out, 0o600, func(w io.Writer) error {
		_, err := w.Write(raw)
		return err
	}, reports.Force(opts.Force)); err != nil {
		return fmt.Errorf("write plan %s: %w", opts.Out, err)
	}
	if d.Streams != nil {
		if err := printPlan(d.Streams, pl.plan); err != nil {
			return err
		}
	}
	pl.log.Info("handover plan written", "plan", opts.Out, "changes", len(pl.plan.Changes), "conflicts", len(pl.plan.Conflicts))
	if d.Streams != nil {
		d.Streams.SetOutcome(reports.Outcome{Command: "handover plan", Wrote: []string{opts.Out},
			Did: fmt.Sprintf("%d changes, %d conflicts", len(pl.plan.Changes), len(pl.plan.Conflicts))})
	}
	if len(pl.plan.Conflicts) > 0 {
		return &PartialError{Op: "plan", Failed: len(pl.plan.Conflicts), Total: len(pl.plan.Changes) + len(pl.plan.Conflicts),
			What: "changes have blocking conflicts", Hint: "apply refuses this plan: fix each conflict (--map, --kinds, --restart-clusters) and plan again"}
	}
	return nil
}

func (pl *planner) run(ctx context.Context) error {
	p := &Plan{PlanVersion: PlanVersion, ToolVersion: pl.opts.ToolVersion, CreatedAt: pl.d.now().UTC(), Lineage: newLineage(),
		Host: pl.sess.Host(), AccountID: pl.acct.AccountID,
		Settings: Settings{Kinds: pl.in.order, RevokeTokens: pl.opts.RevokeTokens, Deactivate: pl.opts.Deactivate,
			RestartClusters: pl.opts.RestartClusters, Workspaces: pl.opts.Workspaces},
		Changes: []Change{}, Conflicts: []Conflict{}, LeftAsIs: []Note{}}
	pl.plan = p
	if err := pl.selectWorkspaces(ctx); err != nil {
		return err
	}
	if err := pl.resolveLeavers(ctx); err != nil {
		return err
	}
	if err := pl.whoAmI(ctx); err != nil {
		return err
	}
	pl.prog = newPlanProgress(pl.d.Streams, len(pl.ws), pl.wantsUC())
	defer pl.prog.close()
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, pl.sess.Parallel()))
	for _, w := range pl.ws {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pl.readWorkspace(ctx, w)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	pl.readMetastores(ctx)
	pl.prog.close() // before the plan is printed
	if err := pl.checkSuccessorsInAccount(ctx); err != nil {
		return err
	}
	for _, w := range pl.ws {
		p.Workspaces = append(p.Workspaces, w.plan)
	}
	if err := pl.build(ctx); err != nil {
		return err
	}
	return nil
}

func newLineage() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// selectWorkspaces lists the account's workspaces and applies --workspace
// by scim.PickWorkspaces' rule, the one export and audit share (an id, or
// a name byte-exact: every workspace of that name; ignoring case only when
// that names one workspace); workspaces not RUNNING are left out.
func (pl *planner) selectWorkspaces(ctx context.Context) error {
	infos, err := pl.sess.Workspaces(ctx)
	if err != nil {
		return fmt.Errorf("list workspaces: %w", err)
	}
	picked, err := scim.PickWorkspaces(infos, pl.opts.Workspaces)
	var amb *scim.AmbiguousWorkspaceError
	var nf *scim.WorkspaceNotFoundError
	switch {
	case errors.As(err, &amb):
		return &InputError{Input: fmt.Sprintf("--workspace %q", amb.Given), Problem: strings.TrimPrefix(amb.Error(), fmt.Sprintf("--workspace %q: ", amb.Given)),
			Fix: amb.Hint()}
	case errors.As(err, &nf):
		var unknown []string
		for _, u := range append([]string{nf.Given}, nf.Also...) {
			unknown = append(unknown, strconv.Quote(u))
		}
		return &InputError{Input: "--workspace " + strings.Join(unknown, ", "), Problem: "no such workspace (names are matched exactly)",
			Fix: nf.Hint()}
	case err != nil:
		return err
	}
	for i, info := range infos {
		if picked != nil && !picked[i] {
			continue
		}
		if info.Status != "" && info.Status != "RUNNING" {
			pl.log.Info("handover skips a workspace that is not running", "workspace", info.Name, "status", info.Status)
			continue
		}
		c, err := pl.sess.Workspace(info)
		if err != nil {
			return fmt.Errorf("connect to workspace %s: %w", info.Name, err)
		}
		pl.ws = append(pl.ws, &wsState{info: info, client: c, visible: map[string]bool{}, local: map[string]int64{},
			plan: WorkspacePlan{WorkspaceID: info.ID, WorkspaceName: info.Name, URL: info.URL}})
	}
	if len(pl.ws) == 0 {
		return &InputError{Input: "handover plan", Problem: "no running workspace to read", Fix: "check --workspace and the account"}
	}
	return checkMapWorkspaces(pl.in.succ, infos)
}

// checkMapWorkspaces refuses a --map row whose workspace cell names no
// workspace of the account (names are matched exactly): such a row would
// silently send nothing to its successor.
func checkMapWorkspaces(s successors, infos []scim.WorkspaceInfo) error {
	for _, r := range s.rules {
		if r.Workspace == "" || slices.ContainsFunc(infos, func(i scim.WorkspaceInfo) bool {
			return i.Name == r.Workspace || strconv.FormatInt(i.ID, 10) == r.Workspace
		}) {
			continue
		}
		fix := "write a workspace name exactly as the account spells it, its id, or *"
		if close := closestWorkspaces(r.Workspace, infos); len(close) > 0 {
			fix = "did you mean " + strings.Join(close, " or ") + "? " + fix
		}
		return &InputError{Input: fmt.Sprintf("%s:%d", s.path, r.Line),
			Problem: fmt.Sprintf("workspace %s is not a workspace of the account (names are matched exactly, spaces and case included)", strconv.Quote(r.Workspace)),
			Fix:     fix}
	}
	return nil
}

// closestWorkspaces returns, quoted, up to three workspace names close to
// want: those equal to it but for case or edge spaces when there are any,
// else the closest by edit distance (at most half of want's length, and at
// least 2).
func closestWorkspaces(want string, infos []scim.WorkspaceInfo) []string {
	fold := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	type scored struct {
		name string
		dist int
	}
	var all []scored
	for _, i := range infos {
		d := smetrics.WagnerFischer(fold(want), fold(i.Name), 1, 1, 1)
		if d <= max(2, len([]rune(want))/2) {
			all = append(all, scored{i.Name, d})
		}
	}
	slices.SortStableFunc(all, func(a, b scored) int { return cmp.Or(cmp.Compare(a.dist, b.dist), strings.Compare(a.name, b.name)) })
	if len(all) > 0 && all[0].dist == 0 {
		// The same name but for case or edge spaces: that is the one.
		all = slices.DeleteFunc(all, func(a scored) bool { return a.dist > 0 })
	}
	var out []string
	for _, a := range all[:min(len(all), 3)] {
		out = append(out, strconv.Quote(a.name))
	}
	return out
}

var (
	userAttrs = []string{"id", "userName", "displayName", "active"}
	spAttrs   = []string{"id", "applicationId", "displayName", "active"}
)

// lookup finds a principal by name in a SCIM directory: users by userName,
// service principals by applicationId, groups by displayName; the name
// must match exactly but for case (user names and application ids) or
// exactly (group names).
func lookup(ctx context.Context, users *scim.Endpoint[scim.User], sps *scim.Endpoint[scim.ServicePrincipal],
	groups *scim.Endpoint[scim.Group], p Principal) (id, display string, active, found bool, err error) {
	switch p.Type {
	case TypeUser:
		us, err := users.ListAll(ctx, scim.ListOptions{Filter: scim.Eq("userName", p.Name), Attributes: userAttrs})
		if err != nil {
			return "", "", false, false, err
		}
		for _, u := range us {
			if strings.EqualFold(u.UserName, p.Name) {
				return u.ID, u.DisplayName, u.IsActive(), true, nil
			}
		}
	case TypeServicePrincipal:
		ss, err := sps.ListAll(ctx, scim.ListOptions{Filter: scim.Eq("applicationId", p.Name), Attributes: spAttrs})
		if err != nil {
			return "", "", false, false, err
		}
		for _, s := range ss {
			if strings.EqualFold(s.ApplicationID, p.Name) {
				return s.ID, s.DisplayName, s.IsActive(), true, nil
			}
		}
	case TypeGroup:
		gs, err := groups.ListAll(ctx, scim.ListOptions{Filter: scim.Eq("displayName", p.Name), Attributes: []string{"id", "displayName"}})
		if err != nil {
			return "", "", false, false, err
		}
		for _, g := range gs {
			if g.DisplayName == p.Name {
				return g.ID, g.DisplayName, true, true, nil
			}
		}
	}
	return "", "", false, false, nil
}

// resolveLeavers looks the leaving identities up in the account, and with
// --deactivate reads their direct workspace assignments.
func (pl *planner) resolveLeavers(ctx context.Context) error {
	for _, f := range pl.in.from {
		l := &leaver{Identity: Identity{Principal: f}, key: f.String(), ids: map[int64]bool{}}
		id, display, active, found, err := lookup(ctx, pl.acct.Users, pl.acct.ServicePrincipals, pl.acct.Groups, f)
		if err != nil {
			return fmt.Errorf("look up %s in the account: %w", f, err)
		}
		if found {
			l.AccountID, l.DisplayName, l.Active = id, display, active
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				l.ids[n] = true
			}
		} else {
			pl.log.Warn("handover identity not found in the account: only objects that still name it are handed over", "identity", f.String())
		}
		pl.ls = append(pl.ls, l)
	}
	if !pl.opts.Deactivate {
		return nil
	}
	for _, w := range pl.ws {
		as, err := pl.acct.ListAssignments(ctx, w.info.ID)
		if err != nil {
			// Workspaces without identity federation have no assignments.
			var ae *scim.APIError
			if errors.As(err, &ae) && ae.StatusCode == 400 {
				continue
			}
			return fmt.Errorf("read the assignments of workspace %s: %w", w.info.Name, err)
		}
		w.plan.Federated = true
		for _, a := range as {
			for _, l := range pl.ls {
				if l.AccountID != "" && strconv.FormatInt(a.Principal.PrincipalID, 10) == l.AccountID && len(a.Permissions) > 0 {
					l.Assignments = append(l.Assignments, Assignment{WorkspaceID: w.info.ID, Permissions: slices.Clone(a.Permissions)})
				}
			}
		}
	}
	return nil
}

// checkSuccessorsInAccount looks every successor up in the account (Unity
// Catalog owners are account principals).
func (pl *planner) checkSuccessorsInAccount(ctx context.Context) error {
	pl.inAccount = map[string]bool{}
	for _, s := range pl.successorKeys() {
		_, _, active, found, err := lookup(ctx, pl.acct.Users, pl.acct.ServicePrincipals, pl.acct.Groups, s)
		if err != nil {
			return fmt.Errorf("look up successor %s in the account: %w", s, err)
		}
		pl.inAccount[strings.ToLower(s.String())] = found && active
	}
	return nil
}

// whoAmI reads the caller (for run_as rules) from the first workspace.
func (pl *planner) whoAmI(ctx context.Context) error {
	u, _, err := pl.ws[0].client.Me(ctx)
	if err != nil {
		return fmt.Errorf("read the caller (Me) in workspace %s: %w", pl.ws[0].info.Name, err)
	}
	pl.caller = Principal{TypeUser, u.UserName}
	if !strings.Contains(u.UserName, "@") {
		pl.caller.Type = TypeServicePrincipal
	}
	pl.callerGrp = map[string]bool{}
	for _, g := range u.Groups {
		pl.callerGrp[strings.ToLower(g.Display)] = true
	}
	pl.plan.Caller = pl.caller
	return nil
}

// successorKeys returns every successor the plan may use.
func (pl *planner) successorKeys() []Principal {
	var out []Principal
	add := func(p Principal) {
		if !slices.ContainsFunc(out, p.Is) {
			out = append(out, p)
		}
	}
	if pl.in.succ.to != nil {
		add(*pl.in.succ.to)
	}
	for _, r := range pl.in.succ.rules {
		add(r.To)
	}
	return out
}

// readWorkspace reads one workspace: the leavers' local ids, whether each
// successor can be used there, and every selected kind.
func (pl *planner) readWorkspace(ctx context.Context, w *wsState) {
	c := w.client
	task := pl.prog.task(w.info.Name)
	for _, l := range pl.ls {
		id, _, _, found, err := lookup(ctx, c.Users, c.ServicePrincipals, c.Groups, l.Principal)
		if err != nil {
			w.plan.NotRead = append(w.plan.NotRead, "identities: "+err.Error())
			continue
		}
		if found {
			if n, err := strconv.ParseInt(id, 10, 64); err == nil {
				w.local[l.key] = n
			}
		}
	}
	for _, s := range pl.successorKeys() {
		_, _, active, found, err := lookup(ctx, c.Users, c.ServicePrincipals, c.Groups, s)
		if err != nil {
			w.plan.NotRead = append(w.plan.NotRead, "identities: "+err.Error())
			continue
		}
		w.visible[strings.ToLower(s.String())] = found && active
	}
	ls := make(leavers, len(pl.ls))
	for i, l := range pl.ls {
		cp := *l
		cp.ids = map[int64]bool{}
		for k := range l.ids {
			cp.ids[k] = true
		}
		if n, ok := w.local[l.key]; ok {
			cp.ids[n] = true
		}
		ls[i] = &cp
	}
	r := &reader{d: c, ls: ls, kinds: pl.in.kinds, restart: pl.opts.RestartClusters, task: task}
	w.read = r.read(ctx)
	w.plan.NotRead = append(w.plan.NotRead, w.read.notRead...)
	if task != nil {
		task.Done(fmt.Sprintf("%d objects tied, %d not read", len(w.read.ties), len(w.plan.NotRead)))
	}
	pl.log.Info("handover read workspace", "workspace", w.info.Name, "objects_tied", len(w.read.ties), "not_read", len(w.plan.NotRead))
}

// build turns what was read into changes, conflicts and notes.
func (pl *planner) build(ctx context.Context) error {
	p := pl.plan
	roles := map[string]bool{} // successor SP application id -> the caller holds its User role
	leaving := func(s Principal) bool { return pl.ls.byPrincipal(s) != nil }
	for _, w := range pl.ws {
		for _, nr := range w.plan.NotRead {
			p.Conflicts = append(p.Conflicts, Conflict{WorkspaceID: w.info.ID, Workspace: w.info.Name, Kind: strings.SplitN(nr, ":", 2)[0],
				Reason: "not read: " + nr, Fix: "fix the cause (permissions, throttling) and plan again, or leave the kind out with --kinds"})
		}
		for _, t := range w.read.ties {
			who := pl.ls.byPrincipal(t.who.Principal)
			base := Change{Identity: who.key, WorkspaceID: w.info.ID, Workspace: w.info.Name, Kind: t.kind, ObjectID: t.objectID,
				ObjectName: t.objectName, Action: t.action, From: t.from, State: t.state, Phase: PhaseObjects}
			base.ID = fmt.Sprintf("%d/%s/%s/%s", w.info.ID, t.kind, t.objectID, t.action)
			if t.note != "" {
				n := Note{Identity: who.key, WorkspaceID: w.info.ID, Workspace: w.info.Name, Kind: t.kind, ObjectID: t.objectID,
					ObjectName: t.objectName, Reason: t.note, Breaks: t.breaks}
				if t.breaks && pl.opts.Deactivate {
					p.Conflicts = append(p.Conflicts, Conflict{Identity: who.key, WorkspaceID: w.info.ID, Workspace: w.info.Name, Kind: t.kind,
						ObjectID: t.objectID, ObjectName: t.objectName, Action: t.action,
						Reason: t.note + "; deactivating " + who.key + " would break it", Fix: "pass --restart-clusters, or leave --deactivate out"})
					continue
				}
				p.LeftAsIs = append(p.LeftAsIs, n)
				continue
			}
			if t.action == ActionRevoke {
				if !pl.opts.RevokeTokens {
					p.LeftAsIs = append(p.LeftAsIs, Note{Identity: who.key, WorkspaceID: w.info.ID, Workspace: w.info.Name, Kind: t.kind,
						ObjectID: t.objectID, ObjectName: t.objectName, Reason: "the token works until its owner is deactivated (pass --revoke-tokens to revoke it)"})
					continue
				}
				base.Phase, base.Irreversible = PhaseTokens, true
				p.Changes = append(p.Changes, base)
				continue
			}
			wsID, wsName := w.info.ID, w.info.Name
			if isUC(t.kind) {
				// A securable belongs to its metastore, not to the
				// workspace it is changed through: --map rows naming a
				// workspace do not apply.
				wsID, wsName = 0, ""
			}
			to, src, ok := pl.in.succ.lookup(who.Principal, t.kind, wsID, wsName)
			conflict := func(reason, fix string) {
				p.Conflicts = append(p.Conflicts, Conflict{Identity: who.key, WorkspaceID: w.info.ID, Workspace: w.info.Name,
					Kind: t.kind, ObjectID: t.objectID, ObjectName: t.objectName, Action: t.action, Successor: to, Reason: reason, Fix: fix})
			}
			if !ok {
				conflict("no successor for "+who.key+" and "+t.kind+" in "+w.info.Name, "pass --to, or add a --map row")
				continue
			}
			base.To = to
			if t.action == ActionManage {
				base.From = who.Principal
			}
			if e := successorError(t.kind, t.action, to); e != "" {
				conflict(e+" (successor from "+src+")", "map "+t.kind+" to a user in --map, or leave it out with --kinds")
				continue
			}
			if leaving(to) {
				conflict("the successor "+to.String()+" (from "+src+") is itself being handed over", "choose a successor that stays")
				continue
			}
			if isUC(t.kind) && !pl.inAccount[strings.ToLower(to.String())] {
				conflict("the successor "+to.String()+" (from "+src+") is not an active user, group or service principal of the account",
					"name an account principal, or activate it, then plan again")
				continue
			}
			if !isUC(t.kind) && !w.visible[strings.ToLower(to.String())] {
				conflict("the successor "+to.String()+" (from "+src+") is not an active principal of workspace "+w.info.Name,
					"assign it to the workspace (or activate it), or map another successor, then plan again")
				continue
			}
			if t.action == ActionRunAs && to.Type == TypeUser && t.kind == KindPipeline && !to.Is(pl.caller) {
				conflict("a pipeline can run as another user only if that user sets it (\"users can only set this field to their own email\")",
					"map pipelines to a service principal, or let "+to.String()+" make the change")
				continue
			}
			if t.action == ActionRunAs && to.Type == TypeServicePrincipal && !to.Is(pl.caller) {
				held, seen := roles[strings.ToLower(to.Name)]
				if !seen {
					var err error
					if held, err = pl.holdsSPUser(ctx, w, to); err != nil {
						conflict("could not read the rule set of "+to.String()+": "+err.Error(), "fix the cause and plan again")
						continue
					}
					roles[strings.ToLower(to.Name)] = held
				}
				if !held {
					conflict(pl.caller.String()+" does not hold the Service Principal User role on "+to.String()+", which running "+article(t.kind)+" as it needs (admins included)",
						"grant "+pl.caller.String()+" the Service Principal User role on the service principal (account console), then plan again")
					continue
				}
			}
			if t.kind == KindCluster && t.needsRestart {
				base.Restart = true
			}
			p.Changes = append(p.Changes, base)
		}
	}
	// A leaver that no directory knows and nothing names is most likely a
	// misspelt name: a plan that does nothing for it would pass for a
	// finished handover.
	unknown := map[string]bool{}
	for _, l := range pl.ls {
		if l.AccountID != "" || slices.ContainsFunc(pl.ws, func(w *wsState) bool { _, ok := w.local[l.key]; return ok }) ||
			slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Identity == l.key }) ||
			slices.ContainsFunc(p.Conflicts, func(c Conflict) bool { return c.Identity == l.key }) ||
			slices.ContainsFunc(p.LeftAsIs, func(n Note) bool { return n.Identity == l.key }) {
			continue
		}
		unknown[l.key] = true
		p.Conflicts = append(p.Conflicts, Conflict{Identity: l.key, Kind: KindIdentity,
			Reason: l.key + " is in neither the account nor any workspace read, and no object names it (names are matched exactly, but for case)",
			Fix:    "check the name in --from or --from-file, or leave it out"})
	}
	if pl.opts.Deactivate {
		for _, l := range pl.ls {
			if unknown[l.key] {
				continue
			}
			if l.AccountID == "" {
				p.Conflicts = append(p.Conflicts, Conflict{Identity: l.key, Kind: KindIdentity, Action: ActionDeactivate,
					Reason: l.key + " is not an account identity", Fix: "leave --deactivate out, or remove it from --from"})
				continue
			}
			p.Changes = append(p.Changes, Change{ID: "account/identity/" + l.key + "/" + ActionDeactivate, Identity: l.key,
				Kind: KindIdentity, ObjectID: l.AccountID, ObjectName: cmp.Or(l.DisplayName, l.Name), Action: ActionDeactivate,
				From: l.Principal, Phase: PhaseDeactivate, State: activeState(l.Active)})
			for _, a := range l.Assignments {
				name := ""
				for _, w := range pl.ws {
					if w.info.ID == a.WorkspaceID {
						name = w.info.Name
					}
				}
				p.Changes = append(p.Changes, Change{ID: fmt.Sprintf("account/identity/%s/%s/%d", l.key, ActionUnassign, a.WorkspaceID),
					Identity: l.key, WorkspaceID: a.WorkspaceID, Workspace: name, Kind: KindIdentity, ObjectID: l.AccountID,
					ObjectName: cmp.Or(l.DisplayName, l.Name), Action: ActionUnassign, From: l.Principal, Phase: PhaseDeactivate,
					Permissions: a.Permissions})
			}
		}
	}
	for _, l := range pl.ls {
		p.Identities = append(p.Identities, l.Identity)
	}
	sortPlan(p)
	return nil
}

func activeState(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}

// holdsSPUser reports whether the caller holds the Service Principal User
// role on sp, directly or through one of its groups.
func (pl *planner) holdsSPUser(ctx context.Context, w *wsState, sp Principal) (bool, error) {
	rs, err := scim.GetRuleSet(ctx, w.client, scim.ServicePrincipalRuleSetName(pl.acct.AccountID, sp.Name))
	if err != nil {
		return false, err
	}
	me := "users/" + pl.caller.Name
	if pl.caller.Type == TypeServicePrincipal {
		me = "servicePrincipals/" + pl.caller.Name
	}
	for _, r := range rs.GrantRules {
		if r.Role != "roles/servicePrincipal.user" {
			continue
		}
		for _, p := range r.Principals {
			if strings.EqualFold(p, me) {
				return true, nil
			}
			if g, ok := strings.CutPrefix(p, "groups/"); ok && pl.callerGrp[strings.ToLower(g)] {
				return true, nil
			}
		}
	}
	return false, nil
}

// kindRank orders kinds as Kinds does.
func kindRank(k string) int {
	if i := slices.Index(Kinds(), k); i >= 0 {
		return i
	}
	return len(Kinds())
}

var actionOrder = []string{ActionRunAs, ActionOwner, ActionSingleUser, ActionManage, ActionDeactivate, ActionUnassign, ActionRevoke}

// sortPlan orders changes by phase, workspace, kind, object and action;
// conflicts and notes by workspace, kind and object.
func sortPlan(p *Plan) {
	slices.SortStableFunc(p.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)),
			strings.Compare(a.ObjectID, b.ObjectID), cmp.Compare(slices.Index(actionOrder, a.Action), slices.Index(actionOrder, b.Action)),
			strings.Compare(a.Identity, b.Identity))
	})
	slices.SortStableFunc(p.Conflicts, func(a, b Conflict) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), strings.Compare(a.ObjectID, b.ObjectID),
			strings.Compare(a.Action, b.Action), strings.Compare(a.Reason, b.Reason))
	})
	slices.SortStableFunc(p.LeftAsIs, func(a, b Note) int {
		return cmp.Or(cmp.Compare(a.WorkspaceID, b.WorkspaceID), cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), strings.Compare(a.ObjectID, b.ObjectID),
			strings.Compare(a.Reason, b.Reason))
	})
}
