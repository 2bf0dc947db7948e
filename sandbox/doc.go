// Package sandbox is a stateful emulator of the Databricks account and
// workspace REST APIs that dbiam uses: workspace and account SCIM (Users,
// Groups, ServicePrincipals, Me), account workspaces, permission
// assignments (account and workspace level), the Unity Catalog metastore
// assignment and securables (unitycatalog.go, sharing.go), the workspace
// tree and Git folders (workspacefs.go), ML and compute settings
// (mlcompute.go), workspace objects and their permissions, host metadata
// discovery and OAuth M2M. It backs
// "dbiam sandbox serve", "dbiam --sandbox ..." and the tests of every
// package. Its worth is fidelity to the real service: same paths, JSON field
// names, paging, filters, PATCH semantics, error bodies, throttling and
// eventual consistency (see ../shared/docs/databricks-api.md).
//
// # Serving
//
// One listener serves the account and all workspaces. Workspace calls are
// routed by the X-Databricks-Workspace-Id header; without it they go to the
// first workspace of the seed (with a personal access token, to the
// workspace that issued it), and an unknown id is a REST 404. Account calls
// use /api/2.0/accounts/{account_id}/... (account SCIM also under
// /api/2.1/accounts/{account_id}/scim/v2). Unknown paths get a REST 404
// ENDPOINT_NOT_FOUND.
//
// GET /.well-known/databricks-config (no auth) answers
// {"host_type":"workspace","oidc_endpoint":"<host>/oidc","account_id":...},
// which both databricks.WorkspaceClient and databricks.AccountClient accept.
// OAuth M2M: GET /oidc/.well-known/oauth-authorization-server and POST
// /oidc/v1/token (or /oidc/accounts/{account_id}/v1/token) grant
// client_credentials when the client id is a service principal's
// applicationId and the secret is one of its seeded tokens; the access token
// is that token.
//
// UCX's workspace-proxied account SCIM reads (GET
// /api/2.0/account/scim/v2/{Users,Groups,ServicePrincipals}[/{id}], workspace
// admins) answer like account SCIM.
//
// Control endpoints, outside /api and without auth: GET /sandbox/stats
// (Stats), POST /sandbox/stats/reset, GET /sandbox/state (State).
//
// # Identity model
//
// Account principals (users, service principals, account groups) have
// numeric string ids that are the same at account level and in every
// workspace. A workspace holds workspace-local users and service principals
// (normally in non-federated workspaces; in a federated one they are legacy
// principals with no account identity), workspace-local groups (including
// the system groups "admins" and "users"), and per-principal entitlements and
// roles (account groups too: their entitlements are per workspace).
//
// An identity-federated workspace (one with a metastore) additionally shows,
// through its SCIM API, the account principals assigned to it directly or
// through an assigned account group (transitively: members of members).
// Account groups appear there with meta.resourceType "Group", local groups
// with "WorkspaceGroup". A non-federated workspace shows only its local
// principals. "users" implicitly contains every user and service principal
// of the workspace; "account users" implicitly contains every account user
// and service principal. A principal's "groups" attribute is computed
// (direct parents, type "direct"). Assigning ADMIN adds the principal to the
// workspace's "admins" group; USER or removal takes it out.
//
// # SCIM behaviour
//
// Lists honour filter (parsed by package scimexpr with the RFC 7644
// grammar; case-insensitive string matching), attributes, excludedAttributes, startIndex
// (1-based, echoed; below 1 means 1), count (absent: the page cap; clamped to
// PageCap; 0 returns totalResults with no resources), sortBy and sortOrder
// (any case; stable, ties in creation order). Replies carry "schemas",
// "totalResults", "startIndex", "itemsPerPage" (the number returned) and
// "Resources" (capital R; [] past the end). The default order is creation
// order. Account group lists never include members unless
// Options.AccountListMembers is set (behaviour since 2025-08-22); GET a group
// for its members. Account SCIM refuses filters with more than 200
// comparison nodes (400 invalidFilter "INVALID_FILTER: ...").
//
// Filters are strict by default (Options.FilterDialect FilterStrict): only
// the subset the SDK documents is accepted (eq, ne, co, sw with string
// values, joined by and/or; no parentheses, not, value paths,
// sub-attributes or schema prefixes) on id, userName and displayName for
// users, id, applicationId and displayName for service principals, id and
// displayName for groups. Any other filter, and one that does not parse,
// gets the service's recorded reply: 400 with scimType "InvalidFilter" and
// detail "Given filter operator is not supported."; the X-Sandbox-Detail
// header names the refused construct and its position. FilterLenient
// accepts the full grammar on any attribute (an unknown attribute matches
// nothing) and reports syntax errors as invalidFilter with a position.
//
// POST answers 201 with the resource; duplicate userName, applicationId or
// group displayName (case-insensitive, per scope) is 409 with scimType
// "uniqueness" and detail like "Group with name X already exists.". In a
// federated workspace, POST Users or ServicePrincipals creates the account
// principal (or links the existing one) and assigns it USER; POST Groups in a
// workspace always creates a workspace-local group. PUT replaces and answers
// 200 with the resource: members, entitlements, roles and externalId left out
// of the body are cleared, while userName, displayName, name and active keep
// their values; userName, emails and applicationId are immutable (400
// "mutability") and "groups" is ignored. PATCH applies the operations with scimexpr.Apply to the
// resource as rendered, then validates the result: members must exist in the
// scope and not create cycles (400 invalidValue), "active" accepts
// true/false, "true"/"false" and [{"value":"false"}], entitlements must be
// known values and can only be managed in workspaces (account PATCH: 400
// invalidValue "entitlements can only be managed at the workspace level"),
// members, displayName and externalId of an account group cannot be changed
// through a workspace, nor a user's displayName in a federated workspace,
// and "groups" is read-only. PATCH answers 204 (or 200 "{}" with
// PatchStatus 200). DELETE answers 204; deleting an account principal
// through a workspace removes its direct assignment to that workspace
// (400 if it is only there through a group); system groups cannot be
// deleted. SCIM errors use the SCIM body {"schemas":[...Error],"detail",
// "status" (a string),"scimType"}; other endpoints use {"error_code",
// "message"}. 401 (unknown or missing token) is always a REST body.
//
// Permission assignments: account list/put/delete and levels under
// /api/2.0/accounts/{account_id}/workspaces/{workspace_id}/permissionassignments,
// workspace-level list/put/delete and POST-by-name under
// /api/2.0/preview/permissionassignments. PUT with no valid permission
// (USER, ADMIN; ADMIN wins) removes the assignment. Assigning an account
// group whose name a local group of the workspace already uses is 400
// "Workspace group with name X already exists". These APIs answer 400 for
// non-federated workspaces. GET /api/2.1/unity-catalog/current-metastore-assignment
// is 404 METASTORE_DOES_NOT_EXIST in a non-federated workspace.
//
// # Tokens and authorization
//
// Requests need "Authorization: Bearer <token>"; an unknown token is 401.
// A token stops working (401) when its principal is deleted, and while it
// is deactivated (active false; reactivated, its tokens work again).
// AdminToken and UserToken return the first token of each role.
//
// Token scope. A seed token with a workspace_id is a personal access token
// issued by that workspace: any other workspace answers 403
// {"error_code":403,"message":"Invalid access to Org: <id>"} (the reply the
// public record shows for a token of another workspace), and account APIs
// answer 401 unless Options.AccountPATs is set. A workspace call without
// X-Databricks-Workspace-Id made with a personal access token goes to its
// workspace, as a call to that workspace's host would. A token without a
// workspace_id is an account-level token (what OAuth at the account console
// issues, such as OAuth M2M): account APIs by its role, and every workspace
// where its principal has access.
//
// Access. In a workspace the token's principal acts as itself when it
// exists there (a local principal, or an account principal visible in a
// federated workspace); in a workspace without identity federation an
// account principal acts as the workspace's own user (or service
// principal) with the same user name (application id), and /Me returns
// that one. Without such a principal the workspace answers 403 "The caller
// is not a member of workspace N."
//
// Roles. account_admin opens the account APIs; it does not make anyone a
// workspace admin. A workspace admin is a member (through nested groups
// too) of the workspace's admins group or a holder of an ADMIN assignment
// (directly or through a group); a workspace_admin token is admin of the
// workspace that issued it. SCIM writes, assignments, token management and
// the permission migration need a workspace admin (403 otherwise).
//
// Objects (rules in authz.go, following the SDK's doc comments): a
// permissions PUT or PATCH needs a workspace admin or a holder of CAN_MANAGE
// or IS_OWNER on the object (directly, through a group, or inherited);
// naming a new owner takes an admin unless Options.ManagersSetOwner is set;
// reading an object's permissions needs any level on it. Secret scope ACLs
// (list, get, put, delete) need MANAGE on the scope, which admins hold on
// every scope; any member lists scopes. Lists and gets of queries, alerts
// (v1, v2, legacy), SQL warehouses and dashboards (legacy, Lakeview) show a
// non-admin only the objects it holds a permission on (403 on a get of
// another), as the SDK documents ("accessible to the user"); jobs, clusters,
// pipelines, serving endpoints and apps are filtered the same way unless
// Options.ListAllObjects is set (the SDK says nothing for them).
//
// Inheritance. Permissions replies list what an object inherits: the admins
// group's CAN_MANAGE from the type's root ("/jobs/", "/clusters/",
// "/sql/warehouses/", "/pipelines/", "/serving-endpoints/", "/apps/",
// "/directories/" for workspace objects, ...), and, for types whose family
// registers a parents function (s.setParents; see permissions.go), the
// direct grants of parent objects such as directories, each level as
// {"permission_level","inherited":true,"inherited_from_object":[<parent>]}.
// authorization/tokens and authorization/passwords always list the admins
// group's grant, as a direct one. PUT replaces direct grants only.
//
// # Knobs
//
// Options (or the seed's "knobs" section; non-zero Options win, rate limits
// merge per class) control the page cap, latency, per-class rate limits per
// workspace and for the account (token buckets, burst max(1, rate); classes
// scim-read, scim-write, scim-patch, account-scim-read, account-scim-write,
// account-scim-patch, assignments, permissions-read, permissions-write,
// default), the throttle style ("429": REST REQUEST_LIMIT_EXCEEDED with
// Retry-After in seconds; "scim500": HTTP 500 SCIM body whose detail starts
// with "REQUEST_LIMIT_EXCEEDED: Workspace N exceeded", for SCIM endpoints
// only), a per-workspace concurrency cap (SCIM 500 "REQUEST_LIMIT_EXCEEDED:
// Workspace N exceeded the concurrent limit of K requests."), a random fault
// rate (500, 503 or dropped connection, deterministic for a FaultSeed and a
// request order), targeted faults (AddFault; AfterHandler keeps the state
// change and replaces only the reply), and eventual consistency: creates,
// renames and deletes reach lists and filters only after Options.Consistency
// (GET by id is immediate; a renamed group is still listed, and found by
// filters, under its old name until then), measured with Options.Now.
// Options.PermissionMigration chooses how POST /api/2.0/permissionmigration
// behaves: "strict" (default; moves grants and refuses what the real service
// refuses), "copy" or "move" (see permmigration.go and
// docs/permission-migration.md); AddPermissionMigrationFault (serve
// --permission-migration-fault) makes a call fail part-way with the
// service's 500.
//
// Where the public record leaves authorization unsure, the default is the
// strict reading and a knob (Options field, seed knob, serve flag) allows
// the lenient one: AccountPATs (account_pats, --account-pats) lets account
// APIs take a personal access token; ListAllObjects (list_all_objects,
// --list-all-objects) shows every job, cluster, pipeline, serving endpoint
// and app to every member; ManagersSetOwner (managers_set_owner,
// --managers-set-owner) lets a non-admin manager name a new owner;
// ListUnboundModels (list_unbound_models, --list-unbound-models) lists the
// registered models of isolated catalogs not bound to the caller's
// workspace in the metastore-wide models list.
//
// # Seed format
//
// A seed is a JSON object, parsed strictly (an unknown field is an error
// naming it). Ids are numeric strings, unique across the whole seed; ids
// allocated at run time follow the largest seeded id. Example:
//
//	{
//	  "account_id": "7c3f9a2e-5b1d-4e8a-9f60-2d4b8c1e0a57",
//	  "users": [{"id": "101", "userName": "ada@acme.test", "displayName": "Ada L",
//	             "givenName": "Ada", "familyName": "L", "externalId": "...",
//	             "active": true, "roles": ["account_admin"]}],
//	  "service_principals": [{"id": "201", "applicationId": "<uuid>", "displayName": "etl"}],
//	  "groups": [{"id": "301", "displayName": "data-eng", "externalId": "...",
//	              "members": ["101", "201"], "roles": []}],
//	  "workspaces": [{
//	    "workspace_id": 1001, "workspace_name": "prod", "deployment_name": "acme-prod",
//	    "cloud": "aws", "region": "us-east-1", "workspace_status": "RUNNING",
//	    "creation_time": 1672531200000, "pricing_tier": "PREMIUM",
//	    "identity_federated": true, "metastore_id": "<uuid>",
//	    "assignments": [{"principal": "301", "permissions": ["USER"]}],
//	    "users": [], "service_principals": [],
//	    "groups": [{"id": "401", "displayName": "admins", "members": ["101"]},
//	               {"id": "402", "displayName": "users"}],
//	    "entitlements": {"402": ["workspace-access"], "301": ["allow-cluster-create"]},
//	    "roles": {"301": ["arn:aws:iam::123456789012:instance-profile/x"]}
//	  }],
//	  "tokens": [{"token": "dapi-sandbox-account-admin", "principal": "101", "role": "account_admin"},
//	             {"token": "dapi-...", "principal": "102", "role": "workspace_admin", "workspace_id": 1001}],
//	  "knobs": {"page_cap": 100, "latency": "0s", "rate_limits": {"scim-read": 4.25},
//	            "throttle_style": "429", "omit_retry_after": false, "max_concurrent": 4,
//	            "fault_rate": 0, "fault_seed": 1, "consistency": "0s",
//	            "account_list_members": false, "patch_status": 204, "filter_dialect": "strict",
//	            "permission_migration": "strict", "account_pats": false,
//	            "list_all_objects": false, "managers_set_owner": false}
//	}
//
// Only account_id, workspaces (at least one), and per principal id plus
// userName / applicationId / displayName are required. Users default to
// active. Account group members must be account principals; local group
// members must exist in the workspace (local, or visible account
// principals). Assignments exist only in federated workspaces. The system
// groups "account users", "admins" and "users" are created when absent;
// "users" and "account users" cannot list members (they are implicit).
// A token with a workspace_id is a personal access token of that workspace
// (role workspace_admin needs one); without, it is an account-level token
// (see Tokens and authorization). Without tokens, an account-level
// account-admin token is derived for the first account admin (or first
// user) and a user token for the first non-admin user of the first
// workspace. The canonical default seed is seeds/default.json
// (embedded; DefaultSeed), whose workspace objects live in
// seeds/default_objects.json and are attached by DefaultSeed.
//
// Each workspace may also carry "grants" (object and secret scope ACLs; see
// SeedGrants: a grant on a notebook, directory, file or Git folder id that
// the workspace tree does not hold is a seed error, as the real service has
// no such object) and "objects" (tokens, jobs, clusters, warehouses, pipelines,
// queries, alerts, dashboards, serving endpoints and apps, see
// SeedObjects; the workspace tree and Git folders, see SeedWorkspaceObject
// and SeedRepo; experiments, registry models, instance pools, cluster
// policies and vector search endpoints, see mlcompute.go). The seed's
// "metastores" section holds Unity Catalog metastores (SeedMetastore),
// attached to the federated workspaces whose metastore_id is theirs (by
// default every federated workspace shares the account's default
// metastore); the default seed's lives in seeds/default_catalog.json.
// The seed's "service_principal_roles" give the Service Principal User and
// Manager roles (rulesets.go); the ownership writes of a handover (job and
// pipeline run_as, cluster owners, query and alert owners, the legacy
// transfer endpoint) and their rules are in handover_writes.go.
//
// Synthetic builds large seeds from a spec such as
// "workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1"; the
// object keys jobs, clusters, tokens, warehouses, pipelines, queries, alerts,
// dashboards, lakeview, endpoints and apps (counts per workspace) add
// generated objects (see AddSyntheticObjects), and catalogs, schemas and
// tables (per metastore, per catalog, per schema) a default metastore (see
// addSyntheticCatalog).
//
// # Extending the sandbox (new resource families)
//
// A resource family (tokens, jobs, clusters, permissions, ...) is one new
// file; nothing else needs to change except the seed types:
//
//  1. Add the family's seed section as new fields with omitempty tags on
//     SeedWorkspace (or Seed), with their own types, and validate them in the
//     family's load function.
//  2. In the file's init, call registerFamily(family{name, load, routes,
//     snapshot}). load(s, seed) builds the family's state, stored in
//     s.ext[name] (read it back with a type assertion in handlers); routes
//     registers handlers with s.handle(route{method, pattern, class, scope,
//     access, write, scim, handle}); snapshot (optional) adds the family's
//     state to a State (add fields to State for it).
//  3. Handlers have the form func(c *call) error: c.ws is the routed
//     workspace (scopeWorkspace), c.tok the caller's token, c.actor the
//     principal acting for it in c.ws and c.admin whether that is a
//     workspace admin (authz.go; c.canSee(typ, id) and s.canManage(c, typ,
//     id) apply the object rules), c.now the request time;
//     reply with c.reply(status, v) or c.noContent(), read bodies with
//     c.decode(&v), and return restErr(...) or scimErr(...) for errors.
//     The pipeline (latency, auth, routing, rate limits by class,
//     concurrency cap, faults, authorization by access, stats) runs before
//     the handler; handlers run under s.mu (write lock when route.write is
//     set), so they must not lock it again.
//  4. Principals: s.st.get(id), s.st.lookupName(ws, kind, name) (ws 0 =
//     account), s.st.visible(w, p), s.st.render(p, view{ws: w}) for SCIM
//     shapes. Use the existing endpoint classes (permissions-read,
//     permissions-write, default) so rate-limit flags keep working.
//  5. Objects with ACLs: register each with s.grants(w).object(typ, id)
//     (see permissions.go) so the permissions API serves it. Objects that
//     inherit grants from parents (notebooks, files and directories from
//     their directories) get them with s.setParents(typ, func(w, id)
//     []objectKey), which returns the parent objects nearest first (for
//     /Users/bob/project/nb: {"directories", <project's id>},
//     {"directories", <bob's id>}); the type's root in aclTypes gives the
//     admins group's grant. Filter lists with c.canSee.
//  6. Document each route in docs/sandbox-endpoints.md (go test ./sandbox
//     -run TestEndpointsDocumented -update adds its row; fill in what it
//     models and its source), and each new Options knob in its knobs table.
//
// All exported functions and methods of this package are safe for concurrent
// use.
package sandbox
