package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// TestAPIWritesNoSecretToDisk writes a TLS secret, a basic-auth route and
// an API-key route through the HTTP API of a running server, updates them,
// publishes, saves a Consul token, and then, with the server still running
// and its WAL not checkpointed, finds none of the values in the data
// directory.
func TestAPIWritesNoSecretToDisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	svc := New(Config{DataDir: dir, Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0", NoDemo: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard,
		Getenv: func(string) string { return "" }})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	token := newToken(t, ctx, svc, "admin")
	call := func(method, path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+svc.Addr().String()+"/api/v1"+path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
	}

	const password, apiKey, consulToken = "api-scan-Passw0rd", "api-scan-key-2718281828", "api-scan-consul-token"
	tls := secrettest.TLS(t, "shop-tls", "shop.example.com")
	basic := model.Route{Meta: model.Meta{Name: "basic"}, Gateway: "edge", Priority: 2,
		When: model.Pred(model.FieldPath, model.OpPrefix, "/admin"),
		Then: model.Action{Forward: []model.Backend{{Upstream: "web"}},
			Auth: &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"ops": password + "-old"}}}}}
	keyed := model.Route{Meta: model.Meta{Name: "keyed"}, Gateway: "edge", Priority: 1,
		When: model.Pred(model.FieldPath, model.OpPrefix, "/api"),
		Then: model.Action{Forward: []model.Backend{{Upstream: "web"}},
			Auth: &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-api-key", Keys: []string{apiKey + "-old"}}}}}
	call("POST", "/apply", model.Workspace{
		Secrets: []model.Secret{tls},
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{
			{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
				TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "shop-tls"}}}}}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "127.0.0.1", Port: 9}}}}},
		Routes: []model.Route{basic, keyed},
	})
	basic.Version, keyed.Version = 1, 1
	basic.Then.Auth = &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"ops": password}}}
	keyed.Then.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-api-key", Keys: []string{apiKey}}}
	call("PUT", "/routes/basic", basic)
	call("PUT", "/routes/keyed", keyed)
	call("POST", "/gateways/edge/publish", map[string]any{})
	call("PUT", "/targets", map[string]any{"consul": map[string]any{"address": "127.0.0.1:1", "token": consulToken}})

	storetest.ScanForSecrets(t, dir, map[string]string{
		"private key": tls.TLS.PrivateKey,
		"password":    password, "old password": password + "-old",
		"API key": apiKey, "old API key": apiKey + "-old",
		"Consul token": consulToken,
	})
	if _, err := seal.Open(dir, func(string) string { return "" }); err != nil {
		t.Fatalf("the server's key file: %v", err)
	}
}
