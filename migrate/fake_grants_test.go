package migrate

import (
	"context"

	"github.com/dbiam/dbiam/scim"
)

// The fakeRemote's object ACLs: it has no objects.

func (f *fakeRemote) ObjectPermissions(ctx context.Context, wsID int64, objectType, objectID string) (scim.ObjectPermissions, error) {
	return scim.ObjectPermissions{}, notFound()
}

func (f *fakeRemote) GrantObjectPermission(ctx context.Context, wsID int64, objectType, objectID, group, level string) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	f.announced(KindMigratePermissions)
	return notFound()
}

func (f *fakeRemote) SetObjectPermissions(ctx context.Context, wsID int64, objectType, objectID string, acl []scim.AccessControl) error {
	if err := scim.RunBeforeSend(ctx); err != nil {
		return err
	}
	return notFound()
}
