// Command dbiam is a toolkit for Databricks identity administration:
// export every workspace's identities, audit what breaks if identities are
// removed, and migrate workspace-local groups to account groups.
//
// main.go only wires commands: the work lives in the export, audit, migrate,
// scim, reports and sandbox packages. It is the only place that calls
// os.Exit and maps errors to exit codes (see exitCode).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sdklogger "github.com/databricks/databricks-sdk-go/logger"
	"github.com/urfave/cli/v2"

	"github.com/dbiam/dbiam/audit"
	"github.com/dbiam/dbiam/diff"
	"github.com/dbiam/dbiam/export"
	"github.com/dbiam/dbiam/handover"
	"github.com/dbiam/dbiam/migrate"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/sandbox"
	"github.com/dbiam/dbiam/scim"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3"; builds from a checkout report "dev".
var version = "dev"

// Exit codes; the README documents them. A feature's error picks a code
// other than 1 through an ExitCode() method: 2 for partial failures, 3 for
// audit's --fail-on gate (audit.GateError), which wins over 2.
const (
	exitOK          = 0
	exitError       = 1
	exitPartial     = 2
	exitGate        = 3
	exitInterrupted = 130
	exitBrokenPipe  = 141 // 128 + SIGPIPE, what a shell reports for a writer killed by it
)

func main() {
	os.Exit(run(context.Background(), os.Args, reports.System()))
}

// run executes one dbiam invocation and returns its exit code. SIGINT and
// SIGTERM cancel the context; commands stop cleanly and leave resumable
// state.
func run(ctx context.Context, args []string, io *reports.Streams) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A reader that goes away (dbiam export --out - | head, or stderr
	// piped into one) would otherwise kill the process at its next write,
	// leaving the spool and temporary files, personal data, behind. With
	// SIGPIPE caught, the write fails with EPIPE instead: the command
	// stops and cleans up, and log lines to a closed stderr are dropped.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	out := &stdout{w: io.Out}
	io.Out = out

	sdklogger.DefaultLogger = sdkLog{io: io}
	g := &globals{io: io}
	defer g.close()
	app := newApp(io, g)
	app.Metadata = map[string]any{"args": args} // as typed; recorded (credentials left out) in export's About table
	if len(args) > 1 && args[1] == completeCommand {
		return runComplete(app, args[2:], io.Out) // the completion scripts' protocol (completion.go)
	}
	g.args = globalFlagAfterCommand(app, args)
	start := time.Now()
	err := app.RunContext(ctx, g.args)
	io.Retries().Flush()
	// The last line says what the command did, how long it took and where
	// its output went (the error, if any, follows).
	if o, ok := io.Outcome(); ok {
		fmt.Fprintf(io.Err, "dbiam: %s\n", o.Line(time.Since(start)))
	}
	if out.closed.Load() && errors.Is(err, syscall.EPIPE) {
		// The command stopped because the reader of stdout left, as head
		// does: end quietly, with the status a shell reports for a
		// writer killed by SIGPIPE. (Any other error is reported.)
		return exitBrokenPipe
	}
	return exitCode(ctx, err, io)
}

// stdout is the data stream; it notes when its reader has gone away
// (EPIPE), so that run can tell that from an error of the command's own.
// It is safe for concurrent use if w is.
type stdout struct {
	w      io.Writer
	closed atomic.Bool
}

func (s *stdout) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		s.closed.Store(true)
	}
	return n, err
}

// globals holds the global flag values and the lazily started embedded
// sandbox. It is used from one goroutine (the command's), except connect,
// which is safe for concurrent use.
type globals struct {
	io   *reports.Streams
	args []string // the command line, global flags first

	profile, configFile, host, accountID string
	useSandbox                           bool
	parallel                             int
	rps                                  float64
	rateFlags                            cli.StringSlice
	rates                                map[string]float64 // --rate, parsed by validate

	mu  sync.Mutex
	srv *sandbox.Server
}

func newApp(io *reports.Streams, g *globals) *cli.App {
	app := &cli.App{
		Name:    "dbiam",
		Usage:   "Databricks identity administration: export, audit, migrate",
		Version: version,
		Description: "dbiam reads credentials the way the Databricks CLI and SDK do: a profile in\n" +
			"~/.databrickscfg, DATABRICKS_* environment variables, or the flags below.\n" +
			"Pass --sandbox to run any command against an embedded, seeded emulator.",
		Reader:         io.In,
		Writer:         io.Out,
		ErrWriter:      io.Err,
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are mapped in run
		// Group names and regexes may contain commas: never split slice flags.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "profile", Aliases: []string{"p"}, Usage: "`NAME` of a profile in the Databricks config file", EnvVars: []string{"DATABRICKS_CONFIG_PROFILE"}, Destination: &g.profile},
			&cli.StringFlag{Name: "config-file", Usage: "Databricks config `FILE` (default ~/.databrickscfg)", EnvVars: []string{"DATABRICKS_CONFIG_FILE"}, Destination: &g.configFile},
			&cli.StringFlag{Name: "host", Usage: "account or workspace `URL`, e.g. https://accounts.cloud.databricks.com", EnvVars: []string{"DATABRICKS_HOST"}, Destination: &g.host},
			&cli.StringFlag{Name: "account-id", Usage: "Databricks account `ID` (needed for account-level work)", EnvVars: []string{"DATABRICKS_ACCOUNT_ID"}, Destination: &g.accountID},
			&cli.BoolFlag{Name: "sandbox", Usage: "run against an embedded emulator seeded with a demo account (no real account is touched)", Destination: &g.useSandbox},
			&cli.IntFlag{Name: "parallel", Usage: "`N` workspaces processed concurrently", Value: 4, Destination: &g.parallel},
			&cli.Float64Flag{Name: "rps", Usage: "cap of `RPS` requests per second per workspace and endpoint class (0 = conservative per-class defaults)", EnvVars: []string{"DATABRICKS_RATE_LIMIT"}, Destination: &g.rps},
			&cli.StringSliceFlag{Name: "rate", Usage: "set one endpoint class's rate, `CLASS=RPS` (raise or lower it; repeatable), e.g. scim-read=25", Destination: &g.rateFlags},
			&cli.StringFlag{Name: "log-level", Usage: "`LEVEL` of the log on stderr: debug, info, warn or error", Value: "info"},
			&cli.BoolFlag{Name: "no-progress", Usage: "never draw progress bars (plain log lines instead)"},
		},
		Before: func(c *cli.Context) error {
			level, err := reports.ParseLevel(c.String("log-level"))
			if err != nil {
				return err
			}
			io.SetLogLevel(level)
			if c.Bool("no-progress") {
				io.SetProgressEnabled(false)
			}
			return g.validate()
		},
		Commands: []*cli.Command{
			export.Command(io, g.connect),
			audit.Command(io, g.connect),
			migrate.Command(io, g.connect),
			handover.Command(io, g.connect),
			diff.Command(io),
			sandbox.Command(),
			versionCommand(),
			completionCommand(),
		},
	}
	app.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return unknownCommand(c.Args().First(), "dbiam", app.Commands)
		}
		return cli.ShowAppHelp(c)
	}
	app.OnUsageError = onUsageError(g, "dbiam", app.Flags, nil)
	for _, cmd := range app.Commands {
		strictUsage(g, cmd, "dbiam "+cmd.Name, app.Flags)
	}
	return app
}

// usageError is a bad command line: main prints it as one line on stderr
// with a hint line, never the whole help text.
type usageError struct {
	err  error
	hint string
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// strictUsage makes cmd and its subcommands report usage errors and unknown
// subcommands as a usageError (see onUsageError).
func strictUsage(g *globals, cmd *cli.Command, path string, global []cli.Flag) {
	if cmd.OnUsageError == nil {
		cmd.OnUsageError = onUsageError(g, path, global, cmd.Flags)
	}
	// urfave/cli prints the whole help on stdout for a missing required
	// flag; check required string flags here instead, as usage errors.
	var required []string
	for _, f := range cmd.Flags {
		if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
			sf.Required = false
			required = append(required, sf.Name)
		}
	}
	if len(required) > 0 {
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			for _, name := range required {
				if !c.IsSet(name) {
					return &usageError{err: fmt.Errorf("flag --%s is required", name), hint: fmt.Sprintf("run '%s --help' for usage", path)}
				}
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
	if len(cmd.Subcommands) > 0 && cmd.Action == nil {
		cmd.Action = func(c *cli.Context) error {
			if c.Args().Present() {
				return unknownCommand(c.Args().First(), path, cmd.Subcommands)
			}
			return cli.ShowSubcommandHelp(c)
		}
	}
	for _, sub := range cmd.Subcommands {
		strictUsage(g, sub, path+" "+sub.Name, global)
	}
}

// onUsageError turns a flag parsing error of the command at path into a
// usageError naming the flag as typed, with a suggestion when the flag is
// unknown but close to one the command (or dbiam) takes.
func onUsageError(g *globals, path string, global, local []cli.Flag) cli.OnUsageErrorFunc {
	return func(_ *cli.Context, err error, _ bool) error {
		return usageFlagError(err, path, g.args, allFlags(local, global))
	}
}

// validate checks the global flags before any command touches the network.
func (g *globals) validate() error {
	if g.parallel < 1 {
		return fmt.Errorf("invalid --parallel %d: pass a number of workspaces of 1 or more", g.parallel)
	}
	if g.rps < 0 {
		return fmt.Errorf("invalid --rps %g: pass 0 (defaults) or a positive rate", g.rps)
	}
	for _, v := range g.rateFlags.Value() {
		for _, part := range strings.Split(v, ",") {
			c, r, err := scim.ParseRate(part)
			if err != nil {
				return err
			}
			if g.rates == nil {
				g.rates = map[string]float64{}
			}
			g.rates[string(c)] = r
		}
	}
	if g.useSandbox && (g.host != "" || g.profile != "" || g.accountID != "") {
		return errors.New("--sandbox cannot be combined with --host, --profile or --account-id (or DATABRICKS_HOST, DATABRICKS_CONFIG_PROFILE, DATABRICKS_ACCOUNT_ID): drop one")
	}
	return nil
}

// connect builds the session for a command from the global flags. With
// --sandbox it first starts the embedded emulator on a loopback port.
func (g *globals) connect(ctx context.Context) (*scim.Session, error) {
	log := g.io.Logger()
	s := scim.Settings{
		Profile:    g.profile,
		ConfigFile: g.configFile,
		Host:       g.host,
		AccountID:  g.accountID,
		Parallel:   g.parallel,
		RPS:        g.rps,
		Rates:      g.rates,
		OnRetry: func(e scim.RetryEvent) {
			g.io.Retries().Note(reports.Retry{Workspace: e.Workspace, Class: string(e.Class), Throttled: e.Throttled, Wait: e.Wait, Err: e.Err})
		},
	}
	if log.Enabled(reports.LevelDebug) {
		s.OnRequest = func(e scim.RequestEvent) {
			log.Debug("http", "method", e.Method, "path", e.Path, "workspace", e.WorkspaceID,
				"class", e.Class, "attempt", e.Attempt, "status", e.Status, "took", e.Duration, "header", e.Header)
		}
	}
	if g.useSandbox {
		srv, err := g.startSandbox()
		if err != nil {
			return nil, err
		}
		s.Host, s.AccountID, s.Token, s.Hermetic = srv.URL(), srv.AccountID(), srv.AdminToken(), true
		if g.rps == 0 {
			// The embedded sandbox sets no rate limits, so the conservative
			// production pacing would only slow a rehearsal down; --rps
			// and --rate still apply when given.
			s.Rates = scim.UnlimitedRates()
			maps.Copy(s.Rates, g.rates)
		}
	}
	return scim.Connect(ctx, s)
}

func (g *globals) startSandbox() (*sandbox.Server, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		return g.srv, nil
	}
	srv, err := sandbox.Start("127.0.0.1:0", sandbox.Options{})
	if err != nil {
		return nil, fmt.Errorf("start embedded sandbox: %w", err)
	}
	g.io.Logger().Info("sandbox started", "host", srv.URL(), "account", srv.AccountID())
	g.srv = srv
	return srv, nil
}

func (g *globals) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		g.srv.Close()
		g.srv = nil
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &usageError{err: fmt.Errorf("version takes no arguments (got %q)", c.Args().First()), hint: "run 'dbiam version'"}
			}
			return printVersion(c.App.Writer)
		},
	}
}

// printVersion writes the line of "dbiam version" and "dbiam --version".
func printVersion(w io.Writer) error {
	sdk := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/databricks/databricks-sdk-go" {
				sdk = d.Version
			}
		}
	}
	_, err := fmt.Fprintf(w, "dbiam %s (%s, databricks-sdk-go %s)\n", version, runtime.Version(), sdk)
	return err
}

// exitCode prints err as one line on stderr (plus a hint line where one
// helps) and maps it to the process exit code.
func exitCode(ctx context.Context, err error, io *reports.Streams) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		fmt.Fprintf(io.Err, "dbiam: interrupted: %s\n", strings.TrimSpace(reports.Redact(err.Error())))
		return exitInterrupted
	}
	printError(io.Err, err)
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if c := coded.ExitCode(); c != exitOK {
			return c
		}
	}
	return exitError
}

func printError(w io.Writer, err error) {
	msg := strings.TrimSpace(reports.Redact(err.Error()))
	fmt.Fprintf(w, "dbiam: %s\n", msg)
	var cfg *scim.ConfigError
	if errors.As(err, &cfg) && cfg.Fix != "" && !strings.Contains(msg, cfg.Fix) {
		fmt.Fprintf(w, "hint: %s\n", cfg.Fix)
	}
	var usage *usageError
	if errors.As(err, &usage) && usage.hint != "" {
		fmt.Fprintf(w, "hint: %s\n", usage.hint)
	}
	// Typed errors of scim and the feature packages say what to do next.
	var hinter interface{ Hint() string }
	if errors.As(err, &hinter) && hinter.Hint() != "" && !strings.Contains(msg, hinter.Hint()) {
		fmt.Fprintf(w, "hint: %s\n", reports.Redact(hinter.Hint()))
	}
}
