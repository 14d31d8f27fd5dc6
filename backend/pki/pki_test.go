package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/routedeck/routedeck/internal/pkitest"
)

type testSealer = pkitest.Sealer

// clock is a settable time for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openTest(t *testing.T) (*Authority, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	c := &clock{t: time.Now()}
	a, err := Open(dir, testSealer{}, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return a, c, dir
}

func parseCert(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatalf("not PEM: %q", p)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func poolOf(t *testing.T, bundle []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(bundle) {
		t.Fatal("bundle has no certificate")
	}
	return p
}

func TestOpenKeepsTheCAAndSealsItsKey(t *testing.T) {
	a, _, dir := openTest(t)
	first, err := a.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "PRIVATE KEY") || !strings.Contains(string(raw), `"key": "sealed:`) {
		t.Errorf("CA file does not hold the key sealed:\n%s", raw)
	}
	if fi, _ := os.Stat(filepath.Join(dir, File)); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := Open(dir, testSealer{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, _ := again.BundlePEM()
	if string(first) != string(second) {
		t.Error("reopening created another CA")
	}
	if _, err := Open(dir, nil, Options{}); err == nil {
		t.Error("opened without a sealer")
	}
}

func TestIssueGateway(t *testing.T) {
	a, c, _ := openTest(t)
	tests := map[string]struct {
		gateway  string
		lifetime time.Duration
		want     time.Duration
		err      string
	}{
		"default lifetime": {gateway: "public", want: 90 * 24 * time.Hour},
		"ten days":         {gateway: "edge.eu-1", lifetime: 10 * 24 * time.Hour, want: 10 * 24 * time.Hour},
		"too long":         {gateway: "public", lifetime: 1000 * 24 * time.Hour, err: "lifetime"},
		"sandbox key":      {gateway: "sandbox/public", err: "lowercase"},
		"upper case":       {gateway: "Public", err: "lowercase"},
		"empty":            {gateway: "", err: "1-253"},
		"leading dash":     {gateway: "-x", err: "start and end"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := a.IssueGateway(tc.gateway, tc.lifetime)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			leaf := parseCert(t, got.CertPEM)
			if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://routedeck/gateway/"+tc.gateway {
				t.Errorf("URIs = %v", leaf.URIs)
			}
			if d := leaf.NotAfter.Sub(c.now()); d < tc.want-time.Minute || d > tc.want+time.Minute {
				t.Errorf("valid for %s, want %s", d, tc.want)
			}
			if leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("not a client leaf: CA %v, usage %v", leaf.IsCA, leaf.ExtKeyUsage)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: poolOf(t, got.CAPEM), CurrentTime: c.now(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("does not verify against ca.crt: %v", err)
			}
			if _, err := tls.X509KeyPair(got.CertPEM, got.KeyPEM); err != nil {
				t.Errorf("key does not match: %v", err)
			}
		})
	}
}

// TestRotateCA: after a rotation, certificates of the old CA and of the
// new one are both trusted until the overlap ends; another process's view
// of the same directory follows without reopening.
func TestRotateCA(t *testing.T) {
	a, c, dir := openTest(t)
	server, err := Open(dir, testSealer{}, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	if _, err := a.RotateCA(30 * 24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	fresh, err := a.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(parseCert(t, old.CertPEM).AuthorityKeyId) == string(parseCert(t, fresh.CertPEM).AuthorityKeyId) {
		t.Fatal("new certificate issued by the old CA")
	}
	cas, err := server.CAs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cas) != 2 || cas[0].Active || !cas[1].Active {
		t.Fatalf("server sees CAs %+v, want old then active new", cas)
	}
	bundle, _ := server.BundlePEM()
	for name, p := range map[string][]byte{"old": old.CertPEM, "new": fresh.CertPEM} {
		if _, err := parseCert(t, p).Verify(x509.VerifyOptions{Roots: poolOf(t, bundle), CurrentTime: c.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s certificate not trusted during the overlap: %v", name, err)
		}
	}
	c.advance(31 * 24 * time.Hour)
	cas, _ = server.CAs()
	if len(cas) != 1 || !cas[0].Active {
		t.Errorf("after the overlap: CAs %+v, want the new one alone", cas)
	}
}

// issueForeign makes a leaf with any URI from the data directory's CA,
// which IssueGateway never would: a test of Authorize's own checks.
func issueForeign(t *testing.T, a *Authority, uri string) *x509.Certificate {
	t.Helper()
	trusted, _, err := a.current()
	if err != nil {
		t.Fatal(err)
	}
	got, err := issueLeaf(trusted[len(trusted)-1], a.now(), time.Hour, leafSpec{commonName: "x", uris: []string{uri}, usage: x509.ExtKeyUsageClientAuth})
	if err != nil {
		t.Fatal(err)
	}
	return parseCert(t, got.CertPEM)
}

func TestCheckSandboxName(t *testing.T) {
	for name, ok := range map[string]bool{
		"public": true, "public/v1": true, "public/v42": true,
		"public/v0": false, "public/v-1": false, "public/v01": false, "public/v": false, "public/x1": false,
		"public/v1/v2": false, "/v1": false, "Public/v1": false, "public/v99999999999999999999": false,
	} {
		if err := CheckSandboxName(name); (err == nil) != ok {
			t.Errorf("CheckSandboxName(%q) = %v, want ok %v", name, err, ok)
		}
	}
	sb, err := NewSandboxCA()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Issue("public/v0"); err == nil {
		t.Error("a sandbox certificate for version 0 was issued")
	}
}

func TestAuthorize(t *testing.T) {
	a, c, _ := openTest(t)
	sb, err := NewSandboxCA()
	if err != nil {
		t.Fatal(err)
	}
	g := NewGuard(a, sb, ServerNames("127.0.0.1", nil))
	verify := func(leaf *x509.Certificate, roots []byte) *tls.ConnectionState {
		chains, err := leaf.Verify(x509.VerifyOptions{Roots: poolOf(t, roots), CurrentTime: c.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			t.Fatal(err)
		}
		return &tls.ConnectionState{VerifiedChains: chains}
	}
	bundle, _ := a.BundlePEM()
	public, _ := a.IssueGateway("public", 24*time.Hour)
	sandbox, _ := sb.Issue("public")
	version, _ := sb.Issue("public/v3")
	publicState := verify(parseCert(t, public.CertPEM), bundle)
	sandboxState := verify(parseCert(t, sandbox.CertPEM), sb.ca.certPEM)
	versionState := verify(parseCert(t, version.CertPEM), sb.ca.certPEM)
	gatewayVersion := verify(issueForeign(t, a, GatewayID("public/v3")), bundle)
	forged := verify(issueForeign(t, a, SandboxID("public")), bundle)
	twoIDs := verify(issueForeign(t, a, GatewayID("public")), bundle)

	tests := map[string]struct {
		state   *tls.ConnectionState
		cluster string
		err     string
	}{
		"own gateway":                   {state: publicState, cluster: "public"},
		"another gateway":               {state: publicState, cluster: "internal", err: `for "public", not "internal"`},
		"own gateway's sandbox":         {state: publicState, cluster: "sandbox/public", err: "not"},
		"sandbox identity":              {state: sandboxState, cluster: "sandbox/public"},
		"sandbox identity, public keys": {state: sandboxState, cluster: "public", err: "not"},
		"sandbox SAN from the data CA":  {state: forged, cluster: "sandbox/public", err: "not from a CA trusted"},
		"version sandbox":               {state: versionState, cluster: "sandbox/public/v3"},
		"version sandbox, the draft's":  {state: versionState, cluster: "sandbox/public", err: "not"},
		"version sandbox, another":      {state: versionState, cluster: "sandbox/public/v4", err: "not"},
		"draft sandbox, a version's":    {state: sandboxState, cluster: "sandbox/public/v3", err: "not"},
		"a version is no gateway name":  {state: gatewayVersion, cluster: "public/v3", err: "names no routedeck gateway"},
		"gateway SAN, any issuer check": {state: twoIDs, cluster: "public"},
		"no certificate":                {state: &tls.ConnectionState{}, cluster: "public", err: "no verified"},
		"plaintext":                     {state: nil, cluster: "public", err: "no verified"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := g.Authorize(tc.state, tc.cluster)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
	c.advance(25 * time.Hour)
	if err := g.Authorize(publicState, "public"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate: err = %v", err)
	}
}

// handshake runs a TLS handshake between the guard's server configuration
// and a client configuration, returning the server's error.
func handshake(t *testing.T, g *Guard, client *tls.Config) error {
	t.Helper()
	// TCP rather than net.Pipe: an alert written by one side must not
	// wait for the other to read it.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	errc := make(chan error, 1)
	go func() {
		sc, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		s := tls.Server(sc, g.TLSConfig())
		errc <- s.Handshake()
		s.Close()
	}()
	cc, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cl := tls.Client(cc, client)
	_ = cl.Handshake()
	cl.Close()
	return <-errc
}

func TestGuardHandshake(t *testing.T) {
	a, c, _ := openTest(t)
	g := NewGuard(a, nil, ServerNames("127.0.0.1", []string{"ads.example.com"}))
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	keyPair := func(days time.Duration) tls.Certificate {
		is, err := a.IssueGateway("public", days*24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return kp
	}
	valid := keyPair(90)
	if err := handshake(t, g, a.ClientTLS(valid)); err != nil {
		t.Errorf("valid certificate refused: %v", err)
	}
	if err := handshake(t, g, &tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Error("a client without a certificate completed the handshake")
	}
	short := keyPair(1)
	c.advance(2 * 24 * time.Hour)
	if err := handshake(t, g, a.ClientTLS(short)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired certificate: err = %v", err)
	}
	// The server's certificate is for the ADS identity and the names.
	cfg, _ := g.config()
	leaf, _ := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if leaf.URIs[0].String() != ServerID || !strings.Contains(strings.Join(leaf.DNSNames, ","), "ads.example.com") {
		t.Errorf("server certificate URIs %v DNS %v", leaf.URIs, leaf.DNSNames)
	}
	// After a CA rotation the server presents a certificate of the new CA.
	if _, err := a.RotateCA(0); err != nil {
		t.Fatal(err)
	}
	cfg2, _ := g.config()
	leaf2, _ := x509.ParseCertificate(cfg2.Certificates[0].Certificate[0])
	if string(leaf2.AuthorityKeyId) == string(leaf.AuthorityKeyId) {
		t.Error("server certificate not renewed after the CA rotation")
	}
}

// nextSealer stands for the keyring after a master key rotation: it seals
// under a new mark and still unseals what the previous key sealed.
type nextSealer struct{}

func (nextSealer) Seal(b []byte) (string, error) {
	s, err := testSealer{}.Seal(b)
	return "next:" + s, err
}

func (nextSealer) Unseal(s string) ([]byte, error) {
	return testSealer{}.Unseal(strings.TrimPrefix(s, "next:"))
}

func TestReseal(t *testing.T) {
	a, _, dir := openTest(t)
	before, _ := a.BundlePEM()
	b, err := Open(dir, nextSealer{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reseal(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, File))
	if !strings.Contains(string(raw), `"key": "next:`) {
		t.Errorf("keys not sealed again:\n%s", raw)
	}
	if _, err := Open(dir, nextSealer{}, Options{}); err != nil {
		t.Fatal(err)
	}
	after, _ := b.BundlePEM()
	if string(before) != string(after) {
		t.Error("resealing changed the CAs")
	}
}
