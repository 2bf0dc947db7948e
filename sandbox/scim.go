package sandbox

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dbiam/dbiam/sandbox/scimexpr"
)

func init() {
	registerFamily(family{name: "scim", routes: registerSCIM})
}

// SCIM base paths.
const (
	wsSCIMBase        = "/api/2.0/preview/scim/v2"
	accountSCIMBase   = "/api/2.0/accounts/{account_id}/scim/v2"
	accountSCIMBase21 = "/api/2.1/accounts/{account_id}/scim/v2"
	proxiedSCIMBase   = "/api/2.0/account/scim/v2" // workspace-proxied account SCIM (UCX), reads only
)

func registerSCIM(s *Server) {
	kinds := []kind{kindUser, kindGroup, kindSP}
	for _, k := range kinds {
		coll := wsSCIMBase + "/" + k.resource()
		item := coll + "/{id}"
		ws := route{scope: scopeWorkspace, scim: true}
		s.handle(with(ws, "GET", coll, ClassSCIMRead, accessMember, false, s.scimList(k, false)))
		s.handle(with(ws, "GET", item, ClassSCIMRead, accessMember, false, s.scimGet(k, false)))
		s.handle(with(ws, "POST", coll, ClassSCIMWrite, accessWorkspaceAdmin, true, s.scimCreate(k)))
		s.handle(with(ws, "PUT", item, ClassSCIMWrite, accessWorkspaceAdmin, true, s.scimReplace(k)))
		s.handle(with(ws, "PATCH", item, ClassSCIMPatch, accessWorkspaceAdmin, true, s.scimPatch(k)))
		s.handle(with(ws, "DELETE", item, ClassSCIMWrite, accessWorkspaceAdmin, true, s.scimDelete(k)))

		for _, base := range []string{accountSCIMBase, accountSCIMBase21} {
			coll := base + "/" + k.resource()
			item := coll + "/{id}"
			acct := route{scope: scopeAccount, scim: true}
			s.handle(with(acct, "GET", coll, ClassAccountSCIMRead, accessAccountAdmin, false, s.scimList(k, true)))
			s.handle(with(acct, "GET", item, ClassAccountSCIMRead, accessAccountAdmin, false, s.scimGet(k, true)))
			s.handle(with(acct, "POST", coll, ClassAccountSCIMWrite, accessAccountAdmin, true, s.scimCreate(k)))
			s.handle(with(acct, "PUT", item, ClassAccountSCIMWrite, accessAccountAdmin, true, s.scimReplace(k)))
			s.handle(with(acct, "PATCH", item, ClassAccountSCIMPatch, accessAccountAdmin, true, s.scimPatch(k)))
			s.handle(with(acct, "DELETE", item, ClassAccountSCIMWrite, accessAccountAdmin, true, s.scimDelete(k)))
		}

		coll = proxiedSCIMBase + "/" + k.resource()
		s.handle(with(ws, "GET", coll, ClassSCIMRead, accessWorkspaceAdmin, false, s.scimList(k, true)))
		s.handle(with(ws, "GET", coll+"/{id}", ClassSCIMRead, accessWorkspaceAdmin, false, s.scimGet(k, true)))
	}
	s.handle(route{method: "GET", pattern: wsSCIMBase + "/Me", class: ClassSCIMRead, scope: scopeWorkspace,
		scim: true, access: accessMember, handle: s.scimMe})
}

func with(base route, method, pattern, class string, a access, write bool, h func(*call) error) route {
	base.method, base.pattern, base.class, base.access, base.write, base.handle = method, pattern, class, a, write, h
	return base
}

// scope returns the workspace a SCIM call addresses (nil for account SCIM).
func scope(c *call, account bool) *workspace {
	if account || c.rt.scope == scopeAccount {
		return nil
	}
	return c.ws
}

func notFound(k kind, id string) *apiError {
	name := map[kind]string{kindUser: "User", kindSP: "Service principal", kindGroup: "Group"}[k]
	return scimErr(http.StatusNotFound, "", "%s with id %s not found.", name, id)
}

func fromExpr(err error) *apiError {
	var e *scimexpr.Error
	if errors.As(err, &e) {
		return scimErr(http.StatusBadRequest, e.SCIMType, "%s", e.Detail)
	}
	return scimErr(http.StatusBadRequest, "invalidSyntax", "%s", detailUnparsable)
}

// Filter dialects (Options.FilterDialect).
const (
	// FilterStrict accepts only what Databricks documents (strictFilter);
	// anything else is refused as the service refuses an unsupported filter.
	FilterStrict = "strict"
	// FilterLenient accepts the full RFC 7644 filter grammar on any
	// attribute (an unknown attribute matches nothing).
	FilterLenient = "lenient"
)

// Databricks's reply to a filter it does not support, as recorded in public
// issue threads (databricks-sdk-py#90, terraform-provider-databricks#506):
// 400, scimType "InvalidFilter" (capital I), this detail.
const (
	scimTypeInvalidFilterDatabricks = "InvalidFilter"
	detailFilterNotSupported        = "Given filter operator is not supported."
)

// headerSandboxDetail carries, next to an error body that copies the
// service's text, the sandbox's own explanation (which construct of a
// filter the strict dialect refused, and where).
const headerSandboxDetail = "X-Sandbox-Detail"

// strictFilter is the filter dialect of FilterStrict for resources of kind
// k: the operators the SDK documents on every SCIM list request (v0.175.0
// service/iam/model.go: "Supported operators are equals(eq), contains(co),
// starts with(sw) and not equals(ne). Additionally, simple expressions can
// be formed using logical operators - and and or ... we currently only
// support simple expressions"), with JSON string values, on the attributes
// public clients are seen filtering on (Terraform provider scim/: userName,
// displayName, applicationId, id; SDK and UCX integration tests:
// displayName). Parentheses, not, value paths, sub-attributes, schema
// prefixes, other operators and attributes (externalId, emails, meta, ...)
// are refused: the public record does not show the service accepting them.
// The older Azure Databricks SCIM docs say admins can filter users on
// active, but not how its value is written, so active is refused too.
func strictFilter(k kind) scimexpr.Dialect {
	d := scimexpr.Dialect{Operators: []string{"eq", "ne", "co", "sw"}}
	switch k {
	case kindUser:
		d.Attributes = []string{"id", "userName", "displayName"}
	case kindSP:
		d.Attributes = []string{"id", "applicationId", "displayName"}
	default:
		d.Attributes = []string{"id", "displayName"}
	}
	return d
}

// listQuery holds the parsed SCIM list parameters.
type listQuery struct {
	filter     *scimexpr.Filter
	attributes []string
	excluded   []string
	startIndex int
	count      int
	sortBy     string
	descending bool
}

func splitList(v url.Values, key string) []string {
	var out []string
	for _, s := range v[key] {
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}

// parseListQuery reads filter, attributes, excludedAttributes, startIndex
// (1-based; values below 1 mean 1), count (absent: the page cap; clamped to
// the page cap; 0 returns no resources, only totalResults), sortBy and
// sortOrder (ascending/descending, any case). A non-nil strict dialect
// refuses every filter outside it, and every filter that does not parse,
// with the service's error (filterNotSupported).
func parseListQuery(v url.Values, pageCap int, account bool, strict *scimexpr.Dialect) (*listQuery, *apiError) {
	q := &listQuery{startIndex: 1, count: pageCap,
		attributes: splitList(v, "attributes"), excluded: splitList(v, "excludedAttributes"),
		sortBy: strings.TrimSpace(v.Get("sortBy"))}
	if f := strings.TrimSpace(v.Get("filter")); f != "" {
		parsed, err := scimexpr.ParseFilter(f)
		if err == nil && strict != nil {
			err = parsed.Check(*strict)
		}
		if err != nil && strict != nil {
			return nil, filterNotSupported(err)
		}
		if err != nil {
			return nil, fromExpr(err)
		}
		if account && parsed.Nodes() > accountFilterNodeLimit {
			return nil, scimErr(http.StatusBadRequest, "invalidFilter",
				"INVALID_FILTER: the filter has %d nodes; the limit is %d.", parsed.Nodes(), accountFilterNodeLimit)
		}
		q.filter = parsed
	}
	if s := strings.TrimSpace(v.Get("startIndex")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, scimErr(http.StatusBadRequest, "invalidValue", "startIndex %q is not an integer.", s)
		}
		q.startIndex = max(1, n)
	}
	if s := strings.TrimSpace(v.Get("count")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, scimErr(http.StatusBadRequest, "invalidValue", "count %q is not an integer.", s)
		}
		q.count = min(max(0, n), pageCap)
	}
	switch o := strings.ToLower(strings.TrimSpace(v.Get("sortOrder"))); o {
	case "", "ascending":
	case "descending":
		q.descending = true
	default:
		return nil, scimErr(http.StatusBadRequest, "invalidValue", "sortOrder %q is not ascending or descending.", v.Get("sortOrder"))
	}
	return q, nil
}

// filterNotSupported is the service's reply to a filter it does not
// support; err (a *scimexpr.Error) says why, in the X-Sandbox-Detail header.
func filterNotSupported(err error) *apiError {
	e := scimErr(http.StatusBadRequest, scimTypeInvalidFilterDatabricks, "%s", detailFilterNotSupported)
	var se *scimexpr.Error
	if errors.As(err, &se) {
		e.header = map[string]string{headerSandboxDetail: se.Detail}
	}
	return e
}

type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

func (s *Server) scimList(k kind, account bool) func(*call) error {
	return func(c *call) error {
		w := scope(c, account)
		var strict *scimexpr.Dialect
		if s.opts.FilterDialect != FilterLenient {
			d := strictFilter(k)
			strict = &d
		}
		q, e := parseListQuery(c.r.URL.Query(), s.opts.PageCap, w == nil, strict)
		if e != nil {
			return e
		}
		st := s.st
		// The page is rendered without the computed attributes the reply
		// leaves out.
		pr := scimexpr.NewProjection(q.attributes, q.excluded)
		v := view{ws: w, list: true, now: c.now, delay: s.opts.Consistency, omit: dropped(pr)}
		if k == kindGroup && w == nil && !s.opts.AccountListMembers {
			v.omit |= heavyMembers
		}
		cands := st.listedAll(k, w, c.now, s.opts.Consistency)
		var page []map[string]any
		total := len(cands)
		from := q.startIndex - 1
		if q.filter == nil && q.sortBy == "" {
			// Render only the page.
			if from < total {
				for _, p := range cands[from:min(total, from+q.count)] {
					page = append(page, st.render(p, v))
				}
			}
		} else {
			// Match and sort on a light rendering when the filter and
			// sortBy cannot refer to the computed attributes; render the
			// returned page in full.
			mv := v
			mv.omit = 0
			if !mentionsHeavy(q.sortBy) && (q.filter == nil || !mentionsHeavy(q.filter.String())) {
				mv.omit = allHeavy
			}
			type item struct {
				p   *principal
				m   map[string]any
				key any
			}
			var all []item
			for _, p := range cands {
				m := st.render(p, mv)
				if q.filter == nil || q.filter.Match(m) {
					it := item{p: p, m: m}
					if q.sortBy != "" {
						it.key, _ = scimexpr.Get(m, q.sortBy)
					}
					all = append(all, it)
				}
			}
			if q.sortBy != "" {
				// Stable, so ties keep creation order; absent values sort last
				// in both orders.
				slices.SortStableFunc(all, func(a, b item) int {
					if q.descending && a.key != nil && b.key != nil {
						return scimexpr.Compare(b.key, a.key)
					}
					return scimexpr.Compare(a.key, b.key)
				})
			}
			total = len(all)
			if from < total {
				for _, it := range all[from:min(total, from+q.count)] {
					if mv.omit&^v.omit != 0 {
						it.m = st.render(it.p, v)
					}
					page = append(page, it.m)
				}
			}
		}
		out := listResponse{Schemas: []string{schemaListResponse}, TotalResults: total,
			StartIndex: q.startIndex, Resources: make([]map[string]any, 0, len(page))}
		for _, m := range page {
			if k == kindGroup && w == nil && !s.opts.AccountListMembers {
				delete(m, "members") // rendered for a filter
			}
			out.Resources = append(out.Resources, pr.ApplyInPlace(m))
		}
		out.ItemsPerPage = len(out.Resources)
		return c.reply(http.StatusOK, out)
	}
}

// projection parses a request's attributes and excludedAttributes. Replies
// apply it in place (ApplyInPlace) to renderings made for them alone.
func projection(q url.Values) *scimexpr.Projection {
	return scimexpr.NewProjection(splitList(q, "attributes"), splitList(q, "excludedAttributes"))
}

// lookup finds the live principal of kind k with the request's {id} in
// scope w.
func (s *Server) lookup(c *call, k kind, w *workspace) (*principal, *apiError) {
	id := c.r.PathValue("id")
	p := s.st.get(id)
	if p == nil || p.kind != k || !s.st.inScope(w, p) {
		return nil, notFound(k, id)
	}
	return p, nil
}

func (s *Server) scimGet(k kind, account bool) func(*call) error {
	return func(c *call) error {
		w := scope(c, account)
		p, e := s.lookup(c, k, w)
		if e != nil {
			return e
		}
		q := c.r.URL.Query()
		pr := projection(q)
		m := s.st.render(p, view{ws: w, now: c.now, omit: dropped(pr)})
		return c.reply(http.StatusOK, pr.ApplyInPlace(m))
	}
}

// scimMe answers /Me with the principal acting for the caller in the
// workspace (in a workspace without identity federation, the workspace's own
// user with the caller's user name; a service principal is shown as a user
// whose userName is its application id) and the X-Databricks-Org-Id header.
func (s *Server) scimMe(c *call) error {
	p := c.actor
	if p == nil || !p.live() {
		return scimErr(http.StatusNotFound, "", "The caller no longer exists.")
	}
	q := c.r.URL.Query()
	pr := projection(q)
	m := s.st.render(p, view{ws: c.ws, now: c.now, omit: dropped(pr)})
	if p.kind == kindSP {
		m["schemas"] = []any{schemaUser, schemaUserWorkspace}
		m["userName"] = p.applicationID
	}
	c.w.Header().Set("X-Databricks-Org-Id", strconv.FormatInt(c.ws.id, 10))
	return c.reply(http.StatusOK, pr.ApplyInPlace(m))
}

func (s *Server) scimCreate(k kind) func(*call) error {
	return func(c *call) error {
		w := scope(c, false)
		var body map[string]any
		if err := c.decode(&body); err != nil {
			return err
		}
		if body == nil {
			return scimErr(http.StatusBadRequest, "invalidSyntax", "%s", detailUnparsable)
		}
		f, e := extract(body)
		if e != nil {
			return e
		}
		p, e := s.create(c, k, w, f)
		if e != nil {
			return e
		}
		return c.reply(http.StatusCreated, s.st.render(p, view{ws: w, now: c.now}))
	}
}

func (s *Server) scimReplace(k kind) func(*call) error {
	return func(c *call) error {
		w := scope(c, false)
		p, e := s.lookup(c, k, w)
		if e != nil {
			return e
		}
		var body map[string]any
		if err := c.decode(&body); err != nil {
			return err
		}
		if body == nil {
			return scimErr(http.StatusBadRequest, "invalidSyntax", "%s", detailUnparsable)
		}
		nu, e := extract(body)
		if e != nil {
			return e
		}
		old, e := extract(s.st.render(p, view{ws: w, now: c.now}))
		if e != nil {
			return e
		}
		if e := s.update(c, p, w, old, nu, true); e != nil {
			return e
		}
		return c.reply(http.StatusOK, s.st.render(p, view{ws: w, now: c.now}))
	}
}

func (s *Server) scimPatch(k kind) func(*call) error {
	return func(c *call) error {
		w := scope(c, false)
		p, e := s.lookup(c, k, w)
		if e != nil {
			return e
		}
		b, err := c.body()
		if err != nil {
			return err
		}
		ops, err := scimexpr.DecodePatch(b)
		if err != nil {
			return fromExpr(err)
		}
		res := s.st.render(p, view{ws: w, now: c.now})
		// extract copies what it reads, so the patch below leaves old as
		// it was.
		old, e := extract(res)
		if e != nil {
			return e
		}
		if err := scimexpr.Apply(res, ops); err != nil {
			return fromExpr(err)
		}
		nu, e := extract(res)
		if e != nil {
			return e
		}
		if e := s.update(c, p, w, old, nu, false); e != nil {
			return e
		}
		if s.opts.PatchStatus == http.StatusOK {
			return c.reply(http.StatusOK, struct{}{})
		}
		return c.noContent()
	}
}

func (s *Server) scimDelete(k kind) func(*call) error {
	return func(c *call) error {
		w := scope(c, false)
		p, e := s.lookup(c, k, w)
		if e != nil {
			return e
		}
		if e := s.delete(c, p, w); e != nil {
			return e
		}
		return c.noContent()
	}
}
