package handover

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dbiam/dbiam/reports"
)

// objectLabel names a change's object for people.
func objectLabel(kind, id, name string) string {
	if name == "" || name == id {
		return kind + " " + id
	}
	return fmt.Sprintf("%s %s (%s)", kind, id, name)
}

// manageLevel is the level a manage change gives the successor: MANAGE on
// a secret scope (its ACLs have no CAN_MANAGE), CAN_MANAGE elsewhere.
func manageLevel(kind string) string {
	if kind == KindSecretScope {
		return "MANAGE"
	}
	return "CAN_MANAGE"
}

// describe says what a change does, in one line.
func describe(c Change) string {
	switch c.Action {
	case ActionOwner:
		return "owner " + c.From.String() + " -> " + c.To.String()
	case ActionRunAs:
		return "run as " + c.From.String() + " -> " + c.To.String()
	case ActionSingleUser:
		return "dedicated to " + c.From.String() + " -> " + c.To.String()
	case ActionManage:
		return "only manager " + c.From.String() + ": " + manageLevel(c.Kind) + " for " + c.To.String()
	case ActionRevoke:
		return "revoke the token of " + c.Identity + " (irreversible)"
	case ActionDeactivate:
		return "deactivate " + c.Identity + " at account level (active: false; restorable)"
	case ActionUnassign:
		return "remove the direct assignment of " + c.Identity + " (" + strings.Join(c.Permissions, ",") + ")"
	}
	return c.Action
}

// printPlan writes the plan for review on stdout: one row per change,
// then the conflicts and what is left as it is, then a summary line.
func printPlan(s *reports.Streams, p *Plan) error {
	tp := reports.NewTablePrinter(s)
	tp.SetColumns(reports.Column{Name: "phase"}, reports.Column{Name: "identity"}, reports.Column{Name: "workspace"},
		reports.Column{Name: "object"}, reports.Column{Name: "change"}, reports.Column{Name: "note"})
	tp.Wrap("change", "note") // from whom to whom, and why it matters: never cut
	both := map[string]bool{} // clusters whose owner and dedicated user change
	for _, c := range p.Changes {
		if c.Restart && c.Action == ActionSingleUser {
			both[objectKey(c)] = slices.ContainsFunc(p.Changes, func(o Change) bool {
				return o.Restart && o.Action == ActionOwner && objectKey(o) == objectKey(c)
			})
		}
	}
	for _, c := range p.Changes {
		note := ""
		switch {
		case c.Restart && c.Action == ActionOwner && both[objectKey(c)]:
			note = "the cluster is " + c.State + ": apply terminates it, changes the owner and the dedicated user and starts it again (one restart)"
		case c.Restart && c.Action == ActionOwner:
			note = "the cluster is " + c.State + ": apply terminates it, changes the owner and starts it again"
		case c.Restart && both[objectKey(c)]:
			note = "the cluster is " + c.State + ": changed while it is terminated for its owner change (the same restart)"
		case c.Restart:
			note = "the cluster is " + c.State + ": the change restarts it"
		case c.Irreversible:
			note = "irreversible: rollback cannot bring a revoked token back"
		}
		if err := tp.AddRow(phaseName(c.Phase), c.Identity, c.Workspace, objectLabel(c.Kind, c.ObjectID, c.ObjectName), describe(c), note); err != nil {
			return err
		}
	}
	if err := tp.Render(); err != nil {
		return err
	}
	w := s.Out
	if len(p.Conflicts) > 0 {
		fmt.Fprintf(w, "\nBlocking conflicts (apply refuses this plan until each is fixed):\n")
		for _, c := range p.Conflicts {
			where := c.Workspace
			if where == "" {
				where = "account"
			}
			obj := c.Kind
			if c.ObjectID != "" {
				obj = objectLabel(c.Kind, c.ObjectID, c.ObjectName)
			}
			fmt.Fprintf(w, "  %s %s: %s; fix: %s\n", where, obj, c.Reason, c.Fix)
		}
	}
	if len(p.LeftAsIs) > 0 {
		fmt.Fprintf(w, "\nLeft as they are:\n")
		for _, n := range p.LeftAsIs {
			fmt.Fprintf(w, "  %s %s of %s: %s\n", n.Workspace, objectLabel(n.Kind, n.ObjectID, n.ObjectName), n.Identity, n.Reason)
		}
	}
	writePlanSummary(w, p)
	return nil
}

func phaseName(ph int) string {
	switch ph {
	case PhaseObjects:
		return "1 objects"
	case PhaseDeactivate:
		return "2 deactivate"
	case PhaseTokens:
		return "3 tokens"
	}
	return fmt.Sprint(ph)
}

// planCounts counts a plan's changes by phase, and the running clusters
// apply restarts (once each, however many of their changes need it).
func planCounts(p *Plan) (objects, deactivate, tokens, restarts int) {
	clusters := map[string]bool{}
	for _, c := range p.Changes {
		switch c.Phase {
		case PhaseObjects:
			objects++
		case PhaseDeactivate:
			deactivate++
		case PhaseTokens:
			tokens++
		}
		if c.Restart && !clusters[objectKey(c)] {
			clusters[objectKey(c)] = true
			restarts++
		}
	}
	return
}

func writePlanSummary(w io.Writer, p *Plan) {
	objects, deact, tokens, restarts := planCounts(p)
	changed := map[int64]bool{}
	for _, c := range p.Changes {
		if c.Phase == PhaseObjects {
			changed[c.WorkspaceID] = true
		}
	}
	fmt.Fprintf(w, "\nPlan: %s in %d of the %d workspaces read", plural(objects, "object change"), len(changed), len(p.Workspaces))
	if restarts > 0 {
		fmt.Fprintf(w, " (%s restarted once each)", plural(restarts, "running cluster"))
	}
	if deact > 0 {
		fmt.Fprintf(w, ", %s", plural(deact, "deactivation change"))
	}
	if tokens > 0 {
		fmt.Fprintf(w, ", %s (IRREVERSIBLE)", plural(tokens, "token revocation"))
	}
	left := plural(len(p.LeftAsIs), "object") + " left as they are"
	if len(p.LeftAsIs) == 1 {
		left = "1 object left as it is"
	}
	fmt.Fprintf(w, ", %s, %s\n", plural(len(p.Conflicts), "blocking conflict"), left)
}
