// Package audit implements "dbiam audit": before an admin removes a user, a
// service principal or a group, it reports, across every workspace, what
// the identity created, owns, runs as or alone can manage, and what breaks
// when it goes. It only reads (GET requests).
//
// # Selecting identities
//
// Options.Users (user names), Options.ServicePrincipals (application ids)
// and Options.Groups (display names) name identities; Options.FromFile adds
// more (see ReadIdentities). Names are looked up in the account, then, for
// names the account does not have, in every workspace (workspace-local
// principals are audited in their workspace only). A name found nowhere is
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
// something. Options.All audits every principal that an object refers to
// (the compliance view); each identity is then judged alone.
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
// and apps (creator), and sole-manager status from the permissions API
// (CAN_MANAGE or IS_OWNER granted on the object itself; the admins group,
// which can manage everything, does not count as a remaining manager, and
// neither do levels an entry inherits from a parent or root object, which
// are grants on that parent: an inherited CAN_MANAGE neither makes an
// identity the sole manager of the object nor keeps another one from
// being). For audited groups, each member
// whose only path to a workspace's permission assignments goes through an
// audited group gets a workspace-access finding (identity-federated
// workspaces only: others have no assignments).
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
//	          only path into a workspace
//	stops     a running cluster the identity created or that is dedicated to
//	          it (job clusters end with their run); a running pipeline that
//	          runs as the identity
//	orphaned  no other principal can manage the object
//	info      any other tie (a paused job, a job running as someone else, a
//	          terminated cluster, an expired or unused token, ...)
//
// A part of the account that could not be read (a workspace, a resource
// kind, some permission reads) appears as a finding with severity
// not-covered, ranked first, and Run returns a *PartialError (exit code 2)
// after writing the report: a gap is never reported as "no findings". The
// service shows a non-admin only the objects it can access, so in a
// workspace where token management answers 403 (the caller is not a
// workspace admin there) every kind is not covered. A workspace that
// refuses the credentials (a personal access token of another workspace,
// see scim.TokenScopeError) is not covered, with the fix in its reason.
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
//   - clusters, queries, alerts (v1 and v2), legacy dashboards, serving
//     endpoints and apps only when a list field ties them to an audited identity (creator,
//     owner, dedicated user): the sole-manager check is only meaningful for
//     objects the identity can manage, and those it created or owns are the
//     ones it manages; an identity granted CAN_MANAGE on an object it has no
//     other tie to is missed (use PermissionsAll);
//   - with --all, every object (everyone is audited).
//
// jobs/get, the only source of run_as_user_name, is called only for a job
// that matters (tied to an audited identity, or whose creator was deleted)
// when neither run_as in the list nor IS_OWNER in its ACL tells whom it
// runs as, which in practice means only with PermissionsNone. Permission
// reads of a page of jobs or clusters start as soon as the page arrives;
// with --all, names are resolved in the account in the background while
// the permission reads run (account SCIM has its own rate limit), in
// filters of 50 names.
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
