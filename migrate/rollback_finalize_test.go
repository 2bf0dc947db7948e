package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
)

// chainIDs are the local group ids of awkwardSeed's chain in workspace 1.
const (
	idLeaf = "5010"
	idMid  = "5011"
	idTop  = "5012"
)

// stateOutside returns st without what the chain's groups and their
// account groups are: the rest of the account, to compare with the seed.
func stateOutside(st sandbox.State, localIDs, agIDs []string) sandbox.State {
	skip := func(id string) bool { return slices.Contains(localIDs, id) || slices.Contains(agIDs, id) }
	st.Groups = slices.DeleteFunc(slices.Clone(st.Groups), func(g sandbox.GroupState) bool { return skip(g.ID) })
	ws := slices.Clone(st.Workspaces)
	for i := range ws {
		w := &ws[i]
		w.Groups = slices.DeleteFunc(slices.Clone(w.Groups), func(g sandbox.GroupState) bool { return skip(g.ID) })
		w.Assignments = slices.DeleteFunc(slices.Clone(w.Assignments), func(a sandbox.AssignmentState) bool { return skip(a.PrincipalID) })
		w.Grants = slices.DeleteFunc(slices.Clone(w.Grants), func(g sandbox.GrantState) bool { return skip(g.PrincipalID) })
		w.SecretACLs = slices.DeleteFunc(slices.Clone(w.SecretACLs), func(a sandbox.SecretACLState) bool { return skip(a.PrincipalID) })
		ents, roles := map[string][]string{}, map[string][]string{}
		for k, v := range w.Entitlements {
			if !skip(k) {
				ents[k] = v
			}
		}
		for k, v := range w.Roles {
			if !skip(k) {
				roles[k] = v
			}
		}
		w.Entitlements, w.Roles = ents, roles
	}
	st.Workspaces = ws
	return st
}

// chainAccountIDs returns the ids of the chain's account groups from the
// journal.
func chainAccountIDs(t *testing.T, plan string) []string {
	t.Helper()
	p := mustPlan(t, plan)
	_, recs, err := ReadJournal(DefaultJournalDir(plan))
	if err != nil {
		t.Fatal(err)
	}
	views := Replay(recs)
	var out []string
	for _, name := range []string{nameTop, nameMid, nameLeaf} {
		for _, ag := range p.AccountGroups {
			if ag.DisplayName == name {
				out = append(out, views[accountGroupStepID(ag.Key)].Detail.AccountGroupID)
			}
		}
	}
	return out
}

// checkChainMigrated checks that the chain is in its migrated state: its
// account groups exist with their members, and the backups of mid and
// leaf exist under their backup names (top's backup, finalized, is gone).
func checkChainMigrated(t *testing.T, srv *sandbox.Server, agIDs []string) {
	t.Helper()
	st := srv.Snapshot()
	for i, id := range agIDs {
		if !hasAccountGroup(st, id) {
			t.Errorf("account group %d of the chain (id %s) was deleted", i, id)
		}
	}
	top := slices.IndexFunc(st.Groups, func(g sandbox.GroupState) bool { return g.ID == agIDs[0] })
	if top >= 0 && !slices.Contains(st.Groups[top].Members, agIDs[1]) {
		t.Errorf("account group %q lost its nested group %q: %v", nameTop, nameMid, st.Groups[top].Members)
	}
	if hasLocalGroup(st, awkWS1, idTop) {
		t.Errorf("the finalized backup of %q exists again", nameTop)
	}
	for id, name := range map[string]string{idMid: DefaultBackupPrefix + nameMid, idLeaf: DefaultBackupPrefix + nameLeaf} {
		if got := localGroupName(st, awkWS1, id); got != name {
			t.Errorf("local group %s is %q, want %q", id, got, name)
		}
	}
}

// TestFinalizeRefusesAChildBeforeItsParent: finalize of a group nested in
// a migrated group that is not finalized keeps its backup (deleting it
// would take its members out of the parent's backup, which rollback could
// then not restore); parents and children finalized together go, parents
// first.
func TestFinalizeRefusesAChildBeforeItsParent(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(plan)
	for _, child := range []string{nameMid, nameLeaf} {
		d, stdout, _ = sandboxDeps(t, srv)
		err := RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Groups: []string{child}, Yes: true}, d)
		var pe *PartialError
		if !errors.As(err, &pe) || pe.Failed != 1 {
			t.Fatalf("finalize --group %q: %v, want a PartialError for 1 group\n%s", child, err, stdout)
		}
		if !strings.Contains(stdout.String(), "Finalize: 0 backup groups deleted, 1 kept") || !strings.Contains(stdout.String(), "which is not finalized") {
			t.Errorf("finalize --group %q:\n%s", child, stdout)
		}
	}
	st := srv.Snapshot()
	for _, id := range []string{idTop, idMid, idLeaf} {
		if !hasLocalGroup(st, awkWS1, id) {
			t.Errorf("finalize of a child deleted backup %s", id)
		}
	}
	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Groups: []string{nameLeaf, nameMid, nameTop}, Yes: true}, d); err != nil {
		t.Fatalf("finalize of the whole chain: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "Finalize: 3 backup groups deleted, 0 kept") {
		t.Errorf("finalize of the whole chain:\n%s", stdout)
	}
}

// TestRollbackAfterPartialFinalize: after finalize of the chain's top
// group, rollback restores every other group exactly and refuses, before
// any change, the finalized group and the groups nested in it (their
// account groups stay, with their members); the refusals are reported,
// journaled, and counted by status (exit 2).
func TestRollbackAfterPartialFinalize(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(plan)
	agIDs := chainAccountIDs(t, plan)
	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Groups: []string{nameTop}, Yes: true}, d); err != nil {
		t.Fatalf("finalize --group top: %v\n%s", err, stdout)
	}
	d, stdout, stderr = sandboxDeps(t, srv)
	err := RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 3 {
		t.Fatalf("rollback: %v, want a PartialError for the 3 groups of the chain\n%s\n%s", err, stdout, stderr)
	}
	total := len(activeGroups(mustPlan(t, plan)))
	for _, want := range []string{
		"Rollback: " + itoa(total-3) + " groups rolled back, ",
		`failed: group "L1 \"top\" ]" in workspace prod ws (7001): not rolled back, it stays migrated (finalized): finalize deleted its backup group "db-temp-L1 \"top\" ]"`,
		`failed: group "L2 eq mid" in workspace prod ws (7001): not rolled back, it stays migrated: account group "L2 eq mid" is a member of account group "L1 \"top\" ]", which stays assigned to workspace prod ws and keeps the name "L2 eq mid" taken there; finalize deleted the backup group of "L1 \"top\" ]" there, so it cannot be rolled back, and neither can "L2 eq mid"`,
		`failed: group " L3 🚀 leaf" in workspace prod ws (7001): not rolled back, it stays migrated: account group " L3 🚀 leaf" is a member of account group "L2 eq mid", which stays assigned to workspace prod ws and keeps the name " L3 🚀 leaf" taken there; "L2 eq mid" cannot be rolled back either (finalize deleted the backup group of a group it is nested in), so neither can " L3 🚀 leaf"`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("rollback output lacks %q:\n%s", want, stdout)
		}
	}
	// Only the top of the chain was finalized: no line may say that
	// finalize deleted the backup of "L2 eq mid".
	if bad := `finalize deleted the backup group of "L2 eq mid"`; strings.Contains(stdout.String(), bad) {
		t.Errorf("rollback output says %q, but only %q was finalized:\n%s", bad, nameTop, stdout)
	}
	checkChainMigrated(t, srv, agIDs)
	chain := []string{idTop, idMid, idLeaf}
	if got, want := snapshotJSON(t, stateOutside(srv.Snapshot(), chain, agIDs)), snapshotJSON(t, stateOutside(seed, chain, agIDs)); got != want {
		t.Errorf("the groups outside the chain are not exactly as before apply:\n%s", diffLines(want, got))
	}

	// Status counts the refused groups as failed (exit 2), saying so.
	d, stdout, _ = sandboxDeps(t, srv)
	err = RunStatus(ctx, StatusOptions{JournalDir: jdir}, d)
	if !errors.As(err, &pe) || pe.Failed != 3 {
		t.Errorf("status after a refused rollback: %v, want a PartialError for 3 groups\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "\tfailed\trename-local\t7/7\trollback: refused before any change: the group stays migrated (finalized): ") {
		t.Errorf("status does not show the refusal:\n%s", stdout)
	}
}

// TestRollbackRefusesAParentWhoseChildWasFinalized: a journal in which a
// nested group was finalized before its parent (as dbiam used to allow):
// rollback must not restore the parent without that group's members, nor
// delete the parent's account group that contains it. It refuses the
// parent, the finalized group and the group nested in it, before any
// change, and restores the rest exactly.
func TestRollbackRefusesAParentWhoseChildWasFinalized(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(plan)
	agIDs := chainAccountIDs(t, plan)
	// Finalize the middle group the way an older dbiam did: delete its
	// backup and journal it.
	j, err := journal.Open[Payload](jdir, journal.Header{PlanSHA256: mustJournalHeader(t, jdir).PlanSHA256}, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record{Step: groupStepID(KindDeleteBackup, awkWS1, idMid), State: StateStarted, Data: Payload{Kind: KindDeleteBackup, WorkspaceID: awkWS1,
		Group: nameMid, Detail: &Detail{PreviousName: DefaultBackupPrefix + nameMid}}}); err != nil {
		t.Fatal(err)
	}
	if err := sandboxRemote(t, srv, plan).DeleteWorkspaceGroup(ctx, awkWS1, idMid); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record{Step: groupStepID(KindDeleteBackup, awkWS1, idMid), State: StateDone, Data: Payload{Kind: KindDeleteBackup, WorkspaceID: awkWS1,
		Group: nameMid}}); err != nil {
		t.Fatal(err)
	}
	j.Close()

	d, stdout, stderr = sandboxDeps(t, srv)
	err = RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 3 {
		t.Fatalf("rollback: %v, want a PartialError for the 3 groups of the chain\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), `failed: group "L1 \"top\" ]" in workspace prod ws (7001): not rolled back, it stays migrated: group "L2 eq mid" (workspace prod ws) nested in it was finalized`) {
		t.Errorf("rollback does not refuse the parent of the finalized group:\n%s", stdout)
	}
	if strings.Contains(stderr.String(), `rolled back group workspace="prod ws" workspace_id=7001 group="L1 \"top\" ]"`) {
		t.Errorf("rollback reports the parent as rolled back:\n%s", stderr)
	}
	st := srv.Snapshot()
	for i, id := range agIDs {
		if !hasAccountGroup(st, id) {
			t.Errorf("account group %d of the chain (id %s) was deleted", i, id)
		}
	}
	if got := localGroupName(st, awkWS1, idTop); got != DefaultBackupPrefix+nameTop {
		t.Errorf("the parent's local group is %q: rollback touched it", got)
	}
	chain := []string{idTop, idMid, idLeaf}
	if got, want := snapshotJSON(t, stateOutside(st, chain, agIDs)), snapshotJSON(t, stateOutside(seed, chain, agIDs)); got != want {
		t.Errorf("the groups outside the chain are not exactly as before apply:\n%s", diffLines(want, got))
	}
}

func mustJournalHeader(t *testing.T, dir string) journal.Header {
	t.Helper()
	h, _, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRollbackRefusalWithMappedNames: the chain mapped to account groups of
// other names ("top acct", "mid acct"), its top finalized. Rollback refuses
// the chain; its reasons name the backup of the local group finalize
// deleted ("L1 \"top\" ]", not the account group "top acct"), and say that
// a name stays taken only where the account group has the local group's
// name (" L3 🚀 leaf"), not of "L2 eq mid", whose account group is "mid
// acct".
func TestRollbackRefusalWithMappedNames(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	dir := t.TempDir()
	mapping := filepath.Join(dir, "map.csv")
	csv := "workspace,local_group,account_group\n" +
		awkWS1Name + `,"L1 ""top"" ]",top acct` + "\n" +
		awkWS1Name + ",L2 eq mid,mid acct\n" +
		awkWS1Name + ", L3 🚀 leaf, L3 🚀 leaf\n"
	if err := os.WriteFile(mapping, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := makePlan(t, srv, dir, PlanOptions{Match: MatchMapping, MappingFile: mapping})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	jdir := DefaultJournalDir(plan)
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Groups: []string{nameTop}, Yes: true}, d); err != nil {
		t.Fatalf("finalize --group top: %v\n%s\n%s", err, stdout, stderr)
	}
	d, stdout, stderr = sandboxDeps(t, srv)
	err := RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 3 {
		t.Fatalf("rollback: %v, want a PartialError for the 3 groups of the chain\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{
		`failed: group "L2 eq mid" in workspace prod ws (7001): not rolled back, it stays migrated: account group "mid acct" is a member of account group "top acct", which stays assigned to workspace prod ws; finalize deleted the backup group of "L1 \"top\" ]" there, so it cannot be rolled back, and neither can "L2 eq mid"` + "\n",
		`failed: group " L3 🚀 leaf" in workspace prod ws (7001): not rolled back, it stays migrated: account group " L3 🚀 leaf" is a member of account group "mid acct", which stays assigned to workspace prod ws and keeps the name " L3 🚀 leaf" taken there; "L2 eq mid" cannot be rolled back either (finalize deleted the backup group of a group it is nested in), so neither can " L3 🚀 leaf"` + "\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("rollback output lacks %q:\n%s", want, stdout)
		}
	}
}
