package migrate

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/migrate/internal/groupname"
)

// This file decides, at plan time, the route each migrated group's grants
// take to its account group (docs/permission-migration.md):
//
//   - RouteAPI: the permission migration API (POST
//     /api/2.0/permissionmigration), which moves every grant the local
//     group holds in the workspace, of every kind, legacy table ACLs
//     included, and leaves the local group none. Under the strict reading
//     of the public record it refuses an account group that already holds
//     grants in the workspace that this migration did not put there
//     (rule 3, judged per workspace, rule 4): a reused account group with
//     grants, and two local groups of one workspace mapped to one account
//     group (the second is refused once the first has moved).
//   - RouteACLCopy: apply copies each object ACL entry of the baseline and
//     each secret scope ACL to the account group with the permissions API,
//     as UCX's legacy route did. The local group keeps its grants; only
//     the kinds the plan read are copied (not the workspace tree unless
//     --read-workspace-tree, never legacy table ACLs).
//
// --permissions-route chooses: api (the default) blocks what the API would
// refuse, with the fixes; acl-copy copies for every group; api-or-acl-copy
// takes the API where it is accepted and copies for the groups it would
// refuse, each listed with the reason (a choice the operator made, never a
// silent fallback).

// Permission routes: GroupPlan.PermissionRoute, and the values of
// PlanOptions.PermissionsRoute (--permissions-route).
const (
	RouteAPI          = "api"
	RouteACLCopy      = "acl-copy"
	RouteAPIOrACLCopy = "api-or-acl-copy"
)

// ConflictPermissionsRoute is the kind of a conflict about the route of a
// group's grants: the permission migration API would refuse it (blocking
// with --permissions-route api), or the group copies its ACL entries
// instead (not blocking).
const ConflictPermissionsRoute = "permissions-route"

// Warning kinds about grants.
const (
	// WarningGrantsNotRead: the plan migrates groups, and records as their
	// baseline only the grants it can read; the API moves the others too,
	// unverified and beyond rollback. One per plan, about the account.
	WarningGrantsNotRead = "grants-not-read"
	// WarningACLCopy: groups of the workspace copy their ACL entries
	// (RouteACLCopy), which carries only the kinds the plan reads.
	WarningACLCopy = "acl-copy-partial"
)

// planGrantsWarning is the text of the grants-not-read warning; tree is
// --read-workspace-tree.
func planGrantsWarning(tree bool) string {
	s := "each migrated group's baseline holds its grants on " + readKinds(tree) + "; the permission migration API also moves its grants on " +
		unreadKinds(tree) + ", which the plan did not read: verify does not check them and rollback cannot put them back (README: What moves)"
	if !tree {
		s += "; --read-workspace-tree reads the whole tree (one request per directory and per object)"
	}
	return s
}

// checkRoute checks PlanOptions.PermissionsRoute ("" is RouteAPI).
func checkRoute(route string) (string, error) {
	switch route {
	case "":
		return RouteAPI, nil
	case RouteAPI, RouteACLCopy, RouteAPIOrACLCopy:
		return route, nil
	}
	return "", fmt.Errorf("flag --permissions-route %q: want %s, %s or %s", route, RouteAPI, RouteACLCopy, RouteAPIOrACLCopy)
}

// checkGroupRoute checks a migrated group's PermissionRoute in a plan file.
func checkGroupRoute(g GroupPlan) error {
	switch g.PermissionRoute {
	case "", RouteAPI, RouteACLCopy:
		return nil
	}
	return fmt.Errorf("group %q has permission_route %q, not %s or %s", g.LocalName, g.PermissionRoute, RouteAPI, RouteACLCopy)
}

// routeOf returns a group's route (RouteAPI for a plan made before routes
// were recorded).
func routeOf(g *GroupPlan) string {
	if g.PermissionRoute == "" {
		return RouteAPI
	}
	return g.PermissionRoute
}

// checkPermissionRoutes runs after phase 4 (readGrants) and checkLimits:
// it gives each migrated group its baseline and its route, and takes out of
// the plan, with a blocking permissions-route conflict, the account groups
// the API would refuse when the route option is RouteAPI. A workspace whose
// grants could not be read (--skip-unreadable) blocks its groups.
func (b *planBuilder) checkPermissionRoutes() {
	option := b.settings.PermissionsRoute
	if option == "" {
		option = RouteAPI
	}
	drop := map[string]planDrop{}
	for _, w := range b.ws {
		if w.readErr != nil {
			c := Conflict{Kind: ConflictNotRead, Detail: fmt.Sprintf(
				"the grants of workspace %s could not be read (%v), so the plan has no baseline for its groups: fix access and plan again", w.planLabel(), w.readErr)}
			for _, n := range w.nodes {
				if n.blocked == "" && n.agKey != "" {
					drop[n.agKey] = planDrop{conflict: &c}
				}
			}
			w.readErr = nil
			continue
		}
		if w.grants == nil {
			continue
		}
		byAG := map[string][]*planNode{}
		var keys []string
		for _, n := range w.nodes {
			if n.blocked != "" || n.agKey == "" {
				continue
			}
			n.baseline = sortedGrants(w.grants.byGroup[n.g.DisplayName])
			if _, ok := byAG[n.agKey]; !ok {
				keys = append(keys, n.agKey)
			}
			byAG[n.agKey] = append(byAG[n.agKey], n)
		}
		for _, key := range keys {
			srcs := byAG[key]
			ag := &b.groups[b.agIndex[key]]
			if n := backupIsTarget(b.settings.BackupPrefix, ag, srcs); n != nil {
				// The API would get from == to ("is not a workspace local
				// group", rule 7), whatever the route: the names clash.
				drop[key] = planDrop{conflict: &Conflict{Kind: ConflictTargetTaken, Detail: fmt.Sprintf(
					"the backup name of local group %q, %q, is the name of its target account group %q (group names are unique regardless of case): the local group would not be renamed out of the way (the permission migration API refuses it, and the account group could not be assigned); use another --backup-prefix or another target",
					n.g.DisplayName, b.settings.BackupPrefix+n.g.DisplayName, ag.DisplayName)}}
				continue
			}
			why := b.apiRefusal(w, ag, srcs)
			route := RouteAPI
			switch {
			case option == RouteACLCopy:
				route = RouteACLCopy
			case why == "":
			case option == RouteAPIOrACLCopy:
				route = RouteACLCopy
				for _, n := range srcs {
					b.conflicts = append(b.conflicts, Conflict{Kind: ConflictPermissionsRoute, WorkspaceID: w.info.ID, Group: n.g.DisplayName,
						Detail:   why + "; its ACL entries are copied instead (--permissions-route " + RouteAPIOrACLCopy + ")",
						Policies: planSamePolicies("copy its ACL entries to the account group with the permissions API")})
				}
			default:
				c := Conflict{Kind: ConflictPermissionsRoute, Detail: why + "; fix: " + routeFix(w, ag, len(srcs) > 1),
					Policies: planSamePolicies("skip this group (the conflict is about permissions, not members)")}
				drop[key] = planDrop{conflict: &c}
			}
			for _, n := range srcs {
				n.route = route
			}
		}
	}
	b.dropGroups(drop)
	b.grantWarnings()
}

// backupIsTarget returns the source whose backup name is the account
// group's name (compared as the service compares group names, regardless
// of case), nil if none.
func backupIsTarget(prefix string, ag *AccountGroupPlan, srcs []*planNode) *planNode {
	for _, n := range srcs {
		if groupname.Fold(prefix+n.g.DisplayName) == groupname.Fold(ag.DisplayName) {
			return n
		}
	}
	return nil
}

// apiRefusal returns why the permission migration API would refuse to
// move the grants of srcs (the local groups of workspace w mapped to ag)
// into ag under the strict reading, "" when it would not.
func (b *planBuilder) apiRefusal(w *planWS, ag *AccountGroupPlan, srcs []*planNode) string {
	var why []string
	if len(srcs) > 1 {
		var names []string
		for _, n := range srcs {
			names = append(names, strconv.Quote(n.g.DisplayName))
		}
		why = append(why, fmt.Sprintf("local groups %s of workspace %s map to one account group %q: the permission migration API moves grants only into an account group that holds none it did not put there, so it would refuse each of them after the first (\"Account group %s already has permissions\")",
			strings.Join(names, ", "), w.planLabel(), ag.DisplayName, ag.DisplayName))
	}
	// A local group of the workspace with the account group's name holds
	// the grants an ACL names that way until apply renames it.
	if _, local := w.localName[groupname.Fold(ag.DisplayName)]; ag.ExistingID != "" && !local {
		if held := w.grants.byGroup[ag.DisplayName]; held.Len() > 0 {
			why = append(why, fmt.Sprintf("account group %q (id %s) already holds %s in workspace %s (%s): the permission migration API refuses an account group with permissions of its own (\"Account group %s already has permissions\")",
				ag.DisplayName, ag.ExistingID, grantsSummary(len(held.Objects), len(held.Secrets)), w.planLabel(), grantsSample(held), ag.DisplayName))
		}
	}
	return strings.Join(why, "; ")
}

// routeFix is the fix of a blocking permissions-route conflict.
func routeFix(w *planWS, ag *AccountGroupPlan, merge bool) string {
	var fixes []string
	if merge {
		fixes = append(fixes, fmt.Sprintf("map the local groups of workspace %s to different account groups (--mapping, or --on-conflict per-workspace)", w.planLabel()))
	} else {
		fixes = append(fixes, fmt.Sprintf("remove the account group's grants in workspace %s, or map the local group to a new account group (--mapping)", w.planLabel()))
	}
	fixes = append(fixes, fmt.Sprintf("or pass --permissions-route %s to copy the ACL entries of these groups instead (that carries only the grants the plan read, not their %s)",
		RouteAPIOrACLCopy, unreadKinds(treeRead(&w.grants.read))))
	return strings.Join(fixes, ", ")
}

// grantsSample names up to three grants of g.
func grantsSample(g *GroupGrants) string {
	var out []string
	for _, o := range g.Objects {
		out = append(out, o.Object()+" "+o.Level)
	}
	for _, s := range g.Secrets {
		out = append(out, "secret scope "+strconv.Quote(s.Scope)+" "+s.Permission)
	}
	return summarize(out, 3)
}

// sortedGrants returns a copy of g in a stable order (nil when empty).
func sortedGrants(g *GroupGrants) *GroupGrants {
	if g.Len() == 0 {
		return nil
	}
	out := &GroupGrants{Objects: slices.Clone(g.Objects), Secrets: slices.Clone(g.Secrets)}
	slices.SortFunc(out.Objects, func(a, c ObjectGrant) int {
		return cmp.Or(cmp.Compare(a.ObjectType, c.ObjectType), cmp.Compare(a.ObjectID, c.ObjectID), cmp.Compare(a.Level, c.Level))
	})
	slices.SortFunc(out.Secrets, func(a, c SecretGrant) int {
		return cmp.Or(cmp.Compare(a.Scope, c.Scope), cmp.Compare(a.Permission, c.Permission))
	})
	return out
}

// grantWarnings adds the warnings about what the baselines do not hold:
// once per plan that migrates a group, the kinds dbiam does not read; per
// workspace, the groups that copy their ACL entries.
func (b *planBuilder) grantWarnings() {
	if !slices.ContainsFunc(b.nodes, func(n *planNode) bool { return n.blocked == "" }) {
		return
	}
	b.warnings = append(b.warnings, Warning{Kind: WarningGrantsNotRead, Detail: planGrantsWarning(b.settings.ReadWorkspaceTree)})
	for _, w := range b.ws {
		var names []string
		for _, n := range w.nodes {
			if n.blocked == "" && n.route == RouteACLCopy {
				names = append(names, strconv.Quote(n.g.DisplayName))
			}
		}
		if len(names) == 0 {
			continue
		}
		b.warnings = append(b.warnings, Warning{Kind: WarningACLCopy, WorkspaceID: w.info.ID, Detail: fmt.Sprintf(
			"%d local groups of workspace %s copy their ACL entries instead of the permission migration API (%s): only their grants of the baseline are copied; what it does not hold (%s) stays with the backup group alone, and finalize deletes it: grant those to the account group before finalize",
			len(names), w.planLabel(), summarize(names, 5), unreadKinds(treeRead(&w.grants.read)))})
	}
}
