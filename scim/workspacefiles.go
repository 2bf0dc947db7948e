package scim

import (
	"context"
	"errors"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// Workspace tree, Git folder, pipeline spec, ML and compute settings reads
// (SDK v0.175.0 service/workspace, pipelines, ml, compute, vectorsearch):
// what audit needs to find home-folder objects used by others and the ML
// and compute objects an identity owns. All are charged to ClassDefault and
// safe for concurrent use.

// ObjectInfo is a workspace tree object. ObjectType is NOTEBOOK, FILE,
// DIRECTORY, REPO, LIBRARY or DASHBOARD.
type ObjectInfo struct {
	ObjectType string `json:"object_type"`
	Path       string `json:"path"`
	ObjectID   int64  `json:"object_id"`
	Language   string `json:"language,omitempty"`
	CreatedAt  int64  `json:"created_at,omitempty"`
	ModifiedAt int64  `json:"modified_at,omitempty"`
}

// ListWorkspace lists the children of a workspace directory
// (GET /api/2.0/workspace/list?path=, not recursive).
func ListWorkspace(ctx context.Context, d Doer, path string) ([]ObjectInfo, error) {
	var out struct {
		Objects []ObjectInfo `json:"objects"`
	}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/workspace/list", url.Values{"path": {path}}, nil, &out); err != nil {
		return nil, err
	}
	return out.Objects, nil
}

// GetStatus reads one workspace object (GET /api/2.0/workspace/get-status);
// a missing path is an error matching ErrNotFound.
func GetStatus(ctx context.Context, d Doer, path string) (ObjectInfo, error) {
	var o ObjectInfo
	err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/workspace/get-status", url.Values{"path": {path}}, nil, &o)
	return o, err
}

// Repo is a Git folder.
type Repo struct {
	ID       int64  `json:"id"`
	Path     string `json:"path"`
	URL      string `json:"url,omitempty"`
	Provider string `json:"provider,omitempty"`
	Branch   string `json:"branch,omitempty"`
}

// Repos iterates over the Git folders under pathPrefix (GET
// /api/2.0/repos; the request's page parameter is next_page_token).
// Without a prefix the API serves only those under /Repos.
func Repos(ctx context.Context, d Doer, pathPrefix string) iter.Seq2[Repo, error] {
	q := url.Values{}
	if pathPrefix != "" {
		q.Set("path_prefix", pathPrefix)
	}
	return ListPages[Repo](ctx, d, ClassDefault, "/api/2.0/repos", q, PageTokenOptions{Items: "repos", RequestParam: "next_page_token"})
}

// ListAllRepos lists the Git folders the caller can manage: those under
// /Repos (what the list serves without a prefix) and those in home
// folders under /Users, which only a /Users prefix returns (docs
// repos/v1/list-repos). Git folders with the Git CLI enabled are in
// neither list (see docs/recorded-replies.md).
func ListAllRepos(ctx context.Context, d Doer) ([]Repo, error) {
	var out []Repo
	for _, prefix := range []string{"", "/Users"} {
		for r, err := range Repos(ctx, d, prefix) {
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// PipelineSpec is the part of a pipeline's specification audit reads: its
// libraries' notebook and file paths.
type PipelineSpec struct {
	ID         string            `json:"id"`
	Continuous bool              `json:"continuous,omitempty"`
	Libraries  []PipelineLibrary `json:"libraries,omitempty"`
}

// PipelineLibrary is one source of a pipeline.
type PipelineLibrary struct {
	Notebook *struct {
		Path string `json:"path"`
	} `json:"notebook,omitempty"`
	File *struct {
		Path string `json:"path"`
	} `json:"file,omitempty"`
}

// Path returns the library's notebook or file path ("" for other kinds).
func (l PipelineLibrary) Path() string {
	switch {
	case l.Notebook != nil:
		return l.Notebook.Path
	case l.File != nil:
		return l.File.Path
	}
	return ""
}

// GetPipelineSpec reads a pipeline's specification
// (GET /api/2.0/pipelines/{id}).
func GetPipelineSpec(ctx context.Context, d Doer, id string) (PipelineSpec, error) {
	var out struct {
		Spec PipelineSpec `json:"spec"`
	}
	err := d.Do(ctx, ClassDefault, http.MethodGet, pathPipelines+"/"+url.PathEscape(id), nil, nil, &out)
	return out.Spec, err
}

// Experiment is an MLflow experiment; its owner is in the tags
// mlflow.ownerEmail and mlflow.ownerId, when set.
type Experiment struct {
	ExperimentID   string `json:"experiment_id"`
	Name           string `json:"name"`
	LifecycleStage string `json:"lifecycle_stage,omitempty"`
	Tags           []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"tags,omitempty"`
}

// Tag returns the value of tag key ("" if absent).
func (e Experiment) Tag(key string) string {
	for _, t := range e.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// ListExperiments lists the workspace's active experiments
// (GET /api/2.0/mlflow/experiments/list, max_results=1000, the API's cap).
func ListExperiments(ctx context.Context, d Doer) ([]Experiment, error) {
	q := url.Values{"max_results": {"1000"}}
	return collect(ListPages[Experiment](ctx, d, ClassDefault, "/api/2.0/mlflow/experiments/list", q, PageTokenOptions{Items: "experiments"}))
}

// MLModel is a workspace model registry model; UserID is its creator's
// user name.
type MLModel struct {
	Name   string `json:"name"`
	UserID string `json:"user_id,omitempty"`
}

// ListMLModels lists the workspace registry's models
// (GET /api/2.0/mlflow/registered-models/list, max_results=1000).
func ListMLModels(ctx context.Context, d Doer) ([]MLModel, error) {
	q := url.Values{"max_results": {"1000"}}
	return collect(ListPages[MLModel](ctx, d, ClassDefault, "/api/2.0/mlflow/registered-models/list", q, PageTokenOptions{Items: "registered_models"}))
}

// MLModelID returns the Databricks id of a registry model, which its
// permissions are keyed by
// (GET /api/2.0/mlflow/databricks/registered-models/get?name=).
func MLModelID(ctx context.Context, d Doer, name string) (string, error) {
	var out struct {
		Model struct {
			ID string `json:"id"`
		} `json:"registered_model_databricks"`
	}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/mlflow/databricks/registered-models/get", url.Values{"name": {name}}, nil, &out); err != nil {
		return "", err
	}
	if out.Model.ID == "" {
		return "", errors.New("get registered model " + name + ": reply has no id")
	}
	return out.Model.ID, nil
}

// InstancePool is an instance pool. Its creator's SCIM id is the default
// tag DatabricksInstancePoolCreatorId: so Databricks' usage-tags docs
// ("Monitor usage using cluster and pool tags") and every public recording
// of a pool (the Terraform provider's exporter/test-data/get-instance-pool1.json)
// name it. The SDK's InstancePoolAndStats doc comment says
// InstancePoolCreator, which no recording shows; it is read when the other
// is absent.
type InstancePool struct {
	InstancePoolID   string            `json:"instance_pool_id"`
	InstancePoolName string            `json:"instance_pool_name,omitempty"`
	State            string            `json:"state,omitempty"`
	DefaultTags      map[string]string `json:"default_tags,omitempty"`
}

// CreatorID returns the pool creator's SCIM id (0 when the tag is absent).
func (p InstancePool) CreatorID() int64 {
	v, ok := p.DefaultTags["DatabricksInstancePoolCreatorId"]
	if !ok {
		v = p.DefaultTags["InstancePoolCreator"]
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// ListInstancePools lists the workspace's instance pools
// (GET /api/2.0/instance-pools/list, unpaged).
func ListInstancePools(ctx context.Context, d Doer) ([]InstancePool, error) {
	var out struct {
		Pools []InstancePool `json:"instance_pools"`
	}
	err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/instance-pools/list", nil, nil, &out)
	return out.Pools, err
}

// ClusterPolicy is a cluster policy.
type ClusterPolicy struct {
	PolicyID        string `json:"policy_id"`
	Name            string `json:"name,omitempty"`
	CreatorUserName string `json:"creator_user_name,omitempty"`
	IsDefault       bool   `json:"is_default,omitempty"`
}

// ListClusterPolicies lists the workspace's cluster policies
// (GET /api/2.0/policies/clusters/list, unpaged).
func ListClusterPolicies(ctx context.Context, d Doer) ([]ClusterPolicy, error) {
	var out struct {
		Policies []ClusterPolicy `json:"policies"`
	}
	err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/policies/clusters/list", nil, nil, &out)
	return out.Policies, err
}

// VectorSearchEndpoint is a vector search endpoint; its permissions are
// keyed by ID.
type VectorSearchEndpoint struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Creator        string `json:"creator,omitempty"`
	NumIndexes     int    `json:"num_indexes,omitempty"`
	EndpointStatus *struct {
		State string `json:"state,omitempty"`
	} `json:"endpoint_status,omitempty"`
}

// ListVectorSearchEndpoints lists the workspace's vector search endpoints
// (GET /api/2.0/vector-search/endpoints, page tokens).
func ListVectorSearchEndpoints(ctx context.Context, d Doer) ([]VectorSearchEndpoint, error) {
	return collect(ListPages[VectorSearchEndpoint](ctx, d, ClassDefault, "/api/2.0/vector-search/endpoints", nil, PageTokenOptions{Items: "endpoints"}))
}

// SecretACL is one entry of a secret scope's ACL: principal is a user
// name, group name or application id; permission READ, WRITE or MANAGE.
type SecretACL struct {
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
}

// ListSecretScopes lists the workspace's secret scopes
// (GET /api/2.0/secrets/scopes/list).
func ListSecretScopes(ctx context.Context, d Doer) ([]string, error) {
	var out struct {
		Scopes []struct {
			Name string `json:"name"`
		} `json:"scopes"`
	}
	if err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/secrets/scopes/list", nil, nil, &out); err != nil {
		return nil, err
	}
	names := make([]string, len(out.Scopes))
	for i, s := range out.Scopes {
		names[i] = s.Name
	}
	return names, nil
}

// ListSecretACLs reads a secret scope's ACL
// (GET /api/2.0/secrets/acls/list?scope=).
func ListSecretACLs(ctx context.Context, d Doer, scope string) ([]SecretACL, error) {
	var out struct {
		Items []SecretACL `json:"items"`
	}
	err := d.Do(ctx, ClassDefault, http.MethodGet, "/api/2.0/secrets/acls/list", url.Values{"scope": {scope}}, nil, &out)
	return out.Items, err
}
