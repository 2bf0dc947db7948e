package handover

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
)

// TestDeactivateRemovesDirectAssignmentsAndRollbackRestores: with
// --deactivate, a leaver's direct workspace assignment is removed after
// the deactivation; its tokens then answer 401; rollback reactivates it and
// puts the assignment back with its permissions.
func TestDeactivateRemovesDirectAssignmentsAndRollbackRestores(t *testing.T) {
	srv := newProdBoundServer(t)
	d, stdout, stderr := deps(srv)
	ctx := context.Background()
	sess, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := sess.Account()
	// The user token's user, with a direct ADMIN assignment to acme-prod.
	user := sandboxUser(t, srv)
	if _, err := acct.PutAssignment(ctx, wsProd, user.id, []string{"ADMIN"}); err != nil {
		t.Fatal(err)
	}
	before := srv.Snapshot()
	plan, p := demoPlan(t, srv, func(o *PlanOptions) {
		o.From = []string{"user:" + user.name}
		o.To, o.MapFile = "user:"+dana, ""
		o.Deactivate = true
		o.Workspaces = []string{"acme-prod"}
	})
	var unassign *Change
	for i, c := range p.Changes {
		if c.Action == ActionUnassign {
			unassign = &p.Changes[i]
		}
	}
	if unassign == nil || unassign.WorkspaceID != wsProd || !slices.Equal(unassign.Permissions, []string{"ADMIN"}) {
		t.Fatalf("no unassignment of the ADMIN assignment in %v", changeIDs(p))
	}
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	as, _ := acct.ListAssignments(ctx, wsProd)
	for _, a := range as {
		if a.Principal.PrincipalID == user.id {
			t.Errorf("the direct assignment is still there: %+v", a)
		}
	}
	diff := strings.Join(sandbox.Diff(before, srv.Snapshot()), "\n")
	if !strings.Contains(diff, "active=false") {
		t.Errorf("not deactivated:\n%s", diff)
	}
	if code := userTokenStatus(t, srv); code != 401 {
		t.Errorf("the deactivated user's token answers %d, want 401", code)
	}
	if err := RunRollback(ctx, ApplyOptions{JournalDir: journal.DefaultDir(plan), Yes: true}, d); err != nil {
		t.Fatalf("rollback: %v\n%s", err, stdout)
	}
	if d := sandbox.Diff(before, srv.Snapshot()); len(d) > 0 {
		t.Errorf("rollback left:\n%s", strings.Join(d, "\n"))
	}
	if code := userTokenStatus(t, srv); code != 200 {
		t.Errorf("the reactivated user's token answers %d, want 200", code)
	}
}

// TestServicePrincipalLeaves: a service principal hands its run-as job
// over to a user and is deactivated as a service principal.
func TestServicePrincipalLeaves(t *testing.T) {
	srv := newServer(t)
	const legacySync = "9fb55830-adf5-42b4-b690-b9ff350956ee"
	plan, p := demoPlan(t, srv, func(o *PlanOptions) {
		o.From = []string{"service-principal:" + legacySync}
		o.To, o.MapFile = "user:"+dana, ""
		o.Deactivate, o.RevokeTokens = true, true
	})
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Kind+"/"+c.Action)
	}
	for _, want := range []string{"job/run-as", "identity/deactivate", "token/revoke"} {
		if !slices.Contains(got, want) {
			t.Errorf("plan lacks %s: %v", want, got)
		}
	}
	d, stdout, stderr := deps(srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	st := srv.Snapshot()
	for _, sp := range st.ServicePrincipals {
		if sp.ApplicationID == legacySync && sp.Active {
			t.Error("the service principal is still active")
		}
	}
	if err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Errorf("verify: %v\n%s", err, stdout)
	}
}
