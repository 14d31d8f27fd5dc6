package xds

import (
	"context"
	"crypto/tls"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Authorizer decides whether the peer of a connection (its TLS state, nil
// over plaintext) may receive the configuration of node.cluster cluster.
type Authorizer func(state *tls.ConnectionState, cluster string) error

// access wraps the tracker's callbacks with the identity check: the first
// request of every stream, and every later one that names another node,
// must be allowed for its node.cluster before anything else sees it. A
// refused stream ends with PermissionDenied before go-control-plane opens a
// watch, so it receives nothing, and the tracker never hears of it, so it
// never shows in the console.
type access struct {
	serverv3.Callbacks
	authorize Authorizer

	mu    sync.Mutex
	sotw  map[int64]*streamPeer
	delta map[int64]*streamPeer
}

// streamPeer is what the check remembers of a stream: its connection's TLS
// state and the cluster already allowed.
type streamPeer struct {
	state   *tls.ConnectionState
	allowed string
}

func newAccess(next serverv3.Callbacks, authorize Authorizer) *access {
	return &access{Callbacks: next, authorize: authorize,
		sotw: map[int64]*streamPeer{}, delta: map[int64]*streamPeer{}}
}

func tlsState(ctx context.Context) *tls.ConnectionState {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		return &info.State
	}
	return nil
}

func (a *access) open(streams map[int64]*streamPeer, ctx context.Context, id int64) {
	a.mu.Lock()
	streams[id] = &streamPeer{state: tlsState(ctx)}
	a.mu.Unlock()
}

func (a *access) closed(streams map[int64]*streamPeer, id int64) {
	a.mu.Lock()
	delete(streams, id)
	a.mu.Unlock()
}

// check allows a request carrying node (nil on later requests of Envoy's
// delta streams, which send it once) on stream id.
func (a *access) check(streams map[int64]*streamPeer, id int64, node *corev3.Node) error {
	a.mu.Lock()
	sp := streams[id]
	var state *tls.ConnectionState
	var allowed string
	if sp != nil {
		state, allowed = sp.state, sp.allowed
	}
	a.mu.Unlock()
	switch {
	case sp == nil:
		return status.Error(codes.Internal, "stream not opened")
	case node == nil && allowed == "":
		return status.Error(codes.PermissionDenied, "the first request of a stream must carry the node")
	case node == nil || allowed != "" && node.GetCluster() == allowed:
		// "" is never allowed: an empty cluster is checked like any.
		return nil
	}
	// The bounds first, so what the refusal quotes is bounded too.
	if err := checkRequest(node, ""); err != nil {
		return err
	}
	cluster := node.GetCluster()
	if err := a.authorize(state, cluster); err != nil {
		return status.Errorf(codes.PermissionDenied, "node.cluster %q: %v", cluster, err)
	}
	a.mu.Lock()
	sp.allowed = cluster
	a.mu.Unlock()
	return nil
}

func (a *access) OnStreamOpen(ctx context.Context, id int64, typeURL string) error {
	a.open(a.sotw, ctx, id)
	return a.Callbacks.OnStreamOpen(ctx, id, typeURL)
}

func (a *access) OnStreamClosed(id int64, node *corev3.Node) {
	a.closed(a.sotw, id)
	a.Callbacks.OnStreamClosed(id, node)
}

func (a *access) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	if err := a.check(a.sotw, id, req.GetNode()); err != nil {
		return err
	}
	return a.Callbacks.OnStreamRequest(id, req)
}

func (a *access) OnDeltaStreamOpen(ctx context.Context, id int64, typeURL string) error {
	a.open(a.delta, ctx, id)
	return a.Callbacks.OnDeltaStreamOpen(ctx, id, typeURL)
}

func (a *access) OnDeltaStreamClosed(id int64, node *corev3.Node) {
	a.closed(a.delta, id)
	a.Callbacks.OnDeltaStreamClosed(id, node)
}

func (a *access) OnStreamDeltaRequest(id int64, req *discovery.DeltaDiscoveryRequest) error {
	if err := a.check(a.delta, id, req.GetNode()); err != nil {
		return err
	}
	return a.Callbacks.OnStreamDeltaRequest(id, req)
}

// OnFetchRequest checks the unary Fetch RPCs, which carry the node on
// every request.
func (a *access) OnFetchRequest(ctx context.Context, req *discovery.DiscoveryRequest) error {
	if err := checkRequest(req.GetNode(), req.GetTypeUrl()); err != nil {
		return err
	}
	cluster := req.GetNode().GetCluster()
	if err := a.authorize(tlsState(ctx), cluster); err != nil {
		return status.Errorf(codes.PermissionDenied, "node.cluster %q: %v", cluster, err)
	}
	return a.Callbacks.OnFetchRequest(ctx, req)
}
