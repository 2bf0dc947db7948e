package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// syntheticObjectKeys are the Synthetic spec keys that size each workspace's
// objects (counts per workspace, default 0): jobs, clusters, tokens,
// warehouses, pipelines, queries, alerts (at most one per query),
// dashboards (legacy), lakeview, endpoints (serving) and apps.
var syntheticObjectKeys = []string{"jobs", "clusters", "tokens", "warehouses", "pipelines",
	"queries", "alerts", "dashboards", "lakeview", "endpoints", "apps"}

// addSyntheticObjects gives every workspace of a synthetic seed an objects
// section sized by counts (keys from syntheticObjectKeys; absent = 0). The
// objects are derived deterministically from rngSeed and refer to the
// principals visible to each workspace: a share of jobs run as service
// principals or were created by deleted users, tokens and clusters mix
// states and ages, and some objects have several managers.
func addSyntheticObjects(seed *Seed, counts map[string]int, rngSeed uint64) error {
	for k, n := range counts {
		if !oneOf(k, syntheticObjectKeys...) {
			return fmt.Errorf("synthetic objects: unknown key %q", k)
		}
		if n < 0 || n > 1_000_000 {
			return fmt.Errorf("synthetic objects: %s=%d is out of range", k, n)
		}
	}
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
		setSeedObjects(seed, w, o)
	}
	return nil
}

func syntheticWorkspaceObjects(seed *Seed, w *SeedWorkspace, counts map[string]int, r *rand.Rand) (*SeedObjects, error) {
	var users, sps, groups []string
	add := func(us []SeedUser, ss []SeedServicePrincipal, gs []SeedGroup) {
		for _, u := range us {
			users = append(users, u.UserName)
		}
		for _, sp := range ss {
			sps = append(sps, sp.ApplicationID)
		}
		for _, g := range gs {
			if g.DisplayName != accountUsersGroup {
				groups = append(groups, g.DisplayName)
			}
		}
	}
	add(w.Users, w.ServicePrincipals, w.Groups)
	if w.IdentityFederated {
		add(seed.Users, seed.ServicePrincipals, seed.Groups)
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
	extraManagers := func(level string) []SeedACL {
		var acl []SeedACL
		if pct(30) {
			acl = append(acl, SeedACL{GroupName: pick(groups), PermissionLevel: level})
		}
		if pct(20) {
			acl = append(acl, SeedACL{UserName: pick(users), PermissionLevel: level})
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
		c.Permissions = extraManagers("CAN_MANAGE")
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
		j.Permissions = extraManagers("CAN_MANAGE")
		o.Jobs = append(o.Jobs, j)
	}

	for i := range counts["warehouses"] {
		wh := SeedWarehouse{ID: hexID("warehouse", i, 16), Name: fmt.Sprintf("warehouse-%d", i), Creator: pick(users),
			State: []string{"RUNNING", "STOPPED", "STOPPED"}[r.IntN(3)], ClusterSize: "Small"}
		wh.Permissions = extraManagers("CAN_MANAGE")
		o.Warehouses = append(o.Warehouses, wh)
	}

	for i := range counts["pipelines"] {
		p := SeedPipeline{PipelineID: uuid("pipeline", i), Name: fmt.Sprintf("pipeline-%d", i), Creator: pick(users),
			State: []string{"RUNNING", "IDLE", "IDLE", "FAILED"}[r.IntN(4)]}
		if len(sps) > 0 && pct(30) {
			p.RunAs = &SeedRunAs{ServicePrincipalName: pick(sps)}
		}
		p.Permissions = extraManagers("CAN_MANAGE")
		o.Pipelines = append(o.Pipelines, p)
	}

	for i := range counts["queries"] {
		q := SeedQuery{ID: uuid("query", i), DisplayName: fmt.Sprintf("query-%d", i), Owner: pick(users),
			RunAsMode: "VIEWER", QueryText: "SELECT 1", Created: ago(700)}
		if pct(25) {
			q.RunAsMode = "OWNER"
		}
		q.Permissions = extraManagers("CAN_MANAGE")
		o.Queries = append(o.Queries, q)
	}
	for i := range min(counts["alerts"], len(o.Queries)) {
		q := o.Queries[i]
		o.Alerts = append(o.Alerts, SeedAlert{ID: uuid("alert", i), DisplayName: fmt.Sprintf("alert-%d", i),
			Owner: q.Owner, QueryID: q.ID, State: "OK", Created: ago(600)})
	}
	for i := range counts["dashboards"] {
		o.LegacyDashboards = append(o.LegacyDashboards, SeedLegacyDashboard{ID: uuid("legacy-dashboard", i),
			Name: fmt.Sprintf("dashboard-%d", i), Owner: pick(users), Created: ago(900),
			Permissions: extraManagers("CAN_MANAGE")})
	}
	for i := range counts["lakeview"] {
		o.LakeviewDashboards = append(o.LakeviewDashboards, SeedLakeviewDashboard{DashboardID: hexID("lakeview", i, 32),
			DisplayName: fmt.Sprintf("lakeview-%d", i), Owner: pick(users), Created: ago(400),
			Permissions: extraManagers("CAN_MANAGE")})
	}
	for i := range counts["endpoints"] {
		o.ServingEndpoints = append(o.ServingEndpoints, SeedServingEndpoint{ID: hexID("endpoint", i, 32),
			Name: fmt.Sprintf("endpoint-%d", i), Creator: pick(users), Ready: pct(70), Task: "llm/v1/chat",
			Created: ago(300), Permissions: extraManagers("CAN_MANAGE")})
	}
	if n := counts["apps"]; n > 0 {
		if len(sps) == 0 {
			return nil, fmt.Errorf("synthetic objects: workspace %d has no service principals for apps", w.WorkspaceID)
		}
		for i := range n {
			o.Apps = append(o.Apps, SeedApp{Name: "app-" + strings.ToLower(strconv.Itoa(i)), ID: uuid("app", i),
				Creator: pick(users), ServicePrincipal: pick(sps), Running: pct(60), Created: ago(200),
				Permissions: extraManagers("CAN_MANAGE")})
		}
	}
	return o, nil
}
