// Package upstream runs the sandbox's mock upstreams: one small HTTP server
// per upstream endpoint, on loopback, that answers every request with who it
// is and exactly what it received. A test request routed through the
// simulated gateway then shows which upstream got it and how the gateway
// changed it (rewritten path and host, added headers).
//
// Each server has a Profile (latency with jitter, a share of 5xx answers, a
// share of connection resets) so traffic simulations can show retries,
// timeouts and retry budgets at work.
package upstream

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HeaderUpstream is the response header that names the upstream that
// answered, so a caller can tell even when the body is not JSON.
const HeaderUpstream = "x-routedeck-upstream"

// HeaderEndpoint is the response header with the answering endpoint's
// host:port.
const HeaderEndpoint = "x-routedeck-endpoint"

// Profile is how a mock upstream misbehaves. The zero value answers at once
// and never fails.
type Profile struct {
	// Latency is added before every answer, plus a uniform random share
	// of Jitter.
	Latency time.Duration `json:"latency,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	// ErrorPercent of requests (0-100) get ErrorStatus (default 503).
	ErrorPercent float64 `json:"errorPercent,omitempty"`
	ErrorStatus  int     `json:"errorStatus,omitempty"`
	// ResetPercent of requests (0-100) get their connection closed with
	// no answer, which a gateway sees as a reset.
	ResetPercent float64 `json:"resetPercent,omitempty"`
}

// Received is what a mock upstream got.
type Received struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
	// TLS is the connection's handshake when the mock serves TLS; nil
	// for a plaintext connection.
	TLS *ReceivedTLS `json:"tls,omitempty"`
}

// ReceivedTLS is the TLS handshake a request arrived over, as the mock
// saw it: what the gateway sent when it originated TLS.
type ReceivedTLS struct {
	// Version is the negotiated version, such as "TLS 1.2".
	Version string `json:"version"`
	// ServerName is the SNI the gateway sent; "" for none.
	ServerName string `json:"serverName"`
	// ALPN is the negotiated application protocol (h2, http/1.1); ""
	// when the gateway offered none the mock speaks.
	ALPN string `json:"alpn,omitempty"`
}

// HeaderStandsFor is the response header with the real endpoint a mock
// stands in for, when it stands for a discovered one.
const HeaderStandsFor = "x-routedeck-stands-for"

// Echo is the JSON body every mock upstream answers with.
type Echo struct {
	Upstream string `json:"upstream"`
	Endpoint string `json:"endpoint"`
	// StandsFor is the real endpoint (host:port) this mock replaces in the
	// sandbox: a Kubernetes or Consul endpoint discovery reported. Empty
	// for mocks of static upstreams.
	StandsFor string   `json:"standsFor,omitempty"`
	Received  Received `json:"received"`
}

// Stats counts what a server did.
type Stats struct {
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	Resets   uint64 `json:"resets"`
}

// Server is one mock upstream endpoint.
type Server struct {
	name    string
	addr    string
	lis     net.Listener
	srv     *http.Server
	profile atomic.Pointer[Profile]
	// standsFor is the real endpoint the mock replaces; "" for none.
	standsFor atomic.Pointer[string]
	log       *slog.Logger
	mode      Mode

	requests, errors, resets atomic.Uint64
	done                     chan struct{}

	tunnelMu sync.Mutex
	tunnels  map[net.Conn]struct{}
}

// Options configure Start.
type Options struct {
	// Addr to listen on; "" means 127.0.0.1 on a free port. A sandbox
	// must stay on loopback.
	Addr string
	// HTTP2 serves HTTP/2 next to HTTP/1.1, for http2 and grpc
	// upstreams: without TLS as h2c, with TLS after ALPN.
	HTTP2 bool
	// TLS, when set, makes the server serve TLS with this certificate.
	TLS     *tls.Certificate
	Profile Profile
	Logger  *slog.Logger
}

// Mode is how a mock serves: the protocol and transport parts of
// Options, which a Pool compares to tell whether a running mock still
// fits.
type Mode struct {
	HTTP2 bool
	// TLS is the certificate served; nil for plaintext. Compared by
	// identity: CA.Issue returns the same value for the same names.
	TLS *tls.Certificate
}

// Start listens and serves until Close.
func Start(name string, opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mock upstream %q: listen on %s: %w", name, addr, err)
	}
	s := &Server{name: name, addr: lis.Addr().String(), lis: lis, log: opts.Logger, done: make(chan struct{}),
		mode: Mode{HTTP2: opts.HTTP2, TLS: opts.TLS}}
	if s.log == nil {
		s.log = slog.Default()
	}
	p := opts.Profile
	s.profile.Store(&p)
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	switch {
	case opts.HTTP2 && opts.TLS != nil:
		protos.SetHTTP2(true)
	case opts.HTTP2:
		protos.SetUnencryptedHTTP2(true)
	}
	s.srv = &http.Server{Handler: s, Protocols: protos, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	serve := s.srv.Serve
	if opts.TLS != nil {
		// Any client is let in: the mock stands for an upstream that
		// accepts the gateway, and ServeTLS adds h2 and http/1.1 to
		// the ALPN list as the protocols allow.
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*opts.TLS}, MinVersion: tls.VersionTLS12}
		serve = func(l net.Listener) error { return s.srv.ServeTLS(l, "", "") }
	}
	go func() {
		defer close(s.done)
		if err := serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("mock upstream stopped", "upstream", name, "addr", s.addr, "err", err)
		}
	}()
	return s, nil
}

// Name is the upstream this server stands for.
func (s *Server) Name() string { return s.name }

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Mode is how the server serves (protocol, TLS).
func (s *Server) Mode() Mode { return s.mode }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.lis.Addr().(*net.TCPAddr).Port }

// SetStandsFor records the real endpoint (host:port) the mock replaces,
// which its echo then reports; "" for none.
func (s *Server) SetStandsFor(endpoint string) { s.standsFor.Store(&endpoint) }

// StandsFor is the real endpoint the mock replaces, "" for none.
func (s *Server) StandsFor() string {
	if p := s.standsFor.Load(); p != nil {
		return *p
	}
	return ""
}

// SetProfile changes how the server behaves from the next request on.
func (s *Server) SetProfile(p Profile) { s.profile.Store(&p) }

// Profile returns the current profile.
func (s *Server) Profile() Profile { return *s.profile.Load() }

// Stats returns the counters since Start.
func (s *Server) Stats() Stats {
	return Stats{Requests: s.requests.Load(), Errors: s.errors.Load(), Resets: s.resets.Load()}
}

// Close stops the server at once, dropping requests in flight and
// upgraded connections.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	s.tunnelMu.Lock()
	for c := range s.tunnels {
		_ = c.Close()
	}
	s.tunnelMu.Unlock()
	return err
}

// ServeHTTP answers with the echo document after the profile's latency.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	p := s.profile.Load()
	if d := p.Latency + jitter(p.Jitter); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if p.ResetPercent > 0 && rand.Float64()*100 < p.ResetPercent {
		s.resets.Add(1)
		// Abort the handler without an answer: net/http closes the
		// connection (HTTP/1) or resets the stream (HTTP/2).
		panic(http.ErrAbortHandler)
	}
	if isUpgrade(r) {
		s.tunnel(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	standsFor := s.StandsFor()
	echo := Echo{Upstream: s.name, Endpoint: s.addr, StandsFor: standsFor, Received: Received{
		Method: r.Method, Path: r.URL.RequestURI(), Headers: receivedHeaders(r), Body: string(body), TLS: receivedTLS(r.TLS),
	}}
	status := http.StatusOK
	if p.ErrorPercent > 0 && rand.Float64()*100 < p.ErrorPercent {
		s.errors.Add(1)
		status = p.ErrorStatus
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderUpstream, s.name)
	w.Header().Set(HeaderEndpoint, s.addr)
	if standsFor != "" {
		w.Header().Set(HeaderStandsFor, standsFor)
	}
	chosen, err := chosenAnswer(r.Header)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if chosen.delay > 0 {
		t := time.NewTimer(chosen.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if chosen.status != 0 {
		status = chosen.status
	}
	for _, h := range chosen.headers {
		w.Header().Add(h[0], h[1])
	}
	w.WriteHeader(status)
	if chosen.body != nil {
		_, _ = io.WriteString(w, *chosen.body)
		return
	}
	_ = json.NewEncoder(w).Encode(echo)
}

// Request headers that choose the mock's answer, so a test can check what
// a gateway does to a response (header filters, status-based retries, a
// body it must pass on unchanged). They reach the mock like any header,
// so a gateway that removes them removes the choice too.
const (
	// HeaderRespondStatus sets the status code (100-599).
	HeaderRespondStatus = "x-routedeck-respond-status"
	// HeaderRespondHeader adds a response header, written "name: value";
	// repeat it for several.
	HeaderRespondHeader = "x-routedeck-respond-header"
	// HeaderRespondBody replaces the echo document with its value.
	HeaderRespondBody = "x-routedeck-respond-body"
	// HeaderRespondDelay holds the answer back for a duration ("1.5s", at
	// most MaxRespondDelay), so a test can trip a gateway's timeout.
	HeaderRespondDelay = "x-routedeck-respond-delay"
)

// MaxRespondDelay bounds HeaderRespondDelay.
const MaxRespondDelay = time.Minute

type answer struct {
	delay   time.Duration
	status  int
	headers [][2]string
	body    *string
}

// maxChosenHeaders bounds the response headers one request may choose.
const maxChosenHeaders = 64

func chosenAnswer(h http.Header) (answer, error) {
	var a answer
	if v := h.Get(HeaderRespondStatus); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return a, fmt.Errorf("%s: %q is not a status code (100-599)", HeaderRespondStatus, v)
		}
		a.status = n
	}
	vals := h.Values(HeaderRespondHeader)
	if len(vals) > maxChosenHeaders {
		return a, fmt.Errorf("%s: more than %d headers", HeaderRespondHeader, maxChosenHeaders)
	}
	for _, v := range vals {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return a, fmt.Errorf("%s: %q is not \"name: value\"", HeaderRespondHeader, v)
		}
		a.headers = append(a.headers, [2]string{name, strings.TrimSpace(value)})
	}
	if v := h.Get(HeaderRespondDelay); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > MaxRespondDelay {
			return a, fmt.Errorf("%s: %q is not a duration from 0 to %s", HeaderRespondDelay, v, MaxRespondDelay)
		}
		a.delay = d
	}
	if vs := h.Values(HeaderRespondBody); len(vs) > 0 {
		a.body = &vs[0]
	}
	return a, nil
}

// receivedHeaders lists the headers with lower-case names and the Host
// header included, as a gateway sent them.
func receivedHeaders(r *http.Request) map[string][]string {
	out := make(map[string][]string, len(r.Header)+1)
	for k, v := range r.Header {
		out[strings.ToLower(k)] = append([]string(nil), v...)
	}
	out["host"] = []string{r.Host}
	return out
}

func receivedTLS(cs *tls.ConnectionState) *ReceivedTLS {
	if cs == nil {
		return nil
	}
	return &ReceivedTLS{Version: tls.VersionName(cs.Version), ServerName: cs.ServerName, ALPN: cs.NegotiatedProtocol}
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// tunnelIdle ends an upgraded connection with no traffic for this long:
// a mock never holds a connection open forever.
const tunnelIdle = time.Minute

// tunnel accepts an upgrade and echoes what the client sends: as
// WebSocket messages when the client opened a WebSocket handshake (its
// Sec-WebSocket-Key answered, text and binary messages sent back, pings
// answered, a close returned), else every byte as it is, so any tunnel
// can be seen to carry data both ways.
func (s *Server) tunnel(w http.ResponseWriter, r *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "upgrade needs HTTP/1.1", http.StatusBadRequest)
		return
	}
	defer conn.Close()
	defer s.track(conn)()
	key := r.Header.Get("Sec-WebSocket-Key")
	accept := ""
	if key != "" {
		accept = "Sec-WebSocket-Accept: " + WebSocketAccept(key) + "\r\n"
	}
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n%s%s: %s\r\n%s: %s\r\n\r\n",
		r.Header.Get("Upgrade"), accept, HeaderUpstream, s.name, HeaderEndpoint, s.addr)
	if err := brw.Flush(); err != nil {
		return
	}
	idle := func() { _ = conn.SetDeadline(time.Now().Add(tunnelIdle)) }
	idle()
	if key == "" {
		// Bytes the server read already belong to the tunnel.
		buf := make([]byte, 32<<10)
		for {
			n, err := brw.Reader.Read(buf)
			if n > 0 {
				idle()
				if _, werr := conn.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	for {
		f, err := ReadFrame(brw.Reader, true)
		if err != nil {
			return
		}
		idle()
		switch f.Op {
		case OpText, OpBinary:
			err = WriteFrame(conn, f.Op, f.Payload, false)
		case OpPing:
			err = WriteFrame(conn, OpPong, f.Payload, false)
		case OpClose:
			_ = WriteFrame(conn, OpClose, f.Payload, false)
			return
		}
		if err != nil {
			return
		}
	}
}

// track records an upgraded connection until the returned function runs,
// so Close ends it: the HTTP server no longer owns a hijacked connection.
func (s *Server) track(c net.Conn) func() {
	s.tunnelMu.Lock()
	defer s.tunnelMu.Unlock()
	if s.tunnels == nil {
		s.tunnels = map[net.Conn]struct{}{}
	}
	s.tunnels[c] = struct{}{}
	return func() {
		s.tunnelMu.Lock()
		defer s.tunnelMu.Unlock()
		delete(s.tunnels, c)
	}
}

func jitter(j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(j)))
}

// Key names one endpoint of one upstream in a Pool.
type Key struct {
	Upstream string
	Index    int
}

// Pool keeps mock upstreams across sandbox rebuilds: asking for the same
// upstream endpoint again returns the running server, so its address (and
// any connections the gateway holds) survive a change of the rules.
type Pool struct {
	log     *slog.Logger
	mu      sync.Mutex
	servers map[Key]*Server
}

// NewPool returns an empty pool.
func NewPool(log *slog.Logger) *Pool {
	if log == nil {
		log = slog.Default()
	}
	return &Pool{log: log, servers: map[Key]*Server{}}
}

// Ensure returns n plaintext servers for upstream, starting the missing
// ones and closing any beyond n. http2 chooses h2c support for new
// servers; a server whose protocol changed is restarted.
func (p *Pool) Ensure(upstream string, n int, http2 bool) ([]*Server, error) {
	return p.EnsureMode(upstream, n, Mode{HTTP2: http2})
}

// EnsureMode is Ensure for servers that serve as mode says; a running
// server whose mode differs (protocol, TLS or certificate) is restarted.
func (p *Pool) EnsureMode(upstream string, n int, mode Mode) ([]*Server, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Server, 0, n)
	for i := 0; i < n; i++ {
		k := Key{upstream, i}
		if s := p.servers[k]; s != nil {
			if s.mode == mode {
				out = append(out, s)
				continue
			}
			_ = s.Close()
			delete(p.servers, k)
		}
		s, err := Start(upstream, Options{HTTP2: mode.HTTP2, TLS: mode.TLS, Logger: p.log})
		if err != nil {
			return nil, err
		}
		p.servers[k] = s
		out = append(out, s)
	}
	for k, s := range p.servers {
		if k.Upstream == upstream && k.Index >= n {
			_ = s.Close()
			delete(p.servers, k)
		}
	}
	return out, nil
}

// Retain closes the servers of every upstream not in keep.
func (p *Pool) Retain(keep map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, s := range p.servers {
		if !keep[k.Upstream] {
			_ = s.Close()
			delete(p.servers, k)
		}
	}
}

// Servers returns the running servers sorted by upstream and index.
func (p *Pool) Servers() []*Server {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]Key, 0, len(p.servers))
	for k := range p.servers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Upstream != keys[j].Upstream {
			return keys[i].Upstream < keys[j].Upstream
		}
		return keys[i].Index < keys[j].Index
	})
	out := make([]*Server, len(keys))
	for i, k := range keys {
		out[i] = p.servers[k]
	}
	return out
}

// SetProfile sets the profile of every endpoint of upstream and reports
// whether there was any.
func (p *Pool) SetProfile(upstream string, prof Profile) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := false
	for k, s := range p.servers {
		if k.Upstream == upstream {
			s.SetProfile(prof)
			found = true
		}
	}
	return found
}

// Close stops every server.
func (p *Pool) Close() { p.Retain(nil) }
