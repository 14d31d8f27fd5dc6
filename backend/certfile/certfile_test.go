package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// server serves TLS on loopback with pair's GetCertificate, completing
// handshakes and nothing else.
func server(t *testing.T, pair *Pair) string {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: pair.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return lis.Addr().String()
}

// served dials addr trusting the given certificates and returns the one
// the server presented.
func served(t *testing.T, addr string, trusted ...string) (*x509.Certificate, error) {
	t.Helper()
	pool := x509.NewCertPool()
	for _, c := range trusted {
		pool.AppendCertsFromPEM([]byte(c))
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRotationWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	certA, keyA := secrettest.Pair(t, "localhost")
	certB, keyB := secrettest.Pair(t, "localhost")
	write(t, certFile, certA)
	write(t, keyFile, keyA)
	pair, err := Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	pair.Now = func() time.Time { return now }
	addr := server(t, pair)
	if _, err := served(t, addr, certA); err != nil {
		t.Fatalf("first certificate: %v", err)
	}

	// Half a rotation: the new certificate with the old key. The pair
	// keeps serving the old certificate.
	write(t, certFile, certB)
	now = now.Add(pair.Interval)
	if _, err := served(t, addr, certA); err != nil {
		t.Fatalf("during a half-written rotation: %v", err)
	}
	// Within the interval the files are not looked at again.
	write(t, keyFile, keyB)
	if _, err := served(t, addr, certA); err != nil {
		t.Fatalf("looked at the files again within the interval: %v", err)
	}
	// The rotation is complete: the next handshake after the interval
	// gets the new certificate, and a client trusting only the old one
	// is refused.
	now = now.Add(pair.Interval)
	if _, err := served(t, addr, certB); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if _, err := served(t, addr, certA); err == nil {
		t.Fatal("still served the old certificate after the rotation")
	}
	// Files that vanish leave the last good certificate in place.
	os.Remove(keyFile)
	now = now.Add(pair.Interval)
	if _, err := served(t, addr, certB); err != nil {
		t.Fatalf("after the key file vanished: %v", err)
	}
}

func TestLoadRefusesBadPairs(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := secrettest.Pair(t, "localhost")
	_, keyB := secrettest.Pair(t, "localhost")
	tests := map[string]struct {
		cert, key string
		want      string
	}{
		"mismatched key": {certA, keyB, "private key does not match"},
		"not PEM":        {"hello", keyA, "load TLS certificate"},
		"missing files":  {"", "", "no such file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
			if tc.cert != "" {
				write(t, certFile, tc.cert)
				write(t, keyFile, tc.key)
			}
			_, err := Load(certFile, keyFile, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
