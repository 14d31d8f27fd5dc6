package xds

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/status"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
)

var baseRoutes = []testRoute{
	{rule: "static-assets", prefix: "/static", cluster: "web-v1"},
	{rule: "api", prefix: "/api", cluster: "api"},
}

var baseEndpoints = map[string][]string{
	"web-v1": {"10.0.0.11:8080"},
	"api":    {"10.0.0.21:9090"},
}

func TestSetGatewayRejectsInvalidAndKeepsPrevious(t *testing.T) {
	tests := map[string]struct {
		mutate func(*translate.Resources)
		want   []string // substrings of field paths or messages, all required
	}{
		"route configuration missing": {
			mutate: func(r *translate.Resources) { r.Routes = nil },
			want:   []string{`routes["http"]: referenced by a listener but missing`},
		},
		"endpoints missing and extra": {
			mutate: func(r *translate.Resources) {
				r.Endpoints = []*endpointv3.ClusterLoadAssignment{loadAssignment("ghost", "10.0.0.1:80"), r.Endpoints[1]}
			},
			want: []string{`endpoints["ghost"]: not referenced`, `endpoints["api"]: referenced by a cluster but missing`},
		},
		"invalid cluster and listener together": {
			mutate: func(r *translate.Resources) {
				r.Clusters[0].ConnectTimeout.Seconds = -1
				r.Listeners[0].Name = ""
			},
			want: []string{`clusters["api"]`, "ConnectTimeout", "listeners[0]: resource has no name"},
		},
		"duplicate names": {
			mutate: func(r *translate.Resources) { r.Clusters = append(r.Clusters, r.Clusters[0]) },
			want:   []string{`duplicate resource name "api"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(Options{Logger: slog.New(slog.DiscardHandler)})
			ctx := context.Background()
			if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
				t.Fatalf("valid snapshot rejected: %v", err)
			}
			bad := fixture(t, baseRoutes, baseEndpoints)
			tc.mutate(bad)
			err := s.SetGateway(ctx, "public", bad, "2")
			if err == nil {
				t.Fatal("invalid snapshot accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if name != "duplicate names" && model.ErrorCode(err) != model.EINVALID {
				t.Errorf("code = %q, want %q", model.ErrorCode(err), model.EINVALID)
			}
			if got := s.Version("public"); got != "1" {
				t.Errorf("version after rejected set = %q, want previous %q", got, "1")
			}
		})
	}
}

func TestSetResourcesUnsupportedType(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	err := s.SetResources(context.Background(), "public", map[string][]types.Resource{resource.RuntimeType: nil}, "1")
	if err == nil || !strings.Contains(err.Error(), "unsupported resource type") {
		t.Fatalf("err = %v, want unsupported resource type", err)
	}
	if len(s.Gateways()) != 0 {
		t.Fatalf("gateways = %v, want none", s.Gateways())
	}
}

// TestADSStateOfTheWorld drives a full Envoy-style exchange on a raw ADS
// stream: initial fetch of all four types, ACKs, a route-only publish that
// pushes RDS alone, and a NACK attributed to the rule Envoy names.
func TestADSStateOfTheWorld(t *testing.T) {
	s, addr := startServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	c := dialADS(t, addr, "envoy-1", "public")

	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	cds := c.expect(resource.ClusterType)
	if cds.VersionInfo != "1" || len(decode(t, cds)) != 2 {
		t.Fatalf("CDS version %q with %d clusters, want 1 with 2", cds.VersionInfo, len(cds.Resources))
	}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: []string{"api", "web-v1"}})
	eds := c.expect(resource.EndpointType)
	if got := len(decode(t, eds)); got != 2 {
		t.Fatalf("EDS has %d assignments, want 2", got)
	}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType, VersionInfo: cds.VersionInfo, ResponseNonce: cds.Nonce})
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType})
	lds := c.expect(resource.ListenerType)
	if l := decode(t, lds); len(l) != 1 || l[0].(*listenerv3.Listener).Name != "http" {
		t.Fatalf("LDS = %v, want listener http", l)
	}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType, VersionInfo: eds.VersionInfo, ResponseNonce: eds.Nonce, ResourceNames: []string{"api", "web-v1"}})
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, ResourceNames: []string{"http"}})
	rds := c.expect(resource.RouteType)
	rc := decode(t, rds)[0].(*routev3.RouteConfiguration)
	if got := rc.VirtualHosts[0].Routes[0].Name; got != "rule/static-assets/0" {
		t.Fatalf("first route = %q", got)
	}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType, VersionInfo: lds.VersionInfo, ResponseNonce: lds.Nonce})
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, VersionInfo: rds.VersionInfo, ResponseNonce: rds.Nonce, ResourceNames: []string{"http"}})

	allAcked := map[string]string{resource.ClusterType: "1", resource.EndpointType: "1", resource.ListenerType: "1", resource.RouteType: "1"}
	waitFor(t, "4 ACKs", func() bool { return ackedEqual(s.Proxies("public"), allAcked) })
	first := s.Proxies("public")[0]
	if !first.Connected || first.Node != "envoy-1" || first.Nack != nil {
		t.Fatalf("proxy = %+v", first)
	}
	if !s.InSync("public", first.Acked) {
		t.Errorf("a proxy that acknowledged every type of version 1 is not in sync")
	}
	if s.InSync("other", first.Acked) {
		t.Errorf("in sync with a gateway that has no snapshot")
	}

	// A publish that only changes a route's path pushes RDS alone: every
	// other type keeps version 1.
	changed := []testRoute{{rule: "static-assets", prefix: "/assets", cluster: "web-v1"}, baseRoutes[1]}
	if err := s.SetGateway(ctx, "public", fixture(t, changed, baseEndpoints), "2"); err != nil {
		t.Fatal(err)
	}
	rds2 := c.expect(resource.RouteType)
	if rds2.VersionInfo != "2" {
		t.Fatalf("RDS version %q, want 2", rds2.VersionInfo)
	}
	c.expectNothing(100 * time.Millisecond)
	if s.InSync("public", s.Proxies("public")[0].Acked) {
		t.Errorf("in sync before the proxy acknowledged RDS version 2")
	}
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.RouteType, VersionInfo: "2", ResponseNonce: rds2.Nonce, ResourceNames: []string{"http"}})
	allAcked[resource.RouteType] = "2"
	waitFor(t, "RDS v2 ACK", func() bool { return ackedEqual(s.Proxies("public"), allAcked) })
	// The other types kept version 1, and that is what they are served at.
	if !s.InSync("public", s.Proxies("public")[0].Acked) {
		t.Errorf("not in sync after RDS 2 with the unchanged types at 1: %v", s.Proxies("public")[0].Acked)
	}

	// Version 3 is rejected; Envoy keeps version 2 and says why.
	bad := []testRoute{{rule: "static-assets", prefix: "/s", cluster: "web-v1"}, baseRoutes[1]}
	if err := s.SetGateway(ctx, "public", fixture(t, bad, baseEndpoints), "3"); err != nil {
		t.Fatal(err)
	}
	rds3 := c.expect(resource.RouteType)
	c.send(&discovery.DiscoveryRequest{
		TypeUrl: resource.RouteType, VersionInfo: "2", ResponseNonce: rds3.Nonce, ResourceNames: []string{"http"},
		ErrorDetail: &status.Status{Code: 3, Message: "route rule/static-assets/0: invalid path prefix"},
	})
	waitFor(t, "NACK", func() bool { return s.Proxies("public")[0].Nack != nil })
	c.expectNothing(100 * time.Millisecond) // no resend of the rejected version
	p := s.Proxies("public")[0]
	want := Nack{TypeURL: resource.RouteType, Version: "3", Error: "route rule/static-assets/0: invalid path prefix", Rule: "static-assets"}
	got := *p.Nack
	got.At = time.Time{}
	if got != want {
		t.Fatalf("nack = %+v, want %+v", got, want)
	}
	if p.Acked[resource.RouteType] != "2" {
		t.Errorf("RDS acked = %q, want 2 (kept after NACK)", p.Acked[resource.RouteType])
	}
	if s.InSync("public", p.Acked) {
		t.Errorf("a proxy that refused version 3 is in sync")
	}
	if !p.ConnectedSince.Equal(first.ConnectedSince) {
		t.Errorf("connectedSince moved from %v to %v on the same stream", first.ConnectedSince, p.ConnectedSince)
	}

	// The JSON shape is the HTTP API's.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"node":"envoy-1"`, `"connected":true`, `"acked":{`, `"nack":{"typeUrl":`, `"rule":"static-assets"`, `"connectedSince":`, `"lastSeen":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}

	m := s.Metrics()
	if got := testutil.ToFloat64(m.nacks.WithLabelValues(resource.RouteType)); got != 1 {
		t.Errorf("nacks{RDS} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.acks.WithLabelValues(resource.RouteType)); got != 2 {
		t.Errorf("acks{RDS} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.pushes.WithLabelValues(resource.RouteType)); got != 3 {
		t.Errorf("pushes{RDS} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.connected); got != 1 {
		t.Errorf("connected = %v, want 1", got)
	}

	c.stream.CloseSend()
	waitFor(t, "disconnect", func() bool { return !s.Proxies("public")[0].Connected })
	if got := testutil.ToFloat64(m.connected); got != 0 {
		t.Errorf("connected after close = %v, want 0", got)
	}
}

func ackedEqual(ps []ProxyStatus, want map[string]string) bool {
	if len(ps) != 1 || len(ps[0].Acked) != len(want) {
		return false
	}
	for k, v := range want {
		if ps[0].Acked[k] != v {
			return false
		}
	}
	return true
}

// TestSandboxKeying: proxies get the snapshot of their own node.cluster,
// so a sandbox data plane never sees production configuration.
func TestSandboxKeying(t *testing.T) {
	s, addr := startServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "7"); err != nil {
		t.Fatal(err)
	}
	sandboxEndpoints := map[string][]string{"web-v1": {"127.0.0.1:40001"}, "api": {"127.0.0.1:40002"}}
	if err := s.SetGateway(ctx, "sandbox/public", fixture(t, baseRoutes, sandboxEndpoints), "draft"); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		cluster, wantVersion, wantAddr string
	}{
		"production": {"public", "7", "10.0.0.21"},
		"sandbox":    {"sandbox/public", "draft", "127.0.0.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := dialADS(t, addr, "node-"+name, tc.cluster)
			c.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: []string{"api"}})
			eds := c.expect(resource.EndpointType)
			la := decode(t, eds)[0].(*endpointv3.ClusterLoadAssignment)
			got := la.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetSocketAddress().Address
			if eds.VersionInfo != tc.wantVersion || got != tc.wantAddr {
				t.Fatalf("got version %q address %q, want %q %q", eds.VersionInfo, got, tc.wantVersion, tc.wantAddr)
			}
			waitFor(t, "proxy listed", func() bool { return len(s.Proxies(tc.cluster)) == 1 })
		})
	}
	if got := s.Gateways(); strings.Join(got, ",") != "public,sandbox/public" {
		t.Fatalf("gateways = %v", got)
	}
}

// TestADSWaitsForSnapshot: a proxy that connects before its gateway is
// published gets the configuration as soon as it is.
func TestADSWaitsForSnapshot(t *testing.T) {
	s, addr := startServer(t)
	c := dialADS(t, addr, "early", "public")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	c.expectNothing(50 * time.Millisecond)
	if err := s.SetGateway(context.Background(), "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	if got := c.expect(resource.ClusterType).VersionInfo; got != "1" {
		t.Fatalf("version %q, want 1", got)
	}
}

// TestDeleteGateway: a deleted snapshot is gone from the list, a connected
// proxy is sent nothing, one that connects later waits, and setting the
// gateway again reaches both.
func TestDeleteGateway(t *testing.T) {
	s, addr := startServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "sandbox/public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	old := dialADS(t, addr, "old", "sandbox/public")
	old.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	cds := old.expect(resource.ClusterType)
	old.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType, VersionInfo: cds.VersionInfo, ResponseNonce: cds.Nonce})

	s.DeleteGateway("sandbox/public")
	s.DeleteGateway("never-set") // not an error
	if got := s.Gateways(); len(got) != 0 {
		t.Fatalf("gateways after delete = %v", got)
	}
	if s.InSync("sandbox/public", map[string]string{resource.ClusterType: "1", resource.ListenerType: "1"}) {
		t.Errorf("in sync with a deleted snapshot")
	}
	old.expectNothing(50 * time.Millisecond)
	late := dialADS(t, addr, "late", "sandbox/public")
	late.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	late.expectNothing(50 * time.Millisecond)

	changed := []testRoute{{rule: "static-assets", prefix: "/assets", cluster: "web-v1"}, baseRoutes[1]}
	if err := s.SetGateway(ctx, "sandbox/public", fixture(t, changed, map[string][]string{"web-v1": {"10.0.0.9:80"}, "api": {"10.0.0.8:80"}}), "2"); err != nil {
		t.Fatal(err)
	}
	if got := late.expect(resource.ClusterType).VersionInfo; got != "2" {
		t.Errorf("late proxy got version %q, want 2", got)
	}
	if got := old.expect(resource.ClusterType).VersionInfo; got != "2" {
		t.Errorf("old proxy got version %q, want 2", got)
	}
}

// TestDeltaADS covers incremental xDS: the initial wildcard response, an
// endpoints-only update carrying just the changed assignment, and removal.
func TestDeltaADS(t *testing.T) {
	s, addr := startServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	c := dialDelta(t, addr, "envoy-delta", "public")

	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType})
	cds := c.expect(resource.ClusterType)
	if names := deltaNames(cds); names != "api,web-v1" {
		t.Fatalf("CDS resources %s", names)
	}
	for _, r := range cds.Resources {
		m, err := r.Resource.UnmarshalNew()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.(*clusterv3.Cluster).ValidateAll(); err != nil {
			t.Fatal(err)
		}
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, ResponseNonce: cds.Nonce})
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNamesSubscribe: []string{"api", "web-v1"}})
	eds := c.expect(resource.EndpointType)
	if names := deltaNames(eds); names != "api,web-v1" {
		t.Fatalf("EDS resources %s", names)
	}
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: eds.Nonce})
	waitFor(t, "delta ACKs", func() bool {
		ps := s.Proxies("public")
		return len(ps) == 1 && ps[0].Acked[resource.ClusterType] == "1" && ps[0].Acked[resource.EndpointType] == "1"
	})

	// Discovery moves web-v1: only that assignment is sent, clusters stay.
	moved := fixture(t, baseRoutes, map[string][]string{"web-v1": {"10.0.0.99:8080"}, "api": baseEndpoints["api"]}).Endpoints
	if err := s.SetEndpoints(ctx, "public", moved); err != nil {
		t.Fatal(err)
	}
	eds2 := c.expect(resource.EndpointType)
	if names := deltaNames(eds2); names != "web-v1" {
		t.Fatalf("EDS update resources %s, want web-v1 only", names)
	}
	if !strings.HasPrefix(eds2.SystemVersionInfo, "1/eds-") {
		t.Errorf("EDS version %q, want 1/eds-...", eds2.SystemVersionInfo)
	}
	c.expectNothing(100 * time.Millisecond)
	c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.EndpointType, ResponseNonce: eds2.Nonce,
		ErrorDetail: &status.Status{Code: 3, Message: "malformed endpoint"}})
	waitFor(t, "delta NACK", func() bool { return s.Proxies("public")[0].Nack != nil })
	if n := s.Proxies("public")[0].Nack; n.Version != eds2.SystemVersionInfo || n.TypeURL != resource.EndpointType || n.Rule != "" {
		t.Errorf("nack = %+v", n)
	}

	// Removing the api rule removes its cluster.
	if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes[:1], baseEndpoints), "2"); err != nil {
		t.Fatal(err)
	}
	cds2 := c.expect(resource.ClusterType)
	if len(cds2.Resources) != 0 || strings.Join(cds2.RemovedResources, ",") != "api" {
		t.Fatalf("CDS update: resources %s removed %v, want none and [api]", deltaNames(cds2), cds2.RemovedResources)
	}
}

// TestSetEndpointsValidation: endpoint updates must match the clusters.
func TestSetEndpointsValidation(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if err := s.SetEndpoints(ctx, "public", nil); model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("no snapshot: err = %v, want not_found", err)
	}
	if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	err := s.SetEndpoints(ctx, "public", []*endpointv3.ClusterLoadAssignment{loadAssignment("api", "10.0.0.1:80")})
	if err == nil || !strings.Contains(err.Error(), `endpoints["web-v1"]: referenced by a cluster but missing`) {
		t.Fatalf("err = %v", err)
	}
}

func deltaNames(r *discovery.DeltaDiscoveryResponse) string {
	var names []string
	for _, res := range r.Resources {
		names = append(names, res.Name)
	}
	return strings.Join(names, ",")
}

// deltaClient is a raw incremental ADS client.
type deltaClient struct {
	*responses[*discovery.DeltaDiscoveryResponse]
	t      testing.TB
	stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	node   *corev3.Node
}

func dialDelta(t testing.TB, addr, nodeID, cluster string) *deltaClient {
	t.Helper()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(dialConn(t, addr)).DeltaAggregatedResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &deltaClient{responses: receive(t, stream.Recv), t: t, stream: stream, node: &corev3.Node{Id: nodeID, Cluster: cluster}}
}

// send sets the node on the first request only, as Envoy does.
func (d *deltaClient) send(req *discovery.DeltaDiscoveryRequest) {
	d.t.Helper()
	req.Node, d.node = d.node, nil
	if err := d.stream.Send(req); err != nil {
		d.t.Fatal(err)
	}
}
func TestMetricsRegister(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Metrics().Collectors()...)
	if err := s.SetGateway(context.Background(), "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	s.Metrics().ObserveTranslation(3 * time.Millisecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			counts[f.GetName()] += m.GetHistogram().GetSampleCount()
		}
	}
	for _, name := range []string{"routedeck_xds_snapshot_set_duration_seconds", "routedeck_xds_translation_duration_seconds"} {
		if counts[name] != 1 {
			t.Errorf("%s observed %d times, want 1", name, counts[name])
		}
	}
	if _, ok := counts["routedeck_xds_connected_proxies"]; !ok {
		t.Error("connected_proxies gauge not exported")
	}
}

// TestSotwSendsWhatChanged: state-of-the-world responses of the types
// watched by name carry only the resources the stream lacks, at the new
// version; a new stream gets all it subscribes to, and a NACKed change is
// not sent again.
func TestSotwSendsWhatChanged(t *testing.T) {
	s, addr := startServer(t)
	ctx := context.Background()
	if err := s.SetGateway(ctx, "public", fixture(t, baseRoutes, baseEndpoints), "1"); err != nil {
		t.Fatal(err)
	}
	names := []string{"api", "web-v1"}
	subscribe := func(c *adsClient) *discovery.DiscoveryResponse {
		c.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType, ResourceNames: names})
		return c.expect(resource.EndpointType)
	}
	ack := func(c *adsClient, resp *discovery.DiscoveryResponse) {
		c.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce, ResourceNames: names})
	}
	clusters := func(resp *discovery.DiscoveryResponse) string {
		var out []string
		for _, m := range decode(t, resp) {
			out = append(out, m.(*endpointv3.ClusterLoadAssignment).ClusterName)
		}
		return strings.Join(out, ",")
	}
	c := dialADS(t, addr, "envoy-1", "public")
	eds := subscribe(c)
	if got := clusters(eds); eds.VersionInfo != "1" || got != "api,web-v1" {
		t.Fatalf("first EDS: version %q with %s, want 1 with api,web-v1", eds.VersionInfo, got)
	}
	ack(c, eds)

	setAPI := func(addr string) {
		t.Helper()
		err := s.SetEndpoints(ctx, "public", []*endpointv3.ClusterLoadAssignment{
			loadAssignment("api", addr), loadAssignment("web-v1", baseEndpoints["web-v1"]...)})
		if err != nil {
			t.Fatal(err)
		}
	}
	setAPI("10.0.0.22:9090")
	eds2 := c.expect(resource.EndpointType)
	if got := clusters(eds2); eds2.VersionInfo == eds.VersionInfo || got != "api" {
		t.Fatalf("after api's endpoints moved: version %q with %s, want a new version with api alone", eds2.VersionInfo, got)
	}
	ack(c, eds2)
	c.expectNothing(100 * time.Millisecond)
	waitFor(t, "EDS ACK", func() bool { return s.Acked("public", resource.EndpointType, eds2.VersionInfo) == 1 })

	// A stream that starts now gets everything, whatever version it says
	// it has.
	fresh := dialADS(t, addr, "envoy-2", "public")
	fresh.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType,
		VersionInfo: eds2.VersionInfo, ResourceNames: names})
	if resp := fresh.expect(resource.EndpointType); clusters(resp) != "api,web-v1" {
		t.Fatalf("new stream got %s, want api,web-v1", clusters(resp))
	}

	// A refused change is not sent again; the next one is.
	setAPI("10.0.0.23:9090")
	eds3 := c.expect(resource.EndpointType)
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.EndpointType, VersionInfo: eds2.VersionInfo, ResponseNonce: eds3.Nonce,
		ResourceNames: names, ErrorDetail: &status.Status{Code: 3, Message: "no"}})
	c.expectNothing(100 * time.Millisecond)
	setAPI("10.0.0.24:9090")
	eds4 := c.expect(resource.EndpointType)
	if clusters(eds4) != "api" {
		t.Fatalf("after a NACK, the next change sent %s, want api", clusters(eds4))
	}

	// A stream that subscribes to one more name gets that one alone.
	sub := dialADS(t, addr, "envoy-3", "public")
	names = []string{"api"}
	one := subscribe(sub)
	ack(sub, one)
	names = []string{"api", "web-v1"}
	ack(sub, one)
	both := sub.expect(resource.EndpointType)
	if clusters(both) != "web-v1" || both.VersionInfo != eds4.VersionInfo {
		t.Fatalf("after subscribing to web-v1 too: %s at %q, want web-v1 at %q", clusters(both), both.VersionInfo, eds4.VersionInfo)
	}

	// A name dropped and asked for again is sent again: the proxy
	// forgot it when it unsubscribed.
	names = []string{"web-v1"}
	ack(sub, both)
	sub.expectNothing(100 * time.Millisecond)
	names = []string{"api", "web-v1"}
	ack(sub, both)
	if resp := sub.expect(resource.EndpointType); clusters(resp) != "api" {
		t.Fatalf("after subscribing to api again: %s, want api", clusters(resp))
	}
}
