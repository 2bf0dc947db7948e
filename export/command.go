package export

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Command returns the "dbiam export" command. Its action only turns flags
// into Options and calls Run; connect is called by Run once every flag has
// been validated, so --help and flag errors touch neither credentials nor the
// network. The global --parallel flag reaches Run through the session.
func Command(io *reports.Streams, connect scim.ConnectFunc) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "export users, service principals, groups, memberships, entitlements and assignments",
		Description: "Reads every workspace of the account (or the --host workspace) and writes one table per\n" +
			"identity kind: an XLSX workbook (one sheet per table, plus a Summary sheet with a chart),\n" +
			"a directory of CSV files, or a directory of JSON Lines files. Nothing is written until\n" +
			"every workspace is done; workspaces that fail are listed in the workspaces table and\n" +
			"the command exits with code 2.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "workspace", Aliases: []string{"w"}, KeepSpace: true,
				Usage: "export only this workspace, by `ID_OR_NAME` (repeatable; exact name, spaces included; default: all)"},
			&cli.StringFlag{Name: "workspaces-file",
				Usage: "read the workspaces from a CSV `FILE` of id,name,url rows instead of the account"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o", "format", "f"}, Value: "xlsx",
				Usage: "output `FORMAT`: xlsx, csv or json (JSON Lines); --format is the old spelling"},
			&cli.StringFlag{Name: "out",
				Usage: "output `PATH`: a workbook for xlsx, a directory for csv and json, or - for one --include table on stdout as csv or json (default: dbiam-export-<date>.xlsx, dbiam-export-<date>-csv, dbiam-export-<date>-jsonl)"},
			&cli.StringSliceFlag{Name: "include",
				Usage: "tables to export: users, service-principals, groups, memberships, entitlements, assignments, account, or all (default: all)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing output"},
			&cli.IntFlag{Name: "page-size", Value: DefaultPageSize,
				Usage: "SCIM page size to ask for, 1 to 10000; servers may return fewer per page"},
		},
		Action: func(c *cli.Context) error {
			if err := reports.CheckOutputFlags(c.String("output"), c.String("out"), []string{"xlsx", "csv", "json", "jsonl", "ndjson"}); err != nil {
				return fmt.Errorf("%w: %w", ErrBadOptions, err)
			}
			o := Options{
				Workspaces:     c.StringSlice("workspace"),
				WorkspacesFile: c.String("workspaces-file"),
				Format:         c.String("output"),
				Out:            c.String("out"),
				Include:        c.StringSlice("include"),
				Force:          c.Bool("force"),
				PageSize:       c.Int("page-size"),
			}
			// 0 means the default in Options, but on the command line it is
			// out of the documented range like any other value.
			if o.PageSize < 1 || o.PageSize > maxPageSize {
				return pageSizeError(o.PageSize)
			}
			if c.NArg() > 0 {
				return badOption("unexpected argument %q: export takes flags only", c.Args().First())
			}
			return Run(c.Context, o, Deps{Streams: io, Connect: connect, Version: c.App.Version, Args: commandArgs(c)})
		},
	}
}

// commandArgs returns the command line of the run: the app's "args"
// metadata when the caller set it (main does), else os.Args.
func commandArgs(c *cli.Context) []string {
	if args, ok := c.App.Metadata["args"].([]string); ok {
		return args
	}
	return os.Args
}
