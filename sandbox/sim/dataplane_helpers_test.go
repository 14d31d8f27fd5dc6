package sim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// harness is a go-control-plane ADS server on loopback with one data plane
// connected to it, node id "n1".
type harness struct {
	cache cache.SnapshotCache
	dp    *DataPlane
	mu    sync.Mutex
	nacks []*discovery.DiscoveryRequest
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{cache: cache.NewSnapshotCache(true, cache.IDHash{}, nil)}
	cb := serverv3.CallbackFuncs{StreamRequestFunc: func(_ int64, r *discovery.DiscoveryRequest) error {
		if r.GetErrorDetail() != nil {
			h.mu.Lock()
			h.nacks = append(h.nacks, r)
			h.mu.Unlock()
		}
		return nil
	}}
	srv := serverv3.NewServer(context.Background(), h.cache, cb)
	g := grpc.NewServer()
	discovery.RegisterAggregatedDiscoveryServiceServer(g, srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	h.dp, err = Start(DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "n1", Cluster: "sandbox/test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.dp.Close() })
	return h
}

// set serves the resources as one snapshot and waits until the data plane
// has accepted every type of it.
func (h *harness) set(t *testing.T, version string, res ...types.Resource) {
	t.Helper()
	byType := map[resource.Type][]types.Resource{}
	for _, r := range res {
		var typ string
		switch r.(type) {
		case *listenerv3.Listener:
			typ = resource.ListenerType
		case *routev3.RouteConfiguration:
			typ = resource.RouteType
		case *clusterv3.Cluster:
			typ = resource.ClusterType
		case *endpointv3.ClusterLoadAssignment:
			typ = resource.EndpointType
		case *tlsv3.Secret:
			typ = resource.SecretType
		}
		byType[typ] = append(byType[typ], r)
	}
	snap, err := cache.NewSnapshot(version, byType)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cache.SetSnapshot(context.Background(), "n1", snap); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := h.dp.WaitFor(ctx, func(st Status) bool {
		for typ := range byType {
			if st.Versions[typ] != version {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("%v (status %+v)", err, h.dp.Status())
	}
}

// do sends a request to the listener "http".
func (h *harness) do(t *testing.T, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	addr := h.dp.Status().Listeners["http"]
	if addr == "" {
		t.Fatalf("listener http not served: %+v", h.dp.Status())
	}
	host, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	req, _ := http.NewRequest(method, "http://"+addr+"/"+path, nil)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func echoOf(t *testing.T, body string) upstream.Echo {
	t.Helper()
	var e upstream.Echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an echo: %q", body)
	}
	return e
}

func mustAny(t *testing.T, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func httpFilterOf(t *testing.T, name string, m proto.Message) *hcmv3.HttpFilter {
	return &hcmv3.HttpFilter{Name: name, ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: mustAny(t, m)}}
}

// listener is a listener "http" whose HCM takes route configuration "rc"
// over ADS and runs filters then the router.
func listener(t *testing.T, filters ...*hcmv3.HttpFilter) *listenerv3.Listener {
	t.Helper()
	filters = append(filters, httpFilterOf(t, "envoy.filters.http.router", &routerv3.Router{}))
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "http", StripPortMode: &hcmv3.HttpConnectionManager_StripAnyHostPort{StripAnyHostPort: true}, HttpFilters: filters,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "rc", ConfigSource: &corev3.ConfigSource{
			ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}}},
	}
	return &listenerv3.Listener{Name: "http", Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: mustAny(t, hcm)}}}}}}
}

func routeConfig(routes ...*routev3.Route) *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{Name: "rc", VirtualHosts: []*routev3.VirtualHost{{Name: "all", Domains: []string{"*"}, Routes: routes}}}
}

func prefixRoute(name, prefix, cluster string) *routev3.Route {
	return &routev3.Route{Name: name, Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: prefix}},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: cluster}}}}
}

func edsCluster(name string, lb clusterv3.Cluster_LbPolicy) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: name, LbPolicy: lb, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}}}
}

func loadAssignment(name string, servers ...*upstream.Server) *endpointv3.ClusterLoadAssignment {
	addrs := make([]string, len(servers))
	for i, s := range servers {
		addrs[i] = s.Addr()
	}
	return loadAssignmentOf(name, addrs...)
}

func loadAssignmentOf(name string, addrs ...string) *endpointv3.ClusterLoadAssignment {
	lle := &endpointv3.LocalityLbEndpoints{}
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		p := 0
		for _, c := range port {
			p = p*10 + int(c-'0')
		}
		lle.LbEndpoints = append(lle.LbEndpoints, &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(p)}}}}}}})
	}
	return &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{lle}}
}

func mock(t *testing.T, name string, p upstream.Profile) *upstream.Server {
	t.Helper()
	s, err := upstream.Start(name, upstream.Options{Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func u32(v uint32) *wrapperspb.UInt32Value { return wrapperspb.UInt32(v) }
