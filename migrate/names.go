package migrate

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xrash/smetrics"
)

// Names are data: every group, user and workspace name given to migrate
// (flags, the mapping file) is used byte for byte, spaces, case, quotes
// and all. The command line keeps flag values as typed (KeepSpace), and a
// value written as a double-quoted Go string ("ops ", "tab\there") is
// unquoted, the form audit's --from-file accepts, for shells and scripts
// where edge spaces are awkward. A name that matches nothing is an error
// naming the closest names that exist.

// FlagName returns the name a flag value stands for: the value itself, or,
// when it starts and ends with a double quote, the Go string it spells
// ("\"ops \"" is "ops "). A quoted value that is not a valid Go string is
// an error naming the flag. A name that itself starts and ends with a
// double quote must therefore be written quoted ("\"\\\"x\\\"\"").
func FlagName(flag, v string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v, nil
	}
	s, err := strconv.Unquote(v)
	if err != nil {
		return "", fmt.Errorf("flag --%s %s: a value in double quotes is read as a quoted name, and this one is not valid (write an inner quote as \\\" and a backslash as \\\\)", flag, v)
	}
	return s, nil
}

// flagNames applies FlagName to every value of a repeatable flag and
// refuses an empty name.
func flagNames(flag string, vs []string) ([]string, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		n, err := FlagName(flag, v)
		if err != nil {
			return nil, err
		}
		if n == "" {
			return nil, fmt.Errorf("flag --%s: empty name", flag)
		}
		out = append(out, n)
	}
	return out, nil
}

// nameCandidate is a name that exists, with where it exists (for the
// message), e.g. {"ops", "local group in acme-prod"}.
type nameCandidate struct {
	name, where string
}

// maxSuggestions is how many close names an error lists.
const maxSuggestions = 3

// closestNames returns up to maxSuggestions candidates close to want, the
// closest first: names equal to want but for case or edge spaces, then
// by edit distance of the case-folded names (at most half of want's
// length, and at least 2), ties broken by the edit distance of the names
// as written. Candidates of one name are listed once, with their places
// joined.
func closestNames(want string, cands []nameCandidate) []nameCandidate {
	type scored struct {
		c         nameCandidate
		dist, raw int
	}
	fold := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	limit := max(2, len([]rune(want))/2)
	byName := map[string]*scored{}
	var all []*scored
	for _, c := range cands {
		if c.name == want {
			continue
		}
		if s := byName[c.name]; s != nil {
			if c.where != "" && !strings.Contains(s.c.where, c.where) {
				s.c.where += ", " + c.where
			}
			continue
		}
		d := smetrics.WagnerFischer(strings.ToLower(want), strings.ToLower(c.name), 1, 1, 1)
		if fold(c.name) == fold(want) {
			d = 0
		}
		if d > limit {
			continue
		}
		s := &scored{c: c, dist: d, raw: smetrics.WagnerFischer(want, c.name, 1, 1, 1)}
		byName[c.name] = s
		all = append(all, s)
	}
	slices.SortStableFunc(all, func(a, b *scored) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.raw, b.raw), cmp.Compare(a.c.name, b.c.name))
	})
	out := make([]nameCandidate, 0, min(len(all), maxSuggestions))
	for _, s := range all[:min(len(all), maxSuggestions)] {
		out = append(out, s.c)
	}
	return out
}

// noMatch returns the error for a name that matches nothing: what it was
// looked for as, and the closest names that exist, quoted so that edge
// spaces show.
func noMatch(input, name, what string, cands []nameCandidate) error {
	msg := fmt.Sprintf("%s %s: no %s has this name (names are matched exactly, spaces and case included)", input, strconv.Quote(name), what)
	if close := closestNames(name, cands); len(close) > 0 {
		parts := make([]string, len(close))
		for i, c := range close {
			parts[i] = strconv.Quote(c.name)
			if c.where != "" {
				parts[i] += " (" + c.where + ")"
			}
		}
		msg += "; closest: " + strings.Join(parts, ", ")
	}
	return &NameError{Input: input, Name: name, msg: msg}
}

// NameError is a name given to migrate (a flag value, a mapping file
// cell) that matches nothing. Its message names the closest names that
// exist. It is bad input: exit code 1.
type NameError struct {
	Input string // e.g. "flag --group", "mapping m.csv line 3 local_group"
	Name  string
	msg   string
}

// Error returns the one-line message.
func (e *NameError) Error() string { return e.msg }
