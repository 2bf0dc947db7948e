package migrate

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// Published account SCIM write limits (reference §I.2), enforced by the
// sandbox in the benchmark and matched by the client's pacing.
const (
	benchAccountWriteRate = 5.0 // POST, PUT, DELETE per second
	benchAccountPatchRate = 2.0 // PATCH per second
)

// BenchmarkApply1000Groups migrates 1,000 workspace-local groups across 10
// federated workspaces (25 members each, --on-conflict per-workspace, so
// one new account group per local group) under the sandbox's account SCIM
// limits of 5/s for POST/PUT/DELETE and 2/s for PATCH. It prints the calls
// made by kind, account SCIM writes per migrated group (target <= 1.2), the
// lower bound on wall time set by the scarcest limit, the measured time,
// their ratio (target <= 1.3) and the throttled replies. One iteration
// takes about 200 s: run it with -bench Apply1000 -benchtime 1x.
func BenchmarkApply1000Groups(b *testing.B) {
	for range b.N {
		benchApply(b, "workspaces=11,users=2000,groups=20,members=25,sps=50,local-groups=100,seed=1", 1000)
	}
}

// benchApply applies a per-workspace plan of the synthetic seed spec (the
// last of its workspaces is not federated) and reports the figures.
func benchApply(b *testing.B, spec string, want int) {
	b.StopTimer()
	seed, err := sandbox.Synthetic(spec)
	if err != nil {
		b.Fatal(err)
	}
	srv := sandbox.NewTestServer(b, sandbox.Options{Seed: seed, RateLimits: map[string]float64{
		"account-scim-write": benchAccountWriteRate,
		"account-scim-patch": benchAccountPatchRate,
	}})
	dir := b.TempDir()
	plan := makePlan(b, srv, dir, PlanOptions{Out: filepath.Join(dir, "plan.json"), OnConflict: PolicyPerWorkspace})
	p, _, err := ReadPlan(plan)
	if err != nil {
		b.Fatal(err)
	}
	groups := len(activeGroups(p))
	if groups != want {
		b.Fatalf("the plan migrates %d groups, want %d", groups, want)
	}

	// The client paces the scarce classes at the published limits; the
	// sandbox limits nothing else, so the client does not either.
	rates := scim.UnlimitedRates()
	rates[string(scim.ClassAccountSCIMWrite)] = benchAccountWriteRate
	rates[string(scim.ClassAccountSCIMPatch)] = benchAccountPatchRate
	io, stdout, stderr := reports.Test()
	d := Deps{Streams: io, Connect: func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: rates, Concurrency: 8})
	}}
	srv.ResetStats()
	b.StartTimer()
	start := time.Now()
	err = RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan}, d)
	wall := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("apply: %v\n%s\n%s", err, stdout, lastLines(stderr.String(), 20))
	}

	st := srv.Stats()
	byKind := map[string]int{}
	accountWrites, accountPatches := 0, 0
	for _, r := range st.Requests {
		byKind[r.Method+" "+r.Route] += r.Count
		if !strings.Contains(r.Route, "/accounts/{account_id}/scim/") {
			continue
		}
		switch r.Method {
		case "POST", "PUT", "DELETE":
			accountWrites += r.Count
		case "PATCH":
			accountPatches += r.Count
		}
	}
	floor := math.Max(float64(accountWrites)/benchAccountWriteRate, float64(accountPatches)/benchAccountPatchRate)
	floorD := time.Duration(floor * float64(time.Second))
	perGroup := float64(accountWrites+accountPatches) / float64(groups)
	ratio := wall.Seconds() / floor

	var lines []string
	for k, v := range byKind {
		lines = append(lines, fmt.Sprintf("  %6d  %s", v, k))
	}
	sort.Strings(lines)
	// The figures go to stdout: b.Log truncates long benchmark output.
	fmt.Printf("BenchmarkApply: calls by kind (%d requests):\n%s\n", st.Total, strings.Join(lines, "\n"))
	fmt.Printf("BenchmarkApply: groups migrated: %d; account SCIM writes: %d POST/PUT/DELETE + %d PATCH = %.3f per group (target <= 1.2)\n",
		groups, accountWrites, accountPatches, perGroup)
	fmt.Printf("BenchmarkApply: lower bound (scarcest limit): %s; measured: %s; ratio %.4f (target <= 1.3); throttled replies: %d\n",
		floorD.Round(time.Millisecond), wall.Round(time.Millisecond), ratio, st.Throttled)
	fmt.Printf("BenchmarkApply: %s\n", strings.TrimSpace(stdout.String()))
	b.ReportMetric(perGroup, "acct-writes/group")
	b.ReportMetric(ratio, "wall/floor")
	b.ReportMetric(float64(st.Throttled), "throttled")
	if perGroup > 1.2 {
		b.Errorf("account SCIM writes per group %.3f > 1.2", perGroup)
	}
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
