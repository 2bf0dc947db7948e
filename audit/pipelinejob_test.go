package audit

import (
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestAuditPipelineUpdatedByScheduledJob: a triggered pipeline that runs
// as the audited identity is idle between updates, but bob's scheduled job
// updates it (a pipeline task): its next update fails, so it breaks; the
// same pipeline updated only by a paused job does not break (it is
// orphaned here: erin alone manages it).
func TestAuditPipelineUpdatedByScheduledJob(t *testing.T) {
	seed := testSeed(t)
	const active, paused = "4d3c2b1a-0000-4000-8000-00000000a001", "4d3c2b1a-0000-4000-8000-00000000a002"
	for i := range seed.Workspaces {
		w := &seed.Workspaces[i]
		if w.WorkspaceID != 1001 {
			continue
		}
		w.Objects.Pipelines = append(w.Objects.Pipelines,
			sandbox.SeedPipeline{PipelineID: active, Name: "erin-nightly-dlt", Creator: "erin@corp.test", State: "IDLE"},
			sandbox.SeedPipeline{PipelineID: paused, Name: "erin-paused-dlt", Creator: "erin@corp.test", State: "IDLE"})
		w.Objects.Jobs = append(w.Objects.Jobs,
			sandbox.SeedJob{JobID: 1960, Name: "bob-runs-erin-dlt", Creator: "bob@corp.test",
				Schedule: &sandbox.SeedSchedule{QuartzCronExpression: "0 0 4 * * ?", TimezoneID: "UTC"},
				Tasks:    []sandbox.SeedTask{{TaskKey: "refresh", PipelineID: active}}},
			sandbox.SeedJob{JobID: 1961, Name: "bob-paused-dlt", Creator: "bob@corp.test",
				Schedule: &sandbox.SeedSchedule{QuartzCronExpression: "0 0 4 * * ?", TimezoneID: "UTC", PauseStatus: "PAUSED"},
				Tasks:    []sandbox.SeedTask{{TaskKey: "refresh", PipelineID: paused}}})
	}
	e := newEnv(t, sandbox.Options{Seed: seed}, nil)
	r, err := e.runJSON(t, Options{Users: []string{"erin@corp.test"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	f := findingFor(t, r, "erin@corp.test", KindPipeline, "erin-nightly-dlt")
	if f.Severity != SeverityBreaks || !strings.Contains(f.Reason, `job "bob-runs-erin-dlt" updates it`) {
		t.Errorf("updated by a scheduled job: %s (%s)", row(f), f.Reason)
	}
	if f := findingFor(t, r, "erin@corp.test", KindPipeline, "erin-paused-dlt"); f.Severity == SeverityBreaks {
		t.Errorf("updated by a paused job: %s (%s)", row(f), f.Reason)
	}
}
