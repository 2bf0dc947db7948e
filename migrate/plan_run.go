package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"

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
	if err := reports.CheckOverwrite(o.Out, o.Force); err != nil {
		return err
	}
	if o.Report != "" {
		if err := reports.CheckOverwrite(o.ReportOut, o.Force); err != nil {
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
		OnConflict: o.OnConflict, BackupPrefix: o.BackupPrefix,
		Workspaces: o.Workspaces, Groups: o.Groups, GroupRegex: o.GroupRegex, Exclude: o.Exclude, ExcludeRegex: o.ExcludeRegex,
	}
	if mapping != nil {
		settings.MappingFile, settings.MappingSHA256 = mapping.Path, mapping.SHA256
	}
	b := &planBuilder{settings: settings, match: match, sel: sel}
	f := &planFetcher{sess: sess, log: d.logger(), b: b}
	if err := f.fetch(ctx); err != nil {
		return err
	}
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
	if err := WritePlan(o.Out, p, o.Force); err != nil {
		return err
	}
	if o.Report != "" {
		if err := writePlanReport(o.Report, o.ReportOut, p, o.Force); err != nil {
			return err
		}
	}
	d.logger().Info("plan written", "file", o.Out, "groups", planCountGroups(p), "conflicts", len(p.Conflicts))
	return printPlanSummary(d.Streams, p, o.Out)
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
