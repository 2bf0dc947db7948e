package handover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dbiam/dbiam/scim"
)

// live is the live state of what a change sets.
type live struct {
	// Exists is false when the object (or token, or identity) is gone.
	Exists bool
	// Value is the current owner, run-as identity or dedicated user; for a
	// deactivation the identity when it is active ("" when not); for an
	// unassignment the identity when it is still assigned.
	Value string
	// Level is, for manage, the successor's direct level ("" when none),
	// and Managers whether the leaver still manages the object.
	Level string
	// ClusterState is a cluster's state.
	ClusterState string
	// Permissions are, for an unassignment, the current assignment.
	Permissions []string
	// ACL is the direct grants, for manage (rollback rewrites them).
	ACL []scim.AccessControlRequest
	// Pipeline is, for a pipeline's run-as, the pipeline read: Write
	// sends its settings back with the new run-as, and makes no read of
	// its own (a read in the write's context would run its before-send
	// hook, recording the intent before the write's rate-limit slot).
	Pipeline *scim.PipelineDetail
}

// Remote is the live side of handover: reading and writing what each
// change is about. It is safe for concurrent use.
type Remote interface {
	Read(ctx context.Context, c Change) (live, error)
	// Write sets what c is about to value (a principal name; for manage a
	// level for c.To, "" to remove its grant; for deactivate "inactive"
	// or "active"; for unassign the permissions, nil to remove).
	Write(ctx context.Context, c Change, value string, perms []string, st live) error
	// Cluster operations for changes that need a terminated cluster.
	Terminate(ctx context.Context, c Change) error
	Start(ctx context.Context, c Change) error
}

// scimRemote is the Remote over dbiam's scim client.
type scimRemote struct {
	acct *scim.AccountClient
	ws   *scim.WorkspaceSet
}

// NewRemote returns the Remote over sess for the workspaces of p.
// Workspace URLs come from the session's list, else from the plan.
func NewRemote(ctx context.Context, sess *scim.Session, p *Plan) (Remote, error) {
	acct, err := sess.Account()
	if err != nil {
		return nil, fmt.Errorf("connect to account: %w", err)
	}
	var infos []scim.WorkspaceInfo
	for _, w := range p.Workspaces {
		infos = append(infos, scim.WorkspaceInfo{ID: w.WorkspaceID, Name: w.WorkspaceName, URL: w.URL})
	}
	ws, err := sess.WorkspaceSet(ctx, infos)
	if err != nil {
		return nil, err
	}
	return &scimRemote{acct: acct, ws: ws}, nil
}

func (r *scimRemote) workspace(id int64) (*scim.WorkspaceClient, error) { return r.ws.Client(id) }

// permType is the permissions API type of a kind.
func permType(kind string) string {
	switch kind {
	case KindJob:
		return "jobs"
	case KindPipeline:
		return "pipelines"
	case KindWarehouse:
		return "warehouses"
	case KindDashboard:
		return "dashboards"
	case KindServingEndpoint:
		return "serving-endpoints"
	case KindApp:
		return "apps"
	case KindExperiment:
		return "experiments"
	case KindMLModel:
		return "registered-models"
	case KindInstancePool:
		return "instance-pools"
	case KindVectorSearch:
		return "vector-search-endpoints"
	case KindRepo:
		return "repos"
	}
	return ""
}

// aclRequest is a permissions write entry for principal p.
func aclRequest(p Principal, level string) scim.AccessControlRequest {
	e := scim.AccessControlRequest{PermissionLevel: level}
	switch p.Type {
	case TypeServicePrincipal:
		e.ServicePrincipalName = p.Name
	case TypeGroup:
		e.GroupName = p.Name
	default:
		e.UserName = p.Name
	}
	return e
}

// directGrants returns an ACL's direct grants as write entries.
func directGrants(acl scim.ObjectPermissions) []scim.AccessControlRequest {
	var out []scim.AccessControlRequest
	for _, e := range acl.AccessControlList {
		for _, l := range e.Levels() {
			if !l.Inherited {
				out = append(out, aclRequest(aclPrincipal(e), l.PermissionLevel))
				break
			}
		}
	}
	return out
}

func notFound(err error) bool { return errors.Is(err, scim.ErrNotFound) }

// gone turns a not-found error into a live state of a missing object.
func gone(err error) (live, error) {
	if notFound(err) {
		return live{}, nil
	}
	return live{}, err
}

func (r *scimRemote) Read(ctx context.Context, c Change) (live, error) {
	if c.Kind == KindIdentity {
		return r.readIdentity(ctx, c)
	}
	w, err := r.workspace(c.WorkspaceID)
	if err != nil {
		return live{}, err
	}
	switch {
	case c.Kind == KindSecretScope:
		return readSecretScope(ctx, w, c.ObjectID, c.To)
	case isUC(c.Kind):
		owner, err := scim.GetUCOwner(ctx, w, ucPlural(c.Kind), c.ObjectID)
		if err != nil {
			return gone(err)
		}
		return live{Exists: true, Value: owner}, nil
	case c.Action == ActionManage:
		acl, err := scim.GetPermissions(ctx, w, permType(c.Kind), c.ObjectID)
		if err != nil {
			return gone(err)
		}
		return live{Exists: true, Level: aclLevel(acl, c.To), ACL: directGrants(acl)}, nil
	case c.Kind == KindToken:
		if _, err := scim.GetToken(ctx, w, c.ObjectID); err != nil {
			return gone(err)
		}
		return live{Exists: true, Value: c.From.Name}, nil
	case c.Action == ActionOwner && permType(c.Kind) != "":
		acl, err := scim.GetPermissions(ctx, w, permType(c.Kind), c.ObjectID)
		if err != nil {
			return gone(err)
		}
		o, _ := aclOwner(acl)
		return live{Exists: true, Value: o.Name}, nil
	}
	switch c.Kind {
	case KindJob:
		id, err := strconv.ParseInt(c.ObjectID, 10, 64)
		if err != nil {
			return live{}, fmt.Errorf("job id %q is not numeric", c.ObjectID)
		}
		j, err := scim.GetJob(ctx, w, id)
		if err != nil {
			return gone(err)
		}
		return live{Exists: true, Value: j.RunAsUserName}, nil
	case KindPipeline:
		p, err := scim.GetPipeline(ctx, w, c.ObjectID)
		if err != nil {
			return gone(err)
		}
		return live{Exists: true, Value: p.RunAsUserName, Pipeline: &p}, nil
	case KindCluster:
		cl, err := scim.GetCluster(ctx, w, c.ObjectID)
		if err != nil {
			return gone(clusterNotFound(err))
		}
		v := cl.CreatorUserName
		if c.Action == ActionSingleUser {
			v = cl.SingleUserName
		}
		return live{Exists: true, Value: v, ClusterState: cl.State}, nil
	case KindQuery:
		q, err := scim.GetQuery(ctx, w, c.ObjectID)
		if err != nil {
			return gone(err)
		}
		return live{Exists: true, Value: q.OwnerUserName}, nil
	case KindAlert:
		a, err := scim.GetAlert(ctx, w, c.ObjectID)
		if err != nil {
			return gone(err)
		}
		return live{Exists: true, Value: a.OwnerUserName}, nil
	case KindAlertV2:
		a, err := scim.GetAlertV2(ctx, w, c.ObjectID)
		if err != nil {
			return gone(err)
		}
		if c.Action == ActionRunAs {
			return live{Exists: true, Value: a.RunAs.Name()}, nil
		}
		return live{Exists: true, Value: a.OwnerUserName}, nil
	case KindLegacyDashboard:
		d, err := scim.GetLegacyDashboard(ctx, w, c.ObjectID)
		if err != nil {
			return gone(err)
		}
		owner := ""
		if d.User != nil {
			owner = d.User.Email
		}
		return live{Exists: true, Value: owner}, nil
	}
	return live{}, fmt.Errorf("change %s: no reader for %s %s", c.ID, c.Kind, c.Action)
}

// clusterNotFound maps the clusters API's missing-cluster reply (400
// INVALID_PARAMETER_VALUE "... does not exist") to ErrNotFound.
func clusterNotFound(err error) error {
	var ae *scim.APIError
	if errors.As(err, &ae) && ae.StatusCode == 400 && strings.Contains(ae.Message, "does not exist") {
		return fmt.Errorf("%w: %w", scim.ErrNotFound, err)
	}
	return err
}

func (r *scimRemote) readIdentity(ctx context.Context, c Change) (live, error) {
	switch c.Action {
	case ActionDeactivate:
		active := false
		if c.From.Type == TypeServicePrincipal {
			sp, err := r.acct.ServicePrincipals.Get(ctx, c.ObjectID, scim.GetOptions{Attributes: spAttrs})
			if err != nil {
				return gone(err)
			}
			active = sp.IsActive()
		} else {
			u, err := r.acct.Users.Get(ctx, c.ObjectID, scim.GetOptions{Attributes: userAttrs})
			if err != nil {
				return gone(err)
			}
			active = u.IsActive()
		}
		st := live{Exists: true}
		if active {
			st.Value = c.From.Name
		}
		return st, nil
	case ActionUnassign:
		as, err := r.acct.ListAssignments(ctx, c.WorkspaceID)
		if err != nil {
			return live{}, err
		}
		for _, a := range as {
			if strconv.FormatInt(a.Principal.PrincipalID, 10) == c.ObjectID && len(a.Permissions) > 0 {
				return live{Exists: true, Value: c.From.Name, Permissions: slices.Clone(a.Permissions)}, nil
			}
		}
		return live{Exists: true}, nil
	}
	return live{}, fmt.Errorf("change %s: no reader for identity %s", c.ID, c.Action)
}

func (r *scimRemote) Write(ctx context.Context, c Change, value string, perms []string, st live) error {
	if c.Kind == KindIdentity {
		return r.writeIdentity(ctx, c, value, perms)
	}
	w, err := r.workspace(c.WorkspaceID)
	if err != nil {
		return err
	}
	to := principalNamed(c, value)
	switch {
	case c.Kind == KindSecretScope:
		if value == scim.PermissionCanManage {
			value = "MANAGE"
		}
		return writeSecretScope(ctx, w, c.ObjectID, c.To, value)
	case isUC(c.Kind):
		return scim.SetUCOwner(ctx, w, ucPlural(c.Kind), c.ObjectID, value)
	case c.Action == ActionManage:
		if value != "" {
			_, err := scim.UpdatePermissions(ctx, w, permType(c.Kind), c.ObjectID, []scim.AccessControlRequest{aclRequest(c.To, value)})
			if err != nil || value == "CAN_MANAGE" {
				return err
			}
		}
		// Restore a lower level or no grant: rewrite the direct grants.
		var acl []scim.AccessControlRequest
		for _, e := range st.ACL {
			if aclRequestPrincipal(e).Is(c.To) {
				continue
			}
			acl = append(acl, e)
		}
		if value != "" {
			acl = append(acl, aclRequest(c.To, value))
		}
		_, err := scim.SetPermissions(ctx, w, permType(c.Kind), c.ObjectID, acl)
		return err
	case c.Kind == KindToken:
		err := scim.DeleteToken(ctx, w, c.ObjectID)
		if notFound(err) {
			return nil
		}
		return err
	case c.Action == ActionOwner && permType(c.Kind) != "":
		_, err := scim.UpdatePermissions(ctx, w, permType(c.Kind), c.ObjectID, []scim.AccessControlRequest{aclRequest(to, scim.PermissionIsOwner)})
		return err
	}
	sp := to.Type == TypeServicePrincipal
	switch c.Kind {
	case KindJob:
		id, _ := strconv.ParseInt(c.ObjectID, 10, 64)
		return scim.SetJobRunAs(ctx, w, id, value, sp)
	case KindPipeline:
		if st.Pipeline == nil {
			return fmt.Errorf("change %s: the pipeline was not read before its write", c.ID)
		}
		p := *st.Pipeline
		if !sp && strings.EqualFold(value, p.CreatorUserName) {
			// A pipeline without run_as runs as its creator: put that back
			// rather than naming the creator, which only it may set.
			value = ""
		}
		return scim.SetPipelineRunAs(ctx, w, p, value, sp)
	case KindCluster:
		if c.Action == ActionSingleUser {
			return scim.SetClusterSingleUser(ctx, w, c.ObjectID, value)
		}
		return scim.ChangeClusterOwner(ctx, w, c.ObjectID, value)
	case KindQuery:
		return scim.SetQueryOwner(ctx, w, c.ObjectID, value)
	case KindAlert:
		return scim.SetAlertOwner(ctx, w, c.ObjectID, value)
	case KindAlertV2:
		if c.Action == ActionRunAs {
			return scim.SetAlertV2RunAs(ctx, w, c.ObjectID, value, sp)
		}
		return scim.SetAlertV2Owner(ctx, w, c.ObjectID, value)
	case KindLegacyDashboard:
		return scim.TransferOwnership(ctx, w, "dashboard", c.ObjectID, value)
	}
	return fmt.Errorf("change %s: no writer for %s %s", c.ID, c.Kind, c.Action)
}

// principalNamed returns the principal of c named value: its successor or
// its previous value, with their types.
func principalNamed(c Change, value string) Principal {
	switch {
	case strings.EqualFold(value, c.To.Name):
		return Principal{c.To.Type, value}
	case strings.EqualFold(value, c.From.Name):
		return Principal{c.From.Type, value}
	case strings.Contains(value, "@"):
		return Principal{TypeUser, value}
	}
	return Principal{TypeServicePrincipal, value}
}

func aclRequestPrincipal(e scim.AccessControlRequest) Principal {
	switch {
	case e.UserName != "":
		return Principal{TypeUser, e.UserName}
	case e.ServicePrincipalName != "":
		return Principal{TypeServicePrincipal, e.ServicePrincipalName}
	}
	return Principal{TypeGroup, e.GroupName}
}

func (r *scimRemote) writeIdentity(ctx context.Context, c Change, value string, perms []string) error {
	switch c.Action {
	case ActionDeactivate:
		op := scim.SetActive(value == "active")
		if c.From.Type == TypeServicePrincipal {
			return r.acct.ServicePrincipals.Patch(ctx, c.ObjectID, op, scim.Idempotent())
		}
		return r.acct.Users.Patch(ctx, c.ObjectID, op, scim.Idempotent())
	case ActionUnassign:
		id, err := strconv.ParseInt(c.ObjectID, 10, 64)
		if err != nil {
			return fmt.Errorf("account id %q is not numeric", c.ObjectID)
		}
		if len(perms) == 0 {
			err := r.acct.DeleteAssignment(ctx, c.WorkspaceID, id)
			if notFound(err) {
				return nil
			}
			return err
		}
		_, err = r.acct.PutAssignment(ctx, c.WorkspaceID, id, perms)
		return err
	}
	return fmt.Errorf("change %s: no writer for identity %s", c.ID, c.Action)
}

func (r *scimRemote) Terminate(ctx context.Context, c Change) error {
	w, err := r.workspace(c.WorkspaceID)
	if err != nil {
		return err
	}
	return scim.TerminateCluster(ctx, w, c.ObjectID)
}

func (r *scimRemote) Start(ctx context.Context, c Change) error {
	w, err := r.workspace(c.WorkspaceID)
	if err != nil {
		return err
	}
	return scim.StartCluster(ctx, w, c.ObjectID)
}

// dryRemote reads through and logs every write instead of making it.
type dryRemote struct {
	Remote
	log func(msg string, kv ...any)
}

func (d dryRemote) Write(_ context.Context, c Change, value string, perms []string, _ live) error {
	d.log("skipped write (--dry-run)", "change", c.ID, "value", value, "permissions", strings.Join(perms, ","))
	return nil
}

func (d dryRemote) Terminate(_ context.Context, c Change) error {
	d.log("skipped terminate (--dry-run)", "change", c.ID)
	return nil
}

func (d dryRemote) Start(_ context.Context, c Change) error {
	d.log("skipped start (--dry-run)", "change", c.ID)
	return nil
}

// waitTerminated polls a cluster until it is TERMINATED, at most timeout.
func waitTerminated(ctx context.Context, r Remote, c Change, sleep func(context.Context, time.Duration) error, timeout time.Duration) error {
	for waited := time.Duration(0); ; {
		st, err := r.Read(ctx, c)
		if err != nil {
			return err
		}
		if !st.Exists {
			return fmt.Errorf("cluster %s no longer exists", c.ObjectID)
		}
		if st.ClusterState == "TERMINATED" {
			return nil
		}
		if waited >= timeout {
			return fmt.Errorf("cluster %s is still %s after %s; run apply again once it is terminated", c.ObjectID, st.ClusterState, timeout)
		}
		d := 5 * time.Second
		if err := sleep(ctx, d); err != nil {
			return err
		}
		waited += d
	}
}
