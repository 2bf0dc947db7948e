package scim

import (
	"context"
	"fmt"
	"sync"
)

// WorkspaceSet hands out one WorkspaceClient per workspace of a fixed set
// (a plan's), made on first use. It is safe for concurrent use.
type WorkspaceSet struct {
	sess  *Session
	mu    sync.Mutex
	infos map[int64]WorkspaceInfo
	ws    map[int64]*WorkspaceClient
}

// WorkspaceSet returns the set of workspaces infos. Their URLs come from
// the session's workspace list where it holds them (so that a plan works
// through the connection it is applied with), else from infos.
func (s *Session) WorkspaceSet(ctx context.Context, infos []WorkspaceInfo) (*WorkspaceSet, error) {
	set := &WorkspaceSet{sess: s, infos: map[int64]WorkspaceInfo{}, ws: map[int64]*WorkspaceClient{}}
	for _, w := range infos {
		set.infos[w.ID] = w
	}
	list, err := s.Workspaces(ctx)
	if err != nil {
		return nil, err // Workspaces names the operation
	}
	for _, info := range list {
		if _, ok := set.infos[info.ID]; ok {
			set.infos[info.ID] = info
		}
	}
	return set, nil
}

// Client returns the client of workspace id, which must be in the set.
func (set *WorkspaceSet) Client(id int64) (*WorkspaceClient, error) {
	set.mu.Lock()
	defer set.mu.Unlock()
	if c := set.ws[id]; c != nil {
		return c, nil
	}
	info, ok := set.infos[id]
	if !ok {
		return nil, fmt.Errorf("workspace %d is not in the plan", id)
	}
	c, err := set.sess.Workspace(info)
	if err != nil {
		return nil, fmt.Errorf("connect to workspace %s (%d): %w", info.Name, id, err)
	}
	set.ws[id] = c
	return c, nil
}
