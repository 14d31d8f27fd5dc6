package app

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicaStatusToken starts a replica with a status token file: its
// status answers only the token, even on loopback, and health answers
// anyone. A token file that does not hold a usable token stops the
// start, and the error does not repeat the file's content.
func TestReplicaStatusToken(t *testing.T) {
	dir := t.TempDir()
	const token = "replica-status-token-93d0a7"
	good, short := filepath.Join(dir, "token"), filepath.Join(dir, "short")
	if err := os.WriteFile(good, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("tiny-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := ReplicaConfig{ID: "xds-1", Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0", ADSInsecurePlaintext: true,
		ConsulAddr: "127.0.0.1:1", Logger: quiet, Getenv: func(string) string { return "" }}

	bad := cfg
	bad.StatusTokenFile = short
	if err := NewReplica(bad).Start(t.Context()); err == nil || !strings.Contains(err.Error(), "--status-token-file") ||
		strings.Contains(err.Error(), "tiny-secret") {
		t.Fatalf("a short token: %v", err)
	}

	cfg.StatusTokenFile = good
	svc := NewReplica(cfg)
	if err := svc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	get := func(path, auth string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+svc.Addr().String()+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/api/v1/health", "", http.StatusOK},
		{"/api/v1/status", "", http.StatusUnauthorized},
		{"/api/v1/status", "Bearer " + token, http.StatusOK},
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "Bearer " + token, http.StatusOK},
	} {
		if got := get(c.path, c.auth); got != c.want {
			t.Errorf("GET %s (auth %v): %d, want %d", c.path, c.auth != "", got, c.want)
		}
	}
}
