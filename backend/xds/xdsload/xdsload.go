// Package xdsload runs a fleet of minimal ADS clients against an xDS server
// for load tests and benchmarks. Each client is a real gRPC stream on its own
// connection that subscribes to clusters, endpoints, listeners and routes and
// ACKs every response, as Envoy does; it does not decode resources, so the
// cost measured is the server's.
package xdsload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Types are the resource types every client subscribes to, in Envoy's order.
var Types = []string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType}

// Fleet is a set of connected clients.
type Fleet struct {
	cancel  context.CancelFunc
	conns   []*grpc.ClientConn
	wg      sync.WaitGroup
	clients []*client

	mu      sync.Mutex
	changed *sync.Cond
	// acked counts clients whose last ACK of a type carried a version.
	acked map[string]map[string]int
	errs  []error
}

type client struct {
	acked map[string]string // type URL -> version, guarded by Fleet.mu
}

// Start connects n clients to addr with node.cluster = gateway and node.id
// "<prefix>-<i>". Clients connect in parallel, a bounded number at a time.
func Start(ctx context.Context, addr, gateway, prefix string, n int) (*Fleet, error) {
	return StartTLS(ctx, addr, gateway, prefix, n, nil)
}

// StartTLS is Start over TLS with cfg (a client certificate of gateway, as
// all proxies of one gateway may share); nil is plaintext. Each client
// still has its own connection and handshake.
func StartTLS(ctx context.Context, addr, gateway, prefix string, n int, cfg *tls.Config) (*Fleet, error) {
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fleet{cancel: cancel, acked: map[string]map[string]int{}}
	dialing := make(chan struct{}, maxDialing)
	f.changed = sync.NewCond(&f.mu)
	for i := range n {
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(creds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			f.Stop()
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		f.conns = append(f.conns, conn)
		c := &client{acked: map[string]string{}}
		f.clients = append(f.clients, c)
		node := &corev3.Node{Id: fmt.Sprintf("%s-%d", prefix, i), Cluster: gateway}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := connect(ctx, conn, dialing); err != nil {
				if ctx.Err() == nil {
					f.mu.Lock()
					f.errs = append(f.errs, fmt.Errorf("%s: %w", node.Id, err))
					f.mu.Unlock()
					f.changed.Broadcast()
				}
				return
			}
			if err := f.run(ctx, conn, node, c); err != nil && ctx.Err() == nil {
				f.mu.Lock()
				f.errs = append(f.errs, fmt.Errorf("%s: %w", node.Id, err))
				f.mu.Unlock()
				f.changed.Broadcast()
			}
		}()
	}
	return f, nil
}

// maxDialing bounds the connections being set up at once: thousands of
// TLS handshakes started together on a small machine would outlast gRPC's
// connect timeout instead of finishing sooner.
const maxDialing = 64

// connect establishes conn, at most cap(dialing) at a time.
func connect(ctx context.Context, conn *grpc.ClientConn, dialing chan struct{}) error {
	select {
	case dialing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-dialing }()
	conn.Connect()
	for {
		s := conn.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.Shutdown:
			return errors.New("connection shut down")
		}
		if !conn.WaitForStateChange(ctx, s) {
			return fmt.Errorf("connect: %w", ctx.Err())
		}
	}
}

func (f *Fleet) run(ctx context.Context, conn *grpc.ClientConn, node *corev3.Node, c *client) error {
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	for i, typeURL := range Types {
		req := &discovery.DiscoveryRequest{TypeUrl: typeURL}
		if i == 0 {
			req.Node = node
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("subscribe %s: %w", typeURL, err)
		}
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		ack := &discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}
		if err := stream.Send(ack); err != nil {
			return fmt.Errorf("ack %s: %w", resp.TypeUrl, err)
		}
		f.mu.Lock()
		if prev, ok := c.acked[resp.TypeUrl]; ok {
			f.acked[resp.TypeUrl][prev]--
		}
		c.acked[resp.TypeUrl] = resp.VersionInfo
		if f.acked[resp.TypeUrl] == nil {
			f.acked[resp.TypeUrl] = map[string]int{}
		}
		f.acked[resp.TypeUrl][resp.VersionInfo]++
		f.mu.Unlock()
		f.changed.Broadcast()
	}
}

// Wait blocks until every client has ACKed version of typeURL, a client
// failed, or ctx is done.
func (f *Fleet) Wait(ctx context.Context, typeURL, version string) error {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.changed.Broadcast()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.acked[typeURL][version] < len(f.clients) {
		if len(f.errs) > 0 {
			return errors.Join(f.errs...)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d of %d clients acked %s version %q: %w",
				f.acked[typeURL][version], len(f.clients), typeURL, version, err)
		}
		f.changed.Wait()
	}
	return nil
}

// WaitAll is Wait for every type in Types.
func (f *Fleet) WaitAll(ctx context.Context, version string) error {
	for _, t := range Types {
		if err := f.Wait(ctx, t, version); err != nil {
			return err
		}
	}
	return nil
}

// Stop closes every stream and connection and waits for the clients.
func (f *Fleet) Stop() {
	f.cancel()
	for _, c := range f.conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}
