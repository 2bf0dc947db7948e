// Package groupname holds migrate's rules for group names as the service
// applies them: names compare regardless of case, their length counts as
// the name length limit counts it, and the system groups are never
// migrated. Names are data: nothing here trims or rewrites one. Every
// function is safe for concurrent use.
package groupname

import (
	"strings"
	"unicode/utf16"
)

// Fold is the case-insensitive form of a group name (Databricks group
// names are unique regardless of case).
func Fold(name string) string { return strings.ToLower(name) }

// Length is the length of a group name as the service's name length limit
// counts it: UTF-16 code units (an invalid byte counts one).
func Length(s string) int {
	n := 0
	for _, r := range s {
		if k := utf16.RuneLen(r); k > 0 {
			n += k
		} else {
			n++
		}
	}
	return n
}

// systemGroups are workspace groups that are never migrated.
var systemGroups = map[string]bool{"admins": true, "users": true, "account users": true}

// IsSystem reports whether name is a system group ("admins", "users",
// "account users", in any case), which migrate never touches.
func IsSystem(name string) bool { return systemGroups[strings.ToLower(name)] }
