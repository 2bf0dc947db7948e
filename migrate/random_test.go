package migrate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
)

var (
	randomRuns = flag.Int("migrate.random", 3, "sequences run by TestRandomRunsEndInPreOrMigratedState (more: -migrate.random=200)")
	randomSeed = flag.Uint64("migrate.random-seed", 1, "first seed of TestRandomRunsEndInPreOrMigratedState")
)

// groupClaim is what the tool's report (status) says a group is in.
type groupClaim string

const (
	claimPre       groupClaim = "pre-apply"
	claimMigrated  groupClaim = "migrated"
	claimFinalized groupClaim = "finalized"
)

// TestRandomRunsEndInPreOrMigratedState runs plan, apply (whole or
// canary), finalize and rollback (whole or for random groups), and their
// dry runs, in random orders on the awkward seed (edge spaces, quotes,
// "]", " eq ", RTL, emoji, a three-level chain, case-only differences
// across workspaces). After every command, every group of the plan must
// be exactly in its pre-apply state or in its intended migrated state
// (with or without its backup), and the status report must say which.
// The default run is short; -migrate.random=N runs N sequences.
func TestRandomRunsEndInPreOrMigratedState(t *testing.T) {
	for i := range *randomRuns {
		seed := *randomSeed + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			randomSequence(t, rand.New(rand.NewPCG(seed, 0x6d696772)))
		})
	}
}

func randomSequence(t *testing.T, rng *rand.Rand) {
	srv := newAwkwardServer(t, sandbox.Options{})
	seed := srv.Snapshot()
	// The plan covers every group, or a random subset (whose parents left
	// without their nested groups are skipped by the plan, as conflicts).
	var po PlanOptions
	if rng.IntN(2) == 0 {
		for _, w := range seed.Workspaces {
			for _, g := range w.Groups {
				if !IsSystemGroup(g.DisplayName) && rng.IntN(2) == 0 {
					po.Groups = append(po.Groups, g.DisplayName)
				}
			}
		}
		po.Groups = slices.Compact(po.Groups)
	}
	plan := makePlan(t, srv, t.TempDir(), po)
	p := mustPlan(t, plan)
	if len(activeGroups(p)) == 0 {
		return
	}
	jdir := DefaultJournalDir(plan)
	all := activeGroups(p)
	ctx := context.Background()
	history := []string{fmt.Sprintf("plan groups=%q", po.Groups)}
	names := func() []string {
		var out []string
		for _, gr := range all {
			if rng.IntN(3) == 0 {
				out = append(out, gr.g.LocalName)
			}
		}
		if len(out) == 0 || rng.IntN(4) == 0 {
			out = append(out, findAG(p, all[rng.IntN(len(all))].g.AccountGroupKey).DisplayName)
		}
		return slices.Compact(out)
	}
	steps := 5 + rng.IntN(5)
	for range steps {
		d, stdout, stderr := sandboxDeps(t, srv)
		before := snapshotJSON(t, srv.Snapshot())
		var err error
		var op string
		dry := rng.IntN(6) == 0
		switch k := rng.IntN(10); {
		case k < 4:
			o := ApplyOptions{PlanPath: plan, Yes: true, DryRun: dry, Parallel: 1 + rng.IntN(4)}
			if rng.IntN(2) == 0 {
				o.Groups = canaryClosure(p, all[rng.IntN(len(all))])
			}
			op = fmt.Sprintf("apply dry=%v groups=%q", dry, o.Groups)
			err = RunApply(ctx, o, d)
		case k < 7:
			o := FinalizeOptions{JournalDir: jdir, Yes: true, DryRun: dry}
			if rng.IntN(2) == 0 {
				o.Groups = names()
			}
			op = fmt.Sprintf("finalize dry=%v groups=%q", dry, o.Groups)
			err = RunFinalize(ctx, o, d)
		default:
			o := RollbackOptions{JournalDir: jdir, Yes: true, DryRun: dry}
			if rng.IntN(2) == 0 {
				o.Groups = names()
			}
			op = fmt.Sprintf("rollback dry=%v groups=%q", dry, o.Groups)
			err = RunRollback(ctx, o, d)
		}
		history = append(history, op)
		var pe *PartialError
		switch {
		case errors.Is(err, journal.ErrNoJournal):
			// finalize or rollback before any apply
		case err != nil && !errors.As(err, &pe):
			t.Fatalf("%s: %v\nhistory: %q\n%s\n%s", op, err, history, stdout, stderr)
		}
		if dry {
			if after := snapshotJSON(t, srv.Snapshot()); after != before {
				t.Fatalf("%s changed the account:\n%s\nhistory: %q", op, diffLines(before, after), history)
			}
		}
		if t.Failed() {
			return
		}
		checkEveryGroup(t, srv, seed, p, jdir, history)
		if t.Failed() {
			t.Logf("output of %s:\n%s\n%s", op, stdout, stderr)
			return
		}
	}
}

// canaryClosure returns the names of gr and of the groups a canary of gr
// needs with it: the groups of its workspace nested in it (deeper too),
// and those sharing its account group.
func canaryClosure(p *Plan, gr groupRef) []string {
	all := activeGroups(p)
	in := map[string]bool{gr.g.LocalID: true}
	queue := []groupRef{gr}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		ag := findAG(p, cur.g.AccountGroupKey)
		for _, c := range all {
			if c.ws != gr.ws || in[c.g.LocalID] {
				continue
			}
			if c.g.AccountGroupKey == cur.g.AccountGroupKey ||
				slices.ContainsFunc(ag.Members, func(m Member) bool { return m.GroupKey != "" && m.GroupKey == c.g.AccountGroupKey }) {
				in[c.g.LocalID] = true
				queue = append(queue, c)
			}
		}
	}
	var names []string
	for _, c := range all {
		if c.ws == gr.ws && in[c.g.LocalID] {
			names = append(names, c.g.LocalName)
		}
	}
	return names
}

// reportedClaims reads the status report of the journal: what it says
// each group is in. A group in any other state fails the test.
func reportedClaims(t *testing.T, p *Plan, jdir string) map[string]groupClaim {
	t.Helper()
	out := map[string]groupClaim{}
	_, recs, err := ReadJournal(jdir)
	if errors.Is(err, journal.ErrNoJournal) {
		for _, gr := range activeGroups(p) {
			out[fmt.Sprint(gr.ws.WorkspaceID, "/", gr.g.LocalID)] = claimPre
		}
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	p2, _, _, err := loadJournalPlan(jdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, gs := range BuildStatus(p2, recs, false).Groups {
		if gs.WorkspaceID == 0 || gs.State == GroupSkipped {
			continue
		}
		var id string
		for _, gr := range activeGroups(p) {
			if gr.ws.WorkspaceID == gs.WorkspaceID && gr.g.LocalName == gs.Group {
				id = fmt.Sprint(gr.ws.WorkspaceID, "/", gr.g.LocalID)
			}
		}
		var c groupClaim
		switch {
		case gs.State == GroupRolledBack || gs.State == GroupPending:
			c = claimPre
		case gs.State == GroupDone:
			c = claimMigrated
		case gs.State == GroupFinalized:
			c = claimFinalized
		case gs.State == GroupFailed && strings.Contains(gs.Error, "the group stays migrated (finalized):"):
			c = claimFinalized
		case gs.State == GroupFailed && strings.Contains(gs.Error, "the group stays migrated:"):
			c = claimMigrated
		default:
			t.Errorf("status says group %q in %s is %s (%s): neither in its pre-apply state nor migrated", gs.Group, gs.Workspace, gs.State, gs.Error)
			continue
		}
		out[id] = c
	}
	return out
}

// checkEveryGroup checks that every group of p is exactly in the state
// the status report claims for it, and that nothing else changed.
func checkEveryGroup(t *testing.T, srv *sandbox.Server, seed sandbox.State, p *Plan, jdir string, history []string) {
	t.Helper()
	claims := reportedClaims(t, p, jdir)
	st := srv.Snapshot()
	fail := func(format string, a ...any) {
		t.Helper()
		t.Errorf("%s\nhistory: %q", fmt.Sprintf(format, a...), history)
	}
	views := map[string]*StepView{}
	if _, recs, err := ReadJournal(jdir); err == nil {
		views = Replay(recs)
	}
	wsOf := func(s sandbox.State, id int64) *sandbox.WorkspaceState {
		for i := range s.Workspaces {
			if s.Workspaces[i].WorkspaceID == id {
				return &s.Workspaces[i]
			}
		}
		return nil
	}
	groupOf := func(gs []sandbox.GroupState, id string) *sandbox.GroupState {
		for i := range gs {
			if gs[i].ID == id {
				return &gs[i]
			}
		}
		return nil
	}
	accountByName := func(name string) *sandbox.GroupState {
		for i := range st.Groups {
			if st.Groups[i].DisplayName == name {
				return &st.Groups[i]
			}
		}
		return nil
	}
	grantsOf := func(w *sandbox.WorkspaceState, id string) []string {
		var out []string
		for _, g := range w.Grants {
			if g.PrincipalID == id {
				out = append(out, g.Object+" "+g.PermissionLevel)
			}
		}
		for _, a := range w.SecretACLs {
			if a.PrincipalID == id {
				out = append(out, "secret scope "+a.Scope+" "+a.Permission)
			}
		}
		return out
	}
	assigned := func(w *sandbox.WorkspaceState, id string) bool {
		return slices.ContainsFunc(w.Assignments, func(a sandbox.AssignmentState) bool {
			return a.PrincipalID == id && (slices.Contains(a.Permissions, "USER") || slices.Contains(a.Permissions, "ADMIN"))
		})
	}
	agID := func(key string) string {
		if v := views[accountGroupStepID(key)]; v != nil && v.State == StateDone {
			return v.Detail.AccountGroupID
		}
		return ""
	}
	migratedAG := map[string]bool{} // account group names with a migrated source
	for _, gr := range activeGroups(p) {
		key := fmt.Sprint(gr.ws.WorkspaceID, "/", gr.g.LocalID)
		claim := claims[key]
		ag := findAG(p, gr.g.AccountGroupKey)
		sw, w := wsOf(seed, gr.ws.WorkspaceID), wsOf(st, gr.ws.WorkspaceID)
		orig, live := groupOf(sw.Groups, gr.g.LocalID), groupOf(w.Groups, gr.g.LocalID)
		label := fmt.Sprintf("group %q in %s, reported %s", gr.g.LocalName, gr.ws.WorkspaceName, claim)
		switch claim {
		case claimPre:
			if live == nil || live.DisplayName != gr.g.LocalName || !slices.Equal(live.Members, orig.Members) {
				fail("%s: local group is %+v, was %+v", label, live, orig)
			}
			if acct := accountByName(ag.DisplayName); acct != nil {
				if assigned(w, acct.ID) || len(w.Entitlements[acct.ID]) > 0 || len(w.Roles[acct.ID]) > 0 || len(grantsOf(w, acct.ID)) > 0 {
					fail("%s: account group %q is assigned, entitled or granted in the workspace", label, ag.DisplayName)
				}
			}
		case claimMigrated, claimFinalized:
			migratedAG[ag.DisplayName] = true
			if claim == claimFinalized && live != nil {
				fail("%s: its backup still exists: %+v", label, live)
			}
			if claim == claimMigrated && (live == nil || live.DisplayName != gr.g.BackupName || !slices.Equal(live.Members, orig.Members)) {
				fail("%s: backup group is %+v, want %q with members %v", label, live, gr.g.BackupName, orig.Members)
			}
			id := agID(gr.g.AccountGroupKey)
			acct := groupOf(st.Groups, id)
			if id == "" || acct == nil || acct.DisplayName != ag.DisplayName {
				fail("%s: account group %q (id %q) is %+v", label, ag.DisplayName, id, acct)
				continue
			}
			var want []string
			for _, m := range ag.Members {
				if m.GroupKey != "" {
					want = append(want, agID(m.GroupKey))
				} else {
					want = append(want, m.AccountID)
				}
			}
			slices.SortFunc(want, compareNumericIDs)
			if !slices.Equal(acct.Members, want) {
				fail("%s: account group members %v, want %v", label, acct.Members, want)
			}
			if !assigned(w, id) {
				fail("%s: account group is not assigned to the workspace", label)
			}
			for _, e := range gr.g.Entitlements {
				if !slices.Contains(w.Entitlements[id], e) {
					fail("%s: account group lacks entitlement %q", label, e)
				}
			}
			for _, r := range gr.g.Roles {
				if !slices.Contains(w.Roles[id], r) {
					fail("%s: account group lacks role %q", label, r)
				}
			}
			have := grantsOf(w, id)
			for _, g := range grantsOf(sw, gr.g.LocalID) {
				if !slices.Contains(have, g) {
					fail("%s: account group lacks grant %s", label, g)
				}
			}
		default:
			fail("group %q in %s has no report", gr.g.LocalName, gr.ws.WorkspaceName)
		}
		if claim != claimFinalized && claim != "" {
			if live != nil {
				if !slices.Equal(sw.Entitlements[gr.g.LocalID], w.Entitlements[gr.g.LocalID]) || !slices.Equal(sw.Roles[gr.g.LocalID], w.Roles[gr.g.LocalID]) {
					fail("%s: local entitlements or roles changed", label)
				}
				// Migrated, the local group has lost the grants the strict
				// permission migration moved (the account group holds them,
				// checked above) and holds no other.
				g, o := grantsOf(w, gr.g.LocalID), grantsOf(sw, gr.g.LocalID)
				if claim == claimPre && !slices.Equal(g, o) || claim == claimMigrated && slices.ContainsFunc(g, func(x string) bool { return !slices.Contains(o, x) }) {
					fail("%s: local grants %v, were %v", label, g, o)
				}
			}
		}
	}
	// Local groups the plan does not migrate are untouched.
	for _, sw := range seed.Workspaces {
		w := wsOf(st, sw.WorkspaceID)
		for _, g := range sw.Groups {
			if slices.ContainsFunc(activeGroups(p), func(gr groupRef) bool { return gr.ws.WorkspaceID == sw.WorkspaceID && gr.g.LocalID == g.ID }) {
				continue
			}
			if live := groupOf(w.Groups, g.ID); live == nil || live.DisplayName != g.DisplayName || !slices.Equal(live.Members, g.Members) ||
				!slices.Equal(w.Entitlements[g.ID], sw.Entitlements[g.ID]) || !slices.Equal(grantsOf(w, g.ID), grantsOf(&sw, g.ID)) {
				fail("group %q in %s, not migrated by the plan, changed: %+v", g.DisplayName, sw.WorkspaceName, live)
			}
		}
	}
	// No account group but the seed's and those of migrated groups; users,
	// service principals and other groups untouched.
	var names []string
	for _, g := range seed.Groups {
		names = append(names, g.DisplayName)
	}
	for n := range migratedAG {
		names = append(names, n)
	}
	var got []string
	for _, g := range st.Groups {
		got = append(got, g.DisplayName)
	}
	slices.Sort(names)
	slices.Sort(got)
	if !slices.Equal(got, names) {
		fail("account groups %q, want %q", got, names)
	}
	if !slices.Equal(snapshotJSONs(t, st.Users, st.ServicePrincipals), snapshotJSONs(t, seed.Users, seed.ServicePrincipals)) {
		fail("users or service principals changed")
	}
}

// snapshotJSONs renders principals for comparison.
func snapshotJSONs(t *testing.T, lists ...[]sandbox.PrincipalState) []string {
	t.Helper()
	var out []string
	for _, l := range lists {
		out = append(out, snapshotJSON(t, sandbox.State{Users: l}))
	}
	return out
}

// compareNumericIDs orders numeric string ids as the sandbox's snapshot
// does.
func compareNumericIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
