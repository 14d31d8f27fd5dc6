package sim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// tlsChainOf is a filter chain presenting the SDS secret named secret for
// serverNames (none: it matches any name).
func tlsChainOf(t *testing.T, secret string, serverNames ...string) *listenerv3.FilterChain {
	t.Helper()
	ctx := &tlsv3.DownstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{Name: secret, SdsConfig: &corev3.ConfigSource{
			ResourceApiVersion: corev3.ApiVersion_V3, ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}}},
	}}
	fc := &listenerv3.FilterChain{Name: "chain/" + secret, TransportSocket: &corev3.TransportSocket{Name: "envoy.transport_sockets.tls",
		ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}}}
	if len(serverNames) > 0 {
		fc.FilterChainMatch = &listenerv3.FilterChainMatch{ServerNames: serverNames}
	}
	return fc
}

// secretOf is the xDS Secret of a model secret with a certificate.
func secretOf(s model.Secret) *tlsv3.Secret {
	return &tlsv3.Secret{Name: s.Name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: s.TLS.Certificate}},
		PrivateKey:       &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: s.TLS.PrivateKey}},
	}}}
}

func TestChooseChain(t *testing.T) {
	names := []string{"example", "shop", "deep", "any", "default"}
	secrets := map[string]*compiledSecret{}
	for _, n := range names {
		c, err := compileSecret(secretOf(secrettest.TLS(t, n, n+".test")))
		if err != nil {
			t.Fatal(err)
		}
		secrets[n] = c
	}
	withAny := &listenerv3.Listener{Name: "https", FilterChains: []*listenerv3.FilterChain{
		tlsChainOf(t, "example", "example.com", "*.example.com"),
		tlsChainOf(t, "shop", "Shop.IO"),
		tlsChainOf(t, "deep", "*.b.example.com", "exact.a.example.com"),
		tlsChainOf(t, "any"),
	}, DefaultFilterChain: tlsChainOf(t, "default")}
	namedOnly := &listenerv3.Listener{Name: "https", FilterChains: []*listenerv3.FilterChain{
		tlsChainOf(t, "example", "example.com", "*.example.com"),
	}}
	withDefault := &listenerv3.Listener{Name: "https", FilterChains: []*listenerv3.FilterChain{
		tlsChainOf(t, "example", "example.com"),
	}, DefaultFilterChain: tlsChainOf(t, "default")}
	tests := map[string]struct {
		l    *listenerv3.Listener
		sni  string
		want string // chain name; "" = no chain, the handshake fails
	}{
		"exact":                            {withAny, "example.com", "chain/example"},
		"exact is case-insensitive":        {withAny, "SHOP.io", "chain/shop"},
		"trailing dot":                     {withAny, "shop.io.", "chain/shop"},
		"wildcard one label":               {withAny, "www.example.com", "chain/example"},
		"wildcard several labels":          {withAny, "x.y.example.com", "chain/example"},
		"longest wildcard wins":            {withAny, "x.b.example.com", "chain/deep"},
		"exact beats wildcard":             {withAny, "exact.a.example.com", "chain/deep"},
		"wildcard needs a label":           {withAny, "b.example.com", "chain/example"},
		"unknown name takes the any chain": {withAny, "other.org", "chain/any"},
		"no SNI takes the any chain":       {withAny, "", "chain/any"},
		"unknown name without fallback":    {namedOnly, "other.org", ""},
		"bare domain is not a wildcard":    {namedOnly, "xexample.com", ""},
		"no SNI without fallback":          {namedOnly, "", ""},
		"default filter chain":             {withDefault, "other.org", "chain/default"},
		"named chain before default":       {withDefault, "example.com", "chain/example"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			lt, missing, err := buildListenerTLS(tc.l, secrets)
			if err != nil || len(missing) > 0 || lt == nil {
				t.Fatalf("build: %v, missing %v", err, missing)
			}
			got := ""
			if c := lt.choose(tc.sni); c != nil {
				got = c.name
			}
			if got != tc.want {
				t.Errorf("choose(%q) = %q, want %q", tc.sni, got, tc.want)
			}
		})
	}
}

func TestListenerTLSErrors(t *testing.T) {
	good, err := compileSecret(secretOf(secrettest.TLS(t, "good", "good.test")))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]*compiledSecret{"good": good, "ca": {roots: x509.NewCertPool()}}
	tests := map[string]struct {
		chains  []*listenerv3.FilterChain
		wantErr string
		missing []string
	}{
		"same name twice": {chains: []*listenerv3.FilterChain{tlsChainOf(t, "good", "a.test"), tlsChainOf(t, "good", "A.test")},
			wantErr: "both match server name"},
		"secret without certificate": {chains: []*listenerv3.FilterChain{tlsChainOf(t, "ca")}, wantErr: `secret "ca" holds no tls_certificate`},
		"secret not yet received":    {chains: []*listenerv3.FilterChain{tlsChainOf(t, "good", "a.test"), tlsChainOf(t, "later")}, missing: []string{"later"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, missing, err := buildListenerTLS(&listenerv3.Listener{Name: "l", FilterChains: tc.chains}, secrets)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if strings.Join(missing, ",") != strings.Join(tc.missing, ",") {
				t.Errorf("missing = %v, want %v", missing, tc.missing)
			}
		})
	}
}

// tlsGateway is a workspace with gateway "edge": a plaintext listener and
// an HTTPS one presenting the given certificates, routing everything to
// the upstream "web" at addr. Its ports are placeholders: adsWithGateway
// serves both listeners on free ports.
func tlsGateway(t *testing.T, addr string, certs []model.Certificate, secrets ...model.Secret) model.Workspace {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return model.Workspace{
		Secrets: secrets,
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{
			{Name: "http", Address: "127.0.0.1", Port: 8080, Protocol: model.ProtocolHTTP},
			{Name: "https", Address: "127.0.0.1", Port: 8443, Protocol: model.ProtocolHTTPS,
				TLS: &model.ListenerTLS{MinVersion: "1.3", Certificates: certs}},
		}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: host, Port: p}}}}},
		Routes:    []model.Route{{Meta: model.Meta{Name: "all"}, Gateway: "edge", Then: model.Action{Forward: []model.Backend{{Upstream: "web"}}}}},
	}
}

// translateEdge translates ws's gateway "edge" with each listener's port
// replaced by ports[listener name], or by 0 (a free port, bound by the data
// plane as Envoy binds one) when ports does not name it. A port picked
// free beforehand and released would race with every other socket opened
// meanwhile, here and in other processes.
func translateEdge(t *testing.T, ws model.Workspace, ports map[string]int) *translate.Resources {
	t.Helper()
	res, err := translate.Gateway(ws, "edge", translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range res.Listeners {
		l = proto.Clone(l).(*listenerv3.Listener)
		l.GetAddress().GetSocketAddress().PortSpecifier = &corev3.SocketAddress_PortValue{PortValue: uint32(ports[l.GetName()])}
		res.Listeners[i] = l
	}
	return res
}

// adsWithGateway serves ws's gateway "edge" from the real ADS server, its
// listeners on free ports, and starts a data plane bound to the configured
// addresses.
func adsWithGateway(t *testing.T, ws model.Workspace) (*xds.Server, *DataPlane) {
	t.Helper()
	srv, dp := adsServing(t, translateEdge(t, ws, nil))
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	// The endpoints too: a request before them finds no healthy upstream.
	if _, err := dp.WaitFor(wctx, func(st Status) bool {
		return st.Ready["http"] && st.Ready["https"] && st.Versions[TypeEndpoint] != ""
	}); err != nil {
		t.Fatalf("%v (status %+v)", err, dp.Status())
	}
	return srv, dp
}

// adsServing serves res as version v1 of gateway "edge" from the real ADS
// server and starts a data plane bound to the configured addresses.
func adsServing(t *testing.T, res *translate.Resources) (*xds.Server, *DataPlane) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := xds.New(xds.Options{Logger: log})
	if err := srv.SetGateway(t.Context(), "edge", res, "v1"); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	dp, err := Start(DataPlaneOptions{ADS: lis.Addr().String(), NodeID: "n1", Cluster: "edge", BindConfiguredAddress: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	return srv, dp
}

// A listener whose address is taken is refused with its listener
// response, as Envoy refuses it, rather than accepted and never served; a
// later response that can be bound is served.
func TestListenerBindConflictNacks(t *testing.T) {
	web := mock(t, "web", upstream.Profile{})
	example := secrettest.TLS(t, "example-com", "example.com")
	ws := tlsGateway(t, web.Addr(), []model.Certificate{{Secret: "example-com", Hosts: []string{"example.com"}}}, example)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	srv, dp := adsServing(t, translateEdge(t, ws, map[string]int{"http": port}))

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := dp.WaitFor(ctx, func(st Status) bool { return len(st.Nacks) > 0 })
	if err != nil {
		t.Fatalf("%v (status %+v)", err, dp.Status())
	}
	n := st.Nacks[0]
	if want := sprintf(`listener "http": cannot bind 127.0.0.1:%d: `, port); n.TypeURL != TypeListener || !strings.Contains(n.Error, want) {
		t.Fatalf("nack %+v, want a listener NACK containing %q", n, want)
	}
	if st.Versions[TypeListener] != "" || len(st.Listeners) != 0 {
		t.Fatalf("the refused listener response was taken: %+v", st)
	}

	// A new version with the listener on a free port is bound and served;
	// the socket reserved for the refused response was not kept.
	if err := srv.SetGateway(t.Context(), "edge", translateEdge(t, ws, nil), "v2"); err != nil {
		t.Fatal(err)
	}
	st, err = dp.WaitFor(ctx, func(st Status) bool { return st.Ready["http"] && st.Ready["https"] })
	if err != nil {
		t.Fatalf("%v (status %+v)", err, dp.Status())
	}
	if st.Versions[TypeListener] != "v2" {
		t.Errorf("listener version %q, want v2", st.Versions[TypeListener])
	}
	resp, err := http.Get("http://" + st.Listeners["http"] + "/after")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if e := echoOf(t, string(body)); resp.StatusCode != 200 || e.Received.Path != "/after" {
		t.Fatalf("status %d, echo %+v", resp.StatusCode, e)
	}
}

func leafOf(t *testing.T, certPEM string) []byte {
	t.Helper()
	b, _ := pem.Decode([]byte(certPEM))
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

func TestTLSListenerEndToEnd(t *testing.T) {
	web := mock(t, "web", upstream.Profile{})
	example := secrettest.TLS(t, "example-com", "example.com", "*.example.com")
	shop := secrettest.TLS(t, "shop-io", "shop.io")
	fallback := secrettest.TLS(t, "fallback", "fallback.test")
	named := []model.Certificate{{Secret: "example-com", Hosts: []string{"example.com", "*.example.com"}}, {Secret: "shop-io", Hosts: []string{"shop.io"}}}

	tests := map[string]struct {
		withFallback bool
		sni          string
		proto        string // ALPN the client offers
		wantCert     *model.Secret
		wantFail     bool
	}{
		"exact name over HTTP/1.1":   {sni: "shop.io", proto: "http/1.1", wantCert: &shop},
		"wildcard name over h2":      {sni: "api.example.com", proto: "h2", wantCert: &example},
		"unknown name gets fallback": {withFallback: true, sni: "other.org", proto: "h2", wantCert: &fallback},
		"named chain with fallback":  {withFallback: true, sni: "example.com", proto: "http/1.1", wantCert: &example},
		"unknown name, no fallback":  {sni: "other.org", proto: "h2", wantFail: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			certs, secrets := named, []model.Secret{example, shop}
			if tc.withFallback {
				certs = append(append([]model.Certificate(nil), named...), model.Certificate{Secret: "fallback"})
				secrets = append(secrets, fallback)
			}
			_, dp := adsWithGateway(t, tlsGateway(t, web.Addr(), certs, secrets...))
			st := dp.Status()
			if !st.TLS["https"] || st.TLS["http"] {
				t.Fatalf("TLS flags %v", st.TLS)
			}
			// The presented certificate is checked byte for byte below;
			// chain verification would need the test CA per name.
			var presented []byte
			conf := &tls.Config{ServerName: tc.sni, NextProtos: []string{tc.proto}, InsecureSkipVerify: true, //nolint:gosec // see above
				VerifyConnection: func(cs tls.ConnectionState) error { presented = cs.PeerCertificates[0].Raw; return nil }}
			tr := &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: tc.proto == "h2"}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, "https://"+st.Listeners["https"]+"/hello", nil)
			req.Host = tc.sni
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
			if tc.wantFail {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("request succeeded with status %d, want a failed handshake", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(presented) != string(leafOf(t, tc.wantCert.TLS.Certificate)) {
				t.Errorf("presented certificate is not %s's", tc.wantCert.Name)
			}
			if wantMajor := map[string]int{"h2": 2, "http/1.1": 1}[tc.proto]; resp.ProtoMajor != wantMajor {
				t.Errorf("protocol %s, want major %d", resp.Proto, wantMajor)
			}
			if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
				t.Errorf("TLS state %+v, want TLS 1.3", resp.TLS)
			}
			e := echoOf(t, string(body))
			if resp.StatusCode != 200 || e.Upstream != "web" || e.Received.Path != "/hello" {
				t.Fatalf("status %d, echo %+v", resp.StatusCode, e)
			}
			if got := e.Received.Headers["x-forwarded-proto"]; len(got) != 1 || got[0] != "https" {
				t.Errorf("x-forwarded-proto %v, want https", got)
			}
		})
	}

	t.Run("minimum version is enforced", func(t *testing.T) {
		_, dp := adsWithGateway(t, tlsGateway(t, web.Addr(), named, example, shop))
		conn, err := tls.Dial("tcp", dp.Status().Listeners["https"], &tls.Config{ServerName: "shop.io", MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}) //nolint:gosec // only the version matters
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.2 handshake succeeded on a TLS 1.3-only listener")
		}
	})

	t.Run("plaintext listener is unchanged", func(t *testing.T) {
		_, dp := adsWithGateway(t, tlsGateway(t, web.Addr(), named, example, shop))
		resp, err := http.Get("http://" + dp.Status().Listeners["http"] + "/plain")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if e := echoOf(t, string(body)); resp.StatusCode != 200 || e.Received.Headers["x-forwarded-proto"][0] != "http" {
			t.Fatalf("status %d, echo %+v", resp.StatusCode, e)
		}
	})
}

// tlsListener is listener(t) renamed "tls" with one filter chain per
// chain given, each with the HCM of listener(t).
func tlsListener(t *testing.T, chains ...*listenerv3.FilterChain) *listenerv3.Listener {
	t.Helper()
	l := listener(t)
	l.Name = "tls"
	for _, c := range chains {
		c.Filters = l.GetFilterChains()[0].GetFilters()
	}
	l.FilterChains = chains
	return l
}

func TestSecretsWarmAndNack(t *testing.T) {
	h := newHarness(t)
	web := mock(t, "web", upstream.Profile{})
	good := secrettest.TLS(t, "s1", "a.test")
	base := []types.Resource{tlsListener(t, tlsChainOf(t, "s1", "a.test")), routeConfig(prefixRoute("all", "/", "web")),
		edsCluster("web", clusterv3.Cluster_ROUND_ROBIN), loadAssignment("web", web)}

	// Without its secret the listener warms: accepted, not served.
	h.set(t, "v1", base...)
	st := h.dp.Status()
	if st.Listeners["tls"] != "" || strings.Join(st.Warming["tls"], ",") != "s1" {
		t.Fatalf("before the secret: listeners %v, warming %v", st.Listeners, st.Warming)
	}

	// The secret arrives: the listener is served over TLS.
	h.set(t, "v2", append(base, secretOf(good))...)
	st = h.dp.Status()
	if st.Listeners["tls"] == "" || len(st.Warming) != 0 || !st.TLS["tls"] {
		t.Fatalf("after the secret: %+v", st)
	}
	handshake := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", h.dp.Status().Listeners["tls"], &tls.Config{ServerName: "a.test", InsecureSkipVerify: true}) //nolint:gosec // the certificate is compared below
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if got := handshake(); string(got.Raw) != string(leafOf(t, good.TLS.Certificate)) {
		t.Fatal("the listener does not present the secret's certificate")
	}

	// A malformed secret is NACKed and the accepted one stays in use.
	bad := secretOf(good)
	bad.GetTlsCertificate().PrivateKey = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "not a key"}}
	byType := map[resource.Type][]types.Resource{}
	for _, r := range append(base, bad) {
		byType[typeOf(r)] = append(byType[typeOf(r)], r)
	}
	snap, err := cache.NewSnapshot("v3", byType)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cache.SetSnapshot(context.Background(), "n1", snap); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err = h.dp.WaitFor(ctx, func(st Status) bool { return len(st.Nacks) > 0 })
	if err != nil {
		t.Fatal(err)
	}
	n := st.Nacks[len(st.Nacks)-1]
	if n.TypeURL != TypeSecret || !strings.Contains(n.Error, `secret "s1": tls_certificate`) {
		t.Fatalf("nack %+v", n)
	}
	if st.Versions[TypeSecret] != "v2" {
		t.Errorf("secret version %q after the NACK, want v2", st.Versions[TypeSecret])
	}
	if got := handshake(); string(got.Raw) != string(leafOf(t, good.TLS.Certificate)) {
		t.Fatal("the NACK changed the certificate in use")
	}

	// A rotated certificate applies to new handshakes.
	rotated := secrettest.TLS(t, "s1", "a.test")
	h.set(t, "v4", append(base, secretOf(rotated))...)
	if got := handshake(); string(got.Raw) != string(leafOf(t, rotated.TLS.Certificate)) {
		t.Fatal("the rotated certificate is not presented")
	}
}

func typeOf(r types.Resource) resource.Type {
	switch r.(type) {
	case *listenerv3.Listener:
		return resource.ListenerType
	case *routev3.RouteConfiguration:
		return resource.RouteType
	case *clusterv3.Cluster:
		return resource.ClusterType
	case *endpointv3.ClusterLoadAssignment:
		return resource.EndpointType
	case *tlsv3.Secret:
		return resource.SecretType
	}
	return ""
}

func TestALPNFromContext(t *testing.T) {
	sec, err := compileSecret(secretOf(secrettest.TLS(t, "s", "a.test")))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		alpn []string
		want string
	}{
		"listed protocols only": {alpn: []string{"http/1.1"}, want: "http/1.1"},
		"unset offers both":     {want: "h2,http/1.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fc := tlsChainOf(t, "s")
			ctx, _ := downstreamContext(fc)
			ctx.CommonTlsContext.AlpnProtocols = tc.alpn
			fc.TransportSocket.ConfigType = &corev3.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}
			lt, _, err := buildListenerTLS(&listenerv3.Listener{FilterChains: []*listenerv3.FilterChain{fc}}, map[string]*compiledSecret{"s": sec})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(lt.choose("a.test").conf.NextProtos, ","); got != tc.want {
				t.Errorf("ALPN %s, want %s", got, tc.want)
			}
		})
	}
}
