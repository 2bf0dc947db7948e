package export

import (
	"context"
	"sync"

	"github.com/dbiam/dbiam/reports"
)

// copier copies the spooled rows of the workspace tables into the output
// while later workspaces are still being read, instead of after the last
// one: one goroutine per table walks the workspaces in order and copies each
// one's rows as soon as that workspace is done, so every table fills in
// workspace order, the copy overlaps the reads, and the tables are copied in
// parallel. The users table also waits for the account users, who fill its
// account_user column.
//
// A copy that fails cancels the reads (through cancel) and is returned by
// wait; a cancelled ctx stops the copy without an error of its own.
type copier struct {
	ctx     context.Context
	cancel  context.CancelFunc
	results []*wsResult
	ready   []chan struct{} // ready[i] is closed once results[i] is set

	accountUsers map[string]bool // ids of the account users; nil if unknown
	usersReady   chan struct{}   // closed once accountUsers is set
	usersOnce    sync.Once

	wg   sync.WaitGroup
	once sync.Once
	err  error
}

// newCopier starts copying the workspace tables of n workspaces into
// sinks, a table name to sink map; cancel must cancel ctx.
func newCopier(ctx context.Context, cancel context.CancelFunc, n int, sinks map[string]reports.Sink) *copier {
	c := &copier{
		ctx: ctx, cancel: cancel,
		results:    make([]*wsResult, n),
		ready:      make([]chan struct{}, n),
		usersReady: make(chan struct{}),
	}
	for i := range c.ready {
		c.ready[i] = make(chan struct{})
	}
	for _, t := range workspaceTables {
		if sink, ok := sinks[t.table]; ok {
			c.wg.Go(func() { c.copyTable(t.table, sink) })
		}
	}
	return c
}

// workspaceDone hands the copier the result of workspace i. It must be
// called once for every workspace, whatever its outcome.
func (c *copier) workspaceDone(i int, res *wsResult) {
	c.results[i] = res
	close(c.ready[i])
}

// accountUsersRead hands the copier the ids of the account users (nil when
// they are unknown: not read, or failed). It must be called at least once;
// later calls are ignored.
func (c *copier) accountUsersRead(ids map[string]bool) {
	c.usersOnce.Do(func() {
		c.accountUsers = ids
		close(c.usersReady)
	})
}

// wait waits for the copy to end and returns its first error.
func (c *copier) wait() error {
	c.wg.Wait()
	return c.err
}

func (c *copier) fail(err error) {
	c.once.Do(func() {
		c.err = err
		c.cancel()
	})
}

// copyTable copies table from every workspace's spool file into sink, in
// workspace order, then closes sink.
func (c *copier) copyTable(table string, sink reports.Sink) {
	var fix func([]any)
	if table == TableUsers {
		select {
		case <-c.usersReady:
		case <-c.ctx.Done():
			return
		}
		fix = accountUserFix(c.accountUsers)
	}
	fixAll := func(vals []any) {
		if fix != nil {
			fix(vals)
		}
		emptyToNil(vals)
	}
	cols := columns[table]
	for i, ready := range c.ready {
		select {
		case <-ready:
		case <-c.ctx.Done():
			return
		}
		if f := c.results[i].file; f != nil {
			if err := f.copyTo(table, cols, sink, fixAll); err != nil {
				c.fail(err)
				return
			}
		}
	}
	if err := sink.Close(); err != nil {
		c.fail(err)
	}
}
