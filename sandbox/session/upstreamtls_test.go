package session

import (
	"context"
	"strings"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
)

// withAPITLS gives the demo's "api" upstream tls, with the CA secret
// "internal-ca" in the workspace.
func withAPITLS(t *testing.T, ws *memWorkspaces, tlsCfg *model.UpstreamTLS) {
	t.Helper()
	ca := secrettest.CA(t, "internal-ca")
	ws.update(func(w *model.Workspace) {
		w.Secrets = append(w.Secrets, ca)
		for i := range w.Upstreams {
			if w.Upstreams[i].Name == "api" {
				w.Upstreams[i].TLS = tlsCfg
			}
		}
	})
}

// TestUpstreamTLSThroughSandbox sends a demo request to an upstream the
// gateway reaches over TLS: the mock serves TLS with a sandbox
// certificate, the gateway verifies it against the sandbox CA put in
// place of the draft's, and the result shows the handshake the mock got.
func TestUpstreamTLSThroughSandbox(t *testing.T) {
	tests := map[string]struct {
		tls     *model.UpstreamTLS
		wantSNI string
	}{
		"CA secret and SNI":     {tls: &model.UpstreamTLS{SNI: "api.internal", CASecret: "internal-ca"}, wantSNI: "api.internal"},
		"system CAs":            {tls: &model.UpstreamTLS{SNI: "api.internal"}, wantSNI: "api.internal"},
		"insecure, without SNI": {tls: &model.UpstreamTLS{InsecureSkipVerify: true}, wantSNI: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ws := demo(t)
			withAPITLS(t, ws, tc.tls)
			s := newService(t, ws)
			res, err := s.Do(t.Context(), TestRequest{Gateway: "public", Curl: `curl -X POST -H 'Host: shop.example.com' -d '{"n":1}' http://gw/api/orders`})
			if err != nil {
				t.Fatal(err)
			}
			if res.Response.Status != 200 || res.Upstream == nil || *res.Upstream != "api" || res.Received == nil {
				t.Fatalf("status %d upstream %v body %q envoy %+v", res.Response.Status, res.Upstream, res.Response.Body, res.Envoy)
			}
			got := res.Received.TLS
			if got == nil {
				t.Fatalf("the mock received the request without TLS: %+v", res.Received)
			}
			// Envoy's client default is TLS 1.2 at most; an http1
			// upstream is offered http/1.1.
			if got.ServerName != tc.wantSNI || got.Version != "TLS 1.2" || got.ALPN != "http/1.1" {
				t.Errorf("handshake %+v, want SNI %q over TLS 1.2 with http/1.1", got, tc.wantSNI)
			}

			// A plaintext upstream stays plaintext.
			plain, err := s.Do(t.Context(), TestRequest{Gateway: "public", Request: &rules.Request{URL: "http://other.example/static/app.js"}})
			if err != nil {
				t.Fatal(err)
			}
			if plain.Received == nil || plain.Received.TLS != nil {
				t.Errorf("plaintext upstream received %+v", plain.Received)
			}
		})
	}
}

// TestSandboxTrustStaysInSandbox checks that the sandbox CA replaces the
// draft's trust only in the sandbox's snapshot: the draft's translation,
// which is what publishing sends, keeps the operator's CA.
func TestSandboxTrustStaysInSandbox(t *testing.T) {
	ws := demo(t)
	withAPITLS(t, ws, &model.UpstreamTLS{SNI: "api.internal", CASecret: "internal-ca"})
	s := newService(t, ws)
	if _, err := s.ensure(t.Context(), instance{gateway: "public"}, nil); err != nil {
		t.Fatal(err)
	}
	draft, _ := ws.GatewayWorkspace(context.Background(), "public")
	published, err := translate.Gateway(draft, "public", translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	caOf := func(secrets []*tlsv3.Secret) string {
		for _, sec := range secrets {
			if vc := sec.GetValidationContext(); vc != nil {
				return vc.GetTrustedCa().GetInlineString()
			}
		}
		return ""
	}
	s.mu.Lock()
	sandboxRes := s.gateways["public"].res
	sandboxCA := s.ca.CertPEM()
	s.mu.Unlock()
	if got := caOf(sandboxRes.Secrets); got != sandboxCA {
		t.Errorf("the sandbox snapshot trusts %.40q, want the sandbox CA", got)
	}
	want := ""
	for _, sec := range draft.Secrets {
		if sec.Name == "internal-ca" {
			want = sec.CA
		}
	}
	if got := caOf(published.Secrets); got != want || strings.Contains(got, sandboxCA) {
		t.Errorf("the published translation trusts %.40q, want the draft's CA", got)
	}
}
