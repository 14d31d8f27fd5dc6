package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// testAPI is a real API over a real store in a temporary directory, with
// one token per role.
type testAPI struct {
	srv    *httptest.Server
	store  *store.Store
	tokens map[string]string // role -> token
	h      http.Handler
	fp     model.Fingerprinter
}

func newTestAPI(t testing.TB, deps ...func(*Deps)) *testAPI {
	t.Helper()
	ctx := context.Background()
	st := storetest.MustOpen(t)
	// The store's own keyring, as the app wires it, so the API's
	// fingerprints are the ones the store puts in revision diffs.
	d := Deps{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Fingerprinter: st.Keys()}
	for _, f := range deps {
		f(&d)
	}
	a := &testAPI{store: st, tokens: map[string]string{}, h: NewHandler(d), fp: d.Fingerprinter}
	for _, role := range auth.Roles {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, "test", &store.Token{Name: role + "-token", Role: role, Hash: hash}); err != nil {
			t.Fatalf("create token: %v", err)
		}
		a.tokens[role] = tok
	}
	a.srv = httptest.NewServer(a.h)
	t.Cleanup(a.srv.Close)
	return a
}

// reply is a finished response with its body read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// problemFields returns field -> message of a problem response.
func (r reply) problemFields(t *testing.T) map[string]string {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem: %v\n%s", err, r.body)
	}
	out := map[string]string{}
	for _, f := range p.Errors {
		out[f.Field] = f.Message
	}
	return out
}

// do sends a request as role ("" for none). body may be a string (sent
// as is) or any value (sent as JSON).
func (a *testAPI) do(t *testing.T, role, method, path string, body any, header ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+a.tokens[role])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must fails the test unless the reply has the wanted status.
func (r reply) must(t *testing.T, want int) reply {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// seed creates a small workspace: gateway public, upstreams web and api,
// routes home (text condition) and api (tree condition).
func (a *testAPI) seed(t *testing.T) {
	t.Helper()
	a.do(t, "editor", "POST", "/api/v1/apply", map[string]any{
		"gateways": []any{map[string]any{"name": "public", "listeners": []any{
			map[string]any{"name": "http", "port": 8080, "protocol": "HTTP"}}}},
		"upstreams": []any{
			map[string]any{"name": "web", "static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 9001}}}},
			map[string]any{"name": "api", "static": map[string]any{"endpoints": []any{map[string]any{"address": "127.0.0.1", "port": 9002}}}},
		},
		"routes": []any{
			map[string]any{"name": "home", "gateway": "public", "when": `host == "shop.example.com"`,
				"then": map[string]any{"forward": []any{map[string]any{"upstream": "web"}}}},
			map[string]any{"name": "api", "gateway": "public", "priority": 10,
				"when": map[string]any{"field": "path", "op": "prefix", "value": "/api"},
				"then": map[string]any{"forward": []any{map[string]any{"upstream": "api"}}}},
		},
	}).must(t, http.StatusOK)
}

// seedHTTPS seeds the workspace and gives gateway public an HTTPS listener
// serving secret shop-tls; it returns the generated certificate and the
// private key, which no answer may show.
func (a *testAPI) seedHTTPS(t *testing.T) (cert, key string) {
	t.Helper()
	a.seed(t)
	cert, key = secrettest.Pair(t, "shop.example.com")
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
	return cert, key
}
