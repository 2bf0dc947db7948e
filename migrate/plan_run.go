package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dbiam/dbiam/reports"
)

// Report formats for --report.
const (
	ReportXLSX = "xlsx"
	ReportHTML = "html"
)

// PlanOptions are the inputs of "dbiam migrate plan".
type PlanOptions struct {
	// Out is the plan file to write (--out); Force allows replacing it.
	Out   string
	Force bool

	// Selection. Workspaces are names or ids (empty = all). Groups are exact
	// local group names, GroupRegex regular expressions (unanchored); with
	// neither, every workspace-local group is selected (or, with
	// MatchMapping, every group the mapping file names). Exclude and
	// ExcludeRegex remove groups. System groups are never selected.
	Workspaces   []string
	Groups       []string
	GroupRegex   []string
	Exclude      []string
	ExcludeRegex []string

	// Match is the target strategy (Match* constants; "" = MatchName) with
	// its parameters.
	Match   string
	Prefix  string
	Suffix  string
	Strip   bool
	Regex   string
	Replace string
	// MappingFile is the --mapping CSV (workspace,local_group,account_group).
	MappingFile string

	// OnConflict is PolicyFail (default), PolicyMerge or PolicyPerWorkspace.
	OnConflict string
	// BackupPrefix is prepended to a local group's name when apply renames
	// it out of the way; "" means DefaultBackupPrefix.
	BackupPrefix string
	// PermissionsRoute is how the groups' grants reach their account
	// groups (--permissions-route): RouteAPI ("" too), RouteACLCopy or
	// RouteAPIOrACLCopy (permroute.go).
	PermissionsRoute string
	// ReadWorkspaceTree makes the plan read the ACL of every directory,
	// notebook and file of each workspace's tree for the baselines
	// (--read-workspace-tree): one list per directory and one permissions
	// read per object, slow on a large workspace. Without it the plan reads
	// the home folders and Git folders of the tree, as audit does.
	ReadWorkspaceTree bool

	// SkipUnreadable plans the other workspaces when one cannot be read
	// (denied, unavailable, throttled past the retry budget): the plan
	// lists it as skipped with a blocking not-read conflict, and RunPlan
	// returns a *PlanReviewError. Without it such a workspace fails the
	// plan.
	SkipUnreadable bool

	// GetMembers reads the members of every selected group with one GET
	// (--get-members) instead of deriving them from the workspace's user,
	// service principal and group lists. Slow (one request per group at the
	// workspace's read rate); for a workspace whose lists do not show every
	// member (apply then finds its groups' members changed).
	GetMembers bool

	// Limits lowers the service limits the plan checks (for tests); a zero
	// field means the documented limit, and a field above it is refused.
	Limits ServiceLimits

	// StatusInterval is, off a terminal, the time between status lines
	// while the plan reads; 0 means 5 s (a line at least every 10 s).
	StatusInterval time.Duration

	// Report, if set, also writes the summary as ReportXLSX or ReportHTML to
	// ReportOut ("" = Out with the extension replaced).
	Report    string
	ReportOut string

	// ToolVersion is recorded in the plan; "" means the module version from
	// the build info.
	ToolVersion string
}

// planDefaults fills in defaults and checks the options that need no I/O.
// Its errors are bad-input errors naming the flag.
func (o *PlanOptions) planDefaults() error {
	if o.Out == "" {
		return errors.New("flag --out is required: the plan file to write")
	}
	if o.Match == "" {
		o.Match = MatchName
	}
	switch o.OnConflict {
	case "":
		o.OnConflict = PolicyFail
	case PolicyFail, PolicyMerge, PolicyPerWorkspace:
	default:
		return fmt.Errorf("flag --on-conflict %q: want fail, merge or per-workspace", o.OnConflict)
	}
	if o.BackupPrefix == "" {
		o.BackupPrefix = DefaultBackupPrefix
	}
	route, err := checkRoute(o.PermissionsRoute)
	if err != nil {
		return err
	}
	o.PermissionsRoute = route
	if strings.TrimSpace(o.BackupPrefix) == "" {
		return fmt.Errorf("flag --backup-prefix %q: must contain a visible character", o.BackupPrefix)
	}
	switch o.Report {
	case "":
		if o.ReportOut != "" {
			return errors.New("flag --report-out needs --report xlsx|html")
		}
	case ReportXLSX, ReportHTML:
		if o.ReportOut == "" {
			o.ReportOut = strings.TrimSuffix(o.Out, filepath.Ext(o.Out)) + "." + o.Report
		}
		if filepath.Clean(o.ReportOut) == filepath.Clean(o.Out) {
			return fmt.Errorf("flag --report-out %q: is the plan file itself", o.ReportOut)
		}
	default:
		return fmt.Errorf("flag --report %q: want xlsx or html", o.Report)
	}
	if err := o.Limits.check(); err != nil {
		return err
	}
	if o.ToolVersion == "" {
		o.ToolVersion = planBuildVersion()
	}
	return nil
}

// planBuildVersion is the main module's version from the build info.
func planBuildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// RunPlan reads the live state of the account and its workspaces, plans
// the migration of the selected workspace-local groups to account groups,
// writes the plan file (atomically, mode 0600; an existing file only with
// Force), writes the optional report, and prints a summary on stdout.
// When the plan has blocking conflicts, or migrates nothing although
// groups or mapping rows were asked for, it returns a *PlanReviewError
// (exit code 2) after writing everything.
// It makes no change to the account or any workspace: every call it makes
// is a GET. Bad options fail before any network call.
func RunPlan(ctx context.Context, o PlanOptions, d Deps) error {
	if err := o.planDefaults(); err != nil {
		return err
	}
	var mapping *Mapping
	if o.MappingFile != "" {
		m, err := ReadMapping(o.MappingFile)
		if err != nil {
			return err
		}
		mapping = m
	}
	match, err := newPlanMatcher(planMatchOptions{Strategy: o.Match, Prefix: o.Prefix, Suffix: o.Suffix, Strip: o.Strip,
		Regex: o.Regex, Replace: o.Replace, Mapping: mapping})
	if err != nil {
		return err
	}
	sel, err := newPlanSelector(o, mapping)
	if err != nil {
		return err
	}
	// Every output is checked before the first request, so that a bad
	// path fails at once rather than after all the reads.
	if err := checkOutputPath("--out", o.Out, o.Force); err != nil {
		return err
	}
	if o.Report != "" {
		if err := checkOutputPath("--report-out", o.ReportOut, o.Force); err != nil {
			return err
		}
	}
	if d.Connect == nil {
		return errors.New("migrate plan: no connection configured")
	}
	sess, err := d.Connect(ctx)
	if err != nil {
		return err
	}
	settings := PlanSettings{
		Match: o.Match, Prefix: o.Prefix, Suffix: o.Suffix, Strip: o.Strip, Regex: o.Regex, Replace: o.Replace,
		OnConflict: o.OnConflict, BackupPrefix: o.BackupPrefix, PermissionsRoute: o.PermissionsRoute, ReadWorkspaceTree: o.ReadWorkspaceTree,
		Workspaces: o.Workspaces, Groups: o.Groups, GroupRegex: o.GroupRegex, Exclude: o.Exclude, ExcludeRegex: o.ExcludeRegex,
	}
	if mapping != nil {
		settings.MappingFile, settings.MappingSHA256 = mapping.Path, mapping.SHA256
	}
	b := &planBuilder{settings: settings, match: match, sel: sel}
	b.limits = o.Limits.withDefaults()
	f := &planFetcher{sess: sess, log: d.logger(), b: b, skipUnreadable: o.SkipUnreadable, getMembers: o.GetMembers,
		streams: d.Streams, now: d.Now, statusInterval: o.StatusInterval}
	if err := f.fetch(ctx); err != nil {
		return err
	}
	if err := checkPlanNames(ctx, b, sess.Workspaces); err != nil {
		return err
	}
	b.reconcileConflicts()
	lineage, err := newPlanLineage()
	if err != nil {
		return err
	}
	p := b.assemble(planMeta{
		toolVersion: o.ToolVersion,
		createdAt:   d.now().UTC(),
		lineage:     lineage,
		host:        sess.Host(),
		accountID:   sess.AccountID(),
	})
	if err := writePlanFiles(p, o); err != nil {
		return err
	}
	d.logger().Info("plan written", "file", o.Out, "groups", planCountGroups(p), "conflicts", len(p.Conflicts))
	if err := printPlanSummary(d.Streams, p, o.Out); err != nil {
		return err
	}
	d.setOutcome(planRunOutcome(p, o))
	return planReview(p, o)
}

// planRunOutcome says what the plan holds and which files were written.
func planRunOutcome(p *Plan, o PlanOptions) reports.Outcome {
	t := planTotalsOf(p)
	out := reports.Outcome{Command: "migrate plan", Wrote: []string{o.Out},
		Did: fmt.Sprintf("%d local groups in %d workspaces, %d to migrate, %d conflicts (%d blocking)",
			t.Groups, t.Workspaces, t.Migrated, t.Conflicts, t.BlockingConflicts)}
	if o.Report != "" {
		out.Wrote = append(out.Wrote, o.ReportOut)
	}
	return out
}

// writePlanFiles writes the report (if asked for) and then the plan, each
// atomically. The run fails with neither file in place: a report whose
// plan could not be written is removed again.
func writePlanFiles(p *Plan, o PlanOptions) error {
	if o.Report != "" {
		if err := writePlanReport(o.Report, o.ReportOut, p, o.Force); err != nil {
			return err
		}
	}
	if err := WritePlan(o.Out, p, o.Force); err != nil {
		if o.Report != "" {
			if rerr := os.Remove(o.ReportOut); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				return errors.Join(err, fmt.Errorf("remove report %s: %w", o.ReportOut, rerr))
			}
		}
		return err
	}
	return nil
}

// PlanReviewError is returned by RunPlan, after the plan file and the
// summary were written, when the plan needs a review before apply: it has
// blocking conflicts (their groups are skipped), or it migrates nothing
// although groups (--group, --group-regex) or mapping rows were asked for.
// Its exit code is 2.
type PlanReviewError struct {
	Path string // the plan file, written
	// Blocking is the number of blocking conflicts.
	Blocking int
	// Nothing is true when the plan migrates no group although groups or
	// mapping rows were asked for.
	Nothing bool
}

// Error says why the plan needs a review.
func (e *PlanReviewError) Error() string {
	var why []string
	if e.Nothing {
		why = append(why, "nothing to migrate although groups or mapping rows were asked for")
	}
	if e.Blocking > 0 {
		why = append(why, fmt.Sprintf("%d blocking conflicts (their groups are skipped)", e.Blocking))
	}
	return fmt.Sprintf("plan %s: %s; the plan was written: review the conflicts", e.Path, strings.Join(why, " and "))
}

// ExitCode is 2: the plan was written but needs a review.
func (e *PlanReviewError) ExitCode() int { return 2 }

// planReview returns a *PlanReviewError when p has blocking conflicts or
// migrates nothing although o asked for groups or mapping rows.
func planReview(p *Plan, o PlanOptions) error {
	t := planTotalsOf(p)
	asked := len(o.Groups) > 0 || len(o.GroupRegex) > 0 || o.MappingFile != ""
	e := &PlanReviewError{Path: o.Out, Blocking: t.BlockingConflicts, Nothing: asked && t.Migrated == 0}
	if e.Blocking == 0 && !e.Nothing {
		return nil
	}
	return e
}

// newPlanLineage returns a random 128-bit id as 32 hex digits.
func newPlanLineage() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make plan lineage: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// planCountGroups is the number of local groups in the plan.
func planCountGroups(p *Plan) int {
	n := 0
	for _, w := range p.Workspaces {
		n += len(w.Groups)
	}
	return n
}
