package replay

import (
	"strings"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// hostIndex runs the reference evaluator over the rules a request's host
// leaves in play. Most rules of a large gateway name their host
// (host == "shop.example.com" && ...), and the evaluator tries rules one
// after another, so a replay of many requests against a gateway of
// thousands of rules would spend its time on rules that cannot match.
// The index compiles, for each host some rule requires, a program of the
// rules requiring that host and the rules requiring none, in the order
// of the whole set; a rule that requires another host cannot match, so
// the first match, and what it does, are the same as over every rule.
type hostIndex struct {
	byHost map[string]*rules.Program
	// rest are the rules that require no particular host, for hosts
	// no rule names.
	rest *rules.Program
}

func newHostIndex(routes []model.Route, gateway string) *hostIndex {
	var anyHost []model.Route
	need := map[string][]model.Route{}
	for _, r := range routes {
		if r.Gateway != gateway {
			continue
		}
		hosts := requiredHosts(r)
		if hosts == nil {
			anyHost = append(anyHost, r)
			continue
		}
		for _, h := range hosts {
			need[h] = append(need[h], r)
		}
	}
	ix := &hostIndex{byHost: make(map[string]*rules.Program, len(need)), rest: rules.Compile(anyHost, gateway)}
	for h, rs := range need {
		// Compile puts the rules in evaluation order again.
		ix.byHost[h] = rules.Compile(append(rs, anyHost...), gateway)
	}
	return ix
}

// program is what a request with this Host (or :authority) runs.
func (ix *hostIndex) program(authority string) *rules.Program {
	if p := ix.byHost[rules.HostKey(authority)]; p != nil {
		return p
	}
	return ix.rest
}

// requiredHosts are the hosts one of which a rule's condition requires,
// as the evaluator compares them (lower case, no port); nil when it
// requires none the index can tell: only a top-level conjunct host ==
// NAME or host in [NAMES] without wildcards counts.
func requiredHosts(r model.Route) []string {
	rr := r
	rr.When = r.When.Clone()
	if err := rules.Resolve(&rr); err != nil {
		return nil // never matches: kept with every host, harmlessly
	}
	var found []string
	var walk func(c model.Condition) bool
	walk = func(c model.Condition) bool {
		if len(c.All) > 0 {
			for _, k := range c.All {
				if walk(k) {
					return true
				}
			}
			return false
		}
		kind, _, ok := model.ParseField(c.Field)
		if !ok || kind != model.FieldHost || c.Not != nil || len(c.Any) > 0 {
			return false
		}
		op := c.Op
		if o, ok := model.LookupOperator(op); ok && o.Alias != "" {
			op = o.Alias
		}
		var vals []string
		switch op {
		case model.OpEquals:
			vals = []string{c.Value}
		case model.OpIn:
			vals = c.Values
		default:
			return false
		}
		for _, v := range vals {
			if v == "" || strings.HasPrefix(v, "*") {
				return false
			}
		}
		for _, v := range vals {
			// A value with a port never matches (the evaluator compares
			// hosts without theirs): keyed without it, the rule is
			// merely tried, and fails, for that host.
			found = append(found, rules.HostKey(v))
		}
		return true
	}
	if !walk(rules.Normalize(rr.When)) {
		return nil
	}
	return found
}
