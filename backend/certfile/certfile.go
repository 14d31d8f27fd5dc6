// Package certfile serves a TLS certificate and key kept in files, picking
// up new files without a restart: an operator (or cert-manager, or a cron
// job) replaces the files and the next handshakes use them.
package certfile

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Pair is a certificate chain and private key read from two PEM files.
// Its GetCertificate goes into tls.Config; it rereads the files at most
// once per Interval, on a handshake, so an idle server does no work.
//
// A rotation rarely writes both files at the same instant; while they do
// not match, or while a file is unreadable, the pair keeps serving the
// certificate it last loaded and logs the problem once.
type Pair struct {
	CertFile, KeyFile string
	// Interval is the least time between two looks at the files; 0 looks
	// on every handshake (tests).
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	certPEM   []byte
	keyPEM    []byte
	checked   time.Time
	lastError string
}

// Load reads certFile and keyFile, failing when they do not hold a
// matching pair, and returns a Pair that looks at them again at most once
// a second.
func Load(certFile, keyFile string, log *slog.Logger) (*Pair, error) {
	p := &Pair{CertFile: certFile, KeyFile: keyFile, Interval: time.Second, Logger: log}
	if err := p.reload(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Pair) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// GetCertificate returns the current certificate, reloading it first if
// the files changed.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := p.now(); p.cert == nil || now.Sub(p.checked) >= p.Interval {
		p.checked = now
		if err := p.reloadLocked(); err != nil && p.cert == nil {
			return nil, err
		}
	}
	return p.cert, nil
}

// Leaf is the certificate being served (for logs and tests).
func (p *Pair) Leaf() *tls.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cert
}

func (p *Pair) reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reloadLocked()
}

// reloadLocked reads both files and, if either changed, parses them. The
// contents are compared rather than modification times, which a copy may
// keep and a coarse file system may not tell apart.
func (p *Pair) reloadLocked() error {
	certPEM, err := os.ReadFile(p.CertFile)
	if err != nil {
		return p.failed(fmt.Errorf("read TLS certificate: %w", err))
	}
	keyPEM, err := os.ReadFile(p.KeyFile)
	if err != nil {
		return p.failed(fmt.Errorf("read TLS key: %w", err))
	}
	if p.cert != nil && bytes.Equal(certPEM, p.certPEM) && bytes.Equal(keyPEM, p.keyPEM) {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return p.failed(fmt.Errorf("load TLS certificate %s and key %s: %w", p.CertFile, p.KeyFile, err))
	}
	first := p.cert == nil
	p.cert, p.certPEM, p.keyPEM, p.lastError = &cert, certPEM, keyPEM, ""
	if !first && p.Logger != nil {
		p.Logger.Info("reloaded TLS certificate", "cert_file", p.CertFile, "not_after", cert.Leaf.NotAfter)
	}
	return nil
}

// failed logs err once per distinct problem when a certificate is still
// being served, and returns it.
func (p *Pair) failed(err error) error {
	if p.cert != nil && err.Error() != p.lastError && p.Logger != nil {
		p.Logger.Warn("keeping the current TLS certificate", "err", err)
	}
	p.lastError = err.Error()
	return err
}
