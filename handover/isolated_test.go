package handover

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// isolatedSeed is the default seed where elena owns the table and the
// registered model of the isolated finance catalog (bound to
// acme-analytics only).
func isolatedSeed() *sandbox.Seed {
	s := sandbox.DefaultSeed()
	for i, c := range s.Metastores[0].Catalogs {
		if c.Name != "finance" {
			continue
		}
		sch := &s.Metastores[0].Catalogs[i].Schemas[0]
		sch.Tables[0].Owner = elena
		sch.RegisteredModels[0].Owner = elena
	}
	return s
}

// financeOwners reads the owners of the finance table and model through
// acme-analytics, the workspace the catalog is bound to.
func financeOwners(t *testing.T, srv *sandbox.Server) (table, model string) {
	t.Helper()
	d, _, _ := deps(srv)
	ctx := context.Background()
	sess, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := sess.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.ID != wsAnaly {
			continue
		}
		w, err := sess.Workspace(info)
		if err != nil {
			t.Fatal(err)
		}
		for s, err := range scim.Tables(ctx, w, "finance", "ledger") {
			if err != nil {
				t.Fatal(err)
			}
			table = s.Owner
		}
		for s, err := range scim.SchemaRegisteredModels(ctx, w, "finance", "ledger") {
			if err != nil {
				t.Fatal(err)
			}
			model = s.Owner
		}
	}
	return table, model
}

// TestHandoverIsolatedCatalog: elena's table and model in the isolated
// finance catalog are read through acme-analytics (acme-prod, which reads
// the metastore, gets 403 for them and its models list leaves the model
// out), their changes are made there, verify finds them done, and
// rollback puts them back (Unity Catalog kinds only: job 203 cannot go
// back to elena, see TestApplyVerifyAuditRollback).
func TestHandoverIsolatedCatalog(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: isolatedSeed()})
	plan, p := demoPlan(t, srv, func(o *PlanOptions) { o.Kinds = []string{KindCatalog, KindSchema, KindTable, KindRegisteredModel} })
	want := map[string]bool{"table finance.ledger.entries": false, "registered-model finance.ledger.close_forecast": false}
	for _, c := range p.Changes {
		key := c.Kind + " " + c.ObjectID
		if _, ok := want[key]; !ok {
			continue
		}
		want[key] = true
		if c.WorkspaceID != wsAnaly || c.To.Name != etlProd {
			t.Errorf("%s: change in workspace %d to %s, want acme-analytics (%d) to %s", key, c.WorkspaceID, c.To.Name, wsAnaly, etlProd)
		}
	}
	for key, seen := range want {
		if !seen {
			t.Errorf("no change for %s", key)
		}
	}
	d, stdout, stderr := deps(srv)
	ctx := context.Background()
	if err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, stdout, stderr)
	}
	if tb, m := financeOwners(t, srv); tb != etlProd || m != etlProd {
		t.Errorf("after apply: table owner %q, model owner %q, want %s", tb, m, etlProd)
	}
	stdout.Reset()
	if err := RunVerify(ctx, VerifyOptions{PlanPath: plan}, d); err != nil || !strings.Contains(stdout.String(), " 0 differences") {
		t.Fatalf("verify: %v\n%s", err, stdout)
	}
	if err := RunRollback(ctx, ApplyOptions{JournalDir: journal.DefaultDir(plan), Yes: true}, d); err != nil {
		t.Fatalf("rollback: %v\n%s%s", err, stdout, stderr)
	}
	if tb, m := financeOwners(t, srv); tb != elena || m != elena {
		t.Errorf("after rollback: table owner %q, model owner %q, want %s", tb, m, elena)
	}
}

// TestHandoverIsolatedCatalogOutOfReach: planned in acme-prod alone, the
// finance catalog cannot be read: the plan has a blocking "not read"
// naming the workspace to add, rather than leaving elena's table there.
func TestHandoverIsolatedCatalogOutOfReach(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{Seed: isolatedSeed()})
	d, _, _ := deps(srv)
	o := PlanOptions{From: []string{"user:" + elena}, To: "service-principal:" + etlProd, MapFile: writeFile(t, "map.csv", demoMap),
		RestartClusters: true, Workspaces: []string{"acme-prod"}, Out: t.TempDir() + "/p.json", ToolVersion: "test"}
	err := RunPlan(context.Background(), o, d)
	var pe *PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("plan: err = %v, want a PartialError", err)
	}
	p, _, err := ReadPlan(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range p.Conflicts {
		if c.Kind == KindCatalog && strings.Contains(c.Reason, "isolated catalog finance is bound only to workspace(s) 6051921418418892, none of them in the plan") &&
			strings.Contains(c.Reason, "--workspace") {
			found = true
		}
	}
	if !found {
		t.Errorf("conflicts = %+v, want the finance catalog not read", p.Conflicts)
	}
	for _, c := range p.Changes {
		if strings.HasPrefix(c.ObjectID, "finance.") {
			t.Errorf("change planned in the unread catalog: %+v", c)
		}
	}
}
