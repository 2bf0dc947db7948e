// Package reports is dbiam's output layer. It never talks HTTP.
//
// It provides:
//
//   - [Streams]: stdin, stdout and stderr with the terminal state decided
//     once, the run's [Logger] and the --no-progress switch. stdout carries
//     data only; logs, progress and warnings go to stderr.
//   - [Logger]: leveled, greppable logfmt-style lines on stderr; every value
//     passes through [Redact] (and headers through [RedactHeaders]) so that
//     no credential reaches a log line.
//   - [Progress]: one bar per in-flight task plus a total on a terminal
//     (rendered with progressbar/v3), one plain log line per finished task
//     otherwise.
//   - Atomic output: [WriteFile], [CreateAtomic] and [CreateAtomicDir] write
//     into a temporary file or directory next to the target, fsync it, rename
//     it into place and fsync the parent directory. Files are created with
//     mode 0600 because exports hold personal data. An existing output is only
//     replaced when the caller passes [Force]; otherwise the error is an
//     [*ExistsError] that matches [ErrExists].
//   - Tables: a typed column model ([Column], [ColumnType]) shared by every
//     renderer, and [Tables] writers that put one table per file (CSV, JSON
//     Lines) or per sheet (XLSX, streamed into excelize's StreamWriter as
//     rows arrive, plus a summary sheet with a chart), all committed
//     atomically, with an [About] (as-of time, origin, each table's status)
//     first: the About sheet, about.csv or about.json. Workbooks are
//     printable (landscape, fitted to the page width, header row repeated,
//     named fonts), declare each sheet's real range and carry the creator
//     and time in their properties.
//   - [TablePrinter]: aligned columns on a terminal, TSV otherwise;
//     [RelativeTime] and [FormatTime] for times.
//
// # Column model
//
// A table is a name, a list of [Column] values and rows of Go values, one
// per column, in column order. The column type decides how a value is
// rendered: [FormatValue] gives the canonical text (used by CSV, TSV and
// any HTML renderer), JSON Lines gets real numbers, booleans and arrays
// (TypeList), and XLSX gets numeric, boolean and date cells. Text
// renderers join a list's items with its column's Join. Rows are written in the order they
// are given; callers sort them.
//
// # Concurrency
//
// Logger, Progress, Task, Tables (Table, Summary) and Sink are safe for
// concurrent use, so workspaces can be processed in parallel. Streams
// setters, AtomicFile, AtomicDir and TablePrinter belong to one goroutine.
package reports
