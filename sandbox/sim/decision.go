package sim

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// Response is a reply produced by the router itself (redirect, direct
// response, no route, cluster not found).
type Response struct {
	Status  int     `json:"status"`
	Headers Headers `json:"headers"`
	Body    string  `json:"body,omitempty"`
}

// RetryPolicy summarises the retry policy in force for a route.
type RetryPolicy struct {
	RetryOn       string        `json:"retryOn"`
	NumRetries    uint32        `json:"numRetries"`
	PerTryTimeout time.Duration `json:"perTryTimeout"`
	BackoffBase   time.Duration `json:"backoffBase"`
	BackoffMax    time.Duration `json:"backoffMax"`
	// Budget is set when the cluster's circuit breaker has a retry budget,
	// which replaces max_retries.
	Budget *RetryBudget `json:"budget,omitempty"`
	// MaxRetries is the cluster's concurrent retry limit when no budget is
	// set (default 3).
	MaxRetries uint32 `json:"maxRetries"`
}

// RetryBudget is a cluster's retry budget.
type RetryBudget struct {
	Percent        float64 `json:"percent"`
	MinConcurrency uint32  `json:"minConcurrency"`
}

// Decision is the full result of routing one request.
type Decision struct {
	VirtualHost      string `json:"virtualHost,omitempty"`
	VirtualHostIndex int    `json:"virtualHostIndex"`
	Route            string `json:"route,omitempty"`
	// RouteIndex is the position of the route in its virtual host, -1
	// when none matched.
	RouteIndex int  `json:"routeIndex"`
	Kind       Kind `json:"kind"`
	// Cluster is the chosen upstream cluster, "" when none.
	Cluster string `json:"cluster,omitempty"`
	// WeightedIndex is the position of the chosen weighted cluster, -1
	// otherwise.
	WeightedIndex int `json:"weightedIndex"`
	// RequestHeaders is the request after finalize: header mutations,
	// host rewrite, then path rewrite.
	RequestHeaders Headers `json:"requestHeaders"`
	// ResponseHeaders are Request.ResponseHeaders (or the local reply's
	// headers) after the response header mutations.
	ResponseHeaders Headers `json:"responseHeaders"`
	// Response is set when the router answers by itself.
	Response *Response `json:"response,omitempty"`
	// RedirectURL is the Location of a redirect, or for a direct response
	// the URL Envoy's newUri would build.
	RedirectURL     string        `json:"redirectUrl,omitempty"`
	VirtualCluster  string        `json:"virtualCluster,omitempty"`
	Timeout         time.Duration `json:"timeout"`
	IdleTimeout     time.Duration `json:"idleTimeout,omitempty"`
	AutoHostRewrite bool          `json:"autoHostRewrite,omitempty"`
	// Priority is the route's routing priority, which picks the
	// cluster's circuit-breaker thresholds.
	Priority Priority     `json:"priority,omitempty"`
	Retry    *RetryPolicy `json:"retry,omitempty"`
	Trace    []RouteTrace `json:"trace"`
	// TraceSkipped counts routes left out of Trace in large tables
	// because their path matcher cannot match this request.
	TraceSkipped int `json:"traceSkipped,omitempty"`

	// What FinalizeResponse needs to run the response header mutations
	// once the upstream has answered.
	route *Route
	wc    *weightedCluster
	fc    *formatContext
}

// MatchedRoute is the compiled route that matched, nil when none did.
func (d *Decision) MatchedRoute() *Route { return d.route }

// IsRouteEntry reports whether a forwarding route matched (Envoy's
// routeEntry() != nullptr).
func (d *Decision) IsRouteEntry() bool {
	return d.Kind == KindCluster || d.Kind == KindClusterHeader || d.Kind == KindWeighted
}

// IsDirectResponseEntry reports whether the router answers itself
// (Envoy's directResponseEntry() != nullptr).
func (d *Decision) IsDirectResponseEntry() bool {
	return d.Kind == KindRedirect || d.Kind == KindDirect || d.Kind == KindTLSRedirect
}

// RouteOptions carry the per-call inputs of Route that are not part of
// the request itself.
type RouteOptions struct {
	// ResponseHeaders are the upstream's response headers, finalized by
	// the response header mutations of a forwarding route.
	ResponseHeaders Headers
	// NoTrace skips the per-route trace: the data plane's request path,
	// where nobody reads it.
	NoTrace bool
}

// Route routes a request the way Envoy's router would and finalizes it.
// random stands for Envoy's per-stream random value (runtime fractions
// and weighted clusters). The request is not modified.
func (r *Router) Route(req *Request, random uint64) *Decision {
	return r.RouteWith(req, random, RouteOptions{})
}

// RouteWith is Route with extra inputs.
func (r *Router) RouteWith(req *Request, random uint64, o RouteOptions) *Decision {
	rq := *req
	rq.Headers = req.Headers.Clone()
	r.Normalize(&rq)
	d := &Decision{VirtualHostIndex: -1, RouteIndex: -1, WeightedIndex: -1}
	sel := r.Match(&rq, random)
	vh := sel.VirtualHost
	if vh == nil {
		d.RequestHeaders = rq.Headers
		d.Response = &Response{Status: 404}
		return d
	}
	d.VirtualHost, d.VirtualHostIndex = vh.Name, vh.Index
	if sel.TLSRedirect {
		d.Kind = KindTLSRedirect
		host, _ := rq.Headers.Get(":authority")
		path, _ := rq.Headers.Get(":path")
		d.RedirectURL = "https://" + host + path
		d.RequestHeaders = rq.Headers
		d.Response = &Response{Status: 301, Headers: Headers{{":status", "301"}, {"location", d.RedirectURL}}}
		d.ResponseHeaders = d.Response.Headers
		return d
	}
	if sel.blocked {
		d.RequestHeaders = rq.Headers
		d.Response = &Response{Status: 404}
		return d
	}
	rt := sel.Route
	if !o.NoTrace {
		traced, trace, skipped := vh.trace(r, &rq, random)
		d.Trace, d.TraceSkipped = trace, skipped
		if rt != traced {
			// The index must agree with Envoy's linear scan; trust the scan.
			rt = traced
		}
	}
	if rt == nil {
		d.RequestHeaders = rq.Headers
		d.Response = &Response{Status: 404}
		return d
	}
	d.Route, d.RouteIndex, d.route = rt.Name, rt.Index, rt
	d.VirtualCluster = vh.VirtualCluster(rq.Headers)
	r.apply(rt, &rq, random, o, d)
	return d
}

func (r *Router) levels(rt *Route, request bool) []*headerMutation {
	route, vhost, config := rt.action.respHeaders, rt.VirtualHost.respHeaders, r.respHeaders
	if request {
		route, vhost, config = rt.action.reqHeaders, rt.VirtualHost.reqHeaders, r.reqHeaders
	}
	if r.mostSpecificWins {
		return []*headerMutation{config, vhost, route}
	}
	return []*headerMutation{route, vhost, config}
}

func (r *Router) apply(rt *Route, rq *Request, random uint64, o RouteOptions, d *Decision) {
	a := rt.action
	d.Kind = a.kind
	h := rq.Headers
	fc := &formatContext{req: rq.Headers.Clone(), remote: rq.RemoteAddress, local: rq.LocalAddress, routeName: rt.Name}
	switch a.kind {
	case KindRedirect, KindDirect:
		d.RedirectURL = r.newURI(rt, h)
		status := a.directStatus
		resp := Headers{}
		if a.kind == KindRedirect {
			status = a.redirect.code
		}
		resp.Add(":status", strconv.Itoa(status))
		if a.directBody != "" {
			resp.Add("content-length", strconv.Itoa(len(a.directBody)))
			resp.Add("content-type", "text/plain")
		}
		resp = append(o.ResponseHeaders.Clone(), resp...)
		// Envoy applies a redirect's prefix/regex rewrite to :path itself
		// (finalizePathHeaderForRedirect) before building the URL.
		if p, ok := h.Get(":path"); ok && a.kind == KindRedirect && a.redirect.pathRedirect == "" {
			if np, did := rt.rewritePath(p); did {
				h.Set("x-envoy-original-path", p)
				h.Set(":path", np)
			}
		}
		for _, m := range r.levels(rt, false) {
			m.apply(&resp, fc)
		}
		d.RequestHeaders = h
		d.ResponseHeaders = resp
		d.Response = &Response{Status: status, Headers: resp, Body: a.directBody}
		if a.kind == KindRedirect {
			d.Response.Headers = append(d.Response.Headers, Header{"location", d.RedirectURL})
		}
		return
	case KindNonForwarding:
		d.RequestHeaders = h
		return
	}
	// Forwarding route: choose the cluster.
	var wc *weightedCluster
	switch a.kind {
	case KindCluster:
		d.Cluster = a.cluster
	case KindClusterHeader:
		d.Cluster, _ = h.Get(a.clusterHeader)
	case KindWeighted:
		i := r.pickWeighted(a, h, random)
		d.WeightedIndex = i
		wc = &a.weighted[i]
		d.Cluster = wc.name
		if wc.header != "" {
			d.Cluster, _ = h.Get(wc.header)
		}
	}
	if d.Cluster == "" || (r.opts.Clusters != nil && r.opts.Clusters[d.Cluster] == nil) {
		d.Response = &Response{Status: a.notFoundCode}
	}
	// finalizeRequestHeaders: cluster level, then route levels, then the
	// host rewrite, then the path rewrite.
	if wc != nil {
		wc.reqHeaders.apply(&h, fc)
		if wc.hostLiteral != "" {
			h.Set(":authority", wc.hostLiteral)
		}
	}
	for _, m := range r.levels(rt, true) {
		m.apply(&h, fc)
	}
	oldHost, _ := h.Get(":authority")
	newHost := ""
	switch {
	case a.hostLiteral != "":
		newHost = a.hostLiteral
	case a.hostHeader != "":
		newHost, _ = h.Get(a.hostHeader)
	case a.hostRegex != nil:
		p, _ := h.Get(":path")
		newHost = a.hostRegex.ReplaceAllString(pathOnly(p), a.hostRegexSub)
	case a.autoHost:
		d.AutoHostRewrite = true
	}
	if newHost != "" {
		if a.appendXFH && oldHost != "" {
			// Appending is idempotent: the old host is not repeated when
			// it is already the last x-forwarded-host value.
			xfh, _ := h.Get("x-forwarded-host")
			if i := strings.LastIndexByte(xfh, ','); xfh == "" || xfh[i+1:] != oldHost {
				appendHeader(&h, "x-forwarded-host", oldHost)
			}
		}
		h.Set(":authority", newHost)
	}
	if p, ok := h.Get(":path"); ok {
		if np, did := rt.rewritePath(p); did {
			h.Set("x-envoy-original-path", p)
			h.Set(":path", np)
		}
	}
	d.RequestHeaders = h
	resp := o.ResponseHeaders.Clone()
	if wc != nil {
		wc.respHeaders.apply(&resp, fc)
	}
	for _, m := range r.levels(rt, false) {
		m.apply(&resp, fc)
	}
	d.ResponseHeaders = resp
	d.wc, d.fc = wc, fc
	d.Timeout = a.timeout
	if v, ok := h.Get("x-envoy-upstream-rq-timeout-ms"); ok {
		if ms, err := strconv.ParseUint(v, 10, 64); err == nil {
			d.Timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if a.idleTimeout != nil {
		d.IdleTimeout = *a.idleTimeout
	}
	d.Priority = a.priority
	d.Retry = r.retryPolicy(a, d.Cluster, h)
}

// FinalizeResponse applies a forwarding route's response header mutations
// (weighted cluster, then route, virtual host and configuration levels) to
// an upstream's response headers, as Envoy's router does when the answer
// arrives. Other decisions return h unchanged.
func (r *Router) FinalizeResponse(d *Decision, h Headers) Headers {
	if d.route == nil || !d.IsRouteEntry() || d.fc == nil {
		return h
	}
	if d.wc != nil {
		d.wc.respHeaders.apply(&h, d.fc)
	}
	for _, m := range r.levels(d.route, false) {
		m.apply(&h, d.fc)
	}
	return h
}

// pickWeighted is Envoy's pickWeightedCluster.
func (r *Router) pickWeighted(a *action, h Headers, random uint64) int {
	weights := make([]uint64, len(a.weighted))
	var total uint64
	for i, w := range a.weighted {
		weights[i] = w.weight
		if a.runtimePrefix != "" {
			weights[i] = r.runtime.Integer(a.runtimePrefix+"."+w.name, w.weight)
		}
		total += weights[i]
	}
	if total == 0 {
		return 0
	}
	value := random
	selected := false
	if a.weightHeader != "" {
		if vals := h.Values(a.weightHeader); len(vals) == 1 {
			if n, err := strconv.ParseUint(vals[0], 10, 64); err == nil {
				value, selected = n, true
			}
		}
	}
	if !selected && a.useHash {
		if hv, ok := hashRequest(a.hashPolicy, h); ok {
			value = hv
		}
	}
	v := value % total
	var begin uint64
	for i, w := range weights {
		if v >= begin && v < begin+w {
			return i
		}
		begin += w
	}
	return len(weights) - 1
}

// hashRequest computes the route hash from header hash policies (the ones
// a router can evaluate without a connection), combining several the way
// Envoy does.
func hashRequest(policies []*routev3.RouteAction_HashPolicy, h Headers) (uint64, bool) {
	var hash uint64
	found := false
	for _, p := range policies {
		hp := p.GetHeader()
		if hp == nil {
			continue
		}
		vals := h.Values(strings.ToLower(hp.GetHeaderName()))
		if len(vals) == 0 {
			continue
		}
		sort.Strings(vals)
		var one uint64
		if len(vals) == 1 {
			one = xxhash.Sum64String(vals[0])
		} else {
			for _, v := range vals {
				one ^= xxhash.Sum64String(v)
			}
		}
		if found {
			hash = (hash<<1 | hash>>63) ^ one
		} else {
			hash = one
		}
		found = true
		if p.GetTerminal() {
			break
		}
	}
	return hash, found
}

// newURI builds the redirect URL (Envoy's RouteEntryImplBase::newUri).
func (r *Router) newURI(rt *Route, h Headers) string {
	rd := rt.action.redirect
	if rd == nil {
		rd = &redirect{}
	}
	xfp, _ := h.Get("x-forwarded-proto")
	scheme := xfp
	if scheme == "" {
		scheme, _ = h.Get(":scheme")
	}
	switch {
	case rd.scheme != "":
		scheme = rd.scheme
	case rd.httpsRedir:
		scheme = "https"
	}
	port := ""
	if rd.port != 0 {
		port = ":" + strconv.Itoa(int(rd.port))
	}
	host, _ := h.Get(":authority")
	if rd.host != "" {
		host = rd.host
		if port != "" {
			host = stripPort(host)
		}
	} else {
		host = processRequestHost(host, xfp, scheme, port)
	}
	path, _ := h.Get(":path")
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		query = path[i:]
	}
	var finalPath string
	switch {
	case rd.pathRedirect != "":
		finalPath = rd.pathRedirect
		if !rd.pathHasQuery && !rd.stripQuery {
			finalPath += query
		}
	default:
		finalPath, _ = rt.rewritePath(path)
		if rd.stripQuery {
			finalPath = pathOnly(finalPath)
		}
	}
	return scheme + "://" + host + port + finalPath
}

// processRequestHost drops the request port when a new port is set, or
// when the scheme changes and the port was the old scheme's default.
func processRequestHost(host, requestProto, newScheme, newPort string) string {
	end := -1
	if strings.HasPrefix(host, "[") {
		if i := strings.LastIndex(host, "]:"); i >= 0 {
			end = i + 1
		}
	} else {
		end = strings.LastIndexByte(host, ':')
	}
	if end < 0 {
		return host
	}
	reqPort := host[end:]
	remove := newPort != ""
	if newScheme != requestProto {
		remove = remove || (requestProto == "https" && reqPort == ":443") || (requestProto == "http" && reqPort == ":80")
	}
	if remove {
		return host[:end]
	}
	return host
}

func (r *Router) retryPolicy(a *action, cluster string, h Headers) *RetryPolicy {
	p := a.retry
	if p == nil {
		return nil
	}
	rp := &RetryPolicy{RetryOn: p.GetRetryOn(), NumRetries: 1, PerTryTimeout: a.perTryTimeout, BackoffBase: 25 * time.Millisecond, MaxRetries: 3}
	if n := p.GetNumRetries(); n != nil {
		rp.NumRetries = n.GetValue()
	}
	if b := p.GetRetryBackOff(); b != nil {
		if b.GetBaseInterval() != nil {
			rp.BackoffBase = b.GetBaseInterval().AsDuration()
		}
		rp.BackoffMax = 10 * rp.BackoffBase
		if b.GetMaxInterval() != nil {
			rp.BackoffMax = b.GetMaxInterval().AsDuration()
		}
	} else {
		rp.BackoffMax = 10 * rp.BackoffBase
	}
	if v, ok := h.Get("x-envoy-upstream-rq-per-try-timeout-ms"); ok {
		if ms, err := strconv.ParseUint(v, 10, 64); err == nil {
			rp.PerTryTimeout = time.Duration(ms) * time.Millisecond
		}
	}
	if c := r.opts.Clusters[cluster]; c != nil {
		// The first thresholds entry for the route's priority wins.
		for _, t := range c.GetCircuitBreakers().GetThresholds() {
			if routePriority(t.GetPriority()) != a.priority {
				continue
			}
			if t.GetMaxRetries() != nil {
				rp.MaxRetries = t.GetMaxRetries().GetValue()
			}
			if b := t.GetRetryBudget(); b != nil && (b.GetBudgetPercent() != nil || b.GetMinRetryConcurrency() != nil) {
				rb := &RetryBudget{Percent: 20, MinConcurrency: 3}
				if b.GetBudgetPercent() != nil {
					rb.Percent = b.GetBudgetPercent().GetValue()
				}
				if b.GetMinRetryConcurrency() != nil {
					rb.MinConcurrency = b.GetMinRetryConcurrency().GetValue()
				}
				rp.Budget = rb
			}
			break
		}
	}
	return rp
}

// ConcurrentRetryLimit is how many retries may be in flight for a cluster
// with this policy given the active and pending requests.
func (rp *RetryPolicy) ConcurrentRetryLimit(active, pending uint64) uint64 {
	if rp.Budget == nil {
		return uint64(rp.MaxRetries)
	}
	n := uint64(rp.Budget.Percent / 100 * float64(active+pending))
	if n < uint64(rp.Budget.MinConcurrency) {
		n = uint64(rp.Budget.MinConcurrency)
	}
	return n
}

// VirtualHostAt returns the compiled virtual host at index i.
func (r *Router) VirtualHostAt(i int) *VirtualHost { return r.vhosts[i] }
