package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// DeliveryOptions bound how hard a notification is tried. Zero fields
// take the defaults.
type DeliveryOptions struct {
	// Attempts is how many times one notification is tried (default 5).
	Attempts int
	// Backoff is the wait after the first failure, doubled after each
	// later one up to MaxBackoff (defaults 1s and 30s): five attempts
	// take at most about 15 seconds of waiting plus their timeouts.
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one attempt: connecting, sending, the answer
	// (default 10s).
	Timeout time.Duration
	// RootCAs verify SMTP servers' STARTTLS certificates and HTTPS
	// webhooks; nil uses the system's.
	RootCAs *x509.CertPool
}

func (o DeliveryOptions) withDefaults() DeliveryOptions {
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return o
}

// permanent marks a failure that trying again cannot fix (a 4xx from a
// webhook, a 5xx reply from an SMTP server).
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// sender delivers one rendered notice to one notifier.
type sender struct {
	opts        DeliveryOptions
	client      *http.Client
	externalURL string
	now         func() time.Time
}

func newSender(opts DeliveryOptions, externalURL string, now func() time.Time) *sender {
	opts = opts.withDefaults()
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       time.Minute,
	}
	return &sender{opts: opts, externalURL: externalURL, now: now, client: &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		// A redirect would carry the Authorization header to wherever
		// the receiver points; the receiver's URL is the one configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// deliver tries n at most Attempts times with exponential backoff, and
// reports the outcome. ctx ends it early (the server stops).
func (s *sender) deliver(ctx context.Context, to *Notifier, n *notice) Delivery {
	d := Delivery{Notifier: to.Name, Event: n.event}
	wait := s.opts.Backoff
	var err error
	for d.Attempts < s.opts.Attempts {
		d.Attempts++
		err = s.once(ctx, to, n)
		if err == nil || errors.As(err, new(permanent)) || d.Attempts == s.opts.Attempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			err = fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		wait = min(2*wait, s.opts.MaxBackoff)
	}
	d.At = s.now()
	d.OK = err == nil
	if err != nil {
		d.Error = scrub(err.Error(), to.Secrets())
	}
	return d
}

func (s *sender) once(ctx context.Context, to *Notifier, n *notice) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	switch {
	case to.Webhook != nil:
		return s.webhook(ctx, to.Name, to.Webhook, n)
	case to.Email != nil:
		return s.email(ctx, to.Email, n)
	}
	return permanent{fmt.Errorf("notifier %s has no %s settings", to.Name, to.Type)}
}

func (s *sender) webhook(ctx context.Context, receiver string, w *Webhook, n *notice) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(webhookBody(n, receiver, s.externalURL)))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "routedeck-alerts")
	if w.Authorization != "" {
		req.Header.Set("Authorization", w.Authorization)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The URL may hold a token in its query: the error names the
		// host only.
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) && uerr.Unwrap() != nil {
			err = uerr.Unwrap()
		}
		return fmt.Errorf("POST to %s: %v", req.URL.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("POST to %s: %s", req.URL.Host, resp.Status)
	}
	return permanent{fmt.Errorf("POST to %s: %s", req.URL.Host, resp.Status)}
}

// email sends n through e.Smarthost: STARTTLS when offered (required
// with RequireTLS), AUTH PLAIN when a username is set.
func (s *sender) email(ctx context.Context, e *Email, n *notice) error {
	host, _, _ := net.SplitHostPort(e.Smarthost)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.Smarthost)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", e.Smarthost, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Cancelling ctx (the server stopping) cuts the exchange short.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := c.Hello("routedeck"); err != nil {
		return smtpError("EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: s.opts.RootCAs, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpError("STARTTLS", err)
		}
	} else if e.RequireTLS {
		return permanent{fmt.Errorf("%s does not offer STARTTLS, which this notifier requires", e.Smarthost)}
	}
	if e.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent{fmt.Errorf("%s does not offer AUTH, and the notifier has credentials", e.Smarthost)}
		}
		// PlainAuth itself refuses to send the password in clear to a
		// server that is not on loopback.
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return smtpError("AUTH", err)
		}
	}
	if err := c.Mail(e.From); err != nil {
		return smtpError("MAIL FROM", err)
	}
	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return smtpError("RCPT TO "+to, err)
		}
	}
	wc, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := wc.Write(emailMessage(n, e, s.externalURL, s.now())); err != nil {
		return smtpError("DATA", err)
	}
	if err := wc.Close(); err != nil {
		return smtpError("DATA", err)
	}
	return c.Quit()
}

// smtpError says which step failed; a 5xx reply is permanent (the
// server refuses the message as it is), anything else may pass later.
func smtpError(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent{fmt.Errorf("SMTP %s: %d %s", step, te.Code, te.Msg)}
	}
	if err != nil && strings.Contains(err.Error(), "unencrypted connection") {
		return permanent{fmt.Errorf("SMTP %s: the server offers no TLS, and credentials are only sent over TLS", step)}
	}
	return fmt.Errorf("SMTP %s: %w", step, err)
}

// scrub keeps a notifier's credentials out of an error message that is
// stored, shown and logged: a server may echo what it was sent, and Go's
// errors quote the URL they failed on. The webhook URL goes whole and by
// its parts that carry tokens (path, query), raw and decoded.
func scrub(msg string, s Secrets) string {
	secrets := []string{s.URL, s.Authorization, s.Password}
	if u, err := url.Parse(s.URL); err == nil {
		secrets = append(secrets, u.EscapedPath(), u.Path, u.RawQuery)
	}
	for _, v := range secrets {
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "[redacted]")
		}
	}
	return msg
}
