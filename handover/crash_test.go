package handover

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// Environment of the crash test's child process (the test binary running
// TestHandoverCrashChild). The connection is hermetic.
const (
	envChild   = "DBIAM_HANDOVER_CRASH_CHILD"
	envHost    = "DBIAM_HANDOVER_CRASH_HOST"
	envAccount = "DBIAM_HANDOVER_CRASH_ACCOUNT"
	envToken   = "DBIAM_HANDOVER_CRASH_TOKEN"
	envPlan    = "DBIAM_HANDOVER_CRASH_PLAN"
	envKillAt  = "DBIAM_HANDOVER_CRASH_KILL_AT"
)

var crashSeed = flag.Uint64("crash.seed", 0, "TestCrashResume: seed of the random kill points (0: from the clock, logged)")

// TestHandoverCrashChild is not a test: it is the child process of
// TestCrashResume. It runs apply and SIGKILLs itself just before writing
// the $DBIAM_HANDOVER_CRASH_KILL_AT-th journal record of this run, so that
// every remote change made after the previous record has happened but its
// own record is lost.
func TestHandoverCrashChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("child process of TestCrashResume")
	}
	k, _ := strconv.Atoi(os.Getenv(envKillAt))
	n := 0
	io, _, _ := reports.Test()
	io.Err = os.Stderr
	d := Deps{Streams: io, Connect: func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: os.Getenv(envHost), AccountID: os.Getenv(envAccount),
			Token: os.Getenv(envToken), Hermetic: true, Rates: scim.UnlimitedRates()})
	}}
	err := RunApply(context.Background(), ApplyOptions{PlanPath: os.Getenv(envPlan), Yes: true, Parallel: 4,
		BeforeAppend: func(int64) {
			if n++; k > 0 && n >= k {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}}, d)
	if err != nil {
		fmt.Fprintln(os.Stderr, "apply:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

// runChild runs apply in a child process against srv; it reports whether
// the child was killed (true) or finished (false).
func runChild(srv *sandbox.Server, plan string, killAt int) (bool, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHandoverCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"=1", envHost+"="+srv.URL(), envAccount+"="+srv.AccountID(),
		envToken+"="+srv.AdminToken(), envPlan+"="+plan, envKillAt+"="+strconv.Itoa(killAt))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, nil
		}
	}
	return false, fmt.Errorf("child apply (kill at record %d): %v\n%s", killAt, err, stderr.String())
}

// copyPlan copies the plan into a fresh directory (its journal goes next
// to it).
func copyPlan(t *testing.T, plan string) string {
	t.Helper()
	b, err := os.ReadFile(plan)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "handover.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// stateDiff compares two sandbox states: identities, assignments, object
// ownership (sandbox.Diff) and grants.
func stateDiff(a, b sandbox.State) []string {
	out := sandbox.Diff(a, b)
	for i := range a.Workspaces {
		if i < len(b.Workspaces) && !reflect.DeepEqual(a.Workspaces[i].Grants, b.Workspaces[i].Grants) {
			out = append(out, fmt.Sprintf("workspace %d grants differ", a.Workspaces[i].WorkspaceID))
		}
	}
	return out
}

// TestCrashResume SIGKILLs apply (a child process) just before a random
// journal record, on a fresh sandbox each time, then resumes it in this
// process; and once on one sandbox with a kill every few records until
// apply finishes. The end state must equal an uninterrupted run's, verify
// must find no difference, and rollback must bring the account back to
// its state before the handover.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	ref := newProdBoundServer(t)
	seed := ref.Snapshot()
	plan, _ := demoPlan(t, ref, func(o *PlanOptions) {
		o.Deactivate = true
		o.Workspaces = []string{"acme-prod"}
	})
	refPlan := copyPlan(t, plan)
	d, _, _ := deps(ref)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: refPlan, Yes: true}, d); err != nil {
		t.Fatal(err)
	}
	want := ref.Snapshot()
	_, recs, err := journal.Read[record](journal.DefaultDir(refPlan))
	if err != nil {
		t.Fatal(err)
	}
	n := len(recs)
	if n < 40 {
		t.Fatalf("the reference run wrote only %d records", n)
	}
	s := *crashSeed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("kill points from seed %d (rerun with -crash.seed=%d)", s, s)
	r := rand.New(rand.NewPCG(s, 0))
	points := []int{1, n}
	for len(points) < 14 {
		if k := 1 + r.IntN(n); !slices.Contains(points, k) {
			points = append(points, k)
		}
	}
	check := func(t *testing.T, srv *sandbox.Server, p, what string) {
		t.Helper()
		if diff := stateDiff(want, srv.Snapshot()); len(diff) > 0 {
			t.Errorf("%s: state differs from an uninterrupted run:\n%s", what, strings.Join(diff, "\n"))
		}
		d, stdout, _ := deps(srv)
		if err := RunVerify(context.Background(), VerifyOptions{PlanPath: p}, d); err != nil {
			t.Errorf("%s: verify: %v\n%s", what, err, stdout)
		}
	}
	for _, k := range points {
		t.Run(fmt.Sprintf("kill-at-%d", k), func(t *testing.T) {
			srv := newProdBoundServer(t)
			p := copyPlan(t, plan)
			killed, err := runChild(srv, p, k)
			if err != nil {
				t.Fatal(err)
			}
			if !killed {
				t.Fatalf("the child was not killed before record %d of %d", k, n)
			}
			d, stdout, stderr := deps(srv)
			if err := RunApply(context.Background(), ApplyOptions{PlanPath: p, Yes: true}, d); err != nil {
				t.Fatalf("resumed apply: %v\n%s%s", err, stdout, stderr)
			}
			check(t, srv, p, fmt.Sprintf("killed before record %d", k))
		})
	}

	t.Run("killed-repeatedly-then-rolled-back", func(t *testing.T) {
		srv := newProdBoundServer(t)
		p := copyPlan(t, plan)
		// Kill each run at a random record among its first dozen, at most
		// 2n times; then let one run finish.
		for runs := 0; ; runs++ {
			k := 2 + r.IntN(11)
			if runs == 2*n {
				k = 0
			}
			killed, err := runChild(srv, p, k)
			if err != nil {
				t.Fatal(err)
			}
			if !killed {
				t.Logf("apply finished after %d kills", runs)
				break
			}
		}
		check(t, srv, p, "killed repeatedly")
		d, stdout, stderr := deps(srv)
		if err := RunRollback(context.Background(), ApplyOptions{JournalDir: journal.DefaultDir(p), Yes: true}, d); err != nil {
			t.Fatalf("rollback: %v\n%s%s", err, stdout, stderr)
		}
		if diff := stateDiff(seed, srv.Snapshot()); len(diff) > 0 {
			t.Errorf("rollback did not bring the account back:\n%s", strings.Join(diff, "\n"))
		}
	})
}
