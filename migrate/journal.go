package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dbiam/dbiam/reports"
)

// JournalVersion is the journal format version written in the header line.
const JournalVersion = 1

// File names inside a journal directory.
const (
	journalFileName = "journal.jsonl"
	corruptFileName = "journal.corrupt"
)

// ErrJournalMismatch is matched (errors.Is) by the error of [OpenJournal]
// when the journal was written for another plan.
var ErrJournalMismatch = errors.New("journal belongs to another plan")

// ErrNoJournal is matched (errors.Is) when a journal directory holds no
// journal.
var ErrNoJournal = errors.New("no journal")

// JournalHeader is the first line of a journal. PlanSHA256 binds the journal
// to the exact bytes of one plan file.
type JournalHeader struct {
	JournalVersion int    `json:"journal_version"`
	PlanSHA256     string `json:"plan_sha256"`
	Lineage        string `json:"lineage"`
	ToolVersion    string `json:"tool_version"`
}

// StepState is the state a journal record moves a step to.
type StepState string

// Step states. A step is pending while it has no record.
const (
	StateStarted StepState = "started"
	StateDone    StepState = "done"
	StateFailed  StepState = "failed"
	StateSkipped StepState = "skipped"
)

// Record is one line of the journal: one step transition.
//
// Detail carries what a later run needs to resume or undo the step: the id
// of an account group dbiam created, the name a group had before it was
// renamed, the entitlements dbiam added. A record is on disk (fsync'ed)
// before the remote change it announces is made.
type Record struct {
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

// Detail is the step-specific part of a [Record]. Only the fields that
// matter for a step are set.
type Detail struct {
	// AccountGroupID is the account SCIM id of the step's account group.
	AccountGroupID string `json:"account_group_id,omitempty"`
	// Created is true when dbiam created that account group (rollback
	// deletes only those).
	Created bool `json:"created,omitempty"`
	// MembersAdded counts members dbiam added to an account group.
	MembersAdded int `json:"members_added,omitempty"`
	// AddedMemberIDs lists the account ids of members dbiam added by PATCH
	// to an account group it did not create (rollback removes them).
	AddedMemberIDs []string `json:"added_member_ids,omitempty"`
	// PreviousName is a group's name before dbiam renamed it.
	PreviousName string `json:"previous_name,omitempty"`
	// NewName is the name dbiam gave a group.
	NewName string `json:"new_name,omitempty"`
	// Assigned is true when dbiam created the workspace assignment (rollback
	// removes only those).
	Assigned bool `json:"assigned,omitempty"`
	// Entitlements and Roles list the values dbiam added.
	Entitlements []string `json:"entitlements,omitempty"`
	Roles        []string `json:"roles,omitempty"`
	// PermissionsMigrated is the total the permission migration API
	// reported in the replies that arrived; PermissionBatches counts those
	// replies that moved something (each recorded when it arrives).
	PermissionsMigrated int `json:"permissions_migrated,omitempty"`
	PermissionBatches   int `json:"permission_batches,omitempty"`
	// PermissionsAtLeast marks PermissionsMigrated as a lower bound: a call
	// failed part-way (500) or a run stopped between a reply and its record,
	// so some grants moved without a count.
	PermissionsAtLeast bool `json:"permissions_at_least,omitempty"`
	// ObjectGrants lists the object ACL entries the acl-copy route gave the
	// account group, with its level before (rollback restores it).
	ObjectGrants []GrantChange `json:"object_grants,omitempty"`
	// SecretACLs lists the secret scope ACLs dbiam added.
	SecretACLs []SecretACL `json:"secret_acls,omitempty"`
	// WaitedMS is how long wait-visible polled, in milliseconds.
	WaitedMS int64 `json:"waited_ms,omitempty"`
	// Differences lists what verify found wrong.
	Differences []string `json:"differences,omitempty"`
	// Reason says why a step was skipped.
	Reason string `json:"reason,omitempty"`
	// Create says whether ensure-account-group sent a create (POST) that
	// may have landed ([CreateSent], recorded before each POST) or the
	// create was refused with a known outcome ([CreateRefused]: nothing was
	// created, e.g. 409 for a group someone else made after the plan). Only
	// after CreateSent may a later run or rollback take a group with the
	// planned name for one dbiam created.
	Create string `json:"create,omitempty"`
}

// GrantChange is one object ACL entry dbiam set: the group's level on an
// object, and the level it had before ("" for none).
type GrantChange struct {
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	Level      string `json:"level"`
	Previous   string `json:"previous,omitempty"`
}

// Values of [Detail.Create].
const (
	CreateSent    = "sent"
	CreateRefused = "refused"
)

// SecretACL is one secret scope ACL entry.
type SecretACL struct {
	Scope      string `json:"scope"`
	Principal  string `json:"principal"`
	Permission string `json:"permission"`
	// Previous is the principal's permission before dbiam raised it; empty
	// when dbiam added the ACL (rollback deletes it then).
	Previous string `json:"previous,omitempty"`
}

// Journal is an append-only JSON Lines log of step transitions, one
// directory per plan. Every Append is written and fsync'ed before it
// returns, so a record is durable before the remote change that follows it.
//
// A Journal is safe for concurrent use.
type Journal struct {
	mu      sync.Mutex
	dir     string
	f       *os.File
	header  JournalHeader
	seq     int64
	records []Record
	now     func() time.Time
	closed  bool
}

// JournalPath returns the journal file inside dir.
func JournalPath(dir string) string { return filepath.Join(dir, journalFileName) }

// DefaultJournalDir returns the journal directory used when --journal is
// not given: "<plan>.journal" next to the plan file.
func DefaultJournalDir(planPath string) string { return planPath + ".journal" }

// OpenJournal opens the journal in dir for appending, creating dir and the
// journal (with header h) when missing. An existing journal is replayed:
// a torn last line (a crash mid-write) is cut off and kept in
// journal.corrupt; a journal whose plan_sha256 differs from h's is refused
// with an error matching [ErrJournalMismatch]. now stamps records (nil:
// time.Now).
func OpenJournal(dir string, h JournalHeader, now func() time.Time) (*Journal, error) {
	if now == nil {
		now = time.Now
	}
	if h.JournalVersion == 0 {
		h.JournalVersion = JournalVersion
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal directory %s: %w", dir, err)
	}
	path := JournalPath(dir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &Journal{dir: dir, f: f, now: now}
	if err := j.load(h); err != nil {
		_ = f.Close()
		return nil, err
	}
	return j, nil
}

// load replays the file, repairs a torn tail and writes the header of a
// new journal.
func (j *Journal) load(want JournalHeader) error {
	path := JournalPath(j.dir)
	data, err := io.ReadAll(j.f)
	if err != nil {
		return fmt.Errorf("read journal %s: %w", path, err)
	}
	hdr, recs, good, err := parseJournal(path, data)
	if err != nil {
		return err
	}
	if good < int64(len(data)) {
		if err := j.cutTorn(data[good:], good); err != nil {
			return err
		}
	}
	if hdr == nil {
		// New journal (or one whose header line was torn): write the header.
		if err := j.writeLine(want); err != nil {
			return fmt.Errorf("write journal header %s: %w", path, err)
		}
		if err := reports.SyncDir(j.dir); err != nil {
			return fmt.Errorf("sync journal directory %s: %w", j.dir, err)
		}
		j.header = want
		return nil
	}
	if hdr.JournalVersion != JournalVersion {
		return fmt.Errorf("open journal %s: journal version %d is not supported (this dbiam writes version %d); use a new --journal directory", path, hdr.JournalVersion, JournalVersion)
	}
	if hdr.PlanSHA256 != want.PlanSHA256 {
		return fmt.Errorf("open journal %s: %w: it was written for plan sha256 %s, this plan is %s; pass the plan it was made for, or a new --journal directory",
			path, ErrJournalMismatch, short(hdr.PlanSHA256), short(want.PlanSHA256))
	}
	j.header = *hdr
	j.records = recs
	if n := len(recs); n > 0 {
		j.seq = recs[n-1].Seq
	}
	return nil
}

// cutTorn saves the torn tail in journal.corrupt and truncates the journal
// to its last complete line.
func (j *Journal) cutTorn(tail []byte, good int64) error {
	cpath := filepath.Join(j.dir, corruptFileName)
	c, err := os.OpenFile(cpath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("save torn journal line to %s: %w", cpath, err)
	}
	if !bytes.HasSuffix(tail, []byte("\n")) {
		tail = append(tail, '\n')
	}
	_, werr := c.Write(tail)
	serr := c.Sync()
	cerr := c.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("save torn journal line to %s: %w", cpath, err)
	}
	if err := j.f.Truncate(good); err != nil {
		return fmt.Errorf("truncate torn journal line in %s: %w", JournalPath(j.dir), err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", JournalPath(j.dir), err)
	}
	return nil
}

// parseJournal decodes a journal's bytes. It returns the header (nil when
// there is no complete header line), the records, and the length of the
// prefix made of complete, valid lines. Only the last line may be invalid
// (torn); an invalid line before it is an error.
func parseJournal(path string, data []byte) (*JournalHeader, []Record, int64, error) {
	var (
		hdr  *JournalHeader
		recs []Record
		off  int64
		line int
	)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // no newline: torn
		}
		raw := data[:i]
		line++
		last := i+1 == len(data)
		if hdr == nil {
			var h JournalHeader
			if err := strictUnmarshal(raw, &h); err != nil || h.JournalVersion == 0 {
				if last {
					break
				}
				return nil, nil, 0, fmt.Errorf("read journal %s: line 1 is not a journal header; move the directory aside or pass another --journal", path)
			}
			hdr = &h
		} else {
			var r Record
			if err := strictUnmarshal(raw, &r); err != nil || r.Step == "" || r.State == "" {
				if last {
					break
				}
				if err == nil {
					err = errors.New("missing step or state")
				}
				return nil, nil, 0, fmt.Errorf("read journal %s: line %d is corrupt (%v) and is not the last line; move the directory aside or pass another --journal", path, line, err)
			}
			recs = append(recs, r)
		}
		off += int64(i + 1)
		data = data[i+1:]
	}
	return hdr, recs, off, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// ReadJournal reads the journal in dir without changing it (a torn last
// line is ignored, not cut). It is what status uses; it takes no lock.
// A directory without a journal gives an error matching [ErrNoJournal].
func ReadJournal(dir string) (JournalHeader, []Record, error) {
	path := JournalPath(dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return JournalHeader{}, nil, fmt.Errorf("read journal %s: %w: pass the --journal directory apply used", path, ErrNoJournal)
	}
	if err != nil {
		return JournalHeader{}, nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	hdr, recs, _, err := parseJournal(path, data)
	if err != nil {
		return JournalHeader{}, nil, err
	}
	if hdr == nil {
		return JournalHeader{}, nil, fmt.Errorf("read journal %s: %w: the file has no header", path, ErrNoJournal)
	}
	return *hdr, recs, nil
}

// Header returns the journal's header.
func (j *Journal) Header() JournalHeader {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.header
}

// Dir returns the journal directory.
func (j *Journal) Dir() string { return j.dir }

// beforeAppend, if set, runs before a record with sequence number seq is
// written. Tests use it to kill or cancel a run at an exact point.
var beforeAppend func(seq int64)

// Append stamps r with the next sequence number and the current time,
// writes it as one line and fsyncs the file before returning the stamped
// record.
func (j *Journal) Append(r Record) (Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return r, fmt.Errorf("append to journal %s: journal is closed", JournalPath(j.dir))
	}
	r.Seq = j.seq + 1
	if beforeAppend != nil {
		beforeAppend(r.Seq)
	}
	r.Time = j.now().UTC()
	if err := j.writeLine(r); err != nil {
		return r, fmt.Errorf("append to journal %s: %w", JournalPath(j.dir), err)
	}
	j.seq = r.Seq
	j.records = append(j.records, r)
	return r, nil
}

// writeLine writes v as one JSON line with a single write call, then
// fsyncs. The caller holds j.mu (or owns j exclusively).
func (j *Journal) writeLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := j.f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	if _, err := j.f.Write(b); err != nil {
		return err
	}
	return j.f.Sync()
}

// Records returns a copy of every record, oldest first.
func (j *Journal) Records() []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Record(nil), j.records...)
}

// Len returns the number of records.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.records)
}

// Close closes the journal file. Appending after Close is an error.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	return j.f.Close()
}

// StepView is the replayed state of one step.
type StepView struct {
	Step        string
	Kind        StepKind
	WorkspaceID int64
	Group       string
	// State is the step's last state; empty means pending.
	State StepState
	// Error is the error of the last failed record.
	Error string
	// Detail merges the details of the step's records in order (later
	// fields win), so a done record's detail completes its started one.
	Detail Detail
	// Undone is true when rollback reversed the step and nothing redid it.
	Undone bool
	// Seq is the sequence number of the last record.
	Seq int64
}

// undoPrefix marks the step ids of rollback records: the undo of step X has
// step id "undo:X".
const undoPrefix = "undo:"

// UndoStepID returns the step id rollback uses to record the undo of step.
func UndoStepID(step string) string { return undoPrefix + step }

// Replay folds records into one StepView per step id, keyed by step id.
// An undo record that is done marks its step Undone and resets it to
// pending; a later record of the step (a new apply) clears Undone and
// makes the undo pending again.
func Replay(recs []Record) map[string]*StepView {
	views := make(map[string]*StepView)
	for _, r := range recs {
		fold(views, r)
	}
	return views
}

// fold applies one record to views.
func fold(views map[string]*StepView, r Record) {
	get := func(id string) *StepView {
		v := views[id]
		if v == nil {
			v = &StepView{Step: id}
			views[id] = v
		}
		return v
	}
	v := get(r.Step)
	v.Kind, v.WorkspaceID, v.Group, v.Seq = r.Kind, r.WorkspaceID, r.Group, r.Seq
	orig, isUndo := strings.CutPrefix(r.Step, undoPrefix)
	if !isUndo {
		if v.Undone {
			// The step runs again after a rollback: start from scratch.
			v.Undone = false
			v.Detail = Detail{}
		}
		if u := views[undoPrefix+r.Step]; u != nil && u.State != "" {
			u.State, u.Error, u.Detail = "", "", Detail{}
		}
	}
	v.State = r.State
	if r.State == StateFailed {
		v.Error = r.Error
	} else {
		v.Error = ""
	}
	if r.Detail != nil {
		mergeDetail(&v.Detail, r.Detail)
	}
	if isUndo && r.State == StateDone {
		o := get(orig)
		o.Undone = true
		o.State = ""
		o.Error = ""
		o.Detail = Detail{}
	}
}

// mergeDetail copies the non-zero fields of src into dst.
func mergeDetail(dst, src *Detail) {
	if src.AccountGroupID != "" {
		dst.AccountGroupID = src.AccountGroupID
	}
	if src.Created {
		dst.Created = true
	}
	if src.MembersAdded != 0 {
		dst.MembersAdded = src.MembersAdded
	}
	if src.AddedMemberIDs != nil {
		dst.AddedMemberIDs = src.AddedMemberIDs
	}
	if src.PreviousName != "" {
		dst.PreviousName = src.PreviousName
	}
	if src.NewName != "" {
		dst.NewName = src.NewName
	}
	if src.Assigned {
		dst.Assigned = true
	}
	if src.Entitlements != nil {
		dst.Entitlements = src.Entitlements
	}
	if src.Roles != nil {
		dst.Roles = src.Roles
	}
	if src.PermissionsMigrated != 0 {
		dst.PermissionsMigrated = src.PermissionsMigrated
	}
	if src.PermissionBatches != 0 {
		dst.PermissionBatches = src.PermissionBatches
	}
	if src.PermissionsAtLeast {
		dst.PermissionsAtLeast = true
	}
	if src.ObjectGrants != nil {
		dst.ObjectGrants = src.ObjectGrants
	}
	if src.SecretACLs != nil {
		dst.SecretACLs = src.SecretACLs
	}
	if src.WaitedMS != 0 {
		dst.WaitedMS = src.WaitedMS
	}
	if src.Differences != nil {
		dst.Differences = src.Differences
	}
	if src.Reason != "" {
		dst.Reason = src.Reason
	}
	if src.Create != "" {
		dst.Create = src.Create
	}
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
