package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Doer performs JSON REST calls through a client's transport. Feature
// packages build their REST reads on it (see ListPages). Both
// *WorkspaceClient and *AccountClient implement it.
type Doer interface {
	Do(ctx context.Context, class Class, method, path string, query url.Values, body, out any, opts ...CallOption) error
}

// WorkspaceHeader is the header that routes a call to a workspace when the
// host serves several (unified hosts, the sandbox).
const WorkspaceHeader = "X-Databricks-Workspace-Id"

// orgIDHeader carries the workspace id on replies to /Me.
const orgIDHeader = "X-Databricks-Org-Id"

// client sends JSON calls to one host through one transport stack.
type client struct {
	host        string // scheme://host[:port], no trailing slash
	workspaceID int64  // sent in WorkspaceHeader when routeByHeader
	routeHeader bool
	rt          *retrier
	// pat is set when the session authenticates with a personal access
	// token: replies refusing it become a *TokenScopeError. account marks
	// the account API's client.
	pat, account bool
	// cred describes the session's credential for an *AuthError.
	cred Credential
}

// do performs one JSON call. body, when non-nil, is sent as JSON; out, when
// non-nil, receives the decoded reply (an empty reply leaves it unchanged).
func (c *client) do(ctx context.Context, class Class, method, path string, query url.Values, body, out any, opts ...CallOption) error {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("%s %s: path must start with /", method, path)
	}
	u := c.host + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("%s %s: build request: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "dbiam")
	if c.routeHeader && c.workspaceID != 0 {
		req.Header.Set(WorkspaceHeader, strconv.FormatInt(c.workspaceID, 10))
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		req.Body, req.GetBody = jsonBody(b)
		req.ContentLength = int64(len(b))
		req.Header.Set("Content-Type", "application/json")
	}
	rep, err := c.rt.do(ctx, req, class, o)
	if err != nil {
		if c.pat {
			err = tokenScopeError(err, c.account, c.workspaceID, c.cred.Source)
		}
		var scope *TokenScopeError
		if errors.Is(err, ErrUnauthenticated) && !errors.As(err, &scope) {
			return &AuthError{Host: c.host, Credential: c.cred, Err: err}
		}
		return err
	}
	if o.header != nil {
		*o.header = rep.header
	}
	trimmed := bytes.TrimSpace(rep.body)
	if out == nil || len(trimmed) == 0 {
		return nil
	}
	if isHTML(rep.header, trimmed) {
		return fmt.Errorf("%s %s: %s", method, path, htmlMessage(trimmed))
	}
	if err := json.Unmarshal(rep.body, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
	}
	return nil
}

// WorkspaceClient calls one workspace's APIs. It is safe for concurrent use;
// all clients of a Session share its rate limiters and concurrency caps.
type WorkspaceClient struct {
	// ID is the workspace id (0 for a --host workspace whose id is unknown).
	ID int64
	// URL is the base URL the calls go to.
	URL string

	Users             *Endpoint[User]
	Groups            *Endpoint[Group]
	ServicePrincipals *Endpoint[ServicePrincipal]

	c *client
}

// Workspace SCIM and permission-assignment paths (§A, §D.2).
const (
	workspaceSCIMBase       = "/api/2.0/preview/scim/v2"
	workspaceAssignmentPath = "/api/2.0/preview/permissionassignments"
)

func newWorkspaceClient(c *client, url string) *WorkspaceClient {
	return &WorkspaceClient{
		ID:                c.workspaceID,
		URL:               url,
		Users:             newEndpoint(c, workspaceSCIMBase+"/Users", workspaceSCIM, userKey),
		Groups:            newEndpoint(c, workspaceSCIMBase+"/Groups", workspaceSCIM, groupKey),
		ServicePrincipals: newEndpoint(c, workspaceSCIMBase+"/ServicePrincipals", workspaceSCIM, spKey),
		c:                 c,
	}
}

// Do performs any JSON call on the workspace through the same transport.
// class picks the rate-limit bucket; query may be nil; body, when non-nil,
// is sent as JSON; out, when non-nil, receives the decoded reply. POST and
// PATCH are not retried after an ambiguous failure unless opts include
// Idempotent.
func (w *WorkspaceClient) Do(ctx context.Context, class Class, method, path string, query url.Values, body, out any, opts ...CallOption) error {
	return w.c.do(ctx, class, method, path, query, body, out, opts...)
}

// Me returns the calling user and the workspace id from the
// X-Databricks-Org-Id reply header (0 if the server sent none).
func (w *WorkspaceClient) Me(ctx context.Context) (User, int64, error) {
	var u User
	var h http.Header
	if err := w.c.do(ctx, ClassSCIMRead, http.MethodGet, workspaceSCIMBase+"/Me", nil, nil, &u, ReplyHeader(&h)); err != nil {
		return User{}, 0, err
	}
	v := strings.TrimSpace(h.Get(orgIDHeader))
	if v == "" {
		return u, 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return User{}, 0, fmt.Errorf("GET %s/Me: bad %s header %q: %w", workspaceSCIMBase, orgIDHeader, v, err)
	}
	return u, id, nil
}

// PermissionAssignments lists the workspace's permission assignments through
// the workspace-level API (§D.2).
func (w *WorkspaceClient) PermissionAssignments(ctx context.Context) ([]PermissionAssignment, error) {
	return w.c.listAssignments(ctx, workspaceAssignmentPath)
}

// listAssignments reads a permission assignments list (§D.1, §D.2).
func (c *client) listAssignments(ctx context.Context, path string) ([]PermissionAssignment, error) {
	var out struct {
		PermissionAssignments []PermissionAssignment `json:"permission_assignments"`
	}
	if err := c.do(ctx, ClassAssignments, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.PermissionAssignments, nil
}

// AccountClient calls the account APIs. It is safe for concurrent use.
type AccountClient struct {
	AccountID string

	Users             *Endpoint[User]
	Groups            *Endpoint[Group]
	ServicePrincipals *Endpoint[ServicePrincipal]

	c *client
}

func newAccountClient(c *client, accountID string) *AccountClient {
	base := "/api/2.0/accounts/" + url.PathEscape(accountID) + "/scim/v2"
	return &AccountClient{
		AccountID:         accountID,
		Users:             newEndpoint(c, base+"/Users", accountSCIM, userKey),
		Groups:            newEndpoint(c, base+"/Groups", accountSCIM, groupKey),
		ServicePrincipals: newEndpoint(c, base+"/ServicePrincipals", accountSCIM, spKey),
		c:                 c,
	}
}

// Do performs any JSON call on the account host through the same transport;
// see WorkspaceClient.Do.
func (a *AccountClient) Do(ctx context.Context, class Class, method, path string, query url.Values, body, out any, opts ...CallOption) error {
	return a.c.do(ctx, class, method, path, query, body, out, opts...)
}

func (a *AccountClient) workspacesPath() string {
	return "/api/2.0/accounts/" + url.PathEscape(a.AccountID) + "/workspaces"
}

func (a *AccountClient) assignmentsPath(workspaceID int64) string {
	return a.workspacesPath() + "/" + strconv.FormatInt(workspaceID, 10) + "/permissionassignments"
}

func (a *AccountClient) principalPath(workspaceID, principalID int64) string {
	return a.assignmentsPath(workspaceID) + "/principals/" + strconv.FormatInt(principalID, 10)
}

// ListWorkspaces lists the account's workspaces (§C; a bare JSON array).
func (a *AccountClient) ListWorkspaces(ctx context.Context) ([]Workspace, error) {
	var out []Workspace
	if err := a.c.do(ctx, ClassDefault, http.MethodGet, a.workspacesPath(), nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListAssignments lists the permission assignments of a workspace (§D.1).
func (a *AccountClient) ListAssignments(ctx context.Context, workspaceID int64) ([]PermissionAssignment, error) {
	return a.c.listAssignments(ctx, a.assignmentsPath(workspaceID))
}

// PutAssignment sets the permissions (PermissionUser, PermissionAdmin) of a
// principal, by account SCIM id, on a workspace. An empty perms is refused:
// the API treats it as removing every permission; use DeleteAssignment.
// A reply carrying an error field is returned as an error.
func (a *AccountClient) PutAssignment(ctx context.Context, workspaceID, principalID int64, perms []string) (PermissionAssignment, error) {
	path := a.principalPath(workspaceID, principalID)
	if len(perms) == 0 {
		return PermissionAssignment{}, fmt.Errorf("PUT %s: no permissions given: use DeleteAssignment to remove an assignment", path)
	}
	var out PermissionAssignment
	body := map[string][]string{"permissions": perms}
	if err := a.c.do(ctx, ClassAssignmentsWrite, http.MethodPut, path, nil, body, &out); err != nil {
		return PermissionAssignment{}, err
	}
	if out.Error != "" {
		return out, fmt.Errorf("PUT %s: server reported: %s", path, oneLine(out.Error))
	}
	return out, nil
}

// DeleteAssignment removes a principal's assignment to a workspace.
func (a *AccountClient) DeleteAssignment(ctx context.Context, workspaceID, principalID int64) error {
	return a.c.do(ctx, ClassAssignmentsWrite, http.MethodDelete, a.principalPath(workspaceID, principalID), nil, nil, nil)
}
