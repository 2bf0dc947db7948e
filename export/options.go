package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Include values: the parts of an export that --include selects. The
// workspaces table is always written.
const (
	IncludeUsers             = "users"
	IncludeServicePrincipals = "service-principals"
	IncludeGroups            = "groups"
	IncludeMemberships       = "memberships"
	IncludeEntitlements      = "entitlements"
	IncludeAssignments       = "assignments"
	IncludeAccount           = "account"
)

// allIncludes lists every include value in the order the tables appear.
var allIncludes = []string{
	IncludeUsers, IncludeServicePrincipals, IncludeGroups, IncludeMemberships,
	IncludeEntitlements, IncludeAssignments, IncludeAccount,
}

// DefaultPageSize is the SCIM page size requested when Options.PageSize is 0.
// Servers that cap pages lower (the documented cap is 100) return fewer items
// and the client pages on; servers that honour it need fewer requests.
const DefaultPageSize = 1000

// ErrBadOptions is matched (with errors.Is) by every error Run returns for
// bad input before it makes any request: a bad flag value, an unreadable
// workspaces file, an existing output without Force.
var ErrBadOptions = errors.New("invalid export options")

// Options are the inputs of one export, as plain values (the flags of
// "dbiam export"). The zero value exports every table of every workspace to
// an XLSX workbook named after the date in the current directory.
type Options struct {
	// Workspaces selects workspaces by id or name (--workspace, repeatable).
	// Empty means every workspace found: those of the account, those of
	// WorkspacesFile, or the single --host workspace.
	Workspaces []string
	// WorkspacesFile is a CSV file of id,name,url rows (--workspaces-file)
	// listing the workspaces to export instead of asking the account.
	// Workspaces then selects among its rows.
	WorkspacesFile string
	// Format is csv, xlsx or json (JSON Lines; jsonl and ndjson are accepted
	// too). Empty means xlsx.
	Format string
	// Out is the output path: the workbook for xlsx, a directory for csv and
	// json. Empty means DefaultOut(format, today). "-" writes one table to
	// stdout (Deps.Streams.Out), as CSV or JSON Lines: Include must select
	// exactly one workspace table.
	Out string
	// Include selects the tables (see the Include constants; "all" selects
	// everything). Empty means everything. Naming account without an
	// account id is an error; by default, or with "all", the account tables
	// are skipped with one log line when the session has no account id
	// (assignments are then read with the workspace API).
	Include []string
	// Force replaces an existing output.
	Force bool
	// Parallel is how many workspaces are exported at once; 0 means the
	// session's (the global --parallel flag).
	Parallel int
	// PageSize is the SCIM page size asked for; 0 means DefaultPageSize.
	PageSize int

	// memoryBudget replaces defaultBudget (tests and benchmarks).
	memoryBudget int64
}

// DefaultOut returns the output path used when Options.Out is empty:
// dbiam-export-YYYY-MM-DD.xlsx for XLSX, and the directories
// dbiam-export-YYYY-MM-DD-csv and dbiam-export-YYYY-MM-DD-jsonl for CSV and
// JSON Lines, in the current directory, dated in the local time zone.
func DefaultOut(format reports.Format, now time.Time) string {
	base := "dbiam-export-" + now.Format("2006-01-02")
	if format == reports.FormatXLSX {
		return base + ".xlsx"
	}
	return base + "-" + string(format)
}

// includeSet is the resolved --include value.
type includeSet struct {
	on       map[string]bool
	explicit bool // given by the user rather than defaulted
	// account is set when "account" itself was named (not only "all"):
	// without an account id that is an error rather than a skipped table.
	account bool
}

func (s includeSet) has(name string) bool { return s.on[name] }

// identities reports whether the SCIM lists of each workspace are needed.
func (s includeSet) identities() bool {
	return s.has(IncludeUsers) || s.has(IncludeServicePrincipals) || s.has(IncludeGroups) ||
		s.has(IncludeMemberships) || s.has(IncludeEntitlements)
}

// parseInclude parses --include values; each may itself be a
// comma-separated list.
func parseInclude(vals []string) (includeSet, error) {
	set := includeSet{on: map[string]bool{}}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			name := strings.ToLower(strings.TrimSpace(part))
			name = strings.ReplaceAll(name, "_", "-")
			switch {
			case name == "":
				continue
			case name == "workspaces":
				// Always written: --include workspaces alone asks for
				// nothing else.
			case name == "all":
				for _, n := range allIncludes {
					set.on[n] = true
				}
			case name == "service-principal" || name == "sps":
				set.on[IncludeServicePrincipals] = true
			case slices.Contains(allIncludes, name):
				set.on[name] = true
				set.account = set.account || name == IncludeAccount
			default:
				return includeSet{}, fmt.Errorf("%w: --include %q: use any of %s, or all",
					ErrBadOptions, strings.TrimSpace(part), strings.Join(allIncludes, ","))
			}
			set.explicit = true
		}
	}
	if !set.explicit {
		for _, n := range allIncludes {
			set.on[n] = true
		}
	}
	return set, nil
}

// parseFormat parses --output (--format): csv, xlsx, json, jsonl or ndjson.
func parseFormat(s string) (reports.Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return reports.FormatXLSX, nil
	case "json":
		return reports.FormatJSONL, nil
	}
	f, err := reports.ParseFormat(s)
	if err != nil {
		return "", fmt.Errorf("%w: --output %q: use csv, xlsx or json", ErrBadOptions, s)
	}
	return f, nil
}

// config is a validated Options.
type config struct {
	format    reports.Format
	out       string
	stream    string // with out "-": the one table written to stdout
	include   includeSet
	selectors []string
	fromFile  []scim.WorkspaceInfo // nil unless WorkspacesFile was given
	force     bool
	parallel  int
	pageSize  int
	budget    int64 // memory of the workspaces in flight (see budget)
}

// resolve validates o completely, reads the workspaces file and checks the
// output path, all before any network activity.
func (o Options) resolve(now time.Time) (*config, error) {
	c := &config{force: o.Force, parallel: o.Parallel, pageSize: o.PageSize, budget: o.memoryBudget}
	if c.budget <= 0 {
		c.budget = defaultBudget
	}
	var err error
	if c.format, err = parseFormat(o.Format); err != nil {
		return nil, err
	}
	if c.include, err = parseInclude(o.Include); err != nil {
		return nil, err
	}
	if o.Parallel < 0 {
		return nil, fmt.Errorf("%w: --parallel %d: use a positive number", ErrBadOptions, o.Parallel)
	}
	if o.PageSize < 0 || o.PageSize > maxPageSize {
		return nil, pageSizeError(o.PageSize)
	}
	if c.pageSize == 0 {
		c.pageSize = DefaultPageSize
	}
	// A selector is a name or an id taken as given (names are data: never
	// trimmed or split on commas).
	for _, sel := range o.Workspaces {
		if sel == "" {
			return nil, fmt.Errorf("%w: --workspace is empty: give a workspace id or name", ErrBadOptions)
		}
		if !slices.Contains(c.selectors, sel) {
			c.selectors = append(c.selectors, sel)
		}
	}
	if o.WorkspacesFile != "" {
		if c.fromFile, err = scim.ReadWorkspacesFile(o.WorkspacesFile); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	c.out = o.Out
	if c.out == "-" {
		if c.stream, err = streamTable(c.format, c.include); err != nil {
			return nil, err
		}
		return c, nil
	}
	if strings.TrimSpace(c.out) == "" {
		c.out = DefaultOut(c.format, now)
	}
	if err := checkOutKind(c.format, c.out, now); err != nil {
		return nil, err
	}
	if err := reports.CheckOverwrite(c.out, c.force); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	return c, nil
}

// streamTable returns the one table that --out - writes to stdout: stdout
// is a single stream, so the format must be one (CSV or JSON Lines, not a
// workbook) and --include must select one workspace table.
func streamTable(format reports.Format, inc includeSet) (string, error) {
	if format == reports.FormatXLSX {
		return "", fmt.Errorf("%w: --out - writes one table to stdout, and an xlsx workbook is a file: pass --output json or csv, or --out FILE.xlsx", ErrBadOptions)
	}
	var names []string
	for _, t := range workspaceTables {
		if inc.has(t.include) {
			names = append(names, t.include)
		}
	}
	if inc.has(IncludeAccount) {
		names = append(names, IncludeAccount+" (three tables)")
	}
	if !inc.explicit || len(names) != 1 || inc.has(IncludeAccount) {
		shown := "every table"
		if inc.explicit {
			shown = strings.Join(names, ", ")
		}
		return "", fmt.Errorf("%w: --out - writes one table to stdout, and --include selects %s: pass --include with one of %s, or --out DIR",
			ErrBadOptions, shown, strings.Join(allIncludes[:len(allIncludes)-1], ", "))
	}
	for _, t := range workspaceTables {
		if inc.has(t.include) {
			return t.table, nil
		}
	}
	return "", nil
}

// maxPageSize is the largest --page-size accepted.
const maxPageSize = 10000

// pageSizeError is the error for a --page-size out of range.
func pageSizeError(n int) error {
	return fmt.Errorf("%w: --page-size %d: use a number from 1 to %d", ErrBadOptions, n, maxPageSize)
}

// checkOutKind checks that an existing output path is what format writes:
// a file for xlsx, a directory for csv and json. --force replaces an
// output, it never turns a directory into a file or back.
func checkOutKind(format reports.Format, out string, now time.Time) error {
	fi, err := os.Stat(out)
	if err != nil {
		return nil // missing: created; unreadable: CheckOverwrite says why
	}
	switch {
	case format == reports.FormatXLSX && fi.IsDir():
		return badOption("--out %s is a directory, but an xlsx export is one file: pass a file path such as %s, or --output csv or json",
			out, filepath.Join(out, DefaultOut(format, now)))
	case format != reports.FormatXLSX && !fi.IsDir():
		return badOption("--out %s is a file, but a csv or json export is a directory: pass a directory path, or --output xlsx", out)
	}
	return nil
}

// badOption returns an error matching ErrBadOptions.
func badOption(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadOptions, fmt.Sprintf(format, args...))
}
