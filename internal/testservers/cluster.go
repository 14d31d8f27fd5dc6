package testservers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
)

// ConsulCluster is a cluster of Consul servers on loopback, each its own
// process with its own ports and data directory, that elected a leader.
type ConsulCluster struct {
	Servers []*ConsulServer
}

// ConsulServer is one server of a ConsulCluster.
type ConsulServer struct {
	// Name is the node name, "server-<i>".
	Name string
	// HTTPAddr is host:port of its HTTP API.
	HTTPAddr string
	// RaftAddr is host:port of its server RPC port, as
	// /v1/status/leader names a leader.
	RaftAddr string

	proc *process
	t    testing.TB
}

// StartConsulCluster starts n `consul agent -server -bootstrap-expect n`
// processes on free loopback ports that join each other, waits until every
// one knows the same leader, and stops them when the test ends.
func StartConsulCluster(t testing.TB, n int) *ConsulCluster {
	t.Helper()
	bin := ConsulBinary(t)
	dir := t.TempDir()
	ports := freePorts(t, 4*n)
	c := &ConsulCluster{}
	var joins []string
	for i := range n {
		joins = append(joins, fmt.Sprintf("127.0.0.1:%d", ports[4*i+1]))
	}
	for i := range n {
		httpPort, serfLAN, serfWAN, server := ports[4*i], ports[4*i+1], ports[4*i+2], ports[4*i+3]
		dataDir := filepath.Join(dir, fmt.Sprintf("server-%d", i))
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		hcl := fmt.Sprintf(`ports { http = %d, https = -1, dns = -1, serf_lan = %d, serf_wan = %d, server = %d, grpc = -1, grpc_tls = -1 }`,
			httpPort, serfLAN, serfWAN, server)
		args := []string{
			"agent", "-server", "-bootstrap-expect", fmt.Sprint(n),
			"-node", fmt.Sprintf("server-%d", i),
			"-bind", "127.0.0.1", "-client", "127.0.0.1", "-advertise", "127.0.0.1",
			"-data-dir", dataDir,
			"-log-level", "warn",
			"-disable-host-node-id",
			"-hcl", hcl,
			// Raft's default timing (multiplier 5) is made for real
			// networks; on loopback 1 makes an election take about a
			// second instead of several.
			"-hcl", `performance { raft_multiplier = 1 }`,
		}
		for j, join := range joins {
			if j != i {
				args = append(args, "-retry-join", join)
			}
		}
		s := &ConsulServer{
			Name:     fmt.Sprintf("server-%d", i),
			HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPort),
			RaftAddr: fmt.Sprintf("127.0.0.1:%d", server),
			t:        t,
			proc:     &process{name: fmt.Sprintf("consul server-%d", i), path: bin, args: args, logPath: filepath.Join(dir, fmt.Sprintf("server-%d.log", i))},
		}
		s.proc.dumpLogOnFailure(t)
		t.Cleanup(func() { s.proc.stop(5 * time.Second) })
		if err := s.proc.start(); err != nil {
			t.Fatal(err)
		}
		c.Servers = append(c.Servers, s)
	}
	c.WaitLeader(t, 90*time.Second)
	return c
}

// WaitLeader waits until every running server names the same leader, and
// returns it.
func (c *ConsulCluster) WaitLeader(t testing.TB, timeout time.Duration) *ConsulServer {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leader, err := c.leader()
		if err == nil {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("consul cluster has no leader after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *ConsulCluster) leader() (*ConsulServer, error) {
	var leader string
	for _, s := range c.Servers {
		if dead, _ := s.proc.exited(); dead {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		body, err := httpGet(ctx, http.DefaultClient, "http://"+s.HTTPAddr+"/v1/status/leader", nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		var l string
		if err := json.Unmarshal(body, &l); err != nil || l == "" {
			return nil, fmt.Errorf("%s knows no leader", s.Name)
		}
		if leader != "" && l != leader {
			return nil, fmt.Errorf("%s names leader %s, others %s", s.Name, l, leader)
		}
		leader = l
	}
	for _, s := range c.Servers {
		if s.RaftAddr == leader {
			// The others name a stopped leader until they notice it
			// is gone.
			if dead, _ := s.proc.exited(); dead {
				return nil, fmt.Errorf("the servers still name %s, which is stopped, as leader", s.Name)
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("leader %s is none of the servers", strings.TrimSpace(leader))
}

// MakeLeader hands the cluster's leadership to s (Raft leadership
// transfer) and waits until every running server names it, so a test can
// stop the leader on purpose.
func (c *ConsulCluster) MakeLeader(t testing.TB, s *ConsulServer, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leader, err := c.leader()
		if err == nil && leader == s {
			return
		}
		if err == nil {
			self, err := s.Client(t).Agent().Self()
			if err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			id, _ := self["Config"]["NodeID"].(string)
			if _, err := leader.Client(t).Operator().RaftLeaderTransfer(id, nil); err != nil {
				t.Logf("transfer the leadership to %s: %v", s.Name, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become the leader in %s (leader %v, %v)", s.Name, timeout, leader, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop kills the server at once, as a crash would.
func (s *ConsulServer) Stop() { s.proc.stop(0) }

// Start starts the server again after Stop, with its data directory: it
// rejoins the cluster as the same node.
func (s *ConsulServer) Start() {
	s.t.Helper()
	if err := s.proc.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns an API client for the server.
func (s *ConsulServer) Client(t testing.TB) *consulapi.Client {
	t.Helper()
	client, err := consulapi.NewClient(&consulapi.Config{Address: s.HTTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// FreePorts reserves n loopback ports for servers a test starts, as the
// servers of this package get theirs.
func FreePorts(t testing.TB, n int) []int { return freePorts(t, n) }

// Process is a child process a test starts, kills and starts again, with
// its output in a log shown when the test fails.
type Process struct{ p *process }

// StartProcess starts path with args and env (nil: this process's) and
// stops it (SIGTERM, then SIGKILL) when the test ends.
func StartProcess(t testing.TB, name, path string, args, env []string) *Process {
	t.Helper()
	p := &process{name: name, path: path, args: args, env: env,
		logPath: filepath.Join(t.TempDir(), strings.ReplaceAll(name, " ", "-")+".log")}
	p.dumpLogOnFailure(t)
	t.Cleanup(func() { p.stop(5 * time.Second) })
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return &Process{p}
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Process) Kill() { p.p.stop(0) }

// Stop ends the process with SIGTERM, SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) { p.p.stop(grace) }

// Start starts the process again, with the same arguments.
func (p *Process) Start() error { return p.p.start() }

// Exited reports whether the process has ended on its own, and how.
func (p *Process) Exited() (bool, error) { return p.p.exited() }

// Log is the end of the process's output.
func (p *Process) Log() string { return p.p.logTail() }
