package sandbox

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// This file is the service principal roles family: the account access
// control rule sets of service principals (SDK service/iam
// AccountAccessControl and AccountAccessControlProxy), which say who holds
// the Service Principal User role ("roles/servicePrincipal.user": may run
// jobs, pipelines and alerts as it) and the Service Principal Manager role
// ("roles/servicePrincipal.manager": may change its rule set).
//
//	GET /api/2.0/preview/accounts/access-control/rule-sets?name=&etag=           workspace proxy, any member
//	PUT /api/2.0/preview/accounts/access-control/rule-sets {name, rule_set}      workspace proxy
//	GET /api/2.0/preview/accounts/{account_id}/access-control/rule-sets?name=&etag=
//	PUT /api/2.0/preview/accounts/{account_id}/access-control/rule-sets
//
// Only service principal rule sets are modelled: name
// "accounts/<account id>/servicePrincipals/<application id>/ruleSets/default".
// A reply is {"name","etag","grant_rules":[{"role","principals"}]};
// principals are "users/<user name>", "groups/<group name>" and
// "servicePrincipals/<application id>" of the account. PUT replaces the
// rules; its rule_set.etag must be the current one (else 409 ABORTED), and
// the caller must be an account admin or hold the Manager role (account
// admins hold it on every service principal; the Manager role does not
// include the User role). Seed section "service_principal_roles":
//
//	[{"service_principal": "<application id>",
//	  "grant_rules": [{"role": "roles/servicePrincipal.user", "principals": ["users/ada@acme.test"]}]}]

// SeedSPRoles is the rule set of one service principal.
type SeedSPRoles struct {
	ServicePrincipal string          `json:"service_principal"`
	GrantRules       []SeedGrantRule `json:"grant_rules"`
}

// SeedGrantRule gives a role to principals ("users/<name>",
// "groups/<name>", "servicePrincipals/<application id>").
type SeedGrantRule struct {
	Role       string   `json:"role"`
	Principals []string `json:"principals"`
}

// Service principal roles.
const (
	RoleSPUser    = "roles/servicePrincipal.user"
	RoleSPManager = "roles/servicePrincipal.manager"
)

const rulesetsFamily = "rulesets"

func init() {
	registerFamily(family{name: rulesetsFamily, load: loadRuleSets, routes: registerRuleSets})
}

// ruleSets holds the rule sets by service principal id. Guarded by
// Server.mu.
type ruleSets struct {
	bySP map[string]*ruleSet
}

type ruleSet struct {
	version int
	rules   []SeedGrantRule
}

func loadRuleSets(s *Server, seed *Seed) (any, error) {
	rs := &ruleSets{bySP: map[string]*ruleSet{}}
	for i, r := range seed.ServicePrincipalRoles {
		f := fmt.Sprintf("service_principal_roles[%d]", i)
		sp := s.st.lookupName(0, kindSP, r.ServicePrincipal)
		if sp == nil {
			return nil, fmt.Errorf("%s.service_principal: %q is not an account service principal", f, r.ServicePrincipal)
		}
		if rs.bySP[sp.id] != nil {
			return nil, fmt.Errorf("%s.service_principal: %q is listed twice", f, r.ServicePrincipal)
		}
		if e := s.checkGrantRules(r.GrantRules); e != nil {
			return nil, fmt.Errorf("%s: %s", f, e.msg)
		}
		rs.bySP[sp.id] = &ruleSet{version: 1, rules: cloneRules(r.GrantRules)}
	}
	return rs, nil
}

func cloneRules(in []SeedGrantRule) []SeedGrantRule {
	out := make([]SeedGrantRule, len(in))
	for i, r := range in {
		out[i] = SeedGrantRule{Role: r.Role, Principals: slices.Clone(r.Principals)}
	}
	return out
}

func (s *Server) ruleSets() *ruleSets {
	rs, _ := s.ext[rulesetsFamily].(*ruleSets)
	if rs == nil {
		rs = &ruleSets{bySP: map[string]*ruleSet{}}
		s.ext[rulesetsFamily] = rs
	}
	return rs
}

// rulePrincipal resolves "users/x", "groups/x" or "servicePrincipals/x" to
// a live account principal.
func (s *Server) rulePrincipal(ref string) *principal {
	kindName, name, ok := strings.Cut(ref, "/")
	if !ok {
		return nil
	}
	k := map[string]kind{"users": kindUser, "groups": kindGroup, "servicePrincipals": kindSP}[kindName]
	if k == 0 {
		return nil
	}
	return s.st.lookupName(0, k, name)
}

func (s *Server) checkGrantRules(rules []SeedGrantRule) *apiError {
	for _, r := range rules {
		if r.Role != RoleSPUser && r.Role != RoleSPManager {
			return restErr(http.StatusBadRequest, errInvalidParameter,
				"Role %q cannot be granted on a service principal: use %s or %s.", r.Role, RoleSPUser, RoleSPManager)
		}
		for _, p := range r.Principals {
			if s.rulePrincipal(p) == nil {
				return restErr(http.StatusBadRequest, errInvalidParameter,
					"Principal %q is not a user, group or service principal of the account (users/<name>, groups/<name>, servicePrincipals/<application id>).", p)
			}
		}
	}
	return nil
}

// spRoleHolders returns the ids of the principals granted role on sp
// directly (groups are not expanded).
func (s *Server) spRoleHolders(sp *principal, role string) map[string]bool {
	out := map[string]bool{}
	rs := s.ruleSets().bySP[sp.id]
	if rs == nil {
		return out
	}
	for _, r := range rs.rules {
		if r.Role != role {
			continue
		}
		for _, ref := range r.Principals {
			if p := s.rulePrincipal(ref); p != nil {
				out[p.id] = true
			}
		}
	}
	return out
}

// accountGroupsOf returns the ids of the account groups p is in, nested
// ones included.
func (s *Server) accountGroupsOf(p *principal) map[string]bool {
	out := map[string]bool{}
	queue := slices.Clone(s.st.parents[p.id])
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		g := s.st.get(id)
		if g == nil || out[id] || g.ws != 0 {
			continue
		}
		out[id] = true
		queue = append(queue, s.st.parents[id]...)
	}
	return out
}

// hasSPRole reports whether p holds role on sp, directly or through an
// account group.
func (s *Server) hasSPRole(p, sp *principal, role string) bool {
	holders := s.spRoleHolders(sp, role)
	if holders[p.id] {
		return true
	}
	for g := range s.accountGroupsOf(p) {
		if holders[g] {
			return true
		}
	}
	return false
}

// hasSPUserRole reports whether p (acting in workspace w) holds the
// Service Principal User role on sp. A workspace-local principal holds no
// account role.
func (s *Server) hasSPUserRole(w *workspace, p, sp *principal) bool {
	return p.ws == 0 && s.hasSPRole(p, sp, RoleSPUser)
}

func registerRuleSets(s *Server) {
	ws := route{scope: scopeWorkspace, class: ClassDefault, access: accessMember}
	acct := route{scope: scopeAccount, class: ClassDefault, access: accessMember}
	for _, r := range []struct {
		base    route
		pattern string
	}{{ws, "/api/2.0/preview/accounts/access-control/rule-sets"}, {acct, "/api/2.0/preview/accounts/{account_id}/access-control/rule-sets"}} {
		get, put := r.base, r.base
		get.method, get.pattern, get.handle = http.MethodGet, r.pattern, s.getRuleSet
		put.method, put.pattern, put.handle, put.write = http.MethodPut, r.pattern, s.putRuleSet, true
		s.handle(get)
		s.handle(put)
	}
}

// ruleSetSP parses a rule set name and returns its service principal.
func (s *Server) ruleSetSP(name string) (*principal, *apiError) {
	prefix := "accounts/" + s.st.accountID + "/servicePrincipals/"
	rest, ok := strings.CutPrefix(name, prefix)
	appID, ok2 := strings.CutSuffix(rest, "/ruleSets/default")
	if name == "" || !ok || !ok2 || appID == "" || strings.Contains(appID, "/") {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter,
			"Rule set name %q is not supported: use %s<application id>/ruleSets/default.", name, prefix)
	}
	sp := s.st.lookupName(0, kindSP, appID)
	if sp == nil {
		return nil, restErr(http.StatusNotFound, errResourceDoesNotExist, "Service principal %s does not exist.", appID)
	}
	return sp, nil
}

func ruleSetEtag(v int) string {
	return base64.StdEncoding.EncodeToString([]byte("sandbox-ruleset-v" + strconv.Itoa(v)))
}

func (s *Server) ruleSetReply(c *call, name string, sp *principal) error {
	rs := s.ruleSets().bySP[sp.id]
	out := struct {
		Name       string          `json:"name"`
		Etag       string          `json:"etag"`
		GrantRules []SeedGrantRule `json:"grant_rules,omitempty"`
	}{Name: name, Etag: ruleSetEtag(0)}
	if rs != nil {
		out.Etag = ruleSetEtag(rs.version)
		for _, r := range rs.rules {
			// Principals that no longer exist drop out of the rules.
			var live []string
			for _, ref := range r.Principals {
				if s.rulePrincipal(ref) != nil {
					live = append(live, ref)
				}
			}
			if len(live) > 0 {
				out.GrantRules = append(out.GrantRules, SeedGrantRule{Role: r.Role, Principals: live})
			}
		}
	}
	return c.reply(http.StatusOK, out)
}

func (s *Server) getRuleSet(c *call) error {
	name := c.r.URL.Query().Get("name")
	sp, e := s.ruleSetSP(name)
	if e != nil {
		return e
	}
	return s.ruleSetReply(c, name, sp)
}

func (s *Server) putRuleSet(c *call) error {
	var body struct {
		Name    string `json:"name"`
		RuleSet struct {
			Name       string          `json:"name"`
			Etag       string          `json:"etag"`
			GrantRules []SeedGrantRule `json:"grant_rules"`
		} `json:"rule_set"`
	}
	if err := c.decodeREST(&body); err != nil {
		return err
	}
	sp, e := s.ruleSetSP(body.Name)
	if e != nil {
		return e
	}
	if body.RuleSet.Name != "" && body.RuleSet.Name != body.Name {
		return restErr(http.StatusBadRequest, errInvalidParameter, "rule_set.name %q differs from name %q.", body.RuleSet.Name, body.Name)
	}
	me := c.callerPrincipal()
	if c.tok.role != RoleAccountAdmin && (me == nil || !s.hasSPRole(me, sp, RoleSPManager)) {
		return denied(c, "update the rule set of service principal "+sp.applicationID)
	}
	rs := s.ruleSets().bySP[sp.id]
	version := 0
	if rs != nil {
		version = rs.version
	}
	if body.RuleSet.Etag != ruleSetEtag(version) {
		return restErr(http.StatusConflict, "ABORTED",
			"The rule set was changed since etag %q was read; read it again and retry.", body.RuleSet.Etag)
	}
	if e := s.checkGrantRules(body.RuleSet.GrantRules); e != nil {
		return e
	}
	s.ruleSets().bySP[sp.id] = &ruleSet{version: version + 1, rules: cloneRules(body.RuleSet.GrantRules)}
	return s.ruleSetReply(c, body.Name, sp)
}
