package sim

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// localRateLimitDef is the local rate limit filter; the same
// LocalRateLimit configures it per route, with a bucket of its own.
var localRateLimitDef = filterDef{
	kind:    filterRateLimit,
	types:   []string{"type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"},
	perType: "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
	compile: func(a *anypb.Any) (filterImpl, error) {
		m, err := unpackAny(a, &ratelimitv3.LocalRateLimit{})
		if err != nil {
			return nil, err
		}
		return compileRateLimit(m)
	},
}

// rateLimit is a token bucket. Its state lives as long as the compiled
// configuration: a new snapshot starts with a full bucket, like an Envoy
// that drained and rebuilt the route.
type rateLimit struct {
	enabled  uint64 // percent scaled to a million
	enforced uint64
	status   int
	headers  bool // x-ratelimit-* headers (DRAFT_VERSION_03)
	addResp  []*corev3.HeaderValueOption

	mu       sync.Mutex
	max      float64
	perFill  float64
	interval time.Duration
	tokens   float64
	last     time.Time
	noBucket bool
}

func percentMillion(p *typev3.FractionalPercent) uint64 {
	if p == nil {
		return 1_000_000
	}
	return uint64(p.GetNumerator()) * 1_000_000 / denominator(p.GetDenominator())
}

func compileRateLimit(m *ratelimitv3.LocalRateLimit) (filterImpl, error) {
	rl := &rateLimit{
		enabled:  0,
		enforced: 0,
		status:   429,
		headers:  m.GetEnableXRatelimitHeaders() != 0,
		addResp:  m.GetResponseHeadersToAdd(),
	}
	// Without filter_enabled/filter_enforced the filter only counts.
	if m.GetFilterEnabled() != nil {
		rl.enabled = percentMillion(m.GetFilterEnabled().GetDefaultValue())
	}
	if m.GetFilterEnforced() != nil {
		rl.enforced = percentMillion(m.GetFilterEnforced().GetDefaultValue())
	}
	if c := m.GetStatus().GetCode(); c != 0 {
		rl.status = int(c)
	}
	tb := m.GetTokenBucket()
	if tb == nil {
		rl.noBucket = true
		return rl, nil
	}
	rl.max = float64(tb.GetMaxTokens())
	rl.perFill = 1
	if tb.GetTokensPerFill() != nil {
		rl.perFill = float64(tb.GetTokensPerFill().GetValue())
	}
	rl.interval = tb.GetFillInterval().AsDuration()
	if rl.interval <= 0 {
		return nil, fmt.Errorf("token_bucket.fill_interval must be positive")
	}
	rl.tokens = rl.max
	return rl, nil
}

func (rl *rateLimit) take(now time.Time) (ok bool, remaining int, reset time.Duration) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.last.IsZero() {
		rl.last = now
	}
	// Whole fills only, as Envoy's timer-driven bucket refills.
	if fills := int(now.Sub(rl.last) / rl.interval); fills > 0 {
		rl.tokens = min(rl.max, rl.tokens+float64(fills)*rl.perFill)
		rl.last = rl.last.Add(time.Duration(fills) * rl.interval)
	}
	reset = rl.interval - now.Sub(rl.last)
	if rl.tokens >= 1 {
		rl.tokens--
		return true, int(rl.tokens), reset
	}
	return false, 0, reset
}

func (rl *rateLimit) decode(fc *filterCtx) *localReply {
	if rl.noBucket || !EvaluateFraction(rl.enabled, 1_000_000, fc.random) {
		return nil
	}
	ok, remaining, reset := rl.take(time.Now())
	if rl.headers {
		fc.respAdd.Add("x-ratelimit-limit", strconv.Itoa(int(rl.max)))
		fc.respAdd.Add("x-ratelimit-remaining", strconv.Itoa(remaining))
		fc.respAdd.Add("x-ratelimit-reset", strconv.Itoa(int((reset+time.Second-1)/time.Second)))
	}
	if ok {
		return nil
	}
	if !EvaluateFraction(rl.enforced, 1_000_000, fc.random) {
		fc.note("local_ratelimit: over the limit, not enforced")
		return nil
	}
	fc.note("local_ratelimit: bucket empty")
	lr := &localReply{status: rl.status, body: "local_rate_limited", by: "local_ratelimit", flag: "RL"}
	for _, h := range rl.addResp {
		lr.headers.Add(strings.ToLower(h.GetHeader().GetKey()), h.GetHeader().GetValue())
	}
	return lr
}
