package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// handshakeWith is handshake for any server configuration; it returns the
// server's error and, on success, the connection state.
func handshakeWith(t *testing.T, server, client *tls.Config) (*tls.ConnectionState, error) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		sc, err := lis.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		s := tls.Server(sc, server)
		err = s.Handshake()
		done <- result{s.ConnectionState(), err}
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
	r := <-done
	return &r.state, r.err
}

func writeIssued(t *testing.T, dir string, is *Issued) (cert, key, ca string) {
	t.Helper()
	cert, key, ca = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	for path, data := range map[string][]byte{cert: is.CertPEM, key: is.KeyPEM, ca: is.CAPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, ca
}

func TestFileGuard(t *testing.T) {
	a, _, _ := openTest(t)
	server, err := a.IssueServer([]string{"127.0.0.1", "xds.example.com"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, caFile := writeIssued(t, t.TempDir(), server)
	g, err := NewFileGuard(certFile, keyFile, caFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	clientOf := func(a *Authority, gateway string) *tls.Config {
		is, err := a.IssueGateway(gateway, 0)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return a.ClientTLS(kp)
	}

	// A gateway's proxy gets in, for its gateway only, and sees the ADS
	// identity the writer presents.
	state, err := handshakeWith(t, g.TLSConfig(), clientOf(a, "public"))
	if err != nil {
		t.Fatalf("a gateway certificate was refused: %v", err)
	}
	if err := g.Authorize(state, "public"); err != nil {
		t.Errorf("own gateway: %v", err)
	}
	if err := g.Authorize(state, "internal"); err == nil || !strings.Contains(err.Error(), `not "internal"`) {
		t.Errorf("another gateway: %v", err)
	}
	if err := g.Authorize(state, "sandbox/public"); err == nil {
		t.Error("a gateway certificate read the sandbox")
	}
	if err := g.Authorize(nil, "public"); err == nil {
		t.Error("plaintext authorized")
	}
	// A sandbox identity, even from the data directory's CA, is never
	// served by a replica.
	forged := issueForeign(t, a, SandboxID("public"))
	chains, err := forged.Verify(x509VerifyClient(t, server.CAPEM))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Authorize(&tls.ConnectionState{VerifiedChains: chains}, "sandbox/public"); err == nil || !strings.Contains(err.Error(), "sandbox") {
		t.Errorf("sandbox identity: %v", err)
	}
	// Another CA's client never completes the handshake.
	other, _, _ := openTest(t)
	if _, err := handshakeWith(t, g.TLSConfig(), clientOf(other, "public")); err == nil {
		t.Error("a certificate of another CA completed the handshake")
	}

	// After a CA rotation, certificates of the new CA get in once ca.crt
	// holds it: the replica reads the bundle again, no restart.
	if _, err := a.RotateCA(0); err != nil {
		t.Fatal(err)
	}
	fresh := clientOf(a, "public")
	if _, err := handshakeWith(t, g.TLSConfig(), fresh); err == nil {
		t.Error("a certificate of a CA not yet in ca.crt completed the handshake")
	}
	bundle, err := a.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.checked = time.Time{} // the once-a-second look is due
	g.mu.Unlock()
	state, err = handshakeWith(t, g.TLSConfig(), fresh)
	if err != nil {
		t.Fatalf("a certificate of the rotated CA was refused after ca.crt changed: %v", err)
	}
	if err := g.Authorize(state, "public"); err != nil {
		t.Errorf("rotated CA: %v", err)
	}

	// Files that do not make a server are refused at start.
	gw, err := a.IssueGateway("public", 0)
	if err != nil {
		t.Fatal(err)
	}
	gc, gk, gca := writeIssued(t, t.TempDir(), gw)
	if _, err := NewFileGuard(gc, gk, gca, nil); err == nil || !strings.Contains(err.Error(), "not an ADS server certificate") {
		t.Errorf("a gateway certificate as the server's: %v", err)
	}
	otherServer, err := other.IssueServer([]string{"x"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	oc, ok, _ := writeIssued(t, t.TempDir(), otherServer)
	if _, err := NewFileGuard(oc, ok, caFile, nil); err == nil || !strings.Contains(err.Error(), "not vouched for") {
		t.Errorf("a server certificate of another CA: %v", err)
	}
	if _, err := a.IssueServer(nil, 0); err == nil {
		t.Error("a server certificate without names")
	}
}

func x509VerifyClient(t *testing.T, bundle []byte) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: poolOf(t, bundle), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}
