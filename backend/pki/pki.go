// Package pki is routedeck's own certificate authority, one per data
// directory. It issues the client certificates gateways' Envoys present to
// the ADS server (a URI SAN names the gateway) and the ADS server's own
// certificate, and rotates: a new CA can be added while the old one is still
// trusted, so proxies holding certificates of either keep connecting.
//
// The CA keys are stored sealed (see Sealer): whoever reads the data
// directory without the master key cannot issue certificates.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/atomicfile"
	"github.com/routedeck/routedeck/backend/model"
)

// Sealer encrypts the CA private keys at rest; the data directory's keyring
// implements it.
type Sealer interface {
	Seal(plaintext []byte) (string, error)
	Unseal(sealed string) ([]byte, error)
}

// Lifetimes.
const (
	// DefaultLifetime is how long an issued gateway certificate is valid.
	DefaultLifetime = 90 * 24 * time.Hour
	// MaxLifetime bounds --days: a stolen certificate must expire.
	MaxLifetime = 825 * 24 * time.Hour
	// CALifetime is how long a CA certificate is valid. Rotation, not
	// expiry, is how a CA is normally replaced.
	CALifetime = 10 * 365 * 24 * time.Hour
	// DefaultOverlap is how long the previous CAs stay trusted after a
	// rotation: long enough for every certificate they issued with the
	// default lifetime to be replaced.
	DefaultOverlap = DefaultLifetime
	// clockSkew backdates certificates so a proxy whose clock is a little
	// behind does not refuse them as not yet valid.
	clockSkew = 5 * time.Minute
)

// File is where the CAs live, relative to the data directory.
const File = "pki/ca.json"

// Authority is the CA set of one data directory. It re-reads the file when
// another process (an offline `certs rotate-ca`) changed it, so a running
// server picks up a rotation without a restart. Safe for concurrent use.
type Authority struct {
	path   string
	sealer Sealer
	now    func() time.Time

	mu    sync.Mutex
	stamp fileStamp
	cas   []*ca // oldest first; the last one issues
	gen   uint64
}

type ca struct {
	cert         *x509.Certificate
	certPEM      []byte
	key          crypto.Signer
	trustedUntil time.Time
}

// caRecord is one CA as stored: its key sealed, and until when it is
// trusted (its expiry, or the end of the overlap after a rotation).
type caRecord struct {
	Cert         string    `json:"cert"`
	Key          string    `json:"key"`
	TrustedUntil time.Time `json:"trustedUntil"`
}

type caFile struct {
	CAs []caRecord `json:"cas"`
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Options tune Open; the zero value is what the server uses.
type Options struct {
	// Now is the clock; time.Now if nil. Tests move it to expire things.
	Now func() time.Time
}

// Open loads the CAs of dataDir, creating the first one if there is none.
func Open(dataDir string, sealer Sealer, opts Options) (*Authority, error) {
	if sealer == nil {
		return nil, errors.New("open CA: no sealer for the CA key")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	a := &Authority{path: filepath.Join(dataDir, File), sealer: sealer, now: now}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refreshLocked(); err != nil {
		return nil, err
	}
	if len(a.cas) == 0 {
		if err := a.addCALocked(0); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// refreshLocked re-reads the file if it changed since the last read.
func (a *Authority) refreshLocked() error {
	fi, err := os.Stat(a.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if st == a.stamp && a.cas != nil {
		return nil
	}
	raw, err := os.ReadFile(a.path)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	var f caFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("read CA %s: %w", a.path, err)
	}
	cas := make([]*ca, 0, len(f.CAs))
	for i, r := range f.CAs {
		c, err := a.parseRecord(r)
		if err != nil {
			return fmt.Errorf("read CA %s: cas[%d]: %w", a.path, i, err)
		}
		cas = append(cas, c)
	}
	a.cas, a.stamp = cas, st
	a.gen++
	return nil
}

func (a *Authority) parseRecord(r caRecord) (*ca, error) {
	block, _ := pem.Decode([]byte(r.Cert))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	der, err := a.sealer.Unseal(r.Key)
	if err != nil {
		return nil, fmt.Errorf("unseal key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", k)
	}
	return &ca{cert: cert, certPEM: []byte(r.Cert), key: signer, trustedUntil: r.TrustedUntil}, nil
}

// addCALocked creates a CA that issues from now on; earlier CAs stay
// trusted for overlap at most (0: until they expire).
func (a *Authority) addCALocked(overlap time.Duration) error {
	now := a.now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("create CA key: %w", err)
	}
	sn := serial()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{"routedeck"}, CommonName: "routedeck CA " + now.UTC().Format("2006-01-02T15:04:05Z") + " " + sn.Text(16)[:8]},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Leaves only: a stolen gateway certificate cannot act as a CA,
		// and this CA cannot create intermediates.
		MaxPathLenZero: true,
		// Only SPIFFE IDs of this trust domain and the server's names
		// are issued; constraining URIs would lock out ADS host names
		// chosen later, so the check is in Authorize instead.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	next := &ca{cert: cert, certPEM: pemCert(der), key: key, trustedUntil: cert.NotAfter}
	cas := make([]*ca, 0, len(a.cas)+1)
	for _, old := range a.cas {
		if overlap > 0 {
			c := *old
			c.trustedUntil = minTime(c.trustedUntil, now.Add(overlap))
			old = &c
		}
		if old.trustedUntil.After(now) {
			cas = append(cas, old)
		}
	}
	cas = append(cas, next)
	return a.writeLocked(cas)
}

// writeLocked stores cas, every key sealed afresh, and makes them current.
func (a *Authority) writeLocked(cas []*ca) error {
	f := caFile{}
	for _, c := range cas {
		kd, err := x509.MarshalPKCS8PrivateKey(c.key)
		if err != nil {
			return fmt.Errorf("encode CA key: %w", err)
		}
		sealed, err := a.sealer.Seal(kd)
		if err != nil {
			return fmt.Errorf("seal CA key: %w", err)
		}
		f.CAs = append(f.CAs, caRecord{Cert: string(c.certPEM), Key: sealed, TrustedUntil: c.trustedUntil.UTC()})
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode CA: %w", err)
	}
	if err := atomicfile.Write(a.path, raw, 0o600); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("write CA: %w", err)
	}
	a.cas, a.stamp = cas, fileStamp{mod: fi.ModTime(), size: fi.Size()}
	a.gen++
	return nil
}

// RotateCA adds a new CA, which issues every certificate from now on. The
// previous CAs stay trusted for overlap (DefaultOverlap if 0) or until they
// expire, whichever is sooner, so proxies holding their certificates keep
// working until they get new ones.
func (a *Authority) RotateCA(overlap time.Duration) (CAInfo, error) {
	if overlap <= 0 {
		overlap = DefaultOverlap
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refreshLocked(); err != nil {
		return CAInfo{}, err
	}
	if err := a.addCALocked(overlap); err != nil {
		return CAInfo{}, err
	}
	return info(a.cas[len(a.cas)-1], true), nil
}

// Reseal writes the CA keys again sealed with the sealer the Authority was
// opened with, for a master key rotation: open with the new keyring (which
// still unseals with the previous key), then Reseal.
func (a *Authority) Reseal() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refreshLocked(); err != nil {
		return err
	}
	return a.writeLocked(a.cas)
}

// CAInfo describes one CA for listings.
type CAInfo struct {
	Subject      string    `json:"subject"`
	Serial       string    `json:"serial"`
	NotBefore    time.Time `json:"notBefore"`
	NotAfter     time.Time `json:"notAfter"`
	TrustedUntil time.Time `json:"trustedUntil"`
	// Active is the CA that issues new certificates.
	Active bool `json:"active"`
}

func info(c *ca, active bool) CAInfo {
	return CAInfo{Subject: c.cert.Subject.CommonName, Serial: c.cert.SerialNumber.Text(16),
		NotBefore: c.cert.NotBefore, NotAfter: c.cert.NotAfter, TrustedUntil: c.trustedUntil, Active: active}
}

// CAs lists the trusted CAs, oldest first.
func (a *Authority) CAs() ([]CAInfo, error) {
	trusted, _, err := a.current()
	if err != nil {
		return nil, err
	}
	out := make([]CAInfo, len(trusted))
	for i, c := range trusted {
		out[i] = info(c, i == len(trusted)-1)
	}
	return out, nil
}

// current returns the trusted CAs (oldest first, the issuing one last) and
// a generation that changes whenever they do.
func (a *Authority) current() ([]*ca, uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.refreshLocked(); err != nil {
		return nil, 0, err
	}
	now := a.now()
	trusted := make([]*ca, 0, len(a.cas))
	for _, c := range a.cas {
		if c.trustedUntil.After(now) && c.cert.NotAfter.After(now) {
			trusted = append(trusted, c)
		}
	}
	if len(trusted) == 0 {
		return nil, 0, errors.New("no trusted CA left: every CA expired; run `routedeck certs rotate-ca`")
	}
	return trusted, a.gen, nil
}

// BundlePEM is the trust bundle: every trusted CA certificate, the form
// proxies keep as ca.crt.
func (a *Authority) BundlePEM() ([]byte, error) {
	trusted, _, err := a.current()
	if err != nil {
		return nil, err
	}
	return bundlePEM(trusted), nil
}

func bundlePEM(cas []*ca) []byte {
	var out []byte
	for _, c := range cas {
		out = append(out, c.certPEM...)
	}
	return out
}

// Issued is a certificate with its key and the trust bundle, PEM encoded,
// as a proxy needs them.
type Issued struct {
	CertPEM  []byte
	KeyPEM   []byte
	CAPEM    []byte
	NotAfter time.Time
	// Identity is the URI SAN the certificate carries.
	Identity string
}

// IssueGateway issues a client certificate for the proxies of gateway,
// valid for lifetime (DefaultLifetime if 0; never past the CA's expiry).
func (a *Authority) IssueGateway(gateway string, lifetime time.Duration) (*Issued, error) {
	if err := CheckGatewayName(gateway); err != nil {
		return nil, err
	}
	switch {
	case lifetime == 0:
		lifetime = DefaultLifetime
	case lifetime < 0 || lifetime > MaxLifetime:
		return nil, model.Errorf(model.EINVALID, "certificate lifetime %s is not between 0 and %d days", lifetime, MaxLifetime/(24*time.Hour))
	}
	trusted, _, err := a.current()
	if err != nil {
		return nil, err
	}
	id := GatewayID(gateway)
	leaf, err := issueLeaf(trusted[len(trusted)-1], a.now(), lifetime, leafSpec{
		commonName: gateway, uris: []string{id}, usage: x509.ExtKeyUsageClientAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("issue certificate for gateway %q: %w", gateway, err)
	}
	leaf.CAPEM = bundlePEM(trusted)
	leaf.Identity = id
	return leaf, nil
}

type leafSpec struct {
	commonName string
	uris       []string
	dnsNames   []string
	ips        []string
	usage      x509.ExtKeyUsage
}

func issueLeaf(issuer *ca, now time.Time, lifetime time.Duration, spec leafSpec) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(lifetime)
	if notAfter.After(issuer.cert.NotAfter) {
		notAfter = issuer.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"routedeck"}, CommonName: spec.commonName},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{spec.usage},
		DNSNames:     spec.dnsNames,
	}
	for _, u := range spec.uris {
		parsed, err := parseURI(u)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	for _, ip := range spec.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, parseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.cert, key.Public(), issuer.key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{
		CertPEM:  pemCert(der),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		NotAfter: notAfter,
	}, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// serial is a random 128-bit serial number, as RFC 5280 asks (positive,
// unpredictable).
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("pki: no randomness: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// CheckGatewayName accepts what a gateway may be named: lowercase letters,
// digits, '-' and '.', as the model requires. Anything else (a '/', above
// all) could make an identity that names a sandbox.
func CheckGatewayName(name string) error {
	if name == "" || len(name) > 253 {
		return model.Errorf(model.EINVALID, "gateway name %q: want 1-253 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return model.Errorf(model.EINVALID, "gateway name %q: use lowercase letters, digits, '-' and '.'", name)
		}
	}
	if !slices.Contains([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), name[0]) ||
		!slices.Contains([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), name[len(name)-1]) {
		return model.Errorf(model.EINVALID, "gateway name %q: must start and end with a letter or digit", name)
	}
	return nil
}
