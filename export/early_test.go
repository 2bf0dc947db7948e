package export

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestAssignmentsReadWhileListing checks that a workspace's assignments are
// read as soon as its group list shows an account group, not after its
// lists: every workspace user-list reply is held (through the request hook)
// until an assignments request has been made, so the export only finishes
// without a held reply timing out if the assignments do not wait for the
// users list.
func TestAssignmentsReadWhileListing(t *testing.T) {
	seed, err := sandbox.Synthetic("workspaces=2,users=60,groups=6,members=5,sps=3,seed=2")
	if err != nil {
		t.Fatal(err)
	}
	assignments := make(chan struct{})
	var once sync.Once
	var gaveUp atomic.Bool
	e := newEnv(t, sandbox.Options{Seed: seed}, func(s *scim.Settings) {
		s.OnRequest = func(ev scim.RequestEvent) {
			if ev.Class == scim.ClassAssignments {
				once.Do(func() { close(assignments) })
			}
			if ev.WorkspaceID != 0 && strings.HasSuffix(ev.Path, "/Users") {
				select {
				case <-assignments:
				case <-time.After(20 * time.Second): // a guard against hanging, not a timed assertion
					gaveUp.Store(true)
				}
			}
		}
	})
	if err := Run(context.Background(), Options{Out: e.path("x.csv"), Format: "csv"}, e.deps); err != nil {
		t.Fatal(err)
	}
	if gaveUp.Load() {
		t.Fatal("no assignments request while the users lists were held: assignments wait for the lists")
	}
	out := readCSVDir(t, e.path("x.csv"))
	if n := len(out[TableAssignments].rows); n == 0 {
		t.Fatal("no assignments rows")
	}
	ws := out[TableWorkspaces].rows
	if len(ws) != 2 || ws[0][5] != "true" || ws[1][5] != "false" || ws[0][16] != "ok" || ws[1][16] != "ok" {
		t.Errorf("workspaces: %q, want the first federated, the last (synthetic) not, both ok", ws)
	}
}
