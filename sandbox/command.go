package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// Command returns the "sandbox" command with its "serve" subcommand:
//
//	dbiam sandbox serve [--addr 127.0.0.1:0] [--seed FILE | --synthetic SPEC]
//	    [--page-cap N] [--latency D] [--rate CLASS=RPS ...] [--throttle-style 429|scim500]
//	    [--max-concurrent N] [--fault-rate F] [--fault SPEC ...] [--consistency D] [--filter-dialect strict|lenient]
//	    [--permission-migration strict|copy|move] [--permission-migration-fault SPEC ...] [--allow-remote]
//	    [--account-pats] [--list-all-objects] [--managers-set-owner] [--list-unbound-models]
//
// serve prints one JSON line on the app's Writer (stdout) — host, account id,
// admin and user tokens, workspaces — then serves until the context is
// cancelled.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "sandbox",
		Usage: "Databricks identity API emulator",
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve an emulated Databricks account and its workspaces until interrupted",
			Description: "Prints one JSON line with the host, account id, tokens and workspaces, then serves.\n" +
				"Workspace calls are routed by the X-Databricks-Workspace-Id header (default: the first workspace).",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "listen `ADDRESS` (loopback unless --allow-remote)"},
				&cli.BoolFlag{Name: "allow-remote", Usage: "allow a non-loopback --addr (the sandbox accepts well-known tokens)"},
				&cli.StringFlag{Name: "seed", Usage: "seed JSON `FILE` (default: the built-in seed)"},
				&cli.StringFlag{Name: "synthetic", Usage: "generate a large account from `SPEC`, e.g. workspaces=20,users=2000,groups=400,members=25,sps=100,seed=1"},
				&cli.IntFlag{Name: "page-cap", Usage: "largest SCIM page returned (default 100)"},
				&cli.DurationFlag{Name: "latency", Usage: "latency added to every API call"},
				&cli.StringSliceFlag{Name: "rate", Usage: "rate limit `CLASS=RPS` per workspace, repeatable; classes: " + strings.Join(Classes, ", ")},
				&cli.StringFlag{Name: "throttle-style", Usage: "throttled SCIM replies: 429 or scim500"},
				&cli.IntFlag{Name: "max-concurrent", Usage: "in-flight request cap per workspace (0 = unlimited)"},
				&cli.Float64Flag{Name: "fault-rate", Usage: "share of API requests answered 500/503 or dropped (0..1)"},
				&cli.StringSliceFlag{Name: "fault", KeepSpace: true, Usage: "targeted fault `SPEC`, repeatable, e.g. " +
					"method=POST,path=/scim/v2/Groups$,after,status=500,times=1 (a create that lands but loses its reply); " +
					"keys: " + strings.Join(faultKeys, ", ")},
				&cli.DurationFlag{Name: "consistency", Usage: "delay before creates, renames and deletes reach lists and filters"},
				&cli.StringFlag{Name: "filter-dialect", Usage: "SCIM filters accepted: strict (default: what Databricks documents) or lenient (full RFC 7644)"},
				&cli.StringFlag{Name: "permission-migration", Usage: "permission migration API `MODE`: strict (default: moves grants and refuses what the real service refuses), copy or move (lenient)"},
				&cli.StringSliceFlag{Name: "permission-migration-fault", KeepSpace: true, Usage: "make permission migration calls fail part-way as the real service's 500 \"Error when updating permissions table\" does, keeping what they moved: `SPEC`, repeatable, e.g. from=\"team a\",offset=1,after=1,times=1 (the second call for local group \"team a\" moves one grant, then fails); keys: " +
					strings.Join(permMigrationFaultKeys, ", ")},
				&cli.BoolFlag{Name: "account-pats", Usage: "let account APIs accept a workspace's personal access token (default: 401, as the account console takes OAuth tokens)"},
				&cli.BoolFlag{Name: "list-all-objects", Usage: "show every job, cluster, pipeline, serving endpoint and app to every workspace member (default: only what the caller holds a permission on)"},
				&cli.BoolFlag{Name: "managers-set-owner", Usage: "let a non-admin holder of CAN_MANAGE change an object's owner (default: workspace admins only)"},
				&cli.BoolFlag{Name: "list-unbound-models", Usage: "list the registered models of isolated catalogs not bound to the caller's workspace in the metastore-wide models list (default: left out)"},
			},
			Action: serveAction,
		}},
	}
}

// serveOptions turns the serve flags into Options.
func serveOptions(c *cli.Context) (Options, error) {
	var opts Options
	switch {
	case c.IsSet("seed") && c.IsSet("synthetic"):
		return opts, errors.New("--seed and --synthetic cannot be used together")
	case c.IsSet("seed"):
		s, err := LoadSeed(c.String("seed"))
		if err != nil {
			return opts, fmt.Errorf("--seed: %w", err)
		}
		opts.Seed = s
	case c.IsSet("synthetic"):
		s, err := Synthetic(c.String("synthetic"))
		if err != nil {
			return opts, fmt.Errorf("--synthetic: %w", err)
		}
		opts.Seed = s
	}
	opts.PageCap = c.Int("page-cap")
	if opts.PageCap < 0 {
		return opts, fmt.Errorf("--page-cap %d: must not be negative", opts.PageCap)
	}
	opts.Latency = c.Duration("latency")
	if opts.Latency < 0 {
		return opts, fmt.Errorf("--latency %v: must not be negative", opts.Latency)
	}
	for _, r := range c.StringSlice("rate") {
		class, v, ok := strings.Cut(r, "=")
		rps, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		class = strings.TrimSpace(class)
		if !ok || err != nil || rps < 0 || !slices.Contains(Classes, class) {
			return opts, fmt.Errorf("--rate %q: want CLASS=RPS with RPS >= 0 and CLASS one of %s", r, strings.Join(Classes, ", "))
		}
		if opts.RateLimits == nil {
			opts.RateLimits = map[string]float64{}
		}
		opts.RateLimits[class] = rps
	}
	opts.ThrottleStyle = c.String("throttle-style")
	if opts.ThrottleStyle != "" && opts.ThrottleStyle != ThrottleStyle429 && opts.ThrottleStyle != ThrottleStyleSCIM500 {
		return opts, fmt.Errorf("--throttle-style %q: want 429 or scim500", opts.ThrottleStyle)
	}
	opts.MaxConcurrent = c.Int("max-concurrent")
	if opts.MaxConcurrent < 0 {
		return opts, fmt.Errorf("--max-concurrent %d: must not be negative", opts.MaxConcurrent)
	}
	opts.FaultRate = c.Float64("fault-rate")
	if opts.FaultRate < 0 || opts.FaultRate > 1 {
		return opts, fmt.Errorf("--fault-rate %v: want a share between 0 and 1", opts.FaultRate)
	}
	opts.Consistency = c.Duration("consistency")
	if opts.Consistency < 0 {
		return opts, fmt.Errorf("--consistency %v: must not be negative", opts.Consistency)
	}
	opts.FilterDialect = c.String("filter-dialect")
	if opts.FilterDialect != "" && opts.FilterDialect != FilterStrict && opts.FilterDialect != FilterLenient {
		return opts, fmt.Errorf("--filter-dialect %q: want strict or lenient", opts.FilterDialect)
	}
	opts.PermissionMigration = c.String("permission-migration")
	if c.IsSet("permission-migration") && (opts.PermissionMigration == "" || validPermissionMigration(opts.PermissionMigration) != nil) {
		return opts, fmt.Errorf("--permission-migration %q: want one of %s", opts.PermissionMigration, strings.Join(PermissionMigrationModes, ", "))
	}
	opts.AccountPATs = c.Bool("account-pats")
	opts.ListAllObjects = c.Bool("list-all-objects")
	opts.ManagersSetOwner = c.Bool("managers-set-owner")
	opts.ListUnboundModels = c.Bool("list-unbound-models")
	return opts, nil
}

// serveFaults parses the --fault specs (see ParseFault).
func serveFaults(specs []string) ([]Fault, error) {
	out := make([]Fault, 0, len(specs))
	for _, spec := range specs {
		f, err := ParseFault(spec)
		if err != nil {
			return nil, fmt.Errorf("--%w", err)
		}
		out = append(out, f)
	}
	return out, nil
}

// checkLoopback refuses listen addresses that are not loopback.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q is not a loopback address; the sandbox accepts well-known tokens, pass --allow-remote to expose it", addr)
}

// ServeInfo is the JSON line "sandbox serve" prints first.
type ServeInfo struct {
	Host       string                 `json:"host"`
	AccountID  string                 `json:"account_id"`
	Token      string                 `json:"token"`
	UserToken  string                 `json:"user_token"`
	Workspaces []SeedWorkspaceSummary `json:"workspaces"`
}

func serveAction(c *cli.Context) error {
	opts, err := serveOptions(c)
	if err != nil {
		return err
	}
	faults, err := serveFaults(c.StringSlice("fault"))
	if err != nil {
		return err
	}
	var pmFaults []PermissionMigrationFault
	for _, spec := range c.StringSlice("permission-migration-fault") {
		f, err := ParsePermissionMigrationFault(spec)
		if err != nil {
			return fmt.Errorf("--%w", err)
		}
		pmFaults = append(pmFaults, f)
	}
	addr := c.String("addr")
	if !c.Bool("allow-remote") {
		if err := checkLoopback(addr); err != nil {
			return err
		}
	}
	srv, err := Start(addr, opts)
	if err != nil {
		return fmt.Errorf("sandbox serve: %w", err)
	}
	defer srv.Close()
	for _, f := range faults {
		if err := srv.AddFault(f); err != nil {
			return fmt.Errorf("sandbox serve: --fault: %w", err)
		}
	}
	for _, f := range pmFaults {
		if err := srv.AddPermissionMigrationFault(f); err != nil {
			return fmt.Errorf("sandbox serve: --permission-migration-fault: %w", err)
		}
	}
	info := ServeInfo{Host: srv.URL(), AccountID: srv.AccountID(), Token: srv.AdminToken(),
		UserToken: srv.UserToken(), Workspaces: srv.Workspaces()}
	line, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("sandbox serve: %w", err)
	}
	out := io.Writer(os.Stdout)
	if c.App != nil && c.App.Writer != nil {
		out = c.App.Writer
	}
	if _, err := fmt.Fprintf(out, "%s\n", line); err != nil {
		return fmt.Errorf("sandbox serve: write stdout: %w", err)
	}
	if c.App != nil && c.App.ErrWriter != nil {
		fmt.Fprintf(c.App.ErrWriter, "sandbox: serving account %s with %d workspaces at %s; interrupt to stop\n",
			srv.AccountID(), len(info.Workspaces), srv.URL())
	}
	<-c.Context.Done()
	return nil
}
