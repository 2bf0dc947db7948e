package sandbox

import (
	"slices"
	"testing"
)

// TestDefaultSeedGrantsOnMLObjectsAreListed: every experiment and
// registered model that the default seed grants a permission on is an
// object its workspace lists, as in a real workspace. The demo granted
// acme-ml's groups an experiment and a registered model that no list
// showed (the model's id was not even a valid one), so migrate plan
// could not record those grants, and the README's runbook ended with a
// rollback that reported every group restored while they were lost.
func TestDefaultSeedGrantsOnMLObjectsAreListed(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed})
	for _, sw := range seed.Workspaces {
		if sw.Grants == nil {
			continue
		}
		srv.mu.Lock()
		ml := srv.ml(srv.st.wsByID[sw.WorkspaceID])
		var exps, models []string
		for _, e := range ml.experiments {
			exps = append(exps, e.ExperimentID)
		}
		for _, m := range ml.models {
			models = append(models, m.ID)
		}
		srv.mu.Unlock()
		for _, o := range sw.Grants.Objects {
			switch {
			case o.ObjectType == "experiments" && !slices.Contains(exps, o.ObjectID):
				t.Errorf("workspace %s grants on experiments/%s, which its experiments list does not show (%v)", sw.WorkspaceName, o.ObjectID, exps)
			case o.ObjectType == "registered-models" && !slices.Contains(models, o.ObjectID):
				t.Errorf("workspace %s grants on registered-models/%s, which its registered models list does not show (%v)", sw.WorkspaceName, o.ObjectID, models)
			}
		}
	}
}
