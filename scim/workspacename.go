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
