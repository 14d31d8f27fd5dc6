package model_test

import (
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// wantFields asserts that err reports exactly the wanted "field: fragment"
// problems, in any order.
func wantFields(t *testing.T, err error, want []string) {
	t.Helper()
	got := model.ErrorFields(err)
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("want no problems, got %v", err)
		}
		return
	}
	if model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("want an invalid error, got %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("want %d problems %q, got %d: %v", len(want), want, len(got), err)
	}
	used := make([]bool, len(got))
	for _, w := range want {
		field, frag, _ := strings.Cut(w, ": ")
		found := false
		for i, g := range got {
			if !used[i] && g.Field == field && strings.Contains(g.Message, frag) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %q in %v", w, err)
		}
	}
}

func TestSecretValidate(t *testing.T) {
	cert, key := secrettest.Pair(t, "example.com")
	otherCert, otherKey := secrettest.Pair(t, "other.example")
	rsaKey := "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
	tests := map[string]struct {
		secret model.Secret
		want   []string
	}{
		"tls":     {secret: model.Secret{Meta: model.Meta{Name: "web"}, TLS: &model.SecretTLS{Certificate: cert, PrivateKey: key}}},
		"ca only": {secret: model.Secret{Meta: model.Meta{Name: "ca"}, CA: cert + otherCert}},
		"tls and ca": {secret: model.Secret{Meta: model.Meta{Name: "both"},
			TLS: &model.SecretTLS{Certificate: cert, PrivateKey: key}, CA: otherCert}},
		"empty": {secret: model.Secret{Meta: model.Meta{Name: "x"}},
			want: []string{": at least one of tls and ca"}},
		"bad name and key mismatch": {
			secret: model.Secret{Meta: model.Meta{Name: "Web"}, TLS: &model.SecretTLS{Certificate: cert, PrivateKey: otherKey}},
			want:   []string{"name: invalid name", "tls.privateKey: does not match the certificate"},
		},
		"missing key and garbage ca": {
			secret: model.Secret{Meta: model.Meta{Name: "web"}, TLS: &model.SecretTLS{Certificate: cert}, CA: "not pem"},
			want:   []string{"tls.privateKey: required", "ca: no PEM certificate found"},
		},
		"redacted key is no key": {
			secret: model.Secret{Meta: model.Meta{Name: "web"}, TLS: &model.SecretTLS{Certificate: cert, PrivateKey: model.RedactedPrivateKey}},
			want:   []string{"tls.privateKey: required"},
		},
		"key in certificate field, broken rsa key": {
			secret: model.Secret{Meta: model.Meta{Name: "web"}, TLS: &model.SecretTLS{Certificate: key, PrivateKey: rsaKey}},
			want: []string{`tls.certificate: PEM block 1 is "PRIVATE KEY", want CERTIFICATE`,
				"tls.privateKey: private key does not parse"},
		},
		"trailing text and two keys": {
			secret: model.Secret{Meta: model.Meta{Name: "web"}, TLS: &model.SecretTLS{Certificate: cert + "junk", PrivateKey: key + key}},
			want:   []string{"tls.certificate: unexpected text after the last PEM block", "tls.privateKey: exactly one PEM block"},
		},
		"corrupt certificate": {
			secret: model.Secret{Meta: model.Meta{Name: "web"}, CA: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
			want:   []string{"ca: certificate 1 does not parse"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			wantFields(t, tc.secret.Validate(), tc.want)
		})
	}
}

func TestWorkspaceSecretReferences(t *testing.T) {
	web := secrettest.TLS(t, "web-tls", "example.com")
	ca := secrettest.CA(t, "internal-ca")
	ws := model.Workspace{
		Secrets: []model.Secret{web, ca},
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{
			{Name: "https", Port: 443, Protocol: model.ProtocolHTTPS, TLS: &model.ListenerTLS{Certificates: []model.Certificate{
				{Secret: "web-tls", Hosts: []string{"example.com"}},
				{Secret: "internal-ca", Hosts: []string{"a.example.com"}},
				{Secret: "missing"},
			}}},
		}}},
		Upstreams: []model.Upstream{
			{Meta: model.Meta{Name: "api"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 443}}},
				TLS: &model.UpstreamTLS{CASecret: "internal-ca"}},
			{Meta: model.Meta{Name: "db"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.2", Port: 443}}},
				TLS: &model.UpstreamTLS{CASecret: "web-tls"}},
			{Meta: model.Meta{Name: "log"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.3", Port: 443}}},
				TLS: &model.UpstreamTLS{CASecret: "nope"}},
		},
	}
	ws.Secrets = append(ws.Secrets, web)
	wantFields(t, ws.Validate(), []string{
		`secrets[2].name: duplicate secret name "web-tls"`,
		`gateways[0].listeners[0].tls.certificates[1].secret: secret "internal-ca" has no tls certificate`,
		`gateways[0].listeners[0].tls.certificates[2].secret: unknown secret "missing"`,
		`upstreams[1].tls.caSecret: secret "web-tls" has no ca certificates`,
		`upstreams[2].tls.caSecret: unknown secret "nope"`,
	})
	if got := model.SecretNames(&ws.Gateways[0], ws.Upstreams); strings.Join(got, ",") != "web-tls,internal-ca,missing,nope" {
		t.Errorf("SecretNames = %v", got)
	}
}

func TestObjectSecretNames(t *testing.T) {
	tests := map[string]struct {
		obj  model.Object
		want string
	}{
		"gateway certificates": {&model.Gateway{Listeners: []model.Listener{{TLS: &model.ListenerTLS{
			Certificates: []model.Certificate{{Secret: "a"}, {Secret: "b"}, {Secret: "a"}}}}}}, "a,b"},
		"upstream ca":          {&model.Upstream{TLS: &model.UpstreamTLS{CASecret: "ca"}}, "ca"},
		"upstream without tls": {&model.Upstream{}, ""},
		"route":                {&model.Route{}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := strings.Join(model.ObjectSecretNames(tc.obj), ","); got != tc.want {
				t.Errorf("ObjectSecretNames = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSecretRedacted(t *testing.T) {
	s := secrettest.TLS(t, "web", "example.com")
	r := s.Redacted()
	if r.TLS.PrivateKey != model.RedactedPrivateKey || r.TLS.Certificate != s.TLS.Certificate {
		t.Errorf("redacted = %+v", r.TLS)
	}
	if s.TLS.PrivateKey == model.RedactedPrivateKey {
		t.Error("Redacted changed the original")
	}
	if !r.KeepsStoredKey() || s.KeepsStoredKey() {
		t.Error("KeepsStoredKey wrong")
	}
	if obj := model.NewObject(model.KindSecret); obj == nil || obj.Kind() != model.KindSecret {
		t.Errorf("NewObject(Secret) = %v", obj)
	}
}
