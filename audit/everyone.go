package audit

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// --all audits every identity: every user, service principal and group of
// the account and every workspace-local principal of each audited
// workspace, whether or not anything refers to it (most have no finding;
// they are reported all the same). The directories are listed once, while
// the workspaces and metastores are scanned (account SCIM and workspace
// SCIM reads have their own rate limits), and the names and ids objects
// refer to are resolved against these lists: no lookup per name.

// everyone is the principals of the account and of each workspace.
type everyone struct {
	done chan struct{}

	account []principal
	// local are each workspace's principals that are not account
	// principals: local users and service principals, and local groups.
	local map[int64][]principal
	// failed are the workspaces whose directory could not be listed.
	failed map[int64]error
	err    error // the account's directory could not be listed
}

// allAttrs are the attributes --all lists principals with.
var (
	allUserAttrs  = []string{"id", "userName", "displayName", "active"}
	allSPAttrs    = []string{"id", "applicationId", "displayName", "active"}
	allGroupAttrs = []string{"id", "displayName", "meta"}
)

// listDirectory lists every principal of one directory with the largest
// pages.
func listDirectory(ctx context.Context, d directory) ([]principal, error) {
	var out []principal
	for u, err := range d.users.List(ctx, scim.ListOptions{Attributes: allUserAttrs, PageSize: 10000}) {
		if err != nil {
			return nil, fmt.Errorf("list users of %s: %w", d.label(), err)
		}
		out = append(out, fromUser(u))
	}
	for s, err := range d.sps.List(ctx, scim.ListOptions{Attributes: allSPAttrs, PageSize: 10000}) {
		if err != nil {
			return nil, fmt.Errorf("list service principals of %s: %w", d.label(), err)
		}
		out = append(out, fromSP(s))
	}
	for g, err := range d.groups.List(ctx, scim.ListOptions{Attributes: allGroupAttrs, PageSize: 10000}) {
		if err != nil {
			return nil, fmt.Errorf("list groups of %s: %w", d.label(), err)
		}
		out = append(out, fromGroup(g))
	}
	return out, nil
}

// startListingEveryone lists the account's and every workspace's
// principals in the background; wait for them with done.
func (a *auditor) startListingEveryone(ctx context.Context) *everyone {
	e := &everyone{done: make(chan struct{}), local: map[int64][]principal{}, failed: map[int64]error{}}
	go func() {
		defer close(e.done)
		var wg sync.WaitGroup
		accountIDs := map[string]bool{}
		if a.acct != nil {
			wg.Go(func() {
				ps, err := listDirectory(ctx, a.acctCache.dir)
				e.account, e.err = ps, err
			})
		}
		var mu sync.Mutex
		all := map[int64][]principal{}
		wg.Go(func() {
			parallel(ctx, a.active(), a.sess.Parallel(), func(w *wsRun) {
				ps, err := listDirectory(ctx, workspaceDirectory(w.client))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					e.failed[w.info.ID] = err
					return
				}
				all[w.info.ID] = ps
			})
		})
		wg.Wait()
		for _, p := range e.account {
			accountIDs[p.ID] = true
		}
		for ws, ps := range all {
			for _, p := range ps {
				switch {
				case p.Type == PrincipalGroup && p.Local:
				case a.acct != nil && accountIDs[p.ID]:
					continue // the account's principal, seen through the workspace
				case a.acct == nil && p.Type == PrincipalGroup:
					continue // an account group: once, below
				}
				e.local[ws] = append(e.local[ws], p)
			}
		}
		if a.acct == nil {
			// Account groups seen through workspaces, once each.
			seen := map[string]bool{}
			for _, w := range a.active() {
				for _, p := range all[w.info.ID] {
					if p.Type == PrincipalGroup && !p.Local && !seen[p.ID] {
						seen[p.ID] = true
						e.account = append(e.account, p)
					}
				}
			}
		}
	}()
	return e
}

// track ends task once the listing is done, with how many principals it
// found, or failed.
func (e *everyone) track(ctx context.Context, task *reports.Task) {
	if err := e.wait(ctx); err != nil {
		if ctx.Err() == nil {
			task.Fail(err) // the run fails with it (identitiesOfEveryone)
		}
		return // interrupted: neither done nor failed
	}
	n := len(e.account)
	for _, ps := range e.local {
		n += len(ps)
	}
	summary := fmt.Sprintf("%d identities listed", n)
	if len(e.failed) > 0 {
		summary += fmt.Sprintf(", %d workspaces could not be listed", len(e.failed))
	}
	task.Done(summary)
}

// wait returns once the listing is done or ctx is cancelled.
func (e *everyone) wait(ctx context.Context) error {
	select {
	case <-e.done:
		return e.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// identitiesOfEveryone maps the matcher keys of --all's findings to
// identities, from the lists of principals, and returns every listed
// principal as an identity too (keyed by its Key). A name found in no list
// is not-found, or unresolved when a workspace it was seen in could not be
// listed (that workspace is then not covered for identities).
func (a *auditor) identitiesOfEveryone(ctx context.Context) (byRef map[string]Identity, all []Identity, err error) {
	e := a.everyone
	if err := e.wait(ctx); err != nil {
		return nil, nil, fmt.Errorf("list every identity: %w", err)
	}
	for _, w := range a.active() {
		if err, ok := e.failed[w.info.ID]; ok {
			w.gap(KindIdentity, fmt.Errorf("list the workspace's identities: %w", err))
		}
	}
	users, sps, groups := map[string]principal{}, map[string]principal{}, map[string]principal{}
	byID := map[string]Identity{}
	ident := func(p principal, scope string, ws *wsRun) Identity {
		id := Identity{Type: p.Type, Name: p.Name, DisplayName: p.DisplayName, ID: p.ID, Status: p.status(), Scope: scope}
		if ws != nil && p.Type == PrincipalGroup {
			id.WorkspaceID, id.WorkspaceName = ws.info.ID, ws.info.Name
		}
		return id
	}
	add := func(p principal, scope string, ws *wsRun) {
		id := ident(p, scope, ws)
		if !systemGroup(p) {
			all = append(all, id)
		}
		if ws == nil {
			byID[p.ID] = id
			switch p.Type {
			case PrincipalUser:
				users[normName(p.Name)] = p
			case PrincipalServicePrincipal:
				sps[normName(p.Name)] = p
			default:
				groups[p.Name] = p
			}
		}
	}
	for _, p := range e.account {
		add(p, "account", nil)
	}
	localGroups := map[int64]map[string]Identity{}
	localOthers := map[string]Identity{}
	for _, w := range a.active() {
		localGroups[w.info.ID] = map[string]Identity{}
		for _, p := range e.local[w.info.ID] {
			if p.Type == PrincipalGroup {
				id := ident(p, "workspace", w)
				localGroups[w.info.ID][p.Name] = id
				if !systemGroup(p) {
					all = append(all, id)
				}
				continue
			}
			id := ident(p, "workspace", nil)
			k := id.Key()
			if _, dup := localOthers[k]; !dup {
				localOthers[k] = id
				all = append(all, id)
			}
			if _, ok := byID[p.ID]; !ok {
				byID[p.ID] = id
			}
		}
	}
	byRef = map[string]Identity{}
	for k, r := range a.all.refs() {
		var found *Identity
		switch {
		case r.name == "":
			if id, ok := byID[strconv.FormatInt(r.id, 10)]; ok {
				found = &id
			}
		default:
			try := func(t PrincipalType) {
				if found != nil || !typeCompatible(r.ptype, t) {
					return
				}
				var m map[string]principal
				key := normName(r.name)
				switch t {
				case PrincipalUser:
					m = users
				case PrincipalServicePrincipal:
					m = sps
				default:
					m, key = groups, r.name
				}
				if p, ok := m[key]; ok {
					id := byID[p.ID]
					found = &id
					return
				}
				if t == PrincipalGroup {
					for _, w := range a.active() {
						if id, ok := localGroups[w.info.ID][r.name]; ok && a.all.seenIn(k, w.info.ID) {
							found = &id
							return
						}
					}
					return
				}
				if id, ok := localOthers[identityKey(t, r.name)]; ok {
					found = &id
				}
			}
			try(PrincipalUser)
			try(PrincipalServicePrincipal)
			try(PrincipalGroup)
		}
		if found != nil {
			byRef[k] = *found
			continue
		}
		id := Identity{Type: r.ptype, Name: r.name, Status: StatusNotFound}
		for ws := range e.failed {
			if a.all.seenIn(k, ws) {
				id.Status = StatusUnresolved
			}
		}
		if id.Name == "" {
			id.Name = "id " + strconv.FormatInt(r.id, 10)
		}
		if id.Type == "" {
			id.Type = guessType(r.name)
		}
		byRef[k] = id
	}
	return byRef, all, nil
}

// systemGroup reports whether p is one of the system groups ("account
// users"; a workspace's "admins" and "users"), which cannot be removed:
// --all lists them only when something refers to them.
func systemGroup(p principal) bool {
	if p.Type != PrincipalGroup {
		return false
	}
	switch p.Name {
	case "account users":
		return !p.Local
	case "admins", "users":
		return p.Local
	}
	return false
}
