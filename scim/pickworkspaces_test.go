package scim

import (
	"errors"
	"slices"
	"testing"
)

// TestPickWorkspaces: the one rule export, audit and handover share for
// --workspace: id or exact name (every workspace of that name), ignoring
// case only when that names one workspace; never trimmed or split.
func TestPickWorkspaces(t *testing.T) {
	infos := []WorkspaceInfo{{ID: 1, Name: "prod ws"}, {ID: 2, Name: "Prod WS"}, {ID: 3, Name: " ml 🚀 "},
		{ID: 4, Name: "twin"}, {ID: 5, Name: "twin"}, {ID: 6, Name: "a,b"}, {ID: 7, Name: "Solo"}}
	pick := func(sels ...string) []int64 {
		t.Helper()
		p, err := PickWorkspaces(infos, sels)
		if err != nil {
			t.Fatalf("%q: %v", sels, err)
		}
		var ids []int64
		for i, ok := range p {
			if ok {
				ids = append(ids, infos[i].ID)
			}
		}
		return ids
	}
	if p, err := PickWorkspaces(infos, nil); p != nil || err != nil {
		t.Errorf("no selector = %v, %v; want nil (every workspace)", p, err)
	}
	for _, c := range []struct {
		sels []string
		want []int64
	}{
		{[]string{"prod ws"}, []int64{1}},
		{[]string{"Prod WS"}, []int64{2}},
		{[]string{"2", "prod ws"}, []int64{1, 2}},
		{[]string{" ml 🚀 "}, []int64{3}},
		{[]string{" ML 🚀 "}, []int64{3}},
		{[]string{"twin"}, []int64{4, 5}},
		{[]string{"a,b"}, []int64{6}},
		{[]string{"solo"}, []int64{7}},
	} {
		if got := pick(c.sels...); !slices.Equal(got, c.want) {
			t.Errorf("%q = %v, want %v", c.sels, got, c.want)
		}
	}
	_, err := PickWorkspaces(infos, []string{"PROD WS"})
	var amb *AmbiguousWorkspaceError
	if !errors.As(err, &amb) || len(amb.Matches) != 2 || err.Error() != `--workspace "PROD WS": names no workspace exactly, and "prod ws" (1), "Prod WS" (2) ignoring case` {
		t.Errorf("ambiguous: err = %v", err)
	}
	_, err = PickWorkspaces(infos, []string{"ml 🚀", "prod ws", "a", "ml 🚀"})
	var nf *WorkspaceNotFoundError
	if !errors.As(err, &nf) || nf.Given != "ml 🚀" || !slices.Equal(nf.Also, []string{"a"}) ||
		err.Error() != `--workspace "ml 🚀" (and "a"): no workspace has this id or name` {
		t.Errorf("unknown: err = %v", err)
	}
}
