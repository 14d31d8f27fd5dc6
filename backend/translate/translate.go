// Package translate turns a gateway's rules into Envoy v3 resources.
//
// CONTRACT: Gateway and Resources are what backend/xds and the sandbox code
// against; keep the signatures.
package translate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// Options tune one translation.
type Options struct {
	// Endpoints overrides an upstream's endpoints by upstream name, as
	// discovery (Kubernetes, Consul) or the sandbox's mock upstreams report
	// them. Upstreams not in the map use their static/DNS source.
	Endpoints map[string][]model.Endpoint
}

// Resources are a gateway's Envoy configuration, each list sorted by name.
type Resources struct {
	Listeners []*listenerv3.Listener
	Routes    []*routev3.RouteConfiguration
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	Secrets   []*tlsv3.Secret
}

// Gateway translates the named gateway of ws. Everything the model allows is
// either mapped or rejected with an EINVALID *model.Error naming the rule and
// condition; nothing is silently dropped. Every resource passes Validate().
func Gateway(ws model.Workspace, gateway string, opts Options) (*Resources, error) {
	panic("unimplemented")
}
