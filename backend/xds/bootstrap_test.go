package xds

import (
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/internal/golden"
)

func TestBootstrapRoundTrip(t *testing.T) {
	tests := map[string]struct {
		ads      string
		wantType clusterv3.Cluster_DiscoveryType
		wantHost string
	}{
		"ip address":   {ads: "127.0.0.1:18000", wantType: clusterv3.Cluster_STATIC, wantHost: "127.0.0.1"},
		"ipv6 address": {ads: "[::1]:18000", wantType: clusterv3.Cluster_STATIC, wantHost: "::1"},
		"dns name":     {ads: "routedeck.routedeck-system.svc:18000", wantType: clusterv3.Cluster_STRICT_DNS, wantHost: "routedeck.routedeck-system.svc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Bootstrap("public", "public-0", tc.ads, 9901, nil)
			if err != nil {
				t.Fatal(err)
			}
			y, err := BootstrapYAML(b)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseBootstrapYAML(y)
			if err != nil {
				t.Fatalf("parse rendered YAML: %v\n%s", err, y)
			}
			if err := back.ValidateAll(); err != nil {
				t.Fatalf("rendered bootstrap invalid: %v", err)
			}
			if diff := cmp.Diff(b, back, protocmp.Transform()); diff != "" {
				t.Fatalf("round trip changed the bootstrap (-want +got):\n%s", diff)
			}
			if back.Node.Cluster != "public" || back.Node.Id != "public-0" {
				t.Errorf("node = %v", back.Node)
			}
			xc := back.StaticResources.Clusters[0]
			if xc.Name != XDSClusterName || xc.GetType() != tc.wantType {
				t.Errorf("xds cluster %q type %v, want %v", xc.Name, xc.GetType(), tc.wantType)
			}
			addr := xc.LoadAssignment.Endpoints[0].LbEndpoints[0].GetEndpoint().Address.GetSocketAddress()
			if addr.Address != tc.wantHost || addr.GetPortValue() != 18000 {
				t.Errorf("xds address %s:%d", addr.Address, addr.GetPortValue())
			}
			if back.Admin.Address.GetSocketAddress().Address != "127.0.0.1" {
				t.Errorf("admin not on loopback: %v", back.Admin.Address)
			}
			dr := back.DynamicResources
			if dr.LdsConfig.GetAds() == nil || dr.CdsConfig.GetAds() == nil || dr.LdsConfig.ResourceApiVersion != corev3.ApiVersion_V3 {
				t.Errorf("lds/cds not over ADS v3: %v", dr)
			}
			if got := dr.AdsConfig.GrpcServices[0].GetEnvoyGrpc().ClusterName; got != XDSClusterName {
				t.Errorf("ADS cluster %q", got)
			}
			for _, want := range []string{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions", "http2_protocol_options", "ads: {}"} {
				if !strings.Contains(string(y), want) {
					t.Errorf("YAML lacks %q:\n%s", want, y)
				}
			}
		})
	}
}

func TestBootstrapRejectsBadInput(t *testing.T) {
	_, err := Bootstrap("", "", "nohost", 70000, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"gateway: required", "node: required", "ads: want HOST:PORT", "adminPort: 70000"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := Bootstrap("g", "n", "h:0", 1, nil); err == nil || !strings.Contains(err.Error(), `port "0"`) {
		t.Errorf("port 0: err = %v", err)
	}
}

// TestBootstrapRaisesRegexLimit checks the static runtime layer that lifts
// Envoy's RE2 program size limit (100 by default) above what the translator
// may emit, with the admin layer on top, as Envoy reads it from YAML.
func TestBootstrapRaisesRegexLimit(t *testing.T) {
	b, err := Bootstrap("public", "public-0", "127.0.0.1:18000", 9901, nil)
	if err != nil {
		t.Fatal(err)
	}
	y, err := BootstrapYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"re2.max_program_size.error_level: 1000",
		"re2.max_program_size.warn_level: 500",
		"admin_layer: {}",
	} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
	layers := b.GetLayeredRuntime().GetLayers()
	if len(layers) != 2 || layers[0].GetStaticLayer() == nil || layers[1].GetAdminLayer() == nil {
		t.Fatalf("runtime layers = %v, want static then admin", layers)
	}
	static := layers[0].GetStaticLayer().GetFields()
	errLevel := static["re2.max_program_size.error_level"].GetNumberValue()
	warnLevel := static["re2.max_program_size.warn_level"].GetNumberValue()
	if errLevel <= 100 || warnLevel >= errLevel || errLevel < float64(translate.MaxRegexProgramSize) {
		t.Errorf("error level %v, warn level %v: want error above Envoy's 100 and the translator's bound %d, warn below error",
			errLevel, warnLevel, translate.MaxRegexProgramSize)
	}
}

// TestBootstrapMTLSGolden: the ADS cluster of a bootstrap with credentials
// speaks TLS with the certificate and trust bundle from SDS files, and
// those files point at tls.crt, tls.key and ca.crt in watched directories.
func TestBootstrapMTLSGolden(t *testing.T) {
	tlsDirs := ADSTLS{CertDir: "/etc/routedeck/tls", ConfigDir: "/etc/envoy"}
	b, err := Bootstrap("public", "public-0", "routedeck.infra:18000", 9901, &tlsDirs)
	if err != nil {
		t.Fatal(err)
	}
	y, err := BootstrapYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "bootstrap-mtls.yaml"), y)
	back, err := ParseBootstrapYAML(y)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	ts := back.StaticResources.Clusters[0].GetTransportSocket()
	upstream := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(upstream); err != nil {
		t.Fatalf("ADS cluster transport socket: %v", err)
	}
	if upstream.Sni != "routedeck.infra" {
		t.Errorf("sni = %q", upstream.Sni)
	}
	ctx := upstream.CommonTlsContext
	if got := ctx.TlsCertificateSdsSecretConfigs[0].SdsConfig.GetPathConfigSource().GetPath(); got != "/etc/envoy/"+SDSCertificateFile {
		t.Errorf("certificate SDS path %q", got)
	}

	files, err := SDSFiles(tlsDirs)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		golden.Check(t, filepath.Join("testdata", name), data)
	}
	cert, err := ParseSDSFile(files[SDSCertificateFile])
	if err != nil {
		t.Fatal(err)
	}
	tc := cert.GetTlsCertificate()
	if cert.Name != ctx.TlsCertificateSdsSecretConfigs[0].Name || tc.CertificateChain.GetFilename() != "/etc/routedeck/tls/tls.crt" ||
		tc.PrivateKey.GetFilename() != "/etc/routedeck/tls/tls.key" || tc.WatchedDirectory.GetPath() != "/etc/routedeck/tls" {
		t.Errorf("certificate secret %v", cert)
	}
	trust, err := ParseSDSFile(files[SDSTrustFile])
	if err != nil {
		t.Fatal(err)
	}
	vc := trust.GetValidationContext()
	if trust.Name != ctx.GetValidationContextSdsSecretConfig().Name || vc.TrustedCa.GetFilename() != "/etc/routedeck/tls/ca.crt" ||
		vc.MatchTypedSubjectAltNames[0].Matcher.GetExact() != "spiffe://routedeck/ads" {
		t.Errorf("trust secret %v", trust)
	}
}
