package audit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// manyTasksSeed is coverageSeed plus bob's scheduled job of 150 tasks in
// ws-main whose 131st runs a notebook in erin's home folder: jobs/list
// shows only its first 100 tasks (has_more).
func manyTasksSeed(t *testing.T) *sandbox.Seed {
	seed := coverageSeed(t)
	j := sandbox.SeedJob{JobID: 1950, Name: "bob-many-tasks", Creator: "bob@corp.test",
		Schedule: &sandbox.SeedSchedule{QuartzCronExpression: "0 0 3 * * ?", TimezoneID: "UTC"}}
	for i := range 150 {
		p := fmt.Sprintf("/Users/bob@corp.test/steps/%03d", i)
		if i == 130 {
			p = "/Users/erin@corp.test/etl/late-step"
		}
		j.Tasks = append(j.Tasks, sandbox.SeedTask{TaskKey: fmt.Sprintf("t%03d", i), NotebookPath: p})
	}
	for i := range seed.Workspaces {
		w := &seed.Workspaces[i]
		if w.WorkspaceID == 1001 {
			w.Objects.Jobs = append(w.Objects.Jobs, j)
			w.Objects.WorkspaceObjects = append(w.Objects.WorkspaceObjects, sandbox.SeedWorkspaceObject{Path: "/Users/erin@corp.test/etl/late-step"})
		}
	}
	return seed
}

// TestAuditJobTasksBeyondTheList: a job's tasks past the 100 that
// jobs/list shows are read with jobs/get, so a home-folder notebook that
// only a later task runs is found; when that read fails, workspace files
// are not covered (never "no findings").
func TestAuditJobTasksBeyondTheList(t *testing.T) {
	e := newEnv(t, sandbox.Options{Seed: manyTasksSeed(t)}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"erin@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	f := findingFor(t, r, "erin@corp.test", KindWorkspaceFile, "/Users/erin@corp.test/etl/late-step")
	if f.Severity != SeverityBreaks || !strings.Contains(f.Detail("used_by"), `job "bob-many-tasks"`) {
		t.Errorf("late step: %s, used by %q", row(f), f.Detail("used_by"))
	}

	if err := e.srv.AddFault(sandbox.Fault{Method: "GET", PathRegexp: `^/api/2\.2/jobs/get$`, Status: 500}); err != nil {
		t.Fatal(err)
	}
	r, err = e.runJSON(t, Options{Users: []string{"erin@corp.test"}})
	var pe *PartialError
	if !errors.As(err, &pe) || !slices.ContainsFunc(pe.NotCovered, func(s string) bool { return strings.HasSuffix(s, ": "+string(KindWorkspaceFile)) }) {
		t.Fatalf("err = %v, want workspace files not covered", err)
	}
	for _, f := range r.Findings {
		if f.Severity == SeverityNotCovered && f.Kind == KindWorkspaceFile && !strings.Contains(f.Reason, "more than 100 tasks") {
			t.Errorf("gap reason %q", f.Reason)
		}
	}
}
