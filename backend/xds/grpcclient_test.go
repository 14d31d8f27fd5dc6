package xds

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/xds"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/routedeck/routedeck/backend/translate"
)

// identityServer answers UnaryCall with its own name, so a test can see
// which backend an RPC reached.
type identityServer struct {
	testgrpc.UnimplementedTestServiceServer
	name string
}

func (s *identityServer) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return &testgrpc.SimpleResponse{ServerId: s.name}, nil
}

func startIdentityServer(t *testing.T, name string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(g, &identityServer{name: name})
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// grpcResources is what a proxyless gRPC client of target xds:///echo needs:
// RPCs with "x-canary: true" go to b; the rest are split by weight.
func grpcResources(t *testing.T, addrA, addrB string, weights map[string]uint32) *translate.Resources {
	t.Helper()
	l, err := APIListener("echo", "echo-routes")
	if err != nil {
		t.Fatal(err)
	}
	split := &routev3.WeightedCluster{}
	for _, name := range []string{"a", "b"} {
		if w, ok := weights[name]; ok {
			split.Clusters = append(split.Clusters, &routev3.WeightedCluster_ClusterWeight{Name: name, Weight: wrapperspb.UInt32(w)})
		}
	}
	rc := &routev3.RouteConfiguration{
		Name: "echo-routes",
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    "echo",
			Domains: []string{"*"},
			Routes: []*routev3.Route{
				{
					Name: "rule/canary/0",
					Match: &routev3.RouteMatch{
						PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
						Headers: []*routev3.HeaderMatcher{{
							Name: "x-canary",
							HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
								MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "true"},
							}},
						}},
					},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "b"}}},
				},
				{
					Name:   "rule/split/0",
					Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_WeightedClusters{WeightedClusters: split}}},
				},
			},
		}},
	}
	res := &translate.Resources{Listeners: []*listenerv3.Listener{l}, Routes: []*routev3.RouteConfiguration{rc}}
	for name, addr := range map[string]string{"a": addrA, "b": addrB} {
		res.Clusters = append(res.Clusters, edsCluster(name))
		la := loadAssignment(name, addr)
		// gRPC ignores localities without a weight.
		la.Endpoints[0].Locality = &corev3.Locality{Region: "local", Zone: name}
		la.Endpoints[0].LoadBalancingWeight = wrapperspb.UInt32(1)
		res.Endpoints = append(res.Endpoints, la)
	}
	sortResources(res)
	return res
}

// withProbe adds to res a route that sends RPCs marked "x-probe: true" to
// cluster probe at addr. An RPC reaching it shows that the client routes
// with a configuration holding the route, and so with no older one: the
// channel swaps its whole route table at once.
func withProbe(t *testing.T, res *translate.Resources, addr string) *translate.Resources {
	t.Helper()
	vh := res.Routes[0].VirtualHosts[0]
	probe := &routev3.Route{
		Name: "rule/probe/0",
		Match: &routev3.RouteMatch{
			PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"},
			Headers: []*routev3.HeaderMatcher{{
				Name: "x-probe",
				HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
					MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "true"},
				}},
			}},
		},
		Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "probe"}}},
	}
	vh.Routes = append([]*routev3.Route{probe}, vh.Routes...)
	res.Clusters = append(res.Clusters, edsCluster("probe"))
	la := loadAssignment("probe", addr)
	la.Endpoints[0].Locality = &corev3.Locality{Region: "local", Zone: "probe"}
	la.Endpoints[0].LoadBalancingWeight = wrapperspb.UInt32(1)
	res.Endpoints = append(res.Endpoints, la)
	return res
}

func sortResources(res *translate.Resources) {
	if len(res.Clusters) == 2 && res.Clusters[0].Name > res.Clusters[1].Name {
		res.Clusters[0], res.Clusters[1] = res.Clusters[1], res.Clusters[0]
	}
	if len(res.Endpoints) == 2 && res.Endpoints[0].ClusterName > res.Endpoints[1].ClusterName {
		res.Endpoints[0], res.Endpoints[1] = res.Endpoints[1], res.Endpoints[0]
	}
}

// TestGRPCProxylessClient points grpc-go's own xDS client at the server: it
// must accept the resources, route by header and by weight, and follow a
// re-publish on the same ADS stream.
func TestGRPCProxylessClient(t *testing.T) {
	s, adsAddr := startServer(t)
	addrA := startIdentityServer(t, "A")
	addrB := startIdentityServer(t, "B")
	addrProbe := startIdentityServer(t, "probe")
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", grpcResources(t, addrA, addrB, map[string]uint32{"a": 50, "b": 50}), "1"); err != nil {
		t.Fatal(err)
	}

	bootstrap, err := json.Marshal(map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      adsAddr,
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{"id": "grpc-client-1", "cluster": "public"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := xds.NewXDSResolverWithConfigForTesting(bootstrap)
	if err != nil {
		t.Fatalf("xds resolver: %v", err)
	}
	conn, err := grpc.NewClient("xds:///echo", grpc.WithResolvers(resolver), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := testgrpc.NewTestServiceClient(conn)

	call := func(canary bool) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if canary {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-canary", "true")
		}
		resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatalf("RPC: %v", err)
		}
		return resp.ServerId
	}
	count := func(n int, canary bool) map[string]int {
		got := map[string]int{}
		for range n {
			got[call(canary)]++
		}
		return got
	}

	if got := count(20, true); got["B"] != 20 {
		t.Fatalf("canary RPCs landed %v, want all 20 on B", got)
	}
	// 50/50 over 200 RPCs: both sides get some unless something is wrong
	// (the chance of a side getting none is 2^-199).
	if got := count(200, false); got["A"] == 0 || got["B"] == 0 || got["A"]+got["B"] != 200 {
		t.Fatalf("split RPCs landed %v, want both A and B", got)
	}
	waitFor(t, "gRPC client ACKs", func() bool {
		ps := s.Proxies("public")
		return len(ps) == 1 && ps[0].Acked[resource.RouteType] == "1" && ps[0].Acked[resource.EndpointType] == "1"
	})
	before := s.Proxies("public")[0]

	// Re-publish: everything not marked canary now goes to A.
	if err := s.SetGateway(ctx, "public", withProbe(t, grpcResources(t, addrA, addrB, map[string]uint32{"a": 100}), addrProbe), "2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "RDS v2 ACK", func() bool { return s.Proxies("public")[0].Acked[resource.RouteType] == "2" })
	// grpc-go ACKs a response once it has parsed it and handed it to its
	// resolver, which builds the channel's new route table later, on a
	// goroutine of its own: the ACK does not mean RPCs follow version 2
	// yet. A probe RPC reaching the route only version 2 has does. (The
	// channel takes the new route table before its balancer knows the new
	// cluster, so a probe may fail meanwhile.)
	waitFor(t, "an RPC routed by version 2", func() bool {
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-probe", "true"), 10*time.Second)
		defer cancel()
		resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true))
		return err == nil && resp.ServerId == "probe"
	})
	if got := count(50, false); got["A"] != 50 {
		t.Fatalf("after re-publish RPCs landed %v, want all 50 on A", got)
	}
	if got := count(10, true); got["B"] != 10 {
		t.Fatalf("after re-publish canary RPCs landed %v, want all on B", got)
	}
	after := s.Proxies("public")
	if len(after) != 1 || !after[0].Connected || !after[0].ConnectedSince.Equal(before.ConnectedSince) {
		t.Fatalf("client reconnected: before %v, after %+v", before.ConnectedSince, after)
	}
	if after[0].Nack != nil {
		t.Fatalf("gRPC client rejected configuration: %+v", after[0].Nack)
	}
}
