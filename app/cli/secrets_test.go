package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// TestSecretsKeyNeverPrinted applies a secret and the HTTPS gateway using
// it, then reads it back every way the CLI can: the key is never printed,
// and the printed file applies again unchanged.
func TestSecretsKeyNeverPrinted(t *testing.T) {
	e := newEnv(t)
	cert, key := secrettest.Pair(t, "shop.example.com")
	indent := func(s string) string {
		return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
	}
	file := filepath.Join(t.TempDir(), "tls.yaml")
	doc := "kind: Secret\nname: shop-tls\ntls:\n  certificate: |\n" + indent(cert) + "\n  privateKey: |\n" + indent(key) +
		"\n---\nkind: Gateway\nname: edge\nlisteners:\n  - {name: https, port: 443, protocol: HTTPS, tls: {certificates: [{secret: shop-tls}]}}\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := e.client(t, "apply", "-f", file)
	if code != 0 || !strings.Contains(out, "Secret/shop-tls created") {
		t.Fatalf("apply: %s %s", out, errOut)
	}
	// The client cannot tell the file's key from the stored one without
	// reading it: the key line differs, and neither key is printed.
	if out, _, _ := e.client(t, "diff", "-f", file); !strings.Contains(out, "\n-  privateKey: "+model.FingerprintPrefix) || !strings.Contains(out, "+  privateKey: "+fileSecret) || strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("diff of the applied file: %q", out)
	}

	yml, errOut, code := e.client(t, "get", "secret", "shop-tls", "-o", "yaml")
	if code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	if strings.Contains(yml, "PRIVATE KEY") || !strings.Contains(yml, "privateKey: "+model.FingerprintPrefix) || !strings.Contains(yml, "BEGIN CERTIFICATE") {
		t.Fatalf("get -o yaml:\n%s", yml)
	}
	back := filepath.Join(t.TempDir(), "back.yaml")
	if err := os.WriteFile(back, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = e.client(t, "apply", "-f", back)
	if code != 0 || !strings.Contains(out, "Secret/shop-tls unchanged") {
		t.Errorf("re-apply of get output: %s %s", out, errOut)
	}
	if out, _, _ := e.client(t, "diff", "-f", back); out != "" {
		t.Errorf("diff of get output: %q", out)
	}

	expiry := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02")
	tests := map[string]struct {
		args []string
		want []string
	}{
		"table": {[]string{"get", "secrets"}, []string{"HOLDS", "NOT AFTER", "shop-tls", "tls", expiry}},
		"json":  {[]string{"get", "secret", "shop-tls", "-o", "json"}, []string{`"privateKey": "` + model.FingerprintPrefix}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := e.client(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Fatalf("output shows the key:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	_, errOut, code = e.client(t, "delete", "secret", "shop-tls")
	if code == 0 || !strings.Contains(errOut, "gateways[edge]") {
		t.Errorf("delete of a used secret: exit %d, %s", code, errOut)
	}
}
