package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/urfave/cli/v2"
)

// The grants of grantsSeed that local group "team a" (403) holds in wsFed,
// in object registration order, and its secret scope ACL.
var teamAGrants = map[string]string{
	"clusters/0101-abc": "CAN_RESTART", "jobs/11": "CAN_MANAGE_RUN",
	"warehouses/wh1": "CAN_USE", "notebooks/777": "CAN_EDIT",
}

const (
	idEng   = "301" // account group "eng", visible in wsFed through "ops"
	idOps   = "302" // account group "ops", assigned to wsFed; CAN_READ on notebooks/777
	idTeamA = "403" // local group "team a" of wsFed
	idTeamB = "404" // local group "team b" of wsFed
)

// pmServer starts the grants seed with the permission migration mode, after
// mod (if any) changed the seed, and assigns "eng" to wsFed directly.
func pmServer(t *testing.T, mode string, mod func(*Seed)) *Server {
	t.Helper()
	s := grantsSeed(t)
	if mod != nil {
		mod(s)
	}
	srv := NewTestServer(t, Options{Seed: s, PermissionMigration: mode})
	admin(t, srv, wsFed).ok(http.StatusOK, "PUT", acctPath(srv, "/workspaces/1001/permissionassignments/principals/"+idEng),
		map[string]any{"permissions": []string{"USER"}})
	return srv
}

// fedGrants returns the grants section of wsFed in s.
func fedGrants(s *Seed) *SeedGrants {
	i := slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })
	return s.Workspaces[i].Grants
}

// secretsOf returns the secret scope permissions principal id holds in ws.
func secretsOf(st State, ws int64, id string) map[string]string {
	out := map[string]string{}
	for _, w := range st.Workspaces {
		if w.WorkspaceID != ws {
			continue
		}
		for _, a := range w.SecretACLs {
			if a.PrincipalID == id {
				out[a.Scope] = a.Permission
			}
		}
	}
	return out
}

// migrateAll calls the API through the official SDK until it migrates
// nothing and returns the sum, failing on any error.
func migrateAll(t *testing.T, srv *Server, from, to string, size int) int {
	t.Helper()
	w := sdkWorkspace(t, srv, wsFed)
	total := 0
	for range 100 {
		resp, err := w.PermissionMigration.MigratePermissions(context.Background(),
			iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: from, ToAccountGroupName: to, Size: size})
		if err != nil {
			t.Fatalf("migrate %q to %q after %d: %v", from, to, total, err)
		}
		if size > 0 && resp.PermissionsMigrated > size {
			t.Fatalf("one call migrated %d > size %d", resp.PermissionsMigrated, size)
		}
		if resp.PermissionsMigrated == 0 {
			return total
		}
		total += resp.PermissionsMigrated
	}
	t.Fatalf("migrate %q to %q: still migrating after 100 calls", from, to)
	return 0
}

// wantAPIError checks an SDK error's status, error code and message.
func wantAPIError(t *testing.T, err error, status int, code, msg string) {
	t.Helper()
	var ae *apierr.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status || ae.ErrorCode != code || ae.Message != msg {
		t.Fatalf("err = %v, want %d %s %q", err, status, code, msg)
	}
}

func merged(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestPermissionMigrationMergeOfTwoGroups migrates two local groups of one
// workspace into one account group: strict refuses the second, because the
// account group then holds grants that the first migration put there.
func TestPermissionMigrationMergeOfTwoGroups(t *testing.T) {
	teamB := map[string]string{"jobs/11": "CAN_MANAGE", "notebooks/778": "CAN_READ"}
	addTeamB := func(s *Seed) {
		g := fedGrants(s)
		g.Objects[1].ACL = append(g.Objects[1].ACL, SeedGrant{GroupName: "team b", PermissionLevel: "CAN_MANAGE"})
		g.Objects = append(g.Objects, SeedObjectACL{ObjectType: "notebooks", ObjectID: "778",
			ACL: []SeedGrant{{GroupName: "team b", PermissionLevel: "CAN_READ"}}})
		addTreeNotebooks(&s.Workspaces[slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })], 778)
	}
	for _, tc := range []struct {
		mode           string
		movedA, movedB int
		wantEng        map[string]string
		keepA, keepB   bool
		refusedB       bool
	}{
		{PermissionMigrationStrict, 5, 0, teamAGrants, false, true, true},
		// copy counts only grants that raise eng's level.
		{PermissionMigrationCopy, 4, 2, merged(teamAGrants, teamB), true, true, false},
		{PermissionMigrationMove, 4, 2, merged(teamAGrants, teamB), false, false, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := pmServer(t, tc.mode, addTeamB)
			if n := migrateAll(t, srv, "team a", "eng", 2); n != tc.movedA {
				t.Errorf("team a: migrated %d, want %d", n, tc.movedA)
			}
			before := srv.Snapshot()
			if tc.refusedB {
				_, err := sdkWorkspace(t, srv, wsFed).PermissionMigration.MigratePermissions(context.Background(),
					iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: "team b", ToAccountGroupName: "eng", Size: 2})
				wantAPIError(t, err, http.StatusBadRequest, "BAD_REQUEST", "Account group eng already has permissions")
				if d := Diff(before, srv.Snapshot()); len(d) > 0 {
					t.Errorf("the refused call changed %v", d)
				}
			} else if n := migrateAll(t, srv, "team b", "eng", 2); n != tc.movedB {
				t.Errorf("team b: migrated %d, want %d", n, tc.movedB)
			}
			st := srv.Snapshot()
			if got := grantsOf(st, wsFed, idEng); !mapsEqual(got, tc.wantEng) {
				t.Errorf("eng grants = %v, want %v", got, tc.wantEng)
			}
			wantA, wantB := map[string]string{}, map[string]string{}
			if tc.keepA {
				wantA = teamAGrants
			}
			if tc.keepB {
				wantB = teamB
			}
			if got := grantsOf(st, wsFed, idTeamA); !mapsEqual(got, wantA) {
				t.Errorf("team a grants = %v, want %v", got, wantA)
			}
			if got := grantsOf(st, wsFed, idTeamB); !mapsEqual(got, wantB) {
				t.Errorf("team b grants = %v, want %v", got, wantB)
			}
		})
	}
}

// TestPermissionMigrationReusedAccountGroupWithGrants migrates into "ops",
// which already holds CAN_READ on notebooks/777 in the workspace.
func TestPermissionMigrationReusedAccountGroupWithGrants(t *testing.T) {
	t.Run(PermissionMigrationStrict, func(t *testing.T) {
		srv := pmServer(t, PermissionMigrationStrict, nil)
		before := srv.Snapshot()
		_, err := sdkWorkspace(t, srv, wsFed).PermissionMigration.MigratePermissions(context.Background(),
			iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: "team a", ToAccountGroupName: "ops", Size: 1000})
		wantAPIError(t, err, http.StatusBadRequest, "BAD_REQUEST", "Account group ops already has permissions")
		if d := Diff(before, srv.Snapshot()); len(d) > 0 {
			t.Errorf("the refused call changed %v", d)
		}
	})
	for _, tc := range []struct {
		mode  string
		keepA bool
	}{{PermissionMigrationCopy, true}, {PermissionMigrationMove, false}} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := pmServer(t, tc.mode, nil)
			if n := migrateAll(t, srv, "team a", "ops", 1000); n != 4 {
				t.Errorf("migrated %d, want 4", n)
			}
			st := srv.Snapshot()
			// team a's CAN_EDIT on the notebook is higher than ops' CAN_READ and wins.
			if got := grantsOf(st, wsFed, idOps); !mapsEqual(got, teamAGrants) {
				t.Errorf("ops grants = %v, want %v", got, teamAGrants)
			}
			if got := grantsOf(st, wsFed, idTeamA); mapsEqual(got, teamAGrants) != tc.keepA {
				t.Errorf("team a grants = %v; kept: want %v", got, tc.keepA)
			}
			if got := secretsOf(st, wsFed, idOps); len(got) != 0 {
				t.Errorf("%s carried secret ACLs %v", tc.mode, got)
			}
		})
	}
}

// TestPermissionMigrationAlreadyHasPermissionsIsPerWorkspace: strict judges
// the account group's grants in the migration's workspace only.
func TestPermissionMigrationAlreadyHasPermissionsIsPerWorkspace(t *testing.T) {
	srv := pmServer(t, PermissionMigrationStrict, func(s *Seed) {
		g := fedGrants(s)
		g.Objects[3].ACL = g.Objects[3].ACL[:1] // ops loses its notebook grant in wsFed
		s.Workspaces = append(s.Workspaces, SeedWorkspace{
			WorkspaceID: 1003, WorkspaceName: "fed2", IdentityFederated: true,
			Assignments: []SeedAssignment{{Principal: idOps, Permissions: []string{"USER"}}},
			Grants: &SeedGrants{Objects: []SeedObjectACL{{ObjectType: "notebooks", ObjectID: "9",
				ACL: []SeedGrant{{GroupName: "ops", PermissionLevel: "CAN_MANAGE"}}}}},
		})
		addTreeNotebooks(&s.Workspaces[len(s.Workspaces)-1], 9)
	})
	if n := migrateAll(t, srv, "team a", "ops", 1000); n != 5 {
		t.Errorf("migrated %d, want 5 (4 object grants and 1 secret scope ACL)", n)
	}
	st := srv.Snapshot()
	if got := grantsOf(st, wsFed, idOps); !mapsEqual(got, teamAGrants) {
		t.Errorf("ops grants in wsFed = %v, want %v", got, teamAGrants)
	}
	if got := grantsOf(st, 1003, idOps); !mapsEqual(got, map[string]string{"notebooks/9": "CAN_MANAGE"}) {
		t.Errorf("ops grants in 1003 = %v", got)
	}
}

// TestPermissionMigration500AfterFirstBatch: the second call fails after
// one grant, and what both calls carried stays carried.
func TestPermissionMigration500AfterFirstBatch(t *testing.T) {
	firstThree := map[string]string{"clusters/0101-abc": "CAN_RESTART", "jobs/11": "CAN_MANAGE_RUN", "warehouses/wh1": "CAN_USE"}
	for _, tc := range []struct {
		mode  string
		keepA bool
	}{{PermissionMigrationStrict, false}, {PermissionMigrationCopy, true}, {PermissionMigrationMove, false}} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := pmServer(t, tc.mode, nil)
			if err := srv.AddPermissionMigrationFault(PermissionMigrationFault{Workspace: wsFed, From: "team a", Offset: 1, After: 1, Times: 1}); err != nil {
				t.Fatal(err)
			}
			w := sdkWorkspace(t, srv, wsFed)
			req := iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: "team a", ToAccountGroupName: "eng", Size: 2}
			resp, err := w.PermissionMigration.MigratePermissions(context.Background(), req)
			if err != nil || resp.PermissionsMigrated != 2 {
				t.Fatalf("first batch: %+v, %v", resp, err)
			}
			_, err = w.PermissionMigration.MigratePermissions(context.Background(), req)
			wantAPIError(t, err, http.StatusInternalServerError, "INTERNAL_ERROR", "Error when updating permissions table")
			st := srv.Snapshot()
			if got := grantsOf(st, wsFed, idEng); !mapsEqual(got, firstThree) {
				t.Errorf("eng grants after the 500 = %v, want %v", got, firstThree)
			}
			wantA := map[string]string{"notebooks/777": "CAN_EDIT"}
			if tc.keepA {
				wantA = teamAGrants
			}
			if got := grantsOf(st, wsFed, idTeamA); !mapsEqual(got, wantA) {
				t.Errorf("team a grants after the 500 = %v, want %v", got, wantA)
			}
		})
	}
}

// TestPermissionMigrationResumesAfterPartialMove: after a 500 part-way
// through a batch, repeating the call finishes the migration; strict does
// not count the grants its own earlier batches put on the account group.
func TestPermissionMigrationResumesAfterPartialMove(t *testing.T) {
	for _, tc := range []struct {
		mode          string
		rest          int
		keepA         bool
		secretCarried bool
	}{
		{PermissionMigrationStrict, 2, false, true}, // notebooks/777 and the secret scope ACL
		{PermissionMigrationCopy, 1, true, false},
		{PermissionMigrationMove, 1, false, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			srv := pmServer(t, tc.mode, nil)
			if err := srv.AddPermissionMigrationFault(PermissionMigrationFault{Offset: 1, After: 1, Times: 1}); err != nil {
				t.Fatal(err)
			}
			w := sdkWorkspace(t, srv, wsFed)
			req := iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: "team a", ToAccountGroupName: "eng", Size: 2}
			if _, err := w.PermissionMigration.MigratePermissions(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if _, err := w.PermissionMigration.MigratePermissions(context.Background(), req); err == nil {
				t.Fatal("the faulted call succeeded")
			}
			if n := migrateAll(t, srv, "team a", "eng", 2); n != tc.rest {
				t.Errorf("resume migrated %d, want %d", n, tc.rest)
			}
			st := srv.Snapshot()
			if got := grantsOf(st, wsFed, idEng); !mapsEqual(got, teamAGrants) {
				t.Errorf("eng grants = %v, want %v", got, teamAGrants)
			}
			if got := grantsOf(st, wsFed, idTeamA); (len(got) > 0) != tc.keepA {
				t.Errorf("team a grants = %v; kept: want %v", got, tc.keepA)
			}
			wantSecret := map[string]string{}
			if tc.secretCarried {
				wantSecret = map[string]string{"etl": "WRITE"}
			}
			if got := secretsOf(st, wsFed, idEng); !mapsEqual(got, wantSecret) {
				t.Errorf("eng secret ACLs = %v, want %v", got, wantSecret)
			}
		})
	}
}

// TestPermissionMigrationStrictResumesAfterLostReply: a batch that moved
// but whose reply was lost does not make the next call refuse.
func TestPermissionMigrationStrictResumesAfterLostReply(t *testing.T) {
	srv := pmServer(t, PermissionMigrationStrict, nil)
	if err := srv.AddFault(Fault{Method: "POST", PathRegexp: "^/api/2.0/permissionmigration$", Status: http.StatusBadGateway,
		AfterHandler: true, Times: 1}); err != nil {
		t.Fatal(err)
	}
	a := admin(t, srv, wsFed)
	body := map[string]any{"workspace_id": wsFed, "from_workspace_group_name": "team a", "to_account_group_name": "eng", "size": 3}
	if r := a.do("POST", "/api/2.0/permissionmigration", body); r.status != http.StatusBadGateway {
		t.Fatalf("first call: %d %s", r.status, r.body)
	}
	if got := grantsOf(srv.Snapshot(), wsFed, idEng); len(got) != 3 {
		t.Fatalf("eng holds %v after the lost reply, want 3 grants", got)
	}
	if n := migrateAll(t, srv, "team a", "eng", 3); n != 2 {
		t.Errorf("resume migrated %d, want 2", n)
	}
}

// TestPermissionMigrationStrictRefusals: a local group that was not renamed,
// an account group as the source, names in another case, and an account
// group whose migrated grant was changed by hand since.
func TestPermissionMigrationStrictRefusals(t *testing.T) {
	srv := pmServer(t, PermissionMigrationStrict, nil)
	w := sdkWorkspace(t, srv, wsFed)
	ctx := context.Background()
	call := func(from, to string) error {
		_, err := w.PermissionMigration.MigratePermissions(ctx,
			iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: from, ToAccountGroupName: to, Size: 10})
		return err
	}
	a := admin(t, srv, wsFed)
	// "team b" takes the name of the unassigned account group "unassigned":
	// the local group still carries the target's name.
	a.ok(http.StatusNoContent, "PATCH", groupsPath+"/"+idTeamB, patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "unassigned"}))
	wantAPIError(t, call("unassigned", "unassigned"), http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group unassigned is not a workspace local group")
	wantAPIError(t, call("eng", "ops"), http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group eng is not a workspace local group")
	wantAPIError(t, call("TEAM A", "eng"), http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Workspace group TEAM A does not exist")
	wantAPIError(t, call("team a", "ENG"), http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Account group ENG does not exist in workspace 1001")
	wantAPIError(t, call("team a", "unassigned"), http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Account group unassigned does not exist in workspace 1001")

	if n := migrateAll(t, srv, "team a", "eng", 2); n != 5 {
		t.Fatalf("migrated %d, want 5", n)
	}
	// Someone raises eng's level on a migrated object: that grant is no
	// longer the one the migration put there.
	a.ok(http.StatusOK, "PATCH", "/api/2.0/permissions/clusters/0101-abc",
		map[string]any{"access_control_list": []map[string]any{{"group_name": "eng", "permission_level": "CAN_MANAGE"}}})
	wantAPIError(t, call("team a", "eng"), http.StatusBadRequest, "BAD_REQUEST", "Account group eng already has permissions")
}

// TestPermissionMigrationStrictConflict: the local group is granted again on
// an object whose grant was already moved; the next call meets the account
// group's grant there and answers the permissions table 500.
func TestPermissionMigrationStrictConflict(t *testing.T) {
	srv := pmServer(t, PermissionMigrationStrict, nil)
	if n := migrateAll(t, srv, "team a", "eng", 0); n != 5 {
		t.Fatalf("migrated %d, want 5", n)
	}
	a := admin(t, srv, wsFed)
	a.ok(http.StatusOK, "PATCH", "/api/2.0/permissions/jobs/11",
		map[string]any{"access_control_list": []map[string]any{{"group_name": "team a", "permission_level": "CAN_VIEW"}}})
	_, err := sdkWorkspace(t, srv, wsFed).PermissionMigration.MigratePermissions(context.Background(),
		iam.MigratePermissionsRequest{WorkspaceId: wsFed, FromWorkspaceGroupName: "team a", ToAccountGroupName: "eng"})
	wantAPIError(t, err, http.StatusInternalServerError, "INTERNAL_ERROR", "Error when updating permissions table")
	st := srv.Snapshot()
	if got := grantsOf(st, wsFed, idTeamA); !mapsEqual(got, map[string]string{"jobs/11": "CAN_VIEW"}) {
		t.Errorf("team a grants = %v", got)
	}
	if got := grantsOf(st, wsFed, idEng); !mapsEqual(got, teamAGrants) {
		t.Errorf("eng grants = %v, want %v", got, teamAGrants)
	}
}

// TestPermissionMigrationStrictBatchCap: strict moves at most 1000 grants a
// call, whatever size asks for; copy with size 0 takes them all.
func TestPermissionMigrationStrictBatchCap(t *testing.T) {
	many := func(s *Seed) {
		g := fedGrants(s)
		w := &s.Workspaces[slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })]
		for i := range 1001 {
			g.Objects = append(g.Objects, SeedObjectACL{ObjectType: "notebooks", ObjectID: strconv.Itoa(10000 + i),
				ACL: []SeedGrant{{GroupName: "team a", PermissionLevel: "CAN_RUN"}}})
			addTreeNotebooks(w, int64(10000+i))
		}
	}
	for _, tc := range []struct {
		mode  string
		size  int
		calls []int
	}{
		{PermissionMigrationStrict, 0, []int{1000, 6}},
		{PermissionMigrationStrict, 5000, []int{1000, 6}},
		{PermissionMigrationCopy, 0, []int{1005}},
	} {
		t.Run(tc.mode+"/"+strconv.Itoa(tc.size), func(t *testing.T) {
			srv := pmServer(t, tc.mode, many)
			a := admin(t, srv, wsFed)
			body := map[string]any{"workspace_id": wsFed, "from_workspace_group_name": "team a", "to_account_group_name": "eng"}
			if tc.size > 0 {
				body["size"] = tc.size
			}
			for i, want := range append(tc.calls, 0) {
				m := a.ok(http.StatusOK, "POST", "/api/2.0/permissionmigration", body).json(t)
				if want == 0 {
					if len(m) != 0 {
						t.Errorf("call %d: reply %v, want {} when nothing moved", i, m)
					}
					continue
				}
				if m["permissions_migrated"] != float64(want) {
					t.Errorf("call %d: reply %v, want %d migrated", i, m, want)
				}
			}
		})
	}
}

// TestPermissionMigrationSeesRenamesAfterConsistencyDelay: the renamed local
// group is found under its new name only after the consistency delay, and
// its grants follow it through the rename.
func TestPermissionMigrationSeesRenamesAfterConsistencyDelay(t *testing.T) {
	clk := newClock()
	srv := NewTestServer(t, Options{Seed: grantsSeed(t), Now: clk.Now, Consistency: 30e9})
	a := admin(t, srv, wsFed)
	a.ok(http.StatusNoContent, "PATCH", groupsPath+"/"+idTeamA, patchOp(map[string]any{"op": "replace", "path": "displayName", "value": "db-temp-team a"}))
	p := a.ok(http.StatusOK, "GET", "/api/2.0/permissions/clusters/0101-abc", nil).json(t)
	if g := p["access_control_list"].([]any)[0].(map[string]any)["group_name"]; g != "db-temp-team a" {
		t.Errorf("renamed group shows as %v", g)
	}
	body := map[string]any{"workspace_id": wsFed, "from_workspace_group_name": "db-temp-team a", "to_account_group_name": "eng"}
	wantRESTError(t, a.do("POST", "/api/2.0/permissionmigration", body), http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	clk.Advance(31e9)
	r := a.ok(http.StatusOK, "POST", "/api/2.0/permissionmigration", body)
	if n := r.json(t)["permissions_migrated"]; n != float64(5) {
		t.Errorf("migrated %v after the delay, want 5", n)
	}
}

// TestPermissionMigrationRequestErrors covers the request checks shared by
// every mode.
func TestPermissionMigrationRequestErrors(t *testing.T) {
	srv := pmServer(t, PermissionMigrationStrict, nil)
	a := admin(t, srv, wsFed)
	for _, body := range []map[string]any{
		{"workspace_id": 42, "from_workspace_group_name": "team a", "to_account_group_name": "eng"},
		{"from_workspace_group_name": "team a", "to_account_group_name": "eng"},
		{"workspace_id": wsFed, "to_account_group_name": "eng"},
		{"workspace_id": wsFed, "from_workspace_group_name": "team a", "to_account_group_name": " "},
		{"workspace_id": wsFed, "from_workspace_group_name": "team a", "to_account_group_name": "eng", "size": -1},
	} {
		wantRESTError(t, a.do("POST", "/api/2.0/permissionmigration", body), http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	}
	user := a.as(srv.UserToken())
	wantRESTError(t, user.do("POST", "/api/2.0/permissionmigration",
		map[string]any{"workspace_id": wsFed, "from_workspace_group_name": "team a", "to_account_group_name": "eng"}), http.StatusForbidden, "PERMISSION_DENIED")
	if d := grantsOf(srv.Snapshot(), wsFed, idEng); len(d) != 0 {
		t.Errorf("eng holds %v after refused calls", d)
	}
}

// TestPermissionMigrationModeKnob: Options, the seed's knobs and
// SetPermissionMigration choose the mode; strict is the default.
func TestPermissionMigrationModeKnob(t *testing.T) {
	if got := newGrants(t, Options{}).PermissionMigration(); got != PermissionMigrationStrict {
		t.Errorf("default mode %q", got)
	}
	s := grantsSeed(t)
	s.Knobs = &SeedKnobs{PermissionMigration: PermissionMigrationMove}
	if got := NewTestServer(t, Options{Seed: s}).PermissionMigration(); got != PermissionMigrationMove {
		t.Errorf("seed knob: mode %q", got)
	}
	if got := NewTestServer(t, Options{Seed: s, PermissionMigration: PermissionMigrationCopy}).PermissionMigration(); got != PermissionMigrationCopy {
		t.Errorf("Options over the seed knob: mode %q", got)
	}
	if _, err := New(Options{PermissionMigration: "lenient"}); err == nil || !strings.Contains(err.Error(), `permission_migration: "lenient" is not one of strict, copy, move`) {
		t.Errorf("New with a bad mode: %v", err)
	}
	if _, err := ParseSeed([]byte(`{"account_id":"a","workspaces":[{"workspace_id":1,"workspace_name":"w"}],"knobs":{"permission_migration":"Strict"}}`)); err == nil ||
		!strings.Contains(err.Error(), "knobs.permission_migration") {
		t.Errorf("seed with a bad mode: %v", err)
	}
	srv := newGrants(t, Options{})
	if err := srv.SetPermissionMigration("copies"); err == nil {
		t.Error("SetPermissionMigration accepted copies")
	}
	if err := srv.SetPermissionMigration(""); err == nil {
		t.Error("SetPermissionMigration accepted the empty mode")
	}
	if err := srv.SetPermissionMigration(PermissionMigrationCopy); err != nil || srv.PermissionMigration() != PermissionMigrationCopy {
		t.Errorf("SetPermissionMigration(copy): %v, mode %q", err, srv.PermissionMigration())
	}
	if err := srv.AddPermissionMigrationFault(PermissionMigrationFault{After: -1}); err == nil {
		t.Error("AddPermissionMigrationFault accepted a negative After")
	}
}

// TestServePermissionMigrationFlag: --permission-migration reaches Options;
// a bad value is a one-line error naming the flag.
func TestServePermissionMigrationFlag(t *testing.T) {
	parse := func(args ...string) (Options, error) {
		var opts Options
		var perr error
		serve := *Command().Subcommands[0]
		serve.Action = func(c *cli.Context) error { opts, perr = serveOptions(c); return nil }
		app := &cli.App{Name: "dbiam", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{&serve},
			ExitErrHandler: func(*cli.Context, error) {}}
		if err := app.Run(append([]string{"dbiam", "serve"}, args...)); err != nil {
			return opts, err
		}
		return opts, perr
	}
	for _, mode := range PermissionMigrationModes {
		if o, err := parse("--permission-migration", mode); err != nil || o.PermissionMigration != mode {
			t.Errorf("--permission-migration %s: %q, %v", mode, o.PermissionMigration, err)
		}
	}
	if o, err := parse(); err != nil || o.PermissionMigration != "" {
		t.Errorf("no flag: %q, %v (want the default, left to New)", o.PermissionMigration, err)
	}
	for _, bad := range []string{"", "lenient", "STRICT"} {
		_, err := parse("--permission-migration", bad)
		if err == nil || !strings.Contains(err.Error(), "--permission-migration") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--permission-migration %q: %v", bad, err)
		}
	}
}
