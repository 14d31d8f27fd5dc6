// Package discovery finds the endpoints of upstreams: listed by hand
// (static), from Kubernetes EndpointSlices, or from Consul's health API.
//
// A Source watches one kind of upstream; the Manager runs one watch per
// upstream, remembers the last endpoints each reported and tells a callback
// when they change, which is how endpoint changes reach Envoy as EDS-only
// updates. When a source loses its backend (API server down, Consul agent
// gone) the manager keeps the last known endpoints and marks them stale:
// routing to yesterday's pods beats routing nowhere.
package discovery

import (
	"cmp"
	"context"
	"slices"

	"github.com/routedeck/routedeck/backend/model"
)

// Source kinds, as reported in Endpoint.Source.
const (
	SourceStatic     = "static"
	SourceDNS        = "dns"
	SourceKubernetes = "kubernetes"
	SourceConsul     = "consul"
)

// Endpoint is one discovered address of an upstream, in the shape of
// `GET /upstreams/{name}/endpoints` items.
type Endpoint struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	Weight  int    `json:"weight"`
	// Healthy says whether the endpoint is routed to: the source's
	// verdict (Kubernetes: ready; Consul: checks passing, or warning with a
	// weight), and true where no check runs. Unhealthy endpoints are
	// listed but not routed to.
	Healthy bool `json:"healthy"`
	// Health is what is known of the endpoint's health: HealthHealthy or
	// HealthUnhealthy when a check ran (a Kubernetes readiness probe, a
	// Consul check), HealthUnknown when none did (static and DNS
	// endpoints: nothing has shown that anything listens there).
	Health string `json:"health"`
	// Source is one of the Source* kinds.
	Source string `json:"source"`
	// Stale means the source could not be reached and this is the last
	// endpoint set it reported.
	Stale bool `json:"stale"`
}

// Health values of Endpoint.Health.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown"
)

// Update is what a Source reports for the upstream it watches.
type Update struct {
	// Endpoints is the complete current set. Ignored when Stale.
	Endpoints []Endpoint
	// Stale says the backend is unreachable: keep the endpoints reported
	// before and mark them stale. Err says why.
	Stale bool
	// Err explains a stale update, or why a fresh one is empty (service
	// not found, no such port).
	Err error
}

// A Source watches the endpoints of upstreams of one kind.
type Source interface {
	// Watch reports up's endpoints through report until ctx ends, then
	// returns nil; a source whose endpoints cannot change may return nil
	// after its one report instead (a parked goroutine per upstream costs
	// a stack each, thousands of them on a large gateway). The first report comes once the initial set is known
	// (or the backend is found unreachable). Reports for one watch may come
	// from several goroutines but never concurrently. Watch returns an
	// error only when up cannot be watched at all (it is not of this
	// source's kind, or its settings are incomplete); outages are reported
	// as stale updates and retried until ctx ends.
	Watch(ctx context.Context, up model.Upstream, report func(Update)) error
}

// SourceOf names the kind of source up takes its endpoints from, or ""
// when it has none.
func SourceOf(up model.Upstream) string {
	switch {
	case up.Static != nil:
		return SourceStatic
	case up.DNS != nil:
		return SourceDNS
	case up.Kubernetes != nil:
		return SourceKubernetes
	case up.Consul != nil:
		return SourceConsul
	}
	return ""
}

// SortEndpoints orders endpoints by address, then port, so reports compare
// equal when only the order in which the backend listed them differs.
func SortEndpoints(eps []Endpoint) {
	slices.SortFunc(eps, func(a, b Endpoint) int {
		if c := cmp.Compare(a.Address, b.Address); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
}

// Routable turns discovered endpoints into the model endpoints the
// translator takes (translate.Options.Endpoints): healthy ones only, stale
// or not, since the last known set is still the best guess.
func Routable(eps []Endpoint) []model.Endpoint {
	out := make([]model.Endpoint, 0, len(eps))
	for _, e := range eps {
		if !e.Healthy {
			continue
		}
		out = append(out, model.Endpoint{Address: e.Address, Port: e.Port, Weight: e.Weight})
	}
	return out
}
