package migrate

import (
	"fmt"

	"github.com/dbiam/dbiam/migrate/internal/groupname"
)

// reconcileConflicts runs after build: a conflict listed as resolved by
// the policy (non-blocking) whose groups did not all migrate is marked
// blocking, and its detail names the groups left out, so that the summary
// never lists a conflict as resolved while its groups are skipped. This
// happens with --on-conflict per-workspace when a per-workspace name
// cannot be used either (two groups of one workspace with different
// members, a per-workspace name that is taken or exists with other
// members).
func (b *planBuilder) reconcileConflicts() {
	for i := range b.conflicts {
		c := &b.conflicts[i]
		if c.Blocking {
			continue
		}
		var skipped []string
		for _, n := range b.conflictNodes(c) {
			if n.blocked != "" {
				skipped = append(skipped, n.planLabel())
			}
		}
		if len(skipped) == 0 {
			continue
		}
		c.Blocking = true
		c.Detail += fmt.Sprintf("; not resolved by on-conflict %s for %s, skipped (see their own conflicts)",
			b.settings.OnConflict, summarize(skipped, 5))
	}
}

// conflictNodes returns the selected local groups a conflict is about:
// for same-name and existing-differs conflicts the groups whose target
// is its group name (in its workspace, if it names one); for the others
// the local group it names in its workspace.
func (b *planBuilder) conflictNodes(c *Conflict) []*planNode {
	var out []*planNode
	for _, n := range b.nodes {
		if c.WorkspaceID != 0 && n.ws.info.ID != c.WorkspaceID {
			continue
		}
		switch c.Kind {
		case ConflictSameName, ConflictExistingDiffers:
			if n.target != "" && groupname.Fold(n.target) == groupname.Fold(c.Group) {
				out = append(out, n)
			}
		case ConflictTargetTaken, ConflictCycle, ConflictParentNotMigrated:
			if c.WorkspaceID != 0 && n.g.DisplayName == c.Group {
				out = append(out, n)
			}
		}
	}
	return out
}
