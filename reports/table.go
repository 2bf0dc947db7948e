package reports

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ColumnType tells renderers how to treat a column's values.
type ColumnType int

// Column types. The zero value is TypeString.
const (
	// TypeString holds text: string or fmt.Stringer values.
	TypeString ColumnType = iota
	// TypeInt holds whole numbers: any Go integer type (a uint64 must fit
	// in int64). XLSX writes number cells, JSON numbers.
	TypeInt
	// TypeFloat holds real numbers: float32, float64 or any integer.
	// NaN and infinities are written as empty (JSON null).
	TypeFloat
	// TypeBool holds bool values. XLSX writes boolean cells, JSON booleans.
	TypeBool
	// TypeTime holds time.Time values, written in UTC; the zero time is
	// empty. Text renderers use RFC 3339, XLSX date cells.
	TypeTime
	// TypeList holds lists of texts: []string values, or lists of lists
	// of texts ([][]string, such as paths of group names). JSON Lines
	// writes an array of strings (of arrays of strings); text renderers
	// (CSV, TSV, XLSX, HTML) join the items with the column's Join ("; "
	// when empty), each inner list joined with its ItemJoin (" > " when
	// empty) first. An empty list is empty (null in JSON), like an empty
	// text.
	TypeList
)

// DefaultJoin joins the items of a TypeList value in text renderers when
// the column sets no Join.
const DefaultJoin = "; "

// DefaultItemJoin joins the texts of each inner list of a [][]string
// TypeList value in text renderers when the column sets no ItemJoin.
const DefaultItemJoin = " > "

// String returns the type's name: string, int, float, bool or time.
func (t ColumnType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	case TypeTime:
		return "time"
	case TypeList:
		return "list"
	}
	return "ColumnType(" + strconv.Itoa(int(t)) + ")"
}

// Column is one column of a table: its header and the type of its values.
// Join, for a TypeList column, is the text that joins its items in text
// renderers; empty means DefaultJoin. ItemJoin joins the texts of each item
// of a [][]string value before; empty means DefaultItemJoin.
type Column struct {
	Name     string
	Type     ColumnType
	Join     string
	ItemJoin string
}

// join returns the column's list separator.
func (c Column) join() string {
	if c.Join == "" {
		return DefaultJoin
	}
	return c.Join
}

// itemJoin returns the separator of the texts of an item that is a list.
func (c Column) itemJoin() string {
	if c.ItemJoin == "" {
		return DefaultItemJoin
	}
	return c.ItemJoin
}

// textList is a normalised TypeList value: its items (at least one) and
// the separator that joins them in text. nested, for a [][]string value,
// holds the lists its items are the joined texts of (JSON writes them).
type textList struct {
	items  []string
	sep    string
	nested [][]string
}

// String joins the items.
func (l textList) String() string { return strings.Join(l.items, l.sep) }

// ErrValueType is matched (with errors.Is) by the error returned when a row
// value does not suit its column's type, or a row has the wrong length.
var ErrValueType = errors.New("bad row value")

// normalizeColumn is normalize for a value of column c: a TypeList value
// becomes a textList joined with the column's separator.
func normalizeColumn(c Column, v any) (any, error) {
	if c.Type == TypeList {
		return normalizeList(v, c.join(), c.itemJoin())
	}
	return normalize(c.Type, v)
}

// normalizeList checks a TypeList value: nil, []string or [][]string
// (each inner list joined with itemSep in text). An empty list is nil.
func normalizeList(v any, sep, itemSep string) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []string:
		if len(v) == 0 {
			return nil, nil
		}
		return textList{items: v, sep: sep}, nil
	case [][]string:
		if len(v) == 0 {
			return nil, nil
		}
		items := make([]string, len(v))
		for i, inner := range v {
			items[i] = strings.Join(inner, itemSep)
		}
		return textList{items: items, sep: sep, nested: v}, nil
	case textList:
		return v, nil
	}
	return nil, badValue(TypeList, v)
}

// normalize checks v against t and returns it as one of nil, string,
// int64, float64, bool, time.Time (UTC) or textList. A nil pointer, the
// zero time, NaN/Inf floats and an empty list become nil (an empty cell).
func normalize(t ColumnType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t == TypeList {
		return normalizeList(v, DefaultJoin, DefaultItemJoin)
	}
	// A value already in normal form is returned as it came, not converted
	// and boxed again: large tables are made of such values.
	switch x := v.(type) {
	case string:
		if t == TypeString {
			return v, nil
		}
	case int64:
		if t == TypeInt {
			return v, nil
		}
	case bool:
		if t == TypeBool {
			return v, nil
		}
	case float64:
		if t == TypeFloat && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return v, nil
		}
	}
	switch t {
	case TypeString:
		switch v := v.(type) {
		case string:
			return v, nil
		case *string:
			if v == nil {
				return nil, nil
			}
			return *v, nil
		case fmt.Stringer:
			return fmt.Sprint(v), nil // fmt survives nil receivers
		}
	case TypeInt:
		if n, ok := toInt64(v); ok {
			return n, nil
		}
		if p, ok := v.(*int64); ok {
			if p == nil {
				return nil, nil
			}
			return *p, nil
		}
	case TypeFloat:
		var f float64
		switch v := v.(type) {
		case float64:
			f = v
		case float32:
			f = float64(v)
		default:
			n, ok := toInt64(v)
			if !ok {
				return nil, badValue(t, v)
			}
			f = float64(n)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, nil
		}
		return f, nil
	case TypeBool:
		switch v := v.(type) {
		case bool:
			return v, nil
		case *bool:
			if v == nil {
				return nil, nil
			}
			return *v, nil
		}
	case TypeTime:
		var tm time.Time
		switch v := v.(type) {
		case time.Time:
			tm = v
		case *time.Time:
			if v == nil {
				return nil, nil
			}
			tm = *v
		default:
			return nil, badValue(t, v)
		}
		if tm.IsZero() {
			return nil, nil
		}
		return tm.UTC(), nil
	default:
		return nil, fmt.Errorf("%w: unknown column type %v", ErrValueType, t)
	}
	return nil, badValue(t, v)
}

func badValue(t ColumnType, v any) error {
	return fmt.Errorf("%w: want %s, got %T", ErrValueType, t, v)
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint:
		return int64(v), uint64(v) <= math.MaxInt64
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		return int64(v), v <= math.MaxInt64
	}
	return 0, false
}

// normalizeRow checks a row against cols and returns normalised values.
func normalizeRow(cols []Column, vals []any) ([]any, error) {
	return normalizeRowInto(nil, cols, vals)
}

// normalizeRowInto is normalizeRow writing into dst when it has room.
func normalizeRowInto(dst []any, cols []Column, vals []any) ([]any, error) {
	if len(vals) != len(cols) {
		return nil, fmt.Errorf("%w: %d values for %d columns", ErrValueType, len(vals), len(cols))
	}
	out := dst[:0]
	if cap(out) < len(vals) {
		out = make([]any, len(vals))
	}
	out = out[:len(vals)]
	for i, v := range vals {
		n, err := normalizeColumn(cols[i], v)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", cols[i].Name, err)
		}
		out[i] = n
	}
	return out, nil
}

// FormatValue returns the canonical text of v in a column of type t, as
// written to CSV and TSV and meant for any other text renderer (HTML):
// decimal integers, shortest round-tripping floats, "true"/"false", RFC 3339
// times in UTC (with fractional seconds only when present), lists joined
// with DefaultJoin, and "" for nil, nil pointers, zero times and empty
// lists. It fails with [ErrValueType] when v does not suit t.
func FormatValue(t ColumnType, v any) (string, error) {
	n, err := normalize(t, v)
	if err != nil {
		return "", err
	}
	return formatNormalized(n), nil
}

// Format returns the canonical text of v in column c: FormatValue, with a
// TypeList value joined by the column's Join.
func (c Column) Format(v any) (string, error) {
	n, err := normalizeColumn(c, v)
	if err != nil {
		return "", err
	}
	return formatNormalized(n), nil
}

func formatNormalized(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case textList:
		return v.String()
	}
	panic(fmt.Sprintf("reports: unnormalised value %T", v))
}

// Sink receives the rows of one table. The header comes from the columns
// given to [Tables.Table]. Each row has one value per column, in column
// order, of a Go type suiting the column's [ColumnType]; rows are written
// in the order given. A Sink is safe for concurrent use, but rows written
// from several goroutines land in whatever order the calls happen.
type Sink interface {
	// WriteRow writes one row. A value of the wrong type or a row of the
	// wrong length fails with ErrValueType and writes nothing.
	WriteRow(vals ...any) error
	// Close finishes the table; further writes fail. Tables.Commit closes
	// any table left open.
	Close() error
}

// Summary is a small overview table, e.g. counts per workspace. The first
// column labels the rows (categories); each further TypeInt or TypeFloat
// column is a series in the chart of the XLSX Summary sheet.
type Summary struct {
	// Title is the chart title, e.g. "Identities per workspace".
	Title   string
	Columns []Column
	Rows    [][]any
}

// About describes an output for whoever reviews it: when and from where it
// was made, by what, and how complete each table is. It is written first:
// the About sheet of a workbook, about.csv or about.json in a directory.
type About struct {
	// Fields are name-value pairs in display order, such as as_of,
	// account_id, host, dbiam_version and command.
	Fields []AboutField
	// Tables gives the status of each table, in display order; the row
	// count of a table written through Tables.Table is added by the
	// writer.
	Tables []TableStatus
}

// AboutField is one fact of an About.
type AboutField struct {
	Name, Value string
}

// Table statuses for TableStatus.Status.
const (
	StatusOK      = "ok"      // complete
	StatusPartial = "partial" // some parts (workspaces) could not be read
	StatusFailed  = "failed"  // nothing could be read
	StatusSkipped = "skipped" // not asked for, or not available
)

// TableStatus is the completeness of one table.
type TableStatus struct {
	Table  string
	Status string // StatusOK, StatusPartial, StatusFailed or StatusSkipped
	Detail string // why it is not ok
}

// incomplete reports whether a status marks missing rows.
func incomplete(status string) bool { return status == StatusPartial || status == StatusFailed }

// Tables writes one table per file (CSV, JSON Lines) or per sheet (XLSX)
// to one output, atomically: nothing is visible at the output path until
// Commit succeeds, and Abort (or a failed Commit) leaves no trace. Table
// and Summary may be called concurrently, and the returned Sinks written
// concurrently. Commit and Abort must not race with other calls.
type Tables interface {
	// Table starts the table name with the columns cols. Names must be
	// unique; they become file names (sanitised) or sheet names (sanitised
	// to Excel's rules and made unique).
	Table(name string, cols []Column) (Sink, error)
	// Summary sets the summary: the "Summary" sheet with a clustered bar
	// chart in XLSX, a table named "summary" otherwise. Call it at most
	// once, before Commit.
	Summary(s Summary) error
	// About sets the description of the output: the first sheet, "About",
	// in XLSX; about.csv (columns section, name, value, rows, detail) in
	// CSV; about.json (one object) in JSON Lines. In XLSX the sheet of a
	// partial or failed table also gets a coloured tab and its status in
	// the printed page header. Call it at most once, before Commit.
	About(a About) error
	// Commit closes the open tables and moves the output into place.
	Commit() error
	// Abort discards everything written. It is a no-op after Commit.
	Abort()
}

// Format is an output format for [NewTables].
type Format string

// Output formats.
const (
	FormatCSV   Format = "csv"   // a directory of <table>.csv files
	FormatJSONL Format = "jsonl" // a directory of <table>.jsonl files
	FormatXLSX  Format = "xlsx"  // one workbook, a sheet per table
)

// ErrBadFormat is matched (with errors.Is) by the error of [ParseFormat].
var ErrBadFormat = errors.New("invalid output format")

// ParseFormat parses a --format value: csv, jsonl (or ndjson) or xlsx, in
// any case. The error names the value and the valid ones.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	case "xlsx":
		return FormatXLSX, nil
	}
	return "", fmt.Errorf("%w %q: use one of csv, jsonl, xlsx", ErrBadFormat, s)
}

// TablesOptions configure [NewTables].
type TablesOptions struct {
	// Force replaces an existing output (the --force flag). Without it,
	// NewTables and Commit fail with an *ExistsError.
	Force bool
	// Creator names the program in the workbook's properties, such as
	// "dbiam v1.2.0"; empty means "dbiam".
	Creator string
	// Created is the time the workbook's properties give as created and
	// modified; zero means the time of NewTables.
	Created time.Time
}

// NewTables starts writing tables in format to path: a directory for CSV
// and JSON Lines, a file for XLSX. Files are created with mode 0600 and
// directories 0700, as exports hold personal data. It fails fast with an
// [*ExistsError] if path exists and opts.Force is false, so commands can
// call it before any remote work.
func NewTables(format Format, path string, opts TablesOptions) (Tables, error) {
	switch format {
	case FormatCSV:
		return newDirTables(path, opts, csvEncoding{})
	case FormatJSONL:
		return newDirTables(path, opts, jsonlEncoding{})
	case FormatXLSX:
		return newXLSXTables(path, opts)
	}
	return nil, fmt.Errorf("%w %q: use one of csv, jsonl, xlsx", ErrBadFormat, string(format))
}
