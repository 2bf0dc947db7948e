package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// This file is the plan's fourth read phase: the grants of the workspaces
// the plan migrates groups in. It reads, with GET requests only, the ACL of
// every object of the kinds dbiam can list (the same kinds audit reads)
// and of every secret scope, and keeps, per group name, the levels granted
// on the object itself. They are the baseline of each migrated group
// (GroupPlan.Grants) that verify and rollback compare with after the
// permission migration API has moved them, and they tell the plan which
// reused account groups already hold grants in a workspace (permroute.go).

// planGrants is what phase 4 read of one workspace.
type planGrants struct {
	read WorkspaceGrants
	// byGroup holds the grants of every group named in an ACL, by the
	// name the ACL gives it (its display name).
	byGroup map[string]*GroupGrants
}

// aclLister lists the ids of the objects of one permissions API type.
type aclLister struct {
	kind string // as recorded in WorkspaceGrants.Kinds
	typ  string // the permissions API's object type
	ids  func(ctx context.Context, d scim.Doer) ([]string, error)
}

// planACLListers are the object kinds whose ACLs the plan reads. The two
// singletons (token and password usage) need no list.
var planACLListers = []aclLister{
	{"authorization/tokens", "authorization", fixedID("tokens")},
	{"authorization/passwords", "authorization", fixedID("passwords")},
	{"jobs", "jobs", idsOf(scim.ListJobs, func(j scim.Job) string { return strconv.FormatInt(j.JobID, 10) })},
	{"clusters", "clusters", idsOf(scim.ListClusters, func(c scim.Cluster) string { return c.ClusterID })},
	{"warehouses", "warehouses", idsOf(scim.ListWarehouses, func(w scim.Warehouse) string { return w.ID })},
	{"pipelines", "pipelines", idsOf(scim.ListPipelines, func(p scim.Pipeline) string { return p.PipelineID })},
	{"queries", "queries", idsOf(scim.ListQueries, func(q scim.Query) string { return q.ID })},
	{"alerts", "alerts", idsOf(scim.ListAlerts, func(a scim.Alert) string { return a.ID })},
	{"alertsv2", "alertsv2", idsOf(scim.ListAlertsV2, func(a scim.Alert) string { return a.ID })},
	{"dbsql-dashboards", "dbsql-dashboards", idsOf(scim.ListLegacyDashboards, func(d scim.LegacyDashboard) string { return d.ID })},
	{"dashboards", "dashboards", idsOf(scim.ListDashboards, func(d scim.Dashboard) string { return d.DashboardID })},
	{"serving-endpoints", "serving-endpoints", idsOf(scim.ListServingEndpoints, func(e scim.ServingEndpoint) string { return e.ID })},
	{"apps", "apps", idsOf(scim.ListApps, func(a scim.App) string { return a.Name })},
}

// fixedID lists one singleton object.
func fixedID(id string) func(context.Context, scim.Doer) ([]string, error) {
	return func(context.Context, scim.Doer) ([]string, error) { return []string{id}, nil }
}

// idsOf turns a scim list into the ids the permissions API takes.
func idsOf[T any](list func(context.Context, scim.Doer) ([]T, error), id func(T) string) func(context.Context, scim.Doer) ([]string, error) {
	return func(ctx context.Context, d scim.Doer) ([]string, error) {
		vs, err := list(ctx, d)
		if err != nil {
			return nil, err
		}
		out := make([]string, 0, len(vs))
		for _, v := range vs {
			if s := id(v); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
}

// planGrantWorkers bounds the concurrent permission reads of one object
// kind in one workspace; the transport's per-workspace cap and the
// permissions-read rate are the real bounds.
const planGrantWorkers = 4

// absentKind reports whether a read error says the workspace does not have
// the API (404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED), or, for a singleton
// such as password usage, that it does not exist (any 404, or a 400).
func absentKind(err error, singleton bool) bool {
	var ae *scim.APIError
	if !errors.As(err, &ae) || ae.Throttled() {
		return false
	}
	if singleton {
		return ae.StatusCode == http.StatusNotFound || ae.StatusCode == http.StatusBadRequest
	}
	return ae.StatusCode == http.StatusNotFound && (ae.ErrorCode == "ENDPOINT_NOT_FOUND" || ae.ErrorCode == "FEATURE_DISABLED")
}

// readGrants is phase 4: it reads the grants of every workspace with a
// group the plan migrates. With skipUnreadable a workspace whose grants
// cannot be read keeps the error in readErr (the builder then blocks its
// groups); otherwise the plan fails naming it.
func (f *planFetcher) readGrants(ctx context.Context, clients []*scim.WorkspaceClient) error {
	return f.eachWorkspace(ctx, func(ctx context.Context, w *planWS, c *scim.WorkspaceClient) error {
		if !slices.ContainsFunc(w.nodes, func(n *planNode) bool { return n.blocked == "" && n.agKey != "" }) {
			return nil
		}
		g, err := f.readWorkspaceGrants(ctx, w, c)
		if errors.Is(err, scim.ErrPermissionDenied) {
			return fmt.Errorf("read grants: %w (the plan reads the ACL of every object as each group's baseline: plan as an admin of the workspace)", err)
		}
		if err != nil {
			return fmt.Errorf("read grants: %w", err)
		}
		w.grants = g
		return nil
	}, clients)
}

// readWorkspaceGrants reads the ACLs of every listed object and secret
// scope of one workspace.
func (f *planFetcher) readWorkspaceGrants(ctx context.Context, w *planWS, c *scim.WorkspaceClient) (*planGrants, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	task := f.task("grants " + w.planLabel())
	type result struct {
		by      map[string]*GroupGrants
		objects int
		absent  bool
		err     error
	}
	results := make([]result, len(planACLListers)+1)
	var wg sync.WaitGroup
	for i, l := range planACLListers {
		wg.Go(func() {
			r := &results[i]
			r.by = map[string]*GroupGrants{}
			singleton := l.typ == "authorization"
			ids, err := l.ids(ctx, c)
			if err != nil {
				r.absent, r.err = absentKind(err, false), fmt.Errorf("list %s: %w", l.kind, err)
				return
			}
			task.expect(len(ids))
			var mu sync.Mutex
			errs := make([]error, len(ids))
			err = planBounded(ctx, len(ids), planGrantWorkers, func(ctx context.Context, k int) error {
				acl, err := scim.GetPermissions(ctx, c, l.typ, ids[k])
				task.add(1)
				switch {
				case singleton && absentKind(err, true):
					r.absent = true
					return nil
				case errors.Is(err, scim.ErrNotFound):
					return nil // deleted since it was listed
				case err != nil:
					errs[k] = fmt.Errorf("read permissions of %s/%s: %w", l.typ, ids[k], err)
					return errs[k]
				}
				mu.Lock()
				defer mu.Unlock()
				groupGrantsOf(l.typ, ids[k], acl, r.by)
				r.objects++
				return nil
			}, errs)
			if err != nil {
				r.err = err
				cancel()
			}
		})
	}
	wg.Go(func() {
		r := &results[len(planACLListers)]
		r.by = map[string]*GroupGrants{}
		r.objects, r.err = readSecretGrants(ctx, c, r.by)
		if r.err != nil {
			cancel()
		}
	})
	wg.Wait()
	out := &planGrants{byGroup: map[string]*GroupGrants{}, read: WorkspaceGrants{Kinds: []string{}}}
	for i, r := range results {
		if i < len(planACLListers) {
			l := planACLListers[i]
			switch {
			case r.absent:
				out.read.Absent = append(out.read.Absent, l.kind)
				continue
			case r.err != nil && !errors.Is(r.err, context.Canceled):
				task.fail(r.err)
				return nil, r.err
			}
			out.read.Kinds = append(out.read.Kinds, l.kind)
			out.read.Objects += r.objects
		} else if r.err != nil && !errors.Is(r.err, context.Canceled) {
			task.fail(r.err)
			return nil, r.err
		} else {
			out.read.SecretScopes = r.objects
		}
		for name, g := range r.by {
			all := out.byGroup[name]
			if all == nil {
				all = &GroupGrants{}
				out.byGroup[name] = all
			}
			all.Objects = append(all.Objects, g.Objects...)
			all.Secrets = append(all.Secrets, g.Secrets...)
		}
	}
	if err := ctx.Err(); err != nil {
		task.fail(err)
		return nil, err
	}
	task.done(fmt.Sprintf("%d objects and %d secret scopes", out.read.Objects, out.read.SecretScopes))
	f.log.Info("read grants", "workspace", w.info.Name, "objects", out.read.Objects, "secret_scopes", out.read.SecretScopes,
		"kinds_absent", len(out.read.Absent))
	return out, nil
}

// readSecretGrants reads the ACLs of every secret scope of a workspace
// into by (principal name -> grants) and returns how many scopes it read.
func readSecretGrants(ctx context.Context, d scim.Doer, by map[string]*GroupGrants) (int, error) {
	scopes, err := listSecretScopes(ctx, d)
	if err != nil {
		return 0, fmt.Errorf("list secret scopes: %w", err)
	}
	n := 0
	for _, sc := range scopes {
		acls, err := listSecretACLs(ctx, d, sc)
		switch {
		case errors.Is(err, scim.ErrNotFound):
			continue // deleted since it was listed
		case err != nil:
			return 0, fmt.Errorf("list ACLs of secret scope %q: %w", sc, err)
		}
		n++
		for _, a := range acls {
			g := by[a.Principal]
			if g == nil {
				g = &GroupGrants{}
				by[a.Principal] = g
			}
			g.Secrets = append(g.Secrets, SecretGrant{Scope: sc, Permission: a.Permission})
		}
	}
	return n, nil
}

// fail ends c's task with err (nil c: nothing).
func (c *planCounter) fail(err error) {
	if c != nil {
		c.task.Fail(err)
	}
}

// done ends c's task with a note (nil c: nothing).
func (c *planCounter) done(note string) {
	if c != nil {
		c.task.Done(note)
	}
}
