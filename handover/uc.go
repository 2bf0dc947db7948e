package handover

import (
	"cmp"
	"context"
	"errors"
	"iter"
	"slices"
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

// ucReader reads one metastore's securables for a plan.
type ucReader struct {
	d     scim.Doer
	ls    leavers
	kinds map[string]bool

	mu  sync.Mutex
	out workspaceRead
}

func (r *ucReader) add(kind string, s scim.Securable) {
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
}

func (r *ucReader) failed(kind string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out.notRead = append(r.out.notRead, kind+": "+err.Error())
}

// each drains a securable list into ties of kind, and returns the list.
func (r *ucReader) each(kind string, seq iter.Seq2[scim.Securable, error]) ([]scim.Securable, error) {
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
			r.add(kind, s)
		}
	}
	return all, nil
}

// read lists the metastore's securables of the selected kinds: the
// metastore-level lists, then catalogs, their schemas and the schemas'
// tables, volumes and functions (walked only as deep as a selected kind
// needs).
func (r *ucReader) read(ctx context.Context) workspaceRead {
	var wg sync.WaitGroup
	top := []struct {
		kind string
		seq  func(context.Context, scim.Doer) iter.Seq2[scim.Securable, error]
	}{
		{KindRegisteredModel, scim.RegisteredModels}, {KindExternalLocation, scim.ExternalLocations},
		{KindStorageCredential, scim.StorageCredentials}, {KindServiceCredential, scim.ServiceCredentials},
		{KindConnection, scim.Connections}, {KindShare, scim.Shares}, {KindRecipient, scim.Recipients}, {KindProvider, scim.Providers},
	}
	for _, t := range top {
		if !r.kinds[t.kind] {
			continue
		}
		wg.Go(func() {
			if _, err := r.each(t.kind, t.seq(ctx, r.d)); err != nil {
				r.failed(t.kind, err)
			}
		})
	}
	deep := r.kinds[KindSchema] || r.kinds[KindTable] || r.kinds[KindVolume] || r.kinds[KindFunction]
	if r.kinds[KindCatalog] || deep {
		wg.Go(func() {
			cats, err := r.each(KindCatalog, scim.Catalogs(ctx, r.d))
			if err != nil {
				r.failed(KindCatalog, err)
				return
			}
			if !deep {
				return
			}
			forEach(ctx, cats, detailWorkers, func(c scim.Securable) {
				schemas, err := r.each(KindSchema, scim.Schemas(ctx, r.d, c.Name))
				if err != nil {
					r.failed(KindSchema, err)
					return
				}
				for _, s := range schemas {
					for _, child := range []struct {
						kind string
						seq  func(context.Context, scim.Doer, string, string) iter.Seq2[scim.Securable, error]
					}{{KindTable, scim.Tables}, {KindVolume, scim.Volumes}, {KindFunction, scim.Functions}} {
						if !r.kinds[child.kind] {
							continue
						}
						if _, err := r.each(child.kind, child.seq(ctx, r.d, c.Name, s.Name)); err != nil {
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
// rate limits are per workspace).
func (pl *planner) readMetastores(ctx context.Context) {
	want := false
	for _, k := range ucKinds {
		want = want || pl.in.kinds[k.kind]
	}
	if !want {
		return
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
	for _, id := range order {
		ws := attached[id]
		r := &ucReader{d: ws[0].client, ls: pl.ls, kinds: pl.in.kinds}
		out := r.read(ctx)
		slices.SortFunc(out.ties, func(a, b tie) int {
			return cmp.Or(cmp.Compare(kindRank(a.kind), kindRank(b.kind)), strings.Compare(a.objectID, b.objectID))
		})
		for i, t := range out.ties {
			w := ws[i%len(ws)]
			w.read.ties = append(w.read.ties, t)
		}
		ws[0].plan.NotRead = append(ws[0].plan.NotRead, out.notRead...)
		pl.log.Info("handover read metastore", "metastore", id, "through", ws[0].info.Name, "objects_tied", len(out.ties), "workspaces", len(ws))
	}
}
