package xds

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/internal/pkitest"
)

// mtlsServer is an ADS server with mutual TLS as `serve` runs it by
// default: the data directory's CA for gateways, an in-memory CA for the
// sandbox.
type mtlsServer struct {
	*Server
	addr    string
	dataDir string
	ca      *pki.Authority
	sandbox *pki.SandboxCA
}

func startMTLSServer(t testing.TB) *mtlsServer {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.Open(dir, pkitest.Sealer{}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := pki.NewSandboxCA()
	if err != nil {
		t.Fatal(err)
	}
	guard := pki.NewGuard(ca, sb, pki.ServerNames("127.0.0.1", nil))
	s, addr := serveOptions(t, Options{Logger: slog.New(slog.DiscardHandler), TLS: guard.TLSConfig(), Authorize: guard.Authorize})
	for _, key := range []string{"public", "internal", "sandbox/public"} {
		res := fixture(t, []testRoute{{rule: "r", prefix: "/", cluster: "web"}}, map[string][]string{"web": {"10.0.0.1:80"}})
		if err := s.SetGateway(t.Context(), key, res, "v-"+key); err != nil {
			t.Fatal(err)
		}
	}
	return &mtlsServer{Server: s, addr: addr, dataDir: dir, ca: ca, sandbox: sb}
}

// issue returns a client certificate of gateway from the server's CA.
func (m *mtlsServer) issue(t testing.TB, gateway string, lifetime time.Duration) tls.Certificate {
	t.Helper()
	is, err := m.ca.IssueGateway(gateway, lifetime)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// dialTLS opens a connection with cfg, closed at the end of the test.
func dialTLS(t testing.TB, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// firstSotW opens a state-of-the-world stream on conn, asks for the
// listeners of cluster and returns the first response or the stream's error.
func firstSotW(t testing.TB, conn *grpc.ClientConn, cluster string) (*discovery.DiscoveryResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: &corev3.Node{Id: cluster + "-1", Cluster: cluster}, TypeUrl: resource.ListenerType}); err != nil {
		return nil, err
	}
	return st.Recv()
}

// firstDelta is firstSotW over the incremental protocol.
func firstDelta(t testing.TB, conn *grpc.ClientConn, cluster string) (*discovery.DeltaDiscoveryResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&discovery.DeltaDiscoveryRequest{Node: &corev3.Node{Id: cluster + "-1", Cluster: cluster}, TypeUrl: resource.ListenerType}); err != nil {
		return nil, err
	}
	return st.Recv()
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

// TestMTLSAccess: a gateway's certificate fetches that gateway and nothing
// else, over both protocols; the sandbox keys are out of reach of every
// certificate the data directory's CA issues; refused streams get nothing
// and never show in the console.
func TestMTLSAccess(t *testing.T) {
	m := startMTLSServer(t)
	public := dialTLS(t, m.addr, m.ca.ClientTLS(m.issue(t, "public", 0)))

	tests := map[string]struct {
		conn    *grpc.ClientConn
		cluster string
		want    codes.Code
	}{
		"own gateway":                  {conn: public, cluster: "public", want: codes.OK},
		"another gateway":              {conn: public, cluster: "internal", want: codes.PermissionDenied},
		"own gateway's sandbox":        {conn: public, cluster: "sandbox/public", want: codes.PermissionDenied},
		"empty cluster":                {conn: public, cluster: "", want: codes.PermissionDenied},
		"sandbox identity, own key":    {conn: sandboxConn(t, m, "public"), cluster: "sandbox/public", want: codes.OK},
		"sandbox identity, the public": {conn: sandboxConn(t, m, "public"), cluster: "public", want: codes.PermissionDenied},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := firstSotW(t, tc.conn, tc.cluster)
			wantCode(t, "sotw", err, tc.want)
			if tc.want != codes.OK && resp != nil {
				t.Errorf("sotw: refused stream received %s", resp.TypeUrl)
			}
			if tc.want == codes.OK && (resp == nil || len(resp.Resources) != 1 || resp.VersionInfo != "v-"+tc.cluster) {
				t.Errorf("sotw: response %v", resp)
			}
			dresp, err := firstDelta(t, tc.conn, tc.cluster)
			wantCode(t, "delta", err, tc.want)
			if tc.want != codes.OK && dresp != nil {
				t.Errorf("delta: refused stream received %s", dresp.TypeUrl)
			}
		})
	}
	for _, key := range []string{"internal", ""} {
		if ps := m.Proxies(key); len(ps) != 0 {
			t.Errorf("refused node shows in the console under %q: %+v", key, ps)
		}
	}
	if ps := m.Proxies("public"); len(ps) != 1 || ps[0].Node != "public-1" {
		t.Errorf("public proxies = %+v", ps)
	}
}

func sandboxConn(t *testing.T, m *mtlsServer, gateway string) *grpc.ClientConn {
	t.Helper()
	creds := &pki.SandboxCredentials{CA: m.sandbox, Authority: m.ca}
	cfg, err := creds.ClientTLS(gateway)
	if err != nil {
		t.Fatal(err)
	}
	return dialTLS(t, m.addr, cfg)
}

// TestMTLSNodeChange: a stream that was let in for its gateway is refused
// when a later request names another one.
func TestMTLSNodeChange(t *testing.T) {
	m := startMTLSServer(t)
	conn := dialTLS(t, m.addr, m.ca.ClientTLS(m.issue(t, "public", 0)))
	st, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: &corev3.Node{Id: "p", Cluster: "public"}, TypeUrl: resource.ListenerType}); err != nil {
		t.Fatal(err)
	}
	first, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&discovery.DiscoveryRequest{Node: &corev3.Node{Id: "p", Cluster: "internal"}, TypeUrl: resource.ClusterType}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	wantCode(t, "changed node", err, codes.PermissionDenied)
	if resp != nil {
		t.Errorf("received %s for another gateway", resp.TypeUrl)
	}
	_ = first
}

// TestMTLSHandshakeRefused: without a certificate of a trusted CA, or with
// an expired one, or in plaintext, no stream is ever opened.
func TestMTLSHandshakeRefused(t *testing.T) {
	m := startMTLSServer(t)
	expired := m.issue(t, "public", time.Nanosecond)
	other, err := pki.Open(t.TempDir(), pkitest.Sealer{}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	foreignKP, err := tls.X509KeyPair(foreign.CertPEM, foreign.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := m.ca.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)

	tests := map[string]*grpc.ClientConn{
		"no certificate":         dialTLS(t, m.addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}),
		"expired certificate":    dialTLS(t, m.addr, m.ca.ClientTLS(expired)),
		"another CA's":           dialTLS(t, m.addr, m.ca.ClientTLS(foreignKP)),
		"plaintext":              dialConn(t, m.addr),
		"server not trusted too": dialTLS(t, m.addr, other.ClientTLS(m.issue(t, "public", 0))),
	}
	for name, conn := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := firstSotW(t, conn, "public")
			wantCode(t, "stream", err, codes.Unavailable)
			if resp != nil {
				t.Errorf("received %s", resp.TypeUrl)
			}
		})
	}
	if ps := m.Proxies("public"); len(ps) != 0 {
		t.Errorf("unauthenticated proxies in the console: %+v", ps)
	}
}

// TestMTLSRotation: a re-issued certificate, and after a CA rotation made
// by another process on the same data directory (an offline `certs
// rotate-ca`) both the old CA's and the new CA's certificates, are
// accepted by the running server.
func TestMTLSRotation(t *testing.T) {
	m := startMTLSServer(t)
	old := m.issue(t, "public", 0)
	reissued := m.issue(t, "public", 0)
	for name, kp := range map[string]tls.Certificate{"first": old, "re-issued": reissued} {
		if _, err := firstSotW(t, dialTLS(t, m.addr, m.ca.ClientTLS(kp)), "public"); err != nil {
			t.Errorf("%s certificate: %v", name, err)
		}
	}

	time.Sleep(10 * time.Millisecond) // a modification time the server can tell apart
	offline, err := pki.Open(m.dataDir, pkitest.Sealer{}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := offline.RotateCA(0); err != nil {
		t.Fatal(err)
	}
	fresh, err := offline.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	freshKP, err := tls.X509KeyPair(fresh.CertPEM, fresh.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// The proxies verify the server with the bundle they hold: the old
	// one only knows the old CA, which the server must still satisfy...
	oldBundle := x509.NewCertPool()
	oldBundle.AppendCertsFromPEM(mustBundle(t, m.ca))
	for name, cfg := range map[string]*tls.Config{
		"old certificate":       offline.ClientTLS(old),
		"new CA's certificate":  offline.ClientTLS(freshKP),
		"old bundle, new chain": {Certificates: []tls.Certificate{freshKP}, RootCAs: oldBundle, ServerName: "127.0.0.1"},
	} {
		if _, err := firstSotW(t, dialTLS(t, m.addr, cfg), "public"); err != nil {
			t.Errorf("%s after the CA rotation: %v", name, err)
		}
	}
}

func mustBundle(t *testing.T, a *pki.Authority) []byte {
	t.Helper()
	b, err := a.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMTLSGRPCProxylessClient: grpc-go's own xDS client with the files
// `certs issue` writes (tls.crt, tls.key, ca.crt) as its bootstrap's TLS
// channel credentials fetches its gateway; with another gateway's files,
// it gets nothing.
func TestMTLSGRPCProxylessClient(t *testing.T) {
	m := startMTLSServer(t)
	addrA := startIdentityServer(t, "A")
	if err := m.SetGateway(t.Context(), "public", grpcResources(t, addrA, addrA, map[string]uint32{"a": 100}), "1"); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		certFor string
		ok      bool
	}{
		"own certificate":       {certFor: "public", ok: true},
		"another gateway's one": {certFor: "internal"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			is, err := m.ca.IssueGateway(tc.certFor, 0)
			if err != nil {
				t.Fatal(err)
			}
			for file, data := range map[string][]byte{"tls.crt": is.CertPEM, "tls.key": is.KeyPEM, "ca.crt": is.CAPEM} {
				if err := os.WriteFile(filepath.Join(dir, file), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			bootstrap, err := json.Marshal(map[string]any{
				"xds_servers": []any{map[string]any{
					"server_uri": m.addr,
					"channel_creds": []any{map[string]any{"type": "tls", "config": map[string]any{
						"ca_certificate_file": filepath.Join(dir, "ca.crt"),
						"certificate_file":    filepath.Join(dir, "tls.crt"),
						"private_key_file":    filepath.Join(dir, "tls.key"),
					}}},
					"server_features": []string{"xds_v3"},
				}},
				"node": map[string]any{"id": "grpc-" + tc.certFor, "cluster": "public"},
			})
			if err != nil {
				t.Fatal(err)
			}
			resolver, err := xds.NewXDSResolverWithConfigForTesting(bootstrap)
			if err != nil {
				t.Fatalf("xds resolver: %v", err)
			}
			conn, err := grpc.NewClient("xds:///echo", grpc.WithResolvers(resolver), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			timeout := 10 * time.Second
			if !tc.ok {
				timeout = 2 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			resp, err := testgrpc.NewTestServiceClient(conn).UnaryCall(ctx, &testgrpc.SimpleRequest{}, grpc.WaitForReady(true))
			if tc.ok {
				if err != nil || resp.ServerId != "A" {
					t.Fatalf("RPC: %v, %v", resp, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("RPC routed with another gateway's certificate: %v", resp)
			}
			for _, p := range m.Proxies("public") {
				if p.Node == "grpc-internal" {
					t.Errorf("refused client shows in the console: %+v", p)
				}
			}
		})
	}
}
