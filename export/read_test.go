package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/dbiam/dbiam/reports"
)

// table is an output table read back as text: the canonical text of each
// value (reports.FormatValue), whatever the format it was read from.
type table struct {
	header []string
	rows   [][]string
}

// summaryColumns are the columns of the summary table.
var summaryColumns = []reports.Column{str("workspace"), num("users"), num("service_principals"), num("groups")}

func tableColumns(name string) []reports.Column {
	if name == "summary" || name == "Summary" {
		return summaryColumns
	}
	return Columns(name)
}

// readOutput reads every table of an export in format at path.
func readOutput(t *testing.T, format, path string) map[string]table {
	t.Helper()
	switch format {
	case "csv":
		return readCSVDir(t, path)
	case "json":
		return readJSONLDir(t, path)
	case "xlsx":
		return readXLSX(t, path)
	}
	t.Fatalf("unknown format %q", format)
	return nil
}

func readCSVDir(t *testing.T, dir string) map[string]table {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CSV files in %s: %v", dir, err)
	}
	out := map[string]table{}
	for _, f := range files {
		if filepath.Base(f) == "about.csv" {
			continue // see readAbout
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(recs) == 0 {
			t.Fatalf("%s: no header", f)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".csv")] = table{header: recs[0], rows: recs[1:]}
	}
	return out
}

func readJSONLDir(t *testing.T, dir string) map[string]table {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no JSON Lines files in %s: %v", dir, err)
	}
	out := map[string]table{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		cols := tableColumns(name)
		if cols == nil {
			t.Fatalf("unexpected file %s", f)
		}
		tb := table{}
		for _, c := range cols {
			tb.header = append(tb.header, c.Name)
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(obj) != len(cols) {
				t.Fatalf("%s: %d keys, want %d: %s", f, len(obj), len(cols), sc.Text())
			}
			row := make([]string, len(cols))
			for i, c := range cols {
				v, ok := obj[c.Name]
				if !ok {
					t.Fatalf("%s: key %q missing", f, c.Name)
				}
				switch v := v.(type) {
				case nil:
				case string:
					if c.Type != reports.TypeString {
						t.Fatalf("%s: %s is a JSON string, want %v", f, c.Name, c.Type)
					}
					row[i] = v
				case bool:
					if c.Type != reports.TypeBool {
						t.Fatalf("%s: %s is a JSON bool, want %v", f, c.Name, c.Type)
					}
					row[i] = strconv.FormatBool(v)
				case json.Number:
					if c.Type != reports.TypeInt {
						t.Fatalf("%s: %s is a JSON number, want %v", f, c.Name, c.Type)
					}
					row[i] = v.String()
				case []any:
					if c.Type != reports.TypeList || len(v) == 0 {
						t.Fatalf("%s: %s is a JSON array of %d, want %v (empty lists are null)", f, c.Name, len(v), c.Type)
					}
					// A column of paths (ItemJoin set) holds arrays of
					// names, the others strings.
					items := make([]string, len(v))
					for k, item := range v {
						if c.ItemJoin == "" {
							s, ok := item.(string)
							if !ok {
								t.Fatalf("%s: %s holds a %T", f, c.Name, item)
							}
							items[k] = s
							continue
						}
						inner, ok := item.([]any)
						if !ok || len(inner) == 0 {
							t.Fatalf("%s: %s holds %#v, want an array of names", f, c.Name, item)
						}
						names := make([]string, len(inner))
						for m, name := range inner {
							if names[m], ok = name.(string); !ok {
								t.Fatalf("%s: %s holds a path with a %T", f, c.Name, name)
							}
						}
						items[k] = strings.Join(names, c.ItemJoin)
					}
					// Joined as CSV and XLSX join them, to compare the formats.
					row[i] = strings.Join(items, c.Join)
				default:
					t.Fatalf("%s: %s: unexpected %T", f, c.Name, v)
				}
			}
			tb.rows = append(tb.rows, row)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		out[name] = tb
	}
	return out
}

func readXLSX(t *testing.T, path string) map[string]table {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	out := map[string]table{}
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatalf("%s: %v", sheet, err)
		}
		name := sheet
		switch sheet {
		case "Summary":
			name = "summary"
		case "About":
			continue // see readAbout
		}
		cols := tableColumns(name)
		if cols == nil {
			t.Fatalf("unexpected sheet %q", sheet)
		}
		if len(rows) == 0 {
			t.Fatalf("sheet %q has no header", sheet)
		}
		tb := table{header: rows[0]}
		for _, r := range rows[1:] {
			if len(r) > len(cols) {
				r = r[:len(cols)] // the Summary sheet has its chart to the right
			}
			row := make([]string, len(cols))
			copy(row, r)
			for i, c := range cols {
				if c.Type == reports.TypeBool {
					row[i] = strings.ToLower(row[i])
				}
			}
			tb.rows = append(tb.rows, row)
		}
		if name != "summary" {
			panes, err := f.GetPanes(sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 {
				t.Errorf("sheet %q: header not frozen: %+v, %v", sheet, panes, err)
			}
		}
		out[name] = tb
	}
	return out
}

// col returns the index of column name in tb.
func (tb table) col(t *testing.T, name string) int {
	t.Helper()
	i := slices.Index(tb.header, name)
	if i < 0 {
		t.Fatalf("no column %q in %v", name, tb.header)
	}
	return i
}

// where returns the rows whose columns equal the given name/value pairs.
func (tb table) where(t *testing.T, kv ...string) [][]string {
	t.Helper()
	var out [][]string
next:
	for _, r := range tb.rows {
		for i := 0; i < len(kv); i += 2 {
			if r[tb.col(t, kv[i])] != kv[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// one returns the single row matching kv.
func (tb table) one(t *testing.T, kv ...string) map[string]string {
	t.Helper()
	rows := tb.where(t, kv...)
	if len(rows) != 1 {
		t.Fatalf("%d rows match %v, want 1", len(rows), kv)
	}
	m := map[string]string{}
	for i, h := range tb.header {
		m[h] = rows[0][i]
	}
	return m
}

// about is an export's About table: its fields, and each table's status,
// row count and detail.
type about struct {
	fields map[string]string
	tables map[string][3]string
	order  []string // table names in order
}

// readAbout reads the About table of an export in format at path:
// about.csv, about.json or the About sheet.
func readAbout(t *testing.T, format, path string) about {
	t.Helper()
	a := about{fields: map[string]string{}, tables: map[string][3]string{}}
	addTable := func(name, status, rows, detail string) {
		a.tables[name] = [3]string{status, rows, detail}
		a.order = append(a.order, name)
	}
	switch format {
	case "csv":
		fh, err := os.Open(filepath.Join(path, "about.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		recs, err := csv.NewReader(fh).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], []string{"section", "name", "value", "rows", "detail"}) {
			t.Fatalf("about.csv header %q", recs[0])
		}
		for _, r := range recs[1:] {
			if r[0] == "about" {
				a.fields[r[1]] = r[2]
			} else {
				addTable(r[1], r[2], r[3], r[4])
			}
		}
	case "json":
		b, err := os.ReadFile(filepath.Join(path, "about.json"))
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("about.json: %v", err)
		}
		for k, v := range raw {
			if k == "tables" {
				continue
			}
			var s *string
			if err := json.Unmarshal(v, &s); err != nil {
				t.Fatalf("about.json %s: %v", k, err)
			}
			if s != nil {
				a.fields[k] = *s
			}
		}
		var tables []struct {
			Table, Status string
			Rows          *int
			Detail        *string
		}
		if err := json.Unmarshal(raw["tables"], &tables); err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			rows, detail := "", ""
			if tb.Rows != nil {
				rows = strconv.Itoa(*tb.Rows)
			}
			if tb.Detail != nil {
				detail = *tb.Detail
			}
			addTable(tb.Table, tb.Status, rows, detail)
		}
	case "xlsx":
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if first := f.GetSheetName(0); first != "About" {
			t.Fatalf("first sheet %q, want About", first)
		}
		rows, err := f.GetRows("About")
		if err != nil {
			t.Fatal(err)
		}
		inTables := false
		for _, r := range rows {
			r = append(r, "", "", "", "")
			switch {
			case r[0] == "":
			case r[0] == "table" && r[1] == "status":
				inTables = true
			case inTables:
				addTable(r[0], r[1], r[2], r[3])
			default:
				a.fields[r[0]] = r[1]
			}
		}
	}
	return a
}
