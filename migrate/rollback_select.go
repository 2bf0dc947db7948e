package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// A rollback restores a group exactly as it was before apply, or leaves
// it alone. Before its first change, rollback decides which selected
// groups it can restore exactly and refuses the others, with the reason,
// so that no group ends in between: restored in part, or reported as
// rolled back while it lacks members, entitlements or grants it had.
//
// A group is refused (it stays migrated, exactly as apply and finalize
// left it) when:
//   - finalize deleted its backup group: a group created again would have
//     another id and none of the grants the old one held, so it would not
//     be the group it was;
//   - a group nested in it (directly or deeper, in its workspace) was
//     finalized: restored, it would lack that group's members, and they
//     their access through it;
//   - its account group is a member of the account group of another group
//     of its workspace that stays migrated (not rolled back by this run):
//     deleting it would take its members out of that group, and the name
//     stays taken in the workspace;
//   - it holds the name of an account group that stays assigned to its
//     workspace for another local group that stays migrated;
//   - its journal was rebuilt by "migrate adopt", which could not tell
//     what a reused account group held before apply (see [Detail.Unknown]);
//   - its backup group no longer exists, or has a name that is neither its
//     backup name nor its own: someone changed it since.
//
// Refusals are journaled as failed rollback records (so status counts
// them), and reported with the state the group stays in.

// rollbackRefusal is a selected group rollback leaves alone, and why.
type rollbackRefusal struct {
	gr groupRef
	// stays is the state the group stays in: "migrated", "migrated
	// (finalized)", or "as it is" when its live state is neither.
	stays string
	why   string
	// finalized is true when the refusal follows from a finalize (this
	// group's or a nested group's): no later run can roll it back.
	finalized bool
}

// refusalPrefix starts the error of a journaled refusal.
const refusalPrefix = "refused before any change: "

// journalText is the error recorded in the journal for a refusal.
func (r rollbackRefusal) journalText() string {
	return refusalPrefix + "the group stays " + r.stays + ": " + r.why
}

// rollbackSelection returns, in the order rollback undoes them (the
// reverse of the plan's, parents before the groups they contain), the
// selected groups it can restore exactly, and the selected groups it
// refuses. Selected groups with nothing to undo are in neither. It reads
// each candidate's backup group once and changes nothing.
func (ex *executor) rollbackSelection(ctx context.Context, groups []groupRef, filter []string) ([]groupRef, []rollbackRefusal, error) {
	type key struct {
		ws int64
		id string
	}
	k := func(gr groupRef) key { return key{gr.ws.WorkspaceID, gr.g.LocalID} }
	var sel []groupRef
	for i := len(groups) - 1; i >= 0; i-- {
		gr := groups[i]
		ag := findAG(ex.plan, gr.g.AccountGroupKey)
		if selected(filter, gr.g.LocalName, ag.DisplayName) && ex.groupTouched(gr) {
			sel = append(sel, gr)
		}
	}
	inSel := map[key]bool{}
	for _, gr := range sel {
		inSel[k(gr)] = true
	}
	refused := map[key]rollbackRefusal{}
	refuse := func(gr groupRef, stays, why string, fin bool) {
		if stays == "migrated" && !ex.groupDone(gr.ws.WorkspaceID, gr.g.LocalID) {
			stays = "partly migrated, as it is"
		}
		if _, done := refused[k(gr)]; !done {
			refused[k(gr)] = rollbackRefusal{gr: gr, stays: stays, why: why, finalized: fin}
		}
	}
	label := func(gr groupRef) string { return fmt.Sprintf("%q (workspace %s)", gr.g.LocalName, gr.ws.WorkspaceName) }

	// Finalized groups, and the groups they are nested in.
	for _, gr := range sel {
		if ex.finalized(gr.ws.WorkspaceID, gr.g.LocalID) {
			refuse(gr, "migrated (finalized)", fmt.Sprintf("finalize deleted its backup group %q, so the local group cannot be restored as it was (a group created again would have another id and none of its grants)",
				gr.g.BackupName), true)
			continue
		}
		for _, d := range ex.nestedIn(groups, gr) {
			if ex.finalized(d.ws.WorkspaceID, d.g.LocalID) {
				refuse(gr, "migrated", fmt.Sprintf("group %s nested in it was finalized: restored, %q would lack that group's members, and they their access through it",
					label(d), gr.g.LocalName), true)
				break
			}
		}
	}
	// Groups whose journal was rebuilt by adopt from a live state it could
	// not attribute in full (what a reused account group held before).
	for _, gr := range sel {
		if why := ex.adoptUnknown(gr); why != "" {
			refuse(gr, "migrated", "its journal was rebuilt by \"dbiam migrate adopt\", which could not tell "+why+
				", so it cannot be restored exactly: restore it by hand, or finish it with apply and finalize", false)
		}
	}
	// The live backup groups.
	for _, gr := range sel {
		if _, ok := refused[k(gr)]; ok {
			continue
		}
		live, err := ex.remote.WorkspaceGroup(ctx, gr.ws.WorkspaceID, gr.g.LocalID)
		switch {
		case errors.Is(err, scim.ErrNotFound):
			refuse(gr, "as it is", fmt.Sprintf("its backup group %q (id %s) no longer exists, and finalize did not delete it: it cannot be restored", gr.g.BackupName, gr.g.LocalID), false)
		case err != nil:
			return nil, nil, fmt.Errorf("read group %q in workspace %s: %w", gr.g.BackupName, gr.ws.WorkspaceName, err)
		case live.DisplayName != gr.g.BackupName && live.DisplayName != gr.g.LocalName:
			refuse(gr, "as it is", fmt.Sprintf("its local group (id %s) is now named %q, neither %q nor %q; rename it by hand, then run rollback again",
				gr.g.LocalID, live.DisplayName, gr.g.BackupName, gr.g.LocalName), false)
		}
	}
	// Groups that must stay migrated because another group of their
	// workspace does: until nothing changes.
	staysMigrated := func(o groupRef) bool {
		if _, r := refused[k(o)]; r || !inSel[k(o)] {
			v := ex.view(groupStepID(KindAssignWorkspace, o.ws.WorkspaceID, o.g.LocalID))
			return v != nil && v.State != ""
		}
		return false
	}
	finalizedOrRefusedFor := func(o groupRef) bool {
		r, ok := refused[k(o)]
		return ex.finalized(o.ws.WorkspaceID, o.g.LocalID) || (ok && r.finalized)
	}
	for changed := true; changed; {
		changed = false
		for _, gr := range sel {
			if _, ok := refused[k(gr)]; ok {
				continue
			}
			ag := findAG(ex.plan, gr.g.AccountGroupKey)
			for _, p := range ex.containing(groups, gr) {
				if !staysMigrated(p) {
					continue
				}
				pag := findAG(ex.plan, p.g.AccountGroupKey)
				head := fmt.Sprintf("account group %q is a member of account group %q, which stays assigned to workspace %s",
					ag.DisplayName, pag.DisplayName, gr.ws.WorkspaceName)
				if strings.EqualFold(ag.DisplayName, gr.g.LocalName) {
					// Nested in an assigned group, it stays seen there under its name.
					head += fmt.Sprintf(" and keeps the name %q taken there", gr.g.LocalName)
				}
				why := fmt.Sprintf("%s; roll back %q too (--group %q)", head, pag.DisplayName, pag.DisplayName)
				fin := finalizedOrRefusedFor(p)
				switch {
				case fin && ex.finalized(p.ws.WorkspaceID, p.g.LocalID):
					why = fmt.Sprintf("%s; finalize deleted the backup group of %q there, so it cannot be rolled back, and neither can %q",
						head, p.g.LocalName, gr.g.LocalName)
				case fin:
					// p was refused for a finalized group above or in it, not finalized itself.
					why = fmt.Sprintf("%s; %q cannot be rolled back either (finalize deleted the backup group of a group it is nested in), so neither can %q",
						head, p.g.LocalName, gr.g.LocalName)
				}
				refuse(gr, "migrated", why, fin)
				changed = true
				break
			}
			if _, ok := refused[k(gr)]; ok {
				continue
			}
			if _, ok := refused[k(gr)]; ok || !strings.EqualFold(gr.g.LocalName, ag.DisplayName) {
				continue
			}
			for _, o := range activeGroups(ex.plan) {
				if o.ws.WorkspaceID != gr.ws.WorkspaceID || o.g.LocalID == gr.g.LocalID || o.g.AccountGroupKey != gr.g.AccountGroupKey || !staysMigrated(o) {
					continue
				}
				why := fmt.Sprintf("account group %q stays assigned to workspace %s for local group %q, which stays migrated, so the name %q is taken there; roll back %q too (--group %q)",
					ag.DisplayName, gr.ws.WorkspaceName, o.g.LocalName, gr.g.LocalName, o.g.LocalName, o.g.LocalName)
				fin := finalizedOrRefusedFor(o)
				if fin {
					why = fmt.Sprintf("account group %q stays assigned to workspace %s for local group %q, whose backup finalize deleted, so the name %q stays taken there: %q cannot be rolled back, and neither can %q",
						ag.DisplayName, gr.ws.WorkspaceName, o.g.LocalName, gr.g.LocalName, o.g.LocalName, gr.g.LocalName)
				}
				refuse(gr, "migrated", why, fin)
				changed = true
				break
			}
		}
	}
	var todo []groupRef
	var out []rollbackRefusal
	for _, gr := range sel {
		if r, ok := refused[k(gr)]; ok {
			out = append(out, r)
		} else {
			todo = append(todo, gr)
		}
	}
	return todo, out, nil
}

// adoptUnknown returns what adopt could not tell about gr's steps or its
// account group's (see [Detail.Unknown]), "" when nothing.
func (ex *executor) adoptUnknown(gr groupRef) string {
	ids := []string{accountGroupStepID(gr.g.AccountGroupKey)}
	for _, k := range groupKinds {
		ids = append(ids, groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID))
	}
	var out []string
	for _, id := range ids {
		if v := ex.view(id); v != nil && v.State != "" && v.Detail.Unknown != "" && !slices.Contains(out, v.Detail.Unknown) {
			out = append(out, v.Detail.Unknown)
		}
	}
	return strings.Join(out, "; nor ")
}

// groupTouched reports whether rollback has anything of gr to undo (or
// to refuse): a step of apply that started, or a finalize.
func (ex *executor) groupTouched(gr groupRef) bool {
	for _, k := range append(slices.Clone(groupKinds), KindDeleteBackup) {
		if v := ex.view(groupStepID(k, gr.ws.WorkspaceID, gr.g.LocalID)); v != nil && v.State != "" {
			return true
		}
	}
	return false
}

// containing returns the migrated groups of gr's workspace whose account
// group has gr's account group as a direct member.
func (ex *executor) containing(groups []groupRef, gr groupRef) []groupRef {
	var out []groupRef
	for _, p := range groups {
		if p.ws.WorkspaceID != gr.ws.WorkspaceID || p.g.LocalID == gr.g.LocalID {
			continue
		}
		if pag := findAG(ex.plan, p.g.AccountGroupKey); slices.ContainsFunc(pag.Members, func(m Member) bool { return m.GroupKey == gr.g.AccountGroupKey }) {
			out = append(out, p)
		}
	}
	return out
}

// nestedIn returns the migrated groups of gr's workspace nested in gr,
// directly or deeper, through the plan's account groups.
func (ex *executor) nestedIn(groups []groupRef, gr groupRef) []groupRef {
	var out []groupRef
	seen := map[string]bool{gr.g.LocalID: true}
	queue := []groupRef{gr}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		ag := findAG(ex.plan, cur.g.AccountGroupKey)
		for _, c := range groups {
			if c.ws.WorkspaceID != gr.ws.WorkspaceID || seen[c.g.LocalID] {
				continue
			}
			if slices.ContainsFunc(ag.Members, func(m Member) bool { return m.GroupKey != "" && m.GroupKey == c.g.AccountGroupKey }) {
				seen[c.g.LocalID] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}
