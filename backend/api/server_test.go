package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/model/secrettest"
)

// serveReal serves the API of a with a server built by NewServer and t's
// timeouts on a loopback port, and returns its address.
func serveReal(tb testing.TB, a *testAPI, timeouts Timeouts) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := NewServer(a.h, timeouts, nil)
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(func() { srv.Close() })
	return lis.Addr().String()
}

func TestSlowBodiesAreCutOff(t *testing.T) {
	timeouts := Timeouts{Body: 500 * time.Millisecond}
	a := newTestAPI(t, func(d *Deps) { d.Timeouts = timeouts })
	addr := serveReal(t, a, timeouts)

	// Clients that announce a login body and send it a byte at a time,
	// far slower than the deadline allows.
	const clients = 100
	const bound = 10 * time.Second // deadline plus generous slack for a busy machine
	type outcome struct {
		status  string
		elapsed time.Duration
		err     error
	}
	results := make(chan outcome, clients)
	stop := make(chan struct{})
	defer close(stop)
	for range clients {
		go func() {
			start := time.Now()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				results <- outcome{err: err}
				return
			}
			defer conn.Close()
			_ = conn.SetDeadline(start.Add(bound + 5*time.Second)) // the test's own backstop
			body := `{"name":"ana","password":"` + strings.Repeat("x", 500) + `"}`
			fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, len(body))
			go func() {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for i := 0; i < len(body); i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := conn.Write([]byte{body[i]}); err != nil {
						return
					}
				}
			}()
			// The server answers and closes the connection: reading to
			// the end returns once it is closed. Closing with unread
			// bytes from the client may reset the connection instead, and
			// that can overtake the answer; either way it is closed.
			rd := bufio.NewReader(conn)
			status, err := rd.ReadString('\n')
			if err == nil {
				_, err = io.Copy(io.Discard, rd)
			}
			if errors.Is(err, syscall.ECONNRESET) {
				err = nil
			}
			results <- outcome{status: strings.TrimSpace(status), elapsed: time.Since(start), err: err}
		}()
	}

	// Meanwhile an ordinary client is served as usual.
	r := a.doAt(t, "http://"+addr, "", "POST", "/api/v1/auth/login", map[string]any{"name": "ana", "password": "long enough"})
	r.must(t, http.StatusUnauthorized)

	for range clients {
		o := <-results
		if o.err != nil {
			t.Fatalf("slow client: %v (after %v)", o.err, o.elapsed)
		}
		if o.elapsed > bound {
			t.Errorf("slow client held its connection for %v, want under %v", o.elapsed, bound)
		}
		if o.status != "HTTP/1.1 408 Request Timeout" && o.status != "" {
			t.Errorf("slow client got %q, want 408", o.status)
		}
	}
}

// slowSim is a simulator that takes its time and reports whether the
// request's context was cancelled meanwhile.
type slowSim struct{ took time.Duration }

func (s slowSim) RunSimulation(ctx context.Context, _ json.RawMessage) (any, error) {
	select {
	case <-time.After(s.took):
		return map[string]int{"sent": 1}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("request cancelled while simulating: %w", ctx.Err())
	}
}

// slowProxies is a publisher whose proxy report takes its time.
type slowProxies struct {
	Publisher
	took time.Duration
}

func (p slowProxies) Proxies(context.Context, string) ([]Proxy, error) {
	time.Sleep(p.took) // the slow work itself, not synchronisation
	return nil, nil
}

func TestLongEndpointsExtendTheirOwnDeadline(t *testing.T) {
	// The handlers below take three times the write timeout and the body
	// deadline.
	timeouts := Timeouts{Body: 300 * time.Millisecond, Write: 300 * time.Millisecond, Long: time.Minute}
	took := 900 * time.Millisecond
	a := newTestAPI(t, func(d *Deps) {
		d.Timeouts = timeouts
		d.Simulator = slowSim{took: took}
		d.Publisher = slowProxies{took: took}
	})
	a.seed(t)
	base := "http://" + serveReal(t, a, timeouts)

	// A simulation is a long endpoint: its answer arrives, and its
	// context was not cancelled when the body deadline passed.
	spec := map[string]any{"gateway": "public", "requests": 1,
		"mix": []any{map[string]any{"weight": 1, "url": "http://shop.example.com/"}}}
	a.doAt(t, base, "viewer", "POST", "/api/v1/sandbox/simulations", spec).must(t, http.StatusOK)

	// An ordinary endpoint keeps the server's write timeout: the answer
	// of a handler that overruns it never arrives.
	_, err := a.tryAt(base, "viewer", "GET", "/api/v1/gateways/public/proxies", nil)
	if err == nil {
		t.Fatal("an ordinary endpoint answered after its write timeout")
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>ui</title>")
	})
	a := newTestAPI(t, func(d *Deps) { d.UI = ui })
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	check := func(t *testing.T, h http.Header) {
		t.Helper()
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("CSP %q lacks %s", csp, d)
			}
		}
		if strings.Contains(csp, "script-src 'self' 'unsafe-inline'") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("CSP %q allows inline or eval'd script", csp)
		}
	}
	tests := map[string]struct {
		role, method, path string
		status             int
	}{
		"dashboard":              {"", "GET", "/", http.StatusOK},
		"client-side route":      {"", "GET", "/routes/home", http.StatusOK},
		"health":                 {"", "GET", "/api/v1/health", http.StatusOK},
		"list":                   {"viewer", "GET", "/api/v1/routes", http.StatusOK},
		"problem":                {"", "GET", "/api/v1/routes", http.StatusUnauthorized},
		"unknown endpoint":       {"viewer", "GET", "/api/v1/nope", http.StatusNotFound},
		"refused sign-in":        {"", "POST", "/api/v1/auth/login", http.StatusUnsupportedMediaType},
		"method not allowed":     {"viewer", "PATCH", "/api/v1/routes", http.StatusMethodNotAllowed},
		"forbidden for the role": {"viewer", "GET", "/api/v1/users", http.StatusForbidden},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var body any
			if tc.method == "POST" {
				body = "name=ana"
			}
			r := a.do(t, tc.role, tc.method, tc.path, body, "Content-Type", "application/x-www-form-urlencoded")
			r.must(t, tc.status)
			check(t, r.header)
			if h := r.header.Get("Strict-Transport-Security"); h != "" {
				t.Errorf("HSTS %q over plain HTTP", h)
			}
		})
	}

	t.Run("HSTS over TLS", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(a.h)
		cert, key := secrettest.Pair(t, "localhost")
		pair, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		srv.StartTLS()
		defer srv.Close()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(cert))
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
		resp, err := c.Get(srv.URL + "/api/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(t, resp.Header)
		if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
			t.Errorf("HSTS = %q over TLS", h)
		}
	})
}

// tryAt sends a request to the API at base as role and returns its reply
// or the transport error.
func (a *testAPI) tryAt(base, role, method, path string, body io.Reader, header ...string) (reply, error) {
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+a.tokens[role])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// doAt is do against the server at base.
func (a *testAPI) doAt(t *testing.T, base, role, method, path string, body any, header ...string) reply {
	t.Helper()
	r, err := a.tryAt(base, role, method, path, jsonBody(t, body), header...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// dialFrom returns an HTTP client whose connections come from the loopback
// address ip (any of 127.0.0.0/8 routes to the loopback interface).
func dialFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// jsonBody is body as a request body: a string as is, anything else as
// JSON, nil as none.
func jsonBody(t *testing.T, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(raw)
}
