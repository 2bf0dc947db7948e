package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Format is an audit report format.
type Format string

// Report formats.
const (
	FormatTable Format = "table" // aligned columns on a terminal, TSV otherwise
	FormatCSV   Format = "csv"   // one CSV file of findings
	FormatJSON  Format = "json"  // one JSON document: identities, coverage, findings
	FormatXLSX  Format = "xlsx"  // a workbook: Summary, Coverage and one sheet per kind
	FormatHTML  Format = "html"  // a self-contained HTML page
)

// ParseFormat parses an --output (--format) value, in any case.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	switch f {
	case "":
		return FormatTable, nil
	case FormatTable, FormatCSV, FormatJSON, FormatXLSX, FormatHTML:
		return f, nil
	}
	return "", &InputError{Input: "--output " + s, Problem: "unknown format", Fix: "use table, csv, json, xlsx or html"}
}

// PermissionScope says which objects' access control lists are read.
type PermissionScope string

// Permission scopes.
const (
	// PermissionsAuto is PermissionsAll with --all and PermissionsOwners
	// otherwise.
	PermissionsAuto PermissionScope = ""
	// PermissionsOwners reads the ACL of every object whose owner only the
	// ACL tells: every job, pipeline and SQL warehouse (IS_OWNER can be
	// transferred to anyone), every Lakeview dashboard (no owner field),
	// MLflow experiment and secret scope, every query and alert (their
	// ACL tells which home folder they are stored in); and of the other
	// objects whose list fields name an audited identity (creator, owner,
	// run-as, dedicated user). Missed: an identity that is the only
	// CAN_MANAGE on a cluster, legacy dashboard, serving endpoint or app
	// it is otherwise unrelated to.
	PermissionsOwners PermissionScope = "owners"
	// PermissionsRelated reads only the ACLs of objects whose list fields
	// name an audited identity, of Lakeview dashboards, queries, alerts,
	// experiments and secret scopes, and of jobs whose
	// creator was deleted. Cheapest, but it also misses ownership
	// transferred to an audited identity.
	PermissionsRelated PermissionScope = "related"
	// PermissionsAll reads the ACL of every object that has one.
	PermissionsAll PermissionScope = "all"
	// PermissionsNone reads no ACL: no ownership transfers, no sole-manager
	// findings; jobs/get then supplies jobs' run-as identities.
	PermissionsNone PermissionScope = "none"
)

// Options are the inputs of one audit run. Exactly one selection is used:
// named identities (Users, ServicePrincipals, Groups, FromFile), Inactive,
// or All.
type Options struct {
	// Users are user names (emails) to audit.
	Users []string
	// ServicePrincipals are service principal application ids to audit.
	ServicePrincipals []string
	// Groups are group display names to audit; each expands to its members,
	// nested groups included.
	Groups []string
	// FromFile names a file of identities, one per line (see ReadIdentities).
	FromFile string
	// Inactive audits every deactivated user and service principal; only
	// those that still own something are reported.
	Inactive bool
	// All audits every identity that objects refer to (the compliance view).
	All bool
	// Workspaces restricts the audit to these workspaces (names or ids);
	// empty means every running workspace.
	Workspaces []string
	// WorkspacesFile is a CSV file of id,name,url rows (as for export) read
	// instead of the account's workspace list, for admins who are not
	// account admins.
	WorkspacesFile string
	// FailOn, when set to "breaks", "stops", "orphaned" or "not-covered",
	// makes Run return a *GateError (exit code 3) after writing the report
	// if a finding of that severity or worse exists.
	FailOn string
	// Format is the report format; "" means FormatTable.
	Format Format
	// Out is the output path; "" or "-" means stdout (not allowed for xlsx).
	Out string
	// Force replaces an existing output file.
	Force bool
	// Permissions says which ACLs are read; "" means PermissionsAuto.
	Permissions PermissionScope
}

// Deps are what Run needs from outside. Tests build them with
// reports.Test, a Connect opening a session on a sandbox, and a fixed
// clock.
type Deps struct {
	Streams *reports.Streams
	Connect scim.ConnectFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// InputError is bad input: a flag, a file line or a name that does not
// exist. It is reported before any change and maps to exit code 1.
type InputError struct {
	Input   string // the flag, file:line or value at fault
	Problem string
	Fix     string
	Err     error // the underlying error, if any (e.g. from opening a file)
}

// Error formats e as "input: problem: fix".
func (e *InputError) Error() string {
	msg := e.Input + ": " + e.Problem
	if e.Fix != "" {
		msg += ": " + e.Fix
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// PartialError reports an audit that did not cover everything requested:
// some workspaces or resource kinds could not be read, or some named
// identities were found nowhere. The report was still written, listing
// them as not covered or not-found. Its exit code is 2.
type PartialError struct {
	// NotCovered lists "workspace: kind" entries that could not be read.
	NotCovered []string
	// NotFound lists "type:name" for the named identities (--user,
	// --service-principal, --group, --from-file) found neither in the
	// account nor in any audited workspace.
	NotFound []string
}

// Error summarises what was not found and what was not covered.
func (e *PartialError) Error() string {
	const show = 5
	list := func(l []string) string {
		more := ""
		if len(l) > show {
			more = fmt.Sprintf(" and %d more", len(l)-show)
			l = l[:show]
		}
		return strings.Join(l, "; ") + more
	}
	var parts []string
	if len(e.NotFound) > 0 {
		parts = append(parts, fmt.Sprintf("%d identity(ies) not found: %s", len(e.NotFound), list(e.NotFound)))
	}
	if len(e.NotCovered) > 0 {
		parts = append(parts, fmt.Sprintf("%d part(s) not covered: %s; see the report's coverage section",
			len(e.NotCovered), list(e.NotCovered)))
	}
	return "audit incomplete: " + strings.Join(parts, "; ")
}

// ExitCode is 2: partial failure.
func (e *PartialError) ExitCode() int { return 2 }

// GateError is the --fail-on gate closing: the report was written and
// holds Count findings of severity FailOn or worse. Its exit code is 3,
// whatever else went wrong: a runbook step that checks it stops the
// deletion. Partial, when set, is the incompleteness the run also found.
type GateError struct {
	FailOn  Severity
	Count   int
	Partial *PartialError
}

// Error says how many findings closed the gate.
func (e *GateError) Error() string {
	msg := fmt.Sprintf("audit gate closed: %d finding(s) of severity %s or worse (--fail-on %s)", e.Count, e.FailOn, e.FailOn)
	if e.Partial != nil {
		msg += "; " + e.Partial.Error()
	}
	return msg
}

// ExitCode is 3.
func (e *GateError) ExitCode() int { return 3 }

// Unwrap returns the partial failure, if any.
func (e *GateError) Unwrap() error {
	if e.Partial == nil {
		return nil
	}
	return e.Partial
}

// ParseFailOn parses a --fail-on value: breaks, stops, orphaned or
// not-covered ("" for none).
func ParseFailOn(s string) (*Severity, error) {
	if s == "" {
		return nil, nil
	}
	v, err := ParseSeverity(strings.TrimSpace(strings.ToLower(s)))
	if err != nil || v == SeverityInfo {
		return nil, &InputError{Input: "--fail-on " + s, Problem: "unknown severity",
			Fix: "use breaks, stops, orphaned or not-covered (each includes the worse ones)"}
	}
	return &v, nil
}

// Selector is one named identity to audit.
type Selector struct {
	Type PrincipalType
	Name string
}

// String returns "type:name".
func (s Selector) String() string { return string(s.Type) + ":" + s.Name }

// ReadIdentities reads a --from-file list: one identity per line, written
// "user:EMAIL", "service-principal:APP_ID" (or "sp:APP_ID") or
// "group:NAME"; a bare value containing "@" is a user. Surrounding spaces
// are dropped; a name in double quotes (Go syntax, e.g.
// group:"trailing space ") is taken exactly. Blank lines and lines
// starting with # are skipped. A bad line is an *InputError naming
// the file and line.
func ReadIdentities(path string) ([]Selector, error) {
	f, err := os.Open(path)
	if err != nil {
		problem := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			problem = pe.Err.Error()
		}
		return nil, &InputError{Input: "--from-file " + path, Problem: problem, Fix: "pass a readable file of identities", Err: err}
	}
	defer f.Close()
	var out []Selector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSelector(line)
		if err != nil {
			return nil, &InputError{Input: fmt.Sprintf("%s:%d", path, n), Problem: err.Error(),
				Fix: `write "user:EMAIL", "service-principal:APP_ID" or "group:NAME"`}
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, &InputError{Input: "--from-file " + path, Problem: err.Error(), Fix: "pass a text file, one identity per line", Err: err}
	}
	return out, nil
}

func parseSelector(line string) (Selector, error) {
	kind, name, err := scim.ParsePrincipal(line)
	if err != nil {
		return Selector{}, err
	}
	return Selector{PrincipalType(kind), name}, nil
}

// mode is the selection an audit runs with.
type mode int

const (
	modeNamed mode = iota
	modeInactive
	modeAll
)

func (m mode) String() string {
	switch m {
	case modeInactive:
		return "inactive"
	case modeAll:
		return "all"
	}
	return "named"
}

// plan is Options checked and normalised.
type plan struct {
	mode        mode
	selectors   []Selector
	format      Format
	out         string // "" for stdout
	force       bool
	workspaces  []string
	fromFile    []scim.WorkspaceInfo // nil unless WorkspacesFile was given
	permissions PermissionScope
	failOn      *Severity
}

// check validates o without any I/O except reading FromFile.
func (o Options) check() (plan, error) {
	p := plan{force: o.Force, workspaces: o.Workspaces}
	f, err := ParseFormat(string(o.Format))
	if err != nil {
		return p, err
	}
	p.format = f
	if o.Out != "-" {
		p.out = o.Out
	}
	if p.format == FormatXLSX && p.out == "" {
		return p, &InputError{Input: "--output xlsx", Problem: "a workbook cannot go to stdout", Fix: "pass --out FILE.xlsx"}
	}
	if p.failOn, err = ParseFailOn(o.FailOn); err != nil {
		return p, err
	}
	if o.WorkspacesFile != "" {
		ws, err := scim.ReadWorkspacesFile(o.WorkspacesFile)
		if err != nil {
			return p, &InputError{Input: "--workspaces-file " + o.WorkspacesFile, Problem: strings.TrimPrefix(err.Error(), "read workspaces file "+o.WorkspacesFile+": "),
				Fix: "pass a CSV file of id,name,url rows", Err: err}
		}
		p.fromFile = ws
	}
	for _, u := range o.Users {
		p.selectors = append(p.selectors, Selector{PrincipalUser, strings.TrimSpace(u)})
	}
	for _, s := range o.ServicePrincipals {
		p.selectors = append(p.selectors, Selector{PrincipalServicePrincipal, strings.TrimSpace(s)})
	}
	// Group display names are kept as given: spaces are part of a name
	// ("trailing space " is a valid, distinct group), and the directory
	// looks groups up by their exact name.
	for _, g := range o.Groups {
		p.selectors = append(p.selectors, Selector{PrincipalGroup, g})
	}
	for _, s := range p.selectors {
		if strings.TrimSpace(s.Name) == "" {
			return p, &InputError{Input: "--" + flagFor(s.Type), Problem: "empty name", Fix: "pass a name"}
		}
	}
	if o.FromFile != "" {
		sel, err := ReadIdentities(o.FromFile)
		if err != nil {
			return p, err
		}
		if len(sel) == 0 {
			return p, &InputError{Input: "--from-file " + o.FromFile, Problem: "no identities in the file", Fix: "list one identity per line"}
		}
		p.selectors = append(p.selectors, sel...)
	}
	p.selectors = dedupeSelectors(p.selectors)
	named := len(p.selectors) > 0
	switch {
	case o.All && (o.Inactive || named):
		return p, &InputError{Input: "--all", Problem: "cannot be combined with --inactive or named identities", Fix: "pass --all alone"}
	case o.Inactive && named:
		return p, &InputError{Input: "--inactive", Problem: "cannot be combined with named identities", Fix: "pass --inactive alone, or name the identities"}
	case o.All:
		p.mode = modeAll
	case o.Inactive:
		p.mode = modeInactive
	case named:
		p.mode = modeNamed
	default:
		return p, &InputError{Input: "audit", Problem: "no identities to audit",
			Fix: "pass --user, --service-principal, --group, --from-file, --inactive or --all"}
	}
	switch o.Permissions {
	case PermissionsAuto:
		p.permissions = PermissionsOwners
		if p.mode == modeAll {
			p.permissions = PermissionsAll
		}
	case PermissionsOwners, PermissionsRelated, PermissionsAll, PermissionsNone:
		p.permissions = o.Permissions
	default:
		return p, &InputError{Input: "--permissions " + string(o.Permissions), Problem: "unknown scope", Fix: "use owners, related, all or none"}
	}
	return p, nil
}

func flagFor(t PrincipalType) string {
	if t == PrincipalServicePrincipal {
		return "service-principal"
	}
	return string(t)
}

// dedupeSelectors drops repeats (names compared case-insensitively), keeping
// the first spelling and order.
func dedupeSelectors(in []Selector) []Selector {
	seen := map[string]bool{}
	var out []Selector
	for _, s := range in {
		k := identityKey(s.Type, s.Name)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
	}
	return slices.Clip(out)
}
