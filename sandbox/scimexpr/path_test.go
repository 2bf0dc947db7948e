package scimexpr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in                string
		attr, filter, sub string
		canonical         string
	}{
		{"members", "members", "", "", "members"},
		{" members ", "members", "", "", "members"},
		{"displayName", "displayName", "", "", "displayName"},
		{"name.givenName", "name", "", "givenName", "name.givenName"},
		{"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", "name", "", "familyName", "name.familyName"},
		{"urn:ietf:params:scim:schemas:core:2.0:Group:members", "members", "", "", "members"},
		{`members[value eq "123"]`, "members", `value eq "123"`, "", `members[value eq "123"]`},
		{`entitlements[value eq "allow-cluster-create"]`, "entitlements", `value eq "allow-cluster-create"`, "", `entitlements[value eq "allow-cluster-create"]`},
		{`emails[type eq "work"].value`, "emails", `type eq "work"`, "value", `emails[type eq "work"].value`},
		{`Members[Value EQ "1"].Display`, "Members", `Value eq "1"`, "Display", `Members[Value eq "1"].Display`},
		{`members[ value eq "1" ] .display`, "members", `value eq "1"`, "display", `members[value eq "1"].display`},
		{`roles[value eq "arn:aws:iam::123:instance-profile/x"]`, "roles", `value eq "arn:aws:iam::123:instance-profile/x"`, "", `roles[value eq "arn:aws:iam::123:instance-profile/x"]`},
		{`emails[type eq "work" and not (primary eq false)]`, "emails", `type eq "work" and not (primary eq false)`, "", `emails[type eq "work" and not (primary eq false)]`},
		{"members.$ref", "members", "", "$ref", "members.$ref"},
	}
	for _, tc := range tests {
		p, err := scimexpr.ParsePath(tc.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		if p.Attr != tc.attr || p.Filter.String() != tc.filter || p.SubAttr != tc.sub {
			t.Errorf("ParsePath(%q) = {%q, %q, %q}, want {%q, %q, %q}",
				tc.in, p.Attr, p.Filter.String(), p.SubAttr, tc.attr, tc.filter, tc.sub)
		}
		if got := p.String(); got != tc.canonical {
			t.Errorf("ParsePath(%q).String() = %q, want %q", tc.in, got, tc.canonical)
		}
		again, err := scimexpr.ParsePath(p.String())
		if err != nil || again.String() != p.String() {
			t.Errorf("ParsePath(%q) does not round-trip: %v, %v", p.String(), again, err)
		}
	}
}

func TestParsePathFilterMatchesElements(t *testing.T) {
	p, err := scimexpr.ParsePath(`emails[type eq "WORK"]`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Filter.Match(map[string]any{"type": "work", "value": "a@b.test"}) {
		t.Error("path filter does not match a work email element")
	}
	if p.Filter.Match(map[string]any{"type": "home"}) {
		t.Error("path filter matches a home email element")
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		in     string
		detail string
	}{
		{"", "expected attribute"},
		{"  ", "expected attribute"},
		{`"members"`, "expected attribute"},
		{"[value eq 1]", "expected attribute"},
		{"members[", "expected attribute"},
		{`members[value eq "1"`, `expected "]"`},
		{`members[value eq "1"]x`, `invalid sub-attribute "x"`},
		{`members[value eq "1"].`, `invalid sub-attribute "."`},
		{`members[value eq "1"].a.b`, `invalid sub-attribute ".a.b"`},
		{`members[value eq "1"][type pr]`, `unexpected "["`},
		{`members[value eq "1"].display extra`, `unexpected "extra"`},
		{`name.givenName[value eq "x"]`, "value filter after sub-attribute"},
		{"a.b.c", `invalid attribute "a.b.c"`},
		{"members value", `unexpected "value"`},
		{"members]", `unexpected "]"`},
		{"foo:members", "must be a URN"},
		{`members[value eq]`, "expected value"},
		{`members[value eq "\x"]`, "invalid escape"},
		{`members[emails[value pr]]`, "nested inside a value filter"},
	}
	for _, tc := range tests {
		p, err := scimexpr.ParsePath(tc.in)
		if err == nil {
			t.Errorf("ParsePath(%q) = %q, want error", tc.in, p)
			continue
		}
		var se *scimexpr.Error
		if !errors.As(err, &se) || se.SCIMType != scimexpr.TypeInvalidPath {
			t.Errorf("ParsePath(%q) error = %#v, want *Error invalidPath", tc.in, err)
			continue
		}
		if !strings.Contains(se.Detail, tc.detail) {
			t.Errorf("ParsePath(%q) detail = %q, want it to contain %q", tc.in, se.Detail, tc.detail)
		}
	}
}
