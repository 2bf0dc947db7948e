package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// resolveTargets turns the named selectors (or --inactive) into the target
// set: users and service principals are looked up in the account first,
// then, for names the account does not have, in each workspace
// (workspace-local principals). A group name is exact (case and spaces)
// and is resolved in the account and in every workspace: each
// workspace-local group of that name is a target of its own, reported with
// its workspace. Groups expand to their transitive members. A name found
// nowhere stays a target with status not-found: objects are still matched
// by name. The targets are put in a fixed order whatever the order the
// workspaces answered in.
func (a *auditor) resolveTargets(ctx context.Context) error {
	a.targets = newTargetSet()
	defer a.targets.sortBy(a.workspaceOrder())
	if a.plan.mode == modeInactive {
		return a.resolveInactive(ctx)
	}
	pending := slices.Clone(a.plan.selectors)
	foundGroups := map[string]bool{}
	if a.acct != nil {
		left, err := a.resolveIn(ctx, a.acctCache, 0, pending)
		if err != nil {
			return err
		}
		for _, s := range pending {
			if s.Type == PrincipalGroup && !slices.Contains(left, s) {
				foundGroups[identityKey(s.Type, s.Name)] = true
			}
		}
		pending = left
		// Groups are also looked up in every workspace (local groups).
		for _, s := range a.plan.selectors {
			if s.Type == PrincipalGroup && !slices.Contains(pending, s) {
				pending = append(pending, s)
			}
		}
	}
	if len(pending) > 0 {
		var mu sync.Mutex
		found := map[string]bool{}
		searched := map[int64]bool{}
		a.forEachWorkspace(ctx, func(w *wsRun) {
			cache := newGroupCache(workspaceDirectory(w.client))
			left, err := a.resolveIn(ctx, cache, w.info.ID, pending)
			if err != nil {
				w.failed = fmt.Errorf("look up identities: %w", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			searched[w.info.ID] = true
			for _, s := range pending {
				if !slices.Contains(left, s) {
					found[identityKey(s.Type, s.Name)] = true
				}
			}
		})
		if err := ctx.Err(); err != nil {
			return err
		}
		a.lookedUpIn = a.lookupScope(searched)
		for _, s := range pending {
			if found[identityKey(s.Type, s.Name)] || foundGroups[identityKey(s.Type, s.Name)] {
				continue
			}
			a.targets.add(&target{key: identityKey(s.Type, s.Name),
				ident: Identity{Type: s.Type, Name: s.Name, Status: StatusNotFound, Named: true}})
		}
	}
	if a.acct != nil {
		return a.prepareSolePaths(ctx)
	}
	return nil
}

// workspaceOrder returns each selected workspace's position in the listing.
func (a *auditor) workspaceOrder() map[int64]int {
	out := make(map[int64]int, len(a.ws))
	for i, w := range a.ws {
		out[w.info.ID] = i + 1
	}
	return out
}

// lookupScope describes where names not found in the account were looked
// up: the account (when there is one) and the workspaces whose directory
// was read (searched, by id), in listing order; at most 5 are named.
func (a *auditor) lookupScope(searched map[int64]bool) string {
	var names []string
	for _, w := range a.ws {
		if searched[w.info.ID] {
			names = append(names, w.ref.Label())
		}
	}
	ws := "no workspace"
	switch n := len(names); {
	case n == 1:
		ws = "workspace " + names[0]
	case n > 5:
		ws = fmt.Sprintf("%d workspaces: %s and %d more", n, strings.Join(names[:5], ", "), n-5)
	case n > 1:
		ws = fmt.Sprintf("%d workspaces: %s", n, strings.Join(names, ", "))
	}
	if a.acct == nil {
		return ws + " (account not searched: no account id)"
	}
	return "account, " + ws
}

// resolveIn looks the selectors up in one directory (ws 0: the account)
// and adds what it finds, expanding groups. It returns the selectors not
// found there. The target set is guarded by a.mu.
func (a *auditor) resolveIn(ctx context.Context, cache *groupCache, ws int64, sel []Selector) ([]Selector, error) {
	byType := map[PrincipalType][]string{}
	for _, s := range sel {
		byType[s.Type] = append(byType[s.Type], s.Name)
	}
	found := map[PrincipalType]map[string]principal{}
	for _, t := range []PrincipalType{PrincipalUser, PrincipalServicePrincipal, PrincipalGroup} {
		m, err := cache.dir.lookup(ctx, t, byType[t])
		if err != nil {
			return nil, err
		}
		found[t] = m
	}
	scope := "account"
	if ws != 0 {
		scope = "workspace"
	}
	var left []Selector
	for _, s := range sel {
		p, ok := found[s.Type][nameKey(s.Type, s.Name)]
		// In a workspace of an account, an account group shows up too: the
		// account's lookup has covered it.
		if ok && ws != 0 && p.Type == PrincipalGroup && !p.Local && a.acct != nil {
			ok = false
		}
		if !ok {
			left = append(left, s)
			continue
		}
		a.addTarget(p, ws, scope, "", true)
		if p.Type != PrincipalGroup {
			continue
		}
		members, err := cache.expand(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if m.Type == PrincipalGroup {
				continue // nested groups are walked, not audited
			}
			a.addTarget(m, ws, scope, p.Name, false)
		}
	}
	return left, nil
}

// addTarget adds principal p, found in scope, as a target: named on the
// command line, or a member of the audited group via.
func (a *auditor) addTarget(p principal, ws int64, scope, via string, named bool) *target {
	t := &target{ws: ws, ids: p.numericID(),
		ident: Identity{Type: p.Type, Name: p.Name, DisplayName: p.DisplayName, ID: p.ID, Status: p.status(), Scope: scope, Named: named}}
	if p.Type == PrincipalGroup && ws != 0 {
		t.ident.WorkspaceID = ws
		for _, w := range a.ws {
			if w.info.ID == ws {
				t.ident.WorkspaceName = w.info.Name
			}
		}
	}
	t.key = t.ident.Key()
	if via != "" {
		t.ident.Via = []string{via}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.targets.add(t)
}

// resolveInactive adds every deactivated user and service principal of the
// account and of each workspace.
func (a *auditor) resolveInactive(ctx context.Context) error {
	if a.acct != nil {
		ps, err := a.acctCache.dir.inactive(ctx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			a.addTarget(p, 0, "account", "", false)
		}
	}
	a.forEachWorkspace(ctx, func(w *wsRun) {
		ps, err := workspaceDirectory(w.client).inactive(ctx)
		if err != nil {
			w.failed = fmt.Errorf("list inactive identities: %w", err)
			return
		}
		for _, p := range ps {
			a.mu.Lock()
			known := slices.ContainsFunc(a.targets.byName[normName(p.Name)], func(t *target) bool { return t.ws == 0 && t.ident.Type == p.Type })
			a.mu.Unlock()
			if !known {
				a.addTarget(p, w.info.ID, "workspace", "", false)
			}
		}
	})
	return ctx.Err()
}

// prepareSolePaths reads, for runs that audit account groups, every
// workspace's assignments and the membership of every assigned group, so
// that members whose only path into a workspace is an audited group can be
// reported. A workspace whose assignments cannot be read is recorded as a
// workspace-access gap; a workspace without identity federation (400) has
// no assignments and is skipped.
func (a *auditor) prepareSolePaths(ctx context.Context) error {
	if len(a.removedGroups()) == 0 {
		return nil
	}
	var mu sync.Mutex
	var assignedGroups []string
	a.forEachWorkspace(ctx, func(w *wsRun) {
		pas, err := a.acct.ListAssignments(ctx, w.info.ID)
		if err != nil {
			if errors.Is(err, scim.ErrBadRequest) {
				a.log.Debug("audit: no permission assignments (workspace not identity federated)", "workspace", w.info.Name, "err", err)
				return
			}
			w.gap(KindWorkspaceAccess, fmt.Errorf("list permission assignments: %w", err))
			return
		}
		ids := make([]string, 0, len(pas))
		mu.Lock()
		defer mu.Unlock()
		for _, pa := range pas {
			if pa.Principal.PrincipalID == 0 {
				continue
			}
			id := strconv.FormatInt(pa.Principal.PrincipalID, 10)
			ids = append(ids, id)
			if pa.Principal.GroupName != "" && !slices.Contains(assignedGroups, id) {
				assignedGroups = append(assignedGroups, id)
			}
		}
		w.assigned = ids
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	slices.Sort(assignedGroups)
	if err := a.acctCache.load(ctx, assignedGroups); err != nil {
		return fmt.Errorf("read assigned groups: %w", err)
	}
	removed := a.removedGroups()
	var candidates []string
	for _, t := range a.targets.list {
		if t.ws == 0 && t.ident.ID != "" && t.ident.Type != PrincipalGroup && len(t.ident.Via) > 0 {
			candidates = append(candidates, t.ident.ID)
		}
	}
	byID := map[string][]*target{}
	for _, t := range a.targets.list {
		if t.ident.ID != "" {
			byID[t.ident.ID] = append(byID[t.ident.ID], t)
		}
	}
	for _, w := range a.active() {
		if w.assigned == nil {
			continue
		}
		for id, via := range a.acctCache.solePaths(w.assigned, removed, candidates) {
			w.findings = append(w.findings, solePathFinding(w, id, via, byID))
		}
	}
	return nil
}

// removedGroups returns the ids of the audited account groups.
func (a *auditor) removedGroups() map[string]bool {
	out := map[string]bool{}
	for _, t := range a.targets.list {
		if t.ws == 0 && t.ident.Type == PrincipalGroup && t.ident.ID != "" {
			out[t.ident.ID] = true
		}
	}
	return out
}

// solePathFinding reports that member id loses access to w. byID indexes
// the targets by SCIM id, in target order: a group of thousands of members
// gives as many findings per workspace, so the targets are not scanned for
// each.
func solePathFinding(w *wsRun, id string, via []string, byID map[string][]*target) Finding {
	var t *target
	for _, c := range byID[id] {
		if c.ws == 0 {
			t = c
			break
		}
	}
	names := make([]string, 0, len(via))
	for _, g := range via {
		for _, c := range byID[g] {
			names = append(names, c.ident.Name)
		}
	}
	slices.Sort(names)
	v := rateSolePath(names)
	return Finding{
		Identity:     t.key,
		IdentityName: t.ident.Name,
		Workspace:    w.ref,
		Kind:         KindWorkspaceAccess,
		ObjectID:     strconv.FormatInt(w.info.ID, 10),
		ObjectName:   w.info.Name,
		URL:          w.info.URL,
		Relations:    []Relation{RelSolePath},
		Severity:     v.sev,
		Reason:       v.reason,
		Details:      []Detail{{"via", strings.Join(names, ", ")}},
	}
}
