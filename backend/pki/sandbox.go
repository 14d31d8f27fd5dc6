package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"
)

// SandboxCA vouches for the server's own sandbox data planes. It is created
// in memory when the server starts and never written anywhere, so no
// certificate an operator can obtain (`certs issue` uses the data
// directory's CA, and only for gateway names) reaches a sandbox snapshot,
// which holds an unpublished draft.
type SandboxCA struct {
	ca *ca
}

// sandboxLifetime outlives any server process; the CA dies with it.
const sandboxLifetime = 365 * 24 * time.Hour

// NewSandboxCA creates a fresh in-memory CA.
func NewSandboxCA() (*SandboxCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create sandbox CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"routedeck"}, CommonName: "routedeck sandbox CA"},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(sandboxLifetime),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create sandbox CA: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &SandboxCA{ca: &ca{cert: cert, certPEM: pemCert(der), key: key, trustedUntil: cert.NotAfter}}, nil
}

// Issue returns a client certificate for the sandbox data plane of gateway
// (node.cluster "sandbox/<gateway>"; a name of CheckSandboxName), PEM encoded, for a real Envoy that
// reads files. CAPEM is left empty: the sandbox verifies the server against
// the data directory's bundle.
func (s *SandboxCA) Issue(gateway string) (*Issued, error) {
	if err := CheckSandboxName(gateway); err != nil {
		return nil, err
	}
	id := SandboxID(gateway)
	leaf, err := issueLeaf(s.ca, time.Now(), sandboxLifetime, leafSpec{
		commonName: "sandbox " + gateway, uris: []string{id}, usage: x509.ExtKeyUsageClientAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("issue sandbox certificate for %q: %w", gateway, err)
	}
	leaf.Identity = id
	return leaf, nil
}

// Certificate is Issue as a tls.Certificate, for in-process clients.
func (s *SandboxCA) Certificate(gateway string) (tls.Certificate, error) {
	leaf, err := s.Issue(gateway)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
}
