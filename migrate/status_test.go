package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
)

// statusPlan has one account group and three groups in workspace 1 (the
// third skipped by a conflict), and one group in a skipped workspace.
func statusPlan() *Plan {
	return &Plan{
		AccountGroups: []AccountGroupPlan{{Key: "ag:a", DisplayName: "a"}, {Key: "ag:b", DisplayName: "b"}},
		Workspaces: []WorkspacePlan{
			{WorkspaceID: 1, WorkspaceName: "one", Groups: []GroupPlan{
				{LocalID: "10", LocalName: "a", AccountGroupKey: "ag:a"},
				{LocalID: "11", LocalName: "b", AccountGroupKey: "ag:b"},
				{LocalID: "12", LocalName: "c", Skipped: "cycle: c -> c"},
			}},
			{WorkspaceID: 2, WorkspaceName: "two", Skipped: "not identity federated", Groups: []GroupPlan{{LocalID: "20", LocalName: "d"}}},
		},
	}
}

func TestBuildStatus(t *testing.T) {
	var recs []Record
	add := func(step string, state StepState, errText string) {
		recs = append(recs, Record{Seq: int64(len(recs) + 1), Step: step, State: state, Error: errText})
	}
	add(accountGroupStepID("ag:a"), StateDone, "")
	for _, k := range groupKinds {
		add(groupStepID(k, 1, "10"), StateDone, "")
	}
	add(accountGroupStepID("ag:b"), StateDone, "")
	add(groupStepID(KindRenameLocal, 1, "11"), StateDone, "")
	add(groupStepID(KindAssignWorkspace, 1, "11"), StateStarted, "")

	byGroup := func(rep StatusReport) map[string]GroupStatus {
		m := map[string]GroupStatus{}
		for _, g := range rep.Groups {
			m[g.Workspace+"/"+g.Group] = g
		}
		return m
	}
	rep := BuildStatus(statusPlan(), recs, false)
	g := byGroup(rep)
	if s := g["one/a"]; s.State != GroupDone || s.Done != 7 {
		t.Errorf("a: %+v", s)
	}
	if s := g["one/b"]; s.State != GroupInterrupted || s.Step != KindAssignWorkspace || s.Done != 1 {
		t.Errorf("b: %+v", s)
	}
	if s := g["one/c"]; s.State != GroupSkipped || s.Error != "cycle: c -> c" {
		t.Errorf("c: %+v", s)
	}
	if s := g["two/d"]; s.State != GroupSkipped || s.Error != "not identity federated" {
		t.Errorf("d: %+v", s)
	}
	if s := g["account/a"]; s.State != GroupDone {
		t.Errorf("account group a: %+v", s)
	}
	if rep.Totals[GroupDone] != 1 || rep.Totals[GroupInterrupted] != 1 || rep.Totals[GroupSkipped] != 2 {
		t.Errorf("totals %v", rep.Totals)
	}
	if s := byGroup(BuildStatus(statusPlan(), recs, true))["one/b"]; s.State != GroupRunning {
		t.Errorf("b while apply runs: %+v", s)
	}

	add(groupStepID(KindAssignWorkspace, 1, "11"), StateFailed, "assign: 400 boom")
	if s := byGroup(BuildStatus(statusPlan(), recs, false))["one/b"]; s.State != GroupFailed || s.Error != "assign: 400 boom" || s.Step != KindAssignWorkspace {
		t.Errorf("b failed: %+v", s)
	}
	// A group waiting for a failed account group is failed with its error.
	recs = recs[:len(recs)-4]
	add(accountGroupStepID("ag:b"), StateFailed, "saved plan is stale")
	if s := byGroup(BuildStatus(statusPlan(), recs, false))["one/b"]; s.State != GroupFailed || s.Step != KindEnsureAccountGroup || s.Error != "saved plan is stale" {
		t.Errorf("b after its account group failed: %+v", s)
	}
}

func TestRunStatusOutputAndExitCode(t *testing.T) {
	f := newFakeRemote(t)
	dir := t.TempDir()
	plan := fakePlan(t, f, dir, 2)
	f.ws["10"].Members = nil // drift: apply fails the group
	d, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, d); err == nil {
		t.Fatal("apply of a stale group succeeded")
	}
	io, stdout, _ := reports.Test()
	err := RunStatus(context.Background(), StatusOptions{JournalDir: DefaultJournalDir(plan)}, Deps{Streams: io})
	var pe *PartialError
	if !errors.As(err, &pe) || pe.ExitCode() != 2 {
		t.Fatalf("status: %v, want PartialError (exit 2)", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	wantRows := []string{
		"workspace\tgroup\taccount group\tstate\tstep\tdone\terror",
		"account\teng\teng\tdone\tensure-account-group\t1/1\t",
		"one (1)\teng\teng\tfailed\trename-local\t0/7\tsaved plan is stale: group \"eng\" in workspace one (1) changed after the plan was created (members differ); run \"dbiam migrate plan\" again",
		"groups: 0 done, 1 failed, 0 interrupted, 0 pending, 0 skipped, 0 rolled back, 0 finalized",
	}
	if strings.Join(lines, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("status output:\n%s\nwant:\n%s", stdout, strings.Join(wantRows, "\n"))
	}
}

func TestRunStatusErrors(t *testing.T) {
	io, _, _ := reports.Test()
	d := Deps{Streams: io}
	if err := RunStatus(context.Background(), StatusOptions{}, d); err == nil || !strings.Contains(err.Error(), "--journal is required") {
		t.Errorf("no journal flag: %v", err)
	}
	if err := RunStatus(context.Background(), StatusOptions{JournalDir: t.TempDir()}, d); !errors.Is(err, journal.ErrNoJournal) {
		t.Errorf("empty directory: %v, want journal.ErrNoJournal", err)
	}
	// A journal whose plan copy was edited is refused.
	f := newFakeRemote(t)
	plan := fakePlan(t, f, t.TempDir(), 1)
	fd, _ := fakeDeps()
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan, Remote: f}, fd); err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(DefaultJournalDir(plan), journal.PlanFileName)
	b, _ := os.ReadFile(cp)
	if err := os.WriteFile(cp, append(b, ' '), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := RunStatus(context.Background(), StatusOptions{JournalDir: DefaultJournalDir(plan)}, d); !errors.Is(err, journal.ErrMismatch) {
		t.Errorf("edited plan copy: %v, want journal.ErrMismatch", err)
	}
}

// TestBuildStatusNextStepAndUndoFailures: a pending group shows its first
// step not done; failed rollback (undo) and finalize steps recorded in the
// journal make their group failed.
func TestBuildStatusNextStepAndUndoFailures(t *testing.T) {
	var recs []Record
	add := func(step string, state StepState, errText string) {
		recs = append(recs, Record{Seq: int64(len(recs) + 1), Step: step, State: state, Error: errText})
	}
	group := func(name string) GroupStatus {
		t.Helper()
		for _, g := range BuildStatus(statusPlan(), recs, false).Groups {
			if g.Workspace+"/"+g.Group == name {
				return g
			}
		}
		t.Fatalf("no status row %s", name)
		return GroupStatus{}
	}
	add(accountGroupStepID("ag:a"), StateDone, "")
	add(accountGroupStepID("ag:b"), StateDone, "")
	if s := group("one/a"); s.State != GroupPending || s.Step != KindRenameLocal || s.Done != 0 {
		t.Errorf("a before any step: %+v, want pending rename-local", s)
	}
	add(groupStepID(KindRenameLocal, 1, "10"), StateDone, "")
	if s := group("one/a"); s.State != GroupPending || s.Step != KindAssignWorkspace || s.Done != 1 {
		t.Errorf("a after its rename: %+v, want pending assign-workspace 1/7", s)
	}
	for _, k := range groupKinds[1:] {
		add(groupStepID(k, 1, "10"), StateDone, "")
		add(groupStepID(k, 1, "11"), StateDone, "")
	}
	add(groupStepID(KindRenameLocal, 1, "11"), StateDone, "")

	// A failed undo of a step (rollback) fails the group.
	add(UndoStepID(groupStepID(KindMigrateSecretACLs, 1, "10")), StateFailed, "delete acl: 500")
	if s := group("one/a"); s.State != GroupFailed || s.Step != KindMigrateSecretACLs || s.Error != "rollback: delete acl: 500" {
		t.Errorf("a after a failed rollback: %+v", s)
	}
	rep := BuildStatus(statusPlan(), recs, false)
	if rep.Totals[GroupFailed] != 1 || rep.Totals[GroupDone] != 1 {
		t.Errorf("totals %v, want 1 failed, 1 done", rep.Totals)
	}
	// A rollback that then succeeds clears it.
	for _, k := range undoKinds {
		add(UndoStepID(groupStepID(k, 1, "10")), StateDone, "")
	}
	if s := group("one/a"); s.State != GroupPending {
		t.Errorf("a after its rollback: %+v, want pending", s)
	}
	// A kept account group (its undo failed) fails its account group row
	// and the groups mapped to it.
	add(UndoStepID(accountGroupStepID("ag:a")), StateFailed, "kept (id 7), not deleted")
	if s := group("account/a"); s.State != GroupFailed || s.Error != "rollback: kept (id 7), not deleted" {
		t.Errorf("account group a after a failed rollback: %+v", s)
	}
	if s := group("one/a"); s.State != GroupFailed || s.Step != KindEnsureAccountGroup || s.Error != "rollback: kept (id 7), not deleted" {
		t.Errorf("a after its account group's rollback failed: %+v", s)
	}
	// A failed finalize (delete-backup) fails the group.
	add(groupStepID(KindDeleteBackup, 1, "11"), StateFailed, "delete: 403")
	if s := group("one/b"); s.State != GroupFailed || s.Step != KindDeleteBackup || s.Error != "finalize: delete: 403" {
		t.Errorf("b after a failed finalize: %+v", s)
	}
}
