package handover

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// Default seed names.
const (
	elena   = "elena.patel@acme.test"
	dana    = "dana.varga@acme.test"
	etlProd = "b83e9e22-b2ed-4451-bcdd-00b79deb79be" // the demo admin holds its Service Principal User role
	etlDev  = "81b23769-a23c-4b56-bd1e-b8344beb2db8" // nobody holds its User role
	wsProd  = int64(6051921418418891)
	wsAnaly = int64(6051921418418892)
)

var testNow = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// newServer starts a sandbox with the default seed.
func newServer(t testing.TB) *sandbox.Server {
	t.Helper()
	return sandbox.NewTestServer(t, sandbox.Options{})
}

// deps returns Deps on srv's admin token, unlimited rates, a fixed clock
// and buffers for stdout and stderr.
func deps(srv *sandbox.Server) (Deps, *bytes.Buffer, *bytes.Buffer) {
	io, stdout, stderr := reports.Test()
	connect := func(ctx context.Context) (*scim.Session, error) {
		return scim.Connect(ctx, scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
			Hermetic: true, Rates: scim.UnlimitedRates(), Concurrency: 8,
			Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	}
	return Deps{Streams: io, Connect: connect, Now: func() time.Time { return testNow }}, stdout, stderr
}

// writeFile writes content to name in a temp dir and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// demoMap sends queries, alerts and legacy dashboards (which only users
// may own) and everything in acme-analytics (where etl-prod has no access)
// to dana.
const demoMap = `from,kind,workspace,to
*,query,*,user:dana.varga@acme.test
*,alert,*,user:dana.varga@acme.test
*,alert-v2,*,user:dana.varga@acme.test
*,legacy-dashboard,*,user:dana.varga@acme.test
*,*,acme-analytics,user:dana.varga@acme.test
`

// demoPlan plans elena's handover to etl-prod with the demo map; extra
// changes the options. It fails the test on an error.
func demoPlan(t testing.TB, srv *sandbox.Server, extra func(*PlanOptions)) (string, *Plan) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "handover.json")
	o := PlanOptions{From: []string{"user:" + elena}, To: "service-principal:" + etlProd,
		MapFile: writeFile(t, "map.csv", demoMap), RestartClusters: true, Out: out, ToolVersion: "test"}
	if extra != nil {
		extra(&o)
	}
	d, _, stderr := deps(srv)
	if err := RunPlan(context.Background(), o, d); err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	p, _, err := ReadPlan(out)
	if err != nil {
		t.Fatal(err)
	}
	return out, p
}

// nonGET counts the requests of srv's stats that are not GET.
func nonGET(srv *sandbox.Server) int {
	n := 0
	for _, r := range srv.Stats().Requests {
		if r.Method != "GET" {
			n += r.Count
		}
	}
	return n
}

// changeIDs returns the ids of a plan's changes.
func changeIDs(p *Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.ID)
	}
	return out
}
