package scim

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Unity Catalog and Delta Sharing reads (SDK v0.175.0 service/catalog and
// service/sharing): the metastore a workspace is attached to, and the
// securables of that metastore with their owners and grants. A metastore is
// shared by the workspaces attached to it, so these are read through any
// one of them. Lists ask for the largest page (max_results=UCMaxResults:
// the server caps it at its own maximum, which the docs leave unstated
// for most lists) and follow next_page_token until it is absent; a page may
// be empty while a token follows. Tables are listed without columns and
// properties. Lists and gets are charged to ClassDefault, grant reads to
// ClassPermissionsRead. Every function takes a Doer (a *WorkspaceClient)
// and is safe for concurrent use.

// UCMaxResults is the max_results sent with every Unity Catalog list: the
// documented ceilings are 1000 (registered models across a metastore) and
// 10000 (volumes and registered models of a schema); a larger value is
// capped by the server, so asking for 10000 gets the largest page each
// list serves.
const UCMaxResults = 10000

const ucBase = "/api/2.1/unity-catalog"

// MetastoreAssignment is the metastore a workspace is attached to.
type MetastoreAssignment struct {
	WorkspaceID        int64  `json:"workspace_id"`
	MetastoreID        string `json:"metastore_id"`
	DefaultCatalogName string `json:"default_catalog_name,omitempty"`
}

// ErrNoMetastore is returned by CurrentMetastore for a workspace with no
// Unity Catalog metastore (404 METASTORE_DOES_NOT_EXIST).
var ErrNoMetastore = errors.New("no metastore assigned to the workspace")

// CurrentMetastore returns the metastore the workspace is attached to
// (GET /api/2.1/unity-catalog/current-metastore-assignment); a workspace
// without one is an error matching ErrNoMetastore.
func CurrentMetastore(ctx context.Context, d Doer) (MetastoreAssignment, error) {
	var m MetastoreAssignment
	if err := d.Do(ctx, ClassDefault, http.MethodGet, ucBase+"/current-metastore-assignment", nil, nil, &m); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && ae.ErrorCode == "METASTORE_DOES_NOT_EXIST" {
			return MetastoreAssignment{}, errors.Join(ErrNoMetastore, err)
		}
		return MetastoreAssignment{}, err
	}
	if m.MetastoreID == "" {
		return MetastoreAssignment{}, ErrNoMetastore
	}
	return m, nil
}

// MetastoreSummary is a metastore: Owner is its admin (a user name, a group
// name or a service principal's application id).
type MetastoreSummary struct {
	MetastoreID       string `json:"metastore_id"`
	Name              string `json:"name,omitempty"`
	Owner             string `json:"owner,omitempty"`
	Region            string `json:"region,omitempty"`
	Cloud             string `json:"cloud,omitempty"`
	GlobalMetastoreID string `json:"global_metastore_id,omitempty"`
	CreatedBy         string `json:"created_by,omitempty"`
}

// GetMetastoreSummary reads the workspace's metastore
// (GET /api/2.1/unity-catalog/metastore_summary).
func GetMetastoreSummary(ctx context.Context, d Doer) (MetastoreSummary, error) {
	var m MetastoreSummary
	err := d.Do(ctx, ClassDefault, http.MethodGet, ucBase+"/metastore_summary", nil, nil, &m)
	return m, err
}

// Securable is one Unity Catalog or Delta Sharing securable as its list
// returns it; only the fields of its kind are set. FullName is
// catalog.schema.name for schema children, the name for the others.
type Securable struct {
	Name           string `json:"name"`
	FullName       string `json:"full_name,omitempty"`
	CatalogName    string `json:"catalog_name,omitempty"`
	SchemaName     string `json:"schema_name,omitempty"`
	Owner          string `json:"owner,omitempty"`
	CreatedBy      string `json:"created_by,omitempty"`
	CreatedAt      int64  `json:"created_at,omitempty"`
	Comment        string `json:"comment,omitempty"`
	MetastoreID    string `json:"metastore_id,omitempty"`
	IsolationMode  string `json:"isolation_mode,omitempty"`
	TableType      string `json:"table_type,omitempty"`
	PipelineID     string `json:"pipeline_id,omitempty"`
	VolumeType     string `json:"volume_type,omitempty"`
	URL            string `json:"url,omitempty"`
	CredentialName string `json:"credential_name,omitempty"`
	Purpose        string `json:"purpose,omitempty"`
	ConnectionType string `json:"connection_type,omitempty"`
	AuthType       string `json:"authentication_type,omitempty"`
	ReadOnly       bool   `json:"read_only,omitempty"`
}

// ucList iterates over one Unity Catalog list.
func ucList(ctx context.Context, d Doer, path, items string, q url.Values) iter.Seq2[Securable, error] {
	if q == nil {
		q = url.Values{}
	}
	q.Set("max_results", strconv.Itoa(UCMaxResults))
	return ListPages[Securable](ctx, d, ClassDefault, ucBase+path, q, PageTokenOptions{Items: items})
}

// Catalogs iterates over the metastore's catalogs, those bound to other
// workspaces included (include_unbound, effective for metastore admins).
func Catalogs(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/catalogs", "catalogs", url.Values{"include_unbound": {"true"}})
}

// Schemas iterates over a catalog's schemas.
func Schemas(ctx context.Context, d Doer, catalog string) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/schemas", "schemas", url.Values{"catalog_name": {catalog}})
}

// Tables iterates over a schema's tables, views, materialized views and
// streaming tables, without columns and properties.
func Tables(ctx context.Context, d Doer, catalog, schema string) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/tables", "tables", url.Values{"catalog_name": {catalog}, "schema_name": {schema},
		"omit_columns": {"true"}, "omit_properties": {"true"}})
}

// Volumes iterates over a schema's volumes.
func Volumes(ctx context.Context, d Doer, catalog, schema string) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/volumes", "volumes", url.Values{"catalog_name": {catalog}, "schema_name": {schema}})
}

// Functions iterates over a schema's functions.
func Functions(ctx context.Context, d Doer, catalog, schema string) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/functions", "functions", url.Values{"catalog_name": {catalog}, "schema_name": {schema}})
}

// RegisteredModels iterates over the metastore's registered models (one
// list for the whole metastore). It may leave out the models of isolated
// catalogs not bound to d's workspace (read them with
// SchemaRegisteredModels through a bound one).
func RegisteredModels(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/models", "registered_models", nil)
}

// SchemaRegisteredModels iterates over the registered models of one
// schema: the list to use for an isolated catalog read through a workspace
// bound to it, whose models the metastore-wide list of another workspace
// leaves out.
func SchemaRegisteredModels(ctx context.Context, d Doer, catalog, schema string) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/models", "registered_models", url.Values{"catalog_name": {catalog}, "schema_name": {schema}})
}

// IsolationIsolated is the isolation_mode of a catalog bound to some
// workspaces: from any other workspace of its metastore it and everything
// in it answer 403 ("Catalog 'x' is not accessible in current
// workspace"), and their lists leave it out.
const IsolationIsolated = "ISOLATED"

// WorkspaceBinding is one workspace a securable is bound to.
type WorkspaceBinding struct {
	WorkspaceID int64  `json:"workspace_id"`
	BindingType string `json:"binding_type,omitempty"` // BINDING_TYPE_READ_WRITE or BINDING_TYPE_READ_ONLY
}

// CatalogBindings reads the workspaces a catalog is bound to
// (GET /api/2.1/unity-catalog/bindings/catalog/{name}, every page; SDK
// WorkspaceBindingsAPI.GetBindings): readable from any workspace of the
// metastore by a metastore admin or the catalog's owner. Only an ISOLATED
// catalog's bindings restrict it.
func CatalogBindings(ctx context.Context, d Doer, catalog string) ([]WorkspaceBinding, error) {
	path := ucBase + "/bindings/catalog/" + url.PathEscape(catalog)
	return collect(ListPages[WorkspaceBinding](ctx, d, ClassDefault, path, url.Values{"max_results": {"0"}}, PageTokenOptions{Items: "bindings"}))
}

// GetCatalog reads one catalog (GET /api/2.1/unity-catalog/catalogs/{name}).
func GetCatalog(ctx context.Context, d Doer, name string) (Securable, error) {
	var s Securable
	err := d.Do(ctx, ClassDefault, http.MethodGet, ucBase+"/catalogs/"+url.PathEscape(name), nil, nil, &s)
	return s, err
}

// ExternalLocations iterates over the metastore's external locations.
func ExternalLocations(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/external-locations", "external_locations", url.Values{"include_unbound": {"true"}})
}

// StorageCredentials iterates over the metastore's storage credentials.
func StorageCredentials(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/storage-credentials", "storage_credentials", url.Values{"include_unbound": {"true"}})
}

// ServiceCredentials iterates over the metastore's service credentials
// (credentials API, purpose SERVICE).
func ServiceCredentials(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/credentials", "credentials", url.Values{"purpose": {"SERVICE"}, "include_unbound": {"true"}})
}

// Connections iterates over the metastore's connections.
func Connections(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/connections", "connections", nil)
}

// Shares iterates over the metastore's Delta Sharing shares.
func Shares(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/shares", "shares", nil)
}

// Recipients iterates over the metastore's Delta Sharing recipients.
func Recipients(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/recipients", "recipients", nil)
}

// Providers iterates over the metastore's Delta Sharing providers.
func Providers(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
	return ucList(ctx, d, "/providers", "providers", nil)
}

// PrivilegeAssignment is one principal's direct privileges on a
// securable. Principal is a user name, group name or application id
// (empty for a deleted principal).
type PrivilegeAssignment struct {
	Principal  string   `json:"principal"`
	Privileges []string `json:"privileges"`
}

// Grants reads the direct grants on a securable
// (GET /api/2.1/unity-catalog/permissions/{securableType}/{fullName}),
// charged to ClassPermissionsRead. securableType is the grants API's type
// in lower case: "metastore" (fullName = the metastore id), "catalog",
// "schema", "table", "volume", "function" (also registered models),
// "external_location", "storage_credential", "credential", "connection".
// The reply pages when the server decides to; every page is read.
func Grants(ctx context.Context, d Doer, securableType, fullName string) ([]PrivilegeAssignment, error) {
	path := ucBase + "/permissions/" + securableType + "/" + url.PathEscape(fullName)
	return collect(ListPages[PrivilegeAssignment](ctx, d, ClassPermissionsRead, path, nil, PageTokenOptions{Items: "privilege_assignments"}))
}
