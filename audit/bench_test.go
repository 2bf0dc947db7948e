package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
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
	return c.lowerBoundAt(benchRates)
}

// lowerBoundAt is lowerBound for the given per-class rates.
func (c *requestCounter) lowerBoundAt(rates map[string]float64) (time.Duration, string, int) {
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
		rate := rates[class]
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

// defaultRates returns the client's per-class default rates, as a
// sandbox RateLimits value.
func defaultRates() map[string]float64 {
	out := map[string]float64{}
	for _, c := range scim.Classes() {
		// The sandbox limits its own classes only.
		if slices.Contains(sandbox.Classes, string(c)) {
			out[string(c)], _ = scim.DefaultRate(c)
		}
	}
	return out
}

// BenchmarkAuditMetastore audits one user of a synthetic account whose
// metastore holds 20 catalogs of 50 schemas of 100 tables (100,000
// tables) and is attached to 10 workspaces (an 11th has no metastore),
// with the sandbox enforcing, and the client using, the per-class default
// rates. It reports the requests, how many times the metastore's catalogs
// were listed (once), the lower bound the busiest rate-limit bucket sets
// (the reading workspace's default class: the Unity Catalog list pages),
// the wall time and their ratio. The "small" case (2 catalogs) is a quick
// check of the same path.
//
//	go test ./audit -run '^$' -bench 'AuditMetastore/full' -benchtime 1x -timeout 30m
func BenchmarkAuditMetastore(b *testing.B) {
	for _, bc := range []struct{ name, spec string }{
		{"small", "workspaces=11,users=200,groups=20,members=5,sps=10,seed=1,catalogs=2,schemas=50,tables=100"},
		{"full", "workspaces=11,users=200,groups=20,members=5,sps=10,seed=1,catalogs=20,schemas=50,tables=100"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			seed, err := sandbox.Synthetic(bc.spec)
			if err != nil {
				b.Fatal(err)
			}
			user := seed.Users[5].UserName
			rates := defaultRates()
			srv := sandbox.NewTestServer(b, sandbox.Options{Seed: seed, RateLimits: rates})
			streams, _, _ := reports.Test()
			out := filepath.Join(b.TempDir(), "audit.csv")
			for b.Loop() {
				srv.ResetStats()
				counter := &requestCounter{n: map[string]int{}}
				s := scim.Settings{
					Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
					Parallel: 10, OnRequest: counter.add,
				}
				deps := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, s) }}
				start := time.Now()
				err := Run(context.Background(), Options{Users: []string{user}, Format: FormatCSV, Out: out, Force: true}, deps)
				wall := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				lower, busiest, total := counter.lowerBoundAt(rates)
				st := srv.Stats()
				b.ReportMetric(float64(total), "requests/op")
				b.ReportMetric(float64(st.Count("GET", "/api/2.1/unity-catalog/tables")), "table-lists/op")
				b.ReportMetric(lower.Seconds(), "lower-bound-s/op")
				b.ReportMetric(wall.Seconds()/lower.Seconds(), "x-lower-bound")
				b.Logf("requests %d (server saw %d, throttled %d; catalogs listed %d times, %d table lists, %d grant reads), wall %v, lower bound %v (busiest bucket %s), ratio %.2f",
					total, st.Total, st.Throttled, st.Count("GET", "/api/2.1/unity-catalog/catalogs"), st.Count("GET", "/api/2.1/unity-catalog/tables"),
					st.Count("GET", "/api/2.1/unity-catalog/permissions/{type}/{name}"), wall.Round(time.Millisecond), lower.Round(time.Millisecond),
					busiest, wall.Seconds()/lower.Seconds())
			}
		})
	}
}
