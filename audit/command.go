package audit

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Command returns the "audit" command. Its action only turns flags into
// Options and calls Run.
func Command(io *reports.Streams, connect scim.ConnectFunc) *cli.Command {
	return newCommand(io, connect, Run)
}

// newCommand takes the run function so that tests can check flag parsing
// without running anything.
func newCommand(io *reports.Streams, connect scim.ConnectFunc, run func(context.Context, Options, Deps) error) *cli.Command {
	return &cli.Command{
		Name:      "audit",
		Usage:     "report what breaks if users, service principals or groups are removed (changes nothing)",
		ArgsUsage: " ",
		Description: `Lists, in every workspace, what the audited identities created, own, run as or alone can
manage: personal access tokens, jobs, clusters, SQL warehouses, pipelines, SQL queries and
alerts, legacy and Lakeview dashboards, serving endpoints, apps, MLflow experiments, registry
models, instance pools, cluster policies, secret scopes, vector search endpoints, Git folders and
home folders (with the notebooks and files in them that other identities' jobs and pipelines run);
and, once per Unity Catalog metastore, the securables they own (metastore, catalogs, schemas,
tables and views, volumes, functions, registered models, external locations, credentials,
connections, shares, recipients, providers) and the privileges granted to them. Each finding has
a severity: breaks (a scheduled job, a query or an alert running as the identity, a token used in
the last 30 days, a member losing its only path into a workspace, a view it owns, a home-folder
notebook another identity's scheduled job runs), stops (a running cluster or pipeline), orphaned
(nobody else can manage it) or info. A group expands to its members, nested groups included; a
group name is exact (case and spaces) and is resolved in each workspace. Only GET requests are
sent.

Select identities with --user, --service-principal and --group (repeatable), --from-file
(one "user:EMAIL", "service-principal:APP_ID" or "group:NAME" per line), --inactive (every
deactivated user and service principal that still owns something) or --all (every identity of
the account and its workspaces, with or without findings). Parts of the account that cannot be
read are reported as not covered, and a named identity found nowhere (a typo?) as not-found with
a warning naming where it was looked up; in both cases the report is still written and the exit
code is 2. With --fail-on, a finding of that severity or worse makes the exit code 3 (after the
report is written), so that a runbook step can stop a deletion. Interrupted, it writes no
report.`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "user", Aliases: []string{"u"}, Usage: "user name (email) to audit (repeatable)"},
			&cli.StringSliceFlag{Name: "service-principal", Aliases: []string{"sp"}, Usage: "service principal application id to audit (repeatable)"},
			&cli.StringSliceFlag{Name: "group", Aliases: []string{"g"}, KeepSpace: true, Usage: "group name to audit with its members (repeatable; exact, spaces included)"},
			&cli.StringFlag{Name: "from-file", Usage: "file of identities, one per line: user:EMAIL, service-principal:APP_ID or group:NAME"},
			&cli.BoolFlag{Name: "inactive", Usage: "audit every deactivated user and service principal"},
			&cli.BoolFlag{Name: "all", Usage: "audit every identity objects refer to (compliance view)"},
			&cli.StringSliceFlag{Name: "workspace", Aliases: []string{"w"}, KeepSpace: true, Usage: "workspace name or id to audit (repeatable; default all)"},
			&cli.StringFlag{Name: "workspaces-file", Usage: "read the workspaces from a CSV `FILE` of id,name,url rows instead of the account (for workspace admins)"},
			&cli.StringFlag{Name: "fail-on", Usage: "exit with code 3 when a finding of this `SEVERITY` or worse exists: breaks, stops, orphaned or not-covered"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o", "format", "f"}, Value: string(FormatTable), Usage: "report `FORMAT`: table, csv, json, xlsx or html; --format is the old spelling"},
			&cli.StringFlag{Name: "out", Usage: "report file `PATH`, or - for stdout (the default; xlsx needs a file)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing report file"},
			&cli.StringFlag{Name: "permissions", Usage: "ACLs to read: owners (every job, pipeline, warehouse and Lakeview dashboard, plus objects tied to an audited identity; the default), related (only the latter), all (the default with --all) or none"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("audit takes no arguments (got %q): name identities with --user, --service-principal or --group", c.Args().First())
			}
			if err := reports.CheckOutputFlags(c.String("output"), c.String("out"), []string{"table", "csv", "json", "xlsx", "html"}); err != nil {
				return err
			}
			o := Options{
				Users:             c.StringSlice("user"),
				ServicePrincipals: c.StringSlice("service-principal"),
				Groups:            c.StringSlice("group"),
				FromFile:          c.String("from-file"),
				Inactive:          c.Bool("inactive"),
				All:               c.Bool("all"),
				Workspaces:        c.StringSlice("workspace"),
				WorkspacesFile:    c.String("workspaces-file"),
				FailOn:            c.String("fail-on"),
				Format:            Format(c.String("output")),
				Out:               c.String("out"),
				Force:             c.Bool("force"),
				Permissions:       PermissionScope(c.String("permissions")),
			}
			return run(c.Context, o, Deps{Streams: io, Connect: connect})
		},
	}
}
