package migrate

import (
	"slices"

	"github.com/dbiam/dbiam/scim"
)

// objectGrantDiff compares one object's ACL before and after a group's
// permissions moved: it returns the levels group from held on the object
// before that group to does not hold on it after. Only levels granted on
// the object itself count, on both sides: a level an entry inherits from a
// parent or root object (a directory, "/jobs/", ...) is a grant on the
// parent, compared where it is granted, so it neither needs moving here nor
// stands in for a grant that did not move. Groups are matched by display
// name, as ACL entries name them. It is the one place verify compares object
// grants.
func objectGrantDiff(before, after scim.ObjectPermissions, from, to string) []string {
	var missing []string
	held := directLevels(after, to)
	for _, l := range directLevels(before, from) {
		if !slices.Contains(held, l) {
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
