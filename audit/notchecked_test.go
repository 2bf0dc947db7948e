package audit

import (
	"strings"
	"testing"
)

// TestNotCheckedFollowsThePermissionScope: the report says what its
// permission scope left unread, so that no finding there is not read as
// nothing there, and the HTML report shows it.
func TestNotCheckedFollowsThePermissionScope(t *testing.T) {
	for _, c := range []struct {
		perms PermissionScope
		want  []string
	}{
		{PermissionsOwners, []string{"pass --permissions all", "outside the audited identities' home folders"}},
		{PermissionsRelated, []string{"pass --permissions all", "outside the audited identities' home folders"}},
		{PermissionsAll, []string{"outside the audited identities' home folders"}},
		{PermissionsNone, []string{"every ACL (--permissions none)", "outside the audited identities' home folders"}},
	} {
		got := notChecked(c.perms)
		if len(got) != len(c.want) {
			t.Errorf("notChecked(%s) = %q, want %d items", c.perms, got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("notChecked(%s)[%d] = %q, want it to say %q", c.perms, i, got[i], w)
			}
		}
	}
	h := HTMLReport(&Report{Mode: "named", NotChecked: notChecked(PermissionsOwners)})
	n := 0
	for _, x := range h.Notices {
		if strings.HasPrefix(x.Text, "Not checked by this audit: ") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("HTML notices = %+v, want the 2 scopes not checked", h.Notices)
	}
}
