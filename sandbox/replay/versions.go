package replay

import (
	"context"
	"fmt"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/replay"
	"github.com/routedeck/routedeck/backend/ruleset"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// Versions loads the compiled versions of a gateway; a ruleset.Loader
// provides them, from its bounded cache, to replays as to explain.
type Versions interface {
	Load(ctx context.Context, gateway string, v ruleset.Version) (*ruleset.Rules, error)
}

// version is one side of a replay, ready to run requests: the rules
// compiled for the reference evaluator and, unless the replay runs the
// evaluator alone, the translated configuration compiled by the
// simulated Envoy.
type version struct {
	ref    replay.Ref
	number int64 // the published version; 0 for the draft
	ws     model.Workspace
	gw     *model.Gateway
	rules  *hostIndex
	// plain and tls route requests that arrive over HTTP and HTTPS;
	// either may stand in for the other when the gateway has only one
	// kind of listener.
	plain, tls *sim.Router
}

// loadVersion loads the version of the gateway that ref names, for the
// side of the request ("from" or "to"). An unknown gateway is ENOTFOUND;
// a version that does not exist, or live on a gateway never published,
// is a problem on side.
func loadVersion(ctx context.Context, vs Versions, gateway string, ref replay.Ref, side string) (*ruleset.Rules, error) {
	v := ruleset.Published(ref.Version)
	switch {
	case ref.Draft:
		v = ruleset.Draft
	case ref.Version == 0:
		v = ruleset.Live
	}
	rs, err := vs.Load(ctx, gateway, v)
	if model.ErrorCode(err) == model.EINVALID {
		var p model.Problems
		for _, f := range model.ErrorFields(err) {
			p.Add(side, "%s", f.Message)
		}
		return nil, p.Err()
	}
	return rs, err
}

// prepare compiles a version's rules by host and, with withSim,
// translates it and compiles the translation the way the simulated
// Envoy does when it receives it over ADS. ws is shared (a loaded
// version's) and is not changed.
func prepare(ref replay.Ref, number int64, ws model.Workspace, gateway string, withSim bool) (*version, error) {
	v := &version{ref: ref, number: number, ws: ws, rules: newHostIndex(ws.Routes, gateway)}
	for i := range ws.Gateways {
		if ws.Gateways[i].Name == gateway {
			v.gw = &ws.Gateways[i]
		}
	}
	if v.gw == nil {
		return nil, model.Errorf(model.ENOTFOUND, "gateway %q is not in version %s", gateway, ref)
	}
	if !withSim {
		return v, nil
	}
	res, err := translate.Gateway(ws, gateway, translate.Options{})
	if err != nil {
		return nil, fmt.Errorf("version %s of gateway %q does not translate: %w", ref, gateway, err)
	}
	if v.plain, v.tls, err = routers(res); err != nil {
		return nil, fmt.Errorf("the simulated Envoy refuses version %s of gateway %q: %w", ref, gateway, err)
	}
	return v, nil
}

// routers compiles the route configuration for the listeners of res with
// each listener's connection manager options, as the simulated Envoy's
// data plane does: the router of the first plain and of the first TLS
// listener.
func routers(res *translate.Resources) (plain, tls *sim.Router, err error) {
	routes := map[string]*routev3.RouteConfiguration{}
	for _, rc := range res.Routes {
		routes[rc.GetName()] = rc
	}
	clusters := make(map[string]*clusterv3.Cluster, len(res.Clusters))
	for _, c := range res.Clusters {
		clusters[c.GetName()] = c
	}
	for _, l := range res.Listeners {
		if len(l.GetFilterChains()) == 0 {
			continue
		}
		fc := l.GetFilterChains()[0]
		isTLS := fc.GetTransportSocket() != nil
		if isTLS && tls != nil || !isTLS && plain != nil {
			continue
		}
		h, err := connectionManager(fc)
		if err != nil {
			return nil, nil, fmt.Errorf("listener %q: %w", l.GetName(), err)
		}
		rc := h.GetRouteConfig()
		if rds := h.GetRds(); rds != nil {
			rc = routes[rds.GetRouteConfigName()]
		}
		if rc == nil {
			return nil, nil, fmt.Errorf("listener %q: no route configuration", l.GetName())
		}
		r, err := sim.New(rc, sim.Options{
			StripAnyHostPort:      h.GetStripAnyHostPort(),
			StripMatchingHostPort: h.GetStripMatchingHostPort(),
			ListenerPort:          l.GetAddress().GetSocketAddress().GetPortValue(),
			NormalizePath:         h.GetNormalizePath().GetValue(),
			MergeSlashes:          h.GetMergeSlashes(),
			Clusters:              clusters,
		})
		if err != nil {
			return nil, nil, err
		}
		if isTLS {
			tls = r
		} else {
			plain = r
		}
	}
	if plain == nil && tls == nil {
		return nil, nil, fmt.Errorf("no HTTP listener")
	}
	return plain, tls, nil
}

const hcmType = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"

func connectionManager(fc *listenerv3.FilterChain) (*hcmv3.HttpConnectionManager, error) {
	for _, f := range fc.GetFilters() {
		if f.GetTypedConfig().GetTypeUrl() != hcmType {
			continue
		}
		h := &hcmv3.HttpConnectionManager{}
		if err := f.GetTypedConfig().UnmarshalTo(h); err != nil {
			return nil, fmt.Errorf("filter %q: %w", f.GetName(), err)
		}
		return h, nil
	}
	return nil, fmt.Errorf("no http_connection_manager")
}

// router is the compiled configuration a request of scheme reaches.
func (v *version) router(scheme string) *sim.Router {
	if strings.EqualFold(scheme, "https") && v.tls != nil || v.plain == nil {
		return v.tls
	}
	return v.plain
}
