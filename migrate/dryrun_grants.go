package migrate

import (
	"context"
	"fmt"
	"slices"

	"github.com/dbiam/dbiam/scim"
)

// dryGrants is what a dry run pretends it did to grants, so that its later
// reads (verify, rollback's classification) see it: ACLs it replaced or
// added to, and the moves of the permission migration API it skipped.
// Guarded by dryRun.mu.
type dryGrants struct {
	// acl holds, per object, the direct entries the dry run set (one
	// level each), replacing the live direct entries.
	acl map[dryObject][]scim.AccessControl
	// moved maps, per workspace, the live name of a local group whose
	// grants the dry run "moved" to the account group named by the value.
	moved map[int64]map[string]string
}

type dryObject struct {
	ws      int64
	typ, id string
}

// grantState returns the dry run's grant state, made on first use. d.mu
// is held.
func (d *dryRun) grantState() *dryGrants {
	if d.grants == nil {
		d.grants = &dryGrants{acl: map[dryObject][]scim.AccessControl{}, moved: map[int64]map[string]string{}}
	}
	return d.grants
}

// movedName returns the name an ACL entry of a workspace shows after the
// moves the dry run pretended. d.mu is held.
func (d *dryRun) movedName(ws int64, name string) string {
	if to, ok := d.grantState().moved[ws][name]; ok {
		return to
	}
	return name
}

func (d *dryRun) ObjectPermissions(ctx context.Context, workspaceID int64, objectType, objectID string) (scim.ObjectPermissions, error) {
	acl, err := d.next.ObjectPermissions(ctx, workspaceID, objectType, objectID)
	if err != nil {
		return acl, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.grantState()
	var out []scim.AccessControl
	set, replaced := st.acl[dryObject{workspaceID, objectType, objectID}]
	for _, e := range acl.AccessControlList {
		if replaced {
			// Keep only what the entry inherits: the direct levels are set.
			var inh []scim.Permission
			for _, l := range e.Levels() {
				if l.Inherited {
					inh = append(inh, l)
				}
			}
			if len(inh) == 0 {
				continue
			}
			e.PermissionLevel, e.AllPermissions = "", inh
		}
		if e.GroupName != "" {
			e.GroupName = d.movedName(workspaceID, e.GroupName)
		}
		out = append(out, e)
	}
	for _, e := range set {
		out = append(out, scim.AccessControl{UserName: e.UserName, GroupName: e.GroupName, ServicePrincipalName: e.ServicePrincipalName,
			AllPermissions: []scim.Permission{{PermissionLevel: e.PermissionLevel}}})
	}
	acl.AccessControlList = out
	return acl, nil
}

func (d *dryRun) GrantObjectPermission(ctx context.Context, workspaceID int64, objectType, objectID, group, level string) error {
	d.mu.Lock()
	d.skip(ctx, "grant", fmt.Sprintf("%s on %s/%s to group %q in workspace %s", level, objectType, objectID, group, d.wsName(workspaceID)))
	d.mu.Unlock()
	acl, err := d.ObjectPermissions(ctx, workspaceID, objectType, objectID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.grantState().acl[dryObject{workspaceID, objectType, objectID}] = withGroupLevel(objectType, acl, group, level)
	return nil
}

func (d *dryRun) SetObjectPermissions(ctx context.Context, workspaceID int64, objectType, objectID string, acl []scim.AccessControl) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skip(ctx, "set permissions", fmt.Sprintf("of %s/%s (%d entries) in workspace %s", objectType, objectID, len(acl), d.wsName(workspaceID)))
	d.grantState().acl[dryObject{workspaceID, objectType, objectID}] = slices.Clone(acl)
	return nil
}

// pretendMove records that the permission migration API would have moved
// the grants of the local group the dry run renamed to from (named by its
// live name in the ACLs it reads) to the account group to, and says
// whether it found that group.
func (d *dryRun) pretendMove(ctx context.Context, workspaceID int64, from, to string) {
	d.mu.Lock()
	id := ""
	for k, name := range d.renames {
		if k.ws == workspaceID && name == from {
			id = k.id
		}
	}
	d.mu.Unlock()
	live := from
	if id != "" {
		if g, err := d.next.WorkspaceGroup(ctx, workspaceID, id); err == nil {
			live = g.DisplayName
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.grantState()
	if st.moved[workspaceID] == nil {
		st.moved[workspaceID] = map[string]string{}
	}
	st.moved[workspaceID][live] = to
}
