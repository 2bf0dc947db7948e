package audit

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
)

// TestAuditWorkspaceNamesExact: --workspace names a workspace by id or by
// its exact name, spaces and case included ("prod ws" is not "Prod WS",
// and " ml " keeps its spaces); a name that matches none exactly may match
// one workspace ignoring case, never several.
func TestAuditWorkspaceNamesExact(t *testing.T) {
	seed := testSeed(t)
	names := map[int64]string{1001: "prod ws", 1002: "Prod WS", 1003: " ml 🚀 "}
	for i := range seed.Workspaces {
		w := &seed.Workspaces[i]
		w.WorkspaceName = names[w.WorkspaceID]
	}
	e := newEnv(t, sandbox.Options{Seed: seed}, nil)
	audited := func(sel ...string) ([]string, error) {
		r, err := e.runJSON(t, Options{Users: []string{"alice@corp.test"}, Workspaces: sel})
		var got []string
		for _, w := range r.Workspaces {
			got = append(got, w.Name)
		}
		return got, err
	}
	for _, c := range []struct {
		sel  []string
		want []string
	}{
		{[]string{"prod ws"}, []string{"prod ws"}},
		{[]string{"Prod WS"}, []string{"Prod WS"}},
		{[]string{" ml 🚀 "}, []string{" ml 🚀 "}},
		{[]string{" ML 🚀 "}, []string{" ml 🚀 "}}, // unique ignoring case
		{[]string{"1002", "prod ws"}, []string{"prod ws", "Prod WS"}},
	} {
		got, err := audited(c.sel...)
		if err != nil {
			t.Errorf("--workspace %q: %v", c.sel, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("--workspace %q audited %q, want %q", c.sel, got, c.want)
		}
	}
	for _, sel := range []string{"ml 🚀", "PROD WS"} {
		_, err := audited(sel)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(ie.Input, sel) {
			t.Errorf("--workspace %q: err = %v, want an InputError", sel, err)
		}
	}
}
