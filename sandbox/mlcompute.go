package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file is the ML and compute-settings family: MLflow experiments,
// workspace model registry models, instance pools, cluster policies and
// vector search endpoints, seeded from a workspace's objects section
// (SeedObjects fields experiments, ml_models, instance_pools,
// cluster_policies and vector_search_endpoints), with their permissions.
//
//	GET  /api/2.0/mlflow/experiments/list?max_results=&page_token=&view_type=   {"experiments":[...],"next_page_token"}
//	POST /api/2.0/mlflow/experiments/search {"max_results","page_token","view_type"}   same reply
//	     max_results absent: every experiment; above 1000: 1000
//	GET  /api/2.0/mlflow/registered-models/list?max_results=&page_token=       {"registered_models":[...]}; max 1000 (400 above)
//	GET  /api/2.0/mlflow/databricks/registered-models/get?name=                {"registered_model_databricks":{"id",...}}
//	GET  /api/2.0/instance-pools/list                                          {"instance_pools":[...]} (unpaged)
//	GET  /api/2.0/policies/clusters/list                                       {"policies":[...]} (unpaged)
//	GET  /api/2.0/vector-search/endpoints?page_token=                          {"endpoints":[...],"next_page_token"}; pages of 100
//
// Experiments carry the tags mlflow.ownerId and mlflow.ownerEmail; their
// creator holds CAN_MANAGE (permissions type experiments, by experiment
// id). A registered model's creator is its user_id and holds CAN_MANAGE
// (type registered-models, by the model's Databricks id, which only
// databricks/registered-models/get returns). An instance pool names its
// creator by SCIM id in default_tags.DatabricksInstancePoolCreatorId, with
// Vendor and DatabricksInstancePoolId, as Databricks' usage-tags docs and
// the Terraform provider's recorded pool (exporter/test-data/
// get-instance-pool1.json) show (the SDK's doc comment names
// InstancePoolCreator, InstancePoolName and InstancePoolId, which no
// recording carries), and the creator holds CAN_MANAGE (type
// instance-pools). A cluster policy has creator_user_name and only CAN_USE
// grants (type cluster-policies): workspace admins alone manage policies. A
// vector search endpoint's creator holds CAN_MANAGE (type
// vector-search-endpoints, by endpoint id).

func init() {
	registerFamily(family{name: "mlcompute", load: loadMLCompute, routes: registerMLCompute})
}

// Page sizes of this family's lists.
const (
	experimentsMaxPage  = 1000
	mlModelsDefaultPage = 100
	mlModelsMaxPage     = 1000
	vectorSearchPage    = 100
)

// SeedExperiment is an MLflow experiment: {"experiment_id": "1234",
// "name": "/Users/ann@acme.test/churn", "creator": "ann@acme.test",
// "lifecycle_stage": "active", "permissions": []}.
type SeedExperiment struct {
	ExperimentID   string      `json:"experiment_id"`
	Name           string      `json:"name"`
	Creator        string      `json:"creator"`
	LifecycleStage string      `json:"lifecycle_stage,omitempty"` // active (default) or deleted
	Created        SeedTime    `json:"created,omitempty"`
	Permissions    []SeedGrant `json:"permissions,omitempty"`
}

// SeedMLModel is a workspace model registry model: {"name": "churn",
// "id": "<32 hex>", "creator": "ann@acme.test", "permissions": []}.
type SeedMLModel struct {
	Name        string      `json:"name"`
	ID          string      `json:"id"`
	Creator     string      `json:"creator"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedInstancePool is an instance pool: {"instance_pool_id":
// "0101-120000-pool1234", "instance_pool_name": "etl", "creator":
// "ann@acme.test", "node_type_id": "i3.xlarge", "state": "ACTIVE",
// "permissions": []}.
type SeedInstancePool struct {
	InstancePoolID   string      `json:"instance_pool_id"`
	InstancePoolName string      `json:"instance_pool_name"`
	Creator          string      `json:"creator"`
	NodeTypeID       string      `json:"node_type_id,omitempty"`
	State            string      `json:"state,omitempty"` // ACTIVE (default), STOPPED or DELETED
	MinIdle          int         `json:"min_idle_instances,omitempty"`
	Permissions      []SeedGrant `json:"permissions,omitempty"`
}

// SeedClusterPolicy is a cluster policy: {"policy_id": "<16 hex, upper
// case>", "name": "small-jobs", "creator": "ann@acme.test", "definition":
// "{}", "permissions": [{"group_name": "eng", "permission_level":
// "CAN_USE"}]}.
type SeedClusterPolicy struct {
	PolicyID    string      `json:"policy_id"`
	Name        string      `json:"name"`
	Creator     string      `json:"creator"`
	Definition  string      `json:"definition,omitempty"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedVectorSearchEndpoint is a vector search endpoint: {"id": "<uuid>",
// "name": "rag", "creator": "ann@acme.test", "state": "ONLINE",
// "num_indexes": 2, "permissions": []}.
type SeedVectorSearchEndpoint struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Creator     string      `json:"creator"`
	State       string      `json:"state,omitempty"` // ONLINE (default), PROVISIONING or OFFLINE
	NumIndexes  int         `json:"num_indexes,omitempty"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

var (
	reExperimentID = regexp.MustCompile(`^[0-9]{1,19}$`).MatchString
	rePolicyID     = regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString
	rePoolID       = regexp.MustCompile(`^[0-9]{4}-[0-9]{6}-[a-z0-9]+$`).MatchString
)

// mlObjects are one workspace's objects of this family, each in list order.
type mlObjects struct {
	experiments []mlExperiment
	models      []mlModel
	pools       []mlPool
	policies    []mlPolicy
	endpoints   []mlEndpoint
}

type mlExperiment struct {
	SeedExperiment
	created   int64
	creatorID string
}
type mlModel struct {
	SeedMLModel
	created int64
}
type mlPool struct {
	SeedInstancePool
	creatorID string
}
type mlPolicy struct {
	SeedClusterPolicy
	created int64
}
type mlEndpoint struct {
	SeedVectorSearchEndpoint
	created int64
}

type mlState struct{ ws map[int64]*mlObjects }

// loadMLCompute builds every workspace's objects of this family, checking
// them, and registers their ACLs.
func loadMLCompute(s *Server, seed *Seed) (any, error) {
	st := &mlState{ws: map[int64]*mlObjects{}}
	now := s.now()
	def := now.Add(-defaultCreatedAgo)
	for i, sw := range seed.Workspaces {
		w := s.st.wsByID[sw.WorkspaceID]
		o := &mlObjects{}
		st.ws[w.id] = o
		so := sw.Objects
		if so == nil {
			continue
		}
		f := fmt.Sprintf("workspaces[%d].objects.", i)
		var errs []string
		errf := func(format string, a ...any) { errs = append(errs, f+fmt.Sprintf(format, a...)) }
		at := func(field string, t SeedTime) int64 {
			v, err := resolveOr(t, now, def)
			if err != nil {
				errf("%s: %v", field, err)
			}
			return v.UnixMilli()
		}
		live := func(field, name string) *principal {
			p := s.st.findPrincipal(w, name)
			if p == nil {
				errf("%s: %q is not a live user or service principal of the workspace", field, name)
			}
			return p
		}
		acl := func(field, typ, id, creator string, level string, grants []SeedGrant) {
			a := s.grants(w).object(typ, id)
			if p := s.st.findPrincipal(w, creator); p != nil && level != "" {
				a.set(p.id, level)
			}
			if e := s.seedACL(w, typ, id, grants); e != nil {
				errf("%s.permissions: %s", field, e.msg)
			}
		}
		seen := map[string]bool{}
		unique := func(field, v string) {
			if seen[field+"\x00"+strings.ToLower(v)] {
				errf("%s: duplicate %q", field, v)
			}
			seen[field+"\x00"+strings.ToLower(v)] = true
		}
		for j, e := range so.Experiments {
			ef := fmt.Sprintf("experiments[%d]", j)
			if !reExperimentID(e.ExperimentID) {
				errf("%s.experiment_id: %q is not a number", ef, e.ExperimentID)
			}
			unique("experiments.experiment_id", e.ExperimentID)
			if strings.TrimSpace(e.Name) == "" {
				errf("%s.name: required", ef)
			}
			p := live(ef+".creator", e.Creator)
			x := mlExperiment{SeedExperiment: e, created: at(ef+".created", e.Created)}
			x.LifecycleStage = cmp.Or(x.LifecycleStage, "active")
			if !oneOf(x.LifecycleStage, "active", "deleted") {
				errf("%s.lifecycle_stage: %q is not active or deleted", ef, e.LifecycleStage)
			}
			if p != nil {
				x.creatorID = p.id
			}
			o.experiments = append(o.experiments, x)
			acl(ef, "experiments", e.ExperimentID, e.Creator, "CAN_MANAGE", e.Permissions)
		}
		for j, m := range so.MLModels {
			mf := fmt.Sprintf("ml_models[%d]", j)
			if strings.TrimSpace(m.Name) == "" {
				errf("%s.name: required", mf)
			}
			unique("ml_models.name", m.Name)
			if !reHexID.MatchString(m.ID) || len(m.ID) != 32 {
				errf("%s.id: %q is not 32 hex digits", mf, m.ID)
			}
			live(mf+".creator", m.Creator)
			o.models = append(o.models, mlModel{SeedMLModel: m, created: at(mf+".created", m.Created)})
			acl(mf, "registered-models", m.ID, m.Creator, "CAN_MANAGE", m.Permissions)
		}
		slices.SortStableFunc(o.models, func(a, b mlModel) int { return strings.Compare(a.Name, b.Name) })
		for j, p := range so.InstancePools {
			pf := fmt.Sprintf("instance_pools[%d]", j)
			if !rePoolID(p.InstancePoolID) {
				errf("%s.instance_pool_id: %q does not look like 0101-120000-pool1234", pf, p.InstancePoolID)
			}
			unique("instance_pools.instance_pool_id", p.InstancePoolID)
			if strings.TrimSpace(p.InstancePoolName) == "" {
				errf("%s.instance_pool_name: required", pf)
			}
			x := mlPool{SeedInstancePool: p}
			x.State = cmp.Or(x.State, "ACTIVE")
			if !oneOf(x.State, "ACTIVE", "STOPPED", "DELETED") {
				errf("%s.state: %q is not ACTIVE, STOPPED or DELETED", pf, p.State)
			}
			if pr := live(pf+".creator", p.Creator); pr != nil {
				x.creatorID = pr.id
			}
			o.pools = append(o.pools, x)
			acl(pf, "instance-pools", p.InstancePoolID, p.Creator, "CAN_MANAGE", p.Permissions)
		}
		for j, p := range so.ClusterPolicies {
			pf := fmt.Sprintf("cluster_policies[%d]", j)
			if !rePolicyID(p.PolicyID) {
				errf("%s.policy_id: %q is not 16 upper-case hex digits", pf, p.PolicyID)
			}
			unique("cluster_policies.policy_id", p.PolicyID)
			unique("cluster_policies.name", p.Name)
			if strings.TrimSpace(p.Name) == "" {
				errf("%s.name: required", pf)
			}
			live(pf+".creator", p.Creator)
			o.policies = append(o.policies, mlPolicy{SeedClusterPolicy: p, created: at(pf+".created", p.Created)})
			acl(pf, "cluster-policies", p.PolicyID, p.Creator, "", p.Permissions)
		}
		for j, e := range so.VectorSearchEndpoints {
			ef := fmt.Sprintf("vector_search_endpoints[%d]", j)
			if !reUUID.MatchString(e.ID) {
				errf("%s.id: %q is not a lower-case UUID", ef, e.ID)
			}
			unique("vector_search_endpoints.id", e.ID)
			if !reSimpleName.MatchString(e.Name) {
				errf("%s.name: %q is not a valid endpoint name", ef, e.Name)
			}
			unique("vector_search_endpoints.name", e.Name)
			live(ef+".creator", e.Creator)
			x := mlEndpoint{SeedVectorSearchEndpoint: e, created: at(ef+".created", e.Created)}
			x.State = cmp.Or(x.State, "ONLINE")
			if !oneOf(x.State, "ONLINE", "PROVISIONING", "OFFLINE") {
				errf("%s.state: %q is not ONLINE, PROVISIONING or OFFLINE", ef, e.State)
			}
			o.endpoints = append(o.endpoints, x)
			acl(ef, "vector-search-endpoints", e.ID, e.Creator, "CAN_MANAGE", e.Permissions)
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("invalid seed objects: %s", strings.Join(errs, "; "))
		}
	}
	return st, nil
}

func (s *Server) ml(w *workspace) *mlObjects {
	if st, ok := s.ext["mlcompute"].(*mlState); ok && st.ws[w.id] != nil {
		return st.ws[w.id]
	}
	return &mlObjects{}
}

func registerMLCompute(s *Server) {
	h := func(method, pattern string, f func(*call) error) {
		s.handle(route{method: method, pattern: pattern, class: ClassDefault, scope: scopeWorkspace, access: accessMember, handle: f})
	}
	h(http.MethodGet, "/api/2.0/mlflow/experiments/list", listExperiments)
	h(http.MethodPost, "/api/2.0/mlflow/experiments/search", listExperiments)
	h(http.MethodGet, "/api/2.0/mlflow/registered-models/list", listMLModels)
	h(http.MethodGet, "/api/2.0/mlflow/databricks/registered-models/get", getMLModel)
	h(http.MethodGet, "/api/2.0/instance-pools/list", listInstancePools)
	h(http.MethodGet, "/api/2.0/policies/clusters/list", listClusterPolicies)
	h(http.MethodGet, "/api/2.0/vector-search/endpoints", listVectorSearchEndpoints)
}

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type wireExperiment struct {
	ExperimentID     string    `json:"experiment_id"`
	Name             string    `json:"name"`
	ArtifactLocation string    `json:"artifact_location"`
	LifecycleStage   string    `json:"lifecycle_stage"`
	CreationTime     int64     `json:"creation_time"`
	LastUpdateTime   int64     `json:"last_update_time"`
	Tags             []wireTag `json:"tags,omitempty"`
}

// listExperiments serves experiments/list (GET, query) and
// experiments/search (POST, JSON body): active experiments unless
// view_type is DELETED_ONLY or ALL.
func listExperiments(c *call) error {
	q := c.r.URL.Query()
	if c.r.Method == http.MethodPost {
		var body struct {
			MaxResults *int   `json:"max_results"`
			PageToken  string `json:"page_token"`
			ViewType   string `json:"view_type"`
		}
		if err := c.decode(&body); err != nil {
			return restErr(http.StatusBadRequest, "MALFORMED_REQUEST", "Could not parse the request body.")
		}
		q = map[string][]string{}
		if body.MaxResults != nil {
			q.Set("max_results", strconv.Itoa(*body.MaxResults))
		}
		if body.PageToken != "" {
			q.Set("page_token", body.PageToken)
		}
		if body.ViewType != "" {
			q.Set("view_type", body.ViewType)
		}
		c.r.URL.RawQuery = q.Encode()
	}
	view := cmp.Or(q.Get("view_type"), "ACTIVE_ONLY")
	if !oneOf(view, "ACTIVE_ONLY", "DELETED_ONLY", "ALL") {
		return restErr(http.StatusBadRequest, errInvalidParameter, "Invalid view_type %q.", view)
	}
	var sel []mlExperiment
	for _, e := range c.s.ml(c.ws).experiments {
		if view == "ALL" || (view == "ACTIVE_ONLY") == (e.LifecycleStage == "active") {
			sel = append(sel, e)
		}
	}
	from, to, next, err := ucWindow(c, "experiments:"+view, len(sel), experimentsMaxPage, experimentsMaxPage, ucAbsent{}, "ListExperiments")
	if err != nil {
		return err
	}
	resp := struct {
		Experiments   []wireExperiment `json:"experiments,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, e := range sel[from:to] {
		x := wireExperiment{ExperimentID: e.ExperimentID, Name: e.Name, ArtifactLocation: "dbfs:/databricks/mlflow-tracking/" + e.ExperimentID,
			LifecycleStage: e.LifecycleStage, CreationTime: e.created, LastUpdateTime: e.created}
		if p := c.s.st.get(e.creatorID); p != nil {
			x.Tags = []wireTag{{"mlflow.ownerId", p.id}, {"mlflow.ownerEmail", p.name()}}
		}
		resp.Experiments = append(resp.Experiments, x)
	}
	return c.reply(http.StatusOK, resp)
}

type wireMLModel struct {
	Name                 string `json:"name"`
	UserID               string `json:"user_id"`
	CreationTimestamp    int64  `json:"creation_timestamp"`
	LastUpdatedTimestamp int64  `json:"last_updated_timestamp"`
}

func listMLModels(c *call) error {
	q := c.r.URL.Query()
	if n, present, err := intParam(q, "max_results"); err != nil {
		return err
	} else if present && (n < 1 || n > mlModelsMaxPage) {
		return restErr(http.StatusBadRequest, errInvalidParameter, "max_results must be between 1 and %d, got %d.", mlModelsMaxPage, n)
	}
	all := c.s.ml(c.ws).models
	from, to, next, err := ucWindow(c, "ml-models", len(all), mlModelsDefaultPage, mlModelsMaxPage, ucAbsent{defaultPage: true}, "ListModels")
	if err != nil {
		return err
	}
	resp := struct {
		RegisteredModels []wireMLModel `json:"registered_models,omitempty"`
		NextPageToken    string        `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, m := range all[from:to] {
		resp.RegisteredModels = append(resp.RegisteredModels, wireMLModel{Name: m.Name, UserID: m.Creator,
			CreationTimestamp: m.created, LastUpdatedTimestamp: m.created})
	}
	return c.reply(http.StatusOK, resp)
}

func getMLModel(c *call) error {
	name := c.r.URL.Query().Get("name")
	for _, m := range c.s.ml(c.ws).models {
		if m.Name == name {
			level := "CAN_MANAGE"
			if !c.admin {
				r := c.s.effectiveRank(c, "registered-models", m.ID)
				if r < 0 {
					return restErr(http.StatusNotFound, errResourceDoesNotExist, "RegisteredModel '%s' does not exist.", name)
				}
				level = aclTypes["registered-models"].levels[r]
			}
			return c.reply(http.StatusOK, map[string]any{"registered_model_databricks": map[string]any{
				"id": m.ID, "name": m.Name, "user_id": m.Creator, "creation_timestamp": m.created,
				"last_updated_timestamp": m.created, "permission_level": level}})
		}
	}
	return restErr(http.StatusNotFound, errResourceDoesNotExist, "RegisteredModel '%s' does not exist.", name)
}

func listInstancePools(c *call) error {
	out := []map[string]any{}
	for _, p := range c.s.ml(c.ws).pools {
		tags := map[string]string{"Vendor": "Databricks", "DatabricksInstancePoolId": p.InstancePoolID,
			"DatabricksInstancePoolCreatorId": p.creatorID}
		out = append(out, map[string]any{"instance_pool_id": p.InstancePoolID, "instance_pool_name": p.InstancePoolName,
			"node_type_id": cmp.Or(p.NodeTypeID, "i3.xlarge"), "state": p.State, "min_idle_instances": p.MinIdle,
			"idle_instance_autotermination_minutes": 60, "default_tags": tags,
			"stats": map[string]int{"used_count": 0, "idle_count": p.MinIdle, "pending_used_count": 0, "pending_idle_count": 0}})
	}
	if len(out) == 0 {
		return c.reply(http.StatusOK, struct{}{})
	}
	return c.reply(http.StatusOK, map[string]any{"instance_pools": out})
}

func listClusterPolicies(c *call) error {
	out := []map[string]any{}
	for _, p := range c.s.ml(c.ws).policies {
		out = append(out, map[string]any{"policy_id": p.PolicyID, "name": p.Name, "creator_user_name": p.Creator,
			"definition": cmp.Or(p.Definition, "{}"), "created_at_timestamp": p.created, "is_default": false})
	}
	return c.reply(http.StatusOK, map[string]any{"policies": out, "total_count": len(out)})
}

func listVectorSearchEndpoints(c *call) error {
	all := c.s.ml(c.ws).endpoints
	from := 0
	if t := c.r.URL.Query().Get("page_token"); t != "" {
		var err error
		if from, err = parsePageToken("vector-search", t); err != nil {
			return err
		}
	}
	from = min(from, len(all))
	to := min(from+vectorSearchPage, len(all))
	resp := struct {
		Endpoints     []map[string]any `json:"endpoints,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}{}
	for _, e := range all[from:to] {
		resp.Endpoints = append(resp.Endpoints, map[string]any{"id": e.ID, "name": e.Name, "creator": e.Creator,
			"endpoint_type": "STANDARD", "num_indexes": e.NumIndexes, "creation_timestamp": e.created,
			"last_updated_timestamp": e.created, "last_updated_user": e.Creator,
			"endpoint_status": map[string]string{"state": e.State}})
	}
	if to < len(all) {
		resp.NextPageToken = pageToken("vector-search", to)
	}
	return c.reply(http.StatusOK, resp)
}
