package sandbox

import (
	"strings"
	"testing"
)

func TestSyntheticSpecMessages(t *testing.T) {
	s, err := ParseSyntheticSpec(" users = 5 , seed=7,, ")
	if err != nil || s.Users != 5 || s.Seed != 7 || s.Workspaces != 3 {
		t.Fatalf("ParseSyntheticSpec = %+v, %v", s, err)
	}
	counts, seed, err := parseSyntheticObjects("jobs=3, seed=9")
	if err != nil || counts["jobs"] != 3 || seed != 9 {
		t.Fatalf("parseSyntheticObjects = %v, %d, %v", counts, seed, err)
	}
	for _, tc := range []struct {
		parse func(string) error
		spec  string
		want  string
	}{
		{specErr, "users", `synthetic spec: "users": want key=value`},
		{specErr, "bogus=1", `synthetic spec: unknown key "bogus" (want workspaces, users, groups, members, sps, local-groups or seed)`},
		{specErr, "users=0", `synthetic spec: users: "0" is not an integer between 1 and 1000000`},
		{specErr, "seed=-1", `synthetic spec: seed: "-1" is not a non-negative integer`},
		{objectsErr, "jobs", `synthetic objects spec: "jobs": want key=value`},
		{objectsErr, "jobs=x", `synthetic objects spec: jobs: "x" is not an integer between 0 and 1000000`},
		{objectsErr, "bogus=1", `synthetic objects spec: unknown key "bogus" (want `},
		{objectsErr, "seed=x", `synthetic objects spec: seed: "x" is not a non-negative integer`},
	} {
		if err := tc.parse(tc.spec); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %s", tc.spec, err, tc.want)
		}
	}
}

func specErr(spec string) error {
	_, err := ParseSyntheticSpec(spec)
	return err
}

func objectsErr(spec string) error {
	_, _, err := parseSyntheticObjects(spec)
	return err
}
