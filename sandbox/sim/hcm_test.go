package sim

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestStreamIdleTimeout: with the route timeout off, a route's
// idle_timeout ends a request whose upstream never answers with Envoy's
// 408 and the SI flag.
func TestStreamIdleTimeout(t *testing.T) {
	h := newHarness(t)
	g := newGate(t)
	rt := prefixRoute("rule/idle/0", "/", "mute")
	rt.GetRoute().Timeout = durationpb.New(0)
	rt.GetRoute().IdleTimeout = durationpb.New(200 * time.Millisecond)
	h.set(t, "1", listener(t), routeConfig(rt), edsCluster("mute", clusterv3.Cluster_ROUND_ROBIN), loadAssignmentOf("mute", g.addr()))
	start := time.Now()
	c := h.sendCaptured(t, "/")
	if c.status != 408 || c.body != "stream timeout" || c.ex.Flags != "SI" {
		t.Errorf("status %d %q flags %q", c.status, c.body, c.ex.Flags)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("answered after %v, want the 200ms idle timeout", d)
	}
}
