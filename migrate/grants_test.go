package migrate

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/dbiam/dbiam/scim"
)

func aclJSON(t *testing.T, s string) scim.ObjectPermissions {
	t.Helper()
	var p scim.ObjectPermissions
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestObjectGrantDiffIgnoresInherited: verify compares the grants on the
// object itself; inherited entries (admins from the type's root, a group's
// level from a parent directory) neither need moving nor count as moved.
func TestObjectGrantDiffIgnoresInherited(t *testing.T) {
	// The local group, renamed to its backup name, held CAN_EDIT on the
	// notebook and inherited CAN_MANAGE from its folder.
	before := aclJSON(t, `{"object_id":"/notebooks/12","access_control_list":[
		{"group_name":"db-temp-data-eng","all_permissions":[{"permission_level":"CAN_EDIT","inherited":false},
			{"permission_level":"CAN_MANAGE","inherited":true,"inherited_from_object":["/directories/10"]}]},
		{"group_name":"admins","all_permissions":[{"permission_level":"CAN_MANAGE","inherited":true,"inherited_from_object":["/directories/"]}]}]}`)
	for _, tc := range []struct {
		name, after string
		want        []string
	}{
		{"moved: the inherited level is the folder's, compared there", `{"access_control_list":[
			{"group_name":"data-eng","all_permissions":[{"permission_level":"CAN_EDIT","inherited":false}]}]}`, nil},
		{"an inherited level does not stand in for the direct one", `{"access_control_list":[
			{"group_name":"data-eng","all_permissions":[{"permission_level":"CAN_EDIT","inherited":true,"inherited_from_object":["/directories/10"]},
				{"permission_level":"CAN_MANAGE","inherited":true,"inherited_from_object":["/directories/10"]}]}]}`,
			[]string{"CAN_EDIT"}},
		{"not moved", `{"access_control_list":[
			{"group_name":"db-temp-data-eng","all_permissions":[{"permission_level":"CAN_EDIT","inherited":false}]},
			{"group_name":"admins","all_permissions":[{"permission_level":"CAN_MANAGE","inherited":true,"inherited_from_object":["/directories/"]}]}]}`,
			[]string{"CAN_EDIT"}},
	} {
		if got := objectGrantDiff("notebooks", before, aclJSON(t, tc.after), "db-temp-data-eng", "data-eng"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: missing %v, want %v", tc.name, got, tc.want)
		}
	}
}
