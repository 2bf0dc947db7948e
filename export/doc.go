// Package export implements "dbiam export": an inventory of the identities
// of every workspace of an account (users, service principals, groups, group
// memberships, entitlements, workspace assignments) and of the account
// itself, written as an XLSX workbook, a directory of CSV files or a
// directory of JSON Lines files.
//
// # Use
//
// Command turns the flags into Options; Run does the work and is what tests
// call. Run validates every option (format, --include, --page-size from 1
// to 10000, the workspaces file, an existing output of the wrong kind — a
// directory for xlsx, a file for csv or json — even with --force, an
// existing output without --force) before it connects, so bad input fails
// with an error matching ErrBadOptions and no request.
//
// # Workspaces
//
// With an account id the workspaces are those of the account; with only
// --host, the one workspace of the host; with --workspaces-file, the rows of
// that file (id,name,url). --workspace narrows the set by id, exact name or
// name ignoring case (a name shared by several workspaces must be given as
// an id). Workspaces whose status is not RUNNING are listed as skipped and
// not read. Workspaces are read --parallel at a time (the session's
// setting), the account alongside them. Without an account id (a workspace
// admin's token, say) nothing is asked of the account API: the account
// tables and the account_user column are skipped with one log line, not as
// a failure (naming --include account is then bad input), and assignments
// come from the workspace API.
//
// # Requests
//
// Per workspace, three SCIM lists (Users, ServicePrincipals, Groups), each
// with an attributes projection that leaves out group members, the largest
// page the server grants (count=1000 is asked, the server may cap it), and
// the pages after the first requested concurrently (see listAll). As soon
// as a page of the group list holds an account group, the workspace is
// known to be identity federated and its permission assignments (account
// API, or the workspace API without an account id) are read while the
// lists go on; otherwise, once the lists are done, one read of the
// workspace's metastore assignment tells whether it is federated, and the
// assignments are read when it is. No per-object GET is made. Group
// membership is derived from the "groups" attribute of every user, service
// principal and group (a principal's direct parent groups), which gives the
// same direct members as one GET per group, including nested and account
// groups (tested against the sandbox). The account: its users (id only
// unless the account tables are included), groups and service principals.
//
// # Output
//
// Tables, in this order (file <table>.csv or .jsonl, or sheet <table>):
//
//	workspaces                  one row per workspace: id, name, cloud, URL,
//	                            status, identity_federated, counts, and
//	                            export_status (ok, failed, skipped) + error
//	about                       the export for a reviewer: as-of time, account,
//	                            host, dbiam version, command line (credentials
//	                            left out), workspaces asked for and read, and
//	                            each table's status: ok, partial, failed or
//	                            skipped, with the reason (XLSX: the first
//	                            sheet, About; CSV: about.csv; JSON Lines:
//	                            about.json, one object)
//	users                       workspace users: account_user tells whether
//	                            the user's id is an account user's (empty
//	                            without account access); groups are the
//	                            direct groups, by name; workspace_admin is
//	                            membership of the workspace-local admins
//	                            group, directly or through groups, or an
//	                            ADMIN assignment to the principal or a group
//	                            it is in (when assignments were read)
//	service_principals          workspace service principals
//	groups                      type (workspace or account), member counts by
//	                            kind, entitlements, roles, parent groups
//	memberships                 one row per (group, member): relation direct
//	                            (depth 1), transitive (through nested groups,
//	                            depth >= 2, via = the groups in between on a
//	                            shortest path) or cycle (the group is its own
//	                            member; via = the cycle). Cycles are walked
//	                            once and logged, never looped on
//	entitlements                the effective entitlements: one row per
//	                            (user or service principal, entitlement),
//	                            direct when granted to the principal itself,
//	                            via_groups the granting groups, each as the
//	                            path from the granting group down to the
//	                            principal's own group (nested groups included);
//	                            one row per entitlement granted to a group
//	                            itself; workspace_admin on every row
//	assignments                 workspace permission assignments (USER/ADMIN)
//	account_users, account_groups, account_service_principals
//	                            with --include account (and an account id)
//	summary                     counts per workspace (XLSX: the Summary sheet,
//	                            with a chart)
//
// An empty value is an empty CSV field, an empty XLSX cell and null in JSON
// Lines, whether it is unknown (a count that could not be read) or an empty
// text (a user without externalId): JSON Lines never holds "".
//
// Every workspace table starts with workspace_id and workspace_name. Ids are
// text (16-digit ids do not fit a spreadsheet number). Multi-valued cells
// (emails, entitlements, groups, roles, permissions) are JSON arrays in
// JSON Lines and join their values with "; " in CSV and XLSX; the via path
// of a membership is an array of group names, joined with " > " in CSV and
// XLSX; via_groups is an array of such paths (each joined with " > ", the
// paths with "; "). Rows are sorted
// by workspace id, then by name (case-insensitively) and id, so outputs are
// stable (see the golden files in testdata/golden).
//
// The output appears atomically (temporary name, fsync, rename) with mode
// 0600 (directories 0700) once every workspace is done; a cancelled run
// leaves nothing behind. Rows are spooled per workspace to a temporary
// directory next to the output, so memory holds only the workspaces being
// read, and are copied into the output's tables while later workspaces are
// still being read: one goroutine per table takes each workspace in order
// as soon as it and those before it are done (the users table also waits
// for the account users, which are read first). XLSX rows go straight into
// excelize's streaming writer. A workbook's properties name "dbiam
// <version>" and the export's time.
//
// # Failures
//
// A workspace whose reads fail (denied, throttled past the retry budget,
// unavailable) does not stop the others: its export_status is failed with
// the reasons, the tables whose reads succeeded are still written for it,
// and Run returns a *PartialError (exit code 2) after writing everything.
// A failed account read is reported the same way. The About table marks
// every table that misses rows (partial or failed, with the reason), and
// in XLSX those sheets get a red or orange tab and the status in their
// printed page header. The summary line on stderr counts the failed
// workspaces and the account as the error does.
//
// One refusal is not a failure: the assignments read answered 403 (the
// caller may read the workspace's identities but not its permission
// assignments). The workspace is then ok if its identity reads succeeded;
// its error cell says "assignments not read (not failed): list assignments:
// <cause>", its assignments count is empty, the assignments table holds one
// row for it with only the workspace and that error, and the summary on
// stderr lists it as "workspace <id> (<name>) ok, assignments not read ...".
// Any other failure of the assignments read (throttled, unavailable) fails
// the workspace as above.
//
// When ctx is cancelled Run logs one line ("export cancelled: nothing
// written"), nothing per workspace, writes nothing and returns an error
// matching ctx.Err() (not a *PartialError).
package export
