package app

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/auth"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// TestSandboxRequestOverTLS adds an HTTPS gateway with two certificates
// and sends sandbox requests to it through the API: each goes over TLS to
// the simulated gateway, which presents the certificate its filter chains
// choose by SNI and forwards to the mock upstream as https.
func TestSandboxRequestOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc, call := apiService(t, ctx, auth.RoleEditor)
	ws := model.Workspace{
		Secrets: []model.Secret{secrettest.TLS(t, "shop-io", "shop.io"), secrettest.TLS(t, "fallback", "fallback.test")},
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
			TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "shop-io", Hosts: []string{"shop.io"}}, {Secret: "fallback"}}}}}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "shop"}, Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 8080}}}}},
		Routes:    []model.Route{{Meta: model.Meta{Name: "shop"}, Gateway: "edge", Then: model.Action{Forward: []model.Backend{{Upstream: "shop"}}}}},
	}
	if _, err := svc.Store().Apply(ctx, "test", ws); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		url      string
		dnsNames []string
	}{
		"named certificate":   {url: "https://shop.io/cart", dnsNames: []string{"shop.io"}},
		"unknown host":        {url: "https://other.org/cart", dnsNames: []string{"fallback.test"}},
		"host with port kept": {url: "https://shop.io:8443/cart", dnsNames: []string{"shop.io"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := call(auth.RoleEditor, "POST", "/sandbox/requests", `{"gateway":"edge","request":{"method":"GET","url":"`+tc.url+`"}}`)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			var got struct {
				Response struct{ Status int } `json:"response"`
				Upstream *string              `json:"upstream"`
				Received *struct {
					Path    string              `json:"path"`
					Headers map[string][]string `json:"headers"`
				} `json:"received"`
				TLS *struct {
					Version  string   `json:"version"`
					Protocol string   `json:"protocol"`
					DNSNames []string `json:"dnsNames"`
				} `json:"tls"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Response.Status != 200 || got.Upstream == nil || *got.Upstream != "shop" || got.Received == nil || got.Received.Path != "/cart" {
				t.Fatalf("reply %s", body)
			}
			if xfp := got.Received.Headers["x-forwarded-proto"]; !slices.Equal(xfp, []string{"https"}) {
				t.Errorf("x-forwarded-proto %v, want https", xfp)
			}
			if got.TLS == nil || !slices.Equal(got.TLS.DNSNames, tc.dnsNames) || got.TLS.Protocol != "h2" || got.TLS.Version == "" {
				t.Errorf("tls %+v, want certificate for %v over h2", got.TLS, tc.dnsNames)
			}
		})
	}
}
