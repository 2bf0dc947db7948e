package handover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/audit"
)

// TestReadIdentitiesLikeAudit: --from-file reads exactly what "dbiam audit
// --from-file" reads, names byte-exact when quoted (edge spaces, quotes,
// "]", " eq ", RTL, emoji, escaped newlines).
func TestReadIdentitiesLikeAudit(t *testing.T) {
	content := "\ufeff# leavers\n" +
		"user:elena.patel@acme.test\n" +
		"  service-principal: b83e9e22-b2ed-4451-bcdd-00b79deb79be  \n" +
		"sp:81b23769-a23c-4b56-bd1e-b8344beb2db8\n" +
		"ada@acme.test\n" +
		`user:" edge spaces@acme.test "` + "\n" +
		`user:"quote\"and]bracket eq x@acme.test"` + "\n" +
		`user:"rtl-\u05d0\u05d1@acme.test"` + "\n" +
		`user:"emoji-😀@acme.test"` + "\n" +
		`user:"new\nline@acme.test"` + "\n" +
		"\n"
	path := writeFile(t, "ids.txt", content)
	got, err := ReadIdentities(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := audit.ReadIdentities(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("handover read %d identities, audit %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Type != string(want[i].Type) || got[i].Name != want[i].Name {
			t.Errorf("line %d: handover %q, audit %q", i, got[i], want[i])
		}
	}
	if got[4].Name != " edge spaces@acme.test " || got[5].Name != `quote"and]bracket eq x@acme.test` || got[8].Name != "new\nline@acme.test" {
		t.Errorf("quoted names not byte-exact: %q", got)
	}
	// Written back, a name that needs it is quoted and reads the same.
	for _, p := range got {
		back, err := ParsePrincipal(p.String())
		if err != nil || back != p {
			t.Errorf("%q -> %q -> %q, %v", p.Name, p.String(), back.Name, err)
		}
	}
	bad := writeFile(t, "bad.txt", "user:a@acme.test\nsomething\n")
	var ie *InputError
	if _, err := ReadIdentities(bad); !errors.As(err, &ie) || !strings.HasSuffix(ie.Input, "bad.txt:2") {
		t.Errorf("bad line: %v", err)
	}
}

func TestReadMap(t *testing.T) {
	path := writeFile(t, "map.csv", "from,kind,workspace,to\n"+
		"*,query,*,user:dana.varga@acme.test\n"+
		"user:elena.patel@acme.test,*,acme-prod,service-principal:b83e9e22-b2ed-4451-bcdd-00b79deb79be\n"+
		"user:elena.patel@acme.test,query,acme-prod,user:grace.mensah@acme.test\n"+
		`*,dashboard," edge ","group:""data engineers """`+"\n")
	rules, err := ReadMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 4 || rules[3].Workspace != " edge " || rules[3].To.Name != "data engineers " || rules[0].From != nil {
		t.Fatalf("rules: %+v", rules)
	}
	s := successors{rules: rules, path: path, to: &Principal{TypeUser, "fallback@acme.test"}}
	el := Principal{TypeUser, "Elena.Patel@acme.test"}
	for _, c := range []struct {
		kind, ws, want, src string
	}{
		{KindQuery, "acme-prod", "user:grace.mensah@acme.test", ":4"}, // identity+kind+workspace
		{KindJob, "acme-prod", "service-principal:b83e9e22-b2ed-4451-bcdd-00b79deb79be", ":3"},
		{KindQuery, "acme-ml", "user:dana.varga@acme.test", ":2"},
		{KindJob, "acme-ml", "user:fallback@acme.test", "--to"},
		{KindDashboard, " edge ", `group:"data engineers "`, ":5"},
		{KindDashboard, "edge", "user:fallback@acme.test", "--to"}, // workspace names are exact
	} {
		to, src, ok := s.lookup(el, c.kind, 1, c.ws)
		if !ok || to.String() != c.want || !strings.HasSuffix(src, c.src) {
			t.Errorf("%s in %q: %s from %s, want %s from ...%s", c.kind, c.ws, to, src, c.want, c.src)
		}
	}
	for _, c := range []struct{ content, want string }{
		{"*,jobs,*,user:a@acme.test\n", `unknown kind "jobs"`},
		{"*,job,*,user:a@acme.test\n*,job,*,user:b@acme.test\n", "repeats line 1"},
		{"form,kind,workspace,to\n", "if this is a header, write from,kind,workspace,to"},
		{"*,job,*\n", "3 cells"},
		{"group:x,job,*,user:a@acme.test\n", "is a group"},
		{"*,job,,user:a@acme.test\n", "empty workspace"},
	} {
		_, err := ReadMap(writeFile(t, "m.csv", c.content))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("map %q: %v, want %q", c.content, err, c.want)
		}
	}
}

// TestPlanInputErrors: bad input is one line naming the input and the fix,
// before any request, and no plan file is written.
func TestPlanInputErrors(t *testing.T) {
	srv := newServer(t)
	d, _, _ := deps(srv)
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.json")
	os.WriteFile(exists, []byte("{}"), 0o600)
	for _, c := range []struct {
		opts PlanOptions
		want string
	}{
		{PlanOptions{To: "user:" + dana, Out: dir + "/p.json"}, "no leaving identity"},
		{PlanOptions{From: []string{"group:data-engineers"}, To: "user:" + dana, Out: dir + "/p.json"}, "a group does not leave"},
		{PlanOptions{From: []string{"user:" + elena}, Out: dir + "/p.json"}, "no successor"},
		{PlanOptions{From: []string{"user:" + elena}, To: "group:admins", Out: dir + "/p.json"}, "a group cannot own"},
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Kinds: []string{"jobs"}, Out: dir + "/p.json"}, `unknown kind "jobs"`},
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Kinds: []string{"job"}, RevokeTokens: true, Out: dir + "/p.json"}, "--kinds leaves tokens out"},
		// Deactivating an identity breaks what it still has in a kind
		// that is not handed over.
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Kinds: []string{"job,query"}, Deactivate: true, Out: dir + "/p.json"},
			"--deactivate needs every kind handed over, and pipeline, cluster, warehouse and "},
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana}, "no --out"},
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Out: exists}, "the file exists"},
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Workspaces: []string{"acme-prod "}, Out: dir + "/p.json"}, `"acme-prod "`},
		{PlanOptions{From: []string{"user:" + elena}, MapFile: writeFile(t, "m.csv", "user:x@acme.test,*,*,user:y@acme.test\n"), Out: dir + "/p.json"}, "is not a leaving identity"},
		// A --map workspace cell that names no workspace (edge spaces, a
		// typo) would silently send nothing to its successor.
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana,
			MapFile: writeFile(t, "m.csv", "from,kind,workspace,to\n*, job, acme-prod ,user:"+dana+"\n"), Out: dir + "/p.json"},
			`m.csv:2: workspace " acme-prod " is not a workspace of the account (names are matched exactly, spaces and case included): did you mean "acme-prod"?`},
		{PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana,
			MapFile: writeFile(t, "m.csv", "*,*,acme-analytic,user:"+dana+"\n"), Out: dir + "/p.json"}, `did you mean "acme-analytics"?`},
	} {
		srv.ResetStats()
		err := RunPlan(context.Background(), c.opts, d)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want an InputError containing %q", c.opts, err, c.want)
		}
		if !strings.Contains(c.want, "acme-") && srv.Stats().Total != 0 {
			t.Errorf("%+v: %d requests before the error", c.opts, srv.Stats().Total)
		}
	}
	if _, err := os.Stat(dir + "/p.json"); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused plan wrote its file")
	}
}
