package export

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// memoryChildEnv carries a memoryChild configuration to the re-executed
// test binary.
const memoryChildEnv = "DBIAM_EXPORT_MEMORY_CHILD"

// memoryChild is the configuration of an export run in a child process.
type memoryChild struct {
	URL, AccountID, Token, Out, Format string
	Parallel                           int
}

// BenchmarkExportMemory exports synthetic accounts whose workspaces each
// hold 5,000 users, about 1,000 groups (250 account groups and 750 local
// ones) of 30 members and 100 service principals, with --parallel 50, in
// a child process (the test binary run again), so that its peak resident
// set is dbiam's alone: the sandbox stays in this process. It reports the
// child's peak RSS (getrusage), its peak heap (sampled every 10 ms,
// garbage not yet collected included) and the wall time: 50 workspaces to
// CSV and to JSON Lines, and 10 to XLSX (a workspace holds about 70,000
// membership rows: 50 hold more than a sheet's 1,048,575).
//
// Run it with: go test ./export/ -run '^$' -bench ExportMemory -benchtime 1x -timeout 30m
func BenchmarkExportMemory(b *testing.B) {
	for _, c := range []struct {
		workspaces int
		formats    []string
	}{{50, []string{"csv", "json"}}, {10, []string{"xlsx"}}} {
		seed, err := sandbox.Synthetic(fmt.Sprintf("workspaces=%d,users=5000,groups=1000,members=30,sps=100,local-groups=750,seed=1", c.workspaces))
		if err != nil {
			b.Fatal(err)
		}
		srv := sandbox.NewTestServer(b, sandbox.Options{Seed: seed, PageCap: 100})
		for _, format := range c.formats {
			b.Run(fmt.Sprintf("workspaces=%d/%s", c.workspaces, format), func(b *testing.B) {
				for range b.N {
					benchMemory(b, srv, format, 50)
				}
			})
		}
		srv.Close()
	}
}

func benchMemory(b *testing.B, srv *sandbox.Server, format string, parallel int) {
	cfg := memoryChild{URL: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(), Format: format,
		Out: filepath.Join(b.TempDir(), "export."+format), Parallel: parallel}
	js, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExportMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), memoryChildEnv+"="+string(js))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("child: %v\n%s", err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatal("no rusage")
	}
	rss := float64(ru.Maxrss) * 1024 // kilobytes on Linux
	var peakHeap float64
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "peak_heap_bytes="); ok {
			peakHeap, _ = strconv.ParseFloat(v, 64)
		}
	}
	const mb = 1 << 20
	b.ReportMetric(rss/mb, "peak-rss-MB")
	b.ReportMetric(peakHeap/mb, "peak-heap-MB")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.Logf("%s --parallel %d: peak RSS %.0f MB, peak heap %.0f MB, wall %.1fs", format, parallel, rss/mb, peakHeap/mb, wall.Seconds())
}

// TestExportMemoryChild is the child of BenchmarkExportMemory; it does
// nothing unless run by it.
func TestExportMemoryChild(t *testing.T) {
	js := os.Getenv(memoryChildEnv)
	if js == "" {
		t.Skip("run by BenchmarkExportMemory")
	}
	var cfg memoryChild
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		t.Fatal(err)
	}
	settings := scim.Settings{Host: cfg.URL, AccountID: cfg.AccountID, Token: cfg.Token, Hermetic: true,
		Parallel: cfg.Parallel, Rates: scim.UnlimitedRates()}
	streams, _, _ := reports.Test()
	heap := startHeapSampler()
	err := Run(context.Background(), Options{Out: cfg.Out, Format: cfg.Format, Force: true},
		Deps{Streams: streams, Connect: func(ctx context.Context) (*scim.Session, error) { return scim.Connect(ctx, settings) }})
	heap.stop()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("peak_heap_bytes=%d\n", heap.peak(time.Time{}, time.Now()))
}
