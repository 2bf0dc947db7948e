package scimexpr

import (
	"strconv"
	"strings"
)

// maxDepth bounds the nesting of parentheses, not(...) and value filters, so
// that hostile input cannot exhaust the stack.
const maxDepth = 100

// Filter is a parsed SCIM filter (RFC 7644 §3.4.2.2). A Filter is immutable
// after ParseFilter returns it and is safe for concurrent use. A nil *Filter,
// like the zero Filter, matches every resource.
type Filter struct {
	root node
	// parens holds the byte offsets of the grouping parentheses, those not
	// opening a not (...), for Check; the AST drops them.
	parens []int
}

// node is one element of the filter AST.
type node interface {
	match(res map[string]any) bool
	write(b *strings.Builder)
	nodes() int
}

// logical is an n-ary "and" or "or"; terms has at least two entries and no
// term is a logical of the same kind (the parser flattens them).
type logical struct {
	or    bool
	terms []node
}

type negation struct {
	x   node
	pos int // of "not"
}

// valuePath is attr[filter]: true if any element of attr matches filter.
type valuePath struct {
	attr  attrPath
	x     node
	brack int // of "["
}

// comparison is "attr op value" or "attr pr". The positions (byte offsets
// in the source) serve Check only.
type comparison struct {
	attr   attrPath
	op     string // lower case: eq ne co sw ew gt lt ge le pr
	val    literal
	opPos  int
	valPos int
}

type litKind int

const (
	litNone litKind = iota // the "pr" operator has no value
	litString
	litNumber
	litBool
	litNull
)

// literal is a comparison value. For numbers, text is the literal as written
// (a valid JSON number) and num its value; for strings text is the decoded
// string and lower its lower-case form.
type literal struct {
	kind  litKind
	text  string
	lower string
	num   float64
	b     bool
}

// attrPath is an attribute name with an optional sub-attribute, URN prefix
// stripped, spelled as written; prefixed records that a URN prefix was
// written, and pos is the attribute's byte offset (for Check).
type attrPath struct {
	name, sub string
	prefixed  bool
	pos       int
}

func (a attrPath) String() string {
	if a.sub == "" {
		return a.name
	}
	return a.name + "." + a.sub
}

var compareOps = map[string]bool{
	"eq": true, "ne": true, "co": true, "sw": true, "ew": true,
	"gt": true, "lt": true, "ge": true, "le": true, "pr": true,
}

// ParseFilter parses a SCIM filter expression. Attribute names, operators and
// the keywords and/or/not/true/false/null are case-insensitive; "and" binds
// tighter than "or"; whitespace between tokens is optional where the tokens
// are unambiguous. Errors are *Error{SCIMType: "invalidFilter"} whose Detail
// names the offending token and its 1-based byte position.
func ParseFilter(s string) (*Filter, error) {
	p, err := newParser(s)
	if err != nil {
		return nil, filterError(err)
	}
	root, err := p.parseOr()
	if err == nil && p.peek().kind != tokEOF {
		t := p.peek()
		err = posErrorf(t.pos, "expected \"and\", \"or\" or end of filter, found %s", t.describe())
	}
	if err != nil {
		return nil, filterError(err)
	}
	return &Filter{root: root, parens: p.parens}, nil
}

// filterError turns a parse error into the SCIM error. The detail does not
// repeat the filter, which may be long; it names the token and position.
func filterError(err error) error {
	return &Error{SCIMType: TypeInvalidFilter, Detail: "invalid filter: " + err.Error()}
}

// Match reports whether res satisfies f. String comparisons are
// case-insensitive; an attribute whose value is a list matches when any
// element matches (a complex element is compared through its "value"
// sub-attribute); "ne" is the negation of "eq" over the whole attribute, so
// it is true for an absent attribute. A nil f matches everything.
func (f *Filter) Match(res map[string]any) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(res)
}

// Nodes returns the number of comparison nodes (attribute expressions,
// including those inside value filters), for the 200-node filter limit.
func (f *Filter) Nodes() int {
	if f == nil || f.root == nil {
		return 0
	}
	return f.root.nodes()
}

// String returns the canonical form of f: lower-case operators and keywords,
// attribute names as written without URN prefix, JSON-quoted strings, single
// spaces, and parentheses only where precedence needs them. ParseFilter of
// the result yields an equivalent filter with the same String.
// A nil f yields "".
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.write(&b)
	return b.String()
}

// ---- parser ----

type parser struct {
	toks    []token
	i       int
	depth   int
	inValue bool  // inside a value filter: attribute paths are sub-attributes
	parens  []int // offsets of grouping "(" (see Filter.parens)
}

func newParser(s string) (*parser, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	return &parser{toks: toks}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tokWord && strings.EqualFold(t.text, kw)
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return posErrorf(pos, "filter nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) expect(k tokKind, what string) error {
	t := p.peek()
	if t.kind != k {
		return posErrorf(t.pos, "expected %s, found %s", what, t.describe())
	}
	p.next()
	return nil
}

func (p *parser) parseOr() (node, error) { return p.parseLogical(true) }

// parseLogical parses a chain of terms joined by "or" (or=true, terms are
// and-chains) or "and" (or=false, terms are unary expressions).
func (p *parser) parseLogical(or bool) (node, error) {
	kw, sub := "or", func() (node, error) { return p.parseLogical(false) }
	if !or {
		kw, sub = "and", p.parseUnary
	}
	first, err := sub()
	if err != nil {
		return nil, err
	}
	if !p.isKeyword(kw) {
		return first, nil
	}
	l := &logical{or: or}
	l.add(first)
	for p.isKeyword(kw) {
		p.next()
		n, err := sub()
		if err != nil {
			return nil, err
		}
		l.add(n)
	}
	return l, nil
}

func (l *logical) add(n node) {
	if m, ok := n.(*logical); ok && m.or == l.or {
		l.terms = append(l.terms, m.terms...)
		return
	}
	l.terms = append(l.terms, n)
}

func (p *parser) parseUnary() (node, error) {
	t := p.peek()
	switch {
	case t.kind == tokLParen:
		p.parens = append(p.parens, t.pos)
		return p.parseGroup()
	case t.kind == tokWord && strings.EqualFold(t.text, "not") && p.peekAt(1).kind == tokLParen:
		p.next()
		n, err := p.parseGroup()
		if err != nil {
			return nil, err
		}
		return &negation{x: n, pos: t.pos}, nil
	case t.kind == tokWord:
		return p.parseAttrExp()
	default:
		return nil, posErrorf(t.pos, "expected attribute, \"(\" or \"not\", found %s", t.describe())
	}
}

// parseGroup parses "(" FILTER ")".
func (p *parser) parseGroup() (node, error) {
	t := p.next() // "("
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokRParen, "\")\""); err != nil {
		return nil, err
	}
	p.depth--
	return n, nil
}

// parseValueFilter parses "[" valFilter "]" after an attribute path.
func (p *parser) parseValueFilter() (node, error) {
	t := p.next() // "["
	if p.inValue {
		return nil, posErrorf(t.pos, "value filter nested inside a value filter")
	}
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	p.inValue = true
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokRBrack, "\"]\""); err != nil {
		return nil, err
	}
	p.inValue = false
	p.depth--
	return n, nil
}

func (p *parser) parseAttrExp() (node, error) {
	t := p.next()
	ap, err := parseAttrPath(t.text, t.pos)
	if err != nil {
		return nil, err
	}
	if p.peek().kind == tokLBrack {
		if ap.sub != "" {
			return nil, posErrorf(p.peek().pos, "value filter after sub-attribute %q", ap.String())
		}
		brack := p.peek().pos
		x, err := p.parseValueFilter()
		if err != nil {
			return nil, err
		}
		return &valuePath{attr: ap, x: x, brack: brack}, nil
	}
	opTok := p.next()
	op := strings.ToLower(opTok.text)
	if opTok.kind != tokWord || !compareOps[op] {
		return nil, posErrorf(opTok.pos, "expected comparison operator after %q, found %s", t.text, opTok.describe())
	}
	c := &comparison{attr: ap, op: op, opPos: opTok.pos}
	if op == "pr" {
		return c, nil
	}
	v := p.next()
	c.valPos = v.pos
	switch v.kind {
	case tokString:
		c.val = literal{kind: litString, text: v.text, lower: strings.ToLower(v.text)}
		return c, nil
	case tokWord:
		if lit, ok := parseLiteralWord(v.text); ok {
			c.val = lit
			return c, nil
		}
	}
	return nil, posErrorf(v.pos, "expected value (string, number, true, false or null) after %q, found %s", opTok.text, v.describe())
}

func parseLiteralWord(w string) (literal, bool) {
	switch strings.ToLower(w) {
	case "true":
		return literal{kind: litBool, b: true}, true
	case "false":
		return literal{kind: litBool}, true
	case "null":
		return literal{kind: litNull}, true
	}
	if !isJSONNumber(w) {
		return literal{}, false
	}
	f, err := strconv.ParseFloat(w, 64)
	if err != nil { // out of range: keep the text, compare as text
		f = 0
	}
	return literal{kind: litNumber, text: w, lower: strings.ToLower(w), num: f}, true
}

// isJSONNumber reports whether s matches the JSON number grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseAttrPath parses [URN ":"] ATTRNAME ["." ATTRNAME]. The URN prefix, if
// any, must start with "urn:" and is dropped.
func parseAttrPath(w string, pos int) (attrPath, error) {
	rest := w
	prefixed := false
	if i := strings.LastIndexByte(w, ':'); i >= 0 {
		if len(w) < 4 || !strings.EqualFold(w[:4], "urn:") || i < 4 {
			return attrPath{}, posErrorf(pos, "invalid attribute %q: a schema prefix must be a URN", w)
		}
		rest, prefixed = w[i+1:], true
	}
	name, sub, dotted := strings.Cut(rest, ".")
	if !validAttrName(name) || (dotted && !validAttrName(sub)) {
		return attrPath{}, posErrorf(pos, "invalid attribute %q", w)
	}
	return attrPath{name: name, sub: sub, prefixed: prefixed, pos: pos}, nil
}

// validAttrName reports whether s is an RFC 7643 ATTRNAME
// (ALPHA *(ALPHA / DIGIT / "-" / "_")), also allowing a leading "$" for
// "$ref".
func validAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		switch {
		case alpha:
		case i == 0 && c == '$' && len(s) > 1:
		case i > 0 && (isDigit(c) || c == '-' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// ---- printing ----

func (l *logical) write(b *strings.Builder) {
	sep := " and "
	if l.or {
		sep = " or "
	}
	for i, t := range l.terms {
		if i > 0 {
			b.WriteString(sep)
		}
		if m, ok := t.(*logical); ok && m.or && !l.or {
			b.WriteByte('(')
			t.write(b)
			b.WriteByte(')')
			continue
		}
		t.write(b)
	}
}

func (n *negation) write(b *strings.Builder) {
	b.WriteString("not (")
	n.x.write(b)
	b.WriteByte(')')
}

func (v *valuePath) write(b *strings.Builder) {
	b.WriteString(v.attr.String())
	b.WriteByte('[')
	v.x.write(b)
	b.WriteByte(']')
}

func (c *comparison) write(b *strings.Builder) {
	b.WriteString(c.attr.String())
	b.WriteByte(' ')
	b.WriteString(c.op)
	if c.op == "pr" {
		return
	}
	b.WriteByte(' ')
	b.WriteString(c.val.String())
}

func (l literal) String() string {
	switch l.kind {
	case litString:
		return quote(l.text)
	case litNumber:
		return l.text
	case litBool:
		return strconv.FormatBool(l.b)
	case litNull:
		return "null"
	}
	return ""
}

// ---- counting ----

func (l *logical) nodes() int {
	n := 0
	for _, t := range l.terms {
		n += t.nodes()
	}
	return n
}

func (n *negation) nodes() int  { return n.x.nodes() }
func (v *valuePath) nodes() int { return v.x.nodes() }
func (*comparison) nodes() int  { return 1 }

// ---- matching ----

func (l *logical) match(res map[string]any) bool {
	for _, t := range l.terms {
		if t.match(res) == l.or {
			return l.or
		}
	}
	return !l.or
}

func (n *negation) match(res map[string]any) bool { return !n.x.match(res) }

func (v *valuePath) match(res map[string]any) bool {
	val, ok := lookup(res, v.attr.name)
	if !ok {
		return false
	}
	for _, e := range elements(val) {
		if v.x.match(asObject(e)) {
			return true
		}
	}
	return false
}

func (c *comparison) match(res map[string]any) bool {
	vals := resolve(res, c.attr)
	switch {
	case c.op == "pr":
		for _, v := range vals {
			if nonEmpty(v) {
				return true
			}
		}
		return false
	case c.val.kind == litNull:
		present := false
		for _, v := range vals {
			if nonEmpty(v) {
				present = true
				break
			}
		}
		switch c.op {
		case "eq":
			return !present
		case "ne":
			return present
		}
		return false
	case c.op == "ne":
		return !anyMatch(vals, "eq", c.val)
	default:
		return anyMatch(vals, c.op, c.val)
	}
}

// resolve returns the values of a in res, with lists flattened into their
// elements: for "emails" the email objects, for "members.value" the member
// ids, for "name.givenName" the given name.
func resolve(res map[string]any, a attrPath) []any {
	v, ok := lookup(res, a.name)
	if !ok {
		return nil
	}
	if a.sub == "" {
		return elements(v)
	}
	var out []any
	for _, e := range elements(v) {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if sv, ok := lookup(m, a.sub); ok {
			out = append(out, elements(sv)...)
		}
	}
	return out
}

func anyMatch(vals []any, op string, lit literal) bool {
	for _, v := range vals {
		if m, ok := v.(map[string]any); ok {
			// A complex value without a sub-attribute compares through "value".
			mv, ok := lookup(m, "value")
			if !ok {
				continue
			}
			v = mv
		}
		if compareScalar(v, op, lit) {
			return true
		}
	}
	return false
}

// compareScalar applies op (not "ne" or "pr") to a resource value and a
// literal. Strings compare case-insensitively; when the types differ and the
// resource value is a string or a number, both sides compare as text.
// Booleans support only equality.
func compareScalar(v any, op string, lit literal) bool {
	if f, ok := toFloat(v); ok {
		if lit.kind == litNumber {
			return orderOp(op, cmpFloat(f, lit.num))
		}
		if lit.kind != litString {
			return false
		}
		v = strconv.FormatFloat(f, 'f', -1, 64)
	}
	switch v := v.(type) {
	case string:
		if lit.kind != litString && lit.kind != litNumber && lit.kind != litBool {
			return false
		}
		want := lit.lower
		if lit.kind == litBool {
			want = strconv.FormatBool(lit.b)
		}
		return stringOp(v, op, want)
	case bool:
		if op != "eq" {
			return false
		}
		switch lit.kind {
		case litBool:
			return v == lit.b
		case litString:
			return strings.EqualFold(lit.text, strconv.FormatBool(v))
		}
	}
	return false
}

// stringOp applies op to v and want, where want is already lower-case.
func stringOp(v, op, want string) bool {
	if op == "eq" {
		return strings.EqualFold(v, want)
	}
	lv := strings.ToLower(v)
	switch op {
	case "co":
		return strings.Contains(lv, want)
	case "sw":
		return strings.HasPrefix(lv, want)
	case "ew":
		return strings.HasSuffix(lv, want)
	}
	return orderOp(op, strings.Compare(lv, want))
}

func orderOp(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false // co, sw, ew on numbers
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nonEmpty reports whether v counts as present for "pr": not null, not an
// empty string, list or object.
func nonEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case map[string]any:
		return len(v) > 0
	}
	if l, ok := asList(v); ok {
		return len(l) > 0
	}
	return true
}
