package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// fakeDoer answers Do calls from a function and records them.
type fakeDoer struct {
	t     *testing.T
	reply func(path string, q url.Values) (any, error)
	calls []string // "class GET path?query"
}

func (f *fakeDoer) Do(_ context.Context, class Class, method, path string, query url.Values, body, out any, _ ...CallOption) error {
	f.t.Helper()
	if method != http.MethodGet || body != nil {
		f.t.Fatalf("unexpected %s %s with body %v", method, path, body)
	}
	call := string(class) + " " + method + " " + path
	if len(query) > 0 {
		call += "?" + query.Encode()
	}
	f.calls = append(f.calls, call)
	v, err := f.reply(path, query)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	return json.Unmarshal(b, out)
}

func TestListTokensUnpaged(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(string, url.Values) (any, error) {
		return json.RawMessage(`{"token_infos":[{"token_id":"t1","created_by_id":42,"created_by_username":"a@x.test","owner_id":42,"comment":"ci","creation_time":1700000000000,"expiry_time":-1,"last_used_day":1710000000000,"workspace_id":7}]}`), nil
	}}
	ts, err := ListTokens(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	want := TokenInfo{TokenID: "t1", CreatedByID: 42, CreatedByUsername: "a@x.test", OwnerID: 42, Comment: "ci", CreationTime: 1700000000000, ExpiryTime: -1, LastUsedDay: 1710000000000, WorkspaceID: 7}
	if len(ts) != 1 || !equalJSON(ts[0], want) {
		t.Errorf("tokens = %+v", ts)
	}
	if !slices.Equal(f.calls, []string{"default GET /api/2.0/token-management/tokens"}) {
		t.Errorf("calls = %v", f.calls)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestListJobsPageTokens(t *testing.T) {
	pages := map[string]string{
		"":   `{"jobs":[{"job_id":1,"creator_user_name":"a@x.test","settings":{"name":"one","schedule":{"quartz_cron_expression":"0 0 * * * ?","timezone_id":"UTC","pause_status":"UNPAUSED"},"run_as":{"service_principal_name":"app-1"}}}],"has_more":true,"next_page_token":"p2"}`,
		"p2": `{"jobs":[{"job_id":2,"settings":{"name":"two","trigger":{"pause_status":"PAUSED","file_arrival":{"url":"s3://b/"}}}}],"has_more":false}`,
	}
	f := &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		return json.RawMessage(pages[q.Get("page_token")]), nil
	}}
	jobs, err := ListJobs(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].Settings.RunAs.Name() != "app-1" || jobs[0].Settings.Schedule.PauseStatus != "UNPAUSED" ||
		jobs[1].CreatorUserName != "" || jobs[1].Settings.Trigger.Kind() != "file_arrival" || jobs[1].Settings.Trigger.PauseStatus != "PAUSED" {
		t.Errorf("jobs = %+v", jobs)
	}
	want := []string{"default GET /api/2.2/jobs/list?expand_tasks=true&limit=100", "default GET /api/2.2/jobs/list?expand_tasks=true&limit=100&page_token=p2"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls = %v, want %v", f.calls, want)
	}
}

func TestListJobsOffsetHasMore(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		switch q.Get("offset") {
		case "":
			return json.RawMessage(`{"jobs":[{"job_id":1},{"job_id":2}],"has_more":true}`), nil
		case "2":
			return json.RawMessage(`{"jobs":[{"job_id":3}],"has_more":false}`), nil
		}
		return nil, fmt.Errorf("unexpected offset %s", q.Get("offset"))
	}}
	jobs, err := ListJobs(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || jobs[2].JobID != 3 {
		t.Errorf("jobs = %+v", jobs)
	}
	if f.calls[1] != "default GET /api/2.2/jobs/list?expand_tasks=true&limit=100&offset=2" {
		t.Errorf("second call = %s", f.calls[1])
	}
}

func TestJobsStreamsPages(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		if q.Get("page_token") == "" {
			return json.RawMessage(`{"jobs":[{"job_id":1},{"job_id":2}],"next_page_token":"p2"}`), nil
		}
		return json.RawMessage(`{"jobs":[{"job_id":3}]}`), nil
	}}
	// Stopping after the first job sends no second request.
	for j, err := range Jobs(context.Background(), f) {
		if err != nil || j.JobID != 1 {
			t.Fatalf("first job = %+v, %v", j, err)
		}
		break
	}
	if len(f.calls) != 1 {
		t.Errorf("calls after an early stop = %v", f.calls)
	}
}

func TestListJobsRepeatedToken(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(string, url.Values) (any, error) {
		return json.RawMessage(`{"jobs":[{"job_id":1}],"next_page_token":"same"}`), nil
	}}
	if _, err := ListJobs(context.Background(), f); !errors.Is(err, ErrPageLimit) {
		t.Errorf("err = %v, want ErrPageLimit", err)
	}
}

func TestGetJobNotFound(t *testing.T) {
	apiErr := &APIError{Method: "GET", Path: pathJobsGet, StatusCode: 400, ErrorCode: "INVALID_PARAMETER_VALUE", Message: "Job 9 does not exist."}
	f := &fakeDoer{t: t, reply: func(string, url.Values) (any, error) { return nil, apiErr }}
	_, err := GetJob(context.Background(), f, 9)
	var ae *APIError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &ae) {
		t.Errorf("err = %v, want ErrNotFound wrapping the APIError", err)
	}
	other := &APIError{StatusCode: 400, ErrorCode: "INVALID_PARAMETER_VALUE", Message: "bad job_id"}
	f = &fakeDoer{t: t, reply: func(string, url.Values) (any, error) { return nil, other }}
	if _, err := GetJob(context.Background(), f, 9); errors.Is(err, ErrNotFound) {
		t.Errorf("a 400 that is not a missing job matched ErrNotFound: %v", err)
	}
	f = &fakeDoer{t: t, reply: func(string, url.Values) (any, error) {
		return json.RawMessage(`{"job_id":9,"run_as_user_name":"a@x.test","settings":{"name":"n"}}`), nil
	}}
	j, err := GetJob(context.Background(), f, 9)
	if err != nil || j.RunAsUserName != "a@x.test" || f.calls[0] != "default GET /api/2.2/jobs/get?job_id=9" {
		t.Errorf("GetJob = %+v, %v, calls %v", j, err, f.calls)
	}
}

// TestGetJobPagesTasks: jobs/get returns 100 tasks a page and a
// next_page_token while more remain; GetJob reads them all, and stops on a
// repeated token.
func TestGetJobPagesTasks(t *testing.T) {
	pages := map[string]string{
		"":   `{"job_id":9,"run_as_user_name":"a@x.test","settings":{"name":"n","tasks":[{"task_key":"a","notebook_task":{"notebook_path":"/Users/b@x.test/a"}}]},"next_page_token":"p2"}`,
		"p2": `{"job_id":9,"settings":{"name":"n","tasks":[{"task_key":"b","notebook_task":{"notebook_path":"/Users/b@x.test/b"}}]}}`,
	}
	f := &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		return json.RawMessage(pages[q.Get("page_token")]), nil
	}}
	j, err := GetJob(context.Background(), f, 9)
	if err != nil || j.RunAsUserName != "a@x.test" || len(j.Settings.Tasks) != 2 || j.Settings.Tasks[1].TaskKey != "b" || j.NextPageToken != "" {
		t.Errorf("GetJob = %+v, %v", j, err)
	}
	if want := []string{"default GET /api/2.2/jobs/get?job_id=9", "default GET /api/2.2/jobs/get?job_id=9&page_token=p2"}; !slices.Equal(f.calls, want) {
		t.Errorf("calls = %v, want %v", f.calls, want)
	}
	f = &fakeDoer{t: t, reply: func(string, url.Values) (any, error) {
		return json.RawMessage(`{"job_id":9,"settings":{"name":"n"},"next_page_token":"same"}`), nil
	}}
	if _, err := GetJob(context.Background(), f, 9); !errors.Is(err, ErrPageLimit) {
		t.Errorf("repeated token: err = %v, want ErrPageLimit", err)
	}
}

func TestListClustersMarksPinned(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		if q.Get("filter_by.is_pinned") == "true" {
			return json.RawMessage(`{"clusters":[{"cluster_id":"c2"}]}`), nil
		}
		if q.Get("page_token") == "" {
			return json.RawMessage(`{"clusters":[{"cluster_id":"c1","state":"RUNNING","creator_user_name":"a@x.test"}],"next_page_token":"n"}`), nil
		}
		return json.RawMessage(`{"clusters":[{"cluster_id":"c2","state":"TERMINATED","single_user_name":"b@x.test","data_security_mode":"SINGLE_USER"}],"next_page_token":""}`), nil
	}}
	cs, err := ListClusters(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Pinned || !cs[1].Pinned || cs[1].SingleUserName != "b@x.test" {
		t.Errorf("clusters = %+v", cs)
	}
	want := []string{
		"default GET /api/2.1/clusters/list?filter_by.is_pinned=true&page_size=100",
		"default GET /api/2.1/clusters/list?page_size=100",
		"default GET /api/2.1/clusters/list?page_size=100&page_token=n",
	}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls = %v, want %v", f.calls, want)
	}
}

func TestPageTokenLists(t *testing.T) {
	tests := []struct {
		name  string
		call  func(Doer) (int, error)
		path  string
		size  string
		items string
		item  string
	}{
		{"warehouses", func(d Doer) (int, error) { v, err := ListWarehouses(context.Background(), d); return len(v), err }, pathWarehouses, "page_size", "warehouses", `{"id":"w"}`},
		{"pipelines", func(d Doer) (int, error) { v, err := ListPipelines(context.Background(), d); return len(v), err }, pathPipelines, "max_results", "statuses", `{"pipeline_id":"p"}`},
		{"queries", func(d Doer) (int, error) { v, err := ListQueries(context.Background(), d); return len(v), err }, pathQueries, "page_size", "results", `{"id":"q"}`},
		{"alerts", func(d Doer) (int, error) { v, err := ListAlerts(context.Background(), d); return len(v), err }, pathAlerts, "page_size", "results", `{"id":"a"}`},
		{"alerts v2", func(d Doer) (int, error) { v, err := ListAlertsV2(context.Background(), d); return len(v), err }, pathAlertsV2, "page_size", "alerts", `{"id":"a"}`},
		{"dashboards", func(d Doer) (int, error) { v, err := ListDashboards(context.Background(), d); return len(v), err }, pathDashboards, "page_size", "dashboards", `{"dashboard_id":"d"}`},
		{"apps", func(d Doer) (int, error) { v, err := ListApps(context.Background(), d); return len(v), err }, pathApps, "page_size", "apps", `{"name":"a"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeDoer{t: t, reply: func(path string, q url.Values) (any, error) {
				if path != tt.path || q.Get(tt.size) != "100" {
					return nil, fmt.Errorf("unexpected %s?%s", path, q.Encode())
				}
				if q.Get("page_token") == "" {
					return json.RawMessage(`{"` + tt.items + `":[` + tt.item + `,` + tt.item + `],"next_page_token":"x"}`), nil
				}
				return json.RawMessage(`{"` + tt.items + `":[` + tt.item + `]}`), nil
			}}
			n, err := tt.call(f)
			if err != nil || n != 3 || len(f.calls) != 2 {
				t.Errorf("got %d items, err %v, calls %v", n, err, f.calls)
			}
		})
	}
}

func TestListLegacyDashboardsPageNumbers(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		switch q.Get("page") {
		case "1":
			return json.RawMessage(`{"count":3,"page":1,"page_size":2,"results":[{"id":"d1","name":"one","user":{"email":"a@x.test","id":5}},{"id":"d2"}]}`), nil
		case "2":
			return json.RawMessage(`{"count":3,"page":2,"page_size":2,"results":[{"id":"d3"}]}`), nil
		}
		return json.RawMessage(`{"count":3,"results":[]}`), nil
	}}
	ds, err := ListLegacyDashboards(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].User.Email != "a@x.test" || len(f.calls) != 2 {
		t.Errorf("dashboards = %+v, calls %v", ds, f.calls)
	}
	if f.calls[0] != "default GET /api/2.0/preview/sql/dashboards?page=1&page_size=100" {
		t.Errorf("first call = %s", f.calls[0])
	}
	// Without a count, paging stops on the first empty page.
	f = &fakeDoer{t: t, reply: func(_ string, q url.Values) (any, error) {
		if q.Get("page") == "1" {
			return json.RawMessage(`{"results":[{"id":"d1"}]}`), nil
		}
		return json.RawMessage(`{"results":[]}`), nil
	}}
	if ds, err := ListLegacyDashboards(context.Background(), f); err != nil || len(ds) != 1 || len(f.calls) != 2 {
		t.Errorf("no count: %v %v %v", ds, err, f.calls)
	}
	// A server that ignores page repeats the first page: stop with an error.
	f = &fakeDoer{t: t, reply: func(string, url.Values) (any, error) {
		return json.RawMessage(`{"results":[{"id":"d1"}]}`), nil
	}}
	if _, err := ListLegacyDashboards(context.Background(), f); !errors.Is(err, ErrPageLimit) {
		t.Errorf("repeating server: err = %v", err)
	}
}

func TestListServingEndpointsUnpaged(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(string, url.Values) (any, error) {
		return json.RawMessage(`{"endpoints":[{"id":"e-1","name":"chat","creator":"a@x.test"}]}`), nil
	}}
	es, err := ListServingEndpoints(context.Background(), f)
	if err != nil || len(es) != 1 || es[0].ID != "e-1" || es[0].Creator != "a@x.test" {
		t.Errorf("endpoints = %+v, %v", es, err)
	}
}

func TestGetPermissions(t *testing.T) {
	f := &fakeDoer{t: t, reply: func(path string, _ url.Values) (any, error) {
		if strings.HasPrefix(path, pathSQLPermissions) {
			return json.RawMessage(`{"object_id":"dashboards/d1","object_type":"dashboard","access_control_list":[{"user_name":"a@x.test","permission_level":"CAN_MANAGE"},{"group_name":"users","permission_level":"CAN_VIEW"}]}`), nil
		}
		return json.RawMessage(`{"object_id":"/jobs/1","object_type":"job","access_control_list":[
			{"user_name":"a@x.test","all_permissions":[{"permission_level":"IS_OWNER","inherited":false}]},
			{"service_principal_name":"app-1","all_permissions":[{"permission_level":"CAN_MANAGE"}]},
			{"group_name":"admins","all_permissions":[{"permission_level":"CAN_MANAGE","inherited":true,"inherited_from_object":["/jobs/"]}]}]}`), nil
	}}
	p, err := GetPermissions(context.Background(), f, "jobs", "1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.AccessControlList {
		name, kind := a.Principal()
		for _, l := range a.Levels() {
			got = append(got, fmt.Sprintf("%s:%s:%s:%v", kind, name, l.PermissionLevel, l.Inherited))
		}
	}
	want := []string{"user:a@x.test:IS_OWNER:false", "service-principal:app-1:CAN_MANAGE:false", "group:admins:CAN_MANAGE:true"}
	if !slices.Equal(got, want) {
		t.Errorf("acl = %v, want %v", got, want)
	}
	sp, err := GetSQLPermissions(context.Background(), f, "dashboards", "d 1")
	if err != nil || len(sp.AccessControlList) != 2 || sp.AccessControlList[0].Levels()[0].PermissionLevel != "CAN_MANAGE" {
		t.Errorf("sql permissions = %+v, %v", sp, err)
	}
	wantCalls := []string{"permissions-read GET /api/2.0/permissions/jobs/1", "permissions-read GET /api/2.0/preview/sql/permissions/dashboards/d%201"}
	if !slices.Equal(f.calls, wantCalls) {
		t.Errorf("calls = %v, want %v", f.calls, wantCalls)
	}
}

func TestListErrorsPropagate(t *testing.T) {
	denied := &APIError{StatusCode: 403, ErrorCode: "PERMISSION_DENIED", Message: "no"}
	f := &fakeDoer{t: t, reply: func(string, url.Values) (any, error) { return nil, denied }}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"tokens":    func() error { _, err := ListTokens(ctx, f); return err },
		"jobs":      func() error { _, err := ListJobs(ctx, f); return err },
		"clusters":  func() error { _, err := ListClusters(ctx, f); return err },
		"legacy":    func() error { _, err := ListLegacyDashboards(ctx, f); return err },
		"endpoints": func() error { _, err := ListServingEndpoints(ctx, f); return err },
		"perms":     func() error { _, err := GetPermissions(ctx, f, "jobs", "1"); return err },
	} {
		if err := call(); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("%s: err = %v, want ErrPermissionDenied", name, err)
		}
	}
}

func TestDirectLevels(t *testing.T) {
	var a AccessControl
	if err := json.Unmarshal([]byte(`{"user_name":"a@x.test","all_permissions":[
		{"permission_level":"CAN_MANAGE","inherited":true,"inherited_from_object":["/directories/17"]},
		{"permission_level":"CAN_RUN","inherited":false},
		{"permission_level":"CAN_READ"}]}`), &a); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range a.DirectLevels() {
		got = append(got, l.PermissionLevel)
	}
	if want := []string{"CAN_RUN", "CAN_READ"}; !slices.Equal(got, want) {
		t.Errorf("direct levels %v, want %v", got, want)
	}
	legacy := AccessControl{GroupName: "g", PermissionLevel: "CAN_EDIT"}
	if l := legacy.DirectLevels(); len(l) != 1 || l[0].PermissionLevel != "CAN_EDIT" {
		t.Errorf("legacy entry: %v", l)
	}
}
