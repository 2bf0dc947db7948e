package handover

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// leaver is a leaving identity as objects may refer to it.
type leaver struct {
	Identity
	key string         // Principal.String()
	ids map[int64]bool // numeric SCIM ids (account, and local ones of non-federated workspaces)
}

// names reports whether name (as an object field writes it) is the
// leaver: user names and application ids compare case-insensitively.
func (l *leaver) names(name string) bool { return name != "" && strings.EqualFold(name, l.Name) }

// leavers is the set of leaving identities; they go together.
type leavers []*leaver

// byName returns the leaver an object field names, or nil.
func (ls leavers) byName(name string) *leaver {
	for _, l := range ls {
		if l.names(name) {
			return l
		}
	}
	return nil
}

// byPrincipal returns the leaver p is, or nil.
func (ls leavers) byPrincipal(p Principal) *leaver {
	for _, l := range ls {
		if l.Principal.Is(p) {
			return l
		}
	}
	return nil
}

// tie is one dependency of an object on a leaver, found by reading a
// workspace: the plan turns it into a change, a conflict or a note.
type tie struct {
	kind, objectID, objectName string
	state                      string
	who                        *leaver
	action                     string
	from                       Principal
	// needsRestart: the change restarts (or needs terminating) a running
	// cluster.
	needsRestart bool
	// note, when set, is why the object is left as it is.
	note   string
	breaks bool
}

// workspaceRead is what one workspace's reads found.
type workspaceRead struct {
	ties    []tie
	notRead []string
	reads   int
}

// detailWorkers bounds concurrent permission reads per kind and workspace;
// the transport's concurrency cap and rate limits are the real bounds.
const detailWorkers = 8

// featureAbsent reports whether a list error says the API does not exist
// on the workspace (404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED), as audit
// treats v2 alerts.
func featureAbsent(err error) bool {
	var ae *scim.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound {
		return false
	}
	return ae.ErrorCode == "ENDPOINT_NOT_FOUND" || ae.ErrorCode == "FEATURE_DISABLED"
}

// adminsGroup can manage every object; it never counts as a remaining
// manager.
const adminsGroup = "admins"

// aclOwner returns an ACL's IS_OWNER principal.
func aclOwner(acl scim.ObjectPermissions) (Principal, bool) {
	for _, e := range acl.AccessControlList {
		for _, l := range e.Levels() {
			if l.PermissionLevel == scim.PermissionIsOwner {
				return aclPrincipal(e), true
			}
		}
	}
	return Principal{}, false
}

func aclPrincipal(e scim.AccessControl) Principal {
	name, kind := e.Principal()
	switch kind {
	case "user":
		return Principal{TypeUser, name}
	case "service-principal":
		return Principal{TypeServicePrincipal, name}
	}
	return Principal{TypeGroup, name}
}

// aclManagers returns the principals holding CAN_MANAGE or IS_OWNER,
// directly or inherited, except the admins group.
func aclManagers(acl scim.ObjectPermissions) []Principal {
	var out []Principal
	for _, e := range acl.AccessControlList {
		p := aclPrincipal(e)
		if p.Name == "" || (p.Type == TypeGroup && p.Name == adminsGroup) {
			continue
		}
		for _, l := range e.Levels() {
			if l.PermissionLevel == scim.PermissionCanManage || l.PermissionLevel == scim.PermissionIsOwner {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// aclLevel returns p's direct level in acl ("" when none).
func aclLevel(acl scim.ObjectPermissions, p Principal) string {
	for _, e := range acl.AccessControlList {
		if aclPrincipal(e).Is(p) {
			for _, l := range e.Levels() {
				if !l.Inherited {
					return l.PermissionLevel
				}
			}
		}
	}
	return ""
}

// soleManager returns the leaver that is a manager of acl when no manager
// outside the leaving set remains.
func (ls leavers) soleManager(acl scim.ObjectPermissions) *leaver {
	var found *leaver
	for _, m := range aclManagers(acl) {
		l := ls.byPrincipal(m)
		if l == nil {
			return nil // someone who stays can manage it
		}
		if found == nil {
			found = l
		}
	}
	return found
}

// forEach runs f on every item with at most n at once.
func forEach[T any](ctx context.Context, items []T, n int, f func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range min(max(n, 1), len(items)) {
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

// collect drains an iterator.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// reader reads one workspace for a plan. Only GET requests are made.
type reader struct {
	d       scim.Doer
	ls      leavers
	kinds   map[string]bool
	restart bool
	task    *reports.Task // counts the kinds read; nil for none

	mu  sync.Mutex
	out workspaceRead
}

func (r *reader) add(t tie) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.ties = append(r.out.ties, t)
}

func (r *reader) failed(kind string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.notRead = append(r.out.notRead, kind+": "+err.Error())
}

func (r *reader) counted(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.reads += n
}

// permissions reads the ACLs of ids (type typ) concurrently; a failed read
// fails the kind.
func (r *reader) permissions(ctx context.Context, typ string, ids []string) (map[string]scim.ObjectPermissions, error) {
	out := make(map[string]scim.ObjectPermissions, len(ids))
	var mu sync.Mutex
	var first error
	forEach(ctx, ids, detailWorkers, func(id string) {
		acl, err := scim.GetPermissions(ctx, r.d, typ, id)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if first == nil {
				first = err
			}
			return
		}
		out[id] = acl
	})
	r.counted(len(ids))
	if first == nil {
		first = ctx.Err()
	}
	return out, first
}

// read lists every selected kind of the workspace, concurrently.
func (r *reader) read(ctx context.Context) workspaceRead {
	steps := map[string]func(context.Context) error{
		KindJob: r.jobs, KindPipeline: r.pipelines, KindCluster: r.clusters, KindWarehouse: r.warehouses,
		KindQuery: r.queries, KindAlert: r.alerts, KindAlertV2: r.alertsV2, KindLegacyDashboard: r.legacyDashboards,
		KindDashboard: r.dashboards, KindServingEndpoint: r.servingEndpoints, KindApp: r.apps, KindToken: r.tokens,
		KindExperiment: r.experiments, KindMLModel: r.mlModels, KindInstancePool: r.instancePools,
		KindVectorSearch: r.vectorSearch, KindRepo: r.repos, KindSecretScope: r.secretScopes,
	}
	var selected []string
	for _, k := range Kinds() {
		if r.kinds[k] && steps[k] != nil { // not a Unity Catalog kind (read per metastore)
			selected = append(selected, k)
		}
	}
	if r.task != nil {
		r.task.SetTotal(int64(len(selected)))
	}
	var wg sync.WaitGroup
	for _, k := range selected {
		wg.Go(func() {
			if err := steps[k](ctx); err != nil {
				r.failed(k, err)
			}
			if r.task != nil {
				r.task.Add(1)
			}
		})
	}
	wg.Wait()
	slices.Sort(r.out.notRead)
	return r.out
}

func (r *reader) jobs(ctx context.Context) error {
	jobs, err := collect(scim.Jobs(ctx, r.d))
	if err != nil {
		return err
	}
	r.counted(1 + len(jobs)/100)
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = strconv.FormatInt(j.JobID, 10)
	}
	acls, err := r.permissions(ctx, "jobs", ids)
	if err != nil {
		return err
	}
	for i, j := range jobs {
		id := ids[i]
		owner, hasOwner := aclOwner(acls[id])
		if l := r.ls.byPrincipal(owner); hasOwner && l != nil {
			r.add(tie{kind: KindJob, objectID: id, objectName: j.Settings.Name, who: l, action: ActionOwner, from: owner})
		}
		ra := j.Settings.RunAs
		switch {
		case ra.Name() != "":
			if l := r.ls.byName(ra.Name()); l != nil {
				from := Principal{TypeUser, ra.Name()}
				if ra.ServicePrincipalName != "" {
					from.Type = TypeServicePrincipal
				}
				r.add(tie{kind: KindJob, objectID: id, objectName: j.Settings.Name, who: l, action: ActionRunAs, from: from})
			}
		case !hasOwner:
			// No owner in the ACL: the job runs as its creator.
			if l := r.ls.byName(j.CreatorUserName); l != nil {
				r.add(tie{kind: KindJob, objectID: id, objectName: j.Settings.Name, who: l, action: ActionRunAs, from: l.Principal})
			}
		}
	}
	return nil
}

func (r *reader) pipelines(ctx context.Context) error {
	ps, err := scim.ListPipelines(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(ps)/100)
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.PipelineID
	}
	acls, err := r.permissions(ctx, "pipelines", ids)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if owner, ok := aclOwner(acls[p.PipelineID]); ok {
			if l := r.ls.byPrincipal(owner); l != nil {
				r.add(tie{kind: KindPipeline, objectID: p.PipelineID, objectName: p.Name, state: p.State, who: l, action: ActionOwner, from: owner})
			}
		}
		if l := r.ls.byName(p.RunAsUserName); l != nil {
			r.add(tie{kind: KindPipeline, objectID: p.PipelineID, objectName: p.Name, state: p.State, who: l, action: ActionRunAs, from: l.Principal})
		}
	}
	return nil
}

// jobClusterSources are the cluster sources whose clusters end with their
// run (they follow their job or pipeline).
var jobClusterSources = []string{"JOB", "PIPELINE", "PIPELINE_MAINTENANCE"}

func (r *reader) clusters(ctx context.Context) error {
	cs, err := collect(scim.Clusters(ctx, r.d))
	if err != nil {
		return err
	}
	r.counted(2 + len(cs)/100)
	for _, c := range cs {
		job := slices.Contains(jobClusterSources, c.ClusterSource)
		running := c.State != "TERMINATED"
		for _, rel := range []struct {
			name, action string
		}{{c.CreatorUserName, ActionOwner}, {c.SingleUserName, ActionSingleUser}} {
			l := r.ls.byName(rel.name)
			if l == nil {
				continue
			}
			t := tie{kind: KindCluster, objectID: c.ClusterID, objectName: c.ClusterName, state: c.State, who: l,
				action: rel.action, from: l.Principal, needsRestart: running}
			switch {
			case job:
				t.note = "a " + strings.ToLower(c.ClusterSource) + " cluster ends with its run; its job or pipeline is handed over"
			case running && !r.restart && rel.action == ActionOwner:
				t.note, t.breaks = "the cluster is "+c.State+" and change-owner needs it terminated: pass --restart-clusters, or plan again once it is terminated", true
			case running && !r.restart:
				t.note, t.breaks = "the cluster is "+c.State+" and changing its dedicated user restarts it: pass --restart-clusters, or plan again once it is terminated", true
			}
			r.add(t)
		}
	}
	return nil
}

func (r *reader) warehouses(ctx context.Context) error {
	ws, err := scim.ListWarehouses(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(ws)/100)
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	acls, err := r.permissions(ctx, "warehouses", ids)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if owner, ok := aclOwner(acls[w.ID]); ok {
			if l := r.ls.byPrincipal(owner); l != nil {
				r.add(tie{kind: KindWarehouse, objectID: w.ID, objectName: w.Name, state: w.State, who: l, action: ActionOwner, from: owner})
			}
		}
	}
	return nil
}

func (r *reader) queries(ctx context.Context) error {
	qs, err := scim.ListQueries(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(qs)/100)
	for _, q := range qs {
		if l := r.ls.byName(q.OwnerUserName); l != nil {
			r.add(tie{kind: KindQuery, objectID: q.ID, objectName: q.DisplayName, who: l, action: ActionOwner, from: l.Principal})
		}
	}
	return nil
}

func (r *reader) alerts(ctx context.Context) error {
	as, err := scim.ListAlerts(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(as)/100)
	for _, a := range as {
		if l := r.ls.byName(a.OwnerUserName); l != nil {
			r.add(tie{kind: KindAlert, objectID: a.ID, objectName: a.DisplayName, who: l, action: ActionOwner, from: l.Principal})
		}
	}
	return nil
}

func (r *reader) alertsV2(ctx context.Context) error {
	as, err := scim.ListAlertsV2(ctx, r.d)
	if featureAbsent(err) {
		return nil // the workspace does not have v2 alerts
	}
	if err != nil {
		return err
	}
	r.counted(1 + len(as)/100)
	for _, a := range as {
		if l := r.ls.byName(a.OwnerUserName); l != nil {
			r.add(tie{kind: KindAlertV2, objectID: a.ID, objectName: a.DisplayName, who: l, action: ActionOwner, from: l.Principal})
		}
		if n := a.RunAs.Name(); n != "" {
			if l := r.ls.byName(n); l != nil {
				r.add(tie{kind: KindAlertV2, objectID: a.ID, objectName: a.DisplayName, who: l, action: ActionRunAs, from: l.Principal})
			}
		}
	}
	return nil
}

func (r *reader) legacyDashboards(ctx context.Context) error {
	ds, err := scim.ListLegacyDashboards(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(ds)/100)
	for _, d := range ds {
		if d.User == nil {
			continue
		}
		if l := r.ls.byName(d.User.Email); l != nil {
			r.add(tie{kind: KindLegacyDashboard, objectID: d.ID, objectName: d.Name, who: l, action: ActionOwner, from: l.Principal})
		}
	}
	return nil
}

// managed reads the ACLs of objects (all, or those whose creator is a
// leaver) and adds a manage tie where a leaver is the only manager.
func (r *reader) managed(ctx context.Context, kind, typ string, ids, names, creators []string, all bool) error {
	var need []string
	for i, id := range ids {
		if all || r.ls.byName(creators[i]) != nil {
			need = append(need, id)
		}
	}
	acls, err := r.permissions(ctx, typ, need)
	if err != nil {
		return err
	}
	for i, id := range ids {
		acl, ok := acls[id]
		if !ok {
			continue
		}
		if l := r.ls.soleManager(acl); l != nil {
			r.add(tie{kind: kind, objectID: id, objectName: names[i], who: l, action: ActionManage, from: l.Principal})
		}
	}
	return nil
}

func (r *reader) dashboards(ctx context.Context) error {
	ds, err := scim.ListDashboards(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(ds)/100)
	ids, names := make([]string, len(ds)), make([]string, len(ds))
	for i, d := range ds {
		ids[i], names[i] = d.DashboardID, d.DisplayName
	}
	// Lakeview dashboards have no owner field: every ACL is read.
	return r.managed(ctx, KindDashboard, "dashboards", ids, names, make([]string, len(ds)), true)
}

func (r *reader) servingEndpoints(ctx context.Context) error {
	es, err := scim.ListServingEndpoints(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1)
	ids, names, creators := make([]string, len(es)), make([]string, len(es)), make([]string, len(es))
	for i, e := range es {
		ids[i], names[i], creators[i] = e.ID, e.Name, e.Creator
	}
	return r.managed(ctx, KindServingEndpoint, "serving-endpoints", ids, names, creators, false)
}

func (r *reader) apps(ctx context.Context) error {
	as, err := scim.ListApps(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(as)/100)
	ids, creators := make([]string, len(as)), make([]string, len(as))
	for i, a := range as {
		ids[i], creators[i] = a.Name, a.Creator
	}
	return r.managed(ctx, KindApp, "apps", ids, ids, creators, false)
}

func (r *reader) tokens(ctx context.Context) error {
	ts, err := scim.ListTokens(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1)
	for _, t := range ts {
		var l *leaver
		for _, x := range r.ls {
			if (t.OwnerID != 0 && x.ids[t.OwnerID]) || (t.OwnerID == 0 && x.names(t.CreatedByUsername)) {
				l = x
			}
		}
		if l == nil {
			continue
		}
		name := t.Comment
		if name == "" {
			name = "(no comment)"
		}
		r.add(tie{kind: KindToken, objectID: t.TokenID, objectName: name, who: l, action: ActionRevoke, from: l.Principal})
	}
	return nil
}
