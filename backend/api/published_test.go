package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestPublishedVersionHasWorkspace publishes the seeded gateway with a TLS
// listener and reads the version back: the workspace is there (so clients
// can diff live against draft), the private key is not.
func TestPublishedVersionHasWorkspace(t *testing.T) {
	a := newTestAPI(t)
	cert, key := a.seedHTTPS(t)
	if _, err := a.store.Publish(context.Background(), "test", "public", "first"); err != nil {
		t.Fatalf("publish: %v", err)
	}

	r := a.do(t, "viewer", "GET", "/api/v1/gateways/public/published/1", nil).must(t, http.StatusOK)
	if strings.Contains(string(r.body), "PRIVATE KEY") {
		t.Fatalf("published version shows a private key: %s", r.body)
	}
	got := r.json(t)
	if got["version"] != float64(1) || got["gateway"] != "public" || got["note"] != "first" {
		t.Errorf("published = %v", got)
	}
	ws, _ := got["workspace"].(map[string]any)
	count := func(k string) int { l, _ := ws[k].([]any); return len(l) }
	if count("routes") != 2 || count("upstreams") != 2 || count("gateways") != 1 || count("secrets") != 1 {
		t.Fatalf("workspace = %v", ws)
	}
	sec := ws["secrets"].([]any)[0].(map[string]any)
	if tls := sec["tls"].(map[string]any); tls["privateKey"] != a.fp.Fingerprint(key) || tls["certificate"] != cert {
		t.Errorf("secret = %v", sec)
	}

	tests := map[string]struct {
		path string
		want int
	}{
		"version not published": {"/api/v1/gateways/public/published/2", http.StatusNotFound},
		"version not a number":  {"/api/v1/gateways/public/published/latest", http.StatusNotFound},
		"version zero":          {"/api/v1/gateways/public/published/0", http.StatusNotFound},
		"gateway unknown":       {"/api/v1/gateways/nope/published/1", http.StatusNotFound},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a.do(t, "viewer", "GET", tc.path, nil).must(t, tc.want)
		})
	}
}
