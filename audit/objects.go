package audit

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dbiam/dbiam/scim"
)

// pref is a reference to a principal in an object's fields: a name (user
// name, application id or group name) and/or a numeric SCIM id, and its
// type when the field tells it ("" when it does not, e.g. creator names,
// which may be users or service principals).
type pref struct {
	name  string // as written
	id    int64
	ptype PrincipalType
}

// objRef ties a principal reference to an object.
type objRef struct {
	who pref
	rel Relation
}

// object is one workspace object in a kind-neutral form: its identity
// references from the list fields, the permissions API coordinates, and the
// facts the severity rules need.
type object struct {
	kind        Kind
	id, name    string
	url         string
	refs        []objRef
	details     []Detail
	permType    string // permissions API object type; "" if none
	permID      string
	creatorGone bool // a job whose creator was deleted (creator_user_name omitted)

	// Filled in after the list, by permission and jobs/get reads.
	acl      *scim.ObjectPermissions
	aclErr   error
	jobRunAs string // jobs/get run_as_user_name
	jobErr   error
	// jobGetRunAs is set when jobs/get was read for the run-as; a job
	// listed with has_more is read for its tasks too (tasksRead once they
	// are all in job.Settings.Tasks).
	jobGetRunAs, tasksRead bool

	// Kind-specific facts.
	token     *scim.TokenInfo
	job       *scim.Job
	cluster   *scim.Cluster
	pipeline  *scim.Pipeline
	query     *scim.Query
	alert     *scim.Alert
	dashboard *scim.Dashboard

	// libs are a pipeline's library paths (pipeline get), read after the
	// list; libsErr is why they could not be.
	libs       []string
	libsErr    error
	continuous bool // a continuous pipeline (pipeline get)
	// activeJobs are the names of the active jobs that update a pipeline
	// (markPipelineJobs).
	activeJobs []string
	// mlModel is a registry model's name: its permissions id (permID) is
	// only known after a get.
	mlModel string
	// dirID is a home folder's permissions object path
	// ("/directories/<object id>"): what the ACLs of objects stored in it
	// name as inherited_from_object.
	dirID string

	// Unity Catalog securables (metastore.go).
	uc        *scim.Securable
	grantType string // the grants API's securable type; "" when grants are not read
	grants    []scim.PrivilegeAssignment
	grantsErr error
	// ucVia is the workspace the grants are read through (an isolated
	// catalog's bound workspace); nil: the metastore's reader. ucOut marks
	// a securable no audited workspace can reach: its grants are not read.
	ucVia scim.Doer
	ucOut bool
}

// epochMillis converts epoch milliseconds to a time; 0 and negative values
// are the zero time.
func epochMillis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// objectURL links to an object in the workspace UI. For a workspace
// reached through a shared host, the ?o= parameter selects it.
func objectURL(ws scim.WorkspaceInfo, path string) string {
	if ws.URL == "" || path == "" {
		return ""
	}
	u := strings.TrimRight(ws.URL, "/") + path
	if ws.RouteByHeader && ws.ID != 0 {
		u += "?o=" + strconv.FormatInt(ws.ID, 10)
	}
	return u
}

func esc(s string) string { return url.PathEscape(s) }

// The object builders turn list entries into objects.

func tokenObject(ws scim.WorkspaceInfo, t scim.TokenInfo) *object {
	o := &object{kind: KindToken, id: t.TokenID, name: t.Comment, token: &t}
	if o.name == "" {
		o.name = "(no comment)"
	}
	// created_by_username names the creator; owner_id is who the token
	// authenticates (it differs from the creator for on-behalf-of tokens).
	switch {
	case t.OwnerID == 0 || t.OwnerID == t.CreatedByID:
		owner := pref{name: t.CreatedByUsername, id: t.CreatedByID}
		if t.OwnerID == 0 && t.CreatedByID == 0 && owner.name == "" {
			break
		}
		o.refs = append(o.refs, objRef{owner, RelCreated}, objRef{owner, RelOwns})
	default:
		if t.CreatedByUsername != "" || t.CreatedByID != 0 {
			o.refs = append(o.refs, objRef{pref{name: t.CreatedByUsername, id: t.CreatedByID}, RelCreated})
		}
		o.refs = append(o.refs, objRef{pref{id: t.OwnerID}, RelOwns})
	}
	expiry := "never"
	if t.ExpiryTime > 0 {
		expiry = fmtTime(epochMillis(t.ExpiryTime))
	}
	lastUsed := "never"
	if t.LastUsedDay > 0 {
		lastUsed = fmtDay(epochMillis(t.LastUsedDay))
	}
	o.details = []Detail{
		{"created", fmtTime(epochMillis(t.CreationTime))},
		{"expires", expiry},
		{"last_used", lastUsed},
		{"created_by", t.CreatedByUsername},
	}
	return o
}

// jobTrigger returns a job's trigger kind ("" for none) and whether it is
// paused.
func jobTrigger(s scim.JobSettings) (trigger string, paused bool, text string) {
	switch {
	case s.Continuous != nil:
		return "continuous", s.Continuous.PauseStatus == "PAUSED", "continuous"
	case s.Trigger != nil:
		k := s.Trigger.Kind()
		return k, s.Trigger.PauseStatus == "PAUSED", strings.ReplaceAll(k, "_", " ")
	case s.Schedule != nil:
		text := "cron " + s.Schedule.QuartzCronExpression
		if s.Schedule.TimezoneID != "" {
			text += " " + s.Schedule.TimezoneID
		}
		return "schedule", s.Schedule.PauseStatus == "PAUSED", text
	}
	return "", false, ""
}

func jobObject(ws scim.WorkspaceInfo, j scim.Job) *object {
	id := strconv.FormatInt(j.JobID, 10)
	o := &object{kind: KindJob, id: id, name: j.Settings.Name, job: &j,
		url: objectURL(ws, "/jobs/"+id), permType: "jobs", permID: id}
	if j.CreatorUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: j.CreatorUserName}, RelCreated})
	} else {
		o.creatorGone = true
	}
	if ra := j.Settings.RunAs; ra.Name() != "" {
		o.refs = append(o.refs, objRef{runAsRef(ra), RelRunsAs})
	}
	_, paused, text := jobTrigger(j.Settings)
	pause := ""
	if text != "" {
		pause = strconv.FormatBool(paused)
	}
	o.details = []Detail{
		{"trigger", text},
		{"paused", pause},
		{"creator", j.CreatorUserName},
	}
	return o
}

func runAsRef(r *scim.RunAs) pref {
	switch {
	case r.UserName != "":
		return pref{name: r.UserName, ptype: PrincipalUser}
	case r.ServicePrincipalName != "":
		return pref{name: r.ServicePrincipalName, ptype: PrincipalServicePrincipal}
	}
	return pref{name: r.GroupName, ptype: PrincipalGroup}
}

func clusterObject(ws scim.WorkspaceInfo, c scim.Cluster) *object {
	o := &object{kind: KindCluster, id: c.ClusterID, name: c.ClusterName, cluster: &c,
		url: objectURL(ws, "/compute/clusters/"+esc(c.ClusterID)), permType: "clusters", permID: c.ClusterID}
	if c.CreatorUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: c.CreatorUserName}, RelCreated})
	}
	if c.SingleUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: c.SingleUserName}, RelDedicated})
	}
	o.details = []Detail{
		{"state", c.State},
		{"source", c.ClusterSource},
		{"pinned", strconv.FormatBool(c.Pinned)},
		{"dedicated_to", c.SingleUserName},
		{"access_mode", c.DataSecurityMode},
	}
	return o
}

func warehouseObject(ws scim.WorkspaceInfo, w scim.Warehouse) *object {
	o := &object{kind: KindWarehouse, id: w.ID, name: w.Name,
		url: objectURL(ws, "/sql/warehouses/"+esc(w.ID)), permType: "warehouses", permID: w.ID}
	if w.CreatorName != "" {
		o.refs = append(o.refs, objRef{pref{name: w.CreatorName}, RelCreated})
	}
	o.details = []Detail{{"state", w.State}}
	return o
}

func pipelineObject(ws scim.WorkspaceInfo, p scim.Pipeline) *object {
	o := &object{kind: KindPipeline, id: p.PipelineID, name: p.Name, pipeline: &p,
		url: objectURL(ws, "/pipelines/"+esc(p.PipelineID)), permType: "pipelines", permID: p.PipelineID}
	if p.CreatorUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: p.CreatorUserName}, RelCreated})
	}
	if p.RunAsUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: p.RunAsUserName}, RelRunsAs})
	}
	o.details = []Detail{{"state", p.State}, {"run_as", p.RunAsUserName}}
	return o
}

func queryObject(ws scim.WorkspaceInfo, q scim.Query) *object {
	o := &object{kind: KindQuery, id: q.ID, name: q.DisplayName, query: &q,
		url: objectURL(ws, "/sql/editor/"+esc(q.ID)), permType: "queries", permID: q.ID}
	if q.OwnerUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: q.OwnerUserName}, RelOwns})
		if strings.EqualFold(q.RunAsMode, "OWNER") {
			o.refs = append(o.refs, objRef{pref{name: q.OwnerUserName}, RelRunsAs})
		}
	}
	o.details = []Detail{{"run_as_mode", q.RunAsMode}, {"warehouse_id", q.WarehouseID}}
	return o
}

func alertObject(ws scim.WorkspaceInfo, a scim.Alert) *object {
	o := &object{kind: KindAlert, id: a.ID, name: a.DisplayName, alert: &a,
		url: objectURL(ws, "/sql/alerts/"+esc(a.ID)), permType: "alerts", permID: a.ID}
	if a.OwnerUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: a.OwnerUserName}, RelOwns})
	}
	// An alert is evaluated as its run-as identity when the API names one,
	// else as its owner.
	runAs := a.RunAsName()
	if runAs == "" {
		runAs = a.OwnerUserName
	}
	if runAs != "" {
		o.refs = append(o.refs, objRef{pref{name: runAs}, RelRunsAs})
	}
	o.details = []Detail{{"state", a.State}, {"query_id", a.QueryID}, {"run_as", runAs}}
	return o
}

// alertV2Object builds a v2 alert (permissions type alertsv2). It is
// evaluated as effective_run_as (then run_as, run_as_user_name), else as
// its owner.
func alertV2Object(ws scim.WorkspaceInfo, a scim.Alert) *object {
	o := &object{kind: KindAlertV2, id: a.ID, name: a.DisplayName, alert: &a,
		url: objectURL(ws, "/sql/alerts-v2/"+esc(a.ID)), permType: "alertsv2", permID: a.ID}
	if a.OwnerUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: a.OwnerUserName}, RelOwns})
	}
	runAs := pref{name: a.OwnerUserName}
	switch {
	case a.EffectiveRunAs.Name() != "":
		runAs = runAsRef(a.EffectiveRunAs)
	case a.RunAs.Name() != "":
		runAs = runAsRef(a.RunAs)
	case a.RunAsUserName != "":
		runAs = pref{name: a.RunAsUserName}
	}
	if runAs.name != "" {
		o.refs = append(o.refs, objRef{runAs, RelRunsAs})
	}
	schedule, paused := "", ""
	if s := a.Schedule; s != nil {
		schedule = strings.TrimSpace("cron " + s.QuartzCronSchedule + " " + s.TimezoneID)
		paused = strconv.FormatBool(alertV2Paused(a))
	}
	state := ""
	if a.Evaluation != nil {
		state = a.Evaluation.State
	}
	o.details = []Detail{{"schedule", schedule}, {"paused", paused}, {"state", state},
		{"run_as", runAs.name}, {"warehouse_id", a.WarehouseID}}
	return o
}

// alertV2Paused reports whether a v2 alert's schedule is paused (the API
// defaults pause_status to UNPAUSED).
func alertV2Paused(a scim.Alert) bool {
	return a.Schedule != nil && strings.EqualFold(a.Schedule.PauseStatus, "PAUSED")
}

func legacyDashboardObject(ws scim.WorkspaceInfo, d scim.LegacyDashboard) *object {
	o := &object{kind: KindLegacyDashboard, id: d.ID, name: d.Name,
		url: objectURL(ws, "/sql/dashboards/"+esc(d.ID)), permType: "dbsql-dashboards", permID: d.ID}
	owner := ""
	if d.User != nil {
		owner = d.User.Email
		o.refs = append(o.refs, objRef{pref{name: d.User.Email, id: d.User.ID, ptype: PrincipalUser}, RelOwns})
	}
	o.details = []Detail{{"owner", owner}, {"archived", strconv.FormatBool(d.IsArchived)}}
	return o
}

func dashboardObject(ws scim.WorkspaceInfo, d scim.Dashboard) *object {
	return &object{kind: KindDashboard, id: d.DashboardID, name: d.DisplayName, dashboard: &d,
		url: objectURL(ws, "/dashboardsv3/"+esc(d.DashboardID)), permType: "dashboards", permID: d.DashboardID,
		details: []Detail{{"state", d.LifecycleState}, {"warehouse_id", d.WarehouseID}}}
}

func servingEndpointObject(ws scim.WorkspaceInfo, e scim.ServingEndpoint) *object {
	o := &object{kind: KindServingEndpoint, id: e.ID, name: e.Name,
		url: objectURL(ws, "/ml/endpoints/"+esc(e.Name)), permType: "serving-endpoints", permID: e.ID}
	if o.id == "" {
		o.id = e.Name
	}
	if e.Creator != "" {
		o.refs = append(o.refs, objRef{pref{name: e.Creator}, RelCreated})
	}
	return o
}

func appObject(ws scim.WorkspaceInfo, a scim.App) *object {
	o := &object{kind: KindApp, id: a.Name, name: a.Name,
		url: objectURL(ws, "/apps/"+esc(a.Name)), permType: "apps", permID: a.Name}
	if a.Creator != "" {
		o.refs = append(o.refs, objRef{pref{name: a.Creator}, RelCreated})
	}
	o.details = []Detail{{"service_principal", a.ServicePrincipalClientID}}
	return o
}

// experimentObject builds an MLflow experiment (permissions type
// experiments). Its owner is the mlflow.ownerEmail tag when set; its ACL
// (CAN_MANAGE) tells the rest.
func experimentObject(ws scim.WorkspaceInfo, e scim.Experiment) *object {
	o := &object{kind: KindExperiment, id: e.ExperimentID, name: e.Name,
		url: objectURL(ws, "/ml/experiments/"+esc(e.ExperimentID)), permType: "experiments", permID: e.ExperimentID}
	if owner := e.Tag("mlflow.ownerEmail"); owner != "" {
		o.refs = append(o.refs, objRef{pref{name: owner, ptype: PrincipalUser}, RelOwns})
	}
	o.details = []Detail{{"lifecycle_stage", e.LifecycleStage}, {"owner", e.Tag("mlflow.ownerEmail")}}
	return o
}

// mlModelObject builds a workspace registry model; its permissions id is
// read by name when its ACL is needed.
func mlModelObject(ws scim.WorkspaceInfo, m scim.MLModel) *object {
	o := &object{kind: KindMLModel, id: m.Name, name: m.Name, mlModel: m.Name,
		url: objectURL(ws, "/ml/models/"+esc(m.Name)), permType: "registered-models"}
	if m.UserID != "" {
		o.refs = append(o.refs, objRef{pref{name: m.UserID}, RelCreated})
	}
	o.details = []Detail{{"creator", m.UserID}}
	return o
}

func instancePoolObject(ws scim.WorkspaceInfo, p scim.InstancePool) *object {
	o := &object{kind: KindInstancePool, id: p.InstancePoolID, name: p.InstancePoolName,
		url: objectURL(ws, "/compute/instance-pools/"+esc(p.InstancePoolID)), permType: "instance-pools", permID: p.InstancePoolID}
	if id := p.CreatorID(); id != 0 {
		o.refs = append(o.refs, objRef{pref{id: id}, RelCreated})
	}
	o.details = []Detail{{"state", p.State}}
	return o
}

// clusterPolicyObject builds a cluster policy. Only workspace admins can
// manage policies (their ACLs grant CAN_USE alone), so none is read.
func clusterPolicyObject(ws scim.WorkspaceInfo, p scim.ClusterPolicy) *object {
	o := &object{kind: KindClusterPolicy, id: p.PolicyID, name: p.Name,
		url: objectURL(ws, "/compute/policies/"+esc(p.PolicyID))}
	if p.CreatorUserName != "" {
		o.refs = append(o.refs, objRef{pref{name: p.CreatorUserName}, RelCreated})
	}
	return o
}

func vectorSearchObject(ws scim.WorkspaceInfo, e scim.VectorSearchEndpoint) *object {
	o := &object{kind: KindVectorSearch, id: cmpOr(e.ID, e.Name), name: e.Name,
		url: objectURL(ws, "/compute/vector-search/"+esc(e.Name)), permType: "vector-search-endpoints", permID: e.ID}
	if e.Creator != "" {
		o.refs = append(o.refs, objRef{pref{name: e.Creator}, RelCreated})
	}
	state := ""
	if e.EndpointStatus != nil {
		state = e.EndpointStatus.State
	}
	o.details = []Detail{{"state", state}, {"indexes", strconv.Itoa(e.NumIndexes)}}
	return o
}

// repoObject builds a Git folder; its creator is the principal whose
// /Repos/<name> or /Users/<name> folder holds it.
func repoObject(ws scim.WorkspaceInfo, r scim.Repo) *object {
	id := strconv.FormatInt(r.ID, 10)
	o := &object{kind: KindRepo, id: id, name: r.Path, url: objectURL(ws, "/browse/folders/"+id),
		permType: "repos", permID: id}
	if owner := homeOwner(r.Path); owner != "" {
		o.refs = append(o.refs, objRef{pref{name: owner}, RelCreated})
	}
	o.details = []Detail{{"git_url", r.URL}, {"branch", r.Branch}}
	return o
}

// homeFolderObject builds a home folder (/Users/<user name> or
// /Users/<application id>).
func homeFolderObject(ws scim.WorkspaceInfo, d scim.ObjectInfo) *object {
	name := strings.TrimPrefix(d.Path, "/Users/")
	id := strconv.FormatInt(d.ObjectID, 10)
	return &object{kind: KindHomeFolder, id: d.Path, name: d.Path, dirID: "/directories/" + id,
		url:  objectURL(ws, "/browse/folders/"+id),
		refs: []objRef{{pref{name: name}, RelOwns}}}
}

// secretScopeObject builds a secret scope; its ACL (the secrets API's, read
// as a detail) says who can manage it.
func secretScopeObject(ws scim.WorkspaceInfo, name string) *object {
	return &object{kind: KindSecretScope, id: name, name: name, permType: secretScopeACL, permID: name}
}

// secretScopeACL is the permType of secret scopes: their ACL comes from
// the secrets API, not the permissions API.
const secretScopeACL = "secret-scope"

// secretACL turns a secret scope's ACL into an ObjectPermissions (MANAGE
// becomes CAN_MANAGE) and ties every principal on it to the scope. The
// secrets API names principals without their type (see
// secretPrincipalType): the entries are filed as users (a name with "@"),
// service principals (a UUID) or groups, but the ties, and the managers
// (object.managers), keep the type unknown where a group could bear the
// name.
func (o *object) secretACL(acls []scim.SecretACL) {
	p := &scim.ObjectPermissions{ObjectID: o.id, ObjectType: "secret-scope"}
	var parts []string
	for _, a := range acls {
		level := "CAN_" + a.Permission
		if a.Permission == "WRITE" {
			level = "CAN_EDIT"
		}
		e := scim.AccessControl{PermissionLevel: level}
		switch {
		case strings.Contains(a.Principal, "@"):
			e.UserName = a.Principal
		case reUUID.MatchString(a.Principal):
			e.ServicePrincipalName = a.Principal
		default:
			e.GroupName = a.Principal
		}
		p.AccessControlList = append(p.AccessControlList, e)
		o.refs = append(o.refs, objRef{pref{name: a.Principal, ptype: secretPrincipalType(a.Principal)}, RelGranted})
		parts = append(parts, a.Principal+": "+a.Permission)
	}
	o.acl = p
	o.details = []Detail{{"acl", strings.Join(parts, "; ")}}
}

// secretPrincipalType is the type of a principal the secrets API names:
// a group when the name can only be a group's, else unknown (""). A user
// name has an "@" and a service principal's application id is a UUID, but
// a group's display name may look like either ("data@corp.test"), so those
// match an audited user, service principal or group of that name.
func secretPrincipalType(name string) PrincipalType {
	if strings.Contains(name, "@") || reUUID.MatchString(name) {
		return ""
	}
	return PrincipalGroup
}

var reUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// homeOwner returns the principal name of a home or Repos folder path
// (/Users/<name>/... or /Repos/<name>/..., with or without a /Workspace
// prefix), "" for other paths.
func homeOwner(p string) string {
	p = strings.TrimPrefix(p, "/Workspace")
	for _, root := range []string{"/Users/", "/Repos/"} {
		if rest, ok := strings.CutPrefix(p, root); ok {
			name, _, _ := strings.Cut(rest, "/")
			return name
		}
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// aclPrincipal converts an ACL entry's principal.
func aclPrincipal(a scim.AccessControl) pref {
	name, kind := a.Principal()
	switch kind {
	case "user":
		return pref{name: name, ptype: PrincipalUser}
	case "service-principal":
		return pref{name: name, ptype: PrincipalServicePrincipal}
	}
	return pref{name: name, ptype: PrincipalGroup}
}

// adminsGroup is the workspace admins group. Workspace admins can manage
// every object, so they never count as a remaining manager: an object only
// admins can manage is orphaned.
const adminsGroup = "admins"

// managers returns the object's managers and owners (see managers); those
// of a secret scope carry the type secretPrincipalType gives their names.
func (o *object) managers() (mgrs, owners []pref) {
	mgrs, owners = managers(o.acl)
	if o.permType == secretScopeACL {
		for i := range mgrs {
			mgrs[i].ptype = secretPrincipalType(mgrs[i].name)
		}
	}
	return mgrs, owners
}

// managers returns the principals with CAN_MANAGE or IS_OWNER granted on
// the object itself in acl, except the admins group, and the owners
// (IS_OWNER) among them. Inherited levels do not count: a CAN_MANAGE
// inherited from a parent (a directory, or the type's root) is a grant on
// the parent, which the audit judges where it is granted, so it neither
// makes its holder a manager of the object nor a manager that remains.
func managers(acl *scim.ObjectPermissions) (mgrs, owners []pref) {
	if acl == nil {
		return nil, nil
	}
	for _, e := range acl.AccessControlList {
		p := aclPrincipal(e)
		if p.name == "" || (p.ptype == PrincipalGroup && p.name == adminsGroup) {
			continue
		}
		manage, own := false, false
		for _, l := range e.DirectLevels() {
			switch l.PermissionLevel {
			case scim.PermissionIsOwner:
				own, manage = true, true
			case scim.PermissionCanManage:
				manage = true
			}
		}
		if manage {
			mgrs = append(mgrs, p)
		}
		if own {
			owners = append(owners, p)
		}
	}
	return mgrs, owners
}
