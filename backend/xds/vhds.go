package xds

// Virtual hosts delivered by VHDS over delta ADS.
//
// In state of the world, a route configuration is one resource: a one-rule
// edit of a gateway with ten thousand routes sends the whole megabyte to
// every proxy. Envoy can instead take the virtual hosts of a route
// configuration as resources of their own (VHDS), but only over incremental
// xDS: the route configuration carries a vhds config source (ADS here,
// which Envoy accepts only when its ADS stream is DELTA_GRPC) and no
// virtual hosts, and Envoy subscribes to type VirtualHost with an empty
// name list, so the server pushes every virtual host it has. Envoy files
// each one under the route configuration its name starts with
// ("<route configuration>/<virtual host>"), keys it by the VirtualHost's
// own name (which is why that name is the resource name too), and drops it
// when a removal names it. A route configuration with vhds stays warming
// until the first VHDS response, which the server always sends to a new
// wildcard subscription (see deltaResponse).
//
// Envoy's VHDS watch is per route configuration, and an empty response
// reaches only wildcard watches, so a route configuration without any
// virtual host warms until its initial fetch times out (15 s by default)
// and then answers 404, as it would anyway. A route configuration keeps
// the VHDS form when it has none: switching forms would put the whole
// configuration's virtual hosts next to those Envoy still holds from
// VHDS, which Envoy refuses as duplicate domains.
//
// With Options.VHDS, the snapshot keeps both forms: state-of-the-world
// streams, and so proxyless gRPC clients, which have no delta, get whole
// route configurations as before; delta streams get the VHDS form. Route
// configurations of API listeners stay whole in both.

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/protobuf/proto"
)

// VHDSResourceName is the name of virtual host vh of route configuration
// rc as a VHDS resource, and the name the virtual host carries in it.
func VHDSResourceName(rc, vh string) string { return rc + "/" + vh }

// vhdsForms are the resources a snapshot serves to delta streams instead of
// its own, by type: route configurations whose virtual hosts come by VHDS,
// and those virtual hosts.
type vhdsForms struct {
	types map[string]*typeResources
	// routeOf and hostOf remember the message each form was made from:
	// resources are immutable once handed over, so a translated message
	// seen again gets the very form made of it last time, and keeps its
	// encoding (newTypeResources compares items by identity).
	routeOf map[*routev3.RouteConfiguration]*routev3.RouteConfiguration
	hostOf  map[hostKey]*routev3.VirtualHost
}

type hostKey struct {
	rc string
	vh *routev3.VirtualHost
}

// vhdsConfigSource points VHDS at the ADS stream the route configuration
// came on.
var vhdsConfigSource = &corev3.ConfigSource{
	ResourceApiVersion:    corev3.ApiVersion_V3,
	ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
}

// buildVHDS makes the delta forms of the route configurations in byType,
// reusing those of prev (the forms being served, or nil).
func buildVHDS(version string, byType map[string][]types.Resource, prev *vhdsForms) (*vhdsForms, error) {
	apiRoutes := map[string]bool{}
	for _, r := range byType[resource.ListenerType] {
		if l, ok := r.(*listenerv3.Listener); ok {
			if name := apiListenerRoute(l); name != "" {
				apiRoutes[name] = true
			}
		}
	}
	f := &vhdsForms{
		types:   map[string]*typeResources{},
		routeOf: map[*routev3.RouteConfiguration]*routev3.RouteConfiguration{},
		hostOf:  map[hostKey]*routev3.VirtualHost{},
	}
	var routes, hosts []types.Resource
	for _, r := range byType[resource.RouteType] {
		rc, ok := r.(*routev3.RouteConfiguration)
		if !ok || apiRoutes[rc.GetName()] {
			routes = append(routes, r)
			continue
		}
		form := prev.route(rc)
		if form == nil {
			form = routeShell(rc, true)
			form.Vhds = &routev3.Vhds{ConfigSource: vhdsConfigSource}
		}
		f.routeOf[rc] = form
		routes = append(routes, form)
		for _, vh := range rc.GetVirtualHosts() {
			if strings.Contains(vh.GetName(), "/") {
				// Envoy takes what follows the last slash of the
				// resource name for the virtual host, the rest for
				// the route configuration.
				return nil, fmt.Errorf("vhds: route configuration %q: virtual host name %q contains a slash", rc.GetName(), vh.GetName())
			}
			k := hostKey{rc.GetName(), vh}
			h := prev.host(k)
			if h == nil {
				h = proto.Clone(vh).(*routev3.VirtualHost)
				h.Name = VHDSResourceName(rc.GetName(), vh.GetName())
			}
			f.hostOf[k] = h
			hosts = append(hosts, h)
		}
	}
	for _, typeURL := range []string{resource.RouteType, resource.VirtualHostType} {
		items := routes
		if typeURL == resource.VirtualHostType {
			items = hosts
		}
		var old *typeResources
		if prev != nil {
			old = prev.types[typeURL]
		}
		t, err := newTypeResources(typeURL, version, items, old, nil)
		if err != nil {
			f.release(prev)
			return nil, fmt.Errorf("vhds: %w", err)
		}
		f.types[typeURL] = t
	}
	return f, nil
}

func (f *vhdsForms) route(rc *routev3.RouteConfiguration) *routev3.RouteConfiguration {
	if f == nil {
		return nil
	}
	return f.routeOf[rc]
}

func (f *vhdsForms) host(k hostKey) *routev3.VirtualHost {
	if f == nil {
		return nil
	}
	return f.hostOf[k]
}

// release forgets the shared encodings of f's types that next does not
// serve.
func (f *vhdsForms) release(next *vhdsForms) {
	if f == nil {
		return
	}
	for typeURL, t := range f.types {
		if next == nil || next.types[typeURL] != t {
			t.release()
		}
	}
}

// Envoy files a virtual host under the route configuration its name starts
// with only if it holds a VHDS watch for that configuration at the time
// the virtual host arrives; one arriving earlier is acknowledged and
// dropped, and the server, believing it delivered, would never send it
// again. A watch exists from when Envoy accepts the route configuration,
// so a delta stream is sent the virtual hosts of the route configurations
// it subscribes to, and those of one it subscribes to later right after
// that route configuration (vhdsStreams, kept by routesSubscribed).
//
// go-control-plane's delta server gives every request of a stream the
// node of its first request, so the node identifies the stream.

// streamRoutes are the route configurations a delta stream subscribes to;
// gen changes with them.
type streamRoutes struct {
	names map[string]bool
	gen   string
}

// deltaAnswer is t.deltaResponse for a delta watch, which may have only
// some virtual hosts.
func (c *snapshotCache) deltaAnswer(t *typeResources, req *cache.DeltaRequest, sub cache.Subscription) *cache.DeltaPassthroughResponse {
	if req.GetTypeUrl() != resource.VirtualHostType {
		return t.deltaResponse(req, sub, nil, "")
	}
	routes := c.vhdsStreams[req.GetNode()]
	keep := func(name string) bool {
		i := strings.LastIndexByte(name, '/')
		return i > 0 && routes.names[name[:i]]
	}
	return t.deltaResponse(req, sub, keep, routes.gen)
}

// routesSubscribed records the route configurations the delta stream of
// node subscribes to, and when they changed, answers its parked virtual
// host watch with what that changes.
func (c *snapshotCache) routesSubscribed(g *group, node *corev3.Node, sub cache.Subscription) {
	routes := map[string]bool{}
	for name := range sub.SubscribedResources() {
		routes[name] = true
	}
	if maps.Equal(routes, c.vhdsStreams[node].names) {
		return
	}
	c.vhdsGen++
	c.vhdsStreams[node] = streamRoutes{names: routes, gen: strconv.FormatUint(c.vhdsGen, 10)}
	if g.snap == nil {
		return
	}
	t := g.snap.deltaType(resource.VirtualHostType)
	if t == nil {
		return
	}
	for id, w := range g.delta {
		if w.req.GetNode() != node || w.req.GetTypeUrl() != resource.VirtualHostType {
			continue
		}
		if resp := c.deltaAnswer(t, w.req, w.sub); resp != nil {
			c.sendDelta(w.ch, resp)
			delete(g.delta, id)
		}
	}
}

// forgetStream drops what vhdsStreams holds for a closed stream.
func (c *snapshotCache) forgetStream(node *corev3.Node) {
	c.mu.Lock()
	delete(c.vhdsStreams, node)
	c.mu.Unlock()
}

// streamEnd tells the cache of closed delta streams.
type streamEnd struct {
	serverv3.Callbacks
	cache *snapshotCache
}

func (s streamEnd) OnDeltaStreamClosed(id int64, node *corev3.Node) {
	s.cache.forgetStream(node)
	s.Callbacks.OnDeltaStreamClosed(id, node)
}
