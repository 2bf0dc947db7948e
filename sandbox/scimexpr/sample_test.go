package scimexpr_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Sample resources shaped as the Databricks SCIM API returns them (§A.2).
const (
	sampleUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"],
  "id": "8598139271121446",
  "userName": "Jacob.Parr@Example.com",
  "displayName": "Jacob Parr",
  "active": true,
  "externalId": "",
  "loginCount": 42,
  "name": {"givenName": "Jacob", "familyName": "Parr"},
  "emails": [
    {"value": "jacob.parr@example.com", "type": "work", "primary": true},
    {"value": "jp@home.test", "type": "home"}
  ],
  "entitlements": [{"value": "allow-cluster-create"}, {"value": "workspace-access"}],
  "groups": [
    {"value": "101", "display": "data-eng", "$ref": "Groups/101"},
    {"value": "102", "display": "admins", "$ref": "Groups/102"}
  ]
}`
	sampleGroup = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  "id": "101",
  "displayName": "data-eng",
  "meta": {"resourceType": "WorkspaceGroup"},
  "members": [
    {"value": "8598139271121446", "display": "Jacob Parr", "$ref": "Users/8598139271121446"},
    {"value": "1", "display": "svc", "$ref": "ServicePrincipals/1"}
  ]
}`
	sampleSP = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"],
  "id": "1",
  "applicationId": "9f0621ee-b0fb-4b2f-8c0e-1e1a7a4b2c3d",
  "displayName": "svc",
  "active": false,
  "entitlements": [{"value": "databricks-sql-access"}]
}`
)

// resource decodes a JSON object as the sandbox does, so every call returns
// a fresh, unshared map.
func resource(t testing.TB, js string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("decode sample %q: %v", js, err)
	}
	return m
}

func toJSON(t testing.TB, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
