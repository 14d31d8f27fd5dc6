package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// Guard is the ADS server's side of mutual TLS: the server's TLS
// configuration, rebuilt from the Authority's current CAs on every
// handshake, and the check that a stream asks only for its certificate's
// gateway. Nothing needs a restart: a rotated CA or a re-issued gateway
// certificate is accepted on the next connection.
type Guard struct {
	a       *Authority
	sandbox *SandboxCA
	names   []string

	mu      sync.Mutex
	cas     []*ca // what cfg was built from
	renewAt time.Time
	cfg     *tls.Config
}

// NewGuard returns the guard of an ADS server known to proxies by names
// (host names and IP addresses, for its certificate's SANs). sandbox may be
// nil; with it, the sandbox's data planes are let in for their own keys.
func NewGuard(a *Authority, sandbox *SandboxCA, names []string) *Guard {
	return &Guard{a: a, sandbox: sandbox, names: names}
}

// ServerNames are the SANs of the ADS server certificate for listen address
// host plus extra names: the host itself unless it is a wildcard (then the
// machine's host name), always the loopback names, which is how the
// sandbox and a local Envoy reach it.
func ServerNames(listenHost string, extra []string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	ip := net.ParseIP(listenHost)
	switch {
	case listenHost == "" || ip != nil && ip.IsUnspecified():
		if h, err := osHostname(); err == nil && h != "" {
			names = append(names, h)
		}
	default:
		names = append(names, listenHost)
	}
	names = append(names, extra...)
	slices.Sort(names)
	return slices.Compact(names)
}

// TLSConfig is the server configuration to hand to gRPC: every handshake
// gets the current certificate and client CAs.
func (g *Guard) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ClientAuth:         tls.RequireAndVerifyClientCert,
		NextProtos:         []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return g.config() },
	}
}

// Check builds the configuration once, so a server refuses to start with a
// CA it cannot use instead of failing every handshake.
func (g *Guard) Check() error {
	_, err := g.config()
	return err
}

func (g *Guard) config() (*tls.Config, error) {
	trusted, _, err := g.a.current()
	if err != nil {
		return nil, err
	}
	now := g.a.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cfg != nil && slices.Equal(g.cas, trusted) && now.Before(g.renewAt) {
		return g.cfg, nil
	}
	var dns, ips []string
	for _, n := range g.names {
		if net.ParseIP(n) != nil {
			ips = append(ips, n)
		} else {
			dns = append(dns, n)
		}
	}
	issuer := trusted[len(trusted)-1]
	leaf, err := issueLeaf(issuer, now, DefaultLifetime, leafSpec{
		commonName: "routedeck ADS", uris: []string{ServerID}, dnsNames: dns, ips: ips, usage: x509.ExtKeyUsageServerAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("issue ADS server certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("issue ADS server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range trusted {
		pool.AddCert(c.cert)
	}
	if g.sandbox != nil {
		pool.AddCert(g.sandbox.ca.cert)
	}
	g.cfg = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		Certificates: []tls.Certificate{cert},
		// gRPC requires HTTP/2 by ALPN; this config replaces the one gRPC
		// prepared, so it must say so itself.
		NextProtos: []string{"h2"},
		Time:       g.a.now,
	}
	g.cas = trusted
	// Renewed well before expiry, and at once when the CAs change, so the
	// server never presents a certificate of a CA proxies stopped trusting.
	g.renewAt = now.Add(DefaultLifetime * 2 / 3)
	return g.cfg, nil
}

// Authorize reports whether the peer of a verified TLS connection may
// receive the configuration of node.cluster cluster: its certificate must
// name that gateway and come from a CA trusted now (a gateway identity
// from the data directory's CAs, a sandbox identity from the in-memory
// sandbox CA only), and must not have expired since the handshake.
func (g *Guard) Authorize(state *tls.ConnectionState, cluster string) error {
	if state == nil || len(state.VerifiedChains) == 0 {
		return errors.New("no verified client certificate")
	}
	trusted, _, err := g.a.current()
	if err != nil {
		return err
	}
	now := g.a.now()
	var problem error
	for _, chain := range state.VerifiedChains {
		leaf, root := chain[0], chain[len(chain)-1]
		id, err := identityOf(leaf)
		if err != nil {
			problem = err
			continue
		}
		if now.After(leaf.NotAfter) {
			problem = fmt.Errorf("certificate for %q expired at %s", id.Cluster, leaf.NotAfter.UTC().Format(time.RFC3339))
			continue
		}
		if !g.vouches(id, root, trusted) {
			problem = fmt.Errorf("certificate for %q is not from a CA trusted for it", id.Cluster)
			continue
		}
		if id.Cluster != cluster {
			problem = fmt.Errorf("certificate is for %q, not %q", id.Cluster, cluster)
			continue
		}
		return nil
	}
	return problem
}

func (g *Guard) vouches(id Identity, root *x509.Certificate, trusted []*ca) bool {
	if id.Sandbox {
		return g.sandbox != nil && bytes.Equal(root.Raw, g.sandbox.ca.cert.Raw)
	}
	for _, c := range trusted {
		if bytes.Equal(root.Raw, c.cert.Raw) {
			return true
		}
	}
	return false
}

// ClientTLS is the configuration of an in-process ADS client presenting
// cert: it accepts a server certificate from any CA trusted now that
// carries ServerID, whatever address it was dialled at (the sandbox dials
// the listen address, which may be a wildcard).
func (a *Authority) ClientTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// Verified in VerifyConnection against the current bundle and
		// the server's SPIFFE ID instead of a host name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return a.verifyServer(cs.PeerCertificates)
		},
	}
}

func (a *Authority) verifyServer(peer []*x509.Certificate) error {
	if len(peer) == 0 {
		return errors.New("ADS server sent no certificate")
	}
	trusted, _, err := a.current()
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	for _, c := range trusted {
		roots.AddCert(c.cert)
	}
	inter := x509.NewCertPool()
	for _, c := range peer[1:] {
		inter.AddCert(c)
	}
	if _, err := peer[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: a.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("ADS server certificate: %w", err)
	}
	for _, u := range peer[0].URIs {
		if u.String() == ServerID {
			return nil
		}
	}
	return fmt.Errorf("ADS server certificate does not carry %s", ServerID)
}

// SandboxCredentials give the sandbox's data planes their ADS identity:
// a certificate of the in-memory sandbox CA, trusting the server through
// the data directory's bundle.
type SandboxCredentials struct {
	CA        *SandboxCA
	Authority *Authority
}

// ClientTLS is the in-process (simulated Envoy) configuration for gateway's
// sandbox.
func (c *SandboxCredentials) ClientTLS(gateway string) (*tls.Config, error) {
	cert, err := c.CA.Certificate(gateway)
	if err != nil {
		return nil, err
	}
	return c.Authority.ClientTLS(cert), nil
}

// Files are the PEM files of a real Envoy for gateway's sandbox: its
// certificate and key, and the trust bundle for the server.
func (c *SandboxCredentials) Files(gateway string) (*Issued, error) {
	leaf, err := c.CA.Issue(gateway)
	if err != nil {
		return nil, err
	}
	if leaf.CAPEM, err = c.Authority.BundlePEM(); err != nil {
		return nil, err
	}
	return leaf, nil
}
