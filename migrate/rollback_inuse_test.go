package migrate

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestRollbackKeepsAccountGroupInUse: an account group dbiam created that
// others have since assigned to another workspace, or given other members,
// is kept by rollback (reported as failed, exit code 2) until --force.
func TestRollbackKeepsAccountGroupInUse(t *testing.T) {
	a := applyDefault(t)
	ctx := context.Background()
	jdir := DefaultJournalDir(a.plan)
	ws, g, ag, id := a.group(t, "acme-prod", "scim-synced")
	other := findWorkspace(t, a.p, "acme-analytics")

	rollback := func(force bool) (string, error) {
		t.Helper()
		d, stdout, _ := sandboxDeps(t, a.srv)
		err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir, Groups: []string{"scim-synced"}, Force: force}, d)
		return stdout.String(), err
	}
	wantKept := func(out string, err error, what string) {
		t.Helper()
		var pe *PartialError
		if !errors.As(err, &pe) || pe.ExitCode() != 2 || pe.Failed != 1 {
			t.Errorf("rollback: %v, want a PartialError for 1 account group\n%s", err, out)
		}
		want := `  failed: account group "scim-synced": kept (id ` + id +
			`), not deleted: it changed since the migration: ` + what + `; deleting it would remove that access: review it, or pass --force to delete it anyway` + "\n"
		if !strings.Contains(out, want) {
			t.Errorf("rollback output lacks\n%s\ngot:\n%s", want, out)
		}
		if !hasAccountGroup(a.srv.Snapshot(), id) {
			t.Fatal("rollback deleted an account group others use")
		}
	}

	// 1. Someone assigns it to another workspace: kept; the local group
	// gets its name back all the same.
	if err := a.remote.PutAssignment(ctx, other.WorkspaceID, id, []string{scim.PermissionUser}); err != nil {
		t.Fatal(err)
	}
	out, err := rollback(false)
	wantKept(out, err, `assigned to workspaces dbiam did not assign it to: acme-analytics (`+strconv.FormatInt(other.WorkspaceID, 10)+`)`)
	if !strings.Contains(out, "Rollback: 1 groups rolled back, 0 account groups deleted or restored, 1 failed") {
		t.Errorf("rollback output:\n%s", out)
	}
	if name := localGroupName(a.srv.Snapshot(), ws.WorkspaceID, g.LocalID); name != "scim-synced" {
		t.Errorf("local group is %q after rollback, want scim-synced", name)
	}
	// Status counts the group whose rollback failed as failed (exit 2).
	{
		d, stdout, _ := sandboxDeps(t, a.srv)
		err := RunStatus(ctx, StatusOptions{JournalDir: jdir}, d)
		var pe *PartialError
		if !errors.As(err, &pe) || pe.ExitCode() != 2 || pe.Failed != 1 {
			t.Errorf("status after a failed rollback: %v, want a PartialError for 1 group\n%s", err, stdout)
		}
		if !strings.Contains(stdout.String(), "groups: "+itoa(len(activeGroups(a.p))-1)+" done, 1 failed,") ||
			!strings.Contains(stdout.String(), "\tscim-synced\tscim-synced\tfailed\tensure-account-group\t0/7\trollback: kept (id "+id+")") {
			t.Errorf("status after a failed rollback:\n%s", stdout)
		}
	}

	// 2. That assignment goes, and someone adds a member instead: kept.
	if err := a.remote.DeleteAssignment(ctx, other.WorkspaceID, id); err != nil {
		t.Fatal(err)
	}
	live, err := a.remote.AccountGroup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var extra sandbox.PrincipalState
	for _, u := range a.srv.Snapshot().Users {
		if !slices.ContainsFunc(live.Members, func(m scim.ComplexValue) bool { return m.Value == u.ID }) {
			extra = u
			break
		}
	}
	if err := a.remote.AddAccountGroupMembers(ctx, id, []string{extra.ID}); err != nil {
		t.Fatal(err)
	}
	live, err = a.remote.AccountGroup(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(live.Members, func(m scim.ComplexValue) bool { return m.Value == extra.ID })
	if i < 0 {
		t.Fatal("the sandbox did not add the member")
	}
	out, err = rollback(false)
	wantKept(out, err, `members dbiam did not set: `+orID(live.Members[i].Display, extra.ID))

	// 3. A member dbiam set leaves (the one added stays): kept.
	var set string
	for _, m := range ag.Members {
		if m.AccountID != "" {
			set = m.AccountID
			break
		}
	}
	if err := a.remote.RemoveAccountGroupMember(ctx, id, set); err != nil {
		t.Fatal(err)
	}
	out, err = rollback(false)
	wantKept(out, err, `members dbiam did not set: `+orID(live.Members[i].Display, extra.ID)+`; members dbiam set are gone: `+
		memberLabel(ag.Members[slices.IndexFunc(ag.Members, func(m Member) bool { return m.AccountID == set })]))

	// 4. --force deletes it.
	out, err = rollback(true)
	if err != nil {
		t.Fatalf("rollback --force: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Rollback: 0 groups rolled back, 1 account groups deleted or restored, 0 failed") {
		t.Errorf("rollback --force output:\n%s", out)
	}
	if hasAccountGroup(a.srv.Snapshot(), id) {
		t.Error("rollback --force kept the account group")
	}
}

func findWorkspace(t *testing.T, p *Plan, name string) *WorkspacePlan {
	t.Helper()
	for i := range p.Workspaces {
		if p.Workspaces[i].WorkspaceName == name {
			return &p.Workspaces[i]
		}
	}
	t.Fatalf("no workspace %q in the plan", name)
	return nil
}

func hasAccountGroup(st sandbox.State, id string) bool {
	return slices.ContainsFunc(st.Groups, func(g sandbox.GroupState) bool { return g.ID == id })
}

func localGroupName(st sandbox.State, ws int64, id string) string {
	for _, w := range st.Workspaces {
		if w.WorkspaceID != ws {
			continue
		}
		for _, g := range w.Groups {
			if g.ID == id {
				return g.DisplayName
			}
		}
	}
	return ""
}
