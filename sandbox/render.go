package sandbox

import (
	"strings"
	"time"
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
	// light skips the computed multi-valued attributes (members, groups,
	// entitlements, roles), for matching filters that do not mention them.
	light bool
}

// heavyAttrs are the attributes a light rendering leaves out.
var heavyAttrs = []string{"members", "groups", "entitlements", "roles"}

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
// service does.
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
		if p.live() && !v.light {
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
	if v.light {
		return m
	}
	if v.ws == nil {
		if len(p.roles) > 0 {
			m["roles"] = values(p.roles)
		}
		return m
	}
	if e := v.ws.entitlements[p.id]; len(e) > 0 {
		m["entitlements"] = values(e)
	}
	if r := v.ws.roles[p.id]; len(r) > 0 {
		m["roles"] = values(r)
	}
	if p.live() {
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
