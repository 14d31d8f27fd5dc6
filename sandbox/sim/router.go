package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// Options are the listener, HCM and cluster settings that change routing
// but live outside the RouteConfiguration.
type Options struct {
	// StripAnyHostPort is the HCM strip_any_host_port: the port is removed
	// from :authority before routing.
	StripAnyHostPort bool
	// StripMatchingHostPort is the HCM strip_matching_host_port: the port
	// is removed only when it equals ListenerPort.
	StripMatchingHostPort bool
	ListenerPort          uint32
	// Runtime answers runtime_fraction and weighted-cluster runtime keys;
	// nil means an empty runtime (every key takes its default).
	Runtime Runtime
	// Clusters gives the circuit breakers used to report retry budgets.
	// When it is set, a route to a cluster missing from it gets the
	// route's cluster_not_found_response_code.
	Clusters map[string]*clusterv3.Cluster
	// NormalizePath and MergeSlashes are the HCM options of the same
	// name, applied to :path before routing.
	NormalizePath bool
	MergeSlashes  bool
}

// Router is a compiled RouteConfiguration. It is immutable and safe for
// concurrent use.
type Router struct {
	cfg     *routev3.RouteConfiguration
	opts    Options
	runtime Runtime

	vhosts      []*VirtualHost
	exact       map[string]*VirtualHost
	suffixes    []wildcardClass // longest first
	prefixes    []wildcardClass // longest first
	defaultVH   *VirtualHost
	ignorePort  bool
	stripParams bool
	vhostHeader string

	mostSpecificWins bool
	reqHeaders       *headerMutation
	respHeaders      *headerMutation
	maxBody          int
}

type wildcardClass struct {
	n      int // length of the key (domain without '*')
	vhosts map[string]*VirtualHost
}

// New compiles a RouteConfiguration. It reports every configuration error
// Envoy would reject, joined, with the virtual host and route they belong to.
func New(cfg *routev3.RouteConfiguration, opts Options) (*Router, error) {
	r := &Router{
		cfg:              cfg,
		opts:             opts,
		runtime:          opts.Runtime,
		exact:            map[string]*VirtualHost{},
		ignorePort:       cfg.GetIgnorePortInHostMatching(),
		stripParams:      cfg.GetIgnorePathParametersInPathMatching(),
		vhostHeader:      ":authority",
		mostSpecificWins: cfg.GetMostSpecificHeaderMutationsWins(),
		maxBody:          4096,
	}
	if r.runtime == nil {
		r.runtime = StaticRuntime(nil)
	}
	if h := cfg.GetVhostHeader(); h != "" {
		// vhost_header picks the virtual host by another header.
		r.vhostHeader = strings.ToLower(h)
	}
	if m := cfg.GetMaxDirectResponseBodySizeBytes(); m != nil {
		r.maxBody = int(m.GetValue())
	}
	var errs []string
	var err error
	if r.reqHeaders, err = newHeaderMutation(cfg.GetRequestHeadersToAdd(), cfg.GetRequestHeadersToRemove()); err != nil {
		errs = append(errs, "request_headers_to_add: "+err.Error())
	}
	if r.respHeaders, err = newHeaderMutation(cfg.GetResponseHeadersToAdd(), cfg.GetResponseHeadersToRemove()); err != nil {
		errs = append(errs, "response_headers_to_add: "+err.Error())
	}
	suffix := map[int]map[string]*VirtualHost{}
	prefix := map[int]map[string]*VirtualHost{}
	for i, vh := range cfg.GetVirtualHosts() {
		v, verrs := r.compileVirtualHost(i, vh)
		for _, e := range verrs {
			errs = append(errs, fmt.Sprintf("virtual_hosts[%d] (%s): %s", i, vh.GetName(), e))
		}
		r.vhosts = append(r.vhosts, v)
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			var target map[string]*VirtualHost
			switch {
			case d == "*":
				if r.defaultVH != nil {
					errs = append(errs, fmt.Sprintf("virtual_hosts[%d] (%s): only one virtual host may use domain *", i, vh.GetName()))
				}
				r.defaultVH = v
				continue
			case len(d) > 1 && d[0] == '*':
				key := d[1:]
				if suffix[len(key)] == nil {
					suffix[len(key)] = map[string]*VirtualHost{}
				}
				target = suffix[len(key)]
				d = key
			case len(d) > 1 && d[len(d)-1] == '*':
				key := d[:len(d)-1]
				if prefix[len(key)] == nil {
					prefix[len(key)] = map[string]*VirtualHost{}
				}
				target = prefix[len(key)]
				d = key
			default:
				target = r.exact
			}
			if _, dup := target[d]; dup {
				errs = append(errs, fmt.Sprintf("virtual_hosts[%d] (%s): duplicate domain %q", i, vh.GetName(), d))
			}
			target[d] = v
		}
	}
	r.suffixes = sortedClasses(suffix)
	r.prefixes = sortedClasses(prefix)
	if len(errs) > 0 {
		return nil, fmt.Errorf("route configuration %q: %s", cfg.GetName(), strings.Join(errs, "; "))
	}
	return r, nil
}

func sortedClasses(m map[int]map[string]*VirtualHost) []wildcardClass {
	out := make([]wildcardClass, 0, len(m))
	for n, vhs := range m {
		out = append(out, wildcardClass{n: n, vhosts: vhs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n > out[j].n })
	return out
}

// Config returns the RouteConfiguration the router was built from.
func (r *Router) Config() *routev3.RouteConfiguration { return r.cfg }

// VirtualHosts returns the compiled virtual hosts in configuration order.
func (r *Router) VirtualHosts() []*VirtualHost { return r.vhosts }

// lowerInto lower-cases s into buf, which the caller keeps on its stack so
// that host lookups do not allocate.
func lowerInto(buf []byte, s string) []byte {
	buf = buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// stripPort removes a trailing ":port" from a host, keeping IPv6 literals.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 {
		return host
	}
	if strings.IndexByte(host, ']') > i {
		return host // "[::1]" without port
	}
	for j := i + 1; j < len(host); j++ {
		if host[j] < '0' || host[j] > '9' {
			return host
		}
	}
	return host[:i]
}

func hostPort(host string) string {
	if s := stripPort(host); len(s) < len(host) {
		return host[len(s)+1:]
	}
	return ""
}

// FindVirtualHost selects the virtual host for an :authority value, the way
// Envoy's RouteMatcher does: exact, then suffix wildcards longest first,
// then prefix wildcards longest first, then "*".
func (r *Router) FindVirtualHost(authority string) *VirtualHost {
	// Envoy short-cuts a configuration whose only virtual host is "*".
	if len(r.exact) == 0 && len(r.suffixes) == 0 && len(r.prefixes) == 0 {
		return r.defaultVH
	}
	if r.ignorePort {
		authority = stripPort(authority)
	}
	var arr [256]byte
	var host string
	if len(authority) <= len(arr) {
		b := lowerInto(arr[:0], authority)
		// The map lookups below with string(b) do not allocate.
		if v, ok := r.exact[string(b)]; ok {
			return v
		}
		for _, c := range r.suffixes {
			if c.n < len(b) {
				if v, ok := c.vhosts[string(b[len(b)-c.n:])]; ok {
					return v
				}
			}
		}
		for _, c := range r.prefixes {
			if c.n < len(b) {
				if v, ok := c.vhosts[string(b[:c.n])]; ok {
					return v
				}
			}
		}
		return r.defaultVH
	}
	host = strings.ToLower(authority)
	if v, ok := r.exact[host]; ok {
		return v
	}
	for _, c := range r.suffixes {
		if c.n < len(host) {
			if v, ok := c.vhosts[host[len(host)-c.n:]]; ok {
				return v
			}
		}
	}
	for _, c := range r.prefixes {
		if c.n < len(host) {
			if v, ok := c.vhosts[host[:c.n]]; ok {
				return v
			}
		}
	}
	return r.defaultVH
}

// Normalize applies the HCM rewrites that run before routing
// (normalize_path, merge_slashes, strip_any_host_port,
// strip_matching_host_port) to req in place.
func (r *Router) Normalize(req *Request) {
	if r.opts.NormalizePath || r.opts.MergeSlashes {
		if p, ok := req.Headers.Get(":path"); ok {
			if np := normalizePath(p, r.opts.NormalizePath, r.opts.MergeSlashes); np != p {
				req.Headers.Set(":path", np)
			}
		}
	}
	if !r.opts.StripAnyHostPort && !r.opts.StripMatchingHostPort {
		return
	}
	host, ok := req.Headers.Get(":authority")
	if !ok {
		return
	}
	port := hostPort(host)
	if port == "" {
		return
	}
	if r.opts.StripAnyHostPort || port == strconv.FormatUint(uint64(r.opts.ListenerPort), 10) {
		req.Headers.Set(":authority", stripPort(host))
	}
}

// normalizePath applies RFC 3986 dot-segment removal (normalize_path)
// and collapses repeated slashes (merge_slashes) on the path part only.
func normalizePath(p string, dots, slashes bool) string {
	path, rest := p, ""
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		path, rest = p[:i], p[i:]
	}
	if slashes {
		for strings.Contains(path, "//") {
			path = strings.ReplaceAll(path, "//", "/")
		}
	}
	if dots {
		// Envoy also turns backslashes into slashes when normalizing.
		path = strings.ReplaceAll(path, "\\", "/")
		segs := strings.Split(path, "/")
		out := make([]string, 0, len(segs))
		for i, s := range segs {
			switch s {
			case ".":
				if i == len(segs)-1 {
					out = append(out, "")
				}
			case "..":
				if len(out) > 1 {
					out = out[:len(out)-1]
				}
				if i == len(segs)-1 {
					out = append(out, "")
				}
			default:
				out = append(out, s)
			}
		}
		path = strings.Join(out, "/")
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
	}
	return path + rest
}

// Selection is the result of Match: where the request goes, without the
// finalized request.
type Selection struct {
	VirtualHost *VirtualHost
	// Route is nil when no route matched or when TLSRedirect is set.
	Route *Route
	// TLSRedirect is set when the virtual host's require_tls sends a
	// redirect to https before any route is tried.
	TLSRedirect bool
	// blocked is set when require_tls finds no x-forwarded-proto.
	blocked bool
}

// Match selects the virtual host and the first matching route. It does not
// allocate for ordinary requests; the request should already be
// normalized (see Normalize).
func (r *Router) Match(req *Request, random uint64) Selection {
	auth, _ := req.Headers.Get(r.vhostHeader)
	vh := r.FindVirtualHost(auth)
	if vh == nil {
		return Selection{}
	}
	if vh.requireTLS != routev3.VirtualHost_NONE {
		xfp, _ := req.Headers.Get("x-forwarded-proto")
		if xfp == "" {
			// Without x-forwarded-proto Envoy gives no route at all.
			return Selection{VirtualHost: vh, blocked: true}
		}
		if xfp != "https" {
			internal, _ := req.Headers.Get("x-envoy-internal")
			if vh.requireTLS == routev3.VirtualHost_ALL || internal != "true" {
				return Selection{VirtualHost: vh, TLSRedirect: true}
			}
		}
	}
	return Selection{VirtualHost: vh, Route: vh.match(r, req, random)}
}
