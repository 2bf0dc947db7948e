package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
)

// Output formats.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
	FormatXLSX  = "xlsx"
	FormatHTML  = "html"
)

// ErrBadOptions is matched (with errors.Is) by every error Run returns for
// bad input: a bad flag, an export that cannot be read.
var ErrBadOptions = errors.New("invalid diff options")

// Options are the inputs of one comparison (the arguments and flags of
// "dbiam diff").
type Options struct {
	// Old and New are the exports compared: XLSX workbooks or directories
	// of CSV or JSON Lines files written by dbiam export, in any mix.
	Old, New string
	// Format is the report format; "" means FormatTable.
	Format string
	// Out is the output path; "" or "-" means stdout (not allowed for xlsx).
	Out string
	// Force replaces an existing output file.
	Force bool
}

// Deps are what Run needs from outside.
type Deps struct {
	// Streams receives the report on stdout (without Out) and the summary
	// line on stderr. Nil discards everything.
	Streams *reports.Streams
	// Now is the clock, dating the report; nil means time.Now.
	Now func() time.Time
	// Version is dbiam's version, for the workbook's properties.
	Version string
}

// DifferentError reports exports that differ: the report was written and
// the process exits with code 3, as diff(1) exits 1. It also reports a
// comparison that found no difference but could not compare everything,
// with exit code 2: "equal" would say more than was checked.
type DifferentError struct {
	Changes     int
	NotCompared int
	Summary     string
}

// Error is the one-line summary.
func (e *DifferentError) Error() string {
	if e.Changes == 0 {
		return "exports not fully compared: " + e.Summary
	}
	return "exports differ: " + e.Summary
}

// ExitCode is 3 when the exports differ, 2 when nothing differed in what
// could be compared but some parts could not be.
func (e *DifferentError) ExitCode() int {
	if e.Changes == 0 {
		return 2
	}
	return 3
}

// Run compares the exports o.Old and o.New and writes the report. It
// returns nil when they are equal (everything compared, nothing changed),
// a *DifferentError when they differ or could not be compared in full, and
// an error matching ErrBadOptions when an input cannot be read or a flag
// is wrong (nothing is written then).
func Run(ctx context.Context, o Options, d Deps) error {
	if d.Streams == nil {
		d.Streams = reports.NewStreams(nil, nil, nil)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	format := strings.ToLower(strings.TrimSpace(o.Format))
	if format == "" {
		format = FormatTable
	}
	switch format {
	case FormatTable, FormatCSV, FormatJSON, FormatXLSX, FormatHTML:
	default:
		return fmt.Errorf("%w: --output %q: use table, csv, json, xlsx or html", ErrBadOptions, o.Format)
	}
	out := o.Out
	if out == "-" {
		out = ""
	}
	if format == FormatXLSX && out == "" {
		return fmt.Errorf("%w: --output xlsx: a workbook cannot go to stdout: pass --out FILE.xlsx", ErrBadOptions)
	}
	if out != "" {
		if err := reports.CheckOverwrite(out, o.Force); err != nil {
			return fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	var exports [2]*exportData
	for i, path := range []string{o.Old, o.New} {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := load(path)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
		if exports[i], err = build(raw); err != nil {
			return fmt.Errorf("%w: %w", ErrBadOptions, err)
		}
	}
	if a, b := accountOf(exports[0].raw), accountOf(exports[1].raw); a != "" && b != "" && a != b {
		return fmt.Errorf("%w: %s is an export of account %s and %s of account %s: compare two exports of one account",
			ErrBadOptions, o.Old, a, o.New, b)
	}
	res := compare(exports[0], exports[1])
	r := &Report{
		ReportVersion: reportVersion,
		Generated:     d.Now().UTC(),
		Old:           side(exports[0].raw),
		New:           side(exports[1].raw),
		Summary:       summaryLine(res),
		Counts:        countsOf(res.Changes),
		NotCompared:   res.NotCompared,
		Changes:       res.Changes,
	}
	if r.NotCompared == nil {
		r.NotCompared = []NotCompared{}
	}
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	if err := write(r, format, out, o.Force, d); err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	outcome := reports.Outcome{Command: "diff", Did: r.Summary, Stdout: out == ""}
	if out != "" {
		outcome.Wrote = []string{out}
	}
	d.Streams.SetOutcome(outcome)
	if len(res.Changes) == 0 && len(res.NotCompared) == 0 {
		return nil
	}
	return &DifferentError{Changes: len(res.Changes), NotCompared: len(res.NotCompared), Summary: r.Summary}
}

// accountOf returns the account id an export's About table records, or ""
// when it records none (an export without an account id says so in words).
func accountOf(x *rawExport) string {
	id := strings.TrimSpace(x.about["account_id"])
	if strings.HasPrefix(id, "(") {
		return ""
	}
	return id
}

// write renders r in format to out (atomically, mode 0600: reports hold
// names) or to stdout.
func write(r *Report, format, out string, force bool, d Deps) error {
	version := d.Version
	if version == "" {
		version = "dev"
	}
	switch format {
	case FormatXLSX:
		return writeXLSX(r, out, force, "dbiam "+version)
	case FormatTable:
		if out == "" {
			return writeTable(r, d.Streams)
		}
		return reports.WriteFile(out, 0o600, func(w io.Writer) error {
			return writeTable(r, reports.NewStreams(nil, w, nil))
		}, reports.Force(force))
	}
	render := func(w io.Writer) error { return WriteCSV(w, r) }
	switch format {
	case FormatJSON:
		render = func(w io.Writer) error { return WriteJSON(w, r) }
	case FormatHTML:
		render = func(w io.Writer) error { return reports.WriteHTML(w, htmlReport(r)) }
	}
	if out == "" {
		return render(d.Streams.Out)
	}
	return reports.WriteFile(out, 0o600, render, reports.Force(force))
}

// Command returns the "dbiam diff" command. It reads files only: no
// connection is made.
func Command(io *reports.Streams) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two exports: who gained or lost access between them",
		ArgsUsage: "OLD NEW",
		Description: "Compares two exports written by 'dbiam export' (XLSX, CSV or JSON Lines, in any mix) and reports,\n" +
			"per workspace, admin rights gained and lost (first), principals added, removed, activated or\n" +
			"deactivated, memberships added and removed (direct and through nested groups), entitlements\n" +
			"gained and lost, and permission assignments changed. Identities are matched by userName,\n" +
			"applicationId or group name within a workspace. Exit code 0: equal; 3: different; 2: nothing\n" +
			"differed but some parts could not be compared (a workspace failed in one export, say).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o", "format", "f"}, Value: FormatTable, Usage: "report `FORMAT`: table, csv, json, xlsx or html; --format is the old spelling"},
			&cli.StringFlag{Name: "out", Usage: "write the report to `PATH`, or - for stdout (the default; xlsx needs a file)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return argsError(c.Args().Slice())
			}
			if err := reports.CheckOutputFlags(c.String("output"), c.String("out"), []string{FormatTable, FormatCSV, FormatJSON, FormatXLSX, FormatHTML}); err != nil {
				return fmt.Errorf("%w: %w", ErrBadOptions, err)
			}
			return Run(c.Context, Options{Old: c.Args().Get(0), New: c.Args().Get(1), Format: c.String("output"),
				Out: c.String("out"), Force: c.Bool("force")}, Deps{Streams: io, Version: c.App.Version})
		},
	}
}

// argsError says why args are not OLD and NEW. Flags written after them
// arrive as arguments (flags go first, as in every dbiam command): the
// error then shows the line in order.
func argsError(args []string) error {
	isFlag := func(a string) bool { return len(a) > 1 && a[0] == '-' }
	if len(args) > 2 && !isFlag(args[0]) && !isFlag(args[1]) && isFlag(args[2]) {
		line := append([]string{"dbiam", "diff"}, args[2:]...)
		line = append(line, args[:2]...)
		for i, a := range line {
			if a == "" || strings.ContainsAny(a, " \t\n\"'") {
				line[i] = strconv.Quote(a)
			}
		}
		return fmt.Errorf("%w: diff takes two exports, OLD and NEW, and flags go before them: %s", ErrBadOptions, strings.Join(line, " "))
	}
	return fmt.Errorf("%w: diff takes two exports, OLD and NEW (got %d arguments)", ErrBadOptions, len(args))
}
