package traffic

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// Response headers an outcome is read from. HeaderUpstream is what the
// sandbox's mock upstreams answer with; Envoy adds the attempt count when a
// route asks it to (include_attempt_count_in_response).
const (
	HeaderUpstream     = upstream.HeaderUpstream
	headerAttemptCount = "x-envoy-attempt-count"
)

// HTTPSender sends requests to a gateway listener on a loopback address
// (the sandbox's simulated Envoy, or a real Envoy the sandbox runs) and
// reads the outcome from the response.
type HTTPSender struct {
	addr   string
	client *http.Client
}

// NewHTTPSender returns a sender to the listener at addr (host:port),
// which must be a loopback address: simulations never leave the machine.
func NewHTTPSender(addr string) (*HTTPSender, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listener address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("listener address %q is not a loopback IP address: simulations only send to this machine", addr)
	}
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy from the environment
		MaxIdleConnsPerHost: MaxConcurrency,
		DialContext:         (&net.Dialer{}).DialContext,
	}
	return &HTTPSender{addr: addr, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Close releases idle connections.
func (s *HTTPSender) Close() { s.client.CloseIdleConnections() }

// Send implements Sender.
func (s *HTTPSender) Send(ctx context.Context, _ string, req rules.Request) (Outcome, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host, target := splitTarget(req.URL)
	hreq, err := http.NewRequestWithContext(ctx, method, "http://"+s.addr+target, strings.NewReader(req.Body))
	if err != nil {
		return Outcome{}, fmt.Errorf("build request: %w", err)
	}
	hreq.Host = host
	for name, vals := range req.Headers {
		if strings.EqualFold(name, "host") || name == ":authority" {
			if len(vals) > 0 {
				hreq.Host = vals[0]
			}
			continue
		}
		for _, v := range vals {
			hreq.Header.Add(name, v)
		}
	}
	if hreq.Host == "" {
		hreq.Host = "localhost"
	}
	resp, err := s.client.Do(hreq)
	if err != nil {
		return Outcome{}, err
	}
	defer resp.Body.Close()
	// Read the body so the connection is reused; its content is not needed.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	out := Outcome{Status: resp.StatusCode, Upstream: resp.Header.Get(HeaderUpstream), RateLimited: resp.StatusCode == http.StatusTooManyRequests}
	if n, err := strconv.Atoi(resp.Header.Get(headerAttemptCount)); err == nil && n > 1 {
		out.Retries = n - 1
	}
	return out, nil
}

// splitTarget splits an absolute URL into host and request target; a bare
// target has no host.
func splitTarget(raw string) (host, target string) {
	if i := strings.Index(raw, "://"); i > 0 {
		rest := raw[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			return rest, "/"
		}
		host, target = rest[:end], rest[end:]
	} else {
		target = raw
	}
	if j := strings.IndexByte(target, '#'); j >= 0 {
		target = target[:j]
	}
	if target == "" || target[0] != '/' {
		target = "/" + target
	}
	return host, target
}
