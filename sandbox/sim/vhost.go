package sim

import (
	"fmt"
	"sort"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// VirtualHost is a compiled virtual host.
type VirtualHost struct {
	Name  string
	Index int
	proto *routev3.VirtualHost

	requireTLS      routev3.VirtualHost_TlsRequirementType
	routes          []*Route
	index           routeIndex
	virtualClusters []virtualCluster
	reqHeaders      *headerMutation
	respHeaders     *headerMutation
	retry           *routev3.RetryPolicy
}

type virtualCluster struct {
	name    string
	headers []*HeaderMatcher
}

// Routes returns the compiled routes in configuration order.
func (v *VirtualHost) Routes() []*Route { return v.routes }

// Proto returns the virtual host as configured.
func (v *VirtualHost) Proto() *routev3.VirtualHost { return v.proto }

// VirtualCluster returns the name of the first virtual cluster whose
// header matchers all match, "other" when the host defines virtual
// clusters but none matches, and "" when it defines none.
func (v *VirtualHost) VirtualCluster(h Headers) string {
	if len(v.virtualClusters) == 0 {
		return ""
	}
	for _, vc := range v.virtualClusters {
		ok := true
		for _, m := range vc.headers {
			if !m.Match(h) {
				ok = false
				break
			}
		}
		if ok {
			return vc.name
		}
	}
	return "other"
}

func (r *Router) compileVirtualHost(i int, vh *routev3.VirtualHost) (*VirtualHost, []string) {
	v := &VirtualHost{Name: vh.GetName(), Index: i, proto: vh, requireTLS: vh.GetRequireTls(), retry: vh.GetRetryPolicy()}
	var errs []string
	var err error
	if vh.GetMatcher() != nil {
		errs = append(errs, "matcher (generic matching tree) is not supported by the simulator")
	}
	if v.reqHeaders, err = newHeaderMutation(vh.GetRequestHeadersToAdd(), vh.GetRequestHeadersToRemove()); err != nil {
		errs = append(errs, "request_headers_to_add: "+err.Error())
	}
	if v.respHeaders, err = newHeaderMutation(vh.GetResponseHeadersToAdd(), vh.GetResponseHeadersToRemove()); err != nil {
		errs = append(errs, "response_headers_to_add: "+err.Error())
	}
	for j, vc := range vh.GetVirtualClusters() {
		c := virtualCluster{name: vc.GetName()}
		for _, h := range vc.GetHeaders() {
			m, err := NewHeaderMatcher(h)
			if err != nil {
				errs = append(errs, fmt.Sprintf("virtual_clusters[%d]: %v", j, err))
				continue
			}
			c.headers = append(c.headers, m)
		}
		v.virtualClusters = append(v.virtualClusters, c)
	}
	for j, rt := range vh.GetRoutes() {
		route, rerrs := r.compileRoute(v, j, rt)
		for _, e := range rerrs {
			errs = append(errs, fmt.Sprintf("routes[%d]: %s", j, e))
		}
		v.routes = append(v.routes, route)
	}
	v.index = buildIndex(v.routes)
	return v, errs
}

// Route is a compiled route: its match conditions and its action.
type Route struct {
	VirtualHost *VirtualHost
	Index       int
	Name        string
	proto       *routev3.Route

	runtimeKey     string
	runtimeDefault *fractionalPercent
	grpc           bool
	headers        []*HeaderMatcher
	query          []*queryMatcher
	tlsPresented   *bool
	tlsValidated   *bool
	metadata       []*metadataMatcher
	filterState    bool
	path           *pathMatcher
	pathDesc       string

	action *action
}

// Proto returns the route as configured.
func (rt *Route) Proto() *routev3.Route { return rt.proto }

// Reasons a route did not match, precomputed so that matching does not
// build strings.
const (
	reasonRuntime     = "runtime_fraction disabled"
	reasonGrpc        = "not a gRPC request (content-type)"
	reasonTLS         = "tls_context does not match"
	reasonFilterState = "filter_state matchers are not simulated"
	reasonInvalid     = "route is invalid"
)

func (r *Router) compileRoute(v *VirtualHost, j int, rt *routev3.Route) (*Route, []string) {
	route := &Route{VirtualHost: v, Index: j, Name: rt.GetName(), proto: rt}
	var errs []string
	m := rt.GetMatch()
	if m == nil {
		return route, []string{"match is required"}
	}
	pm, err := newPathMatcher(m)
	if err != nil {
		errs = append(errs, err.Error())
	} else {
		route.path = pm
		route.pathDesc = pm.String()
	}
	if rf := m.GetRuntimeFraction(); rf != nil {
		route.runtimeKey = rf.GetRuntimeKey()
		route.runtimeDefault = newFractionalPercent(rf.GetDefaultValue())
	}
	if m.GetGrpc() != nil {
		route.grpc = true
	}
	for _, h := range m.GetHeaders() {
		hm, err := NewHeaderMatcher(h)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		route.headers = append(route.headers, hm)
	}
	for _, q := range m.GetQueryParameters() {
		qm, err := newQueryMatcher(q)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		route.query = append(route.query, qm)
	}
	if tc := m.GetTlsContext(); tc != nil {
		if p := tc.GetPresented(); p != nil {
			b := p.GetValue()
			route.tlsPresented = &b
		}
		if p := tc.GetValidated(); p != nil {
			b := p.GetValue()
			route.tlsValidated = &b
		}
	}
	for _, dm := range m.GetDynamicMetadata() {
		mm, err := newMetadataMatcher(dm)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		route.metadata = append(route.metadata, mm)
	}
	route.filterState = len(m.GetFilterState()) > 0
	if len(m.GetCookies()) > 0 {
		errs = append(errs, "cookie matchers are not supported by the simulator")
	}
	act, aerrs := r.compileAction(route, rt)
	route.action = act
	errs = append(errs, aerrs...)
	return route, errs
}

func isGrpcContentType(ct string) bool {
	const g = "application/grpc"
	return strings.HasPrefix(ct, g) && (len(ct) == len(g) || ct[len(g)] == '+' || ct[len(g)] == ';')
}

// matches checks the route in Envoy's order: runtime_fraction, grpc,
// headers, query parameters, tls_context, dynamic metadata, filter state,
// then the path. On failure it names the failed condition.
func (rt *Route) matches(r *Router, req *Request, path, query string, random uint64) (bool, string) {
	if rt.path == nil || rt.action == nil {
		return false, reasonInvalid
	}
	if rt.runtimeDefault != nil && !r.runtime.FeatureEnabled(rt.runtimeKey, rt.runtimeDefault.proto, random) {
		return false, reasonRuntime
	}
	if rt.grpc {
		ct, _ := req.Headers.Get("content-type")
		if !isGrpcContentType(ct) {
			return false, reasonGrpc
		}
	}
	for _, h := range rt.headers {
		if !h.Match(req.Headers) {
			return false, h.desc
		}
	}
	for _, q := range rt.query {
		if !q.match(query) {
			return false, q.desc
		}
	}
	if rt.tlsPresented != nil && *rt.tlsPresented != req.TLS {
		return false, reasonTLS
	}
	if rt.tlsValidated != nil && *rt.tlsValidated != req.TLSValidated {
		return false, reasonTLS
	}
	for _, m := range rt.metadata {
		if !m.match(req.Metadata) {
			return false, m.desc
		}
	}
	if rt.filterState {
		return false, reasonFilterState
	}
	method, _ := req.Headers.Get(":method")
	if !rt.path.match(path, method) {
		return false, rt.pathDesc
	}
	return true, ""
}

// splitPath splits :path into the path used for matching and the raw query.
func (r *Router) splitPath(p string) (string, string) {
	path, query := p, ""
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		path = p[:i]
		if p[i] == '?' {
			query = p[i+1:]
			if j := strings.IndexByte(query, '#'); j >= 0 {
				query = query[:j]
			}
		}
	}
	if r.stripParams && strings.IndexByte(path, ';') >= 0 {
		path = stripPathParams(path)
	}
	return path, query
}

// stripPathParams removes ";params" from every segment, as Envoy's
// ignore_path_parameters_in_path_matching does.
func stripPathParams(p string) string {
	var b strings.Builder
	for len(p) > 0 {
		i := strings.IndexByte(p, ';')
		if i < 0 {
			b.WriteString(p)
			break
		}
		b.WriteString(p[:i])
		p = p[i:]
		j := strings.IndexByte(p, '/')
		if j < 0 {
			break
		}
		p = p[j:]
	}
	return b.String()
}

// match returns the first matching route, using the index.
func (v *VirtualHost) match(r *Router, req *Request, random uint64) *Route {
	p, _ := req.Headers.Get(":path")
	path, query := r.splitPath(p)
	s := scan{r: r, v: v, req: req, path: path, query: query, random: random, best: int32(len(v.routes))}
	v.index.candidates(path, &s)
	if int(s.best) < len(v.routes) {
		return v.routes[s.best]
	}
	return nil
}

type scan struct {
	r           *Router
	v           *VirtualHost
	req         *Request
	path, query string
	random      uint64
	best        int32
}

// try checks a sorted candidate list and lowers best to the first route
// in it that matches, if that is earlier than the current best.
func (s *scan) try(list []int32) {
	for _, i := range list {
		if i >= s.best {
			return
		}
		if ok, _ := s.v.routes[i].matches(s.r, s.req, s.path, s.query, s.random); ok {
			s.best = i
			return
		}
	}
}

// RouteTrace records how one route fared against a request.
type RouteTrace struct {
	Index   int    `json:"index"`
	Name    string `json:"name,omitempty"`
	Path    string `json:"path"`
	Matched bool   `json:"matched"`
	// Failed names the first condition that did not match.
	Failed string `json:"failed,omitempty"`
}

// fullTraceLimit is the table size up to which a trace lists every route;
// larger tables list only the routes whose path could match, since the
// rest cannot matter to someone debugging the request.
const fullTraceLimit = 256

// trace tries routes in order, like Envoy's linear scan, and records each
// verdict up to and including the first match. It also returns how many
// routes were left out of the trace because their path cannot match.
func (v *VirtualHost) trace(r *Router, req *Request, random uint64) (*Route, []RouteTrace, int) {
	p, _ := req.Headers.Get(":path")
	path, query := r.splitPath(p)
	var order []int32
	if len(v.routes) <= fullTraceLimit {
		order = make([]int32, len(v.routes))
		for i := range order {
			order[i] = int32(i)
		}
	} else {
		order = v.index.collect(path)
	}
	var out []RouteTrace
	for _, i := range order {
		rt := v.routes[i]
		ok, why := rt.matches(r, req, path, query, random)
		out = append(out, RouteTrace{Index: rt.Index, Name: rt.Name, Path: rt.pathDesc, Matched: ok, Failed: why})
		if ok {
			return rt, out, int(i) + 1 - len(out)
		}
	}
	return nil, out, len(v.routes) - len(out)
}

// routeIndex narrows the routes worth trying for a path while keeping
// first-match-in-order: prefix/exact/path-separated routes sit in byte
// tries keyed by their value, regex and template routes under their
// literal prefix, and the rest (CONNECT) is always tried. Every candidate
// still runs its full matcher, so the index only skips impossible routes.
type routeIndex struct {
	cs     *trieNode // case-sensitive values
	ci     *trieNode // case-insensitive values, lower-cased
	always []int32
}

type trieNode struct {
	labels   []byte
	children []*trieNode
	prefix   []int32 // prefix routes ending here
	exact    []int32 // exact-path routes ending here
	sep      []int32 // path_separated_prefix routes ending here
}

func (n *trieNode) child(c byte) *trieNode {
	for i, l := range n.labels {
		if l == c {
			return n.children[i]
		}
	}
	return nil
}

func (n *trieNode) insert(key string) *trieNode {
	for i := 0; i < len(key); i++ {
		next := n.child(key[i])
		if next == nil {
			next = &trieNode{}
			n.labels = append(n.labels, key[i])
			n.children = append(n.children, next)
		}
		n = next
	}
	return n
}

// sortChildren orders children by label so lookups can binary search
// wide nodes.
func (n *trieNode) finish() {
	if len(n.labels) > 1 {
		idx := make([]int, len(n.labels))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return n.labels[idx[a]] < n.labels[idx[b]] })
		labels := make([]byte, len(idx))
		children := make([]*trieNode, len(idx))
		for i, j := range idx {
			labels[i], children[i] = n.labels[j], n.children[j]
		}
		n.labels, n.children = labels, children
	}
	for _, c := range n.children {
		c.finish()
	}
}

func (n *trieNode) find(c byte) *trieNode {
	if len(n.labels) <= 8 {
		return n.child(c)
	}
	lo, hi := 0, len(n.labels)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case n.labels[m] == c:
			return n.children[m]
		case n.labels[m] < c:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}

func buildIndex(routes []*Route) routeIndex {
	idx := routeIndex{cs: &trieNode{}, ci: &trieNode{}}
	for i, rt := range routes {
		if rt.path == nil {
			continue // invalid; the configuration is rejected anyway
		}
		root, key := idx.cs, rt.path.value
		if !rt.path.caseSensitive {
			root, key = idx.ci, strings.ToLower(key)
		}
		switch rt.path.kind {
		case pathPrefix:
			n := root.insert(key)
			n.prefix = append(n.prefix, int32(i))
		case pathExact:
			n := root.insert(key)
			n.exact = append(n.exact, int32(i))
		case pathSeparatedPrefix:
			n := root.insert(key)
			n.sep = append(n.sep, int32(i))
		case pathRegex, pathTemplate:
			// Any match must start with the pattern's literal prefix, so
			// the route is filed under it like a prefix route.
			re := rt.path.re
			if re == nil {
				re = rt.path.tmpl.re
			}
			lit, _ := re.LiteralPrefix()
			n := idx.cs.insert(lit)
			n.prefix = append(n.prefix, int32(i))
		default:
			idx.always = append(idx.always, int32(i))
		}
	}
	idx.cs.finish()
	idx.ci.finish()
	return idx
}

func (idx *routeIndex) candidates(path string, s *scan) {
	s.try(idx.always)
	walk(idx.cs, path, false, s)
	walk(idx.ci, path, true, s)
}

func walk(n *trieNode, path string, lower bool, s *scan) {
	for i := 0; ; i++ {
		s.try(n.prefix)
		if i == len(path) {
			s.try(n.exact)
			s.try(n.sep)
			return
		}
		if path[i] == '/' {
			s.try(n.sep)
		}
		c := path[i]
		if lower && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if n = n.find(c); n == nil {
			return
		}
	}
}

// collect returns, in route order, every route the index would consider
// for path.
func (idx *routeIndex) collect(path string) []int32 {
	out := append([]int32(nil), idx.always...)
	for _, root := range []*trieNode{idx.cs, idx.ci} {
		n := root
		for i := 0; n != nil; i++ {
			out = append(out, n.prefix...)
			if i == len(path) {
				out = append(out, n.exact...)
				out = append(out, n.sep...)
				break
			}
			if path[i] == '/' {
				out = append(out, n.sep...)
			}
			c := path[i]
			if root == idx.ci && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			n = n.find(c)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}
