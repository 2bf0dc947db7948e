package sandbox

// SCIM filters through the official SDK clients: by default (FilterStrict)
// the sandbox accepts what Databricks documents and answers everything else
// as the service does; FilterLenient accepts the full RFC grammar.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/iam"

	"github.com/dbiam/dbiam/scim"
)

// wantFilterRefused checks err is the service's reply to an unsupported
// filter, as the SDK reports it.
func wantFilterRefused(t *testing.T, what string, err error) {
	t.Helper()
	var ae *apierr.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: err = %v, want the service's 400 InvalidFilter", what, err)
		return
	}
	if ae.StatusCode != http.StatusBadRequest || !errors.Is(err, apierr.ErrBadRequest) ||
		ae.Message != "InvalidFilter Given filter operator is not supported." {
		t.Errorf("%s: %d %q %q, want 400 %q", what, ae.StatusCode, ae.ErrorCode, ae.Message,
			"InvalidFilter Given filter operator is not supported.")
	}
}

// refusedFilters are user filters outside the documented subset, each with
// the construct X-Sandbox-Detail names.
var refusedFilters = []struct{ filter, construct string }{
	{`userName ew "@small.test"`, `operator "ew"`},
	{`displayName pr`, `operator "pr"`},
	{`id gt "101"`, `operator "gt"`},
	{`active eq false`, `attribute "active"`},
	{`userName eq false`, `value false`},
	{`externalId eq "ext-bob"`, `attribute "externalId"`},
	{`emails.value eq "bob@small.test"`, `sub-attribute "emails.value"`},
	{`emails[value eq "bob@small.test"]`, `attribute "emails"`},
	{`name.givenName sw "B"`, `sub-attribute "name.givenName"`},
	{`meta.lastModified gt "2020-01-01T00:00:00Z"`, `sub-attribute "meta.lastModified"`},
	{`not (userName eq "bob@small.test")`, `not (...)`},
	{`(userName eq "bob@small.test")`, `parentheses`},
	{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@small.test"`, `schema prefix`},
	{`nosuch eq "x"`, `attribute "nosuch"`},
	// An unquoted value with a keyword in it, as Terraform sent before
	// terraform-provider-databricks#506, does not parse.
	{`displayName eq User1 and User2`, `invalid filter`},
}

func TestSDKStrictFiltersRefused(t *testing.T) {
	srv := newSmall(t, Options{})
	ctx := context.Background()
	w := sdkWS(t, srv, wsFed)
	a := sdkAccount(t, srv)
	for _, tc := range refusedFilters {
		_, err := w.Users.ListAll(ctx, iam.ListUsersRequest{Filter: tc.filter})
		wantFilterRefused(t, "workspace users "+tc.filter, err)
		_, err = a.Users.ListAll(ctx, iam.ListAccountUsersRequest{Filter: tc.filter})
		wantFilterRefused(t, "account users "+tc.filter, err)
		// The sandbox says which construct it refused.
		r := admin(t, srv, wsFed).do("GET", usersPath+"?"+url.Values{"filter": {tc.filter}}.Encode(), nil)
		if d := r.header.Get(headerSandboxDetail); !strings.Contains(d, tc.construct) {
			t.Errorf("%s: %s %q, want it to name %s", tc.filter, headerSandboxDetail, d, tc.construct)
		}
	}
	// Attributes are checked per resource type.
	_, err := w.Groups.ListAll(ctx, iam.ListGroupsRequest{Filter: `meta.resourceType eq "WorkspaceGroup"`})
	wantFilterRefused(t, "groups meta.resourceType", err)
	_, err = w.Groups.ListAll(ctx, iam.ListGroupsRequest{Filter: `userName eq "x"`})
	wantFilterRefused(t, "groups userName", err)
	_, err = w.ServicePrincipals.ListAll(ctx, iam.ListServicePrincipalsRequest{Filter: `userName eq "x"`})
	wantFilterRefused(t, "service principals userName", err)
	_, err = a.Groups.ListAll(ctx, iam.ListAccountGroupsRequest{Filter: `members.value eq "101"`})
	wantFilterRefused(t, "account groups members.value", err)
}

func TestSDKStrictFiltersAccepted(t *testing.T) {
	srv := newSmall(t, Options{})
	ctx := context.Background()
	w := sdkWS(t, srv, wsFed)
	a := sdkAccount(t, srv)
	users := []struct {
		filter string
		want   []string
	}{
		{`userName eq "BOB@small.test"`, []string{"102"}},
		{`displayName co "min"`, []string{"101"}},
		{`displayName sw "cy"`, []string{"103"}},
		{`userName ne "ada@small.test" and displayName co "e"`, []string{"102", "103", "501"}},
		{`id eq "101" or id eq "103"`, []string{"101", "103"}},
		{`userName eq "a" or userName eq "b" and displayName eq "c"`, nil},
	}
	for _, tc := range users {
		got, err := w.Users.ListAll(ctx, iam.ListUsersRequest{Filter: tc.filter})
		if err != nil {
			t.Errorf("workspace users %s: %v", tc.filter, err)
			continue
		}
		if ids := sortedIDs(got, func(u iam.User) string { return u.Id }); !slices.Equal(ids, tc.want) {
			t.Errorf("workspace users %s: %v, want %v", tc.filter, ids, tc.want)
		}
	}
	acct, err := a.Users.ListAll(ctx, iam.ListAccountUsersRequest{Filter: `userName sw "e"`})
	if err != nil || len(acct) != 1 || acct[0].Id != "105" {
		t.Errorf("account users userName sw: %+v, %v", acct, err)
	}
	sps, err := w.ServicePrincipals.ListAll(ctx, iam.ListServicePrincipalsRequest{Filter: `applicationId eq "11111111-1111-4111-8111-111111111111"`})
	if err != nil || len(sps) != 1 || sps[0].Id != "201" {
		t.Errorf("service principals applicationId eq: %+v, %v", sps, err)
	}
	gs, err := w.Groups.ListAll(ctx, iam.ListGroupsRequest{Filter: `displayName eq "team a" or id eq "404"`})
	if ids := sortedIDs(gs, func(g iam.Group) string { return g.Id }); err != nil || !slices.Equal(ids, []string{"403", "404"}) {
		t.Errorf("groups: %v, %v", ids, err)
	}
}

// TestStrictFiltersAcceptWhatDbiamSends: every filter shape dbiam sends
// (scim.Eq on userName, applicationId, displayName and id, joined with
// scim.Or in batches of 50) passes the strict dialect, in workspaces and
// in the account.
func TestStrictFiltersAcceptWhatDbiamSends(t *testing.T) {
	srv := newSmall(t, Options{})
	cases := []struct {
		coll, attr string
		values     []string
	}{
		{"Users", "userName", []string{"bob@small.test", `q"uo\te`, " edge ", "x eq y", "a]b", "ٱلعربية", "😀"}},
		{"Users", "id", []string{"101", "102"}},
		{"ServicePrincipals", "applicationId", []string{"11111111-1111-4111-8111-111111111111"}},
		{"ServicePrincipals", "id", []string{"201"}},
		{"Groups", "displayName", []string{"team a", "(paren) and or"}},
		{"Groups", "id", []string{"403"}},
	}
	for _, tc := range cases {
		values := tc.values
		for len(values) < 50 {
			values = append(values, "filler-"+itoa(len(values)))
		}
		eqs := make([]string, len(values))
		for i, v := range values {
			eqs[i] = scim.Eq(tc.attr, v)
		}
		for _, f := range []string{scim.Eq(tc.attr, values[0]), scim.Or(eqs...)} {
			q := url.Values{"filter": {f}}
			admin(t, srv, wsFed).list("/api/2.0/preview/scim/v2/"+tc.coll, q)
			if tc.coll != "Groups" || tc.attr != "displayName" {
				admin(t, srv, 0).list(acctPath(srv, "/scim/v2/"+tc.coll), q)
			}
		}
	}
}

func TestSDKLenientFilters(t *testing.T) {
	srv := newSmall(t, Options{FilterDialect: FilterLenient})
	ctx := context.Background()
	w := sdkWS(t, srv, wsFed)
	for _, tc := range refusedFilters {
		_, err := w.Users.ListAll(ctx, iam.ListUsersRequest{Filter: tc.filter})
		if tc.construct == "invalid filter" {
			var ae *apierr.APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.HasPrefix(ae.Message, "invalidFilter ") {
				t.Errorf("lenient %s: %v, want 400 invalidFilter", tc.filter, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("lenient %s: %v", tc.filter, err)
		}
	}
	inactive, err := sdkAccount(t, srv).Users.ListAll(ctx, iam.ListAccountUsersRequest{Filter: "active eq false"})
	if err != nil || len(inactive) != 1 || inactive[0].Id != "104" {
		t.Errorf("lenient active eq false: %+v, %v", inactive, err)
	}
	// An unknown attribute matches nothing.
	got, err := w.Users.ListAll(ctx, iam.ListUsersRequest{Filter: `nosuch eq "x"`})
	if err != nil || len(got) != 0 {
		t.Errorf("lenient unknown attribute: %+v, %v", got, err)
	}
}

// TestFilterDialectKnob: the seed's filter_dialect knob applies unless
// Options set one; an unknown dialect is refused.
func TestFilterDialectKnob(t *testing.T) {
	seed := smallSeed(t)
	seed.Knobs = &SeedKnobs{FilterDialect: FilterLenient}
	q := url.Values{"filter": {"displayName pr"}}
	srv := NewTestServer(t, Options{Seed: seed})
	admin(t, srv, wsFed).list(usersPath, q)
	srv = NewTestServer(t, Options{Seed: seed, FilterDialect: FilterStrict})
	if r := admin(t, srv, wsFed).do("GET", usersPath+"?"+q.Encode(), nil); r.status != http.StatusBadRequest {
		t.Errorf("Options strict over a lenient knob: status %d", r.status)
	}
	if _, err := New(Options{Seed: smallSeed(t), FilterDialect: "rfc"}); err == nil || !strings.Contains(err.Error(), `filter_dialect: "rfc"`) {
		t.Errorf("New with an unknown dialect: %v", err)
	}
}
