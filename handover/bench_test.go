package handover

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// benchSeed is an account of 20 identity-federated workspaces where 10
// leaving users own 2,000 objects: in each workspace 38 jobs, 10 pipelines
// (their creator: owner and run-as), 19 queries, 14 clusters (terminated;
// 5 dedicated to their creator) and 14 SQL warehouses (1,900 in all), and
// in the metastore the 20 workspaces share 50 catalogs with one schema
// each (100). The successor is a service principal whose User role the
// admin holds, and a user for queries.
func benchSeed() *sandbox.Seed {
	const wsCount, leavers = 20, 10
	seed := &sandbox.Seed{AccountID: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}
	admin := "9000000000000001"
	seed.Users = append(seed.Users, sandbox.SeedUser{ID: admin, UserName: "admin@bench.test"})
	seed.Users = append(seed.Users, sandbox.SeedUser{ID: "9000000000000002", UserName: "heir@bench.test"})
	for i := range leavers {
		seed.Users = append(seed.Users, sandbox.SeedUser{ID: strconv.Itoa(9000000000000100 + i), UserName: fmt.Sprintf("leaver%02d@bench.test", i)})
	}
	sp := "11111111-2222-4333-8444-555555555555"
	seed.ServicePrincipals = []sandbox.SeedServicePrincipal{{ID: "9000000000000003", ApplicationID: sp, DisplayName: "heir-sp"}}
	seed.ServicePrincipalRoles = []sandbox.SeedSPRoles{{ServicePrincipal: sp,
		GrantRules: []sandbox.SeedGrantRule{{Role: sandbox.RoleSPUser, Principals: []string{"users/admin@bench.test"}}}}}
	seed.Tokens = []sandbox.SeedToken{{Token: "dapi-bench-admin", Principal: admin, Role: sandbox.RoleAccountAdmin}}
	for w := range wsCount {
		ws := sandbox.SeedWorkspace{WorkspaceID: int64(7000000000000001 + w), WorkspaceName: fmt.Sprintf("bench-%02d", w),
			IdentityFederated: true, MetastoreID: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
			Assignments: []sandbox.SeedAssignment{{Principal: admin, Permissions: []string{"ADMIN"}}}}
		for _, u := range seed.Users[1:] {
			ws.Assignments = append(ws.Assignments, sandbox.SeedAssignment{Principal: u.ID, Permissions: []string{"USER"}})
		}
		ws.Assignments = append(ws.Assignments, sandbox.SeedAssignment{Principal: "9000000000000003", Permissions: []string{"USER"}})
		o := &sandbox.SeedObjects{}
		owner := func(i int) string { return fmt.Sprintf("leaver%02d@bench.test", i%leavers) }
		for i := range 38 {
			o.Jobs = append(o.Jobs, sandbox.SeedJob{JobID: int64(1000 + i), Name: fmt.Sprintf("job-%d", i), Creator: owner(i)})
		}
		for i := range 10 {
			o.Pipelines = append(o.Pipelines, sandbox.SeedPipeline{PipelineID: fmt.Sprintf("00000000-0000-4000-8000-%012d", w*100+i),
				Name: fmt.Sprintf("pipeline-%d", i), Creator: owner(i), State: "IDLE"})
		}
		for i := range 19 {
			o.Queries = append(o.Queries, sandbox.SeedQuery{ID: fmt.Sprintf("10000000-0000-4000-8000-%012d", w*100+i),
				DisplayName: fmt.Sprintf("query-%d", i), Owner: owner(i)})
		}
		for i := range 14 {
			c := sandbox.SeedCluster{ClusterID: fmt.Sprintf("0101-010101-%08d", w*100+i), ClusterName: fmt.Sprintf("cluster-%d", i),
				Creator: owner(i), State: "TERMINATED", Terminated: "now-1d"}
			if i < 5 {
				c.SingleUserName = owner(i)
			}
			o.Clusters = append(o.Clusters, c)
		}
		for i := range 14 {
			o.Warehouses = append(o.Warehouses, sandbox.SeedWarehouse{ID: fmt.Sprintf("%016d", w*100+i), Name: fmt.Sprintf("wh-%d", i),
				Creator: owner(i), State: "STOPPED"})
		}
		ws.Objects = o
		seed.Workspaces = append(seed.Workspaces, ws)
	}
	m := sandbox.SeedMetastore{MetastoreID: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", Name: "bench", Owner: "admin@bench.test"}
	for i := range 50 {
		owner := fmt.Sprintf("leaver%02d@bench.test", i%leavers)
		m.Catalogs = append(m.Catalogs, sandbox.SeedCatalog{Name: fmt.Sprintf("catalog_%02d", i), Owner: owner,
			Schemas: []sandbox.SeedSchema{{Name: "main", Owner: owner}}})
	}
	seed.Metastores = []sandbox.SeedMetastore{m}
	return seed
}

// BenchmarkApply2000 hands over 2,000 objects of 10 identities across 20
// workspaces and their metastore with the client's default rates (permissions-write 5/s and
// rest-write 10/s per workspace, the sandbox's default class 10/s), the sandbox enforcing the same limits, and
// prints the requests per bucket, the lower bound set by the busiest bucket,
// the wall time and their ratio (target <= 1.3).
func BenchmarkApply2000(b *testing.B) {
	rates := map[string]float64{}
	for _, c := range scim.Classes() {
		// The sandbox limits its own classes (its default class holds
		// the REST writes the client charges to rest-write).
		if slices.Contains(sandbox.Classes, string(c)) {
			rates[string(c)], _ = scim.DefaultRate(c)
		}
	}
	for range b.N {
		b.StopTimer()
		srv := sandbox.NewTestServer(b, sandbox.Options{Seed: benchSeed(), RateLimits: rates})
		dir := b.TempDir()
		plan := filepath.Join(dir, "handover.json")
		var from []string
		for i := range 10 {
			from = append(from, fmt.Sprintf("user:leaver%02d@bench.test", i))
		}
		io := reports.NewStreams(nil, nil, nil)
		var mu sync.Mutex
		type bucket struct {
			ws    int64
			class scim.Class
		}
		buckets := map[bucket]int{}
		writes := 0
		connect := func(count bool) scim.ConnectFunc {
			return func(ctx context.Context) (*scim.Session, error) {
				s := scim.Settings{Host: srv.URL(), AccountID: srv.AccountID(), Token: "dapi-bench-admin", Hermetic: true, Parallel: 20}
				if count {
					s.OnRequest = func(e scim.RequestEvent) {
						mu.Lock()
						defer mu.Unlock()
						// The sandbox's bucket: its default class holds
						// the writes the client charges to rest-write.
						c := e.Class
						switch c {
						case scim.ClassRESTWrite:
							c = scim.ClassDefault
						case scim.ClassAssignmentsWrite:
							c = scim.ClassAssignments
						}
						buckets[bucket{e.WorkspaceID, c}]++
						if e.Method != "GET" {
							writes++
						}
					}
				} else {
					s.Rates = scim.UnlimitedRates()
				}
				return scim.Connect(ctx, s)
			}
		}
		m := writeFile(b, "map.csv", "*,query,*,user:heir@bench.test\n")
		err := RunPlan(context.Background(), PlanOptions{From: from, To: "service-principal:11111111-2222-4333-8444-555555555555",
			MapFile: m, Out: plan}, Deps{Streams: io, Connect: connect(false)})
		if err != nil {
			b.Fatalf("plan: %v", err)
		}
		p, _, _ := ReadPlan(plan)
		srv.ResetStats()
		b.StartTimer()
		start := time.Now()
		err = RunApply(context.Background(), ApplyOptions{PlanPath: plan, Yes: true}, Deps{Streams: io, Connect: connect(true)})
		wall := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("apply: %v", err)
		}
		bound, busiest := 0.0, ""
		for k, n := range buckets {
			r := rates[string(k.class)]
			if r == 0 || math.IsInf(r, 1) {
				continue
			}
			if t := float64(n-1) / r; t > bound {
				bound, busiest = t, fmt.Sprintf("workspace %d %s: %d requests at %g/s", k.ws, k.class, n, r)
			}
		}
		objects := map[string]bool{}
		for _, c := range p.Changes {
			objects[objectKey(c)] = true
		}
		st := srv.Stats()
		b.Logf("objects %d, changes %d, requests %d (writes %d), throttled %d; busiest bucket %s; lower bound %.2f s, wall %.2f s, ratio %.2f",
			len(objects), len(p.Changes), st.Total, writes, st.Throttled, busiest, bound, wall.Seconds(), wall.Seconds()/bound)
		b.ReportMetric(wall.Seconds()/bound, "ratio")
	}
}
