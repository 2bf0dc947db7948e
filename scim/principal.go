package scim

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePrincipal parses a principal as dbiam's identity files and flags
// write it: "user:EMAIL" (or "u:"), "service-principal:APP_ID" (or
// "service_principal:", "sp:"), "group:NAME" (or "g:"); a value without a
// type that contains "@" is a user. It returns the type ("user",
// "service-principal" or "group") and the name. Spaces around the name
// are dropped; a name in double quotes (Go syntax, e.g.
// group:"trailing space ") is taken exactly, byte for byte. The error
// says what is wrong with s, quoting it.
func ParsePrincipal(s string) (kind, name string, err error) {
	k, value, ok := strings.Cut(s, ":")
	if !ok {
		if strings.Contains(s, "@") {
			return "user", strings.TrimSpace(s), nil
		}
		return "", "", fmt.Errorf("%q has no type", s)
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return "", "", fmt.Errorf("%q has a badly quoted name (close the quotes; write an inner quote as \\\")", s)
		}
		value = v
	}
	if strings.TrimSpace(value) == "" {
		return "", "", fmt.Errorf("%q has no name", s)
	}
	switch strings.ToLower(strings.TrimSpace(k)) {
	case "user", "u":
		return "user", value, nil
	case "service-principal", "service_principal", "sp":
		return "service-principal", value, nil
	case "group", "g":
		return "group", value, nil
	}
	return "", "", fmt.Errorf("unknown type %q", k)
}
