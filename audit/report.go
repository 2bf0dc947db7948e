package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReportVersion is the version of the JSON report document.
const ReportVersion = 1

// Report is the outcome of an audit: the same data feeds every format.
type Report struct {
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	// Mode is "named", "inactive" or "all".
	Mode       string              `json:"mode"`
	Identities []IdentitySummary   `json:"identities"`
	Workspaces []WorkspaceCoverage `json:"workspaces"`
	// Findings are sorted by severity (worst first), then workspace,
	// identity, kind and object. Parts that could not be read appear as
	// findings with severity not-covered.
	Findings []Finding `json:"findings"`
}

// IdentitySummary is an audited identity and its finding counts.
type IdentitySummary struct {
	Identity
	Findings   int            `json:"findings"`
	BySeverity map[string]int `json:"by_severity"`
}

// Coverage states of a workspace.
const (
	CoverageFull    = "covered"     // every kind was read
	CoveragePartial = "partial"     // some kinds could not be read
	CoverageNone    = "not-covered" // nothing could be read
	CoverageSkipped = "skipped"     // not audited (e.g. not running)
)

// WorkspaceCoverage says what could be read in a workspace.
type WorkspaceCoverage struct {
	WorkspaceRef
	Coverage   string    `json:"coverage"`
	Reason     string    `json:"reason,omitempty"`
	Objects    int       `json:"objects"`
	NotCovered []KindGap `json:"not_covered,omitempty"`
	// NotAvailable are the kinds the workspace does not have (their API
	// answered 404 ENDPOINT_NOT_FOUND or FEATURE_DISABLED, e.g. alerts v2
	// where the feature is not enabled): not a gap, and not counted as one.
	NotAvailable []KindGap `json:"not_available,omitempty"`
	Findings     int       `json:"findings"`
}

// KindGap is a resource kind that could not be read (or, in NotAvailable,
// that the workspace does not have), with the cause.
type KindGap struct {
	Kind  Kind   `json:"kind"`
	Error string `json:"error"`
}

// notCovered lists "workspace: kind" for every gap.
func (r *Report) notCovered() []string {
	var out []string
	for _, w := range r.Workspaces {
		switch {
		case w.Coverage == CoverageNone && len(w.NotCovered) == 0:
			out = append(out, w.Label()+": everything")
		default:
			for _, g := range w.NotCovered {
				out = append(out, w.Label()+": "+string(g.Kind))
			}
		}
	}
	return out
}

// notFound lists "type:name" for every named identity found nowhere (named
// runs only: with --inactive and --all nothing was requested by name).
func (r *Report) notFound() []string {
	if r.Mode != modeNamed.String() {
		return nil
	}
	var out []string
	for _, id := range r.Identities {
		if id.Named && id.Status == StatusNotFound {
			out = append(out, string(id.Type)+":"+id.Name)
		}
	}
	return out
}

// buildReport assembles the report from the workspaces' findings.
func (a *auditor) buildReport(ctx context.Context) (*Report, error) {
	r := &Report{Version: ReportVersion, GeneratedAt: a.now.UTC(), Mode: a.plan.mode.String()}
	var findings []Finding
	for _, w := range a.ws {
		findings = append(findings, w.findings...)
	}
	idents, err := a.identities(ctx, findings)
	if err != nil {
		return nil, err
	}
	// Re-key findings from matcher keys to identity keys (several matcher
	// keys, a name and an id, may name one identity) and fill the identity
	// columns.
	byIdentity := map[string]Identity{}
	for _, id := range idents {
		byIdentity[id.Key()] = id
	}
	kept := findings[:0]
	for _, f := range findings {
		id, ok := idents[f.Identity]
		if !ok {
			continue
		}
		f.Identity, f.IdentityName, f.IdentityType = id.Key(), id.Name, id.Type
		kept = append(kept, f)
	}
	findings = kept
	// Identities reported: every named one; for --inactive and --all only
	// those with findings.
	byKey := map[string]*IdentitySummary{}
	var order []string
	addIdent := func(id Identity) *IdentitySummary {
		k := id.Key()
		if s, ok := byKey[k]; ok {
			return s
		}
		s := &IdentitySummary{Identity: id, BySeverity: map[string]int{}}
		byKey[k] = s
		order = append(order, k)
		return s
	}
	if a.targets != nil && a.plan.mode == modeNamed {
		for _, t := range a.targets.list {
			addIdent(byIdentity[t.ident.Key()])
		}
	}
	for _, f := range findings {
		s := addIdent(byIdentity[f.Identity])
		s.Findings++
		s.BySeverity[f.Severity.String()]++
	}
	for _, k := range order {
		s := byKey[k]
		if s.Status == StatusNotFound && a.plan.mode == modeNamed {
			findings = append(findings, Finding{Identity: k, IdentityName: s.Name, IdentityType: s.Type,
				Kind: KindIdentity, ObjectName: s.Name, Severity: SeverityInfo,
				Reason: "identity not found in the account or in any audited workspace; objects were matched by name"})
		}
		r.Identities = append(r.Identities, *s)
	}
	slices.SortStableFunc(r.Identities, func(x, y IdentitySummary) int {
		return cmp.Or(cmp.Compare(worstOf(y.BySeverity), worstOf(x.BySeverity)), cmp.Compare(y.Findings, x.Findings), cmp.Compare(x.Name, y.Name))
	})
	// Coverage, and a not-covered finding per gap.
	for _, w := range a.ws {
		c := WorkspaceCoverage{WorkspaceRef: w.ref, Objects: w.objects, Coverage: CoverageFull}
		for _, f := range w.findings {
			if _, ok := idents[f.Identity]; ok {
				c.Findings++
			}
		}
		switch {
		case w.skipped != "":
			c.Coverage, c.Reason = CoverageSkipped, w.skipped
		case w.failed != nil:
			c.Coverage, c.Reason = CoverageNone, w.failed.Error()
			findings = append(findings, Finding{Workspace: w.ref, Kind: KindWorkspace, ObjectID: strconv.FormatInt(w.ref.ID, 10),
				ObjectName: w.ref.Name, URL: w.ref.URL, Severity: SeverityNotCovered, Reason: "not covered: " + w.failed.Error()})
		default:
			for _, k := range append(ObjectKinds(), KindWorkspaceAccess, KindIdentity) {
				err, ok := w.gaps[k]
				if !ok {
					continue
				}
				c.NotCovered = append(c.NotCovered, KindGap{Kind: k, Error: err.Error()})
				findings = append(findings, Finding{Workspace: w.ref, Kind: k, Severity: SeverityNotCovered,
					Reason: "not covered: " + err.Error()})
			}
			for _, k := range ObjectKinds() {
				if err, ok := w.unavailable[k]; ok {
					c.NotAvailable = append(c.NotAvailable, KindGap{Kind: k, Error: err.Error()})
				}
			}
			switch {
			case w.nothingRead():
				c.Coverage, c.Reason = CoverageNone, "no resource kind could be read"
			case len(w.gaps) > 0:
				c.Coverage = CoveragePartial
			}
		}
		r.Workspaces = append(r.Workspaces, c)
	}
	SortFindings(findings)
	r.Findings = findings
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return r, nil
}

// worstOf returns the rank of the worst severity counted in m, -1 if none.
func worstOf(m map[string]int) int {
	for _, s := range Severities() {
		if m[s.String()] > 0 {
			return int(s)
		}
	}
	return -1
}

// identities maps finding identity keys to identities. For named and
// inactive runs they are the targets. For --all the keys are the names and
// ids seen in objects, resolved here against the account (or each
// workspace without one); names found nowhere are reported as not-found,
// names a workspace directory could not be asked about as unresolved (a
// gap of that workspace), and id-only references that resolve merge into
// the named identity.
func (a *auditor) identities(ctx context.Context, findings []Finding) (map[string]Identity, error) {
	out := map[string]Identity{}
	if a.all == nil {
		for _, t := range a.targets.list {
			out[t.key] = t.ident
		}
		return out, nil
	}
	refs := a.all.refs()
	pending := map[string]pref{}
	for _, f := range findings {
		if r, ok := refs[f.Identity]; ok {
			pending[f.Identity] = r
		}
	}
	found := map[string]principal{}
	scopes := map[string]string{}
	if a.early != nil {
		t0 := time.Now()
		ps, err := a.early.finish(ctx)
		a.log.Debug("audit resolved names in the account", "names", len(ps), "took", time.Since(t0))
		if err != nil {
			return nil, fmt.Errorf("resolve identities: %w", err)
		}
		for k, p := range ps {
			if _, ok := pending[k]; ok {
				found[k], scopes[k] = p, "account"
				delete(pending, k)
			}
		}
	}
	// Names the account does not know may be workspace-local principals of
	// the workspaces they were seen in; each workspace is asked about its
	// own names, Session.Parallel workspaces at a time.
	// A workspace whose directory cannot be read is not covered for
	// identities (exit code 2); the names it was asked about stay
	// unresolved, and the rest of the report is still written.
	var mu sync.Mutex
	unresolved := map[string]bool{}
	a.forEachWorkspace(ctx, func(w *wsRun) {
		want := map[string]pref{}
		mu.Lock()
		for k, r := range pending {
			if a.all.seenIn(k, w.info.ID) {
				want[k] = r
			}
		}
		mu.Unlock()
		if len(want) == 0 {
			return
		}
		ps, err := lookupRefs(ctx, workspaceDirectory(w.client), want)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			w.gap(KindIdentity, fmt.Errorf("resolve %d identities: %w", len(want), err))
			for k := range want {
				unresolved[k] = true
			}
			return
		}
		for k, p := range ps {
			if _, done := found[k]; !done {
				found[k], scopes[k] = p, "workspace"
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for k, r := range refs {
		if p, ok := found[k]; ok {
			out[k] = Identity{Type: p.Type, Name: p.Name, DisplayName: p.DisplayName, ID: p.ID, Status: p.status(), Scope: scopes[k]}
			continue
		}
		id := Identity{Type: r.ptype, Name: r.name, Status: StatusNotFound}
		if unresolved[k] {
			id.Status = StatusUnresolved
		}
		if id.Name == "" {
			id.Name = "id " + strconv.FormatInt(r.id, 10)
		}
		if id.Type == "" {
			id.Type = guessType(r.name)
		}
		out[k] = id
	}
	return out, nil
}

// lookupRefs resolves matcher keys in one directory: names by type and
// id-only references by id. Untyped names (creators, which may be users or
// service principals, and dedicated users, which may also be groups) are
// looked up as users first, then as service principals, then (unless they
// look like an email) as groups, each time only if not found yet. The
// result maps keys to principals.
func lookupRefs(ctx context.Context, d directory, refs map[string]pref) (map[string]principal, error) {
	names := map[PrincipalType][]string{}
	var untyped []string
	ids := map[string]PrincipalType{}
	for _, r := range refs {
		switch {
		case r.name == "":
			ids[strconv.FormatInt(r.id, 10)] = r.ptype
		case r.ptype == "":
			untyped = append(untyped, r.name)
		default:
			names[r.ptype] = append(names[r.ptype], r.name)
		}
	}
	out := map[string]principal{}
	lookup := func(t PrincipalType, want []string) error {
		var left []string
		for _, n := range want {
			if _, ok := out["n:"+normName(n)]; !ok {
				left = append(left, n)
			}
		}
		slices.Sort(left)
		left = slices.Compact(left)
		ps, err := d.lookup(ctx, t, left)
		if err != nil {
			return err
		}
		for n, p := range ps {
			out["n:"+n] = p
		}
		return nil
	}
	if err := lookup(PrincipalUser, append(names[PrincipalUser], untyped...)); err != nil {
		return nil, err
	}
	// Application ids never contain "@": an untyped name that does is a
	// user or nobody.
	var maybeSPs []string
	for _, n := range untyped {
		if !strings.Contains(n, "@") {
			maybeSPs = append(maybeSPs, n)
		}
	}
	if err := lookup(PrincipalServicePrincipal, append(names[PrincipalServicePrincipal], maybeSPs...)); err != nil {
		return nil, err
	}
	// A dedicated cluster's single_user_name may name a group.
	if err := lookup(PrincipalGroup, append(names[PrincipalGroup], maybeSPs...)); err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		ps, err := d.byIDs(ctx, ids)
		if err != nil {
			return nil, err
		}
		for id, p := range ps {
			out["i:"+id] = p
		}
	}
	return out, nil
}

// guessType guesses the type of a principal found nowhere from its name:
// user names are emails; anything else is taken for a service principal's
// application id.
func guessType(name string) PrincipalType {
	if strings.Contains(name, "@") || name == "" {
		return PrincipalUser
	}
	return PrincipalServicePrincipal
}
