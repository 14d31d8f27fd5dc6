package session

import (
	"fmt"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// Upstream TLS in the sandbox. A mock cannot present the real upstream's
// certificate (the sandbox never holds its key), so the service makes a
// CA of its own, in memory, issues each TLS mock a certificate for the
// upstream's SNI and the mock's address, and in the sandbox's copy of the
// translated resources makes the gateway trust that CA where the draft
// trusts the upstream's. The handshake the gateway makes (SNI, ALPN,
// verification) is otherwise the draft's own, and what is published is
// untouched.

// mockAddress is where every mock listens; its certificate names it so a
// gateway that checks names against the address accepts it too.
const mockAddress = "127.0.0.1"

// sandboxCA returns the service's CA, made on first use.
func (s *Service) sandboxCA() (*upstream.CA, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ca == nil {
		ca, err := upstream.NewCA("routedeck sandbox CA")
		if err != nil {
			return nil, err
		}
		s.ca = ca
	}
	return s.ca, nil
}

// mockMode is how the mocks of u serve: h2 for http2 and grpc upstreams,
// and TLS, with a sandbox certificate, for upstreams the gateway reaches
// over TLS. An insecureSkipVerify upstream gets one too: the gateway
// accepts any.
func (s *Service) mockMode(u model.Upstream) (upstream.Mode, error) {
	mode := upstream.Mode{HTTP2: u.Protocol == model.UpstreamHTTP2 || u.Protocol == model.UpstreamGRPC}
	if u.TLS == nil {
		return mode, nil
	}
	ca, err := s.sandboxCA()
	if err != nil {
		return mode, err
	}
	names := []string{mockAddress}
	if u.TLS.SNI != "" {
		names = append(names, u.TLS.SNI)
	}
	cert, err := ca.Issue(names...)
	if err != nil {
		return mode, fmt.Errorf("sandbox certificate for upstream %q: %w", u.Name, err)
	}
	mode.TLS = cert
	return mode, nil
}

// trustSandboxCA returns res with every trusted CA of the clusters' TLS
// contexts replaced by caPEM: the content of the SDS validation secrets
// they name, and inline or file trust (the system bundle) in the cluster
// itself. Contexts without a validation context stay so: they accept any
// certificate. res is left alone; translated resources are shared.
func trustSandboxCA(res *translate.Resources, caPEM string) (*translate.Resources, error) {
	ca := &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: caPEM}}
	trust := func(vc *tlsv3.CertificateValidationContext) {
		vc.TrustedCa = proto.Clone(ca).(*corev3.DataSource)
		vc.SystemRootCerts = nil
	}
	out := *res
	out.Clusters = make([]*clusterv3.Cluster, len(res.Clusters))
	sds := map[string]bool{}
	for i, c := range res.Clusters {
		out.Clusters[i] = c
		ts := c.GetTransportSocket()
		ctx := &tlsv3.UpstreamTlsContext{}
		if ts == nil || !ts.GetTypedConfig().MessageIs(ctx) {
			continue
		}
		if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
			return nil, fmt.Errorf("cluster %q: transport socket: %w", c.GetName(), err)
		}
		common := ctx.GetCommonTlsContext()
		inline := false
		switch v := common.GetValidationContextType().(type) {
		case *tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig:
			sds[v.ValidationContextSdsSecretConfig.GetName()] = true
		case *tlsv3.CommonTlsContext_CombinedValidationContext:
			sds[v.CombinedValidationContext.GetValidationContextSdsSecretConfig().GetName()] = true
			if d := v.CombinedValidationContext.GetDefaultValidationContext(); d.GetTrustedCa() != nil || d.GetSystemRootCerts() != nil {
				trust(d)
				inline = true
			}
		case *tlsv3.CommonTlsContext_ValidationContext:
			if vc := v.ValidationContext; vc.GetTrustedCa() != nil || vc.GetSystemRootCerts() != nil {
				trust(vc)
				inline = true
			}
		}
		if !inline {
			continue
		}
		a, err := anypb.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: transport socket: %w", c.GetName(), err)
		}
		cc := proto.Clone(c).(*clusterv3.Cluster)
		cc.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: a}
		out.Clusters[i] = cc
	}
	out.Secrets = make([]*tlsv3.Secret, len(res.Secrets))
	for i, sec := range res.Secrets {
		out.Secrets[i] = sec
		if !sds[sec.GetName()] || sec.GetValidationContext() == nil {
			continue
		}
		sc := proto.Clone(sec).(*tlsv3.Secret)
		trust(sc.GetValidationContext())
		out.Secrets[i] = sc
	}
	return &out, nil
}
