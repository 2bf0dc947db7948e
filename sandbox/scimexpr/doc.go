// Package scimexpr is the pure SCIM expression code of the dbiam sandbox
// emulator: the filter parser and evaluator, PATCH paths, the PatchOp decoder
// and applier, attribute lookup, sort ordering and attributes /
// excludedAttributes projection. It does no I/O and imports only the standard
// library.
//
// Resources are JSON-shaped map[string]any values as produced by
// json.Unmarshal (numbers are float64, multi-valued attributes are []any of
// map[string]any; []map[string]any and []string lists are accepted too).
// Attribute names are matched case-insensitively everywhere, and a schema URN
// prefix ("urn:ietf:params:scim:schemas:core:2.0:User:userName") is accepted
// and dropped.
//
// # Implemented from RFC 7644
//
//   - Filters (§3.4.2.2): the full grammar: attribute expressions with eq, ne,
//     co, sw, ew, gt, lt, ge, le and pr; and/or with "and" binding tighter;
//     not (...); parentheses; value paths (emails[type eq "work"]);
//     compValue false, null, true, JSON numbers and JSON strings with
//     escapes; attribute paths with an optional URN prefix and one
//     sub-attribute. Keywords, operators and attribute names are
//     case-insensitive; whitespace between tokens is optional where
//     unambiguous. Nesting is limited to 100 levels. Filter.Check then
//     reports the first construct a narrower server refuses (a Dialect:
//     operators, attributes, parentheses, not, value paths,
//     sub-attributes, schema prefixes, non-string values); the sandbox uses
//     it for Databricks's documented subset.
//   - PATCH paths and operations (§3.5.2): add, remove and replace, with or
//     without a path, with value filters and sub-attributes.
//   - attributes / excludedAttributes (§3.4.2.5) and the sortBy ordering
//     (§3.4.2.3).
//
// Not implemented: sorting and paging themselves, schema validation
// (mutability, required attributes, types) and caseExact attributes; the
// server decides those.
//
// # Matching rules
//
// Every string comparison is case-insensitive. A multi-valued attribute
// matches if any element matches; a complex element compared without a
// sub-attribute compares through its "value". When a string attribute is
// compared with a number or boolean literal, both compare as text, so
// id eq 123 matches the id "123". gt/ge/lt/le order strings
// lexicographically and numbers numerically and are false for booleans.
// "ne" is the negation of "eq", "pr" means present and non-empty, and
// "eq null" means absent.
//
// # Databricks quirks accepted
//
//   - PatchOp bodies without "schemas" (UCX), with member names in any case,
//     and with "op" in any case ("Add", "Replace" from Entra).
//   - The path-less member add {"op":"add","value":{"members":[...]}}.
//   - remove with a path and a value list
//     ({"op":"remove","path":"entitlements","value":[{"value":"x"}]},
//     as Terraform sends), which deletes the listed values.
//   - Removing an absent attribute fails with invalidPath "No such attribute
//     with the name : <attr> in the current resource", which Terraform
//     matches; a multi-valued attribute left empty is deleted, so removing
//     the last entitlement twice hits that error.
//   - A bare string where members (or another complex multi-valued
//     attribute) expects objects fails with invalidSyntax and the Databricks
//     detail text (DetailInvalidSyntax).
//   - replace "active" stores the value as given (false, "false" or
//     [{"value":"false"}], the Terraform form); the caller normalizes it.
//
// All exported functions are safe for concurrent use except that Apply (the
// PATCH applier), ProjectInPlace and Projection.ApplyInPlace modify their
// resource argument, which must not be shared with concurrent readers while
// they run.
package scimexpr
