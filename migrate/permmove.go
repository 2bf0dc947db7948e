package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// This file is apply's migrate-permissions step: the permission migration
// API for RouteAPI, or a copy of each baseline ACL entry for RouteACLCopy
// (permroute.go). The rules it follows are in docs/permission-migration.md.

// maxMigrationCalls bounds the permission migration loop of one group.
const maxMigrationCalls = 100000

// maxPermissionTableErrors is how many 500 "Error when updating
// permissions table" replies in a row a group's migration takes before the
// group fails. Each such call may have moved part of its batch (rule 6),
// so the next call goes on with what is left; on a conflict every call
// answers the same, and the third in a row stops the group with the
// diagnosis.
const maxPermissionTableErrors = 3

// PermissionMigrationError is a group whose grants the service refused to
// move for good, or kept failing to move: Cause says what the service
// answered and what it means, Fix the way out. Err is the service's last
// reply. What moved before stays moved; the group's other steps wait.
type PermissionMigrationError struct {
	Workspace   string
	WorkspaceID int64
	From, To    string // the local group's backup name and the account group
	Cause, Fix  string
	Err         error
}

// Error names the groups, the cause and the way out on one line.
func (e *PermissionMigrationError) Error() string {
	return fmt.Sprintf("migrate permissions of %q to %q in workspace %s (%d): %s; %s", e.From, e.To, e.Workspace, e.WorkspaceID, e.Cause, e.Fix)
}

// Unwrap returns the service's reply.
func (e *PermissionMigrationError) Unwrap() error { return e.Err }

// migratePermissions moves (RouteAPI) or copies (RouteACLCopy) the group's
// grants to its account group.
func (gs *groupSteps) migratePermissions(r *stepRun) (*Detail, error) {
	if routeOf(gs.g) == RouteACLCopy {
		return gs.copyACLs(r)
	}
	return gs.callMigrationAPI(r)
}

// callMigrationAPI calls the permission migration API until it reports
// nothing left, recording each reply that moved something before the next
// call, so that the journal holds the totals of the replies that arrived.
// A run resumed after an interruption goes on where the service is: every
// call moves what is left, and a later batch is not refused because of the
// grants its earlier batches moved (rule 5). A 500 is answered by calling
// again (the call may have moved part of its batch), up to
// maxPermissionTableErrors in a row; a 400 "already has permissions" fails
// the group at once. Either failure names the cause and the way out.
func (gs *groupSteps) callMigrationAPI(r *stepRun) (*Detail, error) {
	prior := r.view.Detail
	d := &Detail{PermissionsMigrated: prior.PermissionsMigrated, PermissionBatches: prior.PermissionBatches,
		// A run that stopped after an earlier intent may have lost the
		// count of a batch whose reply came before its record.
		PermissionsAtLeast: prior.PermissionsAtLeast || r.view.State == StateStarted}
	from, to := gs.g.BackupName, gs.ag.DisplayName
	tableErrors := 0
	for range maxMigrationCalls {
		if err := r.parent.Err(); err != nil {
			return d, err
		}
		// Each call is announced with the totals of the replies before it,
		// right before it is sent.
		snap := *d
		n, err := gs.ex.remote.MigratePermissions(r.sending(&snap), gs.ws.WorkspaceID, from, to, gs.ex.opts.PermissionBatch)
		if ferr := gs.ex.fatalErr(); ferr != nil {
			return nil, ferr
		}
		switch {
		case err == nil && n <= 0:
			return d, nil
		case err == nil:
			tableErrors = 0
			d.PermissionsMigrated += n
			d.PermissionBatches++
		case errors.Is(err, ErrPermissionsTable):
			tableErrors++
			d.PermissionsAtLeast = true
			gs.ex.log.Warn("the permission migration API failed part-way; what it moved stays moved", "workspace", gs.ws.WorkspaceName,
				"group", gs.g.LocalName, "account_group", to, "in_a_row", tableErrors, "error", err)
			if tableErrors >= maxPermissionTableErrors {
				return d, gs.conflictError(r.ctx, err, tableErrors)
			}
		case errors.Is(err, ErrAlreadyHasPermissions):
			return d, gs.migrationError(err,
				fmt.Sprintf("the service refused it: account group %q already holds permissions in this workspace that this migration did not put there (Databricks moves grants only into an account group that has none of its own)", to),
				gs.wayOut("remove the account group's own grants in this workspace and run apply again"))
		default:
			return d, fmt.Errorf("migrate permissions of %q to %q: %w", from, to, err)
		}
	}
	return d, fmt.Errorf("migrate permissions of %q: still moving after %d calls", from, maxMigrationCalls)
}

// wayOut returns the fixes of a refused group: first, then rolling the
// group back and planning it again with a fresh account group or the
// acl-copy route.
func (gs *groupSteps) wayOut(first string) string {
	return fmt.Sprintf("way out: %s, or roll the group back (dbiam migrate rollback --group %s) and plan it again with a new account group (--mapping) or --permissions-route %s",
		first, strconv.Quote(gs.g.LocalName), RouteAPIOrACLCopy)
}

func (gs *groupSteps) migrationError(err error, cause, fix string) *PermissionMigrationError {
	var ae *scim.APIError
	if errors.As(err, &ae) {
		cause += fmt.Sprintf(" (the service's last reply: %d %s %q)", ae.StatusCode, ae.ErrorCode, ae.Message)
	}
	return &PermissionMigrationError{Workspace: gs.ws.WorkspaceName, WorkspaceID: gs.ws.WorkspaceID, From: gs.g.BackupName,
		To: gs.ag.DisplayName, Cause: cause, Fix: fix, Err: err}
}

// conflictError diagnoses a group whose migration kept failing with the
// 500: it looks, among the baseline's objects and secret scopes, for the
// ones both groups hold now (the conflict the reporter of UCX issue #1914
// names), and says which. The diagnosis assumes, as the public record
// does, that the service moves grants: where it copied them (the
// sandbox's lenient copy reading), every copied object is held by both.
func (gs *groupSteps) conflictError(ctx context.Context, err error, times int) error {
	from, to := gs.g.BackupName, gs.ag.DisplayName
	var both []string
	if base := gs.g.Grants; base != nil {
		for _, o := range base.Objects {
			acl, rerr := gs.ex.remote.ObjectPermissions(ctx, gs.ws.WorkspaceID, o.ObjectType, o.ObjectID)
			if rerr != nil {
				continue // a diagnosis only: the cause is named below anyway
			}
			if directLevel(o.ObjectType, acl, from) != "" && directLevel(o.ObjectType, acl, to) != "" {
				both = append(both, o.Object())
			}
		}
		scopes := map[string]bool{}
		for _, s := range base.Secrets {
			scopes[s.Scope] = true
		}
		for scope := range scopes {
			acls, rerr := gs.ex.remote.SecretACLs(ctx, gs.ws.WorkspaceID, scope)
			if rerr != nil {
				continue
			}
			var hasFrom, hasTo bool
			for _, a := range acls {
				hasFrom = hasFrom || a.Principal == from
				hasTo = hasTo || a.Principal == to
			}
			if hasFrom && hasTo {
				both = append(both, "secret scope "+strconv.Quote(scope))
			}
		}
	}
	cause := fmt.Sprintf("the service answered 500 \"Error when updating permissions table\" %d times in a row (the migration is not atomic: what it moved stays moved)", times)
	if len(both) > 0 {
		cause += fmt.Sprintf("; account group %q already holds a grant on %s, which local group %q holds too (granted again after an earlier batch moved it, or granted to the account group by someone)",
			to, summarize(both, 5), from)
		return gs.migrationError(err, cause, gs.wayOut("remove one of the two grants on "+strings.Join(both, ", ")+" (the account group's keeps the access) and run apply again"))
	}
	cause += "; no object dbiam reads is held by both groups, so the conflict, if it is one, is on a kind dbiam did not read (" + unreadKinds(treeRead(gs.ws.Grants)) + ")"
	return gs.migrationError(err, cause, gs.wayOut("run apply again later (each call goes on with what is left)"))
}

// copyACLs is migrate-permissions for RouteACLCopy: it gives the account
// group, on every object of the baseline, the local group's level, unless
// it already holds that level or one that includes it. The local group
// keeps its grants. The changes are journaled, with the account group's
// level before, before any is made; a resumed run reads the live ACLs
// again and keeps the first recorded level before.
func (gs *groupSteps) copyACLs(r *stepRun) (*Detail, error) {
	to := gs.ag.DisplayName
	prior := r.view.Detail.ObjectGrants
	all := append([]GrantChange(nil), prior...)
	var todo []GrantChange
	var clash []string
	if base := gs.g.Grants; base != nil {
		for _, o := range base.Objects {
			acl, err := gs.ex.remote.ObjectPermissions(r.ctx, gs.ws.WorkspaceID, o.ObjectType, o.ObjectID)
			if isNotFound(err) {
				continue // deleted since the plan: nothing to copy
			}
			if err != nil {
				return &Detail{ObjectGrants: prior}, fmt.Errorf("read permissions of %s: %w", o.Object(), err)
			}
			held := directLevel(o.ObjectType, acl, to)
			switch {
			case held != "" && levelCovers(o.ObjectType, held, o.Level):
				continue
			case held != "" && !levelCovers(o.ObjectType, o.Level, held):
				clash = append(clash, fmt.Sprintf("%s (account group %s, local group %s)", o.Object(), held, o.Level))
				continue
			}
			c := GrantChange{ObjectType: o.ObjectType, ObjectID: o.ObjectID, Level: o.Level, Previous: held}
			todo = append(todo, c)
			if i := indexChange(all, c); i >= 0 {
				all[i].Level = c.Level // keep the level before dbiam's first copy
			} else {
				all = append(all, c)
			}
		}
	}
	d := &Detail{ObjectGrants: all}
	if len(todo) > 0 {
		wctx := r.sending(d)
		for _, c := range todo {
			if err := gs.ex.remote.GrantObjectPermission(wctx, gs.ws.WorkspaceID, c.ObjectType, c.ObjectID, to, c.Level); err != nil {
				return d, fmt.Errorf("give account group %q %s on %s/%s: %w", to, c.Level, c.ObjectType, c.ObjectID, err)
			}
		}
	}
	if len(clash) > 0 {
		return d, fmt.Errorf("copy ACL entries to account group %q: it holds, on %s, a level that neither includes nor is included in the local group's, and an entry holds one level: give the account group the access it needs by hand, then run apply again",
			to, strings.Join(clash, ", "))
	}
	return d, nil
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, scim.ErrNotFound) }

// indexChange returns the index in cs of the change on c's object, -1.
func indexChange(cs []GrantChange, c GrantChange) int {
	for i, x := range cs {
		if x.ObjectType == c.ObjectType && x.ObjectID == c.ObjectID {
			return i
		}
	}
	return -1
}
