package model

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
)

// Secret is key material delivered to Envoy over SDS: a certificate chain
// with its private key (TLS, named by Gateway listener certificates) and/or
// CA certificates (CA, named by Upstream.tls.caSecret to verify upstreams).
//
// The private key is write-only: the API and the CLI show it as its
// fingerprint (Redact), and an update that sends it empty, as that
// fingerprint or as RedactedPrivateKey keeps the stored key.
type Secret struct {
	Meta
	Description string     `json:"description,omitempty"`
	TLS         *SecretTLS `json:"tls,omitempty"`
	CA          string     `json:"ca,omitempty"` // PEM CA certificates
}

// SecretTLS is a certificate chain (leaf first) and its private key, PEM.
type SecretTLS struct {
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"privateKey,omitempty"`
}

// RedactedPrivateKey stands in for a private key where no fingerprint can
// be made: the revision history recorded before fingerprints, and what
// publishing writes to Consul. An update may send it to keep the stored key.
const RedactedPrivateKey = "<redacted>"

// Kind returns KindSecret.
func (s *Secret) Kind() string { return KindSecret }

// ObjectMeta returns the object's metadata.
func (s *Secret) ObjectMeta() *Meta { return &s.Meta }

// Redacted returns a copy of s whose private key, if any, is replaced by
// RedactedPrivateKey.
func (s *Secret) Redacted() *Secret {
	c := *s
	if s.TLS != nil {
		t := *s.TLS
		if t.PrivateKey != "" {
			t.PrivateKey = RedactedPrivateKey
		}
		c.TLS = &t
	}
	return &c
}

// KeepsStoredKey reports whether s carries no private key of its own (none
// sent, or a stand-in sent back: a fingerprint or RedactedPrivateKey), so
// an update should keep the stored one (RestoreSecrets checks that a
// fingerprint names it).
func (s *Secret) KeepsStoredKey() bool {
	return s.TLS != nil && (s.TLS.PrivateKey == "" || shownRedacted(s.TLS.PrivateKey))
}

// Validate checks the secret on its own: at least one of tls and ca, PEM
// that parses, and a private key that matches the certificate.
func (s *Secret) Validate() error {
	var p Problems
	validateName(&p, "name", s.Name)
	validateDescription(&p, "description", s.Description)
	tooBig := false
	for path, pemText := range map[string]string{"ca": s.CA, "tls.certificate": s.tlsPart(false), "tls.privateKey": s.tlsPart(true)} {
		if len(pemText) > MaxPEMBytes {
			p.Add(path, "is %d bytes; at most %d are allowed", len(pemText), MaxPEMBytes)
			tooBig = true
		}
	}
	if tooBig {
		return p.Err()
	}
	if s.TLS == nil && strings.TrimSpace(s.CA) == "" {
		p.Add("", "at least one of tls and ca is required")
	}
	if t := s.TLS; t != nil {
		certOK := validateCertificates(&p, "tls.certificate", t.Certificate)
		keyOK := true
		switch {
		case t.PrivateKey == "" || shownRedacted(t.PrivateKey):
			p.Add("tls.privateKey", "required (PEM private key of the certificate)")
			keyOK = false
		default:
			keyOK = validatePrivateKey(&p, "tls.privateKey", t.PrivateKey)
		}
		if certOK && keyOK {
			if _, err := tls.X509KeyPair([]byte(t.Certificate), []byte(t.PrivateKey)); err != nil {
				p.Add("tls.privateKey", "does not match the certificate: %s", keyPairProblem(err))
			}
		}
	}
	if s.CA != "" {
		validateCertificates(&p, "ca", s.CA)
	}
	return p.Err()
}

func (s *Secret) tlsPart(key bool) string {
	switch {
	case s.TLS == nil:
		return ""
	case key:
		return s.TLS.PrivateKey
	}
	return s.TLS.Certificate
}

// validateCertificates checks that pemText holds one or more PEM
// CERTIFICATE blocks that crypto/x509 parses, and nothing else.
func validateCertificates(p *Problems, path, pemText string) bool {
	if strings.TrimSpace(pemText) == "" {
		p.Add(path, "required (PEM certificates)")
		return false
	}
	rest := []byte(pemText)
	n, ok := 0, true
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			p.Add(path, "PEM block %d is %q, want CERTIFICATE", n, block.Type)
			ok = false
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			p.Add(path, "certificate %d does not parse: %v", n, err)
			ok = false
		}
	}
	switch {
	case n == 0:
		p.Add(path, "no PEM certificate found")
		return false
	case strings.TrimSpace(string(rest)) != "":
		p.Add(path, "unexpected text after the last PEM block")
		return false
	}
	return ok
}

// validatePrivateKey checks that pemText is one PEM private key in a form
// Envoy (BoringSSL) reads: PKCS#1, PKCS#8 or SEC 1 (EC).
func validatePrivateKey(p *Problems, path, pemText string) bool {
	block, rest := pem.Decode([]byte(pemText))
	if block == nil {
		p.Add(path, "no PEM private key found")
		return false
	}
	if strings.TrimSpace(string(rest)) != "" {
		p.Add(path, "must hold exactly one PEM block")
		return false
	}
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		_, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		p.Add(path, "PEM block is %q, want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", block.Type)
		return false
	}
	if err != nil {
		p.Add(path, "private key does not parse: %v", err)
		return false
	}
	return true
}

// keyPairProblem shortens crypto/tls's messages, which start with "tls: ".
func keyPairProblem(err error) string {
	return strings.TrimPrefix(err.Error(), "tls: ")
}

// secretRef checks one reference to a secret: it must exist and hold what
// the referrer needs.
func secretRef(p *Problems, path, name string, secrets map[string]*Secret, needTLS bool) {
	if name == "" {
		return
	}
	s, ok := secrets[name]
	switch {
	case !ok:
		p.Add(path, "unknown secret %q", name)
	case needTLS && s.TLS == nil:
		p.Add(path, "secret %q has no tls certificate and key", name)
	case !needTLS && s.CA == "":
		p.Add(path, "secret %q has no ca certificates", name)
	}
}

// SecretNames returns the names of the secrets g's listeners and ups' TLS
// settings use, without duplicates, in order of first use.
func SecretNames(g *Gateway, ups []Upstream) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if g != nil {
		for _, l := range g.Listeners {
			if l.TLS != nil {
				for _, c := range l.TLS.Certificates {
					add(c.Secret)
				}
			}
		}
	}
	for _, u := range ups {
		if u.TLS != nil {
			add(u.TLS.CASecret)
		}
	}
	return out
}

// ObjectSecretNames is SecretNames for one object: the secrets a gateway or
// an upstream uses; nil for any other kind.
func ObjectSecretNames(obj Object) []string {
	switch o := obj.(type) {
	case *Gateway:
		return SecretNames(o, nil)
	case *Upstream:
		return SecretNames(nil, []Upstream{*o})
	}
	return nil
}
