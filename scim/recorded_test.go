package scim

// Recorded replies as a second judge, client side: for every endpoint dbiam
// reads through this package, a reply shaped like the public recordings
// (testdata/recorded/replies.json; sources in docs/recorded-replies.md) is
// served to the real client function, and every field dbiam uses must come
// back with the recorded value.

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// recordedEntry is the part of a testdata/recorded/replies.json entry the
// client test needs (the sandbox test reads the rest).
type recordedEntry struct {
	Name   string          `json:"name"`
	Client string          `json:"client"`
	Reply  json.RawMessage `json:"reply"`
	Uses   []string        `json:"uses"`
}

// recordedClients calls, for each client name of replies.json, the dbiam
// function that reads that endpoint, and returns what it parsed in the
// shape of the reply (list functions' results wrapped in their envelope).
var recordedClients = map[string]func(ctx context.Context, w *WorkspaceClient, a *AccountClient) (any, error){
	"scim-list-groups": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		var r ListResponse[Group]
		err := w.Do(ctx, ClassSCIMRead, http.MethodGet, "/api/2.0/preview/scim/v2/Groups", nil, nil, &r)
		return r, err
	},
	"scim-list-users": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		var r ListResponse[User]
		err := w.Do(ctx, ClassSCIMRead, http.MethodGet, "/api/2.0/preview/scim/v2/Users", nil, nil, &r)
		return r, err
	},
	"scim-list-sps": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		var r ListResponse[ServicePrincipal]
		err := w.Do(ctx, ClassSCIMRead, http.MethodGet, "/api/2.0/preview/scim/v2/ServicePrincipals", nil, nil, &r)
		return r, err
	},
	"scim-get-group": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return w.Groups.Get(ctx, "904715382561103", GetOptions{})
	},
	"scim-get-account-group": func(ctx context.Context, _ *WorkspaceClient, a *AccountClient) (any, error) {
		return a.Groups.Get(ctx, "00000000000001", GetOptions{})
	},
	"scim-list-account-sps": func(ctx context.Context, _ *WorkspaceClient, a *AccountClient) (any, error) {
		var r ListResponse[ServicePrincipal]
		err := a.c.do(ctx, ClassAccountSCIMRead, http.MethodGet, "/api/2.0/accounts/"+a.AccountID+"/scim/v2/ServicePrincipals", nil, nil, &r)
		return r, err
	},
	"scim-get-user": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return w.Users.Get(ctx, "8598139271121446", GetOptions{})
	},
	"scim-me": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		u, _, err := w.Me(ctx)
		return u, err
	},
	"workspaces": func(ctx context.Context, _ *WorkspaceClient, a *AccountClient) (any, error) {
		return a.ListWorkspaces(ctx)
	},
	"account-assignments": func(ctx context.Context, _ *WorkspaceClient, a *AccountClient) (any, error) {
		l, err := a.ListAssignments(ctx, 1)
		return map[string]any{"permission_assignments": l}, err
	},
	"workspace-assignments": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := w.PermissionAssignments(ctx)
		return map[string]any{"permission_assignments": l}, err
	},
	"tokens":            wrap("token_infos", ListTokens),
	"jobs":              wrap("jobs", ListJobs),
	"clusters":          wrap("clusters", ListClusters),
	"warehouses":        wrap("warehouses", ListWarehouses),
	"pipelines":         wrap("statuses", ListPipelines),
	"queries":           wrap("results", ListQueries),
	"alerts":            wrap("results", ListAlerts),
	"alertsv2":          wrap("alerts", ListAlertsV2),
	"legacy-dashboards": wrap("results", ListLegacyDashboards),
	"dashboards":        wrap("dashboards", ListDashboards),
	"serving-endpoints": wrap("endpoints", ListServingEndpoints),
	"apps":              wrap("apps", ListApps),
	"job": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return GetJob(ctx, w, 14)
	},
	"permissions-jobs": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return GetPermissions(ctx, w, "jobs", "12")
	},
	"instance-pools": wrap("instance_pools", ListInstancePools),
	"experiments":    wrap("experiments", ListExperiments),
	"ml-models":      wrap("registered_models", ListMLModels),
	"pipeline": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return GetPipeline(ctx, w, "6f1c2b3a-0000-4000-8000-00000000a1b2")
	},
	"metastore-assignment": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return CurrentMetastore(ctx, w)
	},
	"secret-scopes": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		names, err := ListSecretScopes(ctx, w)
		scopes := make([]map[string]string, len(names))
		for i, n := range names {
			scopes[i] = map[string]string{"name": n}
		}
		return map[string]any{"scopes": scopes}, err
	},
	"secret-acls": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := ListSecretACLs(ctx, w, "etl")
		return map[string]any{"items": l}, err
	},
	"workspace-list": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := ListWorkspace(ctx, w, "/Users/owner@example.test")
		return map[string]any{"objects": l}, err
	},
	"workspace-get-status": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return GetStatus(ctx, w, "/Users/owner@example.test/ingest")
	},
	"repos": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := collect(Repos(ctx, w, ""))
		return map[string]any{"repos": l}, err
	},
	"vector-search-endpoints": wrap("endpoints", ListVectorSearchEndpoints),
	"ml-model-id": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		id, err := MLModelID(ctx, w, "churn-model")
		return map[string]any{"registered_model_databricks": map[string]string{"id": id}}, err
	},
	"cluster-policies": wrap("policies", ListClusterPolicies),
	"uc-metastore-summary": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		return GetMetastoreSummary(ctx, w)
	},
	"uc-catalogs": ucWrap("catalogs", Catalogs),
	"uc-schemas": ucWrap("schemas", func(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
		return Schemas(ctx, d, "main")
	}),
	"uc-tables": ucWrap("tables", func(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
		return Tables(ctx, d, "main", "sales")
	}),
	"uc-volumes": ucWrap("volumes", func(ctx context.Context, d Doer) iter.Seq2[Securable, error] {
		return Volumes(ctx, d, "main", "sales")
	}),
	"uc-models":              ucWrap("registered_models", RegisteredModels),
	"uc-storage-credentials": ucWrap("storage_credentials", StorageCredentials),
	"uc-grants": func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := Grants(ctx, w, "schema", "main.sales")
		return map[string]any{"privilege_assignments": l}, err
	},
}

// ucWrap reads a Unity Catalog list to its end and returns it in its
// envelope.
func ucWrap(key string, list func(context.Context, Doer) iter.Seq2[Securable, error]) func(context.Context, *WorkspaceClient, *AccountClient) (any, error) {
	return func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := collect(list(ctx, w))
		return map[string]any{key: l}, err
	}
}

func wrap[T any](key string, list func(context.Context, Doer) ([]T, error)) func(context.Context, *WorkspaceClient, *AccountClient) (any, error) {
	return func(ctx context.Context, w *WorkspaceClient, _ *AccountClient) (any, error) {
		l, err := list(ctx, w)
		return map[string]any{key: l}, err
	}
}

// valuesAt returns the values at path in v ("a.b", "list[].c", "[]",
// "schemas[]"), in document order.
func valuesAt(v any, path string) []any {
	var steps []string
	for _, seg := range strings.Split(path, ".") {
		name, arr := strings.CutSuffix(seg, "[]")
		if name != "" {
			steps = append(steps, name)
		}
		if arr {
			steps = append(steps, "[]")
		}
	}
	cur := []any{v}
	for _, s := range steps {
		var next []any
		for _, c := range cur {
			switch x := c.(type) {
			case map[string]any:
				if s != "[]" {
					if y, ok := x[s]; ok {
						next = append(next, y)
					}
				}
			case []any:
				if s == "[]" {
					next = append(next, x...)
				}
			}
		}
		cur = next
	}
	return cur
}

// nonZero drops false, "", 0 and null from vs.
func nonZero(vs []any) []any {
	var out []any
	for _, v := range vs {
		switch v {
		case false, "", 0.0, nil:
			continue
		}
		out = append(out, v)
	}
	return out
}

func TestRecordedRepliesClient(t *testing.T) {
	b, err := os.ReadFile("../testdata/recorded/replies.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []recordedEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, e := range entries {
		if e.Client == "" {
			continue // read by an inline struct outside this package
		}
		call, ok := recordedClients[e.Client]
		if !ok {
			t.Errorf("%s: no client %q in recordedClients", e.Name, e.Client)
			continue
		}
		tested[e.Client] = true
		t.Run(e.Name, func(t *testing.T) {
			reg := newMock(t)
			reg.Register("recorded reply", func(r *http.Request) bool { return r.Method == http.MethodGet },
				respond(200, string(e.Reply), "Content-Type", "application/json", "X-Databricks-Org-Id", "42")).Times(-1)
			sess, _ := connectMock(t, reg, func(s *Settings) { s.AccountID = testAccount })
			a, err := sess.Account()
			if err != nil {
				t.Fatal(err)
			}
			got, err := call(context.Background(), workspaceClient(t, sess), a)
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			var want, back any
			if err := json.Unmarshal(e.Reply, &want); err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			if err := dec.Decode(&back); err != nil {
				t.Fatal(err)
			}
			for _, p := range e.Uses {
				// Zero values (false, "", 0) vanish from the re-encoding of
				// omitempty fields, and are what the client holds anyway.
				w, g := nonZero(valuesAt(want, p)), nonZero(valuesAt(back, p))
				if len(valuesAt(want, p)) == 0 {
					t.Errorf("uses %q: not in the recorded reply", p)
				} else if !reflect.DeepEqual(w, g) {
					t.Errorf("%s: the client kept %v, the reply says %v", p, g, w)
				}
			}
		})
	}
	for name := range recordedClients {
		if !tested[name] {
			t.Errorf("client %q has no recorded reply", name)
		}
	}
}

// TestRecordedInstancePoolCreator: the creator of a pool shaped like the
// recorded reply is found. Real replies name it in the default tag
// DatabricksInstancePoolCreatorId (the SDK's doc comment says
// InstancePoolCreator, which no recording shows).
func TestRecordedInstancePoolCreator(t *testing.T) {
	b, err := os.ReadFile("../testdata/recorded/replies.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []recordedEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Client != "instance-pools" {
			continue
		}
		found = true
		var reply struct {
			Pools []InstancePool `json:"instance_pools"`
		}
		if err := json.Unmarshal(e.Reply, &reply); err != nil {
			t.Fatal(err)
		}
		for _, p := range reply.Pools {
			want, err := strconv.ParseInt(p.DefaultTags["DatabricksInstancePoolCreatorId"], 10, 64)
			if err != nil || want == 0 {
				t.Fatalf("recorded pool %s: creator tag %q", p.InstancePoolID, p.DefaultTags["DatabricksInstancePoolCreatorId"])
			}
			if got := p.CreatorID(); got != want {
				t.Errorf("pool %s: CreatorID() = %d, want %d from DatabricksInstancePoolCreatorId", p.InstancePoolID, got, want)
			}
		}
	}
	if !found {
		t.Fatal("no recorded instance pools reply")
	}
	// The SDK doc comment's tag is still honoured when it is the only one.
	if got := (InstancePool{DefaultTags: map[string]string{"InstancePoolCreator": "17"}}).CreatorID(); got != 17 {
		t.Errorf("CreatorID with InstancePoolCreator = %d, want 17", got)
	}
}
