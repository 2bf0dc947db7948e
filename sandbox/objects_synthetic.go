package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// syntheticObjectKeys are the Synthetic spec keys that size each workspace's
// objects (counts per workspace, default 0): jobs, clusters, tokens,
// warehouses, pipelines, queries, alerts (at most one per query),
// dashboards (legacy), lakeview, endpoints (serving) and apps.
var syntheticObjectKeys = []string{"jobs", "clusters", "tokens", "warehouses", "pipelines",
	"queries", "alerts", "dashboards", "lakeview", "endpoints", "apps"}

// AddSyntheticObjects gives every workspace of seed (typically from
// Synthetic) generated objects sized by spec, for example
// "jobs=500,clusters=200,tokens=1000,seed=1": counts per workspace for the
// keys jobs, clusters, tokens, warehouses, pipelines, queries, alerts (at
// most one per query), dashboards (legacy), lakeview, endpoints (serving)
// and apps, all optional (default 0); seed (default 1) makes the result
// reproducible. The objects are attached to seed (see AttachObjects). An
// unknown key or a bad value is an error naming it. It is safe for
// concurrent use on different seeds.
func AddSyntheticObjects(seed *Seed, spec string) error {
	counts, rngSeed, err := parseSyntheticObjects(spec)
	if err != nil {
		return err
	}
	return addSyntheticObjects(seed, counts, rngSeed)
}

// splitObjectKeys splits a Synthetic spec into its identity part and its
// objects part (the syntheticObjectKeys); "seed" goes to both. Synthetic
// calls it to accept object keys next to identity keys.
func splitObjectKeys(spec string) (identity, objects string) {
	var id, obj []string
	for _, kv := range strings.Split(spec, ",") {
		k, _, _ := strings.Cut(kv, "=")
		switch k = strings.TrimSpace(k); {
		case k == "seed":
			id, obj = append(id, kv), append(obj, kv)
		case oneOf(k, syntheticObjectKeys...):
			obj = append(obj, kv)
		default:
			id = append(id, kv)
		}
	}
	return strings.Join(id, ","), strings.Join(obj, ",")
}

// parseSyntheticObjects parses an objects spec ("jobs=500,seed=1").
func parseSyntheticObjects(spec string) (map[string]int, uint64, error) {
	counts := map[string]int{}
	rngSeed := uint64(1)
	err := parseSpec(spec, "synthetic objects spec", &rngSeed, func(k, v string) error {
		if !oneOf(k, syntheticObjectKeys...) {
			return fmt.Errorf("unknown key %q (want %s or seed)", k, strings.Join(syntheticObjectKeys, ", "))
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			return fmt.Errorf("%s: %q is not an integer between 0 and 1000000", k, v)
		}
		counts[k] = n
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return counts, rngSeed, nil
}

// addSyntheticObjects gives every workspace of a synthetic seed an objects
// section sized by counts (checked by parseSyntheticObjects; absent = 0). The
// objects are derived deterministically from rngSeed and refer to the
// principals visible to each workspace: a share of jobs run as service
// principals or were created by deleted users, tokens and clusters mix
// states and ages, and some objects have several managers.
func addSyntheticObjects(seed *Seed, counts map[string]int, rngSeed uint64) error {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return nil
	}
	for i := range seed.Workspaces {
		w := &seed.Workspaces[i]
		o, err := syntheticWorkspaceObjects(seed, w, counts, rand.New(rand.NewPCG(rngSeed, uint64(w.WorkspaceID))))
		if err != nil {
			return err
		}
		w.Objects = o
	}
	return addSyntheticCatalog(seed, counts, rngSeed)
}

func syntheticWorkspaceObjects(seed *Seed, w *SeedWorkspace, counts map[string]int, r *rand.Rand) (*SeedObjects, error) {
	// Objects belong to principals visible in the workspace (so they can
	// also receive grants).
	var users, sps, groups []string
	add := func(us []SeedUser, ss []SeedServicePrincipal, gs []SeedGroup, visible func(string) bool) {
		for _, u := range us {
			if visible(u.ID) {
				users = append(users, u.UserName)
			}
		}
		for _, sp := range ss {
			if visible(sp.ID) {
				sps = append(sps, sp.ApplicationID)
			}
		}
		for _, g := range gs {
			if g.DisplayName != accountUsersGroup && g.DisplayName != usersGroup && visible(g.ID) {
				groups = append(groups, g.DisplayName)
			}
		}
	}
	add(w.Users, w.ServicePrincipals, w.Groups, func(string) bool { return true })
	if w.IdentityFederated {
		vis := visibilityFromSeed(seed)[w.WorkspaceID]
		add(seed.Users, seed.ServicePrincipals, seed.Groups, func(id string) bool { return vis[id] })
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("synthetic objects: workspace %d has no users to own objects", w.WorkspaceID)
	}
	if len(groups) == 0 {
		groups = []string{adminsGroup}
	}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	pct := func(p int) bool { return r.IntN(100) < p }
	wsTag := strconv.FormatInt(w.WorkspaceID, 10)
	hexID := func(kind string, i, n int) string {
		h := sha256.Sum256([]byte(kind + "\x00" + wsTag + "\x00" + strconv.Itoa(i)))
		return hex.EncodeToString(h[:])[:n]
	}
	uuid := func(kind string, i int) string { return uuidFrom(kind, wsTag, strconv.Itoa(i)) }
	ago := func(maxDays int) SeedTime { return SeedTime("now-" + strconv.Itoa(1+r.IntN(maxDays)) + "d") }
	owner := func() string {
		if len(sps) > 0 && pct(15) {
			return pick(sps)
		}
		return pick(users)
	}
	// extraManagers returns more managers (a group, a user) for some
	// objects; not the principals that already manage the object.
	extraManagers := func(level string, managers ...string) []SeedGrant {
		var acl []SeedGrant
		if pct(30) {
			acl = append(acl, SeedGrant{GroupName: pick(groups), PermissionLevel: level})
		}
		if u := pick(users); pct(20) && !slices.ContainsFunc(managers, func(m string) bool { return strings.EqualFold(m, u) }) {
			acl = append(acl, SeedGrant{UserName: u, PermissionLevel: level})
		}
		return acl
	}
	o := &SeedObjects{}
	deleted := map[string]bool{}
	deletedUser := func(i int) string {
		name := fmt.Sprintf("former.user%d.%s@example.com", i%50, wsTag)
		if !deleted[name] {
			deleted[name] = true
			o.DeletedPrincipals = append(o.DeletedPrincipals, name)
		}
		return name
	}

	for i := range counts["tokens"] {
		t := SeedPAT{TokenID: hexID("token", i, 64), Owner: owner(), Created: ago(720),
			Comment: []string{"", "CI pipeline", "dbt", "local dev", "Power BI", "terraform"}[r.IntN(6)]}
		switch x := r.IntN(100); {
		case x < 30: // never expires
		case x < 80:
			e := SeedTime("now+" + strconv.Itoa(1+r.IntN(365)) + "d")
			t.Expiry = &e
		default:
			e := ago(365)
			t.Expiry = &e
		}
		switch x := r.IntN(100); {
		case x < 20: // never used
		case x < 60:
			u := ago(30)
			t.LastUsed = &u
		default:
			u := ago(700)
			t.LastUsed = &u
		}
		if len(sps) > 0 && pct(10) {
			t.Owner, t.CreatedBy = pick(sps), pick(users)
		}
		o.Tokens = append(o.Tokens, t)
	}

	for i := range counts["clusters"] {
		creator := pick(users)
		c := SeedCluster{ClusterID: fmt.Sprintf("%04d-%06d-%s", 100+r.IntN(1100), r.IntN(1_000_000), hexID("cluster", i, 8)),
			ClusterName: fmt.Sprintf("cluster-%d", i), Creator: creator, State: "TERMINATED",
			ClusterSource: []string{"UI", "UI", "API", "JOB"}[r.IntN(4)], NumWorkers: r.IntN(8),
			AutoterminationMinutes: 60, Started: ago(60)}
		switch x := r.IntN(100); {
		case x < 30:
			c.State, c.Started = "RUNNING", "now-3h"
		case x < 90:
			c.Terminated = ago(29)
		default:
			c.Terminated = SeedTime("now-" + strconv.Itoa(31+r.IntN(300)) + "d")
		}
		if pct(30) {
			c.SingleUserName, c.DataSecurityMode = creator, "SINGLE_USER"
		}
		if pct(10) {
			c.PinnedBy = pick(users)
		}
		c.Permissions = extraManagers("CAN_MANAGE", c.Creator)
		o.Clusters = append(o.Clusters, c)
	}

	for i := range counts["jobs"] {
		j := SeedJob{JobID: int64(1000 + i), Name: fmt.Sprintf("job-%d", i), Creator: pick(users), Created: ago(900),
			Tasks: []SeedTask{{TaskKey: "main", NotebookPath: fmt.Sprintf("/Workspace/jobs/job-%d", i)}}}
		if pct(5) {
			j.Creator = deletedUser(i)
		}
		if len(sps) > 0 && pct(15) {
			j.RunAs = &SeedRunAs{ServicePrincipalName: pick(sps)}
		}
		pause := "UNPAUSED"
		if pct(20) {
			pause = "PAUSED"
		}
		switch x := r.IntN(100); {
		case x < 45:
			j.Schedule = &SeedSchedule{QuartzCronExpression: fmt.Sprintf("0 %d %d * * ?", r.IntN(60), r.IntN(24)),
				TimezoneID: "UTC", PauseStatus: pause}
		case x < 55:
			j.Trigger = &SeedTrigger{PauseStatus: pause, Periodic: &SeedPeriodic{Interval: 1 + r.IntN(12), Unit: "HOURS"}}
		case x < 60:
			j.Continuous = &SeedContinuous{PauseStatus: pause}
		}
		j.Permissions = extraManagers("CAN_MANAGE", j.Creator)
		o.Jobs = append(o.Jobs, j)
	}

	for i := range counts["warehouses"] {
		wh := SeedWarehouse{ID: hexID("warehouse", i, 16), Name: fmt.Sprintf("warehouse-%d", i), Creator: pick(users),
			State: []string{"RUNNING", "STOPPED", "STOPPED"}[r.IntN(3)], ClusterSize: "Small"}
		wh.Permissions = extraManagers("CAN_MANAGE", wh.Creator)
		o.Warehouses = append(o.Warehouses, wh)
	}

	for i := range counts["pipelines"] {
		p := SeedPipeline{PipelineID: uuid("pipeline", i), Name: fmt.Sprintf("pipeline-%d", i), Creator: pick(users),
			State: []string{"RUNNING", "IDLE", "IDLE", "FAILED"}[r.IntN(4)]}
		if len(sps) > 0 && pct(30) {
			p.RunAs = &SeedRunAs{ServicePrincipalName: pick(sps)}
		}
		p.Permissions = extraManagers("CAN_MANAGE", p.Creator)
		o.Pipelines = append(o.Pipelines, p)
	}

	for i := range counts["queries"] {
		q := SeedQuery{ID: uuid("query", i), DisplayName: fmt.Sprintf("query-%d", i), Owner: pick(users),
			RunAsMode: "VIEWER", QueryText: "SELECT 1", Created: ago(700)}
		if pct(25) {
			q.RunAsMode = "OWNER"
		}
		q.Permissions = extraManagers("CAN_MANAGE", q.Owner)
		o.Queries = append(o.Queries, q)
	}
	for i := range min(counts["alerts"], len(o.Queries)) {
		q := o.Queries[i]
		o.Alerts = append(o.Alerts, SeedAlert{ID: uuid("alert", i), DisplayName: fmt.Sprintf("alert-%d", i),
			Owner: q.Owner, QueryID: q.ID, State: "OK", Created: ago(600)})
	}
	for i := range counts["dashboards"] {
		d := SeedLegacyDashboard{ID: uuid("legacy-dashboard", i), Name: fmt.Sprintf("dashboard-%d", i),
			Owner: pick(users), Created: ago(900)}
		d.Permissions = extraManagers("CAN_MANAGE", d.Owner)
		o.LegacyDashboards = append(o.LegacyDashboards, d)
	}
	for i := range counts["lakeview"] {
		d := SeedLakeviewDashboard{DashboardID: hexID("lakeview", i, 32), DisplayName: fmt.Sprintf("lakeview-%d", i),
			Owner: pick(users), Created: ago(400)}
		d.Permissions = extraManagers("CAN_MANAGE", d.Owner)
		o.LakeviewDashboards = append(o.LakeviewDashboards, d)
	}
	for i := range counts["endpoints"] {
		e := SeedServingEndpoint{ID: hexID("endpoint", i, 32), Name: fmt.Sprintf("endpoint-%d", i),
			Creator: pick(users), Ready: pct(70), Task: "llm/v1/chat", Created: ago(300)}
		e.Permissions = extraManagers("CAN_MANAGE", e.Creator)
		o.ServingEndpoints = append(o.ServingEndpoints, e)
	}
	if len(sps) > 0 { // an app needs a service principal of its own
		for i := range counts["apps"] {
			a := SeedApp{Name: "app-" + strconv.Itoa(i), ID: uuid("app", i), Creator: pick(users),
				ServicePrincipal: pick(sps), Running: pct(60), Created: ago(200)}
			a.Permissions = extraManagers("CAN_MANAGE", a.Creator)
			o.Apps = append(o.Apps, a)
		}
	}
	return o, nil
}
