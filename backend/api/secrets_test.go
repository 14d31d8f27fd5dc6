package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// TestSecretsNeverShowTheKey goes through a secret's life over HTTP: every
// answer (create, get, list, update, revisions, validate) shows the private
// key as its fingerprint, updates that send the fingerprint back or leave
// the key out keep the stored one, and the key stored is the one sent.
func TestSecretsNeverShowTheKey(t *testing.T) {
	a := newTestAPI(t)
	cert, key := secrettest.Pair(t, "shop.example.com")
	noKey := func(t *testing.T, r reply) reply {
		t.Helper()
		if strings.Contains(string(r.body), "PRIVATE KEY") {
			t.Fatalf("answer shows a private key: %s", r.body)
		}
		return r
	}

	created := noKey(t, a.do(t, "editor", "POST", "/api/v1/secrets", map[string]any{
		"name": "shop-tls", "tls": map[string]any{"certificate": cert, "privateKey": key},
	}).must(t, http.StatusCreated)).json(t)
	if created["kind"] != "Secret" || created["tls"].(map[string]any)["privateKey"] != a.fp.Fingerprint(key) {
		t.Fatalf("created = %v", created)
	}
	got := noKey(t, a.do(t, "viewer", "GET", "/api/v1/secrets/shop-tls", nil).must(t, http.StatusOK)).json(t)
	if got["tls"].(map[string]any)["certificate"] != cert {
		t.Errorf("certificate not returned: %v", got)
	}
	noKey(t, a.do(t, "viewer", "GET", "/api/v1/secrets", nil).must(t, http.StatusOK))

	// Sending back what GET returned, with a new description: the key
	// stays, sent as its fingerprint or omitted alike.
	got["description"] = "shop front"
	upd := noKey(t, a.do(t, "editor", "PUT", "/api/v1/secrets/shop-tls", got).must(t, http.StatusOK)).json(t)
	if upd["version"] != float64(2) || upd["description"] != "shop front" {
		t.Fatalf("updated = %v", upd)
	}
	delete(upd["tls"].(map[string]any), "privateKey")
	noKey(t, a.do(t, "editor", "PUT", "/api/v1/secrets/shop-tls", upd).must(t, http.StatusOK))
	stored, err := a.store.Get(t.Context(), model.KindSecret, "shop-tls")
	if err != nil {
		t.Fatal(err)
	}
	if s := stored.(*model.Secret); s.TLS.PrivateKey != key || s.Version != 3 {
		t.Fatalf("stored secret lost its key or version: version %d", s.Version)
	}

	// A new certificate without its key does not match the stored key.
	cert2, key2 := secrettest.Pair(t, "shop.example.com")
	bad := a.do(t, "editor", "PUT", "/api/v1/secrets/shop-tls", map[string]any{
		"name": "shop-tls", "version": 3, "tls": map[string]any{"certificate": cert2},
	}).must(t, http.StatusBadRequest).problemFields(t)
	if !strings.Contains(bad["tls.privateKey"], "does not match") {
		t.Errorf("problems = %v", bad)
	}
	noKey(t, a.do(t, "editor", "PUT", "/api/v1/secrets/shop-tls", map[string]any{
		"name": "shop-tls", "version": 3, "tls": map[string]any{"certificate": cert2, "privateKey": key2},
	}).must(t, http.StatusOK))

	// Invalid PEM is reported per field.
	fields := a.do(t, "editor", "POST", "/api/v1/secrets", map[string]any{
		"name": "broken", "tls": map[string]any{"certificate": "nope", "privateKey": "nope"}, "ca": "nope",
	}).must(t, http.StatusBadRequest).problemFields(t)
	for _, f := range []string{"tls.certificate", "tls.privateKey", "ca"} {
		if fields[f] == "" {
			t.Errorf("no problem for %s in %v", f, fields)
		}
	}

	// A gateway naming it; apply of a file read back (redacted key) works;
	// the secret cannot be deleted while used.
	a.do(t, "editor", "POST", "/api/v1/apply", map[string]any{
		"secrets": []any{map[string]any{"name": "shop-tls", "description": "again",
			"tls": map[string]any{"certificate": cert2, "privateKey": model.RedactedPrivateKey}}},
		"gateways": []any{map[string]any{"name": "edge", "listeners": []any{map[string]any{
			"name": "https", "port": 443, "protocol": "HTTPS",
			"tls": map[string]any{"certificates": []any{map[string]any{"secret": "shop-tls"}}}}}}},
	}).must(t, http.StatusOK)
	unknown := a.do(t, "editor", "POST", "/api/v1/validate", map[string]any{
		"gateways": []any{map[string]any{"name": "edge2", "listeners": []any{map[string]any{
			"name": "https", "port": 443, "protocol": "HTTPS",
			"tls": map[string]any{"certificates": []any{map[string]any{"secret": "nope"}}}}}}},
	}).must(t, http.StatusBadRequest).problemFields(t)
	if !strings.Contains(unknown["gateways[0].listeners[0].tls.certificates[0].secret"], `unknown secret "nope"`) {
		t.Errorf("problems = %v", unknown)
	}
	a.do(t, "editor", "DELETE", "/api/v1/secrets/shop-tls", nil).must(t, http.StatusBadRequest)

	revs := a.do(t, "viewer", "GET", "/api/v1/revisions?kind=Secret", nil).must(t, http.StatusOK).json(t)
	for _, it := range revs["items"].([]any) {
		id := it.(map[string]any)["id"]
		path := fmt.Sprintf("/api/v1/revisions/%.0f", id)
		noKey(t, a.do(t, "viewer", "GET", path, nil).must(t, http.StatusOK))
		noKey(t, a.do(t, "viewer", "GET", path+"/diff", nil).must(t, http.StatusOK))
	}
	if n := len(revs["items"].([]any)); n < 4 {
		t.Errorf("%d secret revisions, want at least 4", n)
	}
}
