package export

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// benchRate is the per-workspace rate of the sandbox's scim-read class and
// of every client class, in requests per second.
const benchRate = 25

// BenchmarkExport exports a synthetic account of 20 workspaces (2000 users,
// 400 groups of 25 members, 100 service principals) to XLSX from a sandbox
// that allows 25 SCIM reads per second per workspace, answers after 20 ms
// and caps pages at 100, with the client held to the same 25/s. It reports,
// for all workspaces at once and for one at a time:
//
//   - requests: requests the client made (every attempt)
//   - bound-s: the lower bound on wall time, the largest request count of
//     one rate-limit bucket (per workspace or account, per class) divided by
//     the rate
//   - wall-s: measured wall time, and ratio = wall-s / bound-s
//   - throttled: throttled replies the sandbox sent
//   - failed: error replies other than throttling (and the metastore
//     check's 404 for the non-federated workspace)
//   - peak-heap-MB: the largest live heap sampled every 10 ms
//
// Run it with: go test ./export/ -run '^$' -bench Export -benchtime 1x
func BenchmarkExport(b *testing.B) {
	seed, err := sandbox.Synthetic("workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	for _, parallel := range []int{20, 1} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			for range b.N {
				benchExport(b, seed, parallel)
			}
		})
	}
}

type bucket struct {
	scope int64
	class scim.Class
}

func benchExport(b *testing.B, seed *sandbox.Seed, parallel int) {
	srv := sandbox.NewTestServer(b, sandbox.Options{
		Seed:       seed,
		PageCap:    100,
		Latency:    20 * time.Millisecond,
		RateLimits: map[string]float64{sandbox.ClassSCIMRead: benchRate},
	})
	rates := map[string]float64{}
	for _, c := range scim.Classes() {
		rates[string(c)] = benchRate
	}
	var mu sync.Mutex
	perBucket := map[bucket]int{}
	requests, failed := 0, 0 // failed: error replies other than throttling
	settings := scim.Settings{
		Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true,
		Parallel: parallel, Rates: rates,
		OnRequest: func(ev scim.RequestEvent) {
			mu.Lock()
			defer mu.Unlock()
			requests++
			perBucket[bucket{ev.WorkspaceID, ev.Class}]++
		},
	}
	streams, _, stderr := reports.Test()
	streams.SetLogLevel(reports.LevelDebug)
	defer func() {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, "export timing") || strings.Contains(l, "export done") {
				b.Log(l)
			}
		}
	}()
	deps := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, settings) }}
	out := filepath.Join(b.TempDir(), "export.xlsx")

	stop := sampleHeap()
	srv.ResetStats()
	start := time.Now()
	err := Run(context.Background(), Options{Out: out, Force: true}, deps)
	wall := time.Since(start)
	peakHeap := stop()
	if err != nil {
		b.Errorf("Run: %v", err)
	}
	st := srv.Stats()
	for _, rc := range st.Requests {
		// 404 is the metastore check's answer for the non-federated
		// workspace; 429 is counted as throttled.
		if rc.Status >= 400 && rc.Status != 404 && rc.Status != 429 || rc.Status == 0 {
			failed += rc.Count
		}
	}

	var worst bucket
	for k, n := range perBucket {
		if n > perBucket[worst] {
			worst = k
		}
	}
	bound := float64(perBucket[worst]) / benchRate
	var wsMax int
	scopes := map[int64]int{}
	for k, n := range perBucket {
		scopes[k.scope] += n
	}
	ids := make([]int64, 0, len(scopes))
	for id := range scopes {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if id != 0 {
			wsMax = max(wsMax, perBucket[bucket{id, scim.ClassSCIMRead}])
		}
	}
	ratio := wall.Seconds() / bound
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(bound, "bound-s")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(st.Throttled), "throttled")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
	b.Logf("parallel=%d: requests=%d (sandbox saw %d) bound=%.2fs (busiest bucket: scope %d class %s, %d requests; busiest workspace scim-read: %d) wall=%.2fs ratio=%.2f throttled=%d failed=%d peak-heap=%.1fMB",
		parallel, requests, st.Total, bound, worst.scope, worst.class, perBucket[worst], wsMax,
		wall.Seconds(), ratio, st.Throttled, failed, float64(peakHeap)/(1<<20))
	if parallel > 1 {
		b.Logf("one-at-a-time reference: the sum over workspaces of scim-read requests / rate = %.2fs", sumBound(perBucket))
	}
}

// sumBound is the lower bound of a run that reads one workspace at a time.
func sumBound(per map[bucket]int) float64 {
	var n int
	for k, v := range per {
		if k.scope != 0 && k.class == scim.ClassSCIMRead {
			n += v
		}
	}
	return float64(n) / benchRate
}

// sampleHeap samples the live heap every 10 ms until stop is called, which
// returns the largest value seen.
func sampleHeap() (stop func() uint64) {
	runtime.GC()
	var p uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > p {
			p = v
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return p
	}
}
