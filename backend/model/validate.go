package model

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// maxDirectResponseBody is Envoy's default max_direct_response_body_size_bytes.
const maxDirectResponseBody = 4096

// validateName checks an object or listener name: lowercase letters, digits,
// '-' and '.', starting and ending with a letter or digit, at most 63 chars.
func validateName(p *Problems, path, name string) {
	if name == "" {
		p.Add(path, "required")
		return
	}
	if msg := nameProblem(name); msg != "" {
		p.Add(path, "%s", msg)
	}
}

func nameProblem(name string) string {
	if len(name) > MaxNameLen {
		return fmt.Sprintf("must be at most %d characters", MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Sprintf("invalid name %q: use lowercase letters, digits, '-' and '.'", name)
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return fmt.Sprintf("invalid name %q: must start and end with a letter or digit", name)
	}
	return ""
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func validatePort(p *Problems, path string, port int) {
	if port < 1 || port > 65535 {
		p.Add(path, "must be between 1 and 65535")
	}
}

func nonNegative(p *Problems, path string, d Duration) {
	if d < 0 {
		p.Add(path, "must not be negative")
	}
}

// CheckName is validateName for names outside the workspace objects
// (alert rules and notifiers, and the objects they refer to).
func CheckName(p *Problems, path, name string) { validateName(p, path, name) }

// CheckDescription is validateDescription for descriptions outside the
// workspace objects (route tests).
func CheckDescription(p *Problems, path, d string) { validateDescription(p, path, d) }

// validateDescription keeps a description a note: bounded in bytes and
// lines, every line of which ends up in each revision's diff.
func validateDescription(p *Problems, path, d string) {
	switch {
	case len(d) > MaxDescriptionBytes:
		p.Add(path, "is %d bytes; at most %d are allowed", len(d), MaxDescriptionBytes)
	case strings.Count(d, "\n") >= MaxDescriptionLines:
		p.Add(path, "has %d lines; at most %d are allowed", strings.Count(d, "\n")+1, MaxDescriptionLines)
	}
}

// plainText refuses control characters (CR, LF, NUL and the rest) in a
// value that ends up in a header, a path, a log line or a registry query,
// where they would split or truncate it, and bounds its length.
func plainText(p *Problems, path, v string) {
	if len(v) > MaxValueBytes {
		p.Add(path, "is %d bytes; at most %d are allowed", len(v), MaxValueBytes)
		return
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			p.Add(path, "must not contain control characters (CR, LF, NUL, ...)")
			return
		}
	}
}

// uint32Field checks a count Envoy holds in a uint32: non-negative and at
// most MaxUint32, where a larger value would wrap.
func uint32Field(p *Problems, path string, v int) {
	switch {
	case v < 0:
		p.Add(path, "must not be negative")
	case v > MaxUint32:
		p.Add(path, "must be at most %d", MaxUint32)
	}
}

func percent(p *Problems, path string, v float64) {
	if v < 0 || v > 100 {
		p.Add(path, "must be between 0 and 100")
	}
}

// Validate checks the gateway on its own.
func (g *Gateway) Validate() error {
	var p Problems
	validateName(&p, "name", g.Name)
	validateDescription(&p, "description", g.Description)
	if len(g.Listeners) == 0 {
		p.Add("listeners", "at least one listener is required")
	}
	names := map[string]int{}
	ports := map[int]int{}
	for i, l := range g.Listeners {
		lp := Index("listeners", i)
		validateName(&p, lp+".name", l.Name)
		if j, dup := names[l.Name]; dup && l.Name != "" {
			p.Add(lp+".name", "duplicate listener name %q (also listeners[%d])", l.Name, j)
		} else {
			names[l.Name] = i
		}
		validatePort(&p, lp+".port", l.Port)
		if j, dup := ports[l.Port]; dup && l.Port != 0 {
			p.Add(lp+".port", "duplicate port %d (also listeners[%d])", l.Port, j)
		} else {
			ports[l.Port] = i
		}
		if l.Address != "" {
			if _, err := netip.ParseAddr(l.Address); err != nil {
				p.Add(lp+".address", "must be an IP address")
			}
		}
		switch l.Protocol {
		case ProtocolHTTP:
			if l.TLS != nil {
				p.Add(lp+".tls", "only allowed with protocol HTTPS")
			}
		case ProtocolHTTPS:
			if l.TLS == nil || len(l.TLS.Certificates) == 0 {
				p.Add(lp+".tls.certificates", "HTTPS needs at least one certificate")
			}
		case "":
			p.Add(lp+".protocol", "required (HTTP or HTTPS)")
		default:
			p.Add(lp+".protocol", "unknown protocol %q (HTTP or HTTPS)", l.Protocol)
		}
		if l.TLS != nil {
			validateListenerTLS(&p, lp+".tls", l.TLS)
		}
	}
	if g.DefaultResponse != nil {
		validateRespond(&p, "defaultResponse", g.DefaultResponse)
	}
	if g.AccessLog != nil {
		validateAccessLog(&p, "accessLog", g.AccessLog)
	}
	if g.PublishGate != nil {
		validatePublishGate(&p, "publishGate", g.PublishGate)
	}
	return p.Err()
}

func validateListenerTLS(p *Problems, path string, t *ListenerTLS) {
	switch t.MinVersion {
	case "", "1.2", "1.3":
	default:
		p.Add(path+".minVersion", "must be 1.2 or 1.3")
	}
	defaults := 0
	for i, c := range t.Certificates {
		cp := Index(path+".certificates", i)
		if c.Secret == "" {
			p.Add(cp+".secret", "required")
		}
		if len(c.Hosts) == 0 {
			defaults++
			if defaults == 2 {
				p.Add(cp+".hosts", "only one certificate may be the default (no hosts)")
			}
		}
		for j, h := range c.Hosts {
			if msg := checkHostPattern(h); msg != "" {
				p.Add(Index(cp+".hosts", j), "%s", msg)
			}
		}
	}
}

// Validate checks the upstream on its own.
func (u *Upstream) Validate() error {
	var p Problems
	validateName(&p, "name", u.Name)
	validateDescription(&p, "description", u.Description)
	sources := 0
	if u.Static != nil {
		sources++
		if len(u.Static.Endpoints) == 0 {
			p.Add("static.endpoints", "at least one endpoint is required")
		}
		total := 0
		for i, e := range u.Static.Endpoints {
			ep := Index("static.endpoints", i)
			if e.Address == "" {
				p.Add(ep+".address", "required")
			} else if msg := addressProblem(e.Address); msg != "" {
				p.Add(ep+".address", "%s", msg)
			}
			validatePort(&p, ep+".port", e.Port)
			// Envoy's endpoint weight is a uint32 of at least 1; 0 here
			// means the default, 1.
			uint32Field(&p, ep+".weight", e.Weight)
			if e.Weight >= 0 && e.Weight <= MaxUint32 {
				total += max(e.Weight, 1)
			}
		}
		if total > MaxUint32 {
			p.Add("static.endpoints", "the endpoint weights must add up to at most %d (Envoy's bound for one locality)", MaxUint32)
		}
	}
	if u.DNS != nil {
		sources++
		if u.DNS.Host == "" {
			p.Add("dns.host", "required")
		} else if msg := addressProblem(u.DNS.Host); msg != "" {
			p.Add("dns.host", "%s", msg)
		}
		validatePort(&p, "dns.port", u.DNS.Port)
	}
	if u.Kubernetes != nil {
		sources++
		validateName(&p, "kubernetes.namespace", u.Kubernetes.Namespace)
		validateName(&p, "kubernetes.service", u.Kubernetes.Service)
		validatePort(&p, "kubernetes.port", u.Kubernetes.Port)
	}
	if u.Consul != nil {
		sources++
		if u.Consul.Service == "" {
			p.Add("consul.service", "required")
		}
		plainText(&p, "consul.service", u.Consul.Service)
		plainText(&p, "consul.datacenter", u.Consul.Datacenter)
		for i, tag := range u.Consul.Tags {
			plainText(&p, Index("consul.tags", i), tag)
		}
	}
	switch sources {
	case 0:
		p.Add("", "exactly one source is required: static, dns, kubernetes or consul")
	case 1:
	default:
		p.Add("", "exactly one source is allowed: static, dns, kubernetes or consul")
	}
	switch u.Protocol {
	case "", UpstreamHTTP1, UpstreamHTTP2, UpstreamGRPC:
	default:
		p.Add("protocol", "unknown protocol %q (http1, http2 or grpc)", u.Protocol)
	}
	if lb := u.LoadBalancer; lb != nil {
		switch lb.Policy {
		case LBRoundRobin, LBLeastRequest, LBRandom:
			if lb.HashOn != nil {
				p.Add("loadBalancer.hashOn", "only used with ring-hash or maglev")
			}
		case LBRingHash, LBMaglev:
			if lb.HashOn == nil {
				p.Add("loadBalancer.hashOn", "required with %s", lb.Policy)
			}
		case "":
			p.Add("loadBalancer.policy", "required")
		default:
			p.Add("loadBalancer.policy", "unknown policy %q", lb.Policy)
		}
		if h := lb.HashOn; h != nil {
			n := 0
			if h.Header != "" {
				n++
				if len(h.Header) > MaxHeaderNameBytes {
					p.Add("loadBalancer.hashOn.header", "a header name is at most %d bytes (this one has %d)", MaxHeaderNameBytes, len(h.Header))
				} else if !isToken(h.Header) {
					p.Add("loadBalancer.hashOn.header", "invalid header name %q", h.Header)
				}
			}
			if h.Cookie != "" {
				n++
				if len(h.Cookie) > MaxHeaderNameBytes {
					p.Add("loadBalancer.hashOn.cookie", "a cookie name is at most %d bytes (this one has %d)", MaxHeaderNameBytes, len(h.Cookie))
				} else if !isToken(h.Cookie) {
					p.Add("loadBalancer.hashOn.cookie", "invalid cookie name %q", h.Cookie)
				}
			}
			if h.SourceIP {
				n++
			}
			if n != 1 {
				p.Add("loadBalancer.hashOn", "exactly one of header, cookie and sourceIP is required")
			}
		}
	}
	nonNegative(&p, "connectTimeout", u.ConnectTimeout)
	if hc := u.HealthCheck; hc != nil {
		if !strings.HasPrefix(hc.Path, "/") {
			p.Add("healthCheck.path", "must start with '/'")
		}
		plainText(&p, "healthCheck.path", hc.Path)
		nonNegative(&p, "healthCheck.interval", hc.Interval)
		nonNegative(&p, "healthCheck.timeout", hc.Timeout)
		uint32Field(&p, "healthCheck.healthyThreshold", hc.HealthyThreshold)
		uint32Field(&p, "healthCheck.unhealthyThreshold", hc.UnhealthyThreshold)
		for i, s := range hc.ExpectedStatuses {
			if s < 100 || s > 599 {
				p.Add(Index("healthCheck.expectedStatuses", i), "must be an HTTP status (100-599)")
			}
		}
	}
	if od := u.OutlierDetection; od != nil {
		uint32Field(&p, "outlierDetection.consecutive5xx", od.Consecutive5xx)
		nonNegative(&p, "outlierDetection.interval", od.Interval)
		nonNegative(&p, "outlierDetection.baseEjectionTime", od.BaseEjectionTime)
		percent(&p, "outlierDetection.maxEjectionPercent", float64(od.MaxEjectionPercent))
	}
	if cb := u.CircuitBreaker; cb != nil {
		for field, v := range map[string]int{
			"maxConnections": cb.MaxConnections, "maxPendingRequests": cb.MaxPendingRequests,
			"maxRequests": cb.MaxRequests, "maxRetries": cb.MaxRetries,
		} {
			uint32Field(&p, "circuitBreaker."+field, v)
		}
		if rb := cb.RetryBudget; rb != nil {
			percent(&p, "circuitBreaker.retryBudget.budgetPercent", rb.BudgetPercent)
			uint32Field(&p, "circuitBreaker.retryBudget.minRetryConcurrency", rb.MinRetryConcurrency)
		}
	}
	return p.Err()
}

// addressProblem accepts an IP address or a host name.
func addressProblem(a string) string {
	if _, err := netip.ParseAddr(a); err == nil {
		return ""
	}
	if strings.Contains(a, ":") {
		return "must be an IP address or host name without a port"
	}
	if strings.Contains(a, "*") {
		return "must not contain wildcards"
	}
	if msg := checkHostPattern(a); msg != "" {
		return msg
	}
	return ""
}

// Validate checks the route on its own (not whether its upstreams exist).
func (r *Route) Validate() error {
	var p Problems
	validateName(&p, "name", r.Name)
	validateName(&p, "gateway", r.Gateway)
	validateDescription(&p, "description", r.Description)
	if len(r.Listeners) > MaxRouteListeners {
		p.Add("listeners", "at most %d listeners", MaxRouteListeners)
	}
	for i, l := range r.Listeners {
		validateName(&p, Index("listeners", i), l)
		if slices.Contains(r.Listeners[:i], l) {
			p.Add(Index("listeners", i), "listener %q is named twice", l)
		}
	}
	whenErr := r.When.Validate()
	p.Merge("when", whenErr)
	// Rewrites that depend on the condition are only judged against a valid
	// condition; otherwise one mistake would be reported twice.
	validateAction(&p, "then", &r.Then, r.When, whenErr == nil)
	return p.Err()
}

func validateAction(p *Problems, path string, a *Action, when Condition, whenOK bool) {
	kinds := 0
	if a.Forward != nil {
		kinds++
	}
	if a.Redirect != nil {
		kinds++
	}
	if a.Respond != nil {
		kinds++
	}
	if kinds != 1 {
		p.Add(path, "exactly one of forward, redirect and respond is required")
	}
	if a.Forward != nil {
		validateForward(p, path+".forward", a.Forward)
	}
	if a.Redirect != nil {
		validateRedirect(p, path+".redirect", a.Redirect, when, whenOK)
	}
	if a.Respond != nil {
		validateRespond(p, path+".respond", a.Respond)
	}
	if a.Rewrite != nil {
		if a.Forward == nil {
			p.Add(path+".rewrite", "only applies to forward (a redirect has its own path and host)")
		}
		validateRewrite(p, path+".rewrite", a.Rewrite, when, whenOK)
	}
	if a.Headers != nil {
		validateHeaderPolicy(p, path+".headers", a.Headers)
	}
	nonNegative(p, path+".timeout", a.Timeout)
	nonNegative(p, path+".idleTimeout", a.IdleTimeout)
	if a.Retries != nil {
		validateRetries(p, path+".retries", a.Retries)
	}
	if rl := a.RateLimit; rl != nil {
		if rl.Requests <= 0 {
			p.Add(path+".rateLimit.requests", "must be > 0")
		} else {
			uint32Field(p, path+".rateLimit.requests", rl.Requests)
		}
		if rl.Per <= 0 {
			p.Add(path+".rateLimit.per", "must be > 0")
		}
		uint32Field(p, path+".rateLimit.burst", rl.Burst)
		if rl.Status != 0 && (rl.Status < 400 || rl.Status > 599) {
			p.Add(path+".rateLimit.status", "must be between 400 and 599")
		}
	}
	if a.Auth != nil {
		validateAuth(p, path+".auth", a.Auth)
	}
	if ac := a.Access; ac != nil {
		if len(ac.Allow) == 0 && len(ac.Deny) == 0 {
			p.Add(path+".access", "set allow, deny or both")
		}
		for i, c := range ac.Allow {
			validateCIDR(p, Index(path+".access.allow", i), c)
		}
		for i, c := range ac.Deny {
			validateCIDR(p, Index(path+".access.deny", i), c)
		}
	}
	if c := a.CORS; c != nil {
		validateCORS(p, path+".cors", c)
	}
	if m := a.Mirror; m != nil {
		validateName(p, path+".mirror.upstream", m.Upstream)
		percent(p, path+".mirror.percent", m.Percent)
	}
	if f := a.Fault; f != nil {
		if f.Delay == nil && f.Abort == nil {
			p.Add(path+".fault", "set delay, abort or both")
		}
		if d := f.Delay; d != nil {
			if d.Duration <= 0 {
				p.Add(path+".fault.delay.duration", "must be > 0")
			}
			percent(p, path+".fault.delay.percent", d.Percent)
		}
		if ab := f.Abort; ab != nil {
			if ab.Status < 200 || ab.Status > 599 {
				p.Add(path+".fault.abort.status", "must be between 200 and 599")
			}
			percent(p, path+".fault.abort.percent", ab.Percent)
		}
	}
}

func validateForward(p *Problems, path string, bs []Backend) {
	if len(bs) == 0 {
		p.Add(path, "at least one upstream is required")
		return
	}
	total := 0
	for i, b := range bs {
		bp := Index(path, i)
		validateName(p, bp+".upstream", b.Upstream)
		switch {
		case b.Weight < 0:
			p.Add(bp+".weight", "must not be negative (0 takes the backend out of rotation)")
		case b.Weight > MaxUint32:
			p.Add(bp+".weight", "must be at most %d", MaxUint32)
		default:
			total += EffectiveWeight(bs, i)
		}
		if b.Headers != nil {
			validateHeaderPolicy(p, bp+".headers", b.Headers)
		}
	}
	if total <= 0 {
		p.Add(path, "the weights must add up to more than 0")
	}
	if total > 1<<32-1 {
		p.Add(path, "the weights must add up to less than 2^32")
	}
}

// EffectiveWeight is the weight backend i of a forward counts with: a lone
// backend without a weight gets 1, everything else its own weight (negative
// weights, which Validate rejects, count as 0).
func EffectiveWeight(bs []Backend, i int) int {
	w := bs[i].Weight
	if len(bs) == 1 && w == 0 {
		return 1
	}
	if w < 0 {
		return 0
	}
	return w
}

func validateRedirect(p *Problems, path string, r *Redirect, when Condition, whenOK bool) {
	switch r.Scheme {
	case "", "http", "https":
	default:
		p.Add(path+".scheme", "must be http or https")
	}
	if r.Host != "" {
		if msg := addressProblem(r.Host); msg != "" {
			p.Add(path+".host", "%s", msg)
		}
	}
	if r.Port != 0 {
		validatePort(p, path+".port", r.Port)
	}
	if r.Path != "" && r.PathPrefix != "" {
		p.Add(path, "set at most one of path and pathPrefix")
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		p.Add(path+".path", "must start with '/'")
	}
	plainText(p, path+".path", r.Path)
	plainText(p, path+".pathPrefix", r.PathPrefix)
	if r.PathPrefix != "" {
		if !strings.HasPrefix(r.PathPrefix, "/") {
			p.Add(path+".pathPrefix", "must start with '/'")
		}
		if whenOK {
			prefixConditionProblem(p, when, path+".pathPrefix", "")
		}
	}
	switch r.Status {
	case 0, 301, 302, 303, 307, 308:
	default:
		p.Add(path+".status", "must be one of 301, 302, 303, 307, 308")
	}
}

func validateRespond(p *Problems, path string, r *Respond) {
	if r.Status < 200 || r.Status > 599 {
		p.Add(path+".status", "must be between 200 and 599")
	}
	if len(r.Body) > maxDirectResponseBody {
		p.Add(path+".body", "must be at most %d bytes (is %d)", maxDirectResponseBody, len(r.Body))
	}
	for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
		hp := path + ".headers[" + shortKey(name) + "]"
		validateHeaderName(p, hp, name, false)
		validateHeaderValue(p, hp, r.Headers[name])
	}
}

func validateRewrite(p *Problems, path string, rw *Rewrite, when Condition, whenOK bool) {
	kinds := 0
	if rw.PathPrefix != "" {
		kinds++
		if !strings.HasPrefix(rw.PathPrefix, "/") {
			p.Add(path+".pathPrefix", "must start with '/'")
		}
		if whenOK {
			prefixConditionProblem(p, when, path+".pathPrefix", ", or rewrite with "+path+".pathRegex, which needs none")
		}
	}
	plainText(p, path+".pathPrefix", rw.PathPrefix)
	plainText(p, path+".pathTemplate", rw.PathTemplate)
	if rw.PathRegex != nil {
		kinds++
		if rw.PathRegex.Pattern == "" {
			p.Add(path+".pathRegex.pattern", "required")
		} else if msg := regexProblem(rw.PathRegex.Pattern); msg != "" {
			p.Add(path+".pathRegex.pattern", "%s", msg)
		}
		if n := len(rw.PathRegex.Substitution); n > MaxValueBytes {
			p.Add(path+".pathRegex.substitution", "is %d bytes; at most %d are allowed", n, MaxValueBytes)
		}
	}
	if rw.PathTemplate != "" {
		kinds++
		tmpl, ok := MatchedPathTemplate(when)
		if !whenOK {
			// judged once the condition is fixed
		} else if !ok {
			if n := countTopLevelPaths(when, OpTemplate); n == 0 {
				p.Add("when", "has no path.template(...) condition for %s.pathTemplate to take its variables from: add one, such as path.template(\"/users/{id}\")", path)
			} else {
				p.Add("when", "has %d path.template(...) conditions; %s.pathTemplate takes its variables from one: keep exactly one, outside any ||", n, path)
			}
		} else if t, err := ParsePathTemplate(tmpl); err == nil {
			vars := map[string]string{}
			for _, v := range t.Vars {
				vars[v] = "x"
			}
			if _, err := RewritePathTemplate(rw.PathTemplate, vars); err != nil {
				p.Add(path+".pathTemplate", "%s", err)
			}
		}
	}
	if kinds > 1 {
		p.Add(path, "set at most one of pathPrefix, pathRegex and pathTemplate")
	}
	hosts := 0
	if rw.Host != "" {
		hosts++
		// A literal Host header may carry a port, so only the name part is checked.
		name := rw.Host
		if h, port, found := strings.Cut(rw.Host, ":"); found && !strings.HasPrefix(rw.Host, "[") {
			name = h
			if port == "" || strings.Trim(port, "0123456789") != "" {
				p.Add(path+".host", "invalid port in %q", rw.Host)
			}
		}
		if msg := addressProblem(name); msg != "" && !strings.HasPrefix(name, "[") {
			p.Add(path+".host", "%s", msg)
		}
	}
	if rw.HostFromHeader != "" {
		hosts++
		validateHeaderName(p, path+".hostFromHeader", rw.HostFromHeader, false)
	}
	if rw.AutoHost {
		hosts++
	}
	if hosts > 1 {
		p.Add(path, "set at most one of host, hostFromHeader and autoHost")
	}
}

// topLevelPredicates returns the predicates every match of c must satisfy
// directly: c itself, or the direct predicate children of a top-level all.
func topLevelPredicates(c Condition) []Condition {
	if c.IsPredicate() {
		return []Condition{c}
	}
	var out []Condition
	for _, ch := range c.All {
		if ch.IsPredicate() {
			out = append(out, ch)
		}
	}
	return out
}

// prefixConditionProblem reports on when, not on the prefix field, when
// when lacks the one path condition whose match a prefix rewrite or
// redirect (field) replaces: the fix is in the condition. other names
// another way out, if there is one.
func prefixConditionProblem(p *Problems, when Condition, field, other string) {
	switch n := countTopLevelPaths(when, OpPrefix, OpSegmentPrefix, OpExact, OpEquals); n {
	case 1:
	case 0:
		p.Add("when", "has no path condition for %s to replace: add one, such as path.prefix(\"/\")%s", field, other)
	default:
		p.Add("when", "has %d path conditions, and %s needs to know which part of the path to replace: keep exactly one path prefix, exact path or == (outside any ||)", n, field)
	}
}

// countTopLevelPaths counts the path predicates with one of ops at the top
// level of c, the ones MatchedPathPrefix and MatchedPathTemplate look at.
func countTopLevelPaths(c Condition, ops ...string) int {
	n := 0
	for _, pr := range topLevelPredicates(c) {
		if pr.Field == FieldPath && slices.Contains(ops, pr.Op) {
			n++
		}
	}
	return n
}

// MatchedPathPrefix returns the path value a prefix rewrite replaces: the
// value of the single path predicate with op prefix, segment-prefix, exact
// or equals at the top level of c (the root, or a direct child of a root
// all). ok is false when there is none or more than one, because then the
// replaced prefix would depend on which alternative matched.
func MatchedPathPrefix(c Condition) (string, bool) {
	var found []string
	for _, pr := range topLevelPredicates(c) {
		if pr.Field != FieldPath {
			continue
		}
		switch pr.Op {
		case OpPrefix, OpSegmentPrefix, OpExact, OpEquals:
			found = append(found, pr.Value)
		}
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

// MatchedPathTemplate returns the template of the single top-level
// path.template predicate of c, which a pathTemplate rewrite draws its
// variables from.
func MatchedPathTemplate(c Condition) (string, bool) {
	var found []string
	for _, pr := range topLevelPredicates(c) {
		if pr.Field == FieldPath && pr.Op == OpTemplate {
			found = append(found, pr.Value)
		}
	}
	if len(found) != 1 {
		return "", false
	}
	return found[0], true
}

func validateHeaderPolicy(p *Problems, path string, h *HeaderPolicy) {
	if h.Request != nil {
		validateHeaderMutation(p, path+".request", h.Request)
	}
	if h.Response != nil {
		validateHeaderMutation(p, path+".response", h.Response)
	}
}

func validateHeaderMutation(p *Problems, path string, m *HeaderMutation) {
	for field, set := range map[string]map[string]string{"set": m.Set, "add": m.Add, "addIfAbsent": m.AddIfAbsent} {
		for _, name := range slices.Sorted(maps.Keys(set)) {
			fp := path + "." + field + "[" + shortKey(name) + "]"
			validateHeaderName(p, fp, name, true)
			validateHeaderValue(p, fp, set[name])
		}
	}
	for i, name := range m.Remove {
		validateHeaderName(p, Index(path+".remove", i), name, true)
	}
}

// validateHeaderName checks a header name; mutation forbids the headers
// Envoy refuses to modify (pseudo-headers and host).
func validateHeaderName(p *Problems, path, name string, mutation bool) {
	switch {
	case name == "":
		p.Add(path, "empty header name")
	case len(name) > MaxHeaderNameBytes:
		p.Add(path, "a header name is at most %d bytes (this one has %d)", MaxHeaderNameBytes, len(name))
	case strings.HasPrefix(name, ":"):
		p.Add(path, "pseudo-header %q cannot be set or removed", name)
	case mutation && strings.EqualFold(name, "host"):
		p.Add(path, "host cannot be set or removed here: use rewrite.host")
	case !isToken(name):
		p.Add(path, "invalid header name %q", name)
	}
}

func validateHeaderValue(p *Problems, path, v string) {
	if len(v) > MaxValueBytes {
		p.Add(path, "a header value is at most %d bytes (this one has %d)", MaxValueBytes, len(v))
	} else if strings.ContainsAny(v, "\r\n\x00") {
		p.Add(path, "header value must not contain CR, LF or NUL")
	}
}

var retryOn = map[string]bool{
	Retry5xx: true, RetryGatewayError: true, RetryReset: true, RetryConnectFailure: true,
	RetryRefusedStream: true, RetryRetriable4xx: true, RetryStatusCodes: true,
	RetryGRPCUnavailable: true, RetryGRPCCancelled: true, RetryGRPCDeadline: true, RetryGRPCExhausted: true,
}

func validateRetries(p *Problems, path string, r *Retries) {
	uint32Field(p, path+".attempts", r.Attempts)
	hasStatusCodes := false
	for i, on := range r.On {
		if !retryOn[on] {
			p.Add(Index(path+".on", i), "unknown retry condition %q (known: %s)", on, strings.Join(slices.Sorted(maps.Keys(retryOn)), ", "))
		}
		hasStatusCodes = hasStatusCodes || on == RetryStatusCodes
	}
	for i, s := range r.StatusCodes {
		if s < 100 || s > 599 {
			p.Add(Index(path+".statusCodes", i), "must be an HTTP status (100-599)")
		}
	}
	if len(r.StatusCodes) > 0 && !hasStatusCodes {
		p.Add(path+".statusCodes", "only used with on: [%s]", RetryStatusCodes)
	}
	if hasStatusCodes && len(r.StatusCodes) == 0 {
		p.Add(path+".statusCodes", "required with %s", RetryStatusCodes)
	}
	nonNegative(p, path+".perTryTimeout", r.PerTryTimeout)
	nonNegative(p, path+".backoffBase", r.BackoffBase)
	nonNegative(p, path+".backoffMax", r.BackoffMax)
	if r.BackoffBase > 0 && r.BackoffMax > 0 && r.BackoffMax < r.BackoffBase {
		p.Add(path+".backoffMax", "must not be less than backoffBase")
	}
}

func validateAuth(p *Problems, path string, a *Auth) {
	n := 0
	if j := a.JWT; j != nil {
		n++
		jp := path + ".jwt"
		if j.Issuer == "" {
			p.Add(jp+".issuer", "required")
		}
		plainText(p, jp+".issuer", j.Issuer)
		for i, a := range j.Audiences {
			plainText(p, Index(jp+".audiences", i), a)
		}
		switch {
		case j.JWKSURI == "" && j.JWKS == "":
			p.Add(jp, "set one of jwksUri and jwks")
		case j.JWKSURI != "" && j.JWKS != "":
			p.Add(jp, "set only one of jwksUri and jwks")
		}
		if len(j.JWKS) > MaxInlineJWKSBytes {
			p.Add(jp+".jwks", "is %d bytes; at most %d are allowed", len(j.JWKS), MaxInlineJWKSBytes)
		}
		if j.JWKSURI != "" {
			u, err := url.Parse(j.JWKSURI)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.Add(jp+".jwksUri", "must be an http or https URL")
			}
			if j.JWKSUpstream == "" {
				p.Add(jp+".jwksUpstream", "required with jwksUri: the upstream Envoy fetches the keys from")
			}
		}
		if j.JWKSUpstream != "" {
			validateName(p, jp+".jwksUpstream", j.JWKSUpstream)
		}
		if j.ForwardPayloadHeader != "" {
			validateHeaderName(p, jp+".forwardPayloadHeader", j.ForwardPayloadHeader, true)
		}
	}
	if k := a.APIKey; k != nil {
		n++
		validateHeaderName(p, path+".apiKey.header", k.Header, true)
		if len(k.Keys) == 0 {
			p.Add(path+".apiKey.keys", "at least one key is required")
		}
		for i, key := range k.Keys {
			if key == "" {
				p.Add(Index(path+".apiKey.keys", i), "must not be empty")
			}
			// A key is compared with a header value: it has a header
			// value's bounds.
			plainText(p, Index(path+".apiKey.keys", i), key)
		}
	}
	if b := a.Basic; b != nil {
		n++
		if len(b.Users) == 0 {
			p.Add(path+".basic.users", "at least one user is required")
		}
		for _, u := range slices.Sorted(maps.Keys(b.Users)) {
			up := path + ".basic.users[" + shortKey(u) + "]"
			if u == "" || strings.Contains(u, ":") {
				p.Add(up, "a user name must be non-empty and contain no ':'")
			}
			if b.Users[u] == "" {
				p.Add(up, "password must not be empty")
			}
			plainText(p, up, u)
			plainText(p, up, b.Users[u])
		}
	}
	if n != 1 {
		p.Add(path, "exactly one of jwt, apiKey and basic is required")
	}
}

func validateCIDR(p *Problems, path, c string) {
	if _, err := netip.ParsePrefix(c); err != nil {
		p.Add(path, "invalid CIDR %q (write 10.0.0.0/8, or 10.0.0.1/32 for one address)", c)
	}
}

func validateCORS(p *Problems, path string, c *CORS) {
	if len(c.AllowOrigins) == 0 {
		p.Add(path+".allowOrigins", "at least one origin is required")
	}
	for i, o := range c.AllowOrigins {
		op := Index(path+".allowOrigins", i)
		switch {
		case o == "":
			p.Add(op, "must not be empty")
		case strings.HasPrefix(o, "regex:"):
			if msg := regexProblem(o[len("regex:"):]); msg != "" {
				p.Add(op, "%s", msg)
			}
		}
	}
	for i, m := range c.AllowMethods {
		if !isToken(m) {
			p.Add(Index(path+".allowMethods", i), "invalid method %q", m)
		}
	}
	for i, h := range c.AllowHeaders {
		if h != "*" && !isToken(h) {
			p.Add(Index(path+".allowHeaders", i), "invalid header name %q", h)
		}
	}
	for i, h := range c.ExposeHeaders {
		if h != "*" && !isToken(h) {
			p.Add(Index(path+".exposeHeaders", i), "invalid header name %q", h)
		}
	}
	nonNegative(p, path+".maxAge", c.MaxAge)
}

// Validate checks every object and every reference between them: duplicate
// names, routes naming unknown gateways or upstreams, gateways and upstreams
// naming unknown secrets (or secrets without the part they need). Paths are
// prefixed with the list and index ("routes[3].then.forward[0].upstream").
func (ws *Workspace) Validate() error { return ws.ValidateWith(Object.Validate) }

// ValidateWith is Validate with each object's own checks made by check,
// which must answer what the object's Validate would: a caller that keeps
// those answers for objects that did not change (the store, across draft
// writes) validates a draft of thousands of routes in the time the
// references between them take.
func (ws *Workspace) ValidateWith(check func(Object) error) error {
	var p Problems
	gateways, upstreams, routes := map[string]int{}, map[string]int{}, map[string]int{}
	secretIdx, secrets := map[string]int{}, map[string]*Secret{}
	for i := range ws.Secrets {
		validateElem(&p, check, "secrets", "secret", i, &ws.Secrets[i], secretIdx)
		if _, dup := secrets[ws.Secrets[i].Name]; !dup {
			secrets[ws.Secrets[i].Name] = &ws.Secrets[i]
		}
	}
	for i := range ws.Gateways {
		g := &ws.Gateways[i]
		validateElem(&p, check, "gateways", "gateway", i, g, gateways)
		for j, l := range g.Listeners {
			if l.TLS == nil {
				continue
			}
			for k, c := range l.TLS.Certificates {
				path := Index("gateways", i) + "." + Index("listeners", j) + "." + Index("tls.certificates", k) + ".secret"
				secretRef(&p, path, c.Secret, secrets, true)
			}
		}
	}
	for i := range ws.Upstreams {
		u := &ws.Upstreams[i]
		validateElem(&p, check, "upstreams", "upstream", i, u, upstreams)
		if u.TLS != nil {
			secretRef(&p, Index("upstreams", i)+".tls.caSecret", u.TLS.CASecret, secrets, false)
		}
	}
	for i := range ws.Routes {
		r := &ws.Routes[i]
		// Paths are built only for problems: formatting one per route
		// costs more than the checks when nothing is wrong.
		prefix := func() string { return Index("routes", i) }
		validateElem(&p, check, "routes", "route", i, r, routes)
		if gi, ok := gateways[r.Gateway]; !ok && r.Gateway != "" {
			p.Add(prefix()+".gateway", "unknown gateway %q", r.Gateway)
		} else if ok {
			for j, l := range r.Listeners {
				if !ws.Gateways[gi].HasListener(l) && l != "" {
					p.Add(prefix()+"."+Index("listeners", j), "gateway %q has no listener %q", r.Gateway, l)
				}
			}
		}
		upstreamRef := func(path func() string, name string) {
			if _, ok := upstreams[name]; !ok && name != "" {
				p.Add(path(), "unknown upstream %q", name)
			}
		}
		for j, b := range r.Then.Forward {
			upstreamRef(func() string { return prefix() + "." + Index("then.forward", j) + ".upstream" }, b.Upstream)
		}
		if m := r.Then.Mirror; m != nil {
			upstreamRef(func() string { return prefix() + ".then.mirror.upstream" }, m.Upstream)
		}
		if a := r.Then.Auth; a != nil && a.JWT != nil {
			upstreamRef(func() string { return prefix() + ".then.auth.jwt.jwksUpstream" }, a.JWT.JWKSUpstream)
		}
	}
	validateAccessLogKeys(&p, ws)
	return p.Err()
}

// validateElem validates obj as element i of list and records its name in
// seen, reporting a name an earlier element already has.
func validateElem(p *Problems, check func(Object) error, list, kind string, i int, obj Object, seen map[string]int) {
	if err := check(obj); err != nil {
		p.Merge(Index(list, i), err)
	}
	name := obj.ObjectMeta().Name
	if j, dup := seen[name]; dup && name != "" {
		p.Add(Index(list, i)+".name", "duplicate %s name %q (also %s[%d])", kind, name, list, j)
	} else {
		seen[name] = i
	}
}

// shortKey keeps a map key used in a field path readable: a hostile
// 100 KB header name must not be repeated in every message about it.
func shortKey(k string) string {
	if len(k) <= 64 {
		return k
	}
	return k[:64] + "..."
}
