package scimexpr

import (
	"errors"
	"strconv"
	"strings"
)

// Path is a parsed PATCH operation path (RFC 7644 §3.5.2):
// attr, attr.sub, attr[filter] or attr[filter].sub, with an optional schema
// URN prefix (stripped). A Path is not modified by this package after
// ParsePath returns it and is safe for concurrent reads.
type Path struct {
	Attr    string  // top-level attribute as written, e.g. "members"
	Filter  *Filter // value filter for "members[value eq \"x\"]", else nil
	SubAttr string  // "givenName" for "name.givenName", "display" for "members[...].display"
}

// ParsePath parses a PATCH path. Errors are *Error{SCIMType: "invalidPath"}
// whose Detail names the offending token and its 1-based byte position.
func ParsePath(s string) (*Path, error) {
	p, err := parsePath(s)
	if err != nil {
		var pe *posError
		detail := err.Error()
		if errors.As(err, &pe) {
			detail = pe.Error()
		}
		return nil, &Error{SCIMType: TypeInvalidPath, Detail: "invalid path " + strconv.Quote(s) + ": " + detail}
	}
	return p, nil
}

func parsePath(s string) (*Path, error) {
	ps, err := newParser(s)
	if err != nil {
		return nil, err
	}
	t := ps.next()
	if t.kind != tokWord {
		return nil, posErrorf(t.pos, "expected attribute, found %s", t.describe())
	}
	ap, err := parseAttrPath(t.text, t.pos)
	if err != nil {
		return nil, err
	}
	path := &Path{Attr: ap.name, SubAttr: ap.sub}
	if ps.peek().kind == tokLBrack {
		if ap.sub != "" {
			return nil, posErrorf(ps.peek().pos, "value filter after sub-attribute %q", ap.String())
		}
		x, err := ps.parseValueFilter()
		if err != nil {
			return nil, err
		}
		path.Filter = &Filter{root: x}
		if t := ps.peek(); t.kind == tokWord {
			sub, ok := strings.CutPrefix(t.text, ".")
			if !ok || !validAttrName(sub) {
				return nil, posErrorf(t.pos, "invalid sub-attribute %q after value filter", t.text)
			}
			path.SubAttr = sub
			ps.next()
		}
	}
	if t := ps.peek(); t.kind != tokEOF {
		return nil, posErrorf(t.pos, "unexpected %s", t.describe())
	}
	return path, nil
}

// String returns the canonical form of p, which ParsePath parses back to an
// equivalent Path. A nil p yields "".
func (p *Path) String() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(p.Attr)
	if p.Filter != nil {
		b.WriteByte('[')
		b.WriteString(p.Filter.String())
		b.WriteByte(']')
	}
	if p.SubAttr != "" {
		b.WriteByte('.')
		b.WriteString(p.SubAttr)
	}
	return b.String()
}
