package audit

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// inventory is everything listed in one workspace: each object kind read
// once, whatever the number of audited identities.
type inventory struct {
	objects []*object
	// failed holds the kinds whose list failed; their objects are unknown.
	failed map[Kind]error
	// unavailable holds the optional kinds the workspace does not have
	// (the API answered that the endpoint or feature does not exist).
	unavailable map[Kind]error
}

// lister lists one kind of object in a workspace. list calls emit with
// each batch of objects as it arrives (a page of a streamed list, or the
// whole list) and returns the list's error, if any.
type lister struct {
	kind Kind
	list func(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo, emit func([]*object)) error
	// optional kinds may be absent from a workspace (see featureAbsent).
	optional bool
}

// optionally marks a lister's kind as one a workspace may not have.
func (l lister) optionally() lister {
	l.optional = true
	return l
}

// featureAbsent reports whether a list error says the API does not exist
// on the workspace (404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED), as
// opposed to a failure to read it.
func featureAbsent(err error) bool {
	var ae *scim.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound {
		return false
	}
	return ae.ErrorCode == "ENDPOINT_NOT_FOUND" || ae.ErrorCode == "FEATURE_DISABLED"
}

// listAll builds a lister from a scim list function and an object builder.
func listAll[T any](kind Kind, list func(context.Context, scim.Doer) ([]T, error), build func(scim.WorkspaceInfo, T) *object) lister {
	return lister{kind: kind, list: func(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo, emit func([]*object)) error {
		vs, err := list(ctx, d)
		if err != nil {
			return err
		}
		out := make([]*object, len(vs))
		for i, v := range vs {
			out[i] = build(ws, v)
		}
		emit(out)
		return nil
	}}
}

// streamBatch is how many objects of a streamed list are handed on at
// once: one page.
const streamBatch = 100

// listStream builds a lister from a scim iterator; objects are emitted a
// page at a time so that their permission reads start before the list
// ends.
func listStream[T any](kind Kind, seq func(context.Context, scim.Doer) iter.Seq2[T, error], build func(scim.WorkspaceInfo, T) *object) lister {
	return lister{kind: kind, list: func(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo, emit func([]*object)) error {
		var batch []*object
		for v, err := range seq(ctx, d) {
			if err != nil {
				return err
			}
			batch = append(batch, build(ws, v))
			if len(batch) == streamBatch {
				emit(batch)
				batch = nil
			}
		}
		if len(batch) > 0 {
			emit(batch)
		}
		return nil
	}}
}

// listers are the object lists of a workspace, in ObjectKinds order.
var listers = []lister{
	listAll(KindToken, scim.ListTokens, tokenObject),
	listStream(KindJob, scim.Jobs, jobObject),
	listStream(KindCluster, scim.Clusters, clusterObject),
	listAll(KindWarehouse, scim.ListWarehouses, warehouseObject),
	listAll(KindPipeline, scim.ListPipelines, pipelineObject),
	listAll(KindQuery, scim.ListQueries, queryObject),
	listAll(KindAlert, scim.ListAlerts, alertObject),
	listAll(KindAlertV2, scim.ListAlertsV2, alertV2Object).optionally(),
	listAll(KindLegacyDashboard, scim.ListLegacyDashboards, legacyDashboardObject),
	listAll(KindDashboard, scim.ListDashboards, dashboardObject),
	listAll(KindServingEndpoint, scim.ListServingEndpoints, servingEndpointObject),
	listAll(KindApp, scim.ListApps, appObject),
	listAll(KindExperiment, scim.ListExperiments, experimentObject),
	listAll(KindMLModel, scim.ListMLModels, mlModelObject),
	listAll(KindInstancePool, scim.ListInstancePools, instancePoolObject),
	listAll(KindClusterPolicy, scim.ListClusterPolicies, clusterPolicyObject),
	listAll(KindSecretScope, scim.ListSecretScopes, secretScopeObject),
	listAll(KindVectorSearch, scim.ListVectorSearchEndpoints, vectorSearchObject),
	listAll(KindRepo, scim.ListAllRepos, repoObject),
	listAll(KindHomeFolder, listHomeFolders, homeFolderObject),
}

// listHomeFolders lists the home folders: the directories under /Users.
// A workspace without any has no /Users folder (404): none.
func listHomeFolders(ctx context.Context, d scim.Doer) ([]scim.ObjectInfo, error) {
	objs, err := scim.ListWorkspace(ctx, d, "/Users")
	if err != nil {
		var ae *scim.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.ErrorCode == "RESOURCE_DOES_NOT_EXIST" {
			return nil, nil
		}
		return nil, err
	}
	var out []scim.ObjectInfo
	for _, o := range objs {
		if o.ObjectType == "DIRECTORY" {
			out = append(out, o)
		}
	}
	return out, nil
}

// inventoryHooks observe a workspace scan.
type inventoryHooks struct {
	// listed, if set, is called with each batch of listed objects, before
	// their details are read, and detailed after (--all uses them to
	// resolve names early). They are called from several goroutines.
	listed, detailed func(objs []*object)
	// kindDone, if set, is called when a kind is listed and its details
	// read (or its list failed); from several goroutines.
	kindDone func()
}

// scanInventory lists every object kind of a workspace and reads the
// details that matter for each (ACLs, then jobs/get), concurrently: the
// permission reads of a page of jobs or clusters start as soon as the page
// arrives, while the lists go on (the transport caps
// in-flight requests per workspace, and each endpoint class has its own
// rate limit). A kind whose list fails is recorded in failed, never treated
// as empty, except that an optional kind whose API the workspace does not
// have is recorded in unavailable.
func scanInventory(ctx context.Context, d scim.Doer, ws scim.WorkspaceInfo, scope PermissionScope, m matcher, hooks inventoryHooks) (inv inventory, acls, gets int) {
	type result struct {
		mu         sync.Mutex
		objs       []*object
		acls, gets int
		err        error
	}
	results := make([]result, len(listers))
	var wg sync.WaitGroup
	for i, l := range listers {
		r := &results[i]
		wg.Go(func() {
			var details sync.WaitGroup
			r.err = l.list(ctx, d, ws, func(objs []*object) {
				if hooks.listed != nil {
					hooks.listed(objs)
				}
				details.Go(func() {
					a, g := fetchDetails(ctx, d, objs, scope, m, ws.ID)
					if hooks.detailed != nil {
						hooks.detailed(objs)
					}
					r.mu.Lock()
					defer r.mu.Unlock()
					r.acls += a
					r.gets += g
				})
				r.mu.Lock()
				r.objs = append(r.objs, objs...)
				r.mu.Unlock()
			})
			details.Wait()
			if hooks.kindDone != nil {
				hooks.kindDone()
			}
		})
	}
	wg.Wait()
	inv.failed = map[Kind]error{}
	inv.unavailable = map[Kind]error{}
	for i, l := range listers {
		r := &results[i]
		if r.err != nil && l.optional && featureAbsent(r.err) {
			inv.unavailable[l.kind] = r.err
			continue
		}
		if r.err != nil {
			inv.failed[l.kind] = r.err
			continue
		}
		inv.objects = append(inv.objects, r.objs...)
		acls += r.acls
		gets += r.gets
	}
	return inv, acls, gets
}

// detailWorkers bounds concurrent permission and jobs/get reads per kind
// and workspace. The transport's per-workspace concurrency cap and the
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
	parallel(ctx, need, detailWorkers, func(o *object) {
		switch {
		case o.permType == secretScopeACL:
			acls, err := scim.ListSecretACLs(ctx, d, o.id)
			if err != nil {
				o.aclErr = err
				return
			}
			o.secretACL(acls)
			return
		case o.kind == KindMLModel && o.permID == "":
			id, err := scim.MLModelID(ctx, d, o.mlModel)
			if err != nil {
				o.aclErr = err
				return
			}
			o.permID = id
		}
		p, err := scim.GetPermissions(ctx, d, o.permType, o.permID)
		if err != nil {
			o.aclErr = err
			return
		}
		o.acl = &p
	})
	// Pipeline libraries name the notebooks and files a pipeline runs
	// (home-folder findings need them): one get per pipeline.
	var pls []*object
	for _, o := range objs {
		if o.kind == KindPipeline {
			pls = append(pls, o)
		}
	}
	parallel(ctx, pls, detailWorkers, func(o *object) {
		spec, err := scim.GetPipelineSpec(ctx, d, o.id)
		if err != nil {
			o.libsErr = err
			return
		}
		o.continuous = spec.Continuous
		for _, l := range spec.Libraries {
			if p := l.Path(); p != "" {
				o.libs = append(o.libs, p)
			}
		}
	})
	// jobs/get tells a job's run-as when nothing else does, and holds the
	// tasks of a job with more than the list shows (has_more: the list
	// shows 100), which may run home-folder files.
	var jobs []*object
	for _, o := range objs {
		if needsJobGet(o, m, ws) {
			o.jobGetRunAs = true
			jobs = append(jobs, o)
		} else if o.kind == KindJob && o.job.HasMore {
			jobs = append(jobs, o)
		}
	}
	parallel(ctx, jobs, detailWorkers, func(o *object) {
		j, err := scim.GetJob(ctx, d, o.job.JobID)
		if err != nil {
			o.jobErr = err
			return
		}
		o.jobRunAs = j.RunAsUserName
		if o.job.HasMore {
			o.job.Settings.Tasks, o.job.HasMore = j.Settings.Tasks, false
			o.tasksRead = true
		}
	})
	return len(need), len(jobs) + len(pls)
}

// parallel runs f on every item, in order, with at most workers at once
// (at least one); it stops handing out items once ctx is done.
func parallel[T any](ctx context.Context, items []T, workers int, f func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range min(max(workers, 1), len(items)) {
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
