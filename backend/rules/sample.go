package rules

import "github.com/routedeck/routedeck/backend/model"

// Sample is a request a gateway's rules hand to Rule ("" for none).
type Sample struct {
	Rule string `json:"rule"`
	Witness
}

// unmatchedSample is the request the samples offer for "no rule matched":
// a host and path no ordinary rule set serves.
var unmatchedSample = Witness{Method: "GET", URL: "http://unknown.invalid/no-such-page"}

// Samples returns requests that exercise gateway's enabled rules: for each
// rule (in evaluation order) one request the whole rule set hands to it,
// as the evaluator checks, then one that no rule matches. Rules no simple
// request reaches (shadowed ones, or conditions such as a regex with no
// literal) have none; nor does "no rule" when a catch-all rule takes
// every request.
func Samples(routes []model.Route, gateway string) []Sample {
	full := Compile(routes, gateway)
	var out []Sample
	for _, cr := range full.rules {
		if cr.route.Disabled || cr.err != "" {
			continue
		}
		alone := &Program{rules: []*compiledRule{cr}}
		if w := findWitness([]model.Condition{cr.when}, firstListener(cr.route), []*Program{alone}, full, cr.route.Name); w != nil {
			out = append(out, Sample{Rule: cr.route.Name, Witness: *w})
		}
		if len(out) >= maxWitnesses {
			break
		}
	}
	if winner(full, unmatchedSample.Request()) == "" {
		out = append(out, Sample{Witness: unmatchedSample})
	}
	return out
}
