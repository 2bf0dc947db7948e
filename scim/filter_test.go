package scim

import (
	"encoding/json"
	"testing"
)

func TestFilterBuilders(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"eq", Eq("userName", "a@b.com"), `userName eq "a@b.com"`},
		{"ne", Ne("active", "true"), `active ne "true"`},
		{"co", Co("displayName", "data"), `displayName co "data"`},
		{"sw", Sw("displayName", "db-temp-"), `displayName sw "db-temp-"`},
		{"ew", Ew("userName", "@example.com"), `userName ew "@example.com"`},
		{"pr", Pr("externalId"), `externalId pr`},
		{"quotes", Eq("displayName", `say "hi"`), `displayName eq "say \"hi\""`},
		{"backslash", Eq("displayName", `a\b`), `displayName eq "a\\b"`},
		{"trailing backslash", Eq("displayName", `a\`), `displayName eq "a\\"`},
		{"control chars", Eq("displayName", "a\nb\tc\x00\x1f"), `displayName eq "a\nb\tc\u0000\u001f"`},
		{"unicode kept", Eq("displayName", "Zoë 数据 🚀"), `displayName eq "Zoë 数据 🚀"`},
		{"html not escaped", Eq("displayName", "R&D <ops>"), `displayName eq "R&D <ops>"`},
		{"line separators escaped", Eq("displayName", "a\u2028b"), `displayName eq "a\u2028b"`},
		{"injection stays a value", Eq("userName", `x" or userName pr or userName eq "y`), `userName eq "x\" or userName pr or userName eq \"y"`},
		{"and", And(Eq("a", "1"), Eq("b", "2")), `a eq "1" and b eq "2"`},
		{"and skips empty", And("", Eq("a", "1"), " "), `a eq "1"`},
		{"and of nothing", And(), ``},
		{"or", Or(Eq("a", "1"), Eq("b", "2"), Eq("c", "3")), `a eq "1" or b eq "2" or c eq "3"`},
		{"and parenthesises or", And(Or(Eq("a", "1"), Eq("b", "2")), Eq("c", "3")), `(a eq "1" or b eq "2") and c eq "3"`},
		{"or keeps and bare", Or(And(Eq("a", "1"), Eq("b", "2")), Eq("c", "3")), `a eq "1" and b eq "2" or c eq "3"`},
		{"or inside a value is not an operator", And(Eq("a", "x or y"), Eq("b", "2")), `a eq "x or y" and b eq "2"`},
		{"escaped quote then or", And(Eq("a", `q" or `), Eq("b", "2")), `a eq "q\" or " and b eq "2"`},
		{"or inside not is grouped", And(Not(Or(Eq("a", "1"), Eq("b", "2"))), Eq("c", "3")), `not (a eq "1" or b eq "2") and c eq "3"`},
		{"or inside valuePath", And(`members[value eq "1" or value eq "2"]`, Eq("c", "3")), `members[value eq "1" or value eq "2"] and c eq "3"`},
		{"upper-case OR", And(`a eq "1" OR b eq "2"`, Eq("c", "3")), `(a eq "1" OR b eq "2") and c eq "3"`},
		{"not", Not(Eq("a", "1")), `not (a eq "1")`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestFilterValuesRoundTripAsJSON(t *testing.T) {
	for _, v := range []string{"", `"`, `\`, "\x7f", "a\u0000b", "日本", "\xff"} {
		q := quote(v)
		var back string
		if err := json.Unmarshal([]byte(q), &back); err != nil {
			t.Errorf("quote(%q) = %s: not a JSON string: %v", v, q, err)
			continue
		}
		if back != v && v != "\xff" { // invalid UTF-8 becomes U+FFFD
			t.Errorf("quote(%q) round-trips to %q", v, back)
		}
	}
}

func TestPatchOps(t *testing.T) {
	const s = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	tests := []struct {
		name string
		op   PatchOp
		want string
	}{
		{"add members", AddMembers("1", "2"), `{` + s + `,"Operations":[{"op":"add","path":"members","value":[{"value":"1"},{"value":"2"}]}]}`},
		{"remove member", RemoveMember("8598139271121446"), `{` + s + `,"Operations":[{"op":"remove","path":"members[value eq \"8598139271121446\"]"}]}`},
		{"remove member quoting", RemoveMember(`a"b`), `{` + s + `,"Operations":[{"op":"remove","path":"members[value eq \"a\\\"b\"]"}]}`},
		{"rename", ReplaceDisplayName("new-name"), `{` + s + `,"Operations":[{"op":"replace","path":"displayName","value":"new-name"}]}`},
		{"add entitlements", AddEntitlements(EntitlementAllowClusterCreate, EntitlementDatabricksSQLAccess), `{` + s + `,"Operations":[{"op":"add","path":"entitlements","value":[{"value":"allow-cluster-create"},{"value":"databricks-sql-access"}]}]}`},
		{"remove entitlements", RemoveEntitlements(EntitlementAllowClusterCreate), `{` + s + `,"Operations":[{"op":"remove","path":"entitlements","value":[{"value":"allow-cluster-create"}]}]}`},
		{"add roles", AddRoles("arn:aws:iam::123:instance-profile/x"), `{` + s + `,"Operations":[{"op":"add","path":"roles","value":[{"value":"arn:aws:iam::123:instance-profile/x"}]}]}`},
		{"remove roles", RemoveRoles("r1", "r2"), `{` + s + `,"Operations":[{"op":"remove","path":"roles[value eq \"r1\"]"},{"op":"remove","path":"roles[value eq \"r2\"]"}]}`},
		{"deactivate", SetActive(false), `{` + s + `,"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{"activate", SetActive(true), `{` + s + `,"Operations":[{"op":"replace","path":"active","value":true}]}`},
		{"combined", Ops(ReplaceDisplayName("x"), AddMembers("1")), `{` + s + `,"Operations":[{"op":"replace","path":"displayName","value":"x"},{"op":"add","path":"members","value":[{"value":"1"}]}]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.op)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, b, tt.want)
		}
	}
}
