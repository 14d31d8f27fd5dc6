package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// DNS resolves an upstream's host name periodically. Envoy resolves DNS
// upstreams itself (STRICT_DNS), so these endpoints are for display: the
// manager leaves DNS upstreams out of Routable.
type DNS struct {
	// Resolver is net.DefaultResolver when nil.
	Resolver *net.Resolver
	// Interval between lookups; zero means 30s. After a failed lookup the
	// next one comes after RetryInterval (zero: 2s).
	Interval, RetryInterval time.Duration
}

// Watch implements Source.
func (d DNS) Watch(ctx context.Context, up model.Upstream, report func(Update)) error {
	if up.DNS == nil || up.DNS.Host == "" || up.DNS.Port <= 0 {
		return fmt.Errorf("upstream %q: dns source needs host and port", up.Name)
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	interval, retry := d.Interval, d.RetryInterval
	if interval <= 0 {
		interval = 30 * time.Second
	}
	if retry <= 0 {
		retry = 2 * time.Second
	}
	for {
		wait := interval
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := r.LookupHost(lctx, up.DNS.Host)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var dnsErr *net.DNSError
		switch {
		case err == nil:
			eps := make([]Endpoint, 0, len(addrs))
			for _, a := range addrs {
				eps = append(eps, Endpoint{Address: a, Port: up.DNS.Port, Weight: 1, Healthy: true, Health: HealthUnknown, Source: SourceDNS})
			}
			SortEndpoints(eps)
			report(Update{Endpoints: eps})
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			// The name does not exist: an answer, not an outage.
			report(Update{Err: fmt.Errorf("resolve %s: %w", up.DNS.Host, err)})
		default:
			report(Update{Stale: true, Err: fmt.Errorf("resolve %s: %w", up.DNS.Host, err)})
			wait = retry
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
