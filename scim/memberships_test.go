package scim_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// TestMembershipsMatchGroupGets: in every workspace of the default seed and
// of a synthetic one (nested local groups, account groups assigned), the
// direct members that Memberships derives from the three lists equal, for
// every group, the members a GET of the group returns (value and $ref),
// and the lists are read with ListConcurrent.
func TestMembershipsMatchGroupGets(t *testing.T) {
	synth, err := sandbox.Synthetic("workspaces=2,users=150,groups=12,members=8,sps=6,local-groups=15,seed=3")
	if err != nil {
		t.Fatal(err)
	}
	for name, seed := range map[string]*sandbox.Seed{"default": nil, "synthetic": synth} {
		t.Run(name, func(t *testing.T) {
			srv := sandbox.NewTestServer(t, sandbox.Options{Seed: seed, PageCap: 7})
			sess := connectSandbox(t, srv, nil)
			ctx := context.Background()
			infos, err := sess.Workspaces(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, info := range infos {
				w, err := sess.Workspace(info)
				if err != nil {
					t.Fatal(err)
				}
				users, err := w.Users.ListConcurrent(ctx, scim.ConcurrentListOptions[scim.User]{Attributes: []string{"userName", "displayName", "groups"}})
				if err != nil {
					t.Fatal(err)
				}
				sps, err := w.ServicePrincipals.ListConcurrent(ctx, scim.ConcurrentListOptions[scim.ServicePrincipal]{Attributes: []string{"displayName", "groups"}})
				if err != nil {
					t.Fatal(err)
				}
				groups, err := w.Groups.ListConcurrent(ctx, scim.ConcurrentListOptions[scim.Group]{Attributes: []string{"displayName", "meta", "groups"}})
				if err != nil {
					t.Fatal(err)
				}
				derived := map[string][]string{}
				for m := range scim.Memberships(users, sps, groups) {
					if !m.Direct() {
						t.Errorf("workspace %d: membership %+v is not direct", info.ID, m)
					}
					derived[m.Group.Value] = append(derived[m.Group.Value], m.Member.Value+" "+m.Member.Ref)
				}
				for _, g := range groups {
					if g.DisplayName == "users" || g.DisplayName == "account users" {
						continue // implicit members, not listed in "groups" attributes
					}
					got, err := w.Groups.Get(ctx, g.ID, scim.GetOptions{Attributes: []string{"members"}})
					if err != nil {
						t.Fatal(err)
					}
					var want []string
					for _, m := range got.Members {
						want = append(want, m.Value+" "+m.Ref)
					}
					have := derived[g.ID]
					slices.Sort(want)
					slices.Sort(have)
					if !slices.Equal(have, want) {
						t.Errorf("workspace %d group %q: derived members %v, GET %v", info.ID, g.DisplayName, have, want)
					}
					checked++
				}
			}
			if checked < 5 {
				t.Fatalf("only %d groups checked", checked)
			}
		})
	}
}

// TestMembershipsDirectAndSkipped: entries without an id are left out, a
// user without a displayName shows its userName, and only an empty or
// "direct" type (any case) is direct.
func TestMembershipsDirectAndSkipped(t *testing.T) {
	users := []scim.User{
		{ID: "1", UserName: "a@x.test", Groups: []scim.ComplexValue{{Value: "g1", Type: "direct"}, {Value: ""}, {Value: "g2", Type: "Indirect"}}},
		{ID: "", UserName: "noid@x.test", Groups: []scim.ComplexValue{{Value: "g1"}}},
	}
	sps := []scim.ServicePrincipal{{ID: "2", DisplayName: "robot", Groups: []scim.ComplexValue{{Value: "g1", Type: "DIRECT"}}}}
	groups := []scim.Group{{ID: "g3", DisplayName: "child", Groups: []scim.ComplexValue{{Value: "g1"}}}}
	var got []string
	for m := range scim.Memberships(users, sps, groups) {
		got = append(got, fmt.Sprintf("%s<-%s(%s,%s,%v)", m.Group.Value, m.Member.Value, m.Member.Display, m.Member.Ref, m.Direct()))
	}
	want := []string{
		"g1<-g3(child,Groups/g3,true)",
		"g1<-1(a@x.test,Users/1,true)",
		"g2<-1(a@x.test,Users/1,false)",
		"g1<-2(robot,ServicePrincipals/2,true)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("memberships:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
