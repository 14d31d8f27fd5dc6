package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// readLeaf parses dir/tls.crt.
func readLeaf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, xds.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("tls.crt is not PEM: %q", data)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertsOffline: without a server, certs works on the data directory:
// issue writes the three files, rotate-ca adds a CA that list shows.
func TestCertsOffline(t *testing.T) {
	e := newEnv(t)
	t.Setenv("ROUTEDECK_MASTER_KEY", "")
	out := filepath.Join(t.TempDir(), "edge")
	if _, errOut, code := e.run(t, "", "certs", "issue", "--gateway", "edge", "--out", out, "--days", "30"); code != 0 {
		t.Fatalf("certs issue: %s", errOut)
	}
	for _, f := range []string{xds.CertFile, xds.KeyFile, xds.CAFile} {
		fi, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	leaf := readLeaf(t, out)
	if leaf.URIs[0].String() != "spiffe://routedeck/gateway/edge" || time.Until(leaf.NotAfter) > 30*24*time.Hour {
		t.Errorf("certificate for %v until %s", leaf.URIs, leaf.NotAfter)
	}
	if _, errOut, code := e.run(t, "", "certs", "issue", "--gateway", "sandbox/edge", "--out", out); code == 0 || !strings.Contains(errOut, "lowercase") {
		t.Errorf("issued a certificate for a sandbox key: exit %d %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "", "certs", "rotate-ca"); code != 0 {
		t.Fatalf("rotate-ca: %s", errOut)
	}
	list, _, code := e.run(t, "", "certs", "list")
	if code != 0 || strings.Count(list, "\n") != 2 || !strings.Contains(list, "issuing") {
		t.Errorf("certs list after a rotation (exit %d):\n%s", code, list)
	}
	raw, err := os.ReadFile(filepath.Join(e.dataDir, "pki", "ca.json"))
	if err != nil || strings.Contains(string(raw), "PRIVATE KEY") {
		t.Errorf("CA key stored in clear (or missing: %v)", err)
	}
}

// TestCertsBootstrapSim connects the simulated Envoy to a running server
// exactly as an operator connects Envoy: `certs issue` writes the
// credentials, `bootstrap --out` writes the bootstrap and its SDS files,
// and the sim reads them as Envoy would. After a CA rotation and a
// re-issue, a proxy started from the same files connects to the same
// server process.
func TestCertsBootstrapSim(t *testing.T) {
	ctx := context.Background()
	svc, e, admin := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	if _, errOut, code := e.client(t, "publish", "--gateway", "edge"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	certDir, confDir := filepath.Join(t.TempDir(), "tls"), filepath.Join(t.TempDir(), "envoy")
	asAdmin := func(args ...string) {
		t.Helper()
		all := append(args, "--data-dir", e.dataDir, "--server", e.url, "--token", admin.token)
		var out, errOut strings.Builder
		if code := Run(ctx, all, strings.NewReader(""), &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
	}
	// Issuing is for admins.
	if _, errOut, code := e.client(t, "certs", "issue", "--gateway", "edge", "--out", certDir); code == 0 || !strings.Contains(errOut, "403") {
		t.Fatalf("an editor issued a certificate: exit %d %s", code, errOut)
	}
	asAdmin("certs", "issue", "--gateway", "edge", "--out", certDir)
	asAdmin("bootstrap", "--gateway", "edge", "--node", "edge-1", "--ads", svc.ADSAddr().String(), "--cert-dir", certDir, "--out", confDir)

	startSim := func(node string) *sim.DataPlane {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(confDir, BootstrapFile))
		if err != nil {
			t.Fatal(err)
		}
		b, err := xds.ParseBootstrapYAML(data)
		if err != nil {
			t.Fatal(err)
		}
		b.Node.Id = node
		opts, err := sim.FromBootstrap(b)
		if err != nil {
			t.Fatal(err)
		}
		if opts.TLS == nil {
			t.Fatal("the bootstrap's ADS cluster has no TLS")
		}
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		dp, err := sim.Start(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dp.Close() })
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := dp.WaitFor(wctx, func(st sim.Status) bool { return st.Ready["http"] }); err != nil {
			t.Fatalf("%s: %v", node, err)
		}
		return dp
	}
	dp := startSim("edge-1")
	addr := dp.Status().Listeners["http"]
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = "shop.example.com"
	req.Header.Set("x-canary", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "canary" {
		t.Errorf("through the sim: %d %q", resp.StatusCode, body)
	}

	// A new CA, a re-issued certificate in the same directory: a proxy
	// started from the same bootstrap connects, the server never
	// restarted, and the first proxy's stream is still up.
	asAdmin("certs", "rotate-ca")
	asAdmin("certs", "issue", "--gateway", "edge", "--out", certDir)
	startSim("edge-2")
	connected := map[string]bool{}
	for _, p := range svc.ADS().Proxies("edge") {
		connected[p.Node] = p.Connected
	}
	if !connected["edge-1"] || !connected["edge-2"] {
		t.Errorf("proxies of edge: %v, want edge-1 and edge-2 connected", connected)
	}
}
