package migrate

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/dbiam/dbiam/scim"
)

// scimRemote is the Remote over dbiam's scim client. Account calls go to
// the session's account client; workspace calls to a client per workspace,
// addressed by the plan's workspace URL.
type scimRemote struct {
	acct *scim.AccountClient
	ws   *scim.WorkspaceSet
}

var _ Remote = (*scimRemote)(nil)

// NewRemote returns the Remote that apply, verify, rollback and finalize
// use against Databricks: account calls through sess's account client and
// workspace calls through a client per workspace of p. Workspace URLs come
// from the session's workspace list (so a plan can be applied through
// another host of the same account), else from the plan. It is safe for
// concurrent use.
func NewRemote(ctx context.Context, sess *scim.Session, p *Plan) (Remote, error) {
	acct, err := sess.Account()
	if err != nil {
		return nil, fmt.Errorf("connect to account: %w", err)
	}
	var infos []scim.WorkspaceInfo
	for _, w := range p.Workspaces {
		infos = append(infos, scim.WorkspaceInfo{ID: w.WorkspaceID, Name: w.WorkspaceName, URL: w.URL})
	}
	ws, err := sess.WorkspaceSet(ctx, infos)
	if err != nil {
		return nil, err
	}
	return &scimRemote{acct: acct, ws: ws}, nil
}

// connectRemote connects through d and returns the Remote for plan p,
// refusing a connection to another account than the plan's.
func connectRemote(ctx context.Context, op string, d Deps, p *Plan) (Remote, error) {
	if d.Connect == nil {
		return nil, fmt.Errorf("%s: no connection configured", op)
	}
	sess, err := d.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if id := sess.AccountID(); p.AccountID != "" && id != "" && id != p.AccountID {
		return nil, fmt.Errorf("%s: the plan was made for account %s, but the connection is to account %s; use the connection the plan was made with", op, p.AccountID, id)
	}
	return NewRemote(ctx, sess, p)
}

func (r *scimRemote) workspace(id int64) (*scim.WorkspaceClient, error) { return r.ws.Client(id) }

func principalNumber(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("principal id %q is not numeric", id)
	}
	return n, nil
}

// groupAttrs are the attributes of a group read by id; "groups" (its
// parent groups) tells finalize whether a backup group is still nested.
var groupAttrs = []string{"id", "displayName", "externalId", "members", "groups", "entitlements", "roles", "meta"}

func (r *scimRemote) AccountGroup(ctx context.Context, id string) (scim.Group, error) {
	return r.acct.Groups.Get(ctx, id, scim.GetOptions{})
}

func (r *scimRemote) FindAccountGroups(ctx context.Context, displayName string) ([]scim.Group, error) {
	return r.acct.Groups.ListAll(ctx, scim.ListOptions{
		Filter:     scim.Eq("displayName", displayName),
		Attributes: []string{"id", "displayName", "externalId"},
	})
}

func (r *scimRemote) Assignments(ctx context.Context, workspaceID int64) ([]scim.PermissionAssignment, error) {
	return r.acct.ListAssignments(ctx, workspaceID)
}

func (r *scimRemote) WorkspaceGroup(ctx context.Context, workspaceID int64, id string) (scim.Group, error) {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return scim.Group{}, err
	}
	return w.Groups.Get(ctx, id, scim.GetOptions{Attributes: groupAttrs})
}

func (r *scimRemote) WorkspaceGroupVisible(ctx context.Context, workspaceID int64, id string) (bool, string, error) {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return false, "", err
	}
	gs, err := w.Groups.ListAll(ctx, scim.ListOptions{
		Filter:     scim.Eq("id", id),
		Attributes: []string{"id", "displayName"},
		PageSize:   10,
	})
	if err != nil {
		return false, "", err
	}
	for _, g := range gs {
		if g.ID == id {
			return true, g.DisplayName, nil
		}
	}
	return false, "", nil
}

func (r *scimRemote) SecretScopes(ctx context.Context, workspaceID int64) ([]string, error) {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return nil, err
	}
	return listSecretScopes(ctx, w)
}

func (r *scimRemote) SecretACLs(ctx context.Context, workspaceID int64, scope string) ([]SecretACL, error) {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return nil, err
	}
	return listSecretACLs(ctx, w, scope)
}

func (r *scimRemote) CreateAccountGroup(ctx context.Context, g scim.Group) (scim.Group, error) {
	return r.acct.Groups.Create(ctx, g)
}

func (r *scimRemote) AddAccountGroupMembers(ctx context.Context, id string, memberIDs []string) error {
	return r.acct.Groups.Patch(ctx, id, scim.AddMembers(memberIDs...), scim.Idempotent())
}

func (r *scimRemote) RemoveAccountGroupMember(ctx context.Context, id, memberID string) error {
	return r.acct.Groups.Patch(ctx, id, scim.RemoveMember(memberID))
}

func (r *scimRemote) DeleteAccountGroup(ctx context.Context, id string) error {
	return r.acct.Groups.Delete(ctx, id)
}

func (r *scimRemote) PutAssignment(ctx context.Context, workspaceID int64, principalID string, perms []string) error {
	n, err := principalNumber(principalID)
	if err != nil {
		return err
	}
	_, err = r.acct.PutAssignment(ctx, workspaceID, n, perms)
	return err
}

func (r *scimRemote) DeleteAssignment(ctx context.Context, workspaceID int64, principalID string) error {
	n, err := principalNumber(principalID)
	if err != nil {
		return err
	}
	return r.acct.DeleteAssignment(ctx, workspaceID, n)
}

func (r *scimRemote) RenameWorkspaceGroup(ctx context.Context, workspaceID int64, id, name string) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	return w.Groups.Patch(ctx, id, scim.ReplaceDisplayName(name), scim.Idempotent())
}

func (r *scimRemote) AddWorkspaceGroupEntitlements(ctx context.Context, workspaceID int64, id string, entitlements, roles []string) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	var ops []scim.PatchOp
	if len(entitlements) > 0 {
		ops = append(ops, scim.AddEntitlements(entitlements...))
	}
	if len(roles) > 0 {
		ops = append(ops, scim.AddRoles(roles...))
	}
	if len(ops) == 0 {
		return nil
	}
	return w.Groups.Patch(ctx, id, scim.Ops(ops...), scim.Idempotent())
}

func (r *scimRemote) RemoveWorkspaceGroupEntitlements(ctx context.Context, workspaceID int64, id string, entitlements, roles []string) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	var ops []scim.PatchOp
	if len(entitlements) > 0 {
		ops = append(ops, scim.RemoveEntitlements(entitlements...))
	}
	if len(roles) > 0 {
		ops = append(ops, scim.RemoveRoles(roles...))
	}
	if len(ops) == 0 {
		return nil
	}
	return w.Groups.Patch(ctx, id, scim.Ops(ops...))
}

func (r *scimRemote) DeleteWorkspaceGroup(ctx context.Context, workspaceID int64, id string) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	return w.Groups.Delete(ctx, id)
}

func (r *scimRemote) MigratePermissions(ctx context.Context, workspaceID int64, from, to string, size int) (int, error) {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return 0, err
	}
	body := map[string]any{
		"workspace_id":              workspaceID,
		"from_workspace_group_name": from,
		"to_account_group_name":     to,
		"size":                      size,
	}
	var out struct {
		PermissionsMigrated int `json:"permissions_migrated"`
	}
	// Repeating the call after a lost reply is harmless: it moves what is
	// left, and a later batch is not refused because of the earlier ones
	// (docs/permission-migration.md, rule 5). A 500 is not repeated by the
	// transport: on a conflict it repeats identically, so apply decides.
	err = w.Do(ctx, scim.ClassPermissionsWrite, http.MethodPost, "/api/2.0/permissionmigration", nil, body, &out,
		scim.Idempotent(), scim.NoRetryOn(http.StatusInternalServerError))
	if err != nil {
		return 0, classifyMigrationError(err)
	}
	return out.PermissionsMigrated, nil
}

func (r *scimRemote) PutSecretACL(ctx context.Context, workspaceID int64, acl SecretACL) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	body := map[string]string{"scope": acl.Scope, "principal": acl.Principal, "permission": acl.Permission}
	return w.Do(ctx, scim.ClassRESTWrite, http.MethodPost, "/api/2.0/secrets/acls/put", nil, body, nil, scim.Idempotent())
}

func (r *scimRemote) DeleteSecretACL(ctx context.Context, workspaceID int64, scope, principal string) error {
	w, err := r.workspace(workspaceID)
	if err != nil {
		return err
	}
	body := map[string]string{"scope": scope, "principal": principal}
	return w.Do(ctx, scim.ClassRESTWrite, http.MethodPost, "/api/2.0/secrets/acls/delete", nil, body, nil)
}
