package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/migrate"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
)

// TestMigrateNonAdminToken (#11): migrate run with the token of a user who
// is not an account admin (the sandbox's dapi-sandbox-user) fails before
// any change in every step: plan exits 1 with the 403 and a hint naming
// the fix, and writes no plan file; apply of an admin's plan exits 1 with
// the same error, changes nothing and records no step in its journal;
// verify exits 1.
// The token never appears.
func TestMigrateNonAdminToken(t *testing.T) {
	srv := sandbox.NewTestServer(t, sandbox.Options{})
	ctx := context.Background()
	dbiam := func(token string, args ...string) (int, string, string) {
		t.Helper()
		hermetic(t)
		t.Setenv("DATABRICKS_TOKEN", token)
		io, out, errb := reports.Test()
		code := run(ctx, append([]string{"dbiam", "--host", srv.URL(), "--account-id", srv.AccountID(), "--no-progress"}, args...), io)
		return code, out.String(), errb.String()
	}
	refused := func(step string, code int, stdout, stderr string) {
		t.Helper()
		if code != exitError {
			t.Errorf("%s: exit %d, want %d\n%s", step, code, exitError, stderr)
		}
		for _, want := range []string{"you are not an account admin", "403 PERMISSION_DENIED",
			"hint: migrate and handover need an account admin's credentials"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", step, want, stderr)
			}
		}
		if strings.Contains(stdout+stderr, srv.UserToken()) {
			t.Errorf("%s: output shows the token", step)
		}
	}

	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.json")
	code, out, errOut := dbiam(srv.UserToken(), "migrate", "plan", "--out", plan)
	refused("plan", code, out, errOut)
	if out != "" {
		t.Errorf("plan: stdout %q, want nothing", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("plan left files: %v", entries)
	}

	// An account admin's plan, then apply and verify with the user's token.
	if code, _, errOut := dbiam(srv.AdminToken(), "migrate", "plan", "--out", plan, "--on-conflict", "merge"); code != 0 && code != 2 {
		t.Fatalf("admin plan: exit %d\n%s", code, errOut)
	}
	before := srv.Snapshot()
	code, out, errOut = dbiam(srv.UserToken(), "migrate", "apply", "--yes", plan)
	refused("apply", code, out, errOut)
	if diff := sandbox.Diff(before, srv.Snapshot()); len(diff) != 0 {
		t.Errorf("apply changed the account:\n%s", strings.Join(diff, "\n"))
	}
	// apply opens its journal before it connects: the journal holds its
	// header and no step, so a later apply with an account admin's
	// credentials starts from the beginning.
	if _, recs, err := migrate.ReadJournal(migrate.DefaultJournalDir(plan)); err != nil || len(recs) != 0 {
		t.Errorf("journal after the refused apply: %d records, %v; want none", len(recs), err)
	}
	code, out, errOut = dbiam(srv.UserToken(), "migrate", "verify", plan)
	refused("verify", code, out, errOut)
}
