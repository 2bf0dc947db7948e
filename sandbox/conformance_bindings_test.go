package sandbox

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/catalog"
)

// TestConformanceIsolatedCatalogSDK drives the demo's isolated finance
// catalog (bound to the analytics workspace only) through the SDK's
// catalog clients: from the prod workspace, attached to the same
// metastore, the catalog and everything in it answer 403 "Catalog
// 'finance' is not accessible in current workspace" (get, children,
// grants, owner update), and its models are not in the metastore-wide
// list; from analytics all of it reads; its workspace bindings read from
// either workspace, for a metastore admin or the owner only.
func TestConformanceIsolatedCatalogSDK(t *testing.T) {
	srv := newObjServer(t, Options{Seed: authzSeed()})
	prod, analytics := objSDK(t, srv, wsProd), objSDK(t, srv, wsAnalytics)
	ctx := context.Background()
	const denied = "Catalog 'finance' is not accessible in current workspace"

	wantDenied := func(what string, err error) {
		t.Helper()
		wantSDKError(t, what, err, http.StatusForbidden, denied)
		if !errors.Is(err, apierr.ErrPermissionDenied) {
			t.Errorf("%s: err = %v, want PERMISSION_DENIED", what, err)
		}
	}
	_, err := prod.Catalogs.GetByName(ctx, "finance")
	wantDenied("get catalog", err)
	_, err = prod.Schemas.ListAll(ctx, catalog.ListSchemasRequest{CatalogName: "finance"})
	wantDenied("list schemas", err)
	_, err = prod.Schemas.GetByFullName(ctx, "finance.ledger")
	wantDenied("get schema", err)
	_, err = prod.Tables.ListAll(ctx, catalog.ListTablesRequest{CatalogName: "finance", SchemaName: "ledger", MaxResults: 0})
	wantDenied("list tables", err)
	_, err = prod.Tables.GetByFullName(ctx, "finance.ledger.entries")
	wantDenied("get table", err)
	_, err = prod.RegisteredModels.ListAll(ctx, catalog.ListRegisteredModelsRequest{CatalogName: "finance", SchemaName: "ledger"})
	wantDenied("list the schema's models", err)
	_, err = prod.Grants.GetBySecurableTypeAndFullName(ctx, "catalog", "finance")
	wantDenied("catalog grants", err)
	_, err = prod.Grants.GetEffectiveBySecurableTypeAndFullName(ctx, "table", "finance.ledger.entries")
	wantDenied("table effective grants", err)
	_, err = prod.Catalogs.Update(ctx, catalog.UpdateCatalog{Name: "finance", Owner: "data-engineers"})
	wantDenied("catalog owner update", err)

	// The metastore-wide models list from prod leaves the finance model
	// out; from analytics it is there.
	models := func(w interface {
		ListAll(context.Context, catalog.ListRegisteredModelsRequest) ([]catalog.RegisteredModelInfo, error)
	}) []string {
		t.Helper()
		all, err := w.ListAll(ctx, catalog.ListRegisteredModelsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range all {
			out = append(out, m.FullName)
		}
		slices.Sort(out)
		return out
	}
	if got, want := models(prod.RegisteredModels), []string{"main.sales.churn", "main.sales.order_forecast"}; !slices.Equal(got, want) {
		t.Errorf("prod models = %v, want %v", got, want)
	}
	if got, want := models(analytics.RegisteredModels), []string{"finance.ledger.close_forecast", "main.sales.churn", "main.sales.order_forecast"}; !slices.Equal(got, want) {
		t.Errorf("analytics models = %v, want %v", got, want)
	}

	// From the bound workspace everything reads.
	if c, err := analytics.Catalogs.GetByName(ctx, "finance"); err != nil || c.IsolationMode != catalog.CatalogIsolationModeIsolated || c.Owner != "finance" {
		t.Errorf("analytics get catalog = %+v, %v", c, err)
	}
	if tb, err := analytics.Tables.GetByFullName(ctx, "finance.ledger.entries"); err != nil || tb.Owner != "finance" {
		t.Errorf("analytics get table = %+v, %v", tb, err)
	}
	g, err := analytics.Grants.GetBySecurableTypeAndFullName(ctx, "catalog", "finance")
	if err != nil || len(g.PrivilegeAssignments) != 1 || g.PrivilegeAssignments[0].Principal != ucElena {
		t.Errorf("analytics catalog grants = %+v, %v", g, err)
	}

	// Bindings, through either path, from a workspace it is not bound to.
	for _, w := range []struct {
		name string
		ws   int64
	}{{"prod", wsProd}, {"analytics", wsAnalytics}} {
		c := objSDK(t, srv, w.ws)
		old, err := c.WorkspaceBindings.GetByName(ctx, "finance")
		if err != nil || !slices.Equal(old.Workspaces, []int64{wsAnalytics}) {
			t.Errorf("%s: workspace-bindings/catalogs/finance = %+v, %v", w.name, old, err)
		}
		b, err := c.WorkspaceBindings.GetBindingsAll(ctx, catalog.GetBindingsRequest{SecurableType: "catalog", SecurableName: "finance"})
		if err != nil || len(b) != 1 || b[0].WorkspaceId != wsAnalytics || b[0].BindingType != catalog.WorkspaceBindingBindingTypeBindingTypeReadWrite {
			t.Errorf("%s: bindings/catalog/finance = %+v, %v", w.name, b, err)
		}
	}
	// An open catalog has none; an unknown one is 404; a bad type is 400.
	if b, err := prod.WorkspaceBindings.GetBindingsAll(ctx, catalog.GetBindingsRequest{SecurableType: "catalog", SecurableName: "main"}); err != nil || len(b) != 0 {
		t.Errorf("bindings of main = %+v, %v", b, err)
	}
	if b, err := prod.WorkspaceBindings.GetBindingsAll(ctx, catalog.GetBindingsRequest{SecurableType: "external_location", SecurableName: "raw-landing"}); err != nil || len(b) != 0 {
		t.Errorf("bindings of an external location = %+v, %v", b, err)
	}
	_, err = prod.WorkspaceBindings.GetByName(ctx, "nope")
	if !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("bindings of a missing catalog: err = %v, want 404", err)
	}
	_, err = prod.WorkspaceBindings.GetBindingsBySecurableTypeAndSecurableName(ctx, "table", "finance.ledger.entries")
	wantSDKError(t, "bindings of a table", err, http.StatusBadRequest, "Invalid securable type")

	// Neither a metastore admin nor the owner: 403. elena holds grants on
	// finance but does not own it.
	elena := sdkAs(t, srv, authzElenaPAT, wsProd)
	_, err = elena.WorkspaceBindings.GetByName(ctx, "elena_sandbox")
	if err != nil {
		t.Errorf("the owner reads its catalog's bindings: %v", err)
	}
	_, err = elena.WorkspaceBindings.GetBindingsAll(ctx, catalog.GetBindingsRequest{SecurableType: "catalog", SecurableName: "finance"})
	wantSDKError(t, "a grantee reads the bindings", err, http.StatusForbidden, "not a metastore admin or the owner")
}

// TestListUnboundModelsKnob: with the lenient knob the metastore-wide list
// includes the isolated catalog's model in every workspace, but its own
// reads stay refused.
func TestListUnboundModelsKnob(t *testing.T) {
	srv := newObjServer(t, Options{ListUnboundModels: true})
	prod := objSDK(t, srv, wsProd)
	ctx := context.Background()
	all, err := prod.RegisteredModels.ListAll(ctx, catalog.ListRegisteredModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(all, func(m catalog.RegisteredModelInfo) bool { return m.FullName == "finance.ledger.close_forecast" }) {
		t.Errorf("models = %d, want finance.ledger.close_forecast among them", len(all))
	}
	_, err = prod.RegisteredModels.Get(ctx, catalog.GetRegisteredModelRequest{FullName: "finance.ledger.close_forecast"})
	wantSDKError(t, "get the model", err, http.StatusForbidden, "not accessible in current workspace")
}
