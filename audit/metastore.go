package audit

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Unity Catalog. A metastore is shared by the workspaces attached to it, so
// each metastore is read once, through the first audited workspace
// attached to it, and its findings name the metastore and the audited
// workspaces it serves. Its securables are listed with the largest pages
// (catalogs, then every catalog's schemas, then every schema's tables,
// volumes and functions; registered models, external locations, storage
// and service credentials, connections, shares, recipients and providers
// once each); grants are read, under the permissions-read rate limit and
// while the lists go on, on the metastore, catalogs, schemas, external
// locations, credentials and connections, and with PermissionsAll on every
// table, volume, function and registered model too.
//
// Lists only show everything to a metastore admin (the SDK's List doc
// comments); read by anyone else, the metastore is recorded as not covered
// rather than reported as owning nothing.

// ucWorkers bounds the concurrent list calls of one metastore read; the
// transport's per-workspace concurrency cap and rate limits are the real
// bounds.
const ucWorkers = 8

// msRun is one metastore's part of the run.
type msRun struct {
	id     string
	ref    MetastoreRef
	owner  string
	region string
	served []*wsRun // audited workspaces attached to it, in listing order
	reader *wsRun   // the workspace it is read through

	failed     error
	gaps       map[Kind]error
	objects    int
	grantReads int
	grants     string // which grants were read, for the coverage
	isolated   []IsolatedCatalog
	findings   []Finding
}

func (ms *msRun) gap(k Kind, err error) {
	if ms.gaps == nil {
		ms.gaps = map[Kind]error{}
	}
	if _, ok := ms.gaps[k]; !ok {
		ms.gaps[k] = err
	}
}

// discoverMetastores asks every audited workspace which metastore it is
// attached to, then groups the workspaces by metastore (in listing order).
// A workspace whose assignment cannot be read records a metastore gap.
func (a *auditor) discoverMetastores(ctx context.Context) {
	ids := map[*wsRun]string{}
	var mu sync.Mutex
	a.forEachWorkspace(ctx, func(w *wsRun) {
		m, err := scim.CurrentMetastore(ctx, w.client)
		switch {
		case errors.Is(err, scim.ErrNoMetastore):
			return
		case err != nil:
			mu.Lock()
			w.gap(KindMetastore, fmt.Errorf("read which metastore serves the workspace: %w", err))
			mu.Unlock()
			return
		}
		mu.Lock()
		ids[w] = m.MetastoreID
		mu.Unlock()
	})
	byID := map[string]*msRun{}
	for _, w := range a.active() {
		id, ok := ids[w]
		if !ok {
			continue
		}
		ms := byID[id]
		if ms == nil {
			ms = &msRun{id: id, ref: MetastoreRef{ID: id, Name: id}, reader: w}
			byID[id] = ms
			a.ms = append(a.ms, ms)
		}
		ms.served = append(ms.served, w)
		ms.ref.Workspaces = append(ms.ref.Workspaces, w.info.Name)
	}
}

// scanMetastores reads and analyses every metastore, in parallel with each
// other (each through its own workspace).
func (a *auditor) scanMetastores(ctx context.Context, prog *reports.Progress) {
	var wg sync.WaitGroup
	for _, ms := range a.ms {
		wg.Go(func() {
			task := prog.Task("metastore "+ms.id, 0)
			objs := a.readMetastore(ctx, ms, func(n int) { task.Add(int64(n)) })
			if ctx.Err() != nil {
				return
			}
			ms.findings = analyzeUC(ms, objs, a.matcher())
			if ms.failed != nil {
				task.Fail(ms.failed)
				return
			}
			task.Done(fmt.Sprintf("%d securables, %d grant reads, %d findings", ms.objects, ms.grantReads, len(ms.findings)))
		})
	}
	wg.Wait()
}

// listCount counts one kind's list (or grant) calls and their failures.
type listCount struct {
	total, failed int
	first         error
}

// ucGrantTypes are the grants API types read per kind: with
// PermissionsAll (leaf) or always (the others, unless PermissionsNone).
var ucGrantTypes = map[Kind]struct {
	typ  string
	leaf bool
}{
	KindMetastore: {"metastore", false}, KindCatalog: {"catalog", false}, KindSchema: {"schema", false},
	KindExtLocation: {"external_location", false}, KindStorageCred: {"storage_credential", false},
	KindServiceCred: {"credential", false}, KindConnection: {"connection", false},
	KindTable: {"table", true}, KindVolume: {"volume", true}, KindFunction: {"function", true},
	KindUCModel: {"function", true},
}

// readMetastore lists the metastore's securables and reads their grants;
// added is told how many securables each list call brought.
func (a *auditor) readMetastore(ctx context.Context, ms *msRun, added func(int)) []*object {
	d := ms.reader.client
	sum, err := scim.GetMetastoreSummary(ctx, d)
	if err != nil {
		ms.failed = fmt.Errorf("read metastore %s: %w", ms.id, err)
		return nil
	}
	ms.ref.Name, ms.owner, ms.region = sum.Name, sum.Owner, sum.Region
	if ok, why := a.metastoreAdmin(ctx, d, sum.Owner); !ok {
		ms.gap(KindMetastore, errors.New(why))
	}
	scope := a.plan.permissions
	switch scope {
	case PermissionsNone:
		ms.grants = "none"
	case PermissionsAll:
		ms.grants = "every securable"
	default:
		ms.grants = "metastore, catalogs, schemas, external locations, credentials and connections"
	}

	var mu sync.Mutex
	var objs []*object
	counts := map[Kind]*listCount{}
	count := func(k Kind, err error) {
		mu.Lock()
		defer mu.Unlock()
		c := counts[k]
		if c == nil {
			c = &listCount{}
			counts[k] = c
		}
		c.total++
		if err != nil {
			c.failed++
			if c.first == nil {
				c.first = err
			}
		}
	}

	// Grant reads run while the lists go on, from a queue that never makes
	// a list wait (the lists are the slower part).
	grantQ := newObjectQueue()
	var grantWG sync.WaitGroup
	grantCounts := map[Kind]*listCount{}
	for range detailWorkers {
		grantWG.Go(func() {
			for {
				o, ok := grantQ.pop()
				if !ok {
					return
				}
				if ctx.Err() != nil {
					continue
				}
				via := scim.Doer(d)
				if o.ucVia != nil {
					via = o.ucVia
				}
				o.grants, o.grantsErr = scim.Grants(ctx, via, o.grantType, o.id)
				mu.Lock()
				c := grantCounts[o.kind]
				if c == nil {
					c = &listCount{}
					grantCounts[o.kind] = c
				}
				c.total++
				if o.grantsErr != nil && !errors.Is(o.grantsErr, scim.ErrNotFound) {
					c.failed++
					if c.first == nil {
						c.first = o.grantsErr
					}
				}
				mu.Unlock()
			}
		})
	}
	emit := func(batch []*object) {
		for _, o := range batch {
			if g, ok := ucGrantTypes[o.kind]; ok && !o.ucOut && scope != PermissionsNone && (!g.leaf || scope == PermissionsAll) {
				o.grantType = g.typ
			}
		}
		mu.Lock()
		objs = append(objs, batch...)
		mu.Unlock()
		added(len(batch))
		for _, o := range batch {
			if o.grantType != "" {
				grantQ.push(o)
			}
		}
	}
	emit([]*object{metastoreObject(sum)})

	sem := make(chan struct{}, ucWorkers)
	var wg sync.WaitGroup
	spawn := func(f func()) {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			f()
		})
	}
	// list drains one list read through via (nil: the reader) and emits
	// its securables; then sees each, as it comes.
	list := func(k Kind, seq iter.Seq2[scim.Securable, error], via scim.Doer, then func(scim.Securable)) {
		var batch []*object
		var err error
		for s, e := range seq {
			if e != nil {
				err = e
				break
			}
			o := securableObject(k, s)
			o.ucVia = via
			batch = append(batch, o)
			if then != nil {
				then(s)
			}
		}
		count(k, err)
		if err == nil {
			emit(batch)
		}
	}
	// children lists a catalog's schemas and what they hold through w;
	// models too when w is not the reader (the reader's metastore-wide
	// models list leaves out an isolated catalog it is not bound to).
	children := func(c scim.Securable, w *scim.WorkspaceClient) {
		var via scim.Doer
		if w != d {
			via = w
		}
		list(KindSchema, scim.Schemas(ctx, w, c.Name), via, func(s scim.Securable) {
			kinds := []Kind{KindTable, KindVolume, KindFunction}
			if w != d {
				kinds = append(kinds, KindUCModel)
			}
			for _, k := range kinds {
				spawn(func() {
					var seq iter.Seq2[scim.Securable, error]
					switch k {
					case KindTable:
						seq = scim.Tables(ctx, w, c.Name, s.Name)
					case KindVolume:
						seq = scim.Volumes(ctx, w, c.Name, s.Name)
					case KindUCModel:
						seq = scim.SchemaRegisteredModels(ctx, w, c.Name, s.Name)
					default:
						seq = scim.Functions(ctx, w, c.Name, s.Name)
					}
					list(k, seq, via, nil)
				})
			}
		})
	}
	// The catalogs are listed first, and each isolated one routed to a
	// workspace bound to it (isolated.go); then every catalog's children
	// are listed through its route, and the metastore-wide models list
	// leaves out the isolated catalogs not read through the reader (read
	// per schema, or out of reach and reported).
	var routes []*isolatedRoute
	spawn(func() {
		var cats []scim.Securable
		var err error
		for c, e := range scim.Catalogs(ctx, d) {
			if e != nil {
				err = e
				break
			}
			cats = append(cats, c)
		}
		count(KindCatalog, err)
		if err != nil {
			spawn(func() { list(KindUCModel, scim.RegisteredModels(ctx, d), nil, nil) })
			return
		}
		route := make([]*isolatedRoute, len(cats))
		var rwg sync.WaitGroup
		rsem := make(chan struct{}, detailWorkers)
		for i, c := range cats {
			if !strings.EqualFold(c.IsolationMode, scim.IsolationIsolated) {
				continue
			}
			rwg.Go(func() {
				rsem <- struct{}{}
				defer func() { <-rsem }()
				route[i] = a.routeIsolated(ctx, ms, c.Name)
			})
		}
		rwg.Wait()
		elsewhere := map[string]bool{}
		for i, c := range cats {
			o := securableObject(KindCatalog, c)
			r := route[i]
			switch {
			case r == nil:
				emit([]*object{o})
				spawn(func() { children(c, d) })
				continue
			case r.via == nil:
				o.ucOut = true
				elsewhere[strings.ToLower(c.Name)] = true
				emit([]*object{o})
			default:
				if r.via.client != d {
					o.ucVia = r.via.client
					elsewhere[strings.ToLower(c.Name)] = true
				}
				emit([]*object{o})
				spawn(func() { children(c, r.via.client) })
			}
			mu.Lock()
			routes = append(routes, r)
			mu.Unlock()
		}
		spawn(func() {
			models := scim.RegisteredModels(ctx, d)
			list(KindUCModel, func(yield func(scim.Securable, error) bool) {
				for m, err := range models {
					if err == nil && elsewhere[strings.ToLower(m.CatalogName)] {
						continue
					}
					if !yield(m, err) {
						return
					}
				}
			}, nil, nil)
		})
	})
	for _, t := range []struct {
		k   Kind
		seq func(context.Context, scim.Doer) iter.Seq2[scim.Securable, error]
	}{
		{KindExtLocation, scim.ExternalLocations},
		{KindStorageCred, scim.StorageCredentials}, {KindServiceCred, scim.ServiceCredentials},
		{KindConnection, scim.Connections}, {KindShare, scim.Shares}, {KindRecipient, scim.Recipients},
		{KindProvider, scim.Providers},
	} {
		spawn(func() { list(t.k, t.seq(ctx, d), nil, nil) })
	}
	wg.Wait()
	grantQ.close()
	grantWG.Wait()
	if ctx.Err() != nil {
		return nil
	}

	// A kind whose list failed is a gap; so are the kinds below a catalog
	// or schema whose children could not be listed.
	for _, k := range MetastoreKinds() {
		c := counts[k]
		if c == nil || c.failed == 0 {
			continue
		}
		err := fmt.Errorf("%d of %d %s lists failed: %w", c.failed, c.total, k, c.first)
		if c.total == 1 {
			err = fmt.Errorf("list %ss: %w", k, c.first)
		}
		ms.gap(k, err)
		switch k {
		case KindCatalog:
			for _, below := range []Kind{KindSchema, KindTable, KindVolume, KindFunction} {
				ms.gap(below, errors.New("not listed: the catalogs could not be listed"))
			}
			ms.gap(KindUCModel, errors.New("models of isolated catalogs not bound to the reader may be missing: the catalogs could not be listed"))
		case KindSchema:
			for _, below := range []Kind{KindTable, KindVolume, KindFunction} {
				ms.gap(below, fmt.Errorf("not listed in every schema: %d catalogs' schemas could not be listed", c.failed))
			}
		}
	}
	for _, k := range MetastoreKinds() {
		if c := grantCounts[k]; c != nil && c.failed > 0 {
			ms.gap(k, fmt.Errorf("grants of %d of %d %ss could not be read: %w", c.failed, c.total, k, c.first))
		}
	}
	for _, c := range grantCounts {
		ms.grantReads += c.total
	}
	ms.isolatedGaps(routes, scope != PermissionsNone)
	slices.SortFunc(routes, func(x, y *isolatedRoute) int { return strings.Compare(x.Catalog, y.Catalog) })
	for _, r := range routes {
		ms.isolated = append(ms.isolated, r.IsolatedCatalog)
	}
	ms.objects = len(objs)
	slices.SortStableFunc(objs, func(x, y *object) int {
		if c := kindRank(x.kind) - kindRank(y.kind); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	return objs
}

// metastoreAdmin reports whether the caller administers the metastore
// (owner is the metastore's owner: a user, service principal or group),
// and if not, why, for the coverage. A group owner is expanded through the
// account when there is one, else through the caller's direct groups.
func (a *auditor) metastoreAdmin(ctx context.Context, d *scim.WorkspaceClient, owner string) (bool, string) {
	me, _, err := d.Me(ctx)
	if err != nil {
		return false, fmt.Sprintf("could not tell whether the caller is a metastore admin: %v; securables it cannot see may be missing", err)
	}
	if strings.EqualFold(me.UserName, owner) {
		return true, ""
	}
	notAdmin := fmt.Sprintf("read as %s, who is not an admin of the metastore (its owner is %q): lists only show what the caller owns or holds privileges on; run the audit as a metastore admin", me.UserName, owner)
	if a.acct != nil {
		gs, err := a.acctCache.dir.lookup(ctx, PrincipalGroup, []string{owner})
		if err != nil {
			return false, fmt.Sprintf("could not tell whether the caller is a metastore admin: %v", err)
		}
		g, ok := gs[nameKey(PrincipalGroup, owner)]
		if !ok {
			return false, notAdmin
		}
		members, err := a.acctCache.expand(ctx, g.ID)
		if err != nil {
			return false, fmt.Sprintf("could not tell whether the caller is a metastore admin: %v", err)
		}
		if slices.ContainsFunc(members, func(p principal) bool { return p.ID == me.ID }) {
			return true, ""
		}
		return false, notAdmin
	}
	for _, g := range me.Groups {
		if g.Display == owner {
			return true, ""
		}
	}
	return false, notAdmin + " (without an account id only the caller's direct groups are checked)"
}

// metastoreObject builds the metastore itself: its owner is the metastore
// admin.
func metastoreObject(s scim.MetastoreSummary) *object {
	o := &object{kind: KindMetastore, id: s.MetastoreID, name: s.Name,
		details: []Detail{{"owner", s.Owner}, {"region", s.Region}, {"cloud", s.Cloud}}}
	if s.Owner != "" {
		o.refs = append(o.refs, objRef{pref{name: s.Owner}, RelOwns})
	}
	return o
}

// securableObject builds a securable of kind k from its list entry; its
// id is its full name (the grants API's key).
func securableObject(k Kind, s scim.Securable) *object {
	name := cmpOr(s.FullName, s.Name)
	o := &object{kind: k, id: name, name: name, uc: &s}
	if s.Owner != "" {
		o.refs = append(o.refs, objRef{pref{name: s.Owner}, RelOwns})
	}
	o.details = []Detail{{"owner", s.Owner}}
	switch k {
	case KindTable:
		o.details = append(o.details, Detail{"table_type", s.TableType}, Detail{"pipeline_id", s.PipelineID})
	case KindVolume:
		o.details = append(o.details, Detail{"volume_type", s.VolumeType})
	case KindExtLocation:
		o.details = append(o.details, Detail{"storage_url", s.URL}, Detail{"credential", s.CredentialName})
	case KindConnection:
		o.details = append(o.details, Detail{"connection_type", s.ConnectionType})
	case KindCatalog:
		o.details = append(o.details, Detail{"isolation_mode", s.IsolationMode})
	case KindRecipient, KindProvider:
		o.details = append(o.details, Detail{"authentication", s.AuthType})
	}
	return o
}

// analyzeUC turns a metastore's securables into findings for the audited
// identities: ownership (see rateUCOwner) and direct grants (info).
func analyzeUC(ms *msRun, objs []*object, m matcher) []Finding {
	var out []Finding
	ref := ms.ref
	for _, o := range objs {
		type tie struct {
			name  string
			owns  bool
			privs []string
		}
		var keys []string
		ties := map[string]*tie{}
		get := func(k, name string) *tie {
			t := ties[k]
			if t == nil {
				t = &tie{name: name}
				ties[k] = t
				keys = append(keys, k)
			}
			return t
		}
		for _, r := range o.refs {
			for _, k := range m.match(r.who, 0) {
				get(k, r.who.name).owns = true
			}
		}
		for _, g := range o.grants {
			if g.Principal == "" {
				continue // a deleted principal's grant
			}
			for _, k := range m.match(pref{name: g.Principal}, 0) {
				t := get(k, g.Principal)
				t.privs = append(t.privs, g.Privileges...)
			}
		}
		for _, k := range keys {
			t := ties[k]
			f := Finding{Identity: k, IdentityName: t.name, Metastore: &ref, Kind: o.kind, ObjectID: o.id,
				ObjectName: o.name, Details: slices.Clone(o.details)}
			v := verdict{SeverityInfo, ""}
			if t.owns {
				f.addRelation(RelOwns)
				v = rateUCOwner(o)
			}
			if len(t.privs) > 0 {
				f.addRelation(RelGranted)
				f.Details = append(f.Details, Detail{"privileges", strings.Join(t.privs, ", ")})
				if !t.owns {
					v = verdict{SeverityInfo, "privileges granted directly to the identity (" + strings.Join(t.privs, ", ") + "); they go with it"}
				}
			}
			f.Severity, f.Reason = v.sev, v.reason
			out = append(out, f)
		}
	}
	return out
}

// rateUCOwner: a securable whose owner goes is left with no one who can
// manage it (only a metastore admin can transfer it): orphaned. A view is
// worse: Databricks evaluates a view with its owner's privileges on the
// tables it reads (the view's owner must hold SELECT on them), so with its
// owner gone queries of the view can fail: breaks. The metastore's own
// owner is its admin: orphaned, and only an account admin can name another.
func rateUCOwner(o *object) verdict {
	switch {
	case o.kind == KindMetastore:
		return verdict{SeverityOrphaned, "metastore admin: the metastore is left with no admin; only an account admin can assign one"}
	case o.kind == KindTable && o.uc != nil && (o.uc.TableType == "VIEW" || o.uc.TableType == "METRIC_VIEW"):
		return verdict{SeverityBreaks, "view owned by the identity: views run with their owner's privileges, so queries of it fail once the owner is gone"}
	case o.kind == KindTable && o.uc != nil && (o.uc.TableType == "MATERIALIZED_VIEW" || o.uc.TableType == "STREAMING_TABLE"):
		return verdict{SeverityOrphaned, strings.ToLower(strings.ReplaceAll(o.uc.TableType, "_", " ")) +
			" owned by the identity: no one can manage it; only a metastore admin can transfer it (its pipeline carries any run-as finding)"}
	}
	return verdict{SeverityOrphaned, strings.ReplaceAll(string(o.kind), "-", " ") +
		" owned by the identity: no one can manage it once it is gone; only a metastore admin can transfer its ownership"}
}

// objectQueue is an unbounded FIFO of objects; pop blocks until an object
// is pushed or the queue is closed and empty. It is safe for concurrent
// use.
type objectQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*object
	closed bool
}

func newObjectQueue() *objectQueue {
	q := &objectQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *objectQueue) push(o *object) {
	q.mu.Lock()
	q.items = append(q.items, o)
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *objectQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

func (q *objectQueue) pop() (*object, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return nil, false
	}
	o := q.items[0]
	q.items[0] = nil
	q.items = q.items[1:]
	return o, true
}
