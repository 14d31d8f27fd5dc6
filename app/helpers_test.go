package app

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/store"
)

// apiService starts the whole service with the demo workspace (HTTP and
// ADS on loopback ports) with a token per role, and returns a function that
// calls its API as a role: status and body.
func apiService(t *testing.T, ctx context.Context, roles ...string) (*Service, func(role, method, path, body string) (int, string)) {
	t.Helper()
	svc := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ADSListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notices: io.Discard})
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	tokens := map[string]string{}
	for _, role := range roles {
		tokens[role] = newToken(t, ctx, svc, role)
	}
	return svc, func(role, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+svc.Addr().String()+"/api/v1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[role])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// newToken stores an API token with role (named after it) and returns it.
func newToken(t *testing.T, ctx context.Context, svc *Service, role string) string {
	t.Helper()
	tok, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Store().CreateToken(ctx, "test", &store.Token{Name: role, Role: role, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// dialADS connects to svc's ADS as a proxy of gateway does: over mutual
// TLS with a certificate of the data directory's CA.
func dialADS(t *testing.T, svc *Service, gateway string) *grpc.ClientConn {
	t.Helper()
	is, err := svc.ca.IssueGateway(gateway, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(svc.ADSAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(svc.ca.ClientTLS(cert))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
