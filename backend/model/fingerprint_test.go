package model

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// testFP is a stand-in fingerprint: keyless, which is fine for checking
// where fingerprints go, not for hiding anything.
var testFP = FingerprintFunc(func(v string) string {
	sum := sha256.Sum256([]byte(v))
	return FingerprintPrefix + hex.EncodeToString(sum[:6])
})

func authRoute() *Route {
	return &Route{Meta: Meta{Name: "r", Version: 3}, Gateway: "g", Then: Action{Auth: &Auth{
		APIKey: &APIKeyAuth{Header: "x-key", Keys: []string{"key-one", "key-two"}},
		Basic:  &BasicAuth{Users: map[string]string{"alice": "pw-alice", "bob": "{SHA}hash-bob"}},
	}}}
}

func TestIsFingerprint(t *testing.T) {
	tests := map[string]bool{
		testFP("x"):        true,
		"fp:0123456789ab":  true,
		"fp:0123456789AB":  true,
		"fp:0123456789a":   false,
		"fp:0123456789abc": false,
		"xp:0123456789ab":  false,
		"fp:0123456789ag":  false,
		"":                 false,
	}
	for v, want := range tests {
		if got := IsFingerprint(v); got != want {
			t.Errorf("IsFingerprint(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRedactShowsFingerprintsAndLeavesTheOriginal(t *testing.T) {
	orig := authRoute()
	got := Redact(orig, testFP).(*Route)
	want := &Route{Meta: orig.Meta, Gateway: "g", Then: Action{Auth: &Auth{
		APIKey: &APIKeyAuth{Header: "x-key", Keys: []string{testFP("key-one"), testFP("key-two")}},
		Basic:  &BasicAuth{Users: map[string]string{"alice": testFP("pw-alice"), "bob": testFP("{SHA}hash-bob")}},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redact = %+v %+v, want %+v %+v", got.Then.Auth.APIKey, got.Then.Auth.Basic, want.Then.Auth.APIKey, want.Then.Auth.Basic)
	}
	if !reflect.DeepEqual(orig, authRoute()) {
		t.Errorf("original changed: %+v %+v", orig.Then.Auth.APIKey, orig.Then.Auth.Basic)
	}
	if again := Redact(got, testFP); !reflect.DeepEqual(again, got) {
		t.Errorf("redacting twice changed the answer")
	}

	sec := &Secret{Meta: Meta{Name: "s"}, TLS: &SecretTLS{Certificate: "cert", PrivateKey: "key"}}
	rs := Redact(sec, testFP).(*Secret)
	if rs.TLS.PrivateKey != testFP("key") || rs.TLS.Certificate != "cert" || sec.TLS.PrivateKey != "key" {
		t.Errorf("secret: redacted %+v, original %+v", rs.TLS, sec.TLS)
	}
	old := &Secret{TLS: &SecretTLS{Certificate: "cert", PrivateKey: RedactedPrivateKey}}
	if r := Redact(old, testFP).(*Secret); r.TLS.PrivateKey != RedactedPrivateKey {
		t.Errorf("placeholder from older history became %q", r.TLS.PrivateKey)
	}
	gw := &Gateway{Meta: Meta{Name: "g"}}
	if Redact(gw, testFP) != Object(gw) {
		t.Error("an object without secrets should come back as is")
	}

	ws := Workspace{Secrets: []Secret{*sec}, Gateways: []Gateway{*gw}, Routes: []Route{*authRoute()}}
	rw := RedactWorkspace(ws, testFP)
	if rw.Secrets[0].TLS.PrivateKey != testFP("key") || rw.Routes[0].Then.Auth.Basic.Users["alice"] != testFP("pw-alice") {
		t.Errorf("workspace not redacted: %+v %+v", rw.Secrets[0].TLS, rw.Routes[0].Then.Auth.Basic)
	}
	if ws.Secrets[0].TLS.PrivateKey != "key" || ws.Routes[0].Then.Auth.Basic.Users["alice"] != "pw-alice" {
		t.Error("RedactWorkspace changed its argument")
	}
}

func TestRestoreSecrets(t *testing.T) {
	stored := authRoute()
	stSecret := &Secret{Meta: Meta{Name: "s"}, TLS: &SecretTLS{Certificate: "cert", PrivateKey: "stored-key"}}
	tests := map[string]struct {
		sent    Object
		stored  Object
		want    Object
		problem string // field of the one problem expected
	}{
		"sent back as read keeps everything": {
			sent: Redact(authRoute(), testFP), stored: stored, want: authRoute(),
		},
		"a clear value replaces, fingerprints move with their values": {
			sent: &Route{Then: Action{Auth: &Auth{
				APIKey: &APIKeyAuth{Keys: []string{testFP("key-two"), "key-new"}},
				Basic:  &BasicAuth{Users: map[string]string{"alicia": testFP("pw-alice"), "bob": "new-pw"}},
			}}},
			stored: stored,
			want: &Route{Then: Action{Auth: &Auth{
				APIKey: &APIKeyAuth{Keys: []string{"key-two", "key-new"}},
				Basic:  &BasicAuth{Users: map[string]string{"alicia": "pw-alice", "bob": "new-pw"}},
			}}},
		},
		"unknown fingerprint": {
			sent:    &Route{Then: Action{Auth: &Auth{Basic: &BasicAuth{Users: map[string]string{"carol": testFP("guess")}}}}},
			stored:  stored,
			problem: "then.auth.basic.users.carol",
		},
		"fingerprint on a new object": {
			sent:    &Route{Then: Action{Auth: &Auth{APIKey: &APIKeyAuth{Keys: []string{testFP("key-one")}}}}},
			problem: "then.auth.apiKey.keys[0]",
		},
		"key left out": {
			sent:   &Secret{TLS: &SecretTLS{Certificate: "cert2"}},
			stored: stSecret,
			want:   &Secret{TLS: &SecretTLS{Certificate: "cert2", PrivateKey: "stored-key"}},
		},
		"key as placeholder": {
			sent:   &Secret{TLS: &SecretTLS{Certificate: "cert", PrivateKey: RedactedPrivateKey}},
			stored: stSecret,
			want:   &Secret{TLS: &SecretTLS{Certificate: "cert", PrivateKey: "stored-key"}},
		},
		"key as fingerprint": {
			sent:   &Secret{TLS: &SecretTLS{Certificate: "cert", PrivateKey: testFP("stored-key")}},
			stored: stSecret,
			want:   &Secret{TLS: &SecretTLS{Certificate: "cert", PrivateKey: "stored-key"}},
		},
		"key as another key's fingerprint": {
			sent:    &Secret{TLS: &SecretTLS{Certificate: "cert", PrivateKey: testFP("other-key")}},
			stored:  stSecret,
			problem: "tls.privateKey",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := RestoreSecrets(tc.sent, tc.stored, testFP)
			if tc.problem != "" {
				fields := ErrorFields(err)
				if len(fields) != 1 || fields[0].Field != tc.problem || !strings.Contains(fields[0].Message, "unknown fingerprint") {
					t.Fatalf("problems = %v, want one on %s", fields, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.sent, tc.want) {
				t.Errorf("restored = %+v, want %+v", tc.sent, tc.want)
			}
		})
	}
	if !reflect.DeepEqual(stored, authRoute()) {
		t.Error("RestoreSecrets changed the stored object")
	}
}

func TestRestoreWorkspaceSecretsPathsIntoTheWorkspace(t *testing.T) {
	draft := Workspace{Routes: []Route{*authRoute()}}
	ws := Workspace{Routes: []Route{
		{Meta: Meta{Name: "other"}, Then: Action{Auth: &Auth{APIKey: &APIKeyAuth{Keys: []string{testFP("key-one")}}}}},
		*Redact(authRoute(), testFP).(*Route),
	}}
	err := RestoreWorkspaceSecrets(&ws, draft, testFP)
	fields := ErrorFields(err)
	if len(fields) != 1 || fields[0].Field != "routes[0].then.auth.apiKey.keys[0]" {
		t.Fatalf("problems = %v", fields)
	}
	if got := ws.Routes[1].Then.Auth; got.Basic.Users["alice"] != "pw-alice" || got.APIKey.Keys[1] != "key-two" {
		t.Errorf("route r not restored: %+v %+v", got.Basic, got.APIKey)
	}
}
