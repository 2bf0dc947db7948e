package scimexpr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

func TestFilterMatch(t *testing.T) {
	user := resource(t, sampleUser)
	group := resource(t, sampleGroup)
	sp := resource(t, sampleSP)
	escaped := resource(t, `{"displayName": "Zoë \"q\" \\ back/slash", "tags": ["Red", "green"], "score": -1.5}`)

	tests := []struct {
		name   string
		filter string
		res    map[string]any
		want   bool
	}{
		// eq and case-insensitivity
		{"eq ignores value case", `userName eq "jacob.parr@example.com"`, user, true},
		{"attribute and operator case", `USERNAME EQ "JACOB.PARR@EXAMPLE.COM"`, user, true},
		{"urn prefix", `urn:ietf:params:scim:schemas:core:2.0:User:userName sw "jacob"`, user, true},
		{"eq mismatch", `userName eq "someone@example.com"`, user, false},
		{"ne true", `userName ne "x"`, user, true},
		{"ne false", `userName ne "jacob.parr@example.com"`, user, false},
		{"ne absent", `nickName ne "x"`, user, true},
		{"co", `userName co "PARR@"`, user, true},
		{"sw", `userName sw "parr"`, user, false},
		{"ew", `userName ew ".COM"`, user, true},
		{"gt string", `name.familyName gt "Oak"`, user, true},
		{"lt string", `name.familyName lt "oak"`, user, false},
		{"le string equal", `userName le "JACOB.PARR@EXAMPLE.COM"`, user, true},
		{"ge string", `displayName ge "jacob parr"`, user, true},

		// sub-attributes and multi-valued attributes
		{"sub-attribute", `name.givenName eq "jacob"`, user, true},
		{"sub-attribute with urn", `urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "parr"`, user, true},
		{"multi-valued sub any", `emails.value co "home"`, user, true},
		{"multi-valued complex compares value", `emails eq "jp@home.test"`, user, true},
		{"multi-valued complex no match", `emails eq "work"`, user, false},
		{"groups display co", `groups.display co "ENG"`, user, true},
		{"groups value eq", `groups.value eq "102"`, user, true},
		{"number literal vs string id", `groups.value eq 102`, user, true},
		{"id as number", `id eq 8598139271121446`, user, true},
		{"members value", `members.value eq "1"`, group, true},
		{"members complex", `members eq "8598139271121446"`, group, true},
		{"members no match", `members eq "2"`, group, false},
		{"members ne", `members.value ne "1"`, group, false},
		{"list of strings", `schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`, user, true},
		{"list of strings co", `tags co "RE"`, escaped, true},
		{"meta sub-attribute", `meta.resourceType eq "WorkspaceGroup"`, group, true},
		{"meta sub-attribute other", `meta.resourceType eq "Group"`, group, false},

		// value paths
		{"value path and", `emails[type eq "work" and value co "@example"]`, user, true},
		{"value path same element only", `emails[type eq "home" and value co "@example"]`, user, false},
		{"value path with logic outside", `emails[type eq "work"] and active eq true`, user, true},
		{"value path entitlements", `entitlements[value eq "workspace-access"]`, user, true},
		{"value path members", `members[value eq "8598139271121446" and display sw "jacob"]`, group, true},
		{"value path absent attribute", `members[value eq "1"]`, user, false},
		{"value path on strings", `tags[value eq "green"]`, escaped, true},
		{"value path not", `emails[not (type eq "work")]`, user, true},
		{"value path primary", `emails[primary eq true and value ew "example.com"]`, user, true},

		// booleans, numbers, null, pr
		{"bool eq", `active eq true`, user, true},
		{"bool eq false", `active eq false`, user, false},
		{"bool ne", `active ne false`, user, true},
		{"bool vs string", `active eq "TRUE"`, user, true},
		{"bool order", `active gt false`, user, false},
		{"bool co", `active co "t"`, user, false},
		{"sp inactive", `displayName eq "svc" and active eq false`, sp, true},
		{"number gt", `loginCount gt 41`, user, true},
		{"number ge", `loginCount ge 42`, user, true},
		{"number lt", `loginCount lt 42`, user, false},
		{"number eq fraction", `loginCount eq 42.0`, user, true},
		{"number exponent", `loginCount le 4.2e1`, user, true},
		{"number vs string literal", `loginCount eq "42"`, user, true},
		{"number co", `loginCount co 4`, user, false},
		{"negative number", `score lt -1`, escaped, true},
		{"pr present", `displayName pr`, user, true},
		{"pr empty string", `externalId pr`, user, false},
		{"pr absent", `nickName pr`, user, false},
		{"pr list", `emails pr`, user, true},
		{"pr sub", `members.display pr`, group, true},
		{"eq null absent", `nickName eq null`, user, true},
		{"eq null present", `displayName eq null`, user, false},
		{"ne null present", `displayName ne NULL`, user, true},
		{"gt null", `displayName gt null`, user, false},

		// logic and precedence
		{"not", `not (active eq true)`, user, false},
		{"not without space", `not(userName sw "x")`, user, true},
		{"or", `userName eq "x" or displayName eq "jacob parr"`, user, true},
		{"and binds tighter (1)", `displayName eq "jacob parr" or userName eq "x" and active eq false`, user, true},
		{"and binds tighter (2)", `active eq false and userName eq "x" or displayName pr`, user, true},
		{"parens override", `(displayName eq "jacob parr" or userName eq "x") and active eq false`, user, false},
		{"and all", `displayName pr and active eq true and name.givenName sw "J"`, user, true},
		{"applicationId case", `applicationId eq "9F0621EE-B0FB-4B2F-8C0E-1E1A7A4B2C3D"`, sp, true},

		// lexing
		{"escapes", `displayName eq "zo\u00cb \"Q\" \\ back\/slash"`, escaped, true},
		{"surrogate pair", `displayName ne "\ud83d\ude00"`, escaped, true},
		{"whitespace tolerant", "  userName\teq\"jacob.parr@example.com\"and(active eq true)  ", user, true},
		{"value path whitespace", `emails[ type eq "work" ] `, user, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := scimexpr.ParseFilter(tc.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tc.filter, err)
			}
			if got := f.Match(tc.res); got != tc.want {
				t.Errorf("ParseFilter(%q).Match = %v, want %v (canonical %q)", tc.filter, got, tc.want, f.String())
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		filter string
		detail []string // substrings of Error.Detail
	}{
		{``, []string{"expected attribute", "end of input", "position 1"}},
		{`   `, []string{"expected attribute", "end of input"}},
		{`userName`, []string{"expected comparison operator", "end of input", "position 9"}},
		{`userName foo "x"`, []string{"expected comparison operator", `"foo"`, "position 10"}},
		{`userName eq`, []string{"expected value", "end of input"}},
		{`userName eq x`, []string{"expected value", `"x"`, "position 13"}},
		{`userName eq 01`, []string{"expected value", `"01"`}},
		{`userName eq 1.`, []string{"expected value", `"1."`}},
		{`userName eq "x`, []string{"unterminated string", "position 13"}},
		{`userName eq "x\`, []string{"unterminated string", "position 13"}},
		{`userName eq "\q"`, []string{"invalid escape", `\\q`}},
		{`userName eq "\u12"`, []string{`invalid \u escape`, "position 14"}},
		{`(userName eq "x"`, []string{`expected ")"`, "end of input"}},
		{`userName eq "x")`, []string{`expected "and", "or" or end of filter`, `")"`, "position 16"}},
		{`userName eq "x" and`, []string{"expected attribute", "end of input"}},
		{`userName eq "x" xor a eq "b"`, []string{`expected "and", "or" or end of filter`, `"xor"`}},
		{`userName eq "x" and ()`, []string{"expected attribute", `")"`}},
		{`emails[type eq "work"`, []string{`expected "]"`}},
		{`emails[type eq "work"].value eq "x"`, []string{`".value"`}},
		{`emails[type eq "work"] eq "x"`, []string{`"eq"`}},
		{`emails[members[value eq "x"]]`, []string{"value filter nested inside a value filter"}},
		{`name.givenName[value eq "x"]`, []string{"value filter after sub-attribute", "name.givenName"}},
		{`a.b.c eq "x"`, []string{`invalid attribute "a.b.c"`, "position 1"}},
		{`foo:bar eq "x"`, []string{"must be a URN"}},
		{`urn: eq "x"`, []string{"must be a URN"}},
		{`urn:x: eq "x"`, []string{"invalid attribute"}},
		{`1abc eq "x"`, []string{`invalid attribute "1abc"`}},
		{`user-name eq "x" and _x eq "y"`, []string{`invalid attribute "_x"`, "position 22"}},
		{`not userName eq "x"`, []string{"expected comparison operator", `"userName"`}},
		{`userName eq "x" and not`, []string{"expected comparison operator", "end of input"}},
		{`]`, []string{"expected attribute", `"]"`}},
		{`"x" eq userName`, []string{"expected attribute", `string "x"`}},
		{strings.Repeat("(", 101) + `a pr` + strings.Repeat(")", 101), []string{"nested more than 100 levels"}},
		{strings.Repeat("not (", 101) + `a pr` + strings.Repeat(")", 101), []string{"nested more than 100 levels"}},
	}
	for _, tc := range tests {
		f, err := scimexpr.ParseFilter(tc.filter)
		if err == nil {
			t.Errorf("ParseFilter(%q) = %q, want error", tc.filter, f)
			continue
		}
		var se *scimexpr.Error
		if !errors.As(err, &se) {
			t.Errorf("ParseFilter(%q) error %T, want *scimexpr.Error", tc.filter, err)
			continue
		}
		if se.SCIMType != scimexpr.TypeInvalidFilter {
			t.Errorf("ParseFilter(%q) SCIMType = %q, want invalidFilter", tc.filter, se.SCIMType)
		}
		for _, want := range tc.detail {
			if !strings.Contains(se.Detail, want) {
				t.Errorf("ParseFilter(%q) detail = %q, want it to contain %q", tc.filter, se.Detail, want)
			}
		}
		if got := err.Error(); !strings.HasPrefix(got, "invalidFilter: ") {
			t.Errorf("ParseFilter(%q).Error() = %q, want prefix \"invalidFilter: \"", tc.filter, got)
		}
	}
}

func TestParseFilterDepthLimit(t *testing.T) {
	f := strings.Repeat("(", 100) + `a pr` + strings.Repeat(")", 100)
	if _, err := scimexpr.ParseFilter(f); err != nil {
		t.Errorf("ParseFilter at the depth limit: %v", err)
	}
}

func TestFilterString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`USERNAME EQ "a"`, `USERNAME eq "a"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName Sw "J"`, `name.givenName sw "J"`},
		{`a eq 1 and (b eq 2 and c eq 3)`, `a eq 1 and b eq 2 and c eq 3`},
		{`(a eq 1 or b eq 2) and c eq 3`, `(a eq 1 or b eq 2) and c eq 3`},
		{`a eq 1 or (b eq 2 and c eq 3)`, `a eq 1 or b eq 2 and c eq 3`},
		{`a eq 1 or b eq 2 and c eq 3`, `a eq 1 or b eq 2 and c eq 3`},
		{`(a eq 1 or b eq 2) or (c eq 3)`, `a eq 1 or b eq 2 or c eq 3`},
		{`not(a PR)`, `not (a pr)`},
		{`not (not (a pr))`, `not (not (a pr))`},
		{`not (a pr or b pr) and c pr`, `not (a pr or b pr) and c pr`},
		{`emails[type eq "work" or not (value ew ".test")]`, `emails[type eq "work" or not (value ew ".test")]`},
		{`emails[(type eq "a" or type eq "b") and primary eq true]`, `emails[(type eq "a" or type eq "b") and primary eq true]`},
		{`a eq TRUE and b eq Null and c eq -1.5E3 and d eq False`, `a eq true and b eq null and c eq -1.5E3 and d eq false`},
		{`a eq "x\u0041\n\/\t\u0001"`, `a eq "xA\n/\t\u0001"`},
		{`((a eq "x"))`, `a eq "x"`},
		{`a eq "\"q\" \\"`, `a eq "\"q\" \\"`},
		{`  a   eq"x"and(b pr)`, `a eq "x" and b pr`},
		{`a eq "\ud800"`, "a eq \"\uFFFD\""}, // lone surrogate, as encoding/json
	}
	for _, tc := range tests {
		f, err := scimexpr.ParseFilter(tc.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.in, err)
			continue
		}
		got := f.String()
		if got != tc.want {
			t.Errorf("ParseFilter(%q).String() = %q, want %q", tc.in, got, tc.want)
		}
		again, err := scimexpr.ParseFilter(got)
		if err != nil {
			t.Errorf("reparse %q: %v", got, err)
			continue
		}
		if s := again.String(); s != got {
			t.Errorf("reparse %q: String() = %q, not a fixpoint", got, s)
		}
	}
}

func TestFilterNodes(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`a pr`, 1},
		{`a eq 1 and (b eq 2 or emails[type eq "w" and value pr])`, 4},
		{`not (a eq 1 or b eq 2)`, 2},
	}
	for _, tc := range tests {
		f, err := scimexpr.ParseFilter(tc.in)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.in, err)
		}
		if got := f.Nodes(); got != tc.want {
			t.Errorf("ParseFilter(%q).Nodes() = %d, want %d", tc.in, got, tc.want)
		}
	}
	// A filter as the scim filter builder writes it for 200 ids.
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = `id eq "` + strings.Repeat("1", i+1) + `"`
	}
	f, err := scimexpr.ParseFilter(strings.Join(ids, " or "))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Nodes(); got != 201 {
		t.Errorf("Nodes() of 201 or-ed comparisons = %d", got)
	}
}

func TestNilFilter(t *testing.T) {
	var f *scimexpr.Filter
	if !f.Match(map[string]any{"a": 1.0}) {
		t.Error("nil Filter does not match")
	}
	if f.String() != "" || f.Nodes() != 0 {
		t.Errorf("nil Filter: String %q, Nodes %d", f.String(), f.Nodes())
	}
}

func TestFilterConcurrentMatch(t *testing.T) {
	f, err := scimexpr.ParseFilter(`emails[type eq "work"] and userName co "parr"`)
	if err != nil {
		t.Fatal(err)
	}
	user := resource(t, sampleUser)
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 200 {
				ok = ok && f.Match(user)
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent Match returned false")
		}
	}
}
