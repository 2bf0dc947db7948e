package scim

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Filter builders produce SCIM filter expressions (RFC 7644 §3.4.2.2). Values
// are quoted as JSON strings, so quotes, backslashes, control characters and
// any Unicode text are safe. Attribute names are written as given: pass only
// trusted names such as "userName" or "displayName".
//
// Databricks documents eq, ne, co and sw, joined by and/or, as "simple
// expressions" only (SDK v0.175.0 service/iam/model.go); the public record
// shows it filtering on id, userName, displayName and applicationId with
// string values. Ew, Pr, Not, the parentheses And adds around an operand
// with a top-level "or", and any other attribute (active, externalId,
// emails.value, meta.resourceType) may be refused with 400 "InvalidFilter":
// the sandbox's default strict dialect refuses them, so that tests catch
// their use. dbiam itself sends only Eq on those four attributes, joined
// with Or.

// Eq returns `attr eq "value"`.
func Eq(attr, value string) string { return compare(attr, "eq", value) }

// Ne returns `attr ne "value"`.
func Ne(attr, value string) string { return compare(attr, "ne", value) }

// Co returns `attr co "value"` (contains).
func Co(attr, value string) string { return compare(attr, "co", value) }

// Sw returns `attr sw "value"` (starts with).
func Sw(attr, value string) string { return compare(attr, "sw", value) }

// Ew returns `attr ew "value"` (ends with).
func Ew(attr, value string) string { return compare(attr, "ew", value) }

// Pr returns `attr pr` (present).
func Pr(attr string) string { return attr + " pr" }

// And joins filters with "and", parenthesising operands that contain a
// top-level "or" (and binds tighter than or). Empty filters are skipped.
func And(f ...string) string { return join("and", f) }

// Or joins filters with "or". Operands never need parentheses: "and" binds
// tighter and "or" is associative. Empty filters are skipped.
func Or(f ...string) string { return join("or", f) }

// Not returns `not (f)`.
func Not(f string) string { return "not (" + f + ")" }

func compare(attr, op, value string) string {
	return attr + " " + op + " " + quote(value)
}

// quote returns s as a JSON string literal without HTML escaping.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func join(op string, fs []string) string {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if op == "and" && hasTopLevelOr(f) {
			f = "(" + f + ")"
		}
		parts = append(parts, f)
	}
	return strings.Join(parts, " "+op+" ")
}

// hasTopLevelOr reports whether filter f has an "or" outside quotes,
// parentheses and brackets.
func hasTopLevelOr(f string) bool {
	depth := 0
	inString := false
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case inString:
			switch c {
			case '\\':
				i++ // skip the escaped character
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case depth == 0 && c == ' ' && i+4 <= len(f) && strings.EqualFold(f[i:i+4], " or "):
			return true
		}
	}
	return false
}
