package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testClock() func() time.Time {
	var mu sync.Mutex
	t := epoch
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

// migrateRecord is "dbiam migrate"'s record payload as it is on disk in
// version 1: the fields next to the envelope. It shows that migrate's
// journal maps onto this package.
type migrateRecord struct {
	Kind        string         `json:"kind,omitempty"`
	WorkspaceID int64          `json:"workspace_id,omitempty"`
	Group       string         `json:"group,omitempty"`
	Detail      *migrateDetail `json:"detail,omitempty"`
}

type migrateDetail struct {
	AccountGroupID string `json:"account_group_id,omitempty"`
	Created        bool   `json:"created,omitempty"`
	PreviousName   string `json:"previous_name,omitempty"`
}

func mergeMigrate(dst *migrateRecord, src migrateRecord) {
	if src.Kind != "" {
		dst.Kind = src.Kind
	}
	if src.WorkspaceID != 0 {
		dst.WorkspaceID = src.WorkspaceID
	}
	if src.Group != "" {
		dst.Group = src.Group
	}
	if src.Detail != nil {
		if dst.Detail == nil {
			dst.Detail = &migrateDetail{}
		}
		d := *dst.Detail
		if src.Detail.AccountGroupID != "" {
			d.AccountGroupID = src.Detail.AccountGroupID
		}
		if src.Detail.Created {
			d.Created = true
		}
		if src.Detail.PreviousName != "" {
			d.PreviousName = src.Detail.PreviousName
		}
		dst.Detail = &d
	}
}

// payload is a small handover-like payload.
type payload struct {
	Object string `json:"object,omitempty"`
	Before string `json:"before,omitempty"`
}

func header() Header {
	return Header{Kind: "handover", PlanSHA256: "aaaa", Lineage: "lin-1", ToolVersion: "test"}
}

func lines(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestAppendWritesChainedLinesAndReplays(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plan.json.journal")
	j, err := Open[payload](dir, header(), Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record[payload]{Step: "job/1/owner", State: Started, Data: payload{Object: "1", Before: "elena"}}); err != nil {
		t.Fatal(err)
	}
	r, err := j.Append(Record[payload]{Step: "job/1/owner", State: Done})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 2 || !r.Time.Equal(epoch.Add(2*time.Second)) {
		t.Fatalf("stamped record = seq %d time %v, want 2 and epoch+2s", r.Seq, r.Time)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record[payload]{Step: "x", State: Done}); err == nil {
		t.Fatal("append after Close succeeded")
	}

	ls := lines(t, dir)
	if len(ls) != 3 {
		t.Fatalf("journal has %d lines, want 3:\n%s", len(ls), strings.Join(ls, "\n"))
	}
	if want := `{"journal_version":2,"kind":"handover","plan_sha256":"aaaa","lineage":"lin-1","tool_version":"test"}`; ls[0] != want {
		t.Errorf("header line = %s, want %s", ls[0], want)
	}
	want1 := fmt.Sprintf(`{"seq":1,"prev":"%s","time":"2026-11-24T12:00:01Z","step":"job/1/owner","state":"started","object":"1","before":"elena"}`, lineHash([]byte(ls[0])))
	if ls[1] != want1 {
		t.Errorf("record 1 = %s, want %s", ls[1], want1)
	}
	want2 := fmt.Sprintf(`{"seq":2,"prev":"%s","time":"2026-11-24T12:00:02Z","step":"job/1/owner","state":"done"}`, lineHash([]byte(ls[1])))
	if ls[2] != want2 {
		t.Errorf("record 2 = %s, want %s", ls[2], want2)
	}
	for _, p := range []string{Path(dir)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v (%v), want 0600", p, fi.Mode().Perm(), err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("journal directory mode = %v (%v), want 0700", fi.Mode().Perm(), err)
	}

	// Reopening replays and continues the sequence and the chain.
	j2, err := Open[payload](dir, header(), Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if j2.Len() != 2 {
		t.Fatalf("replayed %d records, want 2", j2.Len())
	}
	r3, err := j2.Append(Record[payload]{Step: "job/2/owner", State: Started})
	if err != nil || r3.Seq != 3 || r3.Prev != lineHash([]byte(ls[2])) {
		t.Fatalf("append after reopen = seq %d prev %s, %v; want 3 chained to line 3", r3.Seq, r3.Prev, err)
	}
	v := Replay(j2.Records(), nil)["job/1/owner"]
	if v.State != Done || v.Seq != 2 {
		t.Errorf("replayed view = %+v", v)
	}
	h, recs, err := Read[payload](dir)
	if err != nil || h.Kind != "handover" || len(recs) != 3 || recs[0].Data.Before != "elena" {
		t.Errorf("Read = %+v, %d records, %v", h, len(recs), err)
	}
}

// TestMigrateVersion1Journal: a journal that "dbiam migrate" wrote before
// this package (version 1, its exact bytes) is read, resumed and appended
// to in version 1, with its payload fields intact.
func TestMigrateVersion1Journal(t *testing.T) {
	dir := t.TempDir()
	v1 := `{"journal_version":1,"plan_sha256":"aaaa","lineage":"lin-1","tool_version":"test"}` + "\n" +
		`{"seq":1,"time":"2026-11-24T12:00:01Z","step":"ensure-account-group/ag:data-eng","kind":"ensure-account-group","group":"data-eng","state":"started"}` + "\n" +
		`{"seq":2,"time":"2026-11-24T12:00:02Z","step":"ensure-account-group/ag:data-eng","kind":"ensure-account-group","group":"data-eng","state":"done","detail":{"account_group_id":"77","created":true}}` + "\n"
	if err := os.WriteFile(Path(dir), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	want := Header{Kind: "migrate", PlanSHA256: "aaaa", Lineage: "lin-1", ToolVersion: "test"}
	j, err := Open[migrateRecord](dir, want, Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	if h := j.Header(); h.Version != Version1 {
		t.Errorf("header version = %d, want 1 (a journal keeps its version)", h.Version)
	}
	v := Replay(j.Records(), mergeMigrate)["ensure-account-group/ag:data-eng"]
	if v.State != Done || v.Data.Kind != "ensure-account-group" || v.Data.Group != "data-eng" || v.Data.Detail == nil || v.Data.Detail.AccountGroupID != "77" || !v.Data.Detail.Created {
		t.Fatalf("replayed view = %+v (detail %+v)", v, v.Data.Detail)
	}
	r, err := j.Append(Record[migrateRecord]{Step: "rename-local/1/2", State: Started, Data: migrateRecord{Kind: "rename-local", WorkspaceID: 1, Detail: &migrateDetail{PreviousName: "eng"}}})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if r.Seq != 3 || r.Prev != "" {
		t.Errorf("appended seq %d prev %q, want 3 and no prev in version 1", r.Seq, r.Prev)
	}
	ls := lines(t, dir)
	if want := `{"seq":3,"time":"2026-11-24T12:00:01Z","step":"rename-local/1/2","state":"started","kind":"rename-local","workspace_id":1,"detail":{"previous_name":"eng"}}`; ls[3] != want {
		t.Errorf("appended line = %s, want %s", ls[3], want)
	}
	if _, recs, err := Read[migrateRecord](dir); err != nil || len(recs) != 3 {
		t.Errorf("Read after append = %d records, %v", len(recs), err)
	}
}

func TestTornLastLineIsCutAndKept(t *testing.T) {
	dir := t.TempDir()
	j, err := Open[payload](dir, header(), Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(Record[payload]{Step: "a", State: Done}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	good, _ := os.ReadFile(Path(dir))
	torn := `{"seq":2,"prev":"ab","time":"2026-11-24T12:00:0`
	f, _ := os.OpenFile(Path(dir), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(torn)
	f.Close()

	if _, recs, err := Read[payload](dir); err != nil || len(recs) != 1 {
		t.Fatalf("Read = %d records, %v; want 1, nil", len(recs), err)
	}
	if now, _ := os.ReadFile(Path(dir)); !bytes.Equal(now, append(good, torn...)) {
		t.Error("Read changed the journal")
	}
	j2, err := Open[payload](dir, header(), Options{Now: testClock()})
	if err != nil {
		t.Fatalf("open with torn tail: %v", err)
	}
	defer j2.Close()
	if now, _ := os.ReadFile(Path(dir)); !bytes.Equal(now, good) {
		t.Errorf("journal after repair:\n%s\nwant:\n%s", now, good)
	}
	saved, err := os.ReadFile(filepath.Join(dir, CorruptFileName))
	if err != nil || string(saved) != torn+"\n" {
		t.Errorf("journal.corrupt = %q, %v; want the torn line", saved, err)
	}
	if r, err := j2.Append(Record[payload]{Step: "b", State: Started}); err != nil || r.Seq != 2 {
		t.Errorf("append after repair = seq %d, %v; want 2", r.Seq, err)
	}
	if _, recs, err := Read[payload](dir); err != nil || len(recs) != 2 {
		t.Errorf("chain after repair: %d records, %v", len(recs), err)
	}
}

func TestTornHeaderStartsOver(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(Path(dir), []byte(`{"journal_ver`), 0o600)
	j, err := Open[payload](dir, header(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if h := j.Header(); h.PlanSHA256 != "aaaa" || h.Version != Version {
		t.Errorf("header = %+v", h)
	}
	if _, _, err := Read[payload](dir); err != nil {
		t.Errorf("Read after rewrite: %v", err)
	}
}

func TestOpenRefusesOtherPlanOrCommand(t *testing.T) {
	dir := t.TempDir()
	j, err := Open[payload](dir, header(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	before, _ := os.ReadFile(Path(dir))
	other := header()
	other.PlanSHA256 = "bbbb"
	_, err = Open[payload](dir, other, Options{})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("err = %v, want ErrMismatch", err)
	}
	for _, want := range []string{"aaaa", "bbbb", "journal directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	mig := header()
	mig.Kind = "migrate"
	if _, err := Open[payload](dir, mig, Options{}); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "written by dbiam handover, not dbiam migrate") {
		t.Fatalf("other kind: %v", err)
	}
	if after, _ := os.ReadFile(Path(dir)); !bytes.Equal(before, after) {
		t.Error("a refused journal was modified")
	}
}

func TestOpenRefusesUnknownVersion(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(Path(dir), []byte(`{"journal_version":3,"plan_sha256":"aaaa","lineage":"l","tool_version":"t"}`+"\n"), 0o600)
	_, err := Open[payload](dir, header(), Options{})
	if err == nil || !strings.Contains(err.Error(), "journal version 3 is not supported") {
		t.Fatalf("err = %v", err)
	}
}

// chained writes a version 2 journal of n records and returns its lines.
func chained(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	j, err := Open[payload](dir, header(), Options{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := j.Append(Record[payload]{Step: fmt.Sprintf("s%d", i), State: Done, Data: payload{Object: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	return dir, lines(t, dir)
}

// TestChainDetectsTampering: a record deleted, duplicated, moved or changed
// anywhere but at the end is an error naming the line where the chain
// breaks; Open leaves such a journal as it was.
func TestChainDetectsTampering(t *testing.T) {
	_, ls := chained(t, 5) // header + 5 records: lines 1..6
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"deleted", append(append([]string{}, ls[:3]...), ls[4:]...), "line 4 has sequence number 4 where 3 was expected"},
		{"duplicated", append(append([]string{}, ls[:4]...), ls[3:]...), "line 5 repeats sequence number 3 (expected 4)"},
		{"reordered", []string{ls[0], ls[1], ls[3], ls[2], ls[4], ls[5]}, "line 3 has sequence number 3 where 2 was expected"},
		{"changed", []string{ls[0], ls[1], strings.Replace(ls[2], `"object":"1"`, `"object":"9"`, 1), ls[3], ls[4], ls[5]}, "line 4 does not follow line 3"},
		{"header changed", append([]string{strings.Replace(ls[0], "lin-1", "lin-2", 1)}, ls[1:]...), "line 2 does not follow line 1"},
		{"duplicate at end", append(append([]string{}, ls...), ls[5]), "line 7 repeats sequence number 5 (expected 6)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := strings.Join(tc.lines, "\n") + "\n"
			os.WriteFile(Path(dir), []byte(content), 0o600)
			_, _, err := Read[payload](dir)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read: %v; want ErrCorrupt naming %q", err, tc.want)
			}
			h := header()
			if tc.name == "header changed" {
				h.Lineage = "lin-2"
			}
			if _, err := Open[payload](dir, h, Options{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v; want ErrCorrupt", err)
			}
			if after, _ := os.ReadFile(Path(dir)); string(after) != content {
				t.Error("a refused journal was modified")
			}
		})
	}
}

func TestCorruptMiddleLine(t *testing.T) {
	_, ls := chained(t, 2)
	dir := t.TempDir()
	content := ls[0] + "\ngarbage\n" + ls[2] + "\n"
	os.WriteFile(Path(dir), []byte(content), 0o600)
	_, err := Open[payload](dir, header(), Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 2 is corrupt") {
		t.Fatalf("err = %v, want line 2 is corrupt", err)
	}
	// A field neither the envelope nor the payload knows is damage too.
	content = ls[0] + "\n" + strings.Replace(ls[1], `"object"`, `"objet"`, 1) + "\n" + ls[2] + "\n"
	os.WriteFile(Path(dir), []byte(content), 0o600)
	if _, _, err := Read[payload](dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 2 is corrupt") {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestReadMissing(t *testing.T) {
	if _, _, err := Read[payload](t.TempDir()); !errors.Is(err, ErrNoJournal) {
		t.Fatalf("err = %v, want ErrNoJournal", err)
	}
}

// TestConcurrentAppends: appends from many goroutines (sharing fsyncs) give
// contiguous sequence numbers and an intact chain.
func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	j, err := Open[payload](dir, header(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := j.Append(Record[payload]{Step: fmt.Sprintf("g%d/%d", g, i), State: Done}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	j.Close()
	_, recs, err := Read[payload](dir)
	if err != nil || len(recs) != 400 {
		t.Fatalf("Read = %d records, %v; want 400", len(recs), err)
	}
}

// TestWriteFailurePoisons: after a failed write no append succeeds, so that
// no remote change can follow an intent that may not be on disk.
func TestWriteFailurePoisons(t *testing.T) {
	dir := t.TempDir()
	j, err := Open[payload](dir, header(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.f.Close() // the next write fails
	if _, err := j.Append(Record[payload]{Step: "a", State: Started}); err == nil {
		t.Fatal("append to a closed file succeeded")
	}
	_, err = j.Append(Record[payload]{Step: "b", State: Started})
	if err == nil || !strings.Contains(err.Error(), "an earlier write failed") {
		t.Fatalf("second append: %v", err)
	}
}

func TestReplayUndoAndRedo(t *testing.T) {
	recs := []Record[payload]{
		{Seq: 1, Step: "s", State: Started, Data: payload{Before: "eng"}},
		{Seq: 2, Step: "s", State: Done},
		{Seq: 3, Step: UndoID("s"), State: Started},
	}
	merge := func(dst *payload, src payload) {
		if src.Before != "" {
			dst.Before = src.Before
		}
	}
	v := Replay(recs, merge)["s"]
	if v.State != Done || v.Undone || v.Data.Before != "eng" {
		t.Fatalf("before undo done: %+v", v)
	}
	recs = append(recs, Record[payload]{Seq: 4, Step: UndoID("s"), State: Done})
	views := Replay(recs, merge)
	if v := views["s"]; v.State != "" || !v.Undone || v.Data.Before != "" {
		t.Fatalf("after undo: %+v, want pending and undone", v)
	}
	recs = append(recs, Record[payload]{Seq: 5, Step: "s", State: Failed, Error: "boom"})
	views = Replay(recs, merge)
	if v := views["s"]; v.State != Failed || v.Undone || v.Error != "boom" {
		t.Fatalf("after redo: %+v", v)
	}
	if u := views[UndoID("s")]; u.State != "" {
		t.Fatalf("undo after redo: %+v, want pending", u)
	}
	if orig, ok := UndoneStep(UndoID("s")); !ok || orig != "s" {
		t.Errorf("UndoneStep = %q, %v", orig, ok)
	}
}

func TestSavePlan(t *testing.T) {
	dir := t.TempDir()
	raw := []byte(`{"plan":1}`)
	if err := SavePlan(dir, raw); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(PlanPath(dir))
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("plan copy = %q, %v", got, err)
	}
	if fi, _ := os.Stat(PlanPath(dir)); fi.Mode().Perm() != 0o600 {
		t.Errorf("plan copy mode = %v", fi.Mode().Perm())
	}
	if got := SHA256(raw); got != "4c8d160f557bad43dc6f9f118ee0a5ce4ea9bd11b125287e4ab962350bd73cae" {
		t.Errorf("SHA256 = %s", got)
	}
}

// TestAppendIsDurableOnReturn: Append returns only once a sync covering
// its line has run (the hook sees the file at least as long as it is when
// Append returns).
func TestAppendIsDurableOnReturn(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	synced := int64(0)
	j, err := Open[payload](dir, header(), Options{Sync: func(f *os.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		mu.Lock()
		synced = max(synced, fi.Size())
		mu.Unlock()
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range 5 {
		if _, err := j.Append(Record[payload]{Step: fmt.Sprint("s", i), State: Started}); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(Path(dir))
		mu.Lock()
		if synced < fi.Size() {
			t.Errorf("append %d returned with %d of %d bytes synced", i, synced, fi.Size())
		}
		mu.Unlock()
	}
}

// TestConcurrentAppendsShareSyncs: appends that arrive while a sync runs
// wait for the next one, which covers them all (group commit): 16 appends,
// 2 syncs.
func TestConcurrentAppendsShareSyncs(t *testing.T) {
	dir := t.TempDir()
	var (
		mu      sync.Mutex
		syncs   int
		release = make(chan struct{})
		first   = make(chan struct{})
	)
	j, err := Open[payload](dir, header(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = Open[payload](dir, header(), Options{Sync: func(f *os.File) error {
		mu.Lock()
		syncs++
		n := syncs
		mu.Unlock()
		if n == 1 {
			close(first)
			<-release // the first sync is slow
		}
		return f.Sync()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var wg sync.WaitGroup
	returned := make(chan struct{})
	wg.Go(func() {
		defer close(returned)
		if _, err := j.Append(Record[payload]{Step: "first", State: Started}); err != nil {
			t.Error(err)
		}
	})
	select {
	case <-first:
	case <-returned:
		t.Fatal("Append returned without a sync")
	}
	for i := range 15 {
		wg.Go(func() {
			if _, err := j.Append(Record[payload]{Step: fmt.Sprint("g", i), State: Started}); err != nil {
				t.Error(err)
			}
		})
	}
	for j.Len() < 16 { // every line written, waiting for a sync
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if syncs != 2 {
		t.Errorf("%d syncs for 16 appends, want 2 (the slow one, then one for the 15 written meanwhile)", syncs)
	}
}

// TestOpenSyncsNewDirectories: each directory Open creates is made durable
// in its parent, and the journal's entry in its directory.
func TestOpenSyncsNewDirectories(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "h.json.journal")
	var synced []string
	j, err := Open[payload](dir, header(), Options{SyncDir: func(d string) error {
		synced = append(synced, d)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	want := []string{root, filepath.Join(root, "a"), dir}
	if !slices.Equal(synced, want) {
		t.Errorf("synced directories %v, want %v", synced, want)
	}
}
