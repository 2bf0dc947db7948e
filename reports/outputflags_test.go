package reports

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCheckOutputFlags(t *testing.T) {
	formats := []string{"xlsx", "csv", "json"}
	tests := []struct {
		format, path, want string
	}{
		{"xlsx", "acme.xlsx", ""},
		{"CSV", "out", ""},
		{"json", "-", ""},
		{"json", "./json", ""},
		{"yaml", "x", ""}, // a format word: the command's own check names its formats
		{"acme.xlsx", "", "--output acme.xlsx: that is a path, not a format (-o is the output format, as in the Databricks CLI): pass --out acme.xlsx --output xlsx"},
		{"out/dir", "", "pass --out out/dir for the path, and --output with one of xlsx, csv, json"},
		{"xlsx", "json", "--out json: that is a format, not a path: pass --output json for the format"},
		{"xlsx", "HTML", "--out HTML: that is a format"},
	}
	for _, tt := range tests {
		err := CheckOutputFlags(tt.format, tt.path, formats)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("(%q, %q): %v", tt.format, tt.path, err)
		case tt.want != "" && (err == nil || !errors.Is(err, ErrOutputFlags) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("(%q, %q): %v, want %q", tt.format, tt.path, err, tt.want)
		}
	}
	// The old "-o PATH" with a path that has no extension, or a format
	// that no command writes: both readings are named.
	err := CheckOutputFlags("report", "", formats)
	if want := "--output report: unknown format: use one of xlsx, csv, json (-o is the output format, as in the Databricks CLI; for a path, pass --out report)"; err == nil || err.Error() != want {
		t.Errorf("(report, \"\"): %v, want %q", err, want)
	}
}

func TestStreamTables(t *testing.T) {
	var out bytes.Buffer
	tb, err := NewStreamTables(&out, FormatJSONL, "users")
	if err != nil {
		t.Fatal(err)
	}
	users, _ := tb.Table("users", []Column{{Name: "name"}, {Name: "n", Type: TypeInt}})
	other, _ := tb.Table("groups", []Column{{Name: "g"}})
	if err := other.WriteRow("discarded"); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteRow(1); !errors.Is(err, ErrValueType) {
		t.Errorf("a bad row of a discarded table: %v", err)
	}
	if err := users.WriteRow("ann", 1); err != nil {
		t.Fatal(err)
	}
	if err := tb.Summary(Summary{}); err != nil {
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != `{"name":"ann","n":1}`+"\n" {
		t.Errorf("stdout %q", got)
	}
	if _, err := NewStreamTables(&out, FormatXLSX, "users"); !errors.Is(err, ErrBadFormat) {
		t.Errorf("xlsx stream: %v", err)
	}
}
