package audit

import (
	"fmt"
	"strings"
	"time"
)

// The severity rules. Each rule is a pure function of an object's facts and
// the identity's relations to it; rate combines them and keeps the worst.

// recentUse is how recent a token's last use must be for its loss to count
// as breaking something.
const recentUse = 30 * 24 * time.Hour

// verdict is a severity and its one-line reason.
type verdict struct {
	sev    Severity
	reason string
}

// worst returns the most severe verdict; the first one wins ties.
func worst(vs ...verdict) verdict {
	best := vs[0]
	for _, v := range vs[1:] {
		if v.sev > best.sev {
			best = v
		}
	}
	return best
}

// day formats a time as a date for reasons.
func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// tokenFacts are what the token-management list says about a token.
type tokenFacts struct {
	Created  time.Time
	Expiry   time.Time // zero: no expiry
	LastUsed time.Time // zero: never used
}

// rateToken: a token used in the last 30 days and not expired breaks; any
// other token is info. A token with no expiry is flagged "no-expiry".
func rateToken(now time.Time, t tokenFacts) (verdict, []string) {
	var flags []string
	if t.Expiry.IsZero() {
		flags = append(flags, "no-expiry")
	}
	switch {
	case !t.Expiry.IsZero() && !t.Expiry.After(now):
		return verdict{SeverityInfo, "token expired on " + day(t.Expiry)}, flags
	case t.LastUsed.IsZero():
		return verdict{SeverityInfo, "token never used"}, flags
	case now.Sub(t.LastUsed) <= recentUse:
		return verdict{SeverityBreaks, "token used on " + day(t.LastUsed) + ", within the last 30 days, stops working"}, flags
	default:
		return verdict{SeverityInfo, "token last used on " + day(t.LastUsed) + ", over 30 days ago"}, flags
	}
}

// runAs says whether an object runs with the audited identity's credentials.
type runAs int

const (
	runAsOther    runAs = iota // runs as someone else (RunAsName says who)
	runAsIdentity              // runs as the identity
	runAsAssumed               // run-as unknown; assumed to be the identity (its creator or owner)
)

// jobFacts are what jobs/list (and, when needed, permissions or jobs/get)
// say about a job.
type jobFacts struct {
	// Trigger is "schedule", "continuous", "file_arrival", "table_update",
	// "periodic" or "" for a job that only runs on demand.
	Trigger   string
	Paused    bool
	RunAs     runAs
	RunAsName string // who the job runs as, when known
}

// rateJob: an unpaused scheduled or triggered job that runs as the identity
// breaks; every other job is info.
func rateJob(j jobFacts) verdict {
	if j.RunAs == runAsOther {
		who := j.RunAsName
		if who == "" {
			who = "another principal"
		}
		return verdict{SeverityInfo, "job runs as " + who}
	}
	assumed := ""
	if j.RunAs == runAsAssumed {
		assumed = " (run-as unknown, assumed)"
	}
	switch {
	case j.Trigger == "":
		return verdict{SeverityInfo, "job runs as the identity" + assumed + " but has no schedule or trigger"}
	case j.Paused:
		return verdict{SeverityInfo, "job runs as the identity" + assumed + " but its " + triggerName(j.Trigger) + " is paused"}
	case j.Trigger == "continuous":
		return verdict{SeverityBreaks, "continuous job runs as the identity" + assumed + "; its runs fail"}
	default:
		return verdict{SeverityBreaks, "job runs as the identity" + assumed + " on an unpaused " + triggerName(j.Trigger) + "; its runs fail"}
	}
}

func triggerName(t string) string {
	switch t {
	case "schedule":
		return t
	case "continuous":
		return "continuous run"
	default:
		return strings.ReplaceAll(t, "_", " ") + " trigger"
	}
}

// clusterFacts are what clusters/list says about a cluster.
type clusterFacts struct {
	State  string // RUNNING, TERMINATED, ...
	Source string // UI, API, JOB, PIPELINE, ...
	Pinned bool
}

// jobCluster reports whether a cluster source means a job or pipeline
// cluster, which lives and dies with its run.
func jobCluster(source string) bool {
	switch source {
	case "JOB", "PIPELINE", "PIPELINE_MAINTENANCE":
		return true
	}
	return false
}

// clusterRunning reports whether a cluster state means it is up or coming
// up.
func clusterRunning(state string) bool {
	switch state {
	case "RUNNING", "PENDING", "RESIZING", "RESTARTING":
		return true
	}
	return false
}

// rateCluster: a running interactive cluster the identity created or that
// is dedicated to it stops; a job or pipeline cluster ends with its run (its
// job or pipeline carries the finding); anything else is info.
func rateCluster(c clusterFacts, dedicated bool) verdict {
	switch {
	case clusterRunning(c.State) && jobCluster(c.Source):
		return verdict{SeverityInfo, fmt.Sprintf("%s cluster, ends with its run", strings.ToLower(c.Source))}
	case clusterRunning(c.State) && dedicated:
		return verdict{SeverityStops, "running cluster dedicated to the identity stops"}
	case clusterRunning(c.State):
		return verdict{SeverityStops, "running cluster created by the identity stops"}
	case dedicated:
		return verdict{SeverityInfo, "cluster dedicated to the identity (" + strings.ToLower(c.State) + "); nobody else can use it"}
	default:
		return verdict{SeverityInfo, "cluster is " + strings.ToLower(c.State)}
	}
}

// pipelineFacts are what the pipelines list says about a pipeline.
type pipelineFacts struct {
	State     string // IDLE, RUNNING, ...
	RunAs     runAs
	RunAsName string
	// ActiveJobs are the jobs with an unpaused schedule or trigger (or
	// continuous) whose tasks update the pipeline.
	ActiveJobs []string
}

func pipelineRunning(state string) bool {
	switch state {
	case "RUNNING", "STARTING", "DEPLOYING", "RECOVERING", "RESETTING", "WAITING_FOR_RESOURCES", "INITIALIZING", "SETTING_UP_TABLES":
		return true
	}
	return false
}

// ratePipeline: a pipeline that runs as the identity and that an active
// job updates breaks (a pipeline update runs as the pipeline's run-as
// identity, whoever starts it: SDK v0.175.0 pipelines PipelineStateInfo
// "The username that the pipeline runs as ... derived from the pipeline
// owner", RunAs); a running one stops; any other pipeline is info.
func ratePipeline(p pipelineFacts) verdict {
	if p.RunAs == runAsOther {
		who := p.RunAsName
		if who == "" {
			who = "another principal"
		}
		return verdict{SeverityInfo, "pipeline runs as " + who}
	}
	if len(p.ActiveJobs) > 0 {
		jobs := "job " + strings.Join(quoteAll(p.ActiveJobs), ", ") + " updates"
		if len(p.ActiveJobs) > 1 {
			jobs = "jobs " + strings.Join(quoteAll(p.ActiveJobs), ", ") + " update"
		}
		return verdict{SeverityBreaks, "pipeline runs as the identity and " + jobs + " it on an unpaused schedule or trigger; its updates fail"}
	}
	if pipelineRunning(p.State) {
		return verdict{SeverityStops, "running pipeline runs as the identity; it stops"}
	}
	return verdict{SeverityInfo, "pipeline runs as the identity; it is " + strings.ToLower(p.State)}
}

// rateQuery: a query the identity owns that runs as its owner breaks
// (everyone's runs use the owner's credentials); a query that runs as the
// viewer is info.
func rateQuery(owns bool, runAsMode string) verdict {
	if owns && strings.EqualFold(runAsMode, "OWNER") {
		return verdict{SeverityBreaks, "query runs as its owner; every run fails"}
	}
	if owns {
		return verdict{SeverityInfo, "query runs as the viewer"}
	}
	return verdict{SeverityInfo, "query related to the identity"}
}

// rateAlert: an alert evaluated with the identity's credentials breaks;
// other alerts are info.
func rateAlert(a runAs, runAsName string) verdict {
	if a == runAsOther {
		if runAsName == "" {
			runAsName = "another principal"
		}
		return verdict{SeverityInfo, "alert runs as " + runAsName}
	}
	return verdict{SeverityBreaks, "alert is evaluated as the identity; its evaluations fail"}
}

// rateAlertV2: a v2 alert evaluated as the identity on an unpaused schedule
// breaks; a paused one, or one evaluated as someone else, is info.
func rateAlertV2(a runAs, runAsName string, paused bool) verdict {
	switch {
	case a == runAsOther:
		if runAsName == "" {
			runAsName = "another principal"
		}
		return verdict{SeverityInfo, "alert runs as " + runAsName}
	case paused:
		return verdict{SeverityInfo, "alert runs as the identity but its schedule is paused"}
	}
	return verdict{SeverityBreaks, "alert runs as the identity on an unpaused schedule; its evaluations fail"}
}

// trashed reports whether a lifecycle_state means the object is in the
// trash: nothing runs or evaluates it until someone restores it (alerts v2
// report a trashed alert as DELETED).
func trashed(state string) bool {
	return strings.EqualFold(state, "TRASHED") || strings.EqualFold(state, "DELETED")
}

// rateTrashed: a trashed query or alert runs no more, so losing its owner
// breaks nothing (it is still info: it can be restored within 30 days).
func rateTrashed(k Kind) verdict {
	return verdict{SeverityInfo, strings.ReplaceAll(string(k), "-", " ") + " is in the trash; nothing runs it"}
}

// rateSoleManager is the verdict for an object no remaining principal can
// manage.
func rateSoleManager() verdict {
	return verdict{SeverityOrphaned, "no other principal can manage it"}
}

// rateSolePath is the verdict for a member who loses access to a workspace.
func rateSolePath(groups []string) verdict {
	return verdict{SeverityBreaks, "loses access to the workspace: " + joinNames(groups) + " is its only path in"}
}

// rateInfo is the default verdict for a related object: "job created and
// owned by the identity".
func rateInfo(k Kind, rels []Relation) verdict {
	var parts []string
	for _, r := range rels {
		switch r {
		case RelCreated:
			parts = append(parts, "created")
		case RelOwns:
			parts = append(parts, "owned")
		case RelRunsAs:
			parts = append(parts, "run as")
		case RelDedicated:
			parts = append(parts, "dedicated to")
		}
	}
	if len(parts) == 0 {
		return verdict{SeverityInfo, strings.ReplaceAll(string(k), "-", " ") + " related to the identity"}
	}
	var verb string
	switch len(parts) {
	case 1:
		verb = parts[0]
	default:
		verb = strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	if strings.HasSuffix(verb, " to") || strings.HasSuffix(verb, " as") {
		return verdict{SeverityInfo, strings.ReplaceAll(string(k), "-", " ") + " " + verb + " the identity"}
	}
	return verdict{SeverityInfo, strings.ReplaceAll(string(k), "-", " ") + " " + verb + " by the identity"}
}

// joinNames formats group names for a reason: "group a", "groups a, b".
func joinNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return "group " + q[0]
	}
	return "groups " + strings.Join(q, ", ")
}

// quoteAll quotes each name.
func quoteAll(names []string) []string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return q
}
