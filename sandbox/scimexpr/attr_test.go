package scimexpr_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

func TestProject(t *testing.T) {
	tests := []struct {
		name                 string
		res                  string
		attributes, excluded []string
		want                 string
	}{
		{
			name: "attributes keep id and schemas", res: sampleUser,
			attributes: []string{"userName"},
			want:       `{"id":"8598139271121446","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:workspace:2.0:User"],"userName":"Jacob.Parr@Example.com"}`,
		},
		{
			name: "UCX group listing", res: sampleGroup,
			attributes: []string{"id", "displayName", "meta"},
			want:       `{"displayName":"data-eng","id":"101","meta":{"resourceType":"WorkspaceGroup"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`,
		},
		{
			name: "meta is always returned", res: sampleGroup,
			attributes: []string{"displayName"},
			want:       `{"displayName":"data-eng","id":"101","meta":{"resourceType":"WorkspaceGroup"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`,
		},
		{
			name: "sub-attributes", res: sampleUser,
			attributes: []string{"name.givenName", "emails.value", "emails.TYPE"},
			want:       `{"emails":[{"type":"work","value":"jacob.parr@example.com"},{"type":"home","value":"jp@home.test"}],"id":"8598139271121446","name":{"givenName":"Jacob"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:workspace:2.0:User"]}`,
		},
		{
			name: "case-insensitive names keep the resource's spelling", res: sampleSP,
			attributes: []string{"APPLICATIONID", " active ", "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal:displayName"},
			want:       `{"active":false,"applicationId":"9f0621ee-b0fb-4b2f-8c0e-1e1a7a4b2c3d","displayName":"svc","id":"1","schemas":["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]}`,
		},
		{
			name: "whole attribute wins over its sub-attribute", res: sampleUser,
			attributes: []string{"name.givenName", "name"},
			want:       `{"id":"8598139271121446","name":{"familyName":"Parr","givenName":"Jacob"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:workspace:2.0:User"]}`,
		},
		{
			name: "unknown and invalid attributes are ignored", res: sampleSP,
			attributes: []string{"nickName", "a..b", "", "name.givenName", "displayName.x"},
			want:       `{"id":"1","schemas":["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]}`,
		},
		{
			name: "members values only", res: sampleGroup,
			attributes: []string{"members.value"},
			want:       `{"id":"101","members":[{"value":"8598139271121446"},{"value":"1"}],"meta":{"resourceType":"WorkspaceGroup"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`,
		},
		{
			name: "excluded", res: sampleUser,
			excluded: []string{"emails", "Groups", "name.familyName", "id", "schemas", "entitlements", "nosuch"},
			want:     `{"active":true,"displayName":"Jacob Parr","externalId":"","id":"8598139271121446","loginCount":42,"name":{"givenName":"Jacob"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:workspace:2.0:User"],"userName":"Jacob.Parr@Example.com"}`,
		},
		{
			name: "Me excludes entitlements", res: sampleSP,
			excluded: []string{"entitlements"},
			want:     `{"active":false,"applicationId":"9f0621ee-b0fb-4b2f-8c0e-1e1a7a4b2c3d","displayName":"svc","id":"1","schemas":["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]}`,
		},
		{
			name: "excluded sub-attribute of a list", res: sampleGroup,
			excluded: []string{"members.$ref", "members.display", "meta.resourceType"},
			want:     `{"displayName":"data-eng","id":"101","members":[{"value":"8598139271121446"},{"value":"1"}],"meta":{"resourceType":"WorkspaceGroup"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`,
		},
		{
			name: "attributes then excluded", res: sampleGroup,
			attributes: []string{"displayName", "members"}, excluded: []string{"members"},
			want: `{"displayName":"data-eng","id":"101","meta":{"resourceType":"WorkspaceGroup"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`,
		},
		{
			name: "no projection is a copy", res: sampleSP,
			want: `{"active":false,"applicationId":"9f0621ee-b0fb-4b2f-8c0e-1e1a7a4b2c3d","displayName":"svc","entitlements":[{"value":"databricks-sql-access"}],"id":"1","schemas":["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := resource(t, tc.res)
			got := scimexpr.Project(res, tc.attributes, tc.excluded)
			if s := toJSON(t, got); s != tc.want {
				t.Errorf("Project(%v, %v) =\n %s\nwant\n %s", tc.attributes, tc.excluded, s, tc.want)
			}
			if !reflect.DeepEqual(res, resource(t, tc.res)) {
				t.Error("Project modified its input")
			}
			if s := toJSON(t, scimexpr.ProjectInPlace(res, tc.attributes, tc.excluded)); s != tc.want {
				t.Errorf("ProjectInPlace(%v, %v) =\n %s\nwant\n %s", tc.attributes, tc.excluded, s, tc.want)
			}
		})
	}
}

// projectionPaths are the attribute paths TestProjectInPlace combines.
var projectionPaths = []string{
	"", "id", "userName", "DISPLAYNAME", "name", "name.givenName", "emails", "emails.value", "Emails.Type",
	"members", "members.value", "members.$ref", "members.display", "groups.display", "groups", "meta",
	"meta.resourceType", "schemas", "entitlements.value", "roles", "active", "applicationId", "nosuch",
	"urn:ietf:params:scim:schemas:core:2.0:User:userName", "a..b", "tags", "tags.value",
}

// checkProjectInPlace fails unless ProjectInPlace on a copy of res encodes
// like Project on res, and Project left res alone.
func checkProjectInPlace(t *testing.T, res func() map[string]any, attrs, excluded []string) {
	t.Helper()
	orig := res()
	want := toJSON(t, scimexpr.Project(orig, attrs, excluded))
	if !reflect.DeepEqual(orig, res()) {
		t.Fatalf("Project(%q, %q) modified its input", attrs, excluded)
	}
	if got := toJSON(t, scimexpr.ProjectInPlace(res(), attrs, excluded)); got != want {
		t.Fatalf("ProjectInPlace(%q, %q) =\n %s\nProject gives\n %s", attrs, excluded, got, want)
	}
}

// TestProjectInPlace compares ProjectInPlace with Project over pairs of
// attributes and excludedAttributes drawn from projectionPaths, on the
// samples and on resources whose lists are []map[string]any and []string.
func TestProjectInPlace(t *testing.T) {
	typed := func() map[string]any {
		return map[string]any{
			"id": "7", "schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "g",
			"members": []map[string]any{{"value": "1", "display": "a", "$ref": "Users/1"}, {"value": "2", "Display": "b"}},
			"meta":    map[string]any{"resourceType": "Group"}, "tags": []string{"x", "y"},
		}
	}
	resources := []func() map[string]any{typed, func() map[string]any { return nil }, func() map[string]any { return map[string]any{} }}
	for _, js := range []string{sampleUser, sampleGroup, sampleSP} {
		resources = append(resources, func() map[string]any { return resource(t, js) })
	}
	lists := [][]string{nil}
	for i, a := range projectionPaths {
		lists = append(lists, []string{a}, []string{a, projectionPaths[(i*7+3)%len(projectionPaths)]})
	}
	// Attribute names equal but for case: Drops does not apply.
	clashing := func() map[string]any {
		return map[string]any{"id": "8", "ID": "9", "displayName": "a", "DisplayName": "b", "displayname": "c",
			"Meta": map[string]any{"resourceType": "Group"}, "members": []any{map[string]any{"value": "1", "Value": "2"}},
			"Members": []any{map[string]any{"display": "x"}}}
	}
	for i, res := range append(resources, clashing) {
		for _, attrs := range lists {
			for _, excluded := range lists {
				checkProjectInPlace(t, res, attrs, excluded)
				if i < len(resources) {
					checkDrops(t, res(), attrs, excluded)
				}
			}
		}
	}
}

// checkDrops fails if Drops says an attribute of res is left out but
// Project's result changes when res does not hold it.
func checkDrops(t *testing.T, res map[string]any, attrs, excluded []string) {
	t.Helper()
	want := toJSON(t, scimexpr.Project(res, attrs, excluded))
	for k := range res {
		for _, name := range []string{k, strings.ToUpper(k)} {
			if !scimexpr.Drops(attrs, excluded, name) {
				continue
			}
			without := maps.Clone(res)
			delete(without, k)
			if got := toJSON(t, scimexpr.Project(without, attrs, excluded)); got != want {
				t.Fatalf("Drops(%q, %q, %q) but Project without it =\n %s\nwith it\n %s", attrs, excluded, name, got, want)
			}
		}
	}
}

func TestDrops(t *testing.T) {
	tests := []struct {
		attrs, excluded []string
		name            string
		want            bool
	}{
		{nil, nil, "members", false},
		{[]string{"id", "displayName"}, nil, "members", true},
		{[]string{"id", "MEMBERS.value"}, nil, "members", false},
		{[]string{"urn:ietf:params:scim:schemas:core:2.0:Group:members"}, nil, "Members", false},
		{[]string{"a..b"}, nil, "members", false}, // no valid attribute: everything is kept
		{nil, []string{"members.display"}, "members", false},
		{nil, []string{" Members "}, "members", true},
		{[]string{"members"}, []string{"members"}, "members", true},
		{[]string{"displayName"}, nil, "id", false},
		{[]string{"displayName"}, []string{"meta"}, "meta", false},
	}
	for _, tc := range tests {
		if got := scimexpr.Drops(tc.attrs, tc.excluded, tc.name); got != tc.want {
			t.Errorf("Drops(%q, %q, %q) = %v, want %v", tc.attrs, tc.excluded, tc.name, got, tc.want)
		}
	}
}

func TestProjectSharesNoMemory(t *testing.T) {
	for _, attrs := range [][]string{nil, {"members", "name.givenName"}} {
		res := resource(t, sampleGroup)
		res["name"] = map[string]any{"givenName": "g"}
		out := scimexpr.Project(res, attrs, nil)
		out["members"].([]any)[0].(map[string]any)["value"] = "changed"
		out["meta"].(map[string]any)["resourceType"] = "changed"
		out["name"].(map[string]any)["givenName"] = "changed"
		if got := res["members"].([]any)[0].(map[string]any)["value"]; got != "8598139271121446" {
			t.Errorf("attributes %v: mutating the projection changed the resource's member to %v", attrs, got)
		}
		if got := res["meta"].(map[string]any)["resourceType"]; got != "WorkspaceGroup" {
			t.Errorf("attributes %v: mutating the projection changed meta to %v", attrs, got)
		}
		if got := res["name"].(map[string]any)["givenName"]; got != "g" {
			t.Errorf("attributes %v: mutating the projection changed name to %v", attrs, got)
		}
	}
}

func TestGet(t *testing.T) {
	user := resource(t, sampleUser)
	group := resource(t, sampleGroup)
	tests := []struct {
		res  map[string]any
		attr string
		want string // JSON, or "" for not found
	}{
		{user, "userName", `"Jacob.Parr@Example.com"`},
		{user, "USERNAME", `"Jacob.Parr@Example.com"`},
		{user, "name.givenName", `"Jacob"`},
		{user, "Name.FamilyName", `"Parr"`},
		{user, "urn:ietf:params:scim:schemas:core:2.0:User:userName", `"Jacob.Parr@Example.com"`},
		{user, "emails", `[{"primary":true,"type":"work","value":"jacob.parr@example.com"},{"type":"home","value":"jp@home.test"}]`},
		{user, "emails.value", `["jacob.parr@example.com","jp@home.test"]`},
		{user, "active", `true`},
		{group, "meta.resourceType", `"WorkspaceGroup"`},
		{group, "members.display", `["Jacob Parr","svc"]`},
		{user, "nickName", ""},
		{user, "name.middleName", ""},
		{user, "emails.nosuch", ""},
		{user, "displayName.x", ""},
		{user, "a..b", ""},
		{user, "", ""},
	}
	for _, tc := range tests {
		v, ok := scimexpr.Get(tc.res, tc.attr)
		switch {
		case tc.want == "" && ok:
			t.Errorf("Get(%q) = %v, want not found", tc.attr, v)
		case tc.want != "" && !ok:
			t.Errorf("Get(%q) not found, want %s", tc.attr, tc.want)
		case ok && toJSON(t, v) != tc.want:
			t.Errorf("Get(%q) = %s, want %s", tc.attr, toJSON(t, v), tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	emails := func(primary string, others ...string) []any {
		l := []any{}
		for _, o := range others {
			l = append(l, map[string]any{"value": o})
		}
		return append(l, map[string]any{"value": primary, "primary": true})
	}
	tests := []struct {
		a, b any
		want int // sign
	}{
		{"a", "B", -1},
		{"b", "A", 1},
		{"abc", "ABC", 0},
		{1.0, 2.0, -1},
		{10.0, 9.0, 1},
		{3, 2.5, 1},
		{int64(2), 2.0, 0},
		{nil, "a", 1},
		{"a", nil, -1},
		{nil, nil, 0},
		{false, true, -1},
		{true, true, 0},
		{2.0, "1", -1},   // numbers before strings
		{"z", false, -1}, // strings before booleans
		{map[string]any{"value": "x"}, "y", -1},
		{map[string]any{"display": "x"}, "y", 1}, // no value: sorts as nil
		{emails("b@x", "a@x"), emails("a@x", "z@x"), 1},
		{[]any{map[string]any{"value": "a"}}, "b", -1},
		{[]any{}, "a", 1},
		{[]string{"m"}, "n", -1},
	}
	for _, tc := range tests {
		got := scimexpr.Compare(tc.a, tc.b)
		if sign(got) != tc.want {
			t.Errorf("Compare(%v, %v) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestCompareSortsUsersByGivenName(t *testing.T) {
	users := []map[string]any{
		resource(t, `{"id":"1","name":{"givenName":"bob"}}`),
		resource(t, `{"id":"2"}`),
		resource(t, `{"id":"3","name":{"givenName":"Alice"}}`),
		resource(t, `{"id":"4","name":{"givenName":"carol"}}`),
	}
	slices.SortStableFunc(users, func(a, b map[string]any) int {
		va, _ := scimexpr.Get(a, "name.givenName")
		vb, _ := scimexpr.Get(b, "name.givenName")
		return scimexpr.Compare(va, vb)
	})
	var ids []string
	for _, u := range users {
		ids = append(ids, u["id"].(string))
	}
	if want := []string{"3", "1", "4", "2"}; !slices.Equal(ids, want) {
		t.Errorf("sorted ids = %v, want %v", ids, want)
	}
}
