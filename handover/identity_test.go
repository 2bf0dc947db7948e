package handover

import (
	"context"
	"errors"
	"slices"
	"strconv"
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

// TestRollbackQuestionSaysEverything: the rollback question (and its
// refusal off a terminal) says everything rollback will do: reactivate the
// deactivated identity, by name, restore its direct workspace assignment,
// put back the object changes (restarting a running cluster), and that the
// revoked tokens cannot come back. Answered "no", nothing is sent. Before,
// it said only "put back every change apply made", not the reactivation.
func TestRollbackQuestionSaysEverything(t *testing.T) {
	srv := newProdBoundServer(t)
	d, stdout, stderr := deps(srv)
	ctx := context.Background()
	sess, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := sess.Account()
	user := sandboxUser(t, srv)
	if _, err := acct.PutAssignment(ctx, wsProd, user.id, []string{"ADMIN"}); err != nil {
		t.Fatal(err)
	}
	plan, p := demoPlan(t, srv, func(o *PlanOptions) {
		o.From = []string{"user:" + user.name, "user:" + elena}
		o.Deactivate, o.RevokeTokens = true, true
		o.Workspaces = []string{"acme-prod"}
	})
	tokens, clusters := 0, map[string]bool{}
	for _, c := range p.Changes {
		switch {
		case c.Action == ActionRevoke:
			tokens++
		case c.Kind == KindCluster:
			clusters[c.ObjectID] = true
		}
	}
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	objects, _, _, _ := planCounts(p)
	wants := []string{
		"Rollback will reactivate 2 identities at account level (", "user:" + user.name, "user:" + elena,
		"restore 1 direct workspace assignment in 1 workspace",
		"then put back " + strconv.Itoa(objects) + " object changes in 1 workspace of account " + srv.AccountID(),
		"restarting each of " + strconv.Itoa(len(clusters)) + " clusters that is running (once)",
		strconv.Itoa(tokens) + " tokens revoked by apply cannot come back (IRREVERSIBLE)",
	}
	jdir := journal.DefaultDir(plan)
	srv.ResetStats()
	err = RunRollback(ctx, ApplyOptions{JournalDir: jdir}, d)
	if !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("rollback off a terminal: %v", err)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rollback off a terminal:\n%v\nlacks %q", err, want)
		}
	}
	stderr.Reset()
	d.Streams.In = strings.NewReader("no\n")
	if err := RunRollback(ctx, ApplyOptions{JournalDir: jdir, Terminal: true}, d); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("rollback answered no: %v", err)
	}
	for _, want := range wants {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("rollback question:\n%s\nlacks %q", stderr, want)
		}
	}
	if n := nonGET(srv); n != 0 {
		t.Errorf("a refused rollback sent %d writes", n)
	}
	if tokens == 0 {
		t.Error("the plan revokes no token: the test does not see the irreversible part")
	}
}
