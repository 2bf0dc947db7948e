package sandbox

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// The default seed's workspace objects live in their own embedded file,
// seeds/default_objects.json, which DefaultSeed attaches to the default seed.
// Other seeds carry objects in each workspace's "objects" section, get them
// through AttachObjects (Go), or, for Synthetic seeds, through the synthetic
// object keys.
//
//go:embed seeds/default_objects.json
var defaultObjectsJSON []byte

// ObjectsFile is the JSON form of a file of workspace objects: the account
// it belongs to and, per workspace id, that workspace's objects section.
type ObjectsFile struct {
	AccountID  string                  `json:"account_id"`
	Workspaces map[string]*SeedObjects `json:"workspaces"`
}

// ParseObjectsFile decodes an objects file strictly (an unknown field is an
// error that names it). References to principals are checked when a server
// loads the objects with their seed.
func ParseObjectsFile(b []byte) (*ObjectsFile, error) {
	var f ObjectsFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, fmt.Errorf("parse objects: %w", err)
	}
	for k, o := range f.Workspaces {
		if n, err := strconv.ParseInt(k, 10, 64); err != nil || n <= 0 {
			return nil, fmt.Errorf("parse objects: workspaces: key %q is not a workspace id", k)
		}
		if o == nil {
			return nil, fmt.Errorf("parse objects: workspaces[%s]: null section", k)
		}
	}
	return &f, nil
}

// AttachTo attaches every workspace section of f to seed (see
// AttachObjects). It fails when f belongs to another account or names a
// workspace the seed does not have; principals are checked when a Server is
// built from the seed.
func (f *ObjectsFile) AttachTo(seed *Seed) error {
	if f.AccountID != seed.AccountID {
		return fmt.Errorf("attach objects: file is for account %q, seed is account %q", f.AccountID, seed.AccountID)
	}
	for _, k := range slices.Sorted(maps.Keys(f.Workspaces)) {
		id, _ := strconv.ParseInt(k, 10, 64)
		if !slices.ContainsFunc(seed.Workspaces, func(w SeedWorkspace) bool { return w.WorkspaceID == id }) {
			return fmt.Errorf("attach objects: workspace %d is not a workspace of the seed", id)
		}
	}
	for k, o := range f.Workspaces {
		id, _ := strconv.ParseInt(k, 10, 64)
		if err := AttachObjects(seed, id, o); err != nil {
			return err
		}
	}
	return nil
}

// AttachObjects sets the objects section of workspace workspaceID of seed
// (nil removes it). A Server built from the seed serves these objects; New
// validates them against the seed's principals. It modifies seed, so it is
// not safe for concurrent use with other uses of the same seed.
func AttachObjects(seed *Seed, workspaceID int64, o *SeedObjects) error {
	for i := range seed.Workspaces {
		if seed.Workspaces[i].WorkspaceID == workspaceID {
			seed.Workspaces[i].Objects = o
			return nil
		}
	}
	return fmt.Errorf("attach objects: workspace %d is not a workspace of the seed", workspaceID)
}

// seedObjects returns the objects sections of seed by workspace id.
func seedObjects(seed *Seed) map[int64]*SeedObjects {
	out := map[int64]*SeedObjects{}
	for _, w := range seed.Workspaces {
		if w.Objects != nil {
			out[w.WorkspaceID] = w.Objects
		}
	}
	return out
}

// validateSeedObjects checks every workspace's objects section: each must
// refer only to the seed's principals and the workspace's own objects.
func validateSeedObjects(seed *Seed) error {
	var errs []error
	for i := range seed.Workspaces {
		if o := seed.Workspaces[i].Objects; o != nil {
			errs = append(errs, validateObjects(fmt.Sprintf("workspaces[%d].objects.", i), seed, &seed.Workspaces[i], o)...)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid seed objects: %w", errors.Join(errs...))
	}
	return nil
}
