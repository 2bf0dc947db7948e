// Package handover implements "dbiam handover": before an identity is
// deprovisioned, hand what it owns, runs as or alone manages over to
// successors, across every workspace, as a reviewed plan executed with a
// durable journal (package journal), then deactivate it and revoke its
// tokens. docs/handover.md lists every endpoint, its rules and their
// sources.
//
// # Plan
//
// RunPlan reads (GET requests only) what audit reads, per workspace:
// jobs (IS_OWNER from the ACL of every job; an explicit run_as; a job with
// no owner runs as its creator), pipelines (IS_OWNER; the effective
// run-as), clusters (creator and dedicated user; job clusters are noted,
// not changed), SQL warehouses (IS_OWNER), queries, alerts and v2 alerts
// (owner_user_name; a v2 alert's explicit run_as), legacy dashboards
// (owner), Lakeview dashboards, serving endpoints and apps where a leaver
// is the only manager (CAN_MANAGE or IS_OWNER, the admins group aside),
// and tokens. Each becomes a Change with a stable id
// ("<workspace>/<kind>/<object>/<action>") whose successor is the most
// specific --map row (identity, then kind, then workspace), else --to. A
// successor that cannot take an object is a Conflict; any conflict blocks
// apply. The reads use the scim package's list functions, the same
// collectors audit uses.
//
// The plan file is versioned (PlanVersion), read back with unknown fields
// refused, and carries an integrity digest (PlanDigest): an edited plan is
// refused (ErrPlanEdited).
//
// # Apply
//
// RunApply asks for confirmation on a terminal (off a terminal it needs
// --yes; the question says what is irreversible), takes the journal's lock
// and runs three phases. Phase 1 changes objects: every workspace at once,
// at most ApplyOptions.Parallel objects of one workspace at a time, one
// object's changes in plan order. Each change is one journal step: it
// reads the live state; a change in place is done without a write; an
// object that no longer has the value the plan read is skipped (reported,
// exit 2); otherwise the intent (with the previous value, for rollback) is
// fsync'ed by the transport's before-send hook (scim.WithBeforeSend) once
// the rate limiter granted the write, right before it is sent: a write
// still waiting for its slot has no record. A running cluster whose owner
// and dedicated user both change is restarted once: the first change
// terminates it, the last starts it again. Phase 2 deactivates an identity only
// once all its object changes are done and re-read, then removes its
// direct workspace assignments; phase 3, last, revokes its tokens. A
// failed change never stops the others (exit 2); an interrupted run
// (Ctrl-C) sends no write that was not sent yet (one waiting for the rate
// limiter is abandoned and its change stays pending; calls already sent
// may finish within the grace period and are recorded), so that it leaves
// the journal consistent and the next run resumes it exactly: a started
// step reads the object first and does not write a change that landed.
// Steps throttled past the client's retry budget run again after a
// growing pause.
//
// # Verify, status, rollback
//
// RunVerify re-reads every object and reports each difference from what
// the plan and the journal say. RunStatus prints the journal's view of
// every change without any request. RunRollback reactivates and reassigns
// identities first, then puts each previous value back in reverse order
// (undo steps "undo:<id>" in the same journal), skipping and reporting an
// object changed since apply; revoked tokens cannot come back, and
// rollback then says the state is not fully back (exit 2).
package handover
