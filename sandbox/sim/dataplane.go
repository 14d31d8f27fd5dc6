package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/grpc"
)

// DataPlaneOptions configure Start.
type DataPlaneOptions struct {
	// ADS is the management server's host:port.
	ADS string
	// ADSAlternates are further hosts of the same management servers
	// (the other hosts of the bootstrap's ADS cluster): when a stream
	// ends, the next one is opened to the next host in turn, as Envoy's
	// ADS cluster picks another host when one goes away.
	ADSAlternates []string
	// NodeID and Cluster identify the data plane; the server picks the
	// snapshot by Cluster ("sandbox/<gateway>" for the sandbox).
	NodeID, Cluster string
	// ListenHost is where listeners are served, on a free port each;
	// default 127.0.0.1.
	ListenHost string
	// BindConfiguredAddress serves each listener on the socket address its
	// Listener resource names, as a real Envoy does, instead of a free
	// port on ListenHost. The sandbox sets it once it has remapped the
	// gateway's ports to free loopback ones, so the sim and a real Envoy
	// are reached the same way.
	BindConfiguredAddress bool
	// TLS, when set, is the client side of mutual TLS to the ADS server
	// (a certificate for Cluster and the server's trust); nil dials in
	// plaintext. The caller builds it: the sim knows no CA of its own.
	// FromBootstrap builds one from the files an Envoy bootstrap names.
	TLS         *tls.Config
	Logger      *slog.Logger
	DialOptions []grpc.DialOption

	// ADSClusterName is the bootstrap's static cluster that reaches the
	// ADS server (FromBootstrap reads it; default DefaultADSClusterName):
	// gRPC services that name it, such as access logs, reach ADS's
	// address with TLS.
	ADSClusterName string
	// Delta runs ADS as incremental xDS, as an Envoy whose bootstrap's
	// ADS api_type is DELTA_GRPC (FromBootstrap reads it); route
	// configurations may then take their virtual hosts from VHDS.
	Delta bool
}

// DataPlane is the simulated Envoy: an ADS client that builds a compiled
// configuration from every accepted snapshot and serves each listener on a
// loopback port as a real HTTP/1.1 and h2c proxy, or, for a listener whose
// filter chains terminate TLS, as an HTTPS (HTTP/1.1 and h2) proxy with
// the certificates its SDS secrets hold.
type DataPlane struct {
	opts   DataPlaneOptions
	log    *slog.Logger
	client *adsClient
	cfg    atomic.Pointer[config]
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	servers map[string]*listenerServer
	nacks   []Nack
	changed chan struct{} // closed and replaced on every change
	pending *config       // built by check, installed by apply
	// reserved holds, by listener, the socket bound when the listener
	// response naming it was checked, until apply serves it; a warming
	// listener keeps its socket meanwhile. Guarded by mu.
	reserved map[string]*reservedSocket
	captures sync.Map // request id -> chan *Exchange
	// transports holds one *http.Transport per cluster pool key
	// (cluster, protocol, TLS identity): the HTTP/2 pools, and the
	// connections of mirrors and key-set fetches.
	transports sync.Map
	// h1Pools holds the HTTP/1.1 connection pools by cluster pool,
	// circuit breakers, priority and host (see h1PoolFor).
	h1Pools sync.Map
	reqSeq  atomic.Uint64
	// health holds, by cluster, the running health checkers and outlier
	// detectors; guarded by mu.
	health map[string]*clusterHealth
	// accessLogs streams the listeners' access logs (accesslog.go).
	accessLogs accessLogs
	// tunnels are the upgraded connections in use.
	tunnels tunnels
	// mirrors counts mirrored requests sent and ended (mirrors.go).
	mirrors mirrorCounter
}

type listenerServer struct {
	name string
	addr string
	// configured is the address the listener was bound for (host:0 for
	// a free port), so an update that keeps it keeps the socket.
	configured string
	tls        bool
	srv        *http.Server
	dp         *DataPlane
}

// Start connects to the ADS server and serves listeners as they arrive. It
// returns at once; use WaitFor to wait for a configuration.
func Start(opts DataPlaneOptions) (*DataPlane, error) {
	if opts.ADS == "" {
		return nil, errors.New("sim: ADS address required")
	}
	if opts.ListenHost == "" {
		opts.ListenHost = "127.0.0.1"
	}
	if opts.NodeID == "" {
		opts.NodeID = "routedeck-sim"
	}
	dp := &DataPlane{opts: opts, log: opts.Logger, servers: map[string]*listenerServer{}, changed: make(chan struct{}), done: make(chan struct{}),
		health: map[string]*clusterHealth{}, reserved: map[string]*reservedSocket{}}
	if dp.log == nil {
		dp.log = slog.Default()
	}
	dp.cfg.Store(&config{listeners: map[string]*hcmConfig{}, clusters: map[string]*cluster{}, versions: map[string]string{}})
	dp.client = &adsClient{
		addrs: append([]string{opts.ADS}, opts.ADSAlternates...), log: dp.log, dialOpt: opts.DialOptions, tls: opts.TLS,
		node:  &corev3.Node{Id: opts.NodeID, Cluster: opts.Cluster, UserAgentName: "routedeck-sim"},
		state: &resources{versions: map[string]string{}},
		check: dp.check, apply: dp.apply, nack: dp.recordNack, delta: opts.Delta,
	}
	ctx, cancel := context.WithCancel(context.Background())
	dp.cancel = cancel
	go func() {
		defer close(dp.done)
		dp.client.run(ctx)
	}()
	return dp, nil
}

// Close stops the ADS stream and every listener.
func (dp *DataPlane) Close() error {
	dp.cancel()
	<-dp.done
	dp.mu.Lock()
	defer dp.mu.Unlock()
	var errs []error
	for name, s := range dp.servers {
		errs = append(errs, s.srv.Close())
		delete(dp.servers, name)
	}
	for name, r := range dp.reserved {
		errs = append(errs, r.lis.Close())
		delete(dp.reserved, name)
	}
	for name, ch := range dp.health {
		ch.close()
		delete(dp.health, name)
	}
	dp.transports.Range(func(_, t any) bool {
		t.(*http.Transport).CloseIdleConnections()
		return true
	})
	dp.pruneH1Pools(&config{})
	dp.closeTunnels()
	return errors.Join(errs...)
}

func (dp *DataPlane) check(typeURL string, next *resources) error {
	cfg, errs := build(next, dp.cfg.Load())
	if e := errs[typeURL]; len(e) > 0 {
		return errors.Join(e...)
	}
	if typeURL == TypeListener {
		// Like Envoy, bind before accepting: a listener whose address is
		// taken is refused with the listener response, where the server
		// (and the sandbox waiting on it) can see it, instead of being
		// accepted and never served.
		if err := dp.reserve(next.listeners); err != nil {
			return err
		}
	}
	dp.mu.Lock()
	dp.pending = cfg
	dp.mu.Unlock()
	return nil
}

// reservedSocket is a listener's socket, bound but not yet served. Unlike
// a warming Envoy listener, which is bound but not listening, it already
// queues connections; they are served once the listener is.
type reservedSocket struct {
	configured string
	lis        net.Listener
}

// reserve binds a socket for every listener of an incoming listener
// response that is not served or reserved at its address yet, and
// releases the reservations of listeners the response drops. If any
// address cannot be bound nothing changes and the error names them all.
func (dp *DataPlane) reserve(listeners map[string]*listenerv3.Listener) error {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	bound := map[string]*reservedSocket{}
	var errs []error
	for _, name := range sortedKeys(listeners) {
		want := dp.bindAddr(listeners[name])
		if s := dp.servers[name]; s != nil && (!dp.opts.BindConfiguredAddress || s.configured == want) {
			continue
		}
		if r := dp.reserved[name]; r != nil && r.configured == want {
			continue
		}
		if s := dp.servers[name]; s != nil && s.addr == want {
			// Configured now with the port it was given as a free
			// one: still held by its server, so apply rebinds it.
			continue
		}
		lis, err := net.Listen("tcp", want)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %q: cannot bind %s: %w", name, want, err))
			continue
		}
		bound[name] = &reservedSocket{configured: want, lis: lis}
	}
	if len(errs) > 0 {
		for _, r := range bound {
			_ = r.lis.Close()
		}
		return errors.Join(errs...)
	}
	for name, r := range dp.reserved {
		if bound[name] != nil || listeners[name] == nil {
			_ = r.lis.Close()
			delete(dp.reserved, name)
		}
	}
	maps.Copy(dp.reserved, bound)
	return nil
}

func (dp *DataPlane) apply(*resources) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	cfg := dp.pending
	dp.pending = nil
	if cfg == nil {
		return
	}
	dp.attachHealth(cfg)
	dp.cfg.Store(cfg)
	dp.pruneTransports(cfg)
	dp.pruneH1Pools(cfg)
	// Serve new listeners, stop removed ones; kept ones keep their port.
	for name, hc := range cfg.listeners {
		want := dp.bindAddr(hc.source)
		r := dp.reserved[name]
		if old := dp.servers[name]; old != nil {
			if (dp.opts.BindConfiguredAddress && old.configured != want) || old.tls != hc.tls {
				// A real Envoy drains and rebinds a listener whose
				// address (or transport) changed; so does the sim.
				_ = old.srv.Close()
				delete(dp.servers, name)
			} else {
				continue
			}
		}
		var lis net.Listener
		if r != nil && r.configured == want {
			lis = r.lis
			delete(dp.reserved, name)
		} else {
			// Only a transport change on the same address gets here:
			// its socket was served, so it is bound again now.
			var err error
			if lis, err = net.Listen("tcp", want); err != nil {
				dp.log.Error("sim: serve listener", "listener", name, "err", err)
				continue
			}
		}
		dp.servers[name] = dp.serve(name, lis, want, hc.tls)
	}
	for name, s := range dp.servers {
		if cfg.listeners[name] == nil {
			_ = s.srv.Close()
			delete(dp.servers, name)
		}
	}
	close(dp.changed)
	dp.changed = make(chan struct{})
}

func (dp *DataPlane) recordNack(n Nack) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	dp.nacks = append(dp.nacks, n)
	if len(dp.nacks) > 20 {
		dp.nacks = dp.nacks[1:]
	}
	close(dp.changed)
	dp.changed = make(chan struct{})
}

// Status is what the data plane has accepted and refused.
type Status struct {
	// Versions are the accepted versions by type URL.
	Versions map[string]string `json:"versions"`
	// Listeners maps listener names to the loopback address serving them.
	Listeners map[string]string `json:"listeners"`
	// Ready lists listeners whose route configuration has arrived.
	Ready map[string]bool `json:"ready"`
	// TLS marks listeners whose filter chains terminate TLS; they are
	// served over TLS with the certificates of their secrets.
	TLS map[string]bool `json:"tls,omitempty"`
	// Warming lists, by listener, the SDS secrets it waits for before it
	// is served (or, if it was served before, updated).
	Warming map[string][]string `json:"warming,omitempty"`
	// WarmingClusters lists, by cluster, the SDS secrets its TLS context
	// waits for: a new cluster is not routed to until they arrive.
	WarmingClusters map[string][]string `json:"warmingClusters,omitempty"`
	// AwaitingEndpoints lists the EDS clusters whose load assignment has
	// not arrived yet: they have no host to route to.
	AwaitingEndpoints []string `json:"awaitingEndpoints,omitempty"`
	// Health is, by cluster, the health of the hosts of clusters with
	// active health checks or outlier detection.
	Health map[string]ClusterHealth `json:"health,omitempty"`
	Nacks  []Nack                   `json:"nacks,omitempty"`
}

// Status returns the current status.
func (dp *DataPlane) Status() Status {
	cfg := dp.cfg.Load()
	dp.mu.Lock()
	defer dp.mu.Unlock()
	st := Status{Versions: map[string]string{}, Listeners: map[string]string{}, Ready: map[string]bool{}, TLS: map[string]bool{}, Nacks: append([]Nack(nil), dp.nacks...)}
	for k, v := range cfg.versions {
		st.Versions[k] = v
	}
	if len(cfg.warming) > 0 {
		st.Warming = maps.Clone(cfg.warming)
	}
	if len(cfg.clusterWarming) > 0 {
		st.WarmingClusters = maps.Clone(cfg.clusterWarming)
	}
	for name, cl := range cfg.clusters {
		if cl.awaitingEDS {
			st.AwaitingEndpoints = append(st.AwaitingEndpoints, name)
		}
		if cl.health == nil {
			continue
		}
		if st.Health == nil {
			st.Health = map[string]ClusterHealth{}
		}
		_, panicking := cl.candidates()
		st.Health[name] = ClusterHealth{Hosts: cl.health.snapshot(), Panic: panicking}
	}
	for name, s := range dp.servers {
		st.Listeners[name] = s.addr
		if hc := cfg.listeners[name]; hc != nil {
			st.Ready[name] = hc.router != nil
			st.TLS[name] = hc.tls
		}
	}
	slices.Sort(st.AwaitingEndpoints)
	return st
}

// WaitFor waits until cond holds for the status or ctx ends.
func (dp *DataPlane) WaitFor(ctx context.Context, cond func(Status) bool) (Status, error) {
	for {
		dp.mu.Lock()
		ch := dp.changed
		dp.mu.Unlock()
		st := dp.Status()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("sim: waiting for configuration: %w", ctx.Err())
		case <-ch:
		}
	}
}

// Accepted is the configuration the data plane last accepted, by type and
// name. The maps are copies; the resources are shared and read-only.
type Accepted struct {
	Listeners map[string]*listenerv3.Listener
	Routes    map[string]*routev3.RouteConfiguration
	Clusters  map[string]*clusterv3.Cluster
	Endpoints map[string]*endpointv3.ClusterLoadAssignment
	Secrets   map[string]*tlsv3.Secret
}

// Accepted returns the accepted resources.
func (dp *DataPlane) Accepted() Accepted {
	dp.client.mu.Lock()
	defer dp.client.mu.Unlock()
	s := dp.client.state
	return Accepted{Listeners: maps.Clone(s.listeners), Routes: maps.Clone(s.routes), Clusters: maps.Clone(s.clusters), Endpoints: maps.Clone(s.endpoints), Secrets: maps.Clone(s.secrets)}
}

// Router returns the compiled router of a listener, nil if none yet.
func (dp *DataPlane) Router(listener string) *Router {
	if hc := dp.cfg.Load().listeners[listener]; hc != nil {
		return hc.router
	}
	return nil
}

// bindAddr is where a listener is served: its configured socket address
// with BindConfiguredAddress, else a free port on ListenHost.
func (dp *DataPlane) bindAddr(l *listenerv3.Listener) string {
	if dp.opts.BindConfiguredAddress {
		if sa := l.GetAddress().GetSocketAddress(); sa != nil {
			return net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue())))
		}
	}
	return net.JoinHostPort(dp.opts.ListenHost, "0")
}

// serve serves a listener on lis, bound for the address configured.
func (dp *DataPlane) serve(name string, lis net.Listener, configured string, useTLS bool) *listenerServer {
	s := &listenerServer{name: name, addr: lis.Addr().String(), configured: configured, tls: useTLS, dp: dp}
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	if useTLS {
		protos.SetHTTP2(true)
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	s.srv = &http.Server{Handler: s, Protocols: protos, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(dp.log.Handler(), slog.LevelDebug)}
	if useTLS {
		// The chain is chosen per handshake from the current
		// configuration, so rotated certificates apply to new
		// connections without a rebind.
		s.srv.TLSConfig = &tls.Config{GetConfigForClient: s.configForClient}
	}
	go func() {
		serve := s.srv.Serve
		if useTLS {
			serve = func(l net.Listener) error { return s.srv.ServeTLS(l, "", "") }
		}
		if err := serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			dp.log.Error("sim: listener stopped", "listener", name, "err", err)
		}
	}()
	dp.log.Info("sim: serving listener", "listener", name, "addr", s.addr)
	return s
}

// Exchange is what the data plane did with one request, for the sandbox's
// trace: the routing decision (with the per-route trace), the filters that
// spoke, and each attempt upstream.
type Exchange struct {
	Listener string    `json:"listener"`
	Decision *Decision `json:"decision"`
	Cluster  string    `json:"cluster,omitempty"`
	Endpoint string    `json:"endpoint,omitempty"`
	Attempts []Attempt `json:"attempts,omitempty"`
	// LocalReply names who answered without an upstream (router, rbac,
	// jwt_authn, local_ratelimit, cors, fault, basic_auth, or
	// http_connection_manager for a refused upgrade).
	LocalReply string `json:"localReply,omitempty"`
	// Flags are Envoy's response flags for the exchange, as
	// %RESPONSE_FLAGS% prints them ("UO", "UF,URX"); "" for none.
	Flags  string   `json:"responseFlags,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	Status int      `json:"status"`
	// Health is the cluster's host health when the request was balanced,
	// for clusters with active health checks or outlier detection.
	Health *ClusterHealth `json:"health,omitempty"`
	// Upgrade is the protocol the request upgraded to ("websocket") once
	// the upstream accepted it; the exchange then lasted as long as the
	// tunnel.
	Upgrade string `json:"upgrade,omitempty"`
	// Duration runs from the request's arrival to the end of the answer;
	// BytesReceived and BytesSent count the request and response bodies
	// (both directions of a tunnel).
	Duration      time.Duration `json:"durationNs"`
	BytesReceived int64         `json:"bytesReceived"`
	BytesSent     int64         `json:"bytesSent"`
}

// Attempt is one try upstream.
type Attempt struct {
	Endpoint string        `json:"endpoint"`
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs"`
	Backoff  time.Duration `json:"backoffNs,omitempty"`
}

// HeaderCapture on a request asks the data plane to report its Exchange
// to Capture; it is removed before the request goes upstream.
const HeaderCapture = "x-routedeck-capture"

// Capture returns an id to send in HeaderCapture and a function that waits
// for that request's Exchange.
func (dp *DataPlane) Capture() (string, func(context.Context) (*Exchange, error)) {
	id := strconv.FormatUint(dp.reqSeq.Add(1), 10) + "-" + strconv.FormatUint(rand.Uint64(), 36)
	ch := make(chan *Exchange, 1)
	dp.captures.Store(id, ch)
	return id, func(ctx context.Context) (*Exchange, error) {
		defer dp.captures.Delete(id)
		select {
		case ex := <-ch:
			return ex, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// hop-by-hop headers are not forwarded (RFC 9110 section 7.6.1).
var hopHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true,
}

// configForClient picks the filter chain for a ClientHello's SNI. With no
// matching chain Envoy closes the connection; the handshake fails here.
func (s *listenerServer) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	hc := s.dp.cfg.Load().listeners[s.name]
	if hc == nil || hc.tlsConf == nil {
		return nil, fmt.Errorf("listener %q has no TLS filter chain", s.name)
	}
	c := hc.tlsConf.choose(hello.ServerName)
	if c == nil {
		return nil, fmt.Errorf("listener %q: no filter chain matches server name %q", s.name, hello.ServerName)
	}
	return c.conf, nil
}

// toSimRequest turns an HTTP request into the router's view: pseudo-headers
// first, names lower-cased, the peer address kept for RBAC.
func toSimRequest(r *http.Request, hc *hcmConfig) *Request {
	scheme := "http"
	if hc.tls {
		scheme = "https"
	}
	req := &Request{RemoteAddress: r.RemoteAddr, LocalAddress: r.Host}
	req.Headers = make(Headers, 0, len(r.Header)+6)
	req.Headers = append(req.Headers, Header{":authority", r.Host}, Header{":path", r.URL.RequestURI()}, Header{":method", r.Method}, Header{":scheme", scheme})
	for name, vals := range r.Header {
		ln := strings.ToLower(name)
		if ln == "te" {
			// Envoy drops every TE token but "trailers", which gRPC
			// upstreams may insist on (sanitizeTEHeader).
			if teTrailers(vals) {
				req.Headers = append(req.Headers, Header{"te", "trailers"})
			}
			continue
		}
		if hopHeaders[ln] && !(ln == "upgrade" || ln == "connection") {
			continue
		}
		for _, v := range vals {
			req.Headers = append(req.Headers, Header{ln, v})
		}
	}
	// Envoy sets x-forwarded-proto from the connection at the edge.
	req.Headers.Set("x-forwarded-proto", scheme)
	if _, ok := req.Headers.Get("x-request-id"); !ok {
		req.Headers.Add("x-request-id", fmt.Sprintf("%016x", rand.Uint64()))
	}
	return req
}

// teTrailers reports whether TE header values name "trailers".
func teTrailers(vals []string) bool {
	for _, v := range vals {
		for tok := range strings.SplitSeq(v, ",") {
			tok, _, _ = strings.Cut(tok, ";")
			if strings.EqualFold(strings.TrimSpace(tok), "trailers") {
				return true
			}
		}
	}
	return false
}

func (dp *DataPlane) transport(cl *cluster) *http.Transport {
	tr := &http.Transport{Protocols: new(http.Protocols), MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, DisableCompression: true}
	switch {
	case cl.tls != nil:
		// The handshake is the sim's own, so SNI, ALPN and
		// verification are exactly the cluster's, never derived from
		// the request URL.
		tr.DialTLSContext = cl.tls.dial
		if cl.http2 {
			tr.Protocols.SetHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
	case cl.http2:
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	return tr
}

// transportFor returns the connection pool of a cluster, kept across
// configuration changes so connections to unchanged endpoints are reused
// while the cluster's protocol and TLS identity stay the same.
func (dp *DataPlane) transportFor(cl *cluster) *http.Transport {
	if t, ok := dp.transports.Load(cl.poolKey); ok {
		return t.(*http.Transport)
	}
	t, _ := dp.transports.LoadOrStore(cl.poolKey, dp.transport(cl))
	return t.(*http.Transport)
}

// pruneTransports drops the pools no cluster of cfg uses (a cluster that
// was removed, or whose TLS changed); requests still using one finish on
// their connections.
func (dp *DataPlane) pruneTransports(cfg *config) {
	keep := make(map[string]bool, len(cfg.clusters))
	for _, cl := range cfg.clusters {
		keep[cl.poolKey] = true
	}
	dp.transports.Range(func(k, t any) bool {
		if !keep[k.(string)] {
			dp.transports.Delete(k)
			t.(*http.Transport).CloseIdleConnections()
		}
		return true
	})
}

// scheme is how requests to the cluster's endpoints are addressed.
func (cl *cluster) scheme() string {
	if cl.tls != nil {
		return "https"
	}
	return "http"
}

// upstreamRequest builds the request of one try. body is nil for a request
// without one; length is its size, -1 when unknown (the upstream then
// gets it chunked, or as HTTP/2 data frames, as from Envoy).
func upstreamRequest(ctx context.Context, scheme, endpoint string, h Headers, body io.Reader, length int64) (*http.Request, error) {
	path, _ := h.Get(":path")
	method, _ := h.Get(":method")
	host, _ := h.Get(":authority")
	req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+endpoint+path, nil)
	if err != nil {
		return nil, err
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		req.URL = &url.URL{Scheme: scheme, Host: endpoint, Opaque: path}
	}
	req.Host = host
	for _, e := range h {
		if strings.HasPrefix(e.Name, ":") || (hopHeaders[e.Name] && !(e.Name == "te" && e.Value == "trailers")) || e.Name == "host" {
			continue
		}
		req.Header.Add(e.Name, e.Value)
	}
	if body != nil {
		rc, ok := body.(io.ReadCloser)
		if !ok {
			rc = io.NopCloser(body)
		}
		req.Body = rc
		req.ContentLength = length
		if length == 0 {
			// A body of unknown length; the transport reads 0 as none.
			req.ContentLength = -1
		}
	}
	return req, nil
}

// mirror sends a copy to the shadow cluster and forgets it; Envoy adds
// "-shadow" to the host so upstreams can tell. The caller has counted it
// with dp.mirrors.start.
func (dp *DataPlane) mirror(cl *cluster, h Headers, body io.Reader, length int64) {
	defer dp.mirrors.finish()
	if c, ok := body.(io.Closer); ok {
		// However the shadow ends, the request stops feeding it.
		defer c.Close()
	}
	i := cl.pick(0, false, -1)
	if i < 0 {
		return
	}
	h = h.Clone()
	if host, ok := h.Get(":authority"); ok {
		h.Set(":authority", stripPort(host)+"-shadow")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := upstreamRequest(ctx, cl.scheme(), cl.endpoints[i].addr, h, body, length)
	if err != nil {
		return
	}
	resp, err := dp.transportFor(cl).RoundTrip(req)
	if err != nil {
		dp.log.Debug("sim: mirror failed", "cluster", cl.name, "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// fetchFromCluster GETs a URI from an endpoint of the named cluster, as
// Envoy's remote JWKS fetcher does: the cluster picks the address, the URI
// gives the path and Host.
func (dp *DataPlane) fetchFromCluster(name, uri string, timeout time.Duration) ([]byte, error) {
	cl := dp.cfg.Load().clusters[name]
	if cl == nil {
		return nil, fmt.Errorf("cluster %q not found", name)
	}
	i := cl.pick(0, false, -1)
	if i < 0 {
		return nil, fmt.Errorf("cluster %q has no endpoints", name)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := upstreamRequest(ctx, cl.scheme(), cl.endpoints[i].addr, Headers{{":method", "GET"}, {":path", u.RequestURI()}, {":authority", u.Host}}, nil, 0)
	if err != nil {
		return nil, err
	}
	resp, err := dp.transportFor(cl).RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s answered %d", uri, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}
