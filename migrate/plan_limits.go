package migrate

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/migrate/internal/groupgraph"
	"github.com/dbiam/dbiam/migrate/internal/groupname"
	"github.com/dbiam/dbiam/scim"
)

// This file makes the plan refuse, before any write, what the real service
// would refuse half-way through apply: the documented identity limits
// (see README "Service limits" and docs/limits.md for the sources).

// Documented limits of the service. The three identity limits are listed
// as fixed (no increase on request) on the "Resource limits" page
// (docs.databricks.com/aws/en/resources/limits,
// learn.microsoft.com/azure/databricks/resources/limits); the name length
// is the account group displayName limit of the SCIM API reference
// (docs.databricks.com/api/scim/v1/patch-account-group).
const (
	// LimitAccountGroups is the number of groups an account can have.
	LimitAccountGroups = 5000
	// LimitDirectParents is the number of groups a user, service principal
	// or group can be a direct member of (nested memberships not counted).
	LimitDirectParents = 1500
	// LimitNestingDepth is the number of layers of nested groups.
	LimitNestingDepth = 10
	// LimitNameLength is the longest group name, in characters (counted as
	// UTF-16 code units, the stricter reading: a character outside the
	// Basic Multilingual Plane, such as an emoji, counts two).
	LimitNameLength = 255
	// LimitWorkspaceGroups is the number of groups a workspace can have
	// (Databricks identity overview pages; not on the limits page, and
	// whether account groups assigned to the workspace count is not
	// documented): the plan only warns.
	LimitWorkspaceGroups = 5000
)

// ConflictServiceLimit is the kind of a blocking conflict ([Conflict.Kind]):
// the migration would exceed a limit of the service (account groups,
// direct parents of a principal, nesting depth, name length).
const ConflictServiceLimit = "service-limit"

// Warning kinds ([Warning.Kind]).
const (
	// WarningExternallyProvisioned: local groups the plan migrates carry an
	// externalId, the mark of an identity provider's SCIM provisioning of
	// the workspace, which may fight the migration. One per workspace.
	WarningExternallyProvisioned = "externally-provisioned"
	// WarningWorkspaceGroups: the workspace would show more groups than a
	// workspace is documented to hold, from apply until finalize.
	WarningWorkspaceGroups = "workspace-group-count"
	// WarningTableACLsNotVerified: the plan migrates groups, whose legacy
	// Hive metastore table ACLs the permission migration API moves
	// according to the public record, but which dbiam neither reads nor
	// verifies. One per plan, about the account.
	WarningTableACLsNotVerified = "table-acls-not-verified"
)

// Warning is advice about a workspace that changes nothing in the plan:
// what the operator should do (or watch) before and during apply. Unlike
// a conflict it never skips a group, and a plan with warnings only exits 0.
type Warning struct {
	Kind        string `json:"kind"`
	WorkspaceID int64  `json:"workspace_id,omitempty"`
	Detail      string `json:"detail"`
}

// ServiceLimits are the limits the plan checks. The zero value of a field
// means the documented limit; a value can only lower it (the documented
// identity limits are fixed, so a higher one would let the plan promise
// what the service refuses). Tests lower them to exercise the checks on
// small seeds.
type ServiceLimits struct {
	AccountGroups int // groups per account
	DirectParents int // direct parent groups per principal
	NestingDepth  int // layers of nested groups
	NameLength    int // characters of a group name
	// WorkspaceGroups is the number of groups of a workspace above which
	// the plan warns (it never blocks on it).
	WorkspaceGroups int
}

// DefaultServiceLimits returns the documented limits.
func DefaultServiceLimits() ServiceLimits {
	return ServiceLimits{AccountGroups: LimitAccountGroups, DirectParents: LimitDirectParents,
		NestingDepth: LimitNestingDepth, NameLength: LimitNameLength, WorkspaceGroups: LimitWorkspaceGroups}
}

// limitFields pairs each field with its name and documented value.
func (l *ServiceLimits) limitFields() []struct {
	name string
	v    *int
	max  int
} {
	return []struct {
		name string
		v    *int
		max  int
	}{
		{"account groups", &l.AccountGroups, LimitAccountGroups},
		{"direct parents", &l.DirectParents, LimitDirectParents},
		{"nesting depth", &l.NestingDepth, LimitNestingDepth},
		{"name length", &l.NameLength, LimitNameLength},
		{"workspace groups", &l.WorkspaceGroups, LimitWorkspaceGroups},
	}
}

// check refuses a limit above the documented one, or negative.
func (l ServiceLimits) check() error {
	for _, f := range l.limitFields() {
		switch {
		case *f.v < 0:
			return fmt.Errorf("service limit %s %d: must be positive (0 means the documented %d)", f.name, *f.v, f.max)
		case *f.v > f.max:
			return fmt.Errorf("service limit %s %d: above the documented limit %d, which the service does not raise: a plan can only check a lower one", f.name, *f.v, f.max)
		}
	}
	return nil
}

// withDefaults fills zero fields with the documented limits.
func (l ServiceLimits) withDefaults() ServiceLimits {
	for _, f := range l.limitFields() {
		if *f.v == 0 {
			*f.v = f.max
		}
	}
	return l
}

// checkBackupNames runs after selectGroups: it blocks a group whose backup
// name (--backup-prefix + name) would be longer than a group name can be.
func (b *planBuilder) checkBackupNames() {
	for _, n := range b.nodes {
		if n.blocked != "" {
			continue
		}
		backup := b.settings.BackupPrefix + n.g.DisplayName
		if l := groupname.Length(backup); l > b.limits.NameLength {
			b.block(n, Conflict{Kind: ConflictServiceLimit, Detail: fmt.Sprintf(
				"backup name %q is %d characters long and the service refuses group names over %d: use a shorter --backup-prefix, or rename the group first",
				backup, l, b.limits.NameLength)})
		}
	}
}

// planDrop says why an account group leaves the plan: conflict, when set,
// is recorded for each of its sources (filled in with the source's
// workspace and name); otherwise the caller recorded the conflict once and
// reason is the sources' skip reason.
type planDrop struct {
	conflict *Conflict
	reason   string
}

// dropGroups removes the account groups drop names from the plan after
// build, blocking their sources, and then every planned group that nests
// a blocked group (its sources blocked as member-without-account-identity,
// as build does for a blocked child).
func (b *planBuilder) dropGroups(drop map[string]planDrop) {
	if len(drop) == 0 {
		return
	}
	gone := map[string]bool{}
	for _, n := range b.nodes {
		d, ok := drop[n.agKey]
		if !ok || n.blocked != "" || n.agKey == "" {
			continue
		}
		gone[n.agKey] = true
		if d.conflict != nil {
			b.block(n, *d.conflict)
		} else {
			n.blocked = d.reason
		}
	}
	for k := range drop {
		gone[k] = true
	}
	for changed := true; changed; {
		changed = false
		for _, n := range b.nodes {
			if n.blocked != "" || n.agKey == "" {
				continue
			}
			if gone[n.agKey] {
				// Another source of a group that just left the plan.
				b.block(n, Conflict{Kind: ConflictMemberNoIdentity, Detail: fmt.Sprintf(
					"account group %q left the plan with the other local groups mapped to it", b.groups[b.agIndex[n.agKey]].DisplayName)})
				changed = true
				continue
			}
			for _, r := range n.resolved {
				if c := r.child; c != nil && c.blocked != "" {
					b.block(n, Conflict{Kind: ConflictMemberNoIdentity, Detail: fmt.Sprintf("nested group %q is not migrated (%s)", c.g.DisplayName, c.blocked)})
					gone[n.agKey] = true
					changed = true
					break
				}
			}
		}
	}
	kept := b.groups[:0:0]
	for _, ag := range b.groups {
		if !gone[ag.Key] {
			kept = append(kept, ag)
		}
	}
	b.groups = kept
	b.agIndex = make(map[string]int, len(kept))
	for i, ag := range kept {
		b.agIndex[ag.Key] = i
	}
}

// checkLimits runs after build and before unmigratedParents: it takes out
// of the plan the account groups whose creation or new members the service
// would refuse, each with a blocking service-limit conflict.
func (b *planBuilder) checkLimits() {
	b.checkNewNames()
	b.checkNesting()
	b.checkDirectParents()
	b.checkAccountGroups()
	b.warnWorkspaceGroups()
}

// checkNewNames drops the account groups to create whose name is too long
// (a per-workspace name, "<workspace>_<name>", can be).
func (b *planBuilder) checkNewNames() {
	drop := map[string]planDrop{}
	for _, ag := range b.groups {
		if ag.ExistingID != "" {
			continue
		}
		if l := groupname.Length(ag.DisplayName); l > b.limits.NameLength {
			drop[ag.Key] = planDrop{conflict: &Conflict{Kind: ConflictServiceLimit, Detail: fmt.Sprintf(
				"account group name %q is %d characters long and the service refuses group names over %d: choose a shorter target (--match, --mapping)",
				ag.DisplayName, l, b.limits.NameLength)}}
		}
	}
	b.dropGroups(drop)
}

// existingDepth is the depth of an existing account group as far as the
// plan read it: 1 plus the depth of its deepest member group whose members
// were read (candidate account groups); a group whose members were not
// read counts 1.
func (b *planBuilder) existingDepth(id string, memo map[string]int) int {
	return groupgraph.Depth(id, b.accountMemberGroups, memo)
}

// accountMemberGroups is the ids of the member groups of the account group
// id, as far as the plan read its members.
func (b *planBuilder) accountMemberGroups(id string) []string {
	var out []string
	for _, m := range b.acct.members[id] {
		if b.accountMemberKind(m) == KindGroup {
			out = append(out, m.Value)
		}
	}
	return out
}

// accountMemberKind is the kind of a member of an account group.
func (b *planBuilder) accountMemberKind(m scim.ComplexValue) string {
	if k := MemberKind(m); k != "" {
		return k
	}
	switch {
	case b.acct.usersByID[m.Value].ID != "":
		return KindUser
	case b.acct.spsByID[m.Value].ID != "":
		return KindServicePrincipal
	case b.acct.groupsByID[m.Value].ID != "":
		return KindGroup
	}
	return ""
}

// checkNesting drops the planned account groups that would be nested more
// than the service's layers deep: the lowest such group of each chain with
// a service-limit conflict naming the chain, the groups above it because
// they nest it. Depth counts groups: a group without member groups is one
// layer. Existing account groups count as deep as the plan read them (the
// members of the candidate groups), and the parents an existing group
// already has are not read, so a reused group may sit deeper than the plan
// can see.
func (b *planBuilder) checkNesting() {
	memo := map[string]int{}
	depth := map[string]int{}
	via := map[string]string{} // key -> name of its deepest member group
	for _, ag := range b.groups {
		d := 1
		consider := func(cd int, name string) {
			if cd+1 > d {
				d, via[ag.Key] = cd+1, name
			}
		}
		for _, m := range ag.Members {
			switch {
			case m.Kind != KindGroup:
			case m.GroupKey != "":
				consider(depth[m.GroupKey], m.GroupKey)
			case m.AccountID != "":
				consider(b.existingDepth(m.AccountID, memo), "ag:"+b.acct.groupsByID[m.AccountID].DisplayName)
			}
		}
		if ag.ExistingID != "" {
			for _, m := range b.acct.members[ag.ExistingID] {
				if b.accountMemberKind(m) == KindGroup {
					consider(b.existingDepth(m.Value, memo), "ag:"+b.acct.groupsByID[m.Value].DisplayName)
				}
			}
		}
		depth[ag.Key] = d
	}
	drop := map[string]planDrop{}
	for _, ag := range b.groups {
		if depth[ag.Key] <= b.limits.NestingDepth {
			continue
		}
		if child := via[ag.Key]; depth[child] > b.limits.NestingDepth {
			continue // above a group that is dropped: nesting it blocks it
		}
		var chain []string
		for k := ag.Key; k != ""; k = via[k] {
			chain = append(chain, strings.TrimPrefix(k, "ag:"))
			if _, planned := depth[via[k]]; !planned && via[k] != "" {
				chain = append(chain, strings.TrimPrefix(via[k], "ag:")+" ...")
				break
			}
		}
		drop[ag.Key] = planDrop{conflict: &Conflict{Kind: ConflictServiceLimit, Detail: fmt.Sprintf(
			"account group %q would head %d layers of nested groups (%s) and the service allows %d: flatten the nesting, or migrate the nested groups without their parents first",
			ag.DisplayName, depth[ag.Key], strings.Join(chain, " > "), b.limits.NestingDepth)}}
	}
	b.dropGroups(drop)
}

// checkDirectParents drops every planned account group that would add a
// principal (user, service principal or group) whose direct parent groups
// would then exceed the service's limit. A principal's parents are the
// account groups the plan adds it to, and those it is already in as far
// as the plan read: the members of the candidate account groups, and the
// account groups that the workspaces' lists show as its parents.
func (b *planBuilder) checkDirectParents() {
	existing := map[string]map[string]bool{} // identity key -> account group ids
	have := func(key, groupID string) {
		if key == "" || groupID == "" {
			return
		}
		if existing[key] == nil {
			existing[key] = map[string]bool{}
		}
		existing[key][groupID] = true
	}
	for gid, members := range b.acct.members {
		for _, m := range members {
			if k := b.accountMemberKind(m); k != "" {
				have(k+":"+m.Value, gid)
			}
		}
	}
	for _, w := range b.ws {
		if w.listed == nil || w.skipped != "" {
			continue
		}
		accountParents := func(parents []scim.ComplexValue) []string {
			var out []string
			for _, p := range parents {
				if g := w.byID[p.Value]; g != nil && !g.IsWorkspaceLocal() {
					if ag, ok := b.acct.groupsByID[g.ID]; ok {
						out = append(out, ag.ID)
					} else if ag, ok := b.acct.groupsByName[groupname.Fold(g.DisplayName)]; ok {
						out = append(out, ag.ID)
					}
				}
			}
			return out
		}
		for _, u := range w.listed.users {
			if au, ok := b.acct.usersByName[strings.ToLower(u.UserName)]; ok {
				for _, id := range accountParents(u.Groups) {
					have(KindUser+":"+au.ID, id)
				}
			}
		}
		for _, sp := range w.listed.sps {
			if asp, ok := b.acct.spsByApp[strings.ToLower(sp.ApplicationID)]; ok {
				for _, id := range accountParents(sp.Groups) {
					have(KindServicePrincipal+":"+asp.ID, id)
				}
			}
		}
		for _, g := range w.groups {
			if g.IsWorkspaceLocal() {
				continue
			}
			if ag, ok := b.acct.groupsByID[g.ID]; ok {
				for _, id := range accountParents(g.Groups) {
					have(KindGroup+":"+ag.ID, id)
				}
			}
		}
	}
	// The groups the plan adds each principal to.
	adds := map[string][]string{} // identity key -> planned account group keys
	names := map[string]Member{}
	for _, ag := range b.groups {
		for _, m := range ag.Members {
			k := memberIdentityKey(m)
			if ag.ExistingID != "" && existing[k][ag.ExistingID] {
				continue // a member already
			}
			adds[k] = append(adds[k], ag.Key)
			names[k] = m
		}
	}
	drop := map[string]planDrop{}
	for _, k := range slices.Sorted(maps.Keys(adds)) {
		total := map[string]bool{}
		for id := range existing[k] {
			total["id:"+id] = true
		}
		for _, key := range adds[k] {
			ag := b.groups[b.agIndex[key]]
			if ag.ExistingID != "" {
				total["id:"+ag.ExistingID] = true
			} else {
				total[key] = true
			}
		}
		if len(total) <= b.limits.DirectParents {
			continue
		}
		m := names[k]
		who := memberWho(m)
		reason := fmt.Sprintf("%s: %s would be a direct member of %d account groups (the service allows %d)", ConflictServiceLimit, who, len(total), b.limits.DirectParents)
		b.conflicts = append(b.conflicts, Conflict{
			Kind:  ConflictServiceLimit,
			Group: memberAccountName(m),
			Detail: fmt.Sprintf("%s would be a direct member of %d account groups: %d it is in already (as far as the plan read) and %d this plan adds it to; the service allows %d direct group memberships per principal: migrate fewer of its groups, or take it out of some first",
				who, len(total), len(existing[k]), len(adds[k]), b.limits.DirectParents),
			Policies: planSamePolicies(fmt.Sprintf("skip the %d groups that would add it", len(adds[k]))),
			Blocking: true,
		})
		for _, key := range adds[k] {
			if _, ok := drop[key]; !ok {
				drop[key] = planDrop{reason: reason}
			}
		}
	}
	b.dropGroups(drop)
}

// checkAccountGroups drops every account group the plan would create when
// the account's groups and those would exceed the service's limit.
func (b *planBuilder) checkAccountGroups() {
	create := 0
	for _, ag := range b.groups {
		if ag.ExistingID == "" {
			create++
		}
	}
	have := len(b.acct.groupsByID)
	if create == 0 || have+create <= b.limits.AccountGroups {
		return
	}
	b.conflicts = append(b.conflicts, Conflict{
		Kind: ConflictServiceLimit,
		Detail: fmt.Sprintf("the account has %d groups and this plan would create %d: the service allows %d groups per account; create at most %d (narrow the selection with --workspace, --group or --group-regex, or reuse existing account groups), or delete unused account groups first",
			have, create, b.limits.AccountGroups, max(0, b.limits.AccountGroups-have)),
		Policies: planSamePolicies(fmt.Sprintf("skip the %d groups that need a new account group", create)),
		Blocking: true,
	})
	reason := fmt.Sprintf("%s: the account would have %d groups (the service allows %d)", ConflictServiceLimit, have+create, b.limits.AccountGroups)
	drop := map[string]planDrop{}
	for _, ag := range b.groups {
		if ag.ExistingID == "" {
			drop[ag.Key] = planDrop{reason: reason}
		}
	}
	b.dropGroups(drop)
}

// warnWorkspaceGroups warns about a workspace that would
// show more groups than a workspace is documented to hold, from apply
// until finalize: its groups now (the migrated local groups stay, renamed
// to their backup names) plus the account groups the plan assigns to it.
func (b *planBuilder) warnWorkspaceGroups() {
	for _, w := range b.ws {
		if w.skipped != "" {
			continue
		}
		add := map[string]bool{}
		for _, n := range w.nodes {
			if n.blocked != "" {
				continue
			}
			ag := b.groups[b.agIndex[n.agKey]]
			if ag.ExistingID != "" {
				if g := w.byID[ag.ExistingID]; g != nil && !g.IsWorkspaceLocal() {
					continue // already visible in the workspace
				}
			}
			add[n.agKey] = true
		}
		total := len(w.groups) + len(add)
		if len(add) == 0 || total <= b.limits.WorkspaceGroups {
			continue
		}
		b.warnings = append(b.warnings, Warning{
			Kind:        WarningWorkspaceGroups,
			WorkspaceID: w.info.ID,
			Detail: fmt.Sprintf("workspace %s would show %d groups from apply until finalize (%d now, the migrated local groups stay under their backup names, and %d account groups are assigned): Databricks documents up to %d groups per workspace, without saying whether account groups count; if assignments fail, migrate in smaller batches and finalize each before the next",
				w.planLabel(), total, len(w.groups), len(add), b.limits.WorkspaceGroups),
		})
	}
}

// tableACLsNotVerified warns, once, that dbiam does not check the legacy
// table ACLs of the groups it migrates (docs/limits.md, "Legacy Hive
// metastore table ACLs"), so that nothing implies every permission was
// checked.
func (b *planBuilder) tableACLsNotVerified() {
	if !slices.ContainsFunc(b.nodes, func(n *planNode) bool { return n.blocked == "" }) {
		return
	}
	b.warnings = append(b.warnings, Warning{Kind: WarningTableACLsNotVerified, Detail: planTableACLWarning})
}

// planTableACLWarning is the text of the table-acls-not-verified warning.
const planTableACLWarning = "the permission migration API that apply calls moves the local groups' legacy Hive metastore table ACLs according to the public record (UCX's tests; README: Legacy table ACLs), " +
	"but dbiam neither reads nor verifies them (it has no SQL access): after apply, check them with SHOW GRANTS on a cluster or SQL warehouse with table access control; DENY grants are in no public test of the API"

// externallyProvisioned warns, once per workspace, that local groups the
// plan migrates carry an externalId.
func (b *planBuilder) externallyProvisioned() {
	for _, w := range b.ws {
		var names []string
		for _, n := range w.nodes {
			if n.blocked == "" && n.g.ExternalID != "" {
				names = append(names, strconv.Quote(n.g.DisplayName))
			}
		}
		if len(names) == 0 {
			continue
		}
		b.warnings = append(b.warnings, Warning{
			Kind:        WarningExternallyProvisioned,
			WorkspaceID: w.info.ID,
			Detail: fmt.Sprintf("the local groups this plan migrates include %d with an externalId (%s): an identity provider's SCIM provisioning of workspace %s may still manage them, and while it runs it can rename them back, recreate them or change their members during and after the migration; turn the workspace-level provisioning off before apply (provision the account instead)",
				len(names), summarize(names, 5), w.planLabel()),
		})
	}
}
