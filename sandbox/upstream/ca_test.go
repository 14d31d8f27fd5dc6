package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"
)

func TestTLSEcho(t *testing.T) {
	ca, err := NewCA("sandbox test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("api.internal", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ca.Issue("127.0.0.1", "api.internal"); again != cert {
		t.Error("the same names gave another certificate")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(ca.CertPEM())) {
		t.Fatal("CA certificate is not PEM")
	}
	tests := map[string]struct {
		http2     bool
		sni       string
		offer     []string
		wantProto string
	}{
		"http1 with SNI":      {sni: "api.internal", offer: []string{"http/1.1"}, wantProto: "http/1.1"},
		"h2 after ALPN":       {http2: true, sni: "api.internal", offer: []string{"h2"}, wantProto: "h2"},
		"no SNI, no ALPN":     {},
		"h2 offered to http1": {sni: "api.internal", offer: []string{"h2", "http/1.1"}, wantProto: "http/1.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := startT(t, "api", Options{HTTP2: tc.http2, TLS: cert})
			if m := s.Mode(); m.TLS != cert || m.HTTP2 != tc.http2 {
				t.Errorf("mode %+v", m)
			}
			// Verified against the CA by name when SNI is sent, by the
			// IP address SAN otherwise.
			conf := &tls.Config{RootCAs: roots, ServerName: tc.sni, NextProtos: tc.offer}
			if tc.sni == "" {
				conf.ServerName = "127.0.0.1"
			}
			tr := &http.Transport{TLSClientConfig: conf, Protocols: new(http.Protocols)}
			tr.Protocols.SetHTTP1(true)
			tr.Protocols.SetHTTP2(tc.wantProto == "h2")
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://" + s.Addr() + "/x")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e Echo
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			got := e.Received.TLS
			if got == nil {
				t.Fatalf("echo has no TLS: %+v", e.Received)
			}
			// IP addresses are never sent as SNI.
			if got.ServerName != tc.sni || got.ALPN != tc.wantProto || got.Version != "TLS 1.3" {
				t.Errorf("echoed TLS %+v, want SNI %q ALPN %q", got, tc.sni, tc.wantProto)
			}
		})
	}
	t.Run("plaintext echo has no TLS", func(t *testing.T) {
		s := startT(t, "api", Options{})
		resp, err := http.Get("http://" + s.Addr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e Echo
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Received.TLS != nil {
			t.Errorf("echo %+v, %v", e.Received, err)
		}
	})
}

func TestPoolRestartsOnModeChange(t *testing.T) {
	ca, err := NewCA("sandbox test CA")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ca.Issue("a.internal")
	b, _ := ca.Issue("b.internal")
	p := NewPool(nil)
	defer p.Close()
	ensure := func(m Mode) *Server {
		t.Helper()
		s, err := p.EnsureMode("web", 1, m)
		if err != nil {
			t.Fatal(err)
		}
		return s[0]
	}
	plain := ensure(Mode{})
	tlsA := ensure(Mode{TLS: a})
	if tlsA == plain {
		t.Fatal("turning TLS on kept the plaintext server")
	}
	if ensure(Mode{TLS: a}) != tlsA {
		t.Error("the same certificate restarted the server")
	}
	if ensure(Mode{TLS: b}) == tlsA {
		t.Error("a new certificate kept the old server")
	}
}
