package scimexpr_test

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

// Bodies from the API reference §A.4, verbatim (placeholders filled in).
var referenceBodies = map[string]string{
	"add members": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"add","path":"members","value":[{"value":"<principal-scim-id>"}]}]}`,
	"path-less add members": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"add","value":{"members":[{"value":"<id>"}]}}]}`,
	"remove member by filter": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"remove","path":"members[value eq \"<id>\"]"}]}`,
	"rename group": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"replace","path":"displayName","value":"new-name"}]}`,
	"rename group UCX (no schemas)": `{"Operations":[{"op":"replace","path":"displayName","value":"new-name"}]}`,
	"add entitlements": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"add","path":"entitlements","value":[{"value":"allow-cluster-create"},{"value":"databricks-sql-access"}]}]}`,
	"remove entitlements TF value list": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"remove","path":"entitlements","value":[{"value":"allow-cluster-create"}]}]}`,
	"remove entitlement RFC filter": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"remove","path":"entitlements[value eq \"allow-cluster-create\"]"}]}`,
	"add roles":    `{"Operations":[{"op":"add","path":"roles","value":[{"value":"arn:aws:iam::123:instance-profile/x"}]}], "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
	"remove roles": `{"Operations":[{"op":"remove","path":"roles[value eq \"arn:aws:iam::123:instance-profile/x\"]"}], "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
	"deactivate TF": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"replace","path":"active","value":[{"value":"false"}]}]}`,
	"Entra capitalised op": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"members","value":[{"value":"7"}]}]}`,
}

func TestDecodePatchReferenceBodies(t *testing.T) {
	type op struct {
		op, path string
		value    string // JSON of Value; "null" when absent
	}
	want := map[string][]op{
		"add members":                       {{"add", "members", `[{"value":"<principal-scim-id>"}]`}},
		"path-less add members":             {{"add", "", `{"members":[{"value":"<id>"}]}`}},
		"remove member by filter":           {{"remove", `members[value eq "<id>"]`, `null`}},
		"rename group":                      {{"replace", "displayName", `"new-name"`}},
		"rename group UCX (no schemas)":     {{"replace", "displayName", `"new-name"`}},
		"add entitlements":                  {{"add", "entitlements", `[{"value":"allow-cluster-create"},{"value":"databricks-sql-access"}]`}},
		"remove entitlements TF value list": {{"remove", "entitlements", `[{"value":"allow-cluster-create"}]`}},
		"remove entitlement RFC filter":     {{"remove", `entitlements[value eq "allow-cluster-create"]`, `null`}},
		"add roles":                         {{"add", "roles", `[{"value":"arn:aws:iam::123:instance-profile/x"}]`}},
		"remove roles":                      {{"remove", `roles[value eq "arn:aws:iam::123:instance-profile/x"]`, `null`}},
		"deactivate TF":                     {{"replace", "active", `[{"value":"false"}]`}},
		"Entra capitalised op":              {{"replace", "active", `"False"`}, {"add", "members", `[{"value":"7"}]`}},
	}
	for name, body := range referenceBodies {
		ops, err := scimexpr.DecodePatch([]byte(body))
		if err != nil {
			t.Errorf("%s: DecodePatch: %v", name, err)
			continue
		}
		var got []op
		for _, o := range ops {
			got = append(got, op{o.Op, o.Path.String(), toJSON(t, o.Value)})
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s: DecodePatch = %+v, want %+v", name, got, want[name])
		}
	}
}

func TestDecodePatchKeyCase(t *testing.T) {
	ops, err := scimexpr.DecodePatch([]byte(`{"SCHEMAS":[],"operations":[{"OP":"REMOVE","Path":"members[value eq \"1\"]","VALUE":null}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Op != "remove" || ops[0].Path.Attr != "members" || ops[0].Value != nil {
		t.Errorf("DecodePatch = %+v", ops)
	}
}

func TestDecodePatchErrors(t *testing.T) {
	tests := []struct {
		name, body, scimType string
	}{
		{"invalid JSON", `{"Operations":[`, scimexpr.TypeInvalidSyntax},
		{"not an object", `[{"op":"add"}]`, scimexpr.TypeInvalidSyntax},
		{"null", `null`, scimexpr.TypeInvalidSyntax},
		{"empty", ``, scimexpr.TypeInvalidSyntax},
		{"missing Operations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, scimexpr.TypeInvalidSyntax},
		{"empty Operations", `{"Operations":[]}`, scimexpr.TypeInvalidSyntax},
		{"Operations not a list", `{"Operations":{"op":"add"}}`, scimexpr.TypeInvalidSyntax},
		{"Operations twice", `{"Operations":[{"op":"remove","path":"a"}],"operations":[{"op":"remove","path":"b"}]}`, scimexpr.TypeInvalidSyntax},
		{"schemas not a list", `{"schemas":"x","Operations":[{"op":"remove","path":"a"}]}`, scimexpr.TypeInvalidSyntax},
		{"schemas not strings", `{"schemas":[1],"Operations":[{"op":"remove","path":"a"}]}`, scimexpr.TypeInvalidSyntax},
		{"operation not an object", `{"Operations":[1]}`, scimexpr.TypeInvalidSyntax},
		{"unknown op", `{"Operations":[{"op":"move","path":"a"}]}`, scimexpr.TypeInvalidSyntax},
		{"missing op", `{"Operations":[{"path":"a"}]}`, scimexpr.TypeInvalidSyntax},
		{"op not a string", `{"Operations":[{"op":1,"path":"a"}]}`, scimexpr.TypeInvalidSyntax},
		{"op twice", `{"Operations":[{"op":"add","OP":"remove","path":"a","value":1}]}`, scimexpr.TypeInvalidSyntax},
		{"remove without path or value", `{"Operations":[{"op":"remove"}]}`, scimexpr.TypeInvalidSyntax},
		{"add without value", `{"Operations":[{"op":"add","path":"members"}]}`, scimexpr.TypeInvalidSyntax},
		{"replace with null value", `{"Operations":[{"op":"replace","path":"displayName","value":null}]}`, scimexpr.TypeInvalidSyntax},
		{"path-less add with scalar", `{"Operations":[{"op":"add","value":"x"}]}`, scimexpr.TypeInvalidSyntax},
		{"path-less remove with list", `{"Operations":[{"op":"remove","value":[{"value":"x"}]}]}`, scimexpr.TypeInvalidSyntax},
		{"path not a string", `{"Operations":[{"op":"add","path":5,"value":1}]}`, scimexpr.TypeInvalidSyntax},
		{"bad path", `{"Operations":[{"op":"remove","path":"members[value eq"}]}`, scimexpr.TypeInvalidPath},
		{"empty path", `{"Operations":[{"op":"remove","path":""}]}`, scimexpr.TypeInvalidPath},
		{"bad second op", `{"Operations":[{"op":"remove","path":"a"},{"op":"replace","path":"a..b","value":1}]}`, scimexpr.TypeInvalidPath},
	}
	for _, tc := range tests {
		ops, err := scimexpr.DecodePatch([]byte(tc.body))
		if err == nil {
			t.Errorf("%s: DecodePatch = %+v, want error", tc.name, ops)
			continue
		}
		var se *scimexpr.Error
		if !errors.As(err, &se) || se.SCIMType != tc.scimType {
			t.Errorf("%s: DecodePatch error = %#v, want SCIMType %q", tc.name, err, tc.scimType)
			continue
		}
		if tc.scimType == scimexpr.TypeInvalidSyntax && se.Detail != scimexpr.DetailInvalidSyntax {
			t.Errorf("%s: detail = %q, want the Databricks text", tc.name, se.Detail)
		}
	}
}

// applyJSON decodes body and applies it to res.
func applyJSON(t *testing.T, res map[string]any, body string) error {
	t.Helper()
	ops, err := scimexpr.DecodePatch([]byte(body))
	if err != nil {
		t.Fatalf("DecodePatch(%s): %v", body, err)
	}
	return scimexpr.Apply(res, ops)
}

func ops(body string) string { return `{"Operations":[` + body + `]}` }

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		res  string // JSON resource
		body string // PatchOp body
		attr string // attribute to check
		want string // JSON of the attribute afterwards; "absent" if deleted
	}{
		{
			name: "add members union without duplicates",
			res:  sampleGroup,
			body: ops(`{"op":"add","path":"members","value":[{"value":"1","display":"changed"},{"value":"2"},{"value":"2"}]}`),
			attr: "members",
			want: `[{"$ref":"Users/8598139271121446","display":"Jacob Parr","value":"8598139271121446"},{"$ref":"ServicePrincipals/1","display":"svc","value":"1"},{"value":"2"}]`,
		},
		{
			name: "add a single member object",
			res:  sampleGroup,
			body: ops(`{"op":"add","path":"members","value":{"value":"3"}}`),
			attr: "members",
			want: `[{"$ref":"Users/8598139271121446","display":"Jacob Parr","value":"8598139271121446"},{"$ref":"ServicePrincipals/1","display":"svc","value":"1"},{"value":"3"}]`,
		},
		{
			name: "path-less add creates members",
			res:  `{"id":"5","displayName":"empty"}`,
			body: referenceBodies["path-less add members"],
			attr: "members",
			want: `[{"value":"<id>"}]`,
		},
		{
			name: "path-less add merges into members",
			res:  sampleGroup,
			body: ops(`{"op":"add","value":{"Members":[{"value":"1"},{"value":"9"}],"externalid":"x"}}`),
			attr: "members",
			want: `[{"$ref":"Users/8598139271121446","display":"Jacob Parr","value":"8598139271121446"},{"$ref":"ServicePrincipals/1","display":"svc","value":"1"},{"value":"9"}]`,
		},
		{
			name: "path-less add uses canonical spelling for new attributes",
			res:  sampleGroup,
			body: ops(`{"op":"add","value":{"externalid":"x"}}`),
			attr: "externalId",
			want: `"x"`,
		},
		{
			name: "add entitlements to an absent attribute",
			res:  sampleGroup,
			body: referenceBodies["add entitlements"],
			attr: "entitlements",
			want: `[{"value":"allow-cluster-create"},{"value":"databricks-sql-access"}]`,
		},
		{
			name: "add entitlements with Entra op case",
			res:  sampleUser,
			body: ops(`{"op":"ADD","path":"Entitlements","value":[{"value":"workspace-access"},{"value":"databricks-sql-access"}]}`),
			attr: "entitlements",
			want: `[{"value":"allow-cluster-create"},{"value":"workspace-access"},{"value":"databricks-sql-access"}]`,
		},
		{
			name: "remove member by filter",
			res:  sampleGroup,
			body: ops(`{"op":"remove","path":"members[value eq \"1\"]"}`),
			attr: "members",
			want: `[{"$ref":"Users/8598139271121446","display":"Jacob Parr","value":"8598139271121446"}]`,
		},
		{
			name: "remove by filter matching nothing is a no-op",
			res:  sampleGroup,
			body: ops(`{"op":"remove","path":"members[value eq \"999\"]"}`),
			attr: "members",
			want: `[{"$ref":"Users/8598139271121446","display":"Jacob Parr","value":"8598139271121446"},{"$ref":"ServicePrincipals/1","display":"svc","value":"1"}]`,
		},
		{
			name: "remove by filter on a sub-attribute value",
			res:  sampleGroup,
			body: ops(`{"op":"remove","path":"members[display co \"PARR\"]"}`),
			attr: "members",
			want: `[{"$ref":"ServicePrincipals/1","display":"svc","value":"1"}]`,
		},
		{
			name: "removing the last member deletes the attribute",
			res:  sampleGroup,
			body: ops(`{"op":"remove","path":"members[value eq \"1\"]"},{"op":"remove","path":"members[value eq \"8598139271121446\"]"}`),
			attr: "members",
			want: "absent",
		},
		{
			name: "remove sub-attribute of filtered members",
			res:  sampleGroup,
			body: ops(`{"op":"remove","path":"members[value eq \"1\"].display"}`),
			attr: "members",
			want: `[{"$ref":"Users/8598139271121446","display":"Jacob Parr","value":"8598139271121446"},{"$ref":"ServicePrincipals/1","value":"1"}]`,
		},
		{
			name: "TF remove entitlements with a value list",
			res:  sampleUser,
			body: referenceBodies["remove entitlements TF value list"],
			attr: "entitlements",
			want: `[{"value":"workspace-access"}]`,
		},
		{
			name: "RFC remove entitlement by filter",
			res:  sampleUser,
			body: referenceBodies["remove entitlement RFC filter"],
			attr: "entitlements",
			want: `[{"value":"workspace-access"}]`,
		},
		{
			name: "TF remove of the last entitlement deletes the attribute",
			res:  sampleSP,
			body: ops(`{"op":"remove","path":"entitlements","value":[{"value":"databricks-sql-access"},{"value":"not-there"}]}`),
			attr: "entitlements",
			want: "absent",
		},
		{
			name: "path-less remove with a value object",
			res:  sampleUser,
			body: ops(`{"op":"remove","value":{"entitlements":[{"value":"workspace-access"}]}}`),
			attr: "entitlements",
			want: `[{"value":"allow-cluster-create"}]`,
		},
		{
			name: "roles add then remove",
			res:  sampleGroup,
			body: `{"Operations":[` + strings.TrimSuffix(strings.TrimPrefix(referenceBodies["add roles"], `{"Operations":[`), `], "schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`) +
				`,{"op":"add","path":"roles","value":[{"value":"r2"}]},{"op":"remove","path":"roles[value eq \"arn:aws:iam::123:instance-profile/x\"]"}]}`,
			attr: "roles",
			want: `[{"value":"r2"}]`,
		},
		{
			name: "remove attribute",
			res:  sampleUser,
			body: ops(`{"op":"remove","path":"Emails"}`),
			attr: "emails",
			want: "absent",
		},
		{
			name: "remove sub-attribute",
			res:  sampleUser,
			body: ops(`{"op":"remove","path":"name.givenName"}`),
			attr: "name",
			want: `{"familyName":"Parr"}`,
		},
		{
			name: "replace displayName",
			res:  sampleGroup,
			body: referenceBodies["rename group UCX (no schemas)"],
			attr: "displayName",
			want: `"new-name"`,
		},
		{
			name: "replace keeps the resource's key spelling",
			res:  sampleGroup,
			body: ops(`{"op":"Replace","path":"DISPLAYNAME","value":"x"}`),
			attr: "displayName",
			want: `"x"`,
		},
		{
			name: "replace with urn path",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:displayName","value":"J. Parr"}`),
			attr: "displayName",
			want: `"J. Parr"`,
		},
		{
			name: "replace active with a bool",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"active","value":false}`),
			attr: "active",
			want: `false`,
		},
		{
			name: "replace active with a string is stored as given",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"active","value":"false"}`),
			attr: "active",
			want: `"false"`,
		},
		{
			name: "replace active with the TF list is stored as given",
			res:  sampleUser,
			body: referenceBodies["deactivate TF"],
			attr: "active",
			want: `[{"value":"false"}]`,
		},
		{
			name: "replace members replaces the list",
			res:  sampleGroup,
			body: ops(`{"op":"replace","path":"members","value":[{"value":"4"},{"value":"4"}]}`),
			attr: "members",
			want: `[{"value":"4"}]`,
		},
		{
			name: "replace members with an empty list deletes it",
			res:  sampleGroup,
			body: ops(`{"op":"replace","path":"members","value":[]}`),
			attr: "members",
			want: "absent",
		},
		{
			name: "replace sub-attribute of filtered emails",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"}`),
			attr: "emails",
			want: `[{"primary":true,"type":"work","value":"new@example.com"},{"type":"home","value":"jp@home.test"}]`,
		},
		{
			name: "replace filtered element",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"x@y.test","type":"other"}}`),
			attr: "emails",
			want: `[{"primary":true,"type":"work","value":"jacob.parr@example.com"},{"type":"other","value":"x@y.test"}]`,
		},
		{
			name: "add merges into filtered element",
			res:  sampleUser,
			body: ops(`{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"home"}}`),
			attr: "emails",
			want: `[{"primary":true,"type":"work","value":"jacob.parr@example.com"},{"display":"home","type":"home","value":"jp@home.test"}]`,
		},
		{
			name: "replace complex attribute merges sub-attributes",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"name","value":{"familyName":"P"}}`),
			attr: "name",
			want: `{"familyName":"P","givenName":"Jacob"}`,
		},
		{
			name: "add sub-attribute",
			res:  sampleGroup,
			body: ops(`{"op":"add","path":"name.givenName","value":"G"}`),
			attr: "name",
			want: `{"givenName":"G"}`,
		},
		{
			name: "replace sub-attribute keeps siblings",
			res:  sampleUser,
			body: ops(`{"op":"replace","path":"name.GIVENNAME","value":"Jake"}`),
			attr: "name",
			want: `{"familyName":"Parr","givenName":"Jake"}`,
		},
		{
			name: "path-less replace sets several attributes",
			res:  sampleSP,
			body: ops(`{"op":"replace","value":{"displayName":"svc2","active":true}}`),
			attr: "displayName",
			want: `"svc2"`,
		},
		{
			name: "add to schemas unions strings",
			res:  sampleGroup,
			body: ops(`{"op":"add","path":"schemas","value":["urn:ietf:params:scim:schemas:core:2.0:Group","urn:x:y"]}`),
			attr: "schemas",
			want: `["urn:ietf:params:scim:schemas:core:2.0:Group","urn:x:y"]`,
		},
		{
			name: "ops apply in order",
			res:  sampleGroup,
			body: ops(`{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"1"}]}`),
			attr: "members",
			want: `[{"value":"1"}]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := resource(t, tc.res)
			if err := applyJSON(t, res, tc.body); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got, ok := res[tc.attr]
			switch {
			case tc.want == "absent" && ok:
				t.Errorf("%s = %s, want absent", tc.attr, toJSON(t, got))
			case tc.want != "absent" && !ok:
				t.Errorf("%s absent, want %s (resource %s)", tc.attr, tc.want, toJSON(t, res))
			case ok && toJSON(t, got) != tc.want:
				t.Errorf("%s = %s, want %s", tc.attr, toJSON(t, got), tc.want)
			}
		})
	}
}

func TestApplyErrorsLeaveResourceUnchanged(t *testing.T) {
	tests := []struct {
		name, res, body, scimType, detail string
	}{
		{
			name: "remove absent attribute", res: sampleGroup,
			body:     ops(`{"op":"remove","path":"entitlements","value":[{"value":"allow-cluster-create"}]}`),
			scimType: scimexpr.TypeInvalidPath, detail: "No such attribute with the name : entitlements in the current resource",
		},
		{
			name: "remove entitlement twice (TF no-op removal)", res: sampleSP,
			body:     ops(`{"op":"remove","path":"entitlements","value":[{"value":"databricks-sql-access"}]},{"op":"remove","path":"entitlements","value":[{"value":"databricks-sql-access"}]}`),
			scimType: scimexpr.TypeInvalidPath, detail: "No such attribute with the name : entitlements in the current resource",
		},
		{
			name: "remove by filter on absent attribute", res: sampleUser,
			body:     ops(`{"op":"remove","path":"members[value eq \"1\"]"}`),
			scimType: scimexpr.TypeInvalidPath, detail: "No such attribute with the name : members in the current resource",
		},
		{
			name: "remove absent sub-attribute", res: sampleUser,
			body:     ops(`{"op":"remove","path":"name.middleName"}`),
			scimType: scimexpr.TypeInvalidPath, detail: "No such attribute with the name : name.middleName in the current resource",
		},
		{
			name: "atomic: earlier successful ops are rolled back", res: sampleGroup,
			body:     ops(`{"op":"replace","path":"displayName","value":"renamed"},{"op":"add","path":"members","value":[{"value":"77"}]},{"op":"remove","path":"roles"}`),
			scimType: scimexpr.TypeInvalidPath, detail: "No such attribute with the name : roles in the current resource",
		},
		{
			name: "bare string for members", res: sampleGroup,
			body:     ops(`{"op":"add","path":"members","value":"123"}`),
			scimType: scimexpr.TypeInvalidSyntax, detail: scimexpr.DetailInvalidSyntax,
		},
		{
			name: "list of strings for entitlements", res: sampleUser,
			body:     ops(`{"op":"remove","path":"entitlements","value":["workspace-access"]}`),
			scimType: scimexpr.TypeInvalidSyntax, detail: scimexpr.DetailInvalidSyntax,
		},
		{
			name: "replace members with a scalar", res: sampleGroup,
			body:     ops(`{"op":"replace","path":"members","value":[{"value":"1"},2]}`),
			scimType: scimexpr.TypeInvalidSyntax, detail: scimexpr.DetailInvalidSyntax,
		},
		{
			name: "replace through a filter matching nothing", res: sampleUser,
			body:     ops(`{"op":"replace","path":"emails[type eq \"other\"].value","value":"x"}`),
			scimType: scimexpr.TypeNoTarget, detail: `emails[type eq "other"].value`,
		},
		{
			name: "replace through a filter on an absent attribute", res: sampleGroup,
			body:     ops(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"x"}`),
			scimType: scimexpr.TypeNoTarget, detail: "emails",
		},
		{
			name: "replace filtered element with a scalar", res: sampleUser,
			body:     ops(`{"op":"replace","path":"emails[type eq \"home\"]","value":"x"}`),
			scimType: scimexpr.TypeInvalidSyntax, detail: scimexpr.DetailInvalidSyntax,
		},
		{
			name: "sub-attribute of a scalar", res: sampleUser,
			body:     ops(`{"op":"replace","path":"displayName.first","value":"x"}`),
			scimType: scimexpr.TypeInvalidPath, detail: "displayName",
		},
		{
			name: "path-less add with an invalid attribute name", res: sampleUser,
			body:     ops(`{"op":"add","value":{"a b":1}}`),
			scimType: scimexpr.TypeInvalidPath, detail: `"a b"`,
		},
		{
			name: "path-less add with a null attribute value", res: sampleUser,
			body:     ops(`{"op":"add","value":{"displayName":null}}`),
			scimType: scimexpr.TypeInvalidSyntax, detail: scimexpr.DetailInvalidSyntax,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := resource(t, tc.res)
			before := resource(t, tc.res)
			err := applyJSON(t, res, tc.body)
			var se *scimexpr.Error
			if !errors.As(err, &se) {
				t.Fatalf("Apply error = %v, want *scimexpr.Error", err)
			}
			if se.SCIMType != tc.scimType || !strings.Contains(se.Detail, tc.detail) {
				t.Errorf("Apply error = %+v, want %s containing %q", se, tc.scimType, tc.detail)
			}
			if !reflect.DeepEqual(res, before) {
				t.Errorf("Apply changed the resource on error:\n got %s\nwant %s", toJSON(t, res), toJSON(t, before))
			}
		})
	}
}

func TestApplyHandBuiltOperations(t *testing.T) {
	res := resource(t, sampleGroup)
	err := scimexpr.Apply(res, []scimexpr.Operation{{Op: "move", Path: &scimexpr.Path{Attr: "members"}}})
	var se *scimexpr.Error
	if !errors.As(err, &se) || se.SCIMType != scimexpr.TypeInvalidSyntax {
		t.Errorf("unknown op: error = %v, want invalidSyntax", err)
	}
	err = scimexpr.Apply(res, []scimexpr.Operation{{Op: "remove", Path: &scimexpr.Path{}}})
	if !errors.As(err, &se) || se.SCIMType != scimexpr.TypeInvalidPath {
		t.Errorf("empty path: error = %v, want invalidPath", err)
	}
	if err := scimexpr.Apply(nil, nil); err == nil {
		t.Error("Apply(nil) succeeded")
	}
	if err := scimexpr.Apply(res, nil); err != nil || !reflect.DeepEqual(res, resource(t, sampleGroup)) {
		t.Errorf("Apply with no ops: %v, changed=%v", err, !reflect.DeepEqual(res, resource(t, sampleGroup)))
	}
}

func TestApplyDoesNotAliasOperationValues(t *testing.T) {
	ops, err := scimexpr.DecodePatch([]byte(ops(`{"op":"add","path":"members","value":[{"value":"2"}]},{"op":"replace","path":"name","value":{"givenName":"x"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	a, b := resource(t, sampleGroup), resource(t, sampleGroup)
	for _, res := range []map[string]any{a, b} {
		if err := scimexpr.Apply(res, ops); err != nil {
			t.Fatal(err)
		}
	}
	// Mutating the op value or one resource must not affect the other.
	ops[0].Value.([]any)[0].(map[string]any)["value"] = "changed"
	a["members"].([]any)[2].(map[string]any)["display"] = "only-a"
	a["name"].(map[string]any)["givenName"] = "only-a"
	if got := toJSON(t, b["members"].([]any)[2]); got != `{"value":"2"}` {
		t.Errorf("b's new member = %s, want {\"value\":\"2\"}", got)
	}
	if got := toJSON(t, b["name"]); got != `{"givenName":"x"}` {
		t.Errorf("b's name = %s", got)
	}
}

func TestApplyAcceptsTypedLists(t *testing.T) {
	res := map[string]any{
		"id":      "1",
		"members": []map[string]any{{"value": "a"}, {"value": "b"}},
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
	}
	ops, err := scimexpr.DecodePatch([]byte(ops(`{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"b"},{"value":"c"}]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := scimexpr.Apply(res, ops); err != nil {
		t.Fatal(err)
	}
	if got := toJSON(t, res); got != `{"id":"1","members":[{"value":"b"},{"value":"c"}],"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}` {
		t.Errorf("resource = %s", got)
	}
}

func TestApplyZeroFilterMatchesAll(t *testing.T) {
	res := resource(t, sampleGroup)
	p := &scimexpr.Path{Attr: "members", Filter: &scimexpr.Filter{}, SubAttr: "display"}
	if err := scimexpr.Apply(res, []scimexpr.Operation{{Op: "remove", Path: p}}); err != nil {
		t.Fatal(err)
	}
	if got := toJSON(t, res["members"]); got != `[{"$ref":"Users/8598139271121446","value":"8598139271121446"},{"$ref":"ServicePrincipals/1","value":"1"}]` {
		t.Errorf("members = %s", got)
	}
}

func TestApplyNeverModifiesPreviousValues(t *testing.T) {
	bodies := []string{
		ops(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@example.com"}`),
		ops(`{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"h"}}`),
		ops(`{"op":"replace","path":"name.givenName","value":"J"}`),
		ops(`{"op":"add","path":"name","value":{"middleName":"M"}}`),
		ops(`{"op":"remove","path":"name.familyName"}`),
		ops(`{"op":"remove","path":"emails[type eq \"work\"].primary"}`),
		ops(`{"op":"add","path":"groups.display","value":"x"}`),
		ops(`{"op":"add","path":"entitlements","value":[{"value":"x"}]},{"op":"replace","path":"entitlements[value eq \"workspace-access\"].display","value":"d"}`),
	}
	for _, body := range bodies {
		res := resource(t, sampleUser)
		old := maps.Clone(res)
		if err := applyJSON(t, res, body); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if reflect.DeepEqual(res, old) {
			t.Errorf("%s: Apply changed nothing", body)
		}
		if !reflect.DeepEqual(old, resource(t, sampleUser)) {
			t.Errorf("%s: Apply modified a previous nested value in place: %s", body, toJSON(t, old))
		}
	}
}
