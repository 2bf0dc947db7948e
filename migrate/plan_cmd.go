package migrate

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// planCommand is "dbiam migrate plan": it only turns flags into
// PlanOptions and calls RunPlan.
func planCommand(d CommandDeps) *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "plan the migration of workspace-local groups to account groups (changes nothing)",
		ArgsUsage: " ",
		Description: `Reads the account's workspaces, their workspace-local groups and members, and the
account's users, service principals and groups; maps every selected local group to a target
account group; lists conflicts with what each --on-conflict policy would do; and writes the
plan file for "dbiam migrate apply". Only GET requests are sent.

Selection: --workspace (name or id), --group (exact name), --group-regex, --exclude,
--exclude-regex (all repeatable). System groups (admins, users, account users) are never
selected; workspaces without identity federation are listed as skipped.

Targets (--match): name (same name), prefix/suffix (add --prefix/--suffix, or remove it with
--strip), regex (--regex RE --replace TEMPLATE, Go regexp syntax, $1 for groups),
external-id (the account group with the local group's externalId), mapping (--mapping FILE,
CSV rows workspace,local_group,account_group; workspace is a name, an id or *).`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "plan file to write (required)", Required: true},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing plan or report file"},
			&cli.StringSliceFlag{Name: "workspace", Aliases: []string{"w"}, KeepSpace: true, Usage: "workspace name (exact) or id to plan (repeatable; default all)"},
			&cli.StringSliceFlag{Name: "group", Aliases: []string{"g"}, KeepSpace: true, Usage: "local group name to migrate, exact (repeatable; \"...\" reads a Go-quoted name)"},
			&cli.StringSliceFlag{Name: "group-regex", KeepSpace: true, Usage: "regular expression selecting local groups by name (repeatable)"},
			&cli.StringSliceFlag{Name: "exclude", KeepSpace: true, Usage: "local group name to leave alone, exact (repeatable)"},
			&cli.StringSliceFlag{Name: "exclude-regex", KeepSpace: true, Usage: "regular expression of local group names to leave alone (repeatable)"},
			&cli.StringFlag{Name: "match", Value: MatchName, Usage: "target strategy: name, prefix, suffix, regex, external-id or mapping"},
			&cli.StringFlag{Name: "prefix", Usage: "prefix to add to (or with --strip remove from) the local name"},
			&cli.StringFlag{Name: "suffix", Usage: "suffix to add to (or with --strip remove from) the local name"},
			&cli.BoolFlag{Name: "strip", Usage: "remove --prefix/--suffix instead of adding it"},
			&cli.StringFlag{Name: "regex", Usage: "regular expression applied to the local name (--match regex)"},
			&cli.StringFlag{Name: "replace", Usage: "replacement template for --regex, e.g. acct-$1"},
			&cli.StringFlag{Name: "mapping", Usage: "CSV file of workspace,local_group,account_group (--match mapping)"},
			&cli.StringFlag{Name: "on-conflict", Value: PolicyFail, Usage: "fail (skip conflicting groups), merge, or per-workspace"},
			&cli.StringFlag{Name: "backup-prefix", Value: DefaultBackupPrefix, Usage: "prefix of the name a migrated local group is renamed to"},
			&cli.StringFlag{Name: "permissions-route", Value: RouteAPI, Usage: "how grants reach the account groups: api (the permission migration API; what it would refuse blocks), acl-copy (copy each ACL entry), or api-or-acl-copy (copy only where the API would refuse)"},
			&cli.BoolFlag{Name: "read-workspace-tree", Usage: "record in the baselines the grants on every directory, notebook and file of the workspace tree (slow: one request per directory and per object), not only on home folders and Git folders"},
			&cli.BoolFlag{Name: "get-members", Usage: "read each selected group's members with one GET (slow) instead of deriving them from the user, service principal and group lists"},
			&cli.BoolFlag{Name: "skip-unreadable", Usage: "plan the other workspaces when one cannot be read (it is listed as skipped, with a blocking conflict)"},
			&cli.StringFlag{Name: "report", Usage: "also write the summary as xlsx or html"},
			&cli.StringFlag{Name: "report-out", Usage: "file for --report (default: the plan file with the report's extension)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("migrate plan takes no arguments (got %q): the plan file is --out", c.Args().First())
			}
			var names [3][]string
			for i, flag := range []string{"workspace", "group", "exclude"} {
				n, err := flagNames(flag, c.StringSlice(flag))
				if err != nil {
					return err
				}
				names[i] = n
			}
			var affix [3]string
			for i, flag := range []string{"prefix", "suffix", "backup-prefix"} {
				n, err := FlagName(flag, c.String(flag))
				if err != nil {
					return err
				}
				affix[i] = n
			}
			o := PlanOptions{
				Out:               c.String("out"),
				Force:             c.Bool("force"),
				Workspaces:        names[0],
				Groups:            names[1],
				GroupRegex:        c.StringSlice("group-regex"),
				Exclude:           names[2],
				ExcludeRegex:      c.StringSlice("exclude-regex"),
				Match:             c.String("match"),
				Prefix:            affix[0],
				Suffix:            affix[1],
				Strip:             c.Bool("strip"),
				Regex:             c.String("regex"),
				Replace:           c.String("replace"),
				MappingFile:       c.String("mapping"),
				OnConflict:        c.String("on-conflict"),
				BackupPrefix:      affix[2],
				PermissionsRoute:  c.String("permissions-route"),
				ReadWorkspaceTree: c.Bool("read-workspace-tree"),
				SkipUnreadable:    c.Bool("skip-unreadable"),
				GetMembers:        c.Bool("get-members"),
				Report:            c.String("report"),
				ReportOut:         c.String("report-out"),
				ToolVersion:       c.App.Version,
			}
			return RunPlan(c.Context, o, d)
		},
	}
}
