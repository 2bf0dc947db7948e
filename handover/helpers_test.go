package handover

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

// newProdBoundServer starts a sandbox with the default seed whose isolated
// finance catalog is bound to acme-prod as well as acme-analytics, for
// tests that plan acme-prod alone (from where the default seed's finance
// catalog cannot be read: a blocking "not read").
func newProdBoundServer(t testing.TB) *sandbox.Server {
	t.Helper()
	s := sandbox.DefaultSeed()
	for i, c := range s.Metastores[0].Catalogs {
		if c.Name == "finance" {
			s.Metastores[0].Catalogs[i].Workspaces = append(c.Workspaces, wsProd)
		}
	}
	return sandbox.NewTestServer(t, sandbox.Options{Seed: s})
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

type sbUser struct {
	id   int64
	name string
}

// meRequest calls Me in acme-prod with the sandbox's user token.
func meRequest(t testing.TB, srv *sandbox.Server) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/2.0/preview/scim/v2/Me", nil)
	req.Header.Set("Authorization", "Bearer "+srv.UserToken())
	req.Header.Set("X-Databricks-Workspace-Id", strconv.FormatInt(wsProd, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sandboxUser returns the user of the sandbox's user token.
func sandboxUser(t testing.TB, srv *sandbox.Server) sbUser {
	t.Helper()
	resp := meRequest(t, srv)
	defer resp.Body.Close()
	var me struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != 200 {
		t.Fatalf("Me: %d, %v", resp.StatusCode, err)
	}
	id, _ := strconv.ParseInt(me.ID, 10, 64)
	return sbUser{id: id, name: me.UserName}
}

// userTokenStatus returns the status of Me with the sandbox's user token.
func userTokenStatus(t testing.TB, srv *sandbox.Server) int {
	t.Helper()
	resp := meRequest(t, srv)
	resp.Body.Close()
	return resp.StatusCode
}
