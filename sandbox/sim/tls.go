package sim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// TypeSecret is the SDS type URL; the sim fetches secrets over ADS by the
// names listeners and clusters give in their TLS contexts.
const TypeSecret = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"

// compiledSecret is a Secret parsed into what crypto/tls takes.
type compiledSecret struct {
	cert  *tls.Certificate // tls_certificate
	roots *x509.CertPool   // validation_context.trusted_ca
	// vc is the validation context as sent, for upstream TLS, which
	// also needs its matchers.
	vc *tlsv3.CertificateValidationContext
}

// dataSource reads an Envoy DataSource: inline bytes or string, a file, or
// an environment variable, as Envoy does.
func dataSource(ds *corev3.DataSource) ([]byte, error) {
	switch s := ds.GetSpecifier().(type) {
	case *corev3.DataSource_InlineBytes:
		return s.InlineBytes, nil
	case *corev3.DataSource_InlineString:
		return []byte(s.InlineString), nil
	case *corev3.DataSource_Filename:
		b, err := os.ReadFile(s.Filename)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", s.Filename, err)
		}
		return b, nil
	case *corev3.DataSource_EnvironmentVariable:
		v, ok := os.LookupEnv(s.EnvironmentVariable)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", s.EnvironmentVariable)
		}
		return []byte(v), nil
	}
	return nil, errors.New("empty data source")
}

// compileSecret parses a secret. A malformed one is an error, which NACKs
// the secret response like Envoy's SDS rejects an unusable certificate.
func compileSecret(s *tlsv3.Secret) (*compiledSecret, error) {
	out := &compiledSecret{}
	switch t := s.GetType().(type) {
	case *tlsv3.Secret_TlsCertificate:
		chain, err := dataSource(t.TlsCertificate.GetCertificateChain())
		if err != nil {
			return nil, fmt.Errorf("tls_certificate.certificate_chain: %w", err)
		}
		key, err := dataSource(t.TlsCertificate.GetPrivateKey())
		if err != nil {
			return nil, fmt.Errorf("tls_certificate.private_key: %w", err)
		}
		cert, err := tls.X509KeyPair(chain, key)
		if err != nil {
			return nil, fmt.Errorf("tls_certificate: %w", err)
		}
		out.cert = &cert
	case *tlsv3.Secret_ValidationContext:
		out.vc = t.ValidationContext
		if t.ValidationContext.GetTrustedCa() == nil {
			// Matchers or system roots only; what uses the context
			// decides whether that is enough.
			break
		}
		ca, err := dataSource(t.ValidationContext.GetTrustedCa())
		if err != nil {
			return nil, fmt.Errorf("validation_context.trusted_ca: %w", err)
		}
		out.roots = x509.NewCertPool()
		if !out.roots.AppendCertsFromPEM(ca) {
			return nil, errors.New("validation_context.trusted_ca: no PEM certificate")
		}
	default:
		// Session ticket keys and generic secrets are nothing the sim
		// uses; accepting them is what Envoy does for unused types.
	}
	return out, nil
}

// compileSecrets parses every secret of a state, reusing the previous
// build's parse of an unchanged resource.
func compileSecrets(s *resources, prev *config) (map[string]*compiledSecret, []error) {
	out := make(map[string]*compiledSecret, len(s.secrets))
	var errs []error
	for _, name := range sortedKeys(s.secrets) {
		sec := s.secrets[name]
		if prev != nil && prev.secretSrc[name] == sec && prev.secrets[name] != nil {
			out[name] = prev.secrets[name]
			continue
		}
		c, err := compileSecret(sec)
		if err != nil {
			errs = append(errs, fmt.Errorf("secret %q: %w", name, err))
			continue
		}
		out[name] = c
	}
	return out, errs
}

// tlsChain is one TLS filter chain of a listener: the server names it
// matches and the handshake configuration it presents.
type tlsChain struct {
	name        string
	serverNames []string
	conf        *tls.Config
}

// listenerTLS is a TLS listener's filter chains, in the order Envoy's
// filter chain match consults them.
type listenerTLS struct {
	exact    map[string]*tlsChain // server name -> chain
	wildcard map[string]*tlsChain // ".example.com" (from "*.example.com") -> chain
	any      *tlsChain            // first chain without server_names
	def      *tlsChain            // default_filter_chain
}

// choose picks the chain for a ClientHello's SNI like Envoy's filter
// chain match on server_names: an exact name first, then the longest
// matching "*." wildcard, then a chain that names no server, then the
// listener's default filter chain. nil means no chain: Envoy closes the
// connection, so the handshake fails.
func (lt *listenerTLS) choose(sni string) *tlsChain {
	sni = strings.ToLower(strings.TrimSuffix(sni, "."))
	if sni != "" {
		if c := lt.exact[sni]; c != nil {
			return c
		}
		// Strip one label at a time so the longest suffix wins:
		// a.b.example.com tries .b.example.com, then .example.com, ...
		for rest := sni; ; {
			i := strings.IndexByte(rest[1:], '.')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			if c := lt.wildcard[rest]; c != nil {
				return c
			}
		}
	}
	if lt.any != nil {
		return lt.any
	}
	return lt.def
}

// tlsVersion maps Envoy's protocol versions to crypto/tls's; auto is
// dflt (Envoy's defaults are TLS 1.2 minimum and TLS 1.3 maximum for
// servers).
func tlsVersion(v tlsv3.TlsParameters_TlsProtocol, dflt uint16) uint16 {
	switch v {
	case tlsv3.TlsParameters_TLSv1_0:
		return tls.VersionTLS10
	case tlsv3.TlsParameters_TLSv1_1:
		return tls.VersionTLS11
	case tlsv3.TlsParameters_TLSv1_2:
		return tls.VersionTLS12
	case tlsv3.TlsParameters_TLSv1_3:
		return tls.VersionTLS13
	}
	return dflt
}

// sdsName is the name of a secret fetched over ADS, "" for one from
// elsewhere (another SDS server is out of the sim's reach).
func sdsName(sc *tlsv3.SdsSecretConfig) string {
	if sc == nil || sc.GetName() == "" || (sc.GetSdsConfig() != nil && sc.GetSdsConfig().GetAds() == nil) {
		return ""
	}
	return sc.GetName()
}

// downstreamContext decodes a filter chain's transport socket; nil without
// one.
func downstreamContext(fc *listenerv3.FilterChain) (*tlsv3.DownstreamTlsContext, error) {
	ts := fc.GetTransportSocket()
	if ts == nil {
		return nil, nil
	}
	ctx := &tlsv3.DownstreamTlsContext{}
	if !ts.GetTypedConfig().MessageIs(ctx) {
		return nil, fmt.Errorf("transport socket %q (%s) is not supported", ts.GetName(), ts.GetTypedConfig().GetTypeUrl())
	}
	if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
		return nil, fmt.Errorf("transport socket %q: %w", ts.GetName(), err)
	}
	return ctx, nil
}

// inlineCertificates compiles the certificates a TLS context holds itself
// (not over SDS).
func inlineCertificates(common *tlsv3.CommonTlsContext) ([]tls.Certificate, error) {
	var certs []tls.Certificate
	for i, tc := range common.GetTlsCertificates() {
		sec, err := compileSecret(&tlsv3.Secret{Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: tc}})
		if err != nil {
			return nil, fmt.Errorf("tls_certificates[%d]: %w", i, err)
		}
		certs = append(certs, *sec.cert)
	}
	return certs, nil
}

// buildChain compiles one TLS filter chain. missing lists SDS secrets that
// have not arrived: the listener warms until they do.
func buildChain(fc *listenerv3.FilterChain, ctx *tlsv3.DownstreamTlsContext, secrets map[string]*compiledSecret) (c *tlsChain, missing []string, err error) {
	common := ctx.GetCommonTlsContext()
	certs, err := inlineCertificates(common)
	if err != nil {
		return nil, nil, err
	}
	for _, sc := range common.GetTlsCertificateSdsSecretConfigs() {
		name := sdsName(sc)
		if name == "" {
			return nil, nil, fmt.Errorf("certificate secret %q is not served over ADS", sc.GetName())
		}
		sec := secrets[name]
		switch {
		case sec == nil:
			missing = append(missing, name)
		case sec.cert == nil:
			return nil, nil, fmt.Errorf("secret %q holds no tls_certificate", name)
		default:
			certs = append(certs, *sec.cert)
		}
	}
	if len(missing) > 0 {
		return nil, missing, nil
	}
	if len(certs) == 0 {
		return nil, nil, errors.New("TLS context has no certificate")
	}
	p := common.GetTlsParams()
	conf := &tls.Config{
		Certificates: certs,
		MinVersion:   tlsVersion(p.GetTlsMinimumProtocolVersion(), tls.VersionTLS12),
		MaxVersion:   tlsVersion(p.GetTlsMaximumProtocolVersion(), tls.VersionTLS13),
		NextProtos:   common.GetAlpnProtocols(),
	}
	if len(conf.NextProtos) == 0 {
		// Without alpn_protocols Envoy advertises no ALPN and its auto
		// codec spots h2 by the connection preface; Go clients only
		// speak h2 over TLS after ALPN, so the sim offers both.
		conf.NextProtos = []string{"h2", "http/1.1"}
	}
	if conf.MinVersion > conf.MaxVersion {
		return nil, nil, errors.New("tls_minimum_protocol_version is above tls_maximum_protocol_version")
	}
	return &tlsChain{name: fc.GetName(), serverNames: fc.GetFilterChainMatch().GetServerNames(), conf: conf}, nil, nil
}

// buildListenerTLS compiles a listener's TLS filter chains; nil when no
// chain has a transport socket (a plaintext listener).
func buildListenerTLS(l *listenerv3.Listener, secrets map[string]*compiledSecret) (*listenerTLS, []string, error) {
	var lt *listenerTLS
	var missing []string
	var errs []error
	add := func(fc *listenerv3.FilterChain, def bool) {
		ctx, err := downstreamContext(fc)
		if err != nil {
			errs = append(errs, fmt.Errorf("filter chain %q: %w", fc.GetName(), err))
			return
		}
		if ctx == nil {
			return
		}
		if lt == nil {
			lt = &listenerTLS{exact: map[string]*tlsChain{}, wildcard: map[string]*tlsChain{}}
		}
		c, miss, err := buildChain(fc, ctx, secrets)
		if err != nil {
			errs = append(errs, fmt.Errorf("filter chain %q: %w", fc.GetName(), err))
			return
		}
		missing = append(missing, miss...)
		if c == nil {
			return
		}
		if def {
			lt.def = c
			return
		}
		if len(c.serverNames) == 0 {
			if lt.any == nil {
				lt.any = c
			}
			return
		}
		for _, sn := range c.serverNames {
			sn = strings.ToLower(sn)
			target, key := lt.exact, sn
			if strings.HasPrefix(sn, "*.") {
				target, key = lt.wildcard, sn[1:]
			}
			// Envoy refuses a listener with two chains for one match.
			if target[key] != nil {
				errs = append(errs, fmt.Errorf("filter chains %q and %q both match server name %q", target[key].name, c.name, sn))
				continue
			}
			target[key] = c
		}
	}
	for _, fc := range l.GetFilterChains() {
		add(fc, false)
	}
	if d := l.GetDefaultFilterChain(); d != nil {
		add(d, true)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return lt, missing, nil
}

// sdsNames are the secrets the state's listeners and clusters fetch over
// ADS, which the client subscribes to.
func sdsNames(s *resources) []string {
	set := map[string]bool{}
	addCommon := func(c *tlsv3.CommonTlsContext) {
		for _, sc := range c.GetTlsCertificateSdsSecretConfigs() {
			if n := sdsName(sc); n != "" {
				set[n] = true
			}
		}
		if n := sdsName(c.GetValidationContextSdsSecretConfig()); n != "" {
			set[n] = true
		}
		if n := sdsName(c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig()); n != "" {
			set[n] = true
		}
	}
	for _, l := range s.listeners {
		chains := append([]*listenerv3.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
		for _, fc := range chains {
			if ctx, err := downstreamContext(fc); err == nil && ctx != nil {
				addCommon(ctx.GetCommonTlsContext())
			}
		}
	}
	for _, cl := range s.clusters {
		sockets := []*corev3.TransportSocket{cl.GetTransportSocket()}
		for _, m := range cl.GetTransportSocketMatches() {
			sockets = append(sockets, m.GetTransportSocket())
		}
		for _, ts := range sockets {
			ctx := &tlsv3.UpstreamTlsContext{}
			if cfg := ts.GetTypedConfig(); cfg != nil && cfg.MessageIs(ctx) && cfg.UnmarshalTo(ctx) == nil {
				addCommon(ctx.GetCommonTlsContext())
			}
		}
	}
	return sortedSet(set)
}
