// Package migrate moves workspace-local groups to account groups:
// "dbiam migrate plan" reads the live state and writes a plan file;
// "apply" executes it step by step with a journal, resumable after any
// interruption; "status", "verify", "rollback" and "finalize" inspect,
// check, undo and finish a run; "adopt" rebuilds a damaged or lost journal
// from the plan and the live state (adopt.go).
//
// # Planning
//
// [RunPlan] reads, with GET requests only:
//
//   - the account's workspaces, and for each one whether it is
//     identity-federated (GET /api/2.1/unity-catalog/current-metastore-assignment
//     answers with a metastore); a workspace that is not, or is not
//     RUNNING, is listed as skipped with the reason;
//   - the groups of each federated workspace with the attributes id,
//     displayName, externalId, meta, entitlements, roles and groups (never
//     with members), and, once a page shows a selected group, the
//     workspace's users and service principals with their "groups"
//     attribute: the members of a selected group are the principals whose
//     "groups" name it (scim.Memberships, as export derives them), its
//     direct parents its own "groups". A group is read with one GET
//     (attributes=members,groups) only where the lists leave its membership
//     ambiguous (an entry whose type is neither empty nor "direct"), or
//     every selected group with GetMembers (--get-members);
//   - the account's users, service principals and groups, listed once
//     alongside the workspaces, and the members of each account group the
//     plan may reuse;
//   - in each workspace where it migrates a group, the grants (plan_grants.go):
//     the ACL of every job, cluster, SQL warehouse, pipeline, query, alert,
//     dashboard, serving endpoint, app, experiment, registered model,
//     instance pool, cluster policy, vector search endpoint, Git folder and
//     home folder (what audit reads), of token and password usage, and of
//     every secret scope; with ReadWorkspaceTree (--read-workspace-tree)
//     every directory, notebook and file of the tree too. Each migrated
//     group's direct levels there are its baseline (GroupPlan.Grants), what
//     verify and rollback compare with once the permission migration API has
//     moved them off the local group; they also show which reused account
//     groups already hold grants. Legacy table ACLs, and the tree without
//     the flag, are not read (grants-not-read).
//
// Every list is read with several pages in flight (scim's
// Endpoint.ListConcurrent). A progress task per workspace and one for the
// account count the identities listed; off a terminal a status line is
// logged every 5 s (PlanOptions.StatusInterval).
//
// In scope are groups whose meta.resourceType is WorkspaceGroup, never the
// system groups admins, users and account users, selected with
// --workspace, --group, --group-regex, --exclude and --exclude-regex.
//
// Each selected group gets a target account group name from the match
// strategy: name, prefix or suffix (added, or removed with --strip), regex
// (--regex, --replace), external-id (the account group with the same
// externalId; a local group without one is a no-match conflict, never
// matched to an empty id), or mapping (a CSV of
// workspace,local_group,account_group; workspace is a name, an id or "*").
//
// Members are resolved to account identities: users by userName, service
// principals by applicationId, account groups by id, and nested local
// groups by their own planned account group. Targets are planned children
// first (a topological order of the target graph); a cycle blocks every
// group in it. A member without an account identity blocks its group with
// a member-without-account-identity conflict: members are never dropped
// silently. A group whose nested group is blocked is blocked too. A local
// group that contains its own target account group (a common bridge during
// manual migrations) reuses it without that self-membership (reported as a
// non-blocking cycle conflict); a member account group that already
// contains the target blocks the group (deeper account nesting is not
// read).
//
// Conflicts, each listed with what every --on-conflict policy would do:
//
//   - same-name-different-members: local groups mapped to one name have
//     different members. fail skips them all; merge makes one account group
//     with the union; per-workspace uses "<workspace>_<name>" per workspace.
//   - existing-account-group-differs: the target exists with other members.
//     fail skips; merge reuses it and adds the missing members (its other
//     members stay); per-workspace uses per-workspace names instead.
//   - target-name-taken: another local group of the workspace, not migrated
//     to that name by the plan, holds the target (or backup) name, or two
//     planned account groups would share one name. Blocking, except that
//     per-workspace maps the group to "<workspace>_<name>".
//   - member-without-account-identity, cycle and no-match: always blocking.
//   - parent-not-migrated: a migrated local group is a direct member of
//     local groups the plan does not migrate (not selected, skipped, or a
//     system group such as admins), listed. Never blocking: the group
//     migrates, and finalize keeps its backup group so that those parents
//     keep its members.
//   - not-read (with --skip-unreadable): a workspace, or the members of its
//     groups, could not be read; the plan leaves it (or them) out. Always
//     blocking.
//   - permissions-route (permroute.go, docs/permission-migration.md): the
//     permission migration API would refuse the group under the strict
//     reading of the public record: two local groups of one workspace
//     mapped to one account group, or a reused account group that already
//     holds grants in the workspace. Blocking with --permissions-route api
//     (the default), with the fixes; with api-or-acl-copy the group copies
//     its ACL entries instead (not blocking).
//   - service-limit: the service would refuse the migration (plan_limits.go,
//     docs/limits.md): the account over LimitAccountGroups groups (every
//     group needing a new account group is skipped), a principal over
//     LimitDirectParents direct parent groups (every planned group adding
//     it), a planned account group heading more than LimitNestingDepth
//     layers of nested groups, or a backup or new account group name over
//     LimitNameLength UTF-16 code units. Always blocking; groups nesting a
//     skipped group are skipped too. PlanOptions.Limits can only lower the
//     limits.
//
// Warnings ([Warning]) change nothing in the plan and follow the conflicts
// in the summary: externally-provisioned (local groups the plan migrates
// carry an externalId: a workspace-level SCIM provisioner may fight the
// migration; one per workspace), workspace-group-count (a workspace
// would show more than LimitWorkspaceGroups groups between apply and
// finalize), table-acls-not-verified (once, when the plan migrates a
// group: the permission migration API moves legacy table ACLs according
// to the public record, but dbiam neither reads nor verifies them),
// grants-not-read (once: the kinds of grant the baselines leave out) and
// acl-copy-partial (per workspace with groups on the acl-copy route, which
// carries only the baseline's kinds).
//
// Each migrated group has a permissions route (GroupPlan.PermissionRoute,
// --permissions-route): api, the permission migration API, which moves
// every grant of every kind; or acl-copy, a PATCH of each object ACL entry
// of the baseline and a secrets ACL put of each secret scope ACL, the local group
// keeping its own. acl-copy is never a silent fallback: the route option
// chooses it for every group, or (api-or-acl-copy) for the groups the API
// would refuse, each listed as a conflict.
//
// An existing account group is reused only when its members equal the
// desired ones or the policy says merge.
//
// The summary on stdout lists every conflict with its explanation and
// what each policy would do, on a terminal and otherwise (after the TSV
// group table). The plan file is always written; [RunPlan] then returns a
// [PlanReviewError] (exit code 2, "review the conflicts") when the plan
// has blocking conflicts, or migrates nothing although groups (--group,
// --group-regex) or mapping rows were asked for. A clean plan exits 0.
//
// # Plan file
//
// The plan is JSON ([Plan]), plan_version [PlanVersion], written
// atomically with mode 0600 (it names people); an existing file is
// replaced only with --force. [ReadPlan] rejects unknown fields and any
// other plan_version ("plan version mismatch: ..."), and checks internal
// references ([Plan.Validate]). Fields:
//
//   - plan_version, tool_version, created_at, lineage (random id of the
//     plan), digest (its integrity digest, [PlanDigest]), host, account_id,
//     settings (the options it was made with, including the sha256 of the
//     mapping file, permissions_route and read_workspace_tree);
//   - account_groups, children before parents: key ("ag:<name>"),
//     display_name, existing_id (reuse) or none (create), external_id,
//     members (desired direct members: kind user|service_principal|group,
//     account_id, user_name, application_id, group_key for a nested group
//     of the plan), existing_members_digest (precondition of a reused
//     group), sources (the local groups mapped to it);
//   - workspaces: id, name, url, federated, skipped (reason), grants (the
//     object kinds whose ACLs were read, those the workspace does not have,
//     and how many objects and secret scopes were read), and groups,
//     children before parents: local_id, local_name, backup_name
//     (--backup-prefix + name), account_group_key, entitlements, roles,
//     members_digest, member_count, skipped (reason; such a group is left
//     alone), permission_route, grants (the baseline: objects as
//     object_type, object_id, level; secrets as scope, permission);
//   - conflicts: kind, workspace_id, group, detail, policies, blocking;
//   - warnings (omitted when empty): kind, workspace_id, detail.
//
// Added to the contract since its first draft: settings.exclude_regex;
// warnings; the helpers [MembersDigest], [MemberKind] and [IsSystemGroup]; digest,
// which [ReadPlan] requires: a plan whose content does not match it (edited
// after it was written), or that has none, is refused with an error
// matching [ErrPlanEdited], and so is a plan that is not internally
// consistent (a system group as a target or a backup name, a backup name
// another group of its workspace has, one account id under two names;
// see [Plan.Validate]). apply, verify, finalize and rollback read plans
// only through [ReadPlan], so they refuse such a plan before any change.
// Also settings.permissions_route, settings.read_workspace_tree,
// workspaces[].grants, groups[].permission_route and groups[].grants.
//
// Names are matched byte for byte everywhere (flags keep their spaces; a
// value in double quotes is a Go-quoted name, see [FlagName]); a name that
// matches nothing is a [*NameError] naming the closest names.
//
// members_digest and existing_members_digest are [MembersDigest]: sha256
// over the sorted "kind:id" lines of the direct members, the kind taken
// from each member's $ref. Apply recomputes them from the live group and
// stops that group, with a message naming it, when they differ: the plan
// is stale for it and must be made again.
//
// # Apply: steps, journal and resume
//
// apply, finalize and rollback show what they will change (counts per
// workspace) and, on a terminal, ask before their first change; --yes
// skips the question, and off a terminal they refuse without it
// ([ErrNotConfirmed]). apply --workspace/--group applies a canary: only
// those groups (and the account groups they need); later runs do the
// rest. A canary that leaves out a nested group or a group sharing an
// account group in the same workspace is refused.
//
// For each account group, once: ensure-account-group (create it with its
// members in one POST, read it back, PATCH only what is missing, in
// batches). Then per migrated local group, in order: rename-local (to its
// backup name), assign-workspace (account permission assignment USER for
// the account group), wait-visible (poll the workspace, bounded, until it
// sees the account group), migrate-permissions (permmove.go: the permission
// migration API, repeated until it moves nothing, each reply that moved
// something journaled before the next call; a 500 is not repeated by the
// transport, apply calls again and stops the group after three in a row,
// naming the objects both groups hold; a 400 "already has permissions"
// stops it at once with the way out; or, for the acl-copy route, a copy of
// each baseline entry), copy-entitlements (entitlements and roles onto the
// account group in that workspace, after the permissions, so that the
// account group holds nothing of its own when the API looks),
// migrate-secret-acls (what the account group lacks of the local group's
// secret scope ACLs, now or in the baseline), verify (verify_grants.go:
// the baseline too).
//
// Several local groups of one workspace may map to one account group
// (merge, or a mapping file); all of them are renamed before that account
// group is assigned to the workspace, since an assignment fails while a
// local group of the same name exists.
//
// Every step is a record in an append-only journal (package journal: one
// JSON line, fsync'ed before the next remote change, chained by sequence
// number and hash; a torn last line is tolerated), bound to the plan by
// its sha256 and lineage, and guarded by a lock. A damaged journal stops
// every command with the line and the way to rebuild it ("migrate
// adopt"). On
// resume, finished steps are skipped, and every other step first reads the
// live state, so a change whose record was lost is recognised rather than
// repeated. Rollback undoes finished steps in reverse order and deletes
// only account groups the run created, and of those only the ones nobody
// else has started to use: a group whose live members differ from those
// dbiam set, or that is assigned to a workspace of the plan where dbiam
// did not assign it, is kept and reported as failed unless --force. Grants
// on it are not checked (they cannot be listed per principal cheaply).
// An account group whose create was sent but not acknowledged is looked
// for by name within the visibility budget apply uses.
//
// Rollback restores a local group exactly as it was before apply, or
// leaves it alone: before its first change it refuses, journals (as a
// failed undo of rename-local, which status counts) and reports the groups
// it cannot restore exactly: a finalized group, a group with a finalized
// group nested in it, a group whose account group is nested in the account
// group of a group that stays migrated, one holding the name of an account
// group that stays assigned, one whose backup someone deleted or renamed,
// and one whose journal adopt rebuilt without being able to tell what the
// migration did to its reused account group ([Detail.Unknown]; see
// rollback_select.go).
// Before any change it also says, per group, which of the grants the
// permission migration moved it can put back and which it cannot
// (rollback_grants.go): it gives the local group back each baseline level
// the account group holds unchanged (a reused account group loses it), and
// cannot restore what changed since, nor what the baseline never held (the
// workspace tree unless the plan read it, legacy table ACLs, grants given
// after the plan).
//
// Finalize handles parents before the groups nested in them and keeps a
// nested group's backup until its migrated parent's backup is gone, so
// that rollback never meets a parent that lost members to finalize.
//
// The planner's pure helpers live in sub-packages under migrate/internal:
// groupgraph (cycles, children-first order, nesting depth, member set
// differences), groupname (case folding, name length as the limit counts
// it, system groups) and fanout (the fetch's bounded parallel reads).
package migrate
