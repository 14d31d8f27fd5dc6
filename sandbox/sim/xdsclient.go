package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// xDS type URLs, in the order Envoy subscribes to them.
const (
	TypeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	TypeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	TypeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	TypeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// resources is the accepted state of every subscribed type.
type resources struct {
	listeners map[string]*listenerv3.Listener
	routes    map[string]*routev3.RouteConfiguration
	clusters  map[string]*clusterv3.Cluster
	endpoints map[string]*endpointv3.ClusterLoadAssignment
	secrets   map[string]*tlsv3.Secret
	versions  map[string]string
	// clusterGen counts cluster responses, so a build can tell that the
	// clusters its routers were compiled against are unchanged.
	clusterGen uint64
	// secretGen counts secret responses, so a rotated certificate
	// rebuilds the listeners that present it.
	secretGen uint64
	// vhds holds the route configurations served by VHDS and their
	// virtual hosts (delta streams only).
	vhds vhdsState
	// resourceVersions holds, by type, the version of every resource a
	// delta stream delivered, which a new stream reports to the server.
	resourceVersions map[string]map[string]string
}

func (r *resources) clone() *resources {
	return &resources{
		listeners: maps.Clone(r.listeners),
		routes:    maps.Clone(r.routes),
		clusters:  maps.Clone(r.clusters),
		endpoints: maps.Clone(r.endpoints),
		secrets:   maps.Clone(r.secrets),
		versions:  maps.Clone(r.versions),

		clusterGen: r.clusterGen,
		secretGen:  r.secretGen,

		vhds:             r.vhds.clone(),
		resourceVersions: maps.Clone(r.resourceVersions),
	}
}

// Nack is a response the data plane refused, as it told the server.
type Nack struct {
	TypeURL string    `json:"typeUrl"`
	Version string    `json:"version"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

// adsClient holds one ADS stream at a time, reconnecting with backoff, and
// hands every accepted state to apply. It subscribes like Envoy: listeners
// and clusters by wildcard, then the route configurations the listeners
// name, the load assignments of the EDS clusters and the secrets the TLS
// contexts of both name.
type adsClient struct {
	// addrs are the management servers' hosts; a stream goes to one,
	// the next after it ends.
	addrs   []string
	next    int
	node    *corev3.Node
	log     *slog.Logger
	dialOpt []grpc.DialOption
	tls     *tls.Config
	// check refuses a response it does not understand (the error becomes
	// the NACK's error_detail); apply installs an accepted state.
	check func(typeURL string, next *resources) error
	apply func(*resources)
	nack  func(Nack)
	// delta runs incremental xDS (the bootstrap's ADS api_type
	// DELTA_GRPC) instead of state of the world.
	delta bool

	mu    sync.Mutex
	state *resources
}

type typeState struct {
	version, nonce string
	names          []string // subscribed names; nil = wildcard
	sent           bool
}

func (c *adsClient) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		addr := c.addrs[c.next%len(c.addrs)]
		var err error
		if c.delta {
			err = c.deltaStream(ctx, addr)
		} else {
			err = c.stream(ctx, addr)
		}
		if ctx.Err() != nil {
			return
		}
		c.next++
		c.log.Warn("sim: ADS stream ended, reconnecting", "addr", addr, "next", c.addrs[c.next%len(c.addrs)], "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (c *adsClient) dial(addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.tls != nil {
		creds = credentials.NewTLS(c.tls)
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, c.dialOpt...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial ADS %s: %w", addr, err)
	}
	return conn, nil
}

func (c *adsClient) stream(ctx context.Context, addr string) error {
	conn, err := c.dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(sctx)
	if err != nil {
		return fmt.Errorf("open ADS stream: %w", err)
	}
	c.mu.Lock()
	state := c.state.clone()
	c.mu.Unlock()
	types := map[string]*typeState{
		TypeListener: {}, TypeRoute: {names: []string{}}, TypeCluster: {}, TypeEndpoint: {names: []string{}}, TypeSecret: {names: []string{}},
	}
	// Versions survive a reconnect so the server can skip what we have.
	for t, ts := range types {
		ts.version = state.versions[t]
	}
	first := true
	send := func(typeURL string, errDetail error) error {
		ts := types[typeURL]
		req := &discovery.DiscoveryRequest{
			TypeUrl: typeURL, VersionInfo: ts.version, ResponseNonce: ts.nonce,
			ResourceNames: ts.names,
		}
		if first {
			req.Node = c.node
			first = false
		}
		if errDetail != nil {
			req.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: errDetail.Error()}
		}
		ts.sent = true
		return st.Send(req)
	}
	// Listeners and clusters by wildcard first; route configurations and
	// load assignments follow once the names they depend on are known.
	if err := send(TypeListener, nil); err != nil {
		return err
	}
	if err := send(TypeCluster, nil); err != nil {
		return err
	}
	// Dependent subscriptions start when the names are known, so an
	// empty name list never reads as a wildcard.
	resubscribe := func() error {
		want := map[string][]string{TypeRoute: routeNames(state), TypeEndpoint: edsNames(state), TypeSecret: sdsNames(state)}
		pruned := false
		defer func() {
			if pruned {
				c.mu.Lock()
				c.state = state.clone()
				c.mu.Unlock()
			}
		}()
		for _, t := range []string{TypeRoute, TypeEndpoint, TypeSecret} {
			ts := types[t]
			if ts.sent && slices.Equal(ts.names, want[t]) {
				continue
			}
			if !ts.sent && len(want[t]) == 0 {
				continue
			}
			ts.names = want[t]
			if !pruned {
				// The data plane may hold on to the applied state.
				state = state.clone()
				pruned = true
			}
			prune(state, t, ts.names)
			if err := send(t, nil); err != nil {
				return err
			}
		}
		return nil
	}
	if err := resubscribe(); err != nil {
		return err
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return err
		}
		ts, ok := types[resp.GetTypeUrl()]
		if !ok {
			continue
		}
		ts.nonce = resp.GetNonce()
		next, err := decode(state, resp)
		if err == nil {
			err = c.check(resp.GetTypeUrl(), next)
		}
		if err != nil {
			c.log.Warn("sim: NACK", "type", resp.GetTypeUrl(), "version", resp.GetVersionInfo(), "err", err)
			if c.nack != nil {
				c.nack(Nack{TypeURL: resp.GetTypeUrl(), Version: resp.GetVersionInfo(), Error: err.Error(), At: time.Now()})
			}
			if err := send(resp.GetTypeUrl(), err); err != nil {
				return err
			}
			continue
		}
		ts.version = resp.GetVersionInfo()
		next.versions[resp.GetTypeUrl()] = ts.version
		state = next
		c.mu.Lock()
		c.state = state.clone()
		c.mu.Unlock()
		c.apply(state)
		if err := send(resp.GetTypeUrl(), nil); err != nil {
			return err
		}
		if err := resubscribe(); err != nil {
			return err
		}
	}
}

// decode returns the state with resp's resources applied. Listeners and
// clusters are state of the world: a response is the whole set, and what
// it lacks is removed. Route configurations, load assignments and secrets
// are watched by name, as Envoy does: a response updates the ones it
// carries and leaves the others as they are (they go when their
// subscription does, see prune).
func decode(prev *resources, resp *discovery.DiscoveryResponse) (*resources, error) {
	next := prev.clone()
	var errs []error
	unpack := func(a *anypb.Any, m proto.Message) bool {
		if err := a.UnmarshalTo(m); err != nil {
			errs = append(errs, fmt.Errorf("resource of type %s: %w", a.GetTypeUrl(), err))
			return false
		}
		return true
	}
	switch resp.GetTypeUrl() {
	case TypeListener:
		next.listeners = map[string]*listenerv3.Listener{}
		for _, a := range resp.GetResources() {
			l := &listenerv3.Listener{}
			if unpack(a, l) {
				next.listeners[l.GetName()] = l
			}
		}
	case TypeCluster:
		next.clusterGen++
		next.clusters = map[string]*clusterv3.Cluster{}
		for _, a := range resp.GetResources() {
			cl := &clusterv3.Cluster{}
			if unpack(a, cl) {
				next.clusters[cl.GetName()] = cl
			}
		}
	case TypeRoute:
		if next.routes == nil {
			next.routes = map[string]*routev3.RouteConfiguration{}
		}
		for _, a := range resp.GetResources() {
			rc := &routev3.RouteConfiguration{}
			if !unpack(a, rc) {
				continue
			}
			if rc.GetVhds() != nil {
				errs = append(errs, fmt.Errorf("route configuration %q: vhds: ADS must use DELTA_GRPC api_type when used as VHDS config source", rc.GetName()))
				continue
			}
			next.routes[rc.GetName()] = rc
		}
	case TypeEndpoint:
		if next.endpoints == nil {
			next.endpoints = map[string]*endpointv3.ClusterLoadAssignment{}
		}
		for _, a := range resp.GetResources() {
			cla := &endpointv3.ClusterLoadAssignment{}
			if unpack(a, cla) {
				next.endpoints[cla.GetClusterName()] = cla
			}
		}
	case TypeSecret:
		next.secretGen++
		if next.secrets == nil {
			next.secrets = map[string]*tlsv3.Secret{}
		}
		for _, a := range resp.GetResources() {
			sec := &tlsv3.Secret{}
			if unpack(a, sec) {
				next.secrets[sec.GetName()] = sec
			}
		}
	}
	return next, errors.Join(errs...)
}

// prune drops the resources of typeURL no longer subscribed to: Envoy
// forgets a route configuration, load assignment or secret with the last
// listener or cluster that named it.
func prune(s *resources, typeURL string, names []string) {
	keep := func(name string) bool { _, ok := slices.BinarySearch(names, name); return ok }
	switch typeURL {
	case TypeRoute:
		maps.DeleteFunc(s.routes, func(name string, _ *routev3.RouteConfiguration) bool { return !keep(name) })
	case TypeEndpoint:
		maps.DeleteFunc(s.endpoints, func(name string, _ *endpointv3.ClusterLoadAssignment) bool { return !keep(name) })
	case TypeSecret:
		maps.DeleteFunc(s.secrets, func(name string, _ *tlsv3.Secret) bool { return !keep(name) })
	}
}

func routeNames(s *resources) []string {
	set := map[string]bool{}
	for _, l := range s.listeners {
		for _, fc := range l.GetFilterChains() {
			if hcm, err := hcmOf(fc); err == nil && hcm.GetRds() != nil {
				set[hcm.GetRds().GetRouteConfigName()] = true
			}
		}
	}
	return sortedSet(set)
}

func edsNames(s *resources) []string {
	set := map[string]bool{}
	for name, cl := range s.clusters {
		if cl.GetType() == clusterv3.Cluster_EDS {
			if n := cl.GetEdsClusterConfig().GetServiceName(); n != "" {
				name = n
			}
			set[name] = true
		}
	}
	return sortedSet(set)
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
