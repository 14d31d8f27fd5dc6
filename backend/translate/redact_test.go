package translate

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// JWKS of the JWT routes: one holding an HMAC key, a credential, and one of
// a public key, which is not.
const (
	hmacJWKS   = `{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":"c2hvcC1obWFjLWtleS1ub3QtdG8tc2hvdw"}]}`
	publicJWKS = `{"keys":[{"kty":"EC","kid":"p1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`
)

// credentialWorkspace is a gateway with an HTTPS listener and one route per
// kind of credential the translator emits.
func credentialWorkspace(t *testing.T) model.Workspace {
	t.Helper()
	forward := []model.Backend{{Upstream: "web"}}
	return model.Workspace{
		Secrets: []model.Secret{secrettest.TLS(t, "shop-tls", "shop.example.com")},
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "gw"}, Listeners: []model.Listener{
			{Name: "http", Port: 8080, Protocol: "HTTP"},
			{Name: "https", Port: 8443, Protocol: "HTTPS", TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "shop-tls"}}}},
		}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "127.0.0.1", Port: 9000}}}}},
		Routes: []model.Route{
			{Meta: model.Meta{Name: "basic"}, Gateway: "gw", When: model.Pred("path", model.OpPrefix, "/basic"), Then: model.Action{
				Forward: forward, Auth: &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{
					"alice": "clear-password-alice", "bob": htpasswdHash("clear-password-bob")}}}}},
			{Meta: model.Meta{Name: "keys"}, Gateway: "gw", When: model.Pred("path", model.OpPrefix, "/keys"), Then: model.Action{
				Forward: forward, Auth: &model.Auth{APIKey: &model.APIKeyAuth{Header: "X-Api-Key", Keys: []string{"api-key-one", "api-key-two"}}},
				Access: &model.Access{Allow: []string{"10.0.0.0/8"}}}},
			{Meta: model.Meta{Name: "hmac"}, Gateway: "gw", When: model.Pred("path", model.OpPrefix, "/hmac"), Then: model.Action{
				Forward: forward, Auth: &model.Auth{JWT: &model.JWTAuth{Issuer: "shop", JWKS: hmacJWKS}}}},
			{Meta: model.Meta{Name: "public-jwks"}, Gateway: "gw", When: model.Pred("path", model.OpPrefix, "/rsa"), Then: model.Action{
				Forward: forward, Auth: &model.Auth{JWT: &model.JWTAuth{Issuer: "partner", JWKS: publicJWKS}}}},
		},
	}
}

// rendered is every resource as the export prints it, typed configs
// expanded.
func rendered(t *testing.T, res *Resources) string {
	t.Helper()
	var b strings.Builder
	for _, list := range [][]proto.Message{messages(res.Listeners), messages(res.Routes), messages(res.Clusters), messages(res.Endpoints), messages(res.Secrets)} {
		for _, m := range list {
			raw, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(raw)
		}
	}
	return b.String()
}

func TestRedactedHidesEveryCredential(t *testing.T) {
	ws := credentialWorkspace(t)
	res, err := Gateway(ws, "gw", Options{})
	if err != nil {
		t.Fatal(err)
	}
	fp := secrettest.Fingerprinter(t)
	red, err := Redacted(res, ws, fp)
	if err != nil {
		t.Fatal(err)
	}
	key := ws.Secrets[0].TLS.PrivateKey
	keyLine := strings.Split(key, "\n")[1] // base64, the same in JSON
	// The clear password never reaches Envoy (its hash does); the rest
	// must be in the translation for the check to prove anything.
	if before := rendered(t, res); strings.Contains(before, "clear-password-alice") {
		t.Errorf("the translation carries a clear password")
	}
	clear := map[string]string{
		"password hash":   htpasswdHash("clear-password-alice"),
		"given hash":      htpasswdHash("clear-password-bob"),
		"api key":         "api-key-one",
		"other api key":   "api-key-two",
		"private key PEM": keyLine,
		"hmac key":        "c2hvcC1obWFjLWtleS1ub3QtdG8tc2hvdw",
	}
	before, after := rendered(t, res), rendered(t, red)
	for what, v := range clear {
		if !strings.Contains(before, v) {
			t.Errorf("%s: the translation lacks %q, so the check proves nothing", what, v)
		}
		if strings.Contains(after, v) {
			t.Errorf("%s %q readable after redaction", what, v)
		}
	}
	// Each credential reads as the fingerprint the route or secret shows.
	for _, v := range []string{"clear-password-alice", htpasswdHash("clear-password-bob"), "api-key-one", "api-key-two", key, hmacJWKS} {
		if !strings.Contains(after, fp.Fingerprint(v)) {
			t.Errorf("no fingerprint for %.20q in the redacted resources", v)
		}
	}
	if !strings.Contains(after, `"alice:`+fp.Fingerprint("clear-password-alice")) {
		t.Errorf("htpasswd line not rewritten in place")
	}
	if !strings.Contains(after, basicAuthPlaceholder) {
		t.Errorf("the listener's placeholder user is gone")
	}
	if !strings.Contains(after, "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU") {
		t.Errorf("a JWKS of public keys was redacted")
	}
	if rendered(t, res) != before {
		t.Errorf("Redacted changed the translator's resources")
	}
	if len(red.Listeners) != len(res.Listeners) || len(red.Routes) != len(res.Routes) || len(red.Secrets) != len(res.Secrets) {
		t.Errorf("resources lost in redaction")
	}
}
