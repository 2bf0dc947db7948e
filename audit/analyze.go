package audit

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// matcher maps principal references found in objects to the keys of
// audited identities. Implementations are safe for concurrent use.
type matcher interface {
	// match returns the keys of the audited identities that ref names in
	// workspace ws; nil if it names none.
	match(ref pref, ws int64) []string
	// goesWith reports whether the principal ref names is removed together
	// with the audited identity key: sole-manager checks count a manager
	// as remaining only if it is not.
	goesWith(key string, ref pref, ws int64) bool
}

// typeCompatible reports whether a reference of type ref may name an
// identity of type t ("" is unknown and matches anything).
func typeCompatible(ref, t PrincipalType) bool { return ref == "" || t == "" || ref == t }

// allMatcher audits every principal objects refer to (--all). Each identity
// is judged alone: sole-manager means no other principal can manage. Keys
// are "n:<name>" (normalised) or "i:<id>" for references that carry only
// an id; seen records them, and the workspaces they were seen in, for
// resolution after the scan.
type allMatcher struct {
	mu   sync.Mutex
	seen map[string]pref
	ws   map[string]map[int64]bool
}

func newAllMatcher() *allMatcher {
	return &allMatcher{seen: map[string]pref{}, ws: map[string]map[int64]bool{}}
}

func refKey(r pref) string {
	if r.name != "" && r.ptype == PrincipalGroup {
		return "g:" + r.name // group names are exact
	}
	if r.name != "" {
		return "n:" + normName(r.name)
	}
	if r.id != 0 {
		return "i:" + strconv.FormatInt(r.id, 10)
	}
	return ""
}

func (m *allMatcher) match(r pref, ws int64) []string {
	k := refKey(r)
	if k == "" {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ws[k] == nil {
		m.ws[k] = map[int64]bool{}
	}
	m.ws[k][ws] = true
	old, ok := m.seen[k]
	switch {
	case !ok:
		m.seen[k] = r
	case old.ptype == "" && r.ptype != "":
		old.ptype = r.ptype
		if old.id == 0 {
			old.id = r.id
		}
		m.seen[k] = old
	case old.id == 0 && r.id != 0:
		old.id = r.id
		m.seen[k] = old
	}
	return []string{k}
}

// seenIn reports whether key was seen in workspace ws.
func (m *allMatcher) seenIn(key string, ws int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ws[key][ws]
}

func (m *allMatcher) goesWith(key string, r pref, _ int64) bool { return refKey(r) == key }

// refs returns a copy of the references seen so far.
func (m *allMatcher) refs() map[string]pref {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]pref, len(m.seen))
	for k, v := range m.seen {
		out[k] = v
	}
	return out
}

// target is an audited identity and how objects may refer to it.
type target struct {
	ident Identity
	key   string
	ids   []int64 // numeric SCIM ids (tokens refer to owners by id)
	ws    int64   // 0: every workspace; else only this one (a local principal)
}

// targetSet audits named identities (and --inactive). They go together:
// sole-manager means no principal outside the set can manage. It is
// read-only once built, so safe for concurrent use.
type targetSet struct {
	list   []*target
	byName map[string][]*target
	byID   map[int64][]*target
}

func newTargetSet() *targetSet {
	return &targetSet{byName: map[string][]*target{}, byID: map[int64][]*target{}}
}

// add registers t, merging it into an existing target with the same key
// and scope.
func (s *targetSet) add(t *target) *target {
	for _, o := range s.byName[normName(t.ident.Name)] {
		if o.key == t.key && o.ws == t.ws {
			for _, id := range t.ids {
				if !slices.Contains(o.ids, id) {
					o.ids = append(o.ids, id)
					s.byID[id] = append(s.byID[id], o)
				}
			}
			o.ident.Named = o.ident.Named || t.ident.Named
			for _, v := range t.ident.Via {
				if !slices.Contains(o.ident.Via, v) {
					o.ident.Via = append(o.ident.Via, v)
				}
			}
			slices.Sort(o.ident.Via) // workspaces answer in any order
			return o
		}
	}
	s.list = append(s.list, t)
	n := normName(t.ident.Name)
	s.byName[n] = append(s.byName[n], t)
	for _, id := range t.ids {
		s.byID[id] = append(s.byID[id], t)
	}
	return t
}

func (s *targetSet) match(r pref, ws int64) []string {
	var out []string
	consider := func(ts []*target, byName bool) {
		for _, t := range ts {
			// A group name matches only exactly: "ops", "Ops" and "ops "
			// are different groups.
			if byName && t.ident.Type == PrincipalGroup && t.ident.Name != r.name {
				continue
			}
			if (t.ws == 0 || t.ws == ws) && typeCompatible(r.ptype, t.ident.Type) && !slices.Contains(out, t.key) {
				out = append(out, t.key)
			}
		}
	}
	if r.name != "" {
		consider(s.byName[normName(r.name)], true)
	}
	if r.id != 0 {
		consider(s.byID[r.id], false)
	}
	return out
}

// sortBy puts the targets in a fixed order: named ones first, then by
// type, name and the position of their workspace (order; 0: the
// account), and rebuilds the indexes in that order.
func (s *targetSet) sortBy(order map[int64]int) {
	slices.SortStableFunc(s.list, func(a, b *target) int {
		if a.ident.Named != b.ident.Named {
			if a.ident.Named {
				return -1
			}
			return 1
		}
		return cmp.Or(strings.Compare(string(a.ident.Type), string(b.ident.Type)),
			strings.Compare(a.ident.Name, b.ident.Name), cmp.Compare(order[a.ws], order[b.ws]))
	})
	s.byName, s.byID = map[string][]*target{}, map[int64][]*target{}
	for _, t := range s.list {
		n := normName(t.ident.Name)
		s.byName[n] = append(s.byName[n], t)
		for _, id := range t.ids {
			s.byID[id] = append(s.byID[id], t)
		}
	}
}

func (s *targetSet) goesWith(_ string, r pref, ws int64) bool { return len(s.match(r, ws)) > 0 }

// relset collects one identity's relations to one object.
type relset struct {
	key  string
	name string // a name as written in the object, for labels
	rels []Relation
}

func (r *relset) has(x Relation) bool { return slices.Contains(r.rels, x) }

// needsACL reports whether the object's access control list is worth
// reading under scope (see PermissionScope).
func needsACL(o *object, scope PermissionScope, m matcher, ws int64) bool {
	if o.permType == "" {
		return false
	}
	switch scope {
	case PermissionsNone:
		return false
	case PermissionsAll:
		return true
	case PermissionsOwners:
		if ownerInACL(o.kind) {
			return true
		}
	}
	// A secret scope's ACL is all there is to know about it; an
	// experiment's owner tag is optional, its ACL is not; the ACL of a
	// dashboard, query or alert tells whether it is stored in a home
	// folder (storedHome).
	return o.kind == KindDashboard || o.kind == KindQuery || o.kind == KindAlert || o.kind == KindSecretScope || o.kind == KindExperiment || o.creatorGone || related(o, m, ws)
}

// ownerInACL reports whether only the ACL tells who owns objects of kind
// k: IS_OWNER of jobs, pipelines and warehouses can be transferred, and
// Lakeview dashboards have no owner field.
func ownerInACL(k Kind) bool {
	switch k {
	case KindJob, KindPipeline, KindWarehouse, KindDashboard, KindExperiment, KindSecretScope:
		return true
	}
	return false
}

// related reports whether a list field of o names an audited identity.
func related(o *object, m matcher, ws int64) bool {
	for _, r := range o.refs {
		if len(m.match(r.who, ws)) > 0 {
			return true
		}
	}
	return false
}

// needsJobGet reports whether a job's effective run-as identity must come
// from jobs/get: it matters (the job names an audited identity, or its
// creator was deleted) and neither the list (explicit run_as) nor the ACL
// (the owner, whom a job runs as by default) tells it.
func needsJobGet(o *object, m matcher, ws int64) bool {
	if o.kind != KindJob || o.job.Settings.RunAs.Name() != "" {
		return false
	}
	if _, owners := managers(o.acl); len(owners) > 0 {
		return false
	}
	return o.creatorGone || related(o, m, ws)
}

// effectiveRunAs returns who a job or pipeline runs as, and whether that is
// known: the explicit run-as, else jobs/get's run_as_user_name, else the
// owner from the ACL (Databricks runs a job as its owner by default).
func (o *object) effectiveRunAs() (pref, bool) {
	_, owners := managers(o.acl)
	switch o.kind {
	case KindJob:
		if ra := o.job.Settings.RunAs; ra.Name() != "" {
			return runAsRef(ra), true
		}
		if o.jobRunAs != "" {
			return pref{name: o.jobRunAs}, true
		}
	case KindPipeline:
		if o.pipeline.RunAsUserName != "" {
			return pref{name: o.pipeline.RunAsUserName}, true
		}
	default:
		return pref{}, false
	}
	if len(owners) > 0 {
		return owners[0], true
	}
	return pref{}, false
}

// analyze turns one workspace's objects into findings for the identities m
// audits. Findings carry the identity key in Identity; the caller maps keys
// to identities. now is the clock for token recency.
func analyze(ws WorkspaceRef, objs []*object, m matcher, now time.Time) []Finding {
	markPipelineJobs(objs)
	var out []Finding
	for _, o := range objs {
		out = append(out, analyzeObject(ws, o, m, now)...)
	}
	return out
}

// markPipelineJobs records on each pipeline of objs the jobs with an
// unpaused schedule or trigger (or continuous) that have a task updating
// it.
func markPipelineJobs(objs []*object) {
	byID := map[string]*object{}
	for _, o := range objs {
		if o.kind == KindPipeline {
			o.activeJobs = nil
			byID[o.id] = o
		}
	}
	for _, o := range objs {
		if o.kind != KindJob {
			continue
		}
		if trigger, paused, _ := jobTrigger(o.job.Settings); trigger == "" || paused {
			continue
		}
		for _, t := range o.job.Settings.Tasks {
			if t.PipelineTask == nil {
				continue
			}
			if p := byID[t.PipelineTask.PipelineID]; p != nil && !slices.Contains(p.activeJobs, o.name) {
				p.activeJobs = append(p.activeJobs, o.name)
			}
		}
	}
}

func analyzeObject(ws WorkspaceRef, o *object, m matcher, now time.Time) []Finding {
	var sets []*relset
	add := func(r pref, rel Relation) {
		for _, k := range m.match(r, ws.ID) {
			i := slices.IndexFunc(sets, func(s *relset) bool { return s.key == k })
			if i < 0 {
				sets = append(sets, &relset{key: k, name: r.name})
				i = len(sets) - 1
			}
			s := sets[i]
			if s.name == "" {
				s.name = r.name
			}
			if !s.has(rel) {
				s.rels = append(s.rels, rel)
			}
		}
	}
	for _, r := range o.refs {
		add(r.who, r.rel)
	}
	mgrs, owners := o.managers()
	for _, p := range owners {
		add(p, RelOwns)
	}
	if o.kind == KindDashboard {
		// Lakeview dashboards have no owner field: whoever can manage one
		// owns it.
		for _, p := range mgrs {
			add(p, RelOwns)
		}
	}
	runAs, runAsKnown := o.effectiveRunAs()
	if runAsKnown && (o.kind == KindJob || o.kind == KindPipeline) {
		add(runAs, RelRunsAs)
	}
	// Sole manager: an audited identity among the managers, once every
	// principal removed with it is gone, leaves no manager. Job and
	// pipeline clusters are managed through their job or pipeline.
	if o.kind == KindCluster && jobCluster(o.cluster.ClusterSource) {
		mgrs = nil
	}
	for _, p := range mgrs {
		for _, k := range m.match(p, ws.ID) {
			remaining := 0
			for _, q := range mgrs {
				if !m.goesWith(k, q, ws.ID) {
					remaining++
				}
			}
			if remaining == 0 {
				add(p, RelSoleManager)
			}
		}
	}
	out := make([]Finding, 0, len(sets))
	for _, s := range sets {
		f := Finding{
			Identity:     s.key,
			IdentityName: s.name,
			Workspace:    ws,
			Kind:         o.kind,
			ObjectID:     o.id,
			ObjectName:   o.name,
			URL:          o.url,
			Details:      slices.Clone(o.details),
		}
		for _, r := range s.rels {
			f.addRelation(r)
		}
		v, flags := rate(o, s, runAs, runAsKnown, len(mgrs), now)
		f.Severity, f.Reason, f.Flags = v.sev, v.reason, flags
		out = append(out, f)
	}
	return out
}

// alertV2RunAs returns whom a v2 alert runs as (its run_as detail).
func alertV2RunAs(o *object) string {
	for _, r := range o.refs {
		if r.rel == RelRunsAs {
			return r.who.name
		}
	}
	return ""
}

// rate applies the severity rules to one identity's relations to o.
func rate(o *object, s *relset, eff pref, effKnown bool, managerCount int, now time.Time) (verdict, []string) {
	vs := []verdict{rateInfo(o.kind, s.rels)}
	var flags []string
	tie := s.has(RelCreated) || s.has(RelOwns) || s.has(RelRunsAs) || s.has(RelDedicated)
	runAsFor := func() (runAs, string) {
		switch {
		case s.has(RelRunsAs):
			return runAsIdentity, ""
		case effKnown:
			return runAsOther, eff.name
		case s.has(RelCreated) || s.has(RelOwns):
			return runAsAssumed, ""
		}
		return runAsOther, ""
	}
	switch {
	case o.kind == KindToken:
		v, fl := rateToken(now, tokenFacts{
			Created:  epochMillis(o.token.CreationTime),
			Expiry:   epochMillis(o.token.ExpiryTime),
			LastUsed: epochMillis(o.token.LastUsedDay),
		})
		flags = fl
		if s.has(RelOwns) {
			vs = append(vs, v)
		} else {
			vs[0] = verdict{SeverityInfo, "token created on behalf of another principal; it keeps working"}
		}
	case o.kind == KindJob && tie:
		trigger, paused, _ := jobTrigger(o.job.Settings)
		ra, name := runAsFor()
		vs = append(vs, rateJob(jobFacts{Trigger: trigger, Paused: paused, RunAs: ra, RunAsName: name}))
	case o.kind == KindCluster && (s.has(RelCreated) || s.has(RelDedicated)):
		vs = append(vs, rateCluster(clusterFacts{State: o.cluster.State, Source: o.cluster.ClusterSource, Pinned: o.cluster.Pinned}, s.has(RelDedicated)))
	case o.kind == KindPipeline && tie:
		ra, name := runAsFor()
		vs = append(vs, ratePipeline(pipelineFacts{State: o.pipeline.State, RunAs: ra, RunAsName: name, ActiveJobs: o.activeJobs}))
	case o.kind == KindQuery && s.has(RelOwns):
		if trashed(o.query.LifecycleState) {
			vs = append(vs, rateTrashed(o.kind))
			break
		}
		vs = append(vs, rateQuery(true, o.query.RunAsMode))
	case o.kind == KindAlert && (s.has(RelOwns) || s.has(RelRunsAs)):
		switch {
		case trashed(o.alert.LifecycleState):
			vs = append(vs, rateTrashed(o.kind))
		case s.has(RelRunsAs):
			vs = append(vs, rateAlert(runAsIdentity, ""))
		default:
			vs = append(vs, rateAlert(runAsOther, o.alert.RunAsName()))
		}
	case o.kind == KindAlertV2 && (s.has(RelOwns) || s.has(RelRunsAs)):
		switch {
		case trashed(o.alert.LifecycleState):
			vs = append(vs, rateTrashed(o.kind))
		case s.has(RelRunsAs):
			vs = append(vs, rateAlertV2(runAsIdentity, "", alertV2Paused(*o.alert)))
		default:
			vs = append(vs, rateAlertV2(runAsOther, alertV2RunAs(o), false))
		}
	}
	if o.kind == KindHomeFolder && s.has(RelOwns) {
		vs[0] = verdict{SeverityInfo, "home folder of the identity; Databricks may remove the objects in it with the identity (those other identities use are listed as workspace-file)"}
	}
	if o.kind == KindClusterPolicy {
		vs[0] = verdict{SeverityInfo, "cluster policy created by the identity; only workspace admins manage policies, so nothing is lost"}
	}
	if s.has(RelSoleManager) {
		v := rateSoleManager()
		if managerCount > 1 {
			v.reason = "no manager remains once the audited identities are gone"
		}
		vs = append(vs, v)
	}
	// The most severe verdict wins; on a tie the later, more specific rule
	// beats the generic line.
	best := vs[0]
	for _, v := range vs[1:] {
		if v.sev >= best.sev {
			best = v
		}
	}
	return best, flags
}
