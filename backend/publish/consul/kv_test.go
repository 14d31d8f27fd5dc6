package consul

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/internal/testservers"
)

func newKV(t *testing.T) (*KV, *api.Client) {
	t.Helper()
	agent := testservers.StartConsul(t)
	client, err := api.NewClient(&api.Config{Address: agent.HTTPAddr})
	if err != nil {
		t.Fatal(err)
	}
	return New(client), client
}

func route(name, upstream string) *model.Route {
	return &model.Route{
		Meta:    model.Meta{Name: name, Version: 3},
		Gateway: "public",
		When:    model.Condition{Field: "path", Op: "prefix", Value: "/static"},
		Then:    model.Action{Forward: []model.Backend{{Upstream: upstream}}},
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := model.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func TestPutIsCheckAndSet(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first, err := kv.Put(ctx, route("static", "web-v1"), 0)
	if err != nil || first == 0 {
		t.Fatalf("create: index %d, err %v", first, err)
	}
	pair, _, err := client.KV().Get("routedeck/v1/route/static", nil)
	if err != nil || pair == nil {
		t.Fatalf("raw read of routedeck/v1/route/static: %v, %v", pair, err)
	}
	got, err := kv.Get(ctx, model.KindRoute, "static")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(model.Object(route("static", "web-v1")), got.Object); diff != "" || got.ModifyIndex != first {
		t.Fatalf("read back index %d (want %d), object (-want +got):\n%s", got.ModifyIndex, first, diff)
	}

	_, err = kv.Put(ctx, route("static", "web-v2"), 0)
	wantCode(t, err, model.ECONFLICT) // index 0: must not exist yet

	second, err := kv.Put(ctx, route("static", "web-v2"), first)
	if err != nil || second <= first {
		t.Fatalf("update with the current index: index %d, err %v", second, err)
	}
	_, err = kv.Put(ctx, route("static", "web-v3"), first)
	wantCode(t, err, model.ECONFLICT) // stale index
	got, _ = kv.Get(ctx, model.KindRoute, "static")
	if up := got.Object.(*model.Route).Then.Forward[0].Upstream; up != "web-v2" {
		t.Fatalf("after a refused write the stored route forwards to %s, want web-v2", up)
	}

	wantCode(t, kv.Delete(ctx, model.KindRoute, "static", first), model.ECONFLICT)
	if err := kv.Delete(ctx, model.KindRoute, "static", second); err != nil {
		t.Fatalf("delete with the current index: %v", err)
	}
	_, err = kv.Get(ctx, model.KindRoute, "static")
	wantCode(t, err, model.ENOTFOUND)
}

func gateway(name string) model.Gateway {
	return model.Gateway{Meta: model.Meta{Name: name}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: "HTTP"}}}
}

func upstream(name string) model.Upstream {
	return model.Upstream{Meta: model.Meta{Name: name}, Consul: &model.ConsulSource{Service: name}}
}

// routeOf is route name of gateway gw forwarding to upstream.
func routeOf(gw, name, upstream string) model.Route {
	r := route(name, upstream)
	r.Gateway = gw
	return *r
}

func keys(t *testing.T, client *api.Client) []string {
	t.Helper()
	ks, _, err := client.KV().Keys(DefaultPrefix+"/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestPublishSharesOneTree publishes two gateways that share an upstream
// into the one tree and checks what each later publish leaves behind.
func TestPublishSharesOneTree(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	public := model.Workspace{
		Gateways:  []model.Gateway{gateway("public")},
		Upstreams: []model.Upstream{upstream("shared"), upstream("web")},
		Routes:    []model.Route{routeOf("public", "api", "shared"), routeOf("public", "static", "web")}, // rule order
	}
	internal := model.Workspace{
		Gateways:  []model.Gateway{gateway("internal")},
		Upstreams: []model.Upstream{upstream("shared")},
		Routes:    []model.Route{routeOf("internal", "admin", "shared")},
	}
	steps := []struct {
		name    string
		gateway string
		ws      model.Workspace
		want    []string
	}{
		{"first gateway", "public", public, []string{
			"routedeck/v1/gateway/public", "routedeck/v1/route/api", "routedeck/v1/route/static",
			"routedeck/v1/upstream/shared", "routedeck/v1/upstream/web"}},
		{"second gateway shares an upstream", "internal", internal, []string{
			"routedeck/v1/gateway/internal", "routedeck/v1/gateway/public",
			"routedeck/v1/route/admin", "routedeck/v1/route/api", "routedeck/v1/route/static",
			"routedeck/v1/upstream/shared", "routedeck/v1/upstream/web"}},
		{"first gateway drops the route to the shared upstream: only that route goes", "public", model.Workspace{
			Gateways:  []model.Gateway{gateway("public")},
			Upstreams: []model.Upstream{upstream("web")},
			Routes:    []model.Route{routeOf("public", "static", "web")},
		}, []string{
			"routedeck/v1/gateway/internal", "routedeck/v1/gateway/public",
			"routedeck/v1/route/admin", "routedeck/v1/route/static",
			"routedeck/v1/upstream/shared", "routedeck/v1/upstream/web"}},
		{"second gateway drops it too: the shared upstream goes", "internal", model.Workspace{
			Gateways:  []model.Gateway{gateway("internal")},
			Upstreams: []model.Upstream{upstream("web")},
			Routes:    []model.Route{routeOf("internal", "admin", "web")},
		}, []string{
			"routedeck/v1/gateway/internal", "routedeck/v1/gateway/public",
			"routedeck/v1/route/admin", "routedeck/v1/route/static",
			"routedeck/v1/upstream/web"}},
	}
	for _, st := range steps {
		if err := kv.Publish(ctx, st.gateway, st.ws); err != nil {
			t.Fatalf("%s: publish %s: %v", st.name, st.gateway, err)
		}
		if diff := cmp.Diff(st.want, keys(t, client)); diff != "" {
			t.Fatalf("%s: keys (-want +got):\n%s", st.name, diff)
		}
		entries, err := kv.ReadGateway(ctx, st.gateway)
		if err != nil {
			t.Fatalf("%s: read back: %v", st.name, err)
		}
		if diff := cmp.Diff(st.ws, Workspace(entries)); diff != "" {
			t.Fatalf("%s: read back %s (-want +got):\n%s", st.name, st.gateway, diff)
		}
	}

	_, err := kv.ReadGateway(ctx, "nobody")
	wantCode(t, err, model.ENOTFOUND)

	// A key that is not <kind>/<name> is reported, not skipped.
	if _, err := client.KV().Put(&api.KVPair{Key: "routedeck/v1/bogus/x", Value: []byte("{}")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.List(ctx); err == nil {
		t.Fatal("List accepted a key of unknown kind")
	}
}

// TestPublishCollectsSecrets checks that a secret stays while a gateway or
// an upstream in the tree uses it, and goes with the last user.
func TestPublishCollectsSecrets(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cert := model.Secret{Meta: model.Meta{Name: "cert"}, TLS: &model.SecretTLS{Certificate: "c", PrivateKey: model.RedactedPrivateKey}}
	ca := model.Secret{Meta: model.Meta{Name: "ca"}, CA: "ca"}
	https := gateway("public")
	https.Listeners = append(https.Listeners, model.Listener{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
		TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "cert"}}}})
	tlsUp := upstream("web")
	tlsUp.TLS = &model.UpstreamTLS{CASecret: "ca"}
	full := model.Workspace{
		Secrets:   []model.Secret{ca, cert},
		Gateways:  []model.Gateway{https},
		Upstreams: []model.Upstream{tlsUp},
		Routes:    []model.Route{routeOf("public", "static", "web")},
	}
	if err := kv.Publish(ctx, "public", full); err != nil {
		t.Fatal(err)
	}
	plain := model.Workspace{
		Gateways:  []model.Gateway{gateway("public")},
		Upstreams: []model.Upstream{upstream("other")},
		Routes:    []model.Route{routeOf("public", "static", "other")},
	}
	if err := kv.Publish(ctx, "public", plain); err != nil {
		t.Fatal(err)
	}
	want := []string{"routedeck/v1/gateway/public", "routedeck/v1/route/static", "routedeck/v1/upstream/other"}
	if diff := cmp.Diff(want, keys(t, client)); diff != "" {
		t.Fatalf("keys after the secrets lost their users (-want +got):\n%s", diff)
	}
}

func TestPublishRefuses(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kv.Publish(ctx, "other", model.Workspace{
		Gateways: []model.Gateway{gateway("other")}, Upstreams: []model.Upstream{upstream("web")},
		Routes: []model.Route{routeOf("other", "taken", "web")}}); err != nil {
		t.Fatal(err)
	}
	before := keys(t, client)

	tests := map[string]struct {
		ws       model.Workspace
		wantCode string
		wantText string
	}{
		"another gateway's route":                    {model.Workspace{Gateways: []model.Gateway{gateway("public")}, Routes: []model.Route{routeOf("other", "x", "web")}}, model.EINVALID, "routes[0].gateway"},
		"another gateway's document":                 {model.Workspace{Gateways: []model.Gateway{gateway("other")}}, model.EINVALID, "gateways"},
		"a route name another gateway has in consul": {model.Workspace{Gateways: []model.Gateway{gateway("public")}, Routes: []model.Route{routeOf("public", "taken", "web")}}, model.ECONFLICT, `belongs to gateway "other"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := kv.Publish(ctx, "public", tc.ws)
			wantCode(t, err, tc.wantCode)
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q lacks %q", err, tc.wantText)
			}
			if diff := cmp.Diff(before, keys(t, client)); diff != "" {
				t.Errorf("a refused publish changed the keys (-before +after):\n%s", diff)
			}
		})
	}
}

func TestPublishRefusesAConcurrentChange(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := model.Workspace{Gateways: []model.Gateway{gateway("public")}, Routes: []model.Route{routeOf("public", "static", "web-v1")}}

	tests := map[string]func(){
		"key changed": func() {
			if _, err := kv.Put(ctx, route("static", "someone-else"), mustIndex(t, kv, "static")); err != nil {
				t.Fatal(err)
			}
		},
		"key created": func() {
			if _, err := kv.Put(ctx, route("api", "someone-else"), 0); err != nil {
				t.Fatal(err)
			}
		},
		"key to delete changed": func() {
			if _, err := kv.Put(ctx, route("old", "someone-else"), mustIndex(t, kv, "old")); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, interfere := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			withOld := base
			withOld.Routes = append(withOld.Routes, routeOf("public", "old", "web-v1"))
			if err := kv.Publish(ctx, "public", withOld); err != nil {
				t.Fatalf("publish the base: %v", err)
			}
			kv.beforeTxn = interfere
			defer func() { kv.beforeTxn = nil }()
			next := model.Workspace{Gateways: []model.Gateway{gateway("public")}, Routes: []model.Route{
				routeOf("public", "static", "web-v2"), routeOf("public", "api", "web-v2"), routeOf("public", "new", "web-v2")}}
			wantCode(t, kv.Publish(ctx, "public", next), model.ECONFLICT)

			// All or nothing: the route only this publish wrote is absent,
			// and the one it would have deleted is still there.
			_, err := kv.Get(ctx, model.KindRoute, "new")
			wantCode(t, err, model.ENOTFOUND)
			if _, err := kv.Get(ctx, model.KindRoute, "old"); err != nil {
				t.Fatalf("route old after a refused publish: %v", err)
			}
		})
	}
}
func mustIndex(t *testing.T, kv *KV, name string) uint64 {
	t.Helper()
	e, err := kv.Get(context.Background(), model.KindRoute, name)
	if err != nil {
		t.Fatal(err)
	}
	return e.ModifyIndex
}
