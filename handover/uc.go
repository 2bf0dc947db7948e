package handover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// Unity Catalog and Delta Sharing kinds: securables of a metastore, read
// once per metastore through one of the plan's workspaces attached to it,
// and handed over by changing their owner (which may be a user, a group or
// a service principal).
const (
	KindCatalog           = "catalog"
	KindSchema            = "schema"
	KindTable             = "table"
	KindVolume            = "volume"
	KindFunction          = "function"
	KindRegisteredModel   = "registered-model"
	KindExternalLocation  = "external-location"
	KindStorageCredential = "storage-credential"
	KindServiceCredential = "service-credential"
	KindConnection        = "connection"
	KindShare             = "share"
	KindRecipient         = "recipient"
	KindProvider          = "provider"
)

// ucKinds are the Unity Catalog kinds in plan order, with their API
// collection.
var ucKinds = []struct{ kind, plural string }{
	{KindCatalog, "catalogs"}, {KindSchema, "schemas"}, {KindTable, "tables"}, {KindVolume, "volumes"},
	{KindFunction, "functions"}, {KindRegisteredModel, "models"}, {KindExternalLocation, "external-locations"},
	{KindStorageCredential, "storage-credentials"}, {KindServiceCredential, "credentials"}, {KindConnection, "connections"},
	{KindShare, "shares"}, {KindRecipient, "recipients"}, {KindProvider, "providers"},
}

// isUC reports whether kind is a Unity Catalog kind.
func isUC(kind string) bool {
	return slices.ContainsFunc(ucKinds, func(k struct{ kind, plural string }) bool { return k.kind == kind })
}

// ucPlural returns the API collection of a Unity Catalog kind.
func ucPlural(kind string) string {
	for _, k := range ucKinds {
		if k.kind == kind {
			return k.plural
		}
	}
	return ""
}

// ucReader reads one metastore's securables for a plan, through the plan
// workspaces attached to it (ws; the first one reads the metastore).
//
// An isolated catalog (isolation_mode ISOLATED) answers 403 "Catalog 'x'
// is not accessible in current workspace" to a workspace it is not bound
// to, for what it holds and for owner updates too, and another workspace's
// metastore-wide models list may leave its models out (see audit's
// isolated.go for the record). So it is read, models per schema included,
// through a plan workspace bound to it (its workspace bindings say which;
// when they cannot be read, the first plan workspace that can get it), and
// its changes are pinned to that workspace. One bound to no plan workspace
// is not read: a blocking "not read" naming the workspaces to add.
type ucReader struct {
	ws    []*wsState
	ls    leavers
	kinds map[string]bool

	mu  sync.Mutex
	out workspaceRead
	pin map[string]*wsState // tie key -> the workspace that must make its change
}

func (r *ucReader) add(kind string, s scim.Securable, via *wsState) {
	l := r.ls.byName(s.Owner)
	if l == nil {
		return
	}
	name := s.FullName
	if name == "" {
		name = s.Name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.ties = append(r.out.ties, tie{kind: kind, objectID: name, who: l, action: ActionOwner, from: Principal{l.Type, s.Owner}})
	if via != nil {
		if r.pin == nil {
			r.pin = map[string]*wsState{}
		}
		r.pin[kind+"\x00"+name] = via
	}
}

func (r *ucReader) failed(kind string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.notRead = append(r.out.notRead, kind+": "+err.Error())
}

// each drains a securable list into ties of kind, pinned to via (nil: any
// attached workspace), and returns the list.
func (r *ucReader) each(kind string, seq iter.Seq2[scim.Securable, error], via *wsState) ([]scim.Securable, error) {
	var all []scim.Securable
	for s, err := range seq {
		if err != nil {
			return nil, err
		}
		all = append(all, s)
		r.mu.Lock()
		r.out.reads++
		r.mu.Unlock()
		if r.kinds[kind] {
			r.add(kind, s, via)
		}
	}
	return all, nil
}

// route picks the plan workspace an isolated catalog is read and changed
// through, or says why there is none.
func (r *ucReader) route(ctx context.Context, catalog string) (*wsState, error) {
	bindings, err := scim.CatalogBindings(ctx, r.ws[0].client, catalog)
	if err == nil {
		var bound []string
		for _, b := range bindings {
			for _, w := range r.ws {
				if w.info.ID == b.WorkspaceID {
					return w, nil
				}
			}
			bound = append(bound, strconv.FormatInt(b.WorkspaceID, 10))
		}
		if len(bound) == 0 {
			return nil, fmt.Errorf("isolated catalog %s is bound to no workspace, so nothing in it can be read or changed; bind it to a workspace of the plan", catalog)
		}
		return nil, fmt.Errorf("isolated catalog %s is bound only to workspace(s) %s, none of them in the plan (only a bound workspace can read or change what it holds); add one with --workspace",
			catalog, strings.Join(bound, ", "))
	}
	for _, w := range r.ws {
		if _, gerr := scim.GetCatalog(ctx, w.client, catalog); gerr == nil {
			return w, nil
		}
	}
	return nil, fmt.Errorf("isolated catalog %s: its workspace bindings could not be read (%w) and no workspace of the plan can read it", catalog, err)
}

// read lists the metastore's securables of the selected kinds: the
// metastore-level lists, then catalogs (each isolated one routed to a
// workspace bound to it), their schemas and the schemas' tables, volumes,
// functions and (for catalogs read elsewhere than the first workspace)
// registered models, walked only as deep as a selected kind needs; the
// metastore-wide models list leaves out the catalogs read elsewhere.
func (r *ucReader) read(ctx context.Context) workspaceRead {
	var wg sync.WaitGroup
	d := r.ws[0].client
	top := []struct {
		kind string
		seq  func(context.Context, scim.Doer) iter.Seq2[scim.Securable, error]
	}{
		{KindExternalLocation, scim.ExternalLocations},
		{KindStorageCredential, scim.StorageCredentials}, {KindServiceCredential, scim.ServiceCredentials},
		{KindConnection, scim.Connections}, {KindShare, scim.Shares}, {KindRecipient, scim.Recipients}, {KindProvider, scim.Providers},
	}
	for _, t := range top {
		if !r.kinds[t.kind] {
			continue
		}
		wg.Go(func() {
			if _, err := r.each(t.kind, t.seq(ctx, d), nil); err != nil {
				r.failed(t.kind, err)
			}
		})
	}
	models := r.kinds[KindRegisteredModel]
	deep := r.kinds[KindSchema] || r.kinds[KindTable] || r.kinds[KindVolume] || r.kinds[KindFunction] || models
	if r.kinds[KindCatalog] || deep {
		wg.Go(func() {
			var cats []scim.Securable
			for c, err := range scim.Catalogs(ctx, d) {
				if err != nil {
					r.failed(KindCatalog, err)
					if models {
						r.failed(KindRegisteredModel, errors.New("models of isolated catalogs may be missing: the catalogs could not be listed"))
					}
					return
				}
				r.mu.Lock()
				r.out.reads++
				r.mu.Unlock()
				cats = append(cats, c)
			}
			via := make([]*wsState, len(cats))
			elsewhere := map[string]bool{}
			for i, c := range cats {
				if !strings.EqualFold(c.IsolationMode, scim.IsolationIsolated) {
					via[i] = r.ws[0]
				} else if w, err := r.route(ctx, c.Name); err != nil {
					r.failed(KindCatalog, err)
					elsewhere[strings.ToLower(c.Name)] = true
					continue
				} else {
					via[i] = w
					elsewhere[strings.ToLower(c.Name)] = w != r.ws[0]
				}
				if r.kinds[KindCatalog] {
					var pin *wsState
					if via[i] != r.ws[0] {
						pin = via[i]
					}
					r.add(KindCatalog, c, pin)
				}
			}
			if models {
				wg.Go(func() {
					seq := func(yield func(scim.Securable, error) bool) {
						for m, err := range scim.RegisteredModels(ctx, d) {
							if err == nil && elsewhere[strings.ToLower(m.CatalogName)] {
								continue
							}
							if !yield(m, err) {
								return
							}
						}
					}
					if _, err := r.each(KindRegisteredModel, seq, nil); err != nil {
						r.failed(KindRegisteredModel, err)
					}
				})
			}
			if !deep {
				return
			}
			type routed struct {
				c scim.Securable
				w *wsState
			}
			var todo []routed
			for i, c := range cats {
				if via[i] != nil {
					todo = append(todo, routed{c, via[i]})
				}
			}
			forEach(ctx, todo, detailWorkers, func(rc routed) {
				var pin *wsState
				if rc.w != r.ws[0] {
					pin = rc.w
				}
				schemas, err := r.each(KindSchema, scim.Schemas(ctx, rc.w.client, rc.c.Name), pin)
				if err != nil {
					r.failed(KindSchema, err)
					return
				}
				for _, s := range schemas {
					for _, child := range []struct {
						kind string
						seq  func(context.Context, scim.Doer, string, string) iter.Seq2[scim.Securable, error]
					}{{KindTable, scim.Tables}, {KindVolume, scim.Volumes}, {KindFunction, scim.Functions}, {KindRegisteredModel, scim.SchemaRegisteredModels}} {
						if !r.kinds[child.kind] || (child.kind == KindRegisteredModel && pin == nil) {
							continue
						}
						if _, err := r.each(child.kind, child.seq(ctx, rc.w.client, rc.c.Name, s.Name), pin); err != nil {
							r.failed(child.kind, err)
						}
					}
				}
			})
		})
	}
	wg.Wait()
	slices.Sort(r.out.notRead)
	return r.out
}

// readMetastores reads, for each metastore attached to plan workspaces,
// its securables once, through the first such workspace, and spreads the
// changes over the attached workspaces (any of them reaches the metastore;
// rate limits are per workspace), except those of an isolated catalog,
// which its bound workspace makes.
func (pl *planner) readMetastores(ctx context.Context) {
	if !pl.wantsUC() {
		return
	}
	task := pl.prog.task("metastores")
	kinds := 0
	for _, k := range ucKinds {
		if pl.in.kinds[k.kind] {
			kinds++
		}
	}
	attached := map[string][]*wsState{}
	var order []string
	for _, w := range pl.ws {
		m, err := scim.CurrentMetastore(ctx, w.client)
		if errors.Is(err, scim.ErrNoMetastore) {
			continue
		}
		if err != nil {
			w.plan.NotRead = append(w.plan.NotRead, "metastore: "+err.Error())
			continue
		}
		if attached[m.MetastoreID] == nil {
			order = append(order, m.MetastoreID)
		}
		attached[m.MetastoreID] = append(attached[m.MetastoreID], w)
	}
	if task != nil {
		task.SetTotal(int64(kinds * len(order)))
	}
	tied := 0
	for _, id := range order {
		ws := attached[id]
		r := &ucReader{ws: ws, ls: pl.ls, kinds: pl.in.kinds}
		out := r.read(ctx)
		slices.SortFunc(out.ties, func(a, b tie) int {
			return cmp.Or(cmp.Compare(kindRank(a.kind), kindRank(b.kind)), strings.Compare(a.objectID, b.objectID))
		})
		i := 0
		for _, t := range out.ties {
			w := r.pin[t.kind+"\x00"+t.objectID]
			if w == nil {
				w = ws[i%len(ws)]
				i++
			}
			w.read.ties = append(w.read.ties, t)
		}
		ws[0].plan.NotRead = append(ws[0].plan.NotRead, out.notRead...)
		pl.log.Info("handover read metastore", "metastore", id, "through", ws[0].info.Name, "objects_tied", len(out.ties), "workspaces", len(ws))
		tied += len(out.ties)
		if task != nil {
			task.Add(int64(kinds))
		}
	}
	if task != nil {
		task.Done(fmt.Sprintf("%s, %d objects tied", plural(len(order), "metastore"), tied))
	}
}

// wantsUC reports whether the plan reads Unity Catalog kinds.
func (pl *planner) wantsUC() bool {
	for _, k := range ucKinds {
		if pl.in.kinds[k.kind] {
			return true
		}
	}
	return false
}
