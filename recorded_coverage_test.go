package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
)

// unrecorded are the endpoints dbiam reads that have no entry in
// testdata/recorded/replies.json yet, each with the reason. The list is
// kept true by TestRecordedRepliesCoverDbiamReads and is mirrored in
// docs/recorded-replies.md ("Endpoints not yet recorded").
var unrecorded = map[string]string{
	"GET /api/2.1/unity-catalog/bindings/{type}/{name}": "no reply found in public; the sandbox follows the SDK's GetWorkspaceBindingsResponse (service/catalog/model.go)",
	"GET /api/2.1/unity-catalog/connections":            "the only replies found are in files the index attributes to no repository; the sandbox follows the SDK's ConnectionInfo (service/catalog/model.go)",
	"GET /api/2.1/unity-catalog/credentials":            "no reply found in public; the sandbox follows the SDK's CredentialInfo (service/catalog/model.go)",
	"GET /api/2.1/unity-catalog/external-locations":     "no reply found in public (issue threads quote Terraform plans); the sandbox follows the SDK's ExternalLocationInfo (service/catalog/model.go)",
	"GET /api/2.1/unity-catalog/functions":              "no reply found in public; the sandbox follows the SDK's FunctionInfo (service/catalog/model.go)",
	"GET /api/2.1/unity-catalog/providers":              "only other tools' hand-written fixtures found; the sandbox follows the SDK's ProviderInfo (service/sharing/model.go)",
	"GET /api/2.1/unity-catalog/recipients":             "only other tools' hand-written fixtures found; the sandbox follows the SDK's RecipientInfo (service/sharing/model.go)",
	"GET /api/2.1/unity-catalog/shares":                 "no reply found in public; the sandbox follows the SDK's ShareInfo (service/sharing/model.go)",
}

// routeShape turns a path (a sandbox route pattern or a recorded path) into
// a comparable shape: no query, every {placeholder} and every segment
// after a {rest...} wildcard replaced by "*".
func routeShape(p string) string {
	p, _, _ = strings.Cut(p, "?")
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}") {
			return strings.Join(append(segs[:i:i], "**"), "/")
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "*"
		}
	}
	return strings.Join(segs, "/")
}

// shapeMatches reports whether the recorded path rec is an instance of the
// route shape route ("**" matches the rest).
func shapeMatches(route, rec string) bool {
	rs, ps := strings.Split(route, "/"), strings.Split(rec, "/")
	for i, r := range rs {
		if r == "**" {
			return len(ps) > i
		}
		if i >= len(ps) || (r != "*" && r != ps[i]) {
			return false
		}
	}
	return len(rs) == len(ps)
}

// TestRecordedRepliesCoverDbiamReads runs every read dbiam does (export of
// all tables, audit --all with every permission, --inactive and of named
// identities, migrate plan reading the workspace tree, handover plan of
// every kind) against the default seed with the strict filter dialect. It
// fails when a SCIM request was answered 400 (a filter the service would
// refuse), and when a route dbiam read has no recorded reply in
// testdata/recorded/replies.json, unless unrecorded lists it with its
// reason; an unrecorded entry that gains a recording or is no longer read
// fails too, so that the list stays true.
func TestRecordedRepliesCoverDbiamReads(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{FilterDialect: sandbox.FilterStrict})
	ctx := context.Background()
	dir := t.TempDir()
	dbiam := func(args ...string) {
		t.Helper()
		hermetic(t)
		t.Setenv("DATABRICKS_TOKEN", srv.AdminToken())
		io, _, errb := reports.Test()
		code := run(ctx, append([]string{"dbiam", "--host", srv.URL(), "--account-id", srv.AccountID(), "--no-progress"}, args...), io)
		if code != 0 && code != 2 {
			t.Fatalf("dbiam %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
	}
	dbiam("export", "--include", "all", "--format", "csv", "--out", filepath.Join(dir, "export"))
	dbiam("audit", "--all", "--permissions", "all", "-o", "json", "--out", filepath.Join(dir, "audit.json"))
	dbiam("audit", "--inactive", "-o", "json", "--out", filepath.Join(dir, "inactive.json"))
	dbiam("audit", "--user", "elena.patel@acme.test", "--service-principal", "bd2e3835-c978-4802-8bf2-651e743e4efe",
		"--group", "data-engineers", "-o", "json", "--out", filepath.Join(dir, "named.json"))
	dbiam("migrate", "plan", "--read-workspace-tree", "--on-conflict", "merge", "--out", filepath.Join(dir, "plan.json"))
	dbiam("handover", "plan", "--from", "user:elena.patel@acme.test", "--to", "user:aisha.adeyemi@acme.test", "--out", filepath.Join(dir, "handover.json"))

	read := map[string]bool{} // "GET route" that answered 200
	for _, r := range srv.Stats().Requests {
		// Every filter dbiam sent passed the strict dialect: a refused
		// filter is a 400 of a SCIM route. (Other 400s are replies dbiam
		// expects, such as the account's permission assignments of a
		// workspace without identity federation.)
		if r.Status == 400 && strings.Contains(r.Route, "/scim/v2/") {
			t.Errorf("%s %s answered 400 %d times: under the strict filter dialect dbiam must send only filters the service accepts", r.Method, r.Route, r.Count)
		}
		if r.Status == 200 && (r.Method == "GET" || strings.HasSuffix(r.Route, "/search")) {
			read[r.Method+" "+r.Route] = true
		}
	}
	b, err := os.ReadFile("testdata/recorded/replies.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct{ Name, Method, Path string }
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	recorded := func(key string) []string {
		method, route, _ := strings.Cut(key, " ")
		var names []string
		for _, r := range recs {
			if r.Method == method && shapeMatches(routeShape(route), routeShape(r.Path)) {
				names = append(names, r.Name)
			}
		}
		return names
	}
	for _, key := range slices.Sorted(maps.Keys(read)) {
		names := recorded(key)
		why, listed := unrecorded[key]
		switch {
		case len(names) == 0 && !listed:
			t.Errorf("dbiam reads %s, which has no recorded reply in testdata/recorded/replies.json: add one from public recordings (docs/recorded-replies.md), or list it in unrecorded with the reason", key)
		case len(names) > 0 && listed:
			t.Errorf("%s is recorded (%s) but still listed as unrecorded (%s): remove it from unrecorded and docs/recorded-replies.md", key, strings.Join(names, ", "), why)
		}
	}
	for key := range unrecorded {
		if !read[key] {
			t.Errorf("%s is listed as unrecorded but dbiam no longer reads it: remove it", key)
		}
	}
	doc, err := os.ReadFile("docs/recorded-replies.md")
	if err != nil {
		t.Fatal(err)
	}
	for key := range unrecorded {
		if !strings.Contains(string(doc), fmt.Sprintf("`%s`", key)) {
			t.Errorf("docs/recorded-replies.md does not list the unrecorded endpoint `%s`", key)
		}
	}
}
