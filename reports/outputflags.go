package reports

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// ErrOutputFlags is matched (with errors.Is) by the errors of
// CheckOutputFlags.
var ErrOutputFlags = errors.New("output flags mixed up")

// formatWords are names that read as an output format whatever the
// command: a --out value spelled like one is a mix-up.
var formatWords = []string{"table", "text", "csv", "tsv", "json", "jsonl", "ndjson", "xlsx", "xls", "html", "yaml", "yml", "xml", "pdf", "md", "markdown", "parquet"}

// CheckOutputFlags checks a command's --output (the format, one of
// formats) and --out (a path; "-" for stdout) for a mix-up between the
// two: a path given as the format, as the old "-o acme.xlsx" (-o was the
// path's short form before it became the format's, as in the Databricks
// CLI) gives, or a format given as the path ("--out json"). The error
// names the flag to use. A format that is neither one of formats nor a
// format word is an error naming the formats and, for a path without an
// extension (the old "-o report"), --out. A format word the command does
// not write is left to the command's own check.
func CheckOutputFlags(format, path string, formats []string) error {
	f := strings.ToLower(strings.TrimSpace(format))
	if format != "" && !slices.Contains(formats, f) && looksLikePath(format) {
		fix := fmt.Sprintf("pass --out %s for the path, and --output with one of %s", format, strings.Join(formats, ", "))
		if ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(format), ".")); slices.Contains(formats, ext) {
			fix = fmt.Sprintf("pass --out %s --output %s", format, ext)
		}
		return fmt.Errorf("%w: --output %s: that is a path, not a format (-o is the output format, as in the Databricks CLI): %s",
			ErrOutputFlags, format, fix)
	}
	p := strings.ToLower(strings.TrimSpace(path))
	if slices.Contains(formatWords, p) || slices.Contains(formats, p) {
		return fmt.Errorf("%w: --out %s: that is a format, not a path: pass --output %s for the format, "+
			"and --out with a path (./%s for a file of that name)", ErrOutputFlags, path, p, path)
	}
	if format != "" && !slices.Contains(formats, f) && !slices.Contains(formatWords, f) {
		// Perhaps a path without an extension, as the old "-o report"
		// was: name both readings.
		return fmt.Errorf("--output %s: unknown format: use one of %s (-o is the output format, as in the Databricks CLI; for a path, pass --out %s)",
			format, strings.Join(formats, ", "), format)
	}
	return nil
}

// looksLikePath reports whether s reads as a file name: it has a
// directory part or an extension.
func looksLikePath(s string) bool {
	return strings.ContainsAny(s, `/\`) || filepath.Ext(s) != "" || s == "-" || s == "." || s == ".."
}
