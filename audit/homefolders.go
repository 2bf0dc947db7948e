package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dbiam/dbiam/scim"
)

// Home folders. Databricks documents that deleting a user from a workspace
// "also removes objects associated with the user" (SCIM API, Delete a
// user), while the Terraform provider keeps a deleted user's home folder
// unless force_delete_home_dir is set: the public record does not promise
// that a home folder survives its owner. So a notebook or file in an
// audited identity's home folder (/Users/<user name>, /Users/<application
// id>, or its /Repos/<name> folder) that another identity's job or
// pipeline runs is ranked as if it goes with the identity: breaks when that
// job is scheduled (unpaused) or that pipeline runs or is continuous, info
// otherwise. A Lakeview dashboard, query or alert that another identity
// owns but that is stored in the audited identity's home folder breaks
// likewise (info once trashed); their lists carry no path, so where they
// are stored comes from the folder grants their ACLs inherit (storedHome).

// homeUse is one object of another identity that uses a path in an
// audited identity's home folder.
type homeUse struct {
	o       *object
	path    string // the file or folder used, without /Workspace
	user    string // the identity the object belongs to or runs as
	active  bool   // scheduled, running or continuous: its next run fails
	stored  bool   // the object itself is stored in the folder
	trashed bool
}

// describe says how the use ties the object to the path.
func (u homeUse) describe() string {
	who := u.user
	if who == "" {
		who = "another principal"
	}
	switch u.o.kind {
	case KindJob:
		return fmt.Sprintf("job %q (runs as %s)", u.o.name, who)
	case KindPipeline:
		return fmt.Sprintf("pipeline %q (runs as %s)", u.o.name, who)
	}
	return fmt.Sprintf("%s %q of %s", strings.ReplaceAll(string(u.o.kind), "-", " "), u.o.name, who)
}

// homeUses lists, for one workspace's objects, the paths in home or Repos
// folders that other identities' objects use or are stored in.
func homeUses(objs []*object) []homeUse {
	var out []homeUse
	homes := homeDirs(objs)
	add := func(o *object, path, user string, active, stored, trashed bool) {
		path = strings.TrimSuffix(strings.TrimPrefix(path, "/Workspace"), "/")
		owner := homeOwner(path)
		if owner == "" || strings.EqualFold(owner, user) {
			return
		}
		out = append(out, homeUse{o: o, path: path, user: user, active: active, stored: stored, trashed: trashed})
	}
	for _, o := range objs {
		switch o.kind {
		case KindJob:
			runAs, known := o.effectiveRunAs()
			user := runAs.name
			if !known {
				user = o.job.CreatorUserName
			}
			trigger, paused, _ := jobTrigger(o.job.Settings)
			for _, t := range o.job.Settings.Tasks {
				for _, p := range t.WorkspacePaths() {
					add(o, p, user, trigger != "" && !paused, false, false)
				}
			}
		case KindPipeline:
			user := cmpOr(o.pipeline.RunAsUserName, o.pipeline.CreatorUserName)
			for _, p := range o.libs {
				add(o, p, user, o.continuous || pipelineRunning(o.pipeline.State), false, false)
			}
		case KindDashboard:
			// A Lakeview dashboard belongs to its direct managers; with no
			// ACL read they are unknown and the dashboard is left alone.
			mgrs, _ := managers(o.acl)
			if len(mgrs) == 0 {
				continue
			}
			home := storedHome(o.acl, homes)
			if slices.ContainsFunc(mgrs, func(p pref) bool { return strings.EqualFold(p.name, homeOwner(home)) }) {
				continue
			}
			add(o, home, mgrs[0].name, false, true, trashed(o.dashboard.LifecycleState))
		case KindQuery:
			add(o, storedHome(o.acl, homes), o.query.OwnerUserName, false, true, trashed(o.query.LifecycleState))
		case KindAlert:
			add(o, storedHome(o.acl, homes), o.alert.OwnerUserName, false, true, trashed(o.alert.LifecycleState))
		}
	}
	return out
}

// homeDirs maps the permissions object path of each listed home folder
// ("/directories/<id>") to the folder's path.
func homeDirs(objs []*object) map[string]string {
	homes := map[string]string{}
	for _, o := range objs {
		if o.kind == KindHomeFolder && o.dirID != "" {
			homes[o.dirID] = o.name
		}
	}
	return homes
}

// storedHome returns the home folder an object is stored in, as its ACL
// tells: the lists of Lakeview dashboards, queries and alerts carry no
// path, but an object stored in a folder inherits the folder's grants, and
// a home folder's owner holds CAN_MANAGE on it, so an entry inherited from
// a home folder (inherited_from_object "/directories/<id>") places the
// object inside it. "" when the ACL was not read or names no home folder.
func storedHome(acl *scim.ObjectPermissions, homes map[string]string) string {
	if acl == nil {
		return ""
	}
	for _, e := range acl.AccessControlList {
		for _, l := range e.Levels() {
			for _, from := range l.InheritedFromObject {
				if h, ok := homes[from]; ok {
					return h
				}
			}
		}
	}
	return ""
}

// rateHomeUse is the verdict for a use of a home-folder path.
func rateHomeUse(u homeUse) verdict {
	switch {
	case u.stored && u.trashed:
		return verdict{SeverityInfo, "in the trash, stored in the identity's home folder"}
	case u.stored:
		return verdict{SeverityBreaks, "belongs to " + cmpOr(u.user, "another principal") +
			" but is stored in the identity's home folder, which Databricks may remove with the identity"}
	case u.active && u.o.kind == KindJob:
		return verdict{SeverityBreaks, "run by " + u.describe() + " on an unpaused schedule or trigger; Databricks may remove the identity's home folder objects with it, and the runs fail"}
	case u.active:
		return verdict{SeverityBreaks, "source of running or continuous " + u.describe() + "; Databricks may remove the identity's home folder objects with it, and its updates fail"}
	}
	return verdict{SeverityInfo, "used by " + u.describe() + ", which has no active schedule; it fails when run once the home folder is gone"}
}

// homeFolderFindings adds to findings the home-folder uses of one
// workspace's objects (see homeUses) whose folder belongs to an audited
// identity. A used notebook or file is first read (get-status): one that no
// longer exists is left out (its user already fails); one that cannot be
// read makes workspace-file a gap (returned). A stored object's finding is
// merged into the identity's finding for that object when there is one.
func homeFolderFindings(ctx context.Context, d scim.Doer, ws WorkspaceRef, wsInfo scim.WorkspaceInfo, objs []*object, m matcher, findings *[]Finding) (gets int, gap error) {
	type target struct {
		key, name string
	}
	type fileKey struct{ key, path string }
	files := map[fileKey][]homeUse{}
	var fileOrder []fileKey
	var stored []struct {
		t target
		u homeUse
	}
	for _, u := range homeUses(objs) {
		owner := homeOwner(u.path)
		for _, k := range m.match(pref{name: owner}, ws.ID) {
			t := target{k, owner}
			if u.stored {
				stored = append(stored, struct {
					t target
					u homeUse
				}{t, u})
				continue
			}
			fk := fileKey{k, u.path}
			if _, ok := files[fk]; !ok {
				fileOrder = append(fileOrder, fk)
			}
			files[fk] = append(files[fk], u)
		}
	}
	// Read each used path once.
	var paths []string
	for _, fk := range fileOrder {
		if !slices.Contains(paths, fk.path) {
			paths = append(paths, fk.path)
		}
	}
	status := make(map[string]*scim.ObjectInfo, len(paths))
	type result struct {
		path string
		info scim.ObjectInfo
		err  error
	}
	results := make([]result, len(paths))
	idx := make([]int, len(paths))
	for i := range idx {
		idx[i] = i
	}
	parallel(ctx, idx, detailWorkers, func(i int) {
		info, err := scim.GetStatus(ctx, d, paths[i])
		results[i] = result{paths[i], info, err}
	})
	failed := 0
	var first error
	for _, r := range results {
		switch {
		case r.err == nil && r.path != "":
			info := r.info
			status[r.path] = &info
		case errors.Is(r.err, scim.ErrNotFound):
		case r.err != nil:
			failed++
			if first == nil {
				first = r.err
			}
		}
	}
	if failed > 0 {
		gap = fmt.Errorf("%d of %d home-folder paths used by other identities could not be read: %w", failed, len(paths), first)
	}
	for _, fk := range fileOrder {
		info := status[fk.path]
		if info == nil {
			continue
		}
		uses := files[fk]
		v := verdict{SeverityInfo, ""}
		var users []string
		for _, u := range uses {
			if x := rateHomeUse(u); x.sev > v.sev || v.reason == "" {
				v = x
			}
			if d := u.describe(); !slices.Contains(users, d) {
				users = append(users, d)
			}
		}
		f := Finding{Identity: fk.key, IdentityName: homeOwner(fk.path), Workspace: ws, Kind: KindWorkspaceFile,
			ObjectID: fmt.Sprint(info.ObjectID), ObjectName: fk.path, URL: objectURL(wsInfo, "/editor/notebooks/"+fmt.Sprint(info.ObjectID)),
			Relations: []Relation{RelInHome}, Severity: v.sev, Reason: v.reason,
			Details: []Detail{{"object_type", info.ObjectType}, {"used_by", strings.Join(users, "; ")}}}
		*findings = append(*findings, f)
	}
	for _, s := range stored {
		v := rateHomeUse(s.u)
		merged := false
		for i := range *findings {
			f := &(*findings)[i]
			if f.Identity == s.t.key && f.Kind == s.u.o.kind && f.ObjectID == s.u.o.id {
				f.addRelation(RelInHome)
				if v.sev > f.Severity {
					f.Severity, f.Reason = v.sev, v.reason
				}
				merged = true
			}
		}
		if merged {
			continue
		}
		*findings = append(*findings, Finding{Identity: s.t.key, IdentityName: s.t.name, Workspace: ws, Kind: s.u.o.kind,
			ObjectID: s.u.o.id, ObjectName: s.u.o.name, URL: s.u.o.url, Relations: []Relation{RelInHome},
			Severity: v.sev, Reason: v.reason, Details: append(slices.Clone(s.u.o.details), Detail{"folder", s.u.path})})
	}
	return len(paths), gap
}
