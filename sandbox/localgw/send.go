package localgw

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
)

// Request is a request to send through a local gateway.
type Request struct {
	Method string
	// Scheme is http or https: an https request goes to a TLS listener
	// when the gateway has one, an http one to a plain listener.
	Scheme string
	Host   string
	// Target is the path with the query.
	Target  string
	Headers map[string]string
}

// Sent is what became of one request.
type Sent struct {
	Listener string
	// Status is the response's status, 0 when none came (Error says why).
	Status int
	Error  string
}

// UserAgent marks the requests Send makes, so the request log tells them
// from real traffic.
const UserAgent = "routedeck-traffic"

const (
	// sendWorkers is how many requests are in flight at once.
	sendWorkers = 4
	// sendTimeout bounds one request, retries through the gateway
	// included.
	sendTimeout = 20 * time.Second
	// maxResponseBody is how much of a response is read before the
	// connection is given up.
	maxResponseBody = 1 << 20
)

// Send sends reqs through gateway's local gateway, over real connections
// to its listeners, a few at a time; outcomes come back in the order of
// reqs. Once ctx ends, the requests not sent yet fail with its error. It
// fails as a whole (ECONFLICT) only when the local gateway serves no
// listener.
func (m *Manager) Send(ctx context.Context, gateway string, reqs []Request) ([]Sent, error) {
	st, ok := m.Status(gateway)
	if !ok {
		return nil, model.Errorf(model.ECONFLICT, "no local gateway of %q runs: start it first", gateway)
	}
	if _, ok := st.For("http"); !ok {
		return nil, model.Errorf(model.ECONFLICT, "the local gateway of %q serves no listener yet: publish the gateway, then wait until it is ready", gateway)
	}
	c := &clients{byServerName: map[string]*http.Client{}}
	defer c.close()
	out := make([]Sent, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(sendWorkers, len(reqs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				l, _ := st.For(reqs[i].Scheme)
				out[i] = send(ctx, c, l, reqs[i])
			}
		}()
	}
	i := 0
feed:
	for ; i < len(reqs); i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for ; i < len(reqs); i++ {
		out[i] = Sent{Error: "not sent: " + ctx.Err().Error()}
	}
	return out, nil
}

func send(ctx context.Context, c *clients, l Listener, r Request) Sent {
	s := Sent{Listener: l.Name}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	target := r.Target
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	req, err := http.NewRequestWithContext(ctx, method, l.URL()+target, nil)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	req.Header.Set("User-Agent", UserAgent)
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	serverName := ""
	if r.Host != "" {
		req.Host = r.Host
		if l.TLS {
			serverName = hostOnly(r.Host)
		}
	}
	resp, err := c.get(serverName).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s.Error = err.Error()
		return s
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	resp.Body.Close()
	s.Status = resp.StatusCode
	return s
}

// clients keeps one HTTP client per TLS server name: a request to a TLS
// listener carries the SNI a client of its host would send, so the
// gateway picks the certificate (and filter chain) for that host.
type clients struct {
	mu           sync.Mutex
	byServerName map[string]*http.Client
}

func (c *clients) get(serverName string) *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.byServerName[serverName]; cl != nil {
		return cl
	}
	tr := &http.Transport{
		// The listeners serve the gateway's own certificates on a
		// loopback port of this process: there is nothing to verify.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, ServerName: serverName, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: sendWorkers,
	}
	cl := &http.Client{Transport: tr, Timeout: sendTimeout,
		// A redirect is the gateway's answer: report it, do not follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.byServerName[serverName] = cl
	return cl
}

func (c *clients) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.byServerName {
		cl.CloseIdleConnections()
	}
}

// hostOnly is a Host header without its port.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
