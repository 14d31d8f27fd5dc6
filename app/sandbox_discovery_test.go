package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/testservers"
)

// TestSandboxFollowsConsulEndpoints: with a real Consul agent, a consul
// upstream's sandbox has one mock per healthy instance, each answering as
// the instance it stands for; an instance failing its check leaves the
// sandbox on the next request.
func TestSandboxFollowsConsulEndpoints(t *testing.T) {
	agent := testservers.StartConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := agent.Client(t)
	agent.RegisterPassing(t, client, "orders", 7000, "10.3.0.1", "10.3.0.2")
	for i, addr := range []string{"10.3.0.1", "10.3.0.2"} {
		id := fmt.Sprintf("orders-%d", i+1)
		if err := client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: id, Name: "orders", Address: addr, Port: 7000,
			Checks: consulapi.AgentServiceChecks{{CheckID: id + "-ttl", TTL: "10m", Status: consulapi.HealthPassing}}}); err != nil {
			t.Fatal(err)
		}
	}
	_, call := targetService(t, ctx, map[string]string{"CONSUL_HTTP_ADDR": agent.HTTPAddr},
		gatewayWorkspace(model.Upstream{Meta: model.Meta{Name: "orders"}, Consul: &model.ConsulSource{Service: "orders"}}))

	// standsFor sends n requests and returns the real endpoints that
	// answered, sorted.
	standsFor := func(n int) []string {
		t.Helper()
		seen := map[string]bool{}
		for range n {
			code, body := call("POST", "/sandbox/requests", `{"gateway": "edge", "request": {"url": "http://edge.example/orders"}}`)
			var r struct {
				Upstream  *string
				StandsFor string
			}
			if err := json.Unmarshal([]byte(body), &r); code != 200 || err != nil || r.Upstream == nil || *r.Upstream != "orders" {
				t.Fatalf("sandbox request: %d %s", code, body)
			}
			seen[r.StandsFor] = true
		}
		out := make([]string, 0, len(seen))
		for k := range seen {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	waitFor := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := standsFor(8)
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("sandbox endpoints %q, want %q", got, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("10.3.0.1:7000", "10.3.0.2:7000")
	if err := client.Agent().FailTTL("orders-2-ttl", "down"); err != nil {
		t.Fatal(err)
	}
	waitFor("10.3.0.1:7000")
}
