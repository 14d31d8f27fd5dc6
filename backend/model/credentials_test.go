package model

import (
	"strings"
	"testing"
)

func TestMapSecretsVisitsEverySecretFieldWithoutTouchingTheOriginal(t *testing.T) {
	orig := &Route{Meta: Meta{Name: "r"}, Then: Action{Auth: &Auth{
		APIKey: &APIKeyAuth{Header: "x-key", Keys: []string{"k1", "k2"}},
		Basic:  &BasicAuth{Users: map[string]string{"bob": "pw-b", "alice": "pw-a"}},
	}}}
	cp := *orig
	var paths []string
	err := MapSecrets(&cp, func(path, v string) (string, error) {
		paths = append(paths, path)
		return "X" + v, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "then.auth.apiKey.keys[0] then.auth.apiKey.keys[1] then.auth.basic.users.alice then.auth.basic.users.bob"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("paths = %q, want %q", got, want)
	}
	if cp.Then.Auth.APIKey.Keys[1] != "Xk2" || cp.Then.Auth.Basic.Users["alice"] != "Xpw-a" {
		t.Fatalf("copy not rewritten: %+v %+v", cp.Then.Auth.APIKey, cp.Then.Auth.Basic)
	}
	if orig.Then.Auth.APIKey.Keys[1] != "k2" || orig.Then.Auth.Basic.Users["alice"] != "pw-a" {
		t.Fatalf("original changed: %+v %+v", orig.Then.Auth.APIKey, orig.Then.Auth.Basic)
	}

	sec := &Secret{TLS: &SecretTLS{Certificate: "c", PrivateKey: "key"}}
	cs := *sec
	if err := MapSecrets(&cs, func(p, v string) (string, error) { return p + "=" + v, nil }); err != nil {
		t.Fatal(err)
	}
	if cs.TLS.PrivateKey != "tls.privateKey=key" || sec.TLS.PrivateKey != "key" {
		t.Fatalf("secret: copy %q original %q", cs.TLS.PrivateKey, sec.TLS.PrivateKey)
	}
	if got := strings.Join(SecretValues(orig), " "); got != "k1 k2 pw-a pw-b" {
		t.Errorf("SecretValues = %q", got)
	}
	if !HasSecrets(sec) || HasSecrets(&Route{}) || HasSecrets(&Gateway{}) {
		t.Fatal("HasSecrets")
	}
}

func TestInlineJWKSIsSecretWhenItHoldsKeyMaterial(t *testing.T) {
	tests := map[string]struct {
		jwks string
		want bool
	}{
		"none":             {"", false},
		"public RSA set":   {`{"keys":[{"kty":"RSA","kid":"a","n":"0vx7","e":"AQAB"}]}`, false},
		"public single EC": {`{"kty":"EC","crv":"P-256","x":"f83O","y":"x_FE"}`, false},
		"HMAC key":         {`{"keys":[{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}]}`, true},
		"private RSA key":  {`{"keys":[{"kty":"RSA","n":"0vx7","e":"AQAB","d":"X4cT"}]}`, true},
		"sealed":           {"rdseal:v1:0123456789abcdef:AAAA", true},
		"fingerprint":      {"fp:0123456789ab", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &Route{Then: Action{Auth: &Auth{JWT: &JWTAuth{Issuer: "i", JWKS: tc.jwks}}}}
			var paths []string
			err := MapSecrets(r, func(path, v string) (string, error) {
				paths = append(paths, path)
				return "X", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(paths) == 1 && paths[0] == "then.auth.jwt.jwks"; got != tc.want {
				t.Fatalf("visited %v, want the JWKS visited: %v", paths, tc.want)
			}
			if tc.want && r.Then.Auth.JWT.JWKS != "X" {
				t.Fatal("JWKS not rewritten")
			}
		})
	}
}
