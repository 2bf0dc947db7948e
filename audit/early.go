package audit

import (
	"context"
	"strings"
	"sync"
)

// earlyResolver resolves, in the background, the principal names --all
// finds in list fields, while the workspace scans read permissions: account
// SCIM lookups have their own rate-limit bucket, so overlapping them with
// the permission reads takes them off the critical path. It is safe for
// concurrent use until finish.
type earlyResolver struct {
	m    *allMatcher
	dir  directory
	kick chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	tried map[string]PrincipalType // key -> the type it was looked up with
	found map[string]principal
	err   error
}

// startEarlyResolver starts resolving the names m collects in dir (the
// account).
func startEarlyResolver(ctx context.Context, m *allMatcher, dir directory) *earlyResolver {
	r := &earlyResolver{m: m, dir: dir, kick: make(chan struct{}, 1), done: make(chan struct{}),
		tried: map[string]PrincipalType{}, found: map[string]principal{}}
	go r.loop(ctx)
	return r
}

// discover registers the references of freshly listed objects, and the
// principals of the ACLs read for them, and wakes the resolver.
func (r *earlyResolver) discover(objs []*object, ws int64) {
	for _, o := range objs {
		for _, ref := range o.refs {
			r.m.match(ref.who, ws)
		}
		if o.acl != nil {
			for _, e := range o.acl.AccessControlList {
				r.m.match(aclPrincipal(e), ws)
			}
		}
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *earlyResolver) loop(ctx context.Context) {
	defer close(r.done)
	for range r.kick {
		if err := r.resolvePending(ctx, earlyBatch); err != nil {
			r.mu.Lock()
			if r.err == nil {
				r.err = err
			}
			r.mu.Unlock()
			for range r.kick { // drain until finish closes it
			}
			return
		}
	}
}

// earlyBatch is how many keys the background resolver waits for before a
// lookup round, so that its filters are mostly full (a round costs at
// least one request per principal type).
const earlyBatch = 4 * filterBatch

// resolvePending looks up every key not tried yet, and keys not found
// whose type became known since (an ACL names a group the list field did
// not type), if there are at least min of them.
func (r *earlyResolver) resolvePending(ctx context.Context, min int) error {
	want := map[string]pref{}
	r.mu.Lock()
	for k, ref := range r.m.refs() {
		t, tried := r.tried[k]
		_, found := r.found[k]
		if !tried || (!found && !covers(t, ref)) {
			want[k] = ref
		}
	}
	if len(want) < min {
		r.mu.Unlock()
		return nil
	}
	for k, ref := range want {
		r.tried[k] = ref.ptype
	}
	r.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	ps, err := lookupRefs(ctx, r.dir, want)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, p := range ps {
		r.found[k] = p
	}
	return nil
}

// covers reports whether a lookup made with type t already covered ref,
// whose type may have become known since: an untyped lookup tries users,
// and service principals and groups for names without "@" (see
// lookupRefs).
func covers(t PrincipalType, ref pref) bool {
	switch {
	case t == ref.ptype:
		return true
	case t != "":
		return false
	}
	return ref.ptype == PrincipalUser || !strings.Contains(ref.name, "@")
}

// stop ends the background goroutine and waits for it. It is idempotent.
func (r *earlyResolver) stop() {
	r.once.Do(func() { close(r.kick) })
	<-r.done
}

// finish stops the background work, resolves the keys found since (from
// ACLs), and returns every key resolved. Call it once, after the scans.
func (r *earlyResolver) finish(ctx context.Context) (map[string]principal, error) {
	r.stop()
	if r.err != nil {
		return nil, r.err
	}
	if err := r.resolvePending(ctx, 1); err != nil {
		return nil, err
	}
	return r.found, nil
}
