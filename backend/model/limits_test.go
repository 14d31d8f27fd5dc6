package model

import (
	"strings"
	"testing"
)

func TestRouteLimits(t *testing.T) {
	deep := Pred(FieldHost, OpPresent, "")
	for i := 0; i < MaxConditionDepth+1; i++ {
		deep = Not(deep)
	}
	many := make([]Condition, MaxConditionNodes)
	for i := range many {
		many[i] = Pred(FieldHost, OpPresent, "")
	}
	tests := map[string]struct {
		edit func(r *Route)
		want []string
	}{
		"description bytes": {func(r *Route) { r.Description = strings.Repeat("x", MaxDescriptionBytes+1) },
			[]string{"description: is 4097 bytes; at most 4096"}},
		"description lines": {func(r *Route) { r.Description = strings.Repeat("l\n", MaxDescriptionLines) },
			[]string{"description: has 101 lines; at most 100"}},
		"depth 201 built in code": {func(r *Route) { r.When = deep },
			[]string{"when: condition nested more than 200 levels deep"}},
		"nodes built in code": {func(r *Route) { r.When = Or(many...) },
			[]string{"when: condition has more than 1000 nodes"}},
		"regex text": {func(r *Route) { r.When = Pred(FieldPath, OpRegex, "/"+strings.Repeat("a", MaxRegexBytes)) },
			[]string{"when.value: regex is 4097 bytes; at most 4096"}},
		"regex program": {func(r *Route) { r.When = Pred(FieldPath, OpRegex, "/(a{100}){10}") },
			[]string{"when.value: regex is too complex for Envoy"}},
		"regex group names": {func(r *Route) { r.When = Pred(FieldPath, OpRegex, "/(?P<id>a)(?P<id>b)") },
			[]string{`when.value: invalid regex: capture group name "id" is used twice`}},
		"rewrite regex group names": {func(r *Route) {
			r.Then.Rewrite = &Rewrite{PathRegex: &RegexSub{Pattern: "(?P<a>x)(?P<a>y)", Substitution: "/"}}
		}, []string{`then.rewrite.pathRegex.pattern: invalid regex: capture group name "a" is used twice`}},
		"value size": {func(r *Route) { r.When = Pred("header[x-a]", OpEquals, strings.Repeat("v", MaxValueBytes+1)) },
			[]string{"when.value: is 16385 bytes; at most 16384"}},
		"header name in a condition": {func(r *Route) { r.When = Pred("header["+strings.Repeat("h", 300)+"]", OpPresent, "") },
			[]string{"when.field: a header name is at most 256 bytes (this one has 300)"}},
		"header name in a mutation": {func(r *Route) {
			r.Then.Headers.Request.Set = map[string]string{strings.Repeat("h", 300): "1"}
		}, []string{"then.headers.request.set[" + strings.Repeat("h", 64) + "...]: a header name is at most 256 bytes"}},
		"backend weight": {func(r *Route) { r.Then.Forward[0].Weight = MaxUint32 + 1 },
			[]string{"then.forward[0].weight: must be at most 4294967295"}},
		"backend weights together": {func(r *Route) { r.Then.Forward[0].Weight = MaxUint32 },
			[]string{"then.forward: the weights must add up to less than 2^32"}},
		"retries": {func(r *Route) { r.Then.Retries.Attempts = MaxUint32 + 1 },
			[]string{"then.retries.attempts: must be at most 4294967295"}},
		"rate limit": {func(r *Route) { r.Then.RateLimit = &RateLimit{Requests: MaxUint32 + 1, Per: 1e9, Burst: -1} },
			[]string{"then.rateLimit.requests: must be at most 4294967295", "then.rateLimit.burst: must not be negative"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := validRoute()
			tc.edit(&r)
			checkProblems(t, r.Validate(), tc.want)
		})
	}
}

func TestUpstreamLimits(t *testing.T) {
	ep := func(w int) Endpoint { return Endpoint{Address: "10.0.0.1", Port: 80, Weight: w} }
	tests := map[string]struct {
		u    Upstream
		want []string
	}{
		"endpoint weight": {Upstream{Static: &StaticSource{Endpoints: []Endpoint{ep(MaxUint32 + 1)}}},
			[]string{"static.endpoints[0].weight: must be at most 4294967295"}},
		"endpoint weights together": {Upstream{Static: &StaticSource{Endpoints: []Endpoint{ep(MaxUint32), ep(0)}}},
			[]string{"static.endpoints: the endpoint weights must add up to at most 4294967295"}},
		"thresholds": {Upstream{Static: &StaticSource{Endpoints: []Endpoint{ep(1)}},
			CircuitBreaker:   &CircuitBreaker{MaxRequests: MaxUint32 + 1},
			OutlierDetection: &OutlierDetection{Consecutive5xx: MaxUint32 + 1}},
			[]string{"circuitBreaker.maxRequests: must be at most 4294967295", "outlierDetection.consecutive5xx: must be at most 4294967295"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.u.Name = "u"
			checkProblems(t, tc.u.Validate(), tc.want)
		})
	}
}
