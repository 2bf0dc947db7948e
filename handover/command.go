package handover

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// Command returns "dbiam handover" with its subcommands. Each Action only
// turns flags into options and calls the Run function.
func Command(io *reports.Streams, connect scim.ConnectFunc) *cli.Command {
	d := Deps{Streams: io, Connect: connect}
	journalFlag := &cli.StringFlag{Name: "journal", Aliases: []string{"j"}, Usage: "journal directory of the apply (default \"<plan>.journal\")"}
	requiredJournal := &cli.StringFlag{Name: "journal", Aliases: []string{"j"}, Usage: "journal directory of the apply (required)", Required: true}
	forceUnlock := &cli.BoolFlag{Name: "force-unlock", Usage: "remove the lock of another run (only if it is not running)"}
	yes := &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation (required off a terminal)"}
	terminal := func() bool {
		f, ok := io.In.(*os.File)
		return ok && term.IsTerminal(int(f.Fd()))
	}
	return &cli.Command{
		Name:  "handover",
		Usage: "hand what leaving identities own over to successors, then deprovision them",
		Description: `Closes the offboarding runbook: "plan" reads (GET only) what the leaving users or service
principals own, run as or alone manage in every workspace (job owners and run-as, pipeline
owners and run-as, cluster owners and dedicated users, SQL warehouse owners, query and alert
owners, legacy dashboards, Lakeview dashboards, serving endpoints and apps they alone manage,
their tokens) and writes a plan that gives each to its successor (--to, or per identity, kind
and workspace with --map), with blocking conflicts where a successor cannot take an object.
"apply" executes the plan with a journal (resumable after a crash), deactivates the identities
(--deactivate) once everything else is verified, and revokes their tokens last
(--revoke-tokens, irreversible); "verify", "status" and "rollback" work from the plan and the
journal.`,
		Subcommands: []*cli.Command{
			{
				Name:      "plan",
				Usage:     "write a handover plan (changes nothing)",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringSliceFlag{Name: "from", KeepSpace: true, Usage: "leaving identity: user:EMAIL or service-principal:APP_ID (repeatable; a quoted name is taken exactly)"},
					&cli.StringFlag{Name: "from-file", Usage: "file of leaving identities, one per line, as for \"dbiam audit --from-file\""},
					&cli.StringFlag{Name: "to", Usage: "successor: user:EMAIL or service-principal:APP_ID"},
					&cli.StringFlag{Name: "map", Usage: "CSV of successors by identity, kind and workspace: from,kind,workspace,to (* matches any)"},
					&cli.StringSliceFlag{Name: "kinds", Usage: "kinds to hand over (comma-separated or repeated; default all): " + strings.Join(Kinds(), ", ")},
					&cli.BoolFlag{Name: "revoke-tokens", Usage: "revoke the identities' tokens, last (IRREVERSIBLE)"},
					&cli.BoolFlag{Name: "deactivate", Usage: "deactivate the identities at account level and remove their direct workspace assignments, once everything else is verified (every kind is then handed over: not with --kinds)"},
					&cli.BoolFlag{Name: "restart-clusters", Usage: "allow apply to terminate and restart running clusters whose owner or dedicated user changes"},
					&cli.StringSliceFlag{Name: "workspace", Aliases: []string{"w"}, KeepSpace: true, Usage: "workspace name (exact) or id (repeatable; default all)"},
					&cli.StringFlag{Name: "out", Usage: "plan file to write (required)"},
					&cli.BoolFlag{Name: "force", Usage: "replace an existing plan file"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return fmt.Errorf("handover plan takes no arguments (got %q): name identities with --from", c.Args().First())
					}
					return RunPlan(c.Context, PlanOptions{
						From: c.StringSlice("from"), FromFile: c.String("from-file"), To: c.String("to"), MapFile: c.String("map"),
						Kinds: c.StringSlice("kinds"), RevokeTokens: c.Bool("revoke-tokens"), Deactivate: c.Bool("deactivate"),
						RestartClusters: c.Bool("restart-clusters"), Workspaces: c.StringSlice("workspace"),
						Out: c.String("out"), Force: c.Bool("force"), ToolVersion: c.App.Version,
					}, d)
				},
			},
			{
				Name:      "apply",
				Usage:     "execute a plan (asks for confirmation; resumes from its journal)",
				ArgsUsage: "PLAN",
				Flags: []cli.Flag{journalFlag, yes, forceUnlock,
					&cli.BoolFlag{Name: "dry-run", Usage: "log every change instead of making it; never writes the journal"},
					&cli.IntFlag{Name: "parallel-objects", Value: DefaultParallel, Usage: "objects of a workspace changed at once"},
					&cli.DurationFlag{Name: "cluster-timeout", Value: DefaultClusterTimeout, Usage: "how long to wait for a cluster to terminate"},
				},
				Action: func(c *cli.Context) error {
					plan, err := onePlanArg(c)
					if err != nil {
						return err
					}
					return RunApply(c.Context, ApplyOptions{PlanPath: plan, JournalDir: c.String("journal"), DryRun: c.Bool("dry-run"),
						Yes: c.Bool("yes"), Terminal: terminal(), ForceUnlock: c.Bool("force-unlock"), Parallel: c.Int("parallel-objects"),
						ClusterTimeout: c.Duration("cluster-timeout"), ToolVersion: c.App.Version}, d)
				},
			},
			{
				Name:      "verify",
				Usage:     "re-read every object and list each difference from the plan",
				ArgsUsage: "PLAN",
				Flags:     []cli.Flag{journalFlag},
				Action: func(c *cli.Context) error {
					plan, err := onePlanArg(c)
					if err != nil {
						return err
					}
					return RunVerify(c.Context, VerifyOptions{PlanPath: plan, JournalDir: c.String("journal")}, d)
				},
			},
			{
				Name:  "status",
				Usage: "show which changes are done, skipped, failed or pending",
				Flags: []cli.Flag{requiredJournal},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return fmt.Errorf("handover status takes no arguments (got %q): pass --journal", c.Args().First())
					}
					return RunStatus(c.Context, StatusOptions{JournalDir: c.String("journal")}, d)
				},
			},
			{
				Name:  "rollback",
				Usage: "put back every change apply made (reactivating identities first; revoked tokens cannot come back)",
				Flags: []cli.Flag{requiredJournal, yes, forceUnlock,
					&cli.BoolFlag{Name: "dry-run", Usage: "log what would be put back and change nothing"}},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return fmt.Errorf("handover rollback takes no arguments (got %q): pass --journal", c.Args().First())
					}
					return RunRollback(c.Context, ApplyOptions{JournalDir: c.String("journal"), DryRun: c.Bool("dry-run"), Yes: c.Bool("yes"),
						Terminal: terminal(), ForceUnlock: c.Bool("force-unlock"), ToolVersion: c.App.Version}, d)
				},
			},
		},
	}
}

// onePlanArg returns the single PLAN argument; flags written after it
// arrive as arguments, and the error then shows the line in order.
func onePlanArg(c *cli.Context) (string, error) {
	args := c.Args().Slice()
	if len(args) != 1 {
		if len(args) > 1 && !looksLikeFlag(args[0]) && slices.ContainsFunc(args[1:], looksLikeFlag) {
			line := append([]string{"dbiam", "handover", c.Command.Name}, args[1:]...)
			line = append(line, args[0])
			for i, a := range line {
				if a == "" || strings.ContainsAny(a, " \t\"'") {
					line[i] = strconv.Quote(a)
				}
			}
			return "", fmt.Errorf("handover %s takes one argument, the plan file, and flags go before it: %s", c.Command.Name, strings.Join(line, " "))
		}
		return "", fmt.Errorf("handover %s takes one argument, the plan file written by \"dbiam handover plan\" (got %d)", c.Command.Name, len(args))
	}
	return args[0], nil
}

func looksLikeFlag(a string) bool { return len(a) > 1 && a[0] == '-' }
