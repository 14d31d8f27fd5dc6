package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/backend/alert"
	"github.com/routedeck/routedeck/backend/store"
	"github.com/routedeck/routedeck/backend/store/storetest"
)

// TestNotifierCredentialsAreSealedAndRekeyed: a notifier's credentials
// never reach the database file in clear, and a key rotation reseals
// them so the new key alone opens them.
func TestNotifierCredentialsAreSealedAndRekeyed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "routedeck.db")
	old := storetest.Keys(t, dir)
	s, err := store.Open(ctx, path, old)
	if err != nil {
		t.Fatal(err)
	}
	const password = "notifier-password-5d1e"
	n := &alert.Notifier{Name: "mail", Type: alert.TypeEmail, Email: &alert.Email{Smarthost: "mail.example.com:587",
		From: "rd@example.com", To: []string{"ops@example.com"}, Username: "rd", Password: password}}
	if err := s.CreateAlertNotifier(ctx, "test", n); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), password) {
			t.Fatalf("%s holds the password in clear", f)
		}
	}
	both, _, err := old.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, path, both)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = storetest.MustOpenAt(t, path, both.CurrentOnly())
	got, err := s.AlertNotifier(ctx, "mail")
	if err != nil {
		t.Fatal(err)
	}
	if got.Email.Password != password || !got.Email.PasswordSet {
		t.Errorf("after the rotation the notifier reads %+v", got.Email)
	}
}

// TestOpenSealsNotifierURLs opens a database whose webhook notifier kept
// its URL in clear (as notifiers did before the URL counted as a
// credential): the URL moves into the sealed credentials, the file holds
// it in clear no more, and the notifier still posts to it.
func TestOpenSealsNotifierURLs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "routedeck.db")
	keys := storetest.Keys(t, dir)
	s, err := store.Open(ctx, path, keys)
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://hooks.example.com/services/T000/B000/url-token-8c2f"
	n := &alert.Notifier{Name: "hook", Type: alert.TypeWebhook, Webhook: &alert.Webhook{URL: url}}
	if err := s.CreateAlertNotifier(ctx, "test", n); err != nil {
		t.Fatal(err)
	}
	store.NotifierURLInClearForTest(t, s, "hook", url)
	s.Close()
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "url-token-8c2f") {
		t.Fatal("setting up: no clear URL in the old database")
	}

	s = storetest.MustOpenAt(t, path, keys)
	storetest.ScanForSecrets(t, dir, map[string]string{"webhook URL token": "url-token-8c2f"})
	got, err := s.AlertNotifier(ctx, "hook")
	if err != nil {
		t.Fatal(err)
	}
	if got.Webhook.URL != url || got.Webhook.Origin != "https://hooks.example.com" {
		t.Fatalf("read back: url %q origin %q", got.Webhook.URL, got.Webhook.Origin)
	}
}
