package sandbox

import (
	"cmp"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Workspace-object endpoints (reference §F). All are workspace routes of
// endpoint class "default" that any member of the workspace may call,
// except token management, which needs a workspace admin. Errors use the
// REST body {"error_code","message"}.
//
// What a non-admin sees: lists and gets of queries, alerts (v1, v2 and
// legacy), SQL warehouses and dashboards (legacy and Lakeview) hold only the
// objects the caller has a permission on, directly, through a group or
// inherited (the SDK documents "accessible to the user" and "that a user
// has access to"); a get of another is 403 PERMISSION_DENIED. Jobs,
// clusters, pipelines, serving endpoints and apps, whose filtering the SDK
// does not document, are filtered the same way unless
// Options.ListAllObjects is set. Workspace admins see everything.
//
//	GET    /api/2.0/token/list                                                     the caller's own tokens: unpaged {"token_infos":[PublicTokenInfo]}
//	GET    /api/2.0/token-management/tokens[?created_by_id=&created_by_username=]  unpaged {"token_infos":[...]}
//	GET    /api/2.0/token-management/tokens/{token_id}                             {"token_info":{...}}; 404 RESOURCE_DOES_NOT_EXIST
//	DELETE /api/2.0/token-management/tokens/{token_id}                             200 {}
//	GET    /api/2.{1,2}/jobs/list?limit=&offset=&page_token=&name=&expand_tasks=   limit 1-100 (default 20, else 400 INVALID_PARAMETER_VALUE);
//	                                                                               has_more, next_page_token, prev_page_token; no run_as_user_name;
//	                                                                               expand_tasks: at most 100 tasks per job, the job's has_more set when it has more
//	GET    /api/2.{1,2}/jobs/get?job_id=&page_token=                               adds run_as_user_name; 100 tasks a page, next_page_token while more remain;
//	                                                                               missing job: 400 INVALID_PARAMETER_VALUE "Job N does not exist."
//	GET    /api/2.1/clusters/list?page_size=&page_token=&filter_by.*=&sort_by.*=    page_size clamped to 100 (default 20); next/prev_page_token
//	GET    /api/2.0/clusters/list                                                  unpaged
//	GET    /api/2.{0,1}/clusters/get?cluster_id=                                   missing: 400 INVALID_PARAMETER_VALUE "Cluster X does not exist"
//	GET    /api/2.0/sql/warehouses[?page_size=&page_token=]                        unpaged unless page_size or page_token is given (clamped to 100)
//	GET    /api/2.0/sql/warehouses/{id}                                            404 RESOURCE_DOES_NOT_EXIST
//	GET    /api/2.0/pipelines?max_results=&page_token=&filter=&order_by=           max_results 1-100 (default 25, else 400); "statuses"
//	GET    /api/2.0/pipelines/{pipeline_id}                                        adds run_as and spec; 404 RESOURCE_DOES_NOT_EXIST
//	GET    /api/2.0/sql/queries?page_size=&page_token=                             "results", by creation time; page_size clamped to 100 (default 20)
//	GET    /api/2.0/sql/queries/{id}                                               Query (adds parent_path); 404 RESOURCE_DOES_NOT_EXIST
//	GET    /api/2.0/sql/alerts?page_size=&page_token=                              same paging
//	GET    /api/2.0/sql/alerts/{id}                                                Alert (adds parent_path); 404 RESOURCE_DOES_NOT_EXIST
//	GET    /api/2.0/preview/sql/queries?page=&page_size=&order=&q=                 legacy: {"count","page","page_size","results":[LegacyQuery]}; trashed
//	                                                                               queries left out; paging as legacy dashboards
//	GET    /api/2.0/preview/sql/alerts                                             legacy: a bare array of LegacyAlert
//	GET    /api/2.0/preview/sql/dashboards?page=&page_size=&order=&q=              page-number paging (page_size 1-250, default 25); empty results past the end
//	GET    /api/2.0/preview/sql/dashboards/{id}
//	GET    /api/2.0/lakeview/dashboards?page_size=&page_token=&show_trashed=&view= no owner field; page_size clamped to 100 (default 20)
//	GET    /api/2.0/lakeview/dashboards/{id}
//	GET    /api/2.0/serving-endpoints                                              unpaged {"endpoints":[...]}
//	GET    /api/2.0/serving-endpoints/{name}
//	GET    /api/2.0/apps?page_size=&page_token=                                    by name; page_size clamped to 100 (default 20)
//	GET    /api/2.0/apps/{name}                                                    404 NOT_FOUND
//
// Page tokens are opaque and bound to their list (a token of another list
// is 400 INVALID_PARAMETER_VALUE "Invalid page token."). Clusters terminated
// more than 30 days ago are listed only when pinned (pinned_by_user_name,
// the pinner's user id despite its name: not in the SDK's ClusterDetails,
// but real replies carry it: the Terraform provider's recorded cluster
// list, exporter/test-data/clusters-list-response.json, has it with user
// ids as values, and a
// live-workspace test of the DataThirstLtd/azure.databricks.cicd.tools
// PowerShell module, Tests/Set-DatabricksClusterPinStatus.tests.ps1, reads
// it from GET /api/2.0/clusters/list after pinning and finds it gone after
// unpinning; see docs/recorded-replies.md). A warehouse's jdbc_url names the request's host name with
// port 443, as the service's do.
// Tokens whose owner was deleted are revoked (no longer listed).

// Page sizes of the workspace-object lists: the default when the request
// gives none, and the largest page served. Jobs and pipelines reject a size
// above the maximum (400 INVALID_PARAMETER_VALUE); the other lists clamp it.
const (
	jobsDefaultLimit = 20
	jobsMaxLimit     = 100
	// jobsTasksPage is how many tasks a job carries in jobs/list
	// (expand_tasks) and in each page of jobs/get: "Read endpoints return
	// only 100 tasks. If more than 100 tasks are available, you can paginate
	// through them using jobs/get" (SDK v0.175.0 jobs JobSettings.Tasks,
	// BaseJob.HasMore; the SDK's JobsAPI.Get and List follow them).
	jobsTasksPage           = 100
	clustersDefaultPage     = 20
	clustersMaxPage         = 100
	pipelinesDefaultPage    = 25
	pipelinesMaxPage        = 100
	sqlDefaultPage          = 20 // warehouses (when paged), queries, alerts
	sqlMaxPage              = 100
	legacyDashDefaultPage   = 25
	legacyDashMaxPage       = 250
	lakeviewDefaultPage     = 20
	lakeviewMaxPage         = 100
	appsDefaultPage         = 20
	appsMaxPage             = 100
	clusterListRetention    = 30 * 24 * time.Hour
	errInvalidParameter     = "INVALID_PARAMETER_VALUE"
	errResourceDoesNotExist = "RESOURCE_DOES_NOT_EXIST"
)

// registerObjects registers the workspace-object routes.
func registerObjects(s *Server) {
	get := func(pattern string, acc access, h func(*call) error) {
		s.handle(route{method: http.MethodGet, pattern: pattern, class: ClassDefault,
			scope: scopeWorkspace, access: acc, handle: h})
	}
	get("/api/2.0/token/list", accessMember, listOwnTokens)
	get("/api/2.0/token-management/tokens", accessWorkspaceAdmin, listTokens)
	get("/api/2.0/token-management/tokens/{token_id}", accessWorkspaceAdmin, getToken)
	s.handle(route{method: http.MethodDelete, pattern: "/api/2.0/token-management/tokens/{token_id}",
		class: ClassDefault, scope: scopeWorkspace, access: accessWorkspaceAdmin, write: true, handle: deleteToken})
	for _, v := range []string{"2.1", "2.2"} {
		get("/api/"+v+"/jobs/list", accessMember, listJobs)
		get("/api/"+v+"/jobs/get", accessMember, getJob)
	}
	get("/api/2.1/clusters/list", accessMember, listClusters)
	get("/api/2.0/clusters/list", accessMember, listClustersV20)
	get("/api/2.1/clusters/get", accessMember, getCluster)
	get("/api/2.0/clusters/get", accessMember, getCluster)
	get("/api/2.0/sql/warehouses", accessMember, listWarehouses)
	get("/api/2.0/sql/warehouses/{id}", accessMember, getWarehouse)
	get("/api/2.0/pipelines", accessMember, listPipelines)
	get("/api/2.0/pipelines/{pipeline_id}", accessMember, getPipeline)
	get("/api/2.0/sql/queries", accessMember, listQueries)
	get("/api/2.0/sql/queries/{id}", accessMember, getQuery)
	get("/api/2.0/sql/alerts", accessMember, listAlerts)
	get("/api/2.0/sql/alerts/{id}", accessMember, getAlert)
	get("/api/2.0/preview/sql/queries", accessMember, listLegacyQueries)
	get("/api/2.0/preview/sql/alerts", accessMember, listLegacyAlerts)
	get("/api/2.0/preview/sql/dashboards", accessMember, listLegacyDashboards)
	get("/api/2.0/preview/sql/dashboards/{id}", accessMember, getLegacyDashboard)
	get("/api/2.0/lakeview/dashboards", accessMember, listLakeview)
	get("/api/2.0/lakeview/dashboards/{id}", accessMember, getLakeview)
	get("/api/2.0/serving-endpoints", accessMember, listEndpoints)
	get("/api/2.0/serving-endpoints/{name}", accessMember, getEndpoint)
	get("/api/2.0/apps", accessMember, listApps)
	get("/api/2.0/apps/{name}", accessMember, getApp)
}

// ---- paging helpers ----

// pageToken encodes an offset into an opaque token bound to a list.
func pageToken(list string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + ":" + strconv.Itoa(offset)))
}

// parsePageToken decodes a token made by pageToken for the same list.
func parsePageToken(list, tok string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), list+":"); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, restErr(http.StatusBadRequest, errInvalidParameter, "Invalid page token.")
}

// intParam reads an integer query parameter; ok is false when it is absent.
func intParam(q url.Values, name string) (v int, ok bool, err error) {
	s := q.Get(name)
	if s == "" {
		return 0, false, nil
	}
	v, perr := strconv.Atoi(s)
	if perr != nil {
		return 0, true, restErr(http.StatusBadRequest, errInvalidParameter,
			"Invalid value for parameter %s: %q is not an integer.", name, s)
	}
	return v, true, nil
}

// boolParam reads a boolean query parameter ("true"/"false").
func boolParam(q url.Values, name string) (bool, error) {
	s := q.Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, restErr(http.StatusBadRequest, errInvalidParameter,
			"Invalid value for parameter %s: %q is not a boolean.", name, s)
	}
	return v, nil
}

// tokenPage serves one page of a page-token list: size from sizeParam
// (default def, clamped to max; reject makes an out-of-range size a 400),
// offset from page_token. It returns the window [from, to) and the next
// token ("" on the last page).
func tokenPage(c *call, list string, n int, sizeParam string, def, maxSize int, reject bool) (from, to int, next string, err error) {
	q := c.r.URL.Query()
	size, ok, err := intParam(q, sizeParam)
	if err != nil {
		return 0, 0, "", err
	}
	switch {
	case !ok:
		size = def
	case reject && (size < 1 || size > maxSize):
		return 0, 0, "", restErr(http.StatusBadRequest, errInvalidParameter,
			"%s must be between 1 and %d, got %d.", sizeParam, maxSize, size)
	case size < 1:
		size = def
	case size > maxSize:
		size = maxSize
	}
	if t := q.Get("page_token"); t != "" {
		if from, err = parsePageToken(list, t); err != nil {
			return 0, 0, "", err
		}
	}
	from = min(from, n)
	to = min(from+size, n)
	if to < n {
		next = pageToken(list, to)
	}
	return from, to, next, nil
}

func msRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ---- token management ----

type wireTokenInfo struct {
	TokenID           string   `json:"token_id"`
	CreatedByID       int64    `json:"created_by_id"`
	CreatedByUsername string   `json:"created_by_username"`
	OwnerID           int64    `json:"owner_id"`
	Comment           string   `json:"comment,omitempty"`
	CreationTime      int64    `json:"creation_time"`
	ExpiryTime        int64    `json:"expiry_time"`
	LastUsedDay       int64    `json:"last_used_day,omitempty"`
	WorkspaceID       int64    `json:"workspace_id"`
	Scopes            []string `json:"scopes,omitempty"`
}

func (c *call) tokenInfo(t *patObj) wireTokenInfo {
	return wireTokenInfo{TokenID: t.id, CreatedByID: numericID(t.createdByID), CreatedByUsername: t.createdByName,
		OwnerID: numericID(t.ownerID), Comment: t.comment, CreationTime: t.created, ExpiryTime: t.expiry,
		LastUsedDay: t.lastUsedDay, WorkspaceID: c.ws.id, Scopes: t.scopes}
}

// liveTokens are the workspace's tokens whose owner still exists (deleting
// a principal revokes its tokens).
func (c *call) liveTokens() []*patObj {
	var out []*patObj
	for _, t := range c.s.objects(c.ws).tokens {
		if c.s.st.get(t.ownerID) != nil {
			out = append(out, t)
		}
	}
	return out
}

func listTokens(c *call) error {
	q := c.r.URL.Query()
	byID, hasID, err := intParam(q, "created_by_id")
	if err != nil {
		return err
	}
	byName := q.Get("created_by_username")
	out := []wireTokenInfo{}
	for _, t := range c.liveTokens() {
		if hasID && numericID(t.createdByID) != int64(byID) {
			continue
		}
		if byName != "" && !strings.EqualFold(t.createdByName, byName) {
			continue
		}
		out = append(out, c.tokenInfo(t))
	}
	return c.reply(http.StatusOK, map[string]any{"token_infos": out})
}

// listOwnTokens serves GET /api/2.0/token/list: the caller's own live
// tokens in the workspace, as PublicTokenInfo (no owner or creator fields).
func listOwnTokens(c *call) error {
	type publicTokenInfo struct {
		TokenID      string   `json:"token_id"`
		Comment      string   `json:"comment,omitempty"`
		CreationTime int64    `json:"creation_time"`
		ExpiryTime   int64    `json:"expiry_time"`
		Scopes       []string `json:"scopes,omitempty"`
	}
	out := []publicTokenInfo{}
	for _, t := range c.liveTokens() {
		if c.actor != nil && t.ownerID == c.actor.id {
			out = append(out, publicTokenInfo{TokenID: t.id, Comment: t.comment, CreationTime: t.created,
				ExpiryTime: t.expiry, Scopes: t.scopes})
		}
	}
	return c.reply(http.StatusOK, map[string]any{"token_infos": out})
}

// denied is the reply to a get of an object the caller cannot see.
func (c *call) denied(typ, id string) error {
	return restErr(http.StatusForbidden, "PERMISSION_DENIED",
		"%s does not have permission to view %s.", c.actor.name(), objectPath(objectKey{typ, id}))
}

func (c *call) findToken() (*patObj, error) {
	id := c.r.PathValue("token_id")
	for _, t := range c.liveTokens() {
		if t.id == id {
			return t, nil
		}
	}
	return nil, restErr(http.StatusNotFound, errResourceDoesNotExist, "Token with id %s does not exist.", id)
}

func getToken(c *call) error {
	t, err := c.findToken()
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, map[string]any{"token_info": c.tokenInfo(t)})
}

func deleteToken(c *call) error {
	t, err := c.findToken()
	if err != nil {
		return err
	}
	o := c.s.objects(c.ws)
	o.tokens = slices.DeleteFunc(o.tokens, func(x *patObj) bool { return x == t })
	return c.reply(http.StatusOK, map[string]any{})
}

// ---- jobs ----

type wireJobSettings struct {
	Name               string                  `json:"name"`
	RunAs              *SeedRunAs              `json:"run_as,omitempty"`
	Schedule           *SeedSchedule           `json:"schedule,omitempty"`
	Trigger            *SeedTrigger            `json:"trigger,omitempty"`
	Continuous         *SeedContinuous         `json:"continuous,omitempty"`
	Tasks              []wireTask              `json:"tasks,omitempty"`
	EmailNotifications *SeedEmailNotifications `json:"email_notifications,omitempty"`
	Tags               map[string]string       `json:"tags,omitempty"`
	MaxConcurrentRuns  int                     `json:"max_concurrent_runs"`
	TimeoutSeconds     int                     `json:"timeout_seconds"`
	Format             string                  `json:"format"`
}

type wireTask struct {
	TaskKey           string            `json:"task_key"`
	NotebookTask      *wireNotebookTask `json:"notebook_task,omitempty"`
	PipelineTask      *wirePipelineTask `json:"pipeline_task,omitempty"`
	ExistingClusterID string            `json:"existing_cluster_id,omitempty"`
	TimeoutSeconds    int               `json:"timeout_seconds"`
	RunIf             string            `json:"run_if"`
}

type wirePipelineTask struct {
	PipelineID  string `json:"pipeline_id"`
	FullRefresh bool   `json:"full_refresh"`
}

type wireNotebookTask struct {
	NotebookPath string `json:"notebook_path"`
	Source       string `json:"source"`
}

type wireJob struct {
	JobID           int64            `json:"job_id"`
	CreatorUserName string           `json:"creator_user_name,omitempty"`
	RunAsUserName   string           `json:"run_as_user_name,omitempty"`
	CreatedTime     int64            `json:"created_time"`
	Settings        *wireJobSettings `json:"settings"`
	HasMore         bool             `json:"has_more,omitempty"`
	NextPageToken   string           `json:"next_page_token,omitempty"`
}

// jobOwner is the name of the job's current IS_OWNER ("" when it has none
// or its owner was deleted).
func (c *call) jobOwner(j *jobObj) string {
	acl := c.s.grants(c.ws).find(permTypeJobs, strconv.FormatInt(j.id, 10))
	if acl == nil {
		return ""
	}
	if p := c.s.st.get(acl.owner()); p != nil {
		return p.name()
	}
	return ""
}

// renderJob renders a job for list (get false) or jobs/get, with its tasks
// from the task offset from on, at most jobsTasksPage of them: a list
// marks a job with more as has_more, a get gives the next page's token.
func (c *call) renderJob(j *jobObj, get, tasks bool, from int) wireJob {
	out := wireJob{JobID: j.id, CreatedTime: j.created, Settings: &wireJobSettings{
		Name: j.name, RunAs: j.runAs, Schedule: j.schedule, Trigger: j.trigger, Continuous: j.continuous,
		EmailNotifications: j.email, Tags: j.tags, MaxConcurrentRuns: 1, Format: "MULTI_TASK"}}
	if c.s.st.liveName(c.ws, j.creator) {
		out.CreatorUserName = j.creator
	}
	if tasks || get {
		from = min(from, len(j.tasks))
		to := min(from+jobsTasksPage, len(j.tasks))
		switch {
		case to < len(j.tasks) && get:
			out.NextPageToken = pageToken("jobtasks-"+strconv.FormatInt(j.id, 10), to)
		case to < len(j.tasks):
			out.HasMore = true
		}
		for _, t := range j.tasks[from:to] {
			wt := wireTask{TaskKey: t.TaskKey, ExistingClusterID: t.ExistingClusterID, RunIf: "ALL_SUCCESS"}
			if t.NotebookPath != "" {
				wt.NotebookTask = &wireNotebookTask{NotebookPath: t.NotebookPath, Source: "WORKSPACE"}
			}
			if t.PipelineID != "" {
				wt.PipelineTask = &wirePipelineTask{PipelineID: t.PipelineID}
			}
			out.Settings.Tasks = append(out.Settings.Tasks, wt)
		}
	}
	if get {
		switch {
		case j.runAs != nil:
			out.RunAsUserName = j.runAs.name()
		case c.jobOwner(j) != "":
			out.RunAsUserName = c.jobOwner(j)
		default:
			out.RunAsUserName = j.creator
		}
	}
	return out
}

func listJobs(c *call) error {
	q := c.r.URL.Query()
	limit, ok, err := intParam(q, "limit")
	if err != nil {
		return err
	}
	if !ok {
		limit = jobsDefaultLimit
	} else if limit < 1 || limit > jobsMaxLimit {
		return restErr(http.StatusBadRequest, errInvalidParameter,
			"The limit %d is invalid: it must be between 1 and %d.", limit, jobsMaxLimit)
	}
	offset, _, err := intParam(q, "offset")
	if err != nil {
		return err
	}
	if offset < 0 {
		return restErr(http.StatusBadRequest, errInvalidParameter, "The offset %d is invalid: it must not be negative.", offset)
	}
	if t := q.Get("page_token"); t != "" {
		if offset, err = parsePageToken("jobs", t); err != nil {
			return err
		}
	}
	expand, err := boolParam(q, "expand_tasks")
	if err != nil {
		return err
	}
	name := q.Get("name")
	var jobs []*jobObj
	for _, j := range c.s.objects(c.ws).jobs {
		if (name == "" || strings.EqualFold(j.name, name)) && c.canSeeListed(permTypeJobs, strconv.FormatInt(j.id, 10)) {
			jobs = append(jobs, j)
		}
	}
	from := min(offset, len(jobs))
	to := min(from+limit, len(jobs))
	resp := struct {
		Jobs          []wireJob `json:"jobs,omitempty"`
		HasMore       bool      `json:"has_more"`
		NextPageToken string    `json:"next_page_token,omitempty"`
		PrevPageToken string    `json:"prev_page_token,omitempty"`
	}{HasMore: to < len(jobs)}
	for _, j := range jobs[from:to] {
		resp.Jobs = append(resp.Jobs, c.renderJob(j, false, expand, 0))
	}
	if resp.HasMore {
		resp.NextPageToken = pageToken("jobs", to)
	}
	if from > 0 {
		resp.PrevPageToken = pageToken("jobs", max(0, from-limit))
	}
	return c.reply(http.StatusOK, resp)
}

func getJob(c *call) error {
	s := c.r.URL.Query().Get("job_id")
	if s == "" {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: job_id")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid value for parameter job_id: %q is not a job id.", s)
	}
	for _, j := range c.s.objects(c.ws).jobs {
		if j.id == id {
			if !c.canSeeListed(permTypeJobs, s) {
				return c.denied(permTypeJobs, s)
			}
			from := 0
			if t := c.r.URL.Query().Get("page_token"); t != "" {
				if from, err = parsePageToken("jobtasks-"+strconv.FormatInt(j.id, 10), t); err != nil {
					return err
				}
			}
			return c.reply(http.StatusOK, c.renderJob(j, true, true, from))
		}
	}
	return restErr(http.StatusBadRequest, errInvalidParameter, "Job %d does not exist.", id)
}

// ---- clusters ----

type wireCluster struct {
	ClusterID              string            `json:"cluster_id"`
	ClusterName            string            `json:"cluster_name"`
	CreatorUserName        string            `json:"creator_user_name,omitempty"`
	SingleUserName         string            `json:"single_user_name,omitempty"`
	DataSecurityMode       string            `json:"data_security_mode"`
	ClusterSource          string            `json:"cluster_source"`
	State                  string            `json:"state"`
	StateMessage           string            `json:"state_message,omitempty"`
	SparkVersion           string            `json:"spark_version"`
	NodeTypeID             string            `json:"node_type_id"`
	DriverNodeTypeID       string            `json:"driver_node_type_id"`
	NumWorkers             int               `json:"num_workers"`
	AutoterminationMinutes int               `json:"autotermination_minutes"`
	PolicyID               string            `json:"policy_id,omitempty"`
	CustomTags             map[string]string `json:"custom_tags,omitempty"`
	DefaultTags            map[string]string `json:"default_tags"`
	StartTime              int64             `json:"start_time"`
	TerminatedTime         int64             `json:"terminated_time,omitempty"`
	PinnedByUserName       string            `json:"pinned_by_user_name,omitempty"`
}

// renderCluster renders a cluster as lists and gets return it. Its
// pinned_by_user_name is, despite the name, the pinner's user id: both
// pinned clusters of the Terraform provider's recorded list
// (exporter/test-data/clusters-list-response.json) carry a number there
// ("661448457191611", "100095"). Callers hold s.mu.
func renderCluster(c *call, cl *clusterObj) wireCluster {
	out := wireCluster{ClusterID: cl.ClusterID, ClusterName: cl.ClusterName, CreatorUserName: cl.Creator,
		SingleUserName: cl.SingleUserName, DataSecurityMode: cl.DataSecurityMode, ClusterSource: cl.ClusterSource,
		State: cl.State, SparkVersion: cmp.Or(cl.SparkVersion, "15.4.x-scala2.12"),
		NodeTypeID: cmp.Or(cl.NodeTypeID, "i3.xlarge"), NumWorkers: cl.NumWorkers,
		AutoterminationMinutes: cl.AutoterminationMinutes, PolicyID: cl.PolicyID, CustomTags: cl.CustomTags,
		StartTime: cl.started, TerminatedTime: cl.terminated, PinnedByUserName: c.pinnerID(cl.PinnedBy),
		DefaultTags: map[string]string{"Vendor": "Databricks", "Creator": cl.Creator,
			"ClusterName": cl.ClusterName, "ClusterId": cl.ClusterID}}
	out.DriverNodeTypeID = out.NodeTypeID
	if cl.State == "TERMINATED" {
		out.StateMessage = "Inactive cluster terminated (inactive for 120 minutes)."
	}
	return out
}

// pinnerID is the id of the user who pinned a cluster ("" if none); the
// seed names the pinner, a live principal of the workspace when the seed
// was loaded. A pinner deleted since keeps its name, as no id is left.
func (c *call) pinnerID(name string) string {
	if name == "" {
		return ""
	}
	if p := c.s.st.findPrincipal(c.ws, name); p != nil {
		return p.id
	}
	return name
}

var clusterStateRank = map[string]int{"RUNNING": 0, "PENDING": 1, "RESTARTING": 2, "RESIZING": 3,
	"TERMINATING": 4, "TERMINATED": 5, "ERROR": 6, "UNKNOWN": 7}

// listedClusters are the clusters lists return: all but those terminated
// more than 30 days ago and not pinned.
func (c *call) listedClusters() []*clusterObj {
	var out []*clusterObj
	cut := c.now.Add(-clusterListRetention).UnixMilli()
	for _, cl := range c.s.objects(c.ws).clusters {
		if cl.State == "TERMINATED" && cl.PinnedBy == "" && cl.terminated < cut {
			continue
		}
		if !c.canSeeListed(permTypeClusters, cl.ClusterID) {
			continue
		}
		out = append(out, cl)
	}
	return out
}

func listClustersV20(c *call) error {
	out := []wireCluster{}
	for _, cl := range c.listedClusters() {
		out = append(out, renderCluster(c, cl))
	}
	return c.reply(http.StatusOK, map[string]any{"clusters": out})
}

func listClusters(c *call) error {
	q := c.r.URL.Query()
	sources := q["filter_by.cluster_sources"]
	states := q["filter_by.cluster_states"]
	pinned, err := boolParam(q, "filter_by.is_pinned")
	if err != nil {
		return err
	}
	policy := q.Get("filter_by.policy_id")
	for _, v := range sources {
		if !oneOf(v, "UI", "API", "JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS") {
			return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid cluster source %q.", v)
		}
	}
	for _, v := range states {
		if _, ok := clusterStateRank[v]; !ok {
			return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid cluster state %q.", v)
		}
	}
	field, dir := q.Get("sort_by.field"), q.Get("sort_by.direction")
	if !oneOf(field, "", "DEFAULT", "CLUSTER_NAME") || !oneOf(dir, "", "ASC", "DESC") {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid sort_by %q %q.", field, dir)
	}
	var sel []*clusterObj
	for _, cl := range c.listedClusters() {
		switch {
		case len(sources) > 0 && !slices.Contains(sources, cl.ClusterSource),
			len(states) > 0 && !slices.Contains(states, cl.State),
			pinned && cl.PinnedBy == "",
			policy != "" && cl.PolicyID != policy:
			continue
		}
		sel = append(sel, cl)
	}
	byName := func(a, b *clusterObj) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.ClusterName), strings.ToLower(b.ClusterName)),
			strings.Compare(a.ClusterID, b.ClusterID))
	}
	if field == "CLUSTER_NAME" {
		slices.SortStableFunc(sel, byName)
	} else {
		slices.SortStableFunc(sel, func(a, b *clusterObj) int {
			pa, pb := a.PinnedBy == "", b.PinnedBy == ""
			return cmp.Or(cmp.Compare(clusterStateRank[a.State], clusterStateRank[b.State]),
				compareBool(pa, pb), byName(a, b))
		})
	}
	if dir == "DESC" {
		slices.Reverse(sel)
	}
	from, to, next, err := tokenPage(c, "clusters", len(sel), "page_size", clustersDefaultPage, clustersMaxPage, false)
	if err != nil {
		return err
	}
	resp := struct {
		Clusters      []wireCluster `json:"clusters,omitempty"`
		NextPageToken string        `json:"next_page_token,omitempty"`
		PrevPageToken string        `json:"prev_page_token,omitempty"`
	}{NextPageToken: next}
	for _, cl := range sel[from:to] {
		resp.Clusters = append(resp.Clusters, renderCluster(c, cl))
	}
	if from > 0 {
		resp.PrevPageToken = pageToken("clusters", max(0, from-(to-from)))
	}
	return c.reply(http.StatusOK, resp)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func getCluster(c *call) error {
	id := c.r.URL.Query().Get("cluster_id")
	if id == "" {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: cluster_id")
	}
	for _, cl := range c.s.objects(c.ws).clusters {
		if cl.ClusterID == id {
			if !c.canSeeListed(permTypeClusters, id) {
				return c.denied(permTypeClusters, id)
			}
			return c.reply(http.StatusOK, renderCluster(c, cl))
		}
	}
	return restErr(http.StatusBadRequest, errInvalidParameter, "Cluster %s does not exist", id)
}

// ---- SQL warehouses ----

type wireWarehouse struct {
	ID                      string `json:"id"`
	Name                    string `json:"name"`
	CreatorName             string `json:"creator_name,omitempty"`
	State                   string `json:"state"`
	ClusterSize             string `json:"cluster_size"`
	WarehouseType           string `json:"warehouse_type"`
	EnableServerlessCompute bool   `json:"enable_serverless_compute"`
	AutoStopMins            int    `json:"auto_stop_mins"`
	MinNumClusters          int    `json:"min_num_clusters"`
	MaxNumClusters          int    `json:"max_num_clusters"`
	NumClusters             int    `json:"num_clusters"`
	JdbcURL                 string `json:"jdbc_url"`
}

func (c *call) renderWarehouse(w *warehouseObj) wireWarehouse {
	out := wireWarehouse{ID: w.ID, Name: w.Name, CreatorName: w.Creator, State: w.State,
		ClusterSize: cmp.Or(w.ClusterSize, "Small"), WarehouseType: cmp.Or(w.WarehouseType, "PRO"),
		EnableServerlessCompute: w.Serverless, AutoStopMins: cmp.Or(w.AutoStopMins, 10),
		MinNumClusters: 1, MaxNumClusters: 1,
		JdbcURL: "jdbc:spark://" + hostName(c.r.Host) + ":443/default;transportMode=http;ssl=1;AuthMech=3;httpPath=/sql/1.0/warehouses/" + w.ID + ";"}
	if w.State == "RUNNING" {
		out.NumClusters = 1
	}
	return out
}

// hostName is host (a request's Host, "name[:port]") without its port.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

func listWarehouses(c *call) error {
	var all []*warehouseObj
	for _, w := range c.s.objects(c.ws).warehouses {
		if c.canSee(permTypeWarehouses, w.ID) {
			all = append(all, w)
		}
	}
	q := c.r.URL.Query()
	from, to, next := 0, len(all), ""
	if q.Get("page_size") != "" || q.Get("page_token") != "" {
		var err error
		if from, to, next, err = tokenPage(c, "warehouses", len(all), "page_size", sqlDefaultPage, sqlMaxPage, false); err != nil {
			return err
		}
	}
	resp := struct {
		Warehouses    []wireWarehouse `json:"warehouses"`
		NextPageToken string          `json:"next_page_token,omitempty"`
	}{Warehouses: []wireWarehouse{}, NextPageToken: next}
	for _, w := range all[from:to] {
		resp.Warehouses = append(resp.Warehouses, c.renderWarehouse(w))
	}
	return c.reply(http.StatusOK, resp)
}

func getWarehouse(c *call) error {
	id := c.r.PathValue("id")
	for _, w := range c.s.objects(c.ws).warehouses {
		if w.ID == id {
			if !c.canSee(permTypeWarehouses, id) {
				return c.denied(permTypeWarehouses, id)
			}
			return c.reply(http.StatusOK, c.renderWarehouse(w))
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Warehouse %s does not exist.", id)
}

// ---- pipelines ----

type wirePipelineState struct {
	PipelineID      string `json:"pipeline_id"`
	Name            string `json:"name"`
	CreatorUserName string `json:"creator_user_name,omitempty"`
	RunAsUserName   string `json:"run_as_user_name,omitempty"`
	State           string `json:"state"`
	ClusterID       string `json:"cluster_id,omitempty"`
	Health          string `json:"health,omitempty"`
}

type wirePipelineSpec struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Catalog     string `json:"catalog,omitempty"`
	Target      string `json:"target,omitempty"`
	Continuous  bool   `json:"continuous"`
	Development bool   `json:"development"`
	Serverless  bool   `json:"serverless"`
	// Libraries are {"notebook": {"path": ...}} or {"file": {"path": ...}}.
	Libraries []map[string]map[string]string `json:"libraries,omitempty"`
}

// wirePipeline is a pipeline as GET /api/2.0/pipelines/{id} returns it.
// The sandbox runs no updates: latest_updates is always empty, as in the
// Terraform provider's recorded idle pipeline
// (exporter/test-data/get-dlt-pipeline.json).
type wirePipeline struct {
	wirePipelineState
	RunAs         *SeedRunAs       `json:"run_as,omitempty"`
	LastModified  int64            `json:"last_modified"`
	LatestUpdates []struct{}       `json:"latest_updates"`
	Spec          wirePipelineSpec `json:"spec"`
}

func renderPipelineState(p *pipelineObj) wirePipelineState {
	out := wirePipelineState{PipelineID: p.PipelineID, Name: p.Name, CreatorUserName: p.Creator,
		RunAsUserName: p.runAs.name(), State: p.State, ClusterID: p.ClusterID}
	switch p.State {
	case "FAILED":
		out.Health = "UNHEALTHY"
	default:
		out.Health = "HEALTHY"
	}
	return out
}

// pipelineFilter matches the filter expressions the sandbox supports:
// name LIKE '<pattern with % and _>' and name = '<name>'.
var rePipelineFilter = regexp.MustCompile(`(?i)^\s*name\s+(like|=)\s+'((?:[^']|'')*)'\s*$`)

// nameMatcher returns a matcher for "name LIKE pattern" (% and _ wildcards,
// case-insensitive) or, when like is false, "name = pattern".
func nameMatcher(pattern string, like bool) func(string) bool {
	if !like {
		return func(s string) bool { return strings.EqualFold(pattern, s) }
	}
	var b strings.Builder
	b.WriteString("(?is)^")
	for _, r := range pattern {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString
}

func listPipelines(c *call) error {
	q := c.r.URL.Query()
	var all []*pipelineObj
	for _, p := range c.s.objects(c.ws).pipelines {
		if c.canSeeListed(permTypePipelines, p.PipelineID) {
			all = append(all, p)
		}
	}
	var sel []*pipelineObj
	if f := q.Get("filter"); f != "" {
		m := rePipelineFilter.FindStringSubmatch(f)
		if m == nil {
			return restErr(http.StatusBadRequest, errInvalidParameter,
				"Invalid filter %q: the sandbox supports name LIKE '<pattern>' and name = '<name>'.", f)
		}
		match := nameMatcher(strings.ReplaceAll(m[2], "''", "'"), strings.EqualFold(m[1], "like"))
		for _, p := range all {
			if match(p.Name) {
				sel = append(sel, p)
			}
		}
	} else {
		sel = slices.Clone(all)
	}
	order := q["order_by"]
	if len(order) > 1 {
		return restErr(http.StatusBadRequest, errInvalidParameter, "order_by accepts one field.")
	}
	field, desc := "name", false
	if len(order) == 1 {
		f, d, _ := strings.Cut(strings.TrimSpace(order[0]), " ")
		field = strings.ToLower(f)
		switch strings.ToLower(strings.TrimSpace(d)) {
		case "", "asc":
		case "desc":
			desc = true
		default:
			return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid order_by %q.", order[0])
		}
		if field != "name" && field != "id" {
			return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid order_by %q: use name or id.", order[0])
		}
	}
	slices.SortStableFunc(sel, func(a, b *pipelineObj) int {
		if field == "id" {
			return strings.Compare(a.PipelineID, b.PipelineID)
		}
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			strings.Compare(a.PipelineID, b.PipelineID))
	})
	if desc {
		slices.Reverse(sel)
	}
	from, to, next, err := tokenPage(c, "pipelines", len(sel), "max_results", pipelinesDefaultPage, pipelinesMaxPage, true)
	if err != nil {
		return err
	}
	resp := struct {
		Statuses      []wirePipelineState `json:"statuses,omitempty"`
		NextPageToken string              `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, p := range sel[from:to] {
		resp.Statuses = append(resp.Statuses, renderPipelineState(p))
	}
	return c.reply(http.StatusOK, resp)
}

func getPipeline(c *call) error {
	id := c.r.PathValue("pipeline_id")
	for _, p := range c.s.objects(c.ws).pipelines {
		if p.PipelineID == id {
			if !c.canSeeListed(permTypePipelines, id) {
				return c.denied(permTypePipelines, id)
			}
			runAs := p.runAs
			spec := wirePipelineSpec{ID: p.PipelineID, Name: p.Name,
				Catalog: p.Catalog, Target: p.Target, Continuous: p.Continuous, Serverless: p.ClusterID == ""}
			for _, l := range p.Libraries {
				if l.Notebook != "" {
					spec.Libraries = append(spec.Libraries, map[string]map[string]string{"notebook": {"path": l.Notebook}})
				}
				if l.File != "" {
					spec.Libraries = append(spec.Libraries, map[string]map[string]string{"file": {"path": l.File}})
				}
			}
			return c.reply(http.StatusOK, wirePipeline{wirePipelineState: renderPipelineState(p), RunAs: &runAs,
				LastModified: p.lastModified, LatestUpdates: []struct{}{}, Spec: spec})
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "The specified pipeline %s was not found.", id)
}

// ---- SQL queries and alerts ----

type wireQuery struct {
	ID                   string `json:"id"`
	DisplayName          string `json:"display_name"`
	OwnerUserName        string `json:"owner_user_name"`
	LastModifierUserName string `json:"last_modifier_user_name,omitempty"`
	RunAsMode            string `json:"run_as_mode"`
	WarehouseID          string `json:"warehouse_id,omitempty"`
	QueryText            string `json:"query_text,omitempty"`
	LifecycleState       string `json:"lifecycle_state"`
	CreateTime           string `json:"create_time"`
	UpdateTime           string `json:"update_time"`
}

func renderQuery(q *queryObj) wireQuery {
	state := "ACTIVE"
	if q.Trashed {
		state = "TRASHED"
	}
	return wireQuery{ID: q.ID, DisplayName: q.DisplayName,
		OwnerUserName: q.Owner, LastModifierUserName: cmp.Or(q.LastModifier, q.Owner),
		RunAsMode: cmp.Or(q.RunAsMode, "VIEWER"), WarehouseID: q.WarehouseID, QueryText: q.QueryText,
		LifecycleState: state, CreateTime: msRFC3339(q.created), UpdateTime: msRFC3339(q.created)}
}

// visibleQueries are the workspace's queries the caller can see.
func (c *call) visibleQueries() []*queryObj {
	var out []*queryObj
	for _, q := range c.s.objects(c.ws).queries {
		if c.canSee(permTypeQueries, q.ID) {
			out = append(out, q)
		}
	}
	return out
}

func listQueries(c *call) error {
	all := c.visibleQueries()
	from, to, next, err := tokenPage(c, "queries", len(all), "page_size", sqlDefaultPage, sqlMaxPage, false)
	if err != nil {
		return err
	}
	resp := struct {
		Results       []wireQuery `json:"results,omitempty"`
		NextPageToken string      `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, q := range all[from:to] {
		resp.Results = append(resp.Results, renderQuery(q))
	}
	return c.reply(http.StatusOK, resp)
}

// getQuery serves GET /api/2.0/sql/queries/{id}: the list's fields plus
// parent_path (the owner's home folder).
func getQuery(c *call) error {
	id := c.r.PathValue("id")
	for _, q := range c.s.objects(c.ws).queries {
		if q.ID == id {
			if !c.canSee(permTypeQueries, id) {
				return c.denied(permTypeQueries, id)
			}
			return c.reply(http.StatusOK, struct {
				wireQuery
				ParentPath string `json:"parent_path"`
			}{renderQuery(q), "/Users/" + q.Owner})
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Query %s does not exist.", id)
}

type wireAlert struct {
	ID                 string `json:"id"`
	DisplayName        string `json:"display_name"`
	OwnerUserName      string `json:"owner_user_name"`
	QueryID            string `json:"query_id"`
	State              string `json:"state"`
	LifecycleState     string `json:"lifecycle_state"`
	SecondsToRetrigger int    `json:"seconds_to_retrigger"`
	Condition          any    `json:"condition"`
	CreateTime         string `json:"create_time"`
	UpdateTime         string `json:"update_time"`
}

func renderAlert(a *alertObj) wireAlert {
	return wireAlert{ID: a.ID, DisplayName: a.DisplayName,
		OwnerUserName: a.Owner, QueryID: a.QueryID, State: cmp.Or(a.State, "UNKNOWN"),
		LifecycleState: "ACTIVE", Condition: map[string]any{"op": "GREATER_THAN",
			"operand":   map[string]any{"column": map[string]any{"name": "value"}},
			"threshold": map[string]any{"value": map[string]any{"double_value": 0}}},
		CreateTime: msRFC3339(a.created), UpdateTime: msRFC3339(a.created)}
}

// visibleAlerts are the workspace's alerts the caller can see.
func (c *call) visibleAlerts() []*alertObj {
	var out []*alertObj
	for _, a := range c.s.objects(c.ws).alerts {
		if c.canSee(permTypeAlerts, a.ID) {
			out = append(out, a)
		}
	}
	return out
}

func listAlerts(c *call) error {
	all := c.visibleAlerts()
	from, to, next, err := tokenPage(c, "alerts", len(all), "page_size", sqlDefaultPage, sqlMaxPage, false)
	if err != nil {
		return err
	}
	resp := struct {
		Results       []wireAlert `json:"results,omitempty"`
		NextPageToken string      `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, a := range all[from:to] {
		resp.Results = append(resp.Results, renderAlert(a))
	}
	return c.reply(http.StatusOK, resp)
}

// getAlert serves GET /api/2.0/sql/alerts/{id}: the list's fields plus
// parent_path.
func getAlert(c *call) error {
	id := c.r.PathValue("id")
	for _, a := range c.s.objects(c.ws).alerts {
		if a.ID == id {
			if !c.canSee(permTypeAlerts, id) {
				return c.denied(permTypeAlerts, id)
			}
			return c.reply(http.StatusOK, struct {
				wireAlert
				ParentPath string `json:"parent_path"`
			}{renderAlert(a), "/Users/" + a.Owner})
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Alert %s does not exist.", id)
}

// ---- legacy queries and alerts (/api/2.0/preview/sql) ----

// legacyUser renders the owner of a legacy object, nil when it is gone.
func (c *call) legacyUser(name string) *wireLegacyUser {
	p := c.s.st.findPrincipal(c.ws, name)
	if p == nil {
		return nil
	}
	return &wireLegacyUser{ID: numericID(p.id), Name: p.displayName, Email: name}
}

type wireLegacyQuery struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Query            string          `json:"query"`
	DataSourceID     string          `json:"data_source_id,omitempty"`
	User             *wireLegacyUser `json:"user,omitempty"`
	UserID           int64           `json:"user_id,omitempty"`
	LastModifiedBy   *wireLegacyUser `json:"last_modified_by,omitempty"`
	LastModifiedByID int64           `json:"last_modified_by_id,omitempty"`
	RunAsRole        string          `json:"run_as_role"`
	PermissionTier   string          `json:"permission_tier,omitempty"`
	CanEdit          bool            `json:"can_edit"`
	IsArchived       bool            `json:"is_archived"`
	IsDraft          bool            `json:"is_draft"`
	IsFavorite       bool            `json:"is_favorite"`
	IsSafe           bool            `json:"is_safe"`
	Tags             []string        `json:"tags"`
	Options          map[string]any  `json:"options"`
	CreatedAt        string          `json:"created_at"`
	UpdatedAt        string          `json:"updated_at"`
}

func (c *call) renderLegacyQuery(q *queryObj) wireLegacyQuery {
	out := wireLegacyQuery{ID: q.ID, Name: q.DisplayName, Query: q.QueryText, DataSourceID: q.WarehouseID,
		RunAsRole: strings.ToLower(cmp.Or(q.RunAsMode, "VIEWER")), IsSafe: true, Tags: []string{},
		Options: map[string]any{"parameters": []any{}}, CreatedAt: msRFC3339(q.created), UpdatedAt: msRFC3339(q.created)}
	if u := c.legacyUser(q.Owner); u != nil {
		out.User, out.UserID = u, u.ID
	}
	if u := c.legacyUser(cmp.Or(q.LastModifier, q.Owner)); u != nil {
		out.LastModifiedBy, out.LastModifiedByID = u, u.ID
	}
	switch r := c.s.effectiveRank(c, permTypeQueries, q.ID); {
	case c.admin:
		out.PermissionTier = "CAN_MANAGE"
	case r >= 0:
		out.PermissionTier = aclTypes[permTypeQueries].levels[r]
	}
	out.CanEdit = out.PermissionTier == "CAN_MANAGE" || out.PermissionTier == "CAN_EDIT"
	return out
}

// listLegacyQueries serves GET /api/2.0/preview/sql/queries: page-number
// paging (page from 1, page_size 1-250, default 25; empty results past the
// end), order name or created_at (- for descending), q a case-insensitive
// search in names. Trashed queries are not listed.
func listLegacyQueries(c *call) error {
	q := c.r.URL.Query()
	page, size, err := legacyPaging(q)
	if err != nil {
		return err
	}
	var sel []*queryObj
	term := strings.ToLower(q.Get("q"))
	for _, x := range c.visibleQueries() {
		if !x.Trashed && (term == "" || strings.Contains(strings.ToLower(x.DisplayName), term)) {
			sel = append(sel, x)
		}
	}
	order := q.Get("order")
	switch strings.TrimPrefix(order, "-") {
	case "", "created_at":
		slices.SortStableFunc(sel, func(a, b *queryObj) int { return a.created.Compare(b.created) })
	case "name":
		slices.SortStableFunc(sel, func(a, b *queryObj) int {
			return strings.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName))
		})
	default:
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid order %q: use name or created_at.", order)
	}
	if strings.HasPrefix(order, "-") {
		slices.Reverse(sel)
	}
	from := min((page-1)*size, len(sel))
	to := min(from+size, len(sel))
	results := []wireLegacyQuery{}
	for _, x := range sel[from:to] {
		results = append(results, c.renderLegacyQuery(x))
	}
	return c.reply(http.StatusOK, map[string]any{"count": len(sel), "page": page, "page_size": size, "results": results})
}

type wireLegacyAlert struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Options   map[string]any  `json:"options"`
	Query     map[string]any  `json:"query,omitempty"`
	User      *wireLegacyUser `json:"user,omitempty"`
	State     string          `json:"state"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// listLegacyAlerts serves GET /api/2.0/preview/sql/alerts: a bare array
// of LegacyAlert (state in lower case), unpaged.
func listLegacyAlerts(c *call) error {
	queries := map[string]*queryObj{}
	for _, q := range c.s.objects(c.ws).queries {
		queries[q.ID] = q
	}
	out := []wireLegacyAlert{}
	for _, a := range c.visibleAlerts() {
		la := wireLegacyAlert{ID: a.ID, Name: a.DisplayName, User: c.legacyUser(a.Owner),
			State:     strings.ToLower(cmp.Or(a.State, "UNKNOWN")),
			Options:   map[string]any{"column": "value", "op": ">", "value": 0},
			CreatedAt: msRFC3339(a.created), UpdatedAt: msRFC3339(a.created)}
		if q := queries[a.QueryID]; q != nil {
			la.Query = map[string]any{"id": q.ID, "name": q.DisplayName, "query": q.QueryText,
				"created_at": msRFC3339(q.created), "updated_at": msRFC3339(q.created)}
			if u := c.legacyUser(q.Owner); u != nil {
				la.Query["user_id"] = u.ID
			}
		}
		out = append(out, la)
	}
	return c.reply(http.StatusOK, out)
}

// ---- legacy dashboards ----

type wireLegacyUser struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type wireLegacyDashboard struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Slug      string          `json:"slug"`
	UserID    int64           `json:"user_id,omitempty"`
	User      *wireLegacyUser `json:"user,omitempty"`
	Tags      []string        `json:"tags"`
	IsArchive bool            `json:"is_archived"`
	IsDraft   bool            `json:"is_draft"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

var reSlug = regexp.MustCompile(`[^a-z0-9]+`)

func (c *call) renderLegacy(d *legacyDashObj) wireLegacyDashboard {
	out := wireLegacyDashboard{ID: d.ID, Name: d.Name, Tags: d.Tags,
		Slug:      strings.Trim(reSlug.ReplaceAllString(strings.ToLower(d.Name), "-"), "-"),
		CreatedAt: msRFC3339(d.created), UpdatedAt: msRFC3339(d.created)}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if p := c.s.st.findPrincipal(c.ws, d.Owner); p != nil {
		out.UserID = d.userID
		out.User = &wireLegacyUser{ID: d.userID, Name: p.displayName, Email: d.Owner}
	}
	return out
}

// legacyPaging reads the page-number paging of the legacy SQL lists: page
// (from 1, default 1) and page_size (1-250, default 25).
func legacyPaging(q url.Values) (page, size int, err error) {
	page, ok, err := intParam(q, "page")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		page = 1
	} else if page < 1 {
		return 0, 0, restErr(http.StatusBadRequest, errInvalidParameter, "page must be at least 1, got %d.", page)
	}
	size, ok, err = intParam(q, "page_size")
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		size = legacyDashDefaultPage
	} else if size < 1 || size > legacyDashMaxPage {
		return 0, 0, restErr(http.StatusBadRequest, errInvalidParameter,
			"page_size must be between 1 and %d, got %d.", legacyDashMaxPage, size)
	}
	return page, size, nil
}

func listLegacyDashboards(c *call) error {
	q := c.r.URL.Query()
	page, size, err := legacyPaging(q)
	if err != nil {
		return err
	}
	var sel []*legacyDashObj
	term := strings.ToLower(q.Get("q"))
	for _, d := range c.s.objects(c.ws).legacy {
		if (term == "" || strings.Contains(strings.ToLower(d.Name), term)) && c.canSee(permTypeLegacyDashboards, d.ID) {
			sel = append(sel, d)
		}
	}
	order := q.Get("order")
	desc := strings.HasPrefix(order, "-")
	switch strings.TrimPrefix(order, "-") {
	case "", "created_at":
		slices.SortStableFunc(sel, func(a, b *legacyDashObj) int { return a.created.Compare(b.created) })
	case "name":
		slices.SortStableFunc(sel, func(a, b *legacyDashObj) int {
			return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		})
	default:
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid order %q: use name or created_at.", order)
	}
	if desc {
		slices.Reverse(sel)
	}
	from := min((page-1)*size, len(sel))
	to := min(from+size, len(sel))
	results := []wireLegacyDashboard{}
	for _, d := range sel[from:to] {
		results = append(results, c.renderLegacy(d))
	}
	return c.reply(http.StatusOK, map[string]any{"count": len(sel), "page": page, "page_size": size, "results": results})
}

func getLegacyDashboard(c *call) error {
	id := c.r.PathValue("id")
	for _, d := range c.s.objects(c.ws).legacy {
		if d.ID == id {
			if !c.canSee(permTypeLegacyDashboards, id) {
				return c.denied(permTypeLegacyDashboards, id)
			}
			return c.reply(http.StatusOK, c.renderLegacy(d))
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Dashboard %s does not exist.", id)
}

// ---- Lakeview dashboards ----

// wireLakeview is a Lakeview dashboard. Lists leave out path, parent_path,
// update_time and etag ("excluded in List Dashboards responses", API docs'
// Dashboard object); a get has them.
type wireLakeview struct {
	DashboardID    string `json:"dashboard_id"`
	DisplayName    string `json:"display_name"`
	WarehouseID    string `json:"warehouse_id,omitempty"`
	LifecycleState string `json:"lifecycle_state"`
	Path           string `json:"path,omitempty"`
	ParentPath     string `json:"parent_path,omitempty"`
	Etag           string `json:"etag,omitempty"`
	CreateTime     string `json:"create_time"`
	UpdateTime     string `json:"update_time,omitempty"`
}

func renderLakeview(d *lakeviewObj) wireLakeview {
	state := "ACTIVE"
	if d.Trashed {
		state = "TRASHED"
	}
	parent := cmp.Or(d.ParentPath, "/Users/"+d.Owner)
	return wireLakeview{DashboardID: d.DashboardID, DisplayName: d.DisplayName, WarehouseID: d.WarehouseID,
		LifecycleState: state, ParentPath: parent, Path: parent + "/" + d.DisplayName + ".lvdash.json",
		Etag: strconv.FormatInt(d.created.Unix(), 10), CreateTime: msRFC3339(d.created), UpdateTime: msRFC3339(d.created)}
}

func listLakeview(c *call) error {
	q := c.r.URL.Query()
	trashed, err := boolParam(q, "show_trashed")
	if err != nil {
		return err
	}
	if v := q.Get("view"); !oneOf(v, "", "DASHBOARD_VIEW_BASIC") {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid view %q.", v)
	}
	var sel []*lakeviewObj
	for _, d := range c.s.objects(c.ws).lakeview {
		if (!d.Trashed || trashed) && c.canSee(permTypeDashboards, d.DashboardID) {
			sel = append(sel, d)
		}
	}
	from, to, next, err := tokenPage(c, "lakeview", len(sel), "page_size", lakeviewDefaultPage, lakeviewMaxPage, false)
	if err != nil {
		return err
	}
	resp := struct {
		Dashboards    []wireLakeview `json:"dashboards,omitempty"`
		NextPageToken string         `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, d := range sel[from:to] {
		l := renderLakeview(d)
		l.Path, l.ParentPath, l.Etag, l.UpdateTime = "", "", "", ""
		resp.Dashboards = append(resp.Dashboards, l)
	}
	return c.reply(http.StatusOK, resp)
}

func getLakeview(c *call) error {
	id := c.r.PathValue("id")
	for _, d := range c.s.objects(c.ws).lakeview {
		if d.DashboardID == id {
			if !c.canSee(permTypeDashboards, id) {
				return c.denied(permTypeDashboards, id)
			}
			return c.reply(http.StatusOK, renderLakeview(d))
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Unable to find dashboard %s.", id)
}

// ---- serving endpoints ----

type wireEndpoint struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	Creator              string            `json:"creator"`
	CreationTimestamp    int64             `json:"creation_timestamp"`
	LastUpdatedTimestamp int64             `json:"last_updated_timestamp"`
	State                map[string]string `json:"state"`
	Task                 string            `json:"task,omitempty"`
}

func renderEndpoint(e *endpointObj) wireEndpoint {
	ready := "NOT_READY"
	if e.Ready {
		ready = "READY"
	}
	return wireEndpoint{ID: e.ID, Name: e.Name, Creator: e.Creator, CreationTimestamp: e.created,
		LastUpdatedTimestamp: e.created, Task: e.Task,
		State: map[string]string{"ready": ready, "config_update": "NOT_UPDATING"}}
}

func listEndpoints(c *call) error {
	out := []wireEndpoint{}
	for _, e := range c.s.objects(c.ws).endpoints {
		if c.canSeeListed(permTypeServingEndpoints, e.ID) {
			out = append(out, renderEndpoint(e))
		}
	}
	return c.reply(http.StatusOK, map[string]any{"endpoints": out})
}

func getEndpoint(c *call) error {
	name := c.r.PathValue("name")
	for _, e := range c.s.objects(c.ws).endpoints {
		if e.Name == name {
			if !c.canSeeListed(permTypeServingEndpoints, e.ID) {
				return c.denied(permTypeServingEndpoints, e.ID)
			}
			return c.reply(http.StatusOK, renderEndpoint(e))
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "Endpoint with name '%s' does not exist.", name)
}

// ---- apps ----

type wireAppStatus struct {
	State   string `json:"state"`
	Message string `json:"message"`
}

type wireApp struct {
	Name                     string        `json:"name"`
	ID                       string        `json:"id"`
	Description              string        `json:"description,omitempty"`
	Creator                  string        `json:"creator"`
	Updater                  string        `json:"updater"`
	ServicePrincipalClientID string        `json:"service_principal_client_id"`
	ServicePrincipalID       int64         `json:"service_principal_id"`
	ServicePrincipalName     string        `json:"service_principal_name"`
	AppStatus                wireAppStatus `json:"app_status"`
	ComputeStatus            wireAppStatus `json:"compute_status"`
	URL                      string        `json:"url"`
	CreateTime               string        `json:"create_time"`
	UpdateTime               string        `json:"update_time"`
}

func (c *call) renderApp(a *appObj) wireApp {
	out := wireApp{Name: a.Name, ID: a.ID, Description: a.Description, Creator: a.Creator, Updater: a.Creator,
		ServicePrincipalClientID: a.ServicePrincipal, ServicePrincipalID: numericID(a.spID),
		ServicePrincipalName: a.spName, CreateTime: msRFC3339(a.created), UpdateTime: msRFC3339(a.created),
		URL: "https://" + a.Name + "-" + strconv.FormatInt(c.ws.id, 10) + ".aws.databricksapps.com"}
	if a.Running {
		out.AppStatus = wireAppStatus{State: "RUNNING", Message: "App has status: App is running"}
		out.ComputeStatus = wireAppStatus{State: "ACTIVE", Message: "App compute is running."}
	} else {
		out.AppStatus = wireAppStatus{State: "UNAVAILABLE", Message: "App has not been deployed yet."}
		out.ComputeStatus = wireAppStatus{State: "STOPPED", Message: "App compute is stopped."}
	}
	return out
}

func listApps(c *call) error {
	var sel []*appObj
	if c.r.URL.Query().Get("space") == "" {
		for _, a := range c.s.objects(c.ws).apps {
			if c.canSeeListed(permTypeApps, a.Name) {
				sel = append(sel, a)
			}
		}
	}
	from, to, next, err := tokenPage(c, "apps", len(sel), "page_size", appsDefaultPage, appsMaxPage, false)
	if err != nil {
		return err
	}
	resp := struct {
		Apps          []wireApp `json:"apps,omitempty"`
		NextPageToken string    `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, a := range sel[from:to] {
		resp.Apps = append(resp.Apps, c.renderApp(a))
	}
	return c.reply(http.StatusOK, resp)
}

func getApp(c *call) error {
	name := c.r.PathValue("name")
	for _, a := range c.s.objects(c.ws).apps {
		if a.Name == name {
			if !c.canSeeListed(permTypeApps, name) {
				return c.denied(permTypeApps, name)
			}
			return c.reply(http.StatusOK, c.renderApp(a))
		}
	}
	return restErr(http.StatusNotFound, "NOT_FOUND", "App with name %s does not exist or is deleted.", name)
}
