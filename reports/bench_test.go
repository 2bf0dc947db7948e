package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// heapSampler records the peak of live heap objects while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: heapMetric}}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			metrics.Read(sample)
			h.peak = max(h.peak, sample[0].Value.Uint64())
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// Stop stops sampling and returns the peak in bytes.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
}

var benchCols = []Column{
	{Name: "workspace_id", Type: TypeInt},
	{Name: "workspace", Type: TypeString},
	{Name: "id", Type: TypeString},
	{Name: "user_name", Type: TypeString},
	{Name: "display_name", Type: TypeString},
	{Name: "active", Type: TypeBool},
	{Name: "groups", Type: TypeString},
	{Name: "entitlements", Type: TypeString},
	{Name: "group_count", Type: TypeInt},
	{Name: "created", Type: TypeTime},
}

// BenchmarkXLSX100kRows writes a 100,000-row users table (plus a small
// second table and a summary) to an XLSX workbook and reports the peak
// live heap, which must stay bounded whatever the row count.
func BenchmarkXLSX100kRows(b *testing.B) {
	const rows = 100_000
	dir := b.TempDir()
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	var peak uint64
	var size int64
	var commit time.Duration // the time Commit took: flush and compress
	for i := 0; b.Loop(); i++ {
		path := filepath.Join(dir, fmt.Sprintf("bench%d.xlsx", i))
		runtime.GC()
		h := startHeapSampler(5 * time.Millisecond)
		tb, err := NewTables(FormatXLSX, path, TablesOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := tb.Table("users", benchCols)
		if err != nil {
			b.Fatal(err)
		}
		for r := range rows {
			err := s.WriteRow(int64(1000+r%20), fmt.Sprintf("workspace-%02d", r%20), fmt.Sprintf("%016d", r),
				fmt.Sprintf("user%06d@example.test", r), fmt.Sprintf("User Number %d", r), r%7 != 0,
				"admins;data-eng;analysts", "workspace-access;databricks-sql-access", r%5, created.Add(time.Duration(r)*time.Minute))
			if err != nil {
				b.Fatal(err)
			}
		}
		g, err := tb.Table("groups", []Column{{Name: "name"}, {Name: "members", Type: TypeInt}})
		if err != nil {
			b.Fatal(err)
		}
		for r := range 1000 {
			if err := g.WriteRow(fmt.Sprintf("group-%d", r), r); err != nil {
				b.Fatal(err)
			}
		}
		if err := tb.Summary(Summary{Title: "users", Columns: []Column{{Name: "ws"}, {Name: "users", Type: TypeInt}},
			Rows: [][]any{{"a", 50_000}, {"b", 50_000}}}); err != nil {
			b.Fatal(err)
		}
		commitStart := time.Now()
		if err := tb.Commit(); err != nil {
			b.Fatal(err)
		}
		commit += time.Since(commitStart)
		peak = max(peak, h.Stop())
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
		_ = os.Remove(path)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(commit.Seconds()/float64(b.N), "commit-s/op")
}
