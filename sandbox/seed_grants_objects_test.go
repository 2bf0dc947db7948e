package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
	sdkws "github.com/databricks/databricks-sdk-go/service/workspace"
)

// TestDefaultSeedGrantsOnMLObjectsAreListed: every experiment and
// registered model that the default seed grants a permission on is an
// object its workspace lists, as in a real workspace. The demo granted
// acme-ml's groups an experiment and a registered model that no list
// showed (the model's id was not even a valid one), so migrate plan
// could not record those grants, and the README's runbook ended with a
// rollback that reported every group restored while they were lost.
func TestDefaultSeedGrantsOnMLObjectsAreListed(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed})
	for _, sw := range seed.Workspaces {
		if sw.Grants == nil {
			continue
		}
		srv.mu.Lock()
		ml := srv.ml(srv.st.wsByID[sw.WorkspaceID])
		var exps, models []string
		for _, e := range ml.experiments {
			exps = append(exps, e.ExperimentID)
		}
		for _, m := range ml.models {
			models = append(models, m.ID)
		}
		srv.mu.Unlock()
		for _, o := range sw.Grants.Objects {
			switch {
			case o.ObjectType == "experiments" && !slices.Contains(exps, o.ObjectID):
				t.Errorf("workspace %s grants on experiments/%s, which its experiments list does not show (%v)", sw.WorkspaceName, o.ObjectID, exps)
			case o.ObjectType == "registered-models" && !slices.Contains(models, o.ObjectID):
				t.Errorf("workspace %s grants on registered-models/%s, which its registered models list does not show (%v)", sw.WorkspaceName, o.ObjectID, models)
			}
		}
	}
}

// TestDefaultSeedTreeGrantsAreListed: every notebook, file and directory on
// which the default seed grants a group a level is an object that
// workspace/list shows (walked from the root through the official SDK), and
// its permissions reply carries those grants. The seed granted groups
// levels on directory and notebook ids that no tree held, so migrate plan
// --read-workspace-tree could not baseline them and the README's runbook
// reported groups restored while those grants were not.
func TestDefaultSeedTreeGrantsAreListed(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed})
	ctx := context.Background()
	found := 0
	for _, sw := range seed.Workspaces {
		if sw.Grants != nil {
			for _, o := range sw.Grants.Objects {
				if typ, _ := canonicalType(o.ObjectType); oneOf(typ, "notebooks", "files", "directories") {
					t.Errorf("workspace %s grants on %s/%s through its grants section; tree grants belong in objects.workspace_objects", sw.WorkspaceName, o.ObjectType, o.ObjectID)
				}
			}
		}
		if sw.Objects == nil {
			continue
		}
		w := sdkWS(t, srv, sw.WorkspaceID)
		listed := map[string]sdkws.ObjectInfo{}
		dirs := []string{"/"}
		for len(dirs) > 0 {
			d := dirs[0]
			dirs = dirs[1:]
			objs, err := w.Workspace.ListAll(ctx, sdkws.ListWorkspaceRequest{Path: d})
			if err != nil {
				t.Fatalf("%s: list %s: %v", sw.WorkspaceName, d, err)
			}
			for _, o := range objs {
				listed[o.Path] = o
				if o.ObjectType == sdkws.ObjectTypeDirectory {
					dirs = append(dirs, o.Path)
				}
			}
		}
		for _, so := range sw.Objects.WorkspaceObjects {
			if len(so.Permissions) == 0 {
				continue
			}
			o, ok := listed[so.Path]
			if !ok {
				t.Errorf("%s: %s is not listed by workspace/list", sw.WorkspaceName, so.Path)
				continue
			}
			typ := map[sdkws.ObjectType]string{sdkws.ObjectTypeDirectory: "directories", sdkws.ObjectTypeNotebook: "notebooks", sdkws.ObjectTypeFile: "files"}[o.ObjectType]
			perms, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: typ, RequestObjectId: strconv.FormatInt(o.ObjectId, 10)})
			if err != nil {
				t.Fatalf("%s: permissions of %s: %v", sw.WorkspaceName, so.Path, err)
			}
			for _, g := range so.Permissions {
				if !slices.ContainsFunc(perms.AccessControlList, func(e iam.AccessControlResponse) bool {
					return e.GroupName == g.GroupName && e.UserName == g.UserName && slices.ContainsFunc(e.AllPermissions, func(p iam.Permission) bool {
						return !p.Inherited && string(p.PermissionLevel) == g.PermissionLevel
					})
				}) {
					t.Errorf("%s: %s does not hold %+v: %+v", sw.WorkspaceName, so.Path, g, perms.AccessControlList)
				}
				if g.GroupName != "" {
					found++
				}
			}
		}
	}
	if found < 13 {
		t.Errorf("the default seed's tree holds %d group grants, want at least the 13 moved from the grants sections", found)
	}
}

// TestSeedGrantOnMissingTreeObject: a "grants" section that grants on a
// notebook, directory or file id the workspace tree does not hold is a seed
// error naming the field and the fix (the real service has no such object:
// its permissions API answers 404 RESOURCE_DOES_NOT_EXIST); the same grant
// on a tree object (here with a pinned object_id) loads, and the
// permissions API answers 404 for an id no tree holds.
func TestSeedGrantOnMissingTreeObject(t *testing.T) {
	for _, typ := range []string{"notebooks", "directories", "files", "repos"} {
		s := smallSeed(t)
		i := slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })
		s.Workspaces[i].Grants = &SeedGrants{Objects: []SeedObjectACL{{ObjectType: typ, ObjectID: "4242",
			ACL: []SeedGrant{{GroupName: "team a", PermissionLevel: "CAN_READ"}}}}}
		_, err := New(Options{Seed: s})
		want := fmt.Sprintf(`workspaces[%d].grants.objects[0].object_id: %s "4242" is not an object of the workspace tree`, i, typ)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "objects.workspace_objects") {
			t.Errorf("%s: err = %v, want one naming %q and objects.workspace_objects", typ, err, want)
		}
	}
	s := smallSeed(t)
	i := slices.IndexFunc(s.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == wsFed })
	s.Workspaces[i].Objects = &SeedObjects{WorkspaceObjects: []SeedWorkspaceObject{{Path: "/Shared/etl", ObjectType: "DIRECTORY", ObjectID: 4242}}}
	s.Workspaces[i].Grants = &SeedGrants{Objects: []SeedObjectACL{{ObjectType: "directories", ObjectID: "4242",
		ACL: []SeedGrant{{GroupName: "team a", PermissionLevel: "CAN_READ"}}}}}
	srv := NewTestServer(t, Options{Seed: s})
	w := sdkWS(t, srv, wsFed)
	ctx := context.Background()
	st, err := w.Workspace.GetStatusByPath(ctx, "/Shared/etl")
	if err != nil || st.ObjectId != 4242 {
		t.Fatalf("get-status /Shared/etl = %+v, %v; want object id 4242", st, err)
	}
	if _, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: "directories", RequestObjectId: "4242"}); err != nil {
		t.Errorf("permissions of the tree directory: %v", err)
	}
	for _, typ := range []string{"notebooks", "directories", "files", "repos"} {
		_, err := w.Permissions.Get(ctx, iam.GetPermissionRequest{RequestObjectType: typ, RequestObjectId: "4243"})
		var ae *apierr.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.ErrorCode != "RESOURCE_DOES_NOT_EXIST" {
			t.Errorf("permissions of missing %s/4243: %v, want 404 RESOURCE_DOES_NOT_EXIST", typ, err)
		}
	}
	s.Workspaces[i].Objects.WorkspaceObjects = append(s.Workspaces[i].Objects.WorkspaceObjects, SeedWorkspaceObject{Path: "/Shared/x", ObjectID: 4242, ObjectType: "DIRECTORY"})
	if _, err := New(Options{Seed: s}); err == nil || !strings.Contains(err.Error(), "workspace_objects[1].object_id: 4242 is not a positive, unique id") {
		t.Errorf("duplicate object_id: err = %v", err)
	}
}
