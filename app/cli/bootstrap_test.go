package cli

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/xds"
)

// TestProxyCommandsAskTheServer: with a server named, bootstrap and
// manifests take the ADS address the server really listens on (not the
// default port), and an unknown gateway fails.
func TestProxyCommandsAskTheServer(t *testing.T) {
	ctx := context.Background()
	svc, e, admin := startServer(t, ctx)
	if _, errOut, code := e.client(t, "apply", "-f", "testdata/shop.yaml"); code != 0 {
		t.Fatalf("apply: %s", errOut)
	}
	_, port, _ := net.SplitHostPort(svc.ADSAddr().String())
	if port == "18000" {
		t.Fatal("the test server should listen on a port of its own")
	}

	out, errOut, code := e.client(t, "bootstrap", "--gateway", "edge", "--node", "n1")
	if code != 0 {
		t.Fatalf("bootstrap: %s", errOut)
	}
	b, err := xds.ParseBootstrapYAML([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	sock := b.StaticResources.Clusters[0].LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetSocketAddress()
	if got := net.JoinHostPort(sock.Address, port); sock.GetPortValue() == 0 || got != svc.ADSAddr().String() || b.Node.Id != "n1" || b.Node.Cluster != "edge" {
		t.Errorf("bootstrap dials %s:%d as %s/%s, want %s", sock.Address, sock.GetPortValue(), b.Node.Cluster, b.Node.Id, svc.ADSAddr())
	}
	if b.StaticResources.Clusters[0].TransportSocket == nil {
		t.Error("the server serves ADS over TLS, the bootstrap has none")
	}
	// --ads overrides the server's address; a flag that contradicts its
	// TLS mode is refused.
	if out, _, code := e.client(t, "bootstrap", "--gateway", "edge", "--ads", "ads.example.com:443"); code != 0 || !strings.Contains(out, "ads.example.com") {
		t.Errorf("--ads not used: %s", out)
	}
	if _, errOut, code := e.client(t, "bootstrap", "--gateway", "edge", "--ads-insecure-plaintext"); code == 0 || !strings.Contains(errOut, "mutual TLS") {
		t.Errorf("plaintext bootstrap for a TLS server (%d): %s", code, errOut)
	}
	if _, errOut, code := e.client(t, "bootstrap", "--gateway", "nope"); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("unknown gateway: exit %d %s", code, errOut)
	}
	// -f: a gateway the server does not have yet, read from the file as
	// manifests does, dialling the server's ADS address.
	file := writeFile(t, t.TempDir(), "next.yaml", "kind: Gateway\nname: next\nlisteners: [{name: http, port: 8081, protocol: HTTP}]\n")
	out, errOut, code = e.client(t, "bootstrap", "--gateway", "next", "-f", file, "--node", "n2")
	if code != 0 {
		t.Fatalf("bootstrap -f with a server: %s", errOut)
	}
	if b, err = xds.ParseBootstrapYAML([]byte(out)); err != nil {
		t.Fatal(err)
	}
	sock = b.StaticResources.Clusters[0].LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetSocketAddress()
	if got := net.JoinHostPort(sock.Address, strconv.Itoa(int(sock.GetPortValue()))); got != svc.ADSAddr().String() || b.Node.Cluster != "next" || b.StaticResources.Clusters[0].TransportSocket == nil {
		t.Errorf("bootstrap -f dials %s as %s (TLS %v), want %s over TLS", got, b.Node.Cluster, b.StaticResources.Clusters[0].TransportSocket != nil, svc.ADSAddr())
	}
	if _, errOut, code := e.client(t, "bootstrap", "--gateway", "nope", "-f", file); code != 1 || !strings.Contains(errOut, `has no gateway "nope"`) {
		t.Errorf("bootstrap -f of a gateway the file lacks: exit %d %s", code, errOut)
	}

	// manifests (an admin issues the certificate) dial the same address.
	out, errOut, code = e.run(t, "", "manifests", "--gateway", "edge", "--server", e.url, "--token", admin.token)
	if code != 0 || !strings.Contains(out, "port_value: "+port) || !strings.Contains(out, "kind: Secret") {
		t.Errorf("manifests (%d): %s\n%s", code, errOut, out)
	}
	if _, errOut, code := e.run(t, "", "manifests", "--gateway", "nope", "--server", e.url, "--token", admin.token); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("manifests of an unknown gateway: exit %d %s", code, errOut)
	}
}
