package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/catalog"
	"github.com/databricks/databricks-sdk-go/service/sharing"
)

// ucElena and ucETL are the identities of the default metastore that own
// something of every kind (seeds/default_catalog.json).
const (
	ucElena = "elena.patel@acme.test"
	ucETL   = "b83e9e22-b2ed-4451-bcdd-00b79deb79be"
)

// namesOf returns the "name=owner" pairs of a list, for comparisons.
func namesOf[T any](items []T, f func(T) (string, string)) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		n, o := f(it)
		out = append(out, n+"="+o)
	}
	return out
}

func TestConformanceUnityCatalogSDK(t *testing.T) {
	srv := newObjServer(t, Options{})
	w := objSDK(t, srv, wsProd)
	ctx := context.Background()

	sum, err := w.Metastores.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Name != "acme-us-east" || sum.Owner != "platform-admins" || sum.MetastoreId == "" {
		t.Errorf("summary = %+v", sum)
	}
	cur, err := w.Metastores.Current(ctx)
	if err != nil || cur.MetastoreId != sum.MetastoreId || cur.WorkspaceId != wsProd {
		t.Errorf("current = %+v, %v", cur, err)
	}
	// The analytics workspace is attached to the same metastore.
	if s2, err := objSDK(t, srv, wsAnalytics).Metastores.Summary(ctx); err != nil || s2.MetastoreId != sum.MetastoreId {
		t.Errorf("analytics summary = %+v, %v", s2, err)
	}
	// The legacy workspace has none.
	if _, err := objSDK(t, srv, wsLegacy).Metastores.Summary(ctx); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("legacy summary err = %v, want not found", err)
	}

	cats, err := w.Catalogs.ListAll(ctx, catalog.ListCatalogsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	owner := func(c catalog.CatalogInfo) (string, string) { return c.Name, c.Owner }
	// The isolated finance catalog is bound to the analytics workspace only.
	sameStrings(t, "prod catalogs", namesOf(cats, owner), []string{"main=platform-admins", "elena_sandbox=" + ucElena, "etl=" + ucETL})
	cats, err = w.Catalogs.ListAll(ctx, catalog.ListCatalogsRequest{IncludeUnbound: true})
	if err != nil || len(cats) != 4 {
		t.Errorf("prod catalogs with include_unbound = %v, %v", namesOf(cats, owner), err)
	}
	cats, err = objSDK(t, srv, wsAnalytics).Catalogs.ListAll(ctx, catalog.ListCatalogsRequest{})
	if err != nil || len(cats) != 4 {
		t.Errorf("analytics catalogs = %v, %v", namesOf(cats, owner), err)
	}

	schemas, err := w.Schemas.ListAll(ctx, catalog.ListSchemasRequest{CatalogName: "main"})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "main schemas", namesOf(schemas, func(s catalog.SchemaInfo) (string, string) { return s.FullName, s.Owner }),
		[]string{"main.default=platform-admins", "main.sales=" + ucElena})

	tables, err := w.Tables.ListAll(ctx, catalog.ListTablesRequest{CatalogName: "main", SchemaName: "sales", OmitColumns: true, OmitProperties: true})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]catalog.TableType{}
	for _, tb := range tables {
		types[tb.Name] = tb.TableType
		if len(tb.Columns) != 0 || len(tb.Properties) != 0 {
			t.Errorf("table %s: columns or properties despite omit_*", tb.FullName)
		}
	}
	if len(tables) != 7 || types["orders_eu"] != catalog.TableTypeView || types["daily_revenue"] != catalog.TableTypeMaterializedView ||
		types["order_events"] != catalog.TableTypeStreamingTable || types["raw_orders"] != catalog.TableTypeExternal {
		t.Errorf("main.sales tables = %v", types)
	}
	tb, err := w.Tables.GetByFullName(ctx, "main.sales.order_events")
	if err != nil || tb.Owner != ucETL || tb.PipelineId == "" || len(tb.Columns) == 0 {
		t.Errorf("get table = %+v, %v", tb, err)
	}
	if _, err := w.Tables.GetByFullName(ctx, "main.sales.nope"); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("missing table err = %v", err)
	}

	vols, err := w.Volumes.ListAll(ctx, catalog.ListVolumesRequest{CatalogName: "main", SchemaName: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "volumes", namesOf(vols, func(v catalog.VolumeInfo) (string, string) { return v.FullName, v.Owner }),
		[]string{"main.sales.landing=" + ucElena, "main.sales.exports=" + ucETL})
	fns, err := w.Functions.ListAll(ctx, catalog.ListFunctionsRequest{CatalogName: "main", SchemaName: "sales"})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "functions", namesOf(fns, func(f catalog.FunctionInfo) (string, string) { return f.FullName, f.Owner }),
		[]string{"main.sales.mask_email=" + ucElena, "main.sales.parse_event=" + ucETL})
	models, err := w.RegisteredModels.ListAll(ctx, catalog.ListRegisteredModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "models", namesOf(models, func(m catalog.RegisteredModelInfo) (string, string) { return m.FullName, m.Owner }),
		[]string{"main.sales.churn=" + ucElena, "main.sales.order_forecast=" + ucETL})

	locs, err := w.ExternalLocations.ListAll(ctx, catalog.ListExternalLocationsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "external locations", namesOf(locs, func(l catalog.ExternalLocationInfo) (string, string) { return l.Name, l.Owner }),
		[]string{"raw-landing=" + ucElena, "partner-exports=" + ucETL})
	creds, err := w.StorageCredentials.ListAll(ctx, catalog.ListStorageCredentialsRequest{})
	if err != nil || len(creds) != 3 {
		t.Errorf("storage credentials = %v, %v", len(creds), err)
	}
	svc, err := w.Credentials.ListCredentialsAll(ctx, catalog.ListCredentialsRequest{Purpose: catalog.CredentialPurposeService})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "service credentials", namesOf(svc, func(c catalog.CredentialInfo) (string, string) { return c.Name, c.Owner }),
		[]string{"kinesis-reader=" + ucElena, "secrets-manager=" + ucETL})
	conns, err := w.Connections.ListAll(ctx, catalog.ListConnectionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "connections", namesOf(conns, func(c catalog.ConnectionInfo) (string, string) { return c.Name, c.Owner }),
		[]string{"crm-postgres=" + ucElena, "erp-sqlserver=" + ucETL})

	shares, err := w.Shares.ListSharesAll(ctx, sharing.SharesListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "shares", namesOf(shares, func(s sharing.ShareInfo) (string, string) { return s.Name, s.Owner }),
		[]string{"partner-sales=" + ucElena, "eu-replica=" + ucETL})
	perms, err := w.Shares.SharePermissions(ctx, sharing.SharePermissionsRequest{Name: "partner-sales"})
	if err != nil || len(perms.PrivilegeAssignments) != 1 || perms.PrivilegeAssignments[0].Principal != "northwind-partner" {
		t.Errorf("share permissions = %+v, %v", perms, err)
	}
	recips, err := w.Recipients.ListAll(ctx, sharing.ListRecipientsRequest{})
	if err != nil || len(recips) != 2 {
		t.Errorf("recipients = %d, %v", len(recips), err)
	}
	provs, err := w.Providers.ListAll(ctx, sharing.ListProvidersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sameStrings(t, "providers", namesOf(provs, func(p sharing.ProviderInfo) (string, string) { return p.Name, p.Owner }),
		[]string{"weather-data-inc=" + ucElena, "fx-rates=" + ucETL})

	// Grants: direct ones, then effective ones with their origin.
	g, err := w.Grants.Get(ctx, catalog.GetGrantRequest{SecurableType: "schema", FullName: "main.sales"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range g.PrivilegeAssignments {
		for _, p := range a.Privileges {
			got = append(got, a.Principal+"="+string(p))
		}
	}
	sameStrings(t, "main.sales grants", got, []string{"analysts=USE_SCHEMA", "analysts=SELECT", ucETL + "=USE_SCHEMA", ucETL + "=MODIFY"})
	eff, err := w.Grants.GetEffective(ctx, catalog.GetEffectiveRequest{SecurableType: "table", FullName: "main.sales.orders", Principal: "account users"})
	if err != nil || len(eff.PrivilegeAssignments) != 1 || len(eff.PrivilegeAssignments[0].Privileges) != 1 ||
		eff.PrivilegeAssignments[0].Privileges[0].InheritedFromName != "main" {
		t.Errorf("effective = %+v, %v", eff, err)
	}
	mg, err := w.Grants.Get(ctx, catalog.GetGrantRequest{SecurableType: "metastore", FullName: sum.MetastoreId})
	if err != nil || len(mg.PrivilegeAssignments) != 3 {
		t.Errorf("metastore grants = %+v, %v", mg, err)
	}
	// Registered models use the securable type FUNCTION.
	if mg, err := w.Grants.Get(ctx, catalog.GetGrantRequest{SecurableType: "function", FullName: "main.sales.churn"}); err != nil || len(mg.PrivilegeAssignments) != 0 {
		t.Errorf("model grants = %+v, %v", mg, err)
	}
	if _, err := w.Grants.Get(ctx, catalog.GetGrantRequest{SecurableType: "schema", FullName: "main.sales", MaxResults: 10}); !errors.Is(err, apierr.ErrBadRequest) {
		t.Errorf("grants with max_results 10: err = %v, want 400", err)
	}
}

// TestConformanceUnityCatalogVisibility checks that a user who is not a
// metastore admin sees only what it owns or was granted, as the SDK's
// List doc comments say.
func TestConformanceUnityCatalogVisibility(t *testing.T) {
	srv := newObjServer(t, Options{})
	ctx := context.Background()
	w, err := databricks.NewWorkspaceClient(sdkConfig(srv, srv.UserToken(), wsProd))
	if err != nil {
		t.Fatal(err)
	}
	cats, err := w.Catalogs.ListAll(ctx, catalog.ListCatalogsRequest{IncludeUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	// The user is in "account users", which holds USE_CATALOG on main.
	if names := namesOf(cats, func(c catalog.CatalogInfo) (string, string) { return c.Name, "" }); len(names) != 1 || names[0] != "main=" {
		t.Errorf("user catalogs = %v", names)
	}
	if _, err := w.Catalogs.GetByName(ctx, "elena_sandbox"); !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("user get elena_sandbox err = %v", err)
	}
	if _, err := w.Grants.Get(ctx, catalog.GetGrantRequest{SecurableType: "catalog", FullName: "main"}); !errors.Is(err, apierr.ErrPermissionDenied) {
		t.Errorf("user grants of main err = %v, want 403", err)
	}
}

// TestConformanceUnityCatalogPaging drives the SDK's iterators over lists
// longer than a page (the SDK sends max_results=0: the server's page).
func TestConformanceUnityCatalogPaging(t *testing.T) {
	seed, err := Synthetic("workspaces=2,users=20,groups=2,members=3,sps=2,seed=3,catalogs=3,schemas=101,tables=201")
	if err != nil {
		t.Fatal(err)
	}
	srv := newObjServer(t, Options{Seed: seed})
	w := objSDK(t, srv, srv.Workspaces()[0].WorkspaceID)
	ctx := context.Background()
	schemas, err := w.Schemas.ListAll(ctx, catalog.ListSchemasRequest{CatalogName: "catalog_002"})
	if err != nil || len(schemas) != 101 {
		t.Fatalf("schemas = %d, %v", len(schemas), err)
	}
	srv.ResetStats()
	tables, err := w.Tables.ListAll(ctx, catalog.ListTablesRequest{CatalogName: "catalog_002", SchemaName: "schema_007", OmitColumns: true})
	if err != nil || len(tables) != 201 {
		t.Fatalf("tables = %d, %v", len(tables), err)
	}
	seen := map[string]bool{}
	for _, tb := range tables {
		if seen[tb.FullName] || !strings.HasPrefix(tb.FullName, "catalog_002.schema_007.table_") {
			t.Errorf("table %q repeated or misplaced", tb.FullName)
		}
		seen[tb.FullName] = true
	}
	if n := srv.Stats().Total; n != 3 {
		t.Errorf("tables list took %d requests, want 3 pages of at most %d", n, ucPage)
	}
	// Unpaged (no max_results) is refused for a schema larger than a page.
	c := admin(t, srv, srv.Workspaces()[0].WorkspaceID)
	wantRESTError(t, c.do("GET", "/api/2.1/unity-catalog/tables?catalog_name=catalog_002&schema_name=schema_007", nil), 400, "INVALID_PARAMETER_VALUE")
	if r := c.do("GET", "/api/2.1/unity-catalog/tables?catalog_name=catalog_002&schema_name=schema_007&max_results=-1", nil); r.status != 400 {
		t.Errorf("max_results=-1: status %d", r.status)
	}
	// A page token of another list is refused.
	first := c.ok(200, "GET", "/api/2.1/unity-catalog/schemas?catalog_name=catalog_001&max_results=5", nil).json(t)
	tok, _ := first["next_page_token"].(string)
	wantRESTError(t, c.do("GET", fmt.Sprintf("/api/2.1/unity-catalog/schemas?catalog_name=catalog_003&page_token=%s", tok), nil), 400, "INVALID_PARAMETER_VALUE")
}

func TestUnityCatalogSeedErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*SeedMetastore)
		want string
	}{
		{"unknown owner", func(m *SeedMetastore) { m.Catalogs[0].Owner = "nobody@acme.test" },
			`metastores[0].catalogs[0].owner: "nobody@acme.test" is not an account user, group or service principal`},
		{"duplicate catalog", func(m *SeedMetastore) { m.Catalogs = append(m.Catalogs, SeedCatalog{Name: "MAIN", Owner: ucElena}) },
			`metastores[0].catalogs[4].name: duplicate "MAIN"`},
		{"bad table type", func(m *SeedMetastore) { m.Catalogs[0].Schemas[1].Tables[0].TableType = "TEMP" },
			`metastores[0].catalogs[0].schemas[1].tables[0].table_type: "TEMP" is not a table type`},
		{"bad privilege", func(m *SeedMetastore) { m.Grants[0].Privileges = []string{"OWN"} },
			`metastores[0].grants[0].privileges: "OWN" is not a Unity Catalog privilege`},
		{"share to a principal", func(m *SeedMetastore) { m.Shares[0].Grants[0].Principal = ucElena },
			`metastores[0].shares[0].grants[0].principal: "elena.patel@acme.test" is not a recipient of the metastore`},
		{"unknown credential", func(m *SeedMetastore) { m.ExternalLocations[0].CredentialName = "nope" },
			`metastores[0].external_locations[0].credential_name: "nope" is not a storage credential of the metastore`},
		{"unattached binding", func(m *SeedMetastore) { m.Catalogs[3].Workspaces = []int64{wsLegacy} },
			`metastores[0].catalogs[3].workspaces: 6051921418418894 is not a workspace attached to the metastore`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := DefaultSeed()
			tc.edit(&seed.Metastores[0])
			_, err := New(Options{Seed: seed})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v\nwant it to contain %s", err, tc.want)
			}
		})
	}
}
