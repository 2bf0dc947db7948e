package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dbiam/dbiam/migrate/internal/fanout"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// planMetastorePath answers for a workspace with a Unity Catalog
// metastore, which is what makes it identity-federated (reference §D.3).
const planMetastorePath = "/api/2.1/unity-catalog/current-metastore-assignment"

// Attributes read by the plan. Groups are listed without members (large
// workspaces time out listing them) but with their parents ("groups"); the
// members of each in-scope group are derived from the lists (plan_read.go),
// or read with one GET each with PlanOptions.GetMembers.
var (
	planGroupAttrs         = []string{"id", "displayName", "externalId", "meta", "entitlements", "roles", "groups"}
	planMemberAttrs        = []string{"members"}
	planWSMemberAttrs      = []string{"members", "groups"} // and direct parents
	planAccountUserAttrs   = []string{"userName", "displayName"}
	planAccountSPAttrs     = []string{"applicationId", "displayName"}
	planAccountGroupAttrs  = []string{"displayName", "externalId"}
	planWorkspaceUserAttrs = []string{"userName"}
	planWorkspaceSPAttrs   = []string{"applicationId"}
)

// planFetchWorkers bounds the concurrent member GETs of one workspace;
// the session's per-workspace concurrency cap and rate limits apply below it.
const planFetchWorkers = 4

// planFetcher reads the live state for a builder. It only sends GETs.
type planFetcher struct {
	sess interface {
		Account() (*scim.AccountClient, error)
		Workspaces(ctx context.Context) ([]scim.WorkspaceInfo, error)
		Workspace(scim.WorkspaceInfo) (*scim.WorkspaceClient, error)
		Parallel() int
	}
	log *reports.Logger
	b   *planBuilder
	// skipUnreadable leaves out a workspace that cannot be read instead of
	// failing the plan (PlanOptions.SkipUnreadable).
	skipUnreadable bool
	// getMembers reads the members of every selected group with one GET
	// (PlanOptions.GetMembers) instead of deriving them from the lists.
	getMembers bool
	// prog reports progress (nil: none); statusInterval is its interval
	// between status lines off a terminal. Its tasks, known before it
	// starts: each workspace's reads, the account's, building the plan
	// (build, which counts the reads of reused account groups' members),
	// and each workspace's grants.
	prog           *reports.Progress
	build          *planCounter
	streams        *reports.Streams
	now            func() time.Time
	statusInterval time.Duration

	// ctx is the context of the whole fetch: reads started in one phase
	// and awaited in a later one use it. bg tracks those reads.
	ctx context.Context
	bg  sync.WaitGroup
}

// fetch runs the builder's three phases with the reads each needs. The
// account's lists are read alongside the workspaces' first phase, and each
// workspace's user and service principal lists start as soon as its group
// list shows a selected group, so that no rate-limit bucket waits for a
// phase to end.
func (f *planFetcher) fetch(ctx context.Context) (retErr error) {
	acct, err := f.sess.Account()
	if err != nil {
		return fmt.Errorf("migrate plan: %w", err)
	}
	all, err := f.sess.Workspaces(ctx)
	if err != nil {
		return err // scim.Session.Workspaces names the operation
	}
	infos, err := f.b.sel.selectWorkspaces(all)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	f.ctx = ctx
	if f.streams != nil {
		interval := f.statusInterval
		if interval == 0 {
			interval = planStatusInterval
		}
		f.prog = reports.NewProgress(f.streams, reports.ProgressOptions{Label: "plan", Unit: "identities",
			Tasks: 2*len(infos) + 2, StatusInterval: interval, Now: f.now})
	}
	defer func() {
		cancel()
		f.bg.Wait()
		if f.prog != nil {
			f.prog.Close()
		}
	}()
	accountRead := f.readAccount(ctx, acct, cancel)

	f.b.ws = make([]*planWS, len(infos))
	clients := make([]*scim.WorkspaceClient, len(infos))
	for i, info := range infos {
		f.b.ws[i] = &planWS{info: info}
		c, err := f.sess.Workspace(info)
		if err != nil {
			return fmt.Errorf("workspace %s: %w", planLabel(info), err)
		}
		clients[i] = c
	}
	// Phase 1 reads: federation and groups of each workspace.
	err = f.eachWorkspace(ctx, func(ctx context.Context, w *planWS, c *scim.WorkspaceClient) error {
		err := f.readWorkspace(ctx, w, c)
		w.counter.step()
		return err
	}, clients)
	ar := <-accountRead
	if ar.err != nil {
		return ar.err
	}
	if err != nil {
		return err
	}
	f.b.acct = newPlanAccountState(ar.users, ar.sps, ar.groups)
	f.log.Info("read account", "users", len(ar.users), "service_principals", len(ar.sps), "groups", len(ar.groups), "workspaces", len(infos))
	f.b.skipUnread()
	f.b.selectGroups()
	f.b.checkBackupNames()
	// Phase 2 reads: members of the selected groups and the principals
	// they refer to.
	if err := f.eachWorkspace(ctx, f.readMembers, clients); err != nil {
		return err
	}
	for _, w := range f.b.ws {
		switch {
		case w.counter == nil:
		case w.readErr != nil:
			w.counter.task.Fail(w.readErr)
		case strings.HasPrefix(w.skipped, planNotReadPrefix):
			w.counter.task.Fail(errors.New(w.skipped))
		case w.skipped != "":
			w.counter.task.Done("skipped: " + w.skipped)
		default:
			w.counter.task.Done(fmt.Sprintf("%d groups, %d selected", len(w.groups), len(w.nodes)))
		}
	}
	// A task for building the plan (seconds for thousands of groups), in
	// three stages: resolve, read the members of the account groups it
	// may reuse, build.
	if f.build = f.stepsTask("build the plan", 3, "stages"); f.build != nil {
		defer func() {
			if retErr != nil {
				f.build.task.Fail(retErr)
			}
		}()
	}
	f.b.blockUnread()
	f.b.resolve()
	f.build.step()
	// Phase 3 reads: members of the account groups the plan may reuse.
	if err := f.readAccountMembers(ctx, acct, f.b.candidateAccountGroups()); err != nil {
		return err
	}
	f.build.step()
	f.b.build()
	f.b.checkLimits()
	if f.build != nil {
		f.build.task.Done("")
	}
	// Phase 4 reads: the grants of the workspaces with migrated groups.
	if err := f.readGrants(ctx, clients); err != nil {
		return err
	}
	f.b.checkPermissionRoutes()
	f.b.unmigratedParents()
	f.b.externallyProvisioned()
	f.b.tableACLsNotVerified()
	for _, w := range f.b.warnings {
		f.log.Warn("plan warning (see the summary)", "kind", w.Kind, "workspace", w.WorkspaceID)
	}
	return nil
}

// planLabel names a workspace in errors.
func planLabel(info scim.WorkspaceInfo) string {
	if info.Name != "" {
		return fmt.Sprintf("%s (%d)", info.Name, info.ID)
	}
	return fmt.Sprint(info.ID)
}

// eachWorkspace runs fn for every workspace not skipped, Parallel at a
// time, and returns the first error (by workspace order). With
// skipUnreadable, a workspace whose fn fails (the run not being cancelled)
// keeps the error in its readErr instead, for the builder to leave it out.
func (f *planFetcher) eachWorkspace(ctx context.Context, fn func(context.Context, *planWS, *scim.WorkspaceClient) error, clients []*scim.WorkspaceClient) error {
	par := f.sess.Parallel()
	if par <= 0 {
		par = 4
	}
	errs := make([]error, len(f.b.ws))
	return fanout.Bounded(ctx, len(f.b.ws), par, func(ctx context.Context, i int) error {
		w := f.b.ws[i]
		if w.skipped != "" {
			return nil
		}
		if err := fn(ctx, w, clients[i]); err != nil {
			if f.skipUnreadable && ctx.Err() == nil {
				w.readErr = err
				f.log.Warn("workspace not read: planning without it", "workspace", w.info.Name, "error", err)
				return nil
			}
			errs[i] = fmt.Errorf("workspace %s: %w", planLabel(w.info), err)
			if ctx.Err() == nil {
				errs[i] = fmt.Errorf("%w (pass --skip-unreadable to plan the other workspaces without it, or leave it out with --workspace)", errs[i])
			}
			return errs[i]
		}
		return nil
	}, errs)
}

// readWorkspace checks whether w is federated and lists its groups.
func (f *planFetcher) readWorkspace(ctx context.Context, w *planWS, c *scim.WorkspaceClient) error {
	// Two steps: this phase, then the members (readMembers).
	w.counter = f.stepsTask(planLabel(w.info), 2, "phases")
	if w.info.Status != "" && w.info.Status != "RUNNING" {
		w.skipped = fmt.Sprintf("workspace status is %s, not RUNNING", w.info.Status)
		f.log.Warn("skipping workspace", "workspace", w.info.Name, "reason", w.skipped)
		return nil
	}
	var assign struct {
		WorkspaceID int64  `json:"workspace_id"`
		MetastoreID string `json:"metastore_id"`
	}
	err := c.Do(ctx, scim.ClassDefault, http.MethodGet, planMetastorePath, nil, nil, &assign)
	switch {
	case errors.Is(err, scim.ErrNotFound) || (err == nil && assign.MetastoreID == ""):
		w.skipped = "not identity-federated: no Unity Catalog metastore is assigned to the workspace"
		f.log.Warn("skipping workspace", "workspace", w.info.Name, "reason", w.skipped)
		return nil
	case err != nil:
		return fmt.Errorf("check metastore assignment: %w", err)
	}
	w.federated = true
	opts := planListOptions[scim.Group](w.counter, planGroupAttrs)
	if !f.getMembers {
		// A page that shows a selected group starts the principal lists,
		// which membership is derived from.
		opts.OnPage = func(gs []scim.Group) {
			for i := range gs {
				if f.planCandidate(w, &gs[i]) {
					f.startLists(w, c)
					return
				}
			}
		}
	}
	groups, err := c.Groups.ListConcurrent(ctx, opts)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	w.groups = groups
	return nil
}

// readMembers gives w's selected groups their members and direct parents:
// derived from the workspace's lists (readMembersDerived), or with
// getMembers one GET each followed, if they need it, by the workspace's
// users and service principals.
func (f *planFetcher) readMembers(ctx context.Context, w *planWS, c *scim.WorkspaceClient) error {
	todo := make([]*planNode, 0, len(w.nodes))
	for _, n := range w.nodes {
		if n.target != "" { // the others are skipped whatever their members
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		f.log.Info("read workspace", "workspace", w.info.Name, "groups", len(w.groups), "selected", len(w.nodes))
		return nil
	}
	if !f.getMembers {
		if err := f.readMembersDerived(ctx, w, c, todo); err != nil {
			return err
		}
	} else {
		if err := f.readMembersByGet(ctx, w, c, todo); err != nil {
			return err
		}
	}
	if err := f.readStragglers(ctx, w, c); err != nil {
		return err
	}
	f.log.Info("read workspace", "workspace", w.info.Name, "groups", len(w.groups), "selected", len(w.nodes),
		"members_derived", w.derived, "members_read", w.gets)
	return nil
}

// readMembersByGet reads the members of todo with one GET each, then the
// workspace's user and service principal lists if a member needs them.
func (f *planFetcher) readMembersByGet(ctx context.Context, w *planWS, c *scim.WorkspaceClient, todo []*planNode) error {
	if err := f.getGroups(ctx, w, c, todo); err != nil {
		return err
	}
	w.gets = len(todo)
	needUsers, needSPs := w.needsPrincipals()
	if needUsers {
		users, err := c.Users.ListConcurrent(ctx, planListOptions[scim.User](w.counter, planWorkspaceUserAttrs))
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		w.users = make(map[string]string, len(users))
		for _, u := range users {
			w.users[u.ID] = u.UserName
		}
	}
	if needSPs {
		sps, err := c.ServicePrincipals.ListConcurrent(ctx, planListOptions[scim.ServicePrincipal](w.counter, planWorkspaceSPAttrs))
		if err != nil {
			return fmt.Errorf("list service principals: %w", err)
		}
		w.sps = make(map[string]string, len(sps))
		for _, sp := range sps {
			w.sps[sp.ID] = sp.ApplicationID
		}
	}
	return nil
}

// readStragglers reads, one GET each, the member principals that the
// workspace's user and service principal lists did not show (a list can
// lag a recent change). A member that is not found either way stays
// unresolved and blocks its group.
func (f *planFetcher) readStragglers(ctx context.Context, w *planWS, c *scim.WorkspaceClient) error {
	seen := map[string]bool{}
	var ids []string
	var kinds []string
	for _, n := range w.nodes {
		for _, m := range n.members {
			kind := MemberKind(m)
			if seen[m.Value] || kind == KindGroup || w.byID[m.Value] != nil {
				continue
			}
			if _, ok := w.users[m.Value]; ok {
				continue
			}
			if _, ok := w.sps[m.Value]; ok {
				continue
			}
			seen[m.Value] = true
			ids, kinds = append(ids, m.Value), append(kinds, kind)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if w.users == nil {
		w.users = map[string]string{}
	}
	if w.sps == nil {
		w.sps = map[string]string{}
	}
	var mu sync.Mutex
	errs := make([]error, len(ids))
	return fanout.Bounded(ctx, len(ids), planFetchWorkers, func(ctx context.Context, i int) error {
		id, kind := ids[i], kinds[i]
		if kind != KindServicePrincipal {
			u, err := c.Users.Get(ctx, id, scim.GetOptions{Attributes: planWorkspaceUserAttrs})
			switch {
			case err == nil:
				mu.Lock()
				w.users[id] = u.UserName
				mu.Unlock()
				return nil
			case !errors.Is(err, scim.ErrNotFound):
				errs[i] = fmt.Errorf("read member user %s: %w", id, err)
				return errs[i]
			}
		}
		if kind != KindUser {
			sp, err := c.ServicePrincipals.Get(ctx, id, scim.GetOptions{Attributes: planWorkspaceSPAttrs})
			switch {
			case err == nil:
				mu.Lock()
				w.sps[id] = sp.ApplicationID
				mu.Unlock()
				return nil
			case !errors.Is(err, scim.ErrNotFound):
				errs[i] = fmt.Errorf("read member service principal %s: %w", id, err)
				return errs[i]
			}
		}
		return nil
	}, errs)
}

// readAccountMembers reads the members of the given account groups.
func (f *planFetcher) readAccountMembers(ctx context.Context, acct *scim.AccountClient, ids []string) error {
	got := make([][]scim.ComplexValue, len(ids))
	errs := make([]error, len(ids))
	// Counted on the task of building the plan (one GET per reused
	// account group).
	task := f.build
	err := fanout.Bounded(ctx, len(ids), planFetchWorkers, func(ctx context.Context, i int) error {
		g, err := acct.Groups.Get(ctx, ids[i], scim.GetOptions{Attributes: planMemberAttrs})
		if err != nil {
			errs[i] = fmt.Errorf("read members of account group %s: %w", ids[i], err)
			return errs[i]
		}
		got[i] = g.Members
		task.add(1)
		return nil
	}, errs)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		f.log.Info("read account group members", "account_groups", len(ids))
	}
	for i, id := range ids {
		f.b.acct.members[id] = got[i]
	}
	return nil
}
