package sim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// FromBootstrap reads what an Envoy started with b would use to reach its
// management server: the node, the ADS cluster's hosts (the first in ADS,
// the others in ADSAlternates) and, when that
// cluster has an UpstreamTlsContext, its client certificate and trust from
// the SDS files it names, as Envoy reads them. Like Envoy watching those
// files, the returned TLS configuration reads the certificate, key and
// trust bundle again on every connection, so a rotated certificate is used
// on the next reconnect without a restart.
func FromBootstrap(b *bootstrapv3.Bootstrap) (DataPlaneOptions, error) {
	opts := DataPlaneOptions{NodeID: b.GetNode().GetId(), Cluster: b.GetNode().GetCluster()}
	services := b.GetDynamicResources().GetAdsConfig().GetGrpcServices()
	if len(services) == 0 || services[0].GetEnvoyGrpc() == nil {
		return opts, errors.New("sim bootstrap: no ADS envoy_grpc service")
	}
	name := services[0].GetEnvoyGrpc().GetClusterName()
	var c *clusterv3.Cluster
	for _, sc := range b.GetStaticResources().GetClusters() {
		if sc.GetName() == name {
			c = sc
		}
	}
	if c == nil {
		return opts, fmt.Errorf("sim bootstrap: no static cluster %q for ADS", name)
	}
	var hosts []string
	for _, loc := range c.GetLoadAssignment().GetEndpoints() {
		for _, lb := range loc.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			hosts = append(hosts, net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))))
		}
	}
	if len(hosts) == 0 {
		return opts, fmt.Errorf("sim bootstrap: cluster %q has no endpoint", name)
	}
	opts.ADS, opts.ADSAlternates = hosts[0], hosts[1:]
	opts.Delta = b.GetDynamicResources().GetAdsConfig().GetApiType() == corev3.ApiConfigSource_DELTA_GRPC
	opts.ADSClusterName = name

	ts := c.GetTransportSocket()
	if ts == nil {
		return opts, nil
	}
	upstream := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(upstream); err != nil {
		return opts, fmt.Errorf("sim bootstrap: ADS transport socket: %w", err)
	}
	common := upstream.GetCommonTlsContext()
	if len(common.GetTlsCertificateSdsSecretConfigs()) != 1 || common.GetValidationContextSdsSecretConfig() == nil {
		return opts, errors.New("sim bootstrap: the ADS cluster's TLS must take one certificate and its validation context from SDS files")
	}
	certSecret, err := readSDSFile(common.GetTlsCertificateSdsSecretConfigs()[0])
	if err != nil {
		return opts, err
	}
	trustSecret, err := readSDSFile(common.GetValidationContextSdsSecretConfig())
	if err != nil {
		return opts, err
	}
	certFile := certSecret.GetTlsCertificate().GetCertificateChain().GetFilename()
	keyFile := certSecret.GetTlsCertificate().GetPrivateKey().GetFilename()
	caFile := trustSecret.GetValidationContext().GetTrustedCa().GetFilename()
	if certFile == "" || keyFile == "" || caFile == "" {
		return opts, errors.New("sim bootstrap: the SDS secrets must name the certificate, key and CA files")
	}
	var uris []string
	for _, m := range trustSecret.GetValidationContext().GetMatchTypedSubjectAltNames() {
		if m.GetSanType() == tlsv3.SubjectAltNameMatcher_URI && m.GetMatcher().GetExact() != "" {
			uris = append(uris, m.GetMatcher().GetExact())
		}
	}
	opts.TLS = &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: upstream.GetSni(),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			kp, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("ADS client certificate: %w", err)
			}
			return &kp, nil
		},
		// Envoy checks the chain against trusted_ca and the SANs against
		// the matchers, not the host name; so does this.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyADSServer(cs.PeerCertificates, caFile, uris)
		},
	}
	return opts, nil
}

func readSDSFile(sc *tlsv3.SdsSecretConfig) (*tlsv3.Secret, error) {
	path := sc.GetSdsConfig().GetPathConfigSource().GetPath()
	if path == "" {
		return nil, fmt.Errorf("sim bootstrap: secret %q does not come from an SDS file", sc.GetName())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim bootstrap: %w", err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("sim bootstrap: %s: %w", path, err)
	}
	resp := &discovery.DiscoveryResponse{}
	if err := protojson.Unmarshal(js, resp); err != nil {
		return nil, fmt.Errorf("sim bootstrap: %s: %w", path, err)
	}
	for _, a := range resp.GetResources() {
		s := &tlsv3.Secret{}
		if a.UnmarshalTo(s) == nil && s.GetName() == sc.GetName() {
			return s, nil
		}
	}
	return nil, fmt.Errorf("sim bootstrap: %s has no secret %q", path, sc.GetName())
}

func verifyADSServer(peer []*x509.Certificate, caFile string, uris []string) error {
	if len(peer) == 0 {
		return errors.New("ADS server sent no certificate")
	}
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("ADS trust bundle: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return fmt.Errorf("ADS trust bundle %s holds no certificate", caFile)
	}
	inter := x509.NewCertPool()
	for _, c := range peer[1:] {
		inter.AddCert(c)
	}
	if _, err := peer[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("ADS server certificate: %w", err)
	}
	if len(uris) == 0 {
		return nil
	}
	for _, u := range peer[0].URIs {
		for _, want := range uris {
			if u.String() == want {
				return nil
			}
		}
	}
	return fmt.Errorf("ADS server certificate matches none of %v", uris)
}
