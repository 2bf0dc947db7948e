package migrate

import (
	"strings"
	"testing"
)

func TestMatcherTargets(t *testing.T) {
	mapping, err := ParseMapping("map.csv", []byte("workspace,local_group,account_group\nacme-prod,eng,acct-eng\n*,eng,all-eng\n42,ops,acct-ops\n"))
	if err != nil {
		t.Fatal(err)
	}
	ws := planWSIdent{ID: 7, Name: "acme-prod"}
	tests := []struct {
		name    string
		opts    planMatchOptions
		ws      planWSIdent
		local   string
		want    string
		wantWhy string // substring; "" means a match is expected
	}{
		{"name", planMatchOptions{}, ws, "data eng", "data eng", ""},
		{"prefix add", planMatchOptions{Strategy: MatchPrefix, Prefix: "acct-"}, ws, "eng", "acct-eng", ""},
		{"prefix strip", planMatchOptions{Strategy: MatchPrefix, Prefix: "ws-", Strip: true}, ws, "ws-eng", "eng", ""},
		{"prefix strip missing", planMatchOptions{Strategy: MatchPrefix, Prefix: "ws-", Strip: true}, ws, "eng", "", `does not start with prefix "ws-"`},
		{"prefix strip to empty", planMatchOptions{Strategy: MatchPrefix, Prefix: "ws-", Strip: true}, ws, "ws-", "", "does not start"},
		{"suffix add", planMatchOptions{Strategy: MatchSuffix, Suffix: "-acct"}, ws, "eng", "eng-acct", ""},
		{"suffix strip", planMatchOptions{Strategy: MatchSuffix, Suffix: "-local", Strip: true}, ws, "eng-local", "eng", ""},
		{"suffix strip missing", planMatchOptions{Strategy: MatchSuffix, Suffix: "-local", Strip: true}, ws, "eng", "", `does not end with suffix "-local"`},
		{"regex", planMatchOptions{Strategy: MatchRegex, Regex: `^team-(\w+)$`, Replace: "acct-$1"}, ws, "team-ops", "acct-ops", ""},
		{"regex no match", planMatchOptions{Strategy: MatchRegex, Regex: `^team-(\w+)$`, Replace: "acct-$1"}, ws, "ops", "", "does not match --regex"},
		{"regex empty result", planMatchOptions{Strategy: MatchRegex, Regex: `.*`, Replace: ""}, ws, "ops", "", "gives an empty name"},
		{"mapping by name beats star", planMatchOptions{Strategy: MatchMapping, Mapping: mapping}, ws, "eng", "acct-eng", ""},
		{"mapping star", planMatchOptions{Strategy: MatchMapping, Mapping: mapping}, planWSIdent{ID: 9, Name: "other"}, "eng", "all-eng", ""},
		{"mapping by id", planMatchOptions{Strategy: MatchMapping, Mapping: mapping}, planWSIdent{ID: 42, Name: "x"}, "ops", "acct-ops", ""},
		{"mapping missing", planMatchOptions{Strategy: MatchMapping, Mapping: mapping}, ws, "ops", "", "no row for it in mapping file map.csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newPlanMatcher(tc.opts)
			if err != nil {
				t.Fatalf("newMatcher: %v", err)
			}
			got, ok, why := m.target(tc.ws, tc.local)
			if tc.wantWhy == "" {
				if !ok || got != tc.want {
					t.Fatalf("target(%q) = %q, %v, %q; want %q", tc.local, got, ok, why, tc.want)
				}
				return
			}
			if ok || !strings.Contains(why, tc.wantWhy) {
				t.Fatalf("target(%q) = %q, %v, %q; want no match with %q", tc.local, got, ok, why, tc.wantWhy)
			}
		})
	}
}

func TestMatcherRejectsBadFlags(t *testing.T) {
	tests := []struct {
		opts planMatchOptions
		want string
	}{
		{planMatchOptions{Strategy: "fuzzy"}, `flag --match "fuzzy"`},
		{planMatchOptions{Strategy: MatchPrefix}, "--match prefix needs --prefix"},
		{planMatchOptions{Strategy: MatchSuffix}, "--match suffix needs --suffix"},
		{planMatchOptions{Strategy: MatchRegex}, "--match regex needs --regex"},
		{planMatchOptions{Strategy: MatchRegex, Regex: "("}, `flag --regex "("`},
		{planMatchOptions{Strategy: MatchMapping}, "--match mapping needs --mapping"},
		{planMatchOptions{Strategy: MatchName, Prefix: "x"}, "flag --prefix applies only to --match prefix"},
		{planMatchOptions{Strategy: MatchPrefix, Prefix: "x", Regex: "y"}, "flag --regex applies only to --match regex"},
		{planMatchOptions{Strategy: MatchName, Strip: true}, "flag --strip applies only"},
		{planMatchOptions{Strategy: MatchName, Mapping: &Mapping{}}, "flag --mapping applies only to --match mapping"},
	}
	for _, tc := range tests {
		_, err := newPlanMatcher(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newMatcher(%+v) = %v; want error containing %q", tc.opts, err, tc.want)
		}
	}
}

func TestParseMappingErrors(t *testing.T) {
	tests := []struct {
		name, csv, want string
	}{
		{"too few fields", "ws,eng\n", "mapping m.csv line 1: want 3 fields (workspace,local_group,account_group), got 2"},
		{"too many fields on line 3", "workspace,local_group,account_group\nws,a,b\nws,a2,b,c\n", "mapping m.csv line 3: want 3 fields"},
		{"empty workspace", "  ,eng,acct\n", "mapping m.csv line 1: empty workspace"},
		{"empty local", "ws,,acct\n", "mapping m.csv line 1: empty local_group"},
		{"empty account", "ws,eng,\n", "mapping m.csv line 1: empty account_group"},
		{"misspelt header", "workspace,local_grop,account_group\nws,eng,acct\n", `mapping m.csv line 1: "workspace,local_grop,account_group" looks like a misspelt header`},
		{"misspelt header, other cell", "Workspace, local_group ,acount_group\nws,eng,acct\n", `mapping m.csv line 1: "Workspace, local_group ,acount_group" looks like a misspelt header`},
		{"system local", "ws,admins,acct\n", `mapping m.csv line 1: "admins" is a system group`},
		{"system target", "ws,eng,users\n", `mapping m.csv line 1: target "users" is a system group name`},
		{"duplicate", "ws,eng,a\n# comment\nws,eng,b\n", `mapping m.csv line 3: workspace "ws" group "eng" is already mapped on line 1`},
		{"bad quote", "ws,\"eng,acct\n", "mapping m.csv line 1:"},
		{"empty", "workspace,local_group,account_group\n", "mapping m.csv: no rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMapping("m.csv", []byte(tc.csv))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("ParseMapping = %v; want error starting %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestParseMappingAcceptsQuotesBOMAndComments(t *testing.T) {
	m, err := ParseMapping("m.csv", []byte("\uFEFF# mapping\n\"acme, prod\",\"a \"\"b\"\"\",c\n\n*,x,y\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows := m.Rows()
	if len(rows) != 2 || rows[0].Workspace != "acme, prod" || rows[0].LocalGroup != `a "b"` || rows[0].Line != 2 || rows[1].Line != 4 {
		t.Fatalf("rows = %+v", rows)
	}
	if len(m.SHA256) != 64 {
		t.Errorf("SHA256 = %q", m.SHA256)
	}
}

// TestParseMappingKeepsNamesExact: cells are names, byte for byte, edge
// spaces and case included; a header may have spaces around its names.
func TestParseMappingKeepsNamesExact(t *testing.T) {
	m, err := ParseMapping("m.csv", []byte(" Workspace , LOCAL_GROUP,account_group\nacme-prod, ops,ops \n*,\"  lead and trail  \",Ops\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows := m.Rows()
	if len(rows) != 2 || rows[0].Workspace != "acme-prod" || rows[0].LocalGroup != " ops" || rows[0].AccountGroup != "ops " ||
		rows[1].LocalGroup != "  lead and trail  " || rows[1].AccountGroup != "Ops" {
		t.Fatalf("rows = %#v", rows)
	}
}

func TestSelector(t *testing.T) {
	ws := planWSIdent{ID: 1, Name: "w"}
	s, err := newPlanSelector(PlanOptions{Groups: []string{"a"}, GroupRegex: []string{"^team-"}, Exclude: []string{"team-x"}, ExcludeRegex: []string{"-old$"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a": true, "b": false, "team-y": true, "team-x": false, "team-y-old": false} {
		if got := s.selected(ws, name); got != want {
			t.Errorf("selected(%q) = %v, want %v", name, got, want)
		}
	}
	if _, err := newPlanSelector(PlanOptions{GroupRegex: []string{"("}}, nil); err == nil || !strings.Contains(err.Error(), "flag --group-regex") {
		t.Errorf("bad regex: %v", err)
	}
}
