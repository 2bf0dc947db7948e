package export

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/dbiam/dbiam/scim"
)

// Attribute projections: exactly what the tables show, and never the
// members of a group (listing groups with members times out on large
// workspaces; membership comes from the "groups" attributes instead).
var (
	userAttributes  = []string{"id", "userName", "displayName", "active", "externalId", "emails", "entitlements", "groups"}
	spAttributes    = []string{"id", "applicationId", "displayName", "active", "externalId", "entitlements", "groups"}
	groupAttributes = []string{"id", "displayName", "meta", "externalId", "entitlements", "roles", "groups"}

	accountUserAttributes  = []string{"id", "userName", "displayName", "active", "externalId", "emails", "roles"}
	accountGroupAttributes = []string{"id", "displayName", "externalId", "roles"}
	accountSPAttributes    = []string{"id", "applicationId", "displayName", "active", "externalId", "roles"}
)

// metastorePath answers whether a workspace has a Unity Catalog metastore,
// that is whether it is identity federated (reference §D.3).
const metastorePath = "/api/2.1/unity-catalog/current-metastore-assignment"

// Read names, used in error messages and to decide which tables can be
// written for a workspace.
const (
	readUsers       = "list users"
	readSPs         = "list service principals"
	readGroups      = "list groups"
	readAssignments = "list assignments"
)

// wsData is what was read from one workspace.
type wsData struct {
	users       []scim.User
	sps         []scim.ServicePrincipal
	groups      []scim.Group
	assignments []scim.PermissionAssignment
	// links are the principals' parent groups, taken out of their
	// "groups" attribute as the lists arrive (see interner); refNames
	// names the groups they refer to.
	links    []memberLinks
	refNames map[string]string
	reads
	// federated is nil when unknown.
	federated *bool
	// assignmentsDenied is the assignments read refused with 403: the
	// caller may read the workspace's identities but not its permission
	// assignments (a workspace admin without account admin rights, say).
	// It is a note on the workspace, not a failed read.
	assignmentsDenied error
}

// reads records which reads of a workspace or of the account succeeded
// and why the others failed. record is safe for concurrent use; the fields
// are read once the reads are over.
type reads struct {
	mu sync.Mutex
	// prefix starts the op of each failed read ("account ").
	prefix string
	// read holds the reads that succeeded.
	read map[string]bool
	errs []error
}

// record notes the outcome of the read op.
func (d *reads) record(op string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.errs = append(d.errs, &readError{op: d.prefix + op, err: err})
		return
	}
	if d.read == nil {
		d.read = map[string]bool{}
	}
	d.read[op] = true
}

// ok reports whether every read in ops succeeded.
func (d *reads) ok(ops ...string) bool {
	for _, op := range ops {
		if !d.read[op] {
			return false
		}
	}
	return true
}

// readError is a failed read of a workspace or of the account.
type readError struct {
	op  string
	err error
}

func (e *readError) Error() string { return e.op + ": " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// Accessors for listing and sorting.
func userID(u *scim.User) string             { return u.ID }
func userName(u *scim.User) string           { return u.UserName }
func spID(s *scim.ServicePrincipal) string   { return s.ID }
func spName(s *scim.ServicePrincipal) string { return s.DisplayName }
func spApp(s *scim.ServicePrincipal) string  { return s.ApplicationID }
func groupID(g *scim.Group) string           { return g.ID }
func groupName(g *scim.Group) string         { return g.DisplayName }

// fetchWorkspace reads everything the included tables need from one
// workspace: the three SCIM lists concurrently (see listAll), and the
// identity-federation check and the assignments as soon as an account group
// shows up in a page of the group list, else after the lists. Failed reads are
// recorded in the result; fetchWorkspace itself never fails.
func (r *runner) fetchWorkspace(ctx context.Context, info scim.WorkspaceInfo, task *counter, mem *share) *wsData {
	d := &wsData{}
	w, err := r.sess.Workspace(info)
	if err != nil {
		d.record("connect", err)
		return d
	}
	inc := r.cfg.include
	in := newInterner()
	lists := 0
	if inc.identities() {
		lists = 3
	}
	z := newSizer(mem, lists)
	// sized reports a list's size once: from its first page, or as 0 when
	// the list failed before it.
	sized := func() (func(int), func()) {
		var once sync.Once
		report := func(n int) {
			// A failed wait is the cancellation, which fails the list's
			// next request.
			once.Do(func() { _ = z.size(ctx, n) })
		}
		return report, func() { report(0) }
	}
	// An account group in any page of the group list proves the workspace
	// identity federated: its assignments are then read while the lists
	// are still paging, not after them (they share the account's
	// assignments bucket with every other workspace, so reading them last
	// leaves that bucket idle and then drains it at the end).
	accountGroup := make(chan struct{})
	var once sync.Once
	onGroups := func(gs []scim.Group) {
		if hasAccountGroup(gs) {
			once.Do(func() { close(accountGroup) })
		}
	}
	listed := make(chan struct{})
	var wg sync.WaitGroup
	if inc.identities() {
		task.lists(3)
		var lists sync.WaitGroup
		lists.Go(func() {
			var err error
			ls := in.list()
			report, fallback := sized()
			defer fallback()
			d.users, err = listAll(ctx, collection[scim.User]{ep: w.Users, doer: w, class: scim.ClassSCIMRead, id: userID, slim: ls.user, reset: ls.reset, sized: report}, userAttributes, r.cfg.pageSize, task)
			in.done(ls, err)
			d.record(readUsers, err)
		})
		lists.Go(func() {
			var err error
			ls := in.list()
			report, fallback := sized()
			defer fallback()
			d.sps, err = listAll(ctx, collection[scim.ServicePrincipal]{ep: w.ServicePrincipals, doer: w, class: scim.ClassSCIMRead, id: spID, slim: ls.sp, reset: ls.reset, sized: report}, spAttributes, r.cfg.pageSize, task)
			in.done(ls, err)
			d.record(readSPs, err)
		})
		lists.Go(func() {
			var err error
			ls := in.list()
			report, fallback := sized()
			defer fallback()
			d.groups, err = listAll(ctx, collection[scim.Group]{ep: w.Groups, doer: w, class: scim.ClassSCIMRead, id: groupID, onPage: onGroups, slim: ls.group, reset: ls.reset, sized: report}, groupAttributes, r.cfg.pageSize, task)
			in.done(ls, err)
			d.record(readGroups, err)
		})
		wg.Go(func() {
			lists.Wait()
			close(listed)
		})
	} else {
		close(listed)
	}
	var federated *bool
	wg.Go(func() {
		select {
		case <-accountGroup:
			yes := true
			federated = &yes
		case <-listed:
			// Without an account group seen, the whole group list (or its
			// failure) decides, as federated documents.
			federated = r.federated(ctx, w, d)
		}
		if !inc.has(IncludeAssignments) || (federated != nil && !*federated) {
			return
		}
		var as []scim.PermissionAssignment
		var err error
		if r.acct != nil {
			as, err = r.acct.ListAssignments(ctx, info.ID)
		} else {
			as, err = w.PermissionAssignments(ctx)
		}
		switch {
		case err == nil:
			d.assignments = as
			d.record(readAssignments, nil)
		case federated == nil && isNotFederated(err):
			no := false
			federated = &no
		case errors.Is(err, scim.ErrPermissionDenied):
			d.assignmentsDenied = &readError{op: readAssignments, err: err}
		default:
			d.record(readAssignments, err)
		}
	})
	wg.Wait()
	d.federated = federated
	d.links, d.refNames = in.links, in.names
	return d
}

// isNotFederated reports whether err is the assignments API refusing a
// workspace that is not identity federated (a 400; reference §D.3).
func isNotFederated(err error) bool {
	var ae *scim.APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusBadRequest
}

// federated tells whether a workspace is identity federated: an account group
// in its group list proves it; otherwise its metastore assignment is read.
// It returns nil when that read fails for another reason than "none".
func (r *runner) federated(ctx context.Context, w *scim.WorkspaceClient, d *wsData) *bool {
	yes, no := true, false
	if hasAccountGroup(d.groups) {
		return &yes
	}
	err := w.Do(ctx, scim.ClassDefault, http.MethodGet, metastorePath, nil, nil, nil)
	switch {
	case err == nil:
		return &yes
	case errors.Is(err, scim.ErrNotFound):
		return &no
	}
	var te *scim.TokenScopeError
	if ctx.Err() == nil && !errors.As(err, &te) { // a refused token fails the workspace, which says why
		r.log.Warn("identity federation unknown", "workspace", w.ID, "err", err)
	}
	return nil
}

// hasAccountGroup reports whether gs holds an account group, which proves
// the workspace that lists it identity federated.
func hasAccountGroup(gs []scim.Group) bool {
	return slices.ContainsFunc(gs, func(g scim.Group) bool { return groupType(g) == groupTypeAccount })
}

// accountData is what was read from the account.
type accountData struct {
	users  []scim.User
	groups []scim.Group
	sps    []scim.ServicePrincipal
	reads
}

// fetchAccount reads the account users (for the account_user column and the
// account tables) and then, when the account tables are included, the
// account groups and service principals. usersRead, if not nil, is called
// as soon as the users are read (or failed to be), before the rest: the
// users table of the output waits for them, while the account's other lists
// are only needed once everything is read. (Read first, the users are known
// while the workspaces are still being read; read alongside the other
// lists, they would come last, and their rows would be copied only after
// the last read.)
func (r *runner) fetchAccount(ctx context.Context, task *counter, usersRead func(users []scim.User, ok bool)) *accountData {
	d := &accountData{reads: reads{prefix: "account "}}
	full := r.cfg.include.has(IncludeAccount)
	userAttrs := accountUserAttributes
	if !full {
		userAttrs = []string{"id"}
	}
	var wg sync.WaitGroup
	var err error
	if full {
		task.lists(3)
	} else {
		task.lists(1)
	}
	d.users, err = listAll(ctx, collection[scim.User]{ep: r.acct.Users, doer: r.acct, class: scim.ClassAccountSCIMRead, id: userID}, userAttrs, r.cfg.pageSize, task)
	d.record(readUsers, err)
	if usersRead != nil {
		usersRead(d.users, err == nil)
	}
	if full {
		wg.Go(func() {
			var err error
			d.groups, err = listAll(ctx, collection[scim.Group]{ep: r.acct.Groups, doer: r.acct, class: scim.ClassAccountSCIMRead, id: groupID}, accountGroupAttributes, r.cfg.pageSize, task)
			d.record(readGroups, err)
		})
		wg.Go(func() {
			var err error
			d.sps, err = listAll(ctx, collection[scim.ServicePrincipal]{ep: r.acct.ServicePrincipals, doer: r.acct, class: scim.ClassAccountSCIMRead, id: spID}, accountSPAttributes, r.cfg.pageSize, task)
			d.record(readSPs, err)
		})
	}
	wg.Wait()
	return d
}

// joinErrors renders failed reads as one line, sorted so that concurrent
// reads give a stable text.
func joinErrors(errs []error) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// interner trims listed resources to what the tables show as pages
// arrive, and shares the copies of repeated strings: every principal's
// groups attribute repeats its groups' ids and names, and entitlements and
// roles are a handful of values. A principal's groups leave its attribute
// for a compact list of parent ids (memberLinks), kept once its list has
// been read in full. Each workspace has its own, dropped with its lists.
// It is safe for concurrent use (pages arrive concurrently).
type interner struct {
	mu    sync.Mutex
	m     map[string]string
	names map[string]string // group id -> name, as references give it
	links []memberLinks     // of the lists read in full
}

// memberLinks are a principal's direct parent groups.
type memberLinks struct {
	member  string
	parents []string
}

func newInterner() *interner { return &interner{m: map[string]string{}, names: map[string]string{}} }

// get returns the shared copy of s.
func (in *interner) get(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.getLocked(s)
}

func (in *interner) getLocked(s string) string {
	if c, ok := in.m[s]; ok {
		return c
	}
	in.m[s] = s
	return s
}

// values returns a trimmed copy of a multi-valued attribute, exactly as
// long, holding only the shared values; nil when empty.
func (in *interner) values(cv []scim.ComplexValue) []scim.ComplexValue {
	if len(cv) == 0 {
		return nil
	}
	out := make([]scim.ComplexValue, len(cv))
	for i, v := range cv {
		out[i].Value = in.get(v.Value)
	}
	return out
}

// listLinks collects the links of one list while it is read.
type listLinks struct {
	in    *interner
	mu    sync.Mutex
	links []memberLinks
}

// list starts collecting the links of one list.
func (in *interner) list() *listLinks { return &listLinks{in: in} }

// done keeps the links of a list read in full (err nil) and drops those of
// a list that failed.
func (in *interner) done(l *listLinks, err error) {
	if err != nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.links = append(in.links, l.links...)
}

// reset drops the links collected so far: the list is read again.
func (l *listLinks) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.links = nil
}

// take moves a principal's groups attribute into the list's links.
func (l *listLinks) take(id string, groups []scim.ComplexValue) {
	if len(groups) == 0 {
		return
	}
	parents := make([]string, 0, len(groups))
	in := l.in
	in.mu.Lock()
	for _, g := range groups {
		if g.Value == "" {
			continue
		}
		v := in.getLocked(g.Value)
		if _, ok := in.names[v]; !ok && g.Display != "" {
			in.names[v] = in.getLocked(g.Display)
		}
		parents = append(parents, v)
	}
	id = in.getLocked(id)
	in.mu.Unlock()
	l.mu.Lock()
	l.links = append(l.links, memberLinks{member: id, parents: parents})
	l.mu.Unlock()
}

// user trims a listed user: emails keep their value and primary flag,
// entitlements and roles their value, and groups go to the links.
func (l *listLinks) user(u *scim.User) {
	in := l.in
	if len(u.Emails) > 0 {
		emails := make([]scim.ComplexValue, len(u.Emails))
		for i, e := range u.Emails {
			emails[i] = scim.ComplexValue{Value: e.Value, Primary: e.Primary}
		}
		u.Emails = emails
	}
	u.ID = in.get(u.ID)
	u.Entitlements = in.values(u.Entitlements)
	u.Roles = in.values(u.Roles)
	l.take(u.ID, u.Groups)
	u.Groups, u.Name, u.Schemas = nil, nil, nil
}

// sp trims a listed service principal (see user).
func (l *listLinks) sp(s *scim.ServicePrincipal) {
	in := l.in
	s.ID = in.get(s.ID)
	s.Entitlements = in.values(s.Entitlements)
	s.Roles = in.values(s.Roles)
	l.take(s.ID, s.Groups)
	s.Groups, s.Schemas = nil, nil
}

// group trims a listed group (see user); its id and name are shared with
// the references to it.
func (l *listLinks) group(g *scim.Group) {
	in := l.in
	g.ID, g.DisplayName = in.get(g.ID), in.get(g.DisplayName)
	g.Entitlements = in.values(g.Entitlements)
	g.Roles = in.values(g.Roles)
	l.take(g.ID, g.Groups)
	g.Groups, g.Members, g.Schemas = nil, nil, nil
	if g.Meta != nil {
		g.Meta = &scim.Meta{ResourceType: in.get(g.Meta.ResourceType)}
	}
}
