// Package diff implements "dbiam diff OLD NEW": the comparison of two
// exports that a quarterly access review needs.
//
// # Inputs
//
// OLD and NEW are outputs of dbiam export in any format, mixed: an XLSX
// workbook, or a directory of CSV or JSON Lines files. The tables read are
// workspaces, users, service_principals, groups, memberships, entitlements
// and assignments, by column name (membership of admins comes from the
// memberships table, so exports written before workspace_admin counted
// ADMIN assignments compare alike with later ones); the About table, when
// present, describes each side in the report.
//
// # Matching
//
// Workspaces are matched by id. Within a workspace, identities are matched
// by userName (users), applicationId (service principals) or display name
// and type (groups: a workspace group and an account group may share a
// name), never by row position or SCIM id: an identity deleted and created
// again with the same name is the same identity.
//
// # Changes
//
// Per workspace, in this order (admin rights gained first):
//
//	admin        gained, lost: member of the workspace group admins
//	             (directly or through groups), an ADMIN permission
//	             assignment, or one to a group the principal belongs to
//	workspace    added, removed: in one export only (its contents are not
//	             listed)
//	principal    added, removed, activated, deactivated
//	membership   added, removed (direct or transitive, with the path), or
//	             changed between direct and transitive
//	entitlement  gained, lost: effective entitlements (granted directly or
//	             through groups), with their sources
//	assignment   added, removed, changed permissions
//
// A workspace that is not ok in either export (failed, skipped), a table
// missing from either export, or assignments that one export could not
// read are listed as not compared, never as changes.
//
// # Output and exit code
//
// The report is a table (stdout), CSV, JSON (one versioned document), an
// XLSX workbook (its first sheet the admin changes) or a self-contained
// HTML page (the admin rights gained first). Run returns nil when the
// exports are equal, and a *DifferentError otherwise: exit code 3 when
// they differ, 2 when nothing differed in what could be compared but some
// parts could not be. Unreadable inputs match ErrBadOptions (exit code 1),
// and so do inputs that would make a false report: a table whose row count
// differs from the one its About table records (cut short), and exports
// of two different accounts.
package diff
