package scim

import "testing"

func TestParsePrincipal(t *testing.T) {
	for _, c := range []struct{ in, kind, name, err string }{
		{in: "user:a@x.test", kind: "user", name: "a@x.test"},
		{in: " a@x.test ", kind: "user", name: "a@x.test"},
		{in: "sp: 11-22 ", kind: "service-principal", name: "11-22"},
		{in: "Service_Principal:app", kind: "service-principal", name: "app"},
		{in: `g:"ops "`, kind: "group", name: "ops "},
		{in: `group:"a \"b\" ]"`, kind: "group", name: `a "b" ]`},
		{in: "group:מנהלים 🚀", kind: "group", name: "מנהלים 🚀"},
		{in: "ops", err: `"ops" has no type`},
		{in: "group:  ", err: `"group:  " has no name`},
		{in: `group:"ops`, err: `"group:\"ops" has a badly quoted name (close the quotes; write an inner quote as \")`},
		{in: "team:ops", err: `unknown type "team"`},
	} {
		kind, name, err := ParsePrincipal(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("ParsePrincipal(%q) error = %v, want %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil || kind != c.kind || name != c.name {
			t.Errorf("ParsePrincipal(%q) = %q, %q, %v; want %q, %q", c.in, kind, name, err, c.kind, c.name)
		}
	}
}
