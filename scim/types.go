package scim

// Schema URNs used on the wire.
const (
	SchemaUser             = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup            = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaServicePrincipal = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
	SchemaListResponse     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp          = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError            = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Group resource types reported in Group.Meta.ResourceType.
const (
	// ResourceTypeWorkspaceGroup marks a workspace-local group.
	ResourceTypeWorkspaceGroup = "WorkspaceGroup"
	// ResourceTypeAccountGroup marks an account group seen from a workspace
	// (or listed by account SCIM).
	ResourceTypeAccountGroup = "Group"
)

// Well-known entitlement values.
const (
	EntitlementAllowClusterCreate      = "allow-cluster-create"
	EntitlementAllowInstancePoolCreate = "allow-instance-pool-create"
	EntitlementDatabricksSQLAccess     = "databricks-sql-access"
	EntitlementWorkspaceAccess         = "workspace-access"
	EntitlementWorkspaceConsume        = "workspace-consume"
)

// ComplexValue is a SCIM multi-valued attribute entry: a member, a group, an
// entitlement, a role or an email.
type ComplexValue struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Name is a user's structured name.
type Name struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Meta carries resource metadata; only ResourceType is populated by Databricks.
type Meta struct {
	ResourceType string `json:"resourceType,omitempty"`
}

// User is a SCIM user, in a workspace or in the account. Account users carry no
// entitlements or groups.
type User struct {
	ID           string         `json:"id,omitempty"`
	UserName     string         `json:"userName,omitempty"`
	DisplayName  string         `json:"displayName,omitempty"`
	Active       *bool          `json:"active,omitempty"` // nil: not sent or not returned; see IsActive
	Emails       []ComplexValue `json:"emails,omitempty"`
	Name         *Name          `json:"name,omitempty"`
	ExternalID   string         `json:"externalId,omitempty"`
	Entitlements []ComplexValue `json:"entitlements,omitempty"`
	Groups       []ComplexValue `json:"groups,omitempty"`
	Roles        []ComplexValue `json:"roles,omitempty"`
	Schemas      []string       `json:"schemas,omitempty"`
}

// Group is a SCIM group. In a workspace, Meta.ResourceType tells a
// workspace-local group (WorkspaceGroup) from an account group (Group).
type Group struct {
	ID           string         `json:"id,omitempty"`
	DisplayName  string         `json:"displayName,omitempty"`
	ExternalID   string         `json:"externalId,omitempty"`
	Members      []ComplexValue `json:"members,omitempty"`
	Groups       []ComplexValue `json:"groups,omitempty"`
	Entitlements []ComplexValue `json:"entitlements,omitempty"`
	Roles        []ComplexValue `json:"roles,omitempty"`
	Schemas      []string       `json:"schemas,omitempty"`
	Meta         *Meta          `json:"meta,omitempty"`
}

// IsWorkspaceLocal reports whether g is a workspace-local group.
func (g *Group) IsWorkspaceLocal() bool {
	return g.Meta != nil && g.Meta.ResourceType == ResourceTypeWorkspaceGroup
}

// ServicePrincipal is a SCIM service principal. ApplicationID is its stable
// identifier across the account (on Azure, the Entra application id).
type ServicePrincipal struct {
	ID            string         `json:"id,omitempty"`
	ApplicationID string         `json:"applicationId,omitempty"`
	DisplayName   string         `json:"displayName,omitempty"`
	Active        *bool          `json:"active,omitempty"` // nil: not sent or not returned; see IsActive
	ExternalID    string         `json:"externalId,omitempty"`
	Entitlements  []ComplexValue `json:"entitlements,omitempty"`
	Groups        []ComplexValue `json:"groups,omitempty"`
	Roles         []ComplexValue `json:"roles,omitempty"`
	Schemas       []string       `json:"schemas,omitempty"`
}

// ListResponse is one page of a SCIM list. Note the capital R in Resources.
type ListResponse[T any] struct {
	Schemas      []string `json:"schemas,omitempty"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []T      `json:"Resources"`
}

// PatchOp is a SCIM PATCH request body (RFC 7644 §3.5.2).
type PatchOp struct {
	Schemas    []string         `json:"schemas"`
	Operations []PatchOperation `json:"Operations"`
}

// PatchOperation is one operation of a PatchOp. Op is "add", "remove" or
// "replace"; Value is omitted when nil.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Workspace permission levels for permission assignments (§D). They are
// case-sensitive on the wire.
const (
	PermissionUser  = "USER"
	PermissionAdmin = "ADMIN"
)

// Workspace is one entry of the account workspaces list
// (GET /api/2.0/accounts/{account_id}/workspaces).
type Workspace struct {
	WorkspaceID            int64  `json:"workspace_id"`
	WorkspaceName          string `json:"workspace_name,omitempty"`
	DeploymentName         string `json:"deployment_name,omitempty"`
	WorkspaceStatus        string `json:"workspace_status,omitempty"`
	WorkspaceStatusMessage string `json:"workspace_status_message,omitempty"`
	AccountID              string `json:"account_id,omitempty"`
	Cloud                  string `json:"cloud,omitempty"`
	Location               string `json:"location,omitempty"`
	AWSRegion              string `json:"aws_region,omitempty"`
	PricingTier            string `json:"pricing_tier,omitempty"`
	// CreationTime is in epoch milliseconds.
	CreationTime int64 `json:"creation_time,omitempty"`
}

// Principal identifies the principal of a permission assignment. PrincipalID
// is the account SCIM id as a number; exactly one of UserName, GroupName and
// ServicePrincipalName is set.
type Principal struct {
	PrincipalID          int64  `json:"principal_id,omitempty"`
	DisplayName          string `json:"display_name,omitempty"`
	UserName             string `json:"user_name,omitempty"`
	GroupName            string `json:"group_name,omitempty"`
	ServicePrincipalName string `json:"service_principal_name,omitempty"`
}

// PermissionAssignment is a principal's assignment to a workspace (§D):
// Permissions holds PermissionUser and/or PermissionAdmin. A non-empty Error
// is the server reporting that the assignment failed.
type PermissionAssignment struct {
	Permissions []string  `json:"permissions"`
	Principal   Principal `json:"principal"`
	Error       string    `json:"error,omitempty"`
}

// Bool returns a pointer to v, for the optional Active fields.
func Bool(v bool) *bool { return &v }

// IsActive reports whether u is active. A user whose reply carries no
// "active" attribute counts as active, as in SCIM, where a principal is
// active unless deactivated.
func (u *User) IsActive() bool { return u.Active == nil || *u.Active }

// IsActive reports whether sp is active; see User.IsActive.
func (sp *ServicePrincipal) IsActive() bool { return sp.Active == nil || *sp.Active }
