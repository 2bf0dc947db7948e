package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var userCols = []Column{
	{Name: "workspace_id", Type: TypeInt},
	{Name: "user_name", Type: TypeString},
	{Name: "active", Type: TypeBool},
	{Name: "score", Type: TypeFloat},
	{Name: "created", Type: TypeTime},
}

var created = time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))

// userRows cover quoting, unicode, nils and every type.
var userRows = [][]any{
	{int64(123), "alice@example.test", true, 1.5, created},
	{123, `bob "the builder", jr`, false, 2, time.Time{}},
	{uint32(7), "line\nbreak", nil, math.NaN(), created.Add(500 * time.Millisecond)},
	{nil, "José <&>", true, nil, nil},
}

func writeUsers(t *testing.T, tb Tables) {
	t.Helper()
	s, err := tb.Table("users", userCols)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range userRows {
		if err := s.WriteRow(r...); err != nil {
			t.Fatal(err)
		}
	}
	g, err := tb.Table("groups", []Column{{Name: "name"}, {Name: "members", Type: TypeInt}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.WriteRow("admins", 2); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Summary(Summary{
		Title:   "Users per workspace",
		Columns: []Column{{Name: "workspace"}, {Name: "users", Type: TypeInt}, {Name: "groups", Type: TypeInt}},
		Rows:    [][]any{{"prod", 3, 1}, {"dev", 1, 0}},
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCSVTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export")
	tb, err := NewTables(FormatCSV, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	writeUsers(t, tb)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("output visible before Commit")
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, path); !slices.Equal(got, []string{"groups.csv", "summary.csv", "users.csv"}) {
		t.Fatalf("files = %v", got)
	}
	want := "workspace_id,user_name,active,score,created\n" +
		"123,alice@example.test,true,1.5,2026-03-04T04:06:07Z\n" +
		"123,\"bob \"\"the builder\"\", jr\",false,2,\n" +
		"7,\"line\nbreak\",,,2026-03-04T04:06:07.5Z\n" +
		",José <&>,true,,\n"
	if got := readFile(t, filepath.Join(path, "users.csv")); got != want {
		t.Errorf("users.csv:\n got  %q\n want %q", got, want)
	}
	if got := readFile(t, filepath.Join(path, "summary.csv")); got != "workspace,users,groups\nprod,3,1\ndev,1,0\n" {
		t.Errorf("summary.csv = %q", got)
	}
	if m := mode(t, filepath.Join(path, "users.csv")); m != 0o600 {
		t.Errorf("mode = %v, want 0600", m)
	}
}

func TestJSONLTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export")
	tb, err := NewTables(FormatJSONL, path, TablesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Abort()
	writeUsers(t, tb)
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
	want := `{"workspace_id":123,"user_name":"alice@example.test","active":true,"score":1.5,"created":"2026-03-04T04:06:07Z"}
{"workspace_id":123,"user_name":"bob \"the builder\", jr","active":false,"score":2,"created":null}
{"workspace_id":7,"user_name":"line\nbreak","active":null,"score":null,"created":"2026-03-04T04:06:07.5Z"}
{"workspace_id":null,"user_name":"José <&>","active":true,"score":null,"created":null}
`
	if got := readFile(t, filepath.Join(path, "users.jsonl")); got != want {
		t.Errorf("users.jsonl:\n got  %s\n want %s", got, want)
	}
	if got := dirNames(t, path); !slices.Equal(got, []string{"groups.jsonl", "summary.jsonl", "users.jsonl"}) {
		t.Errorf("files = %v", got)
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := map[string]string{
		"plain":           `"plain"`,
		"tab\there":       `"tab\there"`,
		"\x01\x1f":        `"\u0001\u001f"`,
		"bad\xffutf8":     `"bad\ufffdutf8"`,
		"sep\u2028\u2029": `"sep\u2028\u2029"`,
		`q"b\`:            `"q\"b\\"`,
		"é\xff\xfeü€":     `"é\ufffd\ufffdü€"`,
		"":                `""`,
	}
	for in, want := range tests {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzAppendJSONString checks that the output is one JSON string that
// decodes to the input, with each byte of invalid UTF-8 replaced by U+FFFD
// (as encoding/json does), and that only the escapes it must have are used.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"plain", "a\"b\\c\n\r\t\x00\x1f", "é\xff\xfeü€", "\u2028x\u2029", "<&>", "\xf0\x9f\x98"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString([]byte("x"), s)
		if out[0] != 'x' {
			t.Fatal("prefix overwritten")
		}
		var got string
		if err := json.Unmarshal(out[1:], &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: not JSON: %v", s, out[1:], err)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r) // RuneError for each invalid byte
			i += size
		}
		if got != want.String() {
			t.Errorf("appendJSONString(%q) decodes to %q, want %q", s, got, want.String())
		}
		if bytes.ContainsAny(out[1:], "\u2028\u2029") {
			t.Errorf("appendJSONString(%q) = %s: unescaped line separator", s, out[1:])
		}
	})
}

func TestTablesRejectBadRows(t *testing.T) {
	for _, f := range []Format{FormatCSV, FormatJSONL, FormatXLSX} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			tb, err := NewTables(f, filepath.Join(dir, "out."+string(f)), TablesOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Abort()
			s, err := tb.Table("users", userCols)
			if err != nil {
				t.Fatal(err)
			}
			for _, row := range [][]any{
				{1, "a", "yes", 1.0, created},                     // string in a bool column
				{1, "a", true},                                    // short row
				{uint64(math.MaxUint64), "a", true, 1.0, created}, // overflows int64
				{1, 2, true, 1.0, created},                        // int in a string column
			} {
				if err := s.WriteRow(row...); !errors.Is(err, ErrValueType) {
					t.Errorf("WriteRow(%v) = %v, want ErrValueType", row, err)
				}
			}
			if _, err := tb.Table("users", userCols); err == nil {
				t.Error("duplicate table accepted")
			}
			if _, err := tb.Table("x", []Column{{Name: "a"}, {Name: "a"}}); err == nil {
				t.Error("duplicate column accepted")
			}
			if _, err := tb.Table("x", nil); err == nil {
				t.Error("table without columns accepted")
			}
			tb.Abort()
			if got := dirNames(t, dir); len(got) != 0 {
				t.Errorf("Abort left %v", got)
			}
			if err := tb.Commit(); !errors.Is(err, os.ErrClosed) {
				t.Errorf("Commit after Abort = %v", err)
			}
		})
	}
}

func TestTablesExistsAndForce(t *testing.T) {
	for _, f := range []Format{FormatCSV, FormatJSONL, FormatXLSX} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			write := func(force bool, name string) error {
				tb, err := NewTables(f, path, TablesOptions{Force: force})
				if err != nil {
					return err
				}
				defer tb.Abort()
				s, err := tb.Table(name, []Column{{Name: "v"}})
				if err != nil {
					return err
				}
				if err := s.WriteRow(name); err != nil {
					return err
				}
				return tb.Commit()
			}
			if err := write(false, "first"); err != nil {
				t.Fatal(err)
			}
			err := write(false, "second")
			if !errors.Is(err, ErrExists) || err.Error() != "output "+path+" exists: pass --force to overwrite" {
				t.Fatalf("second write = %v, want ErrExists", err)
			}
			if err := write(true, "third"); err != nil {
				t.Fatal(err)
			}
			if f != FormatXLSX {
				if got := dirNames(t, path); !slices.Equal(got, []string{"third." + string(f)}) {
					t.Errorf("output holds %v, want only the new table", got)
				}
			}
			if got := dirNames(t, dir); !slices.Equal(got, []string{"out"}) {
				t.Errorf("dir holds %v: temp files left", got)
			}
		})
	}
}

func TestTablesConcurrentWriters(t *testing.T) {
	for _, f := range []Format{FormatCSV, FormatXLSX} {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			tb, err := NewTables(f, path, TablesOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Abort()
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := tb.Table(fmt.Sprintf("ws%d", w), []Column{{Name: "i", Type: TypeInt}})
					if err != nil {
						errs <- err
						return
					}
					// More rows than are held back for the widths: the
					// sheets stream concurrently.
					for i := range 1500 {
						if err := s.WriteRow(i); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if err := tb.Commit(); err != nil {
				t.Fatal(err)
			}
			if f == FormatCSV {
				got := readFile(t, filepath.Join(path, "ws3.csv"))
				if lines := strings.Count(got, "\n"); lines != 1501 || !strings.HasSuffix(got, "\n1498\n1499\n") {
					t.Errorf("ws3.csv has %d lines, ends %q", lines, got[len(got)-10:])
				}
				return
			}
			x := openXLSX(t, path)
			rows, err := x.GetRows("ws3")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1501 || rows[1500][0] != "1499" {
				t.Errorf("ws3 has %d rows", len(rows))
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"csv": FormatCSV, "JSONL": FormatJSONL, "ndjson": FormatJSONL, "xlsx": FormatXLSX} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	_, err := ParseFormat("xls")
	if !errors.Is(err, ErrBadFormat) || err.Error() != `invalid output format "xls": use one of csv, jsonl, xlsx` {
		t.Errorf("err = %v", err)
	}
}

func TestFormatValue(t *testing.T) {
	s := "p"
	tests := []struct {
		t    ColumnType
		v    any
		want string
	}{
		{TypeString, "x", "x"},
		{TypeString, &s, "p"},
		{TypeString, (*string)(nil), ""},
		{TypeString, LevelInfo, "INFO"},
		{TypeInt, int8(-3), "-3"},
		{TypeFloat, float32(0.25), "0.25"},
		{TypeFloat, 1e21, "1000000000000000000000"},
		{TypeBool, false, "false"},
		{TypeTime, created, "2026-03-04T04:06:07Z"},
		{TypeTime, time.Time{}, ""},
		{TypeInt, nil, ""},
	}
	for _, tt := range tests {
		got, err := FormatValue(tt.t, tt.v)
		if err != nil || got != tt.want {
			t.Errorf("FormatValue(%v, %#v) = %q, %v; want %q", tt.t, tt.v, got, err, tt.want)
		}
	}
	if _, err := FormatValue(TypeTime, "2026-01-01"); !errors.Is(err, ErrValueType) {
		t.Errorf("string as time: %v", err)
	}
}

func TestSanitizeNames(t *testing.T) {
	sheets := map[string]string{
		"users":                       "users",
		"a[b]:c*d?e/f\\g":             "a_b__c_d_e_f_g",
		"'quoted'":                    "quoted",
		"":                            "Sheet",
		strings.Repeat("x", 40):       strings.Repeat("x", 31),
		"workspace: prod / east (eu)": "workspace_ prod _ east (eu)",
	}
	for in, want := range sheets {
		if got := sanitizeSheetName(in); got != want {
			t.Errorf("sanitizeSheetName(%q) = %q, want %q", in, got, want)
		}
	}
	taken := map[string]bool{"summary": true, strings.Repeat("x", 31): true, "users": true, "users~2": true}
	if got := uniqueSheetName("Users", taken); got != "Users~3" {
		t.Errorf("uniqueSheetName(Users) = %q", got)
	}
	if got := uniqueSheetName(strings.Repeat("x", 31), taken); got != strings.Repeat("x", 29)+"~2" {
		t.Errorf("uniqueSheetName(long) = %q", got)
	}
	files := map[string]string{"users": "users", "../etc/passwd": "_._etc_passwd", ".hidden": "_hidden", "ws 1/ü": "ws_1__", "": "table"}
	for in, want := range files {
		if got := sanitizeFileName(in); got != want {
			t.Errorf("sanitizeFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestListColumns checks that JSON Lines carries lists as arrays (names
// holding the separator, quotes or newlines survive), while CSV and XLSX
// join them with the column's separator. A list of lists (paths) is an
// array of arrays in JSON Lines, each path joined with the column's
// ItemJoin in CSV and XLSX.
func TestListColumns(t *testing.T) {
	cols := []Column{{Name: "name"}, {Name: "groups", Type: TypeList}, {Name: "via", Type: TypeList, Join: " > "}, {Name: "paths", Type: TypeList}}
	rows := [][]any{
		{"a", []string{"x; y", "line\nbreak", `q"uote`}, []string{"outer", "inner"}, [][]string{{"g > 1", "h"}, {"k"}}},
		{"b", []string{}, nil, [][]string{}},
	}
	for _, f := range []Format{FormatCSV, FormatJSONL, FormatXLSX} {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			tb, err := NewTables(f, path, TablesOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Abort()
			s, err := tb.Table("t", cols)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if err := s.WriteRow(r...); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.WriteRow("c", "not a list", nil, nil); !errors.Is(err, ErrValueType) {
				t.Errorf("a string in a list column: %v, want ErrValueType", err)
			}
			if err := tb.Commit(); err != nil {
				t.Fatal(err)
			}
			switch f {
			case FormatCSV:
				want := "name,groups,via,paths\na,\"x; y; line\nbreak; q\"\"uote\",outer > inner,g > 1 > h; k\nb,,,\n"
				if got := readFile(t, filepath.Join(path, "t.csv")); got != want {
					t.Errorf("csv = %q, want %q", got, want)
				}
			case FormatJSONL:
				lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(path, "t.jsonl"))), "\n")
				var got struct {
					Groups []string   `json:"groups"`
					Via    []string   `json:"via"`
					Paths  [][]string `json:"paths"`
				}
				if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.Groups, []string{"x; y", "line\nbreak", `q"uote`}) || !slices.Equal(got.Via, []string{"outer", "inner"}) {
					t.Errorf("jsonl lists = %+v", got)
				}
				if len(got.Paths) != 2 || !slices.Equal(got.Paths[0], []string{"g > 1", "h"}) || !slices.Equal(got.Paths[1], []string{"k"}) {
					t.Errorf("jsonl paths = %q, want [[\"g > 1\" \"h\"] [\"k\"]]", got.Paths)
				}
				if lines[1] != `{"name":"b","groups":null,"via":null,"paths":null}` {
					t.Errorf("empty lists: %s", lines[1])
				}
			case FormatXLSX:
				x := openXLSX(t, path)
				got, err := x.GetRows("t")
				if err != nil {
					t.Fatal(err)
				}
				if got[1][1] != "x; y; line\nbreak; q\"uote" || got[1][2] != "outer > inner" || got[1][3] != "g > 1 > h; k" || len(got[2]) != 1 {
					t.Errorf("xlsx rows = %q", got)
				}
			}
		})
	}
}

// TestAboutFiles checks about.csv and about.json next to directory
// outputs: the fields, then each table's status with its row count.
func TestAboutFiles(t *testing.T) {
	about := About{
		Fields: []AboutField{{"as_of", "2026-12-01T09:30:00Z"}, {"account_id", ""}},
		Tables: []TableStatus{{Table: "users", Status: StatusOK}, {Table: "account_users", Status: StatusFailed, Detail: "denied, \"twice\""}},
	}
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		t.Run(string(f), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			tb, err := NewTables(f, path, TablesOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Abort()
			writeUsers(t, tb)
			if err := tb.About(about); err != nil {
				t.Fatal(err)
			}
			if err := tb.About(about); err == nil {
				t.Error("a second About was accepted")
			}
			if err := tb.Commit(); err != nil {
				t.Fatal(err)
			}
			if f == FormatCSV {
				want := "section,name,value,rows,detail\n" +
					"about,as_of,2026-12-01T09:30:00Z,,\n" +
					"about,account_id,,,\n" +
					"table,users,ok,4,\n" +
					"table,account_users,failed,,\"denied, \"\"twice\"\"\"\n"
				if got := readFile(t, filepath.Join(path, "about.csv")); got != want {
					t.Errorf("about.csv = %q, want %q", got, want)
				}
				return
			}
			got := readFile(t, filepath.Join(path, "about.json"))
			want := "{\"as_of\":\"2026-12-01T09:30:00Z\",\n\"account_id\":null,\n\"tables\":[\n" +
				"{\"table\":\"users\",\"status\":\"ok\",\"rows\":4,\"detail\":null},\n" +
				"{\"table\":\"account_users\",\"status\":\"failed\",\"rows\":null,\"detail\":\"denied, \\\"twice\\\"\"}]}\n"
			if got != want {
				t.Errorf("about.json = %q, want %q", got, want)
			}
			if !json.Valid([]byte(got)) {
				t.Error("about.json is not valid JSON")
			}
		})
	}
}
