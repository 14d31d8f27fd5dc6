package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
)

// TestPublishReachesEnvoy publishes the demo gateway through the API and
// checks that a real ADS client, announcing itself as the gateway, receives
// the listener labelled with the published version; then rolls back.
func TestPublishReachesEnvoy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor)
	post := func(path, body string) string {
		t.Helper()
		code, b := call(auth.RoleEditor, "POST", path, body)
		if code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, code, b)
		}
		return b
	}
	if got := post("/gateways/public/publish", ""); !strings.Contains(got, `"version": 1`) {
		t.Fatalf("publish: %s", got)
	}

	conn := dialADS(t, svc, "public")
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev3.Node{Id: "envoy-1", Cluster: "public"}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.VersionInfo != "1" || len(resp.Resources) == 0 {
		t.Fatalf("ADS answered version %q with %d listeners", resp.VersionInfo, len(resp.Resources))
	}
	// Each publish that changes the listeners is pushed; a rollback is a
	// publish too.
	ack := func(resp *discoveryv3.DiscoveryResponse) {
		t.Helper()
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: node, TypeUrl: resource.ListenerType,
			VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(version string) {
		t.Helper()
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.VersionInfo != version {
			t.Fatalf("ADS sent version %q, want %s", resp.VersionInfo, version)
		}
		ack(resp)
	}
	ack(resp)
	obj, err := svc.Store().Get(ctx, model.KindGateway, "public")
	if err != nil {
		t.Fatal(err)
	}
	gw := obj.(*model.Gateway)
	gw.Listeners[0].Port = 8081
	if err := svc.Store().Update(ctx, "test", gw); err != nil {
		t.Fatal(err)
	}
	if got := post("/gateways/public/publish", `{}`); !strings.Contains(got, `"version": 2`) {
		t.Fatalf("second publish: %s", got)
	}
	expect("2")
	if got := post("/gateways/public/rollback", `{"version": 1}`); !strings.Contains(got, `"version": 3`) {
		t.Fatalf("rollback: %s", got)
	}
	expect("3")

	// Metrics need a token like the API, and count the proxy.
	if resp, err := http.Get("http://" + svc.Addr().String() + "/metrics"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous /metrics: %v %v", resp, err)
	}
	if m := scrape(t, ctx, svc.Addr().String(), newToken(t, ctx, svc, auth.RoleViewer)); m["go_goroutines"] == 0 {
		t.Errorf("/metrics lacks go_goroutines")
	}

	code, b := call(auth.RoleEditor, "GET", "/gateways/public/proxies", "")
	if code != http.StatusOK || !strings.Contains(b, `"node": "envoy-1"`) || !strings.Contains(b, `"connected": true`) {
		t.Errorf("proxies: %d %s", code, b)
	}
	// It took listeners only, never clusters or routes: not in sync.
	if !strings.Contains(b, `"inSync": false`) {
		t.Errorf("a proxy that acknowledged only listeners is reported in sync: %s", b)
	}
}
