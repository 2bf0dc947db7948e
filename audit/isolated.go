package audit

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// Isolated catalogs. A catalog whose isolation_mode is ISOLATED can only be
// reached from the workspaces bound to it: from any other workspace of its
// metastore its get, its children's lists, its grants and its owner
// updates answer 403 "Catalog 'x' is not accessible in current
// workspace" (databricks/terraform-provider-databricks#2446; docs "Limit
// catalog access to specific workspaces"), and the metastore-wide
// registered models list may leave its models out. The metastore's reader
// still lists it (include_unbound, for a metastore admin), so its owner is
// known; everything else of it is read through an audited workspace bound
// to it (its bindings say which; when they cannot be read, the first
// audited workspace that can get the catalog). An isolated catalog bound
// to no audited workspace is reported not covered, with the workspaces to
// audit, never left out silently.

// IsolatedCatalog says through which audited workspace an isolated catalog
// was read, or why it could not be.
type IsolatedCatalog struct {
	Catalog string `json:"catalog"`
	// BoundTo are the ids of the workspaces it is bound to (nil when its
	// bindings could not be read).
	BoundTo     []int64       `json:"bound_to,omitempty"`
	ReadThrough *WorkspaceRef `json:"read_through,omitempty"`
	// Reason is why it was not read (ReadThrough nil).
	Reason string `json:"reason,omitempty"`
}

// isolatedRoute is one isolated catalog's route during a metastore read.
type isolatedRoute struct {
	IsolatedCatalog
	via *wsRun // nil: out of reach of every audited workspace
}

// routeIsolated decides through which audited workspace served by ms the
// isolated catalog is read: the reader when it is bound to it, else the
// first bound one in listing order.
func (a *auditor) routeIsolated(ctx context.Context, ms *msRun, catalog string) *isolatedRoute {
	r := &isolatedRoute{IsolatedCatalog: IsolatedCatalog{Catalog: catalog}}
	pick := func(w *wsRun) {
		r.via = w
		ref := w.ref
		r.ReadThrough = &ref
	}
	bindings, err := scim.CatalogBindings(ctx, ms.reader.client, catalog)
	if err == nil {
		for _, b := range bindings {
			r.BoundTo = append(r.BoundTo, b.WorkspaceID)
		}
		if len(r.BoundTo) == 0 {
			r.BoundTo = []int64{} // bound to none: reachable from no workspace
		}
		for _, w := range ms.served {
			if slices.Contains(r.BoundTo, w.info.ID) {
				pick(w)
				return r
			}
		}
		if len(r.BoundTo) == 0 {
			r.Reason = fmt.Sprintf("isolated catalog %s is bound to no workspace, so no workspace can read what it holds; bind it to one (workspace bindings) and audit that workspace", catalog)
		} else {
			r.Reason = fmt.Sprintf("isolated catalog %s is bound only to workspace(s) %s, none of them audited and read (only a bound workspace can read what it holds); audit one of them (--workspace)",
				catalog, a.workspaceLabels(r.BoundTo))
		}
		return r
	}
	for _, w := range ms.served {
		if _, gerr := scim.GetCatalog(ctx, w.client, catalog); gerr == nil {
			pick(w)
			return r
		}
	}
	r.Reason = fmt.Sprintf("isolated catalog %s: its workspace bindings could not be read (%v) and no audited workspace of the metastore can read it; audit as a metastore admin or its owner, including a workspace bound to it",
		catalog, err)
	return r
}

// workspaceLabels names workspace ids, with their names where the audit
// knows them.
func (a *auditor) workspaceLabels(ids []int64) string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		label := strconv.FormatInt(id, 10)
		for _, w := range a.listed {
			if w.ID == id {
				label = WorkspaceRef{ID: id, Name: w.Name}.Label()
				break
			}
		}
		out = append(out, label)
	}
	return strings.Join(out, ", ")
}

// isolatedGaps records, for the isolated catalogs out of reach, what could
// not be read: the kinds below a catalog, and the catalogs' own grants
// when grants are read.
func (ms *msRun) isolatedGaps(routes []*isolatedRoute, grants bool) {
	var why []string
	for _, r := range routes {
		if r.via == nil {
			why = append(why, r.Reason)
		}
	}
	if len(why) == 0 {
		return
	}
	slices.Sort(why)
	msg := strings.Join(why, "; ")
	for _, k := range []Kind{KindSchema, KindTable, KindVolume, KindFunction, KindUCModel} {
		ms.gap(k, fmt.Errorf("not read in %d isolated catalog(s): %s", len(why), msg))
	}
	if grants {
		ms.gap(KindCatalog, fmt.Errorf("grants not read on %d isolated catalog(s): %s", len(why), msg))
	}
}
