package sandbox

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestAuthzKnobsFromFlagsAndSeed: the authorization knobs come from the
// serve flags and from a seed's knobs, default off (strict).
func TestAuthzKnobsFromFlagsAndSeed(t *testing.T) {
	parse := func(args ...string) Options {
		t.Helper()
		var got Options
		serve := *Command().Subcommands[0]
		serve.Action = func(c *cli.Context) error {
			var err error
			got, err = serveOptions(c)
			return err
		}
		app := &cli.App{Name: "dbiam", Commands: []*cli.Command{{Name: "sandbox", Subcommands: []*cli.Command{&serve}}},
			ExitErrHandler: func(*cli.Context, error) {}}
		if err := app.Run(append([]string{"dbiam", "sandbox", "serve"}, args...)); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if o := parse(); o.AccountPATs || o.ListAllObjects || o.ManagersSetOwner {
		t.Errorf("defaults %+v, want every authorization knob off", o)
	}
	if o := parse("--account-pats", "--list-all-objects", "--managers-set-owner"); !o.AccountPATs || !o.ListAllObjects || !o.ManagersSetOwner {
		t.Errorf("flags %+v", o)
	}

	// The small seed's legacy admin token is a PAT of workspace 1002.
	pat := "dapi-small-legacy-admin"
	strict := NewTestServer(t, Options{Seed: smallSeed(t)})
	wantRESTError(t, admin(t, strict, 0).as(pat).do("GET", acctPath(strict, "/workspaces"), nil), 401, "UNAUTHENTICATED")
	seed := smallSeed(t)
	seed.Knobs = &SeedKnobs{AccountPATs: true}
	lenient := NewTestServer(t, Options{Seed: seed})
	// Taken, then refused by role (a workspace admin is no account admin).
	wantRESTError(t, admin(t, lenient, 0).as(pat).do("GET", acctPath(lenient, "/workspaces"), nil), 403, "PERMISSION_DENIED")

	var k SeedKnobs
	if err := decodeStrict([]byte(`{"account_pats":true,"list_all_objects":true,"managers_set_owner":true}`), &k); err != nil ||
		!k.AccountPATs || !k.ListAllObjects || !k.ManagersSetOwner {
		t.Errorf("seed knobs %+v, %v", k, err)
	}
}

// TestSeedTokenWorkspace: a token's workspace must be a workspace of the
// seed, whatever its role.
func TestSeedTokenWorkspace(t *testing.T) {
	seed := smallSeed(t)
	seed.Tokens = append(seed.Tokens, SeedToken{Token: "dapi-nowhere", Principal: "102", Role: RoleUser, WorkspaceID: 999})
	if err := seed.Validate(); err == nil || !strings.Contains(err.Error(), "workspace_id: 999 is not a workspace of the seed") {
		t.Errorf("Validate = %v", err)
	}
}

// TestAdminTokenPrefersAccountLevel: a personal access token listed first
// does not become AdminToken.
func TestAdminTokenPrefersAccountLevel(t *testing.T) {
	seed := smallSeed(t)
	seed.Tokens = append([]SeedToken{{Token: "dapi-small-ada-pat", Principal: "101", Role: RoleAccountAdmin, WorkspaceID: wsFed}}, seed.Tokens...)
	if got := NewTestServer(t, Options{Seed: seed}).AdminToken(); got != "dapi-small-admin" {
		t.Errorf("AdminToken = %q, want the account-level dapi-small-admin", got)
	}
}
