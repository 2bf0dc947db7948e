package scim

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestActiveIsSentWhenFalse: a deactivation through Create or Replace must
// reach the server; only an unset Active is left out.
func TestActiveIsSentWhenFalse(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    any
		want string
	}{
		{"user inactive", User{UserName: "a@x.test", Active: Bool(false)}, `"active":false`},
		{"sp inactive", ServicePrincipal{ApplicationID: "app", Active: Bool(false)}, `"active":false`},
		{"user active", User{UserName: "a@x.test", Active: Bool(true)}, `"active":true`},
	} {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: %s lacks %s", tt.name, b, tt.want)
		}
	}
	if b, _ := json.Marshal(User{UserName: "a@x.test"}); strings.Contains(string(b), "active") {
		t.Errorf("unset Active was sent: %s", b)
	}
}

func TestIsActive(t *testing.T) {
	var u User
	if !u.IsActive() {
		t.Error("a user without an active attribute counts as inactive")
	}
	u.Active = Bool(false)
	if u.IsActive() {
		t.Error("a deactivated user counts as active")
	}
	var sp ServicePrincipal
	if err := json.Unmarshal([]byte(`{"applicationId":"x","active":false}`), &sp); err != nil || sp.IsActive() {
		t.Errorf("decoded inactive service principal: active=%v err=%v", sp.IsActive(), err)
	}
}
