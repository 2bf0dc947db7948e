package migrate

import (
	"context"
	"slices"
	"testing"

	"github.com/dbiam/dbiam/scim"
)

// verifyStub is a Reader for verifyGroup: one workspace holding a local
// group (named localName) with a secret ACL under that name, and an
// account group that is not assigned, so the workspace cannot read it.
type verifyStub struct {
	Reader    // other methods are not called
	localID   string
	localName string
}

func (s verifyStub) WorkspaceGroup(_ context.Context, _ int64, id string) (scim.Group, error) {
	if id == s.localID {
		return scim.Group{ID: id, DisplayName: s.localName}, nil
	}
	return scim.Group{}, notFound()
}

func (s verifyStub) Assignments(context.Context, int64) ([]scim.PermissionAssignment, error) {
	return nil, nil
}

func (s verifyStub) WorkspaceGroupVisible(context.Context, int64, string) (bool, string, error) {
	return false, "", nil
}

func (s verifyStub) SecretScopes(context.Context, int64) ([]string, error) {
	return []string{"tokens"}, nil
}

func (s verifyStub) SecretACLs(context.Context, int64, string) ([]SecretACL, error) {
	return []SecretACL{{Scope: "tokens", Principal: s.localName, Permission: "READ"}}, nil
}

// TestVerifyGroupSecretACLsOfRenamedLocalGroup: a local group renamed by
// hand keeps its secret ACLs under its new name; verify compares the
// account group with those, even when the account group cannot be read in
// the workspace (a read error of the account group must not make verify
// look under the backup name instead).
func TestVerifyGroupSecretACLsOfRenamedLocalGroup(t *testing.T) {
	ws := &WorkspacePlan{WorkspaceID: 1, WorkspaceName: "ws", Federated: true}
	g := &GroupPlan{LocalID: "10", LocalName: "ops", BackupName: "db-temp-ops", AccountGroupKey: "ag:ops"}
	ag := &AccountGroupPlan{Key: "ag:ops", DisplayName: "ops"}
	diffs, local, err := verifyGroup(context.Background(), verifyStub{localID: "10", localName: "ops-by-hand"}, ws, g, ag, "2000")
	if err != nil {
		t.Fatal(err)
	}
	if local == nil || local.ID != "10" || local.DisplayName != "ops-by-hand" {
		t.Errorf("local group = %+v, want the group as read", local)
	}
	want := []string{
		`local group "ops" is named "ops-by-hand", want "db-temp-ops"`,
		`account group "ops" is not assigned to the workspace`,
		`account group "ops" is not visible in the workspace`,
		`account group "ops" cannot be read in the workspace`,
		`account group "ops" has no permission on secret scope "tokens", want READ`,
	}
	if !slices.Equal(diffs, want) {
		t.Errorf("differences:\n%q\nwant:\n%q", diffs, want)
	}
}

// countingReader counts the workspace list calls that reach it.
type countingReader struct {
	verifyStub
	assignments, scopes, acls int
}

func (c *countingReader) Assignments(ctx context.Context, id int64) ([]scim.PermissionAssignment, error) {
	c.assignments++
	return c.verifyStub.Assignments(ctx, id)
}

func (c *countingReader) SecretScopes(ctx context.Context, id int64) ([]string, error) {
	c.scopes++
	return c.verifyStub.SecretScopes(ctx, id)
}

func (c *countingReader) SecretACLs(ctx context.Context, id int64, scope string) ([]SecretACL, error) {
	c.acls++
	return c.verifyStub.SecretACLs(ctx, id, scope)
}

// TestVerifyGroupsOfOneWorkspaceListOnce: verify checks many groups of a
// workspace against the same assignments and secret ACLs; it lists them
// once per workspace (and scope), not once per group.
func TestVerifyGroupsOfOneWorkspaceListOnce(t *testing.T) {
	ctx := context.Background()
	c := &countingReader{verifyStub: verifyStub{localID: "10", localName: "db-temp-ops"}}
	rd := newWorkspaceListCache(c)
	ag := &AccountGroupPlan{Key: "ag:ops", DisplayName: "ops"}
	for _, wsID := range []int64{1, 1, 1, 2, 2} {
		ws := &WorkspacePlan{WorkspaceID: wsID, WorkspaceName: "ws", Federated: true}
		g := &GroupPlan{LocalID: "10", LocalName: "ops", BackupName: "db-temp-ops", AccountGroupKey: "ag:ops"}
		diffs, _, err := verifyGroup(ctx, rd, ws, g, ag, "2000")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(diffs, `account group "ops" has no permission on secret scope "tokens", want READ`) {
			t.Fatalf("workspace %d: diffs %q lack the secret ACL difference", wsID, diffs)
		}
	}
	if c.assignments != 2 || c.scopes != 2 || c.acls != 2 {
		t.Errorf("listed assignments %d, scopes %d, ACLs %d times for 2 workspaces; want 2 each", c.assignments, c.scopes, c.acls)
	}
}
