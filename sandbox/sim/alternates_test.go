package sim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

// TestDataPlaneMovesToAnotherADSHost: with several management servers
// (the hosts of a bootstrap's ADS cluster), the data plane keeps its
// configuration and keeps answering when its server goes away, and takes
// the next one's.
func TestDataPlaneMovesToAnotherADSHost(t *testing.T) {
	web := mock(t, "web", upstream.Profile{})
	snapshot := func(version string) *cache.Snapshot {
		snap, err := cache.NewSnapshot(version, map[resource.Type][]types.Resource{
			resource.ListenerType: {listener(t)}, resource.RouteType: {routeConfig(prefixRoute("all", "/", "web"))},
			resource.ClusterType: {edsCluster("web", clusterv3.Cluster_ROUND_ROBIN)}, resource.EndpointType: {loadAssignment("web", web)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	serve := func(version string) (string, *grpc.Server) {
		c := cache.NewSnapshotCache(true, cache.IDHash{}, nil)
		if err := c.SetSnapshot(context.Background(), "n1", snapshot(version)); err != nil {
			t.Fatal(err)
		}
		g := grpc.NewServer()
		discovery.RegisterAggregatedDiscoveryServiceServer(g, serverv3.NewServer(context.Background(), c, nil))
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = g.Serve(lis) }()
		t.Cleanup(g.Stop)
		return lis.Addr().String(), g
	}
	a, ga := serve("1")
	b, _ := serve("2")
	dp, err := Start(DataPlaneOptions{ADS: a, ADSAlternates: []string{b}, NodeID: "n1", Cluster: "c",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// Routed once the cluster's endpoints are in too.
	st, err := dp.WaitFor(ctx, func(st Status) bool {
		return st.Versions[TypeRoute] == "1" && st.Versions[TypeEndpoint] == "1" && st.Ready["http"] && len(st.WarmingClusters) == 0
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func() {
		t.Helper()
		h := &harness{dp: dp}
		if resp, _ := h.do(t, "GET", "http://x/p"); resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	get()
	ga.Stop()
	get() // the configuration outlives the stream
	if _, err := dp.WaitFor(ctx, func(st Status) bool { return st.Versions[TypeRoute] == "2" && st.Versions[TypeEndpoint] == "2" }); err != nil {
		t.Fatalf("never moved to %s: %v (status %+v)", b, err, dp.Status())
	}
	get()
	if got := dp.Status().Listeners["http"]; got != st.Listeners["http"] {
		t.Fatalf("the listener moved from %s to %s", st.Listeners["http"], got)
	}
}
