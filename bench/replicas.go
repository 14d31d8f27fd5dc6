package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/model"
	consulpub "github.com/routedeck/routedeck/backend/publish/consul"
	"github.com/routedeck/routedeck/backend/replica"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/bench/adsbench"
	"github.com/routedeck/routedeck/internal/testservers"
)

// benchReplicas measures a publish through Consul KV until every proxy of
// two xDS replicas ACKed it: the writer's KV publish (PublishVersion, the
// call the writer makes once its own version is recorded) to the last ACK
// of the new routes, with the proxies (1,000, half on each replica) in a
// child process and Consul a `consul agent -dev` from `make tools`.
func benchReplicas(ctx context.Context, sc sizes) ([]Figure, error) {
	clients := 1000
	publishes := 30
	if sc.memClients < 1000 {
		clients, publishes = sc.memClients, 5
	}
	addr, stopConsul, err := startConsulDev(ctx)
	if err != nil {
		return nil, err
	}
	defer stopConsul()
	client, err := consulapi.NewClient(&consulapi.Config{Address: addr})
	if err != nil {
		return nil, err
	}
	kv := consulpub.New(client)
	workspace := func(gen int) model.Workspace {
		ws := model.Workspace{Gateways: []model.Gateway{{Meta: model.Meta{Name: "bench"},
			Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}}}
		for i := range 100 {
			ws.Routes = append(ws.Routes, model.Route{Meta: model.Meta{Name: fmt.Sprintf("r%03d", i)}, Gateway: "bench",
				When: model.Condition{Field: "path", Op: "prefix", Value: fmt.Sprintf("/r/%d", i)},
				Then: model.Action{Respond: &model.Respond{Status: 200, Body: fmt.Sprintf("gen %d", gen)}}})
		}
		return ws
	}
	if err := kv.PublishVersion(ctx, "bench", 1, workspace(1)); err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	var servers []*xds.Server
	for _, id := range []string{"r1", "r2"} {
		ads := xds.New(xds.Options{Logger: quiet})
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		rep, err := replica.New(replica.Options{ID: id, Consul: client, ADS: ads, Logger: quiet})
		if err != nil {
			return nil, err
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = ads.Serve(rctx, lis) }()
		go rep.Run(rctx)
		stop, err := adsbench.StartClients(ctx, lis.Addr().String(), clients/2)
		if err != nil {
			return nil, err
		}
		defer stop()
		servers = append(servers, ads)
	}
	waitAll := func(version int64) error {
		v := fmt.Sprint(version)
		for {
			n := 0
			for _, ads := range servers {
				n += ads.Acked("bench", resource.RouteType, v)
			}
			if n == clients/2*2 {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%d of %d proxies acked version %s: %w", n, clients, v, ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	if err := waitAll(1); err != nil {
		return nil, err
	}
	var ms []float64
	for gen := 2; gen < 2+publishes; gen++ {
		start := time.Now()
		if err := kv.PublishVersion(ctx, "bench", int64(gen), workspace(gen)); err != nil {
			return nil, err
		}
		if err := waitAll(int64(gen)); err != nil {
			return nil, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	p99 := percentile(ms, 0.99)
	return []Figure{{
		Name:        "replicas-publish-acked-p99",
		Description: fmt.Sprintf("KV publish of a 100-route gateway -> all %d ADS clients on two xDS replicas ACKed, p99 of %d", clients, publishes),
		Value:       p99, Unit: "ms", Target: 1000, Pass: p99 <= 1000,
		Detail: map[string]any{"medianMs": percentile(ms, 0.5), "maxMs": percentile(ms, 1), "clients": clients, "publishes": publishes},
	}}, nil
}

// startConsulDev runs `consul agent -dev` on free loopback ports until
// stop, and returns its HTTP address once it has a leader.
func startConsulDev(ctx context.Context) (string, func(), error) {
	bin := filepath.Join(testservers.ToolsDir(), "consul-"+testservers.ConsulVersion, "consul")
	if _, err := os.Stat(bin); err != nil {
		return "", nil, fmt.Errorf("consul is not installed (%v): run make tools", err)
	}
	var ports []int
	for range 4 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		l.Close() // free for consul; a benchmark may lose this race, a test may not
	}
	dir, err := os.MkdirTemp("", "routedeck-bench-consul")
	if err != nil {
		return "", nil, err
	}
	hcl := fmt.Sprintf(`ports { http = %d, https = -1, dns = -1, serf_lan = %d, serf_wan = %d, server = %d, grpc = -1, grpc_tls = -1 }`,
		ports[0], ports[1], ports[2], ports[3])
	cmd := exec.Command(bin, "agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1", "-data-dir", dir, "-log-level", "error", "-hcl", hcl)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = os.RemoveAll(dir) }
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	client, err := consulapi.NewClient(&consulapi.Config{Address: addr})
	if err != nil {
		stop()
		return "", nil, err
	}
	for {
		if leader, err := client.Status().Leader(); err == nil && leader != "" {
			return addr, stop, nil
		}
		select {
		case <-ctx.Done():
			stop()
			return "", nil, fmt.Errorf("consul -dev has no leader: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
