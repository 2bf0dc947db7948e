package scimexpr_test

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

var filterSeeds = []string{
	`userName eq "jacob.parr@example.com"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "J"`,
	`emails[type eq "work" and value co "@x"] or not (active eq false)`,
	`(a eq 1 or b eq 2) and c ne -1.5e3 and d pr`,
	`members[value eq "1"]`,
	`displayName eq "zo\u00cb \"Q\" \\ \ud83d\ude00 \ud800"`,
	`x gt null or y le TRUE`,
	`not(not(a pr))`,
	`a eq "x" and (b eq "y" or (c eq "z" and d eq "w"))`,
	`userName eq "x`,
	`emails[type eq "work"].value`,
	"a eq \"\xff\x00\"",
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	samples := []map[string]any{resource(f, sampleUser), resource(f, sampleGroup), resource(f, sampleSP)}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := scimexpr.ParseFilter(s)
		if err != nil {
			var se *scimexpr.Error
			if !errors.As(err, &se) || se.SCIMType != scimexpr.TypeInvalidFilter {
				t.Fatalf("ParseFilter(%q) error = %#v, want *Error invalidFilter", s, err)
			}
			return
		}
		if err := flt.Check(scimexpr.FullDialect); err != nil {
			t.Fatalf("Check(FullDialect) refused %q: %v", s, err)
		}
		if err := flt.Check(simple); err != nil {
			var se *scimexpr.Error
			if !errors.As(err, &se) || se.SCIMType != scimexpr.TypeInvalidFilter {
				t.Fatalf("Check(%q) error = %#v, want *Error invalidFilter", s, err)
			}
		}
		canon := flt.String()
		again, err := scimexpr.ParseFilter(canon)
		if err != nil {
			t.Fatalf("ParseFilter(%q).String() = %q does not reparse: %v", s, canon, err)
		}
		if got := again.String(); got != canon {
			t.Fatalf("String is not a fixpoint for %q:\n first %q\nsecond %q", s, canon, got)
		}
		if again.Nodes() != flt.Nodes() {
			t.Fatalf("Nodes changed across reparse of %q: %d -> %d", s, flt.Nodes(), again.Nodes())
		}
		for i, res := range samples {
			if flt.Match(res) != again.Match(res) {
				t.Fatalf("reparsed %q matches sample %d differently", canon, i)
			}
		}
	})
}

var patchSeeds = []string{
	`{"Operations":[{"op":"replace","path":"displayName","value":"x"},{"op":"remove","path":"nosuch"}]}`,
	`{"Operations":[{"op":"add","path":"emails[type eq \"work\"].display","value":{"a":1}}]}`,
	`{"Operations":[{"op":"replace","path":"name","value":{"givenName":"g","GivenName":"h"}}]}`,
	`{"Operations":[{"op":"add","path":"tags","value":[1,"1",true,null,{"value":1}]}]}`,
	`{"Operations":[{"op":"remove","value":{"members":[{"value":"1"}],"groups":null}}]}`,
	`{"Operations":[{"op":"replace","path":"members[value eq \"1\"]","value":{"value":"2"}},{"op":"add","path":"members","value":{"value":"2"}}]}`,
}

func FuzzDecodePatch(f *testing.F) {
	for _, body := range referenceBodies {
		f.Add([]byte(body))
	}
	for _, body := range patchSeeds {
		f.Add([]byte(body))
	}
	samples := []string{sampleUser, sampleGroup, sampleSP}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := scimexpr.DecodePatch(body)
		if err != nil {
			var se *scimexpr.Error
			if !errors.As(err, &se) || (se.SCIMType != scimexpr.TypeInvalidSyntax && se.SCIMType != scimexpr.TypeInvalidPath) {
				t.Fatalf("DecodePatch error = %#v, want *Error invalidSyntax or invalidPath", err)
			}
			return
		}
		opsBefore := snapshotOps(t, ops)
		for _, js := range samples {
			res, before := resource(t, js), resource(t, js)
			old := maps.Clone(res) // shares the nested values Apply must not modify
			err := scimexpr.Apply(res, ops)
			if !reflect.DeepEqual(old, before) {
				t.Fatalf("Apply modified the resource's previous nested values in place:\n got %s\nwant %s", toJSON(t, old), toJSON(t, before))
			}
			if err != nil {
				var se *scimexpr.Error
				if !errors.As(err, &se) {
					t.Fatalf("Apply error %#v is not a *scimexpr.Error", err)
				}
				if !reflect.DeepEqual(res, before) {
					t.Fatalf("Apply failed (%v) but changed the resource:\n got %s\nwant %s", err, toJSON(t, res), toJSON(t, before))
				}
			} else if _, err := json.Marshal(res); err != nil {
				t.Fatalf("patched resource is not JSON: %v", err)
			}
			if got := snapshotOps(t, ops); got != opsBefore {
				t.Fatalf("Apply modified its operations:\n got %s\nwant %s", got, opsBefore)
			}
		}
	})
}

func snapshotOps(t *testing.T, ops []scimexpr.Operation) string {
	t.Helper()
	type op struct {
		Op, Path string
		Value    any
	}
	var out []op
	for _, o := range ops {
		out = append(out, op{o.Op, o.Path.String(), o.Value})
	}
	return toJSON(t, out)
}
