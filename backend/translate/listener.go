package translate

import (
	"fmt"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsinspectorv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/routedeck/routedeck/backend/model"
)

// adsSource points a resource reference (RDS, EDS, SDS) back at the ADS
// stream the proxy already has.
func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
	}
}

// httpConnectionManager is the gateway's HTTP connection manager: the
// policies' filter chain (httpfilters.go) and the gateway's route
// configuration over RDS. Settings of the whole connection manager, such
// as access loggers, belong here.
func httpConnectionManager(gw *model.Gateway, rds string, filters []*hcmv3.HttpFilter, problems *model.Problems) *hcmv3.HttpConnectionManager {
	return &hcmv3.HttpConnectionManager{
		StatPrefix: gw.Name,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource:    adsSource(),
			RouteConfigName: rds,
		}},
		// No strip_any_host_port: the route configuration ignores the
		// port when matching hosts and leaves the Host header as sent.
		HttpFilters: filters,
		AccessLog:   accessLogs(gw, problems),
	}
}

// buildListeners makes one Listener per gateway listener. They route
// through the gateway's RouteConfiguration (named after the gateway), or
// through their own when a rule names them (own; see routeConfigName).
func buildListeners(gw *model.Gateway, parts filterParts, own map[string]bool) ([]*listenerv3.Listener, error) {
	var problems model.Problems
	filters, err := httpFilters(parts)
	if err != nil {
		return nil, err
	}
	hcms := map[string]*listenerv3.Filter{} // by route configuration name
	hcmFor := func(rds string) (*listenerv3.Filter, error) {
		if f := hcms[rds]; f != nil {
			return f, nil
		}
		var p model.Problems
		hcm, err := anyOf(httpConnectionManager(gw, rds, filters, &p))
		if err != nil {
			return nil, fmt.Errorf("http connection manager: %w", err)
		}
		if len(hcms) == 0 {
			// The connection managers differ only in their RDS name: the
			// access log problems are the same for each.
			problems.Merge("", p.Err())
		}
		f := &listenerv3.Filter{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcm},
		}
		hcms[rds] = f
		return f, nil
	}
	// The gateway's own first, so its problems are reported even when
	// every listener reads its own route configuration.
	if _, err := hcmFor(gw.Name); err != nil {
		return nil, err
	}

	var out []*listenerv3.Listener
	names, ports := map[string]bool{}, map[string]bool{}
	for i, l := range gw.Listeners {
		path := model.Index("listeners", i)
		if names[l.Name] {
			problems.Add(path+".name", "duplicate listener name %q", l.Name)
		}
		names[l.Name] = true
		addr := l.Address
		if addr == "" {
			addr = "0.0.0.0"
		}
		if key := fmt.Sprintf("%s:%d", addr, l.Port); ports[key] {
			problems.Add(path+".port", "another listener already uses %s", key)
		} else {
			ports[key] = true
		}
		if l.Port < 1 || l.Port > 65535 {
			problems.Add(path+".port", "must be between 1 and 65535")
		}
		hcmFilter, err := hcmFor(routeConfigName(gw.Name, l.Name, own))
		if err != nil {
			return nil, err
		}
		lis := &listenerv3.Listener{
			Name: l.Name,
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address:       addr,
				PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(max(l.Port, 0))},
			}}},
		}
		switch l.Protocol {
		case model.ProtocolHTTP:
			if l.TLS != nil {
				problems.Add(path+".tls", "an HTTP listener does not terminate TLS; use protocol HTTPS")
			}
			lis.FilterChains = []*listenerv3.FilterChain{{Name: l.Name, Filters: []*listenerv3.Filter{hcmFilter}}}
		case model.ProtocolHTTPS:
			chains, err := tlsFilterChains(l, hcmFilter)
			if err != nil {
				problems.Merge(path, err)
				continue
			}
			lis.FilterChains = chains
			inspector, err := anyOf(&tlsinspectorv3.TlsInspector{})
			if err != nil {
				return nil, err
			}
			lis.ListenerFilters = []*listenerv3.ListenerFilter{{
				Name:       "envoy.filters.listener.tls_inspector",
				ConfigType: &listenerv3.ListenerFilter_TypedConfig{TypedConfig: inspector},
			}}
		default:
			problems.Add(path+".protocol", "must be HTTP or HTTPS")
			continue
		}
		if err := lis.Validate(); err != nil {
			problems.Add(path, "envoy listener: %v", err)
		}
		out = append(out, lis)
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// tlsFilterChains picks the certificate by SNI: one filter chain per
// certificate with its hosts as server_names; a certificate without hosts is
// the default chain for clients that send no (or an unknown) SNI.
func tlsFilterChains(l model.Listener, hcm *listenerv3.Filter) ([]*listenerv3.FilterChain, error) {
	var problems model.Problems
	if l.TLS == nil || len(l.TLS.Certificates) == 0 {
		problems.Add("tls.certificates", "an HTTPS listener needs at least one certificate")
		return nil, problems.Err()
	}
	params := &tlsv3.TlsParameters{}
	switch l.TLS.MinVersion {
	case "":
	case "1.2":
		params.TlsMinimumProtocolVersion = tlsv3.TlsParameters_TLSv1_2
	case "1.3":
		params.TlsMinimumProtocolVersion = tlsv3.TlsParameters_TLSv1_3
	default:
		problems.Add("tls.minVersion", "must be 1.2 or 1.3")
	}
	var chains []*listenerv3.FilterChain
	seen := map[string]bool{}
	defaults := 0
	for i, c := range l.TLS.Certificates {
		path := model.Index("tls.certificates", i)
		if c.Secret == "" {
			problems.Add(path+".secret", "is required")
		}
		ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: c.Secret, SdsConfig: adsSource()}},
			// Without ALPN, Envoy's TLS listener offers no protocol and every
			// client falls back to HTTP/1.1, although the connection manager
			// (codec AUTO) speaks HTTP/2 too.
			AlpnProtocols: []string{"h2", "http/1.1"},
		}}
		if l.TLS.MinVersion != "" {
			ctx.CommonTlsContext.TlsParams = params
		}
		ts, err := anyOf(ctx)
		if err != nil {
			problems.Add(path, "%v", err)
			continue
		}
		chain := &listenerv3.FilterChain{
			Name:    l.Name + "/" + c.Secret,
			Filters: []*listenerv3.Filter{hcm},
			TransportSocket: &corev3.TransportSocket{
				Name:       "envoy.transport_sockets.tls",
				ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: ts},
			},
		}
		if len(c.Hosts) == 0 {
			defaults++
			if defaults > 1 {
				problems.Add(path+".hosts", "only one certificate may be the default (no hosts)")
			}
		} else {
			match := &listenerv3.FilterChainMatch{}
			for j, h := range c.Hosts {
				h = strings.ToLower(h)
				if seen[h] {
					problems.Add(model.Index(path+".hosts", j), "host %q is served by another certificate", h)
				}
				seen[h] = true
				match.ServerNames = append(match.ServerNames, h)
			}
			chain.FilterChainMatch = match
		}
		chains = append(chains, chain)
	}
	return chains, problems.Err()
}
