package xds

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/backend/translate"
)

// startServer serves ADS on a loopback port for the length of the test,
// logging nowhere unless a logger is given.
func startServer(t testing.TB, logger ...*slog.Logger) (*Server, string) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if len(logger) > 0 {
		log = logger[0]
	}
	return serveOptions(t, Options{Logger: log})
}

// serveOptions serves ADS with opts on a loopback port for the length of
// the test.
func serveOptions(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	s := New(opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, lis.Addr().String()
}

// testRoute is one rule of the fixture gateway.
type testRoute struct {
	rule, prefix, cluster string
}

// fixture builds a small gateway the way the translator shapes one: an HTTP
// listener using RDS, one route configuration whose routes are named after
// rules, EDS clusters and their endpoints.
func fixture(t testing.TB, routes []testRoute, endpoints map[string][]string) *translate.Resources {
	t.Helper()
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		t.Fatal(err)
	}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix: "http",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: "http",
			ConfigSource:    adsConfigSource(),
		}},
		HttpFilters: []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := &translate.Resources{
		Listeners: []*listenerv3.Listener{{
			Name:    "http",
			Address: socketAddress("0.0.0.0", 8080),
			FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
			}}}},
		}},
	}
	vh := &routev3.VirtualHost{Name: "all", Domains: []string{"*"}}
	clusters := map[string]bool{}
	for _, r := range routes {
		vh.Routes = append(vh.Routes, &routev3.Route{
			Name:  "rule/" + r.rule + "/0",
			Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: r.prefix}},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: r.cluster},
			}},
		})
		clusters[r.cluster] = true
	}
	res.Routes = []*routev3.RouteConfiguration{{Name: "http", VirtualHosts: []*routev3.VirtualHost{vh}}}
	for _, name := range slices.Sorted(maps.Keys(clusters)) {
		res.Clusters = append(res.Clusters, edsCluster(name))
		res.Endpoints = append(res.Endpoints, loadAssignment(name, endpoints[name]...))
	}
	return res
}

func adsConfigSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

func edsCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsConfigSource()},
		ConnectTimeout:       durationpb.New(time.Second),
		LbPolicy:             clusterv3.Cluster_ROUND_ROBIN,
	}
}

// loadAssignment makes a ClusterLoadAssignment from "host:port" strings.
func loadAssignment(cluster string, addrs ...string) *endpointv3.ClusterLoadAssignment {
	la := &endpointv3.ClusterLoadAssignment{ClusterName: cluster, Endpoints: []*endpointv3.LocalityLbEndpoints{{}}}
	for _, a := range addrs {
		host, portText, err := net.SplitHostPort(a)
		if err != nil {
			panic(err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			panic(err)
		}
		la.Endpoints[0].LbEndpoints = append(la.Endpoints[0].LbEndpoints, &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: socketAddress(host, port)}},
		})
	}
	return la
}

// responses receives a stream's responses in the background so a test can
// wait for one with a deadline. R is a SotW or a delta discovery response.
type responses[R interface{ GetTypeUrl() string }] struct {
	t  testing.TB
	ch chan R
}

func receive[R interface{ GetTypeUrl() string }](t testing.TB, recv func() (R, error)) *responses[R] {
	r := &responses[R]{t: t, ch: make(chan R, 16)}
	go func() {
		defer close(r.ch)
		for {
			resp, err := recv()
			if err != nil {
				return
			}
			r.ch <- resp
		}
	}()
	return r
}

// expect waits for the next response and checks its type.
func (r *responses[R]) expect(typeURL string) R {
	r.t.Helper()
	var zero R
	select {
	case resp, ok := <-r.ch:
		if !ok {
			r.t.Fatalf("stream closed while waiting for %s", typeURL)
		}
		if resp.GetTypeUrl() != typeURL {
			r.t.Fatalf("got response for %s, want %s", resp.GetTypeUrl(), typeURL)
		}
		return resp
	case <-time.After(5 * time.Second):
		r.t.Fatalf("no %s response within 5s", typeURL)
	}
	return zero
}

// expectNothing checks that no response arrives for a short while.
func (r *responses[R]) expectNothing(d time.Duration) {
	r.t.Helper()
	select {
	case resp := <-r.ch:
		r.t.Fatalf("unexpected %s response", resp.GetTypeUrl())
	case <-time.After(d):
	}
}

// adsClient is a raw state-of-the-world ADS client speaking the protocol by
// hand, as Envoy does.
type adsClient struct {
	*responses[*discovery.DiscoveryResponse]
	t      testing.TB
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *corev3.Node
}

func dialADS(t testing.TB, addr, nodeID, cluster string) *adsClient {
	t.Helper()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(dialConn(t, addr)).StreamAggregatedResources(t.Context())
	if err != nil {
		t.Fatalf("open ADS stream: %v", err)
	}
	return &adsClient{responses: receive(t, stream.Recv), t: t, stream: stream, node: &corev3.Node{Id: nodeID, Cluster: cluster}}
}

// dialConn opens a client connection closed at the end of the test.
func dialConn(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (c *adsClient) send(req *discovery.DiscoveryRequest) {
	c.t.Helper()
	req.Node = c.node
	if err := c.stream.Send(req); err != nil {
		c.t.Fatalf("send %s: %v", req.TypeUrl, err)
	}
}

// decode unmarshals and validates every resource of a response.
func decode(t testing.TB, resp *discovery.DiscoveryResponse) []proto.Message {
	t.Helper()
	var out []proto.Message
	for _, a := range resp.Resources {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("unmarshal %s: %v", a.TypeUrl, err)
		}
		if err := m.(validator).ValidateAll(); err != nil {
			t.Fatalf("%s fails validation: %v", a.TypeUrl, err)
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
