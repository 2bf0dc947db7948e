package migrate

import (
	"slices"

	"github.com/dbiam/dbiam/sandbox"
)

// treeSeedGrant reports whether a grant type is one of the workspace tree's
// (notebooks, directories, files) that migrate plan baselines only with
// --read-workspace-tree (home folders aside): the default seed grants groups
// levels on folders and notebooks of its workspaces' trees. Without the flag
// the permission migration API still moves those grants, and rollback
// cannot put them back.
func treeSeedGrant(typ string) bool {
	return slices.Contains([]string{"directories", "notebooks", "files"}, typ)
}

// readableSeed is the default seed, every grant of which a plan with
// ReadWorkspaceTree reads (treePlan): a test that expects rollback to restore
// the seed exactly plans with it. TestRollbackSaysWhatItCannotPutBack covers
// the default flags, which leave the tree's grants out of the baseline.
func readableSeed() *sandbox.Seed {
	return sandbox.DefaultSeed()
}

// treePlan is o with ReadWorkspaceTree set: the plan's baseline holds the
// groups' grants on the workspace tree, so rollback can put back all that
// the permission migration API moved.
func treePlan(o PlanOptions) PlanOptions {
	o.ReadWorkspaceTree = true
	return o
}
