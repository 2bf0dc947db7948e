package sandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// This file is the ownership-writes family: the writes that hand an
// object over from one principal to another (docs/handover.md has each
// endpoint's source and rules). All are workspace routes of class
// "default" with REST error bodies.
//
//	POST  /api/2.{1,2}/jobs/update   {job_id, new_settings, fields_to_remove}  top-level fields of new_settings replace the job's
//	POST  /api/2.{1,2}/jobs/reset    {job_id, new_settings}                    every modelled setting replaced (run_as absent: cleared)
//	PUT   /api/2.0/pipelines/{id}    EditPipeline: name required; run_as absent: runs as its creator again
//	POST  /api/2.{0,1}/clusters/change-owner {cluster_id, owner_username}      admins; the cluster must be TERMINATED
//	POST  /api/2.{0,1}/clusters/update {cluster_id, update_mask, cluster}       RUNNING: restarts it; TERMINATED: stays so; else INVALID_STATE
//	POST  /api/2.{0,1}/clusters/delete {cluster_id}                             terminates (TERMINATED at once)
//	POST  /api/2.{0,1}/clusters/start  {cluster_id}                             a TERMINATED cluster RUNNING at once
//	PATCH /api/2.0/sql/queries/{id}  {update_mask, query}                       owner_user_name: admins, to an active user
//	PATCH /api/2.0/sql/alerts/{id}   {update_mask, alert}                       same
//	PATCH /api/2.0/alerts/{id}?update_mask=  AlertV2                            owner_user_name as above; run_as as for jobs
//	POST  /api/2.0/preview/sql/permissions/{alert|dashboard|query}/{id}/transfer {new_owner}  admins; an active user
//
// Rules (strict, from the SDK's and the docs' wording):
//
//   - run_as of a job or v2 alert: exactly one of user_name and
//     service_principal_name, naming an active principal of the workspace;
//     a user other than the caller needs a workspace admin; a service
//     principal needs the caller to hold the Service Principal User role on
//     it (rulesets.go), admins included.
//   - run_as of a pipeline: the caller's own user, or a service principal
//     the caller holds the Service Principal User role on ("Users can only
//     set this field to their own email").
//   - query, alert and legacy object owners are users ("Service principals
//     and groups cannot be assigned ownership of a query"), set by admins.
//   - cluster owners are users or service principals; change-owner needs an
//     admin and a terminated cluster; job and pipeline clusters cannot be
//     updated.
//
// A new owner gets CAN_MANAGE on the object (an owner can always manage
// it), taken from the previous owner when that is what it held (so that
// handing the object back restores its grants exactly). Job and pipeline owners
// (IS_OWNER) and Lakeview, serving endpoint and app managers change through
// the permissions API (permissions.go). Each restart of a cluster by update
// is counted (Server.ClusterRestarts).

func init() {
	registerFamily(family{name: handoverFamily, load: loadHandover, routes: registerHandoverWrites, snapshot: snapshotOwnership})
}

const handoverFamily = "handover-writes"

// handoverState is the family's own state. Guarded by Server.mu.
type handoverState struct {
	restarts map[objectKey]int // by workspace id (as typ) and cluster id
}

func loadHandover(s *Server, seed *Seed) (any, error) {
	return &handoverState{restarts: map[objectKey]int{}}, nil
}

func (s *Server) handoverState() *handoverState {
	st, _ := s.ext[handoverFamily].(*handoverState)
	if st == nil {
		st = &handoverState{restarts: map[objectKey]int{}}
		s.ext[handoverFamily] = st
	}
	return st
}

// ClusterRestarts returns how many times clusters/update restarted a
// running cluster of workspace ws.
func (s *Server) ClusterRestarts(ws int64, clusterID string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, _ := s.ext[handoverFamily].(*handoverState)
	if st == nil {
		return 0
	}
	return st.restarts[objectKey{strconv.FormatInt(ws, 10), clusterID}]
}

func registerHandoverWrites(s *Server) {
	write := func(method, pattern string, acc access, h func(*call) error) {
		s.handle(route{method: method, pattern: pattern, class: ClassDefault, scope: scopeWorkspace,
			access: acc, write: true, handle: h})
	}
	for _, v := range []string{"2.1", "2.2"} {
		write(http.MethodPost, "/api/"+v+"/jobs/update", accessMember, updateJob(false))
		write(http.MethodPost, "/api/"+v+"/jobs/reset", accessMember, updateJob(true))
	}
	write(http.MethodPut, "/api/2.0/pipelines/{pipeline_id}", accessMember, editPipeline)
	for _, v := range []string{"2.0", "2.1"} {
		write(http.MethodPost, "/api/"+v+"/clusters/change-owner", accessWorkspaceAdmin, changeClusterOwner)
		write(http.MethodPost, "/api/"+v+"/clusters/update", accessMember, updateCluster)
		write(http.MethodPost, "/api/"+v+"/clusters/delete", accessMember, clusterState("TERMINATED"))
		write(http.MethodPost, "/api/"+v+"/clusters/start", accessMember, clusterState("RUNNING"))
	}
	write(http.MethodPatch, "/api/2.0/sql/queries/{id}", accessMember, updateQuery)
	write(http.MethodPatch, "/api/2.0/sql/alerts/{id}", accessMember, updateAlert)
	write(http.MethodPatch, "/api/2.0/alerts/{id}", accessMember, updateAlertV2)
	write(http.MethodPost, "/api/2.0/preview/sql/permissions/{object_type}/{id}/transfer", accessWorkspaceAdmin, transferOwnership)
}

// ---- helpers ----

// deactivated reports whether principal id exists and is deactivated
// (active false): its tokens stop working (401) until it is reactivated.
// Callers hold s.mu.
func (st *state) deactivated(id string) bool {
	p := st.get(id)
	return p != nil && p.kind != kindGroup && !p.active
}

// decodeREST reads a JSON body into v, answering a REST 400 when it does
// not parse.
func (c *call) decodeREST(v any) error {
	b, err := c.body()
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body: %v", err)
	}
	return nil
}

// callerPrincipal returns the principal acting for the caller: in the
// routed workspace (authz.go), else the token's principal (nil when it was
// deleted).
func (c *call) callerPrincipal() *principal {
	if c.actor != nil {
		return c.actor
	}
	return c.s.st.get(c.tok.principal)
}

// callerAdmin reports whether the caller is an admin of the routed
// workspace.
func (c *call) callerAdmin() bool { return c.admin }

// callerManages reports whether the caller may change object typ/id: an
// admin, or a holder of CAN_MANAGE or IS_OWNER on it (directly, through a
// group or inherited).
func (c *call) callerManages(typ, id string) bool { return c.s.canManage(c, typ, id) }

func denied(c *call, what string) error {
	name := "the caller"
	if p := c.callerPrincipal(); p != nil {
		name = p.name()
	}
	return restErr(http.StatusForbidden, "PERMISSION_DENIED", "%s does not have permission to %s.", name, what)
}

// activePrincipal returns the active, live user (kind kindUser) or service
// principal (kindSP) named name in workspace w: local, or an account
// principal visible there.
func (s *Server) activePrincipal(w *workspace, k kind, name string) *principal {
	p := s.findGrantee(w, k, name)
	if p == nil || !p.active {
		return nil
	}
	return p
}

// moveOwner gives a new owner CAN_MANAGE on object typ/id (unless it
// holds more), taking it from the previous owner prev (a name) when that is
// the level prev holds: the owner's right to manage follows ownership, so
// that handing an object back restores its grants exactly.
func (s *Server) moveOwner(w *workspace, typ, id, prev string, p *principal) {
	acl := s.grants(w).object(typ, id)
	if old := s.st.findPrincipal(w, prev); old != nil && old.id != p.id && acl.level(old.id) == "CAN_MANAGE" {
		acl.remove(old.id)
	}
	if levelRank(typ, acl.level(p.id)) < levelRank(typ, "CAN_MANAGE") {
		acl.set(p.id, "CAN_MANAGE")
	}
}

// checkRunAs validates a run_as for a job or v2 alert (pipeline false) or a
// pipeline (true) and returns it normalised.
func (c *call) checkRunAs(r *SeedRunAs, what string, pipeline bool) (*SeedRunAs, error) {
	if r == nil {
		return nil, nil
	}
	if (r.UserName == "") == (r.ServicePrincipalName == "") {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter,
			"Exactly one of run_as.user_name and run_as.service_principal_name must be set.")
	}
	me := c.callerPrincipal()
	if r.UserName != "" {
		p := c.s.activePrincipal(c.ws, kindUser, r.UserName)
		if p == nil {
			return nil, restErr(http.StatusBadRequest, errInvalidParameter,
				"run_as.user_name %s is not an active user of the workspace.", r.UserName)
		}
		self := me != nil && me.id == p.id
		if !self && (pipeline || !c.callerAdmin()) {
			if pipeline {
				return nil, restErr(http.StatusForbidden, "PERMISSION_DENIED",
					"Users can only set the run_as of %s to their own user name.", what)
			}
			return nil, restErr(http.StatusForbidden, "PERMISSION_DENIED",
				"Only workspace admins can set the run_as of %s to another user.", what)
		}
		return &SeedRunAs{UserName: p.userName}, nil
	}
	p := c.s.activePrincipal(c.ws, kindSP, r.ServicePrincipalName)
	if p == nil {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter,
			"run_as.service_principal_name %s is not an active service principal of the workspace.", r.ServicePrincipalName)
	}
	if me == nil || (me.id != p.id && !c.s.hasSPUserRole(c.ws, me, p)) {
		return nil, restErr(http.StatusForbidden, "PERMISSION_DENIED",
			"Setting run_as to service principal %s requires the servicePrincipal/user role on it.", p.applicationID)
	}
	return &SeedRunAs{ServicePrincipalName: p.applicationID}, nil
}

// ---- jobs ----

type jobSettingsUpdate struct {
	Name               *string                 `json:"name"`
	RunAs              *SeedRunAs              `json:"run_as"`
	Schedule           *SeedSchedule           `json:"schedule"`
	Trigger            *SeedTrigger            `json:"trigger"`
	Continuous         *SeedContinuous         `json:"continuous"`
	EmailNotifications *SeedEmailNotifications `json:"email_notifications"`
	Tags               map[string]string       `json:"tags"`
}

// updateJob serves jobs/update (reset false: top-level fields given
// replace the job's, fields_to_remove drops some) and jobs/reset (every
// modelled setting replaced).
func updateJob(reset bool) func(*call) error {
	return func(c *call) error {
		var body struct {
			JobID          int64              `json:"job_id"`
			NewSettings    *jobSettingsUpdate `json:"new_settings"`
			FieldsToRemove []string           `json:"fields_to_remove"`
		}
		if err := c.decodeREST(&body); err != nil {
			return err
		}
		if body.JobID == 0 {
			return restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: job_id")
		}
		var j *jobObj
		for _, x := range c.s.objects(c.ws).jobs {
			if x.id == body.JobID {
				j = x
			}
		}
		if j == nil {
			return restErr(http.StatusBadRequest, errInvalidParameter, "Job %d does not exist.", body.JobID)
		}
		id := strconv.FormatInt(j.id, 10)
		if !c.callerManages(permTypeJobs, id) {
			return denied(c, "manage job "+id)
		}
		ns := body.NewSettings
		if ns == nil {
			if reset {
				return restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: new_settings")
			}
			ns = &jobSettingsUpdate{}
		}
		runAs, err := c.checkRunAs(ns.RunAs, "job "+id, false)
		if err != nil {
			return err
		}
		for _, f := range body.FieldsToRemove {
			if !slices.Contains([]string{"run_as", "schedule", "trigger", "continuous", "email_notifications", "tags"}, f) &&
				!strings.HasPrefix(f, "tasks/") && !strings.HasPrefix(f, "job_clusters/") {
				return restErr(http.StatusBadRequest, errInvalidParameter, "Cannot remove field %q.", f)
			}
		}
		if reset {
			if ns.Name == nil || *ns.Name == "" {
				return restErr(http.StatusBadRequest, errInvalidParameter, "new_settings.name is required.")
			}
			j.name, j.runAs, j.schedule, j.trigger, j.continuous, j.email, j.tags =
				*ns.Name, runAs, ns.Schedule, ns.Trigger, ns.Continuous, ns.EmailNotifications, ns.Tags
			return c.reply(http.StatusOK, struct{}{})
		}
		if ns.Name != nil {
			j.name = *ns.Name
		}
		if runAs != nil {
			j.runAs = runAs
		}
		if ns.Schedule != nil {
			j.schedule = ns.Schedule
		}
		if ns.Trigger != nil {
			j.trigger = ns.Trigger
		}
		if ns.Continuous != nil {
			j.continuous = ns.Continuous
		}
		if ns.EmailNotifications != nil {
			j.email = ns.EmailNotifications
		}
		if ns.Tags != nil {
			j.tags = ns.Tags
		}
		for _, f := range body.FieldsToRemove {
			switch f {
			case "run_as":
				j.runAs = nil
			case "schedule":
				j.schedule = nil
			case "trigger":
				j.trigger = nil
			case "continuous":
				j.continuous = nil
			case "email_notifications":
				j.email = nil
			case "tags":
				j.tags = nil
			}
		}
		return c.reply(http.StatusOK, struct{}{})
	}
}

// ---- pipelines ----

func editPipeline(c *call) error {
	id := c.r.PathValue("pipeline_id")
	var p *pipelineObj
	for _, x := range c.s.objects(c.ws).pipelines {
		if x.PipelineID == id {
			p = x
		}
	}
	if p == nil {
		return restErr(http.StatusNotFound, errResourceDoesNotExist, "The specified pipeline %s was not found.", id)
	}
	if !c.callerManages(permTypePipelines, id) {
		return denied(c, "edit pipeline "+id)
	}
	var body struct {
		ID         string     `json:"id"`
		Name       string     `json:"name"`
		Catalog    string     `json:"catalog"`
		Target     string     `json:"target"`
		Continuous bool       `json:"continuous"`
		RunAs      *SeedRunAs `json:"run_as"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	if body.ID != "" && body.ID != id {
		return restErr(http.StatusBadRequest, errInvalidParameter, "The pipeline id %s in the body does not match %s.", body.ID, id)
	}
	if strings.TrimSpace(body.Name) == "" {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Pipeline name must be specified.")
	}
	runAs, err := c.checkRunAs(body.RunAs, "pipeline "+id, true)
	if err != nil {
		return err
	}
	p.Name, p.Catalog, p.Target, p.Continuous = body.Name, body.Catalog, body.Target, body.Continuous
	if runAs != nil {
		p.runAs = *runAs
	} else {
		p.runAs = SeedRunAs{UserName: p.Creator}
	}
	p.lastModified = c.now.UnixMilli()
	return c.reply(http.StatusOK, struct{}{})
}

// ---- clusters ----

func (c *call) findCluster(id string) (*clusterObj, error) {
	if id == "" {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: cluster_id")
	}
	for _, cl := range c.s.objects(c.ws).clusters {
		if cl.ClusterID == id {
			return cl, nil
		}
	}
	return nil, restErr(http.StatusBadRequest, errInvalidParameter, "Cluster %s does not exist", id)
}

func jobCluster(cl *clusterObj) bool {
	return cl.ClusterSource == "JOB" || cl.ClusterSource == "PIPELINE" || cl.ClusterSource == "PIPELINE_MAINTENANCE"
}

func changeClusterOwner(c *call) error {
	var body struct {
		ClusterID     string `json:"cluster_id"`
		OwnerUsername string `json:"owner_username"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	cl, err := c.findCluster(body.ClusterID)
	if err != nil {
		return err
	}
	if body.OwnerUsername == "" {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: owner_username")
	}
	if cl.State != "TERMINATED" {
		return restErr(http.StatusBadRequest, "INVALID_STATE",
			"Cluster %s is in state %s; its owner can only be changed when it is TERMINATED.", cl.ClusterID, cl.State)
	}
	p := c.s.activePrincipal(c.ws, kindUser, body.OwnerUsername)
	if p == nil {
		p = c.s.activePrincipal(c.ws, kindSP, body.OwnerUsername)
	}
	if p == nil {
		return restErr(http.StatusBadRequest, errInvalidParameter,
			"%s is not an active user or service principal of the workspace.", body.OwnerUsername)
	}
	prev := cl.Creator
	cl.Creator = p.name()
	c.s.moveOwner(c.ws, permTypeClusters, cl.ClusterID, prev, p)
	return c.reply(http.StatusOK, struct{}{})
}

func updateCluster(c *call) error {
	var body struct {
		ClusterID  string `json:"cluster_id"`
		UpdateMask string `json:"update_mask"`
		Cluster    *struct {
			SingleUserName         *string           `json:"single_user_name"`
			DataSecurityMode       *string           `json:"data_security_mode"`
			ClusterName            *string           `json:"cluster_name"`
			NumWorkers             *int              `json:"num_workers"`
			AutoterminationMinutes *int              `json:"autotermination_minutes"`
			CustomTags             map[string]string `json:"custom_tags"`
		} `json:"cluster"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	cl, err := c.findCluster(body.ClusterID)
	if err != nil {
		return err
	}
	if !c.callerManages(permTypeClusters, cl.ClusterID) {
		return denied(c, "manage cluster "+cl.ClusterID)
	}
	if jobCluster(cl) {
		return restErr(http.StatusBadRequest, errInvalidParameter,
			"Cluster %s was created by the %s service and cannot be updated.", cl.ClusterID, strings.ToLower(cl.ClusterSource))
	}
	if body.UpdateMask == "" || body.Cluster == nil {
		return restErr(http.StatusBadRequest, errInvalidParameter, "update_mask and cluster are required.")
	}
	if cl.State != "RUNNING" && cl.State != "TERMINATED" {
		return restErr(http.StatusBadRequest, "INVALID_STATE",
			"Cluster %s is in state %s; it can be updated only when RUNNING or TERMINATED.", cl.ClusterID, cl.State)
	}
	next := cl.SeedCluster
	for _, f := range strings.Split(body.UpdateMask, ",") {
		switch f {
		case "single_user_name":
			v := ""
			if body.Cluster.SingleUserName != nil {
				v = *body.Cluster.SingleUserName
			}
			if v != "" {
				p := c.s.activePrincipal(c.ws, kindUser, v)
				if p == nil {
					p = c.s.activePrincipal(c.ws, kindSP, v)
				}
				if p == nil {
					return restErr(http.StatusBadRequest, errInvalidParameter,
						"single_user_name %s is not an active user or service principal of the workspace.", v)
				}
				v = p.name()
			}
			next.SingleUserName = v
		case "data_security_mode":
			if body.Cluster.DataSecurityMode != nil {
				next.DataSecurityMode = *body.Cluster.DataSecurityMode
			}
		case "cluster_name":
			if body.Cluster.ClusterName != nil {
				next.ClusterName = *body.Cluster.ClusterName
			}
		case "num_workers":
			if body.Cluster.NumWorkers != nil {
				next.NumWorkers = *body.Cluster.NumWorkers
			}
		case "autotermination_minutes":
			if body.Cluster.AutoterminationMinutes != nil {
				next.AutoterminationMinutes = *body.Cluster.AutoterminationMinutes
			}
		case "custom_tags":
			next.CustomTags = body.Cluster.CustomTags
		default:
			return restErr(http.StatusBadRequest, errInvalidParameter, "update_mask field %q is not supported.", f)
		}
	}
	if (next.DataSecurityMode == "SINGLE_USER" || next.DataSecurityMode == "DATA_SECURITY_MODE_DEDICATED") && next.SingleUserName == "" {
		return restErr(http.StatusBadRequest, errInvalidParameter, "A dedicated cluster needs a single_user_name.")
	}
	cl.SeedCluster = next
	if cl.State == "RUNNING" {
		cl.started = c.now.UnixMilli()
		c.s.handoverState().restarts[objectKey{strconv.FormatInt(c.ws.id, 10), cl.ClusterID}]++
	}
	return c.reply(http.StatusOK, struct{}{})
}

// clusterState serves clusters/delete (to TERMINATED) and clusters/start
// (to RUNNING); a cluster already there is left alone.
func clusterState(to string) func(*call) error {
	return func(c *call) error {
		var body struct {
			ClusterID string `json:"cluster_id"`
		}
		if err := c.decodeREST(&body); err != nil {
			return err
		}
		cl, err := c.findCluster(body.ClusterID)
		if err != nil {
			return err
		}
		if !c.callerManages(permTypeClusters, cl.ClusterID) {
			return denied(c, "restart cluster "+cl.ClusterID)
		}
		switch {
		case to == "RUNNING" && jobCluster(cl):
			return restErr(http.StatusBadRequest, errInvalidParameter, "Cluster %s was launched to run a job and cannot be started.", cl.ClusterID)
		case to == "RUNNING" && cl.State == "TERMINATED":
			cl.State, cl.started, cl.terminated = "RUNNING", c.now.UnixMilli(), 0
		case to == "TERMINATED" && cl.State != "TERMINATED":
			cl.State, cl.terminated = "TERMINATED", c.now.UnixMilli()
		}
		return c.reply(http.StatusOK, struct{}{})
	}
}

// ---- queries and alerts ----

// ownerMask checks an update_mask and returns its fields.
func ownerMask(mask string, allowed ...string) ([]string, error) {
	if strings.TrimSpace(mask) == "" {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "update_mask is required.")
	}
	fields := strings.Split(mask, ",")
	for _, f := range fields {
		if !slices.Contains(allowed, f) {
			return nil, restErr(http.StatusBadRequest, errInvalidParameter, "update_mask field %q is not supported.", f)
		}
	}
	return fields, nil
}

// newSQLOwner checks a new owner of a query, alert or legacy object: the
// caller is an admin and the owner an active user of the workspace.
func (c *call) newSQLOwner(name, what string) (*principal, error) {
	if !c.callerAdmin() {
		return nil, restErr(http.StatusForbidden, "PERMISSION_DENIED", "Only workspace admins can transfer the ownership of %s.", what)
	}
	if name == "" {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "The new owner must be set.")
	}
	p := c.s.activePrincipal(c.ws, kindUser, name)
	if p == nil {
		if c.s.activePrincipal(c.ws, kindSP, name) != nil || c.s.findGrantee(c.ws, kindGroup, name) != nil {
			return nil, restErr(http.StatusBadRequest, errInvalidParameter,
				"Service principals and groups cannot own %s: %s is not a user.", what, name)
		}
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "%s is not an active user of the workspace.", name)
	}
	return p, nil
}

func updateQuery(c *call) error {
	id := c.r.PathValue("id")
	var q *queryObj
	for _, x := range c.s.objects(c.ws).queries {
		if x.ID == id {
			q = x
		}
	}
	if q == nil {
		return restErr(http.StatusNotFound, errResourceDoesNotExist, "Query %s does not exist.", id)
	}
	var body struct {
		UpdateMask string `json:"update_mask"`
		Query      struct {
			OwnerUserName string `json:"owner_user_name"`
			DisplayName   string `json:"display_name"`
			RunAsMode     string `json:"run_as_mode"`
			QueryText     string `json:"query_text"`
			WarehouseID   string `json:"warehouse_id"`
		} `json:"query"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	fields, err := ownerMask(body.UpdateMask, "owner_user_name", "display_name", "run_as_mode", "query_text", "warehouse_id")
	if err != nil {
		return err
	}
	if !c.callerManages(permTypeQueries, id) {
		return denied(c, "edit query "+id)
	}
	next := q.SeedQuery
	var owner *principal
	for _, f := range fields {
		switch f {
		case "owner_user_name":
			if owner, err = c.newSQLOwner(body.Query.OwnerUserName, "query "+id); err != nil {
				return err
			}
			next.Owner = owner.userName
		case "display_name":
			next.DisplayName = body.Query.DisplayName
		case "run_as_mode":
			if !oneOf(body.Query.RunAsMode, "OWNER", "VIEWER") {
				return restErr(http.StatusBadRequest, errInvalidParameter, "run_as_mode must be OWNER or VIEWER.")
			}
			next.RunAsMode = body.Query.RunAsMode
		case "query_text":
			next.QueryText = body.Query.QueryText
		case "warehouse_id":
			next.WarehouseID = body.Query.WarehouseID
		}
	}
	prev := q.Owner
	q.SeedQuery = next
	if owner != nil {
		c.s.moveOwner(c.ws, permTypeQueries, id, prev, owner)
	}
	return c.reply(http.StatusOK, renderQuery(q))
}

func updateAlert(c *call) error {
	id := c.r.PathValue("id")
	var a *alertObj
	for _, x := range c.s.objects(c.ws).alerts {
		if x.ID == id {
			a = x
		}
	}
	if a == nil {
		return restErr(http.StatusNotFound, errResourceDoesNotExist, "Alert %s does not exist.", id)
	}
	var body struct {
		UpdateMask string `json:"update_mask"`
		Alert      struct {
			OwnerUserName string `json:"owner_user_name"`
			DisplayName   string `json:"display_name"`
		} `json:"alert"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	fields, err := ownerMask(body.UpdateMask, "owner_user_name", "display_name")
	if err != nil {
		return err
	}
	if !c.callerManages(permTypeAlerts, id) {
		return denied(c, "edit alert "+id)
	}
	next := a.SeedAlert
	var owner *principal
	for _, f := range fields {
		switch f {
		case "owner_user_name":
			if owner, err = c.newSQLOwner(body.Alert.OwnerUserName, "alert "+id); err != nil {
				return err
			}
			next.Owner = owner.userName
		case "display_name":
			next.DisplayName = body.Alert.DisplayName
		}
	}
	prev := a.Owner
	a.SeedAlert = next
	if owner != nil {
		c.s.moveOwner(c.ws, permTypeAlerts, id, prev, owner)
	}
	return c.reply(http.StatusOK, renderAlert(a))
}

func updateAlertV2(c *call) error {
	id := c.r.PathValue("id")
	var a *alertV2Obj
	for _, x := range c.s.objects(c.ws).alertsV2 {
		if x.ID == id {
			a = x
		}
	}
	if a == nil {
		return restErr(http.StatusNotFound, errResourceDoesNotExist, "Alert %s does not exist.", id)
	}
	var body struct {
		OwnerUserName string     `json:"owner_user_name"`
		DisplayName   string     `json:"display_name"`
		RunAs         *SeedRunAs `json:"run_as"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	fields, err := ownerMask(c.r.URL.Query().Get("update_mask"), "owner_user_name", "display_name", "run_as")
	if err != nil {
		return err
	}
	if !c.callerManages(permTypeAlertsV2, id) {
		return denied(c, "edit alert "+id)
	}
	next := a.SeedAlertV2
	var owner *principal
	for _, f := range fields {
		switch f {
		case "owner_user_name":
			if owner, err = c.newSQLOwner(body.OwnerUserName, "alert "+id); err != nil {
				return err
			}
			next.Owner = owner.userName
		case "display_name":
			next.DisplayName = body.DisplayName
		case "run_as":
			if next.RunAs, err = c.checkRunAs(body.RunAs, "alert "+id, false); err != nil {
				return err
			}
		}
	}
	prev := a.Owner
	a.SeedAlertV2 = next
	if owner != nil {
		c.s.moveOwner(c.ws, permTypeAlertsV2, id, prev, owner)
	}
	return c.reply(http.StatusOK, renderAlertV2(a))
}

// transferOwnership serves the legacy DBSQL transfer endpoint. Queries and
// alerts made with the legacy API are the objects the current API lists.
func transferOwnership(c *call) error {
	typ, id := c.r.PathValue("object_type"), c.r.PathValue("id")
	var body struct {
		NewOwner string `json:"new_owner"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	o := c.s.objects(c.ws)
	var (
		set     func(*principal)
		prev    string
		permTyp string
	)
	switch typ {
	case "dashboard":
		for _, d := range o.legacy {
			if d.ID == id {
				set, prev = func(p *principal) { d.Owner, d.userID = p.userName, numericID(p.id) }, d.Owner
			}
		}
		permTyp = permTypeLegacyDashboards
	case "query":
		for _, q := range o.queries {
			if q.ID == id {
				set, prev = func(p *principal) { q.Owner = p.userName }, q.Owner
			}
		}
		permTyp = permTypeQueries
	case "alert":
		for _, a := range o.alerts {
			if a.ID == id {
				set, prev = func(p *principal) { a.Owner = p.userName }, a.Owner
			}
		}
		permTyp = permTypeAlerts
	default:
		return restErr(http.StatusBadRequest, errInvalidParameter,
			"Object type %q is not supported: use alert, dashboard or query.", typ)
	}
	if set == nil {
		return restErr(http.StatusNotFound, errResourceDoesNotExist, "%s %s does not exist.", typ, url.PathEscape(id))
	}
	p, err := c.newSQLOwner(body.NewOwner, typ+" "+id)
	if err != nil {
		return err
	}
	set(p)
	c.s.moveOwner(c.ws, permTyp, id, prev, p)
	return c.reply(http.StatusOK, map[string]string{"message": "Success"})
}

// ---- snapshot ----

// runAsName is r's name, "" for nil.
func runAsName(r *SeedRunAs) string {
	if r == nil {
		return ""
	}
	return r.name()
}

// ObjectState is one ownership fact of a workspace object in a State:
// the object as "<type>/<id>", the field (owner, run_as, single_user) and
// its value ("" when unset).
type ObjectState struct {
	Object string `json:"object"`
	Field  string `json:"field"`
	Value  string `json:"value"`
}

// snapshotOwnership adds the ownership facts of every workspace's objects
// to a State: job run_as, cluster owner and dedicated user, pipeline
// run_as, query, alert and legacy dashboard owners, v2 alert owner and
// run_as. (IS_OWNER and CAN_MANAGE are grants.)
func snapshotOwnership(s *Server, out *State) {
	for i := range out.Workspaces {
		ws := &out.Workspaces[i]
		w := s.st.wsByID[ws.WorkspaceID]
		if w == nil {
			continue
		}
		o := s.objects(w)
		add := func(typ, id, field, value string) {
			ws.Objects = append(ws.Objects, ObjectState{Object: typ + "/" + id, Field: field, Value: value})
		}
		for _, j := range o.jobs {
			add(permTypeJobs, strconv.FormatInt(j.id, 10), "run_as", runAsName(j.runAs))
		}
		for _, cl := range o.clusters {
			add(permTypeClusters, cl.ClusterID, "owner", cl.Creator)
			add(permTypeClusters, cl.ClusterID, "single_user", cl.SingleUserName)
			add(permTypeClusters, cl.ClusterID, "state", cl.State)
		}
		for _, p := range o.pipelines {
			add(permTypePipelines, p.PipelineID, "run_as", p.runAs.name())
		}
		for _, q := range o.queries {
			add(permTypeQueries, q.ID, "owner", q.Owner)
		}
		for _, a := range o.alerts {
			add(permTypeAlerts, a.ID, "owner", a.Owner)
		}
		for _, a := range o.alertsV2 {
			add(permTypeAlertsV2, a.ID, "owner", a.Owner)
			add(permTypeAlertsV2, a.ID, "run_as", runAsName(a.RunAs))
		}
		for _, d := range o.legacy {
			add(permTypeLegacyDashboards, d.ID, "owner", d.Owner)
		}
		for _, t := range o.tokens {
			if s.st.get(t.ownerID) != nil {
				add("tokens", t.id, "owner", t.ownerName)
			}
		}
	}
}
