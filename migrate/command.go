package migrate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// CommandDeps are what every migrate subcommand needs from outside: the
// streams (with the run's logger and progress switch), a lazy connection
// and a clock. Tests build one with reports.Test, a Connect that opens a
// session on a sandbox, and a fixed clock.
type CommandDeps struct {
	Streams *reports.Streams
	Connect scim.ConnectFunc
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Deps is CommandDeps under the name the Run functions take
// (RunPlan, RunApply, RunStatus, ...).
type Deps = CommandDeps

// now returns d.Now or time.Now.
func (d CommandDeps) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// setOutcome records what the command did for the line that ends the run
// (see reports.Outcome); nothing without streams.
func (d CommandDeps) setOutcome(o reports.Outcome) {
	if d.Streams != nil {
		d.Streams.SetOutcome(o)
	}
}

// logger returns the run's logger (nil discards).
func (d CommandDeps) logger() *reports.Logger {
	if d.Streams == nil {
		return nil
	}
	return d.Streams.Logger()
}

// Command returns "dbiam migrate" with its subcommands. Each Action only
// turns flags into options and calls the Run function.
func Command(io *reports.Streams, connect scim.ConnectFunc) *cli.Command {
	d := CommandDeps{Streams: io, Connect: connect}
	journalFlag := &cli.StringFlag{Name: "journal", Aliases: []string{"j"}, Usage: "journal directory of the apply (default \"<plan>.journal\")"}
	// Not Required for urfave/cli: journalDir checks it, so that a journal
	// directory given as an argument is refused naming --journal.
	requiredJournal := &cli.StringFlag{Name: "journal", Aliases: []string{"j"}, Usage: "journal directory of the apply (required)"}
	forceUnlock := &cli.BoolFlag{Name: "force-unlock", Usage: "remove the lock of another run (only if it is not running)"}
	yes := &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "make the changes without asking (needed when stdin is not a terminal)"}
	groupFlag := &cli.StringSliceFlag{Name: "group", Aliases: []string{"g"}, KeepSpace: true,
		Usage: "local or account group name, exact (repeatable; default all; \"...\" reads a Go-quoted name)"}
	return &cli.Command{
		Name:  "migrate",
		Usage: "migrate workspace-local groups to account groups",
		Description: `Plan, apply, check, finish or undo the migration of workspace-local groups to account
groups: "plan" writes a plan file and changes nothing; "apply" executes it with a journal and
resumes where it stopped; "status", "verify", "finalize" and "rollback" work from the journal;
"adopt" rebuilds a damaged or lost journal from the plan and the live state.`,
		Subcommands: []*cli.Command{
			planCommand(d),
			{
				Name:      "apply",
				Usage:     "execute a plan (resumes from its journal)",
				ArgsUsage: "PLAN",
				Flags: []cli.Flag{
					journalFlag,
					&cli.BoolFlag{Name: "dry-run", Usage: "log every change instead of making it; never writes the journal"},
					yes,
					&cli.StringSliceFlag{Name: "workspace", Aliases: []string{"w"}, KeepSpace: true,
						Usage: "canary: only the plan's groups in this workspace, by exact name or id (repeatable; later runs do the rest)"},
					groupFlag,
					forceUnlock,
					&cli.IntFlag{Name: "parallel-groups", Value: DefaultParallel, Usage: "groups worked on at once"},
					&cli.IntFlag{Name: "member-batch", Value: DefaultMemberBatch, Usage: "members added per PATCH (1-100)"},
					&cli.IntFlag{Name: "permission-batch", Value: DefaultPermissionBatch, Usage: "size of one permission migration call"},
					&cli.DurationFlag{Name: "visible-timeout", Value: DefaultVisibleTimeout, Usage: "how long to wait for a workspace to see an account group"},
				},
				Action: func(c *cli.Context) error {
					plan, err := onePlanArg(c)
					if err != nil {
						return err
					}
					workspaces, err := flagNames("workspace", c.StringSlice("workspace"))
					if err != nil {
						return err
					}
					groups, err := flagNames("group", c.StringSlice("group"))
					if err != nil {
						return err
					}
					return RunApply(c.Context, ApplyOptions{
						Workspaces:      workspaces,
						Groups:          groups,
						PlanPath:        plan,
						JournalDir:      c.String("journal"),
						DryRun:          c.Bool("dry-run"),
						ForceUnlock:     c.Bool("force-unlock"),
						Yes:             c.Bool("yes"),
						Parallel:        c.Int("parallel-groups"),
						MemberBatch:     c.Int("member-batch"),
						PermissionBatch: c.Int("permission-batch"),
						VisibleTimeout:  c.Duration("visible-timeout"),
						ToolVersion:     c.App.Version,
					}, d)
				},
			},
			{
				Name:  "status",
				Usage: "show which steps are done, running, failed or pending",
				Flags: []cli.Flag{requiredJournal},
				Action: func(c *cli.Context) error {
					journal, err := journalDir(c)
					if err != nil {
						return err
					}
					return RunStatus(c.Context, StatusOptions{JournalDir: journal}, d)
				},
			},
			{
				Name:      "verify",
				Usage:     "check the live end state against the plan and list every difference",
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
				Name:  "finalize",
				Usage: "delete the renamed backup groups of groups that verify cleanly",
				Flags: []cli.Flag{requiredJournal, groupFlag, yes, forceUnlock,
					&cli.BoolFlag{Name: "dry-run", Usage: "log what would be deleted and delete nothing"}},
				Action: func(c *cli.Context) error {
					journal, err := journalDir(c)
					if err != nil {
						return err
					}
					groups, err := flagNames("group", c.StringSlice("group"))
					if err != nil {
						return err
					}
					return RunFinalize(c.Context, FinalizeOptions{JournalDir: journal, Groups: groups,
						DryRun: c.Bool("dry-run"), ForceUnlock: c.Bool("force-unlock"), Yes: c.Bool("yes")}, d)
				},
			},
			{
				Name:  "rollback",
				Usage: "undo finished steps in reverse order",
				Flags: []cli.Flag{requiredJournal, groupFlag, yes, forceUnlock,
					&cli.BoolFlag{Name: "dry-run", Usage: "log what would be undone and change nothing"},
					&cli.BoolFlag{Name: "force", Usage: "delete account groups dbiam created even if, since the migration, they got other members or " +
						"assignments to other workspaces (without it they are kept and reported as failed; grants on them are never checked)"}},
				Action: func(c *cli.Context) error {
					journal, err := journalDir(c)
					if err != nil {
						return err
					}
					groups, err := flagNames("group", c.StringSlice("group"))
					if err != nil {
						return err
					}
					return RunRollback(c.Context, RollbackOptions{JournalDir: journal, Groups: groups,
						DryRun: c.Bool("dry-run"), Force: c.Bool("force"), ForceUnlock: c.Bool("force-unlock"), Yes: c.Bool("yes")}, d)
				},
			},
			{
				Name:      "adopt",
				Usage:     "rebuild a damaged or lost journal from the plan and the live state (changes nothing remotely)",
				ArgsUsage: "PLAN",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "journal", Aliases: []string{"j"},
						Usage: "new or empty directory for the rebuilt journal (required)"},
					&cli.DurationFlag{Name: "wait", Value: DefaultVisibleTimeout,
						Usage: "how long to look again for planned account groups no list shows yet (lists lag creates); shorter records them as creates that may have been sent"},
				},
				Action: func(c *cli.Context) error {
					plan, err := onePlanArg(c)
					if err != nil {
						return err
					}
					return RunAdopt(c.Context, AdoptOptions{PlanPath: plan, JournalDir: c.String("journal"), Wait: c.Duration("wait"),
						ToolVersion: c.App.Version}, d)
				},
			},
		},
	}
}

// onePlanArg returns the single PLAN argument. urfave/cli stops parsing
// flags at the first positional argument, so flags written after the plan
// file arrive as arguments: the error then says that flags go first and
// shows the command line in that order.
func onePlanArg(c *cli.Context) (string, error) {
	args := c.Args().Slice()
	if len(args) != 1 {
		if len(args) > 1 && !looksLikeFlag(args[0]) && slices.ContainsFunc(args[1:], looksLikeFlag) {
			line := append([]string{"dbiam", "migrate", c.Command.Name}, args[1:]...)
			line = append(line, args[0])
			for i, a := range line {
				if a == "" || strings.ContainsAny(a, " \t\"'") {
					line[i] = strconv.Quote(a)
				}
			}
			return "", fmt.Errorf("migrate %s takes one argument, the plan file, and flags go before the plan file: %s",
				c.Command.Name, strings.Join(line, " "))
		}
		return "", fmt.Errorf("migrate %s takes one argument, the plan file written by \"dbiam migrate plan\" (got %d)", c.Command.Name, len(args))
	}
	return args[0], nil
}

// journalDir returns the --journal of a command that works from a journal
// and takes no arguments (status, finalize, rollback). A journal directory
// given as an argument is refused with the command line that works; like
// apply and verify, these commands take the journal only as --journal.
func journalDir(c *cli.Context) (string, error) {
	name := c.Command.Name
	dir := c.String("journal")
	switch {
	case c.NArg() > 0 && dir == "":
		arg := c.Args().First()
		if arg == "" || strings.ContainsAny(arg, " \t\"'") {
			arg = strconv.Quote(arg)
		}
		return "", fmt.Errorf("migrate %s takes the journal directory as --journal, not as an argument: dbiam migrate %s --journal %s", name, name, arg)
	case c.NArg() > 0:
		return "", fmt.Errorf("migrate %s takes no arguments (got %q): pass --journal", name, c.Args().First())
	case dir == "":
		return "", fmt.Errorf("migrate %s: flag --journal is required: the journal directory apply used", name)
	}
	return dir, nil
}

// looksLikeFlag reports whether a command-line argument looks like a flag.
func looksLikeFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// journalOutcome is the outcome of a command that works from a journal:
// what it did, or in a dry run what it would have done and that it wrote
// nothing.
func journalOutcome(command, dir string, dry bool, did string) reports.Outcome {
	if dry {
		return reports.Outcome{Command: command, Did: "dry run, " + did, Nothing: true}
	}
	return reports.Outcome{Command: command, Did: did, Wrote: []string{"journal " + dir}}
}
