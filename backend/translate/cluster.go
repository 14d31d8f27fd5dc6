package translate

import (
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/model"
)

// systemCABundle is where Debian-based Envoy images keep the trusted roots;
// upstream TLS without a CA secret verifies against it.
const systemCABundle = "/etc/ssl/certs/ca-certificates.crt"

var lbPolicies = map[string]clusterv3.Cluster_LbPolicy{
	"":                   clusterv3.Cluster_ROUND_ROBIN,
	model.LBRoundRobin:   clusterv3.Cluster_ROUND_ROBIN,
	model.LBLeastRequest: clusterv3.Cluster_LEAST_REQUEST,
	model.LBRandom:       clusterv3.Cluster_RANDOM,
	model.LBRingHash:     clusterv3.Cluster_RING_HASH,
	model.LBMaglev:       clusterv3.Cluster_MAGLEV,
}

// buildCluster makes the Cluster of an upstream and, for EDS clusters, its
// ClusterLoadAssignment. DNS upstreams resolve in Envoy (STRICT_DNS, no EDS)
// unless endpoints are given for them; every other source is EDS over ADS,
// fed from the static list or from the discovered endpoints (none yet gives
// an empty assignment).
func buildCluster(u *model.Upstream, override []model.Endpoint, overridden bool) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, error) {
	var problems model.Problems
	c := &clusterv3.Cluster{Name: u.Name}
	if u.ConnectTimeout > 0 {
		c.ConnectTimeout = duration(u.ConnectTimeout)
	}

	sources := 0
	for _, set := range []bool{u.Static != nil, u.DNS != nil, u.Kubernetes != nil, u.Consul != nil} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		problems.Add("", "exactly one of static, dns, kubernetes and consul must be set")
	}

	var cla *endpointv3.ClusterLoadAssignment
	switch {
	case u.DNS != nil && !overridden:
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS}
		if u.DNS.Host == "" {
			problems.Add("dns.host", "is required")
		}
		if u.DNS.Port < 1 || u.DNS.Port > 65535 {
			problems.Add("dns.port", "must be between 1 and 65535")
		}
		c.LoadAssignment = loadAssignment(u.Name, []model.Endpoint{{Address: u.DNS.Host, Port: u.DNS.Port}}, &problems, "dns")
	default:
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}
		c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()}
		eps, path := override, "endpoints"
		if !overridden && u.Static != nil {
			eps, path = u.Static.Endpoints, "static.endpoints"
		}
		cla = loadAssignment(u.Name, eps, &problems, path)
	}

	if lb := u.LoadBalancer; lb != nil {
		policy, ok := lbPolicies[lb.Policy]
		if !ok {
			problems.Add("loadBalancer.policy", "unknown policy %q", lb.Policy)
		}
		c.LbPolicy = policy
		if lb.HashOn != nil && policy != clusterv3.Cluster_RING_HASH && policy != clusterv3.Cluster_MAGLEV {
			problems.Add("loadBalancer.hashOn", "applies only to ring-hash and maglev")
		}
	}

	switch u.Protocol {
	case "", model.UpstreamHTTP1:
	case model.UpstreamHTTP2, model.UpstreamGRPC:
		opts, err := anyOf(&httpv3.HttpProtocolOptions{
			UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
				ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
			}},
		})
		if err != nil {
			problems.Add("protocol", "%v", err)
		}
		c.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts}
	default:
		problems.Add("protocol", "must be http1, http2 or grpc")
	}

	if hc := u.HealthCheck; hc != nil {
		c.HealthChecks = []*corev3.HealthCheck{healthCheck(hc, &problems)}
	}
	if od := u.OutlierDetection; od != nil {
		c.OutlierDetection = outlierDetection(od)
	}
	if cb := u.CircuitBreaker; cb != nil {
		c.CircuitBreakers = circuitBreakers(cb, &problems)
	}
	if t := u.TLS; t != nil {
		ts, err := upstreamTLS(t)
		if err != nil {
			problems.Add("tls", "%v", err)
		}
		c.TransportSocket = ts
	}

	if err := problems.Err(); err != nil {
		return nil, nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, nil, fmt.Errorf("envoy cluster: %w", err)
	}
	if cla != nil {
		if err := cla.Validate(); err != nil {
			return nil, nil, fmt.Errorf("envoy load assignment: %w", err)
		}
	}
	return c, cla, nil
}

func loadAssignment(name string, eps []model.Endpoint, problems *model.Problems, path string) *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	if len(eps) == 0 {
		return cla
	}
	lle := &endpointv3.LocalityLbEndpoints{}
	for i, e := range eps {
		if e.Address == "" {
			problems.Add(model.Index(path, i)+".address", "is required")
		}
		if e.Port < 1 || e.Port > 65535 {
			problems.Add(model.Index(path, i)+".port", "must be between 1 and 65535")
		}
		if e.Weight < 0 {
			problems.Add(model.Index(path, i)+".weight", "must not be negative")
		}
		lb := &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address:       e.Address,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(max(e.Port, 0))},
			}}},
		}}}
		if e.Weight > 0 {
			lb.LoadBalancingWeight = wrapperspb.UInt32(uint32(e.Weight))
		}
		lle.LbEndpoints = append(lle.LbEndpoints, lb)
	}
	cla.Endpoints = []*endpointv3.LocalityLbEndpoints{lle}
	return cla
}

func healthCheck(hc *model.HealthCheck, problems *model.Problems) *corev3.HealthCheck {
	orDefault := func(v, d int) uint32 {
		if v <= 0 {
			return uint32(d)
		}
		return uint32(v)
	}
	interval, timeout := hc.Interval, hc.Timeout
	if interval <= 0 {
		interval = model.Duration(10e9)
	}
	if timeout <= 0 {
		timeout = model.Duration(1e9)
	}
	if !strings.HasPrefix(hc.Path, "/") {
		problems.Add("healthCheck.path", "must start with /")
	}
	http := &corev3.HealthCheck_HttpHealthCheck{Path: hc.Path}
	for i, s := range hc.ExpectedStatuses {
		if s < 100 || s > 599 {
			problems.Add(model.Index("healthCheck.expectedStatuses", i), "status %d is not an HTTP status", s)
		}
		http.ExpectedStatuses = append(http.ExpectedStatuses, &typev3.Int64Range{Start: int64(s), End: int64(s) + 1})
	}
	return &corev3.HealthCheck{
		Interval:           duration(interval),
		Timeout:            duration(timeout),
		HealthyThreshold:   wrapperspb.UInt32(orDefault(hc.HealthyThreshold, 2)),
		UnhealthyThreshold: wrapperspb.UInt32(orDefault(hc.UnhealthyThreshold, 3)),
		HealthChecker:      &corev3.HealthCheck_HttpHealthCheck_{HttpHealthCheck: http},
	}
}

func outlierDetection(od *model.OutlierDetection) *clusterv3.OutlierDetection {
	out := &clusterv3.OutlierDetection{}
	if od.Consecutive5xx > 0 {
		out.Consecutive_5Xx = wrapperspb.UInt32(uint32(od.Consecutive5xx))
	}
	if od.Interval > 0 {
		out.Interval = duration(od.Interval)
	}
	if od.BaseEjectionTime > 0 {
		out.BaseEjectionTime = duration(od.BaseEjectionTime)
	}
	if od.MaxEjectionPercent > 0 {
		out.MaxEjectionPercent = wrapperspb.UInt32(uint32(min(od.MaxEjectionPercent, 100)))
	}
	return out
}

// circuitBreakers sets the default-priority thresholds. With a retry budget,
// Envoy limits concurrent retries to a share of active requests instead of
// max_retries, so retries cannot snowball during an outage.
func circuitBreakers(cb *model.CircuitBreaker, problems *model.Problems) *clusterv3.CircuitBreakers {
	t := &clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_DEFAULT}
	set := func(v int, dst **wrapperspb.UInt32Value) {
		if v > 0 {
			*dst = wrapperspb.UInt32(uint32(v))
		}
	}
	set(cb.MaxConnections, &t.MaxConnections)
	set(cb.MaxPendingRequests, &t.MaxPendingRequests)
	set(cb.MaxRequests, &t.MaxRequests)
	set(cb.MaxRetries, &t.MaxRetries)
	if rb := cb.RetryBudget; rb != nil {
		if rb.BudgetPercent <= 0 || rb.BudgetPercent > 100 {
			problems.Add("circuitBreaker.retryBudget.budgetPercent", "must be above 0 and at most 100")
		}
		// Both fields are set explicitly: Envoy enables the budget only when
		// one of them is present.
		t.RetryBudget = &clusterv3.CircuitBreakers_Thresholds_RetryBudget{
			BudgetPercent:       &typev3.Percent{Value: rb.BudgetPercent},
			MinRetryConcurrency: wrapperspb.UInt32(uint32(max(rb.MinRetryConcurrency, 0))),
		}
		if rb.MinRetryConcurrency == 0 {
			t.RetryBudget.MinRetryConcurrency = wrapperspb.UInt32(3) // Envoy's default
		}
	}
	return &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{t}}
}

func upstreamTLS(t *model.UpstreamTLS) (*corev3.TransportSocket, error) {
	common := &tlsv3.CommonTlsContext{}
	switch {
	case t.InsecureSkipVerify:
		// No validation context: Envoy then accepts any server certificate.
	case t.CASecret != "":
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
			ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: caSecretName(t.CASecret), SdsConfig: adsSource()},
		}
	default:
		vc := &tlsv3.CertificateValidationContext{
			TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: systemCABundle}},
		}
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
	}
	cfg, err := anyOf(&tlsv3.UpstreamTlsContext{Sni: t.SNI, CommonTlsContext: common})
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{
		Name:       "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: cfg},
	}, nil
}
