package translate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/parallel"
	"github.com/routedeck/routedeck/backend/rules"
)

// Translator translates one gateway again and again, reusing the routes of
// rules and the clusters of upstreams that did not change since the last
// call, so a one-rule edit costs about one rule. It is safe for concurrent
// use (calls are serialised).
//
// In the server, each gateway's xDS runner owns one: a publish translates
// the draft with it (only rules edited since the last publish are
// translated again) and serves that very result, and an endpoint change
// from discovery rebuilds only the load assignments it affects
// (LoadAssignments). Each gateway's sandbox owns another for the draft it
// runs, and the lint cache one for its rate-limit notes (Translators).
// Gateway, a translation from cold, is for one-off callers (the Envoy
// export, tests).
type Translator struct {
	mu   sync.Mutex
	enc  keyEncoder
	call uint64

	rules    map[string]*compiledRule
	byPos    []*compiledRule // the entry of each workspace position, last call
	clusters map[string]*compiledCluster
	digests  *digestCache
	stats    Stats

	// refs is what rules read from the upstreams in the last call
	// (updateRefs); refsValid says every rule was checked against it.
	// When they changed, prevRefs holds the call before's, and oldRefs
	// is prevRefs by upstream name.
	refs, prevRefs []byte
	refsValid      bool
	oldRefs        map[string]string
	refEnc         keyEncoder
	checks         []keyCheck // compileRules' scratch

	// The state of the last successful translation, reused when the
	// rules' order and host values did not change. Any failure clears it.
	order      []*compiledRule // enabled rules in priority order
	hostSet    []string        // the host values behind vs
	vs         *vhostSet
	generation int          // bumped whenever vs changes; placements carry it
	views      []*routeView // the route configurations built last
	defaultKey []byte
	defaultRt  *routev3.Route
	dirty      []bool
}

// NewTranslator returns a Translator with empty caches.
func NewTranslator() *Translator {
	return &Translator{
		rules:    map[string]*compiledRule{},
		clusters: map[string]*compiledCluster{},
		digests:  newDigestCache(),
	}
}

// compiledRule is one rule's translation, valid while its key is unchanged.
// A recompiled rule is updated in place, so t.order stays valid when
// priorities did not change.
type compiledRule struct {
	key      []byte
	name     string
	priority int
	index    int // position in the workspace, for error paths
	terms    []compiledTerm
	hosts    []hostPattern // host values its conditions compare with, sorted, unique
	// listeners the rule answers on; empty for every listener.
	listeners []string
	use       filterUse
	err       error
	seenAt    uint64
	// version and updated identify the rule key was made from; see
	// Options.Identified.
	version int64
	updated time.Time
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
	seenAt  uint64
}

// ruleChanges is what compileRules saw change since the last call.
type ruleChanges struct {
	order bool // a rule was added, removed or changed priority
	hosts bool // the host values of some rule changed
	// dirty lists virtual hosts (of the current generation) that held or
	// will hold routes of changed rules.
	dirty []int
}

// Stats counts the work a Translator did since it was made: what a change
// really cost, for the server's translation metrics and for tests.
type Stats struct {
	Translations    int64 // Translate calls
	Routes          int64 // rules translated (the others were reused)
	Clusters        int64 // upstreams whose cluster was built
	LoadAssignments int64 // load assignments rebuilt by LoadAssignments
}

// Stats returns the counts so far.
func (t *Translator) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// Translate translates the named gateway of ws; see Gateway.
func (t *Translator) Translate(ws model.Workspace, gateway string, opts Options) (*Resources, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.call++
	t.stats.Translations++
	res, err := t.translate(ws, gateway, opts)
	if err != nil {
		t.resetState()
	}
	return res, err
}

// resetState forgets the last translation's order and virtual hosts (the
// per-rule and per-upstream caches stay), so the next call rebuilds them.
func (t *Translator) resetState() {
	t.order, t.hostSet, t.vs, t.views = nil, nil, nil, nil
	t.generation++
}

func (t *Translator) translate(ws model.Workspace, gateway string, opts Options) (*Resources, error) {
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
	gwPath, gwName := model.Index("gateways", gwIndex), fmt.Sprintf("gateway %q", gw.Name)

	var problems model.Problems
	ups := make(map[string]*model.Upstream, len(ws.Upstreams))
	for i := range ws.Upstreams {
		u := &ws.Upstreams[i]
		if _, dup := ups[u.Name]; dup {
			problems.Add(model.Index("upstreams", i)+".name", "duplicate upstream name %q", u.Name)
		}
		ups[u.Name] = u
	}

	changes := t.compileRules(ws.Routes, gateway, ws.Upstreams, ups, opts.Identified, &problems)
	clusters, clas := t.compileClusters(ws.Upstreams, opts, &problems)

	var parts filterParts
	for _, r := range t.order {
		parts.add(r.name, r.use)
	}
	if err := t.updateDefaultRoute(gw.DefaultResponse); err != nil {
		mergeProblems(&problems, gwPath, gwName, err)
	}
	own := t.ownListeners(gw, &problems)
	listeners, err := buildListeners(gw, parts, own)
	if err != nil {
		mergeProblems(&problems, gwPath, gwName, err)
	}
	secrets := buildSecrets(ws, gw, gwIndex, &problems)
	if err := problems.Err(); err != nil {
		return nil, err
	}

	rcs, err := t.routeConfigs(gw, own, changes)
	if err != nil {
		return nil, err
	}
	return &Resources{
		Listeners: listeners,
		Routes:    rcs,
		Clusters:  clusters,
		Endpoints: clas,
		Secrets:   secrets,
		digests:   t.digests,
	}, nil
}

// updateDefaultRoute rebuilds the default-response route when it changed.
func (t *Translator) updateDefaultRoute(r *model.Respond) error {
	t.enc.reset()
	t.enc.respond(r)
	if t.defaultKey != nil && bytes.Equal(t.defaultKey, t.enc.b) {
		return nil
	}
	t.defaultKey = bytes.Clone(t.enc.b)
	t.defaultRt = nil
	t.views = nil // every virtual host ends with it
	if r == nil {
		return nil
	}
	rt, err := defaultRoute(r)
	if err != nil {
		t.defaultKey = nil
		return err
	}
	t.defaultRt = rt
	return nil
}

// compileRules brings t.order up to date: the gateway's enabled rules in
// priority order (higher first, then name), translating only the ones
// whose key changed.
func (t *Translator) compileRules(routes []model.Route, gateway string, upstreams []model.Upstream, ups map[string]*model.Upstream, identified bool, problems *model.Problems) ruleChanges {
	var ch ruleChanges
	if !t.refsValid && len(t.rules) > 0 {
		// A call cut short (by a panic) left entries translated against
		// upstreams no longer known: start cold.
		t.rules = nil
		clear(t.byPos)
		t.resetState()
	}
	if t.order == nil {
		ch.order = true
	}
	forget := func(c *compiledRule) {
		if c.gen == t.generation {
			for _, p := range c.placed {
				ch.dirty = append(ch.dirty, p.vhost)
			}
		}
	}
	refsSame := t.updateRefs(upstreams)
	// Keys first, in workspace order (duplicates are found here); then the
	// rules whose key changed are compiled, in parallel when there are
	// many; then their results are folded in, in workspace order.
	var jobs []ruleJob
	if len(t.rules) == 0 {
		// A cold start compiles every rule: size for them at once.
		jobs = make([]ruleJob, 0, len(routes))
		t.rules = make(map[string]*compiledRule, len(routes))
	}
	// byPos[i] held the entry of the rule at position i in the last call;
	// it is replaced as the loop goes.
	if n := len(routes); n > len(t.byPos) {
		t.byPos = append(t.byPos, make([]*compiledRule, n-len(t.byPos))...)
	} else {
		clear(t.byPos[n:])
		t.byPos = t.byPos[:n]
	}
	byPos := t.byPos
	seen := 0
	var fresh []compiledRule
	checks := t.checks[:0]
	if cap(checks) < len(routes) {
		checks = make([]keyCheck, 0, len(routes))
	}
	defer func() {
		// Kept for the next call, without the rules it pointed to.
		clear(checks)
		t.checks = checks[:0]
	}()
	for i := range routes {
		r := &routes[i]
		last := byPos[i]
		byPos[i] = nil
		if r.Gateway != gateway || r.Disabled {
			continue
		}
		// Rules seldom move, so the entry at the same position usually is
		// the rule's own: an entry is only ever under its rule's name, and
		// every entry in byPos was seen in the last call, so it is still
		// in t.rules. That saves a map lookup per rule.
		c := last
		if c == nil || c.name != r.Name {
			c = t.rules[r.Name]
		}
		if c != nil && c.seenAt == t.call {
			problems.Add(model.Index("routes", i)+".name", "duplicate route name %q", r.Name)
			continue
		}
		if c == nil {
			// New: the job encodes its key, in parallel with the others.
			if len(fresh) == 0 {
				// Entries are made in batches: a cold start makes one
				// per rule.
				fresh = make([]compiledRule, min(len(routes)-i, 1024))
			}
			c, fresh = &fresh[0], fresh[1:]
			t.rules[r.Name] = c
			checks = append(checks, keyCheck{c: c, r: r, index: i, added: true})
		} else {
			checks = append(checks, keyCheck{c: c, r: r, index: i})
		}
		c.seenAt = t.call
		c.index = i
		byPos[i] = c
		seen++
	}
	// Whether each known rule is unchanged: the keys of a large gateway
	// are encoded on every processor. sameKey reads only its rule, its
	// entry and what was set up above.
	if !refsSame {
		t.oldRefs = decodeRefs(t.prevRefs)
	}
	parallel.Chunks(len(checks), parallelRules, func(start, end int) {
		var enc keyEncoder
		for k := start; k < end; k++ {
			if ch := &checks[k]; !ch.added {
				ch.same, ch.key = t.sameKey(&enc, ch.c, ch.r, ups, identified, refsSame)
			}
		}
	})
	for _, k := range checks {
		c, r, i := k.c, k.r, k.index
		switch {
		case k.added:
			jobs = append(jobs, ruleJob{rule: r, into: c, added: true, index: i})
		case !k.same:
			forget(c)
			jobs = append(jobs, ruleJob{rule: r, into: c, key: k.key, index: i})
		default:
			if c.err != nil {
				mergeProblems(problems, model.Index("routes", i), fmt.Sprintf("rule %q", r.Name), c.err)
			}
			// The key is unchanged (a job sets these once compiled).
			c.version, c.updated = r.Version, r.UpdatedAt
		}
	}
	compileJobs(jobs, ups)
	t.stats.Routes += int64(len(jobs))
	for _, j := range jobs {
		c, nc := j.into, j.out
		seenAt, index := c.seenAt, c.index
		if j.added {
			// Compiled in place, which reset what was set before.
			seenAt, index = t.call, j.index
		}
		nc.key, nc.seenAt, nc.index = j.key, seenAt, index
		nc.version, nc.updated = j.rule.Version, j.rule.UpdatedAt
		if j.added {
			ch.order = true
			ch.hosts = ch.hosts || len(nc.hosts) > 0
		} else {
			ch.order = ch.order || nc.priority != c.priority || (nc.err == nil) != (c.err == nil)
			ch.hosts = ch.hosts || !slices.Equal(nc.hosts, c.hosts)
		}
		*c = *nc
		if c.err != nil {
			mergeProblems(problems, model.Index("routes", c.index), fmt.Sprintf("rule %q", c.name), c.err)
		}
	}
	// Every entry seen is a distinct one of t.rules: when all were seen,
	// there is nothing to delete, and the walk over the map is saved.
	if seen != len(t.rules) {
		for name, c := range t.rules {
			if c.seenAt != t.call {
				forget(c)
				delete(t.rules, name)
				ch.order = true
				ch.hosts = ch.hosts || len(c.hosts) > 0
			}
		}
	}
	if ch.order {
		// Collected in workspace order, which is usually name order
		// already, so the sort has little left to do.
		t.order = t.order[:0]
		for _, c := range byPos {
			if c != nil && c.err == nil {
				t.order = append(t.order, c)
			}
		}
		slices.SortFunc(t.order, func(a, b *compiledRule) int {
			return model.ComparePrecedence(a.priority, a.name, b.priority, b.name)
		})
	}
	t.refsValid = true
	return ch
}

// updateRefs records what rules read from the upstreams (which names
// exist, and their consistent-hash keys), and reports whether it is what
// the last call recorded. It is written in workspace order, so equal
// records mean equal name → upstream maps as far as rules look.
func (t *Translator) updateRefs(upstreams []model.Upstream) bool {
	t.enc.reset()
	for i := range upstreams {
		t.refEnc.reset()
		t.refEnc.upstreamRef(&upstreams[i])
		t.enc.str(upstreams[i].Name)
		t.enc.bytes(t.refEnc.b)
	}
	same := t.refsValid && bytes.Equal(t.refs, t.enc.b)
	if !same {
		t.prevRefs, t.refs = t.refs, t.prevRefs
	}
	t.refs = append(t.refs[:0], t.enc.b...)
	t.oldRefs = nil
	// Valid again once every rule has been checked against it: a call
	// cut short by a panic leaves entries of either state.
	t.refsValid = false
	return same
}

// sameKey reports whether c, made from r as it was, still holds r's
// translation; if not, key is r's cache key now.
//
// A key encodes the rule alone. What its routes also read from the
// upstreams it names is checked apart: every entry was checked against
// the upstreams of the last call (entries not seen then are gone), so
// when those did not change (refsSame) nothing is read at all, and when
// they did, the rule's upstreams then and now are compared (sameRefs).
//
// enc is the caller's scratch encoder; sameKey may run on many rules at
// once, and reads t.oldRefs, which must be set when !refsSame.
func (t *Translator) sameKey(enc *keyEncoder, c *compiledRule, r *model.Route, ups map[string]*model.Upstream, identified, refsSame bool) (same bool, key []byte) {
	// With Options.Identified, a rule with the version and time of the
	// one c was made from is that rule: encoding it again would give the
	// same bytes.
	if !identified || r.Version == 0 || c.version != r.Version || !c.updated.Equal(r.UpdatedAt) {
		enc.reset()
		enc.route(r)
		if !bytes.Equal(c.key, enc.b) {
			return false, bytes.Clone(enc.b)
		}
	}
	return refsSame || t.sameRefs(enc, r, ups), c.key
}

// sameRefs reports whether what r reads from the upstreams it names is
// what it read in the last call.
func (t *Translator) sameRefs(enc *keyEncoder, r *model.Route, ups map[string]*model.Upstream) bool {
	enc.reset()
	enc.upstreamRef(nil)
	absent := string(enc.b)
	for _, name := range referencedUpstreams(r) {
		old, ok := t.oldRefs[name]
		if !ok {
			old = absent
		}
		enc.reset()
		enc.upstreamRef(ups[name])
		if old != string(enc.b) {
			return false
		}
	}
	return true
}

// decodeRefs reads updateRefs' record back into upstream name → what
// rules read from it; a later upstream of the same name wins, as in the
// translation's own name → upstream map.
func decodeRefs(b []byte) map[string]string {
	m := map[string]string{}
	for len(b) > 0 {
		name, rest := readStr(b)
		ref, rest := readStr(rest)
		m[string(name)] = string(ref)
		b = rest
	}
	return m
}

// readStr reads what keyEncoder.str or bytes wrote at the start of b.
func readStr(b []byte) (s, rest []byte) {
	n, k := binary.Uvarint(b)
	return b[k : k+int(n)], b[k+int(n):]
}

// keyCheck is an enabled rule that is not a duplicate, with its entry:
// new, or to be checked against the rule's key.
type keyCheck struct {
	c     *compiledRule
	r     *model.Route
	index int
	added bool
	same  bool
	key   []byte
}

// ruleJob is a rule to compile into the cache entry into.
type ruleJob struct {
	rule  *model.Route
	into  *compiledRule
	key   []byte
	added bool // into is new (else it holds the rule's last translation)
	index int  // position in the workspace
	out   *compiledRule
}

// parallelRules is the number of rules below which one goroutine does the
// work: a route edit compiles and places one rule, a cold start thousands.
const parallelRules = 256

// compileJobs compiles every job's rule, spread over the processors for a
// large batch, and encodes the keys of new rules (a cold start's every
// rule) there too. A job reads only its rule and the upstreams, and
// writes its own entry and its range's action cache and batches.
func compileJobs(jobs []ruleJob, ups map[string]*model.Upstream) {
	parallel.Chunks(len(jobs), parallelRules, func(start, end int) {
		var enc keyEncoder
		cache := actionCache{}
		slab := &routeSlab{size: min(end-start, slabSize)}
		slab.lits.size = slab.size * 2 // a rule holds about two predicates
		for i := start; i < end; i++ {
			j := &jobs[i]
			if j.added {
				enc.reset()
				enc.route(j.rule)
				j.key = slab.bytes(enc.b)
				// A new entry has nothing to compare with: compile into it.
				compileRuleInto(j.into, j.rule, ups, cache, slab)
				j.out = j.into
				continue
			}
			j.out = &compiledRule{}
			compileRuleInto(j.out, j.rule, ups, cache, slab)
		}
	})
}

// routeSlab hands out the messages of compiled routes from batches, one
// allocation for many routes. A batch stays in memory while any of its
// routes is in use, which bounds the waste to a batch per rule that was
// translated again.
type routeSlab struct {
	size     int // routes per batch: a route edit needs one, not a batch
	routes   []routev3.Route
	matches  []routev3.RouteMatch
	termBuf  []compiledTerm
	hosts    []hostPattern
	keys     []byte
	lits     termArena
	problems model.Problems // scratch space for buildRuleRoute
}

const slabSize = 256

// route returns a zero route and match; a nil slab allocates them alone.
func (s *routeSlab) route() (*routev3.Route, *routev3.RouteMatch) {
	if s == nil {
		return &routev3.Route{}, &routev3.RouteMatch{}
	}
	if len(s.routes) == 0 {
		s.routes, s.matches = make([]routev3.Route, s.size), make([]routev3.RouteMatch, s.size)
	}
	rt, m := &s.routes[0], &s.matches[0]
	s.routes, s.matches = s.routes[1:], s.matches[1:]
	return rt, m
}

// terms returns an empty list with room for n terms.
func (s *routeSlab) terms(n int) []compiledTerm {
	if s == nil || n > s.size {
		return make([]compiledTerm, 0, n)
	}
	if len(s.termBuf) < n {
		s.termBuf = make([]compiledTerm, s.size)
	}
	out := s.termBuf[:0:n]
	s.termBuf = s.termBuf[n:]
	return out
}

// hostList returns an empty list with room for n host values; appending
// past n moves the list out of the batch.
func (s *routeSlab) hostList(n int) []hostPattern {
	if n > s.size {
		return nil
	}
	if len(s.hosts) < n {
		s.hosts = make([]hostPattern, s.size)
	}
	out := s.hosts[:0:n]
	s.hosts = s.hosts[n:]
	return out
}

// placedSlab hands out the placement lists of rules from batches.
type placedSlab struct {
	size int // placements per batch
	buf  []placedRoute
}

// take returns an empty list with room for n placements; appending past
// n moves the list out of the batch.
func (s *placedSlab) take(n int) []placedRoute {
	if n > 16 {
		return make([]placedRoute, 0, n)
	}
	if len(s.buf) < n {
		s.buf = make([]placedRoute, max(n, s.size))
	}
	out := s.buf[:0:n]
	s.buf = s.buf[n:]
	return out
}

// bytes returns a copy of b; the copy's capacity is its length, so an
// append to it cannot reach the next one.
func (s *routeSlab) bytes(b []byte) []byte {
	if len(b) > len(s.keys) {
		s.keys = make([]byte, max(len(b), s.size*64))
	}
	out := s.keys[:len(b):len(b)]
	copy(out, b)
	s.keys = s.keys[len(b):]
	return out
}

// compileRule translates one rule into one Envoy route per alternative of
// its condition (without per-virtual-host :authority matchers).
func compileRule(r *model.Route, ups map[string]*model.Upstream) *compiledRule {
	c := &compiledRule{}
	compileRuleInto(c, r, ups, nil, nil)
	return c
}

// compileRuleInto is compileRule into c, which it overwrites, sharing
// plain forward actions through cache and taking messages from slab
// (either may be nil).
func compileRuleInto(c *compiledRule, r *model.Route, ups map[string]*model.Upstream, cache actionCache, slab *routeSlab) {
	*c = compiledRule{name: r.Name, priority: r.Priority}
	if len(r.Listeners) > 0 {
		// The workspace belongs to the caller.
		c.listeners = slices.Clone(r.Listeners)
	}
	if strings.ContainsAny(r.Name, "/") || r.Name == "" {
		c.err = fieldError("name", errors.New("rule names must be non-empty and must not contain '/' (they appear in Envoy route names)"))
		return
	}
	// Literals point into the rule's condition while it is compiled; the
	// terms kept past that copy what they hold (hostLiterals).
	when := &r.When
	if hasText(*when) {
		// Conditions written as text: parse a private copy, the workspace
		// belongs to the caller.
		rc := *r
		rc.When = r.When.Clone()
		if err := rules.Resolve(&rc); err != nil {
			c.err = err
			return
		}
		when = &rc.When
	}
	// Report the condition's and the action's problems together.
	var problems model.Problems
	var ar *termArena
	if slab != nil {
		ar = &slab.lits
	}
	terms, err := dnfIn(when, "when", ar)
	problems.Merge("", err)
	scratch := new(model.Problems)
	if slab != nil {
		scratch = &slab.problems
	}
	rr, use, err := buildRuleRoute(r, ups, cache, scratch)
	problems.Merge("", err)
	if c.err = problems.Err(); c.err != nil {
		return
	}
	c.use = use
	var target *model.Condition
	switch rr.pathUse {
	case pathForPrefixRewrite:
		if v, ok := model.MatchedPathPrefix(*when); ok {
			target = topLevelPathPredicate(*when, v, model.OpPrefix, model.OpSegmentPrefix, model.OpExact, model.OpEquals)
		}
	case pathForTemplateRewrite:
		if v, ok := model.MatchedPathTemplate(*when); ok {
			target = topLevelPathPredicate(*when, v, model.OpTemplate)
			if err := checkTemplateRewrite(v, r.Then.Rewrite.PathTemplate); err != nil {
				c.err = fieldError("then.rewrite.pathTemplate", err)
				return
			}
		}
	}
	if slab != nil {
		// Room for a host value per term, the usual count.
		c.hosts = slab.hostList(len(terms))
	}
	for n, tm := range terms {
		if err := hostValues(tm, &c.hosts); err != nil {
			problems.Merge("", err)
			continue
		}
		rt, m := slab.route()
		res, err := buildMatch(tm, rr.pathUse, target, m)
		if err != nil {
			problems.Merge("", err)
			continue
		}
		rt.Name, rt.Match = routeName(r.Name, n), res.match
		rr.apply(rt)
		if err := rr.checkRoute(rt, &problems); err != nil {
			problems.Add("", "envoy route %s: %v", rt.Name, err)
			continue
		}
		if c.terms == nil {
			c.terms = slab.terms(len(terms))
		}
		c.terms = append(c.terms, compiledTerm{t: hostLiterals(tm, ar), route: rt, rr: rr})
	}
	c.err = problems.Err()
	slices.SortFunc(c.hosts, func(a, b hostPattern) int { return strings.Compare(a.raw, b.raw) })
	c.hosts = slices.CompactFunc(c.hosts, func(a, b hostPattern) bool { return a.raw == b.raw })
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
	// Keys first, in name order (duplicates are found here); then the
	// upstreams whose key changed are built, in parallel when there are
	// many (a cold start); then the results are collected in name order.
	type build struct {
		c          *compiledCluster
		u          *model.Upstream
		eps        []model.Endpoint
		overridden bool
	}
	var builds []build
	entries := make([]*compiledCluster, len(order)) // nil for a duplicate
	for k, i := range order {
		u := &upstreams[i]
		if c := t.clusters[u.Name]; c != nil && c.seenAt == t.call {
			continue // reported as a duplicate
		}
		eps, overridden := opts.Endpoints[u.Name]
		t.enc.reset()
		t.enc.upstream(u)
		if t.enc.present(overridden) {
			t.enc.endpoints(eps)
		}
		c := t.clusters[u.Name]
		if c == nil || !bytes.Equal(c.key, t.enc.b) {
			t.stats.Clusters++
			c = &compiledCluster{key: bytes.Clone(t.enc.b)}
			builds = append(builds, build{c: c, u: u, eps: eps, overridden: overridden})
			t.clusters[u.Name] = c
		}
		c.seenAt = t.call
		entries[k] = c
	}
	// buildCluster reads only its upstream and endpoints.
	parallel.For(len(builds), parallelRules, func(i int) {
		b := &builds[i]
		b.c.cluster, b.c.cla, b.c.err = buildCluster(b.u, b.eps, b.overridden)
	})
	clusters := make([]*clusterv3.Cluster, 0, len(upstreams))
	var clas []*endpointv3.ClusterLoadAssignment
	for k, c := range entries {
		if c == nil {
			continue
		}
		if c.err != nil {
			i := order[k]
			mergeProblems(problems, model.Index("upstreams", i), fmt.Sprintf("upstream %q", upstreams[i].Name), c.err)
			continue
		}
		clusters = append(clusters, c.cluster)
		if c.cla != nil {
			clas = append(clas, c.cla)
		}
	}
	for name, c := range t.clusters {
		if c.seenAt != t.call {
			delete(t.clusters, name)
		}
	}
	return clusters, clas
}

// LoadAssignments returns the EDS load assignments of upstreams (those of
// the workspace last served) with opts' endpoints, sorted by name. Only
// upstreams whose definition or endpoints changed since this Translator
// last saw them are rebuilt, and no rule is looked at: an endpoint change
// costs its own load assignments, however many routes the gateway has.
// The clusters themselves do not depend on the endpoints (they read them
// over EDS), so the served clusters stay valid.
func (t *Translator) LoadAssignments(upstreams []model.Upstream, opts Options) ([]*endpointv3.ClusterLoadAssignment, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	order := make([]int, len(upstreams))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(upstreams[a].Name, upstreams[b].Name) })
	var problems model.Problems
	var clas []*endpointv3.ClusterLoadAssignment
	for _, i := range order {
		u := &upstreams[i]
		eps, overridden := opts.Endpoints[u.Name]
		t.enc.reset()
		t.enc.upstream(u)
		if t.enc.present(overridden) {
			t.enc.endpoints(eps)
		}
		c := t.clusters[u.Name]
		if c == nil || !bytes.Equal(c.key, t.enc.b) {
			t.stats.LoadAssignments++
			c = &compiledCluster{key: bytes.Clone(t.enc.b), seenAt: t.call}
			c.cluster, c.cla, c.err = buildCluster(u, eps, overridden)
			t.clusters[u.Name] = c
		}
		if c.err != nil {
			mergeProblems(&problems, model.Index("upstreams", i), fmt.Sprintf("upstream %q", u.Name), c.err)
			continue
		}
		if c.cla != nil {
			clas = append(clas, c.cla)
		}
	}
	return clas, problems.Err()
}

// Translators keeps one Translator per gateway. The zero value is ready
// to use; it is safe for concurrent use.
type Translators struct {
	mu sync.Mutex
	m  map[string]*Translator
}

// For returns gateway's Translator, making it on first use.
func (ts *Translators) For(gateway string) *Translator {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[string]*Translator{}
	}
	t := ts.m[gateway]
	if t == nil {
		t = NewTranslator()
		ts.m[gateway] = t
	}
	return t
}

// Forget drops gateway's Translator (the gateway was deleted).
func (ts *Translators) Forget(gateway string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.m, gateway)
}

// routeView is one RouteConfiguration of the gateway and the state it was
// built from. A gateway whose rules all answer on every listener has one,
// named after the gateway; when rules name listeners, each listener some
// rule names gets its own (gateway/listener) and the other listeners share
// the gateway's, which then holds only the rules of every listener.
type routeView struct {
	name     string
	listener string // "" for the rules of every listener
	// vhosts and vhostRoutes are the last virtual hosts built and the
	// routes each was built from, by index in the vhost set.
	vhosts      []*routev3.VirtualHost
	vhostRoutes [][]*routev3.Route
	scratch     [][]*routev3.Route
	rc          *routev3.RouteConfiguration
}

// holds reports whether the rule's routes belong in the view.
func (v *routeView) holds(r *compiledRule) bool {
	return len(r.listeners) == 0 || v.listener != "" && slices.Contains(r.listeners, v.listener)
}

// routeConfigName is the RouteConfiguration a listener's connection
// manager reads: its own when a rule names it (own), else the gateway's.
// Gateway and listener names cannot hold '/', so the names never clash.
func routeConfigName(gateway, listener string, own map[string]bool) string {
	if own[listener] {
		return gateway + "/" + listener
	}
	return gateway
}

// ownListeners returns the listeners of gw that some enabled rule names,
// and reports a rule naming a listener gw does not have.
func (t *Translator) ownListeners(gw *model.Gateway, problems *model.Problems) map[string]bool {
	var own map[string]bool
	for _, r := range t.order {
		for j, l := range r.listeners {
			if own[l] {
				continue
			}
			if !gw.HasListener(l) {
				problems.Add(model.Index("routes", r.index)+"."+model.Index("listeners", j),
					"rule %q: gateway %q has no listener %q", r.name, gw.Name, l)
				continue
			}
			if own == nil {
				own = map[string]bool{}
			}
			own[l] = true
		}
	}
	return own
}

// routeConfigs places every rule into the virtual hosts it can match, in
// priority order, and ends each virtual host with the default response;
// then it builds the route configurations the listeners read (see
// routeView), sorted by name. When neither the order of the rules nor the
// virtual hosts changed, only the virtual hosts that changed rules touch
// are rebuilt.
func (t *Translator) routeConfigs(gw *model.Gateway, own map[string]bool, ch ruleChanges) ([]*routev3.RouteConfiguration, error) {
	if ch.hosts || t.vs == nil {
		t.updateVhostSet()
	}
	vs := t.vs
	n := len(vs.list)
	// The views wanted now: the gateway's own while a listener reads it,
	// then one per listener a rule names, in name order.
	var want []string // listener of each view
	for _, l := range gw.Listeners {
		if !own[l.Name] {
			want = append(want, "")
			break
		}
	}
	want = append(want, slices.Sorted(maps.Keys(own))...)
	views := make([]*routeView, len(want))
	fresh := make([]bool, len(want))
	for i, l := range want {
		name := routeConfigName(gw.Name, l, own)
		for _, v := range t.views {
			if v.listener == l && v.name == name {
				views[i] = v
			}
		}
		if views[i] == nil || views[i].rc == nil || len(views[i].vhosts) != n {
			views[i] = &routeView{name: name, listener: l}
			fresh[i] = true
		}
	}
	t.views = views
	full := ch.order
	if cap(t.dirty) < n {
		t.dirty = make([]bool, n)
	}
	dirty := t.dirty[:n]
	for i := range dirty {
		dirty[i] = full
	}
	for _, v := range ch.dirty {
		if v < n {
			dirty[v] = true
		}
	}

	// Rules not placed in this generation of virtual hosts are placed, in
	// parallel when there are many (placeRule reads only vs and the rule).
	var pending []*compiledRule
	for _, r := range t.order {
		if r.gen != t.generation {
			pending = append(pending, r)
		}
	}
	placed := make([][]placedRoute, len(pending))
	errs := make([]error, len(pending))
	parallel.Chunks(len(pending), parallelRules, func(start, end int) {
		slab := placedSlab{size: min(end-start, slabSize)}
		for i := start; i < end; i++ {
			placed[i], errs[i] = placeRule(vs, pending[i], &slab)
		}
	})
	var problems model.Problems
	for i, r := range pending {
		if errs[i] != nil {
			mergeProblems(&problems, model.Index("routes", r.index), fmt.Sprintf("rule %q", r.name), errs[i])
			continue
		}
		r.placed, r.gen = placed[i], t.generation
		for _, p := range placed[i] {
			dirty[p.vhost] = true
		}
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	out := make([]*routev3.RouteConfiguration, len(views))
	for i, v := range views {
		rc, err := t.buildView(v, vs, full || fresh[i], dirty)
		if err != nil {
			return nil, err
		}
		out[i] = rc
	}
	return out, nil
}

// buildView brings one route configuration up to date: every virtual host
// when full, else the dirty ones.
func (t *Translator) buildView(v *routeView, vs *vhostSet, full bool, dirty []bool) (*routev3.RouteConfiguration, error) {
	n := len(dirty)
	if !full && !slices.Contains(dirty, true) {
		return v.rc, nil
	}
	if cap(v.scratch) < n {
		v.scratch = make([][]*routev3.Route, n)
	}
	scratch := v.scratch[:n]
	for i := range scratch {
		if full || dirty[i] {
			scratch[i] = scratch[i][:0]
		}
	}
	for _, r := range t.order {
		if !v.holds(r) {
			continue
		}
		for _, p := range r.placed {
			if full || dirty[p.vhost] {
				scratch[p.vhost] = append(scratch[p.vhost], p.route)
			}
		}
	}
	if full {
		v.vhosts = make([]*routev3.VirtualHost, n)
		v.vhostRoutes = make([][]*routev3.Route, n)
	} else {
		v.vhosts = slices.Clone(v.vhosts)
	}
	// Each virtual host is built from its own index's state alone, in
	// parallel when many changed (a cold start builds them all).
	vhErrs := make([]error, n)
	defaultRt, vhosts, vhostRoutes := t.defaultRt, v.vhosts, v.vhostRoutes
	parallel.For(n, parallelRules, func(i int) {
		if !full && !dirty[i] {
			return
		}
		p := vs.list[i]
		routes := scratch[i]
		if defaultRt != nil {
			routes = append(routes, defaultRt)
			scratch[i] = routes
		}
		if vhosts[i] != nil && slices.Equal(vhostRoutes[i], routes) {
			return
		}
		vh := &routev3.VirtualHost{Name: vhostName(p), Domains: []string{p.raw}}
		// Routes are validated one by one when compiled; validating the
		// virtual host without them checks the rest without walking
		// thousands of routes again.
		if err := vh.Validate(); err != nil {
			vhErrs[i] = fmt.Errorf("virtual host %s: %w", vh.Name, err)
			return
		}
		vh.Routes = slices.Clone(routes)
		vhosts[i], vhostRoutes[i] = vh, vh.Routes
	})
	for _, err := range vhErrs {
		if err != nil {
			v.rc = nil
			return nil, err
		}
	}
	// Host conditions compare the host without its port, and the upstream
	// receives the Host header as sent (port included): Envoy's
	// ignore_port_in_host_matching does both, where the connection
	// manager's strip_any_host_port would rewrite the header.
	rc := &routev3.RouteConfiguration{Name: v.name, VirtualHosts: v.vhosts, IgnorePortInHostMatching: true}
	shell := &routev3.RouteConfiguration{Name: v.name, IgnorePortInHostMatching: true}
	if err := shell.Validate(); err != nil {
		v.rc = nil
		return nil, fmt.Errorf("route configuration %s: %w", v.name, err)
	}
	v.rc = rc
	return rc, nil
}

// vhostName is the virtual host's domain, which is unique in the route
// configuration ("*" for the catch-all; no rule can name "*" as a host).
func vhostName(p hostPattern) string { return p.raw }

// updateVhostSet rebuilds the virtual host set from the rules' host values;
// when the set really changed, every cached placement becomes stale.
func (t *Translator) updateVhostSet() {
	domains := map[string]hostPattern{}
	for _, r := range t.order {
		for _, p := range r.hosts {
			domains[p.raw] = p
		}
	}
	keys := slices.Sorted(maps.Keys(domains))
	if t.vs != nil && slices.Equal(keys, t.hostSet) {
		return
	}
	t.hostSet = keys
	t.vs = newVhostSet(domains)
	t.generation++
	t.views = nil
}

// placeRule decides each term's virtual hosts and builds the routes that
// need :authority matchers there.
func placeRule(vs *vhostSet, r *compiledRule, slab *placedSlab) ([]placedRoute, error) {
	var out []placedRoute
	var arr [4]placement // a term usually goes to one virtual host
	buf := arr[:0]
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
				// Only the added :authority matchers are new here.
				for _, h := range p.authority {
					checkRegexSizes(&routev3.Route{Match: &routev3.RouteMatch{Headers: []*routev3.HeaderMatcher{h}}}, &problems)
				}
			}
			if out == nil {
				out = slab.take(len(buf))
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

// checkTemplateRewrite refuses a rewrite template Envoy would NACK: bad
// syntax, or a variable the match template does not bind.
func checkTemplateRewrite(match, rewrite string) error {
	t, err := model.ParsePathTemplate(match)
	if err != nil {
		return fmt.Errorf("path template %q: %w", match, err)
	}
	vars := make(map[string]string, len(t.Vars))
	for _, v := range t.Vars {
		vars[v] = "x"
	}
	if _, err := model.RewritePathTemplate(rewrite, vars); err != nil {
		return fmt.Errorf("rewrite %q: %w", rewrite, err)
	}
	return nil
}
