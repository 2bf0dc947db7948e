package migrate

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// BenchmarkPlan5000Groups plans one identity-federated workspace with
// 5,000 users, 20 service principals and 5,000 groups (4,998 local groups
// of 10 members, a fifth of them nesting another, plus admins and users),
// at the client's default rates (workspace SCIM reads 4.25/s, account SCIM
// reads 4/s, other reads 10/s, one request at a time per bucket), against
// a sandbox that enforces the same rates, answers after 20 ms and caps
// pages at 100. It prints:
//
//   - requests: requests the client made, by route
//   - bound: the lower bound on wall time that the requests set: for each
//     rate-limit bucket (a workspace's or the account's class), its
//     requests less one (the first is free) divided by its rate; the
//     largest
//   - wall, and ratio = wall / bound (target < 1.3)
//   - the largest gap between two log lines of the run (status lines come
//     every 5 s off a terminal; target <= 10 s)
//
// One iteration takes about 30 s: run it with
//
//	go test ./migrate/ -run '^$' -bench Plan5000 -benchtime 1x
func BenchmarkPlan5000Groups(b *testing.B) {
	seed, err := sandbox.Synthetic("workspaces=1,users=5000,groups=0,members=10,sps=20,local-groups=4998,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		benchPlan(b, seed)
	}
}

type planBenchBucket struct {
	scope int64
	class scim.Class
}

func benchPlan(b *testing.B, seed *sandbox.Seed) {
	b.StopTimer()
	limits := map[string]float64{}
	for _, c := range scim.Classes() {
		r, _ := scim.DefaultRate(c)
		limits[string(c)] = r
	}
	srv := sandbox.NewTestServer(b, sandbox.Options{Seed: seed, PageCap: 100, Latency: 20 * time.Millisecond, RateLimits: limits})
	var mu sync.Mutex
	perBucket := map[planBenchBucket]int{}
	requests := 0
	var firstRead, lastRead time.Time // the workspace reads
	settings := scim.Settings{
		Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
		OnRequest: func(ev scim.RequestEvent) {
			mu.Lock()
			defer mu.Unlock()
			requests++
			perBucket[planBenchBucket{ev.WorkspaceID, ev.Class}]++
			if ev.Class == scim.ClassSCIMRead {
				end := time.Now()
				if firstRead.IsZero() {
					firstRead = end.Add(-ev.Duration)
				}
				lastRead = end
			}
		},
	}
	streams, _, stderr := reports.Test()
	d := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, settings) }}
	o := PlanOptions{Out: filepath.Join(b.TempDir(), "plan.json"), ToolVersion: "bench"}
	srv.ResetStats()
	b.StartTimer()
	start := time.Now()
	err := RunPlan(context.Background(), o, d)
	wall := time.Since(start)
	b.StopTimer()
	if err != nil {
		if _, ok := err.(*PlanReviewError); !ok {
			b.Fatalf("plan: %v\n%s", err, lastLines(stderr.String(), 20))
		}
	}
	p, _, err := ReadPlan(o.Out)
	if err != nil {
		b.Fatal(err)
	}
	t := planTotalsOf(p)

	var worst planBenchBucket
	bound := 0.0
	for k, n := range perBucket {
		r, _ := scim.DefaultRate(k.class)
		if s := float64(n-1) / r; s > bound {
			bound, worst = s, k
		}
	}
	st := srv.Stats()
	var routes []string
	for _, r := range st.Requests {
		routes = append(routes, fmt.Sprintf("  %6d  %s %s", r.Count, r.Method, r.Route))
	}
	sort.Strings(routes)
	gap := planLogGap(stderr.String())
	ratio := wall.Seconds() / bound
	fmt.Printf("BenchmarkPlan: requests by route (%d requests, %d throttled):\n%s\n", requests, st.Throttled, strings.Join(routes, "\n"))
	fmt.Printf("BenchmarkPlan: %d local groups, %d to migrate, %d conflicts (%d blocking), %d warnings\n", t.Groups, t.Migrated, t.Conflicts, t.BlockingConflicts, len(p.Warnings))
	for _, w := range p.Warnings {
		fmt.Printf("BenchmarkPlan: warning %s: %s\n", w.Kind, w.Detail)
	}
	fmt.Printf("BenchmarkPlan: before the first workspace read %.2fs, workspace reads %.2fs, after the last %.2fs\n",
		firstRead.Sub(start).Seconds(), lastRead.Sub(firstRead).Seconds(), start.Add(wall).Sub(lastRead).Seconds())
	fmt.Printf("BenchmarkPlan: lower bound %.2fs (busiest bucket: workspace %d class %s, %d requests); wall %.2fs; ratio %.3f (target < 1.3); largest gap between log lines %s (target <= 10s)\n",
		bound, worst.scope, worst.class, perBucket[worst], wall.Seconds(), ratio, gap)
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(bound, "bound-s")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(gap.Seconds(), "max-log-gap-s")
}

var planLogTime = regexp.MustCompile(`(?m)^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) `)

// planLogGap is the largest time between two consecutive log lines (to the
// second, the log's resolution).
func planLogGap(log string) time.Duration {
	var prev time.Time
	var gap time.Duration
	for _, m := range planLogTime.FindAllStringSubmatch(log, -1) {
		at, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			continue
		}
		if !prev.IsZero() && at.Sub(prev) > gap {
			gap = at.Sub(prev)
		}
		prev = at
	}
	return gap
}
