package translate

// RateLimitBuckets counts, per rule with a rate limit, the Envoy routes
// that carry it. Envoy's local rate limit keeps one token bucket per route
// configuration, so a rule placed in several virtual hosts, or split into
// alternatives by any/not, lets its limit through once per route: a count
// above 1 is what an operator should be told. Rules with one route are
// left out.
func RateLimitBuckets(res *Resources) map[string]int {
	counts := map[string]int{}
	for _, rc := range res.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, rt := range vh.GetRoutes() {
				if _, ok := rt.GetTypedPerFilterConfig()[filterRateLimit]; !ok {
					continue
				}
				if rule, ok := RuleOfRoute(rt.GetName()); ok {
					counts[rule]++
				}
			}
		}
	}
	for rule, n := range counts {
		if n < 2 {
			delete(counts, rule)
		}
	}
	return counts
}
