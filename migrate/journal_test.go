package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/sandbox"
)

var journalEpoch = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testClock() func() time.Time {
	t := journalEpoch
	return func() time.Time { t = t.Add(time.Second); return t }
}

func testHeader() journal.Header {
	return journal.Header{Kind: JournalKind, PlanSHA256: "aaaa", Lineage: "lin-1", ToolVersion: "test"}
}

// v1Record is a journal line as "dbiam migrate" wrote it before package
// journal (format version 1), field for field: what an older dbiam reads.
type v1Record struct {
	Seq         int64     `json:"seq"`
	Time        time.Time `json:"time"`
	Step        string    `json:"step"`
	Kind        StepKind  `json:"kind"`
	WorkspaceID int64     `json:"workspace_id,omitempty"`
	Group       string    `json:"group,omitempty"`
	State       StepState `json:"state"`
	Detail      *Detail   `json:"detail,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// copyFixture copies a testdata journal directory to a temporary one.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plan.json.journal")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", name, journal.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal.Path(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestJournalLine: a new journal is written in the chained format, with
// migrate's kind in its header and its payload (kind, workspace_id,
// group, detail) on each line after the envelope.
func TestJournalLine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plan.json.journal")
	j, err := openJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatal(err)
	}
	step := groupStepID(KindRenameLocal, 1, "10")
	if _, err := j.Append(Record{Step: step, State: StateDone, Data: Payload{Kind: KindRenameLocal, WorkspaceID: 1, Group: "eng",
		Detail: &Detail{PreviousName: "eng", NewName: "db-temp-eng"}}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, err := os.ReadFile(journal.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("journal has %d lines, want 2:\n%s", len(lines), data)
	}
	if want := `{"journal_version":2,"kind":"migrate","plan_sha256":"aaaa","lineage":"lin-1","tool_version":"test"}`; lines[0] != want {
		t.Errorf("header = %s, want %s", lines[0], want)
	}
	want := `{"seq":1,"prev":"` + journal.SHA256([]byte(lines[0])) + `","time":"2026-11-24T12:00:01Z","step":"rename-local/1/10","state":"done",` +
		`"kind":"rename-local","workspace_id":1,"group":"eng","detail":{"previous_name":"eng","new_name":"db-temp-eng"}}`
	if lines[1] != want {
		t.Errorf("record = %s\nwant     %s", lines[1], want)
	}
}

// TestJournalVersion1 reads a journal "dbiam migrate" wrote before the
// chained format (testdata/journal-v1) and appends to it in version 1,
// lines an older dbiam still reads, so that a migration in flight resumes.
func TestJournalVersion1(t *testing.T) {
	dir := copyFixture(t, "journal-v1")
	h, recs, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != journal.Version1 || len(recs) != 6 {
		t.Fatalf("read version %d with %d records, want 1 and 6", h.Version, len(recs))
	}
	views := Replay(recs)
	ag := views[accountGroupStepID("ag:data-eng")]
	if ag.State != StateDone || ag.Detail.AccountGroupID != "77" || !ag.Detail.Created || ag.Detail.MembersAdded != 2 || ag.Detail.Create != CreateSent {
		t.Errorf("ensure view = %+v", ag)
	}
	if v := views[groupStepID(KindAssignWorkspace, 1, "10")]; v.State != StateFailed || v.Error != "assign: 400 boom" || v.Kind != KindAssignWorkspace || v.WorkspaceID != 1 {
		t.Errorf("assign view = %+v", v)
	}

	j, err := openJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatalf("open a version 1 journal with a version 2 header: %v", err)
	}
	if _, err := j.Append(Record{Step: groupStepID(KindAssignWorkspace, 1, "10"), State: StateStarted,
		Data: Payload{Kind: KindAssignWorkspace, WorkspaceID: 1, Group: "data-eng", Detail: &Detail{Assigned: true}}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, _ := os.ReadFile(journal.Path(dir))
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if !bytes.HasPrefix(lines[0], []byte(`{"journal_version":1,`)) {
		t.Errorf("header after append = %s, want version 1 kept", lines[0])
	}
	last := lines[len(lines)-1]
	dec := json.NewDecoder(bytes.NewReader(last))
	dec.DisallowUnknownFields()
	var old v1Record
	if err := dec.Decode(&old); err != nil || old.Seq != 7 || old.Kind != KindAssignWorkspace || old.Detail == nil || !old.Detail.Assigned {
		t.Errorf("appended line %s does not read as a version 1 record: %+v, %v", last, old, err)
	}
}

// TestReplayUndoAndRedo: an undo that is done resets its step; running the
// step again starts its detail afresh.
func TestReplayUndoAndRedo(t *testing.T) {
	step := groupStepID(KindRenameLocal, 1, "10")
	rec := func(seq int64, id string, st StepState, d *Detail) Record {
		return Record{Seq: seq, Step: id, State: st, Data: Payload{Kind: KindRenameLocal, WorkspaceID: 1, Detail: d}}
	}
	recs := []Record{
		rec(1, step, StateStarted, &Detail{PreviousName: "eng", NewName: "db-temp-eng"}),
		rec(2, step, StateDone, nil),
		rec(3, UndoStepID(step), StateStarted, nil),
	}
	v := Replay(recs)[step]
	if v.State != StateDone || v.Undone || v.Detail.PreviousName != "eng" || v.Kind != KindRenameLocal {
		t.Fatalf("before undo done: %+v", v)
	}
	recs = append(recs, rec(4, UndoStepID(step), StateDone, nil))
	v = Replay(recs)[step]
	if v.State != "" || !v.Undone {
		t.Fatalf("after undo: %+v, want pending and undone", v)
	}
	f := rec(5, step, StateFailed, nil)
	f.Error = "boom"
	recs = append(recs, f)
	v = Replay(recs)[step]
	if v.State != StateFailed || v.Undone || v.Error != "boom" || v.Detail.PreviousName != "" {
		t.Fatalf("after redo: %+v", v)
	}
	if u := Replay(recs)[UndoStepID(step)]; u.State != "" {
		t.Errorf("the undo is %q after the redo, want pending", u.State)
	}
}

// TestJournalDamageNamesAdopt: a damaged journal is refused with the line
// and the repair path, and left as it was.
func TestJournalDamageNamesAdopt(t *testing.T) {
	dir := copyFixture(t, "journal-v1")
	data, _ := os.ReadFile(journal.Path(dir))
	lines := strings.SplitAfter(string(data), "\n")
	dup := strings.Join(append(append([]string{}, lines[:4]...), lines[3:]...), "")
	if err := os.WriteFile(journal.Path(dir), []byte(dup), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func() error{
		"read": func() error { _, _, err := ReadJournal(dir); return err },
		"open": func() error { _, err := openJournal(dir, testHeader(), nil); return err },
	} {
		err := fn()
		if !errors.Is(err, journal.ErrCorrupt) {
			t.Fatalf("%s: %v, want journal.ErrCorrupt", name, err)
		}
		for _, want := range []string{"line 5 repeats sequence number 3", "dbiam migrate adopt --journal NEW_DIR PLAN"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", name, err, want)
			}
		}
		if strings.Contains(err.Error(), "move the directory aside") {
			t.Errorf("%s: %q still says to move the directory aside", name, err)
		}
	}
	if after, _ := os.ReadFile(journal.Path(dir)); string(after) != dup {
		t.Error("a refused journal was modified")
	}
}

// toVersion1 rewrites the chained journal in dir as "dbiam migrate" wrote
// it before package journal: a header without kind, records without prev,
// each line as that version encoded it.
func toVersion1(t *testing.T, dir string) {
	t.Helper()
	h, recs, err := ReadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	line := func(v any) {
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(enc, '\n'))
	}
	line(struct {
		JournalVersion int    `json:"journal_version"`
		PlanSHA256     string `json:"plan_sha256"`
		Lineage        string `json:"lineage"`
		ToolVersion    string `json:"tool_version"`
	}{journal.Version1, h.PlanSHA256, h.Lineage, "v0.9.0"})
	for _, r := range recs {
		line(v1Record{Seq: r.Seq, Time: r.Time, Step: r.Step, Kind: r.Data.Kind, WorkspaceID: r.Data.WorkspaceID, Group: r.Data.Group,
			State: r.State, Detail: r.Data.Detail, Error: r.Error})
	}
	if err := os.WriteFile(journal.Path(dir), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestResumeVersion1Journal: an apply interrupted under the version 1
// journal format (a migration in flight when dbiam was upgraded) resumes
// to the state of an uninterrupted run, keeps its journal in version 1
// with lines an older dbiam reads, and rolls back to the seed.
func TestResumeVersion1Journal(t *testing.T) {
	opts := sandbox.Options{Seed: readableSeed()}
	srv := sandbox.NewTestServer(t, opts)
	seed := srv.Snapshot()
	plan := makePlan(t, srv, t.TempDir(), treePlan(PlanOptions{}))
	want, n := referenceRunIn(t, plan, opts)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	beforeAppend = func(seq int64) {
		if seq == n/2 {
			cancel()
		}
	}
	t.Cleanup(func() { beforeAppend = nil })
	d, _, _ := sandboxDeps(t, srv)
	if err := RunApply(ctx, ApplyOptions{Yes: true, PlanPath: plan}, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted apply: %v, want context.Canceled", err)
	}
	beforeAppend = nil
	jdir := DefaultJournalDir(plan)
	toVersion1(t, jdir)
	_, v1recs, err := ReadJournal(jdir)
	if err != nil {
		t.Fatal(err)
	}

	d, stdout, stderr := sandboxDeps(t, srv)
	if err := RunApply(context.Background(), ApplyOptions{Yes: true, PlanPath: plan}, d); err != nil {
		t.Fatalf("resumed apply: %v\n%s\n%s", err, stdout, stderr)
	}
	if g, w := snapshotJSON(t, normalize(srv.Snapshot(), seed)), snapshotJSON(t, want); g != w {
		t.Fatalf("state after resuming a version 1 journal differs from an uninterrupted run:\n%s", diffLines(w, g))
	}
	data, err := os.ReadFile(journal.Path(jdir))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if !bytes.HasPrefix(lines[0], []byte(`{"journal_version":1,`)) {
		t.Errorf("header after resume = %s, want version 1 kept", lines[0])
	}
	if len(lines)-1 <= len(v1recs) {
		t.Fatalf("the resumed apply appended nothing (%d lines)", len(lines))
	}
	for i, l := range lines[1:] {
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		var old v1Record
		if err := dec.Decode(&old); err != nil || old.Seq != int64(i+1) {
			t.Fatalf("line %d %s does not read as a version 1 record (seq %d): %v", i+2, l, old.Seq, err)
		}
	}

	d, stdout, stderr = sandboxDeps(t, srv)
	if err := RunRollback(context.Background(), RollbackOptions{Yes: true, JournalDir: jdir}, d); err != nil {
		t.Fatalf("rollback: %v\n%s\n%s", err, stdout, stderr)
	}
	if g, w := snapshotJSON(t, srv.Snapshot()), snapshotJSON(t, seed); g != w {
		t.Errorf("rollback of a version 1 journal did not restore the seed:\n%s", diffLines(w, g))
	}
}
