package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// interruptApply runs apply on plan and stops it (as Ctrl-C would) before
// journal record stop.
func interruptApply(t *testing.T, srv *sandbox.Server, plan string, stop int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beforeAppend = func(seq int64) {
		if seq == stop {
			cancel()
		}
	}
	defer func() { beforeAppend = nil }()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted apply: %v, want context.Canceled\n%s\n%s", err, stdout, stderr)
	}
}

// TestAdoptAfterLostJournal interrupts apply at a third and at two thirds
// of its journal, then loses the journal (deleted, or damaged: a record
// duplicated, refused by status with the way to adopt), rebuilds it with
// adopt from the plan (the plan file, or the copy in the damaged journal's
// directory) and the live state, and goes on from the rebuilt journal:
// apply ends in the state of an uninterrupted run and verifies; rollback
// restores the seed exactly. Under both permission routes.
func TestAdoptAfterLostJournal(t *testing.T) {
	opts := sandbox.Options{Seed: readableSeed()}
	for _, route := range []string{RouteAPI, RouteACLCopy} {
		t.Run(route, func(t *testing.T) {
			srv := sandbox.NewTestServer(t, opts)
			plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{PermissionsRoute: route}))
			want, n := referenceRunIn(t, plan, opts)
			raw, err := os.ReadFile(plan)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				stop    int64
				damaged bool // else deleted
				then    string
			}{
				{n / 3, false, "apply"},
				{2 * n / 3, true, "apply"},
				{n / 3, true, "rollback"},
				{2 * n / 3, false, "rollback"},
			} {
				lost := "deleted"
				if tc.damaged {
					lost = "damaged"
				}
				t.Run(fmt.Sprintf("%s at record %d then %s", lost, tc.stop, tc.then), func(t *testing.T) {
					srv := sandbox.NewTestServer(t, opts)
					seed := srv.Snapshot()
					p := filepath.Join(t.TempDir(), "plan.json")
					if err := os.WriteFile(p, raw, 0o600); err != nil {
						t.Fatal(err)
					}
					interruptApply(t, srv, p, tc.stop)
					old := DefaultJournalDir(p)
					adoptPlan := p
					ctx := context.Background()
					if tc.damaged {
						jf := journal.Path(old)
						b, err := os.ReadFile(jf)
						if err != nil {
							t.Fatal(err)
						}
						lines := strings.SplitAfter(string(b), "\n")
						dup := strings.Join(append(append(append([]string{}, lines[:3]...), lines[2]), lines[3:]...), "")
						if err := os.WriteFile(jf, []byte(dup), 0o600); err != nil {
							t.Fatal(err)
						}
						d, _, _ := sandboxDeps(t, srv)
						err = RunStatus(ctx, StatusOptions{JournalDir: old}, d)
						if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), "dbiam migrate adopt --journal NEW_DIR PLAN") {
							t.Fatalf("status of the damaged journal: %v, want it to name migrate adopt", err)
						}
						adoptPlan = journal.PlanPath(old)
					} else if err := os.RemoveAll(old); err != nil {
						t.Fatal(err)
					}
					jdir := filepath.Join(t.TempDir(), "adopted.journal")
					stdout := runAdopt(t, srv, AdoptOptions{PlanPath: adoptPlan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
					if !strings.Contains(stdout.String(), "Adopt: ") || !strings.Contains(stdout.String(), "next: pass --journal "+jdir) {
						t.Errorf("adopt's summary:\n%s", stdout)
					}
					t.Logf("adopt:\n%s", stdout)
					_, recs, err := ReadJournal(jdir)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range recs {
						if r.Data.Detail == nil || !r.Data.Detail.Adopted {
							t.Errorf("record %d (%s) is not marked adopted", r.Seq, r.Step)
						}
					}
					d, stdout, stderr := sandboxDeps(t, srv)
					if err := RunStatus(ctx, StatusOptions{JournalDir: jdir}, d); err != nil {
						t.Errorf("status of the adopted journal: %v\n%s", err, stdout)
					}

					switch tc.then {
					case "apply":
						d, stdout, stderr = sandboxDeps(t, srv)
						if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: p, JournalDir: jdir}, d); err != nil {
							t.Fatalf("apply after adopt: %v\n%s\n%s", err, stdout, stderr)
						}
						checkNoDuplicateGroups(t, srv.Snapshot())
						if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
							t.Errorf("apply after adopt differs from an uninterrupted run:\n%s", diffLines(w, g))
						}
						d, stdout, _ = sandboxDeps(t, srv)
						if err := RunVerify(ctx, VerifyOptions{PlanPath: p, JournalDir: jdir}, d); err != nil {
							t.Errorf("verify after adopt and apply: %v\n%s", err, stdout)
						}
					case "rollback":
						d, stdout, stderr = sandboxDeps(t, srv)
						if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: jdir}, d); err != nil {
							t.Fatalf("rollback after adopt: %v\n%s\n%s", err, stdout, stderr)
						}
						if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); g != w {
							t.Errorf("rollback after adopt did not restore the seed:\n%s", diffLines(w, g))
						}
					}
				})
			}
		})
	}
}

// TestAdoptAfterFinishedApply: adopt of a finished apply records every
// group migrated (each step done, with what rollback reads of it as the
// original journal says), so that apply has nothing left to do, finalize
// deletes every backup and verify then finds no difference.
func TestAdoptAfterFinishedApply(t *testing.T) {
	a := applyTreeIn(t, sandbox.Options{Seed: readableSeed()})
	ctx := context.Background()
	jdir := filepath.Join(t.TempDir(), "adopted.journal")
	stdout := runAdopt(t, a.srv, AdoptOptions{PlanPath: a.plan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
	groups := len(activeGroups(a.p))
	if want := fmt.Sprintf("%d groups migrated, 0 started, 0 not started, 0 finalized, 0 unknown", groups); !strings.Contains(stdout.String(), want) {
		t.Errorf("adopt's summary lacks %q:\n%s", want, stdout)
	}
	_, orig, err := ReadJournal(DefaultJournalDir(a.plan))
	if err != nil {
		t.Fatal(err)
	}
	_, adopted, err := ReadJournal(jdir)
	if err != nil {
		t.Fatal(err)
	}
	// What rollback reads of each step is what the original journal says.
	ov, av := Replay(orig), Replay(adopted)
	for id, v := range ov {
		w := av[id]
		if w == nil || w.State != v.State {
			t.Errorf("step %s: adopted %+v, original %s", id, w, v.State)
			continue
		}
		o, n := v.Detail, w.Detail
		if o.AccountGroupID != n.AccountGroupID || o.Created != n.Created || o.Assigned != n.Assigned || o.PreviousName != n.PreviousName ||
			strings.Join(o.Entitlements, ",") != strings.Join(n.Entitlements, ",") || strings.Join(o.Roles, ",") != strings.Join(n.Roles, ",") {
			t.Errorf("step %s: adopted detail %+v, original %+v", id, n, o)
		}
	}

	d, stdout, _ := sandboxDeps(t, a.srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: a.plan, JournalDir: jdir}, d); err != nil {
		t.Fatalf("apply after adopt: %v\n%s", err, stdout)
	}
	if want := fmt.Sprintf("Apply: %d of %d groups migrated (%d already done before this run)", groups, groups, groups); !strings.Contains(stdout.String(), want) {
		t.Errorf("apply after adopting a finished apply did something:\n%s", stdout)
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: jdir, Yes: true}, d); err != nil {
		t.Fatalf("finalize after adopt: %v\n%s", err, stdout)
	}
	for _, gr := range activeGroups(a.p) {
		if hasLocalGroup(a.srv.Snapshot(), gr.ws.WorkspaceID, gr.g.LocalID) {
			t.Errorf("finalize after adopt kept the backup of %q in workspace %s", gr.g.LocalName, gr.ws.WorkspaceName)
		}
	}
	d, stdout, _ = sandboxDeps(t, a.srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: a.plan, JournalDir: jdir}, d); err != nil {
		t.Errorf("verify after adopt and finalize: %v\n%s", err, stdout)
	}
}

// TestAdoptRefuses: adopt never writes into a directory that holds
// anything (a journal, or any file), nor over a file, and refuses while a
// run holds the plan's journal; each refusal comes before any request and
// leaves no file.
func TestAdoptRefuses(t *testing.T) {
	a := applyDefault(t)
	ctx := context.Background()
	old := DefaultJournalDir(a.plan)
	before, _ := os.ReadFile(journal.Path(old))
	stray := t.TempDir()
	if err := os.WriteFile(filepath.Join(stray, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{old, old + " already holds a journal: pass a new or empty directory to --journal"},
		{stray, stray + ` is not empty (it holds "notes.txt"): pass a new or empty directory to --journal`},
		{file, file + " is a file, not a directory: pass a new or empty directory to --journal"},
	} {
		err := RunAdopt(ctx, AdoptOptions{PlanPath: a.plan, JournalDir: tc.dir, Remote: panicRemote{}}, Deps{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("adopt into %s: %v, want %q", tc.dir, err, tc.want)
		}
	}
	if after, _ := os.ReadFile(journal.Path(old)); string(after) != string(before) {
		t.Error("adopt changed the existing journal")
	}
	if entries, _ := os.ReadDir(stray); len(entries) != 1 {
		t.Errorf("a refused adopt wrote into %s: %v", stray, entries)
	}
	lock, err := journal.AcquireLock(old, journal.LockOptions{Command: "migrate apply"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	jdir := filepath.Join(t.TempDir(), "new")
	err = RunAdopt(ctx, AdoptOptions{PlanPath: a.plan, JournalDir: jdir, Remote: panicRemote{}}, Deps{})
	if err == nil || !strings.Contains(err.Error(), "is locked by a running migrate apply") {
		t.Errorf("adopt while apply runs: %v", err)
	}
	if _, err := os.Stat(jdir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused adopt created %s: %v", jdir, err)
	}
}

// panicRemote fails a test that reaches the remote.
type panicRemote struct{ Remote }

// TestAdoptIntoAnEmptyDirectory: an existing empty directory (made ahead
// by an operator) is filled, and the adopted journal is the whole
// journal.
func TestAdoptIntoAnEmptyDirectory(t *testing.T) {
	a := applyDefault(t)
	jdir := t.TempDir()
	runAdopt(t, a.srv, AdoptOptions{PlanPath: a.plan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
	_, recs, err := ReadJournal(jdir)
	if err != nil || len(recs) == 0 {
		t.Fatalf("adopted journal in an empty directory: %d records, %v", len(recs), err)
	}
}

// noSleep is a wait that returns at once.
func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// runAdopt runs adopt on srv and checks what every adopt must do: change
// nothing remotely (see checkReadOnly), and write the journal and plan
// copy with mode 0600 in a directory of mode 0700, leaving no temporary
// directory next to it.
func runAdopt(t *testing.T, srv *sandbox.Server, opts AdoptOptions) *bytes.Buffer {
	t.Helper()
	d, stdout, stderr := sandboxDeps(t, srv)
	checkReadOnly(t, srv, func() {
		if err := RunAdopt(context.Background(), opts, d); err != nil {
			t.Fatalf("adopt: %v\n%s\n%s", err, stdout, stderr)
		}
	})
	checkAdoptedFiles(t, opts.JournalDir)
	return stdout
}

// checkReadOnly runs fn and checks that it sent srv only GET requests and
// left its state as it was.
func checkReadOnly(t *testing.T, srv *sandbox.Server, fn func()) {
	t.Helper()
	before := snapshotJSON(t, srv.Snapshot())
	srv.ResetStats()
	fn()
	st := srv.Stats()
	for _, r := range st.Requests {
		if r.Method != http.MethodGet {
			t.Errorf("adopt sent %d %s %s requests; it must only read", r.Count, r.Method, r.Route)
		}
	}
	if st.Total == 0 {
		t.Error("adopt sent no request at all")
	}
	if after := snapshotJSON(t, srv.Snapshot()); after != before {
		t.Errorf("adopt changed the remote state:\n%s", diffLines(before, after))
	}
}

// checkAdoptedFiles checks the modes of an adopted journal directory and
// that adopt left nothing else next to it.
func checkAdoptedFiles(t *testing.T, dir string) {
	t.Helper()
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, journal.Path(dir): 0o600, journal.PlanPath(dir): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".adopt-") {
			t.Errorf("adopt left %s next to the journal", e.Name())
		}
	}
}

// TestAdoptAfterPartialFinalize: apply, finalize of the top of a nested
// chain, then the journal is lost. Adopt takes the group whose backup is
// gone for finalized; rollback from the adopted journal then refuses the
// chain (the finalized group, and the groups nested in it, whose account
// groups stay members of its account group) before any change, and
// restores every other group exactly, as it does from the original
// journal (TestRollbackAfterPartialFinalize).
func TestAdoptAfterPartialFinalize(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), PlanOptions{})
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	agIDs := chainAccountIDs(t, plan)
	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunFinalize(ctx, FinalizeOptions{JournalDir: DefaultJournalDir(plan), Groups: []string{nameTop}, Yes: true}, d); err != nil {
		t.Fatalf("finalize --group top: %v\n%s", err, stdout)
	}
	if err := os.RemoveAll(DefaultJournalDir(plan)); err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(t.TempDir(), "adopted")
	stdout = runAdopt(t, srv, AdoptOptions{PlanPath: plan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
	total := len(activeGroups(mustPlan(t, plan)))
	for _, want := range []string{
		fmt.Sprintf("%d groups migrated, 0 started, 0 not started, 1 finalized, 0 unknown", total-1),
		`group "L1 \"top\" ]" in workspace prod ws (7001): the backup group (id ` + idTop + `) is gone and the account group is assigned: taken as finalized (it cannot be rolled back)`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("adopt's summary lacks %q:\n%s", want, stdout)
		}
	}

	d, stdout, stderr = sandboxDeps(t, srv)
	err := RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 3 {
		t.Fatalf("rollback: %v, want a PartialError for the 3 groups of the chain\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{
		"Rollback: " + itoa(total-3) + " groups rolled back, ",
		`failed: group "L1 \"top\" ]" in workspace prod ws (7001): not rolled back, it stays migrated (finalized): finalize deleted its backup group "db-temp-L1 \"top\" ]"`,
		`failed: group "L2 eq mid" in workspace prod ws (7001): not rolled back, it stays migrated: account group "L2 eq mid" is a member of account group "L1 \"top\" ]"`,
		`failed: group " L3 🚀 leaf" in workspace prod ws (7001): not rolled back, it stays migrated: account group " L3 🚀 leaf" is a member of account group "L2 eq mid"`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("rollback output lacks %q:\n%s", want, stdout)
		}
	}
	checkChainMigrated(t, srv, agIDs)
	chain := []string{idTop, idMid, idLeaf}
	if got, want := snapshotJSON(t, stateOutside(srv.Snapshot(), chain, agIDs)), snapshotJSON(t, stateOutside(seed, chain, agIDs)); got != want {
		t.Errorf("the groups outside the chain are not exactly as before apply:\n%s", diffLines(want, got))
	}
}

// TestAdoptWithinTheConsistencyWindow: an account group POST lands but
// its reply is lost, apply is killed while it waits for the group to be
// listed, and the journal is lost, all within the sandbox's consistency
// window, where lists do not show the group yet. Adopt waiting for lists
// to catch up finds it and records it as created (rollback then deletes
// it at once, and apply after adopt finishes and verifies); adopt told not
// to wait cannot confirm that no create landed, says so, and records a
// create that may have been sent, so that rollback still finds and
// deletes it. Neither adopt changes anything remotely.
func TestAdoptWithinTheConsistencyWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		wait time.Duration
		want string
	}{
		{"waits", DefaultVisibleTimeout, `account group "  lead and trail  " (id `},
		{"no wait", 0, `warning: account group "  lead and trail  " is not listed by its name after 0s, and lists may take up to 3m0s (apply's visibility budget) to show a new group: adopt cannot confirm that the lost run did not create it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			srv := newAwkwardServer(t, sandbox.Options{Now: clk.Now, Consistency: 30 * time.Second})
			seed := srv.Snapshot()
			plan := makePlan(t, srv, t.TempDir(), PlanOptions{Groups: []string{nameLeadTr}})
			if err := srv.AddFault(sandbox.Fault{Method: "POST", PathRegexp: `/accounts/[^/]+/scim/v2/Groups$`, Status: http.StatusInternalServerError,
				AfterHandler: true, Times: 1}); err != nil {
				t.Fatal(err)
			}
			ctx, kill := context.WithCancel(context.Background())
			defer kill()
			killWhileWaiting := func(ctx context.Context, d time.Duration) error {
				kill()
				return context.Canceled
			}
			d, stdout, stderr := clockDeps(t, srv, clk, nil)
			if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true, Sleep: killWhileWaiting}, d); !errors.Is(err, context.Canceled) {
				t.Fatalf("apply: %v, want it interrupted while waiting for the group\n%s\n%s", err, stdout, stderr)
			}
			if err := os.RemoveAll(DefaultJournalDir(plan)); err != nil {
				t.Fatal(err)
			}

			jdir := filepath.Join(t.TempDir(), "adopted")
			d, stdout, stderr = clockDeps(t, srv, clk, nil)
			checkReadOnly(t, srv, func() {
				if err := RunAdopt(context.Background(), AdoptOptions{PlanPath: plan, JournalDir: jdir, Wait: tc.wait, Sleep: clk.Sleep}, d); err != nil {
					t.Fatalf("adopt: %v\n%s\n%s", err, stdout, stderr)
				}
			})
			if !strings.Contains(stdout.String(), tc.want) {
				t.Errorf("adopt's summary lacks %q:\n%s", tc.want, stdout)
			}
			t.Logf("adopt:\n%s%s", stdout, stderr)
			_, recs, err := ReadJournal(jdir)
			if err != nil {
				t.Fatal(err)
			}
			views := Replay(recs)
			ag := mustPlan(t, plan).AccountGroups[0]
			v := views[accountGroupStepID(ag.Key)]
			if tc.wait > 0 && (v == nil || v.Detail.AccountGroupID == "" || !v.Detail.Created) {
				t.Errorf("adopt after waiting recorded %+v for the created account group, want its id, created", v)
			}
			if tc.wait == 0 && (v == nil || v.Detail.Create != CreateSent || v.Detail.AccountGroupID != "") {
				t.Errorf("adopt without waiting recorded %+v for the account group it cannot see, want a create that may have been sent", v)
			}

			if tc.wait > 0 {
				d, stdout, stderr = clockDeps(t, srv, clk, nil)
				if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, JournalDir: jdir, Yes: true, Sleep: clk.Sleep}, d); err != nil {
					t.Fatalf("apply after adopt: %v\n%s\n%s", err, stdout, stderr)
				}
				checkNoDuplicateGroups(t, srv.Snapshot())
				d, stdout, _ = clockDeps(t, srv, clk, nil)
				if err := RunVerify(context.Background(), VerifyOptions{PlanPath: plan, JournalDir: jdir}, d); err != nil {
					t.Errorf("verify after adopt and apply: %v\n%s", err, stdout)
				}
			}
			d, stdout, stderr = clockDeps(t, srv, clk, nil)
			if err := RunRollback(context.Background(), RollbackOptions{JournalDir: jdir, Yes: true, Sleep: clk.Sleep}, d); err != nil {
				t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
			}
			if got, want := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); got != want {
				t.Fatalf("rollback after adopt left the account changed:\n%s\n%s", diffLines(want, got), stderr)
			}
		})
	}
}

// reusedPlan plans the default readable seed with the merge policy, which
// reuses an account group with the name of a local group, applies it, and
// returns the server, its seed, the plan, the reused account group and
// the original journal's records; the journal is then lost.
func reusedPlan(t *testing.T) (*sandbox.Server, sandbox.State, string, *AccountGroupPlan, []Record) {
	t.Helper()
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: readableSeed()})
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{OnConflict: PolicyMerge}))
	p := mustPlan(t, plan)
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
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	_, orig, err := ReadJournal(DefaultJournalDir(plan))
	if err != nil {
		t.Fatal(err)
	}
	if len(Replay(orig)[accountGroupStepID(reused.Key)].Detail.AddedMemberIDs) == 0 {
		t.Fatalf("apply added no member to the reused account group %q: the test needs one", reused.DisplayName)
	}
	if err := os.RemoveAll(DefaultJournalDir(plan)); err != nil {
		t.Fatal(err)
	}
	return srv, seed, plan, reused, orig
}

// TestAdoptReusedAccountGroup: a merge plan reuses an account group that
// has the name of a local group it migrates. After a full apply and a
// lost journal, adopt finds the members apply added to it from the plan's
// digest of its members, and takes its assignment, entitlements and
// roles in that workspace for apply's (an account group cannot be
// assigned to a workspace while a local group there has its name): every
// step reads as in the original journal, and rollback restores the seed
// exactly.
func TestAdoptReusedAccountGroup(t *testing.T) {
	srv, seed, plan, reused, orig := reusedPlan(t)
	jdir := filepath.Join(t.TempDir(), "adopted")
	stdout := runAdopt(t, srv, AdoptOptions{PlanPath: plan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
	if strings.Contains(stdout.String(), "warning:") {
		t.Errorf("adopt warns about what it can tell:\n%s", stdout)
	}
	_, recs, err := ReadJournal(jdir)
	if err != nil {
		t.Fatal(err)
	}
	av := Replay(recs)
	for id, v := range Replay(orig) {
		if v.Kind == KindWaitVisible || v.Kind == KindVerify {
			continue
		}
		w := av[id]
		if w == nil {
			t.Errorf("step %s: not adopted", id)
			continue
		}
		o, n := v.Detail, w.Detail
		if o.Assigned != n.Assigned || strings.Join(o.AddedMemberIDs, ",") != strings.Join(n.AddedMemberIDs, ",") ||
			strings.Join(o.Entitlements, ",") != strings.Join(n.Entitlements, ",") || strings.Join(o.Roles, ",") != strings.Join(n.Roles, ",") || n.Unknown != "" {
			t.Errorf("step %s: adopted detail %+v, original %+v", id, n, o)
		}
	}
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunRollback(context.Background(), RollbackOptions{JournalDir: jdir, Yes: true}, d); err != nil {
		t.Fatalf("rollback after adopting a merge plan with account group %q reused: %v\n%s\n%s", reused.DisplayName, err, stdout, stderr)
	}
	if got, want := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); got != want {
		t.Errorf("rollback after adopt did not restore the seed:\n%s", diffLines(want, got))
	}
}

// TestAdoptReusedAccountGroupChangedSince: the reused account group got a
// member from someone else after apply, so adopt cannot tell which of its
// members apply added (the plan kept only a digest of them). It says so,
// and rollback refuses its groups before any change, naming adopt, never
// reporting them rolled back; the reused group keeps its members, and
// every other group is restored exactly.
func TestAdoptReusedAccountGroupChangedSince(t *testing.T) {
	srv, seed, plan, reused, _ := reusedPlan(t)
	ctx := context.Background()
	remote := sandboxRemote(t, srv, plan)
	const outsider = "1100000000000100"
	if err := remote.AddAccountGroupMembers(ctx, reused.ExistingID, []string{outsider}); err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(t.TempDir(), "adopted")
	stdout := runAdopt(t, srv, AdoptOptions{PlanPath: plan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
	if want := fmt.Sprintf("warning: account group %q (id %s), which the plan reuses, has members the plan did not read: adopt cannot tell which of them this migration added", reused.DisplayName, reused.ExistingID); !strings.Contains(stdout.String(), want) {
		t.Errorf("adopt's summary lacks %q:\n%s", want, stdout)
	}
	agBefore, err := remote.AccountGroup(ctx, reused.ExistingID)
	if err != nil {
		t.Fatal(err)
	}
	var mapped []groupRef
	for _, gr := range activeGroups(mustPlan(t, plan)) {
		if gr.g.AccountGroupKey == reused.Key {
			mapped = append(mapped, gr)
		}
	}
	d, stdout, stderr := sandboxDeps(t, srv)
	err = RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != len(mapped) {
		t.Fatalf("rollback: %v, want a PartialError for the %d groups of the reused account group\n%s\n%s", err, len(mapped), stdout, stderr)
	}
	for _, gr := range mapped {
		want := fmt.Sprintf(`failed: group %q in workspace %s (%d): not rolled back, it stays migrated: its journal was rebuilt by "dbiam migrate adopt", which could not tell which members of account group %q, which the plan reuses, this migration added`,
			gr.g.LocalName, gr.ws.WorkspaceName, gr.ws.WorkspaceID, reused.DisplayName)
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("rollback output lacks %q:\n%s", want, stdout)
		}
		if strings.Contains(stderr.String(), fmt.Sprintf("msg=\"rolled back group\" workspace=%q", gr.ws.WorkspaceName)) {
			t.Errorf("rollback logs a refused group as rolled back:\n%s", stderr)
		}
	}
	agAfter, err := remote.AccountGroup(ctx, reused.ExistingID)
	if err != nil {
		t.Fatal(err)
	}
	if MembersDigest(agAfter.Members) != MembersDigest(agBefore.Members) {
		t.Errorf("rollback changed the members of the reused account group of refused groups: %v, was %v", agAfter.Members, agBefore.Members)
	}
	var localIDs []string
	for _, gr := range mapped {
		localIDs = append(localIDs, gr.g.LocalID)
	}
	if got, want := snapshotJSON(t, stateOutside(srv.Snapshot(), localIDs, []string{reused.ExistingID})), snapshotJSON(t, stateOutside(seed, localIDs, []string{reused.ExistingID})); got != want {
		t.Errorf("the groups outside the reused account group are not exactly as before apply:\n%s", diffLines(want, got))
	}
}

// TestAddedMembers: which planned members apply added to a reused group
// is found from the digest of its members the plan read, whichever
// subset it is; a group changed otherwise is unknown.
func TestAddedMembers(t *testing.T) {
	cv := func(ids ...string) []scim.ComplexValue {
		var out []scim.ComplexValue
		for _, id := range ids {
			out = append(out, scim.ComplexValue{Value: id})
		}
		return out
	}
	planned := MembersDigest(cv("1", "2", "3"))
	for _, tc := range []struct {
		live, cands []string
		added       []string
		known       bool
	}{
		{[]string{"1", "2", "3"}, []string{"2"}, nil, true},
		{[]string{"1", "2", "3", "7", "8"}, []string{"7", "8"}, []string{"7", "8"}, true},
		{[]string{"1", "2", "3", "7"}, []string{"2", "7"}, []string{"7"}, true},
		{[]string{"1", "2", "3", "7", "8"}, []string{"1", "3", "7", "8"}, []string{"7", "8"}, true},
		{[]string{"1", "2", "3", "6"}, []string{"7"}, nil, false},
		{[]string{"1", "2"}, []string{"1"}, nil, false},
	} {
		added, known := addedMembers(cv(tc.live...), tc.cands, planned)
		if known != tc.known || strings.Join(added, ",") != strings.Join(tc.added, ",") {
			t.Errorf("live %v, candidates %v: added %v (known %v), want %v (known %v)", tc.live, tc.cands, added, known, tc.added, tc.known)
		}
	}
}

// TestAdoptReusedAccountGroupAssignedBefore: a mapping reuses an account
// group that was assigned to the workspace before apply (with the
// acl-copy route: it holds grants of its own there). Adopt cannot
// tell whether apply assigned it, nor which entitlements, roles and
// grants it held there before (the plan does not say): it says so, and
// rollback refuses the group before any change, naming adopt, and
// restores every other group exactly, leaving the reused group's
// assignment alone.
func TestAdoptReusedAccountGroupAssignedBefore(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: readableSeed()})
	seed := srv.Snapshot()
	dir := t.TempDir()
	mapping := filepath.Join(dir, "map.csv")
	if err := os.WriteFile(mapping, []byte("workspace,local_group,account_group\nacme-analytics,marketing,analysts\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan := makePlan(t, srv, dir, treePlan(PlanOptions{Match: MatchMapping, MappingFile: mapping, OnConflict: PolicyMerge, PermissionsRoute: RouteAPIOrACLCopy}))
	p := mustPlan(t, plan)
	groups := activeGroups(p)
	if len(groups) != 1 || groups[0].g.LocalName != "marketing" {
		t.Fatalf("the mapping plan migrates %d groups, want marketing alone: %+v", len(groups), p.Conflicts)
	}
	ag := findAG(p, groups[0].g.AccountGroupKey)
	if ag.ExistingID == "" || ag.DisplayName != "analysts" {
		t.Fatalf("the mapping plan does not reuse analysts: %+v", ag)
	}
	ctx := context.Background()
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	if err := os.RemoveAll(DefaultJournalDir(plan)); err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(t.TempDir(), "adopted")
	stdout = runAdopt(t, srv, AdoptOptions{PlanPath: plan, JournalDir: jdir, Wait: DefaultVisibleTimeout, Sleep: noSleep})
	if want := `warning: group "marketing" in workspace acme-analytics (6051921418418892): account group "analysts", which the plan reuses, is assigned to the workspace; adopt cannot tell whether this migration assigned it, nor what it held there before: rollback refuses this group`; !strings.Contains(stdout.String(), want) {
		t.Errorf("adopt's summary lacks %q:\n%s", want, stdout)
	}
	before := srv.Snapshot()
	d, stdout, stderr = sandboxDeps(t, srv)
	err := RunRollback(ctx, RollbackOptions{JournalDir: jdir, Yes: true}, d)
	var pe *PartialError
	if !errors.As(err, &pe) || pe.Failed != 1 {
		t.Fatalf("rollback: %v, want a PartialError for marketing\n%s\n%s", err, stdout, stderr)
	}
	if want := `failed: group "marketing" in workspace acme-analytics (6051921418418892): not rolled back, it stays migrated: its journal was rebuilt by "dbiam migrate adopt", which could not tell whether this migration assigned account group "analysts", which the plan reuses, to workspace acme-analytics`; !strings.Contains(stdout.String(), want) {
		t.Errorf("rollback output lacks %q:\n%s", want, stdout)
	}
	if got, want := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, before); got != want {
		t.Errorf("a rollback that refused its only group changed something:\n%s", diffLines(want, got))
	}
	if snapshotJSON(t, before) == snapshotJSON(t, seed) {
		t.Error("apply changed nothing: the test needs a migrated group")
	}
}
