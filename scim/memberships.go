package scim

import (
	"iter"
	"strings"
)

// Membership is one group membership read from the "groups" attribute of a
// listed principal (its parent groups): Group is the entry as listed (value
// is the group's id, display its name, type "direct" or empty for a direct
// membership), and Member is the principal as a group's "members" entry
// would show it: value its id, display its displayName (userName for a
// user without one), $ref "Users/<id>", "ServicePrincipals/<id>" or
// "Groups/<id>".
type Membership struct {
	Group  ComplexValue
	Member ComplexValue
}

// Direct reports whether the listed entry says the membership is direct:
// its type is empty or "direct" (any case). A principal's "groups"
// attribute lists its direct parents; an entry of another type (RFC 7643
// also defines "indirect") is not a direct membership.
func (m Membership) Direct() bool {
	return m.Group.Type == "" || strings.EqualFold(m.Group.Type, "direct")
}

// Memberships yields the memberships that the "groups" attributes of the
// given lists record, in list order: groups, then users, then service
// principals. Listed with their "groups" attribute, the three lists of a
// workspace give every group's direct members, nested groups included,
// without one request per group. Entries without a group id, and
// principals without an id, are left out. Any list may be nil.
func Memberships(users []User, sps []ServicePrincipal, groups []Group) iter.Seq[Membership] {
	return func(yield func(Membership) bool) {
		emit := func(parents []ComplexValue, m ComplexValue) bool {
			if m.Value == "" {
				return true
			}
			for _, p := range parents {
				if p.Value == "" {
					continue
				}
				if !yield(Membership{Group: p, Member: m}) {
					return false
				}
			}
			return true
		}
		for i := range groups {
			g := &groups[i]
			if !emit(g.Groups, ComplexValue{Value: g.ID, Display: g.DisplayName, Ref: "Groups/" + g.ID}) {
				return
			}
		}
		for i := range users {
			u := &users[i]
			display := u.DisplayName
			if display == "" {
				display = u.UserName
			}
			if !emit(u.Groups, ComplexValue{Value: u.ID, Display: display, Ref: "Users/" + u.ID}) {
				return
			}
		}
		for i := range sps {
			s := &sps[i]
			if !emit(s.Groups, ComplexValue{Value: s.ID, Display: s.DisplayName, Ref: "ServicePrincipals/" + s.ID}) {
				return
			}
		}
	}
}
