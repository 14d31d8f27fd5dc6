package consul

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// TestPublishSealsCredentials publishes routes with a basic-auth password
// and an API key through a real agent: KV holds neither in clear; a
// routedeck with the same master key reads them back, one with another key
// or none is refused, and can still publish its own gateway to the tree.
func TestPublishSealsCredentials(t *testing.T) {
	kv, client := newKV(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	key, _ := seal.NewKey()
	mine, _ := seal.New(key)
	sameKey, _ := seal.New(key) // a second routedeck given the same key
	otherKey, _ := seal.Generate()
	writer := New(client, WithKeys(mine))

	const password, apiKey = "kv-basic-Passw0rd", "kv-api-key-31415926"
	basic := routeOf("public", "admin", "web")
	basic.Then.Auth = &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"ops": password}}}
	keyed := routeOf("public", "api", "web")
	keyed.Then.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-api-key", Keys: []string{apiKey}}}
	ws := model.Workspace{
		Gateways:  []model.Gateway{gateway("public")},
		Upstreams: []model.Upstream{upstream("web")},
		Routes:    []model.Route{basic, keyed},
	}
	if err := writer.Publish(ctx, "public", ws); err != nil {
		t.Fatal(err)
	}

	pairs, _, err := client.KV().List(DefaultPrefix+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	indexes := map[string]uint64{}
	for _, p := range pairs {
		indexes[p.Key] = p.ModifyIndex
		for _, secret := range []string{password, apiKey} {
			if bytes.Contains(p.Value, []byte(secret)) {
				t.Errorf("%s holds a credential in clear: %s", p.Key, p.Value)
			}
		}
		if strings.HasPrefix(p.Key, DefaultPrefix+"/route/") && !bytes.Contains(p.Value, []byte(seal.Prefix)) {
			t.Errorf("%s holds no sealed value: %s", p.Key, p.Value)
		}
	}

	readers := map[string]struct {
		kv      *KV
		wantErr string
	}{
		"same key":    {New(client, WithKeys(sameKey)), ""},
		"another key": {New(client, WithKeys(otherKey)), "another master key"},
		"no key":      {kv, seal.EnvMasterKey},
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			entries, err := r.kv.ReadGateway(ctx, "public")
			if r.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), r.wantErr) {
					t.Fatalf("ReadGateway error = %v, want one saying %q", err, r.wantErr)
				}
				if _, err := r.kv.Get(ctx, model.KindRoute, "admin"); err == nil {
					t.Fatal("Get opened a sealed credential")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ws, Workspace(entries)); diff != "" {
				t.Fatalf("read back (-want +got):\n%s", diff)
			}
		})
	}

	// The same content again writes nothing, though sealing is randomised.
	if err := writer.Publish(ctx, "public", ws); err != nil {
		t.Fatal(err)
	}
	pairs, _, _ = client.KV().List(DefaultPrefix+"/", nil)
	for _, p := range pairs {
		if p.ModifyIndex != indexes[p.Key] {
			t.Errorf("%s rewritten by a publish that changed nothing", p.Key)
		}
	}

	// A routedeck with another key shares the tree for its own gateway.
	other := New(client, WithKeys(otherKey))
	internal := model.Workspace{
		Gateways:  []model.Gateway{gateway("internal")},
		Upstreams: []model.Upstream{upstream("web")},
		Routes:    []model.Route{routeOf("internal", "ops", "web")},
	}
	if err := other.Publish(ctx, "internal", internal); err != nil {
		t.Fatalf("publish another gateway with another key: %v", err)
	}

	refused := map[string]struct {
		kv *KV
		ws model.Workspace
	}{
		"credentials without a key": {kv, ws},
		"a TLS private key": {writer, model.Workspace{
			Secrets: []model.Secret{{Meta: model.Meta{Name: "cert"},
				TLS: &model.SecretTLS{Certificate: "c", PrivateKey: "-----BEGIN PRIVATE KEY-----"}}},
			Gateways: []model.Gateway{gateway("public")}, Upstreams: []model.Upstream{upstream("web")},
			Routes: []model.Route{basic}}},
	}
	for name, r := range refused {
		t.Run(name, func(t *testing.T) {
			if err := r.kv.Publish(ctx, "public", r.ws); err == nil {
				t.Fatal("published")
			}
			p, _, err := client.KV().Get(DefaultPrefix+"/secret/cert", nil)
			if err != nil || p != nil {
				t.Fatalf("something was written: %v %v", p, err)
			}
		})
	}
}
