package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// Finding is a rule that can never match.
type Finding struct {
	Gateway    string `json:"gateway"`
	Rule       string `json:"rule"`
	ShadowedBy string `json:"shadowedBy"`
	Message    string `json:"message"`
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
		catchAll := ""
		seen := map[string]string{} // canonical condition text -> first rule
		// The DNF of every earlier rule, in order; a rule
		// already reported still counts, because whatever it covers its
		// own shadower covers too.
		type earlier struct {
			name string
			dnf  []conjunction
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
			text := Format(sortedCondition(when))
			d, dnfOK := dnf(when)
			by := ""
			if catchAll == "" && seen[text] == "" && dnfOK {
				for _, i := range candidates(d, byHost, anyHost) {
					if dnfImplies(d, before[i].dnf) {
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
				before = append(before, earlier{r.Name, d})
			}
			switch {
			case catchAll != "":
				out = append(out, Finding{Gateway: g, Rule: r.Name, ShadowedBy: catchAll,
					Message: fmt.Sprintf("never matches: rule %q before it has no condition and takes every request", catchAll)})
			case seen[text] != "":
				out = append(out, Finding{Gateway: g, Rule: r.Name, ShadowedBy: seen[text],
					Message: fmt.Sprintf("never matches: rule %q before it has the same condition", seen[text])})
			case by != "":
				out = append(out, Finding{Gateway: g, Rule: r.Name, ShadowedBy: by,
					Message: fmt.Sprintf("never matches: rule %q before it matches every request this one does", by)})
			default:
				seen[text] = r.Name
				if text == "" {
					catchAll = r.Name
				}
			}
		}
	}
	return out
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
