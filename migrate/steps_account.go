package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dbiam/dbiam/scim"
)

// maxCreateAttempts bounds the POSTs of one account group whose outcome
// stays unknown. A repeated POST cannot duplicate the group: account group
// names are unique, so it either creates the group or gets 409.
const maxCreateAttempts = 3

// ensureAccountGroup runs ensure-account-group for a and returns the
// account group's id.
func (ex *executor) ensureAccountGroup(ctx context.Context, a *agRun) (string, error) {
	ag := a.plan
	spec := stepSpec{id: accountGroupStepID(ag.Key), kind: KindEnsureAccountGroup, group: ag.DisplayName}
	err := ex.runStep(ctx, spec, func(r *stepRun) (*Detail, error) { return ex.ensure(r, ag) })
	if err != nil {
		return "", err
	}
	v := ex.view(spec.id)
	if v == nil || v.Detail.AccountGroupID == "" {
		return "", fmt.Errorf("ensure account group %q: the journal records no id", ag.DisplayName)
	}
	return v.Detail.AccountGroupID, nil
}

// desiredMembers returns the account ids of ag's planned members; nested
// groups map to the ids their own ensure step found.
func (ex *executor) desiredMembers(ag *AccountGroupPlan) ([]string, error) {
	ids := make([]string, 0, len(ag.Members))
	for _, m := range ag.Members {
		id := m.AccountID
		if m.Kind == KindGroup && m.GroupKey != "" {
			child := ex.ags[m.GroupKey]
			if child == nil || child.id == "" {
				return nil, fmt.Errorf("nested group %s has no account group id", m.GroupKey)
			}
			id = child.id
		}
		if id == "" {
			return nil, fmt.Errorf("member %q has no account id", m.Display)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// ensure is the body of ensure-account-group. It first reads live state:
// the group recorded in the journal, the group the plan reuses, or (when an
// earlier run may have created it) the group with the planned name. Only
// then does it create the group, with all its members in one POST, read it
// back, and add what is missing in batches.
func (ex *executor) ensure(r *stepRun, ag *AccountGroupPlan) (*Detail, error) {
	ctx := r.ctx
	desired, err := ex.desiredMembers(ag)
	if err != nil {
		return nil, err
	}
	prior := r.view.Detail
	// sent: a create of an earlier run may have landed without its id
	// reaching the journal. A failed or refused create does not count: a
	// group with the planned name found then is someone else's.
	sent := prior.Create == CreateSent
	// patched: an earlier run may have added members to the reused group,
	// so its members no longer match the plan's precondition. A failure
	// alone (a stale plan) does not lift the precondition.
	patched := len(prior.AddedMemberIDs) > 0
	id, created := prior.AccountGroupID, prior.Created
	var g scim.Group
	switch {
	case id != "":
		g, err = ex.remote.AccountGroup(ctx, id)
		if errors.Is(err, scim.ErrNotFound) {
			return nil, fmt.Errorf("account group %q (id %s) recorded in the journal no longer exists; run \"dbiam migrate plan\" again", ag.DisplayName, id)
		}
	case ag.ExistingID != "":
		id = ag.ExistingID
		g, err = ex.remote.AccountGroup(ctx, id)
		switch {
		case errors.Is(err, scim.ErrNotFound):
			return nil, &StaleError{Group: ag.DisplayName, What: "the account group to reuse was deleted"}
		case err != nil:
		case g.DisplayName != ag.DisplayName:
			return nil, &StaleError{Group: ag.DisplayName, What: fmt.Sprintf("the account group to reuse was renamed to %q", g.DisplayName)}
		case !patched && ag.ExistingMembersDigest != "" && MembersDigest(g.Members) != ag.ExistingMembersDigest:
			return nil, &StaleError{Group: ag.DisplayName, What: "members differ"}
		}
	default:
		if sent {
			// A POST of an earlier run may have landed without its id
			// reaching the journal.
			found, ferr := ex.findAccountGroup(ctx, ag.DisplayName)
			if ferr != nil {
				return nil, ferr
			}
			if found != "" {
				id, created = found, true
				g, err = ex.remote.AccountGroup(ctx, id)
			}
		}
		if id == "" {
			var maybe bool
			g, maybe, err = ex.createAccountGroup(r, ag, desired, sent)
			if err != nil {
				if !maybe {
					return &Detail{Create: CreateRefused}, err
				}
				return nil, err
			}
			id, created = g.ID, true
			// The reply's id, recorded at once: rollback deletes by it.
			if err := r.begin(&Detail{AccountGroupID: id, Created: true}); err != nil {
				return nil, err
			}
			// Read it back: the reply of a create is not proof of membership.
			g, err = ex.remote.AccountGroup(ctx, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read account group %q: %w", ag.DisplayName, err)
	}

	have := make(map[string]bool, len(g.Members))
	for _, m := range g.Members {
		have[m.Value] = true
	}
	var missing []string
	for _, m := range desired {
		if !have[m] {
			missing = append(missing, m)
		}
	}
	d := &Detail{AccountGroupID: id, Created: created, MembersAdded: prior.MembersAdded}
	if created && prior.MembersAdded == 0 {
		d.MembersAdded = len(desired) - len(missing)
	}
	if len(missing) == 0 {
		return d, nil
	}
	if !created {
		d.AddedMemberIDs = union(prior.AddedMemberIDs, missing)
	}
	wctx := r.sending(&Detail{AccountGroupID: id, Created: created, AddedMemberIDs: d.AddedMemberIDs})
	for batch := range slices.Chunk(missing, ex.opts.MemberBatch) {
		if err := ex.remote.AddAccountGroupMembers(wctx, id, batch); err != nil {
			return d, fmt.Errorf("add %d members to account group %q: %w", len(batch), ag.DisplayName, err)
		}
		d.MembersAdded += len(batch)
	}
	return d, nil
}

// findAccountGroup returns the id of the account group named name, "" if
// none is listed. Several groups with one name is an error.
func (ex *executor) findAccountGroup(ctx context.Context, name string) (string, error) {
	gs, err := ex.remote.FindAccountGroups(ctx, name)
	if err != nil {
		return "", fmt.Errorf("look up account group %q: %w", name, err)
	}
	var ids []string
	for _, g := range gs {
		if g.DisplayName == name {
			ids = append(ids, g.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("look up account group %q: %d groups have this name (ids %v); remove the duplicates and run apply again", name, len(ids), ids)
}

// createAccountGroup POSTs the group with its members, each POST
// announced (Create: sent) right before it is sent. After an unknown
// outcome it re-reads by name before any new POST; a 409 means the group
// exists, which is ours if an earlier attempt (or run) may have made it and
// a stale plan otherwise. On error, maybe reports whether a create may
// have landed (an outcome was unknown, or the run was interrupted).
func (ex *executor) createAccountGroup(r *stepRun, ag *AccountGroupPlan, members []string, sent bool) (_ scim.Group, maybe bool, err error) {
	ctx := r.ctx
	wctx := r.sending(&Detail{Create: CreateSent})
	g := scim.Group{DisplayName: ag.DisplayName, ExternalID: ag.ExternalID, Schemas: []string{scim.SchemaGroup}}
	for _, id := range members {
		g.Members = append(g.Members, scim.ComplexValue{Value: id})
	}
	unknown := sent
	defer func() {
		if err == nil {
			return
		}
		// Known not to have created anything: a refusal (4xx, or 409 for
		// someone else's group) with no earlier unknown outcome.
		var stale *StaleError
		var apiErr *scim.APIError
		refused := errors.As(err, &stale) || (errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500)
		maybe = unknown || r.ctx.Err() != nil || !refused
	}()
	for attempt := 1; ; attempt++ {
		created, err := ex.remote.CreateAccountGroup(wctx, g)
		switch {
		case err == nil:
			if created.ID == "" {
				return created, false, fmt.Errorf("create account group %q: the reply carries no id", ag.DisplayName)
			}
			return created, false, nil
		case errors.Is(err, scim.ErrConflict):
			if !unknown {
				return created, false, &StaleError{Group: ag.DisplayName, What: "an account group with this name was created after the plan"}
			}
			id, ferr := ex.waitFindAccountGroup(r, ag.DisplayName)
			if ferr != nil {
				return created, false, ferr
			}
			return scim.Group{ID: id, DisplayName: ag.DisplayName}, false, nil
		case errors.Is(err, scim.ErrOutcomeUnknown):
			unknown = true
			id, ferr := ex.findAccountGroup(ctx, ag.DisplayName)
			if ferr != nil {
				return created, false, ferr
			}
			if id != "" {
				return scim.Group{ID: id, DisplayName: ag.DisplayName}, false, nil
			}
			if attempt >= maxCreateAttempts {
				return created, false, fmt.Errorf("create account group %q: %w", ag.DisplayName, err)
			}
			ex.log.Warn("account group create outcome unknown; not listed yet, sending the create again",
				"group", ag.DisplayName, "attempt", attempt, "error", err)
		default:
			return created, false, fmt.Errorf("create account group %q: %w", ag.DisplayName, err)
		}
	}
}

// waitFindAccountGroup polls the account group list for name until it
// shows (lists lag creates), within the visibility budget.
func (ex *executor) waitFindAccountGroup(r *stepRun, name string) (string, error) {
	var waited time.Duration
	delay := 500 * time.Millisecond
	for {
		id, err := ex.findAccountGroup(r.ctx, name)
		if err != nil || id != "" {
			return id, err
		}
		if waited >= ex.opts.VisibleTimeout || ex.dryRun {
			return "", fmt.Errorf("account group %q exists (409) but is not listed after %s; run apply again later", name, waited)
		}
		if err := ex.pause(r.parent, delay); err != nil {
			return "", err
		}
		waited += delay
		delay = min(2*delay, 8*time.Second)
	}
}

// union returns the sorted union of a and b.
func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
