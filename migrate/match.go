package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/xrash/smetrics"

	"github.com/dbiam/dbiam/migrate/internal/groupname"
)

// IsSystemGroup reports whether name is a system group ("admins", "users",
// "account users"), which migrate never touches.
func IsSystemGroup(name string) bool { return groupname.IsSystem(name) }

// planMatchOptions choose how a local group's target account group is found.
type planMatchOptions struct {
	Strategy string // one of the Match* constants; "" means MatchName
	// Prefix or Suffix is added to the local name (MatchPrefix,
	// MatchSuffix), or removed from it when Strip is set.
	Prefix, Suffix string
	Strip          bool
	// Regex and Replace give the target as
	// Regex.ReplaceAllString(localName, Replace) (MatchRegex); a local
	// name that Regex does not match has no target.
	Regex, Replace string
	// Mapping is the parsed --mapping file (MatchMapping).
	Mapping *Mapping
}

// planMatcher gives the target account group name of a local group.
type planMatcher struct {
	opts planMatchOptions
	re   *regexp.Regexp
}

// newPlanMatcher checks opts and returns a matcher. Its errors are bad-input
// errors naming the offending flag.
func newPlanMatcher(opts planMatchOptions) (*planMatcher, error) {
	if opts.Strategy == "" {
		opts.Strategy = MatchName
	}
	m := &planMatcher{opts: opts}
	onlyFor := func(flag, value, strategy string) error {
		if value != "" && opts.Strategy != strategy {
			return fmt.Errorf("flag --%s applies only to --match %s", flag, strategy)
		}
		return nil
	}
	for _, c := range []struct{ flag, value, strategy string }{
		{"prefix", opts.Prefix, MatchPrefix},
		{"suffix", opts.Suffix, MatchSuffix},
		{"regex", opts.Regex, MatchRegex},
		{"replace", opts.Replace, MatchRegex},
	} {
		if err := onlyFor(c.flag, c.value, c.strategy); err != nil {
			return nil, err
		}
	}
	if opts.Strip && opts.Strategy != MatchPrefix && opts.Strategy != MatchSuffix {
		return nil, errors.New("flag --strip applies only to --match prefix or suffix")
	}
	if opts.Mapping != nil && opts.Strategy != MatchMapping {
		return nil, errors.New("flag --mapping applies only to --match mapping")
	}
	switch opts.Strategy {
	case MatchName, MatchExternalID:
	case MatchPrefix:
		if opts.Prefix == "" {
			return nil, errors.New("--match prefix needs --prefix")
		}
	case MatchSuffix:
		if opts.Suffix == "" {
			return nil, errors.New("--match suffix needs --suffix")
		}
	case MatchRegex:
		if opts.Regex == "" {
			return nil, errors.New("--match regex needs --regex (and --replace)")
		}
		re, err := regexp.Compile(opts.Regex)
		if err != nil {
			return nil, fmt.Errorf("flag --regex %q: %w", opts.Regex, err)
		}
		m.re = re
	case MatchMapping:
		if opts.Mapping == nil {
			return nil, errors.New("--match mapping needs --mapping FILE")
		}
	default:
		return nil, fmt.Errorf("flag --match %q: want one of name, prefix, suffix, regex, external-id, mapping", opts.Strategy)
	}
	return m, nil
}

// target returns the target account group name for the local group name in
// workspace ws, or ok=false and the reason there is none. MatchExternalID
// is resolved by the planner against the account's groups, not here: for
// it target returns the local name unchanged.
func (m *planMatcher) target(ws planWSIdent, name string) (target string, ok bool, why string) {
	o := m.opts
	switch o.Strategy {
	case MatchPrefix:
		if !o.Strip {
			return o.Prefix + name, true, ""
		}
		t, found := strings.CutPrefix(name, o.Prefix)
		if !found || t == "" {
			return "", false, fmt.Sprintf("name does not start with prefix %q", o.Prefix)
		}
		return t, true, ""
	case MatchSuffix:
		if !o.Strip {
			return name + o.Suffix, true, ""
		}
		t, found := strings.CutSuffix(name, o.Suffix)
		if !found || t == "" {
			return "", false, fmt.Sprintf("name does not end with suffix %q", o.Suffix)
		}
		return t, true, ""
	case MatchRegex:
		if !m.re.MatchString(name) {
			return "", false, fmt.Sprintf("name does not match --regex %q", o.Regex)
		}
		t := m.re.ReplaceAllString(name, o.Replace)
		if t == "" {
			return "", false, fmt.Sprintf("--regex %q with --replace %q gives an empty name", o.Regex, o.Replace)
		}
		return t, true, ""
	case MatchMapping:
		if t, found := o.Mapping.lookup(ws, name); found {
			return t, true, ""
		}
		return "", false, fmt.Sprintf("no row for it in mapping file %s", o.Mapping.Path)
	}
	return name, true, ""
}

// planWSIdent identifies a workspace for mapping rows: by id or by name.
type planWSIdent struct {
	ID   int64
	Name string
}

// Mapping is a parsed --mapping CSV file: rows of workspace, local_group,
// account_group. The workspace column holds a workspace name, a numeric
// workspace id, or "*" for every workspace; a row for a specific workspace
// wins over a "*" row. A first row reading workspace,local_group,account_group
// is a header. A Mapping is read-only after parsing and safe for concurrent
// use.
type Mapping struct {
	Path   string // the file, for messages
	SHA256 string // hex sha256 of the file's bytes
	rows   []MappingRow
	exact  map[planMappingKey]int // key -> index into rows
}

// MappingRow is one row of a mapping file.
type MappingRow struct {
	Line         int // 1-based line number in the file
	Workspace    string
	LocalGroup   string
	AccountGroup string
}

type planMappingKey struct{ workspace, group string }

// Rows returns the mapping's rows in file order.
func (m *Mapping) Rows() []MappingRow { return m.rows }

// lookup returns the account group for a local group, trying the workspace
// id, then its name, then "*".
func (m *Mapping) lookup(ws planWSIdent, group string) (string, bool) {
	for _, w := range []string{strconv.FormatInt(ws.ID, 10), ws.Name, "*"} {
		if w == "" {
			continue
		}
		if i, ok := m.exact[planMappingKey{w, group}]; ok {
			return m.rows[i].AccountGroup, true
		}
	}
	return "", false
}

// covers reports whether some row names this local group in ws.
func (m *Mapping) covers(ws planWSIdent, group string) bool {
	_, ok := m.lookup(ws, group)
	return ok
}

// Kinds of first rows of a mapping file.
const (
	headerNone = iota
	headerExact
	headerMisspelt
)

// mappingHeaderNames are the columns of a mapping file's optional header.
var mappingHeaderNames = []string{"workspace", "local_group", "account_group"}

// mappingHeader says whether a first row is the header (any case, spaces
// around the names allowed), something that looks like a misspelt header
// (every cell within two edits of its column's name, and some cell not
// equal to it), or data.
func mappingHeader(rec []string) int {
	if len(rec) != len(mappingHeaderNames) {
		return headerNone
	}
	exact := true
	for i, want := range mappingHeaderNames {
		got := strings.ToLower(strings.TrimSpace(rec[i]))
		if got == want {
			continue
		}
		exact = false
		if smetrics.WagnerFischer(got, want, 1, 1, 1) > 2 {
			return headerNone
		}
	}
	if exact {
		return headerExact
	}
	return headerMisspelt
}

// ReadMapping reads and parses the mapping CSV at path.
func ReadMapping(path string) (*Mapping, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mapping %s: %w", path, err)
	}
	return ParseMapping(path, raw)
}

// ParseMapping parses mapping CSV bytes; name is used in errors, which read
// "mapping FILE line N: problem".
func ParseMapping(name string, raw []byte) (*Mapping, error) {
	sum := sha256.Sum256(raw)
	m := &Mapping{Path: name, SHA256: hex.EncodeToString(sum[:]), exact: map[planMappingKey]int{}}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\uFEFF"))))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("mapping %s line %d: %w", name, pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("mapping %s: %w", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if first {
			first = false
			switch mappingHeader(rec) {
			case headerExact:
				continue
			case headerMisspelt:
				return nil, fmt.Errorf("mapping %s line %d: %q looks like a misspelt header; write it workspace,local_group,account_group (or remove it)",
					name, line, strings.Join(rec, ","))
			}
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("mapping %s line %d: want 3 fields (workspace,local_group,account_group), got %d", name, line, len(rec))
		}
		// Cells are names, kept byte for byte: edge spaces are part of a
		// name ("ops " is not "ops"); a cell that names nothing is an error
		// of the plan, which lists the closest names.
		row := MappingRow{Line: line, Workspace: rec[0], LocalGroup: rec[1], AccountGroup: rec[2]}
		switch {
		case strings.TrimSpace(row.Workspace) == "":
			return nil, fmt.Errorf("mapping %s line %d: empty workspace (use a name, an id or *)", name, line)
		case strings.TrimSpace(row.LocalGroup) == "":
			return nil, fmt.Errorf("mapping %s line %d: empty local_group", name, line)
		case strings.TrimSpace(row.AccountGroup) == "":
			return nil, fmt.Errorf("mapping %s line %d: empty account_group", name, line)
		case IsSystemGroup(row.LocalGroup):
			return nil, fmt.Errorf("mapping %s line %d: %q is a system group and is never migrated", name, line, row.LocalGroup)
		case IsSystemGroup(row.AccountGroup):
			return nil, fmt.Errorf("mapping %s line %d: target %q is a system group name", name, line, row.AccountGroup)
		}
		k := planMappingKey{row.Workspace, row.LocalGroup}
		if j, dup := m.exact[k]; dup {
			return nil, fmt.Errorf("mapping %s line %d: workspace %q group %q is already mapped on line %d", name, line, row.Workspace, row.LocalGroup, m.rows[j].Line)
		}
		m.exact[k] = len(m.rows)
		m.rows = append(m.rows, row)
	}
	if len(m.rows) == 0 {
		return nil, fmt.Errorf("mapping %s: no rows", name)
	}
	return m, nil
}
