package sandbox

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
)

// This file is the workspace files family: notebooks, files and
// directories of the workspace tree (the Workspace API) and Git folders
// (the Repos API), seeded from the "workspace_objects" and "repos"
// sections of a workspace's objects (SeedObjects), with directory-tree
// permission inheritance.
//
//	GET /api/2.0/workspace/list?path=         {"objects":[...]}: the directory's children (not recursive), or the
//	                                          object itself when path is not a directory; {} for an empty directory
//	GET /api/2.0/workspace/get-status?path=   one ObjectInfo
//	GET /api/2.0/repos?path_prefix=&next_page_token=   {"repos":[...],"next_page_token"}: pages of 20; without a
//	                                          prefix (or "/", "/Workspace") only Git folders under /Repos are listed
//	GET /api/2.0/repos/{repo_id}
//
// A missing path is 404 RESOURCE_DOES_NOT_EXIST "Path (<path>) doesn't
// exist."; paths may carry a /Workspace prefix. Directories are implied by
// the paths of the seeded objects. A home folder (/Users/<user name> or
// /Users/<application id>) whose name is a live principal gives that
// principal CAN_MANAGE on it. Every object inherits the grants of the
// directories above it (registered with the permissions store's
// setParents: the permissions API returns them as entries with "inherited":
// true and "inherited_from_object": ["/directories/<id>"]), and so do the
// workspace's Lakeview dashboards, queries and alerts, from the folder
// their parent_path names (default /Users/<owner>), which the tree holds.
// Workspace admins see every object; other callers see the objects on
// which they (or a group they belong to) hold any level, directly or
// inherited. Repos lists return the Git folders the caller can manage
// (admins: all).

func init() {
	registerFamily(family{name: "workspacefs", load: loadWorkspaceFS, routes: registerWorkspaceFS})
}

// Repos list page size (the API documents none; the strict choice).
const reposPage = 20

// SeedWorkspaceObject is a notebook, file or directory of the workspace
// tree. JSON form:
//
//	{"path": "/Users/ann@acme.test/etl/daily", "object_type": "NOTEBOOK", "language": "PYTHON",
//	 "permissions": [{"group_name": "data-eng", "permission_level": "CAN_RUN"}]}
//
// ObjectType is NOTEBOOK (default), FILE or DIRECTORY; Language (notebooks)
// is PYTHON (default), SQL, SCALA or R. Parent directories are created as
// needed. ObjectID pins the object's id (default: derived from the workspace
// and path); a directory with a pinned id must be listed before the objects
// under it.
type SeedWorkspaceObject struct {
	Path        string      `json:"path"`
	ObjectType  string      `json:"object_type,omitempty"`
	ObjectID    int64       `json:"object_id,omitempty"`
	Language    string      `json:"language,omitempty"`
	Created     SeedTime    `json:"created,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// SeedRepo is a Git folder: {"id": 123, "path": "/Repos/ann@acme.test/etl",
// "url": "https://github.com/acme/etl.git", "provider": "gitHub",
// "branch": "main", "permissions": []}. The principal named by the
// second path segment (its creator) holds CAN_MANAGE.
type SeedRepo struct {
	ID          int64       `json:"id"`
	Path        string      `json:"path"`
	URL         string      `json:"url"`
	Provider    string      `json:"provider,omitempty"`
	Branch      string      `json:"branch,omitempty"`
	Permissions []SeedGrant `json:"permissions,omitempty"`
}

// wsfsNode is one object of a workspace tree.
type wsfsNode struct {
	path     string
	typ      string // NOTEBOOK, FILE, DIRECTORY, REPO
	language string
	id       int64
	created  int64
	parent   *wsfsNode
	children []*wsfsNode // sorted by path
	repo     *SeedRepo
}

// aclType returns the permissions API type of the node.
func (n *wsfsNode) aclType() string {
	switch n.typ {
	case "DIRECTORY":
		return "directories"
	case "FILE":
		return "files"
	case "REPO":
		return "repos"
	}
	return "notebooks"
}

// wsfsTree is one workspace's tree.
type wsfsTree struct {
	byPath map[string]*wsfsNode // paths are case-sensitive
	byID   map[string]*wsfsNode // aclType + "/" + id
	repos  []*wsfsNode          // by path
}

type wsfsState struct {
	ws map[int64]*wsfsTree
}

// wsfsID derives a stable object id from the workspace and path.
func wsfsID(ws int64, p string) int64 {
	h := sha256.Sum256([]byte(strconv.FormatInt(ws, 10) + "\x00" + p))
	return int64(binary.BigEndian.Uint64(h[:8])>>14) + 1_000_000_000_000_000
}

// cleanWSPath normalises a request or seed path: an optional /Workspace
// prefix is dropped; the result is absolute without a trailing slash ("" if
// it is not absolute).
func cleanWSPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	if rest, ok := strings.CutPrefix(p, "/Workspace"); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		p = cmp.Or(rest, "/")
	}
	return path.Clean(p)
}

func newTree(ws int64) *wsfsTree {
	root := &wsfsNode{path: "/", typ: "DIRECTORY", id: 0}
	return &wsfsTree{byPath: map[string]*wsfsNode{"/": root}, byID: map[string]*wsfsNode{"directories/0": root}}
}

// ensureDir returns the directory at p, creating it and its parents.
func (t *wsfsTree) ensureDir(ws int64, p string, created int64) (*wsfsNode, error) {
	if n := t.byPath[p]; n != nil {
		if n.typ != "DIRECTORY" {
			return nil, fmt.Errorf("%s is a %s, not a directory", p, strings.ToLower(n.typ))
		}
		return n, nil
	}
	parent, err := t.ensureDir(ws, path.Dir(p), created)
	if err != nil {
		return nil, err
	}
	return t.insert(ws, parent, &wsfsNode{path: p, typ: "DIRECTORY", created: created}), nil
}

func (t *wsfsTree) insert(ws int64, parent, n *wsfsNode) *wsfsNode {
	if n.id == 0 {
		n.id = wsfsID(ws, n.path)
	}
	n.parent = parent
	i, _ := slices.BinarySearchFunc(parent.children, n.path, func(a *wsfsNode, p string) int { return strings.Compare(a.path, p) })
	parent.children = slices.Insert(parent.children, i, n)
	t.byPath[n.path] = n
	t.byID[n.aclType()+"/"+strconv.FormatInt(n.id, 10)] = n
	return n
}

// homeOwner returns the principal name of a home or Repos folder path
// (/Users/<name>/... or /Repos/<name>/...), "" for other paths.
func homeOwner(p string) string {
	for _, root := range []string{"/Users/", "/Repos/"} {
		if rest, ok := strings.CutPrefix(p, root); ok {
			name, _, _ := strings.Cut(rest, "/")
			return name
		}
	}
	return ""
}

// loadWorkspaceFS builds every workspace's tree from its objects section
// and registers the objects' ACLs.
func loadWorkspaceFS(s *Server, seed *Seed) (any, error) {
	st := &wsfsState{ws: map[int64]*wsfsTree{}}
	now := s.now()
	for i, sw := range seed.Workspaces {
		w := s.st.wsByID[sw.WorkspaceID]
		t := newTree(w.id)
		st.ws[w.id] = t
		if sw.Objects == nil {
			if err := checkTreeGrants(seed, &sw, t); err != nil {
				return nil, err
			}
			continue
		}
		f := fmt.Sprintf("workspaces[%d].objects.", i)
		for j, so := range sw.Objects.WorkspaceObjects {
			of := fmt.Sprintf("%sworkspace_objects[%d]", f, j)
			p := cleanWSPath(so.Path)
			if p == "" || p == "/" || p != so.Path {
				return nil, fmt.Errorf("%s.path: %q is not a clean absolute path", of, so.Path)
			}
			typ := cmp.Or(so.ObjectType, "NOTEBOOK")
			if !oneOf(typ, "NOTEBOOK", "FILE", "DIRECTORY") {
				return nil, fmt.Errorf("%s.object_type: %q is not NOTEBOOK, FILE or DIRECTORY", of, so.ObjectType)
			}
			created, err := resolveOr(so.Created, now, now.Add(-defaultCreatedAgo))
			if err != nil {
				return nil, fmt.Errorf("%s.created: %w", of, err)
			}
			if so.ObjectID < 0 || so.ObjectID > 0 && t.byID[(&wsfsNode{typ: typ}).aclType()+"/"+strconv.FormatInt(so.ObjectID, 10)] != nil {
				return nil, fmt.Errorf("%s.object_id: %d is not a positive, unique id", of, so.ObjectID)
			}
			var n *wsfsNode
			if typ == "DIRECTORY" && so.ObjectID != 0 {
				if t.byPath[p] != nil {
					return nil, fmt.Errorf("%s.object_id: %q already exists; list a directory with an object_id before the objects under it", of, p)
				}
				dir, err := t.ensureDir(w.id, path.Dir(p), created.UnixMilli())
				if err != nil {
					return nil, fmt.Errorf("%s.path: %w", of, err)
				}
				n = t.insert(w.id, dir, &wsfsNode{path: p, typ: typ, id: so.ObjectID, created: created.UnixMilli()})
			} else if typ == "DIRECTORY" {
				if n, err = t.ensureDir(w.id, p, created.UnixMilli()); err != nil {
					return nil, fmt.Errorf("%s.path: %w", of, err)
				}
			} else {
				if t.byPath[p] != nil {
					return nil, fmt.Errorf("%s.path: duplicate %q", of, p)
				}
				dir, err := t.ensureDir(w.id, path.Dir(p), created.UnixMilli())
				if err != nil {
					return nil, fmt.Errorf("%s.path: %w", of, err)
				}
				lang := ""
				if typ == "NOTEBOOK" {
					lang = cmp.Or(so.Language, "PYTHON")
					if !oneOf(lang, "PYTHON", "SQL", "SCALA", "R") {
						return nil, fmt.Errorf("%s.language: %q is not PYTHON, SQL, SCALA or R", of, so.Language)
					}
				}
				n = t.insert(w.id, dir, &wsfsNode{path: p, typ: typ, language: lang, id: so.ObjectID, created: created.UnixMilli()})
			}
			if e := s.seedACL(w, n.aclType(), strconv.FormatInt(n.id, 10), so.Permissions); e != nil {
				return nil, fmt.Errorf("%s.permissions: %s", of, e.msg)
			}
		}
		for j, r := range sw.Objects.Repos {
			rf := fmt.Sprintf("%srepos[%d]", f, j)
			p := cleanWSPath(r.Path)
			owner := homeOwner(p)
			if p != r.Path || owner == "" || strings.Count(p, "/") < 3 {
				return nil, fmt.Errorf("%s.path: %q is not /Repos/<user>/<name> or /Users/<user>/<name>", rf, r.Path)
			}
			if r.ID <= 0 || t.byID["repos/"+strconv.FormatInt(r.ID, 10)] != nil {
				return nil, fmt.Errorf("%s.id: %d is not a positive, unique id", rf, r.ID)
			}
			if t.byPath[p] != nil {
				return nil, fmt.Errorf("%s.path: duplicate %q", rf, p)
			}
			if !strings.HasPrefix(r.URL, "https://") {
				return nil, fmt.Errorf("%s.url: %q is not an https Git URL", rf, r.URL)
			}
			dir, err := t.ensureDir(w.id, path.Dir(p), now.Add(-defaultCreatedAgo).UnixMilli())
			if err != nil {
				return nil, fmt.Errorf("%s.path: %w", rf, err)
			}
			repo := r
			n := &wsfsNode{path: p, typ: "REPO", repo: &repo, created: now.Add(-defaultCreatedAgo).UnixMilli(), parent: dir}
			n.id = r.ID
			i, _ := slices.BinarySearchFunc(dir.children, p, func(a *wsfsNode, q string) int { return strings.Compare(a.path, q) })
			dir.children = slices.Insert(dir.children, i, n)
			t.byPath[p] = n
			t.byID["repos/"+strconv.FormatInt(r.ID, 10)] = n
			t.repos = append(t.repos, n)
			acl := s.grants(w).object("repos", strconv.FormatInt(r.ID, 10))
			if pr := s.st.findPrincipal(w, owner); pr != nil {
				acl.set(pr.id, "CAN_MANAGE")
			}
			if e := s.seedACL(w, "repos", strconv.FormatInt(r.ID, 10), r.Permissions); e != nil {
				return nil, fmt.Errorf("%s.permissions: %s", rf, e.msg)
			}
		}
		slices.SortFunc(t.repos, func(a, b *wsfsNode) int { return strings.Compare(a.path, b.path) })
		if err := checkTreeGrants(seed, &sw, t); err != nil {
			return nil, err
		}
		// The folders holding Lakeview dashboards, queries and alerts.
		var folders []string
		for _, d := range sw.Objects.LakeviewDashboards {
			folders = append(folders, cmp.Or(d.ParentPath, "/Users/"+d.Owner))
		}
		for _, q := range sw.Objects.Queries {
			folders = append(folders, cmp.Or(q.ParentPath, "/Users/"+q.Owner))
		}
		for _, a := range sw.Objects.Alerts {
			folders = append(folders, cmp.Or(a.ParentPath, "/Users/"+a.Owner))
		}
		for _, d := range folders {
			if p := cleanWSPath(d); p != "" && p != "/" {
				if _, err := t.ensureDir(w.id, p, now.Add(-defaultCreatedAgo).UnixMilli()); err != nil {
					return nil, fmt.Errorf("%sparent_path %q: %w", f, d, err)
				}
			}
		}
		// Every directory is registered with the permissions store; a home
		// folder's principal manages it.
		for p, n := range t.byPath {
			if n.typ != "DIRECTORY" || p == "/" {
				continue
			}
			acl := s.grants(w).object("directories", strconv.FormatInt(n.id, 10))
			if d := path.Dir(p); d == "/Users" || d == "/Repos" {
				if pr := s.st.findPrincipal(w, path.Base(p)); pr != nil && acl.level(pr.id) == "" {
					acl.set(pr.id, "CAN_MANAGE")
				}
			}
		}
	}
	s.registerTreeParents()
	return st, nil
}

// checkTreeGrants refuses a "grants" seed section that grants on a
// notebook, file, directory or Git folder id that workspace sw's tree does
// not hold: the real service has no such object (its permissions API answers
// 404 RESOURCE_DOES_NOT_EXIST, and workspace/list never shows it), so a
// sandbox that kept the grant would answer for an object no client can
// discover. A tree object's grants belong in its workspace_objects entry
// (or repos entry).
func checkTreeGrants(seed *Seed, sw *SeedWorkspace, t *wsfsTree) error {
	if sw.Grants == nil {
		return nil
	}
	for j, o := range sw.Grants.Objects {
		typ, ok := canonicalType(o.ObjectType)
		if !ok || !oneOf(typ, "notebooks", "files", "directories", "repos") || t.byID[typ+"/"+o.ObjectID] != nil {
			continue
		}
		return fmt.Errorf("workspaces[%d].grants.objects[%d].object_id: %s %q is not an object of the workspace tree "+
			"(the real service has no such object: its permissions API answers 404); seed the object with its grants "+
			"under objects.workspace_objects (path, object_type, permissions) or objects.repos instead",
			workspaceIndex(seed, sw.WorkspaceID), j, typ, o.ObjectID)
	}
	return nil
}

// wsfs returns workspace w's tree (never nil). Callers hold s.mu.
func (s *Server) wsfs(w *workspace) *wsfsTree {
	if st, ok := s.ext["workspacefs"].(*wsfsState); ok && st.ws[w.id] != nil {
		return st.ws[w.id]
	}
	return newTree(w.id)
}

func registerWorkspaceFS(s *Server) {
	get := func(pattern, class string, h func(*call) error) {
		s.handle(route{method: http.MethodGet, pattern: pattern, class: class, scope: scopeWorkspace, access: accessMember, handle: h})
	}
	get("/api/2.0/workspace/list", ClassDefault, wsfsList)
	get("/api/2.0/workspace/get-status", ClassDefault, wsfsGetStatus)
	get("/api/2.0/repos", ClassDefault, wsfsListRepos)
	get("/api/2.0/repos/{repo_id}", ClassDefault, wsfsGetRepo)
}

// treeParents returns the directories above node n, nearest first, as
// permission objects (the root "/" is the type's root, not a parent).
func treeParents(n *wsfsNode) []objectKey {
	var out []objectKey
	for d := n; d != nil && d.path != "/"; d = d.parent {
		out = append(out, objectKey{"directories", strconv.FormatInt(d.id, 10)})
	}
	return out
}

// registerTreeParents tells the permissions store how the tree's objects,
// and the dashboards, queries and alerts stored in its folders, inherit
// grants (see setParents).
func (s *Server) registerTreeParents() {
	for _, typ := range []string{"notebooks", "files", "directories", "repos"} {
		s.setParents(typ, func(w *workspace, id string) []objectKey {
			n := s.wsfs(w).byID[typ+"/"+id]
			if n == nil {
				return nil
			}
			return treeParents(n.parent)
		})
	}
	folderOf := func(w *workspace, typ, id string) string {
		o := s.objects(w)
		switch typ {
		case permTypeDashboards:
			for _, d := range o.lakeview {
				if d.DashboardID == id {
					return cmp.Or(d.ParentPath, "/Users/"+d.Owner)
				}
			}
		case permTypeQueries:
			for _, q := range o.queries {
				if q.ID == id {
					return cmp.Or(q.ParentPath, "/Users/"+q.Owner)
				}
			}
		case permTypeAlerts:
			for _, a := range o.alerts {
				if a.ID == id {
					return cmp.Or(a.ParentPath, "/Users/"+a.Owner)
				}
			}
		}
		return ""
	}
	for _, typ := range []string{permTypeDashboards, permTypeQueries, permTypeAlerts} {
		s.setParents(typ, func(w *workspace, id string) []objectKey {
			n := s.wsfs(w).byPath[cleanWSPath(folderOf(w, typ, id))]
			if n == nil {
				return nil
			}
			return treeParents(n)
		})
	}
}

// seesNode reports whether the caller may see tree object n.
func (c *call) seesNode(n *wsfsNode) bool {
	return c.canSee(n.aclType(), strconv.FormatInt(n.id, 10))
}

type wireObjectInfo struct {
	ObjectType string `json:"object_type"`
	Path       string `json:"path"`
	ObjectID   int64  `json:"object_id"`
	ResourceID string `json:"resource_id"`
	Language   string `json:"language,omitempty"`
	CreatedAt  int64  `json:"created_at,omitempty"`
	ModifiedAt int64  `json:"modified_at,omitempty"`
}

func renderObjectInfo(n *wsfsNode) wireObjectInfo {
	return wireObjectInfo{ObjectType: n.typ, Path: n.path, ObjectID: n.id, ResourceID: strconv.FormatInt(n.id, 10),
		Language: n.language, CreatedAt: n.created, ModifiedAt: n.created}
}

// lookupPath finds the object at the request's path parameter.
func (c *call) lookupPath() (*wsfsNode, error) {
	raw := c.r.URL.Query().Get("path")
	if raw == "" {
		return nil, restErr(http.StatusBadRequest, errInvalidParameter, "Missing required field: path")
	}
	n := c.s.wsfs(c.ws).byPath[cleanWSPath(raw)]
	if n == nil || (n.path != "/" && !c.seesNode(n)) {
		return nil, restErr(http.StatusNotFound, errResourceDoesNotExist, "Path (%s) doesn't exist.", raw)
	}
	return n, nil
}

func wsfsGetStatus(c *call) error {
	n, err := c.lookupPath()
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, renderObjectInfo(n))
}

func wsfsList(c *call) error {
	n, err := c.lookupPath()
	if err != nil {
		return err
	}
	if n.typ != "DIRECTORY" {
		return c.reply(http.StatusOK, map[string]any{"objects": []wireObjectInfo{renderObjectInfo(n)}})
	}
	var out []wireObjectInfo
	for _, ch := range n.children {
		if c.seesNode(ch) {
			out = append(out, renderObjectInfo(ch))
		}
	}
	if len(out) == 0 {
		return c.reply(http.StatusOK, struct{}{})
	}
	return c.reply(http.StatusOK, map[string]any{"objects": out})
}

type wireRepo struct {
	ID           int64  `json:"id"`
	Path         string `json:"path"`
	URL          string `json:"url"`
	Provider     string `json:"provider"`
	Branch       string `json:"branch,omitempty"`
	HeadCommitID string `json:"head_commit_id"`
}

func renderRepo(n *wsfsNode) wireRepo {
	return wireRepo{ID: n.id, Path: n.path, URL: n.repo.URL, Provider: cmp.Or(n.repo.Provider, "gitHub"),
		Branch: cmp.Or(n.repo.Branch, "main"), HeadCommitID: fmt.Sprintf("%040x", n.id)}
}

func wsfsListRepos(c *call) error {
	prefix := c.r.URL.Query().Get("path_prefix")
	p := cleanWSPath(prefix)
	if p == "" || p == "/" {
		p = "/Repos"
	}
	var sel []*wsfsNode
	for _, n := range c.s.wsfs(c.ws).repos {
		if strings.HasPrefix(n.path, p) && c.s.canManage(c, "repos", strconv.FormatInt(n.id, 10)) {
			sel = append(sel, n)
		}
	}
	from := 0
	if t := c.r.URL.Query().Get("next_page_token"); t != "" {
		var err error
		if from, err = parsePageToken("repos:"+p, t); err != nil {
			return err
		}
	}
	from = min(from, len(sel))
	to := min(from+reposPage, len(sel))
	resp := struct {
		Repos         []wireRepo `json:"repos,omitempty"`
		NextPageToken string     `json:"next_page_token,omitempty"`
	}{}
	for _, n := range sel[from:to] {
		resp.Repos = append(resp.Repos, renderRepo(n))
	}
	if to < len(sel) {
		resp.NextPageToken = pageToken("repos:"+p, to)
	}
	return c.reply(http.StatusOK, resp)
}

func wsfsGetRepo(c *call) error {
	id := c.r.PathValue("repo_id")
	n := c.s.wsfs(c.ws).byID["repos/"+id]
	if n == nil || !c.seesNode(n) {
		return restErr(http.StatusNotFound, errResourceDoesNotExist, "Repo %s does not exist.", id)
	}
	return c.reply(http.StatusOK, renderRepo(n))
}
