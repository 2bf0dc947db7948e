package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/listing"
	"github.com/databricks/databricks-sdk-go/service/jobs"
)

// manyTasksSeed is the default seed with job 4100 of 250 notebook tasks in
// acme-prod.
func manyTasksSeed() *Seed {
	s := DefaultSeed()
	j := SeedJob{JobID: 4100, Name: "many-tasks", Creator: "elena.patel@acme.test"}
	for i := range 250 {
		j.Tasks = append(j.Tasks, SeedTask{TaskKey: fmt.Sprintf("t%03d", i), NotebookPath: fmt.Sprintf("/Users/elena.patel@acme.test/nb/%03d", i)})
	}
	for i := range s.Workspaces {
		if s.Workspaces[i].WorkspaceID == wsProd {
			s.Workspaces[i].Objects.Jobs = append(s.Workspaces[i].Objects.Jobs, j)
		}
	}
	return s
}

// TestJobsTasksPaged: read endpoints return at most 100 tasks of a job
// (SDK v0.175.0 JobSettings.Tasks): jobs/list with expand_tasks marks a job
// with more as has_more, and jobs/get pages the rest with next_page_token.
// The official SDK's Jobs.Get and Jobs.List (which follow them) see all 250;
// its ListAll does not.
func TestJobsTasksPaged(t *testing.T) {
	srv := newObjServer(t, Options{Seed: manyTasksSeed()})
	c := objAdmin(t, srv, wsProd)
	var list struct {
		Jobs []struct {
			JobID    int64 `json:"job_id"`
			HasMore  bool  `json:"has_more"`
			Settings struct {
				Tasks []struct {
					TaskKey string `json:"task_key"`
				} `json:"tasks"`
			} `json:"settings"`
		} `json:"jobs"`
	}
	c.get("/api/2.2/jobs/list?limit=100&expand_tasks=true", &list)
	seen := false
	for _, j := range list.Jobs {
		switch {
		case j.JobID == 4100:
			seen = true
			if !j.HasMore || len(j.Settings.Tasks) != 100 || j.Settings.Tasks[99].TaskKey != "t099" {
				t.Errorf("listed job 4100: has_more %v, %d tasks", j.HasMore, len(j.Settings.Tasks))
			}
		case j.HasMore:
			t.Errorf("job %d has_more with %d tasks", j.JobID, len(j.Settings.Tasks))
		}
	}
	if !seen {
		t.Fatal("job 4100 not listed")
	}
	var keys []string
	q := url.Values{"job_id": {"4100"}}
	for page := 0; ; page++ {
		var g struct {
			NextPageToken string `json:"next_page_token"`
			Settings      struct {
				Tasks []struct {
					TaskKey string `json:"task_key"`
				} `json:"tasks"`
			} `json:"settings"`
		}
		c.get("/api/2.2/jobs/get?"+q.Encode(), &g)
		if n := len(g.Settings.Tasks); n > 100 {
			t.Fatalf("jobs/get page %d has %d tasks", page, n)
		}
		for _, x := range g.Settings.Tasks {
			keys = append(keys, x.TaskKey)
		}
		if g.NextPageToken == "" {
			break
		}
		if page > 5 {
			t.Fatal("jobs/get pages do not end")
		}
		q.Set("page_token", g.NextPageToken)
	}
	if len(keys) != 250 || keys[0] != "t000" || keys[249] != "t249" {
		t.Errorf("jobs/get pages gave %d tasks (%v ... )", len(keys), keys[:min(3, len(keys))])
	}
	if st, _ := c.call(http.MethodGet, "/api/2.2/jobs/get?job_id=4100&page_token=bogus"); st != http.StatusBadRequest {
		t.Errorf("bad page token: status %d", st)
	}

	w := objSDK(t, srv, wsProd)
	ctx := context.Background()
	j, err := w.Jobs.Get(ctx, jobs.GetJobRequest{JobId: 4100})
	if err != nil || len(j.Settings.Tasks) != 250 {
		t.Fatalf("SDK Jobs.Get: %d tasks, %v", len(j.Settings.Tasks), err)
	}
	all, err := listing.ToSlice(ctx, w.Jobs.List(ctx, jobs.ListJobsRequest{ExpandTasks: true}))
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range all {
		if j.JobId == 4100 && (len(j.Settings.Tasks) != 250 || j.HasMore) {
			t.Errorf("SDK Jobs.List: job 4100 has %d tasks, has_more %v", len(j.Settings.Tasks), j.HasMore)
		}
	}
}

// TestJobPipelineTask: a seeded pipeline task is a job task with
// pipeline_task.pipeline_id, as the SDK reads it; a task naming no
// pipeline of the workspace is a seed error.
func TestJobPipelineTask(t *testing.T) {
	s := DefaultSeed()
	const dlt = "edc846dc-9e46-4dab-999b-673b4e6c9624" // sales-dlt in acme-prod
	for i := range s.Workspaces {
		if s.Workspaces[i].WorkspaceID == wsProd {
			s.Workspaces[i].Objects.Jobs = append(s.Workspaces[i].Objects.Jobs,
				SeedJob{JobID: 4101, Name: "refresh-sales-dlt", Creator: "elena.patel@acme.test",
					Tasks: []SeedTask{{TaskKey: "refresh", PipelineID: dlt}}})
		}
	}
	srv := newObjServer(t, Options{Seed: s})
	j, err := objSDK(t, srv, wsProd).Jobs.Get(context.Background(), jobs.GetJobRequest{JobId: 4101})
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Settings.Tasks) != 1 || j.Settings.Tasks[0].PipelineTask == nil || j.Settings.Tasks[0].PipelineTask.PipelineId != dlt ||
		j.Settings.Tasks[0].NotebookTask != nil {
		t.Errorf("tasks = %+v", j.Settings.Tasks)
	}
	for i := range s.Workspaces {
		if s.Workspaces[i].WorkspaceID == wsProd {
			js := s.Workspaces[i].Objects.Jobs
			js[len(js)-1].Tasks[0].PipelineID = "00000000-0000-4000-8000-000000000000"
		}
	}
	if _, err := New(Options{Seed: s}); err == nil || !strings.Contains(err.Error(), "is not a pipeline of the workspace") {
		t.Errorf("unknown pipeline: err = %v", err)
	}
}
