package rules

import (
	"fmt"
	"sort"

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
// same gateway (in evaluation order) has no condition, or the same condition
// after normalisation, so it takes every request the later rule would. It is
// deliberately narrow: conditions are compared as written (up to the order
// of the members of && and ||), not proven equivalent, so every finding is
// real. Rules whose condition text does not
// parse are skipped (Validate reports them).
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
		for _, r := range rs {
			rr := *r
			rr.When = r.When.Clone()
			if err := Resolve(&rr); err != nil {
				continue
			}
			text := Format(sortedCondition(Normalize(rr.When)))
			switch {
			case catchAll != "":
				out = append(out, Finding{Gateway: g, Rule: r.Name, ShadowedBy: catchAll,
					Message: fmt.Sprintf("never matches: rule %q before it has no condition and takes every request", catchAll)})
			case seen[text] != "":
				out = append(out, Finding{Gateway: g, Rule: r.Name, ShadowedBy: seen[text],
					Message: fmt.Sprintf("never matches: rule %q before it has the same condition", seen[text])})
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
