package rules

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// Result is what the rules do with one request.
type Result struct {
	// Rule is the name of the matching rule, "" when none matched (then
	// the gateway's default response applies).
	Rule string `json:"rule"`
	// Action is the matched rule's action, nil when none matched.
	Action *model.Action `json:"action"`
	// Upstream is the backend a forward picked with Request.Random.
	Upstream string `json:"upstream,omitempty"`
	// Path is the :path the upstream receives (query included) and Host its
	// Host header, after the rule's rewrites. Both are set for forwards.
	Path string `json:"path,omitempty"`
	Host string `json:"host,omitempty"`
	// AutoHost means Envoy replaces Host with the chosen endpoint's host
	// name, which the evaluator cannot know; Host is then the request's.
	AutoHost bool `json:"autoHost,omitempty"`
	// RedirectURL is the Location of a redirect.
	RedirectURL string `json:"redirectUrl,omitempty"`
	// Status is the response code of a redirect or direct response.
	Status int `json:"status,omitempty"`
	// Body is a direct response's body.
	Body string `json:"body,omitempty"`
	// Trace lists every rule tried, in order, up to and including the match.
	Trace []RuleTrace `json:"trace"`
}

// MarshalJSON writes "rule": null when no rule matched, as the API promises.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	var rule *string
	if r.Rule != "" {
		rule = &r.Rule
	}
	return json.Marshal(struct {
		plain
		Rule *string `json:"rule"`
	}{plain(r), rule})
}

// RuleTrace is how one rule fared.
type RuleTrace struct {
	Rule     string `json:"rule"`
	Priority int    `json:"priority"`
	Matched  bool   `json:"matched"`
	// Skipped says why the rule was not evaluated ("disabled").
	Skipped string `json:"skipped,omitempty"`
	// Conditions holds every node of the condition tree in pre-order. The
	// top-level conditions (the members of a top-level && or the root
	// itself) have depth 0, their parts depth 1, and so on.
	Conditions []ConditionTrace `json:"conditions"`
	// FirstFailing is the first top-level condition that was false: for a
	// near miss, the reason the rule did not match.
	FirstFailing string `json:"firstFailing,omitempty"`
}

// ConditionTrace is one predicate or sub-tree and its result.
type ConditionTrace struct {
	Expr   string `json:"expr"`
	Result bool   `json:"result"`
	Depth  int    `json:"depth"`
	Error  string `json:"error,omitempty"`
}

// Program is a gateway's rules compiled for repeated evaluation: sorted,
// regular expressions and templates compiled, trace text printed once.
type Program struct {
	rules []*compiledRule
}

type compiledRule struct {
	route *model.Route
	when  model.Condition // resolved and normalised
	root  node            // nil: matches every request
	nodes int             // size of the trace
	err   string          // the condition text did not parse
	// rewriteRe is the action's path regex rewrite, compiled once here
	// rather than per request; nil when there is none or it is invalid.
	rewriteRe *regexp.Regexp
}

// node is a compiled condition node: && , ||, ! or a predicate, each a
// type of its own that computes itself.
type node interface {
	// test computes the node, stopping as soon as the result is known.
	test(v *view) bool
	// traceInto computes the node without short-circuiting, so the trace
	// shows every predicate's result, and records it.
	traceInto(v *view, trace []ConditionTrace) bool
	// place is the node's place in the trace.
	place() *tracePlace
}

// tracePlace is a node's entry in a rule's trace: its index (-1 for the
// implicit top-level &&, which is not shown), depth and text.
type tracePlace struct {
	index int
	depth int
	expr  string
}

func (p *tracePlace) place() *tracePlace { return p }

func (p *tracePlace) record(trace []ConditionTrace, result bool, err string) {
	if p.index >= 0 {
		trace[p.index] = ConditionTrace{Expr: p.expr, Result: result, Depth: p.depth, Error: err}
	}
}

type allNode struct {
	tracePlace
	kids []node
}

func (n *allNode) test(v *view) bool {
	for _, k := range n.kids {
		if !k.test(v) {
			return false
		}
	}
	return true
}

func (n *allNode) traceInto(v *view, trace []ConditionTrace) bool {
	result := true
	for _, k := range n.kids {
		if !k.traceInto(v, trace) {
			result = false
		}
	}
	n.record(trace, result, "")
	return result
}

type anyNode struct {
	tracePlace
	kids []node
}

func (n *anyNode) test(v *view) bool {
	for _, k := range n.kids {
		if k.test(v) {
			return true
		}
	}
	return false
}

func (n *anyNode) traceInto(v *view, trace []ConditionTrace) bool {
	result := false
	for _, k := range n.kids {
		if k.traceInto(v, trace) {
			result = true
		}
	}
	n.record(trace, result, "")
	return result
}

type notNode struct {
	tracePlace
	kid node
}

func (n *notNode) test(v *view) bool { return !n.kid.test(v) }

func (n *notNode) traceInto(v *view, trace []ConditionTrace) bool {
	result := !n.kid.traceInto(v, trace)
	n.record(trace, result, "")
	return result
}

type predNode struct {
	tracePlace
	pred *predicate
	err  string // why the predicate can never hold
}

func (n *predNode) test(v *view) bool { return n.match(v) }

func (n *predNode) traceInto(v *view, trace []ConditionTrace) bool {
	result := n.match(v)
	n.record(trace, result, n.err)
	return result
}

// topLevel is the number of top-level conditions of a rule with root
// (the members of its top-level &&), or 0 when it has a single one.
func topLevel(root node) int {
	if all, ok := root.(*allNode); ok && all.index < 0 {
		return len(all.kids)
	}
	return 0
}

// Compile prepares the enabled and disabled rules of gateway (every rule
// when gateway is "") in evaluation order: priority descending, then name.
// Conditions still in text form are parsed; a rule whose condition cannot be
// parsed or compiled never matches and reports why in its trace. The Program
// refers to the routes (Result.Action points into them), so they must not
// change while it is in use.
func Compile(routes []model.Route, gateway string) *Program {
	p := &Program{}
	for i := range routes {
		r := &routes[i]
		if gateway != "" && r.Gateway != gateway {
			continue
		}
		p.rules = append(p.rules, compileRule(r))
	}
	sort.SliceStable(p.rules, func(i, j int) bool {
		return model.CompareRoutes(p.rules[i].route, p.rules[j].route) < 0
	})
	return p
}

func compileRule(r *model.Route) *compiledRule {
	cr := &compiledRule{route: r}
	if rw := r.Then.Rewrite; rw != nil && rw.PathRegex != nil {
		cr.rewriteRe, _ = regexp.Compile(rw.PathRegex.Pattern)
	}
	rr := *r
	rr.When = r.When.Clone()
	if err := Resolve(&rr); err != nil {
		cr.err = err.Error()
		return cr
	}
	cr.when = Normalize(rr.When)
	if cr.when.IsZero() {
		return cr
	}
	next := 0
	var build func(c model.Condition, depth int) node
	build = func(c model.Condition, depth int) node {
		at := tracePlace{index: next, depth: depth, expr: Format(c)}
		next++
		var kids []node
		for _, k := range c.All {
			kids = append(kids, build(k, depth+1))
		}
		for _, k := range c.Any {
			kids = append(kids, build(k, depth+1))
		}
		switch {
		case len(c.All) > 0:
			return &allNode{tracePlace: at, kids: kids}
		case len(c.Any) > 0:
			return &anyNode{tracePlace: at, kids: kids}
		case c.Not != nil:
			return &notNode{tracePlace: at, kid: build(*c.Not, depth+1)}
		}
		return compilePredicate(at, c)
	}
	if len(cr.when.All) > 0 {
		// The members of a top-level && are the conditions people read;
		// the && itself would only repeat the rule's verdict.
		root := &allNode{tracePlace: tracePlace{index: -1, depth: -1}}
		for _, k := range cr.when.All {
			root.kids = append(root.kids, build(k, 0))
		}
		cr.root = root
	} else {
		cr.root = build(cr.when, 0)
	}
	cr.nodes = next
	return cr
}

func compilePredicate(at tracePlace, c model.Condition) *predNode {
	n := &predNode{tracePlace: at}
	if _, _, ok := model.ParseField(c.Field); !ok {
		n.err = "unknown field " + strconv.Quote(c.Field)
		return n
	}
	n.pred = compilePred(c)
	n.err = n.pred.prepare()
	return n
}

// Evaluate runs the rules of gatewayName (every rule when it is "") against
// req and returns the first match, its effect and the trace. It is the
// definition of what a rule set means; see the package documentation.
func Evaluate(routes []model.Route, gatewayName string, req Request) Result {
	return Compile(routes, gatewayName).Evaluate(req)
}

// Evaluate runs the compiled rules against req.
func (p *Program) Evaluate(req Request) Result {
	v := newView(req)
	res := Result{Trace: make([]RuleTrace, 0, 8)}
	for _, cr := range p.rules {
		rt := cr.trace(v)
		res.Trace = append(res.Trace, rt)
		if rt.Matched {
			applyMatch(&res, cr, v, req)
			return res
		}
	}
	return res
}

// trace evaluates one rule for v, recording every condition's result.
func (cr *compiledRule) trace(v *view) RuleTrace {
	rt := RuleTrace{Rule: cr.route.Name, Priority: cr.route.Priority, Conditions: []ConditionTrace{}}
	switch {
	case cr.route.Disabled:
		rt.Skipped = "disabled"
	case !cr.route.OnListener(v.listener):
		rt.Skipped = offListener(cr.route)
	case cr.err != "":
		rt.Conditions = append(rt.Conditions, ConditionTrace{Expr: cr.route.When.Text, Error: cr.err})
		rt.FirstFailing = cr.err
	case cr.root == nil:
		rt.Matched = true
	default:
		rt.Conditions = make([]ConditionTrace, cr.nodes)
		rt.Matched = cr.root.traceInto(v, rt.Conditions)
		if !rt.Matched {
			for _, ct := range rt.Conditions {
				if ct.Depth == 0 && !ct.Result {
					rt.FirstFailing = ct.Expr
					break
				}
			}
		}
	}
	return rt
}

// offListener says why a rule was not tried on the request's listener.
func offListener(r *model.Route) string {
	return "only on listeners " + strings.Join(r.Listeners, ", ")
}

// applyMatch fills in the effect of the matched rule cr.
func applyMatch(res *Result, cr *compiledRule, v *view, req Request) {
	var vars map[string]string
	if cr.root != nil {
		vars = templateVars(cr.when, v)
	}
	applyAction(res, cr, v, req, vars)
}

// RuleBrief is a rule that was tried and did not match, without its
// conditions: FirstFailing says why, Skipped why it was not evaluated.
type RuleBrief struct {
	Rule         string `json:"rule"`
	Priority     int    `json:"priority"`
	Skipped      string `json:"skipped,omitempty"`
	FirstFailing string `json:"firstFailing,omitempty"`
}

// Explanation is the answer to "which rule takes this request, and why",
// sized by what a reader needs rather than by the rule set: the winner's
// trace, how many rules came before it, the first of those in brief, and
// the near misses in full. Result carries the effect, without a trace.
type Explanation struct {
	Result Result
	// Winner is the matched rule's trace; nil when none matched.
	Winner *RuleTrace
	// Tried counts the rules tried before the winner (every rule when
	// none matched), disabled ones included.
	Tried int
	// Before holds the first of those rules, in evaluation order, at most
	// ExplainOptions.Before of them.
	Before []RuleBrief
	// NearMisses are rules tried before the winner that had two or more
	// top-level conditions of which exactly one was false, in evaluation
	// order, with their full trace: the first ExplainOptions.NearMisses.
	NearMisses []RuleTrace
}

// ExplainOptions bound an Explanation.
type ExplainOptions struct {
	Before, NearMisses int
}

// Explain evaluates req like Evaluate and says the same about the winner,
// but builds a trace only for the rules a reader looks at: its cost and
// size grow with the rules tried only by a few comparisons each, so a
// gateway of thousands of rules answers about as fast as a small one. The
// outcome is Evaluate's: conditions have no side effects, so evaluating
// them with short-circuits gives the same results.
func (p *Program) Explain(req Request, opts ExplainOptions) Explanation {
	v := newView(req)
	ex := Explanation{Before: []RuleBrief{}, NearMisses: []RuleTrace{}}
	for _, cr := range p.rules {
		// Once the near misses are all found, a rule's first false
		// condition is all there is to know about it.
		matched, failed, first := cr.quick(v, len(ex.NearMisses) < opts.NearMisses)
		if matched {
			rt := cr.trace(v)
			ex.Winner = &rt
			applyMatch(&ex.Result, cr, v, req)
			return ex
		}
		ex.Tried++
		if len(ex.Before) < opts.Before {
			b := RuleBrief{Rule: cr.route.Name, Priority: cr.route.Priority, FirstFailing: first}
			if cr.route.Disabled {
				b.Skipped = "disabled"
			} else if !cr.route.OnListener(v.listener) {
				b.Skipped = offListener(cr.route)
			}
			ex.Before = append(ex.Before, b)
		}
		if failed == 1 && len(ex.NearMisses) < opts.NearMisses && topLevel(cr.root) >= 2 {
			ex.NearMisses = append(ex.NearMisses, cr.trace(v))
		}
	}
	return ex
}

// TracePage is the full trace of the rules tried for req from position
// from (0 is the first rule in evaluation order), at most limit of them.
// next is where the following page starts, -1 after the winner or the last
// rule.
func (p *Program) TracePage(req Request, from, limit int) (page []RuleTrace, next int) {
	v := newView(req)
	page = []RuleTrace{}
	for i := max(from, 0); i < len(p.rules); i++ {
		if len(page) == limit {
			return page, i
		}
		rt := p.rules[i].trace(v)
		page = append(page, rt)
		if rt.Matched {
			break
		}
	}
	return page, -1
}

// quick evaluates a rule with short-circuits and reports whether it
// matched and, for a top-level &&, how many of its members were false and
// the text of the first false one. Counting stops at two, which is all a
// near miss needs, or with count false at one.
func (cr *compiledRule) quick(v *view, count bool) (matched bool, failed int, first string) {
	switch {
	case cr.route.Disabled, !cr.route.OnListener(v.listener):
		return false, 0, ""
	case cr.err != "":
		return false, 1, cr.err
	case cr.root == nil:
		return true, 0, ""
	case cr.root.place().index >= 0:
		// A single top-level condition.
		if cr.root.test(v) {
			return true, 0, ""
		}
		return false, 1, cr.root.place().expr
	}
	for _, k := range cr.root.(*allNode).kids {
		if k.test(v) {
			continue
		}
		if failed++; failed == 1 {
			first = k.place().expr
		}
		if failed == 2 || !count {
			break
		}
	}
	return failed == 0, failed, first
}

// subject returns what a predicate looks at and whether the request has it.
func (n *predNode) subject(v *view) (string, bool) {
	switch n.pred.kind {
	case model.FieldHost:
		return v.hostLower, true
	case model.FieldPath:
		return v.path, true
	case model.FieldMethod:
		return v.method, true
	case model.FieldScheme:
		return v.scheme, true
	case model.FieldHeader:
		return v.header(n.pred.key)
	case model.FieldQuery:
		return v.queryParam(n.pred.key)
	case model.FieldGRPC:
		return "", v.grpc
	case model.FieldGRPCService:
		return v.grpcService, v.grpc && v.grpcPathOK
	case model.FieldGRPCMethod:
		return v.grpcMethod, v.grpc && v.grpcPathOK
	}
	return "", false
}

func (n *predNode) match(v *view) bool {
	if n.err != "" {
		return false
	}
	p := n.pred
	if p.kind == model.FieldCookie {
		return p.matchCookie(v.cookie(p.key))
	}
	s, present := n.subject(v)
	switch p.op {
	case model.OpPresent:
		return present
	case model.OpAbsent:
		return !present
	}
	// Every value matcher, negative ones included, is false when the
	// request lacks the subject: Envoy's invert_match does not flip a
	// missing header into a match.
	return present && p.matchValue(s)
}

// matchCookie tests every cookie of the predicate's name, as a regex over
// Envoy's coalesced Cookie header does: a positive test holds when some
// cookie passes it; != and not in hold when the cookie is there and none
// of its occurrences is equal to (one of) the values.
func (p *predicate) matchCookie(vals []string) bool {
	switch p.op {
	case model.OpPresent:
		return len(vals) > 0
	case model.OpAbsent:
		return len(vals) == 0
	}
	if _, complement := p.test.(notTest); complement {
		for _, s := range vals {
			if !p.matchValue(s) {
				return false
			}
		}
		return len(vals) > 0
	}
	for _, s := range vals {
		if p.matchValue(s) {
			return true
		}
	}
	return false
}

// matchValue applies a value operator to a subject the request has.
func (p *predicate) matchValue(s string) bool {
	if p.test == nil {
		return false
	}
	if p.fold && p.op != model.OpRegex && p.op != model.OpTemplate {
		s = asciiLower(s)
	}
	return p.test.match(s)
}

// templateVars returns the variables of the rule's top-level path.template
// predicate, for a pathTemplate rewrite.
func templateVars(when model.Condition, v *view) map[string]string {
	tmpl, ok := model.MatchedPathTemplate(when)
	if !ok {
		return nil
	}
	t, err := model.ParsePathTemplate(tmpl)
	if err != nil {
		return nil
	}
	vars, _ := t.Match(v.path)
	return vars
}

func applyAction(res *Result, cr *compiledRule, v *view, req Request, vars map[string]string) {
	a := &cr.route.Then
	res.Rule = cr.route.Name
	res.Action = a
	querySuffix := ""
	if v.hasQuery {
		querySuffix = "?" + v.query
	}
	switch {
	case a.Respond != nil:
		res.Status = a.Respond.Status
		res.Body = a.Respond.Body
	case a.Redirect != nil:
		res.Status = a.Redirect.Status
		if res.Status == 0 {
			res.Status = 301
		}
		res.RedirectURL = redirectURL(a.Redirect, cr.when, v, querySuffix)
	case len(a.Forward) > 0:
		res.Upstream = pickBackend(a.Forward, req.Random)
		res.Path = v.fullPath
		res.Host = v.hostSent
		if rw := a.Rewrite; rw != nil {
			res.Path = rewritePath(rw, cr.rewriteRe, cr.when, v, querySuffix, vars)
			switch {
			case rw.Host != "":
				res.Host = rw.Host
			case rw.HostFromHeader != "":
				if h := v.first(strings.ToLower(rw.HostFromHeader)); h != "" {
					res.Host = h
				}
			case rw.AutoHost:
				res.AutoHost = true
			}
		}
	}
}

// pickBackend selects like Envoy's weighted clusters: v = random % total,
// then the first backend whose range [begin, begin+weight) holds v.
func pickBackend(bs []model.Backend, random uint64) string {
	var total uint64
	for i := range bs {
		total += uint64(model.EffectiveWeight(bs, i))
	}
	if total == 0 {
		return ""
	}
	x := random % total
	var begin uint64
	for i, b := range bs {
		w := uint64(model.EffectiveWeight(bs, i))
		if x >= begin && x < begin+w {
			return b.Upstream
		}
		begin += w
	}
	return ""
}

func rewritePath(rw *model.Rewrite, re *regexp.Regexp, when model.Condition, v *view, querySuffix string, vars map[string]string) string {
	switch {
	case rw.PathPrefix != "":
		if prefix, ok := model.MatchedPathPrefix(when); ok && len(prefix) <= len(v.fullPath) {
			return rw.PathPrefix + v.fullPath[len(prefix):]
		}
	case rw.PathRegex != nil:
		if re != nil {
			return re.ReplaceAllString(v.path, envoySubstitution(rw.PathRegex.Substitution)) + querySuffix
		}
	case rw.PathTemplate != "":
		if vars != nil {
			if p, err := model.RewritePathTemplate(rw.PathTemplate, vars); err == nil {
				return p + querySuffix
			}
		}
	}
	return v.fullPath
}

// envoySubstitution turns an RE2 substitution as Envoy writes it ("\1")
// into Go's template syntax ("${1}"), escaping literal dollars.
func envoySubstitution(sub string) string {
	var b strings.Builder
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(sub) && sub[i+1] >= '0' && sub[i+1] <= '9':
			b.WriteString("${")
			b.WriteByte(sub[i+1])
			b.WriteString("}")
			i++
		case c == '\\' && i+1 < len(sub) && sub[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// redirectURL builds the Location of a redirect (Envoy's RedirectAction).
// The request's Host keeps its port unless the redirect sets a port, or
// changes the scheme away from the one the port is the default of.
func redirectURL(r *model.Redirect, when model.Condition, v *view, querySuffix string) string {
	scheme := r.Scheme
	if scheme == "" {
		scheme = v.scheme
	}
	host := r.Host
	if host == "" {
		host = v.hostSent
		if port, ok := strings.CutPrefix(host[len(stripPort(host)):], ":"); ok {
			drop := r.Port != 0 || (scheme != v.scheme && (v.scheme == "https" && port == "443" || v.scheme == "http" && port == "80"))
			if drop {
				host = stripPort(host)
			}
		}
	}
	if r.Port != 0 {
		host += ":" + strconv.Itoa(r.Port)
	}
	var path string
	switch {
	case r.Path != "":
		// A path with its own query is used verbatim; otherwise the
		// request's query is carried over unless stripped.
		path = r.Path
		if !strings.Contains(path, "?") && !r.StripQuery {
			path += querySuffix
		}
	case r.PathPrefix != "":
		path = v.fullPath
		if prefix, ok := model.MatchedPathPrefix(when); ok && len(prefix) <= len(v.fullPath) {
			path = r.PathPrefix + v.fullPath[len(prefix):]
		}
		if r.StripQuery {
			path, _, _ = strings.Cut(path, "?")
		}
	default:
		path = v.fullPath
		if r.StripQuery {
			path = v.path
		}
	}
	return scheme + "://" + host + path
}
