package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/certfile"
	"github.com/routedeck/routedeck/backend/model"
)

// IssueServer issues an ADS server certificate (ServerID, server auth)
// for the host names and addresses in names, valid for lifetime
// (DefaultLifetime if 0). An xDS replica serves ADS with it: the replica
// holds this certificate and the trust bundle, never a CA key.
func (a *Authority) IssueServer(names []string, lifetime time.Duration) (*Issued, error) {
	switch {
	case len(names) == 0:
		return nil, model.Errorf(model.EINVALID, "an ADS server certificate needs at least one host name or address")
	case lifetime == 0:
		lifetime = DefaultLifetime
	case lifetime < 0 || lifetime > MaxLifetime:
		return nil, model.Errorf(model.EINVALID, "certificate lifetime %s is not between 0 and %d days", lifetime, MaxLifetime/(24*time.Hour))
	}
	var dns, ips []string
	for _, n := range names {
		if parseIP(n) != nil {
			ips = append(ips, n)
		} else if n != "" {
			dns = append(dns, n)
		}
	}
	trusted, _, err := a.current()
	if err != nil {
		return nil, err
	}
	leaf, err := issueLeaf(trusted[len(trusted)-1], a.now(), lifetime, leafSpec{
		commonName: "routedeck ADS", uris: []string{ServerID}, dnsNames: dns, ips: ips, usage: x509.ExtKeyUsageServerAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("issue ADS server certificate: %w", err)
	}
	leaf.CAPEM = bundlePEM(trusted)
	leaf.Identity = ServerID
	return leaf, nil
}

// FileGuard is the ADS side of mutual TLS for a server that holds no CA
// key, an xDS replica: its certificate, its key and the trust bundle are
// files (as `routedeck certs issue --ads-server` writes them), read again
// when they change, so a re-issued certificate or a rotated CA (a new
// ca.crt) is taken up without a restart, as the writer's Guard does.
// Gateway identities are checked as the writer checks them; sandbox
// identities are never let in.
type FileGuard struct {
	pair   *certfile.Pair
	caFile string
	now    func() time.Time

	mu      sync.Mutex
	caPEM   []byte
	roots   []*x509.Certificate
	checked time.Time
}

// NewFileGuard reads certFile, keyFile and caFile and fails when they do
// not make a usable server: a matching pair carrying ServerID, issued by
// a CA of the bundle.
func NewFileGuard(certFile, keyFile, caFile string, log *slog.Logger) (*FileGuard, error) {
	pair, err := certfile.Load(certFile, keyFile, log)
	if err != nil {
		return nil, err
	}
	g := &FileGuard{pair: pair, caFile: caFile, now: time.Now}
	roots, err := g.trusted()
	if err != nil {
		return nil, err
	}
	leaf := pair.Leaf().Leaf
	hasID := false
	for _, u := range leaf.URIs {
		hasID = hasID || u.String() == ServerID
	}
	if !hasID {
		return nil, fmt.Errorf("%s: not an ADS server certificate (it does not carry %s); issue one with routedeck certs issue --ads-server", certFile, ServerID)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("%s is not vouched for by %s: %w", certFile, caFile, err)
	}
	return g, nil
}

// trusted returns the CAs of the bundle file, read again at most once a
// second; while the file is unreadable or empty the last good bundle
// stays.
func (g *FileGuard) trusted() ([]*x509.Certificate, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.roots != nil && now.Sub(g.checked) < time.Second {
		return g.roots, nil
	}
	g.checked = now
	data, err := os.ReadFile(g.caFile)
	if err == nil && bytes.Equal(data, g.caPEM) {
		return g.roots, nil
	}
	var roots []*x509.Certificate
	if err == nil {
		roots, err = parseBundle(data)
	}
	if err != nil {
		if g.roots != nil {
			return g.roots, nil
		}
		return nil, fmt.Errorf("ADS trust bundle %s: %w", g.caFile, err)
	}
	g.caPEM, g.roots = data, roots
	return roots, nil
}

func parseBundle(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		if !c.IsCA {
			return nil, fmt.Errorf("certificate %q is not a CA", c.Subject.CommonName)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no CA certificate in it")
	}
	return out, nil
}

// TLSConfig is the server configuration to hand to gRPC: every handshake
// gets the current certificate and trust bundle.
func (g *FileGuard) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			roots, err := g.trusted()
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			for _, r := range roots {
				pool.AddCert(r)
			}
			return &tls.Config{
				MinVersion:     tls.VersionTLS12,
				ClientAuth:     tls.RequireAndVerifyClientCert,
				ClientCAs:      pool,
				GetCertificate: g.pair.GetCertificate,
				NextProtos:     []string{"h2"},
			}, nil
		},
	}
}

// Authorize is Guard.Authorize for the bundle: the peer's certificate
// names cluster as its gateway, chains to a CA of the current bundle and
// has not expired since the handshake.
func (g *FileGuard) Authorize(state *tls.ConnectionState, cluster string) error {
	if state == nil || len(state.VerifiedChains) == 0 {
		return errors.New("no verified client certificate")
	}
	roots, err := g.trusted()
	if err != nil {
		return err
	}
	now := g.now()
	var problem error
	for _, chain := range state.VerifiedChains {
		leaf, root := chain[0], chain[len(chain)-1]
		id, err := identityOf(leaf)
		switch {
		case err != nil:
			problem = err
		case id.Sandbox:
			problem = fmt.Errorf("a sandbox identity (%q) is never served by a replica", id.Cluster)
		case now.After(leaf.NotAfter):
			problem = fmt.Errorf("certificate for %q expired at %s", id.Cluster, leaf.NotAfter.UTC().Format(time.RFC3339))
		case !inBundle(root, roots):
			problem = fmt.Errorf("certificate for %q is not from a CA trusted now", id.Cluster)
		case id.Cluster != cluster:
			problem = fmt.Errorf("certificate is for %q, not %q", id.Cluster, cluster)
		default:
			return nil
		}
	}
	return problem
}

func inBundle(root *x509.Certificate, roots []*x509.Certificate) bool {
	for _, r := range roots {
		if bytes.Equal(root.Raw, r.Raw) {
			return true
		}
	}
	return false
}
