package sandbox

// Recorded replies as a second judge: testdata/recorded/replies.json holds,
// for every endpoint dbiam reads, a reply written from what public
// recordings of real Databricks replies carry (docs/recorded-replies.md
// lists the sources). The sandbox's reply for the same kind of object must
// carry the same fields with the same JSON types.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

// recordedReply is one entry of testdata/recorded/replies.json.
type recordedReply struct {
	Name    string              `json:"name"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Scope   string              `json:"scope"`   // "workspace" or "account"
	Sandbox string              `json:"sandbox"` // the request on the default seed; {account_id}, {job}, {pipeline}, {scope}, {account_group} are filled in
	Client  string              `json:"client"`  // which dbiam client parses it ("" = an inline struct outside scim)
	Sources []map[string]string `json:"sources"`
	Reply   json.RawMessage     `json:"reply"`
	Uses    []string            `json:"uses"`   // paths dbiam reads
	Absent  []string            `json:"absent"` // paths real replies do not carry
	Maps    []string            `json:"maps"`   // objects with free keys: only their type is compared
	// Gaps are known differences of the sandbox, each with its reason: a
	// recorded path it does not produce yet, or an absent one it does.
	Gaps map[string]string `json:"gaps"`
}

// loadRecordedReplies reads the recorded replies strictly.
func loadRecordedReplies(t *testing.T) []recordedReply {
	t.Helper()
	b, err := os.ReadFile("../testdata/recorded/replies.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out []recordedReply
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("testdata/recorded/replies.json: %v", err)
	}
	return out
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// shapeOf maps every path of v ("a.b", "list[].c", "[]" for the elements of
// a top-level array) to the set of JSON types found there. The children of
// the paths in free (objects with arbitrary keys) are not recorded.
func shapeOf(v any, free []string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		if out[path] == nil {
			out[path] = map[string]bool{}
		}
		out[path][jsonType(v)] = true
		if slices.Contains(free, path) {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", v)
	return out
}

func typeList(set map[string]bool) string {
	return strings.Join(slices.Sorted(maps.Keys(set)), "|")
}

// recordedPlaceholders finds, on the default seed, the objects the
// recorded requests name: a scheduled job and a secret scope of the
// production workspace.
func recordedPlaceholders(t *testing.T, srv *Server) map[string]string {
	t.Helper()
	c := admin(t, srv, wsProd)
	var jobs struct {
		Jobs []struct {
			JobID    int64          `json:"job_id"`
			Settings map[string]any `json:"settings"`
		} `json:"jobs"`
	}
	decode(t, c.ok(200, "GET", "/api/2.2/jobs/list?limit=100", nil).body, &jobs)
	ph := map[string]string{"{account_id}": srv.AccountID()}
	for _, j := range jobs.Jobs {
		if j.Settings["schedule"] != nil {
			ph["{job}"] = fmt.Sprint(j.JobID)
			break
		}
	}
	var pipelines struct {
		Statuses []struct {
			PipelineID string `json:"pipeline_id"`
		} `json:"statuses"`
	}
	decode(t, c.ok(200, "GET", "/api/2.0/pipelines?max_results=100", nil).body, &pipelines)
	for _, p := range pipelines.Statuses { // one with a library
		var got struct {
			Spec struct {
				Libraries []any `json:"libraries"`
			} `json:"spec"`
		}
		decode(t, c.ok(200, "GET", "/api/2.0/pipelines/"+p.PipelineID, nil).body, &got)
		if len(got.Spec.Libraries) > 0 {
			ph["{pipeline}"] = p.PipelineID
			break
		}
	}
	var scopes struct {
		Scopes []struct {
			Name string `json:"name"`
		} `json:"scopes"`
	}
	decode(t, c.ok(200, "GET", "/api/2.0/secrets/scopes/list", nil).body, &scopes)
	if len(scopes.Scopes) > 0 {
		ph["{scope}"] = url.QueryEscape(scopes.Scopes[0].Name)
	}
	// An account group with members and an external id.
	for _, g := range admin(t, srv, 0).list(acctPath(srv, "/scim/v2/Groups"), url.Values{"attributes": {"id,externalId"}}).resources(t) {
		id, _ := g["id"].(string)
		if g["externalId"] == nil {
			continue
		}
		if m := admin(t, srv, 0).ok(200, "GET", acctPath(srv, "/scim/v2/Groups/"+id), nil).json(t); m["members"] != nil {
			ph["{account_group}"] = id
			break
		}
	}
	if ph["{job}"] == "" || ph["{pipeline}"] == "" || ph["{scope}"] == "" || ph["{account_group}"] == "" {
		t.Fatalf("the default seed lacks a scheduled job, a pipeline with a library, a secret scope in workspace %d, or an account group with members and an external id: %v", wsProd, ph)
	}
	return ph
}

// TestRecordedRepliesSandbox: for every recorded endpoint, the sandbox's
// reply carries every recorded field with the same JSON types, and none of
// the fields real replies leave out, except the gaps listed with their
// reason (a gap that closes must be removed from the list).
func TestRecordedRepliesSandbox(t *testing.T) {
	srv := NewTestServer(t, Options{})
	ph := recordedPlaceholders(t, srv)
	for _, rec := range loadRecordedReplies(t) {
		t.Run(rec.Name, func(t *testing.T) {
			if len(rec.Sources) == 0 || len(rec.Uses) == 0 {
				t.Fatalf("%s: an entry needs its sources and the paths dbiam uses", rec.Name)
			}
			var want any
			if err := json.Unmarshal(rec.Reply, &want); err != nil {
				t.Fatal(err)
			}
			wantShape := shapeOf(want, rec.Maps)
			for _, p := range rec.Uses {
				if wantShape[p] == nil {
					t.Errorf("uses %q: not in the recorded reply", p)
				}
			}
			path := rec.Sandbox
			for k, v := range ph {
				path = strings.ReplaceAll(path, k, v)
			}
			c := admin(t, srv, wsProd)
			if rec.Scope == "account" {
				c = admin(t, srv, 0)
			}
			var got any
			decode(t, c.ok(200, rec.Method, path, nil).body, &got)
			gotShape := shapeOf(got, rec.Maps)
			for _, p := range slices.Sorted(maps.Keys(wantShape)) {
				if p == "" {
					continue
				}
				gt, has := gotShape[p]
				if why, gap := rec.Gaps[p]; gap {
					if has {
						t.Errorf("%s: the sandbox now has %s (%s): remove the gap from testdata/recorded/replies.json and docs/recorded-replies.md", path, p, typeList(gt))
					} else {
						t.Logf("known gap %s: %s", p, why)
					}
					continue
				}
				switch {
				case !has:
					t.Errorf("%s: no %s (recorded as %s)", path, p, typeList(wantShape[p]))
				case typeList(gt) != typeList(wantShape[p]):
					t.Errorf("%s: %s is %s, recorded as %s", path, p, typeList(gt), typeList(wantShape[p]))
				}
			}
			for _, p := range rec.Absent {
				_, has := gotShape[p]
				if why, gap := rec.Gaps[p]; gap {
					if !has {
						t.Errorf("%s: the sandbox no longer has %s: remove the gap from testdata/recorded/replies.json and docs/recorded-replies.md", path, p)
					} else {
						t.Logf("known gap %s: %s", p, why)
					}
					continue
				}
				if has {
					t.Errorf("%s: has %s, which real replies leave out", path, p)
				}
			}
		})
	}
}

// TestRecordedRepliesDocumented: docs/recorded-replies.md has a section for
// every recorded reply.
func TestRecordedRepliesDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/recorded-replies.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range loadRecordedReplies(t) {
		if !strings.Contains(string(b), "\n### "+rec.Name+"\n") {
			t.Errorf("docs/recorded-replies.md has no section %q", "### "+rec.Name)
		}
	}
}
