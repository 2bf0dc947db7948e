package sandbox

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// objectsFamily is the name of the workspace-objects resource family
// (Server.ext key).
const objectsFamily = "objects"

func init() {
	registerFamily(family{name: objectsFamily, load: loadObjects, routes: registerObjects})
}

// objectsState holds every workspace's objects. It is guarded by Server.mu.
type objectsState struct {
	ws map[int64]*wsObjects
}

// wsObjects are one workspace's objects, each kind in listing order.
type wsObjects struct {
	tokens     []*patObj
	jobs       []*jobObj // by job_id
	clusters   []*clusterObj
	warehouses []*warehouseObj
	pipelines  []*pipelineObj
	queries    []*queryObj   // by creation time
	alerts     []*alertObj   // by creation time
	alertsV2   []*alertV2Obj // by creation time (objects_alertsv2.go)
	legacy     []*legacyDashObj
	lakeview   []*lakeviewObj
	endpoints  []*endpointObj
	apps       []*appObj // by name
}

type patObj struct {
	id            string
	ownerID       string // principal id; the token is revoked when it goes
	ownerName     string
	createdByID   string
	createdByName string
	comment       string
	created       int64 // epoch ms
	expiry        int64 // epoch ms, -1 = never
	lastUsedDay   int64 // epoch ms of the UTC day, 0 = never used
	scopes        []string
}

type jobObj struct {
	id         int64
	name       string
	creator    string
	created    int64
	runAs      *SeedRunAs
	schedule   *SeedSchedule
	trigger    *SeedTrigger
	continuous *SeedContinuous
	tasks      []SeedTask
	email      *SeedEmailNotifications
	tags       map[string]string
}

type clusterObj struct {
	SeedCluster
	started    int64
	terminated int64
}

type warehouseObj struct {
	SeedWarehouse
}

type pipelineObj struct {
	SeedPipeline
	runAs        SeedRunAs // effective
	lastModified int64
}

type queryObj struct {
	SeedQuery
	created time.Time
}

type alertObj struct {
	SeedAlert
	created time.Time
}

type legacyDashObj struct {
	SeedLegacyDashboard
	created time.Time
	userID  int64 // owner's id, 0 when the owner was deleted
}

type lakeviewObj struct {
	SeedLakeviewDashboard
	created time.Time
}

type endpointObj struct {
	SeedServingEndpoint
	created int64
}

type appObj struct {
	SeedApp
	created time.Time
	spID    string
	spName  string
}

// defaultCreatedAgo is how old an object is when the seed gives no time.
const defaultCreatedAgo = 180 * 24 * time.Hour

// loadObjects builds the objects of every workspace from the seed.
func loadObjects(s *Server, seed *Seed) (any, error) {
	objs := seedObjects(seed)
	if err := validateSeedObjects(seed); err != nil {
		return nil, err
	}
	out := &objectsState{ws: map[int64]*wsObjects{}}
	now := s.now()
	for _, w := range s.st.workspaces {
		o, err := buildObjects(s.st, w, objs[w.id], now)
		if err != nil {
			return nil, fmt.Errorf("workspace %d objects: %w", w.id, err)
		}
		out.ws[w.id] = o
		if so := objs[w.id]; so != nil {
			if err := s.registerACLs(w, so); err != nil {
				return nil, fmt.Errorf("workspace %d objects: %w", w.id, err)
			}
		}
	}
	return out, nil
}

// registerACLs registers every object of a workspace with the permissions
// store, with its default and seeded grants. Defaults of principals that no
// longer exist are skipped (the object has lost that owner or manager).
func (s *Server) registerACLs(w *workspace, so *SeedObjects) error {
	g := s.grants(w)
	for _, a := range objectACLSpecs(so) {
		acl := g.object(a.typ, a.id)
		for _, d := range a.defaults {
			if p := s.st.findPrincipal(w, d.name); p != nil {
				acl.set(p.id, d.level)
			}
		}
		if e := s.seedACL(w, a.typ, a.id, a.grants); e != nil {
			return fmt.Errorf("%s.permissions: %s", a.field, e.msg)
		}
	}
	return nil
}

// objects returns the workspace's objects (never nil). Callers hold s.mu.
func (s *Server) objects(ws *workspace) *wsObjects {
	st, _ := s.ext[objectsFamily].(*objectsState)
	if st == nil || st.ws[ws.id] == nil {
		return &wsObjects{}
	}
	return st.ws[ws.id]
}

// findPrincipal returns the live user or service principal named name that
// objects of workspace w may refer to: one local to w or, in a federated
// workspace, an account principal (whether or not it is still assigned).
func (st *state) findPrincipal(w *workspace, name string) *principal {
	if name == "" {
		return nil
	}
	scopes := []int64{w.id}
	if w.federated {
		scopes = append(scopes, 0)
	}
	for _, k := range []kind{kindUser, kindSP} {
		for _, scope := range scopes {
			if p := st.lookupName(scope, k, name); p != nil && p.live() {
				return p
			}
		}
	}
	return nil
}

// liveName reports whether name is a live user or service principal for
// workspace w's objects.
func (st *state) liveName(w *workspace, name string) bool {
	return st.findPrincipal(w, name) != nil
}

func resolveOr(t SeedTime, now time.Time, def time.Time) (time.Time, error) {
	if t == "" {
		return def, nil
	}
	return t.resolve(now)
}

// buildObjects resolves a validated objects section: times against now and
// principal names against the state.
func buildObjects(st *state, w *workspace, so *SeedObjects, now time.Time) (*wsObjects, error) {
	o := &wsObjects{}
	if so == nil {
		return o, nil
	}
	def := now.Add(-defaultCreatedAgo)
	var errs []error
	at := func(t SeedTime) time.Time {
		v, err := resolveOr(t, now, def)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	for _, t := range so.Tokens {
		owner := st.findPrincipal(w, t.Owner)
		by := owner
		if t.CreatedBy != "" {
			by = st.findPrincipal(w, t.CreatedBy)
		}
		if owner == nil || by == nil {
			return nil, fmt.Errorf("token %s: owner or creator is not a live principal", t.TokenID)
		}
		p := &patObj{id: t.TokenID, ownerID: owner.id, ownerName: owner.name(), createdByID: by.id,
			createdByName: by.name(), comment: t.Comment, created: at(t.Created).UnixMilli(), expiry: -1,
			scopes: slices.Clone(t.Scopes)}
		if t.Expiry != nil {
			p.expiry = at(*t.Expiry).UnixMilli()
		}
		if t.LastUsed != nil {
			d := at(*t.LastUsed).UTC()
			p.lastUsedDay = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).UnixMilli()
		}
		o.tokens = append(o.tokens, p)
	}
	for _, sj := range so.Jobs {
		j := &jobObj{id: sj.JobID, name: sj.Name, creator: sj.Creator, created: at(sj.Created).UnixMilli(),
			runAs: sj.RunAs, schedule: sj.Schedule, trigger: sj.Trigger,
			continuous: sj.Continuous, tasks: sj.Tasks, email: sj.EmailNotifications, tags: sj.Tags}
		o.jobs = append(o.jobs, j)
	}
	slices.SortFunc(o.jobs, func(a, b *jobObj) int { return cmp.Compare(a.id, b.id) })
	for _, sc := range so.Clusters {
		c := &clusterObj{SeedCluster: sc}
		if c.ClusterSource == "" {
			c.ClusterSource = "UI"
		}
		if c.DataSecurityMode == "" {
			c.DataSecurityMode = "USER_ISOLATION"
			if c.SingleUserName != "" {
				c.DataSecurityMode = "SINGLE_USER"
			}
		}
		c.started = at(sc.Started).UnixMilli()
		if sc.State == "TERMINATED" {
			t := sc.Terminated
			if t == "" {
				t = "now-1d"
			}
			c.terminated = at(t).UnixMilli()
		}
		o.clusters = append(o.clusters, c)
	}
	for _, sw := range so.Warehouses {
		o.warehouses = append(o.warehouses, &warehouseObj{SeedWarehouse: sw})
	}
	for _, sp := range so.Pipelines {
		p := &pipelineObj{SeedPipeline: sp, lastModified: def.UnixMilli()}
		if sp.RunAs != nil {
			p.runAs = *sp.RunAs
		} else {
			p.runAs = SeedRunAs{UserName: sp.Creator}
		}
		o.pipelines = append(o.pipelines, p)
	}
	for _, sq := range so.Queries {
		o.queries = append(o.queries, &queryObj{SeedQuery: sq, created: at(sq.Created)})
	}
	slices.SortStableFunc(o.queries, func(a, b *queryObj) int { return a.created.Compare(b.created) })
	for _, sa := range so.Alerts {
		o.alerts = append(o.alerts, &alertObj{SeedAlert: sa, created: at(sa.Created)})
	}
	slices.SortStableFunc(o.alerts, func(a, b *alertObj) int { return a.created.Compare(b.created) })
	o.alertsV2 = buildAlertsV2(so.AlertsV2, at)
	for _, sd := range so.LegacyDashboards {
		d := &legacyDashObj{SeedLegacyDashboard: sd, created: at(sd.Created)}
		if p := st.findPrincipal(w, sd.Owner); p != nil {
			d.userID = numericID(p.id)
		}
		o.legacy = append(o.legacy, d)
	}
	for _, sd := range so.LakeviewDashboards {
		o.lakeview = append(o.lakeview, &lakeviewObj{SeedLakeviewDashboard: sd, created: at(sd.Created)})
	}
	for _, se := range so.ServingEndpoints {
		o.endpoints = append(o.endpoints, &endpointObj{SeedServingEndpoint: se, created: at(se.Created).UnixMilli()})
	}
	for _, sa := range so.Apps {
		a := &appObj{SeedApp: sa, created: at(sa.Created)}
		sp := st.findPrincipal(w, sa.ServicePrincipal)
		if sp == nil || sp.kind != kindSP {
			return nil, fmt.Errorf("app %s: service principal %q is not live", sa.Name, sa.ServicePrincipal)
		}
		a.spID, a.spName = sp.id, sp.displayName
		o.apps = append(o.apps, a)
	}
	slices.SortFunc(o.apps, func(a, b *appObj) int { return strings.Compare(a.Name, b.Name) })
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return o, nil
}

func numericID(id string) int64 {
	var n int64
	for _, c := range id {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
