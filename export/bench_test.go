package export

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
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
// 400 groups of 25 members, 100 service principals) from a sandbox that
// allows 25 SCIM reads per second per workspace, answers after 20 ms and
// caps pages at 100, with the client held to 25/s in every class. It runs
// all workspaces at once to XLSX (the default format), CSV and JSON Lines,
// and one workspace at a time to XLSX, and reports for each:
//
//   - requests: requests the client made (every attempt)
//   - bound-s: the lower bound on wall time: the largest number of requests
//     charged to one rate-limit bucket (a workspace's or the account's class)
//     divided by the rate
//   - wall-s and ratio = wall-s / bound-s; read-s and read-ratio, the same
//     for the reading phase alone (rows are copied into the output while
//     it runs; the log line's copy is what was left of that copy after the
//     last read, and commit the assembly of the output file)
//   - throttled: throttled replies the sandbox sent
//   - failed: error replies other than throttling (the metastore check's
//     404 for the non-federated workspace is an answer, not a failure)
//   - output-MB: the size of the output (all files for CSV and JSON)
//   - peak-heap-MB: the largest live heap sampled every 10 ms (the
//     in-process sandbox included), read-heap-MB the largest during the
//     reading phase, and baseline-heap-MB the heap before the run
//
// Run it with: go test ./export/ -run '^$' -bench Export -benchtime 1x
func BenchmarkExport(b *testing.B) {
	seed, err := sandbox.Synthetic("workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		parallel int
		format   string
	}{{20, "xlsx"}, {20, "csv"}, {20, "json"}, {1, "xlsx"}} {
		b.Run(fmt.Sprintf("parallel=%d/%s", c.parallel, c.format), func(b *testing.B) {
			for range b.N {
				benchExport(b, seed, c.parallel, c.format)
			}
		})
	}
}

type bucket struct {
	scope int64
	class scim.Class
}

func benchExport(b *testing.B, seed *sandbox.Seed, parallel int, format string) {
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
	requests := 0
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
	deps := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, settings) }}
	out := filepath.Join(b.TempDir(), "export."+format)

	heap := startHeapSampler()
	baseline := heap.bytes[0]
	srv.ResetStats()
	start := time.Now()
	err := Run(context.Background(), Options{Out: out, Format: format, Force: true}, deps)
	wall := time.Since(start)
	heap.stop()
	if err != nil {
		b.Errorf("Run: %v", err)
	}
	phase := phases(stderr.String())
	if _, ok := phase["read"]; !ok {
		b.Error("no export timing debug line with read_ms")
	}
	st := srv.Stats()
	failed := 0
	for _, rc := range st.Requests {
		if rc.Status >= 400 && rc.Status != 404 && rc.Status != 429 || rc.Status == 0 {
			failed += rc.Count
		}
	}
	var worst bucket
	for k, n := range perBucket {
		if n > perBucket[worst] || n == perBucket[worst] && k.scope > worst.scope {
			worst = k
		}
	}
	bound := float64(perBucket[worst]) / benchRate
	ratio, readRatio := wall.Seconds()/bound, phase["read"].Seconds()/bound
	peak, readPeak := heap.peak(start, start.Add(wall)), heap.peak(start, start.Add(phase["read"]))
	const mb = 1 << 20
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(bound, "bound-s")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(phase["read"].Seconds(), "read-s")
	b.ReportMetric(readRatio, "read-ratio")
	b.ReportMetric(float64(st.Throttled), "throttled")
	b.ReportMetric(float64(failed), "failed")
	b.ReportMetric(float64(peak)/mb, "peak-heap-MB")
	b.ReportMetric(float64(readPeak)/mb, "read-heap-MB")
	b.ReportMetric(float64(baseline)/mb, "baseline-heap-MB")
	size := outputSize(b, out)
	b.ReportMetric(float64(size)/mb, "output-MB")
	b.Logf("parallel=%d %s: requests=%d (sandbox saw %d) bound=%.2fs (busiest bucket: scope %d class %s, %d requests) "+
		"wall=%.2fs ratio=%.2f (read %.2fs ratio %.2f, copy %.2fs, commit %.2fs) throttled=%d failed=%d peak-heap=%.1fMB (read %.1fMB, baseline before the run %.1fMB) output=%.1fMB",
		parallel, format, requests, st.Total, bound, worst.scope, worst.class, perBucket[worst],
		wall.Seconds(), ratio, phase["read"].Seconds(), readRatio, phase["copy"].Seconds(), phase["commit"].Seconds(),
		st.Throttled, failed, float64(peak)/mb, float64(readPeak)/mb, float64(baseline)/mb, float64(size)/mb)
	if parallel == 1 {
		b.Logf("one at a time, the bound is the sum over workspaces: %.2fs, ratio %.2f", sumBound(perBucket), wall.Seconds()/sumBound(perBucket))
	}
}

// outputSize is the size of the output file, or of the files of the output
// directory.
func outputSize(b *testing.B, out string) int64 {
	var n int64
	err := filepath.WalkDir(out, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		n += fi.Size()
		return err
	})
	if err != nil {
		b.Errorf("size of %s: %v", out, err)
	}
	return n
}

var phaseRE = regexp.MustCompile(`\b(read|copy|commit)_ms=(\d+)`)

// phases reads the durations of the "export timing" debug line.
func phases(log string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "export timing") {
			continue
		}
		for _, m := range phaseRE.FindAllStringSubmatch(l, -1) {
			ms, _ := strconv.Atoi(m[2])
			out[m[1]] = time.Duration(ms) * time.Millisecond
		}
	}
	return out
}

// sumBound is the lower bound of a run that reads one workspace at a time:
// the workspaces' busiest buckets add up.
func sumBound(per map[bucket]int) float64 {
	busiest := map[int64]int{}
	for k, v := range per {
		if k.scope != 0 {
			busiest[k.scope] = max(busiest[k.scope], v)
		}
	}
	var n int
	for _, v := range busiest {
		n += v
	}
	return float64(n) / benchRate
}

// heapSampler samples the live heap every 10 ms.
type heapSampler struct {
	done     chan struct{}
	finished chan struct{}
	at       []time.Time
	bytes    []uint64
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{done: make(chan struct{}), finished: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		h.at = append(h.at, time.Now())
		h.bytes = append(h.bytes, sample[0].Value.Uint64())
	}
	read() // the baseline: the sandbox and the test, before the export
	go func() {
		defer close(h.finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return h
}

func (h *heapSampler) stop() {
	close(h.done)
	<-h.finished
}

// peak returns the largest sample taken between from and to.
func (h *heapSampler) peak(from, to time.Time) uint64 {
	var p uint64
	for i, at := range h.at {
		if !at.Before(from) && !at.After(to) {
			p = max(p, h.bytes[i])
		}
	}
	return p
}

// BenchmarkExportPacing exports the same synthetic account as
// BenchmarkExport with the client's default rates (no --rate, --rps) and
// --parallel 20 (one slot per workspace, not the default 4), from
// a sandbox that limits SCIM reads to 25/s (workspace and account), and
// from one whose limits equal the client's default rates (4.25 workspace
// SCIM reads/s, 4 account SCIM reads/s, 5 assignment reads/s, 10 other
// reads/s), as a real account's published limits are. It reports, besides
// BenchmarkExport's figures, the share of throttled replies; the bound is
// each bucket's requests divided by the sandbox's rate for its class.
//
// Run it with: go test ./export/ -run '^$' -bench ExportPacing -benchtime 1x
func BenchmarkExportPacing(b *testing.B) {
	seed, err := sandbox.Synthetic("workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		limits map[string]float64
		format string
	}{
		{"server=25/csv", map[string]float64{sandbox.ClassSCIMRead: 25, sandbox.ClassAccountSCIMRead: 25}, "csv"},
		{"server=25/xlsx", map[string]float64{sandbox.ClassSCIMRead: 25, sandbox.ClassAccountSCIMRead: 25}, "xlsx"},
		{"server=defaults/csv", defaultLimits(), "csv"},
		{"server=defaults/xlsx", defaultLimits(), "xlsx"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				benchPacing(b, seed, c.limits, c.format)
			}
		})
	}
}

// defaultLimits are sandbox limits equal to the client's default rates.
func defaultLimits() map[string]float64 {
	m := map[string]float64{}
	for _, c := range []scim.Class{scim.ClassSCIMRead, scim.ClassAccountSCIMRead, scim.ClassAssignments, scim.ClassDefault} {
		m[string(c)], _ = scim.DefaultRate(c)
	}
	return m
}

func benchPacing(b *testing.B, seed *sandbox.Seed, limits map[string]float64, format string) {
	srv := sandbox.NewTestServer(b, sandbox.Options{Seed: seed, PageCap: 100, Latency: 20 * time.Millisecond, RateLimits: limits})
	var mu sync.Mutex
	perBucket := map[bucket]int{}
	throttledBy := map[scim.Class]int{}
	requests := 0
	settings := scim.Settings{
		Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Hermetic: true, Parallel: 20,
		OnRequest: func(ev scim.RequestEvent) {
			mu.Lock()
			defer mu.Unlock()
			requests++
			// The bound counts the requests the export needs: a throttled
			// attempt is the probe's cost, not work.
			if ev.Status != http.StatusTooManyRequests {
				perBucket[bucket{ev.WorkspaceID, ev.Class}]++
			} else {
				throttledBy[ev.Class]++
			}
		},
	}
	streams, _, stderr := reports.Test()
	streams.SetLogLevel(reports.LevelDebug)
	deps := Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, settings) }}
	out := filepath.Join(b.TempDir(), "export."+format)
	srv.ResetStats()
	start := time.Now()
	err := Run(context.Background(), Options{Out: out, Format: format, Force: true}, deps)
	wall := time.Since(start)
	if err != nil {
		b.Errorf("Run: %v", err)
	}
	phase := phases(stderr.String())
	st := srv.Stats()
	var worst bucket
	bound := 0.0
	for k, n := range perBucket {
		r, ok := limits[string(k.class)]
		if !ok {
			continue
		}
		if t := float64(n) / r; t > bound {
			bound, worst = t, k
		}
	}
	share := 100 * float64(st.Throttled) / float64(max(st.Total, 1))
	b.ReportMetric(bound, "bound-s")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(wall.Seconds()/bound, "ratio")
	b.ReportMetric(phase["read"].Seconds()/bound, "read-ratio")
	b.ReportMetric(float64(st.Throttled), "throttled")
	b.ReportMetric(share, "throttled-%")
	b.Logf("%s: requests=%d (sandbox saw %d, %d throttled %v, %.1f%%) bound=%.2fs (busiest bucket: scope %d class %s, %d requests) wall=%.2fs ratio=%.2f (read %.2fs ratio %.2f, copy %.2fs, commit %.2fs)",
		format, requests, st.Total, st.Throttled, throttledBy, share, bound, worst.scope, worst.class, perBucket[worst],
		wall.Seconds(), wall.Seconds()/bound, phase["read"].Seconds(), phase["read"].Seconds()/bound, phase["copy"].Seconds(), phase["commit"].Seconds())
}
