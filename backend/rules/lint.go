package rules

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// Finding is something lint found in a rule: that it can never match, that
// an earlier rule takes part of its traffic, or that its rewrite makes a
// path it probably does not mean.
type Finding struct {
	Gateway string `json:"gateway"`
	Rule    string `json:"rule"`
	// Kind is FindingShadowed, FindingOverlap or FindingRewriteSlash.
	Kind string `json:"kind"`
	// Severity is SeverityError for a rule that can never match,
	// SeverityWarning for a rewrite that mangles paths and SeverityInfo
	// for a partial overlap (often intended, such as a canary first).
	Severity string `json:"severity"`
	// ShadowedBy is the earlier rule that takes the traffic (shadowed and
	// overlap findings).
	ShadowedBy string `json:"shadowedBy,omitempty"`
	Message    string `json:"message"`
	// Witness is a request that shows the finding, checked with the
	// evaluator; nil when none was found (the finding still holds).
	Witness *Witness `json:"witness,omitempty"`
	// Fix is a change that removes the finding, when lint knows one.
	Fix *Fix `json:"fix,omitempty"`
}

// Kinds and severities of findings.
const (
	FindingShadowed     = "shadowed"
	FindingOverlap      = "overlap"
	FindingRewriteSlash = "rewrite-slash"

	SeverityError   = "error"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

// Fix is a suggested change to one field of the rule: Field is its path
// in the rule ("then.rewrite.pathPrefix", "when") and Value the new value
// (for when, condition text).
type Fix struct {
	Field   string `json:"field"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

// Lint reports rules that are fully shadowed: an earlier enabled rule of the
// same gateway (in evaluation order) takes every request the later rule
// would. That is the case when the earlier rule has no condition, has the
// same condition after normalisation (up to the order of the members of &&
// and ||), or provably matches every request the later one does. The proof
// is conservative, so every finding is real: both conditions are brought
// into disjunctive normal form (rules whose form would exceed 64
// conjunctions are left out) and each conjunction of the later rule must
// imply some conjunction of the earlier, predicate by predicate, using only
// implications that follow from the evaluator's definitions (see
// litImplies). Rules whose condition text does not parse are skipped
// (Validate reports them).
func Lint(routes []model.Route) []Finding {
	byGateway := map[string][]*model.Route{}
	for i := range routes {
		r := &routes[i]
		if !r.Disabled {
			byGateway[r.Gateway] = append(byGateway[r.Gateway], r)
		}
	}
	gateways := make([]string, 0, len(byGateway))
	for g := range byGateway {
		gateways = append(gateways, g)
	}
	sort.Strings(gateways)

	var out []Finding
	for _, g := range gateways {
		rs := byGateway[g]
		sort.SliceStable(rs, func(i, j int) bool { return model.CompareRoutes(rs[i], rs[j]) < 0 })
		w := witnesses{routes: routes, gateway: g}
		catchAll := ""
		seen := map[string]string{} // canonical condition text -> first rule
		// The DNF of every earlier rule, in order; a rule
		// already reported still counts, because whatever it covers its
		// own shadower covers too.
		type earlier struct {
			name string
			dnf  []conjunction
			r    *model.Route
		}
		var before []earlier
		// Most rule sets are partitioned by host, and a rule that requires
		// host == h can only be implied by a rule that requires it too, so
		// earlier rules are indexed by such a host and only the ones that
		// can matter are compared: lint stays fast on 10,000 rules.
		byHost := map[string][]int{}
		var anyHost []int
		for _, r := range rs {
			rr := *r
			rr.When = r.When.Clone()
			if err := Resolve(&rr); err != nil {
				continue
			}
			when := Normalize(rr.When)
			// Rules on different listeners are compared like rules with
			// different conditions: only an earlier rule on every
			// listener of this one can take all its requests.
			text := Format(sortedCondition(when)) + listenerKey(r)
			d, dnfOK := dnf(when)
			by := ""
			if catchAll == "" && seen[text] == "" && dnfOK {
				for _, i := range candidates(d, byHost, anyHost) {
					if coversListeners(before[i].r, r) && dnfImplies(d, before[i].dnf) {
						by = before[i].name
						break
					}
				}
			}
			if dnfOK {
				if h := requiredHost(d); h != "" {
					byHost[h] = append(byHost[h], len(before))
				} else {
					anyHost = append(anyHost, len(before))
				}
				before = append(before, earlier{r.Name, d, r})
			}
			shadowed := func(by, why string) {
				out = append(out, Finding{Gateway: g, Rule: r.Name, Kind: FindingShadowed, Severity: SeverityError, ShadowedBy: by,
					Message: fmt.Sprintf("never matches: rule %q before it %s", by, why), Witness: w.shadowed(rr, by)})
			}
			switch {
			case catchAll != "":
				shadowed(catchAll, "has no condition and takes every request")
			case seen[text] != "":
				shadowed(seen[text], "has the same condition")
			case by != "":
				shadowed(by, "matches every request this one does")
			default:
				seen[text] = r.Name
				if text == "" { // no condition, on every listener
					catchAll = r.Name
				}
			}
		}
	}
	return out
}

// maxWitnesses bounds the witness requests looked for per gateway: each
// costs an evaluation over the gateway's rules, and a gateway with
// thousands of dead rules needs its first findings fixed before the rest.
const maxWitnesses = 200

// witnesses finds the witness requests of one gateway's findings, with
// the gateway's program compiled once, on the first finding.
type witnesses struct {
	routes  []model.Route
	gateway string
	full    *Program
	tried   int
}

func (w *witnesses) program() *Program {
	if w.full == nil {
		w.full = Compile(w.routes, w.gateway)
	}
	return w.full
}

// shadowed finds a request that r (resolved) matches, which the gateway's
// rules hand to by; or to another rule before r, when every candidate
// meets such a rule first (then the witness names it).
func (w *witnesses) shadowed(r model.Route, by string) *Witness {
	if w.tried++; w.tried > maxWitnesses {
		return nil
	}
	alone := Compile([]model.Route{r}, "")
	// Any listener of r will do: the rule that shadows it answers there.
	listener := firstListener(&r)
	if wt := findWitness([]model.Condition{r.When}, listener, []*Program{alone}, w.program(), by); wt != nil {
		wt.TakenBy = by
		return wt
	}
	wt := findWitness([]model.Condition{r.When}, listener, []*Program{alone}, nil, "")
	if wt == nil {
		return nil
	}
	taker := winner(w.program(), wt.Request())
	if taker == "" || taker == r.Name {
		return nil
	}
	wt.TakenBy = taker
	return wt
}

// listenerKey tells apart, in Lint's table of conditions seen, rules on
// different listeners ("" for a rule on every listener).
func listenerKey(r *model.Route) string {
	if len(r.Listeners) == 0 {
		return ""
	}
	return "\x00" + strings.Join(slices.Sorted(slices.Values(r.Listeners)), "\x00")
}

// firstListener is a listener r answers on: "" (a request that names
// none) for a rule on every listener.
func firstListener(r *model.Route) string {
	if len(r.Listeners) == 0 {
		return ""
	}
	return r.Listeners[0]
}

// coversListeners reports whether a answers on every listener b does.
func coversListeners(a, b *model.Route) bool {
	if len(a.Listeners) == 0 {
		return true
	}
	if len(b.Listeners) == 0 {
		return false
	}
	for _, l := range b.Listeners {
		if !slices.Contains(a.Listeners, l) {
			return false
		}
	}
	return true
}

// sharedListener reports whether a and b answer on some listener in
// common, and a listener a request reaching both arrives on ("" when both
// answer on every listener).
func sharedListener(a, b *model.Route) (string, bool) {
	switch {
	case len(a.Listeners) == 0 && len(b.Listeners) == 0:
		return "", true
	case len(a.Listeners) == 0:
		return firstListener(b), true
	case len(b.Listeners) == 0:
		return firstListener(a), true
	}
	for _, l := range b.Listeners {
		if slices.Contains(a.Listeners, l) {
			return l, true
		}
	}
	return "", false
}

// sortedCondition orders the members of every && and || by their text:
// both are commutative, so "a && b" and "b && a" shadow each other.
func sortedCondition(c model.Condition) model.Condition {
	sortList := func(cs []model.Condition) []model.Condition {
		out := make([]model.Condition, len(cs))
		for i, k := range cs {
			out[i] = sortedCondition(k)
		}
		sort.SliceStable(out, func(i, j int) bool { return Format(out[i]) < Format(out[j]) })
		return out
	}
	switch {
	case c.Not != nil:
		inner := sortedCondition(*c.Not)
		return model.Condition{Not: &inner}
	case len(c.All) > 0:
		return model.Condition{All: sortList(c.All)}
	case len(c.Any) > 0:
		return model.Condition{Any: sortList(c.Any)}
	}
	return c
}

// exactHost returns the host a conjunction requires with a plain
// host == "h" (no wildcard), or "".
func exactHost(c conjunction) string {
	for _, l := range c {
		if !l.neg && l.known && l.kind == model.FieldHost && l.op == model.OpEquals &&
			len(l.values) == 1 && !strings.Contains(l.values[0], "*") {
			return l.values[0]
		}
	}
	return ""
}

// requiredHost is the exact host every conjunction of d requires, or "" when
// they do not all require the same one.
func requiredHost(d []conjunction) string {
	h := ""
	for i, c := range d {
		ch := exactHost(c)
		if ch == "" || (i > 0 && ch != h) {
			return ""
		}
		h = ch
	}
	return h
}

// candidates lists, in precedence order, the earlier rules that could imply
// d: those without a required host, and those requiring a host that every
// conjunction of d pins exactly (a conjunction without an exact host
// implies no conjunction that has one).
func candidates(d []conjunction, byHost map[string][]int, anyHost []int) []int {
	hosts := map[string]bool{}
	for _, c := range d {
		h := exactHost(c)
		if h == "" {
			return anyHost
		}
		hosts[h] = true
	}
	out := slices.Clone(anyHost)
	for h := range hosts {
		out = append(out, byHost[h]...)
	}
	slices.Sort(out)
	return out
}

// maxOverlapChecks bounds the rule pairs LintAll tries for partial overlaps
// per gateway, so a gateway of thousands of rules is linted in bounded
// time; pairs beyond it go unreported.
const maxOverlapChecks = 4000

// LintAll is Lint plus the findings that do not stop a rule from working:
// partial overlaps (an earlier rule takes some of a later rule's requests,
// and is not simply a narrower case of it) and prefix rewrites that double
// or drop the slash between the prefix and the rest of the path. Each
// comes with a witness request checked with the evaluator, and rewrites
// with the value that fixes them.
func LintAll(routes []model.Route) []Finding {
	out := Lint(routes)
	shadowed := map[string]bool{}
	for _, f := range out {
		shadowed[f.Gateway+"\x00"+f.Rule] = true
	}
	byGateway := map[string][]model.Route{}
	for _, r := range routes {
		if r.Disabled {
			continue
		}
		rr := r
		rr.When = r.When.Clone()
		if Resolve(&rr) != nil {
			continue
		}
		byGateway[r.Gateway] = append(byGateway[r.Gateway], rr)
	}
	for _, g := range slices.Sorted(maps.Keys(byGateway)) {
		rs := byGateway[g]
		sort.SliceStable(rs, func(i, j int) bool { return model.CompareRoutes(&rs[i], &rs[j]) < 0 })
		w := &witnesses{routes: routes, gateway: g}
		out = append(out, overlaps(g, rs, shadowed, w)...)
		for _, r := range rs {
			if f := rewriteSlash(g, r); f != nil {
				out = append(out, *f)
			}
		}
	}
	return out
}

// overlaps reports, for each rule not already shadowed, the first earlier
// rule that takes some of its requests without being a narrower case of it
// (a narrower rule first is the usual way to carve out an exception).
func overlaps(g string, rs []model.Route, shadowed map[string]bool, w *witnesses) []Finding {
	type compiled struct {
		dnf   []conjunction
		ok    bool
		host  string
		alone *Program
	}
	cs := make([]compiled, len(rs))
	for i := range rs {
		d, ok := dnf(Normalize(rs[i].When))
		cs[i] = compiled{dnf: d, ok: ok, alone: Compile(rs[i:i+1], "")}
		if ok {
			cs[i].host = requiredHost(d)
		}
	}
	var out []Finding
	checks := 0
	// Earlier rules by the host they require, as in Lint: a rule that
	// requires another host cannot take this one's requests.
	byHost := map[string][]int{}
	var anyHost []int
	for j := range rs {
		b := &rs[j]
		if cs[j].ok && !shadowed[g+"\x00"+b.Name] && checks < maxOverlapChecks {
			for _, i := range candidates(cs[j].dnf, byHost, anyHost) {
				a := &rs[i]
				listener, shared := sharedListener(a, b)
				if !shared {
					continue // they never see the same request
				}
				if a.When.IsZero() && coversListeners(a, b) || dnfImplies(cs[i].dnf, cs[j].dnf) {
					continue // a catch-all shadows, a narrower rule is an exception
				}
				if checks++; checks > maxOverlapChecks {
					break
				}
				wt := findWitness([]model.Condition{a.When, b.When}, listener, []*Program{cs[i].alone, cs[j].alone}, nil, "")
				if wt == nil {
					continue
				}
				if w.tried++; w.tried > maxWitnesses {
					break
				}
				wt.TakenBy = winner(w.program(), wt.Request())
				if wt.TakenBy == "" || wt.TakenBy == b.Name {
					continue
				}
				out = append(out, Finding{Gateway: g, Rule: b.Name, Kind: FindingOverlap, Severity: SeverityInfo, ShadowedBy: wt.TakenBy,
					Message: fmt.Sprintf("partly taken by rule %q before it: %s goes to %q, not to this rule", wt.TakenBy, wt, wt.TakenBy),
					Witness: wt})
				break
			}
		}
		if cs[j].ok {
			if cs[j].host != "" {
				byHost[cs[j].host] = append(byHost[cs[j].host], j)
			} else {
				anyHost = append(anyHost, j)
			}
		}
	}
	return out
}

// rewriteSlash reports a prefix rewrite that joins the replaced prefix and
// the rest of the path with two slashes ("/app" -> "/canary/" turns
// "/app/x" into "/canary//x", as Envoy does) or with none ("/app/" ->
// "/canary" gives "/canaryx"). The witness is checked with the evaluator.
func rewriteSlash(g string, r model.Route) *Finding {
	rw := r.Then.Rewrite
	if rw == nil || rw.PathPrefix == "" || len(r.Then.Forward) == 0 {
		return nil
	}
	prefix, ok := model.MatchedPathPrefix(r.When)
	if !ok || prefix == "" {
		return nil
	}
	doubled := !strings.HasSuffix(prefix, "/") && strings.HasSuffix(rw.PathPrefix, "/")
	dropped := strings.HasSuffix(prefix, "/") && !strings.HasSuffix(rw.PathPrefix, "/")
	if !doubled && !dropped {
		return nil
	}
	alone := Compile([]model.Route{r}, "")
	wt := findWitness([]model.Condition{r.When}, firstListener(&r), []*Program{alone}, nil, "")
	if wt == nil {
		return nil
	}
	res := alone.Evaluate(wt.Request())
	upstreamPath, _, _ := strings.Cut(res.Path, "?")
	f := &Finding{Gateway: g, Rule: r.Name, Kind: FindingRewriteSlash, Severity: SeverityWarning, Witness: wt}
	switch {
	case doubled && strings.Contains(upstreamPath, "//"):
		f.Message = fmt.Sprintf("the prefix rewrite doubles a slash: %s reaches the upstream as %s", wt, res.Path)
		if trimmed := strings.TrimRight(rw.PathPrefix, "/"); trimmed != "" {
			f.Fix = &Fix{Field: "then.rewrite.pathPrefix", Value: trimmed,
				Message: fmt.Sprintf("rewrite %q to %q: the slash after %q is kept from the request", prefix, trimmed, prefix)}
		} else if when, ok := withPrefix(r.When, prefix, prefix+"/"); ok {
			f.Fix = &Fix{Field: "when", Value: when,
				Message: fmt.Sprintf("match %q instead: the rewrite then replaces the slash too (%q alone no longer matches)", prefix+"/", prefix)}
		}
	case dropped && strings.HasPrefix(upstreamPath, rw.PathPrefix) && len(upstreamPath) > len(rw.PathPrefix):
		f.Message = fmt.Sprintf("the prefix rewrite drops a slash: %s reaches the upstream as %s", wt, res.Path)
		f.Fix = &Fix{Field: "then.rewrite.pathPrefix", Value: rw.PathPrefix + "/",
			Message: fmt.Sprintf("rewrite %q to %q: %q ends with a slash the rewrite replaces", prefix, rw.PathPrefix+"/", prefix)}
	default:
		return nil
	}
	return f
}

// withPrefix returns c's text with its top-level path prefix predicate
// old changed to new.
func withPrefix(c model.Condition, old, new string) (string, bool) {
	c = c.Clone()
	change := func(p *model.Condition) bool {
		if p.Field == model.FieldPath && (p.Op == model.OpPrefix || p.Op == model.OpSegmentPrefix) && p.Value == old {
			p.Value = new
			return true
		}
		return false
	}
	if change(&c) {
		return Format(c), true
	}
	for i := range c.All {
		if change(&c.All[i]) {
			return Format(c), true
		}
	}
	return "", false
}
