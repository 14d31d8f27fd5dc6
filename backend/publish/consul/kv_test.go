package consul

import (
	"context"
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

func TestPublishReplacesThePrefix(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ws := model.Workspace{
		Gateways:  []model.Gateway{{Meta: model.Meta{Name: "public"}, Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: "HTTP"}}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web-v1"}, Consul: &model.ConsulSource{Service: "web"}}},
		Routes:    []model.Route{*route("static", "web-v1"), *route("api", "web-v1")},
	}
	if err := kv.Publish(ctx, ws); err != nil {
		t.Fatalf("first publish: %v", err)
	}
	keys := func() []string {
		t.Helper()
		ks, _, err := client.KV().Keys(DefaultPrefix+"/", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	want := []string{"routedeck/v1/gateway/public", "routedeck/v1/route/api", "routedeck/v1/route/static", "routedeck/v1/upstream/web-v1"}
	if diff := cmp.Diff(want, keys()); diff != "" {
		t.Fatalf("keys after first publish (-want +got):\n%s", diff)
	}

	ws.Routes = ws.Routes[:1]
	ws.Routes[0].Then.Forward[0].Upstream = "web-v2"
	if err := kv.Publish(ctx, ws); err != nil {
		t.Fatalf("second publish: %v", err)
	}
	entries, err := kv.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got model.Workspace
	for _, e := range entries {
		got.Add(e.Object)
	}
	if diff := cmp.Diff(ws, got); diff != "" {
		t.Fatalf("read back after second publish (-want +got):\n%s", diff)
	}

	// A key that is not <kind>/<name> is reported, not skipped.
	if _, err := client.KV().Put(&api.KVPair{Key: "routedeck/v1/bogus/x", Value: []byte("{}")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.List(ctx); err == nil {
		t.Fatal("List accepted a key of unknown kind")
	}
}

func TestPublishRefusesAConcurrentChange(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := model.Workspace{Routes: []model.Route{*route("static", "web-v1")}}

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
	}
	for name, interfere := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := client.KV().DeleteTree(DefaultPrefix+"/", nil); err != nil {
				t.Fatal(err)
			}
			if err := kv.Publish(ctx, base); err != nil {
				t.Fatalf("publish the base: %v", err)
			}
			kv.beforeTxn = interfere
			defer func() { kv.beforeTxn = nil }()
			next := model.Workspace{Routes: []model.Route{*route("static", "web-v2"), *route("api", "web-v2"), *route("new", "web-v2")}}
			wantCode(t, kv.Publish(ctx, next), model.ECONFLICT)

			// All or nothing: the route only this publish wrote is absent.
			_, err := kv.Get(ctx, model.KindRoute, "new")
			wantCode(t, err, model.ENOTFOUND)
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
