package store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

const (
	testPassword = "s3cret-Pa55word-for-scan"
	testAPIKey   = "ak-live-0f1e2d3c4b5a69788796a5b4"
	testToken    = "consul-token-7c1d0e5a-2b3f-4c5d"
)

// secretFixture writes, through the store's API, a TLS secret, a gateway
// serving it, a basic-auth route and an API-key route, updates each once
// (so revisions hold old and new values), publishes, and saves a setting
// with a token. It returns every secret value written, by name.
func secretFixture(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	tls := secrettest.TLS(t, "web-tls", "shop.example.com")
	gw := gateway("edge")
	gw.Listeners = append(gw.Listeners, model.Listener{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
		TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "web-tls"}}}})
	basic := route("basic", "edge", "web", 2)
	basic.Then.Auth = &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"alice": testPassword + "-old"}}}
	key := route("key", "edge", "web", 1)
	key.Then.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-api-key", Keys: []string{testAPIKey + "-old"}}}
	mustCreate(t, s, &tls, gw, basic, key)
	basicHeader := func(pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+pw))
	}
	routeTest := func(pw, apiKey string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{
			"request": map[string]any{"url": "http://shop.example.com/key", "headers": map[string]string{
				"x-api-key": apiKey, "authorization": basicHeader(pw)}},
			"expect": map[string]any{"status": 200},
		})
		return b
	}
	rt := &store.RouteTest{Name: "with-credentials", Gateway: "edge", Spec: routeTest(testPassword+"-old", testAPIKey+"-old")}
	if err := s.CreateRouteTest(ctx, "alice", rt); err != nil {
		t.Fatal(err)
	}

	tls2 := secrettest.TLS(t, "web-tls", "shop.example.com")
	tls2.Version = 1
	basic.Then.Auth = &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"alice": testPassword}}}
	key.Then.Auth = &model.Auth{APIKey: &model.APIKeyAuth{Header: "x-api-key", Keys: []string{testAPIKey}}}
	for _, o := range []model.Object{&tls2, basic, key} {
		if err := s.Update(ctx, "bob", o); err != nil {
			t.Fatalf("update %s: %v", o.ObjectMeta().Name, err)
		}
	}
	rt.Spec = routeTest(testPassword, testAPIKey)
	if err := s.UpdateRouteTest(ctx, "bob", rt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, "bob", "edge", "with secrets"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, "admin", "targets", map[string]any{"consul": map[string]any{"token": testToken}}); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"old private key": tls.TLS.PrivateKey,
		"private key":     tls2.TLS.PrivateKey,
		"old password":    testPassword + "-old",
		"password":        testPassword,
		"old API key":     testAPIKey + "-old",
		"API key":         testAPIKey,
		"token":           testToken,
	}
}

// TestNoSecretInDatabaseFiles writes secrets everywhere the store keeps
// them and finds none of them in the database, its WAL or its shared-memory
// file, read while the WAL is not yet checkpointed.
func TestNoSecretInDatabaseFiles(t *testing.T) {
	dir := t.TempDir()
	s := storetest.MustOpenAt(t, filepath.Join(dir, "routedeck.db"), storetest.Keys(t, dir))
	mustCreate(t, s, upstream("web"))
	secrets := secretFixture(t, s)

	if st, err := os.Stat(filepath.Join(dir, "routedeck.db-wal")); err != nil || st.Size() == 0 {
		t.Fatalf("the WAL should hold the writes: %v", err)
	}
	storetest.ScanForSecrets(t, dir, secrets)

	// The rest of the code still sees plaintext.
	r, err := s.Get(ctx, model.KindRoute, "basic")
	if err != nil || r.(*model.Route).Then.Auth.Basic.Users["alice"] != testPassword {
		t.Fatalf("route read back: %v", err)
	}
	p, err := s.GetPublished(ctx, "edge", 0)
	if err != nil || p.Workspace.Secrets[0].TLS.PrivateKey != secrets["private key"] {
		t.Fatalf("published version read back without its private key: %v", err)
	}
	var set struct {
		Consul struct{ Token string } `json:"consul"`
	}
	if err := s.GetSetting(ctx, "targets", &set); err != nil || set.Consul.Token != testToken {
		t.Fatalf("setting read back: %+v, %v", set, err)
	}
	checkRevisions(t, s)
}

// checkRevisions checks the route revisions: their objects carry the
// values, their diffs only fingerprints, and still show a change; and the
// route test with credentials reads back whole.
func checkRevisions(t *testing.T, s *store.Store) {
	t.Helper()
	rt, err := s.GetRouteTest(ctx, "with-credentials")
	if err != nil || !strings.Contains(string(rt.Spec), testAPIKey) {
		t.Fatalf("route test read back: %s, %v", rt.Spec, err)
	}
	revs, _, err := s.ListRevisions(ctx, store.RevisionFilter{Kind: store.KindRouteTest, Name: "with-credentials"})
	if err != nil || len(revs) != 2 {
		t.Fatalf("route test revisions: %v, %v", revs, err)
	}
	upd, err := s.GetRevision(ctx, revs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(upd.After), testAPIKey) {
		t.Errorf("route test revision: after does not carry the test: %s", upd.After)
	}
	if strings.Contains(upd.Diff, testAPIKey) || !strings.Contains(upd.Diff, s.Keys().Fingerprint(testAPIKey)) {
		t.Errorf("route test diff should show the API key as its fingerprint:\n%s", upd.Diff)
	}
	for _, name := range []string{"basic", "key"} {
		revs, _, err := s.ListRevisions(ctx, store.RevisionFilter{Kind: model.KindRoute, Name: name})
		if err != nil || len(revs) != 2 {
			t.Fatalf("revisions of %s: %v, %v", name, revs, err)
		}
		upd, err := s.GetRevision(ctx, revs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		value := map[string]string{"basic": testPassword, "key": testAPIKey}[name]
		if !strings.Contains(string(upd.After), value) {
			t.Errorf("revision %d of %s: after does not carry the value: %s", upd.ID, name, upd.After)
		}
		if strings.Contains(upd.Diff, value) || strings.Contains(upd.Diff, "rdseal:") {
			t.Errorf("revision %d of %s: the diff shows the value or its ciphertext:\n%s", upd.ID, name, upd.Diff)
		}
		want := []string{"-", s.Keys().Fingerprint(value + "-old"), "+", s.Keys().Fingerprint(value)}
		if !strings.Contains(upd.Diff, want[0]) || !strings.Contains(upd.Diff, want[1]) || !strings.Contains(upd.Diff, want[3]) {
			t.Errorf("revision %d of %s: the diff should show the change as fingerprints %s -> %s:\n%s",
				upd.ID, name, want[1], want[3], upd.Diff)
		}
	}
}

// TestOpenSealsClearSecrets opens a database written before secrets were
// sealed: every clear value is sealed, old diffs are rewritten, and no
// clear value is left in the files.
func TestOpenSealsClearSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routedeck.db")
	keys := storetest.Keys(t, dir)
	s, err := store.Open(ctx, path, keys)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, upstream("web"))
	secrets := secretFixture(t, s)
	store.UnsealForTest(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The clear values are there, or the test proves nothing.
	if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte(testPassword)) {
		t.Fatal("setting up: no clear password in the old database")
	}

	s = storetest.MustOpenAt(t, path, keys)
	storetest.ScanForSecrets(t, dir, secrets)
	checkRevisions(t, s)
	r, err := s.Get(ctx, model.KindRoute, "key")
	if err != nil || r.(*model.Route).Then.Auth.APIKey.Keys[0] != testAPIKey {
		t.Fatalf("route read back: %v", err)
	}
}

// TestOpenRefusesOtherKey opens a database with a key that did not seal
// it: refused at once, with a message saying what to restore.
func TestOpenRefusesOtherKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routedeck.db")
	s, err := store.Open(ctx, path, storetest.Keys(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, upstream("web"))
	secretFixture(t, s)
	s.Close()

	other, _ := seal.Generate()
	_, err = store.Open(ctx, path, other)
	if err == nil || !strings.Contains(err.Error(), "sealed with master key") || !strings.Contains(err.Error(), seal.EnvMasterKey) {
		t.Fatalf("open with another key: %v", err)
	}
}

// TestRekey reseals everything under a new key: afterwards the new key
// alone opens the database and the old one is refused.
func TestRekey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "routedeck.db")
	old := storetest.Keys(t, dir)
	s, err := store.Open(ctx, path, old)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, upstream("web"))
	secrets := secretFixture(t, s)
	s.Close()

	both, _, err := old.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, path, both)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Rekey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	// Seven rows hold secrets: two routes and a secret in the draft, their
	// six revisions, one published version and one setting.
	if n < 11 {
		t.Errorf("Rekey rewrote %d rows, want every row with a secret", n)
	}
	s.Close()

	if _, err := store.Open(ctx, path, old); err == nil {
		t.Fatal("the old key alone still opens the database")
	}
	s = storetest.MustOpenAt(t, path, both.CurrentOnly())
	ws, err := s.Workspace(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Secrets[0].TLS.PrivateKey != secrets["private key"] {
		t.Error("private key lost in the rotation")
	}
	if _, err := s.GetPublished(ctx, "edge", 0); err != nil {
		t.Errorf("published version after rotation: %v", err)
	}
	checkRevisions(t, s)
	storetest.ScanForSecrets(t, dir, secrets)
}

// TestAuditDetailScrubsSecrets has an audit entry quote a credential of
// the draft, as an error message might: the log keeps its fingerprint.
func TestAuditDetailScrubsSecrets(t *testing.T) {
	s := seeded(t)
	r := route("basic", "public", "web", 1)
	r.Then.Auth = &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"ops": testPassword}}}
	mustCreate(t, s, r)
	if err := s.Audit(ctx, store.AuditEntry{Actor: "t", Action: "publish.force", Target: "public",
		Detail: "test login failed: sent ops:" + testPassword + ", got 401"}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "test login failed: sent ops:" + s.Keys().Fingerprint(testPassword) + ", got 401"
	if entries[0].Detail != want {
		t.Fatalf("detail = %q, want %q", entries[0].Detail, want)
	}
}
