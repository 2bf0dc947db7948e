package migrate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var journalEpoch = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testClock() func() time.Time {
	t := journalEpoch
	return func() time.Time { t = t.Add(time.Second); return t }
}

func testHeader() JournalHeader {
	return JournalHeader{JournalVersion: JournalVersion, PlanSHA256: "aaaa", Lineage: "lin-1", ToolVersion: "test"}
}

func TestJournalAppendAndReplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plan.json.journal")
	j, err := OpenJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatal(err)
	}
	step := accountGroupStepID("ag:data-eng")
	if _, err := j.Append(Record{Step: step, Kind: KindEnsureAccountGroup, Group: "data-eng", State: StateStarted}); err != nil {
		t.Fatal(err)
	}
	r, err := j.Append(Record{Step: step, Kind: KindEnsureAccountGroup, Group: "data-eng", State: StateDone, Detail: &Detail{AccountGroupID: "77", Created: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 2 || !r.Time.Equal(journalEpoch.Add(2*time.Second)) {
		t.Fatalf("stamped record = seq %d time %v, want 2 and epoch+2s", r.Seq, r.Time)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record{Step: "x", State: StateDone}); err == nil {
		t.Fatal("append after Close succeeded")
	}

	// The file is JSON Lines: a header, then one record per line.
	data, err := os.ReadFile(JournalPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("journal has %d lines, want 3:\n%s", len(lines), data)
	}
	wantHeader := `{"journal_version":1,"plan_sha256":"aaaa","lineage":"lin-1","tool_version":"test"}`
	if lines[0] != wantHeader {
		t.Errorf("header line = %s, want %s", lines[0], wantHeader)
	}
	wantDone := `{"seq":2,"time":"2026-11-24T12:00:02Z","step":"ensure-account-group/ag:data-eng","kind":"ensure-account-group","group":"data-eng","state":"done","detail":{"account_group_id":"77","created":true}}`
	if lines[2] != wantDone {
		t.Errorf("record line = %s, want %s", lines[2], wantDone)
	}
	if fi, err := os.Stat(JournalPath(dir)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	// Reopening replays and continues the sequence.
	j2, err := OpenJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if got := j2.Len(); got != 2 {
		t.Fatalf("replayed %d records, want 2", got)
	}
	r3, err := j2.Append(Record{Step: "rename-local/1/2", Kind: KindRenameLocal, State: StateStarted})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Seq != 3 {
		t.Errorf("seq after reopen = %d, want 3", r3.Seq)
	}
	v := Replay(j2.Records())[step]
	if v.State != StateDone || v.Detail.AccountGroupID != "77" || !v.Detail.Created {
		t.Errorf("replayed view = %+v", v)
	}
}

func TestJournalTornLastLine(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record{Step: "a", Kind: KindRenameLocal, State: StateDone}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	good, _ := os.ReadFile(JournalPath(dir))
	torn := `{"seq":2,"time":"2026-11-24T12:00:0`
	f, _ := os.OpenFile(JournalPath(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(torn)
	f.Close()

	// status reads it without repairing.
	if _, recs, err := ReadJournal(dir); err != nil || len(recs) != 1 {
		t.Fatalf("ReadJournal = %d records, %v; want 1, nil", len(recs), err)
	}
	j2, err := OpenJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatalf("open with torn tail: %v", err)
	}
	defer j2.Close()
	if j2.Len() != 1 {
		t.Errorf("records after repair = %d, want 1", j2.Len())
	}
	now, _ := os.ReadFile(JournalPath(dir))
	if !bytes.Equal(now, good) {
		t.Errorf("journal after repair:\n%s\nwant:\n%s", now, good)
	}
	saved, err := os.ReadFile(filepath.Join(dir, corruptFileName))
	if err != nil || string(saved) != torn+"\n" {
		t.Errorf("journal.corrupt = %q, %v; want the torn line", saved, err)
	}
	r, err := j2.Append(Record{Step: "b", State: StateStarted})
	if err != nil || r.Seq != 2 {
		t.Errorf("append after repair = seq %d, %v; want 2", r.Seq, err)
	}
}

func TestJournalTornHeaderStartsOver(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(JournalPath(dir), []byte(`{"journal_ver`), 0o600)
	j, err := OpenJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if h := j.Header(); h.PlanSHA256 != "aaaa" {
		t.Errorf("header = %+v", h)
	}
	if _, _, err := ReadJournal(dir); err != nil {
		t.Errorf("ReadJournal after rewrite: %v", err)
	}
}

func TestJournalRejectsOtherPlan(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, testHeader(), testClock())
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	other := testHeader()
	other.PlanSHA256 = "bbbb"
	_, err = OpenJournal(dir, other, testClock())
	if !errors.Is(err, ErrJournalMismatch) {
		t.Fatalf("err = %v, want ErrJournalMismatch", err)
	}
	for _, want := range []string{"aaaa", "bbbb", "--journal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestJournalCorruptMiddleLine(t *testing.T) {
	dir := t.TempDir()
	content := `{"journal_version":1,"plan_sha256":"aaaa","lineage":"l","tool_version":"t"}` + "\n" +
		"garbage\n" +
		`{"seq":2,"time":"2026-11-24T12:00:00Z","step":"a","kind":"verify","state":"done"}` + "\n"
	os.WriteFile(JournalPath(dir), []byte(content), 0o600)
	_, err := OpenJournal(dir, testHeader(), testClock())
	if err == nil || !strings.Contains(err.Error(), "line 2 is corrupt") {
		t.Fatalf("err = %v, want line 2 is corrupt", err)
	}
	after, _ := os.ReadFile(JournalPath(dir))
	if string(after) != content {
		t.Error("a refused journal was modified")
	}
}

func TestReadJournalMissing(t *testing.T) {
	_, _, err := ReadJournal(t.TempDir())
	if !errors.Is(err, ErrNoJournal) {
		t.Fatalf("err = %v, want ErrNoJournal", err)
	}
}

func TestReplayUndoAndRedo(t *testing.T) {
	step := groupStepID(KindRenameLocal, 1, "10")
	recs := []Record{
		{Seq: 1, Step: step, Kind: KindRenameLocal, State: StateStarted, Detail: &Detail{PreviousName: "eng", NewName: "db-temp-eng"}},
		{Seq: 2, Step: step, Kind: KindRenameLocal, State: StateDone},
		{Seq: 3, Step: UndoStepID(step), Kind: KindRenameLocal, State: StateStarted},
	}
	v := Replay(recs)[step]
	if v.State != StateDone || v.Undone || v.Detail.PreviousName != "eng" {
		t.Fatalf("before undo done: %+v", v)
	}
	recs = append(recs, Record{Seq: 4, Step: UndoStepID(step), Kind: KindRenameLocal, State: StateDone})
	v = Replay(recs)[step]
	if v.State != "" || !v.Undone {
		t.Fatalf("after undo: %+v, want pending and undone", v)
	}
	recs = append(recs,
		Record{Seq: 5, Step: step, Kind: KindRenameLocal, State: StateFailed, Error: "boom"},
	)
	v = Replay(recs)[step]
	if v.State != StateFailed || v.Undone || v.Error != "boom" || v.Detail.PreviousName != "" {
		t.Fatalf("after redo: %+v", v)
	}
}
