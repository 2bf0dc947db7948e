package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
)

// editPlanJSON rewrites the plan file at path through edit, which gets the
// plan as generic JSON.
func editPlanJSON(t *testing.T, path string, edit func(p map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	edit(p)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// planAG returns the account group of a generic plan named name.
func planAG(t *testing.T, p map[string]any, name string) map[string]any {
	t.Helper()
	for _, ag := range p["account_groups"].([]any) {
		if m := ag.(map[string]any); m["display_name"] == name {
			return m
		}
	}
	t.Fatalf("plan has no account group %q", name)
	return nil
}

// planGroup returns the migrated local group named name of a generic plan.
func planGroup(t *testing.T, p map[string]any, name string) map[string]any {
	t.Helper()
	for _, ws := range p["workspaces"].([]any) {
		for _, g := range ws.(map[string]any)["groups"].([]any) {
			if m := g.(map[string]any); m["local_name"] == name && m["skipped"] == nil {
				return m
			}
		}
	}
	t.Fatalf("plan has no migrated group %q", name)
	return nil
}

// TestEditedPlanIsRefused: a plan edited after "migrate plan" wrote it is
// refused by apply and verify (exit 1, nothing changed remotely, no
// journal directory) with a message that says to plan again, whether the
// edit breaks its internal consistency or not.
func TestEditedPlanIsRefused(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	dir := t.TempDir()
	orig := makePlan(t, srv, dir, PlanOptions{})
	seed := snapshotJSON(t, srv.Snapshot())
	raw, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	member := func(p map[string]any) map[string]any {
		return planAG(t, p, "oncall-primary")["members"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name string
		edit func(p map[string]any)
		want string
	}{
		{"member account_id changed, user_name kept", func(p map[string]any) {
			member(p)["account_id"] = "9999999"
		}, "does not match its integrity digest"},
		{"member added", func(p map[string]any) {
			ag := planAG(t, p, "oncall-primary")
			ag["members"] = append(ag["members"].([]any), map[string]any{"kind": "user", "account_id": "1100000000000120", "user_name": "mallory@acme.test"})
		}, "does not match its integrity digest"},
		{"entitlements changed", func(p map[string]any) {
			planGroup(t, p, "etl-operators")["entitlements"] = []any{"allow-cluster-create", "workspace-access", "databricks-sql-access"}
		}, "does not match its integrity digest"},
		{"member account_id deleted", func(p map[string]any) { delete(member(p), "account_id") }, `has no account id`},
		{"plan account_id deleted", func(p map[string]any) { delete(p, "account_id") }, "the plan has no account_id"},
		{"backup name of a system group", func(p map[string]any) {
			planGroup(t, p, "scim-synced")["backup_name"] = "admins"
		}, `group "scim-synced" has the backup name "admins", a system group`},
		{"backup name of another group", func(p map[string]any) {
			planGroup(t, p, "scim-synced")["backup_name"] = "Etl-Operators"
		}, `group "scim-synced" has the backup name "Etl-Operators", which is the name of local group "etl-operators"`},
		{"digest removed", func(p map[string]any) { delete(p, "digest") }, "it has no integrity digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(plan, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			editPlanJSON(t, plan, tc.edit)
			ctx := context.Background()
			d, stdout, stderr := sandboxDeps(t, srv)
			err := RunApply(ctx, ApplyOptions{PlanPath: plan, Yes: true}, d)
			checkRefused(t, "apply", err, tc.want)
			if _, serr := os.Stat(DefaultJournalDir(plan)); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("apply of an edited plan created its journal directory (%v)\n%s\n%s", serr, stdout, stderr)
			}
			d, stdout, _ = sandboxDeps(t, srv)
			checkRefused(t, "verify", RunVerify(ctx, VerifyOptions{PlanPath: plan}, d), tc.want)
			if strings.Contains(stdout.String(), "no differences") {
				t.Errorf("verify of an edited plan says %q", stdout)
			}
			if got := snapshotJSON(t, srv.Snapshot()); got != seed {
				t.Fatalf("an edited plan changed the remote state:\n%s", diffLines(seed, got))
			}
		})
	}

	// finalize and rollback read the plan copy in the journal directory: an
	// edited copy is refused even when the journal header is made to match.
	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{PlanPath: orig, Yes: true}, d); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, stdout, stderr)
	}
	applied := snapshotJSON(t, srv.Snapshot())
	jdir := DefaultJournalDir(orig)
	cp := filepath.Join(jdir, journal.PlanFileName)
	editPlanJSON(t, cp, func(p map[string]any) { member(p)["account_id"] = "9999999" })
	edited, err := os.ReadFile(cp)
	if err != nil {
		t.Fatal(err)
	}
	jraw, err := os.ReadFile(journal.Path(jdir))
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(jraw), journal.SHA256(raw), journal.SHA256(edited), 1)
	if err := os.WriteFile(journal.Path(jdir), rechain(t, []byte(fixed)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, run := range []struct {
		name string
		fn   func(Deps) error
	}{
		{"finalize", func(d Deps) error {
			return RunFinalize(context.Background(), FinalizeOptions{JournalDir: jdir, Yes: true}, d)
		}},
		{"rollback", func(d Deps) error {
			return RunRollback(context.Background(), RollbackOptions{JournalDir: jdir, Yes: true}, d)
		}},
	} {
		d, _, _ := sandboxDeps(t, srv)
		// The copy cannot be planned again: the error says to put back the
		// plan apply ran (or adopt), not to re-run plan.
		err := run.fn(d)
		var pe *PartialError
		if err == nil || errors.As(err, &pe) || !errors.Is(err, ErrPlanEdited) {
			t.Fatalf("%s of an edited plan copy: %v, want ErrPlanEdited (exit 1)", run.name, err)
		}
		for _, want := range []string{"does not match its integrity digest", "put back the plan file apply ran as ", `"dbiam migrate adopt`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q, want it to contain %q", run.name, err, want)
			}
		}
	}
	if got := snapshotJSON(t, srv.Snapshot()); got != applied {
		t.Fatalf("finalize or rollback of an edited plan copy changed the remote state:\n%s", diffLines(applied, got))
	}
}

// checkRefused checks that err refuses a plan (exit code 1) with a message
// containing want and saying to plan again.
func checkRefused(t *testing.T, op string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s of an edited plan succeeded", op)
	}
	var pe *PartialError
	if errors.As(err, &pe) {
		t.Errorf("%s: %v is a partial failure (exit 2), want exit 1", op, err)
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"dbiam migrate plan"`) {
		t.Errorf("%s: error %q, want it to contain %q and to say to re-run \"dbiam migrate plan\"", op, err, want)
	}
}
