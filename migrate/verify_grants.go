package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// verifyObjectGrants checks that account group ag holds, on every object of
// g's baseline (what the local group held when the plan was made, inherited
// levels aside), the local group's level or one that includes it. It
// compares with the baseline rather than with the local group as it is
// now: the permission migration API moves grants, so after apply the local
// group holds none (strict and move), or still holds them (copy, and the
// acl-copy route); the check is the same in every case. An object deleted
// since the plan is no difference. An error means an ACL could not be read.
func verifyObjectGrants(ctx context.Context, rd Reader, ws *WorkspacePlan, g *GroupPlan, ag *AccountGroupPlan) ([]string, error) {
	if g.Grants == nil {
		return nil, nil
	}
	var diffs []string
	for _, o := range g.Grants.Objects {
		acl, err := rd.ObjectPermissions(ctx, ws.WorkspaceID, o.ObjectType, o.ObjectID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read permissions of %s in workspace %d: %w", o.Object(), ws.WorkspaceID, err)
		}
		missing := objectGrantDiff(o.ObjectType, baselineACL(g.LocalName, o), acl, g.LocalName, ag.DisplayName)
		if len(missing) == 0 {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("account group %q has %s on %s, want %s (the local group's level before apply)",
			ag.DisplayName, orNone(strings.Join(directLevels(acl, ag.DisplayName), ", ")), o.Object(), strings.Join(missing, ", ")))
	}
	return diffs, nil
}

// grantCoverage says what verify checked of the plan's grants and what it
// could not: "checked 23 recorded grants of 14 groups (object ACLs and
// secret scope ACLs); not checked: ...".
func grantCoverage(p *Plan) string {
	groups, grants, noBaseline := 0, 0, 0
	seen := map[int64]bool{}
	for _, gr := range activeGroups(p) {
		groups++
		grants += gr.g.Grants.Len()
		if gr.ws.Grants == nil && !seen[gr.ws.WorkspaceID] {
			seen[gr.ws.WorkspaceID] = true
			noBaseline++
		}
	}
	s := fmt.Sprintf("checked %d recorded grants of %d groups against their account groups; not checked: grants on %s (the plan did not read them)",
		grants, groups, unreadKinds(p.Settings.ReadWorkspaceTree))
	if noBaseline > 0 {
		s += fmt.Sprintf(", and every grant in %d workspaces whose grants the plan did not read (a plan of an older dbiam: plan again)", noBaseline)
	}
	return s
}

// ObjectPermissions reads each object's ACL once per pass (several groups
// often hold grants on one object).
func (c *workspaceListCache) ObjectPermissions(ctx context.Context, wsID int64, objectType, objectID string) (scim.ObjectPermissions, error) {
	k := dryObject{wsID, objectType, objectID}
	if acl, ok := c.objects[k]; ok {
		return acl, nil
	}
	acl, err := c.Reader.ObjectPermissions(ctx, wsID, objectType, objectID)
	if err == nil {
		if c.objects == nil {
			c.objects = map[dryObject]scim.ObjectPermissions{}
		}
		c.objects[k] = acl
	}
	return acl, err
}
