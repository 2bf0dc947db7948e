package migrate

import (
	"context"
	"fmt"
	"strconv"

	"github.com/dbiam/dbiam/scim"
)

// StepKind names what a journal step does.
type StepKind string

// Step kinds, in the order apply runs them for a group (groupKinds).
// ensure-account-group runs once per account group; the others once per
// migrated local group.
const (
	KindEnsureAccountGroup StepKind = "ensure-account-group"
	KindRenameLocal        StepKind = "rename-local"
	KindAssignWorkspace    StepKind = "assign-workspace"
	KindWaitVisible        StepKind = "wait-visible"
	KindCopyEntitlements   StepKind = "copy-entitlements"
	KindMigratePermissions StepKind = "migrate-permissions"
	KindMigrateSecretACLs  StepKind = "migrate-secret-acls"
	KindVerify             StepKind = "verify"
	// KindDeleteBackup is finalize's step: delete the renamed local group.
	KindDeleteBackup StepKind = "delete-backup"
)

// groupKinds are the per-group steps of apply, in order. Permissions move
// before entitlements and roles are copied, so that the account group holds
// nothing of its own in the workspace when the permission migration API
// looks (docs/permission-migration.md, rule 3).
var groupKinds = []StepKind{
	KindRenameLocal,
	KindAssignWorkspace,
	KindWaitVisible,
	KindMigratePermissions,
	KindCopyEntitlements,
	KindMigrateSecretACLs,
	KindVerify,
}

// accountGroupStepID returns the stable step id of ensure-account-group for
// the account group with plan key key.
func accountGroupStepID(key string) string {
	return string(KindEnsureAccountGroup) + "/" + key
}

// groupStepID returns the stable step id of a per-group step: kind,
// workspace id and the local group's id, which no rename changes.
func groupStepID(kind StepKind, workspaceID int64, localID string) string {
	return string(kind) + "/" + strconv.FormatInt(workspaceID, 10) + "/" + localID
}

// Remote is what apply, verify, rollback and finalize need from Databricks:
// the reads of [Reader] and the writes of [Writer]. Groups are always
// addressed by id, never by name, because renames and creates reach lists
// and filters only eventually. Implementations are safe for concurrent use.
type Remote interface {
	Reader
	Writer
}

// Reader is the read side of [Remote].
type Reader interface {
	GrantReader
	// AccountGroup reads an account group with its members. A missing
	// group gives an error matching scim.ErrNotFound.
	AccountGroup(ctx context.Context, id string) (scim.Group, error)
	// FindAccountGroups lists account groups named displayName (lists lag
	// writes, so a group created moments ago may be missing).
	FindAccountGroups(ctx context.Context, displayName string) ([]scim.Group, error)
	// Assignments lists a workspace's permission assignments (§D.1).
	Assignments(ctx context.Context, workspaceID int64) ([]scim.PermissionAssignment, error)
	// WorkspaceGroup reads a group of a workspace by id, with members,
	// entitlements, roles and meta.
	WorkspaceGroup(ctx context.Context, workspaceID int64, id string) (scim.Group, error)
	// WorkspaceGroupVisible reports whether the group with this id shows in
	// the workspace's group list (the eventually consistent view the
	// permission APIs use), and under which name.
	WorkspaceGroupVisible(ctx context.Context, workspaceID int64, id string) (bool, string, error)
	// SecretScopes lists the names of a workspace's secret scopes.
	SecretScopes(ctx context.Context, workspaceID int64) ([]string, error)
	// SecretACLs lists the ACLs of a secret scope.
	SecretACLs(ctx context.Context, workspaceID int64, scope string) ([]SecretACL, error)
}

// Writer is the write side of [Remote]: every call changes something
// remotely. The --dry-run decorator ([DryRun]) replaces each with a log
// line.
//
// Every method runs the before-send hooks of its context
// (scim.WithBeforeSend) once it is about to send its first request, after
// the rate limiter granted it: that is where apply writes the journal
// record announcing the change (write-ahead), so that a record is written
// only for a call about to be sent. scim's clients do it in their
// transport; an implementation that sends another way calls
// scim.RunBeforeSend(ctx) first. A method that ignores the hooks makes
// changes no record announced.
type Writer interface {
	GrantWriter
	// CreateAccountGroup creates g (with its members) in one POST. When the
	// outcome is unknown the error wraps scim.ErrOutcomeUnknown.
	CreateAccountGroup(ctx context.Context, g scim.Group) (scim.Group, error)
	// AddAccountGroupMembers adds members (account ids) in one PATCH.
	AddAccountGroupMembers(ctx context.Context, id string, memberIDs []string) error
	// RemoveAccountGroupMember removes one member.
	RemoveAccountGroupMember(ctx context.Context, id, memberID string) error
	// DeleteAccountGroup deletes an account group.
	DeleteAccountGroup(ctx context.Context, id string) error
	// PutAssignment sets a principal's permissions on a workspace.
	PutAssignment(ctx context.Context, workspaceID int64, principalID string, perms []string) error
	// DeleteAssignment removes a principal's assignment to a workspace.
	DeleteAssignment(ctx context.Context, workspaceID int64, principalID string) error
	// RenameWorkspaceGroup renames a workspace group.
	RenameWorkspaceGroup(ctx context.Context, workspaceID int64, id, name string) error
	// AddWorkspaceGroupEntitlements adds entitlements and roles to a group
	// in a workspace (an account group's entitlements are per workspace).
	AddWorkspaceGroupEntitlements(ctx context.Context, workspaceID int64, id string, entitlements, roles []string) error
	// RemoveWorkspaceGroupEntitlements removes them again.
	RemoveWorkspaceGroupEntitlements(ctx context.Context, workspaceID int64, id string, entitlements, roles []string) error
	// DeleteWorkspaceGroup deletes a workspace-local group.
	DeleteWorkspaceGroup(ctx context.Context, workspaceID int64, id string) error
	// MigratePermissions moves (or copies) at most size grants of the local
	// group from to the account group to (§E) and returns how many it moved.
	MigratePermissions(ctx context.Context, workspaceID int64, from, to string, size int) (int, error)
	// PutSecretACL grants a principal a permission on a secret scope.
	PutSecretACL(ctx context.Context, workspaceID int64, acl SecretACL) error
	// DeleteSecretACL removes a principal's ACL from a secret scope.
	DeleteSecretACL(ctx context.Context, workspaceID int64, scope, principal string) error
}

// StaleError reports a group whose live state no longer matches the state
// the plan was made from. Apply stops that group and goes on with the
// others.
type StaleError struct {
	Group       string // local or account group name
	Workspace   string // workspace name, "" for the account
	WorkspaceID int64
	What        string // what differs, e.g. "members differ"
}

// Error names the group and says to plan again.
func (e *StaleError) Error() string {
	where := "the account"
	if e.WorkspaceID != 0 {
		where = fmt.Sprintf("workspace %s (%d)", e.Workspace, e.WorkspaceID)
	}
	return fmt.Sprintf("saved plan is stale: group %q in %s changed after the plan was created (%s); run \"dbiam migrate plan\" again", e.Group, where, e.What)
}
