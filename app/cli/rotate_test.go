package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/seal"
)

// seedSecrets stores a route with a basic-auth password in dataDir, with
// the master key getenv gives (or the key file), and publishes it.
func seedSecrets(t *testing.T, dataDir string, getenv func(string) string) {
	t.Helper()
	ctx := context.Background()
	st, err := app.OpenStoreEnv(ctx, dataDir, getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = st.Apply(ctx, "t", model.Workspace{
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"},
			Listeners: []model.Listener{{Name: "http", Port: 8080, Protocol: model.ProtocolHTTP}}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "web"},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 80}}}}},
		Routes: []model.Route{{Meta: model.Meta{Name: "admin"}, Gateway: "edge",
			When: model.Pred(model.FieldPath, model.OpPrefix, "/admin"),
			Then: model.Action{Forward: []model.Backend{{Upstream: "web"}},
				Auth: &model.Auth{Basic: &model.BasicAuth{Users: map[string]string{"ops": "rotate-me-please"}}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Publish(ctx, "t", "edge", ""); err != nil {
		t.Fatal(err)
	}
}

// password opens dataDir with getenv's key and returns the route's password.
func password(t *testing.T, dataDir string, getenv func(string) string) (string, error) {
	t.Helper()
	st, err := app.OpenStoreEnv(context.Background(), dataDir, getenv)
	if err != nil {
		return "", err
	}
	defer st.Close()
	p, err := st.GetPublished(context.Background(), "edge", 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.Workspace.Routes[0].Then.Auth.Basic.Users["ops"], nil
}

func TestRotateKeyFile(t *testing.T) {
	t.Setenv(seal.EnvMasterKey, "")
	dir := t.TempDir()
	seedSecrets(t, dir, nil)
	before, err := seal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.Open(dir, before, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	caBefore, err := ca.CAs()
	if err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"secrets", "rotate-key", "--data-dir", dir}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("rotate-key: %s", errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("rotate-key with a key file printed on stdout: %q", out.String())
	}
	after, err := seal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.CurrentID() == before.CurrentID() || len(after.IDs()) != 1 {
		t.Fatalf("key file after rotation: %v (was %s)", after.IDs(), before.CurrentID())
	}
	if pw, err := password(t, dir, nil); err != nil || pw != "rotate-me-please" {
		t.Fatalf("after rotation: %q, %v", pw, err)
	}
	// The CA opens with the new key alone and is the same CA.
	ca, err = pki.Open(dir, after, pki.Options{})
	if err != nil {
		t.Fatalf("CA after rotation: %v", err)
	}
	if got, err := ca.CAs(); err != nil || len(got) != len(caBefore) || got[0].Serial != caBefore[0].Serial {
		t.Fatalf("CA after rotation: %+v, was %+v", got, caBefore)
	}
	// The old key, restored from an old backup, no longer opens it.
	if err := before.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := password(t, dir, nil); err == nil || !strings.Contains(err.Error(), "sealed with master key") {
		t.Fatalf("old key after rotation: %v", err)
	}
}

func TestRotateKeyEnv(t *testing.T) {
	dir := t.TempDir()
	oldKey, _ := seal.NewKey()
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == seal.EnvMasterKey {
				return v
			}
			return ""
		}
	}
	seedSecrets(t, dir, env(seal.EncodeKey(oldKey)))

	var out, errOut bytes.Buffer
	if err := rotateKey(context.Background(), dir, env(seal.EncodeKey(oldKey)), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	newKey := strings.TrimSpace(out.String())
	if _, err := seal.DecodeKey(newKey); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("stdout should be the new key alone: %q (%v)", out.String(), err)
	}
	if !strings.Contains(errOut.String(), seal.EnvMasterKey) {
		t.Errorf("no word that the variable must change: %s", errOut.String())
	}
	if _, err := os.Stat(seal.KeyFile(dir)); !os.IsNotExist(err) {
		t.Error("a key file was written although the key is in the environment")
	}
	if pw, err := password(t, dir, env(newKey)); err != nil || pw != "rotate-me-please" {
		t.Fatalf("new key: %q, %v", pw, err)
	}
	if _, err := password(t, dir, env(seal.EncodeKey(oldKey))); err == nil {
		t.Fatal("the old key still opens the database")
	}
}

func TestRotateKeyRefusesWrongKey(t *testing.T) {
	t.Setenv(seal.EnvMasterKey, "")
	dir := t.TempDir()
	seedSecrets(t, dir, nil)
	wrong, _ := seal.NewKey()
	getenv := func(name string) string {
		if name == seal.EnvMasterKey {
			return seal.EncodeKey(wrong)
		}
		return ""
	}
	var out bytes.Buffer
	if err := rotateKey(context.Background(), dir, getenv, &out, &out); err == nil {
		t.Fatal("rotated with a key that does not open the database")
	}
	if out.Len() != 0 {
		t.Errorf("printed a key although nothing was rotated: %q", out.String())
	}
	if pw, err := password(t, dir, nil); err != nil || pw != "rotate-me-please" {
		t.Fatalf("database after a refused rotation: %q, %v", pw, err)
	}
}

// TestRotateKeyCrashPoints replays rotate-key's steps one by one and opens
// the database as a restarted server would after a crash at each point:
// it must open every time.
func TestRotateKeyCrashPoints(t *testing.T) {
	t.Setenv(seal.EnvMasterKey, "")
	dir := t.TempDir()
	seedSecrets(t, dir, nil)
	old, err := seal.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	opens := func(step string) {
		t.Helper()
		if pw, err := password(t, dir, nil); err != nil || pw != "rotate-me-please" {
			t.Fatalf("after %s: %q, %v", step, pw, err)
		}
	}
	next, _, err := old.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if err := next.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	opens("the key file gained the new key")

	st, err := app.OpenStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Rekey(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	opens("the database was resealed, the old key still in the file")

	if err := next.CurrentOnly().WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	opens("the old key was dropped")
}
