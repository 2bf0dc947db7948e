package handover

import (
	"context"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// Kinds handed over by giving the successor CAN_MANAGE (MANAGE for secret
// scopes) where the leaver is the only manager, besides Lakeview
// dashboards, serving endpoints and apps: the ML and compute settings and
// Git folders audit reads. Their ACLs are read where a list field ties the
// object to a leaver (owner tag, creator, home folder), as audit does.
const (
	KindExperiment   = "experiment"
	KindMLModel      = "workspace-model"
	KindInstancePool = "instance-pool"
	KindVectorSearch = "vector-search-endpoint"
	KindRepo         = "repo"
	KindSecretScope  = "secret-scope"
)

// managedKinds are those kinds in plan order.
var managedKinds = []string{KindExperiment, KindMLModel, KindInstancePool, KindVectorSearch, KindRepo, KindSecretScope}

// homeOwner returns the principal whose home (/Users/<name>) or Repos
// folder (/Repos/<name>) holds path.
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

func (r *reader) experiments(ctx context.Context) error {
	es, err := scim.ListExperiments(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(es)/100)
	ids, names, owners := make([]string, len(es)), make([]string, len(es)), make([]string, len(es))
	for i, e := range es {
		ids[i], names[i], owners[i] = e.ExperimentID, e.Name, e.Tag("mlflow.ownerEmail")
	}
	return r.managed(ctx, KindExperiment, "experiments", ids, names, owners, false)
}

func (r *reader) mlModels(ctx context.Context) error {
	ms, err := scim.ListMLModels(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(ms)/100)
	var ids, names, creators []string
	for _, m := range ms {
		if r.ls.byName(m.UserID) == nil {
			continue
		}
		id, err := scim.MLModelID(ctx, r.d, m.Name)
		if err != nil {
			return err
		}
		ids, names, creators = append(ids, id), append(names, m.Name), append(creators, m.UserID)
	}
	return r.managed(ctx, KindMLModel, "registered-models", ids, names, creators, false)
}

func (r *reader) instancePools(ctx context.Context) error {
	ps, err := scim.ListInstancePools(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1)
	ids, names, creators := make([]string, len(ps)), make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		ids[i], names[i] = p.InstancePoolID, p.InstancePoolName
		for _, l := range r.ls {
			if l.ids[p.CreatorID()] {
				creators[i] = l.Name
			}
		}
	}
	return r.managed(ctx, KindInstancePool, "instance-pools", ids, names, creators, false)
}

func (r *reader) vectorSearch(ctx context.Context) error {
	es, err := scim.ListVectorSearchEndpoints(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1)
	ids, names, creators := make([]string, len(es)), make([]string, len(es)), make([]string, len(es))
	for i, e := range es {
		ids[i], names[i], creators[i] = e.ID, e.Name, e.Creator
	}
	return r.managed(ctx, KindVectorSearch, "vector-search-endpoints", ids, names, creators, false)
}

func (r *reader) repos(ctx context.Context) error {
	repos, err := scim.ListAllRepos(ctx, r.d)
	if err != nil {
		return err
	}
	var ids, names, creators []string
	for _, repo := range repos {
		ids, names, creators = append(ids, strconv.FormatInt(repo.ID, 10)), append(names, repo.Path), append(creators, homeOwner(repo.Path))
	}
	r.counted(2 + len(ids)/100)
	return r.managed(ctx, KindRepo, "repos", ids, names, creators, false)
}

// secretScopes adds a manage tie for each scope whose only MANAGE holder
// is a leaver (the admins group aside).
func (r *reader) secretScopes(ctx context.Context) error {
	scopes, err := scim.ListSecretScopes(ctx, r.d)
	if err != nil {
		return err
	}
	r.counted(1 + len(scopes))
	for _, sc := range scopes {
		acls, err := scim.ListSecretACLs(ctx, r.d, sc)
		if err != nil {
			return err
		}
		var found *leaver
		sole := true
		for _, a := range acls {
			if a.Permission != "MANAGE" || a.Principal == adminsGroup {
				continue
			}
			l := r.ls.byName(a.Principal)
			if l == nil {
				sole = false
				break
			}
			found = l
		}
		if sole && found != nil {
			r.add(tie{kind: KindSecretScope, objectID: sc, objectName: sc, who: found, action: ActionManage, from: found.Principal})
		}
	}
	return nil
}

// secretPrincipalName is how the secrets API names a principal: its user
// name, group name or application id.
func secretPrincipalName(p Principal) string { return p.Name }

// readSecretScope returns the successor's permission on a scope ("" when
// none).
func readSecretScope(ctx context.Context, d scim.Doer, scope string, to Principal) (live, error) {
	acls, err := scim.ListSecretACLs(ctx, d, scope)
	if err != nil {
		return gone(err)
	}
	st := live{Exists: true}
	for _, a := range acls {
		if strings.EqualFold(a.Principal, secretPrincipalName(to)) {
			st.Level = a.Permission
		}
	}
	return st, nil
}

// writeSecretScope sets the successor's permission on a scope to level
// ("" removes it).
func writeSecretScope(ctx context.Context, d scim.Doer, scope string, to Principal, level string) error {
	if level == "" {
		err := scim.DeleteSecretACL(ctx, d, scope, secretPrincipalName(to))
		if notFound(err) {
			return nil
		}
		return err
	}
	return scim.PutSecretACL(ctx, d, scope, secretPrincipalName(to), level)
}
