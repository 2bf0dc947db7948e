package scimexpr

import (
	"cmp"
	"strings"
)

// lookup finds name in m case-insensitively. An exact match wins; otherwise
// the case-insensitively smallest matching key is used so that the result
// does not depend on map iteration order.
func lookup(m map[string]any, name string) (any, bool) {
	k, ok := findKey(m, name)
	if !ok {
		return nil, false
	}
	return m[k], true
}

// findKey returns the key of m that matches name case-insensitively.
func findKey(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	found, ok := "", false
	for k := range m {
		if strings.EqualFold(k, name) && (!ok || k < found) {
			found, ok = k, true
		}
	}
	return found, ok
}

// keyFor returns the key under which name is stored in m: the existing key if
// there is one, else the usual SCIM spelling of name if it is a well-known
// attribute, else name itself.
func keyFor(m map[string]any, name string) string {
	if k, ok := findKey(m, name); ok {
		return k
	}
	if c, ok := canonicalNames[strings.ToLower(name)]; ok {
		return c
	}
	return name
}

// canonicalNames maps lower-cased well-known attribute names to their wire
// spelling, used when an operation creates an attribute.
var canonicalNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"id", "externalId", "userName", "displayName", "active", "name",
		"givenName", "familyName", "formatted", "emails", "members", "groups",
		"entitlements", "roles", "schemas", "meta", "resourceType",
		"applicationId", "value", "display", "$ref", "type", "primary",
		"phoneNumbers", "addresses", "ims", "photos", "x509Certificates",
	} {
		m[strings.ToLower(n)] = n
	}
	return m
}()

// complexMultiValued lists (lower-cased) the multi-valued attributes whose
// elements must be objects. Any other attribute whose current value is a list
// is treated as multi-valued too, with no constraint on its elements.
var complexMultiValued = map[string]bool{
	"members": true, "groups": true, "entitlements": true, "roles": true,
	"emails": true, "phonenumbers": true, "addresses": true, "ims": true,
	"photos": true, "x509certificates": true,
}

// asList returns v as a list if it is one of the list types a resource may
// hold.
func asList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []map[string]any:
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = e
		}
		return out, true
	case []string:
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = e
		}
		return out, true
	}
	return nil, false
}

// elements returns the elements of a list value, or v alone.
func elements(v any) []any {
	if l, ok := asList(v); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// asObject returns e as an object for evaluating a value filter: an object
// as is, a scalar as {"value": e}.
func asObject(e any) map[string]any {
	if m, ok := e.(map[string]any); ok {
		return m
	}
	return map[string]any{"value": e}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	}
	return 0, false
}

// deepCopy copies the JSON-shaped value v. Lists become []any.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopyMap(v)
	case []any, []map[string]any, []string:
		l, _ := asList(v)
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

// Get looks up a top-level ("userName") or dotted ("name.givenName",
// "meta.resourceType") attribute case-insensitively; a schema URN prefix is
// accepted. For a sub-attribute of a multi-valued attribute ("emails.value")
// it returns a []any of the values found. The result shares memory with res;
// treat it as read-only. Get is safe for concurrent use if res is not being
// modified.
func Get(res map[string]any, attr string) (any, bool) {
	ap, err := parseAttrPath(strings.TrimSpace(attr), 0)
	if err != nil {
		return nil, false
	}
	v, ok := lookup(res, ap.name)
	if !ok || ap.sub == "" {
		return v, ok
	}
	if m, isMap := v.(map[string]any); isMap {
		return lookup(m, ap.sub)
	}
	l, isList := asList(v)
	if !isList {
		return nil, false
	}
	var out []any
	for _, e := range l {
		if m, isMap := e.(map[string]any); isMap {
			if sv, ok := lookup(m, ap.sub); ok {
				out = append(out, sv)
			}
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	return out, true
}

// Project implements the attributes and excludedAttributes query parameters
// (RFC 7644 §3.4.2.5) and returns a new map; res is not modified and the
// result shares no memory with it. With attributes, only the listed
// attributes are returned; with excluded, all but the listed ones. Both lists
// accept top-level names and sub-attributes ("name.givenName",
// "members.value"), case-insensitively and with an optional schema URN
// prefix; entries that are not valid attribute paths or name absent
// attributes are ignored. "id", "schemas" and "meta" are always returned.
// Keys keep the resource's own spelling. Project is safe for concurrent use
// if res is not being modified.
func Project(res map[string]any, attributes, excluded []string) map[string]any {
	return NewProjection(attributes, excluded).Apply(res)
}

// ProjectInPlace is Project for a resource the caller owns and will not use
// again: it may modify res, and the result shares memory with it (it may be
// res itself). It saves Project's deep copy. The result holds the same
// values as Project's, except that lists keep their own types where Project
// turns them into []any (both encode to the same JSON). res must not hold
// the same map at two places, since excluding a sub-attribute deletes it
// from the map in place.
func ProjectInPlace(res map[string]any, attributes, excluded []string) map[string]any {
	return NewProjection(attributes, excluded).ApplyInPlace(res)
}

// Drops reports whether Project(res, attributes, excluded) leaves out res's
// top-level attribute name (matched case-insensitively) whatever its value,
// so that the projection is the same whether or not res holds it. That holds
// for a resource with no two attribute names equal but for case. Drops is
// safe for concurrent use.
func Drops(attributes, excluded []string, name string) bool {
	return NewProjection(attributes, excluded).Drops(name)
}

// A Projection is a parsed pair of attributes and excludedAttributes lists,
// for projecting many resources alike (see Project). It is safe for
// concurrent use.
type Projection struct {
	sel, excluded []attrPath
}

// NewProjection parses attributes and excluded as Project does.
func NewProjection(attributes, excluded []string) *Projection {
	return &Projection{sel: parsePaths(attributes), excluded: parsePaths(excluded)}
}

// Apply is Project(res, attributes, excluded).
func (p *Projection) Apply(res map[string]any) map[string]any {
	var out map[string]any
	if len(p.sel) > 0 {
		out = selectAttrs(res, p.sel)
	} else {
		out = deepCopyMap(res)
	}
	return p.exclude(out)
}

// ApplyInPlace is ProjectInPlace(res, attributes, excluded).
func (p *Projection) ApplyInPlace(res map[string]any) map[string]any {
	out := res
	if len(p.sel) > 0 {
		out = selectInPlace(res, p.sel)
	}
	return p.exclude(out)
}

// Drops is Drops(attributes, excluded, name).
func (p *Projection) Drops(name string) bool {
	if isAlwaysReturned(name) {
		return false
	}
	for _, ap := range p.excluded {
		if ap.sub == "" && strings.EqualFold(ap.name, name) {
			return true
		}
	}
	if len(p.sel) == 0 {
		return false
	}
	for _, ap := range p.sel {
		if strings.EqualFold(ap.name, name) {
			return false
		}
	}
	return true
}

// exclude removes the excluded attributes from out (nil: an empty map) and
// returns it.
func (p *Projection) exclude(out map[string]any) map[string]any {
	if out == nil {
		out = map[string]any{}
	}
	for _, ap := range p.excluded {
		k, ok := findKey(out, ap.name)
		if !ok || isAlwaysReturned(k) {
			continue
		}
		if ap.sub == "" {
			delete(out, k)
			continue
		}
		switch v := out[k].(type) {
		case map[string]any:
			if sk, ok := findKey(v, ap.sub); ok {
				delete(v, sk)
			}
		case []any:
			for _, e := range v {
				if m, ok := e.(map[string]any); ok {
					if sk, ok := findKey(m, ap.sub); ok {
						delete(m, sk)
					}
				}
			}
		case []map[string]any: // only uncopied
			for _, m := range v {
				if sk, ok := findKey(m, ap.sub); ok {
					delete(m, sk)
				}
			}
		}
	}
	return out
}

func parsePaths(list []string) []attrPath {
	var out []attrPath
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if ap, err := parseAttrPath(s, 0); err == nil {
			out = append(out, ap)
		}
	}
	return out
}

// isAlwaysReturned reports whether k is one of the attributes Project never
// drops: "id", "schemas" and "meta", in any case.
func isAlwaysReturned(k string) bool {
	return strings.EqualFold(k, "id") || strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta")
}

// selectAttrs builds the projection of res on sel plus the always-returned
// attributes, deep-copying the values it takes.
func selectAttrs(res map[string]any, sel []attrPath) map[string]any {
	out := map[string]any{}
	full := map[string]bool{}            // res keys copied whole
	subs := map[string]map[string]bool{} // res key -> lower-cased sub-attributes wanted
	for k := range res {
		if isAlwaysReturned(k) {
			full[k] = true
		}
	}
	for _, ap := range sel {
		k, ok := findKey(res, ap.name)
		if !ok {
			continue
		}
		if ap.sub == "" {
			full[k] = true
			continue
		}
		if subs[k] == nil {
			subs[k] = map[string]bool{}
		}
		subs[k][strings.ToLower(ap.sub)] = true
	}
	for k := range full {
		out[k] = deepCopy(res[k])
	}
	for k, want := range subs {
		if full[k] {
			continue
		}
		if v, ok := pickValue(res[k], want, true); ok {
			out[k] = v
		}
	}
	return out
}

// selectInPlace is selectAttrs without the copies: it deletes the
// attributes not selected from res itself and replaces those of which only
// sub-attributes are selected.
func selectInPlace(res map[string]any, sel []attrPath) map[string]any {
	// The keys of res each entry of sel names, found as selectAttrs does.
	keys := make([]string, len(sel))
	found := make([]bool, len(sel))
	for i, ap := range sel {
		keys[i], found[i] = findKey(res, ap.name)
	}
	for k, v := range res {
		if isAlwaysReturned(k) {
			continue
		}
		whole := false
		var want map[string]bool
		for i, ap := range sel {
			if !found[i] || keys[i] != k {
				continue
			}
			if ap.sub == "" {
				whole = true
				break
			}
			if want == nil {
				want = map[string]bool{}
			}
			want[strings.ToLower(ap.sub)] = true
		}
		if whole {
			continue
		}
		if want == nil {
			delete(res, k)
			continue
		}
		if p, ok := pickValue(v, want, false); ok {
			res[k] = p
		} else {
			delete(res, k)
		}
	}
	return res
}

// pickValue returns the sub-attributes of v in want: for an object, its
// entries whose lower-cased key is in want; for a list, that of each object
// element (leaving out elements with none). ok is false if nothing is left.
// The values taken are deep-copied if deep is set.
func pickValue(v any, want map[string]bool, deep bool) (any, bool) {
	if m, isMap := v.(map[string]any); isMap {
		p := pick(m, want, deep)
		return p, len(p) > 0
	}
	l, ok := asList(v)
	if !ok {
		return nil, false
	}
	var picked []any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			if p := pick(m, want, deep); len(p) > 0 {
				picked = append(picked, p)
			}
		}
	}
	return picked, len(picked) > 0
}

// pick returns the entries of m whose lower-cased key is in want, their
// values deep-copied if deep is set.
func pick(m map[string]any, want map[string]bool, deep bool) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if want[strings.ToLower(k)] {
			if deep {
				v = deepCopy(v)
			}
			out[k] = v
		}
	}
	return out
}

// Compare orders two attribute values for sortBy: it returns a negative
// number if a sorts before b, zero if they are equal, positive if after.
// Strings compare case-insensitively, numbers numerically, false before true;
// numbers sort before strings, strings before booleans; nil (and any value
// with no sortable form) sorts last. A multi-valued attribute sorts by its
// primary element (or its first), a complex value by its "value"
// sub-attribute (RFC 7644 §3.4.2.3). Compare is safe for concurrent use.
func Compare(a, b any) int {
	a, b = sortKey(a), sortKey(b)
	ra, rb := sortRank(a), sortRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case rankNumber:
		fa, _ := toFloat(a)
		fb, _ := toFloat(b)
		return cmp.Compare(fa, fb)
	case rankString:
		return strings.Compare(strings.ToLower(a.(string)), strings.ToLower(b.(string)))
	case rankBool:
		ba, bb := a.(bool), b.(bool)
		switch {
		case ba == bb:
			return 0
		case !ba:
			return -1
		}
		return 1
	}
	return 0
}

const (
	rankNumber = iota
	rankString
	rankBool
	rankNone
)

func sortRank(v any) int {
	if _, ok := toFloat(v); ok {
		return rankNumber
	}
	switch v.(type) {
	case string:
		return rankString
	case bool:
		return rankBool
	}
	return rankNone
}

// sortKey reduces a list to its primary (or first) element and a complex
// value to its "value".
func sortKey(v any) any {
	if l, ok := asList(v); ok {
		if len(l) == 0 {
			return nil
		}
		v = l[0]
		for _, e := range l {
			if m, ok := e.(map[string]any); ok {
				if p, _ := lookup(m, "primary"); p == true {
					v = e
					break
				}
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		v, _ = lookup(m, "value")
	}
	return v
}
