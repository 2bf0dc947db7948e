package sandbox

import (
	"strings"
	"testing"
)

// TestSeedErrorsNameWhere: a bad seed file names where the problem is.
func TestSeedErrorsNameWhere(t *testing.T) {
	tests := []struct {
		name, seed, want string
	}{
		{"unknown field in a nested list",
			`{"account_id":"a","workspaces":[{"workspace_id":1,"workspace_name":"w"},{"workspace_id":2,"workspace_name":"v","groups":[{"id":"1","displayName":"g"},{"id":"2","displayName":"h","bogus":1}]}]}`,
			`parse seed: workspaces[1].groups[1]: unknown field "bogus"`},
		{"unknown top-level field", `{"account_id":"a","workspace":[]}`, `parse seed: unknown field "workspace"`},
		{"wrong type", `{"account_id":"a","workspaces":[{"workspace_id":"one","workspace_name":"w"}]}`,
			`parse seed: workspaces[0].workspace_id: want a whole number, got the string "one"`},
		{"list for an object", `{"account_id":"a","knobs":[]}`, `parse seed: knobs: want an object, got a list`},
		{"a type's own check", `{"account_id":"a","knobs":{"latency":"fast"}}`, `parse seed: knobs.latency: `},
		{"syntax", "{\"account_id\":\"a\",\n  \"workspaces\": [,]}", `parse seed: line 2, column 18: invalid character ',' looking for beginning of value`},
		{"cut short", `{"account_id":"a","workspaces":[`, `parse seed: the JSON ends too early`},
		{"trailing data", "{\"account_id\":\"a\"}\n {}", `parse seed: line 2, column 2: unexpected data after the JSON value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSeed([]byte(tt.seed))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to start with %s", err, tt.want)
			}
		})
	}
}
