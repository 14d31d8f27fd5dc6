package consul

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/discovery"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/testservers"
)

// registerWeb registers the instances the test watches: web-1 and web-2
// tagged v1, and web-3 tagged v2, each with a passing TTL check. The agent
// keeps a TTL check's last state across restarts and re-registrations, so
// the checks are passed explicitly, as the instances' heartbeats would.
func registerWeb(t *testing.T, client *api.Client) {
	t.Helper()
	for _, inst := range []struct {
		id, addr, tag string
	}{
		{"web-1", "10.0.0.1", "v1"},
		{"web-2", "10.0.0.2", "v1"},
		{"web-3", "10.0.0.3", "v2"},
	} {
		err := client.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: inst.id, Name: "web", Address: inst.addr, Port: 8080, Tags: []string{inst.tag},
			Checks: api.AgentServiceChecks{{CheckID: inst.id + "-ttl", TTL: "10m", Status: api.HealthPassing}},
		})
		if err != nil {
			t.Fatalf("register %s: %v", inst.id, err)
		}
		if err := client.Agent().PassTTL(inst.id+"-ttl", "heartbeat"); err != nil {
			t.Fatalf("pass %s's check: %v", inst.id, err)
		}
	}
}

func webEndpoint(addr string, healthy, stale bool) discovery.Endpoint {
	health := discovery.HealthUnhealthy
	if healthy {
		health = discovery.HealthHealthy
	}
	return discovery.Endpoint{Address: addr, Port: 8080, Weight: 1, Healthy: healthy, Health: health, Source: discovery.SourceConsul, Stale: stale}
}

// waitFor polls the manager until upstream's endpoints and stale flag are
// as wanted.
func waitFor(t *testing.T, m *discovery.Manager, upstream string, wantStale bool, want []discovery.Endpoint) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got discovery.Status
	for time.Now().Before(deadline) {
		got, _ = m.Status(upstream)
		if got.Reported && got.Stale == wantStale && cmp.Equal(want, got.Endpoints, cmpopts.EquateEmpty()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: endpoints never became as wanted; last status %+v\n(-want +got):\n%s",
		upstream, got, cmp.Diff(want, got.Endpoints))
}

func TestConsulDiscovery(t *testing.T) {
	agent := testservers.StartConsul(t)
	client, err := api.NewClient(&api.Config{Address: agent.HTTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	registerWeb(t, client)

	src := New(client, slog.New(slog.DiscardHandler))
	src.RetryMax = 300 * time.Millisecond
	m := discovery.NewManager(map[string]discovery.Source{discovery.SourceConsul: src}, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(m.Close)
	all := false
	m.Sync([]model.Upstream{
		{Meta: model.Meta{Name: "web-v1"}, Consul: &model.ConsulSource{Service: "web", Tags: []string{"v1"}}},
		{Meta: model.Meta{Name: "web-any"}, Consul: &model.ConsulSource{Service: "web", PassingOnly: &all}},
		{Meta: model.Meta{Name: "web-dc1"}, Consul: &model.ConsulSource{Service: "web", Tags: []string{"v2"}, Datacenter: "dc1"}},
		{Meta: model.Meta{Name: "web-dc2"}, Consul: &model.ConsulSource{Service: "web", Datacenter: "dc2"}},
	})

	t.Log("two healthy v1 instances")
	waitFor(t, m, "web-v1", false, []discovery.Endpoint{webEndpoint("10.0.0.1", true, false), webEndpoint("10.0.0.2", true, false)})
	waitFor(t, m, "web-any", false, []discovery.Endpoint{
		webEndpoint("10.0.0.1", true, false), webEndpoint("10.0.0.2", true, false), webEndpoint("10.0.0.3", true, false),
	})

	waitFor(t, m, "web-dc1", false, []discovery.Endpoint{webEndpoint("10.0.0.3", true, false)})
	// A datacenter the agent cannot reach is an outage from where we stand:
	// nothing known, marked stale, with Consul's reason.
	waitFor(t, m, "web-dc2", true, nil)
	if st, _ := m.Status("web-dc2"); !strings.Contains(st.Error, "dc2") {
		t.Errorf("web-dc2 status error %q does not name the datacenter", st.Error)
	}

	t.Log("a failing check takes web-2 out")
	if err := client.Agent().FailTTL("web-2-ttl", "disk full"); err != nil {
		t.Fatalf("fail web-2's check: %v", err)
	}
	waitFor(t, m, "web-v1", false, []discovery.Endpoint{webEndpoint("10.0.0.1", true, false)})
	waitFor(t, m, "web-any", false, []discovery.Endpoint{
		webEndpoint("10.0.0.1", true, false), webEndpoint("10.0.0.2", false, false), webEndpoint("10.0.0.3", true, false),
	})

	t.Log("agent gone: last endpoints kept, stale")
	agent.Stop()
	waitFor(t, m, "web-v1", true, []discovery.Endpoint{webEndpoint("10.0.0.1", true, true)})
	if st, _ := m.Status("web-v1"); st.Error == "" {
		t.Errorf("stale status carries no error: %+v", st)
	}

	t.Log("agent back: fresh again without restarting discovery")
	agent.Start()
	registerWeb(t, client)
	waitFor(t, m, "web-v1", false, []discovery.Endpoint{webEndpoint("10.0.0.1", true, false), webEndpoint("10.0.0.2", true, false)})
	if st, _ := m.Status("web-v1"); st.Error != "" {
		t.Errorf("fresh status still carries an error: %+v", st)
	}
}
