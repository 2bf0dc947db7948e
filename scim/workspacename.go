package scim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xrash/smetrics"
)

// maxListedWorkspaces is how many workspaces a WorkspaceNotFoundError lists
// by name; an account with more gets their count.
const maxListedWorkspaces = 10

// WorkspaceNotFoundError is a workspace selector (a --workspace value)
// that names no workspace by id or name. It suggests the closest names and,
// when the account has few workspaces, lists them all.
type WorkspaceNotFoundError struct {
	// Given is the selector as given.
	Given string
	// Closest are the names most like Given, most alike first (at most 3).
	Closest []string
	// Known lists every workspace name when there are at most 10; Count is
	// the number of workspaces.
	Known []string
	Count int
	// Also are further selectors of the same command line that named no
	// workspace either (PickWorkspaces).
	Also []string
}

// NewWorkspaceNotFound describes the selector given that matched none of
// all.
func NewWorkspaceNotFound(given string, all []WorkspaceInfo) *WorkspaceNotFoundError {
	e := &WorkspaceNotFoundError{Given: given, Count: len(all)}
	type scored struct {
		name string
		dist int
	}
	fold := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	// Close: at most a third of the name's length of edits apart (two at
	// least), so that a shared prefix alone does not make names alike.
	limit := max(2, len([]rune(given))/3)
	var close []scored
	seen := map[string]bool{}
	for _, w := range all {
		name := w.Name
		if name == "" {
			name = strconv.FormatInt(w.ID, 10)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if len(all) <= maxListedWorkspaces {
			e.Known = append(e.Known, name)
		}
		if d := smetrics.WagnerFischer(fold(given), fold(name), 1, 1, 1); d <= limit {
			close = append(close, scored{name, d})
		}
	}
	slices.SortStableFunc(close, func(a, b scored) int { return cmp.Compare(a.dist, b.dist) })
	for _, c := range close[:min(len(close), 3)] {
		e.Closest = append(e.Closest, c.name)
	}
	return e
}

// Error names the selector.
func (e *WorkspaceNotFoundError) Error() string {
	if len(e.Also) > 0 {
		q := make([]string, len(e.Also))
		for i, a := range e.Also {
			q[i] = strconv.Quote(a)
		}
		return fmt.Sprintf("--workspace %q (and %s): no workspace has this id or name", e.Given, strings.Join(q, ", "))
	}
	return fmt.Sprintf("--workspace %q: no workspace has this id or name", e.Given)
}

// Hint suggests the closest names and lists the known ones when few.
func (e *WorkspaceNotFoundError) Hint() string {
	var parts []string
	if len(e.Closest) > 0 {
		q := make([]string, len(e.Closest))
		for i, c := range e.Closest {
			q[i] = strconv.Quote(c)
		}
		parts = append(parts, "did you mean "+strings.Join(q, " or ")+"?")
	}
	switch {
	case len(e.Known) > 0:
		parts = append(parts, fmt.Sprintf("the %d workspaces are: %s", len(e.Known), strings.Join(e.Known, ", ")))
	case e.Count > 0:
		parts = append(parts, fmt.Sprintf("the account has %d workspaces: give one's exact name or id", e.Count))
	}
	return strings.Join(parts, " ")
}

// AmbiguousWorkspaceError is a workspace selector that names no workspace
// exactly but several ignoring case.
type AmbiguousWorkspaceError struct {
	Given   string
	Matches []WorkspaceInfo
}

// Error names the selector and the workspaces it matches ignoring case.
func (e *AmbiguousWorkspaceError) Error() string {
	names := make([]string, len(e.Matches))
	for i, w := range e.Matches {
		names[i] = fmt.Sprintf("%q (%d)", w.Name, w.ID)
	}
	return fmt.Sprintf("--workspace %q: names no workspace exactly, and %s ignoring case", e.Given, strings.Join(names, ", "))
}

// Hint says how to name one.
func (e *AmbiguousWorkspaceError) Hint() string { return "give the exact name or the id" }

// PickWorkspaces returns which of infos the selectors (--workspace values,
// taken as given: never trimmed or split) name, in infos' order; nil when
// there is no selector (every workspace). A selector names a workspace by
// its id, or by its exact name, byte for byte (spaces, case, quotes), and
// then every workspace of that name; a selector that matches no name
// exactly may match a single workspace's name ignoring case (not spaces).
// One that matches several only ignoring case is an
// *AmbiguousWorkspaceError; selectors that name nothing are a
// *WorkspaceNotFoundError for the first, naming the others in Also.
// export, audit and handover select workspaces with it.
func PickWorkspaces(infos []WorkspaceInfo, sels []string) ([]bool, error) {
	if len(sels) == 0 {
		return nil, nil
	}
	picked := make([]bool, len(infos))
	var unknown []string
	for _, sel := range sels {
		var hits, folded []int
		for i, w := range infos {
			switch {
			case strconv.FormatInt(w.ID, 10) == sel || w.Name == sel:
				hits = append(hits, i)
			case strings.EqualFold(w.Name, sel):
				folded = append(folded, i)
			}
		}
		switch {
		case len(hits) > 0:
		case len(folded) == 1:
			hits = folded
		case len(folded) > 1:
			e := &AmbiguousWorkspaceError{Given: sel}
			for _, h := range folded {
				e.Matches = append(e.Matches, infos[h])
			}
			return nil, e
		default:
			if !slices.Contains(unknown, sel) {
				unknown = append(unknown, sel)
			}
		}
		for _, h := range hits {
			picked[h] = true
		}
	}
	if len(unknown) > 0 {
		nf := NewWorkspaceNotFound(unknown[0], infos)
		nf.Also = unknown[1:]
		return nil, nf
	}
	return picked, nil
}
