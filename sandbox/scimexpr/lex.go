package scimexpr

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
	tokLBrack
	tokRBrack
)

// token is one lexical element of a filter or path. For tokString, text is the
// decoded string value; for every other kind it is the source text.
type token struct {
	kind tokKind
	text string
	pos  int // byte offset in the source
}

// describe names t for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return "string " + quote(t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDelim(c byte) bool {
	return isSpace(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"'
}

// lex splits src into tokens. Words are maximal runs of bytes that are
// neither whitespace nor one of ( ) [ ] ". Strings are JSON strings.
// The returned slice always ends with a tokEOF token.
func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case isSpace(c):
			i++
		case c == '(':
			toks = append(toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tokRParen, ")", i})
			i++
		case c == '[':
			toks = append(toks, token{tokLBrack, "[", i})
			i++
		case c == ']':
			toks = append(toks, token{tokRBrack, "]", i})
			i++
		case c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokString, s, i})
			i = n
		default:
			j := i
			for j < len(src) && !isDelim(src[j]) {
				j++
			}
			toks = append(toks, token{tokWord, src[i:j], i})
			i = j
		}
	}
	return append(toks, token{tokEOF, "", len(src)}), nil
}

// lexString decodes the JSON string starting at src[start] == '"'. It returns
// the decoded value and the offset just past the closing quote. Bytes other
// than '"' and '\\' are taken verbatim (raw control characters and invalid
// UTF-8 are tolerated). A lone UTF-16 surrogate decodes to U+FFFD, as in
// encoding/json.
func lexString(src string, start int) (string, int, error) {
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		c := src[i]
		switch c {
		case '"':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(src) {
				return "", 0, posErrorf(start, "unterminated string")
			}
			e := src[i+1]
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(src, i+2)
				if !ok {
					return "", 0, posErrorf(i, "invalid \\u escape in string")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
				continue
			default:
				return "", 0, posErrorf(i, "invalid escape %q in string", "\\"+string(rune(e)))
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, posErrorf(start, "unterminated string")
}

func hex4(s string, at int) (rune, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[at : at+4]) {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// quote returns s as a JSON string literal that lexString decodes back to s.
// Only '"', '\\' and control characters are escaped; other bytes, including
// invalid UTF-8, are written verbatim so that the value round-trips exactly.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// posError is a syntax error at a byte offset; the parsers turn it into an
// *Error of the right SCIMType.
type posError struct {
	pos int
	msg string
}

func (e *posError) Error() string { return fmt.Sprintf("%s at position %d", e.msg, e.pos+1) }

func posErrorf(pos int, format string, args ...any) *posError {
	return &posError{pos: pos, msg: fmt.Sprintf(format, args...)}
}
