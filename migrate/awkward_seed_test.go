package migrate

import (
	"fmt"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// Awkward but real group names of awkwardSeed. Each is a distinct group:
// names differ by edge spaces and case only where they say so.
const (
	nameOps      = "ops"
	nameOpsSpace = "ops "               // trailing space: not "ops"
	nameOpsUpper = "Ops"                // in the second workspace: case only
	nameLeadTr   = "  lead and trail  " // leading, trailing and inner spaces
	nameQuote    = `say "hi"`
	nameBack     = `back\slash`
	nameBracket  = "team ] x"
	nameEq       = "a eq b"
	nameRTL      = "فريق البيانات"
	nameEmoji    = "🚀 launch"
	// A three-level chain: top contains mid, which contains leaf.
	nameTop  = `L1 "top" ]`
	nameMid  = "L2 eq mid"
	nameLeaf = " L3 🚀 leaf"
)

// Workspaces of awkwardSeed.
const (
	awkWS1     int64 = 7001
	awkWS2     int64 = 7002
	awkWS1Name       = "prod ws"
	awkWS2Name       = "Prod WS"
)

// awkwardSeed is a small account whose local group names have leading,
// trailing and inner spaces, quotes, a backslash, "]", " eq ", RTL text
// and emoji, a three-level nested chain with entitlements, an instance
// profile, object grants and a secret scope ACL, and case-only
// differences across its two workspaces ("ops" and "Ops", whose members
// are the same, so the plan merges them into one account group). Every
// principal is assigned to both workspaces.
func awkwardSeed(t testing.TB) *sandbox.Seed {
	t.Helper()
	s := &sandbox.Seed{AccountID: "00000000-0000-4000-8000-0000000a4c01"}
	for i := 1; i <= 12; i++ {
		u := sandbox.SeedUser{ID: fmt.Sprint(1000 + i), UserName: fmt.Sprintf("user%02d@awk.test", i), DisplayName: fmt.Sprintf("User %02d", i)}
		if i == 1 {
			u.Roles = []string{sandbox.RoleAccountAdmin}
		}
		s.Users = append(s.Users, u)
	}
	s.ServicePrincipals = []sandbox.SeedServicePrincipal{{ID: "2001", ApplicationID: "aaaaaaaa-0000-4000-8000-00000000a001", DisplayName: "robot"}}
	u := func(i int) string { return fmt.Sprint(1000 + i) }
	const sp = "2001"
	var assign []sandbox.SeedAssignment
	for _, p := range append([]sandbox.SeedUser(nil), s.Users...) {
		perm := "USER"
		if p.ID == u(1) {
			perm = "ADMIN"
		}
		assign = append(assign, sandbox.SeedAssignment{Principal: p.ID, Permissions: []string{perm}})
	}
	assign = append(assign, sandbox.SeedAssignment{Principal: sp, Permissions: []string{"USER"}})
	ws1 := sandbox.SeedWorkspace{
		WorkspaceID: awkWS1, WorkspaceName: awkWS1Name, IdentityFederated: true, MetastoreID: "m-awk",
		Assignments: assign,
		Groups: []sandbox.SeedGroup{
			{ID: "5001", DisplayName: nameOps, Members: []string{u(1), u(2)}},
			{ID: "5002", DisplayName: nameOpsSpace, Members: []string{u(3)}},
			{ID: "5003", DisplayName: nameLeadTr, Members: []string{u(4)}},
			{ID: "5004", DisplayName: nameQuote, Members: []string{u(5)}},
			{ID: "5005", DisplayName: nameBack, Members: []string{u(6)}},
			{ID: "5006", DisplayName: nameBracket, Members: []string{u(7)}},
			{ID: "5007", DisplayName: nameEq, Members: []string{u(8)}},
			{ID: "5008", DisplayName: nameRTL, Members: []string{u(9)}},
			{ID: "5009", DisplayName: nameEmoji, Members: []string{u(10), sp}},
			{ID: "5010", DisplayName: nameLeaf, Members: []string{u(1), sp}},
			{ID: "5011", DisplayName: nameMid, Members: []string{"5010", u(12)}},
			{ID: "5012", DisplayName: nameTop, Members: []string{"5011", u(11)}},
		},
		Entitlements: map[string][]string{
			"5012": {"allow-cluster-create", "databricks-sql-access"},
			"5011": {"workspace-access"},
			"5001": {"databricks-sql-access"},
		},
		Roles: map[string][]string{"5012": {"arn:aws:iam::123456789012:instance-profile/awk-top"}},
		// The objects the grants are on exist (a job and a cluster the lists
		// show), so that the plan reads their ACLs into the baselines.
		Objects: &sandbox.SeedObjects{
			Jobs:     []sandbox.SeedJob{{JobID: 901, Name: "awk nightly", Creator: "user01@awk.test"}},
			Clusters: []sandbox.SeedCluster{{ClusterID: "0101-010101-awk00001", ClusterName: "awk shared", Creator: "user01@awk.test", State: "TERMINATED"}},
		},
		Grants: &sandbox.SeedGrants{
			Objects: []sandbox.SeedObjectACL{
				{ObjectType: "clusters", ObjectID: "0101-010101-awk00001", ACL: []sandbox.SeedGrant{
					{GroupName: nameTop, PermissionLevel: "CAN_RESTART"},
					{GroupName: nameLeaf, PermissionLevel: "CAN_ATTACH_TO"},
				}},
				{ObjectType: "jobs", ObjectID: "901", ACL: []sandbox.SeedGrant{
					{GroupName: nameOps, PermissionLevel: "CAN_MANAGE_RUN"},
					{GroupName: nameOpsSpace, PermissionLevel: "CAN_VIEW"},
					{GroupName: nameLeadTr, PermissionLevel: "CAN_VIEW"},
				}},
			},
			SecretScopes: []sandbox.SeedSecretScope{{Name: "awk-scope", ACLs: []sandbox.SeedSecretACL{
				{Principal: nameMid, Permission: "READ"},
				{Principal: nameQuote, Permission: "WRITE"},
			}}},
		},
	}
	ws2 := sandbox.SeedWorkspace{
		WorkspaceID: awkWS2, WorkspaceName: awkWS2Name, IdentityFederated: true, MetastoreID: "m-awk",
		Assignments: assign,
		Groups: []sandbox.SeedGroup{
			{ID: "6001", DisplayName: nameOpsUpper, Members: []string{u(1), u(2)}},
			{ID: "6002", DisplayName: nameOpsSpace, Members: []string{u(3)}},
			{ID: "6003", DisplayName: nameMid + " 2", Members: []string{u(4), u(5)}},
		},
		Entitlements: map[string][]string{"6001": {"allow-cluster-create"}},
		Objects:      &sandbox.SeedObjects{Jobs: []sandbox.SeedJob{{JobID: 902, Name: "awk report", Creator: "user01@awk.test"}}},
		Grants: &sandbox.SeedGrants{Objects: []sandbox.SeedObjectACL{
			{ObjectType: "jobs", ObjectID: "902", ACL: []sandbox.SeedGrant{{GroupName: nameOpsUpper, PermissionLevel: "CAN_MANAGE"}}},
		}},
	}
	s.Workspaces = []sandbox.SeedWorkspace{ws1, ws2}
	return s
}

// newAwkwardServer starts a sandbox seeded with awkwardSeed (under the
// strict permission migration unless opts chooses: rollback puts back the
// grants it moves).
func newAwkwardServer(t testing.TB, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	opts.Seed = awkwardSeed(t)
	return sandbox.NewTestServer(t, opts)
}

// TestAwkwardSeedPlansCleanly: the seed plans without conflicts, every
// local group migrates, "ops" and "Ops" share one account group and so do
// the two "ops ", and the chain is planned children first.
func TestAwkwardSeedPlansCleanly(t *testing.T) {
	srv := newAwkwardServer(t, sandbox.Options{})
	p := mustPlan(t, makePlan(t, srv, t.TempDir(), PlanOptions{}))
	if len(p.Conflicts) != 0 {
		t.Fatalf("conflicts: %+v", p.Conflicts)
	}
	if n, want := len(activeGroups(p)), 15; n != want {
		t.Fatalf("%d groups migrate, want %d", n, want)
	}
	targets := map[string]string{}
	for _, gr := range activeGroups(p) {
		targets[fmt.Sprintf("%s/%s", gr.ws.WorkspaceName, gr.g.LocalName)] = findAG(p, gr.g.AccountGroupKey).DisplayName
	}
	for k, want := range map[string]string{
		awkWS1Name + "/" + nameOps: nameOps, awkWS2Name + "/" + nameOpsUpper: nameOps,
		awkWS1Name + "/" + nameOpsSpace: nameOpsSpace, awkWS2Name + "/" + nameOpsSpace: nameOpsSpace,
		awkWS1Name + "/" + nameLeadTr: nameLeadTr, awkWS1Name + "/" + nameLeaf: nameLeaf,
	} {
		if targets[k] != want {
			t.Errorf("%q maps to %q, want %q", k, targets[k], want)
		}
	}
	order := map[string]int{}
	for i, ag := range p.AccountGroups {
		order[ag.DisplayName] = i
	}
	if !(order[nameLeaf] < order[nameMid] && order[nameMid] < order[nameTop]) {
		t.Errorf("chain not planned children first: %v", order)
	}
}
