package sim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// TypeVirtualHost is the resource type of VHDS.
const TypeVirtualHost = "type.googleapis.com/envoy.config.route.v3.VirtualHost"

// deltaTypes are the types of a delta stream, in the order their
// subscriptions are sent again on a new stream (Envoy keeps the order in
// which it first subscribed: VHDS starts only once a route configuration
// asks for it, so it comes after RDS).
var deltaTypes = []string{TypeListener, TypeCluster, TypeEndpoint, TypeSecret, TypeRoute, TypeVirtualHost}

// vhdsState is what the data plane holds of VHDS, by route configuration:
// Envoy keeps a route configuration as it came by RDS, the virtual hosts
// VHDS gave it (keyed by the VirtualHost's own name, removed by resource
// name), and serves the two merged.
type vhdsState struct {
	// rds holds the route configurations with a vhds config source as
	// received; routes holds what they are merged into.
	rds map[string]*routev3.RouteConfiguration
	// hosts holds the virtual hosts of each of them.
	hosts map[string]map[string]*routev3.VirtualHost
	// ready names those whose first VHDS update arrived: until then the
	// route configuration warms, and listeners naming it wait.
	ready map[string]bool
}

func (v vhdsState) clone() vhdsState {
	return vhdsState{rds: maps.Clone(v.rds), hosts: maps.Clone(v.hosts), ready: maps.Clone(v.ready)}
}

// deltaStream runs one incremental ADS stream, as an Envoy whose
// bootstrap's ADS api_type is DELTA_GRPC: listeners and clusters by
// wildcard, route configurations, load assignments and secrets by name
// as the resources naming them arrive, and virtual hosts (VHDS) by
// wildcard once a route configuration has a vhds config source. On a new
// stream it tells the server the versions of what it holds, so only what
// changed is sent again.
func (c *adsClient) deltaStream(ctx context.Context, addr string) error {
	conn, err := c.dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(sctx)
	if err != nil {
		return fmt.Errorf("open delta ADS stream: %w", err)
	}
	c.mu.Lock()
	state := c.state.clone()
	c.mu.Unlock()

	// subscribed holds the names each type subscribes to; nil is a
	// wildcard subscription, absent is none yet.
	subscribed := map[string][]string{}
	first := true
	send := func(req *discovery.DeltaDiscoveryRequest) error {
		if first {
			req.Node = c.node
			first = false
		}
		return st.Send(req)
	}
	subscribe := func(typeURL string, names []string) error {
		old, had := subscribed[typeURL]
		req := &discovery.DeltaDiscoveryRequest{TypeUrl: typeURL}
		if !had {
			req.ResourceNamesSubscribe = names
			// What the data plane holds of this type, from an
			// earlier stream.
			if vs := state.resourceVersions[typeURL]; len(vs) > 0 {
				req.InitialResourceVersions = maps.Clone(vs)
			}
		} else {
			for _, n := range names {
				if _, ok := slices.BinarySearch(old, n); !ok {
					req.ResourceNamesSubscribe = append(req.ResourceNamesSubscribe, n)
				}
			}
			for _, n := range old {
				if _, ok := slices.BinarySearch(names, n); !ok {
					req.ResourceNamesUnsubscribe = append(req.ResourceNamesUnsubscribe, n)
				}
			}
			if len(req.ResourceNamesSubscribe) == 0 && len(req.ResourceNamesUnsubscribe) == 0 {
				return nil
			}
		}
		subscribed[typeURL] = names
		return send(req)
	}
	// resubscribe follows the names the accepted resources depend on,
	// forgetting what is no longer subscribed to, as Envoy drops a
	// resource with its last watch.
	resubscribe := func() error {
		want := map[string][]string{TypeRoute: routeNames(state), TypeEndpoint: edsNames(state), TypeSecret: sdsNames(state)}
		pruned := false
		for _, t := range []string{TypeEndpoint, TypeSecret, TypeRoute} {
			names := want[t]
			if _, had := subscribed[t]; !had && len(names) == 0 {
				continue // an empty first request would be a wildcard
			}
			if slices.Equal(subscribed[t], names) {
				continue
			}
			if !pruned {
				state = state.clone()
				pruned = true
			}
			prune(state, t, names)
			pruneVersions(state, t, names)
			if err := subscribe(t, names); err != nil {
				return err
			}
		}
		if _, had := subscribed[TypeVirtualHost]; !had && len(state.vhds.rds) > 0 {
			if err := subscribe(TypeVirtualHost, nil); err != nil {
				return err
			}
		}
		if pruned {
			c.mu.Lock()
			c.state = state.clone()
			c.mu.Unlock()
		}
		return nil
	}
	if err := subscribe(TypeListener, nil); err != nil {
		return err
	}
	if err := subscribe(TypeCluster, nil); err != nil {
		return err
	}
	if err := resubscribe(); err != nil {
		return err
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return err
		}
		typeURL := resp.GetTypeUrl()
		if _, ok := subscribed[typeURL]; !ok {
			continue
		}
		next, err := decodeDelta(state, resp)
		if err == nil {
			// A virtual host is checked as part of its route
			// configuration, which is what Envoy builds again.
			checkAs := typeURL
			if typeURL == TypeVirtualHost {
				checkAs = TypeRoute
			}
			err = c.check(checkAs, next)
		}
		if err != nil {
			c.log.Warn("sim: NACK", "type", typeURL, "version", resp.GetSystemVersionInfo(), "err", err)
			if c.nack != nil {
				c.nack(Nack{TypeURL: typeURL, Version: resp.GetSystemVersionInfo(), Error: err.Error(), At: time.Now()})
			}
			if err := send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeURL, ResponseNonce: resp.GetNonce(),
				ErrorDetail: &status.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}}); err != nil {
				return err
			}
			continue
		}
		next.versions[typeURL] = resp.GetSystemVersionInfo()
		state = next
		c.mu.Lock()
		c.state = state.clone()
		c.mu.Unlock()
		c.apply(state)
		if err := send(&discovery.DeltaDiscoveryRequest{TypeUrl: typeURL, ResponseNonce: resp.GetNonce()}); err != nil {
			return err
		}
		if err := resubscribe(); err != nil {
			return err
		}
	}
}

// decodeDelta returns the state with resp's additions and removals
// applied.
func decodeDelta(prev *resources, resp *discovery.DeltaDiscoveryResponse) (*resources, error) {
	next := prev.clone()
	typeURL := resp.GetTypeUrl()
	versions := maps.Clone(next.resourceVersions[typeURL])
	if versions == nil {
		versions = map[string]string{}
	}
	next.resourceVersions = maps.Clone(next.resourceVersions)
	if next.resourceVersions == nil {
		next.resourceVersions = map[string]map[string]string{}
	}
	next.resourceVersions[typeURL] = versions
	var errs []error
	unpack := func(r *discovery.Resource, m proto.Message) bool {
		a := r.GetResource()
		if a == nil {
			// A name the server could not resolve; nothing to add.
			return false
		}
		if err := a.UnmarshalTo(m); err != nil {
			errs = append(errs, fmt.Errorf("resource %q of type %s: %w", r.GetName(), a.GetTypeUrl(), err))
			return false
		}
		return true
	}
	// Envoy records the version of everything a response brings, even
	// what no watch takes, and reports it on its next stream.
	for _, r := range resp.GetResources() {
		versions[r.GetName()] = r.GetVersion()
	}
	for _, name := range resp.GetRemovedResources() {
		delete(versions, name)
	}
	switch typeURL {
	case TypeListener:
		next.listeners = maps.Clone(next.listeners)
		if next.listeners == nil {
			next.listeners = map[string]*listenerv3.Listener{}
		}
		for _, r := range resp.GetResources() {
			l := &listenerv3.Listener{}
			if unpack(r, l) {
				next.listeners[r.GetName()] = l
			}
		}
		for _, name := range resp.GetRemovedResources() {
			delete(next.listeners, name)
		}
	case TypeCluster:
		next.clusterGen++
		next.clusters = maps.Clone(next.clusters)
		if next.clusters == nil {
			next.clusters = map[string]*clusterv3.Cluster{}
		}
		for _, r := range resp.GetResources() {
			cl := &clusterv3.Cluster{}
			if unpack(r, cl) {
				next.clusters[r.GetName()] = cl
			}
		}
		for _, name := range resp.GetRemovedResources() {
			delete(next.clusters, name)
		}
	case TypeRoute:
		for _, r := range resp.GetResources() {
			rc := &routev3.RouteConfiguration{}
			if !unpack(r, rc) {
				continue
			}
			if rc.GetVhds() != nil && rc.GetVhds().GetConfigSource().GetAds() == nil {
				// Envoy could open a stream of its own for it; the
				// simulator has the ADS stream only.
				errs = append(errs, fmt.Errorf("route configuration %q: vhds: the simulator takes virtual hosts from ADS only", rc.GetName()))
				continue
			}
			setRouteConfiguration(next, r.GetName(), rc)
		}
		for _, name := range resp.GetRemovedResources() {
			setRouteConfiguration(next, name, nil)
		}
	case TypeEndpoint:
		if next.endpoints == nil {
			next.endpoints = map[string]*endpointv3.ClusterLoadAssignment{}
		}
		for _, r := range resp.GetResources() {
			cla := &endpointv3.ClusterLoadAssignment{}
			if unpack(r, cla) {
				next.endpoints[r.GetName()] = cla
			}
		}
		for _, name := range resp.GetRemovedResources() {
			delete(next.endpoints, name)
		}
	case TypeSecret:
		next.secretGen++
		if next.secrets == nil {
			next.secrets = map[string]*tlsv3.Secret{}
		}
		for _, r := range resp.GetResources() {
			sec := &tlsv3.Secret{}
			if unpack(r, sec) {
				next.secrets[r.GetName()] = sec
			}
		}
		for _, name := range resp.GetRemovedResources() {
			delete(next.secrets, name)
		}
	case TypeVirtualHost:
		decodeVirtualHosts(next, resp, unpack)
	}
	return next, errors.Join(errs...)
}

// setRouteConfiguration installs rc (nil: removes it) under name.
func setRouteConfiguration(s *resources, name string, rc *routev3.RouteConfiguration) {
	if s.routes == nil {
		s.routes = map[string]*routev3.RouteConfiguration{}
	}
	if rc == nil || rc.GetVhds() == nil {
		if rc == nil {
			delete(s.routes, name)
		} else {
			s.routes[name] = rc
		}
		// Envoy keeps the virtual hosts VHDS gave a route configuration
		// while it exists, even through an update without vhds.
		if _, had := s.vhds.rds[name]; had && rc != nil {
			s.vhds.rds[name] = rc
			mergeVirtualHosts(s, name)
		} else {
			dropVHDS(s, name)
		}
		return
	}
	if s.vhds.rds == nil {
		s.vhds = vhdsState{rds: map[string]*routev3.RouteConfiguration{}, hosts: map[string]map[string]*routev3.VirtualHost{}, ready: map[string]bool{}}
	}
	s.vhds.rds[name] = rc
	mergeVirtualHosts(s, name)
}

func dropVHDS(s *resources, name string) {
	if _, had := s.vhds.rds[name]; !had {
		return
	}
	delete(s.vhds.rds, name)
	delete(s.vhds.hosts, name)
	delete(s.vhds.ready, name)
}

// decodeVirtualHosts files each virtual host of resp under the route
// configuration its resource name starts with. Envoy hands a virtual host
// only to the VHDS watch of that route configuration, and drops one no
// watch asks for; a removal is applied by resource name.
func decodeVirtualHosts(s *resources, resp *discovery.DeltaDiscoveryResponse, unpack func(*discovery.Resource, proto.Message) bool) {
	touched := map[string]bool{}
	hostsOf := func(rc string) map[string]*routev3.VirtualHost {
		if !touched[rc] {
			touched[rc] = true
			s.vhds.hosts[rc] = maps.Clone(s.vhds.hosts[rc])
			if s.vhds.hosts[rc] == nil {
				s.vhds.hosts[rc] = map[string]*routev3.VirtualHost{}
			}
		}
		return s.vhds.hosts[rc]
	}
	for _, name := range resp.GetRemovedResources() {
		if rc, ok := vhdsNamespace(name); ok && s.vhds.rds[rc] != nil {
			delete(hostsOf(rc), name)
		}
	}
	for _, r := range resp.GetResources() {
		rc, ok := vhdsNamespace(r.GetName())
		if !ok || s.vhds.rds[rc] == nil {
			continue
		}
		vh := &routev3.VirtualHost{}
		if unpack(r, vh) {
			hostsOf(rc)[vh.GetName()] = vh
		} else {
			hostsOf(rc) // an unresolved name still ends the warming
		}
	}
	for rc := range touched {
		s.vhds.ready[rc] = true
		mergeVirtualHosts(s, rc)
	}
}

// vhdsNamespace returns the route configuration a VHDS resource name
// belongs to: all before its last slash.
func vhdsNamespace(name string) (string, bool) {
	i := strings.LastIndexByte(name, '/')
	return name[:max(i, 0)], i > 0
}

// mergeVirtualHosts makes the served route configuration name of its RDS
// form and its VHDS virtual hosts, each set in name order as Envoy keeps
// them; until its first VHDS update it is not served.
func mergeVirtualHosts(s *resources, name string) {
	rc := s.vhds.rds[name]
	if rc.GetVhds() != nil && !s.vhds.ready[name] {
		delete(s.routes, name)
		return
	}
	merged := proto.Clone(rc).(*routev3.RouteConfiguration)
	slices.SortStableFunc(merged.VirtualHosts, func(a, b *routev3.VirtualHost) int { return strings.Compare(a.GetName(), b.GetName()) })
	hosts := s.vhds.hosts[name]
	for _, k := range slices.Sorted(maps.Keys(hosts)) {
		merged.VirtualHosts = append(merged.VirtualHosts, hosts[k])
	}
	s.routes[name] = merged
}

// pruneVersions forgets the versions of the resources of typeURL no longer
// subscribed to.
func pruneVersions(s *resources, typeURL string, names []string) {
	vs := s.resourceVersions[typeURL]
	if len(vs) == 0 {
		return
	}
	keep := maps.Clone(vs)
	maps.DeleteFunc(keep, func(name, _ string) bool { _, ok := slices.BinarySearch(names, name); return !ok })
	s.resourceVersions = maps.Clone(s.resourceVersions)
	s.resourceVersions[typeURL] = keep
	if typeURL == TypeRoute {
		for rc := range s.vhds.rds {
			if _, ok := slices.BinarySearch(names, rc); !ok {
				dropVHDS(s, rc)
			}
		}
		if vh := s.resourceVersions[TypeVirtualHost]; len(vh) > 0 {
			kept := maps.Clone(vh)
			maps.DeleteFunc(kept, func(name, _ string) bool {
				rc, _ := vhdsNamespace(name)
				return s.vhds.rds[rc] == nil
			})
			s.resourceVersions[TypeVirtualHost] = kept
		}
	}
}
