package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/dbiam/dbiam/journal"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// PlanVersion is the version of the plan file format this build writes and
// reads. A plan with any other version is refused by [ReadPlan].
const PlanVersion = 1

// Member kinds used in [Member.Kind] and in members digests.
const (
	KindUser             = "user"
	KindServicePrincipal = "service_principal"
	KindGroup            = "group"
)

// Match strategies ([PlanSettings.Match], --match).
const (
	MatchName       = "name"
	MatchPrefix     = "prefix"
	MatchSuffix     = "suffix"
	MatchRegex      = "regex"
	MatchExternalID = "external-id"
	MatchMapping    = "mapping"
)

// Conflict policies ([PlanSettings.OnConflict], --on-conflict).
const (
	PolicyFail         = "fail"
	PolicyMerge        = "merge"
	PolicyPerWorkspace = "per-workspace"
)

// Conflict kinds ([Conflict.Kind]).
const (
	// ConflictSameName: the same target name comes from local groups in
	// several workspaces (or several local groups) whose members differ.
	ConflictSameName = "same-name-different-members"
	// ConflictExistingDiffers: the target account group exists and its
	// members differ from the local group's.
	ConflictExistingDiffers = "existing-account-group-differs"
	// ConflictTargetTaken: the target name is the name of another
	// workspace-local group in the same workspace, so the account group
	// could not be assigned there while that group keeps its name.
	ConflictTargetTaken = "target-name-taken"
	// ConflictMemberNoIdentity: a direct member has no account identity
	// (or is a nested group that is not migrated).
	ConflictMemberNoIdentity = "member-without-account-identity"
	// ConflictCycle: nested groups form a cycle.
	ConflictCycle = "cycle"
	// ConflictNoMatch: the match strategy gives no target for the group.
	ConflictNoMatch = "no-match"
	// ConflictParentNotMigrated: a migrated local group is a direct member
	// of local groups the plan does not migrate. Never blocking: the group
	// migrates, and finalize keeps its backup group so that those parents
	// keep its members.
	ConflictParentNotMigrated = "parent-not-migrated"
	// ConflictNotRead: with --skip-unreadable, a workspace (Group empty)
	// or the members of its groups could not be read, and the plan leaves
	// it out. Always blocking.
	ConflictNotRead = "not-read"
)

// DefaultBackupPrefix is the prefix of the name a migrated local group is
// renamed to (--backup-prefix).
const DefaultBackupPrefix = "db-temp-"

// Plan is a migration plan: the account groups to ensure, and per
// workspace the local groups to replace by them, with the state they were
// planned from. It is written by [WritePlan] and read by [ReadPlan]; the
// JSON field names are the file format. A Plan is plain data and not safe
// for concurrent mutation.
type Plan struct {
	PlanVersion int       `json:"plan_version"`
	ToolVersion string    `json:"tool_version"`
	CreatedAt   time.Time `json:"created_at"`
	// Lineage is a random id of this plan; journals are bound to it.
	Lineage string `json:"lineage"`
	// Digest is the plan's integrity digest, "sha256:<hex>" over its
	// content ([PlanDigest]); [ReadPlan] refuses a plan whose content no
	// longer matches it (the file was edited after it was written).
	Digest    string       `json:"digest"`
	Host      string       `json:"host"`
	AccountID string       `json:"account_id"`
	Settings  PlanSettings `json:"settings"`
	// AccountGroups is in dependency order: nested (child) groups come
	// before the groups that contain them.
	AccountGroups []AccountGroupPlan `json:"account_groups"`
	Workspaces    []WorkspacePlan    `json:"workspaces"`
	Conflicts     []Conflict         `json:"conflicts"`
	// Warnings are advice that changes nothing in the plan (see Warning).
	Warnings []Warning `json:"warnings,omitempty"`
}

// PlanSettings records the options a plan was made with.
type PlanSettings struct {
	Match   string `json:"match"`
	Prefix  string `json:"prefix,omitempty"`
	Suffix  string `json:"suffix,omitempty"`
	Strip   bool   `json:"strip,omitempty"`
	Regex   string `json:"regex,omitempty"`
	Replace string `json:"replace,omitempty"`
	// MappingFile and MappingSHA256 identify the --mapping CSV.
	MappingFile   string `json:"mapping_file,omitempty"`
	MappingSHA256 string `json:"mapping_sha256,omitempty"`
	OnConflict    string `json:"on_conflict"`
	BackupPrefix  string `json:"backup_prefix"`
	// Selectors as given on the command line.
	Workspaces []string `json:"workspaces,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	GroupRegex []string `json:"group_regex,omitempty"`
	Exclude    []string `json:"exclude,omitempty"`
	// ExcludeRegex holds the --exclude-regex expressions.
	ExcludeRegex []string `json:"exclude_regex,omitempty"`
	// PermissionsRoute is --permissions-route (RouteAPI when empty).
	PermissionsRoute string `json:"permissions_route,omitempty"`
	// ReadWorkspaceTree is --read-workspace-tree: the baselines hold the
	// grants on every directory, notebook and file of the workspace tree.
	ReadWorkspaceTree bool `json:"read_workspace_tree,omitempty"`
}

// AccountGroupPlan is one account group the plan needs: reused when
// ExistingID is set, created otherwise.
type AccountGroupPlan struct {
	// Key is stable within the plan, e.g. "ag:data-eng".
	Key         string `json:"key"`
	DisplayName string `json:"display_name"`
	// ExistingID is the account group to reuse; empty means create it.
	ExistingID string `json:"existing_id,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	// Members are the desired direct members, as account identities. Apply
	// adds the missing ones; it never removes members of a reused group.
	Members []Member `json:"members"`
	// ExistingMembersDigest is the [MembersDigest] of the reused group at
	// plan time (a precondition); empty when the group is created.
	ExistingMembersDigest string `json:"existing_members_digest,omitempty"`
	// Sources are the local groups mapped to this account group.
	Sources []GroupRef `json:"sources"`
}

// Member is a desired member of an account group.
type Member struct {
	Kind string `json:"kind"` // KindUser, KindServicePrincipal or KindGroup
	// AccountID is the account SCIM id when known at plan time (always for
	// users and service principals; for groups only when the child group
	// already exists).
	AccountID     string `json:"account_id,omitempty"`
	UserName      string `json:"user_name,omitempty"`
	ApplicationID string `json:"application_id,omitempty"`
	// GroupKey is the child's AccountGroupPlan.Key for a nested group that
	// the plan migrates.
	GroupKey string `json:"group_key,omitempty"`
	Display  string `json:"display,omitempty"`
}

// GroupRef names a workspace-local group.
type GroupRef struct {
	WorkspaceID int64  `json:"workspace_id"`
	LocalID     string `json:"local_id"`
}

// WorkspacePlan is the plan for one workspace.
type WorkspacePlan struct {
	WorkspaceID   int64  `json:"workspace_id"`
	WorkspaceName string `json:"workspace_name"`
	URL           string `json:"url"`
	Federated     bool   `json:"federated"`
	// Skipped is the reason the whole workspace is skipped, if it is.
	Skipped string `json:"skipped,omitempty"`
	// Groups are in dependency order: children before parents.
	Groups []GroupPlan `json:"groups"`
	// Grants says which of the workspace's grants the plan read for the
	// groups' baselines (GroupPlan.Grants); nil when it read none.
	Grants *WorkspaceGrants `json:"grants,omitempty"`
}

// GroupPlan is the plan for one workspace-local group.
type GroupPlan struct {
	LocalID         string   `json:"local_id"`
	LocalName       string   `json:"local_name"`
	BackupName      string   `json:"backup_name"`
	AccountGroupKey string   `json:"account_group_key"`
	Entitlements    []string `json:"entitlements"`
	Roles           []string `json:"roles"`
	// MembersDigest is the [MembersDigest] of the group's direct members at
	// plan time (the drift check).
	MembersDigest string `json:"members_digest"`
	MemberCount   int    `json:"member_count"`
	// Skipped is the conflict or other reason the group is not migrated.
	Skipped string `json:"skipped,omitempty"`
	// PermissionRoute is how the group's grants reach its account group:
	// RouteAPI (the permission migration API; also when empty) or
	// RouteACLCopy (permroute.go).
	PermissionRoute string `json:"permission_route,omitempty"`
	// Grants is the group's baseline: what it held when the plan was made
	// (nil: none, or not read).
	Grants *GroupGrants `json:"grants,omitempty"`
}

// Conflict is something that stops or changes the migration of a group,
// with what each policy would do about it.
type Conflict struct {
	Kind        string `json:"kind"`
	WorkspaceID int64  `json:"workspace_id,omitempty"`
	Group       string `json:"group"`
	Detail      string `json:"detail"`
	// Policies maps PolicyFail, PolicyMerge and PolicyPerWorkspace to what
	// each would do.
	Policies map[string]string `json:"policies,omitempty"`
	// Blocking means the group is skipped.
	Blocking bool `json:"blocking"`
}

// ErrPlanVersion is matched (errors.Is) by the error [ReadPlan] returns for
// a plan written in another format version.
var ErrPlanVersion = errors.New("plan version mismatch")

// ErrPlanEdited is matched (errors.Is) by the error [ReadPlan] returns for
// a plan whose content does not match its integrity digest, or that has
// none: it was changed after "dbiam migrate plan" wrote it.
var ErrPlanEdited = errors.New("plan was changed after it was written")

// ReadPlan reads and checks the plan file at path. It returns the plan and
// the raw bytes (for a sha256 that binds a journal to the plan). Unknown
// fields are rejected, and so is any plan_version other than PlanVersion,
// with an error matching [ErrPlanVersion] whose text starts with
// "plan version mismatch: ", and so is a plan whose content does not match
// its integrity digest ([ErrPlanEdited]): apply, verify, finalize and
// rollback never act on a plan edited by hand.
func ReadPlan(path string) (*Plan, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	p, err := decodePlan(raw)
	if err != nil {
		if errors.Is(err, ErrPlanVersion) {
			return nil, nil, err // already names the file below
		}
		return nil, nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	return p, raw, nil
}

// decodePlan parses and validates a plan file's bytes.
func decodePlan(raw []byte) (*Plan, error) {
	// The header is read first, so that a plan of another version is
	// refused for its version rather than for a field this build does not
	// know. json.Unmarshal also rejects data after the object.
	var head struct {
		PlanVersion *int   `json:"plan_version"`
		ToolVersion string `json:"tool_version"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("not a plan file: %w", err)
	}
	switch {
	case head.PlanVersion == nil:
		return nil, fmt.Errorf("%w: the file has no plan_version (this dbiam reads version %d); run \"dbiam migrate plan\" again",
			ErrPlanVersion, PlanVersion)
	case *head.PlanVersion != PlanVersion:
		return nil, fmt.Errorf("%w: plan has version %d (generated with dbiam %q), but this dbiam reads version %d; run \"dbiam migrate plan\" again",
			ErrPlanVersion, *head.PlanVersion, head.ToolVersion, PlanVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if p.AccountID == "" {
		// Without it, apply could not refuse a connection to another account.
		return nil, errors.New("the plan has no account_id (every plan is made for one account); re-run \"dbiam migrate plan\"")
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w; re-run \"dbiam migrate plan\"", err)
	}
	switch want := PlanDigest(&p); {
	case p.Digest == "":
		return nil, fmt.Errorf("%w: it has no integrity digest (written by an older dbiam, or edited); re-run \"dbiam migrate plan\"", ErrPlanEdited)
	case p.Digest != want:
		return nil, fmt.Errorf("%w: its content does not match its integrity digest %s (it is %s): the file was edited after \"dbiam migrate plan\" wrote it; re-run \"dbiam migrate plan\" and review the new plan",
			ErrPlanEdited, journal.Short(strings.TrimPrefix(p.Digest, "sha256:")), journal.Short(strings.TrimPrefix(want, "sha256:")))
	}
	return &p, nil
}

// PlanDigest returns the integrity digest of p's content: "sha256:" and
// the hex sha256 of p marshalled as compact JSON with Digest empty. Any
// change to a field (a member's account id, an entitlement, a member added
// or removed) changes it; the layout of the file (spaces, field order) does
// not. It guards against edits, not against someone who recomputes it.
func PlanDigest(p *Plan) string {
	c := *p
	c.Digest = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "" // a Plan always marshals; "" never matches a digest
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Validate checks the plan's internal references: account group keys are
// unique, every group, member and source refers to a known key or
// workspace, and nested members come before their parents.
func (p *Plan) Validate() error {
	keys := make(map[string]int, len(p.AccountGroups))
	for i, ag := range p.AccountGroups {
		if ag.Key == "" {
			return fmt.Errorf("account group %q has no key", ag.DisplayName)
		}
		if _, dup := keys[ag.Key]; dup {
			return fmt.Errorf("account group key %q appears twice", ag.Key)
		}
		if ag.DisplayName == "" {
			return fmt.Errorf("account group %s has no display name", ag.Key)
		}
		for _, m := range ag.Members {
			switch m.Kind {
			case KindUser, KindServicePrincipal:
				if m.AccountID == "" {
					return fmt.Errorf("account group %s: %s member %q has no account id", ag.Key, m.Kind, m.Display)
				}
			case KindGroup:
				if m.GroupKey == "" && m.AccountID == "" {
					return fmt.Errorf("account group %s: group member %q has neither group_key nor account_id", ag.Key, m.Display)
				}
				if m.GroupKey != "" {
					j, ok := keys[m.GroupKey]
					if !ok || j >= i {
						return fmt.Errorf("account group %s: nested group %s is not listed before it", ag.Key, m.GroupKey)
					}
				}
			default:
				return fmt.Errorf("account group %s: member kind %q is not one of user, service_principal, group", ag.Key, m.Kind)
			}
		}
		keys[ag.Key] = i
	}
	wsIDs := make(map[int64]map[string]bool, len(p.Workspaces))
	for _, ws := range p.Workspaces {
		if _, dup := wsIDs[ws.WorkspaceID]; dup {
			return fmt.Errorf("workspace %d appears twice", ws.WorkspaceID)
		}
		locals := make(map[string]bool, len(ws.Groups))
		for _, g := range ws.Groups {
			if g.LocalID == "" {
				return fmt.Errorf("workspace %d: group %q has no local id", ws.WorkspaceID, g.LocalName)
			}
			if locals[g.LocalID] {
				return fmt.Errorf("workspace %d: group %s appears twice", ws.WorkspaceID, g.LocalID)
			}
			locals[g.LocalID] = true
			if g.Skipped == "" {
				if _, ok := keys[g.AccountGroupKey]; !ok {
					return fmt.Errorf("workspace %d: group %q refers to unknown account group %q", ws.WorkspaceID, g.LocalName, g.AccountGroupKey)
				}
				if g.BackupName == "" || g.BackupName == g.LocalName {
					return fmt.Errorf("workspace %d: group %q has no backup name", ws.WorkspaceID, g.LocalName)
				}
				if err := checkGroupRoute(g); err != nil {
					return fmt.Errorf("workspace %d: %w", ws.WorkspaceID, err)
				}
			}
		}
		wsIDs[ws.WorkspaceID] = locals
	}
	for _, ag := range p.AccountGroups {
		for _, src := range ag.Sources {
			if !wsIDs[src.WorkspaceID][src.LocalID] {
				return fmt.Errorf("account group %s: source group %s in workspace %d is not in the plan", ag.Key, src.LocalID, src.WorkspaceID)
			}
		}
	}
	return p.checkConsistency()
}

// checkConsistency checks what apply relies on before its first write and
// that a plan made by "dbiam migrate plan" always satisfies: no system
// group is a target, a backup name or a migrated group; a backup name is
// no other name of its workspace in the plan (a local group, another
// backup, an account group it maps to), compared as the service does,
// regardless of case; each account id names one user or service principal
// (and each user name or application id one account id); a nested group
// member agrees with the account group its key names.
func (p *Plan) checkConsistency() error {
	ags := make(map[string]*AccountGroupPlan, len(p.AccountGroups))
	for i := range p.AccountGroups {
		ag := &p.AccountGroups[i]
		ags[ag.Key] = ag
		if IsSystemGroup(ag.DisplayName) {
			return fmt.Errorf("account group %s: %q is a system group, which migrate never targets", ag.Key, ag.DisplayName)
		}
	}
	byID := map[string]string{}   // account id -> kind:name
	byName := map[string]string{} // kind:name -> account id
	for _, ag := range p.AccountGroups {
		for _, m := range ag.Members {
			var name string
			switch m.Kind {
			case KindUser:
				if m.UserName == "" {
					return fmt.Errorf("account group %s: user member %s has no user_name", ag.Key, m.AccountID)
				}
				name = KindUser + ":" + strings.ToLower(m.UserName)
			case KindServicePrincipal:
				if m.ApplicationID == "" {
					return fmt.Errorf("account group %s: service principal member %s has no application_id", ag.Key, m.AccountID)
				}
				name = KindServicePrincipal + ":" + strings.ToLower(m.ApplicationID)
			case KindGroup:
				if m.GroupKey == "" {
					continue
				}
				child := ags[m.GroupKey]
				if m.AccountID != child.ExistingID || (m.Display != "" && m.Display != child.DisplayName) {
					return fmt.Errorf("account group %s: nested group member %q (id %q) does not agree with account group %s %q (id %q)",
						ag.Key, m.Display, m.AccountID, child.Key, child.DisplayName, child.ExistingID)
				}
				continue
			}
			if prev, ok := byID[m.AccountID]; ok && prev != name {
				return fmt.Errorf("account group %s: member id %s is %s here and %s elsewhere in the plan", ag.Key, m.AccountID, name, prev)
			}
			if prev, ok := byName[name]; ok && prev != m.AccountID {
				return fmt.Errorf("account group %s: member %s has id %s here and %s elsewhere in the plan", ag.Key, name, m.AccountID, prev)
			}
			byID[m.AccountID], byName[name] = name, m.AccountID
		}
	}
	for _, ws := range p.Workspaces {
		names := map[string]string{} // folded name -> what holds it
		for _, g := range ws.Groups {
			names[strings.ToLower(g.LocalName)] = fmt.Sprintf("local group %q", g.LocalName)
		}
		for _, g := range ws.Groups {
			if g.Skipped != "" {
				continue
			}
			n := ags[g.AccountGroupKey]
			if _, taken := names[strings.ToLower(n.DisplayName)]; !taken {
				names[strings.ToLower(n.DisplayName)] = fmt.Sprintf("account group %q", n.DisplayName)
			}
		}
		for _, g := range ws.Groups {
			if g.Skipped != "" {
				continue
			}
			switch {
			case IsSystemGroup(g.LocalName):
				return fmt.Errorf("workspace %d: %q is a system group, which migrate never migrates", ws.WorkspaceID, g.LocalName)
			case IsSystemGroup(g.BackupName):
				return fmt.Errorf("workspace %d: group %q has the backup name %q, a system group", ws.WorkspaceID, g.LocalName, g.BackupName)
			}
			if holder, ok := names[strings.ToLower(g.BackupName)]; ok {
				return fmt.Errorf("workspace %d: group %q has the backup name %q, which is the name of %s", ws.WorkspaceID, g.LocalName, g.BackupName, holder)
			}
			names[strings.ToLower(g.BackupName)] = fmt.Sprintf("the backup of %q", g.LocalName)
		}
	}
	return nil
}

// MarshalPlan sets p's integrity digest ([PlanDigest]) and returns the
// plan file bytes: indented JSON with a trailing newline.
func MarshalPlan(p *Plan) ([]byte, error) {
	p.Digest = PlanDigest(p)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return append(b, '\n'), nil
}

// WritePlan writes p to path atomically with mode 0600. An existing file
// is replaced only when force is true.
func WritePlan(path string, p *Plan, force bool) error {
	b, err := MarshalPlan(p)
	if err != nil {
		return err
	}
	return reports.WriteFile(path, 0o600, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}, reports.Force(force))
}

// MemberKind returns the kind of a SCIM member entry, from its $ref
// ("Users/1", "ServicePrincipals/2", "Groups/3", possibly as a full URL)
// or else its type; "" when neither says.
func MemberKind(m scim.ComplexValue) string {
	if m.Ref != "" {
		ref := strings.TrimSuffix(m.Ref, "/")
		ref = strings.TrimSuffix(ref, "/"+m.Value)
		switch path.Base(ref) {
		case "Users":
			return KindUser
		case "ServicePrincipals":
			return KindServicePrincipal
		case "Groups":
			return KindGroup
		}
	}
	switch strings.ToLower(m.Type) {
	case "user":
		return KindUser
	case "serviceprincipal", "service_principal", "service-principal":
		return KindServicePrincipal
	case "group":
		return KindGroup
	}
	return ""
}

// MembersDigest returns "sha256:<hex>" over the sorted "kind:id" lines of
// a group's direct members, the kind from [MemberKind] ("" when unknown).
// Plan and apply compute it the same way, so apply detects a group whose
// members changed after the plan was made.
func MembersDigest(members []scim.ComplexValue) string {
	lines := make([]string, 0, len(members))
	for _, m := range members {
		lines = append(lines, MemberKind(m)+":"+m.Value)
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l)
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
