package diff

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// The tables of an export that a comparison reads (dbiam export's table
// and column names), and the text that joins the items of a multi-valued
// cell in CSV and XLSX.
const (
	tableAbout        = "about"
	tableWorkspaces   = "workspaces"
	tableUsers        = "users"
	tableSPs          = "service_principals"
	tableGroups       = "groups"
	tableMemberships  = "memberships"
	tableEntitlements = "entitlements"
	tableAssignments  = "assignments"

	listJoin = "; "
	viaJoin  = " > "
)

// readTables are the tables read from an export, besides about.
var readTables = []string{tableWorkspaces, tableUsers, tableSPs, tableGroups, tableMemberships, tableEntitlements, tableAssignments}

// Export formats, as detected.
const (
	formatCSV   = "csv"
	formatJSONL = "json" // a directory of .jsonl files, as --output json writes it
	formatXLSX  = "xlsx"
)

// value is one cell: text, or the items of a JSON array (JSON Lines
// exports write lists as arrays).
type value struct {
	text  string
	items []string
	list  bool
}

// table is a table read from an export: its rows, keyed by column name.
type table struct {
	cols map[string]int
	rows [][]value
}

// has reports whether the table has column name.
func (t *table) has(name string) bool {
	_, ok := t.cols[name]
	return ok
}

// get returns the text of column name in row r ("" when absent). A list is
// joined with "; ".
func (t *table) get(r []value, name string) string {
	i, ok := t.cols[name]
	if !ok || i >= len(r) {
		return ""
	}
	if r[i].list {
		return strings.Join(r[i].items, listJoin)
	}
	return r[i].text
}

// items returns the items of list column name in row r: a JSON array as it
// is, a joined cell split on sep.
func (t *table) items(r []value, name, sep string) []string {
	i, ok := t.cols[name]
	if !ok || i >= len(r) {
		return nil
	}
	if r[i].list {
		return r[i].items
	}
	if r[i].text == "" {
		return nil
	}
	return strings.Split(r[i].text, sep)
}

// rawExport is the tables of one export as read: format, about fields and
// table statuses, and the tables present.
type rawExport struct {
	path   string
	format string
	about  map[string]string
	status map[string]string // table -> status, from the About table
	// rows are the tables' row counts the About table records, to tell a
	// truncated file from one with fewer rows.
	rows   map[string]int
	tables map[string]*table
}

// boolColumns are the columns whose XLSX cells read back as TRUE/FALSE.
var boolColumns = map[string]bool{"active": true, "workspace_admin": true, "direct": true, "account_user": true, "identity_federated": true}

// load reads the export at path in whatever format dbiam wrote it: an
// XLSX workbook, or a directory of CSV or JSON Lines files.
func load(path string) (*rawExport, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read export %s: %w", path, err)
	}
	x := &rawExport{path: path, about: map[string]string{}, status: map[string]string{}, rows: map[string]int{}, tables: map[string]*table{}}
	if !fi.IsDir() {
		x.format = formatXLSX
		if err := x.loadXLSX(); err != nil {
			return nil, fmt.Errorf("read export %s: %w", path, err)
		}
		return x, x.checkRows()
	}
	csvs, _ := filepath.Glob(filepath.Join(path, "*.csv"))
	jsonls, _ := filepath.Glob(filepath.Join(path, "*.jsonl"))
	switch {
	case len(jsonls) > 0 && len(csvs) == 0:
		x.format = formatJSONL
	case len(csvs) > 0 && len(jsonls) == 0:
		x.format = formatCSV
	default:
		return nil, fmt.Errorf("read export %s: %w", path, errNotExport)
	}
	for _, name := range append([]string{tableAbout}, readTables...) {
		var t *table
		var err error
		if x.format == formatCSV {
			t, err = readCSVFile(filepath.Join(path, name+".csv"))
		} else if name == tableAbout {
			err = x.readAboutJSON(filepath.Join(path, "about.json"))
		} else {
			t, err = readJSONLFile(filepath.Join(path, name+".jsonl"))
		}
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return nil, fmt.Errorf("read export %s: %w", path, err)
		}
		if name == tableAbout {
			if t != nil {
				x.aboutRows(t)
			}
			continue
		}
		x.tables[name] = t
	}
	if x.tables[tableWorkspaces] == nil {
		return nil, fmt.Errorf("read export %s: no workspaces table: %w", path, errNotExport)
	}
	return x, x.checkRows()
}

// checkRows compares the rows read of each table with the count its About
// table records: a file cut short at a line boundary reads without error,
// and would show every row it lost as removed.
func (x *rawExport) checkRows() error {
	for _, name := range readTables {
		t := x.tables[name]
		want, ok := x.rows[name]
		if t == nil || !ok {
			continue
		}
		if want != len(t.rows) {
			return fmt.Errorf("read export %s: table %s has %d rows but its About table says %d: the export is truncated or was edited; compare complete exports, or export again", x.path, name, len(t.rows), want)
		}
	}
	return nil
}

// setRows records the row count of table name as the About table gives it
// ("" or not a number: unknown).
func (x *rawExport) setRows(name, rows string) {
	if n, err := strconv.Atoi(rows); err == nil {
		x.rows[name] = n
	}
}

// errNotExport is the cause of an input that is not a dbiam export.
var errNotExport = errors.New("not a dbiam export: want an XLSX workbook or a directory of CSV or JSON Lines files written by dbiam export")

// aboutRows reads an about table of columns section, name, value, rows,
// detail (about.csv, and the About sheet turned into that shape).
func (x *rawExport) aboutRows(t *table) {
	for _, r := range t.rows {
		switch t.get(r, "section") {
		case "about":
			x.about[t.get(r, "name")] = t.get(r, "value")
		case "table":
			x.status[t.get(r, "name")] = t.get(r, "value")
			x.setRows(t.get(r, "name"), t.get(r, "rows"))
		}
	}
}

func readCSVFile(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	t := newTable(header)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		row := make([]value, len(rec))
		for i, s := range rec {
			row[i] = value{text: s}
		}
		t.rows = append(t.rows, row)
	}
}

func newTable(header []string) *table {
	t := &table{cols: make(map[string]int, len(header))}
	for i, h := range header {
		t.cols[strings.TrimPrefix(h, "\ufeff")] = i
	}
	return t
}

// readJSONLFile reads a JSON Lines table: one object per line, the columns
// in the order of the first line's keys.
func readJSONLFile(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var t *table
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		keys, vals, err := decodeObject(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", filepath.Base(path), line, err)
		}
		if t == nil {
			t = newTable(keys)
		}
		row := make([]value, len(t.cols))
		for i, k := range keys {
			if j, ok := t.cols[k]; ok {
				row[j] = vals[i]
			}
		}
		t.rows = append(t.rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if t == nil {
		t = newTable(nil) // an empty table: no line says its columns, none is needed
	}
	return t, nil
}

// decodeObject decodes one JSON object into its keys, in order, and their
// values: strings, numbers and booleans as text, null as "", arrays of
// strings as lists.
func decodeObject(b []byte) ([]string, []value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	var vals []value
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string)
		var raw any
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		var v value
		switch x := raw.(type) {
		case nil:
		case string:
			v.text = x
		case bool:
			v.text = strconv.FormatBool(x)
		case json.Number:
			v.text = x.String()
		case []any:
			v.list = true
			for _, item := range x {
				s, err := listItem(item)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", key, err)
				}
				v.items = append(v.items, s)
			}
		default:
			return nil, nil, fmt.Errorf("%s: unexpected %T", key, raw)
		}
		keys = append(keys, key)
		vals = append(vals, v)
	}
	return keys, vals, nil
}

// listItem returns the text of an item of a JSON Lines list: a string, or
// a path of group names (an array of strings, as via_groups holds), joined
// with viaJoin as CSV writes it.
func listItem(item any) (string, error) {
	switch x := item.(type) {
	case string:
		return x, nil
	case []any:
		names := make([]string, len(x))
		for i, n := range x {
			s, ok := n.(string)
			if !ok {
				return "", fmt.Errorf("list item %v is not a string or an array of strings", item)
			}
			names[i] = s
		}
		return strings.Join(names, viaJoin), nil
	}
	return "", fmt.Errorf("list item %v is not a string or an array of strings", item)
}

// readAboutJSON reads about.json: string fields and a "tables" array.
func (x *rawExport) readAboutJSON(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("about.json: %w", err)
	}
	for k, v := range raw {
		if k == "tables" {
			var tables []struct {
				Table, Status string
				Rows          *int
			}
			if err := json.Unmarshal(v, &tables); err != nil {
				return fmt.Errorf("about.json tables: %w", err)
			}
			for _, t := range tables {
				x.status[t.Table] = t.Status
				if t.Rows != nil {
					x.rows[t.Table] = *t.Rows
				}
			}
			continue
		}
		var s *string
		if json.Unmarshal(v, &s) == nil && s != nil {
			x.about[k] = *s
		}
	}
	return nil
}

// loadXLSX reads the sheets of a workbook; the About sheet's two blocks
// (fields, then table statuses) become the about fields and statuses.
func (x *rawExport) loadXLSX() error {
	f, err := excelize.OpenFile(x.path)
	if err != nil {
		return fmt.Errorf("%w (%v)", errNotExport, err)
	}
	defer f.Close()
	sheets := map[string]bool{}
	for _, s := range f.GetSheetList() {
		sheets[s] = true
	}
	if sheets["About"] {
		rows, err := f.GetRows("About")
		if err != nil {
			return err
		}
		inTables := false
		for _, r := range rows {
			r = append(r, "", "", "")
			switch {
			case r[0] == "":
			case r[0] == "table" && r[1] == "status":
				inTables = true
			case inTables:
				x.status[r[0]] = r[1]
				x.setRows(r[0], r[2])
			default:
				x.about[r[0]] = r[1]
			}
		}
	}
	for _, name := range readTables {
		if !sheets[name] {
			continue
		}
		rows, err := f.Rows(name)
		if err != nil {
			return err
		}
		var t *table
		for rows.Next() {
			cells, err := rows.Columns()
			if err != nil {
				rows.Close()
				return fmt.Errorf("sheet %s: %w", name, err)
			}
			if t == nil {
				t = newTable(cells)
				continue
			}
			row := make([]value, len(t.cols))
			for i, c := range cells {
				if i < len(row) {
					row[i] = value{text: c}
				}
			}
			for col, i := range t.cols {
				if boolColumns[col] {
					row[i].text = strings.ToLower(row[i].text)
				}
			}
			t.rows = append(t.rows, row)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if t == nil {
			return fmt.Errorf("sheet %s: no header row", name)
		}
		x.tables[name] = t
	}
	if x.tables[tableWorkspaces] == nil {
		return fmt.Errorf("no workspaces sheet: %w", errNotExport)
	}
	return nil
}
