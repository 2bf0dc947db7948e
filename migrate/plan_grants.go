package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/dbiam/dbiam/migrate/internal/fanout"
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

// aclLister lists the objects of one kind, as permissions API object types
// and ids.
type aclLister struct {
	kind string // as recorded in WorkspaceGrants.Kinds
	typ  string // the permissions API's object type; "" when list gives each object's
	ids  func(ctx context.Context, d scim.Doer) ([]string, error)
	// list, when set instead of ids, lists objects of several types (the
	// workspace tree).
	list func(ctx context.Context, d scim.Doer) ([]aclObject, error)
}

// aclObject is one object whose ACL the plan reads.
type aclObject struct{ typ, id string }

// objects lists the lister's objects.
func (l aclLister) objects(ctx context.Context, d scim.Doer) ([]aclObject, error) {
	if l.list != nil {
		return l.list(ctx, d)
	}
	ids, err := l.ids(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]aclObject, len(ids))
	for i, id := range ids {
		out[i] = aclObject{l.typ, id}
	}
	return out, nil
}

// Kinds of WorkspaceGrants.Kinds that are not a permissions API type.
const (
	// kindHomeFolders: the directories under /Users (what audit reads).
	kindHomeFolders = "home-folders"
	// kindWorkspaceTree: every directory, notebook and file of the
	// workspace tree, and its Git folders (--read-workspace-tree).
	kindWorkspaceTree = "workspace-tree"
)

// planACLListers are the object kinds whose ACLs the plan reads, the ones
// audit reads. The two singletons (token and password usage) need no list.
var planACLListers = []aclLister{
	{"authorization/tokens", "authorization", fixedID("tokens"), nil},
	{"authorization/passwords", "authorization", fixedID("passwords"), nil},
	{"jobs", "jobs", idsOf(scim.ListJobs, func(j scim.Job) string { return strconv.FormatInt(j.JobID, 10) }), nil},
	{"clusters", "clusters", idsOf(scim.ListClusters, func(c scim.Cluster) string { return c.ClusterID }), nil},
	{"warehouses", "warehouses", idsOf(scim.ListWarehouses, func(w scim.Warehouse) string { return w.ID }), nil},
	{"pipelines", "pipelines", idsOf(scim.ListPipelines, func(p scim.Pipeline) string { return p.PipelineID }), nil},
	{"queries", "queries", idsOf(scim.ListQueries, func(q scim.Query) string { return q.ID }), nil},
	{"alerts", "alerts", idsOf(scim.ListAlerts, func(a scim.Alert) string { return a.ID }), nil},
	{"alertsv2", "alertsv2", idsOf(scim.ListAlertsV2, func(a scim.Alert) string { return a.ID }), nil},
	{"dbsql-dashboards", "dbsql-dashboards", idsOf(scim.ListLegacyDashboards, func(d scim.LegacyDashboard) string { return d.ID }), nil},
	{"dashboards", "dashboards", idsOf(scim.ListDashboards, func(d scim.Dashboard) string { return d.DashboardID }), nil},
	{"serving-endpoints", "serving-endpoints", idsOf(scim.ListServingEndpoints, func(e scim.ServingEndpoint) string { return e.ID }), nil},
	{"apps", "apps", idsOf(scim.ListApps, func(a scim.App) string { return a.Name }), nil},
	{"experiments", "experiments", idsOf(scim.ListExperiments, func(e scim.Experiment) string { return e.ExperimentID }), nil},
	{"registered-models", "registered-models", mlModelIDs, nil},
	{"instance-pools", "instance-pools", idsOf(scim.ListInstancePools, func(p scim.InstancePool) string { return p.InstancePoolID }), nil},
	{"cluster-policies", "cluster-policies", idsOf(scim.ListClusterPolicies, func(p scim.ClusterPolicy) string { return p.PolicyID }), nil},
	{"vector-search-endpoints", "vector-search-endpoints", idsOf(scim.ListVectorSearchEndpoints, func(e scim.VectorSearchEndpoint) string { return e.ID }), nil},
	{"repos", "repos", repoIDs, nil},
	{kindHomeFolders, "directories", homeFolderIDs, nil},
}

// treeLister reads the whole workspace tree instead of the home folders
// and Git folders (--read-workspace-tree).
var treeLister = aclLister{kind: kindWorkspaceTree, list: treeObjects}

// listersFor returns the listers of a plan: with tree, the workspace tree
// replaces the home folders and Git folders, which it holds.
func listersFor(tree bool) []aclLister {
	if !tree {
		return planACLListers
	}
	out := slices.DeleteFunc(slices.Clone(planACLListers), func(l aclLister) bool { return l.kind == kindHomeFolders || l.kind == "repos" })
	return append(out, treeLister)
}

// mlModelIDs lists the registry models by the Databricks id their
// permissions are keyed by (one GET per model).
func mlModelIDs(ctx context.Context, d scim.Doer) ([]string, error) {
	models, err := scim.ListMLModels(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(models))
	for _, m := range models {
		id, err := scim.MLModelID(ctx, d, m.Name)
		if errors.Is(err, scim.ErrNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("read registered model %q: %w", m.Name, err)
		}
		out = append(out, id)
	}
	return out, nil
}

// repoIDs lists every Git folder: those under /Repos (the API's default)
// and those in home folders under /Users, as audit lists them.
func repoIDs(ctx context.Context, d scim.Doer) ([]string, error) {
	var out []string
	for _, prefix := range []string{"", "/Users"} {
		for r, err := range scim.Repos(ctx, d, prefix) {
			if err != nil {
				return nil, err
			}
			if id := strconv.FormatInt(r.ID, 10); !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// homeFolderIDs lists the directories under /Users; a workspace without
// any has no /Users folder (404): none.
func homeFolderIDs(ctx context.Context, d scim.Doer) ([]string, error) {
	objs, err := scim.ListWorkspace(ctx, d, "/Users")
	if isMissingPath(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, o := range objs {
		if o.ObjectType == "DIRECTORY" {
			out = append(out, strconv.FormatInt(o.ObjectID, 10))
		}
	}
	return out, nil
}

// isMissingPath reports whether a workspace API error says the path does
// not exist.
func isMissingPath(err error) bool {
	var ae *scim.APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.ErrorCode == "RESOURCE_DOES_NOT_EXIST"
}

// treeTypes maps the workspace tree's object types to the permissions
// API's (libraries have no ACL; a tree DASHBOARD is a Lakeview dashboard,
// read by its own list).
var treeTypes = map[string]string{"DIRECTORY": "directories", "NOTEBOOK": "notebooks", "FILE": "files", "REPO": "repos"}

// treeObjects walks the workspace tree from /, one list per directory
// (Git folders are not entered: their contents take the folder's ACL).
func treeObjects(ctx context.Context, d scim.Doer) ([]aclObject, error) {
	var out []aclObject
	dirs := []string{"/"}
	for len(dirs) > 0 {
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		objs, err := scim.ListWorkspace(ctx, d, dir)
		if isMissingPath(err) {
			continue // deleted since its parent was listed
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		for _, o := range objs {
			typ, ok := treeTypes[o.ObjectType]
			if !ok {
				continue
			}
			out = append(out, aclObject{typ, strconv.FormatInt(o.ObjectID, 10)})
			if o.ObjectType == "DIRECTORY" {
				dirs = append(dirs, o.Path)
			}
		}
	}
	return out, nil
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
// Every workspace has a progress task for its grants, counted before the
// bar started: one whose grants are not read ends at once saying why.
func (f *planFetcher) readGrants(ctx context.Context, clients []*scim.WorkspaceClient) error {
	var mu sync.Mutex
	read := map[*planWS]bool{} // workspaces whose grants task started
	err := f.eachWorkspace(ctx, func(ctx context.Context, w *planWS, c *scim.WorkspaceClient) error {
		if !slices.ContainsFunc(w.nodes, func(n *planNode) bool { return n.blocked == "" && n.agKey != "" }) {
			return nil
		}
		mu.Lock()
		read[w] = true
		mu.Unlock()
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
	if err != nil {
		return err
	}
	for _, w := range f.b.ws {
		if !read[w] {
			why := "no group of it is migrated"
			switch {
			case w.readErr != nil:
				why = "the workspace could not be read"
			case w.skipped != "":
				why = "the workspace is skipped"
			}
			f.task("grants " + w.planLabel()).done("not read: " + why)
		}
	}
	return nil
}

// readWorkspaceGrants reads the ACLs of every listed object and secret
// scope of one workspace.
func (f *planFetcher) readWorkspaceGrants(ctx context.Context, w *planWS, c *scim.WorkspaceClient) (*planGrants, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	listers := listersFor(f.b.settings.ReadWorkspaceTree)
	task := f.partsTask("grants "+w.planLabel(), len(listers))
	type result struct {
		by      map[string]*GroupGrants
		objects int
		absent  bool
		err     error
	}
	results := make([]result, len(listers)+1)
	var wg sync.WaitGroup
	for i, l := range listers {
		wg.Go(func() {
			r := &results[i]
			r.by = map[string]*GroupGrants{}
			singleton := l.typ == "authorization"
			objs, err := l.objects(ctx, c)
			if err != nil {
				task.expect(0)
				r.absent, r.err = absentKind(err, false), fmt.Errorf("list %s: %w", l.kind, err)
				return
			}
			task.expect(len(objs))
			var mu sync.Mutex
			errs := make([]error, len(objs))
			err = fanout.Bounded(ctx, len(objs), planGrantWorkers, func(ctx context.Context, k int) error {
				o := objs[k]
				acl, err := scim.GetPermissions(ctx, c, o.typ, o.id)
				task.add(1)
				switch {
				case singleton && absentKind(err, true):
					r.absent = true
					return nil
				case errors.Is(err, scim.ErrNotFound):
					return nil // deleted since it was listed
				case err != nil:
					errs[k] = fmt.Errorf("read permissions of %s/%s: %w", o.typ, o.id, err)
					return errs[k]
				}
				mu.Lock()
				defer mu.Unlock()
				groupGrantsOf(o.typ, o.id, acl, r.by)
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
		r := &results[len(listers)]
		r.by = map[string]*GroupGrants{}
		r.objects, r.err = readSecretGrants(ctx, c, r.by)
		if r.err != nil {
			cancel()
		}
	})
	wg.Wait()
	out := &planGrants{byGroup: map[string]*GroupGrants{}, read: WorkspaceGrants{Kinds: []string{}}}
	for i, r := range results {
		if i < len(listers) {
			l := listers[i]
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
