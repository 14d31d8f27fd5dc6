package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"google.golang.org/protobuf/proto"
)

// config is one compiled snapshot of the data plane: everything the
// request path needs, built once when a response is accepted.
type config struct {
	listeners map[string]*hcmConfig
	clusters  map[string]*cluster
	versions  map[string]string
	// secrets are the accepted secrets, parsed; secretSrc is what each
	// was parsed from, so the next build reuses unchanged ones.
	secrets   map[string]*compiledSecret
	secretSrc map[string]*tlsv3.Secret
	// warming lists, by listener, the secrets it still waits for. Like
	// Envoy, a new listener is not served until they arrive, and an
	// updated one keeps serving its previous configuration meanwhile.
	warming map[string][]string
	// clusterWarming lists, by cluster, the secrets its TLS context still
	// waits for. Like Envoy, a new cluster does not exist for routing
	// until they arrive (503, no cluster), and an updated one keeps its
	// previous configuration meanwhile.
	clusterWarming map[string][]string
}

// hcmConfig is a listener's (first) HTTP connection manager.
type hcmConfig struct {
	listener string
	port     uint32
	// tls marks a listener whose filter chains terminate TLS; tlsConf
	// holds their certificates by server name. Requests on it have
	// :scheme and x-forwarded-proto https.
	tls       bool
	tlsConf   *listenerTLS
	routeName string
	router    *Router // nil until the route configuration arrives
	// filters is the HCM's http_filters chain in order, the router last.
	filters []*httpFilter
	// upgrades are the HCM's upgrade_configs: whether each upgrade type
	// (lower case) is allowed.
	upgrades map[string]bool
	// streamIdle is the HCM's stream_idle_timeout, nil when unset (5
	// minutes); 0 disables it.
	streamIdle *time.Duration
	extras     map[*Route]*routeExtras

	// What this was compiled from, so an update that leaves them alone
	// (endpoints only, say) keeps the compiled listener and with it the
	// filters' state: rate-limit buckets, fetched key sets.
	source     *listenerv3.Listener
	rc         *routev3.RouteConfiguration
	clusterGen uint64
	secretGen  uint64
}

// routeExtras are a route's parts the router does not handle: filter
// configs, mirrors and upgrades.
type routeExtras struct {
	filters map[string]filterImpl
	mirrors []mirrorPolicy
	// upgrades are the route's upgrade_configs, which override the
	// HCM's for the types they name.
	upgrades map[string]bool
	// bufferLimit is how much request body is kept for retries; past it
	// the request is streamed without retry.
	bufferLimit int64
}

type mirrorPolicy struct {
	cluster  string
	fraction *fractionalPercent
}

// cluster is an upstream cluster with its endpoints and load balancer.
type cluster struct {
	name  string
	http2 bool
	// tls originates TLS to the endpoints; nil for plaintext.
	tls *upstreamTLS
	// poolKey names the connection pool: the cluster, its protocol and
	// its TLS identity, so connections outlive a configuration change
	// only when nothing they were made with changed.
	poolKey   string
	lb        clusterv3.Cluster_LbPolicy
	endpoints []endpoint
	ring      []ringEntry
	rr        atomic.Uint64
	// src is the resource the cluster was built from; hc and od its
	// active health check and outlier detection (nil: none), health
	// their running state (set when the build is installed).
	src            *clusterv3.Cluster
	hc             *hcSpec
	od             *odSpec
	health         *clusterHealth
	panicThreshold float64
	// edsHealth is set when the load assignment marks some endpoint
	// unhealthy.
	edsHealth bool
	// awaitingEDS marks an EDS cluster whose load assignment has not
	// arrived: Envoy's initialization waits for it.
	awaitingEDS bool
	// healthyRing caches the ring of the last healthy set the ring hash
	// balancer chose from.
	healthyRing atomic.Pointer[subsetRing]
	// res are the circuit breakers, stats the counters under the
	// cluster's name; both carried over from the previous build when
	// they still apply (see build).
	res   *breakers
	stats *clusterStats
}

type endpoint struct {
	addr   string
	weight uint32
	active *atomic.Int64 // outstanding requests, for least request
	// host is the endpoint's health; nil when the cluster neither
	// checks nor detects outliers.
	host *hostState
	// edsStatus is the load assignment's health_status when it takes the
	// endpoint out of the healthy set (UNHEALTHY, DRAINING, TIMEOUT).
	edsStatus string
}

// subsetRing is a hash ring over some of a cluster's endpoints.
type subsetRing struct {
	set  []int
	ring []ringEntry
}

type ringEntry struct {
	hash uint64
	ep   int
}

func hcmOf(fc *listenerv3.FilterChain) (*hcmv3.HttpConnectionManager, error) {
	for _, f := range fc.GetFilters() {
		if f.GetTypedConfig().GetTypeUrl() == "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager" {
			h := &hcmv3.HttpConnectionManager{}
			if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
				return nil, fmt.Errorf("filter %q: %w", f.GetName(), err)
			}
			return h, nil
		}
		return nil, fmt.Errorf("network filter %q (%s) is not supported", f.GetName(), f.GetTypedConfig().GetTypeUrl())
	}
	return nil, fmt.Errorf("filter chain has no http_connection_manager")
}

// buildErrors are the problems of one build, by xDS type, so a response is
// NACKed only for what it brought.
type buildErrors map[string][]error

func (b buildErrors) add(typeURL string, err error) { b[typeURL] = append(b[typeURL], err) }

// build compiles a state. Missing dependencies (a route configuration or
// load assignment not yet received) are not errors: the listener waits,
// the cluster has no endpoints.
func build(s *resources, prev *config) (*config, buildErrors) {
	errs := buildErrors{}
	cfg := &config{listeners: map[string]*hcmConfig{}, clusters: map[string]*cluster{}, versions: s.versions,
		secretSrc: s.secrets, warming: map[string][]string{}, clusterWarming: map[string][]string{}}
	var serrs []error
	cfg.secrets, serrs = compileSecrets(s, prev)
	for _, err := range serrs {
		errs.add(TypeSecret, err)
	}
	for _, name := range sortedKeys(s.clusters) {
		c, missing, err := buildCluster(s.clusters[name], s, cfg.secrets)
		if err != nil {
			errs.add(TypeCluster, fmt.Errorf("cluster %q: %w", name, err))
			continue
		}
		if len(missing) > 0 {
			cfg.clusterWarming[name] = missing
			if p := prev.clusterNamed(name); p != nil {
				cfg.clusters[name] = p
			}
			continue
		}
		if p := prev.clusterNamed(name); p != nil {
			// Counters belong to the name; the circuit breakers, and
			// with them the requests in flight, to the thresholds.
			c.stats = p.stats
			if proto.Equal(p.res.src, c.res.src) {
				c.res = p.res
			}
		}
		cfg.clusters[name] = c
	}
	// Route configurations compile once each, even when several
	// listeners share one; the router depends on the HCM options, so the
	// key includes them.
	type routerKey struct {
		name       string
		strip      bool
		stripMatch bool
		port       uint32
		norm, mrg  bool
	}
	routers := map[routerKey]*Router{}
	for _, name := range sortedKeys(s.listeners) {
		l := s.listeners[name]
		if p := prev.reusable(name, l, s); p != nil {
			cfg.listeners[name] = p
			routers[routerKey{name: p.rc.GetName()}] = p.router
			continue
		}
		if len(l.GetFilterChains()) == 0 {
			errs.add(TypeListener, fmt.Errorf("listener %q has no filter chains", name))
			continue
		}
		lt, missing, err := buildListenerTLS(l, cfg.secrets)
		if err != nil {
			errs.add(TypeListener, fmt.Errorf("listener %q: %w", name, err))
			continue
		}
		if len(missing) > 0 {
			cfg.warming[name] = missing
			if p := prev.listenerNamed(name); p != nil {
				cfg.listeners[name] = p
			}
			continue
		}
		// Every chain's HTTP connection manager is taken to be the
		// first's: the translator gives all chains of a listener the
		// same one, differing only in certificate.
		fch := l.GetFilterChains()[0]
		h, err := hcmOf(fch)
		if err != nil {
			errs.add(TypeListener, fmt.Errorf("listener %q: %w", name, err))
			continue
		}
		hc := &hcmConfig{listener: name, port: l.GetAddress().GetSocketAddress().GetPortValue(), tls: lt != nil, tlsConf: lt, extras: map[*Route]*routeExtras{},
			source: l, clusterGen: s.clusterGen, secretGen: s.secretGen}
		var ferrs []error
		for i, f := range h.GetHttpFilters() {
			hf, err := compileFilter(f)
			if err != nil {
				ferrs = append(ferrs, err)
				continue
			}
			// Envoy's terminal filter check: the router ends the
			// chain, and nothing may come after it.
			last := i == len(h.GetHttpFilters())-1
			switch {
			case hf != nil && hf.kind == filterRouter && !last:
				ferrs = append(ferrs, fmt.Errorf("terminal filter %q must be the last filter in a http filter chain", f.GetName()))
			case hf != nil && hf.kind != filterRouter && last:
				ferrs = append(ferrs, fmt.Errorf("non-terminal filter %q is the last filter in a http filter chain", f.GetName()))
			}
			if hf != nil {
				hc.filters = append(hc.filters, hf)
			}
		}
		if t := h.GetStreamIdleTimeout(); t != nil {
			d := t.AsDuration()
			hc.streamIdle = &d
		}
		for _, u := range h.GetUpgradeConfigs() {
			if hc.upgrades == nil {
				hc.upgrades = map[string]bool{}
			}
			hc.upgrades[strings.ToLower(u.GetUpgradeType())] = u.GetEnabled() == nil || u.GetEnabled().GetValue()
		}
		if len(ferrs) > 0 {
			errs.add(TypeListener, fmt.Errorf("listener %q: %w", name, errors.Join(ferrs...)))
			continue
		}
		var rc *routev3.RouteConfiguration
		switch spec := h.GetRouteSpecifier().(type) {
		case *hcmv3.HttpConnectionManager_Rds:
			hc.routeName = spec.Rds.GetRouteConfigName()
			rc = s.routes[hc.routeName]
		case *hcmv3.HttpConnectionManager_RouteConfig:
			rc = spec.RouteConfig
		default:
			errs.add(TypeListener, fmt.Errorf("listener %q: route specifier %T is not supported", name, spec))
			continue
		}
		cfg.listeners[name] = hc
		if rc == nil {
			continue
		}
		hc.rc = rc
		opts := Options{
			StripAnyHostPort:      h.GetStripAnyHostPort(),
			StripMatchingHostPort: h.GetStripMatchingHostPort(),
			ListenerPort:          hc.port,
			NormalizePath:         h.GetNormalizePath().GetValue(),
			MergeSlashes:          h.GetMergeSlashes(),
			Clusters:              s.clusters,
		}
		key := routerKey{rc.GetName(), opts.StripAnyHostPort, opts.StripMatchingHostPort, opts.ListenerPort, opts.NormalizePath, opts.MergeSlashes}
		r := routers[key]
		if r == nil {
			r, err = New(rc, opts)
			if err != nil {
				errs.add(TypeRoute, err)
				continue
			}
			routers[key] = r
		}
		if err := compileExtras(hc, r); err != nil {
			errs.add(TypeRoute, fmt.Errorf("route configuration %q: %w", rc.GetName(), err))
			continue
		}
		hc.router = r
	}
	// A route configuration nobody uses yet must still be one Envoy takes.
	for _, name := range sortedKeys(s.routes) {
		used := false
		for k := range routers {
			used = used || k.name == name
		}
		if !used {
			if _, err := New(s.routes[name], Options{}); err != nil {
				errs.add(TypeRoute, err)
			}
		}
	}
	return cfg, errs
}

// reusable returns the previous build's listener when nothing it was
// compiled from has changed.
func (prev *config) reusable(name string, l *listenerv3.Listener, s *resources) *hcmConfig {
	if prev == nil {
		return nil
	}
	p := prev.listeners[name]
	if p == nil || p.router == nil || p.source != l || p.clusterGen != s.clusterGen || (p.tls && p.secretGen != s.secretGen) {
		return nil
	}
	if p.routeName != "" && s.routes[p.routeName] != p.rc {
		return nil
	}
	return p
}

// clusterNamed is the previous build's cluster, nil if none.
func (prev *config) clusterNamed(name string) *cluster {
	if prev == nil {
		return nil
	}
	return prev.clusters[name]
}

// listenerNamed is the previous build's listener, nil if none.
func (prev *config) listenerNamed(name string) *hcmConfig {
	if prev == nil {
		return nil
	}
	return prev.listeners[name]
}

func compileExtras(hc *hcmConfig, r *Router) error {
	var errs []error
	for _, vh := range r.VirtualHosts() {
		vhFilters := map[string]filterImpl{}
		for name, a := range vh.Proto().GetTypedPerFilterConfig() {
			impl, err := compilePerRoute(name, a)
			if err != nil {
				errs = append(errs, fmt.Errorf("virtual host %q: %w", vh.Name, err))
				continue
			}
			vhFilters[name] = impl
		}
		for _, rt := range vh.Routes() {
			ex := &routeExtras{filters: map[string]filterImpl{}, bufferLimit: retryBufferLimit(hc.source, vh.Proto(), rt.Proto())}
			for k, v := range vhFilters {
				ex.filters[k] = v
			}
			p := rt.Proto()
			for name, a := range p.GetTypedPerFilterConfig() {
				impl, err := compilePerRoute(name, a)
				if err != nil {
					errs = append(errs, fmt.Errorf("route %q: %w", rt.Name, err))
					continue
				}
				ex.filters[name] = impl
			}
			ra := p.GetRoute()
			for _, m := range ra.GetRequestMirrorPolicies() {
				ex.mirrors = append(ex.mirrors, mirrorPolicy{cluster: m.GetCluster(), fraction: mirrorFraction(m)})
			}
			for _, u := range ra.GetUpgradeConfigs() {
				if ex.upgrades == nil {
					ex.upgrades = map[string]bool{}
				}
				ex.upgrades[strings.ToLower(u.GetUpgradeType())] = u.GetEnabled() == nil || u.GetEnabled().GetValue()
			}
			hc.extras[rt] = ex
		}
	}
	return errors.Join(errs...)
}

// buildCluster compiles a cluster. missing lists the SDS secrets its TLS
// context waits for; the cluster is then not usable yet.
func buildCluster(c *clusterv3.Cluster, s *resources, secrets map[string]*compiledSecret) (*cluster, []string, error) {
	out, err := buildClusterParts(c, s)
	if err != nil {
		return nil, nil, err
	}
	ctx, err := clusterTLSContext(c)
	if err != nil {
		return nil, nil, err
	}
	out.poolKey = out.name + "/" + strconv.FormatBool(out.http2)
	if ctx != nil {
		var missing []string
		out.tls, missing, err = buildUpstreamTLS(ctx, out.http2, secrets, s.secrets)
		if err != nil {
			return nil, nil, fmt.Errorf("transport socket: %w", err)
		}
		if len(missing) > 0 {
			return nil, missing, nil
		}
		if d := c.GetConnectTimeout(); d != nil && d.AsDuration() > 0 {
			out.tls.timeout = d.AsDuration()
		}
		out.poolKey += "/tls/" + out.tls.key + "/" + out.tls.timeout.String()
	}
	return out, nil, nil
}

func buildClusterParts(c *clusterv3.Cluster, s *resources) (*cluster, error) {
	out := &cluster{name: c.GetName(), lb: c.GetLbPolicy(), src: c, panicThreshold: panicThreshold(c),
		res: newBreakers(c.GetCircuitBreakers()), stats: &clusterStats{}}
	switch out.lb {
	case clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_LEAST_REQUEST, clusterv3.Cluster_RANDOM, clusterv3.Cluster_RING_HASH, clusterv3.Cluster_MAGLEV:
	default:
		return nil, fmt.Errorf("lb_policy %s is not supported", out.lb)
	}
	var err error
	if out.hc, err = compileHealthCheck(c.GetHealthChecks()); err != nil {
		return nil, err
	}
	if out.od, err = compileOutlierDetection(c.GetOutlierDetection()); err != nil {
		return nil, err
	}
	if a := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; a != nil {
		po := &httpv3.HttpProtocolOptions{}
		if err := a.UnmarshalTo(po); err != nil {
			return nil, fmt.Errorf("http protocol options: %w", err)
		}
		out.http2 = po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil
		if o := po.GetUpstreamHttpProtocolOptions(); o.GetAutoSni() || o.GetAutoSanValidation() {
			// SNI per request would need a pool per host name.
			return nil, errors.New("upstream_http_protocol_options auto_sni and auto_san_validation are not supported")
		}
	}
	if o := c.GetUpstreamHttpProtocolOptions(); o.GetAutoSni() || o.GetAutoSanValidation() {
		return nil, errors.New("upstream_http_protocol_options auto_sni and auto_san_validation are not supported")
	}
	if c.GetHttp2ProtocolOptions() != nil {
		out.http2 = true
	}
	cla := c.GetLoadAssignment()
	switch c.GetType() {
	case clusterv3.Cluster_EDS:
		name := c.GetName()
		if n := c.GetEdsClusterConfig().GetServiceName(); n != "" {
			name = n
		}
		cla = s.endpoints[name]
		out.awaitingEDS = cla == nil
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
	default:
		return nil, fmt.Errorf("discovery type %s is not supported", c.GetType())
	}
	for _, lle := range cla.GetEndpoints() {
		for _, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil {
				return nil, fmt.Errorf("endpoint without a socket address")
			}
			w := lb.GetLoadBalancingWeight().GetValue()
			if w == 0 {
				w = 1
			}
			ep := endpoint{addr: net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))), weight: w, active: new(atomic.Int64)}
			// Envoy takes hosts the load assignment calls unhealthy,
			// draining or timed out out of the healthy set, as if they
			// failed a check. DEGRADED hosts are balanced like healthy
			// ones here (Envoy uses them only when too few are healthy).
			switch st := lb.GetHealthStatus(); st {
			case corev3.HealthStatus_UNHEALTHY, corev3.HealthStatus_DRAINING, corev3.HealthStatus_TIMEOUT:
				ep.edsStatus = st.String()
				out.edsHealth = true
			}
			out.endpoints = append(out.endpoints, ep)
		}
	}
	if out.lb == clusterv3.Cluster_RING_HASH || out.lb == clusterv3.Cluster_MAGLEV {
		out.buildRing()
	}
	return out, nil
}

// buildRing places each endpoint on the hash ring in proportion to its
// weight (Maglev is approximated by the same consistent ring).
func (c *cluster) buildRing() { c.ring = c.ringOf(nil) }

// ringOf builds the ring over the endpoints in set (nil: all). Like
// Envoy's, the ring holds only the hosts the balancer may choose, so a
// host leaving the healthy set moves only its own share of the keys.
func (c *cluster) ringOf(set []int) []ringEntry {
	const perWeight = 64
	var ring []ringEntry
	add := func(i int) {
		ep := c.endpoints[i]
		for j := 0; j < perWeight*int(ep.weight); j++ {
			ring = append(ring, ringEntry{hash: xxhash.Sum64String(ep.addr + "_" + strconv.Itoa(j)), ep: i})
		}
	}
	if set == nil {
		for i := range c.endpoints {
			add(i)
		}
	} else {
		for _, i := range set {
			add(i)
		}
	}
	sort.Slice(ring, func(i, j int) bool { return ring[i].hash < ring[j].hash })
	return ring
}

// pick chooses an endpoint by the cluster's policy; hash is the route's
// request hash for ring hash and Maglev (hashed false: no hash, pick at
// random). It returns -1 when there is no host to choose.
func (c *cluster) pick(hash uint64, hashed bool, exclude int) int {
	set, _ := c.candidates()
	n := len(c.endpoints)
	if set != nil {
		n = len(set)
	}
	at := func(k int) int {
		if set == nil {
			return k
		}
		return set[k]
	}
	if n == 0 {
		return -1
	}
	if n == 1 {
		return at(0)
	}
	switch c.lb {
	case clusterv3.Cluster_RING_HASH, clusterv3.Cluster_MAGLEV:
		if !hashed {
			hash = rand.Uint64()
		}
		ring := c.ring
		if set != nil {
			cached := c.healthyRing.Load()
			if cached == nil || !slices.Equal(cached.set, set) {
				cached = &subsetRing{set: set, ring: c.ringOf(set)}
				c.healthyRing.Store(cached)
			}
			ring = cached.ring
		}
		i := sort.Search(len(ring), func(i int) bool { return ring[i].hash >= hash })
		if i == len(ring) {
			i = 0
		}
		return ring[i].ep
	case clusterv3.Cluster_RANDOM:
		return at(c.weightedRandom(set))
	case clusterv3.Cluster_LEAST_REQUEST:
		// Envoy's default: the better of two random choices.
		a, b := at(c.weightedRandom(set)), at(c.weightedRandom(set))
		if a == b && exclude >= 0 && a == exclude {
			b = at((c.position(set, a) + 1) % n)
		}
		if c.endpoints[b].active.Load() < c.endpoints[a].active.Load() {
			return b
		}
		return a
	}
	// Weighted round robin over the expanded weights.
	var total uint64
	for k := range n {
		total += uint64(c.endpoints[at(k)].weight)
	}
	x := c.rr.Add(1) - 1
	x %= total
	for k := range n {
		w := uint64(c.endpoints[at(k)].weight)
		if x < w {
			return at(k)
		}
		x -= w
	}
	return at(0)
}

// position is the index of endpoint i within set (nil: all).
func (c *cluster) position(set []int, i int) int {
	if set == nil {
		return i
	}
	return slices.Index(set, i)
}

// weightedRandom draws a position in set (nil: all endpoints) by weight.
func (c *cluster) weightedRandom(set []int) int {
	n := len(c.endpoints)
	if set != nil {
		n = len(set)
	}
	w := func(k int) uint64 {
		if set == nil {
			return uint64(c.endpoints[k].weight)
		}
		return uint64(c.endpoints[set[k]].weight)
	}
	var total uint64
	for k := range n {
		total += w(k)
	}
	x := rand.Uint64N(total)
	for k := range n {
		if x < w(k) {
			return k
		}
		x -= w(k)
	}
	return 0
}

// retryAllowed reserves a concurrent retry slot at priority p if the
// budget (or max_retries without one) allows it.
func (c *cluster) retryAllowed(p Priority) bool {
	if take(&c.res.used[p].retries, c.res.retryLimit(p)) {
		c.stats.rqRetry.Add(1)
		return true
	}
	c.stats.rqRetryOverflow.Add(1)
	return false
}

// mirrorFraction is a mirror's runtime_fraction default; nil (always) when
// none is set.
func mirrorFraction(m *routev3.RouteAction_RequestMirrorPolicy) *fractionalPercent {
	if m.GetRuntimeFraction() == nil {
		return nil
	}
	return newFractionalPercent(m.GetRuntimeFraction().GetDefaultValue())
}
