// Package journal is the one place where dbiam's durability lives: the
// append-only journal of a run that changes things remotely, the lock that
// says who is running it, and the helpers that execute a step so that a
// crash at any instant can be resumed exactly.
//
// # Files
//
// A journal is a directory (by convention "<plan>.journal" next to the plan
// file, see [DefaultDir]) holding:
//
//	journal.jsonl    the journal: one JSON header line, then one record per line
//	journal.corrupt  torn last lines cut off when a journal was reopened
//	lock             who holds the journal, flock'ed while held (see [AcquireLock])
//	plan.json        a copy of the plan the journal belongs to ([SavePlan])
//
// Files are created with mode 0600 (they name people) and the directory
// with 0700; each directory created, and the journal's entry in its
// directory, is fsync'ed in its parent.
//
// # Format
//
// The header is {"journal_version":2,"kind":"handover","plan_sha256":...,
// "lineage":...,"tool_version":...}: kind names the command that owns the
// journal, plan_sha256 binds it to the exact bytes of one plan. Every
// record line is an envelope followed by the command's own fields (the
// payload, a JSON object whose fields are inlined on the line):
//
//	{"seq":3,"prev":"<sha256 of line 3>","time":"...","step":"...","state":"started", ...payload}
//
// seq numbers records from 1 without gaps; prev is the hex sha256 of the
// previous line's bytes (the header for the first record), so that the
// records form a hash chain. Reading a journal checks both: a record that
// was deleted, duplicated or moved is reported with the number of the line
// where the chain breaks, and the journal is refused (it is never repaired
// silently). The chain cannot tell that the last complete lines were
// removed: that is indistinguishable from a crash before they were
// written, and commands resume such a journal by reading live state.
//
// Version 1 is the format "dbiam migrate" wrote before this package: the
// same header without kind, records without prev. Version 1 journals are
// read and appended to in version 1 (sequence numbers are checked, there is
// no chain to check), so a migration that started under version 1 resumes.
// Any other version is refused with a message naming it.
//
// # Durability
//
// [Journal.Append] writes a record as one line with a single write call and
// returns only after fsync has made it durable; concurrent appends share an
// fsync (group commit), so a run that journals from many goroutines pays
// one fsync per batch rather than per record. A failed write or fsync
// poisons the journal: every later append fails, so that no remote change
// follows an intent that may not be on disk. A torn last line (a crash
// during a write) is cut off and saved in journal.corrupt when the journal
// is reopened for appending; [Read] ignores it without changing the file.
// A damaged line before the last is an error naming it.
//
// # Steps
//
// A step is one unit of remote work with a stable id. Its records move it
// from pending (no record) to started (an intent, written right before each
// remote write that the step is about to send, never for a read or for a
// call that will not be sent), then done, failed or skipped. An undo of
// step X (rollback) is recorded as step "undo:X" ([UndoID]); a done undo
// marks X undone and pending again. [Replay] folds records into one [View]
// per step; [Executor] runs steps against a journal: it skips steps already
// done, lets the step read live state first (what a started-but-unfinished
// step did may or may not have landed), records the intent before each
// write ([Step.Intend], called from scim's before-send hook once the rate
// limiter granted the write, so that a write still waiting for its slot
// has no record), and records the outcome. A journal write failure
// cancels the run. Once the run is stopped (Ctrl-C), calls already sent
// may finish for a grace period and are recorded, but no new write starts:
// Intend refuses it. With a nil journal (a dry run) nothing is written.
//
// All exported functions and methods are safe for concurrent use unless
// their doc says otherwise.
package journal
