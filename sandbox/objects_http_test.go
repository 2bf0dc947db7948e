package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// objNow is the fixed clock of the object tests: relative seed times
// ("now-1d") resolve against it.
var objNow = time.Date(2026, 3, 10, 15, 4, 5, 0, time.UTC)

// Principals of the default seed that its objects refer to.
const (
	objElena   = "elena.patel@acme.test"
	objFarid   = "farid.fischer@acme.test"
	objGrace   = "grace.mensah@acme.test"
	objEtlProd = "b83e9e22-b2ed-4451-bcdd-00b79deb79be"
	objElenaID = "1100000000000005"
)

func newObjServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return objNow }
	}
	return NewTestServer(t, opts)
}

// objClient calls one workspace of a server with one token.
type objClient struct {
	t     *testing.T
	srv   *Server
	token string
	ws    int64
}

func objAdmin(t *testing.T, srv *Server, ws int64) objClient {
	return objClient{t: t, srv: srv, token: srv.AdminToken(), ws: ws}
}

// call sends method path and returns the status and the raw body.
func (c objClient) call(method, path string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL()+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if c.ws != 0 {
		req.Header.Set("X-Databricks-Workspace-Id", strconv.FormatInt(c.ws, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// get fetches path, wants 200 and decodes the body into out (a pointer,
// zeroed first so that fields absent from the reply read as zero).
func (c objClient) get(path string, out any) {
	c.t.Helper()
	status, b := c.call(http.MethodGet, path)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: status %d, body %s", path, status, b)
	}
	reflect.ValueOf(out).Elem().SetZero()
	if err := json.Unmarshal(b, out); err != nil {
		c.t.Fatalf("GET %s: decode %s: %v", path, b, err)
	}
}

// wantError fetches path and wants a REST error with status and code whose
// message contains msg.
func (c objClient) wantError(method, path string, status int, code, msg string) {
	c.t.Helper()
	got, b := c.call(method, path)
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		c.t.Fatalf("%s %s: status %d, body %s is not a REST error: %v", method, path, got, b, err)
	}
	if got != status || body.ErrorCode != code || !strings.Contains(body.Message, msg) {
		c.t.Fatalf("%s %s: got %d %s %q, want %d %s containing %q", method, path, got, body.ErrorCode, body.Message, status, code, msg)
	}
}

// pageWalk follows next_page_token from first and returns every item
// (decoded into T) and the number of pages.
func pageWalk[T any](c objClient, first, itemsKey string) (items []T, pages int) {
	c.t.Helper()
	path := first
	for {
		var resp map[string]json.RawMessage
		c.get(path, &resp)
		pages++
		if raw, ok := resp[itemsKey]; ok {
			var page []T
			if err := json.Unmarshal(raw, &page); err != nil {
				c.t.Fatalf("decode %s: %v", itemsKey, err)
			}
			items = append(items, page...)
		}
		var next string
		if raw, ok := resp["next_page_token"]; ok {
			if err := json.Unmarshal(raw, &next); err != nil {
				c.t.Fatal(err)
			}
		}
		if next == "" {
			return items, pages
		}
		if pages > 1000 {
			c.t.Fatalf("%s: more than 1000 pages", first)
		}
		sep := "?"
		if strings.Contains(first, "?") {
			sep = "&"
		}
		path = first + sep + "page_token=" + url.QueryEscape(next)
	}
}

func TestObjectsTokenManagement(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)

	var all struct {
		TokenInfos []wireTokenInfo `json:"token_infos"`
	}
	c.get("/api/2.0/token-management/tokens", &all)
	if len(all.TokenInfos) != 11 {
		t.Fatalf("prod tokens: got %d, want 11", len(all.TokenInfos))
	}
	byComment := map[string]wireTokenInfo{}
	for _, ti := range all.TokenInfos {
		byComment[ti.Comment] = ti
		if ti.WorkspaceID != wsProd || len(ti.TokenID) != 64 || ti.CreationTime == 0 {
			t.Errorf("token %+v: want workspace %d, 64-char id, creation time", ti, wsProd)
		}
	}
	day := func(d time.Time) int64 {
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).UnixMilli()
	}
	airflow := byComment["airflow integration"]
	if airflow.CreatedByUsername != objElena || airflow.CreatedByID != 1100000000000005 || airflow.OwnerID != 1100000000000005 {
		t.Errorf("airflow token owner: %+v", airflow)
	}
	if airflow.ExpiryTime != -1 {
		t.Errorf("airflow token expiry_time = %d, want -1 (no expiry)", airflow.ExpiryTime)
	}
	if want := day(objNow.AddDate(0, 0, -1)); airflow.LastUsedDay != want {
		t.Errorf("airflow token last_used_day = %d, want %d (yesterday)", airflow.LastUsedDay, want)
	}
	if expired := byComment["local dev"]; expired.ExpiryTime != objNow.AddDate(0, 0, -10).UnixMilli() {
		t.Errorf("expired token expiry_time = %d, want 10 days ago", expired.ExpiryTime)
	}
	if unused := byComment["notebook experiments"]; unused.LastUsedDay != 0 {
		t.Errorf("unused token last_used_day = %d, want 0", unused.LastUsedDay)
	}
	obo := byComment["etl-prod deploy (on behalf of)"]
	if obo.OwnerID != 1300000000000001 || obo.CreatedByUsername != "dana.varga@acme.test" {
		t.Errorf("on-behalf-of token: %+v, want owner etl-prod created by dana", obo)
	}

	var filtered struct {
		TokenInfos []wireTokenInfo `json:"token_infos"`
	}
	c.get("/api/2.0/token-management/tokens?created_by_username="+url.QueryEscape(objElena), &filtered)
	if len(filtered.TokenInfos) != 3 {
		t.Errorf("created_by_username filter: got %d tokens, want 3", len(filtered.TokenInfos))
	}
	c.get("/api/2.0/token-management/tokens?created_by_id=1100000000000004", &filtered)
	if len(filtered.TokenInfos) != 2 || filtered.TokenInfos[0].OwnerID != 1300000000000001 || filtered.TokenInfos[1].OwnerID != 1300000000000008 {
		t.Errorf("created_by_id filter: got %+v, want the two on-behalf-of tokens", filtered.TokenInfos)
	}
	c.get("/api/2.0/token-management/tokens?created_by_username=nobody%40acme.test", &filtered)
	if len(filtered.TokenInfos) != 0 {
		t.Errorf("filter on unknown user: got %d tokens", len(filtered.TokenInfos))
	}
	c.wantError(http.MethodGet, "/api/2.0/token-management/tokens?created_by_id=abc", 400, "INVALID_PARAMETER_VALUE", "created_by_id")

	var one struct {
		TokenInfo wireTokenInfo `json:"token_info"`
	}
	c.get("/api/2.0/token-management/tokens/"+airflow.TokenID, &one)
	if !reflect.DeepEqual(one.TokenInfo, airflow) {
		t.Errorf("get token: %+v, want %+v", one.TokenInfo, airflow)
	}
	if status, _ := c.call(http.MethodDelete, "/api/2.0/token-management/tokens/"+airflow.TokenID); status != 200 {
		t.Fatalf("delete token: status %d", status)
	}
	c.wantError(http.MethodGet, "/api/2.0/token-management/tokens/"+airflow.TokenID, 404, "RESOURCE_DOES_NOT_EXIST", airflow.TokenID)
	c.wantError(http.MethodDelete, "/api/2.0/token-management/tokens/"+airflow.TokenID, 404, "RESOURCE_DOES_NOT_EXIST", "does not exist")

	// Tokens are per workspace.
	other := objAdmin(t, srv, wsAnalytics)
	other.wantError(http.MethodGet, "/api/2.0/token-management/tokens/"+byComment["dbt cloud"].TokenID, 404, "RESOURCE_DOES_NOT_EXIST", "")

	// Only admins manage tokens.
	user := objClient{t: t, srv: srv, token: srv.UserToken(), ws: wsProd}
	user.wantError(http.MethodGet, "/api/2.0/token-management/tokens", 403, "PERMISSION_DENIED", "admin")
}

func TestObjectsTokensOfDeletedPrincipalAreRevoked(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)
	count := func() int {
		var all struct {
			TokenInfos []wireTokenInfo `json:"token_infos"`
		}
		c.get("/api/2.0/token-management/tokens?created_by_username="+url.QueryEscape(objElena), &all)
		return len(all.TokenInfos)
	}
	if n := count(); n != 3 {
		t.Fatalf("before delete: %d tokens, want 3", n)
	}
	acct := objClient{t: t, srv: srv, token: srv.AdminToken()}
	if status, b := acct.call(http.MethodDelete, "/api/2.0/accounts/"+srv.AccountID()+"/scim/v2/Users/"+objElenaID); status/100 != 2 {
		t.Fatalf("delete user: %d %s", status, b)
	}
	if n := count(); n != 0 {
		t.Errorf("after deleting the owner: %d tokens listed, want 0", n)
	}
}

func TestObjectsJobs(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)

	jobs, pages := pageWalk[wireJob](c, "/api/2.2/jobs/list?limit=3", "jobs")
	var ids []int64
	for _, j := range jobs {
		ids = append(ids, j.JobID)
		if j.RunAsUserName != "" {
			t.Errorf("job %d: list carries run_as_user_name %q", j.JobID, j.RunAsUserName)
		}
		if len(j.Settings.Tasks) != 0 {
			t.Errorf("job %d: list without expand_tasks carries tasks", j.JobID)
		}
	}
	if want := []int64{101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113}; !slices.Equal(ids, want) || pages != 5 {
		t.Fatalf("jobs by page_token: ids %v in %d pages, want %v in 5", ids, pages, want)
	}

	var first struct {
		Jobs          []wireJob `json:"jobs"`
		HasMore       bool      `json:"has_more"`
		NextPageToken string    `json:"next_page_token"`
		PrevPageToken string    `json:"prev_page_token"`
	}
	c.get("/api/2.2/jobs/list?limit=4&offset=10", &first)
	if len(first.Jobs) != 3 || first.HasMore || first.NextPageToken != "" || first.PrevPageToken == "" {
		t.Errorf("last page by offset: %d jobs, has_more %v, next %q, prev %q", len(first.Jobs), first.HasMore, first.NextPageToken, first.PrevPageToken)
	}
	c.get("/api/2.1/jobs/list", &first)
	if len(first.Jobs) != 13 || first.HasMore {
		t.Errorf("2.1 list with default limit: %d jobs, has_more %v", len(first.Jobs), first.HasMore)
	}
	c.get("/api/2.2/jobs/list?name=NIGHTLY-SALES-ETL&expand_tasks=true", &first)
	if len(first.Jobs) != 1 || first.Jobs[0].JobID != 101 || len(first.Jobs[0].Settings.Tasks) != 2 {
		t.Errorf("name filter with expand_tasks: %+v", first.Jobs)
	}
	for _, bad := range []string{"0", "101", "-1", "x"} {
		c.wantError(http.MethodGet, "/api/2.2/jobs/list?limit="+bad, 400, "INVALID_PARAMETER_VALUE", "limit")
	}
	c.wantError(http.MethodGet, "/api/2.2/jobs/list?page_token=bogus", 400, "INVALID_PARAMETER_VALUE", "page token")

	get := func(id int64) wireJob {
		var j wireJob
		c.get(fmt.Sprintf("/api/2.2/jobs/get?job_id=%d", id), &j)
		return j
	}
	j := get(101)
	if j.CreatorUserName != objElena || j.RunAsUserName != objElena || j.Settings.RunAs != nil {
		t.Errorf("job 101: creator %q run_as_user_name %q settings.run_as %+v", j.CreatorUserName, j.RunAsUserName, j.Settings.RunAs)
	}
	if s := j.Settings.Schedule; s == nil || s.QuartzCronExpression != "0 0 2 * * ?" || s.TimezoneID != "UTC" || s.PauseStatus != "UNPAUSED" {
		t.Errorf("job 101 schedule: %+v", s)
	}
	if j := get(102); j.RunAsUserName != objEtlProd || j.Settings.RunAs == nil || j.Settings.RunAs.ServicePrincipalName != objEtlProd ||
		j.Settings.Trigger == nil || j.Settings.Trigger.Periodic == nil {
		t.Errorf("job 102 (run as SP, periodic trigger): %+v", j)
	}
	if j := get(103); j.Settings.Schedule == nil || j.Settings.Schedule.PauseStatus != "PAUSED" {
		t.Errorf("job 103 should be paused: %+v", j.Settings.Schedule)
	}
	if j := get(104); j.Settings.Continuous == nil || j.Settings.Continuous.PauseStatus != "UNPAUSED" {
		t.Errorf("job 104 should be continuous: %+v", j.Settings)
	}
	// Creator deleted: creator_user_name omitted, runs as the deleted user.
	if j := get(105); j.CreatorUserName != "" || j.RunAsUserName != "former.engineer@acme.test" {
		t.Errorf("job 105 (creator deleted): creator %q run_as %q", j.CreatorUserName, j.RunAsUserName)
	}
	// Owner differs from creator: runs as the owner.
	if j := get(110); j.CreatorUserName != "dana.varga@acme.test" || j.RunAsUserName != objElena {
		t.Errorf("job 110 (owned by elena): creator %q run_as %q", j.CreatorUserName, j.RunAsUserName)
	}
	// Runs as a deactivated service principal (an --inactive audit finds it).
	if j := get(111); j.RunAsUserName != "9fb55830-adf5-42b4-b690-b9ff350956ee" {
		t.Errorf("job 111 run_as_user_name %q", j.RunAsUserName)
	}
	c.wantError(http.MethodGet, "/api/2.2/jobs/get?job_id=999", 400, "INVALID_PARAMETER_VALUE", "Job 999 does not exist")
	c.wantError(http.MethodGet, "/api/2.1/jobs/get", 400, "INVALID_PARAMETER_VALUE", "job_id")
	c.wantError(http.MethodGet, "/api/2.2/jobs/get?job_id=abc", 400, "INVALID_PARAMETER_VALUE", "job_id")

	// Deleting the creator drops creator_user_name from lists too.
	acct := objClient{t: t, srv: srv, token: srv.AdminToken()}
	if status, b := acct.call(http.MethodDelete, "/api/2.0/accounts/"+srv.AccountID()+"/scim/v2/Users/"+objElenaID); status/100 != 2 {
		t.Fatalf("delete user: %d %s", status, b)
	}
	var after struct {
		Jobs []wireJob `json:"jobs"`
	}
	c.get("/api/2.2/jobs/list?name=nightly-sales-etl", &after)
	if len(after.Jobs) != 1 || after.Jobs[0].CreatorUserName != "" {
		t.Errorf("after deleting the creator: %+v", after.Jobs)
	}
}

func TestObjectsClusters(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)

	all, pages := pageWalk[wireCluster](c, "/api/2.1/clusters/list?page_size=2", "clusters")
	names := map[string]wireCluster{}
	for _, cl := range all {
		names[cl.ClusterName] = cl
	}
	if len(all) != 8 || pages != 4 {
		t.Fatalf("2.1 list: %d clusters in %d pages, want 8 in 4", len(all), pages)
	}
	if _, ok := names["grace-old-experiments"]; ok {
		t.Error("a cluster terminated 45 days ago and not pinned is listed")
	}
	// pinned_by_user_name holds the pinner's user id, as in the Terraform
	// provider's recorded list (aisha pinned it).
	if cl, ok := names["kira-benchmarks"]; !ok || cl.PinnedByUserName != authzAishaID {
		t.Errorf("a pinned cluster terminated 60 days ago must be listed with pinned_by_user_name %s (aisha's id): %+v", authzAishaID, cl)
	}
	for _, cl := range all {
		if cl.PinnedByUserName != "" && strings.Trim(cl.PinnedByUserName, "0123456789") != "" {
			t.Errorf("%s: pinned_by_user_name %q is not a user id", cl.ClusterName, cl.PinnedByUserName)
		}
	}
	// Default order: state (running first), pinned first, name.
	var order []string
	for _, cl := range all {
		order = append(order, cl.ClusterName)
	}
	if want := []string{"elena-dev", "etl-prod-dedicated", "shared-etl", "kira-benchmarks", "data-engineers-shared",
		"elena-scratch", "job-101-run-5512", "rosa-analysis"}; !slices.Equal(order, want) {
		t.Errorf("default order %v, want %v", order, want)
	}
	dev := names["elena-dev"]
	if dev.CreatorUserName != objElena || dev.SingleUserName != objElena || dev.DataSecurityMode != "SINGLE_USER" ||
		dev.State != "RUNNING" || dev.ClusterSource != "UI" || dev.PinnedByUserName != objElenaID {
		t.Errorf("elena-dev: %+v", dev)
	}
	if tags := names["shared-etl"].CustomTags; tags["team"] != "data-eng" {
		t.Errorf("shared-etl custom_tags: %v", tags)
	}

	var page struct {
		Clusters      []wireCluster `json:"clusters"`
		NextPageToken string        `json:"next_page_token"`
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"filter_by.cluster_states=RUNNING", []string{"elena-dev", "etl-prod-dedicated", "shared-etl"}},
		{"filter_by.cluster_states=RUNNING&filter_by.cluster_sources=API", []string{"etl-prod-dedicated", "shared-etl"}},
		{"filter_by.is_pinned=true", []string{"elena-dev", "kira-benchmarks"}},
		{"filter_by.cluster_sources=JOB", []string{"job-101-run-5512"}},
		{"sort_by.field=CLUSTER_NAME&sort_by.direction=DESC&filter_by.cluster_states=RUNNING", []string{"shared-etl", "etl-prod-dedicated", "elena-dev"}},
	} {
		c.get("/api/2.1/clusters/list?page_size=100&"+tc.query, &page)
		var got []string
		for _, cl := range page.Clusters {
			got = append(got, cl.ClusterName)
		}
		if !slices.Equal(got, tc.want) || page.NextPageToken != "" {
			t.Errorf("%s: got %v (next %q), want %v", tc.query, got, page.NextPageToken, tc.want)
		}
	}
	c.wantError(http.MethodGet, "/api/2.1/clusters/list?filter_by.cluster_states=ASLEEP", 400, "INVALID_PARAMETER_VALUE", "ASLEEP")
	c.wantError(http.MethodGet, "/api/2.1/clusters/list?page_token=xyz", 400, "INVALID_PARAMETER_VALUE", "page token")
	// A token of another list is refused.
	c.wantError(http.MethodGet, "/api/2.1/clusters/list?page_token="+pageToken("jobs", 2), 400, "INVALID_PARAMETER_VALUE", "page token")

	var v20 struct {
		Clusters []wireCluster `json:"clusters"`
	}
	c.get("/api/2.0/clusters/list", &v20)
	if len(v20.Clusters) != 8 {
		t.Errorf("2.0 list (unpaged): %d clusters, want 8", len(v20.Clusters))
	}
	var one wireCluster
	c.get("/api/2.1/clusters/get?cluster_id="+dev.ClusterID, &one)
	if one.ClusterID != dev.ClusterID || one.ClusterName != "elena-dev" {
		t.Errorf("get: %+v", one)
	}
	c.wantError(http.MethodGet, "/api/2.1/clusters/get?cluster_id=0000-000000-missing0", 400, "INVALID_PARAMETER_VALUE", "Cluster 0000-000000-missing0 does not exist")
}

func TestObjectsWarehousesAndPipelines(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)

	var wh struct {
		Warehouses    []wireWarehouse `json:"warehouses"`
		NextPageToken string          `json:"next_page_token"`
	}
	c.get("/api/2.0/sql/warehouses", &wh)
	if len(wh.Warehouses) != 3 || wh.NextPageToken != "" {
		t.Fatalf("warehouses: %d (next %q), want 3 unpaged", len(wh.Warehouses), wh.NextPageToken)
	}
	if w := wh.Warehouses[1]; w.Name != "elena-etl-warehouse" || w.CreatorName != objElena || w.State != "STOPPED" {
		t.Errorf("warehouse: %+v", w)
	}
	paged, pages := pageWalk[wireWarehouse](c, "/api/2.0/sql/warehouses?page_size=2", "warehouses")
	if len(paged) != 3 || pages != 2 {
		t.Errorf("paged warehouses: %d in %d pages", len(paged), pages)
	}
	var one wireWarehouse
	c.get("/api/2.0/sql/warehouses/"+wh.Warehouses[0].ID, &one)
	if one.ID != wh.Warehouses[0].ID {
		t.Errorf("get warehouse: %+v", one)
	}
	c.wantError(http.MethodGet, "/api/2.0/sql/warehouses/0123456789abcdef", 404, "RESOURCE_DOES_NOT_EXIST", "0123456789abcdef")

	pls, pages := pageWalk[wirePipelineState](c, "/api/2.0/pipelines?max_results=1", "statuses")
	var pnames []string
	for _, p := range pls {
		pnames = append(pnames, p.Name)
	}
	if want := []string{"events-dlt", "inventory-dlt", "sales-dlt"}; !slices.Equal(pnames, want) || pages != 3 {
		t.Errorf("pipelines: %v in %d pages, want %v in 3", pnames, pages, want)
	}
	if pls[0].RunAsUserName != objEtlProd || pls[0].CreatorUserName != objElena || pls[2].State != "RUNNING" {
		t.Errorf("pipeline fields: %+v", pls)
	}
	for _, bad := range []string{"101", "0"} {
		c.wantError(http.MethodGet, "/api/2.0/pipelines?max_results="+bad, 400, "INVALID_PARAMETER_VALUE", "max_results")
	}
	var filtered struct {
		Statuses []wirePipelineState `json:"statuses"`
	}
	c.get("/api/2.0/pipelines?filter="+url.QueryEscape("name LIKE '%sales%'"), &filtered)
	if len(filtered.Statuses) != 1 || filtered.Statuses[0].Name != "sales-dlt" {
		t.Errorf("name LIKE filter: %+v", filtered.Statuses)
	}
	c.wantError(http.MethodGet, "/api/2.0/pipelines?filter="+url.QueryEscape("creator = 'x'"), 400, "INVALID_PARAMETER_VALUE", "filter")
	c.get("/api/2.0/pipelines?order_by="+url.QueryEscape("name desc"), &filtered)
	if len(filtered.Statuses) != 3 || filtered.Statuses[0].Name != "sales-dlt" {
		t.Errorf("order_by name desc: %+v", filtered.Statuses)
	}

	var p wirePipeline
	c.get("/api/2.0/pipelines/"+pls[0].PipelineID, &p)
	if p.RunAs == nil || p.RunAs.ServicePrincipalName != objEtlProd || p.Spec.Name != "events-dlt" {
		t.Errorf("get pipeline run_as: %+v", p)
	}
	c.get("/api/2.0/pipelines/"+pls[2].PipelineID, &p)
	if p.RunAs == nil || p.RunAs.UserName != objElena || !p.Spec.Continuous {
		t.Errorf("get pipeline run as creator: %+v", p)
	}
	c.wantError(http.MethodGet, "/api/2.0/pipelines/00000000-0000-4000-8000-000000000000", 404, "RESOURCE_DOES_NOT_EXIST", "not found")
}

func TestObjectsSQLAndDashboards(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)

	qs, pages := pageWalk[wireQuery](c, "/api/2.0/sql/queries?page_size=3", "results")
	if len(qs) != 4 || pages != 2 {
		t.Fatalf("queries: %d in %d pages", len(qs), pages)
	}
	if q := qs[0]; q.DisplayName != "Daily revenue" || q.OwnerUserName != objElena || q.RunAsMode != "OWNER" || q.LifecycleState != "ACTIVE" {
		t.Errorf("first query (oldest): %+v", q)
	}
	if q := qs[1]; q.RunAsMode != "VIEWER" {
		t.Errorf("second query run_as_mode: %+v", q)
	}
	as, _ := pageWalk[wireAlert](c, "/api/2.0/sql/alerts?page_size=1", "results")
	if len(as) != 2 || as[0].OwnerUserName != objElena || as[0].QueryID != qs[0].ID || as[1].State != "TRIGGERED" {
		t.Errorf("alerts: %+v", as)
	}

	// Legacy dashboards: page-number paging until an empty page.
	var legacy []wireLegacyDashboard
	for page := 1; ; page++ {
		var resp struct {
			Count    int                   `json:"count"`
			Page     int                   `json:"page"`
			PageSize int                   `json:"page_size"`
			Results  []wireLegacyDashboard `json:"results"`
		}
		c.get(fmt.Sprintf("/api/2.0/preview/sql/dashboards?page=%d&page_size=1", page), &resp)
		if resp.Count != 2 || resp.Page != page || resp.PageSize != 1 || resp.Results == nil {
			t.Fatalf("legacy dashboards page %d: %+v", page, resp)
		}
		if len(resp.Results) == 0 {
			break
		}
		legacy = append(legacy, resp.Results...)
	}
	if len(legacy) != 2 || legacy[0].User == nil || legacy[0].User.Email != objElena || legacy[0].UserID != 1100000000000005 {
		t.Errorf("legacy dashboards: %+v", legacy)
	}
	c.wantError(http.MethodGet, "/api/2.0/preview/sql/dashboards?page_size=251", 400, "INVALID_PARAMETER_VALUE", "page_size")
	c.wantError(http.MethodGet, "/api/2.0/preview/sql/dashboards?page=0", 400, "INVALID_PARAMETER_VALUE", "page")
	var ld wireLegacyDashboard
	c.get("/api/2.0/preview/sql/dashboards/"+legacy[1].ID, &ld)
	if ld.Name != "Ops (legacy)" {
		t.Errorf("get legacy dashboard: %+v", ld)
	}

	lv, _ := pageWalk[wireLakeview](c, "/api/2.0/lakeview/dashboards?page_size=1", "dashboards")
	if len(lv) != 3 {
		t.Errorf("lakeview without trashed: %d, want 3", len(lv))
	}
	for _, d := range lv {
		if d.LifecycleState != "ACTIVE" || len(d.DashboardID) != 32 {
			t.Errorf("lakeview dashboard: %+v", d)
		}
	}
	lvAll, _ := pageWalk[wireLakeview](c, "/api/2.0/lakeview/dashboards?show_trashed=true", "dashboards")
	if len(lvAll) != 4 || lvAll[2].LifecycleState != "TRASHED" {
		t.Errorf("lakeview with trashed: %+v", lvAll)
	}
	var raw map[string]any
	c.get("/api/2.0/lakeview/dashboards/"+lv[0].DashboardID, &raw)
	for _, k := range []string{"owner", "owner_user_name", "creator", "user"} {
		if _, ok := raw[k]; ok {
			t.Errorf("lakeview dashboard has an owner field %q; ownership is only in permissions", k)
		}
	}
	c.wantError(http.MethodGet, "/api/2.0/lakeview/dashboards/"+strings.Repeat("0", 32), 404, "RESOURCE_DOES_NOT_EXIST", "")
}

func TestObjectsEndpointsAndApps(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)
	var eps struct {
		Endpoints []wireEndpoint `json:"endpoints"`
	}
	c.get("/api/2.0/serving-endpoints", &eps)
	if len(eps.Endpoints) != 2 || eps.Endpoints[0].Creator != objElena || len(eps.Endpoints[0].ID) != 32 || eps.Endpoints[0].State["ready"] != "READY" {
		t.Errorf("serving endpoints: %+v", eps.Endpoints)
	}
	var ep wireEndpoint
	c.get("/api/2.0/serving-endpoints/support-bot", &ep)
	if ep.Creator != objFarid {
		t.Errorf("get endpoint: %+v", ep)
	}
	c.wantError(http.MethodGet, "/api/2.0/serving-endpoints/nope", 404, "RESOURCE_DOES_NOT_EXIST", "nope")

	apps, _ := pageWalk[wireApp](c, "/api/2.0/apps", "apps")
	if len(apps) != 1 {
		t.Fatalf("apps: %+v", apps)
	}
	if a := apps[0]; a.Creator != objElena || a.ServicePrincipalClientID != "26e15e4b-14d9-4c40-adb9-88eea14e6b5b" ||
		a.ServicePrincipalID != 1300000000000003 || a.ServicePrincipalName != "bi-refresh" || a.AppStatus.State != "RUNNING" {
		t.Errorf("app: %+v", a)
	}
	c.wantError(http.MethodGet, "/api/2.0/apps/nope", 404, "NOT_FOUND", "nope")

	// The ML workspace has its own objects.
	ml := objAdmin(t, srv, wsML)
	apps, _ = pageWalk[wireApp](ml, "/api/2.0/apps", "apps")
	if len(apps) != 1 || apps[0].Name != "model-explorer" || apps[0].AppStatus.State == "RUNNING" {
		t.Errorf("ml apps: %+v", apps)
	}
}

func TestObjectsRateLimitClass(t *testing.T) {
	srv := newObjServer(t, Options{RateLimits: map[string]float64{ClassDefault: 1}})
	c := objAdmin(t, srv, wsProd)
	var v any
	c.get("/api/2.2/jobs/list", &v)
	c.wantError(http.MethodGet, "/api/2.1/clusters/list", 429, "REQUEST_LIMIT_EXCEEDED", "default")
	// Other workspaces have their own buckets.
	objAdmin(t, srv, wsML).get("/api/2.1/clusters/list", &v)
}

// objACL is the ObjectPermissions reply of the permissions API, reduced to
// "<principal name>=<level>" entries.
func objACL(c objClient, typ, id string) (objectType string, entries []string) {
	c.t.Helper()
	var resp struct {
		ObjectID          string `json:"object_id"`
		ObjectType        string `json:"object_type"`
		AccessControlList []struct {
			UserName             string `json:"user_name"`
			GroupName            string `json:"group_name"`
			ServicePrincipalName string `json:"service_principal_name"`
			AllPermissions       []struct {
				PermissionLevel     string   `json:"permission_level"`
				Inherited           *bool    `json:"inherited"`
				InheritedFromObject []string `json:"inherited_from_object"`
			} `json:"all_permissions"`
		} `json:"access_control_list"`
	}
	c.get("/api/2.0/permissions/"+typ+"/"+id, &resp)
	for _, e := range resp.AccessControlList {
		for _, p := range e.AllPermissions {
			entry := e.UserName + e.GroupName + e.ServicePrincipalName + "=" + p.PermissionLevel
			switch {
			case p.Inherited == nil:
				c.t.Errorf("%s/%s: %s has no inherited field", typ, id, entry)
			case *p.Inherited:
				entry += "<" + strings.Join(p.InheritedFromObject, ",")
			case len(p.InheritedFromObject) > 0:
				c.t.Errorf("%s/%s: direct %s names sources %v", typ, id, entry, p.InheritedFromObject)
			}
			entries = append(entries, entry)
		}
	}
	slices.Sort(entries)
	return resp.ObjectType, entries
}

// withSeedGrants adds to want ("<name>=<level>" entries from the objects
// section) the grants that the default seed's own "grants" section gives
// object typ/id of workspace ws (a later grant to the same principal
// replaces the earlier one), and sorts the result.
func withSeedGrants(t *testing.T, ws int64, typ, id string, want []string) []string {
	t.Helper()
	ctyp, _ := canonicalType(typ)
	byName := map[string]string{}
	var order []string
	set := func(name, level string) {
		if _, ok := byName[name]; !ok {
			order = append(order, name)
		}
		byName[name] = level
	}
	for _, e := range want {
		name, level, _ := strings.Cut(e, "=")
		set(name, level)
	}
	for _, w := range DefaultSeed().Workspaces {
		if w.WorkspaceID != ws || w.Grants == nil {
			continue
		}
		for _, o := range w.Grants.Objects {
			if ot, _ := canonicalType(o.ObjectType); ot != ctyp || o.ObjectID != id {
				continue
			}
			for _, g := range o.ACL {
				set(g.UserName+g.GroupName+g.ServicePrincipalName, g.PermissionLevel)
			}
		}
	}
	var out []string
	for _, name := range order {
		out = append(out, name+"="+byName[name])
	}
	slices.Sort(out)
	return out
}

func TestObjectsPermissions(t *testing.T) {
	srv := newObjServer(t, Options{})
	c := objAdmin(t, srv, wsProd)
	var clusters struct {
		Clusters []wireCluster `json:"clusters"`
	}
	c.get("/api/2.1/clusters/list?page_size=100", &clusters)
	clusterID := map[string]string{}
	for _, cl := range clusters.Clusters {
		clusterID[cl.ClusterName] = cl.ClusterID
	}
	var pls struct {
		Statuses []wirePipelineState `json:"statuses"`
	}
	c.get("/api/2.0/pipelines?max_results=100", &pls)
	var lv struct {
		Dashboards []wireLakeview `json:"dashboards"`
	}
	c.get("/api/2.0/lakeview/dashboards", &lv)
	var eps struct {
		Endpoints []wireEndpoint `json:"endpoints"`
	}
	c.get("/api/2.0/serving-endpoints", &eps)
	var qs struct {
		Results []wireQuery `json:"results"`
	}
	c.get("/api/2.0/sql/queries", &qs)

	// Every entry names whether it is inherited; the admins group inherits
	// its grant from the type's root object (inherited "<" sources), and
	// queries and dashboards the grants of the folders holding them
	// (workspacefs.go: by default their owner's home folder).
	dir := func(path string) string { return "</directories/" + strconv.FormatInt(wsfsID(wsProd, path), 10) }
	for _, tc := range []struct {
		typ, id   string
		echo      string
		want      []string
		inherited string
	}{
		// Owner plus a grant.
		{"jobs", "101", "job", []string{"data-engineers=CAN_MANAGE_RUN", objElena + "=IS_OWNER"}, "admins=CAN_MANAGE</jobs/"},
		// Several managers.
		{"jobs", "102", "job", []string{objElena + "=IS_OWNER", objFarid + "=CAN_MANAGE"}, "admins=CAN_MANAGE</jobs/"},
		// Creator deleted: no owner left, only the group's grant.
		{"jobs", "105", "job", []string{"data-engineers=CAN_MANAGE"}, "admins=CAN_MANAGE</jobs/"},
		// Owner is not the creator.
		{"jobs", "110", "job", []string{objElena + "=IS_OWNER"}, "admins=CAN_MANAGE</jobs/"},
		{"clusters", clusterID["shared-etl"], "cluster", []string{"data-engineers=CAN_RESTART", objElena + "=CAN_MANAGE", objFarid + "=CAN_MANAGE"}, "admins=CAN_MANAGE</clusters/"},
		{"clusters", clusterID["elena-dev"], "cluster", []string{objElena + "=CAN_MANAGE"}, "admins=CAN_MANAGE</clusters/"},
		// A pipeline run as a service principal: the SP owns it, the creator manages it.
		{"pipelines", pls.Statuses[0].PipelineID, "pipelines", []string{objEtlProd + "=IS_OWNER", objElena + "=CAN_MANAGE"}, "admins=CAN_MANAGE</pipelines/"},
		{"queries", qs.Results[0].ID, "query", []string{objElena + "=CAN_MANAGE"},
			"admins=CAN_MANAGE</directories/|" + objElena + "=CAN_MANAGE" + dir("/Users/"+objElena)},
		// Team KPIs, grace's query, is stored in elena's queries folder.
		{"sql/queries", qs.Results[3].ID, "query", []string{objElena + "=CAN_MANAGE", objGrace + "=CAN_MANAGE"},
			"admins=CAN_MANAGE</directories/|" + objElena + "=CAN_MANAGE" + dir("/Users/"+objElena) + "|" + objGrace + "=CAN_EDIT" + dir("/Users/"+objElena+"/queries")},
		{"dashboards", lv.Dashboards[0].DashboardID, "dashboard", []string{objElena + "=CAN_MANAGE"},
			"admins=CAN_MANAGE</directories/|" + objElena + "=CAN_MANAGE" + dir("/Users/"+objElena)},
		{"serving-endpoints", eps.Endpoints[0].ID, "serving-endpoint", []string{objElena + "=CAN_MANAGE"}, "admins=CAN_MANAGE</serving-endpoints/"},
		{"apps", "sales-insights", "apps", []string{objElena + "=CAN_MANAGE"}, "admins=CAN_MANAGE</apps/"},
	} {
		echo, got := objACL(c, tc.typ, tc.id)
		want := append(withSeedGrants(t, wsProd, tc.typ, tc.id, tc.want), strings.Split(tc.inherited, "|")...)
		slices.Sort(want)
		if echo != tc.echo || !slices.Equal(got, want) {
			t.Errorf("%s/%s: %s %v, want %s %v", tc.typ, tc.id, echo, got, tc.echo, want)
		}
	}
	// Serving endpoints are addressed by id, not by name.
	c.wantError(http.MethodGet, "/api/2.0/permissions/serving-endpoints/churn-model", 404, "RESOURCE_DOES_NOT_EXIST", "")

	// Changing a job's owner through the permissions API changes whom it
	// runs as.
	put := `{"access_control_list":[{"user_name":"` + objFarid + `","permission_level":"IS_OWNER"}]}`
	req, _ := http.NewRequest(http.MethodPatch, srv.URL()+"/api/2.0/permissions/jobs/101", strings.NewReader(put))
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken())
	req.Header.Set("X-Databricks-Workspace-Id", strconv.FormatInt(wsProd, 10))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH permissions: %d", resp.StatusCode)
	}
	var j wireJob
	c.get("/api/2.2/jobs/get?job_id=101", &j)
	if j.RunAsUserName != objFarid || j.CreatorUserName != objElena {
		t.Errorf("after the owner change: run_as %q creator %q", j.RunAsUserName, j.CreatorUserName)
	}
}
