package xds

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/translate"
)

// startVHDSServer is startServer with VHDS on.
func startVHDSServer(t testing.TB) (*Server, string) {
	t.Helper()
	return serveOptions(t, Options{Logger: slog.New(slog.DiscardHandler), VHDS: true})
}

// twoHosts is the fixture with its virtual host split in two: a.example
// with the given routes, and b.example sending everything to web-v1.
func twoHosts(t testing.TB, routes []testRoute, withB bool) *translate.Resources {
	res := fixture(t, routes, baseEndpoints)
	a := res.Routes[0].VirtualHosts[0]
	a.Name, a.Domains = "a", []string{"a.example"}
	if withB {
		res.Routes[0].VirtualHosts = append(res.Routes[0].VirtualHosts, &routev3.VirtualHost{
			Name: "b", Domains: []string{"b.example"},
			Routes: []*routev3.Route{{
				Name:   "rule/b/0",
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: "web-v1"}}},
			}},
		})
	}
	return res
}

func deltaVirtualHosts(t *testing.T, r *discovery.DeltaDiscoveryResponse) map[string]*routev3.VirtualHost {
	t.Helper()
	out := map[string]*routev3.VirtualHost{}
	for _, res := range r.Resources {
		vh := &routev3.VirtualHost{}
		if err := res.Resource.UnmarshalTo(vh); err != nil {
			t.Fatal(err)
		}
		if vh.Name != res.Name {
			t.Errorf("virtual host %q sent as resource %q: Envoy keys it by its own name and removes it by the resource's", vh.Name, res.Name)
		}
		out[res.Name] = vh
	}
	return out
}

// TestVHDSDelta: with VHDS on, a delta stream receives the route
// configuration with a vhds config source and no virtual hosts, then
// every virtual host on its wildcard VHDS subscription; a one-route edit
// sends the one virtual host it changed, a removed host is named in
// removed_resources, a NACK is recorded, and a state-of-the-world stream
// of the same gateway still gets the whole route configuration.
func TestVHDSDelta(t *testing.T) {
	s, addr := startVHDSServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", twoHosts(t, baseRoutes, true), "1"); err != nil {
		t.Fatal(err)
	}
	c := dialDelta(t, addr, "envoy-vhds", "public")
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"http"}})
	rds := c.expect(resource.RouteType)
	if len(rds.Resources) != 1 {
		t.Fatalf("RDS resources %s", deltaNames(rds))
	}
	rc := &routev3.RouteConfiguration{}
	if err := rds.Resources[0].Resource.UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	if len(rc.VirtualHosts) != 0 || rc.GetVhds().GetConfigSource().GetAds() == nil {
		t.Fatalf("route configuration for delta: %v", rc)
	}
	if err := rc.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResponseNonce: rds.Nonce})

	// Envoy's VHDS subscription names nothing: the server sends all.
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType})
	vhds := c.expect(resource.VirtualHostType)
	hosts := deltaVirtualHosts(t, vhds)
	if names := deltaNames(vhds); names != "http/a,http/b" {
		t.Fatalf("VHDS resources %s", names)
	}
	if got := hosts["http/b"].GetDomains(); len(got) != 1 || got[0] != "b.example" {
		t.Errorf("http/b domains %v", got)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType, ResponseNonce: vhds.Nonce})
	waitFor(t, "VHDS ACK", func() bool {
		ps := s.Proxies("public")
		return len(ps) == 1 && ps[0].Acked[resource.VirtualHostType] == "1" && ps[0].Acked[resource.RouteType] == "1"
	})

	// One route of a.example changes: a.example alone is sent, and the
	// route configuration not at all.
	edited := []testRoute{baseRoutes[0], {rule: "api", prefix: "/api/v2", cluster: "api"}}
	if err := s.SetGateway(ctx, "public", twoHosts(t, edited, true), "2"); err != nil {
		t.Fatal(err)
	}
	up := c.expect(resource.VirtualHostType)
	if names := deltaNames(up); names != "http/a" || len(up.RemovedResources) != 0 {
		t.Fatalf("edit sent %s, removed %v; want http/a only", names, up.RemovedResources)
	}
	if p := deltaVirtualHosts(t, up)["http/a"].Routes[1].GetMatch().GetPrefix(); p != "/api/v2" {
		t.Errorf("edited prefix %q", p)
	}
	c.expectNothing(100 * time.Millisecond)
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType, ResponseNonce: up.Nonce})
	// The stream took no listeners, clusters or endpoints; count them as
	// held, to see that routes count as held by VHDS.
	withOthers := func(acked map[string]string) map[string]string {
		acked = maps.Clone(acked)
		for _, typeURL := range []string{resource.ListenerType, resource.ClusterType, resource.EndpointType} {
			acked[typeURL] = s.TypeVersion("public", typeURL)
		}
		return acked
	}
	waitFor(t, "in sync after the edit", func() bool {
		ps := s.Proxies("public")
		return len(ps) == 1 && ps[0].Acked[resource.VirtualHostType] == "2" && s.InSync("public", withOthers(ps[0].Acked))
	})
	if acked := s.Proxies("public")[0].Acked; acked[resource.RouteType] != "1" {
		t.Errorf("route configuration acked at %q: the edit should have left it alone", acked[resource.RouteType])
	}

	// b.example goes: its removal names the resource.
	if err := s.SetGateway(ctx, "public", twoHosts(t, edited, false), "3"); err != nil {
		t.Fatal(err)
	}
	rm := c.expect(resource.VirtualHostType)
	if len(rm.Resources) != 0 || strings.Join(rm.RemovedResources, ",") != "http/b" {
		t.Fatalf("removal sent %s, removed %v", deltaNames(rm), rm.RemovedResources)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType, ResponseNonce: rm.Nonce,
		ErrorDetail: &status.Status{Code: 3, Message: "vhost rejected"}})
	waitFor(t, "VHDS NACK", func() bool { return s.Proxies("public")[0].Nack != nil })
	if n := s.Proxies("public")[0].Nack; n.TypeURL != resource.VirtualHostType || n.Version != "3" {
		t.Errorf("nack = %+v", n)
	}
	if s.InSync("public", withOthers(s.Proxies("public")[0].Acked)) {
		t.Error("a proxy that refused the virtual hosts counts as in sync")
	}

	// State of the world is served whole routes, as without VHDS.
	sotw := dialADS(t, addr, "envoy-sotw", "public")
	sotw.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: []string{"http"}})
	full := decode(t, sotw.expect(resource.RouteType))
	if len(full) != 1 {
		t.Fatalf("SotW RDS: %d resources", len(full))
	}
	if frc := full[0].(*routev3.RouteConfiguration); frc.Vhds != nil || len(frc.VirtualHosts) != 1 || frc.VirtualHosts[0].Name != "a" {
		t.Errorf("SotW route configuration: %v", frc)
	}
}

// withSecondListener adds listener "http2" on port 8081 with its own route
// configuration "http2", holding one virtual host c.example.
func withSecondListener(t *testing.T, res *translate.Resources) *translate.Resources {
	t.Helper()
	l := proto.Clone(res.Listeners[0]).(*listenerv3.Listener)
	l.Name, l.Address = "http2", socketAddress("0.0.0.0", 8081)
	hcm := &hcmv3.HttpConnectionManager{}
	if err := l.FilterChains[0].Filters[0].GetTypedConfig().UnmarshalTo(hcm); err != nil {
		t.Fatal(err)
	}
	hcm.GetRds().RouteConfigName = "http2"
	a, err := anypb.New(hcm)
	if err != nil {
		t.Fatal(err)
	}
	l.FilterChains[0].Filters[0].ConfigType = &listenerv3.Filter_TypedConfig{TypedConfig: a}
	res.Listeners = append(res.Listeners, l)
	vh := proto.Clone(res.Routes[0].VirtualHosts[0]).(*routev3.VirtualHost)
	vh.Name, vh.Domains = "c", []string{"c.example"}
	res.Routes = append(res.Routes, &routev3.RouteConfiguration{Name: "http2", VirtualHosts: []*routev3.VirtualHost{vh}})
	return res
}

// TestVHDSLaterRouteConfiguration: Envoy drops a virtual host of a route
// configuration it does not hold yet, so the virtual hosts of a route
// configuration that appears later reach a stream only after the stream
// subscribed to it, and right after its route configuration.
func TestVHDSLaterRouteConfiguration(t *testing.T) {
	s, addr := startVHDSServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", twoHosts(t, baseRoutes, false), "1"); err != nil {
		t.Fatal(err)
	}
	c := dialDelta(t, addr, "envoy-vhds", "public")
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"http"}})
	rds := c.expect(resource.RouteType)
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResponseNonce: rds.Nonce})
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType})
	vhds := c.expect(resource.VirtualHostType)
	if names := deltaNames(vhds); names != "http/a" {
		t.Fatalf("VHDS resources %s", names)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType, ResponseNonce: vhds.Nonce})

	// A second listener with its own route configuration: nothing for
	// it on VHDS until the stream asks for the route configuration.
	if err := s.SetGateway(ctx, "public", withSecondListener(t, twoHosts(t, baseRoutes, false)), "2"); err != nil {
		t.Fatal(err)
	}
	c.expectNothing(100 * time.Millisecond)
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"http2"}})
	rds2 := c.expect(resource.RouteType)
	if names := deltaNames(rds2); names != "http2" {
		t.Fatalf("RDS resources %s", names)
	}
	vhds2 := c.expect(resource.VirtualHostType)
	if names := deltaNames(vhds2); names != "http2/c" {
		t.Fatalf("VHDS resources %s, want http2/c", names)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType, ResponseNonce: vhds2.Nonce})
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResponseNonce: rds2.Nonce})

	// Unsubscribing removes them, so a later subscription sends them again.
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesUnsubscribe: []string{"http2"}})
	gone := c.expect(resource.VirtualHostType)
	if len(gone.Resources) != 0 || strings.Join(gone.RemovedResources, ",") != "http2/c" {
		t.Fatalf("after unsubscribing: resources %s removed %v", deltaNames(gone), gone.RemovedResources)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType, ResponseNonce: gone.Nonce})
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.RouteType, ResourceNamesSubscribe: []string{"http2"}})
	c.expect(resource.RouteType)
	if again := c.expect(resource.VirtualHostType); deltaNames(again) != "http2/c" {
		t.Fatalf("subscribed again: resources %s", deltaNames(again))
	}
}

// TestVHDSVirtualHostNameWithSlash: such a name cannot be told from its
// route configuration's, so the snapshot is refused.
func TestVHDSVirtualHostNameWithSlash(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler), VHDS: true})
	res := twoHosts(t, baseRoutes, false)
	res.Routes[0].VirtualHosts[0].Name = "a/b"
	err := s.SetGateway(context.Background(), "public", res, "1")
	if err == nil || !strings.Contains(err.Error(), `virtual host name "a/b" contains a slash`) {
		t.Fatalf("err = %v", err)
	}
	if s.Version("public") != "" {
		t.Error("refused snapshot served")
	}
}
