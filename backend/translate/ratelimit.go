package translate

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// rateLimitPolicy limits a rule's request rate (then.rateLimit) with
// Envoy's local rate limit filter, one token bucket per route.
var rateLimitPolicy = httpPolicy{
	filter: filterRateLimit,
	perRoute: func(r *model.Route, _ map[string]*model.Upstream, problems *model.Problems) (validatable, string, any) {
		if r.Then.RateLimit == nil {
			return nil, "", nil
		}
		return rateLimit(r.Then.RateLimit, problems), "then.rateLimit", nil
	},
	hcm: func(map[string]any) (validatable, bool) {
		return &ratelimitv3.LocalRateLimit{StatPrefix: "http_local_rate_limiter"}, false
	},
	key: func(e *keyEncoder, a *model.Action) {
		if rl := a.RateLimit; e.present(rl != nil) {
			e.int(int64(rl.Requests))
			e.dur(rl.Per)
			e.int(int64(rl.Burst))
			e.int(int64(rl.Status))
		}
	},
}

const filterRateLimit = "envoy.filters.http.local_ratelimit"

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

func rateLimit(rl *model.RateLimit, problems *model.Problems) *ratelimitv3.LocalRateLimit {
	if rl.Requests <= 0 {
		problems.Add("then.rateLimit.requests", "must be positive")
	}
	if rl.Per <= 0 {
		problems.Add("then.rateLimit.per", "must be a positive duration")
	} else if rl.Per.Std() < 50*time.Millisecond {
		problems.Add("then.rateLimit.per", "must be at least 50ms (Envoy's token bucket limit)")
	}
	burst := rl.Burst
	if burst == 0 {
		burst = rl.Requests
	}
	status := rl.Status
	if status == 0 {
		status = 429
	}
	if status < 400 || status > 599 {
		problems.Add("then.rateLimit.status", "must be a 4xx or 5xx status")
	}
	always := func(key string) *corev3.RuntimeFractionalPercent {
		return &corev3.RuntimeFractionalPercent{
			RuntimeKey:   key,
			DefaultValue: &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED},
		}
	}
	return &ratelimitv3.LocalRateLimit{
		StatPrefix: "route_rate_limit",
		Status:     &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		TokenBucket: &typev3.TokenBucket{
			MaxTokens:     uint32(max(burst, 1)),
			TokensPerFill: wrapperspb.UInt32(uint32(max(rl.Requests, 1))),
			FillInterval:  duration(rl.Per),
		},
		// Both default to 0%: without them the limit would never apply.
		FilterEnabled:  always("local_rate_limit_enabled"),
		FilterEnforced: always("local_rate_limit_enforced"),
	}
}
