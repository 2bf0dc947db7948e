package sandbox

import (
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadSeedRejectsUnknownFields(t *testing.T) {
	_, err := LoadSeed("../testdata/sandbox/unknown-field.json")
	if err == nil || !strings.Contains(err.Error(), `unknown field "emial"`) {
		t.Fatalf("err = %v, want one naming the unknown field", err)
	}
	if !strings.Contains(err.Error(), "unknown-field.json") {
		t.Errorf("err = %v, want the file name", err)
	}
	if _, err := LoadSeed("../testdata/sandbox/missing.json"); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := ParseSeed([]byte(`{"account_id":"a","workspaces":[{"workspace_id":1,"workspace_name":"w"}]} {}`)); err == nil ||
		err.Error() != "parse seed: line 1, column 75: unexpected data after the JSON value" {
		t.Errorf("trailing data: got %v", err)
	}
}

func TestSeedValidation(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		b := []byte(`{
		  "account_id": "acc",
		  "users": [{"id": "1", "userName": "a@x.test"}, {"id": "2", "userName": "b@x.test"}],
		  "groups": [{"id": "10", "displayName": "g", "members": ["1"]}],
		  "workspaces": [
		    {"workspace_id": 100, "workspace_name": "fed", "identity_federated": true,
		     "assignments": [{"principal": "10", "permissions": ["USER"]}],
		     "groups": [{"id": "20", "displayName": "local", "members": ["1"]}]},
		    {"workspace_id": 200, "workspace_name": "old", "identity_federated": false}
		  ]}`)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	ws := func(m map[string]any, i int) map[string]any { return m["workspaces"].([]any)[i].(map[string]any) }
	cases := []struct {
		name   string
		edit   func(m map[string]any)
		errHas string
	}{
		{"valid", func(map[string]any) {}, ""},
		{"no account", func(m map[string]any) { delete(m, "account_id") }, "account_id: required"},
		{"no workspaces", func(m map[string]any) { m["workspaces"] = []any{} }, "workspaces: at least one"},
		{"non-numeric id", func(m map[string]any) { m["users"].([]any)[0].(map[string]any)["id"] = "u1" }, `seed.users[0].id: "u1" is not a numeric id`},
		{"duplicate id", func(m map[string]any) { m["users"].([]any)[1].(map[string]any)["id"] = "1" }, `seed.users[1].id: "1" is already used`},
		{"duplicate userName", func(m map[string]any) { m["users"].([]any)[1].(map[string]any)["userName"] = "A@x.test" }, "seed.users[1].userName: duplicate"},
		{"dangling member", func(m map[string]any) { m["groups"].([]any)[0].(map[string]any)["members"] = []any{"99"} }, `seed.groups[0].members[0]: unknown principal id "99"`},
		{"local member in account group", func(m map[string]any) { m["groups"].([]any)[0].(map[string]any)["members"] = []any{"20"} }, "workspace-local"},
		{"member not in workspace", func(m map[string]any) { ws(m, 0)["groups"].([]any)[0].(map[string]any)["members"] = []any{"2"} }, `workspaces[0].groups[0].members[0]: principal "2" is not in workspace 100`},
		{"assignment in non-federated", func(m map[string]any) {
			ws(m, 1)["assignments"] = []any{map[string]any{"principal": "1", "permissions": []any{"USER"}}}
		}, "workspaces[1].assignments: workspace 200 is not identity federated"},
		{"assignment without permissions", func(m map[string]any) {
			ws(m, 0)["assignments"] = []any{map[string]any{"principal": "1", "permissions": []any{"user"}}}
		}, "workspaces[0].assignments[0].permissions"},
		{"assigned account group name clash", func(m map[string]any) {
			ws(m, 0)["groups"].([]any)[0].(map[string]any)["displayName"] = "G"
		}, `workspace group with name "G" already exists`},
		{"cycle", func(m map[string]any) {
			m["groups"] = append(m["groups"].([]any), map[string]any{"id": "11", "displayName": "h", "members": []any{"10"}})
			m["groups"].([]any)[0].(map[string]any)["members"] = []any{"11"}
		}, "membership cycle"},
		{"implicit users members", func(m map[string]any) {
			ws(m, 0)["groups"] = append(ws(m, 0)["groups"].([]any), map[string]any{"id": "21", "displayName": "users", "members": []any{"1"}})
		}, "implicit"},
		{"unknown entitlement", func(m map[string]any) {
			ws(m, 0)["entitlements"] = map[string]any{"20": []any{"root"}}
		}, `unknown entitlement "root"`},
		{"token role", func(m map[string]any) {
			m["tokens"] = []any{map[string]any{"token": "dapi-12345678", "principal": "1", "role": "owner"}}
		}, `tokens[0].role: "owner"`},
		{"token workspace", func(m map[string]any) {
			m["tokens"] = []any{map[string]any{"token": "dapi-12345678", "principal": "1", "role": "workspace_admin", "workspace_id": 5}}
		}, "tokens[0].workspace_id"},
		{"knob class", func(m map[string]any) {
			m["knobs"] = map[string]any{"rate_limits": map[string]any{"scim-reads": 1}}
		}, `knobs.rate_limits: unknown endpoint class "scim-reads"`},
		{"knob duration", func(m map[string]any) { m["knobs"] = map[string]any{"latency": "soon"} }, "latency"},
		{"knob style", func(m map[string]any) { m["knobs"] = map[string]any{"throttle_style": "503"} }, "knobs.throttle_style"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseSeed(b)
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("valid seed rejected: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.errHas)
			}
		})
	}
}

func TestSeedKnobs(t *testing.T) {
	seed := smallSeed(t)
	seed.Knobs = &SeedKnobs{PageCap: 1, Consistency: Duration(time.Minute)}
	srv := NewTestServer(t, Options{Seed: seed})
	if got := admin(t, srv, wsFed).list(usersPath, nil).resources(t); len(got) != 1 {
		t.Errorf("seed page_cap 1: page of %d", len(got))
	}
	srv = NewTestServer(t, Options{Seed: seed, PageCap: 3})
	if got := admin(t, srv, wsFed).list(usersPath, nil).resources(t); len(got) != 3 {
		t.Errorf("Options.PageCap overrides the seed: page of %d", len(got))
	}
	if _, err := New(Options{Seed: seed, ThrottleStyle: "teapot"}); err == nil || !strings.Contains(err.Error(), "throttle_style") {
		t.Errorf("bad option: %v", err)
	}
	b, err := json.Marshal(seed.Knobs)
	if err != nil || !strings.Contains(string(b), `"consistency":"1m0s"`) {
		t.Errorf("knobs JSON %s, %v", b, err)
	}
}

// TestDefaultSeed checks that the default seed has the cases dbiam's
// features and tests rely on.
func TestDefaultSeed(t *testing.T) {
	s := DefaultSeed()
	if len(s.Workspaces) != 4 {
		t.Fatalf("%d workspaces, want 4", len(s.Workspaces))
	}
	federated := 0
	for _, w := range s.Workspaces {
		if w.IdentityFederated {
			federated++
		}
	}
	if federated != 3 {
		t.Errorf("%d federated workspaces, want 3", federated)
	}
	inactive, admins := 0, 0
	for _, u := range s.Users {
		if u.Active != nil && !*u.Active {
			inactive++
		}
		if slices.Contains(u.Roles, RoleAccountAdmin) {
			admins++
		}
		if !strings.HasSuffix(u.UserName, "@acme.test") {
			t.Errorf("user %s outside acme.test", u.UserName)
		}
	}
	if len(s.Users) < 140 || inactive < 3 || admins < 2 {
		t.Errorf("%d users, %d inactive, %d account admins", len(s.Users), inactive, admins)
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if len(s.ServicePrincipals) != 8 {
		t.Errorf("%d service principals, want 8", len(s.ServicePrincipals))
	}
	for _, sp := range s.ServicePrincipals {
		if !uuidRE.MatchString(sp.ApplicationID) {
			t.Errorf("applicationId %q is not a UUID", sp.ApplicationID)
		}
	}
	accountNames := map[string]bool{}
	withExt, withoutExt := 0, 0
	for _, g := range s.Groups {
		accountNames[g.DisplayName] = true
		if g.ExternalID != "" {
			withExt++
		} else {
			withoutExt++
		}
	}
	if withExt == 0 || withoutExt == 0 {
		t.Errorf("account groups with/without externalId: %d/%d", withExt, withoutExt)
	}
	names := map[string][]string{} // local group name -> sorted members per workspace, joined
	locals := 0
	kinds := map[string]kind{}
	forEachSeedPrincipal(s, func(id string, k kind) { kinds[id] = k })
	var sawSPAndGroup, sawEntitlement, sawRole, sawSameName bool
	for _, w := range s.Workspaces {
		groupIDs := map[string]SeedGroup{}
		for _, g := range w.Groups {
			groupIDs[g.ID] = g
		}
		for _, g := range w.Groups {
			locals++
			m := slices.Clone(g.Members)
			slices.Sort(m)
			names[g.DisplayName] = append(names[g.DisplayName], strings.Join(m, ","))
			hasSP, hasGroup := false, false
			for _, id := range g.Members {
				hasSP = hasSP || kinds[id] == kindSP
				hasGroup = hasGroup || kinds[id] == kindGroup
			}
			sawSPAndGroup = sawSPAndGroup || (hasSP && hasGroup)
			if len(w.Entitlements[g.ID]) > 0 {
				sawEntitlement = true
			}
			for _, r := range w.Roles[g.ID] {
				sawRole = sawRole || strings.Contains(r, ":instance-profile/")
			}
			if accountNames[g.DisplayName] && g.DisplayName != "admins" && g.DisplayName != "users" {
				sawSameName = true
			}
		}
	}
	if locals < 25 {
		t.Errorf("%d local groups, want about 25", locals)
	}
	for _, want := range []string{"Finance Reporting", `bi "quoted" team`, `ops\backslash`, "Données €", "trailing space "} {
		if names[want] == nil {
			t.Errorf("no local group named %q", want)
		}
	}
	if r := names["reporting"]; len(r) < 2 || r[0] == r[1] {
		t.Errorf("local group 'reporting' in two workspaces with different members: %v", r)
	}
	if !sawSPAndGroup || !sawEntitlement || !sawRole || !sawSameName {
		t.Errorf("SP+nested group %t, entitlements %t, instance profile %t, same name as account group %t",
			sawSPAndGroup, sawEntitlement, sawRole, sawSameName)
	}
	// A three-level nesting: a group in a group in a group.
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if depth := maxDepth(srv.Snapshot()); depth < 3 {
		t.Errorf("deepest group nesting %d, want at least 3", depth)
	}
	// The legacy local user in a federated workspace has no account identity.
	var legacy *SeedUser
	for i, u := range s.Workspaces[0].Users {
		legacy = &s.Workspaces[0].Users[i]
		for _, a := range s.Users {
			if strings.EqualFold(a.UserName, u.UserName) {
				t.Errorf("legacy local user %s has an account identity", u.UserName)
			}
		}
	}
	if legacy == nil {
		t.Error("no workspace-local user in the first (federated) workspace")
	}
	// Tokens of every role.
	for _, role := range []string{RoleAccountAdmin, RoleUser, RoleWorkspaceAdmin} {
		if !slices.ContainsFunc(s.Tokens, func(t SeedToken) bool { return t.Role == role }) {
			t.Errorf("no %s token", role)
		}
	}
	// The seed file is canonical JSON that round-trips.
	again, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := ParseSeed(again); err != nil || !reflect.DeepEqual(s, s2) {
		t.Errorf("default seed does not round-trip: %v", err)
	}
}

func forEachSeedPrincipal(s *Seed, f func(id string, k kind)) {
	for _, u := range s.Users {
		f(u.ID, kindUser)
	}
	for _, p := range s.ServicePrincipals {
		f(p.ID, kindSP)
	}
	for _, g := range s.Groups {
		f(g.ID, kindGroup)
	}
	for _, w := range s.Workspaces {
		for _, u := range w.Users {
			f(u.ID, kindUser)
		}
		for _, p := range w.ServicePrincipals {
			f(p.ID, kindSP)
		}
		for _, g := range w.Groups {
			f(g.ID, kindGroup)
		}
	}
}

// maxDepth returns the longest chain of groups nested in groups.
func maxDepth(st State) int {
	members := map[string][]string{}
	add := func(gs []GroupState) {
		for _, g := range gs {
			members[g.ID] = g.Members
		}
	}
	add(st.Groups)
	for _, w := range st.Workspaces {
		add(w.Groups)
	}
	var depth func(id string) int
	depth = func(id string) int {
		d := 1
		for _, m := range members[id] {
			if _, isGroup := members[m]; isGroup {
				d = max(d, 1+depth(m))
			}
		}
		return d
	}
	best := 0
	for id := range members {
		best = max(best, depth(id))
	}
	return best
}

func TestSynthetic(t *testing.T) {
	const spec = "workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1"
	a, err := Synthetic(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Synthetic(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Synthetic is not deterministic")
	}
	if len(a.Workspaces) != 20 || len(a.Users) != 2000 || len(a.ServicePrincipals) != 100 || len(a.Groups) != 401 {
		t.Errorf("sizes: %d workspaces, %d users, %d SPs, %d groups", len(a.Workspaces), len(a.Users), len(a.ServicePrincipals), len(a.Groups))
	}
	if a.Workspaces[19].IdentityFederated || !a.Workspaces[0].IdentityFederated {
		t.Error("want every workspace but the last federated")
	}
	c, err := Synthetic(strings.Replace(spec, "seed=1", "seed=2", 1))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Groups, c.Groups) {
		t.Error("different seeds gave the same groups")
	}

	srv := NewTestServer(t, Options{Seed: a})
	cl := admin(t, srv, a.Workspaces[3].WorkspaceID)
	r := cl.list(usersPath, url.Values{"filter": {`userName eq "` + a.Users[1234].UserName + `"`}})
	if got := ids(r.resources(t)); !slices.Equal(got, []string{a.Users[1234].ID}) {
		t.Errorf("filter over 2000 users: %v", got)
	}
	var lr struct{ TotalResults int }
	decode(t, cl.list(usersPath, url.Values{"count": {"1"}}).body, &lr)
	if lr.TotalResults != 2000 {
		t.Errorf("users in a federated synthetic workspace: %d, want 2000", lr.TotalResults)
	}
	decode(t, admin(t, srv, a.Workspaces[19].WorkspaceID).list(usersPath, url.Values{"count": {"1"}}).body, &lr)
	if lr.TotalResults != 200 {
		t.Errorf("local users in the non-federated workspace: %d, want 200", lr.TotalResults)
	}
	if srv.UserToken() == "" || srv.AdminToken() == "" {
		t.Error("synthetic seed without tokens")
	}
}

func TestSyntheticSpecErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"users=10,colour=blue": `unknown key "colour"`,
		"users=ten":            "users:",
		"workspaces=0":         "workspaces:",
		"seed=-1":              "seed:",
		"members":              `"members": want key=value`,
	} {
		if _, err := Synthetic(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Synthetic(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
	s, err := Synthetic("")
	if err != nil || len(s.Workspaces) != 3 || len(s.Users) != 100 {
		t.Errorf("defaults: %v", err)
	}
	if _, err := Synthetic("workspaces=1,users=1,groups=0,sps=0,local-groups=0"); err != nil {
		t.Errorf("tiny spec: %v", err)
	}
}
