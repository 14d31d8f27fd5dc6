package store_test

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/store"
)

// TestSecrets stores secrets like the other kinds: a gateway and an upstream
// that use them, the gateway's workspace carrying them, revisions that never
// hold the private key, and deletes refused while they are in use.
func TestSecrets(t *testing.T) {
	s := seeded(t)
	web := secrettest.TLS(t, "web-tls", "shop.example.com")
	ca := secrettest.CA(t, "internal-ca")
	unused := secrettest.CA(t, "unused-ca")
	mustCreate(t, s, &web, &ca, &unused)

	gw := gateway("edge")
	gw.Listeners = append(gw.Listeners, model.Listener{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
		TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "web-tls"}}}})
	up := upstream("secure")
	up.TLS = &model.UpstreamTLS{CASecret: "internal-ca"}
	mustCreate(t, s, gw, up, route("shop", "edge", "secure", 1))

	ws, err := s.GatewayWorkspace(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sec := range ws.Secrets {
		names = append(names, sec.Name)
	}
	if strings.Join(names, ",") != "internal-ca,web-tls" {
		t.Errorf("gateway workspace secrets = %v, want internal-ca,web-tls", names)
	}
	if ws.Secrets[1].TLS == nil || ws.Secrets[1].TLS.PrivateKey != web.TLS.PrivateKey {
		t.Error("the gateway workspace must carry the private key (the translator needs it)")
	}

	objs, total, err := s.List(ctx, model.KindSecret, store.ListOptions{})
	if err != nil || total != 3 || len(objs) != 3 || objs[0].ObjectMeta().Name != "internal-ca" {
		t.Errorf("list secrets = %d %v %v", total, objs, err)
	}
	all, err := s.Workspace(ctx)
	if err != nil || len(all.Secrets) != 3 {
		t.Errorf("workspace secrets = %d, %v", len(all.Secrets), err)
	}

	// A new key pair: the revision shows the certificate change, never a key.
	web2 := secrettest.TLS(t, "web-tls", "shop.example.com")
	web2.Version = 1
	if err := s.Update(ctx, "bob", &web2); err != nil {
		t.Fatal(err)
	}
	revs, _, err := s.ListRevisions(ctx, store.RevisionFilter{Kind: model.KindSecret, Name: "web-tls"})
	if err != nil || len(revs) != 2 {
		t.Fatalf("revisions = %v, %v", revs, err)
	}
	for _, r := range revs {
		full, err := s.GetRevision(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		text := string(full.Before) + string(full.After) + full.Diff
		if strings.Contains(text, "PRIVATE KEY") || !strings.Contains(text, model.RedactedPrivateKey) {
			t.Errorf("revision %d (%s) must show the key redacted:\n%s", r.ID, r.Action, text)
		}
	}
	if full, _ := s.GetRevision(ctx, revs[0].ID); !strings.Contains(full.Diff, "CERTIFICATE") {
		t.Errorf("update diff should show the certificate change:\n%s", full.Diff)
	}

	tests := map[string]struct {
		name string
		want string
	}{
		"used by a gateway":   {"web-tls", "gateways[edge]"},
		"used by an upstream": {"internal-ca", "upstreams[secure]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := s.Delete(ctx, "alice", model.KindSecret, tc.name, 0)
			wantCode(t, err, model.EINVALID)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}
	if err := s.Delete(ctx, "alice", model.KindSecret, "unused-ca", 0); err != nil {
		t.Errorf("delete unused secret: %v", err)
	}

	// A gateway naming a secret that does not exist is refused.
	bad := gateway("bad")
	bad.Listeners = []model.Listener{{Name: "https", Port: 443, Protocol: model.ProtocolHTTPS,
		TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "nope"}}}}}
	err = s.Create(ctx, "alice", bad)
	wantCode(t, err, model.EINVALID)
	if !strings.Contains(err.Error(), `listeners[0].tls.certificates[0].secret: unknown secret "nope"`) {
		t.Errorf("error = %v", err)
	}

	// Publish keeps the secrets with the version; rollback restores them.
	p, err := s.Publish(ctx, "alice", "edge", "")
	if err != nil || len(p.Workspace.Secrets) != 2 {
		t.Fatalf("publish: %d secrets, %v", len(p.Workspace.Secrets), err)
	}
}

// TestApplySecrets applies a file with a secret and the gateway using it in
// one go, and reports problems with the document's path.
func TestApplySecrets(t *testing.T) {
	s := seeded(t)
	sec := secrettest.TLS(t, "web-tls", "shop.example.com")
	gw := gateway("edge")
	gw.Listeners[0] = model.Listener{Name: "https", Port: 443, Protocol: model.ProtocolHTTPS,
		TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "web-tls"}}}}
	res, err := s.Apply(ctx, "alice", model.Workspace{Secrets: []model.Secret{sec}, Gateways: []model.Gateway{*gw}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Kind != model.KindSecret || res[0].Action != "created" {
		t.Errorf("apply results = %+v", res)
	}
	broken := sec
	broken.TLS = &model.SecretTLS{Certificate: sec.TLS.Certificate, PrivateKey: "x"}
	_, err = s.Apply(ctx, "alice", model.Workspace{Secrets: []model.Secret{broken}})
	wantCode(t, err, model.EINVALID)
	if !strings.Contains(err.Error(), "secrets[0].tls.privateKey: no PEM private key found") {
		t.Errorf("error = %v", err)
	}
}
