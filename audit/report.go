package audit

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReportVersion is the version of the JSON report document. Version 2 adds
// the metastores, findings about Unity Catalog securables (with a
// metastore instead of a workspace) and workspace-local groups'
// workspace_id.
const ReportVersion = 2

// Report is the outcome of an audit: the same data feeds every format.
type Report struct {
	Version     int       `json:"version"`
	GeneratedAt time.Time `json:"generated_at"`
	// Mode is "named", "inactive" or "all".
	Mode       string              `json:"mode"`
	Identities []IdentitySummary   `json:"identities"`
	Workspaces []WorkspaceCoverage `json:"workspaces"`
	// Metastores are the Unity Catalog metastores serving the audited
	// workspaces, each read once.
	Metastores []MetastoreCoverage `json:"metastores"`
	// Findings are sorted by severity (worst first), then workspace,
	// identity, kind and object. Parts that could not be read appear as
	// findings with severity not-covered.
	Findings []Finding `json:"findings"`
	// NotChecked says what this audit, by its scope, did not look at, so
	// that no finding there is never read as nothing there (see
	// notChecked).
	NotChecked []string `json:"not_checked,omitempty"`
}

// notChecked lists what an audit with permission scope perms does not
// look at, whatever it could read: ACLs it did not read, and the
// workspace tree outside the audited identities' home folders (a folder,
// notebook or file elsewhere that only the identity manages is not
// looked for; migrate plan --read-workspace-tree reads those ACLs).
func notChecked(perms PermissionScope) []string {
	var out []string
	switch perms {
	case PermissionsNone:
		out = append(out, "every ACL (--permissions none): owners and managers held in ACLs, and the dashboards, queries and alerts stored in home folders")
	case PermissionsOwners, PermissionsRelated:
		out = append(out, "the only CAN_MANAGE on objects not tied to an audited identity by creator, owner, run-as or dedicated user (clusters, legacy dashboards, serving endpoints, apps and others): pass --permissions all")
	}
	out = append(out, "ACLs of folders, notebooks and files outside the audited identities' home folders and Git folders")
	return out
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
	// Metastore is the id of the Unity Catalog metastore serving the
	// workspace ("" when it has none).
	Metastore string `json:"metastore,omitempty"`
}

// MetastoreCoverage says what could be read in a metastore, through which
// workspace, and which audited workspaces it serves.
type MetastoreCoverage struct {
	MetastoreRef
	Owner       string       `json:"owner,omitempty"`
	Region      string       `json:"region,omitempty"`
	ReadThrough WorkspaceRef `json:"read_through"`
	Coverage    string       `json:"coverage"`
	Reason      string       `json:"reason,omitempty"`
	Objects     int          `json:"objects"`
	// GrantsRead says on which securables grants were read.
	GrantsRead string `json:"grants_read"`
	GrantReads int    `json:"grant_reads"`
	// IsolatedCatalogs are the catalogs reachable only from the workspaces
	// bound to them: which audited workspace each was read through, or why
	// it could not be (then also in NotCovered).
	IsolatedCatalogs []IsolatedCatalog `json:"isolated_catalogs,omitempty"`
	NotCovered       []KindGap         `json:"not_covered,omitempty"`
	Findings         int               `json:"findings"`
}

// ReadThroughText is the read_through cell: the reader, then each
// isolated catalog and the workspace it was read through.
func (m MetastoreCoverage) ReadThroughText() string {
	lines := []string{m.ReadThrough.Label()}
	for _, c := range m.IsolatedCatalogs {
		if c.ReadThrough != nil {
			lines = append(lines, "isolated catalog "+c.Catalog+": "+c.ReadThrough.Label())
		} else {
			lines = append(lines, "isolated catalog "+c.Catalog+": not read (see not_covered)")
		}
	}
	return strings.Join(lines, "\n")
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
	for _, m := range r.Metastores {
		switch {
		case m.Coverage == CoverageNone && len(m.NotCovered) == 0:
			out = append(out, "metastore "+m.Name+": everything")
		default:
			for _, g := range m.NotCovered {
				out = append(out, "metastore "+m.Name+": "+string(g.Kind))
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
	r := &Report{Version: ReportVersion, GeneratedAt: a.now.UTC(), Mode: a.plan.mode.String(), NotChecked: notChecked(a.plan.permissions)}
	var findings []Finding
	for _, w := range a.ws {
		findings = append(findings, w.findings...)
	}
	for _, ms := range a.ms {
		findings = append(findings, ms.findings...)
	}
	idents, everyone, err := a.identities(ctx, findings)
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
	// --all reports every identity, with or without findings.
	for _, id := range everyone {
		if _, ok := byIdentity[id.Key()]; !ok {
			byIdentity[id.Key()] = id
		}
		addIdent(byIdentity[id.Key()])
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
	wsPos := a.workspaceOrder()
	slices.SortStableFunc(r.Identities, func(x, y IdentitySummary) int {
		return cmp.Or(cmp.Compare(worstOf(y.BySeverity), worstOf(x.BySeverity)), cmp.Compare(y.Findings, x.Findings),
			cmp.Compare(x.Name, y.Name), cmp.Compare(x.Type, y.Type), cmp.Compare(wsPos[x.WorkspaceID], wsPos[y.WorkspaceID]))
	})
	// Coverage, and a not-covered finding per gap.
	msOf := map[*wsRun]string{}
	for _, ms := range a.ms {
		for _, w := range ms.served {
			msOf[w] = ms.id
		}
	}
	for _, w := range a.ws {
		c := WorkspaceCoverage{WorkspaceRef: w.ref, Objects: w.objects, Coverage: CoverageFull, Metastore: msOf[w]}
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
			for _, k := range append(ObjectKinds(), KindWorkspaceFile, KindMetastore, KindWorkspaceAccess, KindIdentity) {
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
	r.Metastores = []MetastoreCoverage{}
	for _, ms := range a.ms {
		ref := ms.ref
		c := MetastoreCoverage{MetastoreRef: ref, Owner: ms.owner, Region: ms.region, ReadThrough: ms.reader.ref,
			Coverage: CoverageFull, Objects: ms.objects, GrantsRead: ms.grants, GrantReads: ms.grantReads,
			IsolatedCatalogs: ms.isolated}
		for _, f := range ms.findings {
			if _, ok := idents[f.Identity]; ok {
				c.Findings++
			}
		}
		switch {
		case ms.failed != nil:
			c.Coverage, c.Reason = CoverageNone, ms.failed.Error()
			findings = append(findings, Finding{Metastore: &ref, Kind: KindMetastore, ObjectID: ms.id, ObjectName: ref.Name,
				Severity: SeverityNotCovered, Reason: "not covered: " + ms.failed.Error()})
		default:
			for _, k := range MetastoreKinds() {
				err, ok := ms.gaps[k]
				if !ok {
					continue
				}
				c.NotCovered = append(c.NotCovered, KindGap{Kind: k, Error: err.Error()})
				findings = append(findings, Finding{Metastore: &ref, Kind: k, Severity: SeverityNotCovered,
					Reason: "not covered: " + err.Error()})
			}
			if len(ms.gaps) > 0 {
				c.Coverage = CoveragePartial
			}
		}
		r.Metastores = append(r.Metastores, c)
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
// ids seen in objects, resolved against the lists of every principal (see
// identitiesOfEveryone), which are also returned.
func (a *auditor) identities(ctx context.Context, findings []Finding) (map[string]Identity, []Identity, error) {
	out := map[string]Identity{}
	if a.all == nil {
		for _, t := range a.targets.list {
			out[t.key] = t.ident
		}
		return out, nil, nil
	}
	return a.identitiesOfEveryone(ctx)
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
