package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// TestPublishedVersionHasWorkspace publishes the seeded gateway with a TLS
// listener and reads the version back: the workspace is there (so clients
// can diff live against draft), the private key is not.
func TestPublishedVersionHasWorkspace(t *testing.T) {
	a := newTestAPI(t)
	a.seed(t)
	cert, key := secrettest.Pair(t, "shop.example.com")
	a.do(t, "editor", "POST", "/api/v1/secrets", map[string]any{
		"name": "shop-tls", "tls": map[string]any{"certificate": cert, "privateKey": key},
	}).must(t, http.StatusCreated)
	gw := a.do(t, "viewer", "GET", "/api/v1/gateways/public", nil).must(t, http.StatusOK)
	a.do(t, "editor", "PUT", "/api/v1/gateways/public", map[string]any{
		"name": "public", "listeners": []any{
			map[string]any{"name": "http", "port": 8080, "protocol": "HTTP"},
			map[string]any{"name": "https", "port": 8443, "protocol": "HTTPS",
				"tls": map[string]any{"certificates": []any{map[string]any{"secret": "shop-tls"}}}},
		},
	}, "If-Match", gw.header.Get("ETag")).must(t, http.StatusOK)
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
	if tls := sec["tls"].(map[string]any); tls["privateKey"] != model.RedactedPrivateKey || tls["certificate"] != cert {
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
