package sim

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	basicauthv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	corsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	jwtv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	ratelimitv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	rbacfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// filterKind names the HTTP filters the data plane implements.
type filterKind string

const (
	filterRouter    filterKind = "router"
	filterRBAC      filterKind = "rbac"
	filterJWT       filterKind = "jwt_authn"
	filterRateLimit filterKind = "local_ratelimit"
	filterCORS      filterKind = "cors"
	filterFault     filterKind = "fault"
	filterBasicAuth filterKind = "basic_auth"
)

// filterTypes maps a typed_config type URL (filter level and per route)
// to the filter it configures.
var filterTypes = map[string]filterKind{
	"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router":                  filterRouter,
	"type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC":                      filterRBAC,
	"type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute":              filterRBAC,
	"type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication":    filterJWT,
	"type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig":       filterJWT,
	"type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit": filterRateLimit,
	"type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors":                      filterCORS,
	"type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy":                filterCORS,
	"type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault":                filterFault,
	"type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth":           filterBasicAuth,
	"type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute":   filterBasicAuth,
	"type.googleapis.com/envoy.config.route.v3.FilterConfig":                              "", // wrapper, see unwrapFilterConfig
}

// localReply is an answer a filter or the router gives by itself.
type localReply struct {
	status  int
	body    string
	headers Headers
	// by names who answered, for the sandbox trace.
	by string
	// flag is the Envoy response flag the reply sets ("" for none).
	flag string
}

// filterCtx is what a filter sees of one request.
type filterCtx struct {
	req      *Request
	d        *Decision
	random   uint64
	respAdd  *Headers // headers to add to whatever answer goes back
	reqAdd   *Headers // headers to add to the upstream request
	reqDel   []string
	dp       *DataPlane
	notes    *[]string
	deadline time.Time
}

func (fc *filterCtx) note(format string, args ...any) {
	*fc.notes = append(*fc.notes, fmt.Sprintf(format, args...))
}

// filterImpl runs one filter's decode step with its effective config.
type filterImpl interface {
	decode(fc *filterCtx) *localReply
}

// httpFilter is one entry of the connection manager's filter chain.
type httpFilter struct {
	name     string
	kind     filterKind
	disabled bool
	// global is the filter-level config; per-route configs replace it.
	global filterImpl
}

// filterDisabled is a per-route FilterConfig{disabled: true}.
type filterDisabled struct{}

func (filterDisabled) decode(*filterCtx) *localReply { return nil }

// compileFilter compiles an HCM http_filters entry. Unknown filters are an
// error unless marked optional, as in Envoy.
func compileFilter(f interface {
	GetName() string
	GetTypedConfig() *anypb.Any
	GetIsOptional() bool
	GetDisabled() bool
}) (*httpFilter, error) {
	tc := f.GetTypedConfig()
	kind, ok := filterTypes[tc.GetTypeUrl()]
	if !ok || kind == "" {
		if f.GetIsOptional() {
			return nil, nil
		}
		return nil, fmt.Errorf("http filter %q: typed config %q is not supported", f.GetName(), tc.GetTypeUrl())
	}
	impl, err := compileFilterConfig(kind, tc, false)
	if err != nil {
		return nil, fmt.Errorf("http filter %q: %w", f.GetName(), err)
	}
	return &httpFilter{name: f.GetName(), kind: kind, disabled: f.GetDisabled(), global: impl}, nil
}

// compilePerRoute compiles one typed_per_filter_config entry.
func compilePerRoute(name string, a *anypb.Any) (filterImpl, error) {
	if a.GetTypeUrl() == "type.googleapis.com/envoy.config.route.v3.FilterConfig" {
		fc := &routev3.FilterConfig{}
		if err := a.UnmarshalTo(fc); err != nil {
			return nil, fmt.Errorf("typed_per_filter_config %q: %w", name, err)
		}
		if fc.GetDisabled() {
			return filterDisabled{}, nil
		}
		if fc.GetConfig() == nil {
			return nil, nil
		}
		return compilePerRoute(name, fc.GetConfig())
	}
	kind, ok := filterTypes[a.GetTypeUrl()]
	if !ok {
		return nil, fmt.Errorf("typed_per_filter_config %q: type %q is not supported", name, a.GetTypeUrl())
	}
	impl, err := compileFilterConfig(kind, a, true)
	if err != nil {
		return nil, fmt.Errorf("typed_per_filter_config %q: %w", name, err)
	}
	return impl, nil
}

func unpackAny[M proto.Message](a *anypb.Any, m M) (M, error) {
	if err := a.UnmarshalTo(m); err != nil {
		return m, err
	}
	if v, ok := any(m).(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return m, err
		}
	}
	return m, nil
}

func compileFilterConfig(kind filterKind, a *anypb.Any, perRoute bool) (filterImpl, error) {
	switch kind {
	case filterRouter:
		if _, err := unpackAny(a, &routerv3.Router{}); err != nil {
			return nil, err
		}
		return nil, nil
	case filterRBAC:
		if perRoute {
			m, err := unpackAny(a, &rbacfilterv3.RBACPerRoute{})
			if err != nil {
				return nil, err
			}
			return compileRBAC(m.GetRbac())
		}
		m, err := unpackAny(a, &rbacfilterv3.RBAC{})
		if err != nil {
			return nil, err
		}
		return compileRBAC(m)
	case filterJWT:
		if perRoute {
			m, err := unpackAny(a, &jwtv3.PerRouteConfig{})
			if err != nil {
				return nil, err
			}
			return &jwtRoute{disabled: m.GetDisabled(), requirement: m.GetRequirementName()}, nil
		}
		m, err := unpackAny(a, &jwtv3.JwtAuthentication{})
		if err != nil {
			return nil, err
		}
		return compileJWT(m)
	case filterRateLimit:
		m, err := unpackAny(a, &ratelimitv3.LocalRateLimit{})
		if err != nil {
			return nil, err
		}
		return compileRateLimit(m)
	case filterCORS:
		if perRoute {
			m, err := unpackAny(a, &corsv3.CorsPolicy{})
			if err != nil {
				return nil, err
			}
			return compileCORS(m)
		}
		if _, err := unpackAny(a, &corsv3.Cors{}); err != nil {
			return nil, err
		}
		return nil, nil
	case filterFault:
		m, err := unpackAny(a, &faultv3.HTTPFault{})
		if err != nil {
			return nil, err
		}
		return compileFault(m)
	case filterBasicAuth:
		var users string
		if perRoute {
			m, err := unpackAny(a, &basicauthv3.BasicAuthPerRoute{})
			if err != nil {
				return nil, err
			}
			users = m.GetUsers().GetInlineString()
		} else {
			m, err := unpackAny(a, &basicauthv3.BasicAuth{})
			if err != nil {
				return nil, err
			}
			users = m.GetUsers().GetInlineString()
		}
		return compileBasicAuth(users)
	}
	return nil, fmt.Errorf("filter %s is not supported", kind)
}

// --- RBAC ---------------------------------------------------------------

type rbacFilter struct {
	enforce  bool // false: no rules, allow everything
	allow    bool // action ALLOW (else DENY)
	policies []rbacPolicy
}

type rbacPolicy struct {
	name        string
	permissions []rbacMatcher
	principals  []rbacMatcher
}

type rbacMatcher func(fc *filterCtx) bool

func compileRBAC(m *rbacfilterv3.RBAC) (filterImpl, error) {
	rules := m.GetRules()
	f := &rbacFilter{enforce: rules != nil}
	if rules == nil {
		return f, nil
	}
	switch rules.GetAction() {
	case rbacv3.RBAC_ALLOW:
		f.allow = true
	case rbacv3.RBAC_DENY:
	default:
		return nil, fmt.Errorf("rbac action %s is not supported", rules.GetAction())
	}
	for _, name := range sortedKeys(rules.GetPolicies()) {
		p := rules.GetPolicies()[name]
		pol := rbacPolicy{name: name}
		for i, perm := range p.GetPermissions() {
			pm, err := compilePermission(perm)
			if err != nil {
				return nil, fmt.Errorf("policy %q permissions[%d]: %w", name, i, err)
			}
			pol.permissions = append(pol.permissions, pm)
		}
		for i, pr := range p.GetPrincipals() {
			pm, err := compilePrincipal(pr)
			if err != nil {
				return nil, fmt.Errorf("policy %q principals[%d]: %w", name, i, err)
			}
			pol.principals = append(pol.principals, pm)
		}
		f.policies = append(f.policies, pol)
	}
	return f, nil
}

func anyOfMatchers(ms []rbacMatcher) rbacMatcher {
	return func(fc *filterCtx) bool {
		for _, m := range ms {
			if m(fc) {
				return true
			}
		}
		return false
	}
}

func allOfMatchers(ms []rbacMatcher) rbacMatcher {
	return func(fc *filterCtx) bool {
		for _, m := range ms {
			if !m(fc) {
				return false
			}
		}
		return true
	}
}

func compilePermission(p *rbacv3.Permission) (rbacMatcher, error) {
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return func(*filterCtx) bool { return true }, nil
	case *rbacv3.Permission_AndRules:
		ms, err := compileList(r.AndRules.GetRules(), compilePermission)
		return allOfMatchers(ms), err
	case *rbacv3.Permission_OrRules:
		ms, err := compileList(r.OrRules.GetRules(), compilePermission)
		return anyOfMatchers(ms), err
	case *rbacv3.Permission_NotRule:
		m, err := compilePermission(r.NotRule)
		return func(fc *filterCtx) bool { return !m(fc) }, err
	case *rbacv3.Permission_Header:
		return headerRBAC(r.Header)
	case *rbacv3.Permission_UrlPath:
		sm, err := NewStringMatcher(r.UrlPath.GetPath())
		if err != nil {
			return nil, err
		}
		return func(fc *filterCtx) bool {
			p, _ := fc.req.Headers.Get(":path")
			return sm.Match(pathOnly(p))
		}, nil
	}
	return nil, fmt.Errorf("permission %T is not supported", p.GetRule())
}

func compilePrincipal(p *rbacv3.Principal) (rbacMatcher, error) {
	switch id := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return func(*filterCtx) bool { return true }, nil
	case *rbacv3.Principal_AndIds:
		ms, err := compileList(id.AndIds.GetIds(), compilePrincipal)
		return allOfMatchers(ms), err
	case *rbacv3.Principal_OrIds:
		ms, err := compileList(id.OrIds.GetIds(), compilePrincipal)
		return anyOfMatchers(ms), err
	case *rbacv3.Principal_NotId:
		m, err := compilePrincipal(id.NotId)
		return func(fc *filterCtx) bool { return !m(fc) }, err
	case *rbacv3.Principal_DirectRemoteIp:
		return cidrRBAC(id.DirectRemoteIp)
	case *rbacv3.Principal_RemoteIp:
		// Without trusted forwarding hops the remote and direct remote
		// addresses are the same.
		return cidrRBAC(id.RemoteIp)
	case *rbacv3.Principal_SourceIp:
		return cidrRBAC(id.SourceIp)
	case *rbacv3.Principal_Header:
		return headerRBAC(id.Header)
	case *rbacv3.Principal_UrlPath:
		return compilePermission(&rbacv3.Permission{Rule: &rbacv3.Permission_UrlPath{UrlPath: id.UrlPath}})
	}
	return nil, fmt.Errorf("principal %T is not supported", p.GetIdentifier())
}

func compileList[T any](items []T, f func(T) (rbacMatcher, error)) ([]rbacMatcher, error) {
	out := make([]rbacMatcher, 0, len(items))
	for _, it := range items {
		m, err := f(it)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func headerRBAC(h *routev3.HeaderMatcher) (rbacMatcher, error) {
	hm, err := NewHeaderMatcher(h)
	if err != nil {
		return nil, err
	}
	return func(fc *filterCtx) bool { return hm.Match(fc.req.Headers) }, nil
}

func cidrRBAC(c *corev3.CidrRange) (rbacMatcher, error) {
	addr, err := netip.ParseAddr(c.GetAddressPrefix())
	if err != nil {
		return nil, fmt.Errorf("cidr %q: %w", c.GetAddressPrefix(), err)
	}
	bits := int(c.GetPrefixLen().GetValue())
	if c.GetPrefixLen() == nil {
		bits = addr.BitLen()
	}
	prefix, err := addr.Prefix(bits)
	if err != nil {
		return nil, fmt.Errorf("cidr %s/%d: %w", addr, bits, err)
	}
	return func(fc *filterCtx) bool {
		ip, err := netip.ParseAddr(addrWithoutPort(fc.req.RemoteAddress))
		return err == nil && prefix.Contains(ip.Unmap())
	}, nil
}

func (f *rbacFilter) decode(fc *filterCtx) *localReply {
	if !f.enforce {
		return nil
	}
	matched := ""
	for _, p := range f.policies {
		if anyOfMatchers(p.permissions)(fc) && anyOfMatchers(p.principals)(fc) {
			matched = p.name
			break
		}
	}
	allowed := (matched != "") == f.allow
	if allowed {
		fc.note("rbac: allowed (policy %q)", matched)
		return nil
	}
	fc.note("rbac: denied for %s", addrWithoutPort(fc.req.RemoteAddress))
	return &localReply{status: 403, body: "RBAC: access denied", by: "rbac"}
}

// --- local rate limit ------------------------------------------------------

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

// --- CORS ------------------------------------------------------------------

type corsPolicy struct {
	origins     []*StringMatcher
	methods     string
	headers     string
	expose      string
	maxAge      string
	credentials bool
}

func compileCORS(p *corsv3.CorsPolicy) (filterImpl, error) {
	c := &corsPolicy{
		methods:     p.GetAllowMethods(),
		headers:     p.GetAllowHeaders(),
		expose:      p.GetExposeHeaders(),
		maxAge:      p.GetMaxAge(),
		credentials: p.GetAllowCredentials().GetValue(),
	}
	for i, o := range p.GetAllowOriginStringMatch() {
		m, err := NewStringMatcher(o)
		if err != nil {
			return nil, fmt.Errorf("allow_origin_string_match[%d]: %w", i, err)
		}
		c.origins = append(c.origins, m)
	}
	return c, nil
}

func (c *corsPolicy) allowed(origin string) bool {
	for _, m := range c.origins {
		if m.Match(origin) {
			return true
		}
	}
	return false
}

func (c *corsPolicy) decode(fc *filterCtx) *localReply {
	origin, ok := fc.req.Headers.Get("origin")
	if !ok || origin == "" || !c.allowed(origin) {
		return nil
	}
	method, _ := fc.req.Headers.Get(":method")
	reqMethod, _ := fc.req.Headers.Get("access-control-request-method")
	if method == "OPTIONS" && reqMethod != "" {
		lr := &localReply{status: 200, by: "cors"}
		lr.headers.Add("access-control-allow-origin", origin)
		if c.credentials {
			lr.headers.Add("access-control-allow-credentials", "true")
		}
		if c.methods != "" {
			lr.headers.Add("access-control-allow-methods", c.methods)
		}
		if c.headers != "" {
			lr.headers.Add("access-control-allow-headers", c.headers)
		}
		if c.maxAge != "" {
			lr.headers.Add("access-control-max-age", c.maxAge)
		}
		fc.note("cors: answered the preflight from %s", origin)
		return lr
	}
	fc.respAdd.Add("access-control-allow-origin", origin)
	if c.credentials {
		fc.respAdd.Add("access-control-allow-credentials", "true")
	}
	if c.expose != "" {
		fc.respAdd.Add("access-control-expose-headers", c.expose)
	}
	return nil
}

// --- fault injection ---------------------------------------------------------

type faultFilter struct {
	delay        time.Duration
	delayPercent uint64 // per million
	abortStatus  int
	abortPercent uint64
}

func compileFault(m *faultv3.HTTPFault) (filterImpl, error) {
	f := &faultFilter{}
	if d := m.GetDelay(); d != nil {
		if d.GetFixedDelay() == nil {
			return nil, fmt.Errorf("fault delay: only fixed_delay is supported")
		}
		f.delay = d.GetFixedDelay().AsDuration()
		f.delayPercent = percentMillion(d.GetPercentage())
	}
	if a := m.GetAbort(); a != nil {
		switch a.GetErrorType().(type) {
		case *faultv3.FaultAbort_HttpStatus:
			f.abortStatus = int(a.GetHttpStatus())
		default:
			return nil, fmt.Errorf("fault abort: only http_status is supported")
		}
		f.abortPercent = percentMillion(a.GetPercentage())
	}
	return f, nil
}

func (f *faultFilter) decode(fc *filterCtx) *localReply {
	// Independent draws, as Envoy's fault filter consults the runtime
	// separately for the delay and the abort.
	if f.delay > 0 && rand.Uint64N(1_000_000) < f.delayPercent {
		fc.note("fault: delayed %v", f.delay)
		time.Sleep(f.delay)
	}
	if f.abortStatus != 0 && rand.Uint64N(1_000_000) < f.abortPercent {
		fc.note("fault: aborted with %d", f.abortStatus)
		return &localReply{status: f.abortStatus, body: "fault filter abort", by: "fault", flag: "FI"}
	}
	return nil
}

// --- basic auth --------------------------------------------------------------

type basicAuth struct {
	users map[string]string // name -> base64 SHA-1 of the password
}

func compileBasicAuth(htpasswd string) (filterImpl, error) {
	b := &basicAuth{users: map[string]string{}}
	for i, line := range strings.Split(htpasswd, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		h, sha := strings.CutPrefix(hash, "{SHA}")
		if !ok || !sha {
			return nil, fmt.Errorf("users line %d: want name:{SHA}hash", i+1)
		}
		b.users[name] = h
	}
	return b, nil
}

func (b *basicAuth) decode(fc *filterCtx) *localReply {
	auth, _ := fc.req.Headers.Get("authorization")
	enc, ok := strings.CutPrefix(auth, "Basic ")
	if !ok {
		return &localReply{status: 401, body: "User authentication failed. Missing username and password.", by: "basic_auth"}
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	user, pass, found := strings.Cut(string(raw), ":")
	sum := sha1.Sum([]byte(pass))
	if err != nil || !found || b.users[user] == "" || b.users[user] != base64.StdEncoding.EncodeToString(sum[:]) {
		return &localReply{status: 401, body: "User authentication failed. Invalid username/password combination.", by: "basic_auth"}
	}
	fc.note("basic_auth: user %q", user)
	return nil
}
