package translate

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	urirewritev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/path/rewrite/uri_template/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// routeName is the Envoy route name of alternative n of a rule, so a NACK or
// a trace names the rule it came from.
func routeName(rule string, n int) string { return "rule/" + rule + "/" + strconv.Itoa(n) }

// RuleOfRoute returns the rule an Envoy route name belongs to
// ("rule/api/2" -> "api"), for traces and NACK attribution. ok is false for
// the default-response route and for names this package did not make.
func RuleOfRoute(route string) (rule string, ok bool) {
	rest, ok := strings.CutPrefix(route, "rule/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// defaultRouteName names the gateway's default-response route.
const defaultRouteName = "default"

// ruleRoute is what a rule's routes share: everything but the match.
type ruleRoute struct {
	// forward, redirect or direct is the action; forward may be shared
	// with other rules (actionCache).
	forward               *routev3.Route_Route
	shared                *sharedAction // forward's cache entry, when shared
	redirect              *routev3.Route_Redirect
	direct                *routev3.Route_DirectResponse
	reqAdd, respAdd       []*corev3.HeaderValueOption
	reqRemove, respRemove []string
	filters               map[string]*anypb.Any
	pathUse               pathUse
}

// apply sets the action and policies on rt. The messages are shared by
// all of the rule's routes: they are never changed once built.
func (rr *ruleRoute) apply(rt *routev3.Route) {
	switch {
	case rr.forward != nil:
		rt.Action = rr.forward
	case rr.redirect != nil:
		rt.Action = rr.redirect
	default:
		rt.Action = rr.direct
	}
	rt.RequestHeadersToAdd, rt.RequestHeadersToRemove = rr.reqAdd, rr.reqRemove
	rt.ResponseHeadersToAdd, rt.ResponseHeadersToRemove = rr.respAdd, rr.respRemove
	rt.TypedPerFilterConfig = rr.filters
}

// actionCache shares the route action of rules that only forward to one
// upstream, the bulk of a large gateway: their RouteAction is a function
// of the upstream's name and hash key alone, and translated resources are
// read-only, so one message serves every such rule. A cache lives for one
// batch of compiled rules, against one set of upstreams; nil disables it.
type actionCache map[string]*sharedAction

// sharedAction is a route action shared by rules, and whether a route
// holding it passed validation already.
type sharedAction struct {
	action *routev3.Route_Route
	valid  bool
}

// checkRoute validates rt, which rr was applied to, and when it passes
// checks the sizes of its regexes. A shared action that passed once is not
// walked again for every rule holding it: rt is checked with a stand-in
// action instead. Validation gives the same answer, because
// protoc-gen-validate checks each field on its own and the action last,
// and Validate stops at the first failure; and a shared action, a plain
// forward, holds no regex.
func (rr *ruleRoute) checkRoute(rt *routev3.Route, problems *model.Problems) error {
	if rr.shared == nil || !rr.shared.valid {
		if err := rt.Validate(); err != nil {
			return err
		}
		if rr.shared != nil {
			rr.shared.valid = true
		}
		checkRegexSizes(rt, problems)
		return nil
	}
	rt.Action = validatedAction
	defer func() { rt.Action = rr.forward }()
	if err := rt.Validate(); err != nil {
		return err
	}
	checkRegexSizes(rt, problems)
	return nil
}

// validatedAction stands in for an action known to be valid; its own
// validation is next to nothing.
var validatedAction = &routev3.Route_NonForwardingAction{NonForwardingAction: &routev3.NonForwardingAction{}}

// plainForward reports whether a's route action depends on nothing but its
// one backend's upstream (see forwardAction).
func plainForward(a *model.Action) bool {
	return len(a.Forward) == 1 && a.Forward[0].Headers == nil && a.Forward[0].Weight >= 0 &&
		a.Rewrite == nil && a.Timeout == 0 && a.IdleTimeout == 0 && a.Retries == nil && !a.Websocket && a.Mirror == nil
}

// buildRuleRoute maps a rule's action and policies. Forward-only settings on
// a redirect or respond rule are rejected, not ignored.
//
// scratch is perRouteFilters' scratch space.
func buildRuleRoute(r *model.Route, ups map[string]*model.Upstream, cache actionCache, scratch *model.Problems) (ruleRoute, filterUse, error) {
	a := &r.Then
	var use filterUse
	var problems model.Problems
	var out ruleRoute

	kinds := 0
	for _, set := range []bool{len(a.Forward) > 0, a.Redirect != nil, a.Respond != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return out, use, fmt.Errorf("then: exactly one of forward, redirect and respond must be set")
	}

	var respondHeaders map[string]string
	switch {
	case len(a.Forward) > 0:
		if cache != nil && plainForward(a) {
			out.shared = cache[a.Forward[0].Upstream]
		}
		if out.shared != nil {
			out.forward = out.shared.action
		} else {
			ra, err := forwardAction(a, ups)
			if err != nil {
				return out, use, err
			}
			out.forward = &routev3.Route_Route{Route: ra}
			if cache != nil && plainForward(a) {
				out.shared = &sharedAction{action: out.forward}
				cache[a.Forward[0].Upstream] = out.shared
			}
		}
		if a.Rewrite != nil && a.Rewrite.PathPrefix != "" {
			out.pathUse = pathForPrefixRewrite
		}
		if a.Rewrite != nil && a.Rewrite.PathTemplate != "" {
			out.pathUse = pathForTemplateRewrite
		}
	case a.Redirect != nil:
		out.redirect = &routev3.Route_Redirect{Redirect: redirectAction(a.Redirect, &problems)}
		if a.Redirect.PathPrefix != "" {
			out.pathUse = pathForPrefixRewrite
		}
	default:
		out.direct = &routev3.Route_DirectResponse{DirectResponse: directResponse(a.Respond, &problems, "then.respond")}
		respondHeaders = a.Respond.Headers
	}
	if out.forward == nil {
		forwardOnly := map[string]bool{
			"then.rewrite":         a.Rewrite != nil,
			"then.timeout":         a.Timeout != 0,
			"then.idleTimeout":     a.IdleTimeout != 0,
			"then.retries":         a.Retries != nil,
			"then.websocket":       a.Websocket,
			"then.mirror":          a.Mirror != nil,
			"then.headers.request": a.Headers != nil && a.Headers.Request != nil,
		}
		for _, f := range slices.Sorted(maps.Keys(forwardOnly)) {
			if forwardOnly[f] {
				problems.Add(f, "applies only to forward actions, not to redirect or respond")
			}
		}
	}

	filters, use, err := perRouteFilters(r, ups, scratch)
	if err != nil {
		problems.Merge("", err)
	}
	out.filters = filters

	if a.Headers != nil {
		out.reqAdd, out.reqRemove = headerMutation(a.Headers.Request)
		out.respAdd, out.respRemove = headerMutation(a.Headers.Response)
	}
	if len(respondHeaders) > 0 {
		out.respAdd = append(setHeaders(respondHeaders), out.respAdd...)
	}
	if err := problems.Err(); err != nil {
		return out, use, err
	}
	return out, use, nil
}

// forwardAction maps forward and its request policies to a RouteAction.
func forwardAction(a *model.Action, ups map[string]*model.Upstream) (*routev3.RouteAction, error) {
	var problems model.Problems
	ra := &routev3.RouteAction{}

	weighted := len(a.Forward) > 1
	for i, b := range a.Forward {
		if _, ok := ups[b.Upstream]; !ok {
			problems.Add(model.Index("then.forward", i)+".upstream", "unknown upstream %q", b.Upstream)
		}
		if b.Headers != nil {
			weighted = true
		}
	}
	if weighted {
		wc := &routev3.WeightedCluster{}
		var total uint64
		for i, b := range a.Forward {
			w := b.Weight
			if w < 0 || (w == 0 && len(a.Forward) == 1) {
				if w < 0 {
					problems.Add(model.Index("then.forward", i)+".weight", "weight must not be negative")
				}
				w = max(w, 1)
			}
			total += uint64(w)
			cw := &routev3.WeightedCluster_ClusterWeight{Name: b.Upstream, Weight: wrapperspb.UInt32(uint32(w))}
			if b.Headers != nil {
				cw.RequestHeadersToAdd, cw.RequestHeadersToRemove = headerMutation(b.Headers.Request)
				cw.ResponseHeadersToAdd, cw.ResponseHeadersToRemove = headerMutation(b.Headers.Response)
			}
			wc.Clusters = append(wc.Clusters, cw)
		}
		if total == 0 || total > math.MaxUint32 {
			problems.Add("then.forward", "the weights must add up to between 1 and %d", uint32(math.MaxUint32))
		}
		ra.ClusterSpecifier = &routev3.RouteAction_WeightedClusters{WeightedClusters: wc}
	} else {
		ra.ClusterSpecifier = &routev3.RouteAction_Cluster{Cluster: a.Forward[0].Upstream}
	}

	if rw := a.Rewrite; rw != nil {
		paths := 0
		if rw.PathPrefix != "" {
			paths++
			ra.PrefixRewrite = rw.PathPrefix
		}
		if rw.PathRegex != nil {
			paths++
			if err := checkRegex(rw.PathRegex.Pattern); err != nil {
				problems.Add("then.rewrite.pathRegex.pattern", "%v", err)
			}
			ra.RegexRewrite = &matcherv3.RegexMatchAndSubstitute{Pattern: regexMatcher(rw.PathRegex.Pattern), Substitution: rw.PathRegex.Substitution}
		}
		if rw.PathTemplate != "" {
			paths++
			cfg, err := anyOf(&urirewritev3.UriTemplateRewriteConfig{PathTemplateRewrite: rw.PathTemplate})
			if err != nil {
				problems.Add("then.rewrite.pathTemplate", "%v", err)
			}
			ra.PathRewritePolicy = typedExtension("envoy.path.rewrite.uri_template.uri_template_rewriter", cfg)
		}
		if paths > 1 {
			problems.Add("then.rewrite", "at most one of pathPrefix, pathRegex and pathTemplate may be set")
		}
		hosts := 0
		if rw.Host != "" {
			hosts++
			ra.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteLiteral{HostRewriteLiteral: rw.Host}
		}
		if rw.HostFromHeader != "" {
			hosts++
			ra.HostRewriteSpecifier = &routev3.RouteAction_HostRewriteHeader{HostRewriteHeader: strings.ToLower(rw.HostFromHeader)}
		}
		if rw.AutoHost {
			hosts++
			ra.HostRewriteSpecifier = &routev3.RouteAction_AutoHostRewrite{AutoHostRewrite: wrapperspb.Bool(true)}
		}
		if hosts > 1 {
			problems.Add("then.rewrite", "at most one of host, hostFromHeader and autoHost may be set")
		}
	}
	if a.Timeout != 0 {
		ra.Timeout = duration(a.Timeout)
	}
	if a.IdleTimeout != 0 {
		ra.IdleTimeout = duration(a.IdleTimeout)
	}
	if a.Retries != nil {
		rp, err := retryPolicy(a.Retries)
		if err != nil {
			problems.Merge("then.retries", err)
		}
		ra.RetryPolicy = rp
	}
	if a.Websocket {
		ra.UpgradeConfigs = []*routev3.RouteAction_UpgradeConfig{{UpgradeType: "websocket"}}
	}
	if m := a.Mirror; m != nil {
		if _, ok := ups[m.Upstream]; !ok {
			problems.Add("then.mirror.upstream", "unknown upstream %q", m.Upstream)
		}
		mp := &routev3.RouteAction_RequestMirrorPolicy{Cluster: m.Upstream}
		if m.Percent < 0 || m.Percent > 100 {
			problems.Add("then.mirror.percent", "must be between 0 and 100")
		} else if m.Percent != 0 && m.Percent != 100 {
			mp.RuntimeFraction = &corev3.RuntimeFractionalPercent{DefaultValue: fraction(m.Percent)}
		}
		ra.RequestMirrorPolicies = []*routev3.RouteAction_RequestMirrorPolicy{mp}
	}
	ra.HashPolicy = hashPolicies(a.Forward, ups)
	return ra, problems.Err()
}

// hashPolicies carries the consistent-hash keys of the upstreams a rule
// forwards to: Envoy configures them on the route, not the cluster.
func hashPolicies(backends []model.Backend, ups map[string]*model.Upstream) []*routev3.RouteAction_HashPolicy {
	var out []*routev3.RouteAction_HashPolicy
	seen := map[model.HashOn]bool{}
	for _, b := range backends {
		u := ups[b.Upstream]
		if u == nil || u.LoadBalancer == nil || u.LoadBalancer.HashOn == nil || seen[*u.LoadBalancer.HashOn] {
			continue
		}
		h := *u.LoadBalancer.HashOn
		seen[h] = true
		if h.Header != "" {
			out = append(out, &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_Header_{
				Header: &routev3.RouteAction_HashPolicy_Header{HeaderName: strings.ToLower(h.Header)}}})
		}
		if h.Cookie != "" {
			out = append(out, &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_Cookie_{
				Cookie: &routev3.RouteAction_HashPolicy_Cookie{Name: h.Cookie}}})
		}
		if h.SourceIP {
			out = append(out, &routev3.RouteAction_HashPolicy{PolicySpecifier: &routev3.RouteAction_HashPolicy_ConnectionProperties_{
				ConnectionProperties: &routev3.RouteAction_HashPolicy_ConnectionProperties{SourceIp: true}}})
		}
	}
	return out
}

// retryOns are the model's retry conditions; their names are Envoy's.
var retryOns = map[string]bool{
	model.Retry5xx: true, model.RetryGatewayError: true, model.RetryReset: true,
	model.RetryConnectFailure: true, model.RetryRefusedStream: true, model.RetryRetriable4xx: true,
	model.RetryStatusCodes: true, model.RetryGRPCUnavailable: true, model.RetryGRPCCancelled: true,
	model.RetryGRPCDeadline: true, model.RetryGRPCExhausted: true,
}

// defaultRetryOn applies when a rule asks for retries without saying on what.
const defaultRetryOn = "5xx,reset,connect-failure"

func retryPolicy(r *model.Retries) (*routev3.RetryPolicy, error) {
	var problems model.Problems
	rp := &routev3.RetryPolicy{NumRetries: wrapperspb.UInt32(uint32(max(r.Attempts, 0)))}
	if r.Attempts < 0 {
		problems.Add("attempts", "must not be negative")
	}
	on := append([]string(nil), r.On...)
	for i, o := range on {
		if !retryOns[o] {
			problems.Add(model.Index("on", i), "unknown retry condition %q", o)
		}
	}
	if len(r.StatusCodes) > 0 && !slices.Contains(on, model.RetryStatusCodes) {
		on = append(on, model.RetryStatusCodes)
	}
	rp.RetryOn = strings.Join(on, ",")
	if rp.RetryOn == "" {
		rp.RetryOn = defaultRetryOn
	}
	for i, c := range r.StatusCodes {
		if c < 100 || c > 599 {
			problems.Add(model.Index("statusCodes", i), "status %d is not an HTTP status", c)
		}
		rp.RetriableStatusCodes = append(rp.RetriableStatusCodes, uint32(c))
	}
	if r.PerTryTimeout != 0 {
		rp.PerTryTimeout = duration(r.PerTryTimeout)
	}
	if r.BackoffBase != 0 || r.BackoffMax != 0 {
		base := r.BackoffBase
		if base == 0 {
			base = model.Duration(25 * time.Millisecond)
		}
		rp.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: duration(base)}
		if r.BackoffMax != 0 {
			if r.BackoffMax < base {
				problems.Add("backoffMax", "must not be shorter than backoffBase (%s)", base)
			}
			rp.RetryBackOff.MaxInterval = duration(r.BackoffMax)
		}
	}
	return rp, problems.Err()
}

var redirectCodes = map[int]routev3.RedirectAction_RedirectResponseCode{
	0:   routev3.RedirectAction_MOVED_PERMANENTLY,
	301: routev3.RedirectAction_MOVED_PERMANENTLY,
	302: routev3.RedirectAction_FOUND,
	303: routev3.RedirectAction_SEE_OTHER,
	307: routev3.RedirectAction_TEMPORARY_REDIRECT,
	308: routev3.RedirectAction_PERMANENT_REDIRECT,
}

func redirectAction(r *model.Redirect, problems *model.Problems) *routev3.RedirectAction {
	ra := &routev3.RedirectAction{HostRedirect: r.Host, StripQuery: r.StripQuery}
	switch r.Scheme {
	case "":
	case "http", "https":
		ra.SchemeRewriteSpecifier = &routev3.RedirectAction_SchemeRedirect{SchemeRedirect: r.Scheme}
	default:
		problems.Add("then.redirect.scheme", "must be http or https")
	}
	if r.Port < 0 || r.Port > 65535 {
		problems.Add("then.redirect.port", "must be a port number")
	} else if r.Port != 0 {
		ra.PortRedirect = uint32(r.Port)
	}
	if r.Path != "" && r.PathPrefix != "" {
		problems.Add("then.redirect", "at most one of path and pathPrefix may be set")
	}
	if r.Path != "" {
		ra.PathRewriteSpecifier = &routev3.RedirectAction_PathRedirect{PathRedirect: r.Path}
	} else if r.PathPrefix != "" {
		ra.PathRewriteSpecifier = &routev3.RedirectAction_PrefixRewrite{PrefixRewrite: r.PathPrefix}
	}
	code, ok := redirectCodes[r.Status]
	if !ok {
		problems.Add("then.redirect.status", "must be 301, 302, 303, 307 or 308")
	}
	ra.ResponseCode = code
	return ra
}

func directResponse(r *model.Respond, problems *model.Problems, path string) *routev3.DirectResponseAction {
	if r.Status < 200 || r.Status > 599 {
		problems.Add(path+".status", "must be between 200 and 599")
	}
	if len(r.Body) > 4096 {
		problems.Add(path+".body", "is longer than Envoy's 4096-byte direct response limit")
	}
	d := &routev3.DirectResponseAction{Status: uint32(r.Status)}
	if r.Body != "" {
		d.Body = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: r.Body}}
	}
	return d
}

// defaultRoute answers requests no rule matched, as the last route of every
// virtual host.
func defaultRoute(r *model.Respond) (*routev3.Route, error) {
	var problems model.Problems
	d := directResponse(r, &problems, "defaultResponse")
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &routev3.Route{
		Name:                 defaultRouteName,
		Match:                &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
		Action:               &routev3.Route_DirectResponse{DirectResponse: d},
		ResponseHeadersToAdd: setHeaders(r.Headers),
	}, nil
}

// headerMutation maps Remove/Set/Add/AddIfAbsent in the model's order:
// removals first (Envoy runs them before any add), then set, add and
// add-if-absent, each in key order.
func headerMutation(m *model.HeaderMutation) ([]*corev3.HeaderValueOption, []string) {
	if m == nil {
		return nil, nil
	}
	var add []*corev3.HeaderValueOption
	add = append(add, headerOptions(m.Set, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)...)
	add = append(add, headerOptions(m.Add, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD)...)
	add = append(add, headerOptions(m.AddIfAbsent, corev3.HeaderValueOption_ADD_IF_ABSENT)...)
	var remove []string
	for _, h := range m.Remove {
		remove = append(remove, strings.ToLower(h))
	}
	return add, remove
}

func setHeaders(h map[string]string) []*corev3.HeaderValueOption {
	return headerOptions(h, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
}

func headerOptions(h map[string]string, action corev3.HeaderValueOption_HeaderAppendAction) []*corev3.HeaderValueOption {
	var out []*corev3.HeaderValueOption
	for _, k := range slices.Sorted(maps.Keys(h)) {
		out = append(out, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: strings.ToLower(k), Value: h[k]},
			AppendAction: action,
		})
	}
	return out
}

func duration(d model.Duration) *durationpb.Duration { return durationpb.New(d.Std()) }

// fraction is a percentage as an Envoy FractionalPercent, per million so
// fractional percents such as 0.5 survive.
func fraction(percent float64) *typev3.FractionalPercent {
	return &typev3.FractionalPercent{
		Numerator:   uint32(math.Round(percent * 10000)),
		Denominator: typev3.FractionalPercent_MILLION,
	}
}

func typedExtension(name string, cfg *anypb.Any) *corev3.TypedExtensionConfig {
	return &corev3.TypedExtensionConfig{Name: name, TypedConfig: cfg}
}
