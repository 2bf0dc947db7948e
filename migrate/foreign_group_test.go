package migrate

import (
	"context"
	"errors"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestForeignAccountGroupIsNeverAdoptedOrDeleted: after the plan, someone
// else creates an account group with a name the plan means to create.
// Apply refuses it (stale plan); neither a second apply nor a rollback may
// then treat that group as dbiam's: the second apply must not add members
// to it, and rollback must not delete it.
func TestForeignAccountGroupIsNeverAdoptedOrDeleted(t *testing.T) {
	for _, runs := range []int{1, 2} {
		t.Run(itoa(runs)+" applies", func(t *testing.T) { foreignAccountGroup(t, runs) })
	}
}

func foreignAccountGroup(t *testing.T, runs int) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{Groups: []string{"oncall-primary"}})
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.AccountGroups) != 1 || p.AccountGroups[0].ExistingID != "" {
		t.Fatalf("plan: want one account group to create, got %+v", p.AccountGroups)
	}
	name := p.AccountGroups[0].DisplayName
	ctx := context.Background()
	remote := sandboxRemote(t, srv, plan)
	foreign, err := remote.CreateAccountGroup(ctx, scim.Group{DisplayName: name, Schemas: []string{scim.SchemaGroup},
		Members: []scim.ComplexValue{{Value: "1100000000000100"}}})
	if err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= runs; run++ {
		d, stdout, stderr := sandboxDeps(t, srv)
		err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d)
		var pe *PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("apply run %d: %v, want a partial failure (stale plan)\n%s\n%s", run, err, stdout, stderr)
		}
		g, err := remote.AccountGroup(ctx, foreign.ID)
		if err != nil {
			t.Fatalf("after apply run %d: %v", run, err)
		}
		if len(g.Members) != 1 || g.Members[0].Value != "1100000000000100" {
			t.Fatalf("apply run %d changed the members of the foreign account group %q: %v", run, name, g.Members)
		}
	}

	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	if _, err := remote.AccountGroup(ctx, foreign.ID); err != nil {
		t.Fatalf("rollback deleted the account group %q that dbiam did not create: %v\n%s", name, err, stdout)
	}
}

// TestStaleReusedGroupStaysStaleOnResume: a reused account group whose
// members changed after the plan stops its groups; running apply again
// (as one does after a failure) must not lift that precondition and add
// members to it.
func TestStaleReusedGroupStaysStaleOnResume(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{OnConflict: PolicyMerge})
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	var reused *AccountGroupPlan
	for i := range p.AccountGroups {
		if p.AccountGroups[i].ExistingID != "" {
			reused = &p.AccountGroups[i]
			break
		}
	}
	if reused == nil {
		t.Fatal("the merge plan of the default seed reuses no account group")
	}
	ctx := context.Background()
	remote := sandboxRemote(t, srv, plan)
	const outsider = "1100000000000100"
	if err := remote.AddAccountGroupMembers(ctx, reused.ExistingID, []string{outsider}); err != nil {
		t.Fatal(err)
	}
	before, err := remote.AccountGroup(ctx, reused.ExistingID)
	if err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		d, stdout, stderr := sandboxDeps(t, srv)
		err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d)
		var pe *PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("apply run %d: %v, want a partial failure (stale plan)\n%s\n%s", run, err, stdout, stderr)
		}
		after, err := remote.AccountGroup(ctx, reused.ExistingID)
		if err != nil {
			t.Fatal(err)
		}
		if MembersDigest(after.Members) != MembersDigest(before.Members) {
			t.Fatalf("apply run %d changed the members of the stale reused account group %q: %v, was %v", run, reused.DisplayName, after.Members, before.Members)
		}
	}
}
