package scimexpr_test

import (
	"errors"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

// simple is the dialect the SDK documents: eq, ne, co, sw joined by and/or,
// here on user attributes.
var simple = scimexpr.Dialect{
	Operators:  []string{"eq", "ne", "co", "sw"},
	Attributes: []string{"id", "userName", "displayName"},
}

func TestCheck(t *testing.T) {
	tests := []struct {
		filter string
		d      scimexpr.Dialect
		want   string // "" = accepted, else the Detail
	}{
		{`userName eq "a@b.test"`, simple, ""},
		{`USERNAME EQ "a@b.test" or displayName co "x" and id ne "1"`, simple, ""},
		{`userName sw "a" or userName eq "b" or userName eq "c"`, simple, ""},
		{`userName ew "a"`, simple, `unsupported filter: operator "ew" at position 10`},
		{`userName pr`, simple, `unsupported filter: operator "pr" at position 10`},
		{`id gt "1"`, simple, `unsupported filter: operator "gt" at position 4`},
		{`active eq false`, simple, `unsupported filter: attribute "active" at position 1`},
		{`userName eq false`, simple, `unsupported filter: value false (only strings are accepted) at position 13`},
		{`id eq 12`, simple, `unsupported filter: value 12 (only strings are accepted) at position 7`},
		{`userName eq null`, simple, `unsupported filter: value null (only strings are accepted) at position 13`},
		{`emails.value eq "x"`, simple, `unsupported filter: sub-attribute "emails.value" at position 1`},
		{`meta.resourceType eq "Group"`, simple, `unsupported filter: sub-attribute "meta.resourceType" at position 1`},
		{`externalId eq "x"`, simple, `unsupported filter: attribute "externalId" at position 1`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, simple, `unsupported filter: schema prefix on attribute "userName" at position 1`},
		{`not (userName eq "x")`, simple, `unsupported filter: not (...) at position 1`},
		{`(userName eq "x") and id eq "1"`, simple, `unsupported filter: parentheses at position 1`},
		{`id eq "1" and (userName eq "x" or userName eq "y")`, simple, `unsupported filter: parentheses at position 15`},
		{`emails[value eq "x"]`, simple, `unsupported filter: attribute "emails" at position 1`},
		{`userName[value eq "x"]`, simple, `unsupported filter: value filter userName[...] at position 9`},
		// The first construct by position wins.
		{`userName eq "a" or displayName ew "b" or active pr`, simple, `unsupported filter: operator "ew" at position 32`},
		{`userName eq "a" and not (id pr)`, simple, `unsupported filter: not (...) at position 21`},
		// Attributes are unchecked when the list is empty; value filters hold
		// sub-attributes.
		{`emails[type eq "work"] and anything eq "x"`, scimexpr.Dialect{Operators: []string{"eq"}, ValuePaths: true}, ""},
		{`members[value eq "1"]`, scimexpr.Dialect{Operators: []string{"eq"}, ValuePaths: true, Attributes: []string{"members"}}, ""},
		{`(a eq 1 or b eq 2) and c ne -1.5e3 and d pr and not (e.f ew "x") and g[h eq true] and urn:x:y:i le null`, scimexpr.FullDialect, ""},
	}
	for _, tt := range tests {
		f, err := scimexpr.ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tt.filter, err)
		}
		err = f.Check(tt.d)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.filter, err)
		case tt.want != "":
			var se *scimexpr.Error
			if !errors.As(err, &se) || se.SCIMType != scimexpr.TypeInvalidFilter || se.Detail != tt.want {
				t.Errorf("Check(%q) = %#v, want invalidFilter %q", tt.filter, err, tt.want)
			}
		}
	}
	var nilFilter *scimexpr.Filter
	if err := nilFilter.Check(simple); err != nil {
		t.Errorf("nil filter: %v", err)
	}
}

// TestCheckDoesNotChangeFilter: a filter checked against a dialect still
// prints and matches as before.
func TestCheckDoesNotChangeFilter(t *testing.T) {
	user := resource(t, sampleUser)
	f, err := scimexpr.ParseFilter(`(userName ew ".com") and not (active eq false)`)
	if err != nil {
		t.Fatal(err)
	}
	before := f.String()
	if err := f.Check(simple); err == nil {
		t.Fatal("Check accepted ew")
	}
	if f.String() != before || !f.Match(user) {
		t.Errorf("after Check: %q, match %v", f.String(), f.Match(user))
	}
}
