package testservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// Consul is a single-node Consul agent in dev mode (server + client, in
// memory) listening only on 127.0.0.1.
type Consul struct {
	// HTTPAddr is host:port of the HTTP API, what CONSUL_HTTP_ADDR holds.
	HTTPAddr string
	// DataDir is the agent's data directory, kept across restarts.
	DataDir string

	proc *process
	t    testing.TB
}

// StartConsul starts `consul agent -dev` on free loopback ports, waits
// until it has elected itself leader and registered its own node, and
// stops it when the test ends.
func StartConsul(t testing.TB) *Consul {
	t.Helper()
	bin := ConsulBinary(t)
	dir := t.TempDir()
	ports := freePorts(t, 6)
	httpPort, dnsPort, serfLAN, serfWAN, server, grpc := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	hcl := fmt.Sprintf(`ports { http = %d, https = -1, dns = %d, serf_lan = %d, serf_wan = %d, server = %d, grpc = %d, grpc_tls = -1 }`,
		httpPort, dnsPort, serfLAN, serfWAN, server, grpc)
	dataDir := filepath.Join(dir, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatalf("consul data dir: %v", err)
	}
	c := &Consul{
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPort),
		DataDir:  dataDir,
		t:        t,
		proc: &process{
			name: "consul",
			path: bin,
			args: []string{
				"agent", "-dev",
				"-node", "routedeck-test",
				"-bind", "127.0.0.1", "-client", "127.0.0.1", "-advertise", "127.0.0.1",
				"-data-dir", dataDir,
				"-log-level", "warn",
				"-disable-host-node-id",
				"-hcl", hcl,
			},
			logPath: filepath.Join(dir, "consul.log"),
		},
	}
	c.proc.dumpLogOnFailure(t)
	t.Cleanup(func() { c.proc.stop(5 * time.Second) })
	c.Start()
	return c
}

// Start starts the agent again after Stop, on the same ports and data
// directory, and waits until it is ready. A dev agent keeps its catalog in
// memory, so services registered before the stop must be registered again.
func (c *Consul) Start() {
	c.t.Helper()
	if err := c.proc.start(); err != nil {
		c.t.Fatal(err)
	}
	if err := waitFor(c.proc, 60*time.Second, c.ready); err != nil {
		c.t.Fatal(err)
	}
}

// Stop kills the agent at once, as a crash or a network partition would
// look to clients.
func (c *Consul) Stop() { c.proc.stop(0) }

// URL is the base URL of the HTTP API.
func (c *Consul) URL() string { return "http://" + c.HTTPAddr }

func (c *Consul) ready(ctx context.Context) error {
	leader, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/status/leader", nil)
	if err != nil {
		return err
	}
	if s := strings.Trim(strings.TrimSpace(string(leader)), `"`); s == "" {
		return fmt.Errorf("no leader yet")
	}
	// The agent registers its own node in the catalog shortly after the
	// election; health queries before that return nothing for the node.
	nodes, err := httpGet(ctx, http.DefaultClient, c.URL()+"/v1/catalog/node/routedeck-test", nil)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(nodes)) == "null" {
		return fmt.Errorf("node not registered yet")
	}
	return nil
}

// Client returns an API client for the agent.
func (c *Consul) Client(t testing.TB) *consulapi.Client {
	t.Helper()
	client, err := consulapi.NewClient(&consulapi.Config{Address: c.HTTPAddr})
	if err != nil {
		t.Fatalf("consul client: %v", err)
	}
	return client
}

// RegisterPassing registers one instance of service per address, ids
// service-1, service-2, ..., each with a passing TTL check whose id is the
// instance id plus "-ttl" (FailTTL it to take the instance out). The check
// is passed explicitly too: a dev agent keeps a TTL check's last state
// across re-registrations.
func (c *Consul) RegisterPassing(t testing.TB, client *consulapi.Client, service string, port int, addrs ...string) {
	t.Helper()
	for i, addr := range addrs {
		id := fmt.Sprintf("%s-%d", service, i+1)
		if err := client.Agent().ServiceRegister(&consulapi.AgentServiceRegistration{ID: id, Name: service, Address: addr, Port: port,
			Checks: consulapi.AgentServiceChecks{{CheckID: id + "-ttl", TTL: "10m", Status: consulapi.HealthPassing}}}); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
		if err := client.Agent().PassTTL(id+"-ttl", "up"); err != nil {
			t.Fatalf("pass %s's check: %v", id, err)
		}
	}
}
