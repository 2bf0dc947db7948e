// Package audit implements "dbiam audit": before an admin removes a user, a
// service principal or a group, it reports, across every workspace, what
// the identity created, owns, runs as or alone can manage, and what breaks
// when it goes. It only reads (GET requests).
//
// # Selecting identities
//
// Options.Users (user names), Options.ServicePrincipals (application ids)
// and Options.Groups (display names) name identities; Options.FromFile adds
// more (see ReadIdentities). User names and application ids are looked up
// in the account, then, for names the account does not have, in every
// workspace (workspace-local principals are audited in their workspace
// only). A group name is exact, case and spaces included ("ops", "Ops" and
// "ops " are three groups): it is looked up in the account and in every
// workspace, and each workspace-local group of that name is an identity of
// its own, reported with its workspace (Identity.WorkspaceID). Targets are
// put in a fixed order, so the report is the same on every run. A name found nowhere is
// reported with status not-found and still matched by name: objects keep
// the names of deleted users. As such a name may as well be a typo, each
// one is also a warning on stderr ("audit identity not found", naming it
// and where it was looked up: the account and the workspaces whose
// directory was read), and Run returns a *PartialError (exit code 2,
// PartialError.NotFound) after writing the report: an identity never found
// is never reported as "nothing breaks". With Inactive and All no name is
// requested, and identities found nowhere do not change the exit code. A
// group expands to its members, nested groups
// included (cycles are tolerated); nested groups are walked, not audited
// themselves. Named identities are removed together: an object is orphaned
// when no principal outside the audited set can manage it.
//
// Options.Inactive audits every deactivated user and service principal
// (account and workspace-local) and reports those that still own
// something. Options.All audits every identity (the compliance view): it
// lists every user, service principal and group of the account and every
// workspace-local principal of each audited workspace (system groups only
// when something refers to them), reports each, with or without findings,
// and also reports the names objects refer to that exist nowhere (deleted
// principals); each identity is judged alone.
//
// # What is collected
//
// Per workspace (reference §F): personal access tokens (token-management:
// created by or owned by the identity; tokens without expiry are flagged
// "no-expiry"), jobs (creator, IS_OWNER, run-as; schedule, continuous or
// trigger and whether it is paused), clusters (creator, single_user_name;
// state, source, pinned), SQL warehouses (creator, IS_OWNER), pipelines
// (creator, run-as, IS_OWNER), SQL queries (owner, run-as mode) and alerts
// (owner, evaluated as its owner), alerts v2 (owner, run-as; schedule and
// whether it is paused), legacy dashboards (owner) and Lakeview
// dashboards (CAN_MANAGE, as they have no owner field), serving endpoints
// and apps (creator), MLflow experiments (owner tag and ACL), workspace
// model registry models (creator), instance pools (creator id), cluster
// policies (creator), secret scopes (their ACL), vector search endpoints
// (creator), Git folders (the /Repos/<name> or /Users/<name> folder holding
// them), home folders (/Users/<name>), and sole-manager status from the
// permissions API (CAN_MANAGE or IS_OWNER granted on the object itself; the
// admins group, which can manage everything, does not count as a remaining
// manager, and neither do levels an entry inherits from a parent or root
// object, which are grants on that parent: an inherited CAN_MANAGE neither
// makes an identity the sole manager of the object nor keeps another one
// from being). Notebooks and files of an audited identity's home folder
// that another identity's job (task paths) or pipeline (libraries) runs,
// and Lakeview dashboards, queries and alerts of other identities stored in
// it (their lists carry no path: an ACL entry inherited from the home
// folder places them there), are findings too (see
// homefolders.go for why they are ranked as if the folder goes with the
// identity). For audited groups, each member whose only path to a
// workspace's permission assignments goes through an audited group gets a
// workspace-access finding (identity-federated workspaces only: others
// have no assignments).
//
// Per Unity Catalog metastore (metastore.go): read once, through the first
// audited workspace attached to it, whatever the number of workspaces it
// serves; its findings name the metastore and those workspaces. Owners of
// the metastore (its admin), catalogs, schemas, tables and views
// (materialized views and streaming tables included), volumes, functions,
// registered models, external locations, storage and service credentials,
// connections, shares, recipients and providers; and direct grants.
//
// # Severities
//
// Every finding has a severity and a one-line reason; reports sort by
// severity:
//
//	breaks    an unpaused scheduled, continuous or triggered job running as
//	          the identity; a query running as its owner; an alert evaluated
//	          as the identity (a v2 alert: on an unpaused schedule); a token
//	          used in the last 30 days and not expired; a member losing its
//	          only path into a workspace; a Unity Catalog view the identity
//	          owns; a notebook or file of its home folder run by another
//	          identity's scheduled job or running pipeline, or another
//	          identity's dashboard, query or alert stored in its home folder
//	stops     a running cluster the identity created or that is dedicated to
//	          it (job clusters end with their run); a running pipeline that
//	          runs as the identity
//	orphaned  no other principal can manage the object (Unity Catalog: any
//	          other securable the identity owns, the metastore it
//	          administers)
//	info      any other tie (a paused job, a job running as someone else, a
//	          terminated cluster, an expired or unused token, a Unity
//	          Catalog privilege granted to the identity, ...)
//
// A part of the account that could not be read (a workspace, a resource
// kind, some permission reads, a metastore or one of its kinds, a
// metastore read by someone who is not its admin, whose lists are partial)
// appears as a finding with severity not-covered, ranked first, and Run
// returns a *PartialError (exit code 2) after writing the report: a gap is
// never reported as "no findings". The service shows a non-admin only the
// objects it can access, so in a workspace where token management answers
// 403 (the caller is not a workspace admin there) every kind is not
// covered. A workspace that refuses the credentials (a personal access
// token of another workspace, see scim.TokenScopeError) is not covered,
// with the fix in its reason. With Options.FailOn, a finding of that
// severity or worse makes Run return a *GateError (exit code 3, which wins
// over 2) after writing the report.
// Alerts v2 are the one optional kind: a workspace whose alerts v2 list
// answers 404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED does not have the
// feature, and the kind is recorded as not available
// (WorkspaceCoverage.NotAvailable), which is not a gap.
//
// # Requests
//
// Each object list is read once per workspace, whatever the number of
// audited identities, with the largest page each API allows (jobs limit
// 100, pipelines max_results 100, clusters and the other page-token lists
// page_size 100, legacy dashboards page numbers, tokens and serving
// endpoints unpaged); clusters need one more list filtered on pinned ones.
// Permission reads (class permissions-read, so they run under that class's
// own rate limit) are the expensive part, one per object, so they are made
// only where they can change the result (PermissionScope):
//
//   - every job, pipeline and SQL warehouse: IS_OWNER can be transferred to
//     anyone, and a job runs as its owner unless run_as is set, so only the
//     ACL tells who a job breaks for;
//   - every Lakeview dashboard: the API has no owner field;
//   - every MLflow experiment and secret scope (their owner is in the ACL),
//     and every query and (v1) alert: their lists carry no folder, and an
//     ACL entry inherited from a home folder says one is stored there;
//   - clusters, v2 alerts, legacy dashboards, serving
//     endpoints and apps only when a list field ties them to an audited identity (creator,
//     owner, dedicated user): the sole-manager check is only meaningful for
//     objects the identity can manage, and those it created or owns are the
//     ones it manages; an identity granted CAN_MANAGE on an object it has no
//     other tie to is missed (use PermissionsAll);
//   - with --all, every object (everyone is audited);
//   - Unity Catalog grants: on the metastore, catalogs, schemas, external
//     locations, credentials and connections unless PermissionsNone, and on
//     every table, volume, function and registered model with
//     PermissionsAll only (there may be hundreds of thousands).
//
// jobs/get, the only source of run_as_user_name, is called only for a job
// that matters (tied to an audited identity, or whose creator was deleted)
// when neither run_as in the list nor IS_OWNER in its ACL tells whom it
// runs as, which in practice means only with PermissionsNone. Every
// pipeline is read once (pipeline get) for its libraries, and each
// home-folder path another identity uses once (get-status). Permission
// reads of a page of jobs or clusters start as soon as the page arrives;
// with --all, the directories are listed in the background while the
// permission reads run (account and workspace SCIM have their own rate
// limits).
//
// # Reports
//
// The same Report feeds every format: a terminal table (aligned on a
// terminal, TSV otherwise), CSV (one row per finding, WriteCSV), JSON (one
// document with the identities, the coverage of every workspace and the
// findings, WriteJSON; ReportVersion versions it), XLSX (a Summary sheet
// with a chart, Identities, Coverage, and one sheet per kind with that
// kind's details as columns) and a self-contained HTML page (HTMLReport,
// rendered by reports.WriteHTML). Files are written atomically with mode
// 0600, as they hold names and emails.
//
// # Interruption
//
// When ctx is cancelled (Ctrl-C), workspaces not finished are not logged as
// done or failed, no report is written (an existing --out file is left as
// it was), and Run returns an error matching ctx.Err().
package audit
