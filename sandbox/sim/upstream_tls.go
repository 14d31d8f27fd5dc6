package sim

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
)

// rawBufferType is the plaintext transport socket, the same as none.
const rawBufferType = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"

// upstreamTLS is a cluster's UpstreamTlsContext compiled into what the sim
// dials its endpoints with.
type upstreamTLS struct {
	conf *tls.Config
	// key identifies everything the handshake depends on (the context
	// and the content of the secrets it names), so a cluster's
	// connections are reused across configuration changes only while
	// nothing about its TLS changed.
	key string
	// timeout bounds the TCP connect and the handshake: the cluster's
	// connect_timeout.
	timeout time.Duration
}

// tlsHandshakeError is a failed TLS handshake with an upstream. Envoy
// raises a connection's connected event only after the handshake, so to
// retries and to the local reply it is a connection failure, with the TLS
// error as the transport failure reason.
type tlsHandshakeError struct{ err error }

func (e *tlsHandshakeError) Error() string { return "TLS error: " + e.err.Error() }
func (e *tlsHandshakeError) Unwrap() error { return e.err }

// connectTimeout is Envoy's default connect_timeout.
const connectTimeout = 5 * time.Second

// dialTLS connects to addr and completes the handshake with conf, both
// within timeout.
func dialTLS(parent context.Context, addr string, conf *tls.Config, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		switch {
		case parent.Err() != nil:
			// The request's own timeout or cancellation.
			return nil, parent.Err()
		case ctx.Err() != nil:
			// A handshake that outlasts the connect timeout is a
			// connect failure, as a slow TCP connect is.
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection timeout during the TLS handshake")}
		}
		return nil, &tlsHandshakeError{err: err}
	}
	return conn, nil
}

// dial is the cluster transport's DialTLSContext.
func (u *upstreamTLS) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	return dialTLS(ctx, addr, u.conf, u.timeout)
}

// dialHTTP1 dials for a websocket tunnel, which the sim speaks as
// HTTP/1.1 whatever the cluster's protocol, so it offers only that.
func (u *upstreamTLS) dialHTTP1(ctx context.Context, addr string) (net.Conn, error) {
	conf := u.conf.Clone()
	if len(conf.NextProtos) > 0 {
		conf.NextProtos = []string{"http/1.1"}
	}
	return dialTLS(ctx, addr, conf, u.timeout)
}

// clusterTLSContext decodes a cluster's transport socket: nil for none or
// a plaintext one.
func clusterTLSContext(c *clusterv3.Cluster) (*tlsv3.UpstreamTlsContext, error) {
	if len(c.GetTransportSocketMatches()) > 0 {
		return nil, errors.New("transport_socket_matches is not supported")
	}
	ts := c.GetTransportSocket()
	if ts == nil {
		return nil, nil
	}
	cfg := ts.GetTypedConfig()
	ctx := &tlsv3.UpstreamTlsContext{}
	switch {
	case cfg == nil:
		return nil, fmt.Errorf("transport socket %q has no typed_config", ts.GetName())
	case cfg.GetTypeUrl() == rawBufferType:
		return nil, nil
	case !cfg.MessageIs(ctx):
		return nil, fmt.Errorf("transport socket %q (%s) is not supported", ts.GetName(), cfg.GetTypeUrl())
	}
	if err := cfg.UnmarshalTo(ctx); err != nil {
		return nil, fmt.Errorf("transport socket %q: %w", ts.GetName(), err)
	}
	return ctx, nil
}

// buildUpstreamTLS compiles a cluster's UpstreamTlsContext the way Envoy
// uses it as a client: SNI only when sni is set; the server certificate
// verified only when the validation context has trusted CAs (and then its
// chain and subject alt name matchers, never the host name on its own);
// ALPN from alpn_protocols, else the protocol the cluster speaks; TLS 1.2
// as both the default minimum and maximum. missing lists SDS secrets that
// have not arrived: the cluster warms until they do.
func buildUpstreamTLS(ctx *tlsv3.UpstreamTlsContext, http2 bool, secrets map[string]*compiledSecret, src map[string]*tlsv3.Secret) (u *upstreamTLS, missing []string, err error) {
	switch {
	case ctx.GetAutoHostSni():
		return nil, nil, errors.New("auto_host_sni is not supported")
	case ctx.GetAutoSniSanValidation():
		return nil, nil, errors.New("auto_sni_san_validation is not supported")
	}
	common := ctx.GetCommonTlsContext()
	switch {
	case common.GetTlsCertificateProviderInstance() != nil || common.GetTlsCertificateCertificateProvider() != nil || common.GetTlsCertificateCertificateProviderInstance() != nil:
		return nil, nil, errors.New("certificate providers are not supported")
	case common.GetCustomTlsCertificateSelector() != nil:
		return nil, nil, errors.New("custom_tls_certificate_selector is not supported")
	case common.GetCustomHandshaker() != nil:
		return nil, nil, errors.New("custom_handshaker is not supported")
	case common.GetKeyLog() != nil:
		return nil, nil, errors.New("key_log is not supported")
	}
	// The key covers the context and, below, each secret it uses.
	h := sha256.New()
	ctxBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(ctx)
	if err != nil {
		return nil, nil, err
	}
	h.Write(ctxBytes)
	useSecret := func(name string) *compiledSecret {
		sec := secrets[name]
		if sec == nil {
			missing = append(missing, name)
			return nil
		}
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(src[name])
		h.Write([]byte(name))
		h.Write(b)
		return sec
	}

	certs, err := inlineCertificates(common)
	if err != nil {
		return nil, nil, err
	}
	for _, sc := range common.GetTlsCertificateSdsSecretConfigs() {
		name := sdsName(sc)
		if name == "" {
			return nil, nil, fmt.Errorf("certificate secret %q is not served over ADS", sc.GetName())
		}
		if sec := useSecret(name); sec != nil {
			if sec.cert == nil {
				return nil, nil, fmt.Errorf("secret %q holds no tls_certificate", name)
			}
			certs = append(certs, *sec.cert)
		}
	}

	var vc *tlsv3.CertificateValidationContext
	switch v := common.GetValidationContextType().(type) {
	case nil:
	case *tlsv3.CommonTlsContext_ValidationContext:
		vc = v.ValidationContext
	case *tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig:
		name := sdsName(v.ValidationContextSdsSecretConfig)
		if name == "" {
			return nil, nil, fmt.Errorf("validation context secret %q is not served over ADS", v.ValidationContextSdsSecretConfig.GetName())
		}
		if sec := useSecret(name); sec != nil {
			if sec.vc == nil {
				return nil, nil, fmt.Errorf("secret %q holds no validation_context", name)
			}
			vc = sec.vc
		}
	case *tlsv3.CommonTlsContext_CombinedValidationContext:
		sc := v.CombinedValidationContext.GetValidationContextSdsSecretConfig()
		name := sdsName(sc)
		if name == "" {
			return nil, nil, fmt.Errorf("validation context secret %q is not served over ADS", sc.GetName())
		}
		if sec := useSecret(name); sec != nil {
			if sec.vc == nil {
				return nil, nil, fmt.Errorf("secret %q holds no validation_context", name)
			}
			// Envoy merges the secret's context into the default one.
			vc = proto.Clone(v.CombinedValidationContext.GetDefaultValidationContext()).(*tlsv3.CertificateValidationContext)
			if vc == nil {
				vc = &tlsv3.CertificateValidationContext{}
			}
			proto.Merge(vc, sec.vc)
		}
	default:
		return nil, nil, fmt.Errorf("validation context %T is not supported", v)
	}
	if len(missing) > 0 {
		return nil, missing, nil
	}
	pv, err := compilePeerValidation(vc)
	if err != nil {
		return nil, nil, fmt.Errorf("validation context: %w", err)
	}

	p := common.GetTlsParams()
	switch {
	case len(p.GetCipherSuites()) > 0:
		return nil, nil, errors.New("tls_params.cipher_suites is not supported")
	case len(p.GetEcdhCurves()) > 0:
		return nil, nil, errors.New("tls_params.ecdh_curves is not supported")
	case len(p.GetSignatureAlgorithms()) > 0:
		return nil, nil, errors.New("tls_params.signature_algorithms is not supported")
	}
	conf := &tls.Config{
		ServerName:   ctx.GetSni(),
		Certificates: certs,
		MinVersion:   tlsVersion(p.GetTlsMinimumProtocolVersion(), tls.VersionTLS12),
		MaxVersion:   tlsVersion(p.GetTlsMaximumProtocolVersion(), tls.VersionTLS12),
		NextProtos:   common.GetAlpnProtocols(),
		// The chain is checked by VerifyConnection, below, as Envoy
		// does: never against the SNI or the endpoint's name.
		InsecureSkipVerify: true, //nolint:gosec // see above
	}
	if conf.MinVersion > conf.MaxVersion {
		return nil, nil, errors.New("tls_minimum_protocol_version is above tls_maximum_protocol_version")
	}
	if len(conf.NextProtos) == 0 {
		// Without alpn_protocols Envoy's HTTP connection pools offer
		// the protocol the cluster speaks.
		conf.NextProtos = []string{"http/1.1"}
		if http2 {
			conf.NextProtos = []string{"h2"}
		}
	}
	if pv != nil {
		conf.VerifyConnection = pv.verify
	}
	if ctx.GetAllowRenegotiation() {
		conf.Renegotiation = tls.RenegotiateFreelyAsClient
	}
	// Envoy keeps one session key per upstream by default; 0 turns
	// resumption off.
	keys := 1
	if ctx.GetMaxSessionKeys() != nil {
		keys = int(ctx.GetMaxSessionKeys().GetValue())
	}
	if keys > 0 {
		conf.ClientSessionCache = tls.NewLRUClientSessionCache(keys)
	}
	return &upstreamTLS{conf: conf, key: hex.EncodeToString(h.Sum(nil)[:12]), timeout: connectTimeout}, nil, nil
}

// peerValidation checks an upstream's certificate.
type peerValidation struct {
	roots *x509.CertPool
	// sans must have one match among the leaf's subject alt names; none
	// means any.
	sans []sanMatcher
}

type sanMatcher struct {
	typ tlsv3.SubjectAltNameMatcher_SanType // unspecified: any type (match_subject_alt_names)
	m   *StringMatcher
	// exactDNS is the matcher's exact value for a DNS SAN: Envoy then
	// lets a wildcard in the certificate cover it.
	exactDNS string
}

// compilePeerValidation returns nil when the certificate is not checked:
// no validation context, no trusted CA, or ACCEPT_UNTRUSTED.
func compilePeerValidation(vc *tlsv3.CertificateValidationContext) (*peerValidation, error) {
	if vc == nil {
		return nil, nil
	}
	switch {
	case len(vc.GetVerifyCertificateSpki()) > 0:
		return nil, errors.New("verify_certificate_spki is not supported")
	case len(vc.GetVerifyCertificateHash()) > 0:
		return nil, errors.New("verify_certificate_hash is not supported")
	case vc.GetCrl() != nil:
		return nil, errors.New("crl is not supported")
	case vc.GetCustomValidatorConfig() != nil:
		return nil, errors.New("custom_validator_config is not supported")
	case vc.GetAllowExpiredCertificate():
		return nil, errors.New("allow_expired_certificate is not supported")
	case vc.GetMaxVerifyDepth() != nil:
		return nil, errors.New("max_verify_depth is not supported")
	case vc.GetCaCertificateProviderInstance() != nil:
		return nil, errors.New("ca_certificate_provider_instance is not supported")
	case vc.GetTrustedCa() != nil && vc.GetSystemRootCerts() != nil:
		return nil, errors.New("trusted_ca and system_root_certs are exclusive")
	}
	pv := &peerValidation{}
	switch {
	case vc.GetTrustedCa() != nil:
		ca, err := dataSource(vc.GetTrustedCa())
		if err != nil {
			return nil, fmt.Errorf("trusted_ca: %w", err)
		}
		pv.roots = x509.NewCertPool()
		if !pv.roots.AppendCertsFromPEM(ca) {
			return nil, errors.New("trusted_ca: no PEM certificate")
		}
	case vc.GetSystemRootCerts() != nil:
		roots, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system_root_certs: %w", err)
		}
		pv.roots = roots
	}
	for i, m := range vc.GetMatchTypedSubjectAltNames() {
		if m.GetSanType() == tlsv3.SubjectAltNameMatcher_OTHER_NAME || m.GetSanType() == tlsv3.SubjectAltNameMatcher_SAN_TYPE_UNSPECIFIED {
			return nil, fmt.Errorf("match_typed_subject_alt_names[%d]: san_type %s is not supported", i, m.GetSanType())
		}
		sm, err := NewStringMatcher(m.GetMatcher())
		if err != nil {
			return nil, fmt.Errorf("match_typed_subject_alt_names[%d]: %w", i, err)
		}
		san := sanMatcher{typ: m.GetSanType(), m: sm}
		if m.GetSanType() == tlsv3.SubjectAltNameMatcher_DNS && m.GetMatcher().GetExact() != "" {
			san.exactDNS = m.GetMatcher().GetExact()
		}
		pv.sans = append(pv.sans, san)
	}
	for i, m := range vc.GetMatchSubjectAltNames() {
		sm, err := NewStringMatcher(m)
		if err != nil {
			return nil, fmt.Errorf("match_subject_alt_names[%d]: %w", i, err)
		}
		pv.sans = append(pv.sans, sanMatcher{m: sm})
	}
	if pv.roots == nil {
		if len(pv.sans) > 0 {
			return nil, errors.New("SAN-based verification of peer certificates without trusted CA is insecure and not allowed")
		}
		return nil, nil
	}
	if vc.GetTrustChainVerification() == tlsv3.CertificateValidationContext_ACCEPT_UNTRUSTED {
		return nil, nil
	}
	return pv, nil
}

// verify is the handshake's VerifyConnection: the chain to the trusted
// CAs (any key usage, as Envoy does not restrict it), then the SAN
// matchers.
func (pv *peerValidation) verify(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("CERTIFICATE_VERIFY_FAILED: the upstream sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pv.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("CERTIFICATE_VERIFY_FAILED: %w", err)
	}
	if len(pv.sans) == 0 {
		return nil
	}
	for _, m := range pv.sans {
		if m.match(leaf) {
			return nil
		}
	}
	return errors.New("CERTIFICATE_VERIFY_FAILED: no subject alternative name of the upstream's certificate matches")
}

func (m sanMatcher) match(c *x509.Certificate) bool {
	anyType := m.typ == tlsv3.SubjectAltNameMatcher_SAN_TYPE_UNSPECIFIED
	if anyType || m.typ == tlsv3.SubjectAltNameMatcher_DNS {
		for _, n := range c.DNSNames {
			if m.m.Match(n) || (m.exactDNS != "" && dnsNameMatch(m.exactDNS, n)) {
				return true
			}
		}
	}
	if anyType || m.typ == tlsv3.SubjectAltNameMatcher_EMAIL {
		for _, e := range c.EmailAddresses {
			if m.m.Match(e) {
				return true
			}
		}
	}
	if anyType || m.typ == tlsv3.SubjectAltNameMatcher_URI {
		for _, u := range c.URIs {
			if m.m.Match(u.String()) {
				return true
			}
		}
	}
	if anyType || m.typ == tlsv3.SubjectAltNameMatcher_IP_ADDRESS {
		for _, ip := range c.IPAddresses {
			if m.m.Match(ip.String()) {
				return true
			}
		}
	}
	return false
}

// dnsNameMatch reports whether a certificate's DNS SAN pattern covers
// name: equal ignoring case, or a "*." wildcard standing for exactly one
// leading label.
func dnsNameMatch(name, pattern string) bool {
	name, pattern = strings.ToLower(name), strings.ToLower(pattern)
	if name == pattern {
		return true
	}
	if !strings.HasPrefix(pattern, "*.") {
		return false
	}
	i := strings.IndexByte(name, '.')
	return i > 0 && name[i:] == pattern[1:]
}
