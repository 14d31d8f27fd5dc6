// Package xdsload runs a fleet of minimal ADS clients against an xDS server
// for load tests and benchmarks. Each client is a real gRPC stream on its own
// connection that subscribes as Envoy does (state of the world): clusters
// and listeners by wildcard, then by name the load assignments of the EDS
// clusters and the route configurations the listeners name, and ACKs every
// response. It decodes clusters, listeners and load assignments, but not
// the routes inside a route configuration, so the cost measured is mostly
// the server's.
package xdsload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
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

	codec *requestCodec
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
	return start(ctx, addr, gateway, prefix, n, cfg, false)
}

func start(ctx context.Context, addr, gateway, prefix string, n int, cfg *tls.Config, delta bool) (*Fleet, error) {
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fleet{cancel: cancel, acked: map[string]map[string]int{}, codec: newRequestCodec()}
	dialing := make(chan struct{}, maxDialing)
	f.changed = sync.NewCond(&f.mu)
	for i := range n {
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(creds),
			// Envoy's gRPC client advertises 256 MiB windows on its
			// streams and connections: it neither pings to size its
			// window nor sends a WINDOW_UPDATE per response, and
			// neither do these clients.
			grpc.WithInitialWindowSize(envoyWindow),
			grpc.WithInitialConnWindowSize(envoyWindow),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.ForceCodecV2(f.codec)))
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
			run := f.run
			if delta {
				run = f.runDelta
			}
			if err := run(ctx, conn, node, c); err != nil && ctx.Err() == nil {
				f.mu.Lock()
				f.errs = append(f.errs, fmt.Errorf("%s: %w", node.Id, err))
				f.mu.Unlock()
				f.changed.Broadcast()
			}
		}()
	}
	return f, nil
}

// envoyWindow is the initial HTTP/2 stream and connection window of
// Envoy's gRPC client (initial_stream_window_size and
// initial_connection_window_size default to 256 MiB).
const envoyWindow = 256 << 20

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
	// Clusters and listeners by wildcard, the node on the first request,
	// as Envoy opens an ADS stream; load assignments and route
	// configurations follow once their names are known.
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType, Node: node}); err != nil {
		return fmt.Errorf("subscribe %s: %w", resource.ClusterType, err)
	}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType}); err != nil {
		return fmt.Errorf("subscribe %s: %w", resource.ListenerType, err)
	}
	subs := map[string]*subscription{resource.EndpointType: {}, resource.RouteType: {}}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		var names []string
		if names, err = decode(resp); err != nil {
			return fmt.Errorf("%s version %s: %w", resp.TypeUrl, resp.VersionInfo, err)
		}
		ack := &discovery.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce}
		if s := subs[resp.TypeUrl]; s != nil {
			s.version, s.nonce = resp.VersionInfo, resp.Nonce
			ack.ResourceNames = s.names
		}
		if err := stream.Send(ack); err != nil {
			return fmt.Errorf("ack %s: %w", resp.TypeUrl, err)
		}
		// Like Envoy, the new names of a dependent type go out after
		// the ACK of the response that named them.
		if dep := dependent[resp.TypeUrl]; dep != "" && !slices.Equal(subs[dep].names, names) {
			s := subs[dep]
			s.names = f.codec.share(names)
			req := &discovery.DiscoveryRequest{TypeUrl: dep, ResourceNames: names, VersionInfo: s.version, ResponseNonce: s.nonce}
			if err := stream.Send(req); err != nil {
				return fmt.Errorf("subscribe %s: %w", dep, err)
			}
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

// subscription is what a stream asks for of a type subscribed to by name.
type subscription struct {
	names          []string // sorted
	version, nonce string   // of the last response
}

// dependent maps a wildcard type to the type whose names its resources
// give: clusters name load assignments, listeners route configurations.
var dependent = map[string]string{resource.ClusterType: resource.EndpointType, resource.ListenerType: resource.RouteType}

// decode checks a response's resources and returns, for clusters and
// listeners, the sorted names of the load assignments and route
// configurations they refer to. Load assignments, clusters and listeners
// are decoded whole, as a proxy decodes them; a route configuration only
// as far as its name: a proxy compiles its routes on its own CPU, which a
// fleet sharing the server's machine does not have.
func decode(resp *discovery.DiscoveryResponse) ([]string, error) {
	refs := map[string]bool{}
	for _, a := range resp.Resources {
		if a.GetTypeUrl() != resp.TypeUrl {
			return nil, fmt.Errorf("resource of type %s in the response", a.GetTypeUrl())
		}
		switch resp.TypeUrl {
		case resource.RouteType:
			if name, err := routeConfigName(a.Value); err != nil || name == "" {
				return nil, fmt.Errorf("route configuration without a name (%v)", err)
			}
		case resource.EndpointType:
			var cla endpointv3.ClusterLoadAssignment
			if err := a.UnmarshalTo(&cla); err != nil {
				return nil, err
			}
		case resource.ClusterType:
			var c clusterv3.Cluster
			if err := a.UnmarshalTo(&c); err != nil {
				return nil, err
			}
			if c.GetType() == clusterv3.Cluster_EDS {
				name := c.GetEdsClusterConfig().GetServiceName()
				if name == "" {
					name = c.GetName()
				}
				refs[name] = true
			}
		case resource.ListenerType:
			var l listenerv3.Listener
			if err := a.UnmarshalTo(&l); err != nil {
				return nil, err
			}
			if err := listenerRoutes(&l, refs); err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.GetName(), err)
			}
		}
	}
	if dependent[resp.TypeUrl] == "" {
		return nil, nil
	}
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// listenerRoutes adds the RDS route configurations l's HTTP connection
// managers (and its API listener) name to refs.
func listenerRoutes(l *listenerv3.Listener, refs map[string]bool) error {
	hcms := []*anypb.Any{l.GetApiListener().GetApiListener()}
	for _, fc := range append(slices.Clone(l.GetFilterChains()), l.GetDefaultFilterChain()) {
		for _, f := range fc.GetFilters() {
			hcms = append(hcms, f.GetTypedConfig())
		}
	}
	for _, a := range hcms {
		if a == nil || !a.MessageIs(&hcmv3.HttpConnectionManager{}) {
			continue
		}
		var hcm hcmv3.HttpConnectionManager
		if err := a.UnmarshalTo(&hcm); err != nil {
			return err
		}
		if name := hcm.GetRds().GetRouteConfigName(); name != "" {
			refs[name] = true
		}
	}
	return nil
}

// routeConfigName reads RouteConfiguration.name (field 1) from its
// encoding.
func routeConfigName(b []byte) (string, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return "", protowire.ParseError(n)
			}
			return v, nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", protowire.ParseError(n)
		}
		b = b[n:]
	}
	return "", nil
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

// Failed blocks until a client fails, returning its error, or ctx is
// done (nil).
func (f *Fleet) Failed(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.changed.Broadcast()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.errs) == 0 && ctx.Err() == nil {
		f.changed.Wait()
	}
	return errors.Join(f.errs...)
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

// requestCodec is gRPC's proto codec, except that it encodes the names of
// a subscription once for all the requests that repeat them: in the state
// of the world every ACK carries every name subscribed to, a thousand load
// assignments for a gateway of a thousand upstreams, and a thousand
// clients encoding them on the server's machine would weigh on what is
// measured. The clients of a fleet subscribe to the same names, so they
// share one slice of them (share) and with it one encoding. The bytes sent
// are those of an ordinary encoding, the names last.
type requestCodec struct {
	base encoding.CodecV2

	mu     sync.Mutex
	names  map[*string][]byte  // by the subscription's name slice
	shared map[string][]string // by the names joined
}

func newRequestCodec() *requestCodec {
	return &requestCodec{base: encoding.GetCodecV2(protocodec.Name), names: map[*string][]byte{}, shared: map[string][]string{}}
}

// maxShared bounds the distinct name lists a fleet keeps; its clients
// normally subscribe to a few.
const maxShared = 64

// share returns the fleet's slice equal to names, which no one modifies.
func (c *requestCodec) share(names []string) []string {
	key := strings.Join(names, "\x00")
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.shared[key]; ok {
		return s
	}
	if len(c.shared) >= maxShared {
		clear(c.shared) // subscriptions moved on
	}
	c.shared[key] = names
	return names
}

func (c *requestCodec) Name() string { return protocodec.Name }

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.base.Unmarshal(data, v) }

func (c *requestCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*discovery.DiscoveryRequest)
	if !ok || len(req.ResourceNames) == 0 {
		return c.base.Marshal(v)
	}
	c.mu.Lock()
	names, ok := c.names[unsafe.SliceData(req.ResourceNames)]
	if !ok {
		for _, n := range req.ResourceNames {
			names = protowire.AppendTag(names, 3, protowire.BytesType) // resource_names
			names = protowire.AppendString(names, n)
		}
		if len(c.names) >= 64 {
			clear(c.names) // subscriptions moved on
		}
		c.names[unsafe.SliceData(req.ResourceNames)] = names
	}
	c.mu.Unlock()
	rest, err := proto.Marshal(&discovery.DiscoveryRequest{VersionInfo: req.VersionInfo, Node: req.Node, TypeUrl: req.TypeUrl,
		ResponseNonce: req.ResponseNonce, ErrorDetail: req.ErrorDetail})
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(rest), mem.SliceBuffer(names)}, nil
}
