package migrate

import (
	"slices"

	"github.com/dbiam/dbiam/sandbox"
)

// readableKinds are the object types whose ACLs the plan reads (the
// request types of planACLListers, and the sandbox's aliases of them).
func readableKind(typ string) bool {
	switch typ {
	case "sql/warehouses", "sql/queries", "sql/alerts", "authorization/tokens", "authorization/passwords":
		return true
	}
	return slices.ContainsFunc(planACLListers, func(l aclLister) bool { return l.typ == typ })
}

// readableSeed is the default seed without the grants on object kinds
// dbiam does not read (directories, notebooks, experiments, registered
// models): the permission migration API moves those too, and rollback
// cannot put them back (it never recorded them), so a test that expects
// rollback to restore the seed exactly starts from this seed.
// TestRollbackSaysWhatItCannotPutBack covers the default seed.
func readableSeed() *sandbox.Seed {
	s := sandbox.DefaultSeed()
	for i := range s.Workspaces {
		if g := s.Workspaces[i].Grants; g != nil {
			g.Objects = slices.DeleteFunc(g.Objects, func(o sandbox.SeedObjectACL) bool { return !readableKind(o.ObjectType) })
		}
	}
	return s
}
