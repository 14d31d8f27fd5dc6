package sim

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/routedeck/routedeck/sandbox/upstream"
)

var adsSource = &corev3.ConfigSource{ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}

// sdsCA is a validation context from the SDS secret named name.
func sdsCA(name string) *tlsv3.CommonTlsContext {
	return &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
		ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: name, SdsConfig: adsSource}}}
}

// caSecret is an SDS validation context trusting caPEM.
func caSecret(name, caPEM string) *tlsv3.Secret {
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
		TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: caPEM}}}}}
}

// withTLS gives an EDS cluster an UpstreamTlsContext transport socket.
func withTLS(t *testing.T, c *clusterv3.Cluster, ctx *tlsv3.UpstreamTlsContext) *clusterv3.Cluster {
	t.Helper()
	c.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}}
	return c
}

func http2Cluster(t *testing.T, c *clusterv3.Cluster) *clusterv3.Cluster {
	t.Helper()
	c.TypedExtensionProtocolOptions = map[string]*anypb.Any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": mustAny(t, &httpv3.HttpProtocolOptions{
		UpstreamProtocolOptions: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_{ExplicitHttpConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig{
			ProtocolConfig: &httpv3.HttpProtocolOptions_ExplicitHttpConfig_Http2ProtocolOptions{Http2ProtocolOptions: &corev3.Http2ProtocolOptions{}},
		}}})}
	return c
}

func newCA(t *testing.T) *upstream.CA {
	t.Helper()
	ca, err := upstream.NewCA("sim test CA")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func tlsMock(t *testing.T, ca *upstream.CA, http2 bool, names ...string) *upstream.Server {
	t.Helper()
	cert, err := ca.Issue(names...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := upstream.Start("api", upstream.Options{TLS: cert, HTTP2: http2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// capture sends a request to the listener "http" and returns the
// exchange, the status and the body.
func (h *harness) capture(t *testing.T, url string) (*Exchange, int, string) {
	t.Helper()
	id, wait := h.dp.Capture()
	resp, body := h.do(t, "GET", url, HeaderCapture, id)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ex, err := wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ex, resp.StatusCode, body
}

// TestUpstreamTLS originates TLS over a real ADS stream to mocks serving
// TLS with certificates of a test CA.
func TestUpstreamTLS(t *testing.T) {
	trusted, other := newCA(t), newCA(t)
	retried := func(r *routev3.Route, on string) *routev3.Route {
		r.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: on, NumRetries: u32(2),
			RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond)}}
		return r
	}
	sanExact := func(name string) *tlsv3.CommonTlsContext {
		c := &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: trusted.CertPEM()}},
			MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS,
				Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: name}}}},
		}}}
		return c
	}
	tests := map[string]struct {
		ca          *upstream.CA // issues the mock's certificate
		names       []string     // in the mock's certificate
		http2       bool         // cluster and mock speak h2
		ctx         *tlsv3.UpstreamTlsContext
		secret      string // the SDS "upstream-ca" trusts this PEM
		retryOn     string
		wantStatus  int
		wantSNI     string
		wantALPN    string
		wantBody    string // for failures: a substring of the local reply
		wantTries   int
		wantVersion string
	}{
		"SNI sent and verified against the SDS CA": {ca: trusted, names: []string{"api.internal"},
			ctx: &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA("upstream-ca")}, secret: trusted.CertPEM(),
			wantStatus: 200, wantSNI: "api.internal", wantALPN: "http/1.1", wantVersion: "TLS 1.2"},
		"no SNI when sni is unset": {ca: trusted, names: []string{"127.0.0.1"},
			ctx: &tlsv3.UpstreamTlsContext{CommonTlsContext: sdsCA("upstream-ca")}, secret: trusted.CertPEM(),
			wantStatus: 200, wantSNI: "", wantALPN: "http/1.1", wantVersion: "TLS 1.2"},
		"the host name is not checked, only the chain": {ca: trusted, names: []string{"elsewhere.example"},
			ctx: &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA("upstream-ca")}, secret: trusted.CertPEM(),
			wantStatus: 200, wantSNI: "api.internal", wantALPN: "http/1.1", wantVersion: "TLS 1.2"},
		"wrong CA fails and is retried on connect-failure": {ca: other, names: []string{"api.internal"},
			ctx: &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA("upstream-ca")}, secret: trusted.CertPEM(), retryOn: "connect-failure",
			wantStatus: 503, wantBody: "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS error: CERTIFICATE_VERIFY_FAILED",
			wantTries: 3},
		"wrong CA is not retried on 5xx-less policies": {ca: other, names: []string{"api.internal"},
			ctx: &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA("upstream-ca")}, secret: trusted.CertPEM(), retryOn: "retriable-4xx",
			wantStatus: 503, wantBody: "transport failure reason: TLS error", wantTries: 1},
		"no validation context accepts any certificate": {ca: other, names: []string{"whatever.test"},
			ctx:        &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: &tlsv3.CommonTlsContext{}},
			wantStatus: 200, wantSNI: "api.internal", wantALPN: "http/1.1", wantVersion: "TLS 1.2"},
		"h2 cluster offers h2 by ALPN": {ca: trusted, names: []string{"api.internal"}, http2: true,
			ctx: &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA("upstream-ca")}, secret: trusted.CertPEM(),
			wantStatus: 200, wantSNI: "api.internal", wantALPN: "h2", wantVersion: "TLS 1.2"},
		"alpn_protocols and TLS 1.3 as configured": {ca: trusted, names: []string{"api.internal"},
			ctx: &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: &tlsv3.CommonTlsContext{AlpnProtocols: []string{"h2", "http/1.1"},
				TlsParams: &tlsv3.TlsParameters{TlsMaximumProtocolVersion: tlsv3.TlsParameters_TLSv1_3}}},
			wantStatus: 200, wantSNI: "api.internal", wantALPN: "http/1.1", wantVersion: "TLS 1.3"},
		"matching DNS SAN": {ca: trusted, names: []string{"*.internal"},
			ctx:        &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sanExact("api.internal")},
			wantStatus: 200, wantSNI: "api.internal", wantALPN: "http/1.1", wantVersion: "TLS 1.2"},
		"DNS SAN mismatch": {ca: trusted, names: []string{"web.internal"},
			ctx:        &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sanExact("api.internal")},
			wantStatus: 503, wantBody: "no subject alternative name", wantTries: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			mockSrv := tlsMock(t, tc.ca, tc.http2, tc.names...)
			cl := edsCluster("api", clusterv3.Cluster_ROUND_ROBIN)
			if tc.http2 {
				cl = http2Cluster(t, cl)
			}
			rt := prefixRoute("rule/api/0", "/", "api")
			if tc.retryOn != "" {
				rt = retried(rt, tc.retryOn)
			}
			res := []types.Resource{listener(t), routeConfig(rt), withTLS(t, cl, tc.ctx), loadAssignment("api", mockSrv)}
			if tc.secret != "" {
				res = append(res, caSecret("upstream-ca", tc.secret))
			}
			h.set(t, "1", res...)
			ex, status, body := h.capture(t, "http://api.example/hello")
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %q", status, tc.wantStatus, body)
			}
			if tc.wantStatus != 200 {
				if !strings.Contains(body, tc.wantBody) {
					t.Errorf("body %q, want it to contain %q", body, tc.wantBody)
				}
				if len(ex.Attempts) != tc.wantTries {
					t.Errorf("%d attempts, want %d: %+v", len(ex.Attempts), tc.wantTries, ex.Attempts)
				}
				if got := mockSrv.Stats().Requests; got != 0 {
					t.Errorf("the mock got %d requests over a failed handshake", got)
				}
				return
			}
			e := echoOf(t, body)
			got := e.Received.TLS
			if got == nil {
				t.Fatalf("the mock received the request without TLS: %+v", e.Received)
			}
			if got.ServerName != tc.wantSNI || got.ALPN != tc.wantALPN || got.Version != tc.wantVersion {
				t.Errorf("handshake %+v, want SNI %q, ALPN %q, %s", got, tc.wantSNI, tc.wantALPN, tc.wantVersion)
			}
			if e.Received.Path != "/hello" || e.Received.Headers["host"][0] != "api.example" {
				t.Errorf("received %+v", e.Received)
			}
		})
	}
}

// TestUpstreamTLSWarmsUntilSecret checks that a cluster whose CA secret has
// not arrived does not exist for routing, like a warming cluster in Envoy,
// and that an updated cluster keeps serving its previous TLS context while
// its new secret is missing.
func TestUpstreamTLSWarmsUntilSecret(t *testing.T) {
	ca := newCA(t)
	h := newHarness(t)
	mockSrv := tlsMock(t, ca, false, "api.internal")
	base := func(secretName string) []types.Resource {
		return []types.Resource{listener(t), routeConfig(prefixRoute("rule/api/0", "/", "api")),
			withTLS(t, edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA(secretName)}),
			loadAssignment("api", mockSrv)}
	}
	h.set(t, "1", base("ca-1")...)
	if st := h.dp.Status(); strings.Join(st.WarmingClusters["api"], ",") != "ca-1" {
		t.Fatalf("warming clusters %v", st.WarmingClusters)
	}
	ex, status, body := h.capture(t, "http://x/")
	if status != 503 || body != "cluster not found" || !strings.Contains(strings.Join(ex.Notes, ";"), `cluster "api" is warming`) {
		t.Fatalf("warming cluster: %d %q notes %v", status, body, ex.Notes)
	}

	h.set(t, "2", append(base("ca-1"), caSecret("ca-1", ca.CertPEM()))...)
	if st := h.dp.Status(); len(st.WarmingClusters) != 0 {
		t.Fatalf("still warming: %v", st.WarmingClusters)
	}
	if _, status, body := h.capture(t, "http://x/"); status != 200 || echoOf(t, body).Received.TLS == nil {
		t.Fatalf("after the secret: %d %q", status, body)
	}

	// The cluster now names a secret that is missing: the previous
	// cluster keeps serving meanwhile. The server has nothing to send for
	// ca-2, so only the other types reach version 3 (an ADS server holds
	// back a response that lacks a requested name, as this one does).
	snap, err := cache.NewSnapshot("3", map[resource.Type][]types.Resource{
		resource.ListenerType: {listener(t)}, resource.RouteType: {routeConfig(prefixRoute("rule/api/0", "/", "api"))},
		resource.ClusterType:  {withTLS(t, edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), &tlsv3.UpstreamTlsContext{Sni: "api.internal", CommonTlsContext: sdsCA("ca-2")})},
		resource.EndpointType: {loadAssignment("api", mockSrv)}, resource.SecretType: {caSecret("ca-1", ca.CertPEM())},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cache.SetSnapshot(t.Context(), "n1", snap); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := h.dp.WaitFor(ctx, func(st Status) bool {
		return st.Versions[resource.ClusterType] == "3" && strings.Join(st.WarmingClusters["api"], ",") == "ca-2"
	}); err != nil {
		t.Fatalf("cluster naming the missing ca-2: %v (status %+v)", err, h.dp.Status())
	}
	if _, status, body := h.capture(t, "http://x/"); status != 200 {
		t.Fatalf("updated warming cluster: %d %q", status, body)
	}
}

// TestUpstreamTLSPools checks that a cluster's connections are reused
// while its TLS context stays the same and replaced when it changes.
func TestUpstreamTLSPools(t *testing.T) {
	ca := newCA(t)
	h := newHarness(t)
	mockSrv := tlsMock(t, ca, false, "a.internal", "b.internal")
	set := func(version, sni string) {
		h.set(t, version, listener(t), routeConfig(prefixRoute("rule/api/0", "/", "api")),
			withTLS(t, edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), &tlsv3.UpstreamTlsContext{Sni: sni, CommonTlsContext: sdsCA("ca")}),
			loadAssignment("api", mockSrv), caSecret("ca", ca.CertPEM()))
	}
	sni := func() string {
		t.Helper()
		_, status, body := h.capture(t, "http://x/")
		if status != 200 {
			t.Fatalf("status %d %q", status, body)
		}
		return echoOf(t, body).Received.TLS.ServerName
	}
	set("1", "a.internal")
	first := h.dp.cfg.Load().clusters["api"].poolKey
	if got := sni(); got != "a.internal" {
		t.Fatalf("SNI %q", got)
	}
	// An unrelated change (the route) keeps the pool.
	h.set(t, "2", listener(t), routeConfig(prefixRoute("rule/api/1", "/", "api")),
		withTLS(t, edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), &tlsv3.UpstreamTlsContext{Sni: "a.internal", CommonTlsContext: sdsCA("ca")}),
		loadAssignment("api", mockSrv), caSecret("ca", ca.CertPEM()))
	if got := h.dp.cfg.Load().clusters["api"].poolKey; got != first {
		t.Errorf("pool key changed without a TLS change: %s -> %s", first, got)
	}
	// A new SNI needs new connections: a reused one would keep the old.
	set("3", "b.internal")
	if got := sni(); got != "b.internal" {
		t.Errorf("SNI after the change %q, want b.internal", got)
	}
	n := 0
	h.dp.transports.Range(func(any, any) bool { n++; return true })
	h.dp.h1Pools.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("%d connection pools kept, want 1", n)
	}
}

func TestUpstreamTLSNacks(t *testing.T) {
	mockSrv := mock(t, "api", upstream.Profile{})
	tests := map[string]struct {
		mutate func(*clusterv3.Cluster)
		want   string
	}{
		"transport socket matches": {mutate: func(c *clusterv3.Cluster) {
			c.TransportSocketMatches = []*clusterv3.Cluster_TransportSocketMatch{{Name: "m", TransportSocket: c.TransportSocket}}
		}, want: `cluster "api": transport_socket_matches is not supported`},
		"SAN matcher without a CA": {mutate: func(c *clusterv3.Cluster) {
			c.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
				ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
					MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_DNS,
						Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "a"}}}}}}}})}
		}, want: `cluster "api": transport socket: validation context: SAN-based verification`},
		"auto_host_sni": {mutate: func(c *clusterv3.Cluster) {
			c.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, &tlsv3.UpstreamTlsContext{AutoHostSni: true})}
		}, want: `cluster "api": transport socket: auto_host_sni is not supported`},
		"unknown transport socket": {mutate: func(c *clusterv3.Cluster) {
			c.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, &tlsv3.DownstreamTlsContext{})}
		}, want: `cluster "api": transport socket "envoy.transport_sockets.tls" (type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext) is not supported`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.set(t, "1", listener(t), routeConfig(prefixRoute("r", "/", "api")), edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("api", mockSrv))
			cl := withTLS(t, edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), &tlsv3.UpstreamTlsContext{})
			tc.mutate(cl)
			snap, err := cache.NewSnapshot("2", map[resource.Type][]types.Resource{
				resource.ListenerType: {listener(t)}, resource.RouteType: {routeConfig(prefixRoute("r", "/", "api"))},
				resource.ClusterType: {cl}, resource.EndpointType: {loadAssignment("api", mockSrv)},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.cache.SetSnapshot(t.Context(), "n1", snap); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			st, err := h.dp.WaitFor(ctx, func(st Status) bool { return len(st.Nacks) > 0 })
			if err != nil {
				t.Fatal(err)
			}
			if n := st.Nacks[len(st.Nacks)-1]; n.TypeURL != TypeCluster || !strings.Contains(n.Error, tc.want) {
				t.Fatalf("nack %+v, want %q", n, tc.want)
			}
			// The accepted plaintext cluster keeps serving.
			if resp, _ := h.do(t, "GET", "http://x/"); resp.StatusCode != 200 {
				t.Errorf("status %d after the NACK", resp.StatusCode)
			}
		})
	}
}

func TestDNSNameMatch(t *testing.T) {
	tests := map[string]struct {
		name, pattern string
		want          bool
	}{
		"equal":                   {"api.internal", "api.internal", true},
		"case":                    {"API.internal", "api.Internal", true},
		"wildcard one label":      {"api.internal", "*.internal", true},
		"wildcard not two labels": {"a.api.internal", "*.internal", false},
		"wildcard not the apex":   {"internal", "*.internal", false},
		"different":               {"web.internal", "api.internal", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := dnsNameMatch(tc.name, tc.pattern); got != tc.want {
				t.Errorf("dnsNameMatch(%q, %q) = %v", tc.name, tc.pattern, got)
			}
		})
	}
}

// TestUpstreamTLSConfig checks the compiled client configuration for what
// the end-to-end tests cannot see.
func TestUpstreamTLSConfig(t *testing.T) {
	tests := map[string]struct {
		ctx      *tlsv3.UpstreamTlsContext
		http2    bool
		wantALPN string
		wantMax  uint16
		verifies bool
	}{
		"defaults":           {ctx: &tlsv3.UpstreamTlsContext{}, wantALPN: "http/1.1", wantMax: tls.VersionTLS12},
		"h2 fallback":        {ctx: &tlsv3.UpstreamTlsContext{}, http2: true, wantALPN: "h2", wantMax: tls.VersionTLS12},
		"configured ALPN":    {ctx: &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{AlpnProtocols: []string{"x"}}}, http2: true, wantALPN: "x", wantMax: tls.VersionTLS12},
		"system roots":       {ctx: &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{SystemRootCerts: &tlsv3.CertificateValidationContext_SystemRootCerts{}}}}}, wantALPN: "http/1.1", wantMax: tls.VersionTLS12, verifies: true},
		"context without CA": {ctx: &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{}}}}, wantALPN: "http/1.1", wantMax: tls.VersionTLS12},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u, missing, err := buildUpstreamTLS(tc.ctx, tc.http2, nil, nil)
			if err != nil || len(missing) > 0 {
				t.Fatalf("build: %v, missing %v", err, missing)
			}
			if got := strings.Join(u.conf.NextProtos, ","); got != tc.wantALPN {
				t.Errorf("ALPN %s, want %s", got, tc.wantALPN)
			}
			if u.conf.MaxVersion != tc.wantMax || u.conf.MinVersion != tls.VersionTLS12 {
				t.Errorf("versions %x-%x", u.conf.MinVersion, u.conf.MaxVersion)
			}
			if (u.conf.VerifyConnection != nil) != tc.verifies {
				t.Errorf("verifies = %v, want %v", u.conf.VerifyConnection != nil, tc.verifies)
			}
		})
	}
}

// TestUpstreamTLSHandshakeTimeout checks that a handshake the upstream
// never answers ends at the cluster's connect_timeout as a connect
// failure, and is retried as one.
func TestUpstreamTLSHandshakeTimeout(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	h := newHarness(t)
	cl := withTLS(t, edsCluster("api", clusterv3.Cluster_ROUND_ROBIN), &tlsv3.UpstreamTlsContext{Sni: "api.internal"})
	cl.ConnectTimeout = durationpb.New(100 * time.Millisecond)
	rt := prefixRoute("rule/api/0", "/", "api")
	rt.GetRoute().RetryPolicy = &routev3.RetryPolicy{RetryOn: "connect-failure", NumRetries: u32(1),
		RetryBackOff: &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(time.Millisecond)}}
	h.set(t, "1", listener(t), routeConfig(rt), cl, loadAssignmentOf("api", lis.Addr().String()))
	start := time.Now()
	ex, status, body := h.capture(t, "http://x/")
	if status != 503 || !strings.HasSuffix(body, "reset reason: connection failure") || len(ex.Attempts) != 2 {
		t.Fatalf("status %d body %q attempts %+v", status, body, ex.Attempts)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the connect timeout was not applied", d)
	}
}
