package handover

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dbiam/dbiam/journal"
)

// PlanVersion is the version of the plan file format.
const PlanVersion = 1

// Principal types.
const (
	TypeUser             = "user"
	TypeServicePrincipal = "service-principal"
	TypeGroup            = "group"
)

// Principal names a user (by user name), a service principal (by
// application id) or a group (by display name), byte-exact.
type Principal struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// String returns "type:name", the name quoted when it has edge spaces or
// characters a reader could misread.
func (p Principal) String() string {
	if p.Name == "" {
		return ""
	}
	name := p.Name
	if needsQuote(name) {
		name = fmtQuote(name)
	}
	return p.Type + ":" + name
}

// Is reports whether p and q name the same principal: the same type and
// the same name, compared as Databricks compares names (case-insensitively).
func (p Principal) Is(q Principal) bool {
	return p.Type == q.Type && strings.EqualFold(p.Name, q.Name)
}

// Object kinds a plan hands over (the --kinds values).
const (
	KindJob             = "job"
	KindPipeline        = "pipeline"
	KindCluster         = "cluster"
	KindWarehouse       = "warehouse"
	KindQuery           = "query"
	KindAlert           = "alert"
	KindAlertV2         = "alert-v2"
	KindLegacyDashboard = "legacy-dashboard"
	KindDashboard       = "dashboard"
	KindServingEndpoint = "serving-endpoint"
	KindApp             = "app"
	KindToken           = "token"
	KindIdentity        = "identity"
)

// Kinds returns every object kind in plan order: workspace objects, Unity
// Catalog and Delta Sharing securables, tokens.
func Kinds() []string {
	out := []string{KindJob, KindPipeline, KindCluster, KindWarehouse, KindQuery, KindAlert, KindAlertV2,
		KindLegacyDashboard, KindDashboard, KindServingEndpoint, KindApp}
	out = append(out, managedKinds...)
	for _, k := range ucKinds {
		out = append(out, k.kind)
	}
	return append(out, KindToken)
}

// Actions of a change.
const (
	// ActionOwner makes the successor the object's owner: IS_OWNER (jobs,
	// pipelines, warehouses), change-owner (clusters), owner_user_name
	// (queries, alerts, v2 alerts) or the transfer endpoint (legacy
	// dashboards).
	ActionOwner = "owner"
	// ActionRunAs makes the successor the identity a job, pipeline or v2
	// alert runs as.
	ActionRunAs = "run-as"
	// ActionSingleUser makes the successor a dedicated cluster's user.
	ActionSingleUser = "single-user"
	// ActionManage grants the successor CAN_MANAGE where the leaver is the
	// only manager (Lakeview dashboards, serving endpoints, apps).
	ActionManage = "manage"
	// ActionRevoke deletes a token (irreversible).
	ActionRevoke = "revoke"
	// ActionDeactivate sets an identity inactive at account level.
	ActionDeactivate = "deactivate"
	// ActionUnassign removes an identity's direct assignment to a workspace.
	ActionUnassign = "unassign"
)

// Phases of apply, in order.
const (
	PhaseObjects    = 1 // hand objects over
	PhaseDeactivate = 2 // deactivate identities and remove their direct workspace assignments
	PhaseTokens     = 3 // revoke tokens: last, irreversible
)

// Plan is a handover plan file: what each leaving identity owns, runs as
// or alone manages, and the change that hands each to its successor.
type Plan struct {
	PlanVersion int       `json:"plan_version"`
	ToolVersion string    `json:"tool_version"`
	CreatedAt   time.Time `json:"created_at"`
	// Lineage is a random id of this plan.
	Lineage string `json:"lineage"`
	// Digest is the integrity digest, "sha256:<hex>" over the content
	// ([PlanDigest]); reading a plan whose content no longer matches it
	// fails.
	Digest    string `json:"digest"`
	Host      string `json:"host"`
	AccountID string `json:"account_id"`
	// Caller is the user or service principal that made the plan (its
	// rights were checked, e.g. the Service Principal User role).
	Caller     Principal       `json:"caller"`
	Settings   Settings        `json:"settings"`
	Identities []Identity      `json:"identities"`
	Workspaces []WorkspacePlan `json:"workspaces"`
	Changes    []Change        `json:"changes"`
	// Conflicts block apply: a successor that cannot take an object.
	Conflicts []Conflict `json:"conflicts"`
	// LeftAsIs lists objects tied to a leaving identity that the plan does
	// not change, with why (a running cluster without --restart-clusters,
	// a job cluster, a token without --revoke-tokens, ...).
	LeftAsIs []Note `json:"left_as_is"`
}

// Settings are the options the plan was made with.
type Settings struct {
	Kinds           []string `json:"kinds"`
	RevokeTokens    bool     `json:"revoke_tokens"`
	Deactivate      bool     `json:"deactivate"`
	RestartClusters bool     `json:"restart_clusters"`
	Workspaces      []string `json:"workspaces,omitempty"`
}

// Identity is a leaving identity.
type Identity struct {
	Principal
	// AccountID is its account SCIM id ("" when it exists only in
	// workspaces).
	AccountID   string `json:"account_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Active      bool   `json:"active"`
	// Assignments are its direct workspace assignments (account level).
	Assignments []Assignment `json:"assignments,omitempty"`
}

// Assignment is a direct workspace assignment.
type Assignment struct {
	WorkspaceID int64    `json:"workspace_id"`
	Permissions []string `json:"permissions"`
}

// WorkspacePlan is a workspace the plan read.
type WorkspacePlan struct {
	WorkspaceID   int64  `json:"workspace_id"`
	WorkspaceName string `json:"workspace_name"`
	URL           string `json:"url,omitempty"`
	Federated     bool   `json:"identity_federated"`
	// NotRead lists the kinds that could not be read, "kind: error".
	NotRead []string `json:"not_read,omitempty"`
}

// Change is one write that removes a dependency on a leaving identity.
type Change struct {
	// ID is stable across runs: "<workspace id>/<kind>/<object id>/<action>"
	// (identity changes: "account/identity/<identity>/<action>[/<ws>]").
	ID          string `json:"id"`
	Identity    string `json:"identity"`
	WorkspaceID int64  `json:"workspace_id,omitempty"`
	Workspace   string `json:"workspace,omitempty"`
	Kind        string `json:"kind"`
	ObjectID    string `json:"object_id"`
	ObjectName  string `json:"object_name,omitempty"`
	Action      string `json:"action"`
	// From is the value the plan read (the leaving identity, or for manage
	// the leaving identity as the only manager); apply skips a change
	// whose object no longer has it.
	From Principal `json:"from"`
	// To is the successor.
	To Principal `json:"to"`
	// State is the object's state when read (clusters: RUNNING, ...).
	State string `json:"state,omitempty"`
	// Restart is set when the change restarts a running cluster.
	Restart bool `json:"restart,omitempty"`
	// Irreversible is set for token revocations.
	Irreversible bool `json:"irreversible,omitempty"`
	Phase        int  `json:"phase"`
	// Permissions are, for unassign, the assignment removed.
	Permissions []string `json:"permissions,omitempty"`
}

// Conflict is a change the plan cannot make as asked. Any conflict blocks
// apply.
type Conflict struct {
	Identity    string    `json:"identity"`
	WorkspaceID int64     `json:"workspace_id,omitempty"`
	Workspace   string    `json:"workspace,omitempty"`
	Kind        string    `json:"kind"`
	ObjectID    string    `json:"object_id,omitempty"`
	ObjectName  string    `json:"object_name,omitempty"`
	Action      string    `json:"action,omitempty"`
	Successor   Principal `json:"successor"`
	Reason      string    `json:"reason"`
	Fix         string    `json:"fix"`
}

// Note is an object tied to a leaving identity that the plan leaves as it
// is, with why.
type Note struct {
	Identity    string `json:"identity"`
	WorkspaceID int64  `json:"workspace_id,omitempty"`
	Workspace   string `json:"workspace,omitempty"`
	Kind        string `json:"kind"`
	ObjectID    string `json:"object_id"`
	ObjectName  string `json:"object_name,omitempty"`
	Reason      string `json:"reason"`
	// Breaks is set when the object stops working once the identity is
	// deactivated.
	Breaks bool `json:"breaks,omitempty"`
}

// ErrPlanVersion is matched (errors.Is) by the error ReadPlan returns for
// a plan written in another format version.
var ErrPlanVersion = errors.New("plan version mismatch")

// ErrPlanEdited is matched (errors.Is) by the error ReadPlan returns for a
// plan whose content does not match its integrity digest.
var ErrPlanEdited = errors.New("plan was changed after it was written")

// PlanDigest returns the integrity digest of p's content: "sha256:" and
// the hex sha256 of p marshalled as compact JSON with Digest empty. It
// guards against edits, not against someone who recomputes it.
func PlanDigest(p *Plan) string {
	c := *p
	c.Digest = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// MarshalPlan sets p's digest and returns the plan file bytes: indented
// JSON with a trailing newline.
func MarshalPlan(p *Plan) ([]byte, error) {
	p.Digest = PlanDigest(p)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadPlan reads and checks the plan file at path: unknown fields, another
// plan_version ([ErrPlanVersion]), a content that does not match its digest
// ([ErrPlanEdited]) and inconsistent changes are refused. It returns the
// plan and its bytes (whose sha256 binds a journal to it).
func ReadPlan(path string) (*Plan, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	p, err := decodePlan(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	return p, raw, nil
}

func decodePlan(raw []byte) (*Plan, error) {
	var probe struct {
		PlanVersion int    `json:"plan_version"`
		ToolVersion string `json:"tool_version"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("not a handover plan (%v); pass the file \"dbiam handover plan --out\" wrote", err)
	}
	if probe.PlanVersion != PlanVersion {
		return nil, fmt.Errorf("%w: plan has version %d (written by dbiam %q), this dbiam reads version %d; run \"dbiam handover plan\" again",
			ErrPlanVersion, probe.PlanVersion, probe.ToolVersion, PlanVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not a valid handover plan (%v); run \"dbiam handover plan\" again", err)
	}
	switch want := PlanDigest(&p); {
	case p.Digest == "":
		return nil, fmt.Errorf("%w: it has no integrity digest; run \"dbiam handover plan\" again", ErrPlanEdited)
	case p.Digest != want:
		return nil, fmt.Errorf("%w: its content does not match its integrity digest %s (it is %s); run \"dbiam handover plan\" again and review the new plan",
			ErrPlanEdited, journal.Short(strings.TrimPrefix(p.Digest, "sha256:")), journal.Short(strings.TrimPrefix(want, "sha256:")))
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w; run \"dbiam handover plan\" again", err)
	}
	return &p, nil
}

// Validate checks what apply relies on: an account id, unique change ids,
// known kinds, actions and phases, successors of the right type, changes
// that name a workspace of the plan, tokens revoked last and only after
// --revoke-tokens, and identities deactivated only with --deactivate.
func (p *Plan) Validate() error {
	if p.AccountID == "" {
		return errors.New("the plan has no account_id")
	}
	ws := map[int64]bool{}
	for _, w := range p.Workspaces {
		ws[w.WorkspaceID] = true
	}
	ids := map[string]bool{}
	for _, c := range p.Changes {
		if c.ID == "" || ids[c.ID] {
			return fmt.Errorf("change %q is empty or listed twice", c.ID)
		}
		ids[c.ID] = true
		if c.WorkspaceID != 0 && !ws[c.WorkspaceID] {
			return fmt.Errorf("change %s names workspace %d, which the plan does not read", c.ID, c.WorkspaceID)
		}
		want := PhaseObjects
		switch c.Action {
		case ActionRevoke:
			want = PhaseTokens
			if !p.Settings.RevokeTokens || !c.Irreversible {
				return fmt.Errorf("change %s revokes a token without --revoke-tokens", c.ID)
			}
		case ActionDeactivate, ActionUnassign:
			want = PhaseDeactivate
			if !p.Settings.Deactivate {
				return fmt.Errorf("change %s deactivates an identity without --deactivate", c.ID)
			}
		case ActionOwner, ActionRunAs, ActionSingleUser, ActionManage:
			if !slices.Contains(Kinds(), c.Kind) {
				return fmt.Errorf("change %s has unknown kind %q", c.ID, c.Kind)
			}
			if e := successorError(c.Kind, c.Action, c.To); e != "" {
				return fmt.Errorf("change %s: %s", c.ID, e)
			}
		default:
			return fmt.Errorf("change %s has unknown action %q", c.ID, c.Action)
		}
		if c.Phase != want {
			return fmt.Errorf("change %s is in phase %d, not %d", c.ID, c.Phase, want)
		}
	}
	return nil
}

// successorError says why principal to cannot take action on an object of
// kind ("" when it can), by the service's rules (docs/handover.md).
func successorError(kind, action string, to Principal) string {
	switch {
	case to.Name == "":
		return "no successor"
	case action == ActionManage || isUC(kind):
		return "" // users, service principals and groups can manage, and own securables
	case to.Type == TypeGroup:
		return "a group cannot own or run " + article(kind)
	case action == ActionOwner && to.Type == TypeServicePrincipal &&
		(kind == KindQuery || kind == KindAlert || kind == KindAlertV2 || kind == KindLegacyDashboard):
		return "a service principal cannot own " + article(kind) + " (only users can)"
	}
	return ""
}

func article(kind string) string {
	switch kind {
	case KindAlert, KindAlertV2, KindApp:
		return "an " + strings.ReplaceAll(kind, "-", " ")
	}
	return "a " + strings.ReplaceAll(kind, "-", " ")
}
