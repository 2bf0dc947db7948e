package sandbox

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSeedFileObjects checks that a seed file carries workspace objects in
// each workspace's "objects" section, parsed strictly and served.
func TestSeedFileObjects(t *testing.T) {
	seed := objTestSeed()
	seed.Workspaces[0].Objects = &SeedObjects{Jobs: []SeedJob{{JobID: 7, Name: "nightly", Creator: "bob@x.test"}}}
	raw, err := json.Marshal(seed)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseSeed(raw)
	if err != nil {
		t.Fatalf("ParseSeed: %v", err)
	}
	srv := newObjServer(t, Options{Seed: parsed})
	var list struct {
		Jobs []wireJob `json:"jobs"`
	}
	objAdmin(t, srv, 100).get("/api/2.2/jobs/list", &list)
	if len(list.Jobs) != 1 || list.Jobs[0].CreatorUserName != "bob@x.test" {
		t.Fatalf("jobs from the seed file: %+v", list.Jobs)
	}

	bad := strings.Replace(string(raw), `"job_id":7`, `"job_id":7,"colour":"red"`, 1)
	if _, err := ParseSeed([]byte(bad)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field in objects: got %v, want an error naming it", err)
	}
}

// TestSyntheticObjectKeys checks that Synthetic accepts the object keys next
// to the identity keys, reproducibly, and rejects unknown keys by name.
func TestSyntheticObjectKeys(t *testing.T) {
	spec := "workspaces=2,users=20,groups=4,members=3,sps=2,jobs=5,clusters=3,tokens=4,seed=3"
	a, err := Synthetic(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Synthetic(spec)
	for i, w := range a.Workspaces {
		if w.Objects == nil || len(w.Objects.Jobs) != 5 || len(w.Objects.Clusters) != 3 || len(w.Objects.Tokens) != 4 {
			t.Fatalf("workspace %d objects: %+v", w.WorkspaceID, w.Objects)
		}
		ja, _ := json.Marshal(w.Objects)
		jb, _ := json.Marshal(b.Workspaces[i].Objects)
		if string(ja) != string(jb) {
			t.Errorf("workspace %d: objects differ between two runs of the same spec", w.WorkspaceID)
		}
	}
	if _, err := New(Options{Seed: a}); err != nil {
		t.Fatalf("serving a synthetic seed with objects: %v", err)
	}
	if _, err := Synthetic("workspaces=1,gizmos=3"); err == nil || !strings.Contains(err.Error(), "gizmos") {
		t.Errorf("unknown key: got %v, want an error naming it", err)
	}
}
