package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/internal/testservers"
)

// startServer runs a routedeck with a data directory of its own and
// returns it with a CLI env (editor token) and an admin API client.
func startServer(t *testing.T, ctx context.Context) (*app.Service, *env, *client) {
	t.Helper()
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir} {
		t.Setenv(k, "")
	}
	// The master key comes from the environment when the test sets one,
	// so two servers can share it as two routedecks sharing Consul do.
	getenv := func(k string) string {
		if k == seal.EnvMasterKey {
			return os.Getenv(k)
		}
		return ""
	}
	svc := app.New(app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", NoDemo: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard, Getenv: getenv})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	url := "http://" + svc.Addr().String()
	e := &env{dataDir: t.TempDir(), url: url, token: roleToken(t, svc, auth.RoleEditor)}
	admin := &client{base: url, token: roleToken(t, svc, auth.RoleAdmin), http: &http.Client{Timeout: time.Minute}}
	return svc, e, admin
}

// roleToken makes an API token with role on svc.
func roleToken(t *testing.T, svc *app.Service, role string) string {
	t.Helper()
	tok, hash, _ := auth.NewToken()
	if err := svc.Store().CreateToken(context.Background(), "test", &store.Token{Name: role + "-" + tok[:8], Role: role, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// comparable is ws without what only the server that stored it knows:
// versions, who wrote when, and private keys.
func comparable(ws model.Workspace) model.Workspace {
	for _, obj := range ws.Objects() {
		meta := obj.ObjectMeta()
		*meta = model.Meta{Name: meta.Name}
	}
	for i := range ws.Secrets {
		ws.Secrets[i] = *ws.Secrets[i].Redacted()
	}
	return ws
}

// TestImportConsul publishes two gateways that share an upstream from one
// routedeck into Consul KV, and imports one of them into a second
// routedeck, which then serves the same configuration.
func TestImportConsul(t *testing.T) {
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir, "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN"} {
		t.Setenv(k, "")
	}
	// Both routedecks and the importing command share one master key, as
	// routedecks sharing Consul must: credentials are sealed in it with it.
	t.Setenv(seal.EnvMasterKey, seal.EncodeKey(bytes.Repeat([]byte{7}, 32)))
	agent := testservers.StartConsul(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first, e1, admin1 := startServer(t, ctx)
	if err := admin1.do(ctx, "PUT", "/targets", map[string]any{"consul": map[string]any{"address": agent.HTTPAddr, "kvPublish": true}}, nil); err != nil {
		t.Fatalf("turn on consul kv publish: %v", err)
	}
	cert := secrettest.TLS(t, "shop-tls", "shop.example.com")
	static := func(addr string) *model.StaticSource {
		return &model.StaticSource{Endpoints: []model.Endpoint{{Address: addr, Port: 8080}}}
	}
	forward := func(gw, name, path, upstream string) model.Route {
		return model.Route{Meta: model.Meta{Name: name}, Gateway: gw,
			When: model.Condition{Field: model.FieldPath, Op: model.OpPrefix, Value: path},
			Then: model.Action{Forward: []model.Backend{{Upstream: upstream}}}}
	}
	const apiKey = "edge-api-key-0001"
	keyed := func(r model.Route) model.Route {
		r.Then.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-api-key", Keys: []string{apiKey}}}
		return r
	}
	ws := model.Workspace{
		Secrets: []model.Secret{cert},
		Gateways: []model.Gateway{
			{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{
				{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP},
				{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
					TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "shop-tls"}}}}}},
			{Meta: model.Meta{Name: "internal"}, Listeners: []model.Listener{{Name: "http", Port: 9080, Protocol: model.ProtocolHTTP}}},
		},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "shared"}, Static: static("10.0.0.1")}, {Meta: model.Meta{Name: "web"}, Static: static("10.0.0.2")}},
		Routes: []model.Route{
			keyed(forward("edge", "api", "/api", "shared")), forward("edge", "home", "/", "web"),
			forward("internal", "admin", "/admin", "shared"),
		},
	}
	if err := admin1.do(ctx, "POST", "/apply", ws, nil); err != nil {
		t.Fatalf("apply on the first routedeck: %v", err)
	}
	for _, gw := range []string{"edge", "internal"} {
		if out, errOut, code := e1.client(t, "publish", "--gateway", gw); code != 0 {
			t.Fatalf("publish %s: %s%s", gw, out, errOut)
		}
	}

	second, e2, admin2 := startServer(t, ctx)
	importArgs := []string{"import", "consul", "--gateway", "edge", "--consul-addr", agent.HTTPAddr}

	t.Run("print", func(t *testing.T) {
		out, errOut, code := e2.run(t, "", importArgs...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"kind: Gateway\nname: edge", "kind: Route\nname: api", "kind: Upstream\nname: shared", "privateKey: <redacted>"} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
		for _, unwanted := range []string{"name: internal", "name: admin", "BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY", "version:", apiKey} {
			if strings.Contains(out, unwanted) {
				t.Errorf("stdout holds %q:\n%s", unwanted, out)
			}
		}
		if !strings.Contains(errOut, "secret shop-tls: consul holds no private key") {
			t.Errorf("stderr does not warn about the key: %s", errOut)
		}
		if !strings.Contains(out, "keys: ['fp:") || !strings.Contains(errOut, "credentials are shown as fingerprints") {
			t.Errorf("the API key is not shown as a fingerprint:\n%s%s", out, errOut)
		}
	})

	t.Run("print with credentials in clear", func(t *testing.T) {
		out, errOut, code := e2.run(t, "", append(importArgs, "--show-credentials")...)
		if code != 0 || !strings.Contains(out, "keys: ["+apiKey+"]") {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
	})

	t.Run("apply without the secret's key is refused whole", func(t *testing.T) {
		_, errOut, code := e2.client(t, append(importArgs, "--apply")...)
		if code == 0 || !strings.Contains(errOut, "shop-tls") || !strings.Contains(errOut, "nothing was applied") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if _, err := second.Store().Get(ctx, model.KindGateway, "edge"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Fatalf("gateway edge on the second routedeck after a refused import: %v", err)
		}
	})

	t.Run("apply with the secret provided, then publish", func(t *testing.T) {
		if err := admin2.do(ctx, "POST", "/apply", model.Workspace{Secrets: []model.Secret{cert}}, nil); err != nil {
			t.Fatalf("provide the secret: %v", err)
		}
		out, errOut, code := e2.client(t, append(importArgs, "--apply")...)
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		if !strings.Contains(errOut, "secret shop-tls: kept the server's copy") || !strings.Contains(out, "Gateway/edge created") {
			t.Errorf("import output:\n%s%s", out, errOut)
		}
		want, err := first.Store().GetPublished(ctx, "edge", 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := second.Store().GatewayWorkspace(ctx, "edge")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(comparable(want.Workspace), comparable(got)); diff != "" {
			t.Fatalf("second routedeck's gateway edge (-published by the first +imported):\n%s", diff)
		}
		if _, err := second.Store().Get(ctx, model.KindRoute, "admin"); model.ErrorCode(err) != model.ENOTFOUND {
			t.Errorf("another gateway's route came along: %v", err)
		}
		if out, errOut, code := e2.client(t, "publish", "--gateway", "edge"); code != 0 || !strings.Contains(out, "published as version 1") {
			t.Fatalf("publish on the second routedeck: exit %d %s%s", code, out, errOut)
		}
	})
}
