package audit

import (
	"slices"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestAuditSecretScopeGroupNamedLikeEmail: the secrets API names a
// principal by its name alone, and a group may be named like an email
// ("data@corp.test"): a scope only that group can manage is its finding
// (sole manager, orphaned), not left out as if a user held it.
func TestAuditSecretScopeGroupNamedLikeEmail(t *testing.T) {
	seed := testSeed(t)
	seed.Groups = append(seed.Groups, sandbox.SeedGroup{ID: "399", DisplayName: "data@corp.test", Members: []string{"106"}})
	for i := range seed.Workspaces {
		w := &seed.Workspaces[i]
		if w.WorkspaceID != 1001 {
			continue
		}
		w.Assignments = append(w.Assignments, sandbox.SeedAssignment{Principal: "399", Permissions: []string{"USER"}})
		if w.Grants == nil {
			w.Grants = &sandbox.SeedGrants{}
		}
		w.Grants.SecretScopes = append(w.Grants.SecretScopes,
			sandbox.SeedSecretScope{Name: "data-team-keys", ACLs: []sandbox.SeedSecretACL{{Principal: "data@corp.test", Permission: "MANAGE"}}})
	}
	e := newEnv(t, sandbox.Options{Seed: seed}, nil)
	r, err := e.runJSON(t, Options{Groups: []string{"data@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	f := findingFor(t, r, "data@corp.test", KindSecretScope, "data-team-keys")
	if f.Severity != SeverityOrphaned || !slices.Contains(f.Relations, RelSoleManager) {
		t.Errorf("scope finding = %s, want orphaned sole manager", row(f))
	}
	// The group's member is not a manager of the scope.
	for _, f := range r.Findings {
		if f.IdentityName == "erin@corp.test" && f.Kind == KindSecretScope {
			t.Errorf("member's finding %s", row(f))
		}
	}
}
