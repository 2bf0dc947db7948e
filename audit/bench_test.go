package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// benchRates are the per-workspace (and account) rate limits, in requests
// per second, that both the sandbox enforces and the client is configured
// with: the published figures of reference §I.2 where there is one
// (permissions GET 100/s, account SCIM GET 20/s, workspace SCIM GET
// 255/min), the SDK's 15/s for the other REST reads.
var benchRates = map[string]float64{
	scimClassDefault:                  15,
	string(scim.ClassPermissionsRead): 100,
	string(scim.ClassSCIMRead):        4.25,
	string(scim.ClassAccountSCIMRead): 20,
	string(scim.ClassAssignments):     5,
}

const scimClassDefault = string(scim.ClassDefault)

// requestCounter counts the client's requests per (workspace, class).
type requestCounter struct {
	mu sync.Mutex
	n  map[string]int // "workspace/class"
}

func (c *requestCounter) add(ev scim.RequestEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[fmt.Sprintf("%d/%s", ev.WorkspaceID, ev.Class)]++
}

// lowerBound is the shortest time the rate limits allow for the counted
// requests: every (workspace, class) bucket drains independently, so the
// run cannot be faster than its busiest bucket (requests / rate).
func (c *requestCounter) lowerBound() (time.Duration, string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var worst time.Duration
	var worstKey string
	total := 0
	keys := make([]string, 0, len(c.n))
	for k := range c.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := c.n[k]
		total += n
		var ws int64
		var class string
		fmt.Sscanf(k, "%d/%s", &ws, &class)
		rate := benchRates[class]
		if rate == 0 {
			continue
		}
		if d := time.Duration(float64(n) / rate * float64(time.Second)); d > worst {
			worst, worstKey = d, k
		}
	}
	return worst, worstKey, total
}

// BenchmarkAuditAll runs "audit --all" on a synthetic account of 10
// workspaces with 500 jobs, 200 clusters and 1,000 tokens each, against a
// sandbox that enforces benchRates, and reports the requests made, the
// wall time, the lower bound the rate limits set and their ratio.
//
//	go test ./audit -run '^$' -bench AuditAll -benchtime 1x
func BenchmarkAuditAll(b *testing.B) {
	seed, err := sandbox.Synthetic("workspaces=10,users=2000,groups=200,members=25,sps=100,seed=1,jobs=500,clusters=200,tokens=1000")
	if err != nil {
		b.Fatal(err)
	}
	srv := sandbox.NewTestServer(b, sandbox.Options{Seed: seed, RateLimits: benchRates})
	streams, _, _ := reports.Test()
	out := filepath.Join(b.TempDir(), "all.csv")
	for b.Loop() {
		counter := &requestCounter{n: map[string]int{}}
		s := scim.Settings{
			Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
			Parallel: 10, Rates: benchRates, OnRequest: counter.add,
		}
		deps := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, s) }}
		start := time.Now()
		err := Run(context.Background(), Options{All: true, Format: FormatCSV, Out: out, Force: true}, deps)
		wall := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		lower, busiest, total := counter.lowerBound()
		b.ReportMetric(float64(total), "requests/op")
		b.ReportMetric(lower.Seconds(), "lower-bound-s/op")
		b.ReportMetric(wall.Seconds()/lower.Seconds(), "x-lower-bound")
		b.Logf("requests %d (server saw %d, throttled %d), wall %v, lower bound %v (busiest bucket %s), ratio %.2f",
			total, srv.Stats().Total, srv.Stats().Throttled, wall.Round(time.Millisecond), lower.Round(time.Millisecond), busiest, wall.Seconds()/lower.Seconds())
		srv.ResetStats()
	}
}
