package replay

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// outcome is what one engine says a version does with a request.
type outcome struct {
	rule string
	// status is the gateway's own answer; 0 when forwarded.
	status   int
	forward  []target // by upstream name
	redirect string
	body     string
	resp     edits
}

type target struct {
	upstream   string
	share      float64
	path, host string
	// req is what the gateway does to the request's headers, resp to the
	// upstream's answer.
	req, resp edits
}

// edits are changes to a set of headers: set (added or given another
// value) and removed, names in lower case.
type edits struct {
	set     map[string]string
	removed []string // sorted
}

// autoHost stands for the Host of an upstream whose endpoint's host name
// replaces the request's (auto host rewrite): neither engine knows which
// endpoint would be picked.
const autoHost = "(endpoint host name)"

// headerSet is a header list by name, values in order.
type headerSet map[string][]string

func (h headerSet) clone() headerSet {
	c := make(headerSet, len(h))
	for k, v := range h {
		c[k] = slices.Clone(v)
	}
	return c
}

// mutate applies a header mutation in Envoy's order: remove, set, add,
// add-if-absent.
func (h headerSet) mutate(m *model.HeaderMutation) {
	if m == nil {
		return
	}
	for _, name := range m.Remove {
		delete(h, strings.ToLower(name))
	}
	for k, v := range m.Set {
		h[strings.ToLower(k)] = []string{v}
	}
	for k, v := range m.Add {
		h[strings.ToLower(k)] = append(h[strings.ToLower(k)], v)
	}
	for k, v := range m.AddIfAbsent {
		if _, ok := h[strings.ToLower(k)]; !ok {
			h[strings.ToLower(k)] = []string{v}
		}
	}
}

// diff is what turned before into after. Names ignore says are left out:
// headers the proxy sets itself, which the rules do not decide.
func diff(before, after headerSet, ignore func(string) bool) edits {
	var e edits
	for name, vals := range after {
		if ignore != nil && ignore(name) {
			continue
		}
		if old, ok := before[name]; ok && slices.Equal(old, vals) {
			continue
		}
		if e.set == nil {
			e.set = map[string]string{}
		}
		e.set[name] = strings.Join(vals, ",")
	}
	for name := range before {
		if ignore != nil && ignore(name) {
			continue
		}
		if _, ok := after[name]; !ok {
			e.removed = append(e.removed, name)
		}
	}
	sort.Strings(e.removed)
	return e
}

func (e edits) equal(o edits) bool {
	if len(e.set) != len(o.set) || !slices.Equal(e.removed, o.removed) {
		return false
	}
	for k, v := range e.set {
		if ov, ok := o.set[k]; !ok || ov != v {
			return false
		}
	}
	return true
}

func (e edits) String() string {
	var parts []string
	for _, k := range sortedKeys(e.set) {
		parts = append(parts, k+"="+strconv.Quote(e.set[k]))
	}
	for _, k := range e.removed {
		parts = append(parts, "-"+k)
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, " ")
}

func (e edits) report() replay.HeaderEdits {
	return replay.HeaderEdits{Set: e.set, Removed: e.removed}
}

// proxyHeaders are request headers the proxy adds or rewrites by itself
// (or as the side effect of a rewrite the outcome reports already), which
// the rules do not set.
var proxyHeaders = map[string]bool{
	"x-forwarded-proto": true, "x-request-id": true, "x-forwarded-for": true, "x-forwarded-host": true,
	"x-envoy-original-path": true, "x-envoy-expected-rq-timeout-ms": true, "x-envoy-internal": true,
	"host": true,
}

func ignoreRequestHeader(name string) bool { return name == "" || name[0] == ':' || proxyHeaders[name] }

// probeValue marks the response headers an upstream is assumed to send,
// so that rules removing them show.
const probeValue = "replay-probe"

// probe are the response headers an upstream's answer is assumed to
// carry: every header a rule of either version removes from responses.
type probe struct {
	names []string
	set   headerSet
	sim   sim.Headers
}

func newProbe(versions ...model.Workspace) probe {
	seen := map[string]bool{}
	add := func(m *model.HeaderMutation) {
		if m == nil {
			return
		}
		for _, n := range m.Remove {
			seen[strings.ToLower(n)] = true
		}
	}
	for _, ws := range versions {
		for _, r := range ws.Routes {
			if h := r.Then.Headers; h != nil {
				add(h.Response)
			}
			for _, b := range r.Then.Forward {
				if b.Headers != nil {
					add(b.Headers.Response)
				}
			}
		}
	}
	p := probe{names: sortedKeys(seen), set: headerSet{}}
	for _, n := range p.names {
		p.set[n] = []string{probeValue}
		p.sim = append(p.sim, sim.Header{Name: n, Value: probeValue})
	}
	return p
}

// evaluate is the reference evaluator's outcome. authority is the Host
// the evaluator reads from rr, in the request's headers by name.
func (v *version) evaluate(rr rules.Request, authority string, in headerSet, pr probe) outcome {
	res := v.rules.program(authority).Explain(rr, rules.ExplainOptions{}).Result
	o := outcome{rule: res.Rule}
	resp := pr.set.clone()
	var routeReq, routeResp *model.HeaderMutation
	a := res.Action
	if a != nil && a.Headers != nil {
		routeReq, routeResp = a.Headers.Request, a.Headers.Response
	}
	switch {
	case a == nil:
		o.status = 404
		if d := v.gw.DefaultResponse; d != nil {
			o.status, o.body = d.Status, d.Body
			for k, val := range d.Headers {
				resp[strings.ToLower(k)] = []string{val}
			}
		}
	case a.Respond != nil:
		o.status, o.body = res.Status, res.Body
		for k, val := range a.Respond.Headers {
			resp[strings.ToLower(k)] = []string{val}
		}
	case a.Redirect != nil:
		o.status, o.redirect = res.Status, res.RedirectURL
	default:
		total := 0
		for i := range a.Forward {
			total += model.EffectiveWeight(a.Forward, i)
		}
		host := res.Host
		if res.AutoHost {
			host = autoHost
		}
		for i, b := range a.Forward {
			w := model.EffectiveWeight(a.Forward, i)
			if w == 0 {
				continue
			}
			// The picked backend's mutations first, then the rule's, in
			// the order Envoy applies a weighted cluster's and a route's.
			h, rh := in.clone(), resp.clone()
			if b.Headers != nil {
				h.mutate(b.Headers.Request)
				rh.mutate(b.Headers.Response)
			}
			h.mutate(routeReq)
			rh.mutate(routeResp)
			o.forward = append(o.forward, target{upstream: b.Upstream, share: float64(w) / float64(total),
				path: res.Path, host: host, req: diff(in, h, ignoreRequestHeader), resp: diff(pr.set, rh, nil)})
		}
		sortTargets(o.forward)
		return o
	}
	resp.mutate(routeResp)
	// Envoy types a local reply's body as text/plain unless the answer
	// says otherwise (envoy-semantics: direct responses).
	if o.body != "" && resp["content-type"] == nil {
		resp["content-type"] = []string{"text/plain"}
	}
	o.resp = diff(pr.set, resp, nil)
	return o
}

// simulate is the simulated Envoy's outcome. A weighted split runs once
// per member with the random value that picks it (Envoy takes the member
// whose range of cumulative weights holds random % total), so every
// member is seen with its share rather than one picked by chance.
func (v *version) simulate(sr *sim.Request, scheme string, in headerSet, pr probe) outcome {
	r := v.router(scheme)
	opts := sim.RouteOptions{NoTrace: true, ResponseHeaders: pr.sim}
	d := r.RouteWith(sr, 0, opts)
	o := outcome{rule: ruleOf(d.Route)}
	if d.Kind != sim.KindWeighted || d.Response != nil {
		o.fromDecision(d, in, pr, 1)
		return o
	}
	var members []*routev3.WeightedCluster_ClusterWeight
	if rt := d.MatchedRoute(); rt != nil {
		members = rt.Proto().GetRoute().GetWeightedClusters().GetClusters()
	}
	var total uint64
	for _, m := range members {
		total += uint64(m.GetWeight().GetValue())
	}
	if total == 0 {
		o.fromDecision(d, in, pr, 1)
		return o
	}
	var begin uint64
	for _, m := range members {
		w := uint64(m.GetWeight().GetValue())
		if w == 0 {
			continue
		}
		dm := r.RouteWith(sr, begin, opts)
		begin += w
		o.fromDecision(dm, in, pr, float64(w)/float64(total))
	}
	sortTargets(o.forward)
	return o
}

// fromDecision adds what one routing decision says to o: the local reply,
// or the upstream the request goes to with share.
func (o *outcome) fromDecision(d *sim.Decision, in headerSet, pr probe, share float64) {
	if d.Response != nil || !d.IsRouteEntry() {
		o.status = 404
		resp := d.ResponseHeaders
		if d.Response != nil {
			o.status, o.body = d.Response.Status, d.Response.Body
			resp = d.Response.Headers
			if d.IsDirectResponseEntry() && o.status >= 300 && o.status < 400 {
				o.redirect = d.RedirectURL
			}
		}
		o.resp = diff(pr.set, simHeaders(resp), ignoreLocalReplyHeader)
		return
	}
	h := simHeaders(d.RequestHeaders)
	host, _ := d.RequestHeaders.Get(":authority")
	if d.AutoHostRewrite {
		host = autoHost
	}
	path, _ := d.RequestHeaders.Get(":path")
	t := target{upstream: d.Cluster, share: share, path: path, host: host, req: diff(in, h, ignoreRequestHeader),
		resp: diff(pr.set, simHeaders(d.ResponseHeaders), nil)}
	for i := range o.forward {
		if o.forward[i].upstream == t.upstream {
			// A hash policy or a header picked this member again.
			o.forward[i].share += share
			return
		}
	}
	o.forward = append(o.forward, t)
}

// ignoreLocalReplyHeader leaves out what Envoy puts on every local reply
// and the outcome reports elsewhere (status, redirect, the body and so its
// length). The body's type is compared: a rule may set it.
func ignoreLocalReplyHeader(name string) bool {
	return name == ":status" || name == "location" || name == "content-length"
}

func simHeaders(hs sim.Headers) headerSet {
	h := make(headerSet, len(hs))
	for _, e := range hs {
		h[e.Name] = append(h[e.Name], e.Value)
	}
	return h
}

func sortTargets(ts []target) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].upstream < ts[j].upstream })
}

// ruleOf is the rule a translated Envoy route belongs to; "" for the
// gateway's default response and for no route.
func ruleOf(route string) string {
	rule, _ := translate.RuleOfRoute(route)
	return rule
}

// sameShare compares shares computed from integer weights.
func sameShare(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// classify says how after differs from before, as a set of class bits.
func classify(before, after *outcome) uint16 {
	var c uint16
	if before.rule != after.rule {
		c |= bit(replay.ClassOtherRule)
	}
	bf, af := len(before.forward) > 0, len(after.forward) > 0
	if bf && af && !sameUpstreams(before.forward, after.forward) {
		c |= bit(replay.ClassOtherUpstream)
	}
	now404 := after.status == 404 && !af && (bf || before.status != 404)
	if now404 {
		c |= bit(replay.ClassNow404)
	}
	nowRedirect := after.redirect != "" && before.redirect == ""
	if nowRedirect {
		c |= bit(replay.ClassNowRedirect)
	}
	if bf && af && !sameRewrites(before.forward, after.forward) || before.redirect != "" && after.redirect != "" && before.redirect != after.redirect {
		c |= bit(replay.ClassRewriteChanged)
	}
	// Like the body below, the gateway's answer headers are compared where
	// the request is not now answered 404 or redirected, which says so.
	if !now404 && !nowRedirect && !before.resp.equal(after.resp) || bf && af && !sameHeaderEdits(before.forward, after.forward) {
		c |= bit(replay.ClassHeadersChanged)
	}
	if before.status != after.status && !now404 && !nowRedirect {
		c |= bit(replay.ClassStatusChanged)
	}
	// A body matters where the gateway answers by itself on both sides:
	// a request now answered 404 or redirected says so already.
	if before.status != 0 && after.status != 0 && !now404 && !nowRedirect && before.body != after.body {
		c |= bit(replay.ClassBodyChanged)
	}
	return c
}

func sameUpstreams(a, b []target) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].upstream != b[i].upstream || !sameShare(a[i].share, b[i].share) {
			return false
		}
	}
	return true
}

// sameRewrites compares the paths and hosts upstreams receive. Targets
// of the same upstream are compared one to one; when the upstreams
// differ, the sets of paths and hosts are.
func sameRewrites(a, b []target) bool {
	return sameSet(a, b, func(t target) string { return t.path + "\x00" + t.host })
}

func sameHeaderEdits(a, b []target) bool {
	return sameSet(a, b, func(t target) string { return t.req.String() + "\x00" + t.resp.String() })
}

func sameSet(a, b []target, key func(target) string) bool {
	common := false
	for _, x := range a {
		for _, y := range b {
			if x.upstream == y.upstream {
				common = true
				if key(x) != key(y) {
					return false
				}
			}
		}
	}
	if common {
		return true
	}
	ka, kb := map[string]bool{}, map[string]bool{}
	for _, x := range a {
		ka[key(x)] = true
	}
	for _, y := range b {
		kb[key(y)] = true
	}
	if len(ka) != len(kb) {
		return false
	}
	for k := range ka {
		if !kb[k] {
			return false
		}
	}
	return true
}

var classBits = func() map[string]uint16 {
	m := map[string]uint16{}
	for i, c := range replay.Classes {
		m[c] = 1 << i
	}
	return m
}()

func bit(class string) uint16 { return classBits[class] }

// classNames lists the classes of c in report order.
func classNames(c uint16) []string {
	var out []string
	for i, name := range replay.Classes {
		if c&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// disagreement is the first field on which the evaluator (e) and the
// simulated Envoy (s) differ; "" when they agree. Response headers are
// compared on the names the evaluator reports: Envoy adds some of its own
// (server, content-type) that no rule decides.
func disagreement(e, s *outcome) (field, ev, sv string) {
	switch {
	case e.rule != s.rule:
		return "rule", show(e.rule), show(s.rule)
	case e.status != s.status:
		return "status", showStatus(e.status), showStatus(s.status)
	case !sameUpstreams(e.forward, s.forward):
		return "upstream", showTargets(e.forward), showTargets(s.forward)
	case e.redirect != s.redirect:
		return "redirect", show(e.redirect), show(s.redirect)
	case e.body != s.body:
		return "body", show(clip(e.body)), show(clip(s.body))
	}
	for i := range e.forward {
		et, st := e.forward[i], s.forward[i]
		switch {
		case et.path != st.path:
			return "path", show(et.path), show(st.path)
		case et.host != st.host:
			return "host", show(et.host), show(st.host)
		case !et.req.equal(st.req):
			return "requestHeaders", et.req.String(), st.req.String()
		case !covers(st.resp, et.resp):
			return "responseHeaders", et.resp.String(), st.resp.String()
		}
	}
	if !covers(s.resp, e.resp) {
		return "responseHeaders", e.resp.String(), s.resp.String()
	}
	return "", "", ""
}

// covers reports whether got makes every change want does.
func covers(got, want edits) bool {
	for name, v := range want.set {
		if g, ok := got.set[name]; !ok || g != v {
			return false
		}
	}
	for _, name := range want.removed {
		if !slices.Contains(got.removed, name) {
			return false
		}
	}
	return true
}

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	return strconv.Quote(s)
}

func showStatus(s int) string {
	if s == 0 {
		return "forwarded"
	}
	return strconv.Itoa(s)
}

func showTargets(ts []target) string {
	if len(ts) == 0 {
		return "(none)"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.upstream
		if !sameShare(t.share, 1) {
			parts[i] += fmt.Sprintf(" %.4g%%", t.share*100)
		}
	}
	return strings.Join(parts, ", ")
}

func clip(s string) string {
	if len(s) <= replay.MaxBodyShown {
		return s
	}
	return s[:replay.MaxBodyShown]
}

// report renders an outcome for a report.
func (o *outcome) report() replay.Outcome {
	r := replay.Outcome{Rule: o.rule, Status: o.status, Redirect: o.redirect, Body: clip(o.body), ResponseHeaders: o.resp.report()}
	for _, t := range o.forward {
		r.Forward = append(r.Forward, replay.Target{Upstream: t.upstream, Share: t.share, Path: t.path, Host: t.host,
			RequestHeaders: t.req.report(), ResponseHeaders: t.resp.report()})
	}
	return r
}
