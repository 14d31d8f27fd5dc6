package manifest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// TestLoadSecrets reads Secret documents with PEM block scalars and
// locates a problem in one of them by line.
func TestLoadSecrets(t *testing.T) {
	cert, key := secrettest.Pair(t, "shop.example.com")
	indent := func(s string) string {
		return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
	}
	doc := "kind: Secret\nname: shop-tls\ntls:\n  certificate: |\n" + indent(cert) + "\n  privateKey: |\n" + indent(key) +
		"\n---\nkind: Secret\nname: broken\nca: not a certificate\n" +
		"---\nkind: Gateway\nname: edge\nlisteners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n" +
		"    tls: {certificates: [{secret: shop-tls}]}\n"
	f, err := Load("secrets.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ws := f.Workspace
	if len(ws.Secrets) != 2 || len(ws.Gateways) != 1 {
		t.Fatalf("got %d secrets, %d gateways", len(ws.Secrets), len(ws.Gateways))
	}
	if ws.Secrets[0].TLS.Certificate != cert || ws.Secrets[0].TLS.PrivateKey != key {
		t.Error("PEM blocks did not survive the YAML round trip")
	}
	err = f.Explain(ws.Validate())
	if err == nil || !strings.Contains(err.Error(), "secrets.yaml:") || !strings.Contains(err.Error(), "ca: no PEM certificate found") {
		t.Fatalf("Explain = %v", err)
	}
	// The broken document starts after the first one's lines; its ca is on
	// its third line.
	wantLine := strings.Count(doc[:strings.Index(doc, "\n---\n")], "\n") + 2 + 3
	if !strings.Contains(err.Error(), "secrets.yaml:"+strconv.Itoa(wantLine)+":") {
		t.Errorf("Explain = %v, want line %d", err, wantLine)
	}
}
