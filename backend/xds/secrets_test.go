package xds

import (
	"context"
	"strings"
	"testing"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/model/secrettest"
	"github.com/routedeck/routedeck/backend/translate"
)

// httpsWorkspace is a gateway with an HTTPS listener and an upstream
// verified against a CA, with the secrets both need.
func httpsWorkspace(t *testing.T) model.Workspace {
	web := secrettest.TLS(t, "web-tls", "shop.example.com")
	ca := secrettest.CA(t, "internal-ca")
	return model.Workspace{
		Secrets: []model.Secret{web, ca},
		Gateways: []model.Gateway{{Meta: model.Meta{Name: "edge"}, Listeners: []model.Listener{
			{Name: "https", Port: 8443, Protocol: model.ProtocolHTTPS,
				TLS: &model.ListenerTLS{Certificates: []model.Certificate{{Secret: "web-tls"}}}},
		}}},
		Upstreams: []model.Upstream{{Meta: model.Meta{Name: "api"},
			Static: &model.StaticSource{Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 443}}},
			TLS:    &model.UpstreamTLS{SNI: "api.internal", CASecret: "internal-ca"}}},
		Routes: []model.Route{{Meta: model.Meta{Name: "all"}, Gateway: "edge",
			Then: model.Action{Forward: []model.Backend{{Upstream: "api"}}}}},
	}
}

// TestADSServesSecrets fetches an HTTPS gateway as Envoy does: listeners
// and clusters first, then SDS over the same ADS stream for the secret
// names they reference. Without the Secret resources Envoy would keep the
// HTTPS listener warming forever.
func TestADSServesSecrets(t *testing.T) {
	ws := httpsWorkspace(t)
	if err := ws.Validate(); err != nil {
		t.Fatal(err)
	}
	res, err := translate.Gateway(ws, "edge", translate.Options{})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	s, addr := startServer(t)
	if err := s.SetGateway(context.Background(), "edge", res, "1"); err != nil {
		t.Fatalf("set gateway: %v", err)
	}
	c := dialADS(t, addr, "envoy-0", "edge")
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ListenerType})
	lds := c.expect(resource.ListenerType)
	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.ClusterType})
	cds := c.expect(resource.ClusterType)

	// The names Envoy would subscribe to are the ones the resources name.
	refs := map[string]bool{}
	sdsReferences(map[string][]types.Resource{
		resource.ListenerType: asResources(decode(t, lds)),
		resource.ClusterType:  asResources(decode(t, cds)),
	}, refs)
	if len(refs) != 2 || !refs["web-tls"] || !refs["internal-ca/ca"] {
		t.Fatalf("listeners and clusters reference secrets %v, want web-tls and internal-ca/ca", refs)
	}

	c.send(&discovery.DiscoveryRequest{TypeUrl: resource.SecretType, ResourceNames: []string{"web-tls", "internal-ca/ca"}})
	sds := c.expect(resource.SecretType)
	if sds.VersionInfo != "1" {
		t.Errorf("SDS version %q, want 1", sds.VersionInfo)
	}
	got := map[string]*tlsv3.Secret{}
	for _, m := range decode(t, sds) {
		sec := m.(*tlsv3.Secret)
		got[sec.Name] = sec
	}
	cert := got["web-tls"].GetTlsCertificate()
	if cert.GetCertificateChain().GetInlineString() != ws.Secrets[0].TLS.Certificate ||
		cert.GetPrivateKey().GetInlineString() != ws.Secrets[0].TLS.PrivateKey {
		t.Errorf("web-tls secret = %v, want the stored certificate and key", got["web-tls"])
	}
	if ca := got["internal-ca/ca"].GetValidationContext().GetTrustedCa().GetInlineString(); ca != ws.Secrets[1].CA {
		t.Errorf("internal-ca/ca trusted CA = %q", ca)
	}

	// ACK everything; the proxy's status then shows the SDS version.
	for _, r := range []*discovery.DiscoveryResponse{lds, cds, sds} {
		c.send(&discovery.DiscoveryRequest{TypeUrl: r.TypeUrl, VersionInfo: r.VersionInfo, ResponseNonce: r.Nonce})
	}
	waitFor(t, "SDS ACK", func() bool {
		ps := s.Proxies("edge")
		return len(ps) == 1 && ps[0].Acked[resource.SecretType] == "1"
	})
}

func asResources[M any](list []M) []types.Resource {
	out := make([]types.Resource, len(list))
	for i, m := range list {
		out[i] = any(m).(types.Resource)
	}
	return out
}

// TestSnapshotSecretConsistency refuses snapshots whose secrets do not
// match what listeners and clusters reference, like routes and endpoints.
func TestSnapshotSecretConsistency(t *testing.T) {
	ws := httpsWorkspace(t)
	res, err := translate.Gateway(ws, "edge", translate.Options{})
	if err != nil {
		t.Fatalf("translate: %v", err)
	}
	extra := &tlsv3.Secret{Name: "stray", Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{}}}
	tests := map[string]struct {
		secrets []*tlsv3.Secret
		want    []string
	}{
		"complete": {secrets: res.Secrets},
		"missing certificate": {secrets: res.Secrets[:1], // sorted: internal-ca/ca, web-tls
			want: []string{`secrets["web-tls"]: referenced by a listener or cluster but missing`}},
		"none": {want: []string{
			`secrets["internal-ca/ca"]: referenced by a listener or cluster but missing`,
			`secrets["web-tls"]: referenced by a listener or cluster but missing`,
		}},
		"unreferenced": {secrets: append(append([]*tlsv3.Secret{}, res.Secrets...), extra),
			want: []string{`secrets["stray"]: not referenced by any listener or cluster`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, _ := startServer(t)
			r := *res
			r.Secrets = tc.secrets
			err := s.SetGateway(context.Background(), "edge", &r, "")
			var got []string
			for _, f := range model.ErrorFields(err) {
				got = append(got, f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if err != nil && s.Version("edge") != "" {
				t.Error("a refused snapshot must not be set")
			}
		})
	}
}
