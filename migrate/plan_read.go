package migrate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dbiam/dbiam/migrate/internal/fanout"
	"github.com/dbiam/dbiam/reports"
	"github.com/dbiam/dbiam/scim"
)

// This file holds the reads that let plan scale: every list is read with
// several pages in flight (scim's Endpoint.ListConcurrent), the account's
// lists alongside the workspaces', and the members of the selected local
// groups are derived from the "groups" attribute of the workspace's users,
// service principals and groups (scim.Memberships, as export does) instead
// of one GET per group. A group is read with a GET only where the lists
// leave its membership ambiguous: a "groups" entry naming it (or naming
// one of its parents) whose type is neither empty nor "direct".

// Attributes of the workspace lists that membership is derived from.
var (
	planDerivedUserAttrs = []string{"userName", "displayName", "groups"}
	planDerivedSPAttrs   = []string{"applicationId", "displayName", "groups"}
)

// planStatusInterval is, off a terminal, the default time between the
// plan's status lines while it reads: Progress logs one every interval
// (at most a fifth of it late), so a line comes at least every 10 s.
const planStatusInterval = 5 * time.Second

// planLists is a workspace's user and service principal lists, read with
// their "groups" attribute in the background from the moment the group
// list shows a group the plan selects (so that they share the workspace's
// rate with the rest of the group list instead of waiting for it). Its
// fields are set before done is closed.
type planLists struct {
	done  chan struct{}
	users []scim.User
	sps   []scim.ServicePrincipal
	err   error
}

// planCounter counts listed identities on a progress task and sets its
// total as lists report theirs. A nil *planCounter counts nothing; it is
// safe for concurrent use. So that no task's share of the plan ever goes
// back, a task whose total would still grow after its bar started
// (countOnly: a workspace, whose lists start as its groups show the need)
// counts without a total, its share being its steps (see
// reports.Task.Steps), and one that knows how many lists it reads (parts)
// shows its total once all of them reported theirs.
type planCounter struct {
	task      *reports.Task
	mu        sync.Mutex
	total     int64
	countOnly bool
	parts     bool
}

func (c *planCounter) add(n int) {
	if c != nil {
		c.task.Add(int64(n))
	}
}

func (c *planCounter) expect(n int) {
	if c == nil {
		return
	}
	switch {
	case c.countOnly:
	case c.parts:
		c.task.AddTotal(int64(n))
	default:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.total += int64(n)
		c.task.SetTotal(c.total)
	}
}

// step counts one step of a task announced with steps.
func (c *planCounter) step() {
	if c != nil {
		c.task.Step()
	}
}

// stepsTask starts a task whose share is its steps: n of them, named
// unit; its count has no total.
func (f *planFetcher) stepsTask(name string, n int, unit string) *planCounter {
	c := f.task(name)
	if c != nil {
		c.countOnly = true
		c.task.Steps(n, unit)
	}
	return c
}

// partsTask starts a task whose total is the sum of the totals of n
// lists, shown once all n reported theirs.
func (f *planFetcher) partsTask(name string, n int) *planCounter {
	c := f.task(name)
	if c != nil {
		c.parts = true
		c.task.ExpectTotals(n)
	}
	return c
}

// planListOptions returns list options with attrs that count on c.
func planListOptions[T any](c *planCounter, attrs []string) scim.ConcurrentListOptions[T] {
	return scim.ConcurrentListOptions[T]{Attributes: attrs, OnTotal: c.expect, OnProgress: c.add}
}

// task starts the progress task of a workspace or of the account; nil
// without a progress.
func (f *planFetcher) task(name string) *planCounter {
	if f.prog == nil {
		return nil
	}
	return &planCounter{task: f.prog.Task(name, 0)}
}

// planAccountLists is the account's users, service principals and groups.
type planAccountLists struct {
	users  []scim.User
	sps    []scim.ServicePrincipal
	groups []scim.Group
	err    error
}

// readAccount lists the account's users, service principals and groups,
// concurrently and in the background; the result arrives on the channel.
// A failure cancels the plan's reads (cancel).
func (f *planFetcher) readAccount(ctx context.Context, acct *scim.AccountClient, cancel context.CancelFunc) <-chan planAccountLists {
	out := make(chan planAccountLists, 1)
	c := f.partsTask("account", 3)
	f.bg.Go(func() {
		var r planAccountLists
		var wg sync.WaitGroup
		var errs [3]error
		wg.Go(func() {
			r.users, errs[0] = acct.Users.ListConcurrent(ctx, planListOptions[scim.User](c, planAccountUserAttrs))
			if errs[0] != nil {
				errs[0] = fmt.Errorf("list account users: %w", errs[0])
			}
		})
		wg.Go(func() {
			r.sps, errs[1] = acct.ServicePrincipals.ListConcurrent(ctx, planListOptions[scim.ServicePrincipal](c, planAccountSPAttrs))
			if errs[1] != nil {
				errs[1] = fmt.Errorf("list account service principals: %w", errs[1])
			}
		})
		wg.Go(func() {
			r.groups, errs[2] = acct.Groups.ListConcurrent(ctx, planListOptions[scim.Group](c, planAccountGroupAttrs))
			if errs[2] != nil {
				errs[2] = fmt.Errorf("list account groups: %w", errs[2])
			}
		})
		wg.Wait()
		r.err = fanout.FirstError(errs[:])
		if c != nil {
			if r.err != nil {
				c.task.Fail(r.err)
			} else {
				c.task.Done(fmt.Sprintf("%d users, %d service principals, %d groups", len(r.users), len(r.sps), len(r.groups)))
			}
		}
		if r.err != nil {
			cancel()
		}
		out <- r
	})
	return out
}

// startLists starts reading w's user and service principal lists in the
// background (once) and returns them. ctx must outlive the phase that
// starts them: it is the context of the whole fetch.
func (f *planFetcher) startLists(w *planWS, c *scim.WorkspaceClient) *planLists {
	w.listsOnce.Do(func() {
		l := &planLists{done: make(chan struct{})}
		w.lists = l
		f.bg.Go(func() {
			defer close(l.done)
			var wg sync.WaitGroup
			var errs [2]error
			wg.Go(func() {
				l.users, errs[0] = c.Users.ListConcurrent(f.ctx, planListOptions[scim.User](w.counter, planDerivedUserAttrs))
				if errs[0] != nil {
					errs[0] = fmt.Errorf("list users: %w", errs[0])
				}
			})
			wg.Go(func() {
				l.sps, errs[1] = c.ServicePrincipals.ListConcurrent(f.ctx, planListOptions[scim.ServicePrincipal](w.counter, planDerivedSPAttrs))
				if errs[1] != nil {
					errs[1] = fmt.Errorf("list service principals: %w", errs[1])
				}
			})
			wg.Wait()
			l.err = fanout.FirstError(errs[:])
		})
	})
	return w.lists
}

// wait returns once the lists are read (or ctx is done).
func (l *planLists) wait(ctx context.Context) error {
	select {
	case <-l.done:
		return l.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// planCandidate reports whether g is a group the plan selects in w: the
// sign that w's principals must be listed.
func (f *planFetcher) planCandidate(w *planWS, g *scim.Group) bool {
	return g.IsWorkspaceLocal() && !IsSystemGroup(g.DisplayName) && f.b.sel.selected(w.ident(), g.DisplayName)
}

// readMembersDerived gives w's selected groups their members and direct
// parents from the workspace's lists, and reads with one GET each only the
// groups whose membership the lists leave ambiguous.
func (f *planFetcher) readMembersDerived(ctx context.Context, w *planWS, c *scim.WorkspaceClient, todo []*planNode) error {
	lists := f.startLists(w, c)
	if err := lists.wait(ctx); err != nil {
		return err
	}
	w.listed = lists
	w.users = make(map[string]string, len(lists.users))
	for _, u := range lists.users {
		w.users[u.ID] = u.UserName
	}
	w.sps = make(map[string]string, len(lists.sps))
	for _, sp := range lists.sps {
		w.sps[sp.ID] = sp.ApplicationID
	}
	members := map[string][]scim.ComplexValue{}
	ambiguous := map[string]bool{}
	for m := range scim.Memberships(lists.users, lists.sps, w.groups) {
		id := m.Group.Value
		if w.nodeByID[id] == nil {
			continue
		}
		if !m.Direct() {
			ambiguous[id] = true
			continue
		}
		members[id] = append(members[id], m.Member)
	}
	var get []*planNode
	for _, n := range todo {
		parents := make([]scim.ComplexValue, 0, len(n.g.Groups))
		for _, p := range n.g.Groups {
			if !(scim.Membership{Group: p}).Direct() {
				ambiguous[n.g.ID] = true
				continue
			}
			parents = append(parents, p)
		}
		if ambiguous[n.g.ID] {
			get = append(get, n)
			continue
		}
		n.members, n.parents, n.fetched = members[n.g.ID], parents, true
	}
	if len(get) > 0 {
		f.log.Info("reading groups whose membership the lists leave ambiguous", "workspace", w.info.Name, "groups", len(get))
		if err := f.getGroups(ctx, w, c, get); err != nil {
			return err
		}
	}
	w.derived, w.gets = len(todo)-len(get), len(get)
	return nil
}

// getGroups reads the members and direct parents of each node with one
// GET (attributes=members,groups), planFetchWorkers at a time.
func (f *planFetcher) getGroups(ctx context.Context, w *planWS, c *scim.WorkspaceClient, todo []*planNode) error {
	w.counter.expect(len(todo))
	errs := make([]error, len(todo))
	return fanout.Bounded(ctx, len(todo), planFetchWorkers, func(ctx context.Context, i int) error {
		n := todo[i]
		g, err := c.Groups.Get(ctx, n.g.ID, scim.GetOptions{Attributes: planWSMemberAttrs})
		if err != nil {
			errs[i] = fmt.Errorf("read members of group %q: %w", n.g.DisplayName, err)
			return errs[i]
		}
		n.members, n.parents, n.fetched = g.Members, g.Groups, true
		w.counter.add(1)
		return nil
	}, errs)
}
