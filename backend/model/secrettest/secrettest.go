// Package secrettest makes secrets for tests: fresh self-signed
// certificates and keys in PEM, Secret objects holding them, and the
// fingerprints of a fresh master keyring.
package secrettest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/seal"
)

// Pair returns a new self-signed ECDSA P-256 certificate for hosts (the
// first is also the common name) and its PKCS#8 private key, both PEM. The
// certificate may sign others (IsCA), so it also serves as a test CA.
func Pair(t testing.TB, hosts ...string) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	cn := "routedeck test"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              hosts,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	return certPEM, keyPEM
}

// TLS returns a Secret named name with a fresh certificate for hosts and
// its key.
func TLS(t testing.TB, name string, hosts ...string) model.Secret {
	t.Helper()
	cert, key := Pair(t, hosts...)
	return model.Secret{Meta: model.Meta{Name: name}, TLS: &model.SecretTLS{Certificate: cert, PrivateKey: key}}
}

// CA returns a Secret named name holding only a fresh CA certificate.
func CA(t testing.TB, name string) model.Secret {
	t.Helper()
	cert, _ := Pair(t, name)
	return model.Secret{Meta: model.Meta{Name: name}, CA: cert}
}

// Fingerprinter returns the fingerprints of a master keyring with a fresh
// random key, as a server has.
func Fingerprinter(t testing.TB) model.Fingerprinter {
	t.Helper()
	k, err := seal.Generate()
	if err != nil {
		t.Fatalf("master key: %v", err)
	}
	return k
}
