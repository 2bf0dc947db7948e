package export

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// version is dbiam's version as recorded in the output.
func (r *runner) version() string {
	if r.deps.Version == "" {
		return "dev"
	}
	return r.deps.Version
}

// about describes the export for a reviewer: when it was read (reads began
// at asOf and ended at finished), from which account and host, by which
// dbiam and command line, which workspaces were asked for and read, and
// the status of every table, the tables not written included.
func (r *runner) about(asOf, finished time.Time, targets []scim.WorkspaceInfo, results []*wsResult, acct *accountResult) reports.About {
	account := r.sess.AccountID()
	if account == "" {
		account = "(none: the account tables were not read)"
	}
	var ok, failed, skipped int
	for _, res := range results {
		switch res.status {
		case statusOK:
			ok++
		case statusSkipped:
			skipped++
		default:
			failed++
		}
	}
	status := "complete"
	if err := r.partial(results, acct); err != nil {
		status = strings.TrimPrefix(err.Error(), "export "+r.cfg.out+": ")
	}
	a := reports.About{Fields: []reports.AboutField{
		{Name: "as_of", Value: asOf.UTC().Format(time.RFC3339)},
		{Name: "finished", Value: finished.UTC().Format(time.RFC3339)},
		{Name: "account_id", Value: account},
		{Name: "host", Value: r.sess.Host()},
		{Name: "dbiam_version", Value: r.version()},
		{Name: "command", Value: commandLine(r.deps.Args)},
		{Name: "format", Value: formatName(r.cfg.format)},
		{Name: "workspaces_requested", Value: r.requested()},
		{Name: "workspaces_read", Value: fmt.Sprintf("%d of %d: %d ok, %d failed, %d skipped (see the workspaces table)",
			ok+failed, len(targets), ok, failed, skipped)},
		{Name: "status", Value: status},
	}}
	a.Tables = append(a.Tables, reports.TableStatus{Table: TableWorkspaces, Status: reports.StatusOK})
	for _, t := range workspaceTables {
		a.Tables = append(a.Tables, r.workspaceTableStatus(t.table, t.include, results, acct))
	}
	for _, t := range accountTables {
		a.Tables = append(a.Tables, r.accountTableStatus(t, acct))
	}
	a.Tables = append(a.Tables, reports.TableStatus{Table: "summary", Status: reports.StatusOK})
	return a
}

// formatName is the --output value of format f, as the README names it:
// csv, xlsx or json (JSON Lines; the flag also takes jsonl and ndjson).
func formatName(f reports.Format) string {
	if f == reports.FormatJSONL {
		return "json"
	}
	return string(f)
}

// requested says which workspaces were asked for.
func (r *runner) requested() string {
	from := "the --host workspace"
	switch {
	case r.cfg.fromFile != nil:
		from = "the rows of --workspaces-file"
	case r.sess.AccountID() != "":
		from = "the account"
	}
	if len(r.cfg.selectors) == 0 {
		return "all workspaces of " + from
	}
	return "--workspace " + strings.Join(r.cfg.selectors, ", ") + " of " + from
}

// tableReads are the reads each workspace table needs.
var tableReads = map[string][]string{
	TableUsers:             {readUsers},
	TableServicePrincipals: {readSPs},
	TableGroups:            {readUsers, readSPs, readGroups},
	TableMemberships:       {readUsers, readSPs, readGroups},
	TableEntitlements:      {readUsers, readSPs, readGroups},
}

// workspaceTableStatus is the status of a workspace table: ok when every
// workspace read gave its rows, failed when none did, partial otherwise.
func (r *runner) workspaceTableStatus(table, include string, results []*wsResult, acct *accountResult) reports.TableStatus {
	ts := reports.TableStatus{Table: table, Status: reports.StatusOK}
	if !r.cfg.include.has(include) {
		ts.Status, ts.Detail = reports.StatusSkipped, "not in --include"
		return ts
	}
	var missing []string
	read := 0
	for _, res := range results {
		if res.status == statusSkipped {
			continue
		}
		read++
		if why := missingFor(table, res); why != "" {
			missing = append(missing, fmt.Sprintf("workspace %s (%s): %s", wsID(res.info.ID), res.info.Name, why))
		}
	}
	var notes []string
	// A workspace whose users or service principals were listed but not
	// every list was has rows whose workspace_admin is empty (unknown):
	// the table misses that much.
	var noAdmin []string
	if table == TableUsers || table == TableServicePrincipals {
		for _, res := range results {
			if res.status == statusSkipped || missingFor(table, res) != "" {
				continue
			}
			for _, op := range tableReads[TableGroups] {
				if !res.read[op] {
					noAdmin = append(noAdmin, fmt.Sprintf("workspace %s (%s): %s", wsID(res.info.ID), res.info.Name, readFailure(res.errs, op, res.reason)))
					break
				}
			}
		}
	}
	if len(missing) > 0 {
		ts.Status = reports.StatusPartial
		if len(missing) == read {
			ts.Status = reports.StatusFailed
		}
		shown := missing[:min(len(missing), 5)]
		note := fmt.Sprintf("rows missing for %d of %d workspaces: %s", len(missing), read, strings.Join(shown, "; "))
		if len(missing) > len(shown) {
			note += fmt.Sprintf("; and %d more (see the workspaces table)", len(missing)-len(shown))
		}
		notes = append(notes, note)
	}
	if len(noAdmin) > 0 {
		if ts.Status == reports.StatusOK {
			ts.Status = reports.StatusPartial
		}
		shown := noAdmin[:min(len(noAdmin), 5)]
		note := fmt.Sprintf("workspace_admin is empty for %d of %d workspaces: %s", len(noAdmin), read, strings.Join(shown, "; "))
		if len(noAdmin) > len(shown) {
			note += fmt.Sprintf("; and %d more (see the workspaces table)", len(noAdmin)-len(shown))
		}
		notes = append(notes, note)
	}
	if table == TableUsers {
		switch {
		case r.acct == nil:
			notes = append(notes, "account_user is empty: no account id")
		case acct != nil && !acct.read[readUsers]:
			if ts.Status == reports.StatusOK {
				ts.Status = reports.StatusPartial
			}
			notes = append(notes, "account_user is empty: "+readFailure(acct.errs, readUsers, "account users not read"))
		}
	}
	ts.Detail = strings.Join(notes, "; ")
	return ts
}

// missingFor says why a workspace's rows of table are missing, or "".
func missingFor(table string, res *wsResult) string {
	if table == TableAssignments {
		switch {
		case res.denied != nil:
			return res.denied.Error()
		case failedRead(res.errs, readAssignments):
			return readFailure(res.errs, readAssignments, "")
		}
		if res.status == statusFailed && len(res.errs) == 0 {
			return res.reason
		}
		return ""
	}
	for _, op := range tableReads[table] {
		if !res.read[op] {
			return readFailure(res.errs, op, res.reason)
		}
	}
	return ""
}

// failedRead reports whether errs holds a failure of read op.
func failedRead(errs []error, op string) bool {
	return readFailure(errs, op, "") != ""
}

// readFailure returns the text of the failure of read op among errs, or
// otherwise when there is none.
func readFailure(errs []error, op, otherwise string) string {
	for _, err := range errs {
		var re *readError
		if errors.As(err, &re) && strings.HasSuffix(re.op, op) {
			return re.Error()
		}
	}
	return otherwise
}

// accountTableStatus is the status of an account table.
func (r *runner) accountTableStatus(table string, acct *accountResult) reports.TableStatus {
	ts := reports.TableStatus{Table: table, Status: reports.StatusOK}
	op := map[string]string{TableAccountUsers: readUsers, TableAccountGroups: readGroups, TableAccountServicePrincipals: readSPs}[table]
	switch {
	case !r.cfg.include.has(IncludeAccount):
		ts.Status, ts.Detail = reports.StatusSkipped, "not in --include"
	case r.acct == nil:
		ts.Status, ts.Detail = reports.StatusSkipped, "no account id"
	case acct == nil || !acct.read[op]:
		ts.Status = reports.StatusFailed
		if acct != nil {
			ts.Detail = readFailure(acct.errs, op, acct.reason)
		}
	}
	return ts
}

// commandLine renders args for the record: credentials left out (see
// reports.RedactArgs), the program as "dbiam", arguments holding spaces
// or quotes quoted.
func commandLine(args []string) string {
	if len(args) == 0 {
		return ""
	}
	args = reports.RedactArgs(args)
	args[0] = "dbiam"
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>()*?[]#~") {
			args[i] = strconv.Quote(a)
		}
	}
	return strings.Join(args, " ")
}
