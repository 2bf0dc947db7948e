package sandbox

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SeedObjects are one workspace's objects that audit inspects: personal
// access tokens, jobs, clusters, SQL warehouses, pipelines, SQL queries,
// alerts and v2 alerts (objects_alertsv2.go), legacy and Lakeview dashboards, serving endpoints and apps, with
// their permissions. Sections come from seeds/default_objects.json for the
// default seed, from AttachObjects or an ObjectsFile's AttachTo, or from
// AddSyntheticObjects. JSON form of a section (parsed strictly; every list
// optional):
//
//	{
//	  "deleted_principals": ["former.engineer@acme.test"],
//	  "tokens": [{"token_id": "<64 hex>", "owner": "ann@acme.test", "created_by": "<admin, for OBO tokens>",
//	              "comment": "CI", "created": "now-200d", "expiry": "now+30d", "last_used": "now-1d",
//	              "scopes": []}],
//	  "jobs": [{"job_id": 101, "name": "nightly", "creator": "ann@acme.test", "created": "now-300d",
//	            "owner": "<IS_OWNER, default creator>", "run_as": {"service_principal_name": "<app id>"},
//	            "schedule": {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC", "pause_status": "PAUSED"},
//	            "trigger": {"pause_status": "UNPAUSED", "periodic": {"interval": 1, "unit": "HOURS"}},
//	            "continuous": {"pause_status": "UNPAUSED"},
//	            "tasks": [{"task_key": "main", "notebook_path": "/x", "existing_cluster_id": "<cluster>"}],
//	            "email_notifications": {"on_failure": ["ann@acme.test"]}, "tags": {"k": "v"},
//	            "permissions": [{"group_name": "eng", "permission_level": "CAN_MANAGE_RUN"}]}],
//	  "clusters": [{"cluster_id": "1102-083015-abcd1234", "cluster_name": "dev", "creator": "ann@acme.test",
//	                "single_user_name": "ann@acme.test", "data_security_mode": "SINGLE_USER",
//	                "cluster_source": "UI", "state": "TERMINATED", "terminated": "now-5d", "started": "now-6d",
//	                "pinned_by": "ann@acme.test", "custom_tags": {}, "policy_id": "", "spark_version": "",
//	                "node_type_id": "", "num_workers": 2, "autotermination_minutes": 60, "permissions": []}],
//	  "warehouses": [{"id": "<16 hex>", "name": "wh", "creator": "...", "owner": "...", "state": "RUNNING",
//	                  "cluster_size": "Small", "warehouse_type": "PRO", "serverless": true, "auto_stop_mins": 10}],
//	  "pipelines": [{"pipeline_id": "<uuid>", "name": "dlt", "creator": "...", "run_as": {"user_name": "..."},
//	                 "state": "RUNNING", "continuous": true, "catalog": "main", "target": "x", "cluster_id": ""}],
//	  "queries": [{"id": "<uuid>", "display_name": "q", "owner": "...", "run_as_mode": "OWNER",
//	               "warehouse_id": "<wh>", "query_text": "SELECT 1", "last_modifier": "", "created": "", "trashed": false}],
//	  "alerts": [{"id": "<uuid>", "display_name": "a", "owner": "...", "query_id": "<query>", "state": "OK"}],
//	  "alerts_v2": [{"id": "<uuid>", "display_name": "a", "owner": "...", "run_as": {"user_name": "..."},
//	                 "schedule": {"quartz_cron_schedule": "0 0 * * * ?", "timezone_id": "UTC", "pause_status": "PAUSED"}}],
//	  "legacy_dashboards": [{"id": "<uuid>", "name": "d", "owner": "<user>", "tags": []}],
//	  "lakeview_dashboards": [{"dashboard_id": "<32 hex>", "display_name": "d", "owner": "...",
//	                           "warehouse_id": "", "trashed": false}],
//	  "serving_endpoints": [{"id": "<32 hex>", "name": "ep", "creator": "...", "ready": true, "task": ""}],
//	  "apps": [{"name": "my-app", "id": "<uuid>", "creator": "...", "service_principal": "<app id>",
//	            "running": true, "description": ""}]
//	}
//
// Principals are named as on the wire: users by userName, service
// principals by applicationId, groups by displayName. An owner or creator
// must be a principal local to the workspace or, in an identity-federated
// workspace, an account principal (assigned or not: objects outlive
// assignments), or be listed in deleted_principals (then the object behaves
// as one whose creator was deleted: jobs omit creator_user_name and run as
// that user). Token owners and grantees must be live; grantees must exist
// in the workspace. Times are SeedTime values; an absent "created" means
// 180 days before the server starts.
//
// Permissions: each object is registered with the permissions store
// (permissions API type jobs, clusters, warehouses, pipelines, queries,
// alerts, alertsv2, dbsql-dashboards, dashboards, serving-endpoints by endpoint id,
// apps by name). The owner of a job or warehouse holds IS_OWNER (default:
// the creator, when it exists); a pipeline's run-as identity holds IS_OWNER
// and its creator, if different, CAN_MANAGE; the creator or owner of every
// other object holds CAN_MANAGE; then the "permissions" grants apply (not
// IS_OWNER, and not to the principal already holding the default grant).
// A job without explicit run_as runs as its current IS_OWNER (changes
// through the permissions API show in jobs/get), else as its creator.
type SeedObjects struct {
	// DeletedPrincipals are user names (or application ids) of principals
	// that no longer exist but that objects still refer to, e.g. the creator
	// of a job whose creator was deleted. They must not name a live principal.
	DeletedPrincipals []string `json:"deleted_principals,omitempty"`

	Tokens             []SeedPAT               `json:"tokens,omitempty"`
	Jobs               []SeedJob               `json:"jobs,omitempty"`
	Clusters           []SeedCluster           `json:"clusters,omitempty"`
	Warehouses         []SeedWarehouse         `json:"warehouses,omitempty"`
	Pipelines          []SeedPipeline          `json:"pipelines,omitempty"`
	Queries            []SeedQuery             `json:"queries,omitempty"`
	Alerts             []SeedAlert             `json:"alerts,omitempty"`
	AlertsV2           []SeedAlertV2           `json:"alerts_v2,omitempty"`
	LegacyDashboards   []SeedLegacyDashboard   `json:"legacy_dashboards,omitempty"`
	LakeviewDashboards []SeedLakeviewDashboard `json:"lakeview_dashboards,omitempty"`
	ServingEndpoints   []SeedServingEndpoint   `json:"serving_endpoints,omitempty"`
	Apps               []SeedApp               `json:"apps,omitempty"`
	// WorkspaceObjects and Repos are the workspace tree (workspacefs.go).
	WorkspaceObjects []SeedWorkspaceObject `json:"workspace_objects,omitempty"`
	Repos            []SeedRepo            `json:"repos,omitempty"`
	// Experiments, MLModels, InstancePools, ClusterPolicies and
	// VectorSearchEndpoints are the ML and compute settings objects
	// (mlcompute.go).
	Experiments           []SeedExperiment           `json:"experiments,omitempty"`
	MLModels              []SeedMLModel              `json:"ml_models,omitempty"`
	InstancePools         []SeedInstancePool         `json:"instance_pools,omitempty"`
	ClusterPolicies       []SeedClusterPolicy        `json:"cluster_policies,omitempty"`
	VectorSearchEndpoints []SeedVectorSearchEndpoint `json:"vector_search_endpoints,omitempty"`
}

// SeedTime is a point in time in a seed: an RFC 3339 timestamp, or a time
// relative to the sandbox clock when the server starts: "now", "now-3d",
// "now+90d", "now-36h", "now-90m" (a Go duration, or whole days with "d").
// Relative times keep the default seed realistic (a token used yesterday is
// always used yesterday).
type SeedTime string

// resolve returns the time t names, relative to now.
func (t SeedTime) resolve(now time.Time) (time.Time, error) {
	s := strings.TrimSpace(string(t))
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "now"); ok && len(rest) > 1 && (rest[0] == '+' || rest[0] == '-') {
		sign := time.Duration(1)
		if rest[0] == '-' {
			sign = -1
		}
		rest = rest[1:]
		if days, ok := strings.CutSuffix(rest, "d"); ok {
			n, err := strconv.Atoi(days)
			if err != nil || n < 0 || n > 100000 {
				return time.Time{}, fmt.Errorf("time %q: want now±<days>d", s)
			}
			return now.Add(sign * time.Duration(n) * 24 * time.Hour), nil
		}
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("time %q: want now±<duration> such as now-36h", s)
		}
		return now.Add(sign * d), nil
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or now±<duration>", s)
	}
	return v, nil
}

// SeedPAT is a personal access token in the workspace's token-management
// inventory (not a bearer token the sandbox accepts: those are Seed.Tokens).
type SeedPAT struct {
	TokenID string `json:"token_id"`
	// Owner is the user or service principal the token authenticates.
	Owner string `json:"owner"`
	// CreatedBy defaults to Owner; an admin differs for on-behalf-of tokens.
	CreatedBy string   `json:"created_by,omitempty"`
	Comment   string   `json:"comment,omitempty"`
	Created   SeedTime `json:"created"`
	// Expiry is absent for a token that never expires (expiry_time -1).
	Expiry *SeedTime `json:"expiry,omitempty"`
	// LastUsed is absent for a token never used; the wire value is the day.
	LastUsed *SeedTime `json:"last_used,omitempty"`
	Scopes   []string  `json:"scopes,omitempty"`
}

// SeedRunAs is a run-as identity: exactly one field is set.
type SeedRunAs struct {
	UserName             string `json:"user_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
}

func (r *SeedRunAs) name() string {
	if r.UserName != "" {
		return r.UserName
	}
	return r.ServicePrincipalName
}

// SeedSchedule is a job's cron schedule (wire shape of settings.schedule).
type SeedSchedule struct {
	QuartzCronExpression string `json:"quartz_cron_expression"`
	TimezoneID           string `json:"timezone_id"`
	// PauseStatus is PAUSED or UNPAUSED (default UNPAUSED).
	PauseStatus string `json:"pause_status,omitempty"`
}

// SeedTrigger is a job's trigger (wire shape of settings.trigger): one of
// FileArrival, Periodic or TableUpdate.
type SeedTrigger struct {
	PauseStatus string            `json:"pause_status,omitempty"`
	FileArrival *SeedFileArrival  `json:"file_arrival,omitempty"`
	Periodic    *SeedPeriodic     `json:"periodic,omitempty"`
	TableUpdate *SeedTableTrigger `json:"table_update,omitempty"`
}

// SeedFileArrival is a file-arrival trigger.
type SeedFileArrival struct {
	URL string `json:"url"`
}

// SeedPeriodic is a periodic trigger; Unit is MINUTES, HOURS, DAYS or WEEKS.
type SeedPeriodic struct {
	Interval int    `json:"interval"`
	Unit     string `json:"unit"`
}

// SeedTableTrigger is a table-update trigger.
type SeedTableTrigger struct {
	TableNames []string `json:"table_names"`
}

// SeedContinuous marks a continuous job (wire shape of settings.continuous).
type SeedContinuous struct {
	PauseStatus string `json:"pause_status,omitempty"`
}

// SeedTask is one job task: a notebook run on an existing cluster or on
// job compute, or an update of a pipeline of the workspace (PipelineID,
// rendered as pipeline_task).
type SeedTask struct {
	TaskKey           string `json:"task_key"`
	NotebookPath      string `json:"notebook_path,omitempty"`
	ExistingClusterID string `json:"existing_cluster_id,omitempty"`
	PipelineID        string `json:"pipeline_id,omitempty"`
}

// SeedEmailNotifications are a job's e-mail notification lists.
type SeedEmailNotifications struct {
	OnStart   []string `json:"on_start,omitempty"`
	OnSuccess []string `json:"on_success,omitempty"`
	OnFailure []string `json:"on_failure,omitempty"`
}

// SeedJob is a Jobs API job.
type SeedJob struct {
	JobID int64  `json:"job_id"`
	Name  string `json:"name"`
	// Creator is the creator's user name; responses omit creator_user_name
	// when that principal no longer exists.
	Creator string   `json:"creator"`
	Created SeedTime `json:"created,omitempty"`
	// Owner holds IS_OWNER; default Creator when the creator exists.
	Owner string `json:"owner,omitempty"`
	// RunAs is settings.run_as, only when set explicitly; the effective
	// run-as (jobs/get run_as_user_name) is RunAs, else the owner, else the
	// creator.
	RunAs              *SeedRunAs              `json:"run_as,omitempty"`
	Schedule           *SeedSchedule           `json:"schedule,omitempty"`
	Trigger            *SeedTrigger            `json:"trigger,omitempty"`
	Continuous         *SeedContinuous         `json:"continuous,omitempty"`
	Tasks              []SeedTask              `json:"tasks,omitempty"`
	EmailNotifications *SeedEmailNotifications `json:"email_notifications,omitempty"`
	Tags               map[string]string       `json:"tags,omitempty"`
	Permissions        []SeedGrant             `json:"permissions,omitempty"`
}

// SeedCluster is an all-purpose or job cluster.
type SeedCluster struct {
	ClusterID   string `json:"cluster_id"`
	ClusterName string `json:"cluster_name"`
	Creator     string `json:"creator"`
	// SingleUserName is the user, service principal or group a dedicated
	// cluster is assigned to.
	SingleUserName   string `json:"single_user_name,omitempty"`
	DataSecurityMode string `json:"data_security_mode,omitempty"` // default USER_ISOLATION, SINGLE_USER with SingleUserName
	ClusterSource    string `json:"cluster_source,omitempty"`     // default UI
	State            string `json:"state"`
	// PinnedBy pins the cluster (wire pinned_by_user_name).
	PinnedBy               string            `json:"pinned_by,omitempty"`
	PolicyID               string            `json:"policy_id,omitempty"`
	SparkVersion           string            `json:"spark_version,omitempty"`
	NodeTypeID             string            `json:"node_type_id,omitempty"`
	NumWorkers             int               `json:"num_workers,omitempty"`
	AutoterminationMinutes int               `json:"autotermination_minutes,omitempty"`
	CustomTags             map[string]string `json:"custom_tags,omitempty"`
	Started                SeedTime          `json:"started,omitempty"`
	// Terminated is when a TERMINATED cluster stopped; clusters terminated
	// more than 30 days ago and not pinned are left out of lists.
	Terminated  SeedTime    `json:"terminated,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedWarehouse is a SQL warehouse.
type SeedWarehouse struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Creator string `json:"creator"`
	// Owner holds IS_OWNER; default Creator when the creator exists.
	Owner         string      `json:"owner,omitempty"`
	State         string      `json:"state"`
	ClusterSize   string      `json:"cluster_size,omitempty"`
	WarehouseType string      `json:"warehouse_type,omitempty"` // PRO or CLASSIC; default PRO
	Serverless    bool        `json:"serverless,omitempty"`
	AutoStopMins  int         `json:"auto_stop_mins,omitempty"`
	Permissions   []SeedGrant `json:"permissions,omitempty"`
}

// SeedPipeline is a Lakeflow Declarative Pipeline.
type SeedPipeline struct {
	PipelineID string `json:"pipeline_id"`
	Name       string `json:"name"`
	Creator    string `json:"creator"`
	// RunAs is the identity the pipeline runs as and its IS_OWNER; default
	// the creator.
	RunAs      *SeedRunAs `json:"run_as,omitempty"`
	State      string     `json:"state"`
	Continuous bool       `json:"continuous,omitempty"`
	Catalog    string     `json:"catalog,omitempty"`
	Target     string     `json:"target,omitempty"`
	ClusterID  string     `json:"cluster_id,omitempty"`
	// Libraries are the pipeline's source code (spec.libraries).
	Libraries   []SeedPipelineLibrary `json:"libraries,omitempty"`
	Permissions []SeedGrant           `json:"permissions,omitempty"`
}

// SeedPipelineLibrary is one pipeline library: a notebook or a file path
// (exactly one).
type SeedPipelineLibrary struct {
	Notebook string `json:"notebook,omitempty"`
	File     string `json:"file,omitempty"`
}

// SeedQuery is a SQL query (queries API v2).
type SeedQuery struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Owner       string `json:"owner"`
	// RunAsMode is OWNER or VIEWER (default VIEWER).
	RunAsMode    string      `json:"run_as_mode,omitempty"`
	WarehouseID  string      `json:"warehouse_id,omitempty"`
	QueryText    string      `json:"query_text,omitempty"`
	LastModifier string      `json:"last_modifier,omitempty"`
	ParentPath   string      `json:"parent_path,omitempty"` // default /Users/<owner>
	Created      SeedTime    `json:"created,omitempty"`
	Trashed      bool        `json:"trashed,omitempty"`
	Permissions  []SeedGrant `json:"permissions,omitempty"`
}

// SeedAlert is a SQL alert (alerts API of /api/2.0/sql/alerts).
type SeedAlert struct {
	ID          string      `json:"id"`
	DisplayName string      `json:"display_name"`
	Owner       string      `json:"owner"`
	QueryID     string      `json:"query_id"`
	ParentPath  string      `json:"parent_path,omitempty"` // default /Users/<owner>
	State       string      `json:"state,omitempty"`       // UNKNOWN, OK or TRIGGERED
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedLegacyDashboard is a legacy Databricks SQL dashboard.
type SeedLegacyDashboard struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Owner       string      `json:"owner"`
	Created     SeedTime    `json:"created,omitempty"`
	Tags        []string    `json:"tags,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedLakeviewDashboard is an AI/BI (Lakeview) dashboard. The API has no
// owner field: Owner becomes the CAN_MANAGE grant of its permissions.
type SeedLakeviewDashboard struct {
	DashboardID string `json:"dashboard_id"`
	DisplayName string `json:"display_name"`
	Owner       string `json:"owner"`
	WarehouseID string `json:"warehouse_id,omitempty"`
	// ParentPath is the folder holding the dashboard (default
	// /Users/<owner>).
	ParentPath  string      `json:"parent_path,omitempty"`
	Trashed     bool        `json:"trashed,omitempty"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedServingEndpoint is a model serving endpoint.
type SeedServingEndpoint struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Creator     string      `json:"creator"`
	Ready       bool        `json:"ready,omitempty"`
	Task        string      `json:"task,omitempty"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedApp is a Databricks app. ServicePrincipal is the application id of
// the app's own service principal.
type SeedApp struct {
	Name             string      `json:"name"`
	ID               string      `json:"id"`
	Creator          string      `json:"creator"`
	ServicePrincipal string      `json:"service_principal"`
	Running          bool        `json:"running,omitempty"`
	Description      string      `json:"description,omitempty"`
	Created          SeedTime    `json:"created,omitempty"`
	Permissions      []SeedGrant `json:"permissions,omitempty"`
}

// Object permission types (the {object_type} segment of
// /api/2.0/permissions/{object_type}/{id}) of the objects in this file.
const (
	permTypeJobs             = "jobs"
	permTypeClusters         = "clusters"
	permTypeWarehouses       = "warehouses"
	permTypePipelines        = "pipelines"
	permTypeQueries          = "queries"
	permTypeAlerts           = "alerts"
	permTypeLegacyDashboards = "dbsql-dashboards"
	permTypeDashboards       = "dashboards"
	permTypeServingEndpoints = "serving-endpoints"
	permTypeApps             = "apps"
)

// principalNames is a workspace's name scope for object references.
type principalNames struct {
	users, sps, groups map[string]bool // lower-case names
	deleted            map[string]bool
	// grantable holds "u:", "s:" and "g:" + lower-case name of the
	// principals that exist in the workspace and so can receive grants:
	// local ones and, in a federated workspace, visible account ones.
	grantable map[string]bool
}

func (n *principalNames) user(name string) bool {
	k := strings.ToLower(name)
	return n.users[k] || n.deleted[k]
}

func (n *principalNames) userOrSP(name string) bool {
	k := strings.ToLower(name)
	return n.users[k] || n.sps[k] || n.deleted[k]
}

func (n *principalNames) live(name string) bool {
	k := strings.ToLower(name)
	return n.users[k] || n.sps[k]
}

// seedNames collects the names a workspace's objects may refer to: the
// workspace's local principals, every account principal when the workspace
// is identity federated (objects outlive assignments), and the system groups.
func seedNames(s *Seed, w *SeedWorkspace) *principalNames {
	n := &principalNames{users: map[string]bool{}, sps: map[string]bool{}, groups: map[string]bool{},
		deleted: map[string]bool{}, grantable: map[string]bool{}}
	all := func(string) bool { return true }
	addAll := func(us []SeedUser, sps []SeedServicePrincipal, gs []SeedGroup, visible func(id string) bool) {
		for _, u := range us {
			k := strings.ToLower(u.UserName)
			n.users[k] = true
			n.grantable["u:"+k] = n.grantable["u:"+k] || visible(u.ID)
		}
		for _, sp := range sps {
			k := strings.ToLower(sp.ApplicationID)
			n.sps[k] = true
			n.grantable["s:"+k] = n.grantable["s:"+k] || visible(sp.ID)
		}
		for _, g := range gs {
			k := strings.ToLower(g.DisplayName)
			n.groups[k] = true
			n.grantable["g:"+k] = n.grantable["g:"+k] || visible(g.ID)
		}
	}
	if w.IdentityFederated {
		vis := visibilityFromSeed(s)[w.WorkspaceID]
		addAll(s.Users, s.ServicePrincipals, s.Groups, func(id string) bool { return vis[id] })
		if !slices.ContainsFunc(s.Groups, func(g SeedGroup) bool { return g.DisplayName == accountUsersGroup }) {
			n.groups[accountUsersGroup] = true // implicit; not grantable unless assigned (it has no seed id)
		}
	}
	addAll(w.Users, w.ServicePrincipals, w.Groups, all)
	for _, g := range []string{adminsGroup, usersGroup} {
		n.groups[g] = true
		n.grantable["g:"+g] = true
	}
	return n
}

var (
	reClusterID  = regexp.MustCompile(`^[0-9]{4}-[0-9]{6}-[a-z0-9]{8}$`)
	reHexID      = regexp.MustCompile(`^[0-9a-f]{16,32}$`)
	reUUID       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reTokenID    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	reAppName    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,29}$`)
	reSimpleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
)

// objectValidator checks one workspace's objects section.
type objectValidator struct {
	prefix string
	names  *principalNames
	errs   []error
}

func (v *objectValidator) errf(format string, a ...any) {
	if len(v.errs) < 20 {
		v.errs = append(v.errs, fmt.Errorf(v.prefix+format, a...))
	}
}

func (v *objectValidator) time(field string, t SeedTime, required bool) {
	if t == "" {
		if required {
			v.errf("%s: required", field)
		}
		return
	}
	if _, err := t.resolve(time.Unix(0, 0)); err != nil {
		v.errf("%s: %w", field, err)
	}
}

func (v *objectValidator) userRef(field, name string, required bool) {
	switch {
	case name == "":
		if required {
			v.errf("%s: required", field)
		}
	case !v.names.user(name):
		v.errf("%s: %q is not a user of the seed (add it to deleted_principals if it was deleted)", field, name)
	}
}

func (v *objectValidator) principalRef(field, name string, required bool) {
	switch {
	case name == "":
		if required {
			v.errf("%s: required", field)
		}
	case !v.names.userOrSP(name):
		v.errf("%s: %q is not a user or service principal of the seed", field, name)
	}
}

func (v *objectValidator) liveRef(field, name string) {
	if name != "" && !v.names.live(name) {
		v.errf("%s: %q must be a live user or service principal", field, name)
	}
}

func (v *objectValidator) runAs(field string, r *SeedRunAs) {
	if r == nil {
		return
	}
	switch {
	case (r.UserName == "") == (r.ServicePrincipalName == ""):
		v.errf("%s: set exactly one of user_name and service_principal_name", field)
	case r.UserName != "":
		v.userRef(field+".user_name", r.UserName, true)
	case !v.names.sps[strings.ToLower(r.ServicePrincipalName)] && !v.names.deleted[strings.ToLower(r.ServicePrincipalName)]:
		v.errf("%s.service_principal_name: %q is not a service principal of the seed", field, r.ServicePrincipalName)
	}
}

func (v *objectValidator) acl(field, typ string, acl []SeedGrant) {
	for i, a := range acl {
		f := fmt.Sprintf("%s[%d]", field, i)
		n := 0
		for _, s := range []string{a.UserName, a.GroupName, a.ServicePrincipalName} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			v.errf("%s: set exactly one of user_name, group_name and service_principal_name", f)
			continue
		}
		g := v.names.grantable
		switch {
		case a.UserName != "" && !g["u:"+strings.ToLower(a.UserName)]:
			v.errf("%s.user_name: %q is not a live user in the workspace", f, a.UserName)
		case a.GroupName != "" && !g["g:"+strings.ToLower(a.GroupName)]:
			v.errf("%s.group_name: %q is not a group in the workspace", f, a.GroupName)
		case a.ServicePrincipalName != "" && !g["s:"+strings.ToLower(a.ServicePrincipalName)]:
			v.errf("%s.service_principal_name: %q is not a service principal in the workspace", f, a.ServicePrincipalName)
		}
		if levelRank(typ, a.PermissionLevel) < 0 {
			v.errf("%s.permission_level: %q is not one of %s", f, a.PermissionLevel, strings.Join(aclTypes[typ].levels, ", "))
		}
		if a.PermissionLevel == "IS_OWNER" {
			v.errf("%s.permission_level: IS_OWNER comes from the object's owner field", f)
		}
	}
}

func oneOf(val string, allowed ...string) bool { return slices.Contains(allowed, val) }

func (v *objectValidator) enum(field, val string, allowed ...string) {
	if val != "" && !oneOf(val, allowed...) {
		v.errf("%s: %q is not one of %s", field, val, strings.Join(allowed, ", "))
	}
}

func (v *objectValidator) unique(field string, seen map[string]bool, id string) {
	k := strings.ToLower(id)
	if seen[k] {
		v.errf("%s: duplicate %q", field, id)
	}
	seen[k] = true
}

// validateObjects checks a workspace's objects section against the seed's
// principals. prefix names the section in errors.
func validateObjects(prefix string, s *Seed, w *SeedWorkspace, o *SeedObjects) []error {
	v := &objectValidator{prefix: prefix, names: seedNames(s, w)}
	for i, d := range o.DeletedPrincipals {
		k := strings.ToLower(d)
		if strings.TrimSpace(d) == "" {
			v.errf("deleted_principals[%d]: empty name", i)
		} else if v.names.live(d) {
			v.errf("deleted_principals[%d]: %q is a live principal", i, d)
		}
		v.names.deleted[k] = true
	}
	pauses := []string{"PAUSED", "UNPAUSED"}

	seen := map[string]bool{}
	for i, t := range o.Tokens {
		f := fmt.Sprintf("tokens[%d]", i)
		if !reTokenID.MatchString(t.TokenID) {
			v.errf("%s.token_id: %q is not 64 lower-case hex digits", f, t.TokenID)
		}
		v.unique(f+".token_id", seen, t.TokenID)
		if t.Owner == "" {
			v.errf("%s.owner: required", f)
		} else {
			v.liveRef(f+".owner", t.Owner)
		}
		v.liveRef(f+".created_by", t.CreatedBy)
		v.time(f+".created", t.Created, true)
		if t.Expiry != nil {
			v.time(f+".expiry", *t.Expiry, true)
		}
		if t.LastUsed != nil {
			v.time(f+".last_used", *t.LastUsed, true)
		}
	}

	clusters := map[string]bool{}
	for i, c := range o.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		if !reClusterID.MatchString(c.ClusterID) {
			v.errf("%s.cluster_id: %q does not look like 0123-456789-abcdefgh", f, c.ClusterID)
		}
		v.unique(f+".cluster_id", clusters, c.ClusterID)
		if strings.TrimSpace(c.ClusterName) == "" {
			v.errf("%s.cluster_name: required", f)
		}
		v.principalRef(f+".creator", c.Creator, true)
		if c.SingleUserName != "" && !v.names.userOrSP(c.SingleUserName) && !v.names.groups[strings.ToLower(c.SingleUserName)] {
			v.errf("%s.single_user_name: %q is not a principal of the seed", f, c.SingleUserName)
		}
		v.enum(f+".data_security_mode", c.DataSecurityMode, "SINGLE_USER", "USER_ISOLATION", "NONE",
			"DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_STANDARD", "DATA_SECURITY_MODE_AUTO",
			"LEGACY_SINGLE_USER", "LEGACY_SINGLE_USER_STANDARD", "LEGACY_TABLE_ACL", "LEGACY_PASSTHROUGH")
		v.enum(f+".cluster_source", c.ClusterSource, "UI", "API", "JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS")
		if c.State == "" {
			v.errf("%s.state: required", f)
		}
		v.enum(f+".state", c.State, "PENDING", "RUNNING", "RESTARTING", "RESIZING", "TERMINATING", "TERMINATED", "ERROR", "UNKNOWN")
		v.liveRef(f+".pinned_by", c.PinnedBy)
		v.time(f+".started", c.Started, false)
		v.time(f+".terminated", c.Terminated, false)
		if c.Terminated != "" && c.State != "TERMINATED" {
			v.errf("%s.terminated: only a TERMINATED cluster has a termination time", f)
		}
	}

	seen = map[string]bool{}
	for i, j := range o.Jobs {
		f := fmt.Sprintf("jobs[%d]", i)
		if j.JobID <= 0 {
			v.errf("%s.job_id: must be a positive integer", f)
		}
		v.unique(f+".job_id", seen, strconv.FormatInt(j.JobID, 10))
		if strings.TrimSpace(j.Name) == "" {
			v.errf("%s.name: required", f)
		}
		v.principalRef(f+".creator", j.Creator, true)
		v.time(f+".created", j.Created, false)
		v.liveRef(f+".owner", j.Owner)
		v.runAs(f+".run_as", j.RunAs)
		n := 0
		if s := j.Schedule; s != nil {
			n++
			if strings.TrimSpace(s.QuartzCronExpression) == "" || strings.TrimSpace(s.TimezoneID) == "" {
				v.errf("%s.schedule: quartz_cron_expression and timezone_id are required", f)
			}
			v.enum(f+".schedule.pause_status", s.PauseStatus, pauses...)
		}
		if t := j.Trigger; t != nil {
			n++
			k := 0
			if t.FileArrival != nil {
				k++
				if t.FileArrival.URL == "" {
					v.errf("%s.trigger.file_arrival.url: required", f)
				}
			}
			if t.Periodic != nil {
				k++
				if t.Periodic.Interval <= 0 {
					v.errf("%s.trigger.periodic.interval: must be positive", f)
				}
				v.enum(f+".trigger.periodic.unit", t.Periodic.Unit, "MINUTES", "HOURS", "DAYS", "WEEKS")
				if t.Periodic.Unit == "" {
					v.errf("%s.trigger.periodic.unit: required", f)
				}
			}
			if t.TableUpdate != nil {
				k++
				if len(t.TableUpdate.TableNames) == 0 {
					v.errf("%s.trigger.table_update.table_names: required", f)
				}
			}
			if k != 1 {
				v.errf("%s.trigger: set exactly one of file_arrival, periodic and table_update", f)
			}
			v.enum(f+".trigger.pause_status", t.PauseStatus, pauses...)
		}
		if c := j.Continuous; c != nil {
			n++
			v.enum(f+".continuous.pause_status", c.PauseStatus, pauses...)
		}
		if n > 1 {
			v.errf("%s: a job has at most one of schedule, trigger and continuous", f)
		}
		keys := map[string]bool{}
		for k, t := range j.Tasks {
			tf := fmt.Sprintf("%s.tasks[%d]", f, k)
			if !reSimpleName.MatchString(t.TaskKey) {
				v.errf("%s.task_key: %q is not a valid task key", tf, t.TaskKey)
			}
			v.unique(tf+".task_key", keys, t.TaskKey)
			if t.ExistingClusterID != "" && !clusters[strings.ToLower(t.ExistingClusterID)] {
				v.errf("%s.existing_cluster_id: %q is not a cluster of the workspace", tf, t.ExistingClusterID)
			}
			if t.PipelineID != "" && !slices.ContainsFunc(o.Pipelines, func(p SeedPipeline) bool { return p.PipelineID == t.PipelineID }) {
				v.errf("%s.pipeline_id: %q is not a pipeline of the workspace", tf, t.PipelineID)
			}
			if t.PipelineID != "" && (t.NotebookPath != "" || t.ExistingClusterID != "") {
				v.errf("%s: a pipeline task has no notebook_path or existing_cluster_id", tf)
			}
		}
	}

	warehouses := map[string]bool{}
	for i, w := range o.Warehouses {
		f := fmt.Sprintf("warehouses[%d]", i)
		if !reHexID.MatchString(w.ID) {
			v.errf("%s.id: %q is not 16 hex digits", f, w.ID)
		}
		v.unique(f+".id", warehouses, w.ID)
		if strings.TrimSpace(w.Name) == "" {
			v.errf("%s.name: required", f)
		}
		v.principalRef(f+".creator", w.Creator, true)
		v.liveRef(f+".owner", w.Owner)
		if w.State == "" {
			v.errf("%s.state: required", f)
		}
		v.enum(f+".state", w.State, "STARTING", "RUNNING", "STOPPING", "STOPPED", "DELETING", "DELETED")
		v.enum(f+".cluster_size", w.ClusterSize, "2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large")
		v.enum(f+".warehouse_type", w.WarehouseType, "PRO", "CLASSIC")
	}

	seen = map[string]bool{}
	for i, p := range o.Pipelines {
		f := fmt.Sprintf("pipelines[%d]", i)
		if !reUUID.MatchString(p.PipelineID) {
			v.errf("%s.pipeline_id: %q is not a lower-case UUID", f, p.PipelineID)
		}
		v.unique(f+".pipeline_id", seen, p.PipelineID)
		if strings.TrimSpace(p.Name) == "" {
			v.errf("%s.name: required", f)
		}
		v.principalRef(f+".creator", p.Creator, true)
		v.runAs(f+".run_as", p.RunAs)
		if p.State == "" {
			v.errf("%s.state: required", f)
		}
		v.enum(f+".state", p.State, "DEPLOYING", "STARTING", "RUNNING", "STOPPING", "DELETED", "RECOVERING", "FAILED", "RESETTING", "IDLE")
		if p.ClusterID != "" && !clusters[strings.ToLower(p.ClusterID)] {
			v.errf("%s.cluster_id: %q is not a cluster of the workspace", f, p.ClusterID)
		}
	}

	queries := map[string]bool{}
	for i, q := range o.Queries {
		f := fmt.Sprintf("queries[%d]", i)
		if !reUUID.MatchString(q.ID) {
			v.errf("%s.id: %q is not a lower-case UUID", f, q.ID)
		}
		v.unique(f+".id", queries, q.ID)
		if strings.TrimSpace(q.DisplayName) == "" {
			v.errf("%s.display_name: required", f)
		}
		v.principalRef(f+".owner", q.Owner, true)
		v.principalRef(f+".last_modifier", q.LastModifier, false)
		v.enum(f+".run_as_mode", q.RunAsMode, "OWNER", "VIEWER")
		if q.WarehouseID != "" && !warehouses[strings.ToLower(q.WarehouseID)] {
			v.errf("%s.warehouse_id: %q is not a warehouse of the workspace", f, q.WarehouseID)
		}
		v.time(f+".created", q.Created, false)
	}

	seen = map[string]bool{}
	for i, a := range o.Alerts {
		f := fmt.Sprintf("alerts[%d]", i)
		if !reUUID.MatchString(a.ID) {
			v.errf("%s.id: %q is not a lower-case UUID", f, a.ID)
		}
		v.unique(f+".id", seen, a.ID)
		if strings.TrimSpace(a.DisplayName) == "" {
			v.errf("%s.display_name: required", f)
		}
		v.principalRef(f+".owner", a.Owner, true)
		if !queries[strings.ToLower(a.QueryID)] {
			v.errf("%s.query_id: %q is not a query of the workspace", f, a.QueryID)
		}
		v.enum(f+".state", a.State, "UNKNOWN", "OK", "TRIGGERED")
		v.time(f+".created", a.Created, false)
	}

	seen = map[string]bool{}
	for i, d := range o.LegacyDashboards {
		f := fmt.Sprintf("legacy_dashboards[%d]", i)
		if !reUUID.MatchString(d.ID) {
			v.errf("%s.id: %q is not a lower-case UUID", f, d.ID)
		}
		v.unique(f+".id", seen, d.ID)
		if strings.TrimSpace(d.Name) == "" {
			v.errf("%s.name: required", f)
		}
		v.userRef(f+".owner", d.Owner, true)
		v.time(f+".created", d.Created, false)
	}

	seen = map[string]bool{}
	for i, d := range o.LakeviewDashboards {
		f := fmt.Sprintf("lakeview_dashboards[%d]", i)
		if !reHexID.MatchString(d.DashboardID) || len(d.DashboardID) != 32 {
			v.errf("%s.dashboard_id: %q is not 32 hex digits", f, d.DashboardID)
		}
		v.unique(f+".dashboard_id", seen, d.DashboardID)
		if strings.TrimSpace(d.DisplayName) == "" {
			v.errf("%s.display_name: required", f)
		}
		v.principalRef(f+".owner", d.Owner, true)
		if d.WarehouseID != "" && !warehouses[strings.ToLower(d.WarehouseID)] {
			v.errf("%s.warehouse_id: %q is not a warehouse of the workspace", f, d.WarehouseID)
		}
		v.time(f+".created", d.Created, false)
	}

	seen = map[string]bool{}
	names := map[string]bool{}
	for i, e := range o.ServingEndpoints {
		f := fmt.Sprintf("serving_endpoints[%d]", i)
		if !reHexID.MatchString(e.ID) || len(e.ID) != 32 {
			v.errf("%s.id: %q is not 32 hex digits", f, e.ID)
		}
		v.unique(f+".id", seen, e.ID)
		if !reSimpleName.MatchString(e.Name) {
			v.errf("%s.name: %q is not a valid endpoint name", f, e.Name)
		}
		v.unique(f+".name", names, e.Name)
		v.principalRef(f+".creator", e.Creator, true)
		v.time(f+".created", e.Created, false)
	}

	seen = map[string]bool{}
	names = map[string]bool{}
	for i, a := range o.Apps {
		f := fmt.Sprintf("apps[%d]", i)
		if !reAppName.MatchString(a.Name) {
			v.errf("%s.name: %q must be 2-30 lower-case letters, digits and dashes", f, a.Name)
		}
		v.unique(f+".name", names, a.Name)
		if !reUUID.MatchString(a.ID) {
			v.errf("%s.id: %q is not a lower-case UUID", f, a.ID)
		}
		v.unique(f+".id", seen, a.ID)
		v.principalRef(f+".creator", a.Creator, true)
		if !v.names.sps[strings.ToLower(a.ServicePrincipal)] {
			v.errf("%s.service_principal: %q is not a service principal of the seed", f, a.ServicePrincipal)
		}
		v.time(f+".created", a.Created, false)
	}
	v.alertsV2(o, warehouses)
	for _, a := range objectACLSpecs(o) {
		v.acl(a.field+".permissions", a.typ, a.grants)
		for i, g := range a.grants {
			for _, d := range a.defaults {
				if name := cmpOr(g.UserName, g.ServicePrincipalName); strings.EqualFold(name, d.name) && v.names.live(d.name) {
					v.errf("%s.permissions[%d]: %q already holds %s on this object (from its owner or creator)", a.field, i, name, d.level)
				}
			}
		}
	}
	return v.errs
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// defaultGrant is a grant an object has by default: its owner's IS_OWNER
// or its creator's CAN_MANAGE. name is a user name or application id; the
// grant is skipped when that principal no longer exists.
type defaultGrant struct{ name, level string }

// aclSpec is the initial ACL of one object.
type aclSpec struct {
	typ, id  string // permissions API object type and id
	field    string // seed path, e.g. "jobs[3]"
	defaults []defaultGrant
	grants   []SeedGrant
}

// objectACLSpecs lists the initial ACL of every object of o: the owner of
// jobs and warehouses holds IS_OWNER (default: the creator); a pipeline's
// run-as identity holds IS_OWNER and its creator, if different, CAN_MANAGE;
// the creator (or owner) of every other object holds CAN_MANAGE; then come
// the seeded grants.
func objectACLSpecs(o *SeedObjects) []aclSpec {
	var out []aclSpec
	add := func(typ, id, field string, grants []SeedGrant, defaults ...defaultGrant) {
		out = append(out, aclSpec{typ: typ, id: id, field: field, defaults: defaults, grants: grants})
	}
	for i, j := range o.Jobs {
		add(permTypeJobs, strconv.FormatInt(j.JobID, 10), fmt.Sprintf("jobs[%d]", i), j.Permissions,
			defaultGrant{cmpOr(j.Owner, j.Creator), "IS_OWNER"})
	}
	for i, c := range o.Clusters {
		add(permTypeClusters, c.ClusterID, fmt.Sprintf("clusters[%d]", i), c.Permissions, defaultGrant{c.Creator, "CAN_MANAGE"})
	}
	for i, w := range o.Warehouses {
		add(permTypeWarehouses, w.ID, fmt.Sprintf("warehouses[%d]", i), w.Permissions,
			defaultGrant{cmpOr(w.Owner, w.Creator), "IS_OWNER"})
	}
	for i, p := range o.Pipelines {
		owner := p.Creator
		if p.RunAs != nil {
			owner = p.RunAs.name()
		}
		d := []defaultGrant{{owner, "IS_OWNER"}}
		if !strings.EqualFold(owner, p.Creator) {
			d = append(d, defaultGrant{p.Creator, "CAN_MANAGE"})
		}
		add(permTypePipelines, p.PipelineID, fmt.Sprintf("pipelines[%d]", i), p.Permissions, d...)
	}
	for i, q := range o.Queries {
		add(permTypeQueries, q.ID, fmt.Sprintf("queries[%d]", i), q.Permissions, defaultGrant{q.Owner, "CAN_MANAGE"})
	}
	for i, a := range o.Alerts {
		add(permTypeAlerts, a.ID, fmt.Sprintf("alerts[%d]", i), a.Permissions, defaultGrant{a.Owner, "CAN_MANAGE"})
	}
	out = append(out, alertsV2ACLSpecs(o)...)
	for i, d := range o.LegacyDashboards {
		add(permTypeLegacyDashboards, d.ID, fmt.Sprintf("legacy_dashboards[%d]", i), d.Permissions, defaultGrant{d.Owner, "CAN_MANAGE"})
	}
	for i, d := range o.LakeviewDashboards {
		add(permTypeDashboards, d.DashboardID, fmt.Sprintf("lakeview_dashboards[%d]", i), d.Permissions, defaultGrant{d.Owner, "CAN_MANAGE"})
	}
	for i, e := range o.ServingEndpoints {
		add(permTypeServingEndpoints, e.ID, fmt.Sprintf("serving_endpoints[%d]", i), e.Permissions, defaultGrant{e.Creator, "CAN_MANAGE"})
	}
	for i, a := range o.Apps {
		add(permTypeApps, a.Name, fmt.Sprintf("apps[%d]", i), a.Permissions, defaultGrant{a.Creator, "CAN_MANAGE"})
	}
	return out
}
