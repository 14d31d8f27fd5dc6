package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/routedeck/routedeck/app"
	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/store"
)

// TestServeOverTLS serves the dashboard and API over HTTPS with a
// certificate of a private CA and talks to it as the CLI and as a browser
// would.
func TestServeOverTLS(t *testing.T) {
	for _, k := range []string{EnvServer, EnvToken, EnvDataDir, EnvCAFile} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	cert, key := secrettest.Pair(t, "localhost")
	certFile := writeFile(t, dir, "tls.crt", cert)
	keyFile := writeFile(t, dir, "tls.key", key)
	ctx := context.Background()
	svc := app.New(app.Config{DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0",
		TLSCert: certFile, TLSKey: keyFile,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Store().CreateToken(ctx, "test", &store.Token{Name: "ci", Role: "admin", Hash: hash}); err != nil {
		t.Fatal(err)
	}
	url := "https://localhost:" + strings.Split(svc.Addr().String(), ":")[1]
	run := func(env map[string]string, args ...string) (string, string, int) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		defer func() {
			for k := range env {
				t.Setenv(k, "")
			}
		}()
		var out, errOut strings.Builder
		code := Run(ctx, append(args, "--token", tok), strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), code
	}

	t.Run("CLI", func(t *testing.T) {
		tests := map[string]struct {
			env      map[string]string
			args     []string
			code     int
			contains string
		}{
			"--ca-file":                {nil, []string{"get", "gateways", "--server", url, "--ca-file", certFile}, 0, "NAME"},
			"ROUTEDECK_CA_FILE":        {map[string]string{EnvServer: url, EnvCAFile: certFile}, []string{"get", "gateways"}, 0, "NAME"},
			"untrusted without a CA":   {nil, []string{"get", "gateways", "--server", url}, 1, "certificate"},
			"CA file that is not PEM":  {nil, []string{"get", "gateways", "--server", url, "--ca-file", keyFile}, 1, "no PEM certificate"},
			"CA file that is missing":  {nil, []string{"get", "gateways", "--server", url, "--ca-file", filepath.Join(dir, "nope")}, 1, "--ca-file"},
			"plain HTTP to TLS server": {nil, []string{"get", "gateways", "--server", strings.Replace(url, "https", "http", 1)}, 1, "400"},
		}
		for name, tc := range tests {
			t.Run(name, func(t *testing.T) {
				out, errOut, code := run(tc.env, tc.args...)
				if code != tc.code || !strings.Contains(out+errOut, tc.contains) {
					t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.contains, out, errOut)
				}
			})
		}
	})

	t.Run("browser", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(cert))
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
		hashed, err := auth.HashPassword("long enough")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Store().CreateUser(ctx, "test", &store.User{Name: "ana", Role: "viewer", PasswordHash: hashed}); err != nil {
			t.Fatal(err)
		}
		resp, err := c.Post(url+"/api/v1/auth/login", "application/json", strings.NewReader(`{"name":"ana","password":"long enough"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login over TLS: %d", resp.StatusCode)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("served over %s, want HTTP/2", resp.Proto)
		}
		if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
			t.Errorf("no HSTS over TLS: %q", h)
		}
		if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "; Secure") {
			t.Errorf("session cookie is not Secure over TLS: %q", sc)
		}
	})
}

func TestServeRefusesHalfATLSPair(t *testing.T) {
	dir := t.TempDir()
	cert, _ := secrettest.Pair(t, "localhost")
	certFile := writeFile(t, dir, "tls.crt", cert)
	_, otherKey := secrettest.Pair(t, "localhost")
	keyFile := writeFile(t, dir, "tls.key", otherKey)
	tests := map[string]struct {
		args []string
		want string
	}{
		"certificate without key": {[]string{"--tls-cert", certFile}, "both"},
		"key without certificate": {[]string{"--tls-key", keyFile}, "both"},
		"key of another":          {[]string{"--tls-cert", certFile, "--tls-key", keyFile}, "does not match"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errOut strings.Builder
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--ads-listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, name)}, tc.args...)
			code := Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, want 1 with %q: %s", code, tc.want, errOut.String())
			}
		})
	}
}
