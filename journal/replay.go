package journal

import "strings"

// undoPrefix marks the step ids of undo records: the undo of step X has
// step id "undo:X".
const undoPrefix = "undo:"

// UndoID returns the step id that records the undo of step.
func UndoID(step string) string { return undoPrefix + step }

// UndoneStep returns the step an undo step id undoes, and whether id is
// one.
func UndoneStep(id string) (string, bool) { return strings.CutPrefix(id, undoPrefix) }

// View is the replayed state of one step.
type View[P any] struct {
	Step string
	// State is the step's last state; empty means pending.
	State State
	// Error is the error of the last failed record.
	Error string
	// Data merges the payloads of the step's records in order (see
	// [Replay]), so that a done record completes its started one.
	Data P
	// Undone is true when an undo of the step is done and nothing redid it.
	Undone bool
	// Seq is the sequence number of the step's last record.
	Seq int64
}

// Merge folds a record's payload src into a view's dst. A nil Merge
// replaces dst with src.
type Merge[P any] func(dst *P, src P)

// Replay folds records into one View per step id. An undo record that is
// done marks its step Undone and resets it to pending (its data cleared);
// a later record of the step (a new apply) clears Undone, starts its data
// afresh and makes the undo pending again.
func Replay[P any](recs []Record[P], merge Merge[P]) map[string]*View[P] {
	views := make(map[string]*View[P])
	for _, r := range recs {
		Fold(views, r, merge)
	}
	return views
}

// Fold applies one record to views (see [Replay]). The caller
// synchronises access to views.
func Fold[P any](views map[string]*View[P], r Record[P], merge Merge[P]) {
	get := func(id string) *View[P] {
		v := views[id]
		if v == nil {
			v = &View[P]{Step: id}
			views[id] = v
		}
		return v
	}
	var zero P
	v := get(r.Step)
	v.Seq = r.Seq
	orig, isUndo := UndoneStep(r.Step)
	if !isUndo {
		if v.Undone {
			// The step runs again after an undo: start from scratch.
			v.Undone = false
			v.Data = zero
		}
		if u := views[undoPrefix+r.Step]; u != nil && u.State != "" {
			u.State, u.Error, u.Data = "", "", zero
		}
	}
	v.State = r.State
	if r.State == Failed {
		v.Error = r.Error
	} else {
		v.Error = ""
	}
	if merge == nil {
		v.Data = r.Data
	} else {
		merge(&v.Data, r.Data)
	}
	if isUndo && r.State == Done {
		o := get(orig)
		o.Undone = true
		o.State, o.Error, o.Data = "", "", zero
	}
}
