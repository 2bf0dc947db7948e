package migrate

import (
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// This file holds the grants a local group held before apply (the plan's
// baseline) and how two grants compare. The permission migration API moves
// grants (docs/permission-migration.md, rule 1): once it has run, the live
// local group holds none, so verify and rollback compare the account group
// with what the plan recorded, never with the local group as it is now.

// GroupGrants is the baseline of one migrated local group: the grants it
// held on the objects and secret scopes the plan read ([WorkspaceGrants]),
// with levels granted on the object itself (inherited ones are grants of a
// parent object). Ownership (IS_OWNER) is left out: the permission
// migration API is not on record as moving it, and a group cannot own a
// job, pipeline or warehouse.
type GroupGrants struct {
	Objects []ObjectGrant `json:"objects,omitempty"`
	Secrets []SecretGrant `json:"secrets,omitempty"`
}

// Len is the number of grants in g (nil: 0).
func (g *GroupGrants) Len() int {
	if g == nil {
		return 0
	}
	return len(g.Objects) + len(g.Secrets)
}

// ObjectGrant is one level on one object of the permissions API
// (GET /api/2.0/permissions/{object_type}/{object_id}).
type ObjectGrant struct {
	// ObjectType is the request's object type: "jobs", "clusters",
	// "warehouses", ..., or "authorization" (with ObjectID "tokens" or
	// "passwords").
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	Level      string `json:"level"`
}

// Object names the object in messages: "jobs/108".
func (o ObjectGrant) Object() string { return o.ObjectType + "/" + o.ObjectID }

// SecretGrant is one secret scope ACL (READ, WRITE or MANAGE).
type SecretGrant struct {
	Scope      string `json:"scope"`
	Permission string `json:"permission"`
}

// WorkspaceGrants says which grants of a workspace the plan read: the ACL
// of every object of Kinds (object types as the permissions API names
// them, and "home-folders" or "workspace-tree") and of every secret scope.
// Grants of any other kind (notebooks, files and directories outside the
// home folders unless the whole tree was read, legacy table ACLs) are
// carried by the permission migration API but are in no baseline: dbiam
// neither verifies nor restores them.
type WorkspaceGrants struct {
	Kinds []string `json:"kinds"`
	// Absent are optional kinds the workspace does not have (the API
	// answered that the endpoint or feature does not exist).
	Absent []string `json:"absent,omitempty"`
	// Objects and SecretScopes count what was read.
	Objects      int `json:"objects"`
	SecretScopes int `json:"secret_scopes"`
}

// readKinds names, for messages, the grants the baselines hold; with tree
// (--read-workspace-tree) the whole workspace tree.
func readKinds(tree bool) string {
	where := "Git folders and home folders"
	if tree {
		where = "every directory, notebook and file of the workspace tree and Git folders"
	}
	return "jobs, clusters, SQL warehouses, pipelines, queries, alerts, dashboards, serving endpoints, apps, experiments, registered models, instance pools, cluster policies, vector search endpoints, " +
		where + ", token and password usage, and secret scopes"
}

// unreadKinds names, for messages, the grants the baselines leave out;
// with tree (--read-workspace-tree) only legacy table ACLs.
func unreadKinds(tree bool) string {
	if tree {
		return "legacy table ACLs"
	}
	return "notebooks, files and directories other than home folders, and legacy table ACLs"
}

// treeRead reports whether the plan read w's whole workspace tree.
func treeRead(w *WorkspaceGrants) bool {
	return w != nil && slices.Contains(w.Kinds, kindWorkspaceTree)
}

// levelChains order the permission levels of an object type, lowest first,
// where each level includes the ones before it (the Databricks permission
// tables). Types whose levels are not a chain (SQL warehouses: CAN_MONITOR
// and CAN_USE) are absent; there only CAN_MANAGE and IS_OWNER include other
// levels.
var levelChains = map[string][]string{
	"jobs":              {"CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"},
	"pipelines":         {"CAN_VIEW", "CAN_RUN", "CAN_MANAGE", "IS_OWNER"},
	"clusters":          {"CAN_ATTACH_TO", "CAN_RESTART", "CAN_MANAGE"},
	"instance-pools":    {"CAN_ATTACH_TO", "CAN_MANAGE"},
	"notebooks":         {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"directories":       {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"files":             {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"repos":             {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"dashboards":        {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"alertsv2":          {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"queries":           {"CAN_VIEW", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"alerts":            {"CAN_VIEW", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"dbsql-dashboards":  {"CAN_VIEW", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"},
	"serving-endpoints": {"CAN_VIEW", "CAN_QUERY", "CAN_MANAGE"},
	"apps":              {"CAN_USE", "CAN_MANAGE"},
	"authorization":     {"CAN_USE", "CAN_MANAGE"},
}

// levelCovers reports whether holding level held on an object of type typ
// gives everything level want gives: the same level, a higher one in the
// type's chain, IS_OWNER, or CAN_MANAGE (anything but ownership).
func levelCovers(typ, held, want string) bool {
	switch {
	case held == want, held == scim.PermissionIsOwner:
		return true
	case held == "CAN_MANAGE":
		return want != scim.PermissionIsOwner
	}
	chain := levelChains[typ]
	h, w := slices.Index(chain, held), slices.Index(chain, want)
	return h >= 0 && w >= 0 && h > w
}

// secretCovers reports whether secret scope permission held includes want
// (READ < WRITE < MANAGE).
func secretCovers(held, want string) bool {
	return secretRank(held) >= secretRank(want) && secretRank(want) > 0
}

// objectGrantDiff compares one object's ACL before and after a group's
// permissions moved: it returns the levels group from held on the object
// before that group to does not hold on it after, a level being held when
// to holds it or one that includes it ([levelCovers]; typ is the object's
// permissions API type). Only levels granted on the object itself count,
// on both sides: a level an entry inherits from a parent or root object (a
// directory, "/jobs/", ...) is a grant on the parent, compared where it is
// granted, so it neither needs moving here nor stands in for a grant that
// did not move. Groups are matched by display name, as ACL entries name
// them. It is the one place verify compares object grants.
func objectGrantDiff(typ string, before, after scim.ObjectPermissions, from, to string) []string {
	var missing []string
	held := directLevels(after, to)
	for _, l := range directLevels(before, from) {
		if !slices.ContainsFunc(held, func(h string) bool { return levelCovers(typ, h, l) }) {
			missing = append(missing, l)
		}
	}
	return missing
}

// directLevels returns the levels group holds on the object itself.
func directLevels(acl scim.ObjectPermissions, group string) []string {
	var out []string
	for _, e := range acl.AccessControlList {
		if e.GroupName != group {
			continue
		}
		for _, l := range e.DirectLevels() {
			if !slices.Contains(out, l.PermissionLevel) {
				out = append(out, l.PermissionLevel)
			}
		}
	}
	return out
}

// directLevel returns the highest level group holds on the object itself
// ("" when none): an ACL entry has one direct level per principal.
func directLevel(typ string, acl scim.ObjectPermissions, group string) string {
	best := ""
	for _, l := range directLevels(acl, group) {
		if best == "" || levelCovers(typ, l, best) {
			best = l
		}
	}
	return best
}

// baselineACL is the ACL an object had for group name according to a
// baseline grant: one direct entry (for objectGrantDiff).
func baselineACL(name string, gr ObjectGrant) scim.ObjectPermissions {
	return scim.ObjectPermissions{AccessControlList: []scim.AccessControl{{GroupName: name,
		AllPermissions: []scim.Permission{{PermissionLevel: gr.Level}}}}}
}

// groupGrantsOf collects, from an object's ACL, the direct levels each
// group holds (IS_OWNER left out, see GroupGrants) into by (group display
// name -> grants).
func groupGrantsOf(typ, id string, acl scim.ObjectPermissions, by map[string]*GroupGrants) {
	for _, e := range acl.AccessControlList {
		if e.GroupName == "" {
			continue
		}
		for _, l := range e.DirectLevels() {
			if l.PermissionLevel == "" || l.PermissionLevel == scim.PermissionIsOwner {
				continue
			}
			g := by[e.GroupName]
			if g == nil {
				g = &GroupGrants{}
				by[e.GroupName] = g
			}
			gr := ObjectGrant{ObjectType: typ, ObjectID: id, Level: l.PermissionLevel}
			if !slices.Contains(g.Objects, gr) {
				g.Objects = append(g.Objects, gr)
			}
		}
	}
}

// grantsSummary says in words what g holds: "3 object ACLs, 1 secret scope
// ACL".
func grantsSummary(n, secrets int) string {
	var parts []string
	parts = append(parts, plural(n, "object ACL", "object ACLs"))
	parts = append(parts, plural(secrets, "secret scope ACL", "secret scope ACLs"))
	return strings.Join(parts, ", ")
}

// plural formats n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
