package scimexpr

import (
	"fmt"
	"slices"
	"strings"
)

// Dialect is the part of the filter grammar a server accepts. ParseFilter
// reads the full RFC 7644 grammar; Filter.Check then reports what a
// narrower server would refuse. The zero Dialect accepts only comparisons of
// top-level attributes with JSON string values joined by "and" and "or", and
// no operator at all: list the operators in Operators. A Dialect is a plain
// value, safe for concurrent use once built.
type Dialect struct {
	// Operators are the comparison operators accepted, in lower case
	// ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr").
	Operators []string
	// Attributes are the attribute names accepted, matched
	// case-insensitively; for a sub-attribute path ("name.givenName") its
	// top-level name is matched. Empty accepts any attribute. Attributes
	// inside a value filter (emails[type eq "work"]) are sub-attributes and
	// are not matched.
	Attributes []string
	// Grouping accepts parentheses around an expression.
	Grouping bool
	// Not accepts not (...).
	Not bool
	// ValuePaths accepts attr[filter].
	ValuePaths bool
	// SubAttributes accepts attribute paths with a sub-attribute
	// (name.givenName, emails.value, meta.resourceType).
	SubAttributes bool
	// SchemaPrefix accepts a schema URN before an attribute
	// (urn:ietf:params:scim:schemas:core:2.0:User:userName).
	SchemaPrefix bool
	// NonStringValues accepts the values true, false, null and numbers;
	// without it only JSON strings are accepted.
	NonStringValues bool
}

// FullDialect accepts everything ParseFilter parses.
var FullDialect = Dialect{
	Operators:  []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"},
	Grouping:   true,
	Not:        true,
	ValuePaths: true, SubAttributes: true, SchemaPrefix: true, NonStringValues: true,
}

// violation is one construct outside a dialect, at a byte offset.
type violation struct {
	pos  int
	what string
}

// Check reports the first construct of f, by position in the filter as
// written, that d does not accept, as an *Error{SCIMType: "invalidFilter"}
// whose Detail names the construct and its 1-based byte position, e.g.
// `unsupported filter: operator "ew" at position 13`. It returns nil when d
// accepts all of f, and for a nil f.
func (f *Filter) Check(d Dialect) error {
	if f == nil || f.root == nil {
		return nil
	}
	var vs []violation
	if !d.Grouping {
		for _, p := range f.parens {
			vs = append(vs, violation{p, "parentheses"})
		}
	}
	checkNode(f.root, d, false, &vs)
	if len(vs) == 0 {
		return nil
	}
	first := slices.MinFunc(vs, func(a, b violation) int { return a.pos - b.pos })
	return &Error{SCIMType: TypeInvalidFilter,
		Detail: fmt.Sprintf("unsupported filter: %s at position %d", first.what, first.pos+1)}
}

func checkNode(n node, d Dialect, inValue bool, vs *[]violation) {
	add := func(pos int, format string, args ...any) {
		*vs = append(*vs, violation{pos, fmt.Sprintf(format, args...)})
	}
	switch n := n.(type) {
	case *logical:
		for _, t := range n.terms {
			checkNode(t, d, inValue, vs)
		}
	case *negation:
		if !d.Not {
			add(n.pos, "not (...)")
		}
		checkNode(n.x, d, inValue, vs)
	case *valuePath:
		checkAttr(n.attr, d, inValue, add)
		if !d.ValuePaths {
			add(n.brack, "value filter %s[...]", n.attr)
		}
		checkNode(n.x, d, true, vs)
	case *comparison:
		checkAttr(n.attr, d, inValue, add)
		if !slices.Contains(d.Operators, n.op) {
			add(n.opPos, "operator %q", n.op)
		}
		if n.op != "pr" && n.val.kind != litString && !d.NonStringValues {
			add(n.valPos, "value %s (only strings are accepted)", n.val)
		}
	}
}

func checkAttr(a attrPath, d Dialect, inValue bool, add func(int, string, ...any)) {
	if a.prefixed && !d.SchemaPrefix {
		add(a.pos, "schema prefix on attribute %q", a.String())
	}
	if a.sub != "" && !d.SubAttributes {
		add(a.pos, "sub-attribute %q", a.String())
	}
	if !inValue && len(d.Attributes) > 0 && !slices.ContainsFunc(d.Attributes, func(s string) bool { return strings.EqualFold(s, a.name) }) {
		add(a.pos, "attribute %q", a.name)
	}
}
