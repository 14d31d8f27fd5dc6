package xds

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
)

// sdsReferences collects the names of the secrets that listeners (their
// filter chains' TLS contexts) and clusters (their upstream TLS contexts)
// fetch over SDS from this ADS stream. go-control-plane's
// GetResourceReferences does not follow transport sockets, so without this
// a snapshot could name a secret it lacks, and Envoy would keep the
// listener warming, or the cluster unable to connect, forever.
func sdsReferences(byType map[string][]types.Resource, out map[string]bool) {
	for _, r := range byType[resource.ListenerType] {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			continue
		}
		chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
		for _, fc := range chains {
			ctx := &tlsv3.DownstreamTlsContext{}
			if unpackTLS(fc.GetTransportSocket(), ctx) {
				commonTLSReferences(ctx.GetCommonTlsContext(), out)
			}
		}
	}
	for _, r := range byType[resource.ClusterType] {
		c, ok := r.(*clusterv3.Cluster)
		if !ok {
			continue
		}
		sockets := []*corev3.TransportSocket{c.GetTransportSocket()}
		for _, m := range c.GetTransportSocketMatches() {
			sockets = append(sockets, m.GetTransportSocket())
		}
		for _, ts := range sockets {
			ctx := &tlsv3.UpstreamTlsContext{}
			if unpackTLS(ts, ctx) {
				commonTLSReferences(ctx.GetCommonTlsContext(), out)
			}
		}
	}
}

// unpackTLS decodes ts's typed config into ctx when it is one.
func unpackTLS(ts *corev3.TransportSocket, ctx proto.Message) bool {
	cfg := ts.GetTypedConfig()
	if cfg == nil {
		return false
	}
	return cfg.MessageIs(ctx) && cfg.UnmarshalTo(ctx) == nil
}

// commonTLSReferences adds the SDS secrets a TLS context names, counting
// only those served over ADS (a secret from another SDS server is not the
// snapshot's to provide).
func commonTLSReferences(c *tlsv3.CommonTlsContext, out map[string]bool) {
	add := func(sc *tlsv3.SdsSecretConfig) {
		if sc != nil && sc.GetName() != "" && (sc.GetSdsConfig() == nil || sc.GetSdsConfig().GetAds() != nil) {
			out[sc.GetName()] = true
		}
	}
	for _, sc := range c.GetTlsCertificateSdsSecretConfigs() {
		add(sc)
	}
	add(c.GetValidationContextSdsSecretConfig())
	add(c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig())
}
