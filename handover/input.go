package handover

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/dbiam/dbiam/scim"
)

// InputError is bad input: a flag, a file line or a name. It is reported
// before any request and maps to exit code 1.
type InputError struct {
	Input   string // the flag, file:line or value at fault
	Problem string
	Fix     string
	Err     error
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

// PartialError reports a run in which some changes failed or differ;
// everything else was done. Its exit code is 2.
type PartialError struct {
	Op     string // "plan", "apply", "verify", "rollback"
	Failed int
	Total  int
	What   string // "changes failed", "differences", ...
	Hint   string
}

// Error summarises the failures.
func (e *PartialError) Error() string {
	msg := fmt.Sprintf("%s: %d of %d %s", e.Op, e.Failed, e.Total, e.What)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// ExitCode is 2: partial failure.
func (e *PartialError) ExitCode() int { return 2 }

// ParsePrincipal parses a principal as "dbiam audit --from-file" writes
// identities: "user:EMAIL", "service-principal:APP_ID" (or "sp:"),
// "group:NAME"; a bare value containing "@" is a user. Spaces around the
// name are dropped; a name in double quotes (Go syntax, e.g.
// group:"trailing space ") is taken exactly, byte for byte.
func ParsePrincipal(s string) (Principal, error) {
	kind, name, err := scim.ParsePrincipal(s)
	if err != nil {
		return Principal{}, err
	}
	return Principal{kind, name}, nil
}

// needsQuote reports whether a name must be quoted to be read back
// exactly: edge spaces, quotes, control or invisible characters.
func needsQuote(s string) bool {
	if s != strings.TrimSpace(s) || strings.ContainsAny(s, `"\`) {
		return true
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}

func fmtQuote(s string) string { return strconv.Quote(s) }

// ReadIdentities reads a --from-file list, one identity per line in the
// syntax of [ParsePrincipal] (the syntax of "dbiam audit --from-file").
// Blank lines and lines starting with # are skipped. A bad line is an
// *InputError naming the file and line.
func ReadIdentities(path string) ([]Principal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError("--from-file", path, err, "pass a readable file of identities")
	}
	defer f.Close()
	var out []Principal
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
		p, err := ParsePrincipal(line)
		if err != nil {
			return nil, &InputError{Input: fmt.Sprintf("%s:%d", path, n), Problem: err.Error(),
				Fix: `write "user:EMAIL" or "service-principal:APP_ID"`}
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, &InputError{Input: "--from-file " + path, Problem: err.Error(), Fix: "pass a text file, one identity per line", Err: err}
	}
	return out, nil
}

func fileError(flag, path string, err error, fix string) error {
	problem := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		problem = pe.Err.Error()
	}
	return &InputError{Input: flag + " " + path, Problem: problem, Fix: fix, Err: err}
}

// MapRule is one line of a --map file: successor To for identity From
// (nil: any), objects of Kind ("": any) in Workspace ("": any, else a
// workspace name or id, byte-exact).
type MapRule struct {
	Line      int
	From      *Principal
	Kind      string
	Workspace string
	To        Principal
}

// specificity orders rules: a named identity beats a kind, which beats a
// workspace.
func (r MapRule) specificity() int {
	n := 0
	if r.From != nil {
		n += 4
	}
	if r.Kind != "" {
		n += 2
	}
	if r.Workspace != "" {
		n++
	}
	return n
}

// ReadMap reads a --map file: CSV rows "from,kind,workspace,to" (an
// optional header row with those names), where from, kind and workspace
// may be "*". from and to are written as in [ParsePrincipal]; kind is one
// of [Kinds]; workspace is a workspace name (byte-exact) or id. Two rows for
// the same from, kind and workspace are an error.
func ReadMap(path string) ([]MapRule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError("--map", path, err, "pass a readable CSV file of from,kind,workspace,to rows")
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var rules []MapRule
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		at := fmt.Sprintf("%s:%d", path, line)
		if err != nil {
			return nil, &InputError{Input: at, Problem: "not valid CSV (" + err.Error() + ")", Fix: "quote cells that hold commas or quotes"}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" || len(rec) > 0 && strings.HasPrefix(rec[0], "#") {
			continue
		}
		if len(rec) != 4 {
			return nil, &InputError{Input: at, Problem: fmt.Sprintf("%d cells", len(rec)), Fix: "write from,kind,workspace,to"}
		}
		if len(rules) == 0 && len(seen) == 0 && isMapHeader(rec) {
			seen["header"] = line
			continue
		}
		rule := MapRule{Line: line}
		if v := rec[0]; strings.TrimSpace(v) != "*" {
			p, err := ParsePrincipal(v)
			if err != nil {
				return nil, mapCellError(at, "from", err, rules, rec)
			}
			if p.Type == TypeGroup {
				return nil, &InputError{Input: at, Problem: "from " + p.String() + " is a group", Fix: "name a leaving user or service principal, or *"}
			}
			rule.From = &p
		}
		if v := strings.TrimSpace(rec[1]); v != "*" {
			if !slices.Contains(Kinds(), v) {
				return nil, &InputError{Input: at, Problem: fmt.Sprintf("unknown kind %q", rec[1]), Fix: "use * or one of " + strings.Join(Kinds(), ", ")}
			}
			rule.Kind = v
		}
		if v := rec[2]; strings.TrimSpace(v) != "*" {
			if v == "" {
				return nil, &InputError{Input: at, Problem: "empty workspace", Fix: "write a workspace name or id, or *"}
			}
			rule.Workspace = v
		}
		to, err := ParsePrincipal(rec[3])
		if err != nil {
			return nil, mapCellError(at, "to", err, rules, rec)
		}
		rule.To = to
		key := fmt.Sprintf("%v|%s|%s", rule.From, rule.Kind, rule.Workspace)
		if rule.From != nil {
			key = fmt.Sprintf("%s|%s|%s", strings.ToLower(rule.From.String()), rule.Kind, rule.Workspace)
		}
		if prev, dup := seen[key]; dup {
			return nil, &InputError{Input: at, Problem: fmt.Sprintf("repeats line %d (same from, kind and workspace)", prev), Fix: "keep one successor per from, kind and workspace"}
		}
		seen[key] = line
		rules = append(rules, rule)
	}
	return rules, nil
}

func isMapHeader(rec []string) bool {
	want := []string{"from", "kind", "workspace", "to"}
	for i, c := range rec {
		if !strings.EqualFold(strings.TrimSpace(c), want[i]) {
			return false
		}
	}
	return true
}

func mapCellError(at, cell string, err error, rules []MapRule, rec []string) error {
	fix := `write "user:EMAIL", "service-principal:APP_ID" or "group:NAME"`
	if len(rules) == 0 && !strings.ContainsAny(strings.Join(rec, ""), ":@") {
		fix = "if this is a header, write from,kind,workspace,to"
	}
	return &InputError{Input: at, Problem: cell + " " + err.Error(), Fix: fix}
}

// successors resolves the successor of each (identity, kind, workspace):
// the most specific matching --map rule, else --to.
type successors struct {
	to    *Principal
	rules []MapRule
	path  string
}

// lookup returns the successor of identity from for objects of kind in
// workspace ws (id and name), and where it comes from ("--to" or
// "--map FILE:LINE"); ok is false when neither names one.
func (s successors) lookup(from Principal, kind string, wsID int64, wsName string) (Principal, string, bool) {
	best, bestScore := -1, -1
	for i, r := range s.rules {
		if r.From != nil && !r.From.Is(from) {
			continue
		}
		if r.Kind != "" && r.Kind != kind {
			continue
		}
		if r.Workspace != "" && r.Workspace != wsName && r.Workspace != strconv.FormatInt(wsID, 10) {
			continue
		}
		if sc := r.specificity(); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	if best >= 0 {
		return s.rules[best].To, fmt.Sprintf("--map %s:%d", s.path, s.rules[best].Line), true
	}
	if s.to != nil {
		return *s.to, "--to", true
	}
	return Principal{}, "", false
}
