package sandbox

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// The official SDK retries both throttle styles the sandbox emits (reference
// §G.3, §L): a 429 with a REST REQUEST_LIMIT_EXCEEDED body and Retry-After,
// and a SCIM 500 whose detail starts with REQUEST_LIMIT_EXCEEDED. The SDK
// sleeps about a second per retry, so each style is throttled once.
func TestSDKRetriesThrottling(t *testing.T) {
	for _, style := range []string{ThrottleStyle429, ThrottleStyleSCIM500} {
		t.Run(style, func(t *testing.T) {
			srv := newSmall(t, Options{ThrottleStyle: style, RateLimits: map[string]float64{ClassSCIMRead: 1}})
			w := sdkWS(t, srv, wsFed)
			ctx := context.Background()
			for i := range 2 {
				me, err := w.CurrentUser.Me(ctx, iam.MeRequest{})
				if err != nil {
					t.Fatalf("Me #%d: %v", i+1, err)
				}
				if me.UserName != "ada@small.test" {
					t.Errorf("Me #%d: %+v", i+1, me)
				}
			}
			st := srv.Stats()
			if st.Throttled != 1 {
				t.Errorf("Stats.Throttled = %d, want 1 (the second Me, then retried)", st.Throttled)
			}
			if n := st.Count("GET", wsSCIMBase+"/Me"); n != 3 {
				t.Errorf("%d Me requests, want 3 (two calls, one retry)", n)
			}
		})
	}
}

// The SDK's V2 list iterators do not de-duplicate by id (the ext ones the
// other conformance tests use do, which would hide a startIndex echo off by
// one): every id must come exactly once, across several capped pages.
func TestSDKV2ListsDoNotRepeat(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed, PageCap: 7})
	ctx := context.Background()
	w := sdkWS(t, srv, wsProd)
	wantUsers, wantSPs, wantGroups := seedVisible(seed, wsProd)
	users, err := w.UsersV2.ListAll(ctx, iam.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(users, func(u iam.User) string { return u.Id }); !slices.Equal(got, wantUsers) {
		t.Errorf("UsersV2: %d ids, want %d distinct", len(got), len(wantUsers))
	}
	sps, err := w.ServicePrincipalsV2.ListAll(ctx, iam.ListServicePrincipalsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(sps, func(p iam.ServicePrincipal) string { return p.Id }); !slices.Equal(got, wantSPs) {
		t.Errorf("ServicePrincipalsV2: %v, want %v", got, wantSPs)
	}
	groups, err := w.GroupsV2.ListAll(ctx, iam.ListGroupsRequest{Attributes: "id,displayName"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedIDs(groups, func(g iam.Group) string { return g.Id }); !slices.Equal(got, wantGroups) {
		t.Errorf("GroupsV2: %v, want %v", got, wantGroups)
	}
	a := sdkAccount(t, srv)
	accUsers, err := a.UsersV2.ListAll(ctx, iam.ListAccountUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, u := range seed.Users {
		want = append(want, u.ID)
	}
	slices.Sort(want)
	if got := sortedIDs(accUsers, func(u iam.AccountUser) string { return u.Id }); !slices.Equal(got, want) {
		t.Errorf("account UsersV2: %d ids, want %d distinct", len(got), len(want))
	}
}

// SCIM error bodies reach SDK users intact: the SDK shows scimType and
// detail (reference §G.1), which is what the CLI prints.
func TestSDKSCIMErrorMessages(t *testing.T) {
	seed := DefaultSeed()
	srv := NewTestServer(t, Options{Seed: seed})
	ctx := context.Background()
	w := sdkWS(t, srv, wsProd)
	_, err := w.Groups.Create(ctx, iam.Group{DisplayName: "admins"})
	var apiErr *apierr.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 409 || apiErr.ErrorCode != "SCIM_409" ||
		apiErr.Message != "uniqueness Group with name admins already exists." {
		t.Errorf("duplicate group: %#v", err)
	}
	a := sdkAccount(t, srv)
	err = a.Groups.Patch(ctx, iam.PartialUpdate{Id: seed.Groups[1].ID,
		Operations: []iam.Patch{{Op: iam.PatchOpAdd, Path: "entitlements", Value: []iam.ComplexValue{{Value: "workspace-access"}}}}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 ||
		apiErr.Message != "invalidValue entitlements can only be managed at the workspace level" {
		t.Errorf("account entitlements PATCH: %#v", err)
	}
	_, err = w.Groups.GetById(ctx, "424242")
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.ErrorCode != "SCIM_404" || !errors.Is(err, apierr.ErrNotFound) {
		t.Errorf("missing group: %#v", err)
	}
}
