package translate

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// Translator translates one gateway again and again, reusing the routes of
// rules and the clusters of upstreams that did not change since the last
// call, so a one-rule edit costs about one rule. The ADS server keeps one per
// gateway. It is safe for concurrent use (calls are serialised).
type Translator struct {
	mu       sync.Mutex
	enc      keyEncoder
	rules    map[string]*compiledRule
	clusters map[string]*compiledCluster
	vhosts   map[string]*vhostEntry
	// domains is the host pattern set of the previous call; placements
	// cached on rules are valid only while it is unchanged.
	domains    map[string]hostPattern
	vs         *vhostSet
	generation int
	scratch    [][]*routev3.Route
}

// NewTranslator returns a Translator with empty caches.
func NewTranslator() *Translator {
	return &Translator{
		rules:    map[string]*compiledRule{},
		clusters: map[string]*compiledCluster{},
		vhosts:   map[string]*vhostEntry{},
	}
}

// compiledRule is one rule's translation, valid while its key is unchanged.
type compiledRule struct {
	key      []byte
	name     string
	priority int
	index    int // position in the workspace, for error paths
	terms    []compiledTerm
	hosts    map[string]hostPattern
	use      filterUse
	err      error
	// placed caches where the terms went for vhost set generation gen.
	gen    int
	placed []placedRoute
}

type compiledTerm struct {
	t     term
	route *routev3.Route // without :authority matchers
	rr    ruleRoute
}

type placedRoute struct {
	vhost int
	route *routev3.Route
}

type compiledCluster struct {
	key     []byte
	cluster *clusterv3.Cluster
	cla     *endpointv3.ClusterLoadAssignment
	err     error
}

type vhostEntry struct {
	routes []*routev3.Route
	vh     *routev3.VirtualHost
}

// Translate translates the named gateway of ws; see Gateway.
func (t *Translator) Translate(ws model.Workspace, gateway string, opts Options) (*Resources, error) {
	t.mu.Lock()
	defer t.mu.Unlock()

	var gw *model.Gateway
	gwIndex := -1
	for i := range ws.Gateways {
		if ws.Gateways[i].Name == gateway {
			gw, gwIndex = &ws.Gateways[i], i
		}
	}
	if gw == nil {
		return nil, model.Errorf(model.ENOTFOUND, "gateway %q not found", gateway)
	}

	var problems model.Problems
	ups := make(map[string]*model.Upstream, len(ws.Upstreams))
	for i := range ws.Upstreams {
		u := &ws.Upstreams[i]
		if _, dup := ups[u.Name]; dup {
			problems.Add(model.Index("upstreams", i)+".name", "duplicate upstream name %q", u.Name)
		}
		ups[u.Name] = u
	}

	rules := t.compileRules(ws.Routes, gateway, ups, &problems)
	clusters, clas := t.compileClusters(ws.Upstreams, opts, &problems)

	var use filterUse
	providers := map[string]*jwtv3.JwtProvider{}
	for _, r := range rules {
		use.merge(r.use, r.name, providers)
	}
	var defaultRt *routev3.Route
	if gw.DefaultResponse != nil {
		var err error
		if defaultRt, err = defaultRoute(gw.DefaultResponse); err != nil {
			mergeProblems(&problems, model.Index("gateways", gwIndex), fmt.Sprintf("gateway %q", gw.Name), err)
		}
	}
	listeners, err := buildListeners(gw, use, providers)
	if err != nil {
		mergeProblems(&problems, model.Index("gateways", gwIndex), fmt.Sprintf("gateway %q", gw.Name), err)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}

	rc, err := t.routeConfig(gw.Name, rules, defaultRt)
	if err != nil {
		return nil, err
	}
	return &Resources{
		Listeners: listeners,
		Routes:    []*routev3.RouteConfiguration{rc},
		Clusters:  clusters,
		Endpoints: clas,
	}, nil
}

// compileRules returns the gateway's enabled rules in priority order (higher
// first, then name), translating only the ones whose key changed.
func (t *Translator) compileRules(routes []model.Route, gateway string, ups map[string]*model.Upstream, problems *model.Problems) []*compiledRule {
	out := make([]*compiledRule, 0, len(routes))
	seen := make(map[string]bool, len(routes))
	for i := range routes {
		r := &routes[i]
		if r.Gateway != gateway || r.Disabled {
			continue
		}
		if seen[r.Name] {
			problems.Add(model.Index("routes", i)+".name", "duplicate route name %q", r.Name)
			continue
		}
		seen[r.Name] = true
		t.enc.reset()
		t.enc.route(r)
		for _, name := range referencedUpstreams(r) {
			t.enc.str(name)
			t.enc.upstreamRef(ups[name])
		}
		c := t.rules[r.Name]
		if c == nil || !bytes.Equal(c.key, t.enc.b) {
			c = compileRule(r, ups)
			c.key = bytes.Clone(t.enc.b)
			t.rules[r.Name] = c
		}
		c.index = i
		if c.err != nil {
			mergeProblems(problems, model.Index("routes", i), fmt.Sprintf("rule %q", r.Name), c.err)
			continue
		}
		out = append(out, c)
	}
	for name := range t.rules {
		if !seen[name] {
			delete(t.rules, name)
		}
	}
	slices.SortFunc(out, func(a, b *compiledRule) int {
		if a.priority != b.priority {
			return b.priority - a.priority
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}

// referencedUpstreams lists the upstreams a rule's output depends on.
func referencedUpstreams(r *model.Route) []string {
	var names []string
	for _, b := range r.Then.Forward {
		names = append(names, b.Upstream)
	}
	if r.Then.Mirror != nil {
		names = append(names, r.Then.Mirror.Upstream)
	}
	if au := r.Then.Auth; au != nil && au.JWT != nil && au.JWT.JWKSUpstream != "" {
		names = append(names, au.JWT.JWKSUpstream)
	}
	return names
}

// compileRule translates one rule into one Envoy route per alternative of
// its condition (without per-virtual-host :authority matchers).
func compileRule(r *model.Route, ups map[string]*model.Upstream) *compiledRule {
	c := &compiledRule{name: r.Name, priority: r.Priority, hosts: map[string]hostPattern{}}
	if strings.ContainsAny(r.Name, "/") || r.Name == "" {
		c.err = fieldError("name", errors.New("rule names must be non-empty and must not contain '/' (they appear in Envoy route names)"))
		return c
	}
	when := r.When
	if hasText(when) {
		// Conditions written as text: parse a private copy, the workspace
		// belongs to the caller.
		rc := *r
		rc.When = copyCondition(r.When)
		if err := rules.Resolve(&rc); err != nil {
			c.err = err
			return c
		}
		when = rc.When
	}
	terms, err := dnf(when, "when")
	if err != nil {
		c.err = err
		return c
	}
	rr, use, err := buildRuleRoute(r, ups)
	if err != nil {
		c.err = err
		return c
	}
	c.use = use
	var target *model.Condition
	switch rr.pathUse {
	case pathForPrefixRewrite:
		if v, ok := model.MatchedPathPrefix(when); ok {
			target = topLevelPathPredicate(when, v, model.OpPrefix, model.OpSegmentPrefix, model.OpExact, model.OpEquals)
		}
	case pathForTemplateRewrite:
		if v, ok := model.MatchedPathTemplate(when); ok {
			target = topLevelPathPredicate(when, v, model.OpTemplate)
		}
	}
	var problems model.Problems
	for n, tm := range terms {
		if err := hostValues(tm, c.hosts); err != nil {
			problems.Merge("", err)
			continue
		}
		res, err := buildMatch(tm, rr.pathUse, target)
		if err != nil {
			problems.Merge("", err)
			continue
		}
		rt := &routev3.Route{Name: routeName(r.Name, n), Match: res.match}
		rr.apply(rt)
		if err := rt.Validate(); err != nil {
			problems.Add("", "envoy route %s: %v", rt.Name, err)
			continue
		}
		c.terms = append(c.terms, compiledTerm{t: tm, route: rt, rr: rr})
	}
	c.err = problems.Err()
	return c
}

// mergeProblems adds err's field problems under prefix, each message naming
// the object (`rule "api": ...`).
func mergeProblems(p *model.Problems, prefix, object string, err error) {
	var e *model.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		for _, f := range e.Fields {
			p.Add(model.JoinPath(prefix, f.Field), "%s: %s", object, f.Message)
		}
		return
	}
	p.Add(prefix, "%s: %v", object, err)
}

// compileClusters returns clusters and EDS assignments sorted by name.
func (t *Translator) compileClusters(upstreams []model.Upstream, opts Options, problems *model.Problems) ([]*clusterv3.Cluster, []*endpointv3.ClusterLoadAssignment) {
	order := make([]int, len(upstreams))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(upstreams[a].Name, upstreams[b].Name) })
	seen := make(map[string]bool, len(upstreams))
	clusters := make([]*clusterv3.Cluster, 0, len(upstreams))
	var clas []*endpointv3.ClusterLoadAssignment
	for _, i := range order {
		u := &upstreams[i]
		if seen[u.Name] {
			continue // reported as a duplicate
		}
		seen[u.Name] = true
		eps, overridden := opts.Endpoints[u.Name]
		t.enc.reset()
		t.enc.upstream(u)
		if t.enc.present(overridden) {
			t.enc.endpoints(eps)
		}
		c := t.clusters[u.Name]
		if c == nil || !bytes.Equal(c.key, t.enc.b) {
			c = &compiledCluster{key: bytes.Clone(t.enc.b)}
			c.cluster, c.cla, c.err = buildCluster(u, eps, overridden)
			t.clusters[u.Name] = c
		}
		if c.err != nil {
			mergeProblems(problems, model.Index("upstreams", i), fmt.Sprintf("upstream %q", u.Name), c.err)
			continue
		}
		clusters = append(clusters, c.cluster)
		if c.cla != nil {
			clas = append(clas, c.cla)
		}
	}
	for name := range t.clusters {
		if !seen[name] {
			delete(t.clusters, name)
		}
	}
	return clusters, clas
}

// routeConfig places every rule into the virtual hosts it can match, in
// priority order, and ends each virtual host with the default response.
func (t *Translator) routeConfig(name string, rules []*compiledRule, defaultRt *routev3.Route) (*routev3.RouteConfiguration, error) {
	t.updateVhostSet(rules)
	vs := t.vs
	if cap(t.scratch) < len(vs.list) {
		t.scratch = make([][]*routev3.Route, len(vs.list))
	}
	scratch := t.scratch[:len(vs.list)]
	for i := range scratch {
		scratch[i] = scratch[i][:0]
	}
	var problems model.Problems
	for _, r := range rules {
		if r.gen != t.generation {
			placed, err := placeRule(vs, r)
			if err != nil {
				mergeProblems(&problems, model.Index("routes", r.index), fmt.Sprintf("rule %q", r.name), err)
				continue
			}
			r.placed, r.gen = placed, t.generation
		}
		for _, p := range r.placed {
			scratch[p.vhost] = append(scratch[p.vhost], p.route)
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}

	rc := &routev3.RouteConfiguration{Name: name, VirtualHosts: make([]*routev3.VirtualHost, len(vs.list))}
	live := make(map[string]bool, len(vs.list))
	for i, p := range vs.list {
		routes := scratch[i]
		if defaultRt != nil {
			routes = append(routes, defaultRt)
			scratch[i] = routes
		}
		vname := vhostName(p)
		live[vname] = true
		e := t.vhosts[vname]
		if e == nil || !slices.Equal(e.routes, routes) {
			vh := &routev3.VirtualHost{Name: vname, Domains: []string{p.raw}}
			// Routes are validated one by one when compiled; validating the
			// virtual host without them checks the rest without walking
			// thousands of routes again.
			if err := vh.Validate(); err != nil {
				return nil, fmt.Errorf("virtual host %s: %w", vname, err)
			}
			vh.Routes = slices.Clone(routes)
			e = &vhostEntry{routes: vh.Routes, vh: vh}
			t.vhosts[vname] = e
		}
		rc.VirtualHosts[i] = e.vh
	}
	for n := range t.vhosts {
		if !live[n] {
			delete(t.vhosts, n)
		}
	}
	shell := &routev3.RouteConfiguration{Name: name}
	if err := shell.Validate(); err != nil {
		return nil, fmt.Errorf("route configuration %s: %w", name, err)
	}
	return rc, nil
}

func vhostName(p hostPattern) string {
	if p.raw == catchAll {
		return "catch-all"
	}
	return p.raw
}

// updateVhostSet rebuilds the virtual host set when the rules' host values
// changed, which invalidates every cached placement.
func (t *Translator) updateVhostSet(rules []*compiledRule) {
	n := 0
	changed := t.vs == nil
	for _, r := range rules {
		for k := range r.hosts {
			if _, ok := t.domains[k]; !ok {
				changed = true
			}
		}
	}
	if !changed {
		// Same or fewer values: count the distinct ones still used.
		used := make(map[string]struct{}, len(t.domains))
		for _, r := range rules {
			for k := range r.hosts {
				used[k] = struct{}{}
			}
		}
		n = len(used)
		changed = n != len(t.domains)
	}
	if !changed {
		return
	}
	domains := map[string]hostPattern{}
	for _, r := range rules {
		for k, p := range r.hosts {
			domains[k] = p
		}
	}
	t.domains = domains
	t.vs = newVhostSet(domains)
	t.generation++
}

// placeRule decides each term's virtual hosts and builds the routes that
// need :authority matchers there.
func placeRule(vs *vhostSet, r *compiledRule) ([]placedRoute, error) {
	var out []placedRoute
	var buf []placement
	var problems model.Problems
	for _, ct := range r.terms {
		var err error
		buf, err = vs.place(ct.t, buf[:0])
		if err != nil {
			problems.Merge("", err)
			continue
		}
		for _, p := range buf {
			rt := ct.route
			if len(p.authority) > 0 {
				m := proto.Clone(ct.route.Match).(*routev3.RouteMatch)
				m.Headers = append(m.Headers, p.authority...)
				rt = &routev3.Route{Name: ct.route.Name, Match: m}
				ct.rr.apply(rt)
				if err := rt.Validate(); err != nil {
					problems.Add("", "envoy route %s: %v", rt.Name, err)
					continue
				}
			}
			out = append(out, placedRoute{vhost: p.vhost, route: rt})
		}
	}
	return out, problems.Err()
}

// topLevelPathPredicate finds the root or root-all path predicate with value
// v and one of ops: the one model.MatchedPathPrefix/Template picked.
func topLevelPathPredicate(c model.Condition, v string, ops ...string) *model.Condition {
	list := c.All
	if c.IsPredicate() {
		list = []model.Condition{c}
	}
	for i := range list {
		p := &list[i]
		if p.IsPredicate() && p.Field == model.FieldPath && p.Value == v && slices.Contains(ops, p.Op) {
			return p
		}
	}
	return nil
}

func hasText(c model.Condition) bool {
	if c.Text != "" {
		return true
	}
	if c.Not != nil && hasText(*c.Not) {
		return true
	}
	for _, k := range c.All {
		if hasText(k) {
			return true
		}
	}
	for _, k := range c.Any {
		if hasText(k) {
			return true
		}
	}
	return false
}

func copyCondition(c model.Condition) model.Condition {
	out := c
	if c.Not != nil {
		n := copyCondition(*c.Not)
		out.Not = &n
	}
	if c.All != nil {
		out.All = make([]model.Condition, len(c.All))
		for i := range c.All {
			out.All[i] = copyCondition(c.All[i])
		}
	}
	if c.Any != nil {
		out.Any = make([]model.Condition, len(c.Any))
		for i := range c.Any {
			out.Any[i] = copyCondition(c.Any[i])
		}
	}
	return out
}
