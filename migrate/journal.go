package migrate

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dbiam/dbiam/journal"
)

// This file is migrate's use of package journal, where durability lives:
// the payload migrate writes on each journal line, how step views fold
// it, and the messages that point to the repair path (adopt).

// JournalKind names migrate journals (journal.Header.Kind). Journals of
// version 1, written before package journal, carry no kind.
const JournalKind = "migrate"

// Payload is what migrate writes on a journal line besides the envelope
// (seq, prev, time, step, state, error): the step's kind, the workspace
// and group it belongs to, and its detail. The field names are those of
// migrate's version 1 journals, which are read and appended to as they are.
type Payload struct {
	Kind        StepKind `json:"kind"`
	WorkspaceID int64    `json:"workspace_id,omitempty"`
	Group       string   `json:"group,omitempty"`
	Detail      *Detail  `json:"detail,omitempty"`
}

// Record is one line of a migrate journal: one step transition.
type Record = journal.Record[Payload]

// StepState is the state a journal record moves a step to.
type StepState = journal.State

// Step states. A step is pending while it has no record.
const (
	StateStarted = journal.Started
	StateDone    = journal.Done
	StateFailed  = journal.Failed
	StateSkipped = journal.Skipped
)

// Detail is the step-specific part of a record: what a later run needs to
// resume or undo the step (the id of an account group dbiam created, the
// name a group had before it was renamed, the entitlements dbiam added).
// A started record with it is on disk (fsync'ed) before the remote change
// it announces is sent. Only the fields that matter for a step are set.
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
	// replies that moved something (each recorded before the next call is
	// sent, or with the step's outcome).
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
	// Adopted is set on the records "migrate adopt" wrote: what they say
	// was read from the live state, not recorded as it happened.
	Adopted bool `json:"adopted,omitempty"`
	// Unknown is set by "migrate adopt" on a step whose effect it found
	// in the live state but could not attribute (what a reused account
	// group held before apply): it says what, and rollback refuses to undo
	// the step's group rather than restore it in part.
	Unknown string `json:"unknown,omitempty"`
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

// DefaultJournalDir returns the journal directory used when --journal is
// not given: "<plan>.journal" next to the plan file.
func DefaultJournalDir(planPath string) string { return journal.DefaultDir(planPath) }

// beforeAppend, if set, runs before a record with sequence number seq is
// written. Tests use it to kill or cancel a run at an exact point.
var beforeAppend func(seq int64)

// journalOptions are the options migrate opens journals with.
func journalOptions(now func() time.Time) journal.Options {
	return journal.Options{Now: now, BeforeAppend: func(seq int64) {
		if beforeAppend != nil {
			beforeAppend(seq)
		}
	}}
}

// journalHeader is the header of a new journal for the plan with these
// bytes.
func journalHeader(p *Plan, raw []byte, toolVersion string) journal.Header {
	return journal.Header{Kind: JournalKind, PlanSHA256: journal.SHA256(raw), Lineage: p.Lineage, ToolVersion: toolVersion}
}

// openJournal opens the journal in dir for appending (see journal.Open),
// with the repair path in the message of a damaged one.
func openJournal(dir string, h journal.Header, now func() time.Time) (*journal.Journal[Payload], error) {
	j, err := journal.Open[Payload](dir, h, journalOptions(now))
	return j, withRepairHint(err, dir)
}

// ReadJournal reads the journal in dir without changing it (a torn last
// line is ignored, not cut) and checks its sequence numbers and hash
// chain: a record deleted, duplicated, moved or edited is an error naming
// the line, which says how to rebuild the journal ("dbiam migrate adopt").
// It takes no lock. A directory without a journal gives an error matching
// journal.ErrNoJournal.
func ReadJournal(dir string) (journal.Header, []Record, error) {
	h, recs, err := journal.Read[Payload](dir)
	return h, recs, withRepairHint(err, dir)
}

// adoptHint says how to rebuild a journal that is damaged or lost.
func adoptHint(dir string) string {
	return fmt.Sprintf("rebuild it from the plan and the live state with \"dbiam migrate adopt --journal NEW_DIR PLAN\" (PLAN: the plan apply ran, e.g. the copy %s), then pass --journal NEW_DIR to every command; keep %s for the record",
		strconv.Quote(journal.PlanPath(dir)), strconv.Quote(dir))
}

// withRepairHint replaces the advice of a damaged journal's error by the
// repair path: moving the directory aside would leave nothing to roll
// back.
func withRepairHint(err error, dir string) error {
	var ce *journal.CorruptError
	if errors.As(err, &ce) {
		return &corruptJournalError{ce: ce, msg: ce.Describe(adoptHint(dir))}
	}
	return err
}

// corruptJournalError is a *journal.CorruptError with migrate's advice.
type corruptJournalError struct {
	ce  *journal.CorruptError
	msg string
}

func (e *corruptJournalError) Error() string { return e.msg }
func (e *corruptJournalError) Unwrap() error { return e.ce }

// StepView is the replayed state of one step (see journal.View): its last
// state and the merge of its records' details.
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

// UndoStepID returns the step id rollback uses to record the undo of step.
func UndoStepID(step string) string { return journal.UndoID(step) }

// Replay folds records into one StepView per step id, keyed by step id
// (see journal.Replay): an undo record that is done marks its step Undone
// and resets it to pending; a later record of the step (a new apply)
// clears Undone and makes the undo pending again.
func Replay(recs []Record) map[string]*StepView {
	out := map[string]*StepView{}
	for id, v := range journal.Replay(recs, mergePayload) {
		sv := stepView(*v)
		out[id] = &sv
	}
	return out
}

// stepView converts a journal view.
func stepView(v journal.View[Payload]) StepView {
	sv := StepView{Step: v.Step, Kind: v.Data.Kind, WorkspaceID: v.Data.WorkspaceID, Group: v.Data.Group,
		State: v.State, Error: v.Error, Undone: v.Undone, Seq: v.Seq}
	if v.Data.Detail != nil {
		sv.Detail = *v.Data.Detail
	}
	return sv
}

// mergePayload folds a record's payload src into a view's dst: the
// identifying fields it sets, and the non-zero fields of its detail.
func mergePayload(dst *Payload, src Payload) {
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
		var d Detail
		if dst.Detail != nil {
			d = *dst.Detail
		}
		mergeDetail(&d, src.Detail)
		dst.Detail = &d
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
	if src.Adopted {
		dst.Adopted = true
	}
	if src.Unknown != "" {
		dst.Unknown = src.Unknown
	}
}

// loadJournalPlan reads the journal in dir and the plan copy next to it,
// checking that they belong together.
func loadJournalPlan(dir string) (*Plan, journal.Header, []Record, error) {
	h, recs, err := ReadJournal(dir)
	if err != nil {
		if errors.Is(err, journal.ErrNoJournal) {
			err = fmt.Errorf("%w; if the journal was lost, %s", err, adoptHint(dir))
		}
		return nil, h, nil, err
	}
	path := journal.PlanPath(dir)
	p, raw, err := ReadPlan(path)
	if errors.Is(err, ErrPlanEdited) {
		// A new plan cannot continue this journal: the copy must be the plan apply ran.
		return nil, h, nil, fmt.Errorf("read plan %s: %w: its content does not match its integrity digest (or has none): this is the journal's copy of the plan apply ran, edited since; put back the plan file apply ran as %s (a new plan cannot continue this journal), or %s",
			path, ErrPlanEdited, path, adoptHint(dir))
	}
	if err != nil {
		return nil, h, nil, err
	}
	if sum := journal.SHA256(raw); sum != h.PlanSHA256 {
		return nil, h, nil, fmt.Errorf("read plan %s: %w: journal was written for plan sha256 %s, the copy is %s",
			path, journal.ErrMismatch, journal.Short(h.PlanSHA256), journal.Short(sum))
	}
	return p, h, recs, nil
}
