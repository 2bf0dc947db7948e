package sandbox

import (
	"strings"
	"time"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

// SCIM schema URNs.
const (
	schemaUser             = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaUserWorkspace    = "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"
	schemaGroup            = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaServicePrincipal = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
	schemaListResponse     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaError            = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// view says how to render a principal: in a workspace (ws != nil) or at
// account level, and whether for a list (stale names while a rename is not
// yet consistent) or for a GET (always current).
type view struct {
	ws    *workspace
	list  bool
	now   time.Time
	delay time.Duration
	// omit lists the computed multi-valued attributes not to render: all
	// of them (a light rendering) for matching filters that do not mention
	// them, and those a projection drops for a reply.
	omit heavySet
}

// heavyAttrs are the attributes a light rendering leaves out; bit i of a
// heavySet stands for heavyAttrs[i].
var heavyAttrs = []string{"members", "groups", "entitlements", "roles"}

// heavySet is a set of heavyAttrs.
type heavySet uint8

const (
	heavyMembers heavySet = 1 << iota
	heavyGroups
	heavyEntitlements
	heavyRoles

	allHeavy = heavyMembers | heavyGroups | heavyEntitlements | heavyRoles
)

// dropped returns the heavy attributes that projection pr leaves out of
// every resource.
func dropped(pr *scimexpr.Projection) heavySet {
	var out heavySet
	for i, a := range heavyAttrs {
		if pr.Drops(a) {
			out |= 1 << i
		}
	}
	return out
}

// mentionsHeavy reports whether an expression (a canonical filter or a
// sortBy path) may refer to an attribute a light rendering leaves out. It
// errs on the side of yes: any occurrence of the name counts.
func mentionsHeavy(expr string) bool {
	expr = strings.ToLower(expr)
	for _, a := range heavyAttrs {
		if strings.Contains(expr, a) {
			return true
		}
	}
	return false
}

func values(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = map[string]any{"value": v}
	}
	return out
}

func (st *state) ref(p *principal, typ string) map[string]any {
	m := map[string]any{
		"value":   p.id,
		"display": p.displayName,
		"$ref":    p.kind.resource() + "/" + p.id,
	}
	if typ != "" {
		m["type"] = typ
	}
	return m
}

// render returns the JSON-shaped SCIM resource for p, as produced by
// json.Unmarshal into map[string]any (multi-valued attributes are []any of
// map[string]any). Empty multi-valued attributes are omitted, as the real
// service does, and so are those in v.omit.
func (st *state) render(p *principal, v view) map[string]any {
	m := map[string]any{"id": p.id}
	name := p.displayName
	if v.list {
		name = listedName(p, v.now, v.delay)
	}
	switch p.kind {
	case kindUser:
		m["schemas"] = []any{schemaUser}
		if v.ws != nil {
			m["schemas"] = []any{schemaUser, schemaUserWorkspace}
		}
		m["userName"] = p.userName
		m["displayName"] = name
		m["active"] = p.active
		m["emails"] = []any{map[string]any{"value": p.userName, "type": "work", "primary": true}}
		if p.givenName != "" || p.familyName != "" {
			n := map[string]any{}
			if p.givenName != "" {
				n["givenName"] = p.givenName
			}
			if p.familyName != "" {
				n["familyName"] = p.familyName
			}
			m["name"] = n
		}
	case kindSP:
		m["schemas"] = []any{schemaServicePrincipal}
		m["applicationId"] = p.applicationID
		m["displayName"] = name
		m["active"] = p.active
	case kindGroup:
		m["schemas"] = []any{schemaGroup}
		m["displayName"] = name
		rt := "Group"
		if p.ws != 0 {
			rt = "WorkspaceGroup"
		}
		m["meta"] = map[string]any{"resourceType": rt}
		if p.live() && v.omit&heavyMembers == 0 {
			var members []any
			for _, id := range st.memberIDs(p, v.ws) {
				if q := st.byID[id]; q != nil {
					members = append(members, st.ref(q, ""))
				}
			}
			if len(members) > 0 {
				m["members"] = members
			}
		}
	}
	if p.externalID != "" {
		m["externalId"] = p.externalID
	}
	if v.ws == nil {
		if v.omit&heavyRoles == 0 && len(p.roles) > 0 {
			m["roles"] = values(p.roles)
		}
		return m
	}
	if e := v.ws.entitlements[p.id]; v.omit&heavyEntitlements == 0 && len(e) > 0 {
		m["entitlements"] = values(e)
	}
	if r := v.ws.roles[p.id]; v.omit&heavyRoles == 0 && len(r) > 0 {
		m["roles"] = values(r)
	}
	if p.live() && v.omit&heavyGroups == 0 {
		var groups []any
		for _, g := range st.parentGroups(p, v.ws) {
			groups = append(groups, st.ref(g, "direct"))
		}
		if len(groups) > 0 {
			m["groups"] = groups
		}
	}
	return m
}
