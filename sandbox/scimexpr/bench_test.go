package scimexpr_test

import (
	"strconv"
	"testing"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

// BenchmarkFilterMatch measures one list-filter evaluation against a user.
func BenchmarkFilterMatch(b *testing.B) {
	f, err := scimexpr.ParseFilter(`userName eq "someone@example.com" or (emails[type eq "work" and value co "@example"] and active eq true)`)
	if err != nil {
		b.Fatal(err)
	}
	user := resource(b, sampleUser)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(user) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkApplyAddMembers measures adding a chunk of 20 members (as UCX
// does) to a group of 10,000 members; Apply copies the resource.
func BenchmarkApplyAddMembers(b *testing.B) {
	members := make([]any, 10000)
	for i := range members {
		members[i] = map[string]any{"value": strconv.Itoa(i), "display": "user " + strconv.Itoa(i), "$ref": "Users/" + strconv.Itoa(i)}
	}
	group := map[string]any{"id": "1", "displayName": "big", "members": members}
	value := make([]any, 20)
	for i := range value {
		value[i] = map[string]any{"value": strconv.Itoa(20000 + i)}
	}
	ops := []scimexpr.Operation{{Op: "add", Path: &scimexpr.Path{Attr: "members"}, Value: value}}
	b.ReportAllocs()
	for b.Loop() {
		if err := scimexpr.Apply(group, ops); err != nil {
			b.Fatal(err)
		}
	}
}
