package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/seal"
	"github.com/routedeck/routedeck/backend/store"
)

// OpenCA opens the data directory's CA, its key sealed with the master key
// (from getenv's ROUTEDECK_MASTER_KEY or the key file; nil getenv means the
// process environment), creating both on first use.
func OpenCA(dataDir string, getenv func(string) string) (*pki.Authority, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	keys, err := seal.Open(dataDir, getenv)
	if err != nil {
		return nil, fmt.Errorf("open CA: %w", err)
	}
	a, err := pki.Open(dataDir, keys, pki.Options{})
	if err != nil {
		return nil, fmt.Errorf("open CA in %s: %w", dataDir, err)
	}
	return a, nil
}

// CheckPlaintextADS refuses plaintext ADS on an address other proxies can
// reach: without TLS anyone who can connect reads every gateway's
// configuration, private keys included. allowRemote overrides it.
func CheckPlaintextADS(listen string, allowRemote bool) error {
	if allowRemote {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--ads-listen %q: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--ads-insecure-plaintext on %s: plaintext ADS is for loopback development only (anyone who reaches it reads every gateway's configuration and keys); listen on 127.0.0.1, or add --ads-insecure-allow-remote", listen)
}

// Certs issues gateway certificates and rotates the CA for the API,
// recording both in the audit log.
type Certs struct {
	CA    *pki.Authority
	Store *store.Store
}

// IssueGateway issues a client certificate for gateway's proxies.
func (c *Certs) IssueGateway(ctx context.Context, actor, gateway string, lifetime time.Duration) (*pki.Issued, error) {
	is, err := c.CA.IssueGateway(gateway, lifetime)
	if err != nil {
		return nil, err
	}
	if err := c.Store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "certs.issue", Target: "gateway/" + gateway,
		Detail: "ADS client certificate valid until " + is.NotAfter.UTC().Format(time.RFC3339)}); err != nil {
		return nil, err
	}
	return is, nil
}

// IssueServer issues an ADS server certificate for an xDS replica known
// to proxies by names.
func (c *Certs) IssueServer(ctx context.Context, actor string, names []string, lifetime time.Duration) (*pki.Issued, error) {
	is, err := c.CA.IssueServer(names, lifetime)
	if err != nil {
		return nil, err
	}
	if err := c.Store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "certs.issue", Target: "ads-server",
		Detail: fmt.Sprintf("ADS server certificate for %v valid until %s", names, is.NotAfter.UTC().Format(time.RFC3339))}); err != nil {
		return nil, err
	}
	return is, nil
}

// RotateCA adds a new CA; the previous ones stay trusted for overlap.
func (c *Certs) RotateCA(ctx context.Context, actor string, overlap time.Duration) (pki.CAInfo, error) {
	info, err := c.CA.RotateCA(overlap)
	if err != nil {
		return pki.CAInfo{}, err
	}
	if err := c.Store.Audit(ctx, store.AuditEntry{Actor: actor, Action: "certs.rotate-ca", Target: "ca/" + info.Serial,
		Detail: "new CA issues from now on; the previous ones stay trusted until their overlap ends"}); err != nil {
		return pki.CAInfo{}, err
	}
	return info, nil
}

// CAs lists the trusted CAs.
func (c *Certs) CAs(context.Context) ([]pki.CAInfo, error) { return c.CA.CAs() }
