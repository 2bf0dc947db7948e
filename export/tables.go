package export

import "github.com/dbiam/dbiam/reports"

// Table names: the CSV and JSON Lines file names (plus extension) and the
// XLSX sheet names.
const (
	TableWorkspaces               = "workspaces"
	TableUsers                    = "users"
	TableServicePrincipals        = "service_principals"
	TableGroups                   = "groups"
	TableMemberships              = "memberships"
	TableEntitlements             = "entitlements"
	TableAssignments              = "assignments"
	TableAccountUsers             = "account_users"
	TableAccountGroups            = "account_groups"
	TableAccountServicePrincipals = "account_service_principals"
)

// Values of the kind, relation, status and type columns.
const (
	kindUser  = "user"
	kindSP    = "service-principal"
	kindGroup = "group"

	relDirect     = "direct"
	relTransitive = "transitive"
	relCycle      = "cycle"

	statusOK      = "ok"
	statusFailed  = "failed"
	statusSkipped = "skipped"

	groupTypeWorkspace = "workspace"
	groupTypeAccount   = "account"
)

const (
	summaryTitle  = "Identities per workspace"
	listSeparator = "; "  // joins multi-valued attributes in one cell
	viaSeparator  = " > " // joins the groups of a transitive membership path
)

func col(name string, t reports.ColumnType) reports.Column {
	return reports.Column{Name: name, Type: t}
}

func str(name string) reports.Column     { return col(name, reports.TypeString) }
func num(name string) reports.Column     { return col(name, reports.TypeInt) }
func boolean(name string) reports.Column { return col(name, reports.TypeBool) }

// Identifiers are text: SCIM ids and workspace ids have 16 digits, more than
// a spreadsheet keeps exactly in a number cell.
var wsCols = []reports.Column{str("workspace_id"), str("workspace_name")}

var columns = map[string][]reports.Column{
	TableWorkspaces: {
		str("workspace_id"), str("workspace_name"), str("cloud"), str("url"), str("status"),
		boolean("identity_federated"),
		num("users"), num("service_principals"), num("groups"), num("workspace_groups"), num("account_groups"),
		num("direct_memberships"), num("transitive_memberships"), num("groups_in_cycles"),
		num("entitlements"), num("assignments"),
		str("export_status"), str("error"),
	},
	TableUsers: append(wsCols[:2:2],
		str("id"), str("user_name"), str("display_name"), boolean("active"), str("external_id"), str("emails"),
		boolean("account_user"), str("entitlements"), str("groups"), num("group_count")),
	TableServicePrincipals: append(wsCols[:2:2],
		str("id"), str("application_id"), str("display_name"), boolean("active"), str("external_id"),
		str("entitlements"), str("groups"), num("group_count")),
	TableGroups: append(wsCols[:2:2],
		str("id"), str("display_name"), str("type"), str("external_id"),
		num("members"), num("user_members"), num("service_principal_members"), num("group_members"),
		str("entitlements"), str("roles"), str("parent_groups")),
	TableMemberships: append(wsCols[:2:2],
		str("group_id"), str("group_name"), str("group_type"),
		str("member_id"), str("member_kind"), str("member_name"),
		str("relation"), num("depth"), str("via")),
	TableEntitlements: append(wsCols[:2:2],
		str("principal_kind"), str("principal_id"), str("principal_name"), str("entitlement")),
	TableAssignments: append(wsCols[:2:2],
		str("principal_id"), str("principal_kind"), str("principal_name"), str("display_name"),
		str("permissions"), str("error")),
	TableAccountUsers: {
		str("account_id"), str("id"), str("user_name"), str("display_name"), boolean("active"),
		str("external_id"), str("emails"), str("roles")},
	TableAccountGroups: {
		str("account_id"), str("id"), str("display_name"), str("external_id"), str("roles")},
	TableAccountServicePrincipals: {
		str("account_id"), str("id"), str("application_id"), str("display_name"), boolean("active"),
		str("external_id"), str("roles")},
}

// workspaceTables are the per-workspace tables in output order, with the
// include value that selects each.
var workspaceTables = []struct{ table, include string }{
	{TableUsers, IncludeUsers},
	{TableServicePrincipals, IncludeServicePrincipals},
	{TableGroups, IncludeGroups},
	{TableMemberships, IncludeMemberships},
	{TableEntitlements, IncludeEntitlements},
	{TableAssignments, IncludeAssignments},
}

// accountTables are the account tables in output order.
var accountTables = []string{TableAccountUsers, TableAccountGroups, TableAccountServicePrincipals}

// Columns returns the columns of table name, or nil for an unknown name.
// The result is a copy.
func Columns(name string) []reports.Column {
	c := columns[name]
	if c == nil {
		return nil
	}
	return append([]reports.Column(nil), c...)
}
