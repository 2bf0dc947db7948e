package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// jsonPathError is a problem in a JSON document at a path such as
// workspaces[2].groups[5], or at a line and column for bad syntax.
type jsonPathError struct {
	Path      string // "workspaces[2].groups[5]"; "" for the document itself
	Line, Col int    // for syntax errors, from 1; 0 otherwise
	Problem   string
}

func (e *jsonPathError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Problem)
	case e.Path == "":
		return e.Problem
	}
	return e.Path + ": " + e.Problem
}

// locateJSONError returns where decoding b into a value of type t fails,
// as encoding/json with DisallowUnknownFields would fail (cause): the path
// of an unknown field, of a value of the wrong type or of a value its type
// refuses (a json.Unmarshaler), or the line and column of bad syntax. It
// returns cause itself when it cannot tell.
func locateJSONError(b []byte, t reflect.Type, cause error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := walkJSON(dec, t, "")
	var pe *jsonPathError
	if errors.As(err, &pe) {
		return pe
	}
	var se *json.SyntaxError
	if errors.As(cause, &se) || errors.As(err, &se) {
		line, col := lineCol(b, se.Offset-1) // the offending byte
		return &jsonPathError{Line: line, Col: col, Problem: strings.TrimPrefix(se.Error(), "json: ")}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(cause, io.ErrUnexpectedEOF) {
		return errors.New("the JSON ends too early (a missing } or ])")
	}
	return cause
}

// lineCol returns the line and column, from 1, of the byte at index i of
// b.
func lineCol(b []byte, i int64) (int, int) {
	i = min(max(i, 0), int64(len(b)))
	before := b[:i]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(i) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walkJSON reads the next value of dec as a value of type t would be
// decoded, and returns a *jsonPathError for the first problem.
func walkJSON(dec *json.Decoder, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if t.Kind() == reflect.Interface || bytes.Equal(raw, []byte("null")) {
			return nil
		}
		v := reflect.New(t)
		if err := v.Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			return &jsonPathError{Path: path, Problem: strings.TrimPrefix(err.Error(), "json: ")}
		}
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null fits any type
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return wrongType(path, tok, "an object")
		}
		fields := jsonFields(t)
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			f, ok := fields[key]
			if !ok {
				for name, ff := range fields {
					if strings.EqualFold(name, key) {
						f, ok = ff, true
						break
					}
				}
			}
			if !ok {
				return &jsonPathError{Path: path, Problem: fmt.Sprintf("unknown field %q", key)}
			}
			if err := walkJSON(dec, f, joinPath(path, key)); err != nil {
				return err
			}
		}
		_, err := dec.Token() // '}'
		return err
	case reflect.Map:
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return wrongType(path, tok, "an object")
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			if err := walkJSON(dec, t.Elem(), joinPath(path, key)); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case reflect.Slice, reflect.Array:
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			if t.Elem().Kind() == reflect.Uint8 {
				if _, ok := tok.(string); ok { // []byte is base64 text
					return nil
				}
			}
			return wrongType(path, tok, "a list")
		}
		for i := 0; dec.More(); i++ {
			if err := walkJSON(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return wrongType(path, tok, "a string")
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return wrongType(path, tok, "true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return wrongType(path, tok, "a whole number")
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			return &jsonPathError{Path: path, Problem: fmt.Sprintf("%s is not a whole number that fits", n)}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			return wrongType(path, tok, "a whole number")
		}
		if _, err := strconv.ParseUint(n.String(), 10, t.Bits()); err != nil {
			return &jsonPathError{Path: path, Problem: fmt.Sprintf("%s is not a non-negative whole number that fits", n)}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := tok.(json.Number); !ok {
			return wrongType(path, tok, "a number")
		}
	}
	return nil
}

// jsonFields maps the JSON names of t's fields (embedded structs'
// included, as encoding/json promotes them) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && !strings.HasPrefix(tag, "-,") {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// wrongType describes a value of the wrong JSON type.
func wrongType(path string, tok json.Token, want string) error {
	got := "a number"
	switch v := tok.(type) {
	case json.Delim:
		got = "a list"
		if v == '{' {
			got = "an object"
		}
	case string:
		got = "the string " + strconv.Quote(v)
	case bool:
		got = strconv.FormatBool(v)
	}
	return &jsonPathError{Path: path, Problem: "want " + want + ", got " + got}
}
