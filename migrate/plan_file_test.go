package migrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// smallPlan is a valid plan with one nested group.
func smallPlan() *Plan {
	return &Plan{
		PlanVersion: PlanVersion,
		ToolVersion: "test",
		CreatedAt:   time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Lineage:     "0123456789abcdef0123456789abcdef",
		Host:        "http://127.0.0.1:1",
		AccountID:   "acct",
		Settings:    PlanSettings{Match: MatchName, OnConflict: PolicyFail, BackupPrefix: DefaultBackupPrefix},
		AccountGroups: []AccountGroupPlan{
			{Key: "ag:child", DisplayName: "child", Members: []Member{{Kind: KindUser, AccountID: "1", UserName: "a@x.test"}},
				Sources: []GroupRef{{WorkspaceID: 1, LocalID: "11"}}},
			{Key: "ag:parent", DisplayName: "parent", ExistingID: "99", ExistingMembersDigest: MembersDigest(nil),
				Members: []Member{{Kind: KindGroup, GroupKey: "ag:child", Display: "child"}},
				Sources: []GroupRef{{WorkspaceID: 1, LocalID: "12"}}},
		},
		Workspaces: []WorkspacePlan{{WorkspaceID: 1, WorkspaceName: "w", URL: "http://127.0.0.1:1", Federated: true, Groups: []GroupPlan{
			{LocalID: "11", LocalName: "child", BackupName: "db-temp-child", AccountGroupKey: "ag:child", Entitlements: []string{}, Roles: []string{}, MembersDigest: MembersDigest(nil)},
			{LocalID: "12", LocalName: "parent", BackupName: "db-temp-parent", AccountGroupKey: "ag:parent", Entitlements: []string{"workspace-access"}, Roles: []string{}, MembersDigest: MembersDigest(nil)},
		}}},
		Conflicts: []Conflict{},
	}
}

func TestWritePlanReadPlanRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	p := smallPlan()
	if err := WritePlan(path, p, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	got, raw, err := ReadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := MarshalPlan(p)
	if string(raw) != string(want) {
		t.Errorf("raw bytes differ from the written plan")
	}
	again, _ := MarshalPlan(got)
	if string(again) != string(want) {
		t.Errorf("round trip changed the plan:\n%s\nwant\n%s", again, want)
	}
	// An existing plan is not replaced without force.
	err = WritePlan(path, p, false)
	if !errors.Is(err, reports.ErrExists) {
		t.Fatalf("second WritePlan = %v, want ErrExists", err)
	}
	if err := WritePlan(path, p, true); err != nil {
		t.Fatalf("WritePlan with force: %v", err)
	}
}

func TestReadPlanRejects(t *testing.T) {
	good, _ := MarshalPlan(smallPlan())
	tests := []struct {
		name    string
		body    string
		want    string
		version bool // the error matches ErrPlanVersion
	}{
		{"unknown field", strings.Replace(string(good), `"lineage"`, `"surprise": 1, "lineage"`, 1), `unknown field "surprise"`, false},
		{"nested unknown field", strings.Replace(string(good), `"local_name"`, `"members": [], "local_name"`, 1), `unknown field "members"`, false},
		{"other version", strings.Replace(string(good), `"plan_version": 1`, `"plan_version": 2`, 1),
			`plan version mismatch: plan has version 2 (generated with dbiam "test"), but this dbiam reads version 1; run "dbiam migrate plan" again`, true},
		{"no version", strings.Replace(string(good), `"plan_version": 1,`, ``, 1), "plan version mismatch: the file has no plan_version", true},
		{"not json", "hello", "not a plan file", false},
		{"trailing data", string(good) + "{}", "not a plan file: invalid character", false},
		{"dangling group key", strings.Replace(string(good), `"account_group_key": "ag:parent"`, `"account_group_key": "ag:nope"`, 1), `refers to unknown account group "ag:nope"`, false},
		{"parent before child", strings.Replace(string(good), `"group_key": "ag:child"`, `"group_key": "ag:parent"`, 1), "nested group ag:parent is not listed before it", false},
		{"bad member kind", strings.Replace(string(good), `"kind": "user"`, `"kind": "robot"`, 1), `member kind "robot"`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			p, raw, err := ReadPlan(path)
			if err == nil {
				t.Fatalf("ReadPlan accepted it: %+v", p)
			}
			if p != nil || raw != nil {
				t.Errorf("ReadPlan returned data with an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if got := errors.Is(err, ErrPlanVersion); got != tc.version {
				t.Errorf("errors.Is(err, ErrPlanVersion) = %v, want %v", got, tc.version)
			}
			if tc.version && !strings.HasPrefix(err.Error(), "plan version mismatch: ") {
				t.Errorf("version error %q does not start with the documented text", err)
			}
		})
	}
}

func TestReadPlanMissingFile(t *testing.T) {
	_, _, err := ReadPlan(filepath.Join(t.TempDir(), "nope.json"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "read plan ") {
		t.Fatalf("err = %v", err)
	}
}

func TestMembersDigest(t *testing.T) {
	a := []scim.ComplexValue{
		{Value: "2", Ref: "Groups/2"},
		{Value: "1", Ref: "Users/1", Display: "A"},
		{Value: "3", Ref: "https://h.test/api/2.0/preview/scim/v2/ServicePrincipals/3"},
	}
	b := []scim.ComplexValue{a[2], a[0], {Value: "1", Ref: "Users/1", Display: "renamed"}}
	if MembersDigest(a) != MembersDigest(b) {
		t.Errorf("digest depends on order or display")
	}
	c := []scim.ComplexValue{a[0], a[1]}
	if MembersDigest(a) == MembersDigest(c) {
		t.Errorf("digest ignores a removed member")
	}
	d := []scim.ComplexValue{a[0], a[1], {Value: "3", Ref: "Users/3"}}
	if MembersDigest(a) == MembersDigest(d) {
		t.Errorf("digest ignores the member kind")
	}
	if !strings.HasPrefix(MembersDigest(nil), "sha256:") || len(MembersDigest(nil)) != len("sha256:")+64 {
		t.Errorf("digest format: %q", MembersDigest(nil))
	}
	for _, tc := range []struct {
		cv   scim.ComplexValue
		want string
	}{
		{scim.ComplexValue{Value: "1", Ref: "Users/1"}, KindUser},
		{scim.ComplexValue{Value: "1", Ref: "ServicePrincipals/1"}, KindServicePrincipal},
		{scim.ComplexValue{Value: "1", Ref: "Groups/1"}, KindGroup},
		{scim.ComplexValue{Value: "1", Type: "User"}, KindUser},
		{scim.ComplexValue{Value: "1"}, ""},
	} {
		if got := MemberKind(tc.cv); got != tc.want {
			t.Errorf("MemberKind(%+v) = %q, want %q", tc.cv, got, tc.want)
		}
	}
}
