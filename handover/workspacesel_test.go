package handover

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanWorkspaceSelection: --workspace follows the rule export and
// audit share (scim.PickWorkspaces): an id or the exact name, and ignoring
// case only when that names one workspace; a name with an extra space is
// another name, refused with the closest one suggested.
func TestPlanWorkspaceSelection(t *testing.T) {
	srv := newServer(t)
	d, _, _ := deps(srv)
	dir := t.TempDir()
	for i, c := range []struct {
		sels []string
		want string
	}{
		{[]string{"ACME-PROD"}, "acme-prod"},
		{[]string{"6051921418418893"}, "acme-ml"},
	} {
		out := filepath.Join(dir, "p"+strings.Repeat("x", i)+".json")
		o := PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Kinds: []string{KindJob}, Workspaces: c.sels, Out: out, ToolVersion: "test"}
		var pe *PartialError
		if err := RunPlan(context.Background(), o, d); err != nil && !errors.As(err, &pe) {
			t.Fatalf("%q: %v", c.sels, err)
		}
		p, _, err := ReadPlan(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Workspaces) != 1 || p.Workspaces[0].WorkspaceName != c.want {
			t.Errorf("%q planned %+v, want %s", c.sels, p.Workspaces, c.want)
		}
	}
	o := PlanOptions{From: []string{"user:" + elena}, To: "user:" + dana, Workspaces: []string{" acme-prod"}, Out: filepath.Join(dir, "bad.json")}
	err := RunPlan(context.Background(), o, d)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `--workspace " acme-prod": no such workspace`) || !strings.Contains(ie.Fix, `did you mean "acme-prod"?`) {
		t.Errorf("err = %v, want the closest name suggested", err)
	}
}
