package migrate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestConfirmation: apply, finalize and rollback show what they will
// change per workspace and ask on a terminal (only "yes" goes on); off a
// terminal they refuse without --yes. Refused or declined, nothing
// changes and apply creates no journal directory. A dry run, or a run with
// nothing left to do, asks nothing.
func TestConfirmation(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	seed := snapshotJSON(t, srv.Snapshot())
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	jdir := DefaultJournalDir(plan)
	ctx := context.Background()
	terminal := func(answer string) (Deps, *bytes.Buffer, *bytes.Buffer) {
		d, stdout, stderr := sandboxDeps(t, srv)
		d.Streams.SetStdinTTY(true)
		d.Streams.In = strings.NewReader(answer)
		return d, stdout, stderr
	}
	unchanged := func(t *testing.T, what string) {
		t.Helper()
		if got := snapshotJSON(t, srv.Snapshot()); got != seed {
			t.Fatalf("%s changed the account:\n%s", what, diffLines(seed, got))
		}
	}

	// Off a terminal, without --yes: refused before the journal exists.
	d, _, _ := sandboxDeps(t, srv)
	err := RunApply(ctx, ApplyOptions{PlanPath: plan}, d)
	if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "pass --yes") ||
		!strings.Contains(err.Error(), "workspace prod ws (7001): migrate 12 local groups") ||
		!strings.Contains(err.Error(), "workspace Prod WS (7002): migrate 3 local groups") {
		t.Errorf("apply off a terminal: %v", err)
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		t.Errorf("a refusal is exit code 1, not %v", err)
	}
	if _, serr := os.Stat(jdir); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("refused apply created the journal directory")
	}
	unchanged(t, "apply off a terminal")

	// On a terminal: the question shows per-workspace counts; "no" (or
	// "y") declines.
	for _, answer := range []string{"no\n", "y\n", ""} {
		d, _, stderr := terminal(answer)
		err := RunApply(ctx, ApplyOptions{PlanPath: plan}, d)
		if !errors.Is(err, ErrNotConfirmed) && !(answer == "" && err != nil) {
			t.Errorf("apply answered %q: %v", answer, err)
		}
		for _, want := range []string{
			"migrate apply will change account " + srv.AccountID() + ":\n",
			"  account: create 13 account groups with their members\n",
			"  workspace prod ws (7001): migrate 12 local groups",
			"Do you want to apply these changes? Only 'yes' will be accepted: ",
		} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("the question lacks %q:\n%s", want, stderr)
			}
		}
		if _, serr := os.Stat(jdir); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("declined apply created the journal directory")
		}
	}
	unchanged(t, "declined apply")

	// A dry run needs no confirmation.
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, DryRun: true}, d); err != nil {
		t.Fatalf("dry run: %v\n%s\n%s", err, stdout, stderr)
	}
	d, stdout, stderr = terminal("yes\n")
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("confirmed apply: %v\n%s\n%s", err, stdout, stderr)
	}
	// Nothing left to do: no question, even off a terminal.
	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("apply with nothing left: %v\n%s\n%s", err, stdout, stderr)
	}
	applied := snapshotJSON(t, srv.Snapshot())

	for _, run := range []struct {
		name, want string
		fn         func(Deps) error
	}{
		{"finalize", "workspace prod ws (7001): delete up to 12 backup groups", func(d Deps) error {
			return RunFinalize(ctx, FinalizeOptions{JournalDir: jdir}, d)
		}},
		{"rollback", "workspace prod ws (7001): roll back up to 12 local groups", func(d Deps) error {
			return RunRollback(ctx, RollbackOptions{JournalDir: jdir}, d)
		}},
	} {
		d, _, _ := sandboxDeps(t, srv)
		if err := run.fn(d); !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), run.want) {
			t.Errorf("%s off a terminal: %v, want a refusal naming %q", run.name, err, run.want)
		}
		d, _, stderr := terminal("nope\n")
		if err := run.fn(d); !errors.Is(err, ErrNotConfirmed) || !strings.Contains(stderr.String(), run.want) {
			t.Errorf("%s declined: %v\n%s", run.name, err, stderr)
		}
	}
	if got := snapshotJSON(t, srv.Snapshot()); got != applied {
		t.Fatalf("refused finalize or rollback changed the account:\n%s", diffLines(applied, got))
	}
	d, stdout, stderr = terminal("yes\n")
	if err := RunRollback(ctx, RollbackOptions{JournalDir: jdir}, d); err != nil {
		t.Fatalf("confirmed rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	unchanged(t, "apply then rollback")
}

// TestCanaryApply: apply --workspace/--group migrates only the selected
// groups; a selection that leaves out a nested group it needs is refused
// before any change, naming what to add; a later apply without them goes
// on with the rest.
func TestCanaryApply(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	total := len(activeGroups(mustPlan(t, plan)))
	apply := func(o ApplyOptions) (string, error) {
		t.Helper()
		o.PlanPath, o.Yes = plan, true
		d, stdout, stderr := sandboxDeps(t, srv)
		err := RunApply(ctx, o, d)
		return stdout.String() + stderr.String(), err
	}
	seed := snapshotJSON(t, srv.Snapshot())
	for _, tc := range []struct {
		o    ApplyOptions
		want string
	}{
		{ApplyOptions{Groups: []string{nameMid}}, `apply: group "L2 eq mid" in workspace prod ws needs " L3 🚀 leaf", which is nested in it and is not migrated yet: add --group " L3 🚀 leaf"`},
		{ApplyOptions{Workspaces: []string{"Prod  WS"}}, `flag --workspace "Prod  WS": no workspace of the plan with groups to migrate (by name or id) has this name (names are matched exactly, spaces and case included); closest: "Prod WS" (workspace 7002)`},
		{ApplyOptions{Workspaces: []string{awkWS2Name}, Groups: []string{nameLeadTr}}, `flag --group "  lead and trail  ": no migrated local group or account group of the plan in the workspaces selected has this name`},
	} {
		out, err := apply(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("apply %+v: %v, want %q\n%s", tc.o, err, tc.want, out)
		}
	}
	if got := snapshotJSON(t, srv.Snapshot()); got != seed {
		t.Fatalf("a refused canary changed the account:\n%s", diffLines(seed, got))
	}
	if _, err := os.Stat(DefaultJournalDir(plan)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused canary created the journal directory")
	}

	out, err := apply(ApplyOptions{Workspaces: []string{"7002"}, Groups: []string{nameOpsSpace}})
	if err != nil {
		t.Fatalf("canary: %v\n%s", err, out)
	}
	for _, want := range []string{"Apply: 1 of 1 groups migrated (0 already done before this run)",
		"canary: 1 of the plan's " + itoa(total) + " groups were in scope"} {
		if !strings.Contains(out, want) {
			t.Errorf("canary output lacks %q:\n%s", want, out)
		}
	}
	st := srv.Snapshot()
	if got := localGroupName(st, awkWS2, "6002"); got != DefaultBackupPrefix+nameOpsSpace {
		t.Errorf("the canary group in Prod WS is %q", got)
	}
	if got := localGroupName(st, awkWS1, "5002"); got != nameOpsSpace {
		t.Errorf("the canary touched %q in prod ws: it is %q", nameOpsSpace, got)
	}
	out, err = apply(ApplyOptions{Groups: []string{nameLeaf, nameMid}})
	if err != nil || !strings.Contains(out, "Apply: 2 of 2 groups migrated") {
		t.Fatalf("canary of a nested pair: %v\n%s", err, out)
	}
	out, err = apply(ApplyOptions{})
	if err != nil || !strings.Contains(out, "Apply: "+itoa(total)+" of "+itoa(total)+" groups migrated (3 already done before this run)") {
		t.Fatalf("apply of the rest: %v\n%s", err, out)
	}
	d, stdout, _ := sandboxDeps(t, srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify after canary and rest: %v\n%s", err, stdout)
	}
}
