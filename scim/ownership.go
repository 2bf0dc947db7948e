package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Reads and writes of object ownership (docs/handover.md): job and
// pipeline run_as, cluster owners and dedicated users, query and alert
// owners, the legacy DBSQL transfer endpoint, permission grants, token
// revocation and service principal rule sets. Writes to the permissions
// API are charged to ClassPermissionsWrite and permission reads to
// ClassPermissionsRead; other writes to ClassRESTWrite (it never probes)
// and other reads to ClassDefault. Every function
// takes a Doer (a *WorkspaceClient, or an *AccountClient for account
// paths) and is safe for concurrent use.
//
// Writes that set a value (an owner, a run_as, a grant) are marked
// Idempotent, so that the transport retries them after a lost reply:
// applying one twice has the effect of once. Cluster updates, terminate
// and start are not (an update restarts a running cluster each time).

const (
	pathJobsUpdate          = "/api/2.2/jobs/update"
	pathClustersGet         = "/api/2.1/clusters/get"
	pathClustersChangeOwner = "/api/2.1/clusters/change-owner"
	pathClustersUpdate      = "/api/2.1/clusters/update"
	pathClustersDelete      = "/api/2.1/clusters/delete"
	pathClustersStart       = "/api/2.1/clusters/start"
	pathRuleSets            = "/api/2.0/preview/accounts/access-control/rule-sets"
)

// AccessControlRequest is one entry of a permissions API write: exactly
// one of UserName, GroupName and ServicePrincipalName (an application id),
// and a level.
type AccessControlRequest struct {
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	PermissionLevel      string `json:"permission_level"`
}

func permissionsPath(objectType, objectID string) string {
	return pathPermissions + "/" + objectType + "/" + url.PathEscape(objectID)
}

// UpdatePermissions merges acl into an object's grants
// (PATCH /api/2.0/permissions/{objectType}/{objectID}) and returns the
// object's permissions after the change. An IS_OWNER entry replaces the
// owner.
func UpdatePermissions(ctx context.Context, d Doer, objectType, objectID string, acl []AccessControlRequest) (ObjectPermissions, error) {
	var p ObjectPermissions
	body := map[string]any{"access_control_list": acl}
	if err := d.Do(ctx, ClassPermissionsWrite, http.MethodPatch, permissionsPath(objectType, objectID), nil, body, &p, Idempotent()); err != nil {
		return ObjectPermissions{}, err
	}
	return p, nil
}

// SetPermissions replaces an object's direct grants with acl
// (PUT /api/2.0/permissions/{objectType}/{objectID}); an owner the request
// does not name is kept.
func SetPermissions(ctx context.Context, d Doer, objectType, objectID string, acl []AccessControlRequest) (ObjectPermissions, error) {
	var p ObjectPermissions
	body := map[string]any{"access_control_list": acl}
	if err := d.Do(ctx, ClassPermissionsWrite, http.MethodPut, permissionsPath(objectType, objectID), nil, body, &p); err != nil {
		return ObjectPermissions{}, err
	}
	return p, nil
}

// SetJobRunAs sets a job's run_as (POST /api/2.2/jobs/update with only
// run_as in new_settings): to a user name, or to a service principal's
// application id when sp is true.
func SetJobRunAs(ctx context.Context, d Doer, jobID int64, name string, sp bool) error {
	body := map[string]any{"job_id": jobID, "new_settings": map[string]any{"run_as": runAsBody(name, sp)}}
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, pathJobsUpdate, nil, body, nil, Idempotent())
}

func runAsBody(name string, sp bool) map[string]string {
	if sp {
		return map[string]string{"service_principal_name": name}
	}
	return map[string]string{"user_name": name}
}

// PipelineDetail is a pipeline read by id: its effective run-as identity,
// the explicit run_as when one is set, and its spec as the API returned it
// (the body an edit sends back).
type PipelineDetail struct {
	PipelineID      string          `json:"pipeline_id"`
	Name            string          `json:"name,omitempty"`
	CreatorUserName string          `json:"creator_user_name,omitempty"`
	RunAsUserName   string          `json:"run_as_user_name,omitempty"`
	RunAs           *RunAs          `json:"run_as,omitempty"`
	State           string          `json:"state,omitempty"`
	Spec            json.RawMessage `json:"spec,omitempty"`
}

// GetPipeline reads one pipeline (GET /api/2.0/pipelines/{id}).
func GetPipeline(ctx context.Context, d Doer, id string) (PipelineDetail, error) {
	var p PipelineDetail
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathPipelines+"/"+url.PathEscape(id), nil, nil, &p); err != nil {
		return PipelineDetail{}, err
	}
	return p, nil
}

// SetPipelineRunAs edits a pipeline (PUT /api/2.0/pipelines/{id}) with the
// spec it has, as read by GetPipeline, and run_as set: every other setting
// is sent back unchanged, as the edit replaces the whole spec. An empty
// name leaves run_as out, so that the pipeline runs as its creator again.
func SetPipelineRunAs(ctx context.Context, d Doer, p PipelineDetail, name string, sp bool) error {
	spec := map[string]json.RawMessage{}
	if len(p.Spec) > 0 {
		if err := json.Unmarshal(p.Spec, &spec); err != nil {
			return fmt.Errorf("edit pipeline %s: its spec does not decode: %w", p.PipelineID, err)
		}
	}
	delete(spec, "run_as")
	if name != "" {
		ra, _ := json.Marshal(runAsBody(name, sp))
		spec["run_as"] = ra
	}
	if _, ok := spec["name"]; !ok && p.Name != "" {
		n, _ := json.Marshal(p.Name)
		spec["name"] = n
	}
	return d.Do(ctx, ClassRESTWrite, http.MethodPut, pathPipelines+"/"+url.PathEscape(p.PipelineID), nil, spec, nil, Idempotent())
}

// GetCluster reads one cluster (GET /api/2.1/clusters/get).
func GetCluster(ctx context.Context, d Doer, id string) (Cluster, error) {
	var c Cluster
	q := url.Values{"cluster_id": {id}}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathClustersGet, q, nil, &c); err != nil {
		return Cluster{}, err
	}
	return c, nil
}

// ChangeClusterOwner makes a user name or service principal application id
// the owner of a terminated cluster (POST /api/2.1/clusters/change-owner;
// admins only).
func ChangeClusterOwner(ctx context.Context, d Doer, id, owner string) error {
	body := map[string]string{"cluster_id": id, "owner_username": owner}
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, pathClustersChangeOwner, nil, body, nil, Idempotent())
}

// SetClusterSingleUser changes a dedicated cluster's user
// (POST /api/2.1/clusters/update, update_mask single_user_name). A running
// cluster restarts; a terminated one stays terminated.
func SetClusterSingleUser(ctx context.Context, d Doer, id, name string) error {
	body := map[string]any{"cluster_id": id, "update_mask": "single_user_name",
		"cluster": map[string]string{"single_user_name": name}}
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, pathClustersUpdate, nil, body, nil)
}

// TerminateCluster terminates a cluster (POST /api/2.1/clusters/delete);
// StartCluster starts a terminated one (POST /api/2.1/clusters/start).
func TerminateCluster(ctx context.Context, d Doer, id string) error {
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, pathClustersDelete, nil, map[string]string{"cluster_id": id}, nil)
}

// StartCluster starts a terminated cluster (POST /api/2.1/clusters/start).
func StartCluster(ctx context.Context, d Doer, id string) error {
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, pathClustersStart, nil, map[string]string{"cluster_id": id}, nil)
}

// GetQuery reads one query (GET /api/2.0/sql/queries/{id}).
func GetQuery(ctx context.Context, d Doer, id string) (Query, error) {
	var q Query
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathQueries+"/"+url.PathEscape(id), nil, nil, &q); err != nil {
		return Query{}, err
	}
	return q, nil
}

// SetQueryOwner transfers a query to a user
// (PATCH /api/2.0/sql/queries/{id}, update_mask owner_user_name; admins).
func SetQueryOwner(ctx context.Context, d Doer, id, owner string) error {
	body := map[string]any{"update_mask": "owner_user_name", "query": map[string]string{"owner_user_name": owner}}
	return d.Do(ctx, ClassRESTWrite, http.MethodPatch, pathQueries+"/"+url.PathEscape(id), nil, body, nil, Idempotent())
}

// GetAlert reads one alert (GET /api/2.0/sql/alerts/{id}).
func GetAlert(ctx context.Context, d Doer, id string) (Alert, error) {
	var a Alert
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathAlerts+"/"+url.PathEscape(id), nil, nil, &a); err != nil {
		return Alert{}, err
	}
	return a, nil
}

// SetAlertOwner transfers an alert to a user
// (PATCH /api/2.0/sql/alerts/{id}, update_mask owner_user_name; admins).
func SetAlertOwner(ctx context.Context, d Doer, id, owner string) error {
	body := map[string]any{"update_mask": "owner_user_name", "alert": map[string]string{"owner_user_name": owner}}
	return d.Do(ctx, ClassRESTWrite, http.MethodPatch, pathAlerts+"/"+url.PathEscape(id), nil, body, nil, Idempotent())
}

// GetAlertV2 reads one v2 alert (GET /api/2.0/alerts/{id}).
func GetAlertV2(ctx context.Context, d Doer, id string) (Alert, error) {
	var a Alert
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathAlertsV2+"/"+url.PathEscape(id), nil, nil, &a); err != nil {
		return Alert{}, err
	}
	return a, nil
}

// SetAlertV2Owner transfers a v2 alert to a user
// (PATCH /api/2.0/alerts/{id}?update_mask=owner_user_name).
func SetAlertV2Owner(ctx context.Context, d Doer, id, owner string) error {
	q := url.Values{"update_mask": {"owner_user_name"}}
	return d.Do(ctx, ClassRESTWrite, http.MethodPatch, pathAlertsV2+"/"+url.PathEscape(id), q,
		map[string]string{"owner_user_name": owner}, nil, Idempotent())
}

// SetAlertV2RunAs sets a v2 alert's run_as
// (PATCH /api/2.0/alerts/{id}?update_mask=run_as).
func SetAlertV2RunAs(ctx context.Context, d Doer, id, name string, sp bool) error {
	q := url.Values{"update_mask": {"run_as"}}
	return d.Do(ctx, ClassRESTWrite, http.MethodPatch, pathAlertsV2+"/"+url.PathEscape(id), q,
		map[string]any{"run_as": runAsBody(name, sp)}, nil, Idempotent())
}

// GetLegacyDashboard reads one legacy dashboard
// (GET /api/2.0/preview/sql/dashboards/{id}).
func GetLegacyDashboard(ctx context.Context, d Doer, id string) (LegacyDashboard, error) {
	var l LegacyDashboard
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathLegacyDashboards+"/"+url.PathEscape(id), nil, nil, &l); err != nil {
		return LegacyDashboard{}, err
	}
	return l, nil
}

// TransferOwnership transfers a legacy DBSQL object ("dashboard", "query"
// or "alert") to an active user
// (POST /api/2.0/preview/sql/permissions/{objectType}/{id}/transfer;
// admins).
func TransferOwnership(ctx context.Context, d Doer, objectType, id, newOwner string) error {
	path := pathSQLPermissions + "/" + url.PathEscape(objectType) + "/" + url.PathEscape(id) + "/transfer"
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, path, nil, map[string]string{"new_owner": newOwner}, nil, Idempotent())
}

// GetToken reads one token (GET /api/2.0/token-management/tokens/{id}); a
// revoked token is an error matching ErrNotFound.
func GetToken(ctx context.Context, d Doer, id string) (TokenInfo, error) {
	var out struct {
		TokenInfo TokenInfo `json:"token_info"`
	}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathTokens+"/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return TokenInfo{}, err
	}
	return out.TokenInfo, nil
}

// DeleteToken revokes a token (DELETE /api/2.0/token-management/tokens/{id}).
func DeleteToken(ctx context.Context, d Doer, id string) error {
	return d.Do(ctx, ClassRESTWrite, http.MethodDelete, pathTokens+"/"+url.PathEscape(id), nil, nil, nil)
}

// GrantRule is one rule of an access control rule set: a role and the
// principals holding it ("users/<name>", "groups/<name>",
// "servicePrincipals/<application id>").
type GrantRule struct {
	Role       string   `json:"role"`
	Principals []string `json:"principals,omitempty"`
}

// RuleSet is an access control rule set.
type RuleSet struct {
	Name       string      `json:"name"`
	Etag       string      `json:"etag"`
	GrantRules []GrantRule `json:"grant_rules,omitempty"`
}

// ServicePrincipalRuleSetName is the name of a service principal's rule
// set.
func ServicePrincipalRuleSetName(accountID, applicationID string) string {
	return "accounts/" + accountID + "/servicePrincipals/" + applicationID + "/ruleSets/default"
}

// GetRuleSet reads a rule set through a workspace
// (GET /api/2.0/preview/accounts/access-control/rule-sets?name=&etag=).
func GetRuleSet(ctx context.Context, d Doer, name string) (RuleSet, error) {
	var rs RuleSet
	q := url.Values{"name": {name}, "etag": {""}}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathRuleSets, q, nil, &rs); err != nil {
		return RuleSet{}, err
	}
	return rs, nil
}

// UCSecurablePath returns the Unity Catalog API path of a securable: plural
// is the collection ("catalogs", "schemas", "tables", "volumes",
// "functions", "models", "external-locations", "storage-credentials",
// "credentials", "connections", "shares", "recipients", "providers"),
// name its full name.
func UCSecurablePath(plural, name string) string {
	return ucBase + "/" + plural + "/" + url.PathEscape(name)
}

// GetUCOwner reads a Unity Catalog or Delta Sharing securable's owner
// (GET /api/2.1/unity-catalog/{plural}/{name}); a missing securable is an
// error matching ErrNotFound.
func GetUCOwner(ctx context.Context, d Doer, plural, name string) (string, error) {
	var s Securable
	if err := d.Do(ctx, ClassDefault, http.MethodGet, UCSecurablePath(plural, name), nil, nil, &s); err != nil {
		return "", err
	}
	return s.Owner, nil
}

// SetUCOwner changes a securable's owner to a user name, a group name or a
// service principal's application id
// (PATCH /api/2.1/unity-catalog/{plural}/{name} {"owner"}).
func SetUCOwner(ctx context.Context, d Doer, plural, name, owner string) error {
	return d.Do(ctx, ClassRESTWrite, http.MethodPatch, UCSecurablePath(plural, name), nil, map[string]string{"owner": owner}, nil, Idempotent())
}

// PutSecretACL gives a principal (user name, group name or application id)
// READ, WRITE or MANAGE on a secret scope (POST /api/2.0/secrets/acls/put).
func PutSecretACL(ctx context.Context, d Doer, scope, principal, permission string) error {
	body := map[string]string{"scope": scope, "principal": principal, "permission": permission}
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, "/api/2.0/secrets/acls/put", nil, body, nil, Idempotent())
}

// DeleteSecretACL removes a principal's ACL from a secret scope
// (POST /api/2.0/secrets/acls/delete).
func DeleteSecretACL(ctx context.Context, d Doer, scope, principal string) error {
	body := map[string]string{"scope": scope, "principal": principal}
	return d.Do(ctx, ClassRESTWrite, http.MethodPost, "/api/2.0/secrets/acls/delete", nil, body, nil)
}
