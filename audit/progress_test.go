package audit

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// noMatch audits nobody.
type noMatch struct{}

func (noMatch) match(pref, int64) []string        { return nil }
func (noMatch) goesWith(string, pref, int64) bool { return false }

// TestScanInventoryCountsKinds: scanInventory says when each kind is
// listed and its details read, once per kind, so that a workspace's
// progress (whose objects have no total) moves with the kinds read
// (reports.Task.Steps) instead of sitting at 0 % until the workspace ends.
func TestScanInventoryCountsKinds(t *testing.T) {
	e := newEnv(t, sandbox.Options{}, nil)
	ctx := context.Background()
	sess, err := e.deps.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := sess.Workspaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sess.Workspace(all[0])
	if err != nil {
		t.Fatal(err)
	}
	var kinds, listed atomic.Int64
	inv, _, _ := scanInventory(ctx, w, all[0], PermissionsOwners, noMatch{}, inventoryHooks{
		listed:   func(objs []*object) { listed.Add(int64(len(objs))) },
		kindDone: func() { kinds.Add(1) },
	})
	if got := kinds.Load(); got != int64(len(listers)) {
		t.Errorf("kindDone called %d times, want once per kind (%d)", got, len(listers))
	}
	if listed.Load() == 0 || len(inv.objects) == 0 {
		t.Errorf("%d objects listed, %d in the inventory", listed.Load(), len(inv.objects))
	}
}
