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
	listSeparator = "; "  // joins multi-valued attributes in a CSV or XLSX cell
	viaSeparator  = " > " // joins the groups of a membership path, outermost first

	// adminsGroup is the workspace-local group whose members, directly or
	// through groups, are workspace admins (reference §B).
	adminsGroup = "admins"
)

func col(name string, t reports.ColumnType) reports.Column {
	return reports.Column{Name: name, Type: t}
}

func str(name string) reports.Column     { return col(name, reports.TypeString) }
func num(name string) reports.Column     { return col(name, reports.TypeInt) }
func boolean(name string) reports.Column { return col(name, reports.TypeBool) }

// listCol is a column of texts: a JSON array in JSON Lines, joined with
// listSeparator in CSV and XLSX.
func listCol(name string) reports.Column {
	return reports.Column{Name: name, Type: reports.TypeList, Join: listSeparator}
}

// pathsCol is a column of membership paths, each the group names from the
// outermost down: a JSON array of arrays in JSON Lines; in CSV and XLSX
// each path joined with viaSeparator, the paths with listSeparator.
func pathsCol(name string) reports.Column {
	return reports.Column{Name: name, Type: reports.TypeList, Join: listSeparator, ItemJoin: viaSeparator}
}

// pathCol is a column of group names along a membership path, outermost
// first: a JSON array in JSON Lines, joined with viaSeparator in CSV and
// XLSX.
func pathCol(name string) reports.Column {
	return reports.Column{Name: name, Type: reports.TypeList, Join: viaSeparator}
}

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
		str("id"), str("user_name"), str("display_name"), boolean("active"), str("external_id"), listCol("emails"),
		boolean("account_user"), listCol("entitlements"), listCol("groups"), num("group_count"), boolean("workspace_admin")),
	TableServicePrincipals: append(wsCols[:2:2],
		str("id"), str("application_id"), str("display_name"), boolean("active"), str("external_id"),
		listCol("entitlements"), listCol("groups"), num("group_count"), boolean("workspace_admin")),
	TableGroups: append(wsCols[:2:2],
		str("id"), str("display_name"), str("type"), str("external_id"),
		num("members"), num("user_members"), num("service_principal_members"), num("group_members"),
		listCol("entitlements"), listCol("roles"), listCol("parent_groups")),
	TableMemberships: append(wsCols[:2:2],
		str("group_id"), str("group_name"), str("group_type"),
		str("member_id"), str("member_kind"), str("member_name"),
		str("relation"), num("depth"), pathCol("via")),
	TableEntitlements: append(wsCols[:2:2],
		str("principal_kind"), str("principal_id"), str("principal_name"), str("entitlement"),
		boolean("direct"), pathsCol("via_groups"), boolean("workspace_admin")),
	TableAssignments: append(wsCols[:2:2],
		str("principal_id"), str("principal_kind"), str("principal_name"), str("display_name"),
		listCol("permissions"), str("error")),
	TableAccountUsers: {
		str("account_id"), str("id"), str("user_name"), str("display_name"), boolean("active"),
		str("external_id"), listCol("emails"), listCol("roles")},
	TableAccountGroups: {
		str("account_id"), str("id"), str("display_name"), str("external_id"), listCol("roles")},
	TableAccountServicePrincipals: {
		str("account_id"), str("id"), str("application_id"), str("display_name"), boolean("active"),
		str("external_id"), listCol("roles")},
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
