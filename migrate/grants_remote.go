package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/dbiam/dbiam/scim"
)

// GrantReader is the part of [Reader] that reads object ACLs.
type GrantReader interface {
	// ObjectPermissions reads an object's access control list (GET
	// /api/2.0/permissions/{objectType}/{objectID}). A missing object
	// gives an error matching scim.ErrNotFound.
	ObjectPermissions(ctx context.Context, workspaceID int64, objectType, objectID string) (scim.ObjectPermissions, error)
}

// GrantWriter is the part of [Writer] that changes object ACLs.
type GrantWriter interface {
	// GrantObjectPermission gives group (by display name) level on an
	// object, leaving the other entries as they are (PATCH).
	GrantObjectPermission(ctx context.Context, workspaceID int64, objectType, objectID, group, level string) error
	// SetObjectPermissions replaces the object's direct ACL by acl (PUT;
	// each entry with one PermissionLevel).
	SetObjectPermissions(ctx context.Context, workspaceID int64, objectType, objectID string, acl []scim.AccessControl) error
}

// aclRequestEntry is one entry of a permissions API request.
type aclRequestEntry struct {
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	PermissionLevel      string `json:"permission_level"`
}

func permissionsPath(objectType, objectID string) string {
	return "/api/2.0/permissions/" + objectType + "/" + url.PathEscape(objectID)
}

func (r *scimRemote) ObjectPermissions(ctx context.Context, workspaceID int64, objectType, objectID string) (scim.ObjectPermissions, error) {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return scim.ObjectPermissions{}, err
	}
	return scim.GetPermissions(ctx, w, objectType, objectID)
}

func (r *scimRemote) GrantObjectPermission(ctx context.Context, workspaceID int64, objectType, objectID, group, level string) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	body := map[string]any{"access_control_list": []aclRequestEntry{{GroupName: group, PermissionLevel: level}}}
	// Setting the same level twice has the effect of once.
	return w.Do(ctx, scim.ClassPermissionsWrite, http.MethodPatch, permissionsPath(objectType, objectID), nil, body, nil, scim.Idempotent())
}

func (r *scimRemote) SetObjectPermissions(ctx context.Context, workspaceID int64, objectType, objectID string, acl []scim.AccessControl) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	entries := make([]aclRequestEntry, 0, len(acl))
	for _, e := range acl {
		entries = append(entries, aclRequestEntry{UserName: e.UserName, GroupName: e.GroupName,
			ServicePrincipalName: e.ServicePrincipalName, PermissionLevel: e.PermissionLevel})
	}
	body := map[string]any{"access_control_list": entries}
	return w.Do(ctx, scim.ClassPermissionsWrite, http.MethodPut, permissionsPath(objectType, objectID), nil, body, nil)
}

// withGroupLevel returns the direct ACL of an object (as PUT takes it,
// one level per entry) with group's entry set to level, or removed when
// level is "". Inherited levels are left out (they belong to the parent),
// and so is the admins group on token and password usage, whose
// CAN_MANAGE there is fixed by the service, not part of the ACL one sets.
func withGroupLevel(objectType string, acl scim.ObjectPermissions, group, level string) []scim.AccessControl {
	var out []scim.AccessControl
	for _, e := range acl.AccessControlList {
		if e.GroupName == group || (objectType == "authorization" && e.GroupName == "admins") {
			continue
		}
		l := ""
		for _, p := range e.DirectLevels() {
			if l == "" || levelCovers(objectType, p.PermissionLevel, l) {
				l = p.PermissionLevel
			}
		}
		if l == "" {
			continue
		}
		out = append(out, scim.AccessControl{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName, PermissionLevel: l})
	}
	if level != "" {
		out = append(out, scim.AccessControl{GroupName: group, PermissionLevel: level})
	}
	return out
}

// listSecretScopes lists the names of a workspace's secret scopes.
func listSecretScopes(ctx context.Context, d scim.Doer) ([]string, error) {
	return scim.ListSecretScopes(ctx, d)
}

// listSecretACLs lists the ACLs of a secret scope.
func listSecretACLs(ctx context.Context, d scim.Doer, scope string) ([]SecretACL, error) {
	items, err := scim.ListSecretACLs(ctx, d, scope)
	if err != nil {
		return nil, err
	}
	acls := make([]SecretACL, 0, len(items))
	for _, it := range items {
		acls = append(acls, SecretACL{Scope: scope, Principal: it.Principal, Permission: it.Permission})
	}
	return acls, nil
}

// Errors of the permission migration API that apply recognises
// (docs/permission-migration.md). The Remote wraps the service's reply in
// them.
var (
	// ErrPermissionsTable: 500 "Error when updating permissions table"
	// (rule 6). The call moved part of its batch and keeps it; a conflict
	// (the account group already holds a grant on an object being moved)
	// repeats it on every call, so the transport does not repeat it.
	ErrPermissionsTable = errors.New("the permission migration API failed part-way")
	// ErrAlreadyHasPermissions: 400 BAD_REQUEST "Account group <name>
	// already has permissions" (rule 3, the only BAD_REQUEST on record).
	ErrAlreadyHasPermissions = errors.New("the account group already has permissions")
)

// classifyMigrationError wraps a reply of the permission migration API in
// the error apply recognises, if it is one.
func classifyMigrationError(err error) error {
	var ae *scim.APIError
	if !errors.As(err, &ae) || ae.Throttled() {
		return err
	}
	switch {
	case ae.StatusCode == http.StatusInternalServerError:
		return fmt.Errorf("%w: %w", ErrPermissionsTable, err)
	case ae.StatusCode == http.StatusBadRequest && ae.ErrorCode == "BAD_REQUEST":
		return fmt.Errorf("%w: %w", ErrAlreadyHasPermissions, err)
	}
	return err
}
