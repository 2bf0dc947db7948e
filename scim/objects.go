package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// REST reads of the workspace objects an identity can own, create or run as
// (reference §F): tokens, jobs, clusters, SQL warehouses, pipelines, queries,
// alerts, legacy and Lakeview dashboards, serving endpoints and apps, plus
// the generic permissions API (§F.1). Each list asks for the largest page
// the API allows and follows that API's paging style:
//
//	page token           clusters, warehouses, pipelines, queries, alerts,
//	                     Lakeview dashboards, apps (ListPages)
//	offset/limit/has_more jobs, when the server sends no next_page_token
//	page number          legacy dashboards
//	unpaged              tokens, serving endpoints
//
// Lists are charged to ClassDefault and permission reads to
// ClassPermissionsRead. Every function takes a Doer (a *WorkspaceClient) and
// is safe for concurrent use.

// Paths of the object APIs (§F).
const (
	pathTokens           = "/api/2.0/token-management/tokens"
	pathJobsList         = "/api/2.2/jobs/list"
	pathJobsGet          = "/api/2.2/jobs/get"
	pathClustersList     = "/api/2.1/clusters/list"
	pathWarehouses       = "/api/2.0/sql/warehouses"
	pathPipelines        = "/api/2.0/pipelines"
	pathQueries          = "/api/2.0/sql/queries"
	pathAlerts           = "/api/2.0/sql/alerts"
	pathAlertsV2         = "/api/2.0/alerts"
	pathLegacyDashboards = "/api/2.0/preview/sql/dashboards"
	pathDashboards       = "/api/2.0/lakeview/dashboards"
	pathServingEndpoints = "/api/2.0/serving-endpoints"
	pathApps             = "/api/2.0/apps"
	pathPermissions      = "/api/2.0/permissions"
	pathSQLPermissions   = "/api/2.0/preview/sql/permissions"
)

// Largest page sizes. Jobs and pipelines reject more than 100 (§F); the
// other APIs do not document a maximum, so 100 is used there as well.
const (
	maxJobsPage       = 100
	maxPipelinesPage  = 100
	maxClustersPage   = 100
	maxDefaultPage    = 100
	maxLegacyDashPage = 100
)

// TokenInfo is a personal access token from the token-management API.
// Times are epoch milliseconds; ExpiryTime is 0 or negative for a token
// that never expires; LastUsedDay is 0 for a token never used.
type TokenInfo struct {
	TokenID           string   `json:"token_id"`
	CreatedByID       int64    `json:"created_by_id,omitempty"`
	CreatedByUsername string   `json:"created_by_username,omitempty"`
	OwnerID           int64    `json:"owner_id,omitempty"`
	Comment           string   `json:"comment,omitempty"`
	CreationTime      int64    `json:"creation_time,omitempty"`
	ExpiryTime        int64    `json:"expiry_time,omitempty"`
	LastUsedDay       int64    `json:"last_used_day,omitempty"`
	WorkspaceID       int64    `json:"workspace_id,omitempty"`
	Scopes            []string `json:"scopes,omitempty"`
}

// ListTokens lists every personal access token of the workspace
// (GET /api/2.0/token-management/tokens, unpaged; admins only).
func ListTokens(ctx context.Context, d Doer) ([]TokenInfo, error) {
	var out struct {
		TokenInfos []TokenInfo `json:"token_infos"`
	}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathTokens, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.TokenInfos, nil
}

// Job is a job from jobs/list (BaseJob) or jobs/get (Job). CreatorUserName
// is empty when the creator was deleted. RunAsUserName (the effective run-as
// identity: a user name or a service principal's application id) is only
// returned by jobs/get.
type Job struct {
	JobID           int64       `json:"job_id"`
	CreatorUserName string      `json:"creator_user_name,omitempty"`
	CreatedTime     int64       `json:"created_time,omitempty"`
	RunAsUserName   string      `json:"run_as_user_name,omitempty"`
	Settings        JobSettings `json:"settings"`
	// HasMore is set by jobs/list on a job with more tasks than the list
	// shows (it shows at most 100); GetJob reads them all.
	HasMore bool `json:"has_more,omitempty"`
	// NextPageToken is set by jobs/get while more of the job's tasks
	// remain; GetJob follows it.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// JobSettings are the parts of a job's settings that say when it runs and
// as whom.
type JobSettings struct {
	Name               string                 `json:"name,omitempty"`
	Schedule           *CronSchedule          `json:"schedule,omitempty"`
	Trigger            *JobTrigger            `json:"trigger,omitempty"`
	Continuous         *JobContinuous         `json:"continuous,omitempty"`
	RunAs              *RunAs                 `json:"run_as,omitempty"`
	EmailNotifications *JobEmailNotifications `json:"email_notifications,omitempty"`
	Tags               map[string]string      `json:"tags,omitempty"`
	// Tasks are listed only with expand_tasks (Jobs asks for them).
	Tasks []JobTask `json:"tasks,omitempty"`
}

// JobTask is the part of a job task that names workspace files or a
// pipeline.
type JobTask struct {
	TaskKey      string `json:"task_key"`
	NotebookTask *struct {
		NotebookPath string `json:"notebook_path"`
		Source       string `json:"source,omitempty"`
	} `json:"notebook_task,omitempty"`
	SparkPythonTask *struct {
		PythonFile string `json:"python_file"`
		Source     string `json:"source,omitempty"`
	} `json:"spark_python_task,omitempty"`
	SQLTask *struct {
		File *struct {
			Path   string `json:"path"`
			Source string `json:"source,omitempty"`
		} `json:"file,omitempty"`
	} `json:"sql_task,omitempty"`
	// PipelineTask is an update of a pipeline, which runs as the
	// pipeline's own run-as identity.
	PipelineTask *struct {
		PipelineID string `json:"pipeline_id"`
	} `json:"pipeline_task,omitempty"`
}

// WorkspacePaths returns the workspace files the task runs: notebook,
// Python file or SQL file paths whose source is the workspace (not Git).
func (t JobTask) WorkspacePaths() []string {
	var out []string
	add := func(path, source string) {
		if path != "" && (source == "" || strings.EqualFold(source, "WORKSPACE")) {
			out = append(out, path)
		}
	}
	if n := t.NotebookTask; n != nil {
		add(n.NotebookPath, n.Source)
	}
	if p := t.SparkPythonTask; p != nil {
		add(p.PythonFile, p.Source)
	}
	if q := t.SQLTask; q != nil && q.File != nil {
		add(q.File.Path, q.File.Source)
	}
	return out
}

// CronSchedule is a job's cron schedule. PauseStatus is "PAUSED" or
// "UNPAUSED".
type CronSchedule struct {
	QuartzCronExpression string `json:"quartz_cron_expression,omitempty"`
	TimezoneID           string `json:"timezone_id,omitempty"`
	PauseStatus          string `json:"pause_status,omitempty"`
}

// JobTrigger is a job's trigger; exactly one of the trigger kinds is set.
type JobTrigger struct {
	PauseStatus  string          `json:"pause_status,omitempty"`
	FileArrival  json.RawMessage `json:"file_arrival,omitempty"`
	TableUpdate  json.RawMessage `json:"table_update,omitempty"`
	Table        json.RawMessage `json:"table,omitempty"`
	Periodic     json.RawMessage `json:"periodic,omitempty"`
	Model        json.RawMessage `json:"model,omitempty"`
	SQLCondition json.RawMessage `json:"sql_condition,omitempty"`
}

// Kind names the trigger: "file_arrival", "table_update", "periodic",
// "model", "sql_condition", or "trigger" when none is recognised.
func (t *JobTrigger) Kind() string {
	switch {
	case len(t.FileArrival) > 0:
		return "file_arrival"
	case len(t.TableUpdate) > 0, len(t.Table) > 0:
		return "table_update"
	case len(t.Periodic) > 0:
		return "periodic"
	case len(t.Model) > 0:
		return "model"
	case len(t.SQLCondition) > 0:
		return "sql_condition"
	}
	return "trigger"
}

// JobContinuous marks a continuous job.
type JobContinuous struct {
	PauseStatus string `json:"pause_status,omitempty"`
}

// RunAs names the principal a job, pipeline or alert runs as: a user name,
// a service principal's application id, or (jobs) a group name.
type RunAs struct {
	UserName             string `json:"user_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
}

// Name returns whichever name is set.
func (r *RunAs) Name() string {
	if r == nil {
		return ""
	}
	switch {
	case r.UserName != "":
		return r.UserName
	case r.ServicePrincipalName != "":
		return r.ServicePrincipalName
	}
	return r.GroupName
}

// JobEmailNotifications are the addresses a job notifies.
type JobEmailNotifications struct {
	OnStart   []string `json:"on_start,omitempty"`
	OnSuccess []string `json:"on_success,omitempty"`
	OnFailure []string `json:"on_failure,omitempty"`
}

// ListJobs lists every job of the workspace (see Jobs).
func ListJobs(ctx context.Context, d Doer) ([]Job, error) {
	return collect(Jobs(ctx, d))
}

// Jobs iterates over the workspace's jobs (GET /api/2.2/jobs/list,
// limit=100, expand_tasks=true for the paths their tasks run), page by
// page as they arrive. It follows next_page_token; a
// server that pages with offset/limit and has_more instead is followed by
// offset. After an error the iterator yields it once and stops.
func Jobs(ctx context.Context, d Doer) iter.Seq2[Job, error] {
	return func(yield func(Job, error) bool) {
		q := url.Values{"limit": {strconv.Itoa(maxJobsPage)}, "expand_tasks": {"true"}}
		seenTokens := map[string]bool{}
		offset := 0
		for page := 1; ; page++ {
			if page > defaultMaxPages {
				yield(Job{}, fmt.Errorf("GET %s: %w after %d pages", pathJobsList, ErrPageLimit, defaultMaxPages))
				return
			}
			var out struct {
				Jobs          []Job  `json:"jobs"`
				HasMore       bool   `json:"has_more"`
				NextPageToken string `json:"next_page_token"`
			}
			if err := d.Do(ctx, ClassDefault, http.MethodGet, pathJobsList, q, nil, &out); err != nil {
				yield(Job{}, err)
				return
			}
			for _, j := range out.Jobs {
				if !yield(j, nil) {
					return
				}
			}
			switch {
			case out.NextPageToken != "":
				if seenTokens[out.NextPageToken] {
					yield(Job{}, fmt.Errorf("GET %s: %w: server repeated page token", pathJobsList, ErrPageLimit))
					return
				}
				seenTokens[out.NextPageToken] = true
				q.Del("offset")
				q.Set("page_token", out.NextPageToken)
			case out.HasMore && len(out.Jobs) > 0:
				offset += len(out.Jobs)
				q.Del("page_token")
				q.Set("offset", strconv.Itoa(offset))
			default:
				return
			}
		}
	}
}

// GetJob reads one job (GET /api/2.2/jobs/get?job_id=), including its
// effective RunAsUserName and every task: the API returns 100 tasks a
// page and a next_page_token while more remain, which GetJob follows as
// the SDK's JobsAPI.Get does. A missing job is an error matching
// ErrNotFound (the API answers 400 INVALID_PARAMETER_VALUE "Job ... does
// not exist").
func GetJob(ctx context.Context, d Doer, jobID int64) (Job, error) {
	var j Job
	q := url.Values{"job_id": {strconv.FormatInt(jobID, 10)}}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		var p Job
		if err := d.Do(ctx, ClassDefault, http.MethodGet, pathJobsGet, q, nil, &p); err != nil {
			// The jobs API reports a missing job as 400 INVALID_PARAMETER_VALUE;
			// the SDK maps it to NotFound the same way (apierr/error_overrides.go).
			var ae *APIError
			if errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest && ae.ErrorCode == "INVALID_PARAMETER_VALUE" && strings.Contains(ae.Message, "does not exist") {
				return Job{}, fmt.Errorf("get job %d: %w: %w", jobID, ErrNotFound, err)
			}
			return Job{}, err
		}
		if page == 1 {
			j = p
		} else {
			j.Settings.Tasks = append(j.Settings.Tasks, p.Settings.Tasks...)
		}
		switch {
		case p.NextPageToken == "":
			j.NextPageToken, j.HasMore = "", false
			return j, nil
		case seen[p.NextPageToken] || page >= defaultMaxPages:
			return Job{}, fmt.Errorf("GET %s job %d: %w: tasks do not end", pathJobsGet, jobID, ErrPageLimit)
		}
		seen[p.NextPageToken] = true
		q.Set("page_token", p.NextPageToken)
	}
}

// Cluster is a cluster from clusters/list. SingleUserName is set on
// dedicated (single-user) clusters: a user name, a service principal's
// application id or a group name. Pinned is filled by Clusters from a
// pinned-only list (the SDK's ClusterDetails has no pinned field;
// PinnedByUserName is honoured when a server sends it).
type Cluster struct {
	ClusterID        string            `json:"cluster_id"`
	ClusterName      string            `json:"cluster_name,omitempty"`
	CreatorUserName  string            `json:"creator_user_name,omitempty"`
	SingleUserName   string            `json:"single_user_name,omitempty"`
	DataSecurityMode string            `json:"data_security_mode,omitempty"`
	ClusterSource    string            `json:"cluster_source,omitempty"`
	PolicyID         string            `json:"policy_id,omitempty"`
	State            string            `json:"state,omitempty"`
	CustomTags       map[string]string `json:"custom_tags,omitempty"`
	PinnedByUserName string            `json:"pinned_by_user_name,omitempty"`
	Pinned           bool              `json:"-"`
}

// ListClusters lists the workspace's clusters (see Clusters).
func ListClusters(ctx context.Context, d Doer) ([]Cluster, error) {
	return collect(Clusters(ctx, d))
}

// Clusters iterates over the workspace's clusters (GET
// /api/2.1/clusters/list, page_size=100, page tokens): pinned and active
// ones plus those terminated in the last 30 days. A list filtered on
// filter_by.is_pinned=true is read first, to mark the pinned ones as the
// full list streams.
func Clusters(ctx context.Context, d Doer) iter.Seq2[Cluster, error] {
	return func(yield func(Cluster, error) bool) {
		q := url.Values{"page_size": {strconv.Itoa(maxClustersPage)}, "filter_by.is_pinned": {"true"}}
		pinned := map[string]bool{}
		for c, err := range ListPages[Cluster](ctx, d, ClassDefault, pathClustersList, q, PageTokenOptions{Items: "clusters"}) {
			if err != nil {
				yield(Cluster{}, err)
				return
			}
			pinned[c.ClusterID] = true
		}
		q.Del("filter_by.is_pinned")
		for c, err := range ListPages[Cluster](ctx, d, ClassDefault, pathClustersList, q, PageTokenOptions{Items: "clusters"}) {
			if err == nil {
				c.Pinned = pinned[c.ClusterID] || c.PinnedByUserName != ""
			}
			if !yield(c, err) || err != nil {
				return
			}
		}
	}
}

// Warehouse is a SQL warehouse.
type Warehouse struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	CreatorName string `json:"creator_name,omitempty"`
	State       string `json:"state,omitempty"`
}

// The lists below return slices; Jobs and Clusters also stream, because
// workspaces have thousands of them.

// ListWarehouses lists the workspace's SQL warehouses
// (GET /api/2.0/sql/warehouses, page_size=100, page tokens).
func ListWarehouses(ctx context.Context, d Doer) ([]Warehouse, error) {
	q := url.Values{"page_size": {strconv.Itoa(maxDefaultPage)}}
	return collect(ListPages[Warehouse](ctx, d, ClassDefault, pathWarehouses, q, PageTokenOptions{Items: "warehouses"}))
}

// Pipeline is a pipeline from the pipelines list (PipelineStateInfo).
type Pipeline struct {
	PipelineID      string `json:"pipeline_id"`
	Name            string `json:"name,omitempty"`
	CreatorUserName string `json:"creator_user_name,omitempty"`
	RunAsUserName   string `json:"run_as_user_name,omitempty"`
	State           string `json:"state,omitempty"`
	ClusterID       string `json:"cluster_id,omitempty"`
}

// ListPipelines lists the workspace's pipelines (GET /api/2.0/pipelines,
// max_results=100, the API's maximum; page tokens).
func ListPipelines(ctx context.Context, d Doer) ([]Pipeline, error) {
	q := url.Values{"max_results": {strconv.Itoa(maxPipelinesPage)}}
	return collect(ListPages[Pipeline](ctx, d, ClassDefault, pathPipelines, q, PageTokenOptions{Items: "statuses"}))
}

// Query is a SQL query (queries API v2). RunAsMode is "OWNER" or "VIEWER".
type Query struct {
	ID                   string `json:"id"`
	DisplayName          string `json:"display_name,omitempty"`
	OwnerUserName        string `json:"owner_user_name,omitempty"`
	LastModifierUserName string `json:"last_modifier_user_name,omitempty"`
	RunAsMode            string `json:"run_as_mode,omitempty"`
	WarehouseID          string `json:"warehouse_id,omitempty"`
	LifecycleState       string `json:"lifecycle_state,omitempty"`
	ParentPath           string `json:"parent_path,omitempty"`
}

// ListQueries lists the workspace's SQL queries (GET /api/2.0/sql/queries,
// page_size=100, page tokens; items in "results").
func ListQueries(ctx context.Context, d Doer) ([]Query, error) {
	q := url.Values{"page_size": {strconv.Itoa(maxDefaultPage)}}
	return collect(ListPages[Query](ctx, d, ClassDefault, pathQueries, q, PageTokenOptions{Items: "results"}))
}

// Alert is a SQL alert, from the alerts API (GET /api/2.0/sql/alerts) or
// the alerts v2 API (GET /api/2.0/alerts). Only v2 alerts carry run-as
// fields; a v1 alert is evaluated with its owner's credentials.
type Alert struct {
	ID             string `json:"id"`
	DisplayName    string `json:"display_name,omitempty"`
	OwnerUserName  string `json:"owner_user_name,omitempty"`
	QueryID        string `json:"query_id,omitempty"`
	State          string `json:"state,omitempty"`
	LifecycleState string `json:"lifecycle_state,omitempty"`
	ParentPath     string `json:"parent_path,omitempty"`
	RunAsUserName  string `json:"run_as_user_name,omitempty"`
	RunAs          *RunAs `json:"run_as,omitempty"`
	EffectiveRunAs *RunAs `json:"effective_run_as,omitempty"`
	// Schedule, WarehouseID and Evaluation are v2 fields.
	Schedule    *AlertSchedule   `json:"schedule,omitempty"`
	WarehouseID string           `json:"warehouse_id,omitempty"`
	Evaluation  *AlertEvaluation `json:"evaluation,omitempty"`
}

// AlertSchedule is a v2 alert's cron schedule. PauseStatus is "PAUSED" or
// "UNPAUSED" (the API's default when absent).
type AlertSchedule struct {
	QuartzCronSchedule string `json:"quartz_cron_schedule,omitempty"`
	TimezoneID         string `json:"timezone_id,omitempty"`
	PauseStatus        string `json:"pause_status,omitempty"`
}

// AlertEvaluation is the part of a v2 alert's evaluation audit reads: its
// last state (UNKNOWN, OK, TRIGGERED or ERROR).
type AlertEvaluation struct {
	State string `json:"state,omitempty"`
}

// RunAsName returns who the alert is evaluated as, if the API says:
// effective_run_as, then run_as, then run_as_user_name.
func (a *Alert) RunAsName() string {
	if n := a.EffectiveRunAs.Name(); n != "" {
		return n
	}
	if n := a.RunAs.Name(); n != "" {
		return n
	}
	return a.RunAsUserName
}

// ListAlerts lists the workspace's SQL alerts (GET /api/2.0/sql/alerts,
// page_size=100, page tokens; items in "results").
func ListAlerts(ctx context.Context, d Doer) ([]Alert, error) {
	q := url.Values{"page_size": {strconv.Itoa(maxDefaultPage)}}
	return collect(ListPages[Alert](ctx, d, ClassDefault, pathAlerts, q, PageTokenOptions{Items: "results"}))
}

// ListAlertsV2 lists the workspace's v2 alerts (GET /api/2.0/alerts,
// page_size=100, page tokens; items in "alerts").
func ListAlertsV2(ctx context.Context, d Doer) ([]Alert, error) {
	q := url.Values{"page_size": {strconv.Itoa(maxDefaultPage)}}
	return collect(ListPages[Alert](ctx, d, ClassDefault, pathAlertsV2, q, PageTokenOptions{Items: "alerts"}))
}

// LegacyDashboard is a legacy (DBSQL) dashboard. User is its owner.
type LegacyDashboard struct {
	ID         string         `json:"id"`
	Name       string         `json:"name,omitempty"`
	User       *LegacySQLUser `json:"user,omitempty"`
	UserID     int64          `json:"user_id,omitempty"`
	IsArchived bool           `json:"is_archived,omitempty"`
	IsDraft    bool           `json:"is_draft,omitempty"`
}

// LegacySQLUser is the owner of a legacy DBSQL object.
type LegacySQLUser struct {
	Email string `json:"email,omitempty"`
	ID    int64  `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
}

// ListLegacyDashboards lists the workspace's legacy dashboards
// (GET /api/2.0/preview/sql/dashboards, page-number paging from page=1,
// page_size=100). It stops on an empty page or once count results were
// read, whichever comes first.
func ListLegacyDashboards(ctx context.Context, d Doer) ([]LegacyDashboard, error) {
	var all []LegacyDashboard
	seen := map[string]bool{}
	for page := 1; ; page++ {
		if page > defaultMaxPages {
			return nil, fmt.Errorf("GET %s: %w after %d pages", pathLegacyDashboards, ErrPageLimit, defaultMaxPages)
		}
		q := url.Values{"page": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(maxLegacyDashPage)}}
		var out struct {
			Count   int               `json:"count"`
			Results []LegacyDashboard `json:"results"`
		}
		if err := d.Do(ctx, ClassDefault, http.MethodGet, pathLegacyDashboards, q, nil, &out); err != nil {
			return nil, err
		}
		fresh := 0
		for _, r := range out.Results {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			all = append(all, r)
			fresh++
		}
		if len(out.Results) == 0 || (out.Count > 0 && len(all) >= out.Count) {
			return all, nil
		}
		if fresh == 0 {
			return nil, fmt.Errorf("GET %s: %w: server repeated page %d", pathLegacyDashboards, ErrPageLimit, page)
		}
	}
}

// Dashboard is a Lakeview (AI/BI) dashboard. It has no owner field: its
// managers come from the permissions API (object type "dashboards").
type Dashboard struct {
	DashboardID    string `json:"dashboard_id"`
	DisplayName    string `json:"display_name,omitempty"`
	WarehouseID    string `json:"warehouse_id,omitempty"`
	LifecycleState string `json:"lifecycle_state,omitempty"`
	Path           string `json:"path,omitempty"`
	ParentPath     string `json:"parent_path,omitempty"`
}

// ListDashboards lists the workspace's Lakeview dashboards
// (GET /api/2.0/lakeview/dashboards, page_size=100, page tokens).
func ListDashboards(ctx context.Context, d Doer) ([]Dashboard, error) {
	q := url.Values{"page_size": {strconv.Itoa(maxDefaultPage)}}
	return collect(ListPages[Dashboard](ctx, d, ClassDefault, pathDashboards, q, PageTokenOptions{Items: "dashboards"}))
}

// ServingEndpoint is a model serving endpoint. Its permissions are keyed by
// ID, not Name.
type ServingEndpoint struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Creator string `json:"creator,omitempty"`
}

// ListServingEndpoints lists the workspace's serving endpoints
// (GET /api/2.0/serving-endpoints, unpaged).
func ListServingEndpoints(ctx context.Context, d Doer) ([]ServingEndpoint, error) {
	var out struct {
		Endpoints []ServingEndpoint `json:"endpoints"`
	}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, pathServingEndpoints, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Endpoints, nil
}

// App is a Databricks app. Its permissions are keyed by Name.
type App struct {
	Name                     string `json:"name"`
	ID                       string `json:"id,omitempty"`
	Creator                  string `json:"creator,omitempty"`
	Updater                  string `json:"updater,omitempty"`
	ServicePrincipalClientID string `json:"service_principal_client_id,omitempty"`
	ServicePrincipalName     string `json:"service_principal_name,omitempty"`
	URL                      string `json:"url,omitempty"`
}

// ListApps lists the workspace's apps (GET /api/2.0/apps, page_size=100,
// page tokens).
func ListApps(ctx context.Context, d Doer) ([]App, error) {
	q := url.Values{"page_size": {strconv.Itoa(maxDefaultPage)}}
	return collect(ListPages[App](ctx, d, ClassDefault, pathApps, q, PageTokenOptions{Items: "apps"}))
}

// Permission levels that let a principal manage an object.
const (
	PermissionCanManage = "CAN_MANAGE"
	PermissionIsOwner   = "IS_OWNER"
)

// ObjectPermissions is an object's access control list, from the generic
// permissions API (§F.1) or the legacy DBSQL permissions API.
type ObjectPermissions struct {
	ObjectID          string          `json:"object_id,omitempty"`
	ObjectType        string          `json:"object_type,omitempty"`
	AccessControlList []AccessControl `json:"access_control_list"`
}

// AccessControl is one principal's entry in an access control list.
// Exactly one of UserName, GroupName and ServicePrincipalName (an
// application id) is set. The generic API lists levels in AllPermissions;
// the legacy DBSQL API gives a single PermissionLevel.
type AccessControl struct {
	UserName             string       `json:"user_name,omitempty"`
	GroupName            string       `json:"group_name,omitempty"`
	ServicePrincipalName string       `json:"service_principal_name,omitempty"`
	DisplayName          string       `json:"display_name,omitempty"`
	AllPermissions       []Permission `json:"all_permissions,omitempty"`
	PermissionLevel      string       `json:"permission_level,omitempty"`
}

// Permission is one permission level of an AccessControl, possibly
// inherited from a parent object (InheritedFromObject, e.g. "/jobs/").
type Permission struct {
	PermissionLevel     string   `json:"permission_level"`
	Inherited           bool     `json:"inherited,omitempty"`
	InheritedFromObject []string `json:"inherited_from_object,omitempty"`
}

// Principal returns the entry's principal name and type: "user",
// "service-principal" or "group".
func (a AccessControl) Principal() (name, kind string) {
	switch {
	case a.UserName != "":
		return a.UserName, "user"
	case a.ServicePrincipalName != "":
		return a.ServicePrincipalName, "service-principal"
	}
	return a.GroupName, "group"
}

// Levels returns every permission level of the entry, from either shape.
func (a AccessControl) Levels() []Permission {
	if a.PermissionLevel == "" {
		return a.AllPermissions
	}
	return append([]Permission{{PermissionLevel: a.PermissionLevel}}, a.AllPermissions...)
}

// DirectLevels returns the levels granted on the object itself, leaving
// out those inherited from a parent or root object (Inherited): an
// inherited CAN_MANAGE belongs to the parent's ACL (a directory, or the
// type's root such as "/jobs/" for the admins group), and changes there.
func (a AccessControl) DirectLevels() []Permission {
	var out []Permission
	for _, l := range a.Levels() {
		if !l.Inherited {
			out = append(out, l)
		}
	}
	return out
}

// GetPermissions reads an object's permissions
// (GET /api/2.0/permissions/{objectType}/{objectID}), charged to
// ClassPermissionsRead. objectType is the request type: "jobs",
// "clusters", "warehouses", "pipelines", "queries", "alerts", "dashboards",
// "dbsql-dashboards", "serving-endpoints", "apps", ...
func GetPermissions(ctx context.Context, d Doer, objectType, objectID string) (ObjectPermissions, error) {
	var p ObjectPermissions
	path := pathPermissions + "/" + objectType + "/" + url.PathEscape(objectID)
	if err := d.Do(ctx, ClassPermissionsRead, http.MethodGet, path, nil, nil, &p); err != nil {
		return ObjectPermissions{}, err
	}
	return p, nil
}

// GetSQLPermissions reads a legacy DBSQL object's permissions
// (GET /api/2.0/preview/sql/permissions/{objectType}/{objectID}; objectType
// is "alerts", "dashboards", "data_sources" or "queries"), charged to
// ClassPermissionsRead. Entries carry PermissionLevel.
func GetSQLPermissions(ctx context.Context, d Doer, objectType, objectID string) (ObjectPermissions, error) {
	var p ObjectPermissions
	path := pathSQLPermissions + "/" + objectType + "/" + url.PathEscape(objectID)
	if err := d.Do(ctx, ClassPermissionsRead, http.MethodGet, path, nil, nil, &p); err != nil {
		return ObjectPermissions{}, err
	}
	return p, nil
}

// collect drains an iterator into a slice, stopping at the first error.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
