package xdsload

import (
	"fmt"
	"slices"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/backend/translate"
)

// Gateway builds a synthetic gateway shaped like the translator's output:
// one HTTP listener, one route configuration with routes rules spread over
// ten virtual hosts, one EDS cluster per ten rules. Each route has a path
// prefix, a header match and a retry policy, about what a real rule costs.
// generation is part of every path, so successive generations differ in
// their routes (and only there).
func Gateway(routes, generation int) (*translate.Resources, error) {
	return GatewayHosts(routes, 10, generation)
}

// GatewayHosts is Gateway with the routes spread over hosts virtual hosts.
func GatewayHosts(routes, hosts, generation int) (*translate.Resources, error) {
	ads := &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	hcm, err := anypb.New(&hcmv3.HttpConnectionManager{
		StatPrefix:     "http",
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{RouteConfigName: "http", ConfigSource: ads}},
		HttpFilters:    []*hcmv3.HttpFilter{{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}}},
	})
	if err != nil {
		return nil, err
	}
	res := &translate.Resources{
		Listeners: []*listenerv3.Listener{{
			Name: "http",
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
			}}},
			FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
				Name: "envoy.filters.network.http_connection_manager", ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
			}}}},
		}},
	}
	vhosts := max(1, hosts)
	rc := &routev3.RouteConfiguration{Name: "http"}
	for v := range vhosts {
		rc.VirtualHosts = append(rc.VirtualHosts, &routev3.VirtualHost{
			Name:    fmt.Sprintf("host-%02d", v),
			Domains: []string{fmt.Sprintf("svc%02d.example.com", v)},
		})
	}
	clusters := max(1, routes/10)
	for i := range routes {
		vh := rc.VirtualHosts[i%vhosts]
		vh.Routes = append(vh.Routes, &routev3.Route{
			Name: fmt.Sprintf("rule/r%05d/0", i),
			Match: &routev3.RouteMatch{
				PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: fmt.Sprintf("/g%d/api/r%05d", generation, i)},
				Headers: []*routev3.HeaderMatcher{{
					Name: "x-tenant",
					HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{
						MatchPattern: &matcherv3.StringMatcher_Exact{Exact: fmt.Sprintf("tenant-%d", i%7)},
					}},
				}},
			},
			Action: &routev3.Route_Route{Route: &routev3.RouteAction{
				ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: fmt.Sprintf("upstream-%04d", i%clusters)},
				Timeout:          durationpb.New(5 * time.Second),
				RetryPolicy: &routev3.RetryPolicy{
					RetryOn:       "5xx,reset,connect-failure",
					PerTryTimeout: durationpb.New(time.Second),
				},
			}},
		})
	}
	res.Routes = []*routev3.RouteConfiguration{rc}
	for c := range clusters {
		name := fmt.Sprintf("upstream-%04d", c)
		res.Clusters = append(res.Clusters, &clusterv3.Cluster{
			Name:                 name,
			ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
			EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: ads},
			ConnectTimeout:       durationpb.New(time.Second),
		})
		la := &endpointv3.ClusterLoadAssignment{ClusterName: name, Endpoints: []*endpointv3.LocalityLbEndpoints{{}}}
		for e := range 3 {
			la.Endpoints[0].LbEndpoints = append(la.Endpoints[0].LbEndpoints, &endpointv3.LbEndpoint{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address: fmt.Sprintf("10.%d.%d.%d", c/250, c%250, e+1), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
					}}},
				}},
			})
		}
		res.Endpoints = append(res.Endpoints, la)
	}
	return res, nil
}

// EditRoute returns res with route i (of GatewayHosts' numbering) matching
// prefix instead, as the translator hands over a one-rule edit: a new
// route configuration and virtual host, every other message shared.
func EditRoute(res *translate.Resources, i int, prefix string) *translate.Resources {
	rc := res.Routes[0]
	v := i % len(rc.VirtualHosts)
	vh := proto.Clone(rc.VirtualHosts[v]).(*routev3.VirtualHost)
	r := vh.Routes[(i/len(rc.VirtualHosts))%len(vh.Routes)]
	r.Match.PathSpecifier = &routev3.RouteMatch_Prefix{Prefix: prefix}
	edited := &routev3.RouteConfiguration{Name: rc.Name, VirtualHosts: slices.Clone(rc.VirtualHosts)}
	edited.VirtualHosts[v] = vh
	out := *res
	out.Routes = []*routev3.RouteConfiguration{edited}
	return &out
}
