package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Confirmation. apply, finalize and rollback change production access, so
// before their first change they show what they will change (counts per
// workspace) and, on a terminal, ask; only "yes" goes on. --yes skips the
// question. Off a terminal (a script, CI) they refuse without --yes, like
// "terraform apply" without -auto-approve. A dry run, or a run with
// nothing to change, asks nothing.

// ErrNotConfirmed is matched (errors.Is) by the error of a run that was
// not confirmed: the answer was not "yes", or stdin is not a terminal and
// --yes was not given. Nothing was changed.
var ErrNotConfirmed = errors.New("not confirmed")

// changeSummary is what a command is about to change: one line per place
// (the account, each workspace), and how many changes in all.
type changeSummary struct {
	lines []string
	n     int
}

// add appends a line for place when count > 0.
func (c *changeSummary) add(place string, count int, what string) {
	if count <= 0 {
		return
	}
	c.lines = append(c.lines, fmt.Sprintf("%s: %s", place, what))
	c.n += count
}

// wsPlace names a workspace in a summary line.
func wsPlace(ws *WorkspacePlan) string {
	return fmt.Sprintf("workspace %s (%d)", ws.WorkspaceName, ws.WorkspaceID)
}

// confirm asks, on a terminal, whether to make the changes in c, and
// returns an error matching ErrNotConfirmed unless the answer is "yes".
// It returns nil at once with yes, or when c has no change. verb is what
// the question asks to do ("apply", "finalize", "roll back").
func confirm(ctx context.Context, d Deps, op, verb string, yes bool, p *Plan, c changeSummary) error {
	if yes || c.n == 0 {
		return nil
	}
	head := fmt.Sprintf("migrate %s will change account %s:", op, p.AccountID)
	if d.Streams == nil || !d.Streams.IsStdinTTY() {
		return fmt.Errorf("migrate %s: %w: stdin is not a terminal, so it cannot ask before it changes %s; pass --yes to make the changes (nothing was changed)",
			op, ErrNotConfirmed, strings.Join(c.lines, "; "))
	}
	var b strings.Builder
	b.WriteString(head + "\n")
	for _, l := range c.lines {
		b.WriteString("  " + l + "\n")
	}
	fmt.Fprintf(&b, "Do you want to %s these changes? Only 'yes' will be accepted: ", verb)
	if _, err := io.WriteString(d.Streams.Err, b.String()); err != nil {
		return fmt.Errorf("migrate %s: ask for confirmation: %w", op, err)
	}
	answer, err := readLine(ctx, d.Streams.In)
	if err != nil {
		return fmt.Errorf("migrate %s: read the answer: %w (nothing was changed)", op, err)
	}
	if strings.TrimSpace(answer) != "yes" {
		return fmt.Errorf("migrate %s: %w (the answer was %q; only \"yes\" confirms): nothing was changed", op, ErrNotConfirmed, strings.TrimSpace(answer))
	}
	return nil
}

// readLine reads one line from r, giving up when ctx is done (Ctrl-C at
// the question). A closed stdin gives io.ErrUnexpectedEOF.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if errors.Is(err, io.EOF) {
			if line == "" {
				err = io.ErrUnexpectedEOF
			} else {
				err = nil
			}
		}
		ch <- result{line, err}
	}()
	select {
	case res := <-ch:
		return res.line, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// applyChanges summarises what apply will change for groups (the groups
// in scope, canary included): per workspace the groups to migrate, and
// the account groups to create or reuse.
func applyChanges(ex *executor, groups []groupRef) changeSummary {
	var c changeSummary
	create, reuse := 0, 0
	ex.markNeeded(groups)
	for _, key := range ex.agOrder() {
		a := ex.ags[key]
		if v := ex.view(accountGroupStepID(key)); !a.needed || (v != nil && v.State == StateDone) {
			continue
		}
		if a.plan.ExistingID != "" {
			reuse++
		} else {
			create++
		}
	}
	what := fmt.Sprintf("create %d account groups with their members", create)
	if reuse > 0 {
		what += fmt.Sprintf(", add missing members to %d existing ones", reuse)
	}
	c.add("account", create+reuse, what)
	for _, ws := range workspacesOf(groups) {
		todo, done := 0, 0
		for _, gr := range groups {
			if gr.ws != ws {
				continue
			}
			if ex.groupDone(ws.WorkspaceID, gr.g.LocalID) {
				done++
			} else {
				todo++
			}
		}
		what := fmt.Sprintf("migrate %d local groups", todo)
		if done > 0 {
			what += fmt.Sprintf("; %d already done", done)
		}
		c.add(wsPlace(ws), todo, what)
	}
	return c
}

// workspacesOf returns the workspaces of groups, in order of first
// appearance.
func workspacesOf(groups []groupRef) []*WorkspacePlan {
	var out []*WorkspacePlan
	for _, gr := range groups {
		if !slices.Contains(out, gr.ws) {
			out = append(out, gr.ws)
		}
	}
	return out
}

// finalizeChanges summarises what finalize may delete: per workspace the
// backups of the selected groups that apply finished and finalize has
// not deleted (each is checked again before it goes).
func finalizeChanges(ex *executor, filter []string) changeSummary {
	var c changeSummary
	groups := activeGroups(ex.plan)
	for _, ws := range workspacesOf(groups) {
		n := 0
		for _, gr := range groups {
			ag := findAG(ex.plan, gr.g.AccountGroupKey)
			if gr.ws == ws && selected(filter, gr.g.LocalName, ag.DisplayName) &&
				ex.groupDone(ws.WorkspaceID, gr.g.LocalID) && !ex.finalized(ws.WorkspaceID, gr.g.LocalID) {
				n++
			}
		}
		c.add(wsPlace(ws), n, fmt.Sprintf("delete up to %d backup groups (those that verify cleanly; finalize cannot be undone)", n))
	}
	return c
}

// rollbackChanges summarises what rollback may undo: per workspace the
// selected groups with something to undo (finalized ones are refused),
// and the account groups dbiam created or added members to.
func rollbackChanges(ex *executor, filter []string) changeSummary {
	var c changeSummary
	groups := activeGroups(ex.plan)
	for _, ws := range workspacesOf(groups) {
		n, fin, grants := 0, 0, 0
		for _, gr := range groups {
			ag := findAG(ex.plan, gr.g.AccountGroupKey)
			if gr.ws != ws || !selected(filter, gr.g.LocalName, ag.DisplayName) || !ex.groupTouched(gr) {
				continue
			}
			if ex.finalized(ws.WorkspaceID, gr.g.LocalID) {
				fin++
			} else {
				n++
				grants += movedGrantsBound(ex, gr)
			}
		}
		what := fmt.Sprintf("roll back up to %d local groups", n)
		if grants > 0 {
			what += fmt.Sprintf(", putting back up to %d grants the permission migration moved (of the plan's baselines; what it cannot put back is said before the first change)", grants)
		}
		if fin > 0 {
			what += fmt.Sprintf("; %d finalized groups cannot be rolled back and are left as they are", fin)
		}
		c.add(wsPlace(ws), n, what)
	}
	ags := 0
	for i := range ex.plan.AccountGroups {
		ag := &ex.plan.AccountGroups[i]
		if !ex.touched(accountGroupStepID(ag.Key)) {
			continue
		}
		if len(filter) == 0 || namesAGOrSource(ex, ag, filter) {
			ags++
		}
	}
	c.add("account", ags, fmt.Sprintf("delete up to %d account groups dbiam created, or remove the members it added to existing ones", ags))
	return c
}

// namesAGOrSource reports whether the filter names ag or one of its
// local groups.
func namesAGOrSource(ex *executor, ag *AccountGroupPlan, filter []string) bool {
	for _, gr := range activeGroups(ex.plan) {
		if gr.g.AccountGroupKey == ag.Key && selected(filter, gr.g.LocalName, ag.DisplayName) {
			return true
		}
	}
	return false
}
