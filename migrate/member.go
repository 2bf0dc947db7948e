package migrate

import (
	"cmp"
	"strconv"
	"strings"
)

// This file holds the helpers over a planned member ([Member]): its
// identity key, its order, and its names in messages.

// memberKindOrder orders members by kind: users, service principals, groups.
var memberKindOrder = map[string]int{KindUser: 0, KindServicePrincipal: 1, KindGroup: 2}

// compareMembers orders members by kind, then name (case-folded user name
// or application id, group display name), then account id and group key.
func compareMembers(a, c Member) int {
	return cmp.Or(
		cmp.Compare(memberKindOrder[a.Kind], memberKindOrder[c.Kind]),
		cmp.Compare(memberSortName(a), memberSortName(c)),
		cmp.Compare(a.AccountID, c.AccountID),
		cmp.Compare(a.GroupKey, c.GroupKey),
	)
}

// memberSortName is the name compareMembers orders a member by.
func memberSortName(m Member) string {
	switch m.Kind {
	case KindUser:
		return strings.ToLower(m.UserName)
	case KindServicePrincipal:
		return strings.ToLower(m.ApplicationID)
	}
	return m.Display
}

// memberIdentityKey identifies a desired member: by account id when known, by
// the planned group key for a group still to be created.
func memberIdentityKey(m Member) string {
	if m.AccountID != "" {
		return m.Kind + ":" + m.AccountID
	}
	return m.Kind + ":key:" + m.GroupKey
}

// memberAccountName is a member's name as the account shows it.
func memberAccountName(m Member) string {
	switch m.Kind {
	case KindUser:
		return m.UserName
	case KindServicePrincipal:
		return m.ApplicationID
	}
	return m.Display
}

// memberWho names a member in messages.
func memberWho(m Member) string {
	switch m.Kind {
	case KindUser:
		return "user " + strconv.Quote(m.UserName)
	case KindServicePrincipal:
		return "service principal " + strconv.Quote(m.ApplicationID)
	}
	return "group " + strconv.Quote(m.Display)
}

// memberLabel is the first of a member's user name, application id, display
// name, group key and account id that is set (verify, rollback and dry-run
// messages).
func memberLabel(m Member) string {
	switch {
	case m.UserName != "":
		return m.UserName
	case m.ApplicationID != "":
		return m.ApplicationID
	case m.Display != "":
		return m.Display
	case m.GroupKey != "":
		return m.GroupKey
	}
	return m.AccountID
}

// memberText names a member for people (the plan's reports): a service
// principal by display name and application id.
func memberText(m Member) string {
	switch m.Kind {
	case KindUser:
		return m.UserName
	case KindServicePrincipal:
		if m.Display != "" {
			return m.Display + " (" + m.ApplicationID + ")"
		}
		return m.ApplicationID
	}
	return m.Display
}
