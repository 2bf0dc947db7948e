package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// sandboxDeps returns Deps that connect to srv hermetically, with no client
// rate limits (the sandbox applies its own when configured).
func sandboxDeps(t testing.TB, srv *sandbox.Server) (Deps, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	io, stdout, stderr := reports.Test()
	connect := func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{
			Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
			Rates: scim.UnlimitedRates(), Concurrency: 8,
			Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		})
	}
	return Deps{Streams: io, Connect: connect}, stdout, stderr
}

// makePlan runs migrate plan against srv and returns the plan's path.
func makePlan(t testing.TB, srv *sandbox.Server, dir string, o PlanOptions) string {
	t.Helper()
	d, _, stderr := sandboxDeps(t, srv)
	if o.Out == "" {
		o.Out = filepath.Join(dir, "plan.json")
	}
	err := RunPlan(context.Background(), o, d)
	if re := (*PlanReviewError)(nil); err != nil && !errors.As(err, &re) {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	checkPlanRunErr(t, err, o)
	return o.Out
}

func snapshotJSON(t testing.TB, st sandbox.State) string {
	t.Helper()
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyVerifyRollbackEndToEnd(t *testing.T) {
	// The strict permission migration (the default) moves the grants;
	// rollback puts back those of the baseline, which are all of this seed's.
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: readableSeed()})
	seed := srv.Snapshot()
	dir := t.TempDir()
	plan := makePlan(t, srv, dir, treePlan(PlanOptions{}))
	p, _, err := ReadPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	active := activeGroups(p)
	if len(active) == 0 {
		t.Fatal("the default seed's plan migrates no group")
	}

	d, stdout, stderr := sandboxDeps(t, srv)
	ctx := context.Background()
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("apply: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	t.Logf("apply: %s", stdout)

	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil {
		t.Fatalf("verify: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout.String(), "no differences") {
		t.Errorf("verify output: %s", stdout)
	}

	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunStatus(ctx, StatusOptions{JournalDir: DefaultJournalDir(plan)}, d); err != nil {
		t.Fatalf("status: %v\n%s", err, stdout)
	}
	t.Logf("status:\n%s", stdout)

	// A second apply finds everything done and changes nothing.
	srv.ResetStats()
	d, stdout, _ = sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if w := writes(srv.Stats()); w != 0 {
		t.Errorf("second apply made %d writes", w)
	}

	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunRollback(ctx, RollbackOptions{Yes: true, JournalDir: DefaultJournalDir(plan)}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	if got, want := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); got != want {
		t.Errorf("rollback did not restore the seed state:\n%s", diffLines(want, got))
	}
}

// writes counts the non-GET requests in stats.
func writes(st sandbox.Stats) int {
	n := 0
	for _, r := range st.Requests {
		if r.Method != "GET" {
			n += r.Count
		}
	}
	return n
}

// diffLines returns the lines of got that differ from want, crudely.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("- " + a + "\n+ " + c + "\n")
			if b.Len() > 4000 {
				break
			}
		}
	}
	return b.String()
}

var _ = errors.Is
var _ = reflect.DeepEqual
