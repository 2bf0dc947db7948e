package scimexpr

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Operation is one PATCH operation (RFC 7644 §3.5.2). Apply does not modify
// an Operation, so one decoded slice may be applied to many resources, also
// concurrently (to distinct resources).
type Operation struct {
	Op    string // "add", "remove" or "replace" (input is case-insensitive)
	Path  *Path  // nil when the operation has no path
	Value any    // decoded JSON value, nil when absent
}

// DecodePatch decodes a PatchOp request body:
//
//	{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
//	 "Operations": [{"op": "add", "path": "members", "value": [...]}]}
//
// Member names are matched case-insensitively, "schemas" is optional (UCX
// omits it), other top-level members are ignored, and "op" is
// case-insensitive (Entra sends "Add"). It returns *Error{invalidSyntax,
// DetailInvalidSyntax} for invalid JSON, a missing or empty Operations list,
// an unknown op, add/replace without a value, a path-less add/replace whose
// value is not an object, and a remove with neither path nor value; and the
// *Error{invalidPath} of ParsePath for a bad path. Values are decoded as by
// json.Unmarshal into any (numbers are float64).
func DecodePatch(body []byte) ([]Operation, error) {
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, errSyntax()
	}
	var rawOps any
	seen := false
	for k, v := range top {
		switch strings.ToLower(k) {
		case "operations":
			if seen { // "Operations" and "operations" both present
				return nil, errSyntax()
			}
			rawOps, seen = v, true
		case "schemas":
			l, ok := v.([]any)
			if !ok {
				return nil, errSyntax()
			}
			for _, s := range l {
				if _, ok := s.(string); !ok {
					return nil, errSyntax()
				}
			}
		}
	}
	list, ok := rawOps.([]any)
	if !ok || len(list) == 0 {
		return nil, errSyntax()
	}
	ops := make([]Operation, 0, len(list))
	for _, raw := range list {
		op, err := decodeOperation(raw)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func decodeOperation(raw any) (Operation, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return Operation{}, errSyntax()
	}
	var fields [3]any // op, path, value
	var present [3]bool
	for k, v := range m {
		i := slices.Index([]string{"op", "path", "value"}, strings.ToLower(k))
		if i < 0 {
			continue
		}
		if present[i] {
			return Operation{}, errSyntax()
		}
		fields[i], present[i] = v, true
	}
	name, _ := fields[0].(string)
	op := Operation{Op: strings.ToLower(name), Value: fields[2]}
	switch op.Op {
	case "add", "remove", "replace":
	default:
		return Operation{}, errSyntax()
	}
	switch p := fields[1].(type) {
	case nil:
	case string:
		path, err := ParsePath(p)
		if err != nil {
			return Operation{}, err
		}
		op.Path = path
	default:
		return Operation{}, errSyntax()
	}
	if err := checkShape(op); err != nil {
		return Operation{}, err
	}
	return op, nil
}

// checkShape validates the combination of op, path and value.
func checkShape(op Operation) error {
	if op.Op != "remove" && op.Value == nil {
		return errSyntax()
	}
	if op.Path == nil {
		if _, ok := op.Value.(map[string]any); !ok {
			return errSyntax()
		}
	}
	return nil
}

// Apply applies ops to res in order, with RFC 7644 §3.5.2 semantics plus the
// Databricks quirks listed below. It is atomic: on error res is left
// unchanged; on success the contents of res are replaced (the map res itself
// is modified in place). Apply never modifies the nested values res held
// before the call (unchanged ones may be shared with its new contents), and
// stored values never alias an Operation's Value. Apply is not safe for
// concurrent use on the same res.
//
// A multi-valued attribute is one of members, groups, entitlements, roles,
// emails, phoneNumbers, addresses, ims, photos, x509Certificates (whose
// elements must be objects, else invalidSyntax) or any attribute whose
// current value is a list. An attribute left with an empty list is deleted.
//
//   - add: a multi-valued attribute gets the union by "value" of its current
//     and the given elements (a list or one object), without duplicates; a
//     complex single-valued attribute (name) merges the given sub-attributes;
//     any other attribute is set. With a value filter, matching elements get
//     the sub-attribute set (attr[filter].sub) or the given object merged in.
//     Without a path, each member of the value object is added in turn.
//   - replace: like add, except that a multi-valued attribute is replaced by
//     the given elements and attr[filter] replaces the matching elements.
//     The value is stored as given: replace "active" with false, "false" or
//     [{"value":"false"}] stores exactly that; callers normalize.
//   - remove: attr deletes the attribute; attr.sub deletes the sub-attribute;
//     attr[filter] deletes the matching elements (attr[filter].sub the
//     sub-attribute of the matching elements), a filter matching nothing is
//     a no-op; attr with a value list (the non-RFC form Terraform sends for
//     entitlements and roles) deletes the listed values; without a path,
//     each member of the value object is removed that way.
//
// Errors are *Error: removing an absent attribute gives invalidPath
// "No such attribute with the name : <attr> in the current resource";
// add/replace through a value filter that matches nothing gives noTarget;
// malformed values give invalidSyntax with DetailInvalidSyntax.
func Apply(res map[string]any, ops []Operation) error {
	if res == nil {
		return &Error{SCIMType: TypeInvalidValue, Detail: "no resource to patch"}
	}
	// Copy on write: work starts as a shallow copy of res, and an attribute
	// is deep-copied (owned) before any branch that mutates its value in
	// place. Branches that build new lists (union, removals without a
	// sub-attribute) share unchanged elements with res, which they never
	// modify. So an error leaves res untouched without copying the whole
	// resource, which matters for groups with many members.
	pt := &patcher{res: maps.Clone(res), owned: map[string]bool{}}
	for _, op := range ops {
		if err := pt.apply(op); err != nil {
			return err
		}
	}
	clear(res)
	maps.Copy(res, pt.res)
	return nil
}

// patcher applies operations to res, a shallow copy of the caller's resource.
type patcher struct {
	res   map[string]any
	owned map[string]bool // keys of res whose value is a private deep copy
}

// own makes res[k] a private deep copy, once, and returns it.
func (pt *patcher) own(k string) any {
	if !pt.owned[k] {
		pt.res[k] = deepCopy(pt.res[k])
		pt.owned[k] = true
	}
	return pt.res[k]
}

func (pt *patcher) apply(op Operation) error {
	kind := strings.ToLower(op.Op)
	switch kind {
	case "add", "replace", "remove":
	default:
		return errSyntax()
	}
	if err := checkShape(Operation{Op: kind, Path: op.Path, Value: op.Value}); err != nil {
		return err
	}
	if op.Path != nil {
		if !validAttrName(op.Path.Attr) {
			return &Error{SCIMType: TypeInvalidPath, Detail: "invalid path " + strconv.Quote(op.Path.String())}
		}
		if kind == "remove" {
			return pt.remove(op.Path, op.Value)
		}
		return pt.set(op.Path, op.Value, kind == "replace")
	}
	obj := op.Value.(map[string]any) // checkShape: a path-less value is an object
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, err := ParsePath(k)
		if err != nil {
			return err
		}
		if p.Filter != nil {
			return &Error{SCIMType: TypeInvalidPath, Detail: "invalid attribute name " + strconv.Quote(k) + " in value"}
		}
		v := obj[k]
		if kind == "remove" {
			err = pt.remove(p, v)
		} else if v == nil {
			err = errSyntax()
		} else {
			err = pt.set(p, v, kind == "replace")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// set implements add (replace=false) and replace at path p.
func (pt *patcher) set(p *Path, val any, replace bool) error {
	res := pt.res
	k, exists := findKey(res, p.Attr)
	if !exists {
		k = keyFor(res, p.Attr)
	}
	cur := res[k]
	lname := strings.ToLower(p.Attr)

	if p.Filter != nil {
		if !exists {
			return errNoTarget(p)
		}
		cur = pt.own(k)
		l, isList := asList(cur)
		if !isList {
			l = []any{cur}
		}
		matched := false
		for i, e := range l {
			if !p.Filter.Match(asObject(e)) {
				continue
			}
			matched = true
			m, isMap := e.(map[string]any)
			switch {
			case p.SubAttr != "" && isMap:
				setSub(m, p.SubAttr, val, replace)
			case p.SubAttr != "":
				return &Error{SCIMType: TypeInvalidPath, Detail: "attribute " + p.Attr + " has no sub-attribute " + p.SubAttr}
			case replace:
				vm, ok := val.(map[string]any)
				if !ok {
					return errSyntax()
				}
				l[i] = deepCopyMap(vm)
			default:
				vm, ok := val.(map[string]any)
				if !ok || !isMap {
					return errSyntax()
				}
				merge(m, vm)
			}
		}
		if !matched {
			return errNoTarget(p)
		}
		if isList {
			res[k] = l
		} else {
			res[k] = l[0]
		}
		return nil
	}

	if p.SubAttr != "" {
		if !exists {
			if complexMultiValued[lname] {
				return errNoTarget(p)
			}
			m := map[string]any{}
			setSub(m, p.SubAttr, val, replace)
			res[k] = m
			return nil
		}
		cur = pt.own(k)
		if m, ok := cur.(map[string]any); ok {
			setSub(m, p.SubAttr, val, replace)
			return nil
		}
		l, ok := asList(cur)
		if !ok {
			return &Error{SCIMType: TypeInvalidPath, Detail: "attribute " + p.Attr + " has no sub-attribute " + p.SubAttr}
		}
		for _, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return &Error{SCIMType: TypeInvalidPath, Detail: "attribute " + p.Attr + " has no sub-attribute " + p.SubAttr}
			}
			setSub(m, p.SubAttr, val, replace)
		}
		res[k] = l
		return nil
	}

	_, curIsList := asList(cur)
	_, valIsList := asList(val)
	if complexMultiValued[lname] || curIsList || (!exists && valIsList) {
		elems, err := listValue(lname, val)
		if err != nil {
			return err
		}
		var base []any
		if !replace {
			base, _ = asList(cur)
		}
		merged := union(base, elems)
		if len(merged) == 0 {
			delete(res, k)
		} else {
			res[k] = merged
		}
		return nil
	}
	if _, ok := cur.(map[string]any); ok {
		if vm, ok := val.(map[string]any); ok {
			merge(pt.own(k).(map[string]any), vm)
			return nil
		}
	}
	res[k] = deepCopy(val)
	return nil
}

// setSub sets m's sub-attribute; add merges into an existing object value.
func setSub(m map[string]any, sub string, val any, replace bool) {
	sk := keyFor(m, sub)
	if !replace {
		if cm, ok := m[sk].(map[string]any); ok {
			if vm, ok := val.(map[string]any); ok {
				merge(cm, vm)
				return
			}
		}
	}
	m[sk] = deepCopy(val)
}

// merge copies the members of src into dst, matching keys case-insensitively.
func merge(dst, src map[string]any) {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic when src has keys differing only in case
	for _, k := range keys {
		dst[keyFor(dst, k)] = deepCopy(src[k])
	}
}

func errNoTarget(p *Path) *Error {
	return &Error{SCIMType: TypeNoTarget, Detail: "No values match the path : " + p.String()}
}

// remove implements remove at path p, with an optional value list.
func (pt *patcher) remove(p *Path, val any) error {
	res := pt.res
	k, exists := findKey(res, p.Attr)
	if !exists {
		return errNoSuchAttribute(p.Attr)
	}
	cur := res[k]
	if p.SubAttr != "" { // sub-attributes are deleted in place
		cur = pt.own(k)
	}
	l, isList := asList(cur)

	if p.Filter != nil {
		if !isList {
			l = []any{cur}
		}
		kept := make([]any, 0, len(l))
		for _, e := range l {
			if !p.Filter.Match(asObject(e)) {
				kept = append(kept, e)
				continue
			}
			if p.SubAttr == "" {
				continue
			}
			if m, ok := e.(map[string]any); ok {
				if sk, ok := findKey(m, p.SubAttr); ok {
					delete(m, sk)
				}
			}
			kept = append(kept, e)
		}
		switch {
		case len(kept) == 0:
			delete(res, k)
		case isList:
			res[k] = kept
		default:
			res[k] = kept[0]
		}
		return nil
	}

	if p.SubAttr != "" {
		found := false
		for _, e := range elements(cur) {
			if m, ok := e.(map[string]any); ok {
				if sk, ok := findKey(m, p.SubAttr); ok {
					delete(m, sk)
					found = true
				}
			}
		}
		if !found {
			return errNoSuchAttribute(p.Attr + "." + p.SubAttr)
		}
		if m, ok := cur.(map[string]any); ok && len(m) == 0 {
			delete(res, k)
		}
		return nil
	}

	if val != nil && isList {
		drop, err := listValue(strings.ToLower(p.Attr), val)
		if err != nil {
			return err
		}
		kept := make([]any, 0, len(l))
		for _, e := range l {
			if !containsElem(drop, e) {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			delete(res, k)
		} else {
			res[k] = kept
		}
		return nil
	}
	delete(res, k)
	return nil
}

// listValue returns the elements val denotes for a multi-valued attribute
// (lname lower-cased): the list itself or the single value. For attributes
// with complex elements every element must be an object.
func listValue(lname string, val any) ([]any, error) {
	elems := elements(val)
	if l, ok := asList(val); ok {
		elems = l
	}
	if complexMultiValued[lname] {
		for _, e := range elems {
			if _, ok := e.(map[string]any); !ok {
				return nil, errSyntax()
			}
		}
	}
	return elems, nil
}

// union returns a new list: base followed by deep copies of the elements of
// add not already present. Elements of base are shared, not copied.
func union(base, add []any) []any {
	out := make([]any, 0, len(base)+len(add))
	seen := make(map[string]bool, len(base)+len(add))
	var unkeyed []any
	put := func(e any, clone bool) {
		if key, ok := elemKey(e); ok {
			if seen[key] {
				return
			}
			seen[key] = true
		} else {
			if containsEqual(unkeyed, e) {
				return
			}
			unkeyed = append(unkeyed, e)
		}
		if clone {
			e = deepCopy(e)
		}
		out = append(out, e)
	}
	for _, e := range base {
		put(e, false)
	}
	for _, e := range add {
		put(e, true)
	}
	return out
}

// elemKey identifies a multi-valued attribute element by its value: an
// object by its "value" sub-attribute, a scalar by itself. Numbers, strings
// and booleans with the same text share a key.
func elemKey(e any) (string, bool) {
	if m, ok := e.(map[string]any); ok {
		v, ok := lookup(m, "value")
		if !ok {
			return "", false
		}
		e = v
	}
	if f, ok := toFloat(e); ok {
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	switch v := e.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

func containsElem(list []any, e any) bool {
	key, keyed := elemKey(e)
	for _, x := range list {
		if xk, ok := elemKey(x); ok && keyed {
			if xk == key {
				return true
			}
			continue
		}
		if reflect.DeepEqual(x, e) {
			return true
		}
	}
	return false
}

func containsEqual(list []any, e any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, e) {
			return true
		}
	}
	return false
}
