package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// SyntheticSpec is the parsed form of a Synthetic spec string.
type SyntheticSpec struct {
	Workspaces  int    // workspaces; the last one is not identity federated when there are 2 or more
	Users       int    // account users
	Groups      int    // account groups (besides "account users")
	Members     int    // members per group (account and workspace-local)
	SPs         int    // account service principals
	LocalGroups int    // workspace-local groups per workspace (besides "admins" and "users")
	Seed        uint64 // generator seed
}

// ParseSyntheticSpec parses "workspaces=20,users=2000,groups=400,members=25,
// sps=100,local-groups=10,seed=1". Every key is optional; defaults are
// workspaces=3, users=100, groups=20, members=10, sps=5, local-groups=5,
// seed=1. An unknown key or a bad value is an error naming it.
func ParseSyntheticSpec(spec string) (SyntheticSpec, error) {
	s := SyntheticSpec{Workspaces: 3, Users: 100, Groups: 20, Members: 10, SPs: 5, LocalGroups: 5, Seed: 1}
	limits := map[string]struct {
		dst      *int
		min, max int
	}{
		"workspaces":   {&s.Workspaces, 1, 1000},
		"users":        {&s.Users, 1, 1_000_000},
		"groups":       {&s.Groups, 0, 100_000},
		"members":      {&s.Members, 0, 100_000},
		"sps":          {&s.SPs, 0, 100_000},
		"local-groups": {&s.LocalGroups, 0, 10_000},
	}
	err := parseSpec(spec, "synthetic spec", &s.Seed, func(k, v string) error {
		l, known := limits[k]
		if !known {
			return fmt.Errorf("unknown key %q (want workspaces, users, groups, members, sps, local-groups or seed)", k)
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < l.min || n > l.max {
			return fmt.Errorf("%s: %q is not an integer between %d and %d", k, v, l.min, l.max)
		}
		*l.dst = n
		return nil
	})
	return s, err
}

// parseSpec calls set for each key=value of a comma-separated spec, keys
// and values trimmed and blank entries skipped; seed=N goes to *seed
// instead. Errors start with what, the spec's name.
func parseSpec(spec, what string, seed *uint64, set func(k, v string) error) error {
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return fmt.Errorf("%s: %q: want key=value", what, kv)
		}
		if k == "seed" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: seed: %q is not a non-negative integer", what, v)
			}
			*seed = n
			continue
		}
		if err := set(k, v); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

var (
	synthFirst = []string{"ada", "bo", "cy", "dee", "eli", "fay", "gus", "hal", "ivy", "jo", "kai", "lu",
		"max", "nia", "oz", "pia", "quin", "rae", "sol", "tess", "uma", "vic", "wen", "xia", "yan", "zed"}
	synthLast = []string{"adams", "baker", "chen", "diaz", "evans", "ford", "gray", "hill", "ito", "jones",
		"khan", "lee", "moss", "nash", "ortiz", "park", "quay", "reed", "shaw", "tran", "usher", "vance",
		"wong", "young", "zhou"}
	synthTeams = []string{"data", "ml", "bi", "platform", "finance", "sales", "ops", "security", "growth", "research"}
)

// Synthetic builds a large, reproducible account from a spec (see
// ParseSyntheticSpec): the same spec always yields the same seed. Every
// federated workspace has "account users" assigned (so every account user
// is visible in it), a quarter of the account groups assigned, and its own
// local groups; the non-federated workspace has local copies of a tenth of
// the users. Tokens: an account admin (the first user), a user (the fourth).
func Synthetic(spec string) (*Seed, error) {
	idSpec, objSpec := splitObjectKeys(spec)
	sp, err := ParseSyntheticSpec(idSpec)
	if err != nil {
		return nil, err
	}
	s, err := synthesize(sp)
	if err != nil {
		return nil, err
	}
	// An objects spec without object keys adds nothing.
	if err := AddSyntheticObjects(s, objSpec); err != nil {
		return nil, err
	}
	return s, nil
}

// synthesize builds the identities of a synthetic account.
func synthesize(sp SyntheticSpec) (*Seed, error) {
	rng := rand.New(rand.NewPCG(sp.Seed, 0x5eed5eed))
	seedStr := strconv.FormatUint(sp.Seed, 10)
	next := int64(1_000_000_000_000_000)
	id := func() string { next++; return strconv.FormatInt(next, 10) }

	s := &Seed{AccountID: uuidFrom("synthetic-account", seedStr)}
	s.Users = make([]SeedUser, sp.Users)
	for i := range s.Users {
		f, l := synthFirst[i%len(synthFirst)], synthLast[(i/len(synthFirst))%len(synthLast)]
		u := SeedUser{ID: id(), UserName: fmt.Sprintf("%s.%s.%d@synthetic.test", f, l, i+1),
			GivenName: strings.ToUpper(f[:1]) + f[1:], FamilyName: strings.ToUpper(l[:1]) + l[1:]}
		u.DisplayName = u.GivenName + " " + u.FamilyName
		if i < 3 {
			u.Roles = []string{RoleAccountAdmin}
		} else if rng.IntN(50) == 0 {
			u.Active = new(bool)
		}
		if i%2 == 0 {
			u.ExternalID = uuidFrom("synthetic-user", seedStr, strconv.Itoa(i))
		}
		s.Users[i] = u
	}
	s.ServicePrincipals = make([]SeedServicePrincipal, sp.SPs)
	for i := range s.ServicePrincipals {
		s.ServicePrincipals[i] = SeedServicePrincipal{ID: id(),
			ApplicationID: uuidFrom("synthetic-app", seedStr, strconv.Itoa(i)),
			DisplayName:   fmt.Sprintf("sp-%s-%03d", synthTeams[i%len(synthTeams)], i+1)}
	}
	principals := make([]string, 0, sp.Users+sp.SPs)
	for _, u := range s.Users {
		principals = append(principals, u.ID)
	}
	for _, p := range s.ServicePrincipals {
		principals = append(principals, p.ID)
	}
	pick := func(pool []string, n int) []string {
		n = min(n, len(pool))
		out := make([]string, 0, n)
		seen := make(map[int]bool, n)
		for len(out) < n {
			j := rng.IntN(len(pool))
			if !seen[j] {
				seen[j] = true
				out = append(out, pool[j])
			}
		}
		return out
	}

	accountUsers := SeedGroup{ID: id(), DisplayName: accountUsersGroup}
	s.Groups = append(s.Groups, accountUsers)
	var groupIDs []string
	for i := range sp.Groups {
		g := SeedGroup{ID: id(), DisplayName: fmt.Sprintf("%s-team-%04d", synthTeams[i%len(synthTeams)], i+1),
			Members: pick(principals, sp.Members)}
		if i%3 != 0 {
			g.ExternalID = uuidFrom("synthetic-group", seedStr, strconv.Itoa(i))
		}
		if len(groupIDs) > 0 && rng.IntN(10) == 0 {
			g.Members = append(g.Members, groupIDs[rng.IntN(len(groupIDs))]) // nest an older group: no cycles
		}
		groupIDs = append(groupIDs, g.ID)
		s.Groups = append(s.Groups, g)
	}

	for wi := range sp.Workspaces {
		wsID := int64(7_000_000_000_000_001 + wi)
		w := SeedWorkspace{WorkspaceID: wsID, WorkspaceName: fmt.Sprintf("synthetic-%02d", wi+1),
			DeploymentName: fmt.Sprintf("synthetic-%02d", wi+1), Cloud: "aws", Region: "us-east-1",
			CreationTime: 1_700_000_000_000 + int64(wi)*86_400_000, IdentityFederated: sp.Workspaces < 2 || wi < sp.Workspaces-1,
			Entitlements: map[string][]string{}, Roles: map[string][]string{}}
		var pool []string // principals visible in the workspace
		admin := s.Users[0].ID
		if w.IdentityFederated {
			w.Assignments = append(w.Assignments, SeedAssignment{Principal: accountUsers.ID, Permissions: []string{"USER"}},
				SeedAssignment{Principal: admin, Permissions: []string{"ADMIN"}})
			for _, g := range pick(groupIDs, len(groupIDs)/4) {
				w.Assignments = append(w.Assignments, SeedAssignment{Principal: g, Permissions: []string{"USER"}})
				pool = append(pool, g)
			}
			pool = append(pool, principals...)
		} else {
			for i := 0; i < sp.Users; i += 10 {
				u := s.Users[i]
				lu := SeedUser{ID: id(), UserName: u.UserName, DisplayName: u.DisplayName,
					GivenName: u.GivenName, FamilyName: u.FamilyName}
				w.Users = append(w.Users, lu)
				pool = append(pool, lu.ID)
			}
			admin = w.Users[0].ID
		}
		adminsGroup := SeedGroup{ID: id(), DisplayName: adminsGroup, Members: []string{admin}}
		usersGroup := SeedGroup{ID: id(), DisplayName: usersGroup}
		w.Groups = append(w.Groups, adminsGroup, usersGroup)
		w.Entitlements[usersGroup.ID] = []string{"workspace-access", "databricks-sql-access"}
		var locals []string
		for gi := range sp.LocalGroups {
			g := SeedGroup{ID: id(), DisplayName: fmt.Sprintf("local-%s-%03d", synthTeams[gi%len(synthTeams)], gi+1),
				Members: pick(pool, sp.Members)}
			if len(locals) > 0 && rng.IntN(5) == 0 {
				g.Members = append(g.Members, locals[rng.IntN(len(locals))])
			}
			if gi%4 == 0 {
				w.Entitlements[g.ID] = []string{"allow-cluster-create"}
			}
			if gi%7 == 0 {
				w.Roles[g.ID] = []string{fmt.Sprintf("arn:aws:iam::123456789012:instance-profile/%s-%d", w.WorkspaceName, gi)}
			}
			locals = append(locals, g.ID)
			w.Groups = append(w.Groups, g)
		}
		s.Workspaces = append(s.Workspaces, w)
	}
	s.Tokens = []SeedToken{{Token: patFrom(s.AccountID, "synthetic-admin"), Principal: s.Users[0].ID, Role: RoleAccountAdmin}}
	if sp.Users > 3 {
		s.Tokens = append(s.Tokens, SeedToken{Token: patFrom(s.AccountID, "synthetic-user"), Principal: s.Users[3].ID, Role: RoleUser})
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("synthetic %+v: %w", sp, err)
	}
	return s, nil
}
