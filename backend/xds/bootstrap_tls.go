package xds

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	"github.com/routedeck/routedeck/backend/atomicfile"
	"github.com/routedeck/routedeck/backend/pki"
)

// The files of a proxy's ADS credentials, as `certs issue` writes them and
// a kubernetes.io/tls Secret holds them.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// The SDS files beside the bootstrap that point Envoy at the credentials.
const (
	SDSCertificateFile = "ads-certificate.sds.yaml"
	SDSTrustFile       = "ads-trust.sds.yaml"
)

// Where proxies keep them unless told otherwise (the manifests mount them
// there).
const (
	DefaultCertDir   = "/etc/routedeck/tls"
	DefaultConfigDir = "/etc/envoy"
)

// Names of the two SDS secrets.
const (
	sdsCertificateName = "routedeck_ads_certificate"
	sdsTrustName       = "routedeck_ads_trust"
)

// ADSTLS says where a bootstrapped Envoy finds its ADS credentials. Envoy
// reads them through SDS from files and watches the directories, so a
// re-issued certificate or a new trust bundle (the Secret updated in place,
// or the files replaced by a rename) is picked up without a restart.
type ADSTLS struct {
	// CertDir holds CertFile, KeyFile and CAFile.
	CertDir string
	// ConfigDir holds the SDS files (SDSFiles), next to the bootstrap.
	ConfigDir string
}

func (t *ADSTLS) dirs() (certDir, configDir string) {
	certDir, configDir = t.CertDir, t.ConfigDir
	if certDir == "" {
		certDir = DefaultCertDir
	}
	if configDir == "" {
		configDir = DefaultConfigDir
	}
	return certDir, configDir
}

// transportSocket is the ADS cluster's client side of mutual TLS.
func (t *ADSTLS) transportSocket(sni string) (*corev3.TransportSocket, error) {
	_, configDir := t.dirs()
	fileSource := func(file string) *corev3.ConfigSource {
		return &corev3.ConfigSource{
			ResourceApiVersion: corev3.ApiVersion_V3,
			ConfigSourceSpecifier: &corev3.ConfigSource_PathConfigSource{PathConfigSource: &corev3.PathConfigSource{
				Path: path.Join(configDir, file),
				// A ConfigMap updates its files by swapping a symlink in
				// this directory; watching it follows such updates.
				WatchedDirectory: &corev3.WatchedDirectory{Path: configDir},
			}},
		}
	}
	ctx := &tlsv3.UpstreamTlsContext{
		Sni: sni,
		CommonTlsContext: &tlsv3.CommonTlsContext{
			AlpnProtocols: []string{"h2"},
			TlsCertificateSdsSecretConfigs: []*tlsv3.SdsSecretConfig{{
				Name: sdsCertificateName, SdsConfig: fileSource(SDSCertificateFile),
			}},
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{
				ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: sdsTrustName, SdsConfig: fileSource(SDSTrustFile)},
			},
		},
	}
	a, err := anypb.New(ctx)
	if err != nil {
		return nil, err
	}
	return &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}, nil
}

// SDSFiles returns the contents of the SDS files the bootstrap refers to,
// by file name (to be written into ConfigDir): the client certificate and
// key, and the trust bundle with the server's identity to match.
func SDSFiles(t ADSTLS) (map[string][]byte, error) {
	certDir, _ := t.dirs()
	watched := &corev3.WatchedDirectory{Path: certDir}
	file := func(name string) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: path.Join(certDir, name)}}
	}
	certificate := &tlsv3.Secret{Name: sdsCertificateName, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: file(CertFile),
		PrivateKey:       file(KeyFile),
		// The certificate and key are replaced together (a Secret's
		// symlink swap, or `certs issue` renaming into place) and read
		// again on every change in this directory.
		WatchedDirectory: watched,
	}}}
	trust := &tlsv3.Secret{Name: sdsTrustName, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
		TrustedCa:        file(CAFile),
		WatchedDirectory: watched,
		// Only the ADS server's certificate carries this identity, so
		// another gateway's client certificate cannot pose as the server.
		MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{
			SanType: tlsv3.SubjectAltNameMatcher_URI,
			Matcher: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: pki.ServerID}},
		}},
	}}}
	out := map[string][]byte{}
	for name, secret := range map[string]proto.Message{SDSCertificateFile: certificate, SDSTrustFile: trust} {
		if v, ok := secret.(validator); ok {
			if err := v.ValidateAll(); err != nil {
				return nil, fmt.Errorf("sds file %s: %w", name, err)
			}
		}
		a, err := anypb.New(secret)
		if err != nil {
			return nil, fmt.Errorf("sds file %s: %w", name, err)
		}
		js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&discovery.DiscoveryResponse{Resources: []*anypb.Any{a}})
		if err != nil {
			return nil, fmt.Errorf("sds file %s: %w", name, err)
		}
		y, err := yaml.JSONToYAML(js)
		if err != nil {
			return nil, fmt.Errorf("sds file %s: %w", name, err)
		}
		out[name] = y
	}
	return out, nil
}

// ParseSDSFile reads one SDS file back: its one secret.
func ParseSDSFile(data []byte) (*tlsv3.Secret, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("parse sds file: %w", err)
	}
	resp := &discovery.DiscoveryResponse{}
	if err := protojson.Unmarshal(js, resp); err != nil {
		return nil, fmt.Errorf("parse sds file: %w", err)
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("parse sds file: %d resources, want 1", len(resp.Resources))
	}
	s := &tlsv3.Secret{}
	if err := resp.Resources[0].UnmarshalTo(s); err != nil {
		return nil, fmt.Errorf("parse sds file: %w", err)
	}
	return s, nil
}

// Credentials are a proxy's ADS credentials, PEM encoded: its certificate,
// its key and the trust bundle.
type Credentials struct {
	Cert, Key, CA []byte
}

// WriteCredentials writes c into dir as CertFile, KeyFile and CAFile, each
// replaced by a rename so an Envoy watching dir never reads half a file.
func WriteCredentials(dir string, c *Credentials) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{CAFile, c.CA}, {KeyFile, c.Key}, {CertFile, c.Cert}} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("write credentials: %w", err)
		}
	}
	return nil
}

// WriteSDSFiles writes SDSFiles(t) into t.ConfigDir.
func WriteSDSFiles(t ADSTLS) error {
	files, err := SDSFiles(t)
	if err != nil {
		return err
	}
	_, configDir := t.dirs()
	for name, data := range files {
		if err := atomicfile.Write(filepath.Join(configDir, name), data, 0o644); err != nil {
			return fmt.Errorf("write sds file: %w", err)
		}
	}
	return nil
}
