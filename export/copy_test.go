package export

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
)

// recordSink records the rows written to it; fail, if set, fails the
// write of that row (1-based).
type recordSink struct {
	mu     sync.Mutex
	rows   [][]any
	closed bool
	fail   int
}

func (s *recordSink) WriteRow(vals ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == len(s.rows)+1 {
		return errors.New("disk full")
	}
	s.rows = append(s.rows, append([]any(nil), vals...))
	return nil
}

func (s *recordSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *recordSink) snapshot() ([][]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]any(nil), s.rows...), s.closed
}

// spoolWorkspaces spools n workspaces with one groups row and one users
// row each: workspace i has group "g<i>" and user "u<i>".
func spoolWorkspaces(t *testing.T, n int) []*wsResult {
	t.Helper()
	sp, err := newSpool(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.remove)
	var out []*wsResult
	for i := range n {
		w, err := sp.create(fmt.Sprint("ws", i))
		if err != nil {
			t.Fatal(err)
		}
		ws := fmt.Sprint(i)
		w.begin(TableGroups)
		w.row(ws, "w", "g"+ws, "G", "workspace", "", 0, 0, 0, 0, nil, nil, []string{})
		w.begin(TableUsers)
		w.row(ws, "w", "u"+ws, "user"+ws, "User", true, "", nil, nil, nil, nil, 0, false)
		f, err := w.close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &wsResult{file: f})
	}
	return out
}

// column returns the values of column name in rows of table.
func column(table, name string, rows [][]any) []any {
	i := columnIndex(columns[table], name)
	var out []any
	for _, r := range rows {
		out = append(out, r[i])
	}
	return out
}

func TestCopierKeepsWorkspaceOrder(t *testing.T) {
	results := spoolWorkspaces(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	groups, users := &recordSink{}, &recordSink{}
	cp := newCopier(ctx, cancel, len(results), map[string]reports.Sink{TableGroups: groups, TableUsers: users})

	// Workspaces finish in reverse order; nothing is copied before
	// workspace 0 is done.
	for i := len(results) - 1; i >= 1; i-- {
		cp.workspaceDone(i, results[i])
	}
	time.Sleep(20 * time.Millisecond) // a copier that did not wait would have written by now
	if rows, _ := groups.snapshot(); len(rows) != 0 {
		t.Fatalf("copied before workspace 0 was done: %v", rows)
	}
	cp.workspaceDone(0, results[0])
	// The groups table does not wait for the account; the users table does.
	waitFor(t, func() bool { _, closed := groups.snapshot(); return closed })
	if rows, closed := users.snapshot(); len(rows) != 0 || closed {
		t.Fatalf("users copied before the account users were read: %v", rows)
	}
	cp.accountUsersRead(map[string]bool{"u2": true})
	cp.accountUsersRead(nil) // later calls are ignored
	if err := cp.wait(); err != nil {
		t.Fatal(err)
	}
	rows, _ := groups.snapshot()
	if got := column(TableGroups, "id", rows); !reflect.DeepEqual(got, []any{"g0", "g1", "g2", "g3"}) {
		t.Errorf("groups ids = %v, want workspace order", got)
	}
	rows, closed := users.snapshot()
	if !closed {
		t.Error("users sink not closed")
	}
	if got := column(TableUsers, "account_user", rows); !reflect.DeepEqual(got, []any{false, false, true, false}) {
		t.Errorf("account_user = %v", got)
	}
	if got := column(TableUsers, "external_id", rows); !reflect.DeepEqual(got, []any{nil, nil, nil, nil}) {
		t.Errorf("empty texts not written as no value: %v", got)
	}
	if ctx.Err() != nil {
		t.Error("a successful copy cancelled the reads")
	}
}

func TestCopierFailureCancelsReads(t *testing.T) {
	results := spoolWorkspaces(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	groups := &recordSink{fail: 2}
	cp := newCopier(ctx, cancel, len(results), map[string]reports.Sink{TableGroups: groups})
	cp.accountUsersRead(nil)
	cp.workspaceDone(0, results[0])
	cp.workspaceDone(1, results[1])
	// Workspace 2 is never done: the failed copy must end the wait anyway,
	// through the cancelled reads.
	err := cp.wait()
	if err == nil || ctx.Err() == nil {
		t.Fatalf("wait = %v, reads cancelled: %v", err, ctx.Err())
	}
	if want := "write groups: disk full"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if rows, closed := groups.snapshot(); len(rows) != 1 || closed {
		t.Errorf("after the failure: %d rows, closed %v", len(rows), closed)
	}
}

func TestCopierStopsOnCancel(t *testing.T) {
	results := spoolWorkspaces(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	users := &recordSink{}
	cp := newCopier(ctx, cancel, len(results), map[string]reports.Sink{TableUsers: users, TableGroups: &recordSink{}})
	cp.workspaceDone(0, results[0])
	cancel() // Ctrl-C while the account and workspace 1 are still read
	if err := cp.wait(); err != nil {
		t.Errorf("wait after cancel = %v, want nil (the run reports the cancellation)", err)
	}
	if rows, closed := users.snapshot(); len(rows) != 0 || closed {
		t.Errorf("users: %d rows, closed %v", len(rows), closed)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
