package audit

import (
	"context"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// inventory is everything listed in one workspace: each object kind read
// once, whatever the number of audited identities.
type inventory struct {
	objects []*object
	// failed holds the kinds whose list failed; their objects are unknown.
	failed map[Kind]error
}

// lister lists one kind of object in a workspace.
type lister struct {
	kind Kind
	list func(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo) ([]*object, error)
}

// listAll builds a lister from a scim list function and an object builder.
func listAll[T any](kind Kind, list func(context.Context, scim.Doer) ([]T, error), build func(scim.WorkspaceInfo, T) *object) lister {
	return lister{kind: kind, list: func(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo) ([]*object, error) {
		vs, err := list(ctx, d)
		if err != nil {
			return nil, err
		}
		out := make([]*object, len(vs))
		for i, v := range vs {
			out[i] = build(ws, v)
		}
		return out, nil
	}}
}

// listers are the object lists of a workspace, in ObjectKinds order.
var listers = []lister{
	listAll(KindToken, scim.ListTokens, tokenObject),
	listAll(KindJob, scim.ListJobs, jobObject),
	listAll(KindCluster, scim.ListClusters, clusterObject),
	listAll(KindWarehouse, scim.ListWarehouses, warehouseObject),
	listAll(KindPipeline, scim.ListPipelines, pipelineObject),
	listAll(KindQuery, scim.ListQueries, queryObject),
	listAll(KindAlert, scim.ListAlerts, alertObject),
	listAll(KindLegacyDashboard, scim.ListLegacyDashboards, legacyDashboardObject),
	listAll(KindDashboard, scim.ListDashboards, dashboardObject),
	listAll(KindServingEndpoint, scim.ListServingEndpoints, servingEndpointObject),
	listAll(KindApp, scim.ListApps, appObject),
}

// fetchInventory lists every object kind of a workspace concurrently (the
// transport caps in-flight requests per workspace). A kind whose list fails
// is recorded in failed, never treated as empty.
func fetchInventory(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo) inventory {
	results := make([][]*object, len(listers))
	errs := make([]error, len(listers))
	var wg sync.WaitGroup
	for i, l := range listers {
		wg.Go(func() {
			results[i], errs[i] = l.list(ctx, d, ws)
		})
	}
	wg.Wait()
	inv := inventory{failed: map[Kind]error{}}
	for i, l := range listers {
		if errs[i] != nil {
			inv.failed[l.kind] = errs[i]
			continue
		}
		inv.objects = append(inv.objects, results[i]...)
	}
	return inv
}

// detailWorkers bounds concurrent permission and jobs/get reads per
// workspace. The transport's per-workspace concurrency cap and the
// permissions-read rate limit are the real bounds; this only keeps the
// number of waiting goroutines small.
const detailWorkers = 8

// fetchDetails reads, for the objects that need them, their access control
// lists (class permissions-read) and then, for jobs whose run-as is still
// unknown, jobs/get. Errors are stored on the objects.
func fetchDetails(ctx context.Context, d scim.Doer, objs []*object, scope PermissionScope, m matcher, ws int64) (acls, gets int) {
	var need []*object
	for _, o := range objs {
		if needsACL(o, scope, m, ws) {
			need = append(need, o)
		}
	}
	parallel(ctx, need, func(o *object) {
		p, err := scim.GetPermissions(ctx, d, o.permType, o.permID)
		if err != nil {
			o.aclErr = err
			return
		}
		o.acl = &p
	})
	var jobs []*object
	for _, o := range objs {
		if needsJobGet(o, m, ws) {
			jobs = append(jobs, o)
		}
	}
	parallel(ctx, jobs, func(o *object) {
		j, err := scim.GetJob(ctx, d, o.job.JobID)
		if err != nil {
			o.jobErr = err
			return
		}
		o.jobRunAs = j.RunAsUserName
	})
	return len(need), len(jobs)
}

// parallel runs f on every item with at most detailWorkers at once; it
// stops handing out items once ctx is done.
func parallel[T any](ctx context.Context, items []T, f func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range min(detailWorkers, len(items)) {
		wg.Go(func() {
			for it := range ch {
				f(it)
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		ch <- it
	}
	close(ch)
	wg.Wait()
}
