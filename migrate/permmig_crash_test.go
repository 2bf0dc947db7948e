package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// Environment of the crash child (TestMigrateCrashChild) for kills between
// two batches of the permission migration API.
const (
	// envPermBatch is ApplyOptions.PermissionBatch.
	envPermBatch = "DBIAM_MIGRATE_CRASH_PERMISSION_BATCH"
	// envKillCall is a JSON killCall: the child SIGKILLs itself around
	// one call of the permission migration API.
	envKillCall = "DBIAM_MIGRATE_CRASH_KILL_CALL"
)

// killCall says where the child dies: around call N (1-based) of the
// permission migration API for local group From; before it is sent (at
// the transport's send point, once its intent, with the previous batches'
// count, is recorded), or After its reply arrived (before its record).
type killCall struct {
	From  string `json:"from"`
	N     int    `json:"n"`
	After bool   `json:"after"`
}

// permissionKillOptions sets the child's PermissionBatch and, with
// envKillCall, a Remote that kills the process at that call.
func permissionKillOptions(ctx context.Context, o *ApplyOptions, d Deps) error {
	if b := os.Getenv(envPermBatch); b != "" {
		if _, err := fmt.Sscan(b, &o.PermissionBatch); err != nil {
			return fmt.Errorf("%s=%q: %w", envPermBatch, b, err)
		}
	}
	spec := os.Getenv(envKillCall)
	if spec == "" {
		return nil
	}
	var k killCall
	if err := json.Unmarshal([]byte(spec), &k); err != nil {
		return fmt.Errorf("%s=%q: %w", envKillCall, spec, err)
	}
	sess, err := d.Connect(ctx)
	if err != nil {
		return err
	}
	p, _, err := ReadPlan(o.PlanPath)
	if err != nil {
		return err
	}
	r, err := NewRemote(ctx, sess, p)
	if err != nil {
		return err
	}
	o.Remote = &killingRemote{Remote: r, at: k}
	return nil
}

// killingRemote SIGKILLs the process around one permission migration call.
type killingRemote struct {
	Remote
	at    killCall
	mu    sync.Mutex
	calls int
}

func (k *killingRemote) MigratePermissions(ctx context.Context, ws int64, from, to string, size int) (int, error) {
	if from != k.at.From {
		return k.Remote.MigratePermissions(ctx, ws, from, to, size)
	}
	k.mu.Lock()
	k.calls++
	c := k.calls
	k.mu.Unlock()
	die := func() {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if c == k.at.N && !k.at.After {
		// After the hooks already in ctx (apply's intent), right before
		// the request would go out.
		ctx = scim.WithBeforeSend(ctx, func() error {
			die()
			return nil
		})
	}
	n, err := k.Remote.MigratePermissions(ctx, ws, from, to, size)
	if c == k.at.N && k.at.After {
		die()
	}
	return n, err
}

// TestPermissionsKillBetweenBatches SIGKILLs apply (a child process moving
// one grant per call) between two batches of etl-operators' permission
// migration: before the second and third calls (the batches before them
// recorded) and after the second reply (its record lost). Resumed in this
// process, apply goes on with what is left without being refused by its
// own earlier batches, reaches the state of an uninterrupted run, says its
// count is a lower bound where a reply went unrecorded, and verify finds
// every grant of the baseline on the account group.
func TestPermissionsKillBetweenBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	for _, mode := range sandbox.PermissionMigrationModes {
		t.Run(mode, func(t *testing.T) {
			opts := sandbox.Options{Seed: readableSeed(), PermissionMigration: mode}
			srv := sandbox.NewTestServer(t, opts)
			plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{}))
			want, _ := referenceRunIn(t, plan, opts)
			raw, err := os.ReadFile(plan)
			if err != nil {
				t.Fatal(err)
			}
			p, _, err := ReadPlan(plan)
			if err != nil {
				t.Fatal(err)
			}
			g := groupPlan(p, wsProd, "etl-operators")
			for _, at := range []killCall{{From: g.BackupName, N: 2}, {From: g.BackupName, N: 2, After: true}, {From: g.BackupName, N: 3}} {
				srv := sandbox.NewTestServer(t, opts)
				seed := srv.Snapshot()
				path := filepath.Join(t.TempDir(), "plan.json")
				if err := os.WriteFile(path, raw, 0o600); err != nil {
					t.Fatal(err)
				}
				spec, _ := json.Marshal(at)
				killed, err := runChild(srv, path, 0, envPermBatch+"=1", envKillCall+"="+string(spec))
				if err != nil {
					t.Fatal(err)
				}
				if !killed {
					t.Fatalf("%+v: the child was not killed", at)
				}
				// Before call N, or after its reply but before its record:
				// N-1 batches are in the journal either way.
				recorded := at.N - 1
				v := migrateStep(t, path, wsProd, g.LocalID)
				if v.State != StateStarted || v.Detail.PermissionBatches != recorded {
					t.Errorf("%+v: journal after the kill: %s with %d batches, want started with %d", at, v.State, v.Detail.PermissionBatches, recorded)
				}
				ctx := context.Background()
				d, stdout, stderr := sandboxDeps(t, srv)
				if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: path, PermissionBatch: 1}, d); err != nil {
					t.Fatalf("%+v: resume: %v\n%s\n%s", at, err, stdout, stderr)
				}
				if !strings.Contains(stdout.String(), "at least ") {
					t.Errorf("%+v: the resumed apply's count does not say it is a lower bound:\n%s", at, stdout)
				}
				if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
					t.Errorf("%+v: state differs from an uninterrupted run:\n%s", at, diffLines(w, g))
				}
				d, stdout, _ = sandboxDeps(t, srv)
				if err := RunVerify(ctx, VerifyOptions{PlanPath: path}, d); err != nil {
					t.Errorf("%+v: verify: %v\n%s", at, err, stdout)
				}
			}
		})
	}
}
