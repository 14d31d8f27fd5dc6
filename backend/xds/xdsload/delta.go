package xdsload

import (
	"context"
	"fmt"
	"maps"
	"slices"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
)

// StartDelta is Start with clients that speak incremental xDS, as an Envoy
// whose bootstrap's ADS api_type is DELTA_GRPC: clusters and listeners by
// wildcard, load assignments and route configurations by name, and, once
// a route configuration takes its virtual hosts from VHDS, virtual hosts
// by wildcard. Resources are decoded as the state-of-the-world clients
// decode them. Each client keeps the resources it holds, ACKs every
// response by its nonce, and counts as having acknowledged a type at the
// response's system_version_info.
func StartDelta(ctx context.Context, addr, gateway, prefix string, n int) (*Fleet, error) {
	return start(ctx, addr, gateway, prefix, n, nil, true)
}

// deltaHeld is what one delta client holds: for clusters and listeners,
// the names each refers to; for the types subscribed to by name, the
// names.
type deltaHeld struct {
	refs map[string]map[string][]string // type -> resource -> names it refers to
	subs map[string][]string            // type -> subscribed names, sorted
	vhds bool                           // subscribed to virtual hosts
}

func (f *Fleet) runDelta(ctx context.Context, conn *grpc.ClientConn, node *corev3.Node, c *client) error {
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open delta stream: %w", err)
	}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ClusterType, Node: node}); err != nil {
		return fmt.Errorf("subscribe %s: %w", resource.ClusterType, err)
	}
	if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.ListenerType}); err != nil {
		return fmt.Errorf("subscribe %s: %w", resource.ListenerType, err)
	}
	h := &deltaHeld{refs: map[string]map[string][]string{resource.ClusterType: {}, resource.ListenerType: {}}, subs: map[string][]string{}}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		vhds, err := h.apply(resp)
		if err != nil {
			return fmt.Errorf("%s version %s: %w", resp.TypeUrl, resp.SystemVersionInfo, err)
		}
		if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resp.TypeUrl, ResponseNonce: resp.Nonce}); err != nil {
			return fmt.Errorf("ack %s: %w", resp.TypeUrl, err)
		}
		// As Envoy does, the names a response brings are subscribed to
		// after its ACK, and VHDS starts with the first route
		// configuration that asks for it.
		if dep := dependent[resp.TypeUrl]; dep != "" {
			names := h.names(resp.TypeUrl)
			if req := diff(dep, h.subs[dep], names); req != nil {
				h.subs[dep] = names
				if err := stream.Send(req); err != nil {
					return fmt.Errorf("subscribe %s: %w", dep, err)
				}
			}
		}
		if vhds && !h.vhds {
			h.vhds = true
			if err := stream.Send(&discovery.DeltaDiscoveryRequest{TypeUrl: resource.VirtualHostType}); err != nil {
				return fmt.Errorf("subscribe %s: %w", resource.VirtualHostType, err)
			}
		}
		f.mu.Lock()
		if prev, ok := c.acked[resp.TypeUrl]; ok {
			f.acked[resp.TypeUrl][prev]--
		}
		c.acked[resp.TypeUrl] = resp.SystemVersionInfo
		if f.acked[resp.TypeUrl] == nil {
			f.acked[resp.TypeUrl] = map[string]int{}
		}
		f.acked[resp.TypeUrl][resp.SystemVersionInfo]++
		f.mu.Unlock()
		f.changed.Broadcast()
	}
}

// apply decodes resp's resources and takes its removals, and reports
// whether a route configuration in it has a vhds config source.
func (h *deltaHeld) apply(resp *discovery.DeltaDiscoveryResponse) (vhds bool, err error) {
	refs := h.refs[resp.TypeUrl]
	for _, name := range resp.RemovedResources {
		delete(refs, name)
	}
	for _, r := range resp.Resources {
		a := r.GetResource()
		if a.GetTypeUrl() != resp.TypeUrl {
			return false, fmt.Errorf("resource %q of type %s in the response", r.GetName(), a.GetTypeUrl())
		}
		switch resp.TypeUrl {
		case resource.ClusterType:
			var cl clusterv3.Cluster
			if err := a.UnmarshalTo(&cl); err != nil {
				return false, err
			}
			refs[r.GetName()] = nil
			if cl.GetType() == clusterv3.Cluster_EDS {
				name := cl.GetEdsClusterConfig().GetServiceName()
				if name == "" {
					name = cl.GetName()
				}
				refs[r.GetName()] = []string{name}
			}
		case resource.ListenerType:
			var l listenerv3.Listener
			if err := a.UnmarshalTo(&l); err != nil {
				return false, err
			}
			names := map[string]bool{}
			if err := listenerRoutes(&l, names); err != nil {
				return false, fmt.Errorf("listener %s: %w", l.GetName(), err)
			}
			refs[r.GetName()] = slices.Sorted(maps.Keys(names))
		case resource.RouteType:
			// The whole configuration, unlike the state-of-the-world
			// client: with VHDS it holds no virtual hosts.
			var rc routev3.RouteConfiguration
			if err := a.UnmarshalTo(&rc); err != nil {
				return false, err
			}
			vhds = vhds || rc.GetVhds() != nil
		case resource.EndpointType:
			var cla endpointv3.ClusterLoadAssignment
			if err := a.UnmarshalTo(&cla); err != nil {
				return false, err
			}
		case resource.VirtualHostType:
			// As far as its name, as the state-of-the-world client
			// reads a route configuration (see decode); name is
			// field 1 of both.
			name, err := routeConfigName(a.Value)
			if err != nil {
				return false, err
			}
			if name != r.GetName() {
				return false, fmt.Errorf("virtual host %q sent as %q", name, r.GetName())
			}
		}
	}
	return vhds, nil
}

// names returns the sorted names the held resources of typeURL refer to.
func (h *deltaHeld) names(typeURL string) []string {
	set := map[string]bool{}
	for _, names := range h.refs[typeURL] {
		for _, n := range names {
			set[n] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// diff returns the request that moves a subscription of typeURL from old
// to names, or nil when they are the same. A first subscription to no
// names is not sent: it would read as a wildcard.
func diff(typeURL string, old, names []string) *discovery.DeltaDiscoveryRequest {
	req := &discovery.DeltaDiscoveryRequest{TypeUrl: typeURL}
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
	return req
}
