package migrate

import (
	"slices"

	"github.com/dbiam/dbiam/sandbox"
)

// unlistedSeedGrant reports whether a grant of the default seed's "grants"
// sections is on an object that no list of the sandbox shows: those
// sections grant on directories and notebooks whose ids no object family
// seeds, so no plan discovers them (the jobs, clusters, warehouses,
// experiments and registered models they name are seeded). The permission
// migration API moves those grants too, and rollback cannot put them back.
func unlistedSeedGrant(typ string) bool {
	return slices.Contains([]string{"directories", "notebooks"}, typ)
}

// readableSeed is the default seed without the grants that no plan can
// discover (unlistedSeedGrant): a test that expects rollback to restore the
// seed exactly starts from it. TestRollbackSaysWhatItCannotPutBack covers
// the default seed.
func readableSeed() *sandbox.Seed {
	s := sandbox.DefaultSeed()
	for i := range s.Workspaces {
		if g := s.Workspaces[i].Grants; g != nil {
			g.Objects = slices.DeleteFunc(g.Objects, func(o sandbox.SeedObjectACL) bool { return unlistedSeedGrant(o.ObjectType) })
		}
	}
	return s
}
