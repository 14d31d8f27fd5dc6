package sim

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Kind is what a matched route does.
type Kind string

// Route entry kinds reported in a Decision.
const (
	KindNone          Kind = ""               // no virtual host or no route
	KindCluster       Kind = "cluster"        // route.cluster
	KindClusterHeader Kind = "cluster_header" // route.cluster_header
	KindWeighted      Kind = "weighted_clusters"
	KindRedirect      Kind = "redirect"
	KindDirect        Kind = "direct_response"
	KindTLSRedirect   Kind = "require_tls" // the virtual host's https redirect
	KindNonForwarding Kind = "non_forwarding"
)

type weightedCluster struct {
	name        string
	header      string // cluster_header of the entry
	weight      uint64
	reqHeaders  *headerMutation
	respHeaders *headerMutation
	hostLiteral string
}

type redirect struct {
	scheme       string
	httpsRedir   bool
	host         string
	port         uint32
	pathRedirect string
	pathHasQuery bool
	stripQuery   bool
	code         int
}

type action struct {
	kind Kind

	cluster       string
	clusterHeader string
	notFoundCode  int

	weighted      []weightedCluster
	runtimePrefix string
	weightHeader  string
	useHash       bool
	hashPolicy    []*routev3.RouteAction_HashPolicy

	prefixRewrite string
	regexRewrite  *regexp.Regexp
	regexSub      string
	tmplRewrite   *templateRewrite

	hostLiteral  string
	hostHeader   string
	hostRegex    *regexp.Regexp
	hostRegexSub string
	autoHost     bool
	appendXFH    bool

	priority       Priority
	timeout        time.Duration
	idleTimeout    *time.Duration
	perTryTimeout  time.Duration
	retry          *routev3.RetryPolicy
	redirect       *redirect
	directStatus   int
	directBody     string
	reqHeaders     *headerMutation
	respHeaders    *headerMutation
	rewriteDesc    string
	hasPathRewrite bool
}

// convertSubstitution turns an RE2 substitution ("\1") into Go's ("${1}").
func convertSubstitution(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$':
			b.WriteString("$$")
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func compileRewrite(m *matcherv3.RegexMatchAndSubstitute) (*regexp.Regexp, string, error) {
	re, err := compileSearchRegex(m.GetPattern())
	if err != nil {
		return nil, "", err
	}
	return re, convertSubstitution(m.GetSubstitution()), nil
}

func (r *Router) compileAction(rt *Route, p *routev3.Route) (*action, []string) {
	a := &action{notFoundCode: 503, timeout: 15 * time.Second}
	var errs []string
	var err error
	if a.reqHeaders, err = newHeaderMutation(p.GetRequestHeadersToAdd(), p.GetRequestHeadersToRemove()); err != nil {
		errs = append(errs, "request_headers_to_add: "+err.Error())
	}
	if a.respHeaders, err = newHeaderMutation(p.GetResponseHeadersToAdd(), p.GetResponseHeadersToRemove()); err != nil {
		errs = append(errs, "response_headers_to_add: "+err.Error())
	}
	switch act := p.GetAction().(type) {
	case *routev3.Route_Route:
		errs = append(errs, r.compileRouteAction(a, rt, act.Route)...)
	case *routev3.Route_Redirect:
		a.kind = KindRedirect
		errs = append(errs, compileRedirect(a, rt, act.Redirect)...)
	case *routev3.Route_DirectResponse:
		a.kind = KindDirect
		d := act.DirectResponse
		if d.GetStatus() < 200 || d.GetStatus() > 599 {
			errs = append(errs, fmt.Sprintf("direct_response status %d is not in 200-599", d.GetStatus()))
		}
		a.directStatus = int(d.GetStatus())
		if b := d.GetBody(); b != nil {
			switch {
			case b.GetFilename() != "":
				data, err := os.ReadFile(b.GetFilename())
				if err != nil {
					errs = append(errs, fmt.Sprintf("direct_response body: %v", err))
				}
				a.directBody = string(data)
			case b.GetInlineBytes() != nil:
				a.directBody = string(b.GetInlineBytes())
			case b.GetEnvironmentVariable() != "":
				a.directBody = os.Getenv(b.GetEnvironmentVariable())
			default:
				a.directBody = b.GetInlineString()
			}
			if len(a.directBody) > r.maxBody {
				errs = append(errs, fmt.Sprintf("direct_response body is %d bytes, more than the %d allowed", len(a.directBody), r.maxBody))
			}
		}
	case *routev3.Route_NonForwardingAction:
		a.kind = KindNonForwarding
	case nil:
		errs = append(errs, "route has no action")
	default:
		errs = append(errs, fmt.Sprintf("action %T is not supported by the simulator", act))
	}
	return a, errs
}

func (r *Router) compileRouteAction(a *action, rt *Route, ra *routev3.RouteAction) []string {
	var errs []string
	switch c := ra.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		a.kind, a.cluster = KindCluster, c.Cluster
	case *routev3.RouteAction_ClusterHeader:
		a.kind, a.clusterHeader = KindClusterHeader, strings.ToLower(c.ClusterHeader)
	case *routev3.RouteAction_WeightedClusters:
		a.kind = KindWeighted
		wc := c.WeightedClusters
		a.runtimePrefix = wc.GetRuntimeKeyPrefix()
		a.weightHeader = strings.ToLower(wc.GetHeaderName())
		a.useHash = wc.GetUseHashPolicy().GetValue()
		var total uint64
		for i, cw := range wc.GetClusters() {
			w := weightedCluster{name: cw.GetName(), header: strings.ToLower(cw.GetClusterHeader()), weight: uint64(cw.GetWeight().GetValue()), hostLiteral: cw.GetHostRewriteLiteral()}
			var err error
			if w.reqHeaders, err = newHeaderMutation(cw.GetRequestHeadersToAdd(), cw.GetRequestHeadersToRemove()); err != nil {
				errs = append(errs, fmt.Sprintf("weighted_clusters.clusters[%d].request_headers_to_add: %v", i, err))
			}
			if w.respHeaders, err = newHeaderMutation(cw.GetResponseHeadersToAdd(), cw.GetResponseHeadersToRemove()); err != nil {
				errs = append(errs, fmt.Sprintf("weighted_clusters.clusters[%d].response_headers_to_add: %v", i, err))
			}
			if (w.name == "") == (w.header == "") {
				errs = append(errs, fmt.Sprintf("weighted_clusters.clusters[%d]: exactly one of name and cluster_header is required", i))
			}
			total += w.weight
			a.weighted = append(a.weighted, w)
		}
		if len(a.weighted) == 0 {
			errs = append(errs, "weighted_clusters needs at least one cluster")
		} else if total == 0 || total > 0xFFFFFFFF {
			errs = append(errs, fmt.Sprintf("weighted_clusters: the sum of weights (%d) must be greater than 0 and fit in 32 bits", total))
		}
	default:
		errs = append(errs, fmt.Sprintf("cluster specifier %T is not supported by the simulator", c))
	}
	if ra.GetClusterNotFoundResponseCode() == routev3.RouteAction_NOT_FOUND {
		a.notFoundCode = 404
	} else if ra.GetClusterNotFoundResponseCode() == routev3.RouteAction_INTERNAL_SERVER_ERROR {
		a.notFoundCode = 500
	}
	a.hashPolicy = ra.GetHashPolicy()
	rewrites := 0
	if ra.GetPrefixRewrite() != "" {
		rewrites++
		a.prefixRewrite = ra.GetPrefixRewrite()
		a.rewriteDesc = fmt.Sprintf("prefix_rewrite %q", a.prefixRewrite)
		if rt.path != nil && rt.path.kind == pathTemplate {
			errs = append(errs, "prefix_rewrite cannot be used with a uri_template path_match_policy")
		}
	}
	if rr := ra.GetRegexRewrite(); rr != nil {
		rewrites++
		var err error
		if a.regexRewrite, a.regexSub, err = compileRewrite(rr); err != nil {
			errs = append(errs, "regex_rewrite: "+err.Error())
		}
		a.rewriteDesc = fmt.Sprintf("regex_rewrite %q -> %q", rr.GetPattern().GetRegex(), rr.GetSubstitution())
	}
	if pol := ra.GetPathRewritePolicy(); pol != nil {
		rewrites++
		msg, err := pol.GetTypedConfig().UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Sprintf("path_rewrite_policy: %v", err))
		} else if rt.path != nil {
			if a.tmplRewrite, err = newTemplateRewrite(rt.path, pol.GetName(), msg); err != nil {
				errs = append(errs, err.Error())
			}
		}
		a.rewriteDesc = "path_rewrite_policy"
	}
	if ra.GetPathRewrite() != "" {
		errs = append(errs, "path_rewrite (substitution format) is not supported by the simulator")
	}
	if rewrites > 1 {
		errs = append(errs, "only one of prefix_rewrite, regex_rewrite and path_rewrite_policy may be set")
	}
	a.hasPathRewrite = rewrites > 0
	switch h := ra.GetHostRewriteSpecifier().(type) {
	case *routev3.RouteAction_HostRewriteLiteral:
		a.hostLiteral = h.HostRewriteLiteral
	case *routev3.RouteAction_HostRewriteHeader:
		a.hostHeader = strings.ToLower(h.HostRewriteHeader)
	case *routev3.RouteAction_HostRewritePathRegex:
		var err error
		if a.hostRegex, a.hostRegexSub, err = compileRewrite(h.HostRewritePathRegex); err != nil {
			errs = append(errs, "host_rewrite_path_regex: "+err.Error())
		}
	case *routev3.RouteAction_AutoHostRewrite:
		a.autoHost = h.AutoHostRewrite.GetValue()
	}
	a.appendXFH = ra.GetAppendXForwardedHost()
	a.priority = routePriority(ra.GetPriority())
	if t := ra.GetTimeout(); t != nil {
		a.timeout = t.AsDuration()
	}
	if t := ra.GetIdleTimeout(); t != nil {
		d := t.AsDuration()
		a.idleTimeout = &d
	}
	a.retry = ra.GetRetryPolicy()
	if a.retry == nil {
		// A route policy replaces the virtual host's entirely.
		a.retry = rt.VirtualHost.retry
	}
	if a.retry != nil && a.retry.GetPerTryTimeout() != nil {
		a.perTryTimeout = a.retry.GetPerTryTimeout().AsDuration()
	}
	return errs
}

func compileRedirect(a *action, rt *Route, rd *routev3.RedirectAction) []string {
	var errs []string
	d := &redirect{
		scheme:     strings.ToLower(rd.GetSchemeRedirect()),
		httpsRedir: rd.GetHttpsRedirect(),
		host:       rd.GetHostRedirect(),
		port:       rd.GetPortRedirect(),
		stripQuery: rd.GetStripQuery(),
		code:       301,
	}
	switch rd.GetResponseCode() {
	case routev3.RedirectAction_FOUND:
		d.code = 302
	case routev3.RedirectAction_SEE_OTHER:
		d.code = 303
	case routev3.RedirectAction_TEMPORARY_REDIRECT:
		d.code = 307
	case routev3.RedirectAction_PERMANENT_REDIRECT:
		d.code = 308
	}
	switch p := rd.GetPathRewriteSpecifier().(type) {
	case *routev3.RedirectAction_PathRedirect:
		d.pathRedirect = p.PathRedirect
		d.pathHasQuery = strings.Contains(p.PathRedirect, "?")
	case *routev3.RedirectAction_PrefixRewrite:
		a.prefixRewrite = p.PrefixRewrite
		a.hasPathRewrite = true
	case *routev3.RedirectAction_RegexRewrite:
		var err error
		if a.regexRewrite, a.regexSub, err = compileRewrite(p.RegexRewrite); err != nil {
			errs = append(errs, "redirect regex_rewrite: "+err.Error())
		}
		a.hasPathRewrite = true
	case *routev3.RedirectAction_PathRewrite:
		errs = append(errs, "redirect path_rewrite (substitution format) is not supported by the simulator")
	}
	a.redirect = d
	return errs
}

// matchedPath is the part of :path that a prefix_rewrite replaces: the
// configured prefix/path, or the whole path for regex routes.
func (rt *Route) matchedLen(path string) int {
	switch rt.path.kind {
	case pathPrefix, pathExact, pathSeparatedPrefix:
		return len(rt.path.value)
	}
	return len(pathOnly(path))
}

// rewritePath returns the path after the route's rewrite and whether a
// rewrite is configured (Envoy's currentUrlPathAfterRewrite).
func (rt *Route) rewritePath(path string) (string, bool) {
	a := rt.action
	switch {
	case a.prefixRewrite != "":
		n := rt.matchedLen(path)
		if n > len(path) {
			n = len(path)
		}
		return a.prefixRewrite + path[n:], true
	case a.regexRewrite != nil:
		just := pathOnly(path)
		return a.regexRewrite.ReplaceAllString(just, a.regexSub) + path[len(just):], true
	case a.tmplRewrite != nil:
		just := pathOnly(path)
		return a.tmplRewrite.rewrite(rt.path.tmpl, just) + path[len(just):], true
	}
	return path, false
}
