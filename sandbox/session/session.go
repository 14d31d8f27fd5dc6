// Package session runs the sandbox: for a gateway's draft it starts mock
// upstreams for every upstream endpoint (for Kubernetes and Consul
// upstreams, one per discovered endpoint), translates the draft with the
// endpoints remapped to the mocks and the listeners moved to free
// loopback ports, serves that as the "sandbox/<gateway>" snapshot on the
// ADS server, and runs a data plane against it over real gRPC. A test
// request then goes through the gateway to a mock upstream, and the reply
// shows what happened on the way, checked against the reference
// evaluator.
//
// The data plane is the simulated Envoy (sandbox/sim) unless the sandbox
// settings ask for a real Envoy and one is installed. CI runs the sim: the
// real-Envoy path is tested there with a stand-in executable that speaks
// ADS through the sim, not with Envoy itself.
package session

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/pki"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/envoy"
	"github.com/routedeck/routedeck/sandbox/sim"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// Workspaces gives a gateway's draft workspace; *store.Store provides it.
type Workspaces interface {
	GatewayWorkspace(ctx context.Context, gateway string) (model.Workspace, error)
}

// Options configure a Service.
type Options struct {
	Store Workspaces
	// Versions gives the gateways' published versions, for test requests
	// that target one instead of the draft; nil allows the draft only.
	Versions Versions
	// MaxVersions bounds the sandboxes of published versions that run at
	// once, across gateways; the least recently used one is stopped past
	// it. Default 3.
	MaxVersions int
	// ADS is the server the sandbox snapshots go to, and ADSAddr the
	// address it serves on (the sim connects there over gRPC).
	ADS     *xds.Server
	ADSAddr string
	// ADSCredentials give the sandbox's data planes their identity on an
	// ADS server that requires mutual TLS: certificates of a CA only the
	// server holds, for "sandbox/<gateway>" alone. nil connects in
	// plaintext.
	ADSCredentials *pki.SandboxCredentials
	Logger         *slog.Logger
	// Timeout bounds one test request, sandbox start included; default 30s.
	Timeout time.Duration
	// Settings holds the sandbox Settings (engine choice); nil runs the sim.
	Settings SettingsStore
	// FindEnvoy looks up the Envoy binary; default envoy.Find.
	FindEnvoy func(configured string) (string, error)
	// WorkDir is where each real Envoy gets its directory (bootstrap,
	// admin address); default the system temporary directory.
	WorkDir string
	// EnvoyEnv is added to a real Envoy's environment.
	EnvoyEnv []string
	// Discovered gives the endpoints discovery currently reports for a
	// Kubernetes or Consul upstream (routable ones only). The sandbox
	// starts one mock per endpoint so a test request shows which real
	// endpoint would have been picked. nil, or no answer, gives such an
	// upstream a single mock.
	Discovered func(upstream string) ([]model.Endpoint, bool)
}

// Service is the sandbox of every gateway that has been sent a test
// request: one for its draft and one for each published version a request
// targeted lately. It is safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger
	// pool holds the mocks of the drafts' sandboxes; each version's
	// sandbox has a pool of its own (see gatewaySandbox.pool).
	pool *upstream.Pool

	mu sync.Mutex
	// gateways are the running sandboxes by instance key.
	gateways map[string]*gatewaySandbox
	// locks serialize the builds and the stop of each sandbox, by
	// instance key.
	locks map[string]*gatewayLock
	ports map[string]*portPicker // by instance key; touched under its lock
	// versions are the published versions' sandboxes in use or kept, by
	// instance key, for the bound of Options.MaxVersions.
	versions map[string]*versionUse
	// closed is set by Close: nothing starts after it.
	closed bool
	// uses is the upstreams each gateway's sandbox has mocks for. Mocks
	// are per upstream and shared, so one gateway's rebuild must not stop
	// the mocks another still uses.
	uses map[string]map[string]bool
	// ca issues the certificates of TLS mocks; made on first use, kept in
	// memory only.
	ca *upstream.CA
	// translators keep each sandbox's translation by instance key, so a
	// rebuild after an edit of the draft translates only the rules it
	// changed.
	translators translate.Translators
	// life ends at Close, and with it every request in flight.
	life    context.Context
	endLife context.CancelFunc
}

// errClosed is the answer of a service that was closed.
var errClosed = errors.New("the sandbox is shutting down")

// gatewaySandbox is one running sandbox: of a gateway's draft, or of one
// of its published versions.
type gatewaySandbox struct {
	gateway string
	// version is the published version it runs; 0 for the draft.
	version int64
	// pool holds the mocks of a version's sandbox, which are its own: an
	// older version may give an upstream other endpoints than the draft,
	// and mocks shared by name would be resized under the other's feet.
	// nil for a draft, whose mocks are in Service.pool.
	pool   *upstream.Pool
	hash   string
	engine string
	binary string // the Envoy executable; "" for the sim
	plane  dataPlane
	prog   *rules.Program
	res    *translate.Resources
	// addrs is where each listener is served; tls marks the listeners
	// that terminate TLS.
	addrs map[string]string
	tls   map[string]bool
	// own marks the listeners that read a route configuration of their
	// own: a request that names no listener goes to another when it can,
	// as the evaluator then takes only the rules of every listener.
	own map[string]bool
}

// close stops the data plane, and a version's mocks.
func (gs *gatewaySandbox) close() error {
	if gs.pool != nil {
		gs.pool.Close()
	}
	if gs.plane == nil {
		return nil
	}
	return gs.plane.close()
}

// New returns a service; sandboxes start on the first request for their
// gateway.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.FindEnvoy == nil {
		opts.FindEnvoy = envoy.Find
	}
	if opts.MaxVersions <= 0 {
		opts.MaxVersions = 3
	}
	life, endLife := context.WithCancel(context.Background())
	return &Service{opts: opts, log: opts.Logger, pool: upstream.NewPool(opts.Logger), life: life, endLife: endLife,
		gateways: map[string]*gatewaySandbox{}, locks: map[string]*gatewayLock{}, ports: map[string]*portPicker{},
		uses: map[string]map[string]bool{}, versions: map[string]*versionUse{}}
}

// Close ends the requests in flight and stops every data plane and mock
// upstream.
func (s *Service) Close() error {
	s.endLife()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for name, gs := range s.gateways {
		errs = append(errs, gs.close())
		delete(s.gateways, name)
	}
	s.pool.Close()
	return errors.Join(errs...)
}

// Mocks returns the running mock upstreams.
func (s *Service) Mocks() []*upstream.Server { return s.pool.Servers() }

// SetProfile sets the latency and error profile of an upstream's mocks.
func (s *Service) SetProfile(upstreamName string, p upstream.Profile) bool {
	return s.pool.SetProfile(upstreamName, p)
}

// Health is the host health the gateway's simulated Envoy keeps, by
// cluster (the translator names clusters after upstreams), for clusters
// with active health checks or outlier detection. nil when the sandbox
// does not run or runs a real Envoy, which does not report it here.
func (s *Service) Health(gateway string) map[string]sim.ClusterHealth {
	s.mu.Lock()
	gs := s.gateways[gateway]
	s.mu.Unlock()
	if gs == nil {
		return nil
	}
	return gs.plane.health()
}

// Stats are the statistics of the gateway's data plane under Envoy's
// names (cluster.<name>.upstream_rq_pending_overflow, ...): the sim's, or
// a real Envoy's from its admin interface; nil when the sandbox does not
// run or they cannot be read.
func (s *Service) Stats(gateway string) map[string]uint64 {
	s.mu.Lock()
	gs := s.gateways[gateway]
	s.mu.Unlock()
	if gs == nil {
		return nil
	}
	return gs.plane.stats()
}

// Key is the ADS snapshot key of a gateway's sandbox.
func Key(gateway string) string { return "sandbox/" + gateway }

// instance names a sandbox: a gateway's draft (version 0) or one of its
// published versions.
type instance struct {
	gateway string
	version int64
}

// key is the instance key: the gateway for its draft, "<gateway>/v<N>"
// for version N. It names the sandbox's data plane to the ADS server
// ("sandbox/" + key) and in its certificate (pki.CheckSandboxName).
func (in instance) key() string {
	if in.version == 0 {
		return in.gateway
	}
	return in.gateway + "/v" + strconv.FormatInt(in.version, 10)
}

// workspaceHash identifies what a sandbox runs: any change to the
// gateway's rules, upstreams or listeners, to the endpoints discovery
// reports for them, or of the engine or its Envoy binary rebuilds the
// sandbox.
func workspaceHash(ws model.Workspace, discovered map[string][]model.Endpoint, engine, binary string) (string, error) {
	b, err := json.Marshal(struct {
		WS         model.Workspace
		Discovered map[string][]model.Endpoint
		Engine     string
		Binary     string
	}{ws, discovered, engine, binary})
	if err != nil {
		return "", fmt.Errorf("hash workspace: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// gatewayLock serializes the work on one gateway's sandbox. It stays in
// Service.locks while anyone holds it or waits for it, so a second lock
// for the same gateway can never be made beside it.
type gatewayLock struct {
	mu sync.Mutex
	// users counts holders and waiters; guarded by Service.mu.
	users int
}

// lockGateway takes the lock of the sandbox of instance key gateway and
// returns its release.
func (s *Service) lockGateway(gateway string) (unlock func()) {
	s.mu.Lock()
	l := s.locks[gateway]
	if l == nil {
		l = &gatewayLock{}
		s.locks[gateway] = l
	}
	l.users++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		if l.users--; l.users == 0 {
			delete(s.locks, gateway)
		}
	}
}

// Stop stops the gateway's sandboxes, if they run, its draft's and its
// versions': their data planes, the mocks no other sandbox uses, and
// their snapshots on the ADS server. The gateway was deleted, say. A build
// in progress finishes first.
func (s *Service) Stop(gateway string) error {
	s.forgetVersions(gateway)
	errs := []error{s.stopInstance(instance{gateway: gateway})}
	s.mu.Lock()
	var versions []instance
	for _, gs := range s.gateways {
		if gs.gateway == gateway && gs.version != 0 {
			versions = append(versions, instance{gateway, gs.version})
		}
	}
	s.mu.Unlock()
	for _, in := range versions {
		errs = append(errs, s.stopInstance(in))
	}
	return errors.Join(errs...)
}

// stopInstance stops one sandbox.
func (s *Service) stopInstance(in instance) error {
	defer s.lockGateway(in.key())()
	return s.stopLocked(in)
}

// stopLocked is stopInstance for a caller holding the sandbox's lock.
func (s *Service) stopLocked(in instance) error {
	key := in.key()
	s.mu.Lock()
	gs := s.gateways[key]
	delete(s.gateways, key)
	delete(s.ports, key)
	if in.version == 0 {
		s.retainMocksLocked(key, nil)
	}
	s.mu.Unlock()
	s.translators.Forget(key)
	s.opts.ADS.DeleteGateway(Key(key))
	if gs == nil {
		return nil
	}
	s.log.Info("sandbox: stopped", "gateway", in.gateway, "version", in.version)
	return gs.close()
}

// Running lists the gateways whose sandbox runs (of the draft or of a
// version), sorted.
func (s *Service) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.gateways))
	for _, gs := range s.gateways {
		if !slices.Contains(out, gs.gateway) {
			out = append(out, gs.gateway)
		}
	}
	sort.Strings(out)
	return out
}

// Prune stops the sandboxes of gateways the store no longer has. The
// service wiring calls it periodically, since a delete goes to the store
// without passing here.
func (s *Service) Prune(ctx context.Context) error {
	var errs []error
	for _, name := range s.Running() {
		_, err := s.opts.Store.GatewayWorkspace(ctx, name)
		switch model.ErrorCode(err) {
		case "":
		case model.ENOTFOUND:
			errs = append(errs, s.Stop(name))
		default:
			errs = append(errs, fmt.Errorf("prune sandbox of %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// ensure brings the sandbox up to date and returns it ready: the data
// plane has accepted the configuration. The draft's sandbox follows the
// draft, read here; a version's runs published, the workspace recorded
// for that version.
func (s *Service) ensure(ctx context.Context, in instance, published *model.Workspace) (*gatewaySandbox, error) {
	gateway, key := in.gateway, in.key()
	defer s.lockGateway(key)()
	var ws model.Workspace
	if published != nil {
		ws = *published
	} else {
		var err error
		ws, err = s.opts.Store.GatewayWorkspace(ctx, gateway)
		if model.ErrorCode(err) == model.ENOTFOUND {
			// Gone from the store: its sandbox must not linger.
			_ = s.stopLocked(in)
		}
		if err != nil {
			return nil, err
		}
	}
	engine, binary, err := s.engine(ctx)
	if err != nil {
		return nil, err
	}
	discovered := s.discovered(ws)
	hash, err := workspaceHash(ws, discovered, engine, binary)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	gs := s.gateways[key]
	pp := s.ports[key]
	if pp == nil {
		pp = newPortPicker()
		s.ports[key] = pp
	}
	s.mu.Unlock()
	if gs != nil && gs.hash == hash {
		return gs, nil
	}
	pool := s.pool
	if in.version != 0 {
		if gs != nil {
			pool = gs.pool
		} else {
			// Closed below unless a sandbox that keeps it is recorded.
			pool = upstream.NewPool(s.log)
			kept := false
			defer func() {
				if !kept {
					pool.Close()
				}
			}()
			defer func() { kept = s.owns(key, pool) }()
		}
	}
	endpoints, keep, err := s.startMocks(pool, ws, discovered)
	if err != nil {
		return nil, err
	}
	if in.version == 0 {
		s.mu.Lock()
		s.retainMocksLocked(key, keep)
		s.mu.Unlock()
	}
	res, err := s.translators.For(key).Translate(ws, gateway, translate.Options{Endpoints: endpoints})
	if err != nil {
		return nil, err
	}
	if hasUpstreamTLS(ws) {
		ca, err := s.sandboxCA()
		if err != nil {
			return nil, err
		}
		if res, err = trustSandboxCA(res, ca.CertPEM()); err != nil {
			return nil, fmt.Errorf("sandbox for %q: %w", gateway, err)
		}
	}
	res = checkIdleClusters(res)
	res, addrs, err := pp.remapListeners(res)
	if err != nil {
		return nil, err
	}
	version := "sandbox-" + hash
	since := time.Now()
	if err := s.opts.ADS.SetGateway(ctx, Key(key), res, version); err != nil {
		return nil, fmt.Errorf("sandbox snapshot for %q: %w", key, err)
	}
	if gs != nil && (gs.engine != engine || gs.binary != binary) {
		// The engine or the Envoy binary changed: the old data plane
		// frees the listener ports before the new one binds them. A
		// version's mocks stay for the new one.
		s.mu.Lock()
		delete(s.gateways, key)
		s.mu.Unlock()
		if err := gs.plane.close(); err != nil {
			s.log.Warn("sandbox: stop the previous data plane", "gateway", gateway, "version", in.version, "engine", gs.engine, "err", err)
		}
		gs = nil
	}
	if gs == nil {
		started := &gatewaySandbox{gateway: gateway, version: in.version, engine: engine, binary: binary}
		if in.version != 0 {
			started.pool = pool
		}
		if engine == EngineEnvoy {
			started.plane, err = s.startEnvoy(ctx, key, binary)
		} else {
			started.plane, err = s.startSim(key)
		}
		if err != nil {
			return nil, err
		}
		// Kept even if this configuration fails, so the next one reuses
		// the data plane; the empty hash never passes for up to date.
		s.mu.Lock()
		closed := s.closed
		if !closed {
			s.gateways[key] = started
		}
		s.mu.Unlock()
		if closed {
			return nil, errors.Join(errClosed, started.plane.close())
		}
		gs = started
	}
	// A new value, not an update in place: requests in flight keep the
	// configuration they started with.
	gs = &gatewaySandbox{gateway: gateway, version: in.version, pool: gs.pool, engine: engine, binary: binary, plane: gs.plane}
	if err := gs.plane.waitConfigured(ctx, configured{version: version, since: since, res: res, addrs: addrs}); err != nil {
		return nil, fmt.Errorf("sandbox for %q: %w", key, err)
	}
	gs.hash, gs.res, gs.prog, gs.addrs = hash, res, rules.Compile(ws.Routes, gateway), addrs
	gs.tls, gs.own = map[string]bool{}, map[string]bool{}
	for _, l := range res.Listeners {
		gs.tls[l.GetName()] = listenerTLS(l)
		gs.own[l.GetName()] = ownRoutes(l, gateway)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	s.gateways[key] = gs
	s.mu.Unlock()
	s.log.Info("sandbox: ready", "gateway", gateway, "version", in.version, "hash", hash, "engine", engine)
	return gs, nil
}

// owns reports whether the sandbox recorded under key keeps pool.
func (s *Service) owns(key string, pool *upstream.Pool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs := s.gateways[key]
	return gs != nil && gs.pool == pool
}

// served reports whether the sim serves every listener of res: a TLS
// listener warms, unserved, until its secrets arrive, like Envoy's, and
// so does a cluster whose TLS context names secrets.
func served(st sim.Status, res *translate.Resources) bool {
	if len(st.Warming) > 0 || len(st.WarmingClusters) > 0 {
		return false
	}
	for _, l := range res.Listeners {
		if st.Listeners[l.GetName()] == "" {
			return false
		}
	}
	return true
}

func nackedSince(st sim.Status, t time.Time) bool {
	return len(st.Nacks) > 0 && !st.Nacks[len(st.Nacks)-1].At.Before(t)
}

// hasConfig reports whether the data plane accepted exactly res.
func hasConfig(a sim.Accepted, res *translate.Resources) bool {
	if len(a.Listeners) != len(res.Listeners) || len(a.Routes) != len(res.Routes) || len(a.Clusters) != len(res.Clusters) || len(a.Endpoints) != len(res.Endpoints) {
		return false
	}
	for _, l := range res.Listeners {
		if !proto.Equal(a.Listeners[l.GetName()], l) {
			return false
		}
	}
	for _, r := range res.Routes {
		if !proto.Equal(a.Routes[r.GetName()], r) {
			return false
		}
	}
	for _, c := range res.Clusters {
		if !proto.Equal(a.Clusters[c.GetName()], c) {
			return false
		}
	}
	for _, e := range res.Endpoints {
		if !proto.Equal(a.Endpoints[e.GetClusterName()], e) {
			return false
		}
	}
	// Secrets are fetched by the names the listeners and clusters give,
	// so only those count.
	for _, sec := range res.Secrets {
		if got, ok := a.Secrets[sec.GetName()]; ok && !proto.Equal(got, sec) {
			return false
		}
	}
	return true
}

// discovered returns what discovery reports for the workspace's
// Kubernetes and Consul upstreams, by upstream; upstreams with no
// endpoints (yet) are left out and get a single mock.
func (s *Service) discovered(ws model.Workspace) map[string][]model.Endpoint {
	if s.opts.Discovered == nil {
		return nil
	}
	out := map[string][]model.Endpoint{}
	for _, u := range ws.Upstreams {
		if u.Kubernetes == nil && u.Consul == nil {
			continue
		}
		if eps, ok := s.opts.Discovered(u.Name); ok && len(eps) > 0 {
			out[u.Name] = slices.Clone(eps)
		}
	}
	return out
}

// startMocks runs one mock per endpoint of every upstream and returns the
// endpoint overrides that point the translation at them. Static upstreams
// get one per static endpoint; Kubernetes and Consul upstreams one per
// endpoint discovery reports (in its order, with its weights), each mock
// saying which real endpoint it stands for; without any, one mock. Mocks
// of upstreams that no longer exist are stopped; the rest keep their
// ports. keep is the upstreams the mocks are for.
func (s *Service) startMocks(pool *upstream.Pool, ws model.Workspace, discovered map[string][]model.Endpoint) (endpoints map[string][]model.Endpoint, keep map[string]bool, err error) {
	out := map[string][]model.Endpoint{}
	keep = map[string]bool{}
	for _, u := range ws.Upstreams {
		n, weights, real := 1, []int{0}, []string{""}
		if u.Static != nil && len(u.Static.Endpoints) > 0 {
			n, weights, real = len(u.Static.Endpoints), nil, make([]string, len(u.Static.Endpoints))
			for _, e := range u.Static.Endpoints {
				weights = append(weights, e.Weight)
			}
		}
		if eps := discovered[u.Name]; len(eps) > 0 {
			n, weights, real = len(eps), nil, nil
			for _, e := range eps {
				weights = append(weights, e.Weight)
				real = append(real, net.JoinHostPort(e.Address, strconv.Itoa(e.Port)))
			}
		}
		mode, err := s.mockMode(u)
		if err != nil {
			return nil, nil, err
		}
		servers, err := pool.EnsureMode(u.Name, n, mode)
		if err != nil {
			return nil, nil, err
		}
		keep[u.Name] = true
		for i, srv := range servers {
			srv.SetStandsFor(real[i])
			out[u.Name] = append(out[u.Name], model.Endpoint{Address: "127.0.0.1", Port: srv.Port(), Weight: weights[i]})
		}
	}
	if pool != s.pool {
		// A version's own pool: nothing else uses it.
		pool.Retain(keep)
	}
	return out, keep, nil
}

func hasUpstreamTLS(ws model.Workspace) bool {
	for _, u := range ws.Upstreams {
		if u.TLS != nil {
			return true
		}
	}
	return false
}

// retainMocksLocked records the upstreams gateway's sandbox uses (nil:
// none) and stops the mocks no sandbox uses any more. Callers hold s.mu.
func (s *Service) retainMocksLocked(gateway string, uses map[string]bool) {
	if uses == nil {
		delete(s.uses, gateway)
	} else {
		s.uses[gateway] = uses
	}
	all := map[string]bool{}
	for _, names := range s.uses {
		for name := range names {
			all[name] = true
		}
	}
	s.pool.Retain(all)
}

// TestRequest is the body of POST /sandbox/requests: a request, or a curl
// command line to take it from.
type TestRequest struct {
	Gateway string `json:"gateway"`
	// Target is what the request runs against (see ParseTarget): the
	// draft (default), the live version or a published version "vN",
	// each translated and served to a data plane of its own.
	Target  string         `json:"target,omitempty"`
	Request *rules.Request `json:"request,omitempty"`
	Curl    string         `json:"curl,omitempty"`
}

// Response is what came back to the client.
type Response struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// TLSResult describes the handshake of a test request sent to an HTTPS
// listener.
type TLSResult struct {
	// ServerName is the SNI sent: the request's host.
	ServerName string `json:"serverName"`
	// Version is the negotiated TLS version ("TLS 1.3") and Protocol the
	// ALPN protocol (h2 or http/1.1).
	Version  string `json:"version"`
	Protocol string `json:"protocol,omitempty"`
	// Subject and DNSNames are those of the certificate the gateway
	// presented, which its filter chains chose by SNI.
	Subject  string   `json:"subject"`
	DNSNames []string `json:"dnsNames,omitempty"`
}

// Result is the reply of POST /sandbox/requests.
type Result struct {
	// Version is the published version the request ran against; 0, left
	// out, for the draft.
	Version  int64    `json:"version,omitempty"`
	Response Response `json:"response"`
	// Upstream and Endpoint say which mock answered; nil and "" when the
	// gateway answered by itself.
	Upstream *string `json:"upstream"`
	Endpoint string  `json:"endpoint,omitempty"`
	// StandsFor is the real endpoint (host:port) the answering mock
	// replaces, for Kubernetes and Consul upstreams: the endpoint the
	// gateway would have picked.
	StandsFor string `json:"standsFor,omitempty"`
	// Received is the request as the mock got it, with the TLS handshake
	// (version, SNI, ALPN) when the gateway originated TLS to it.
	Received *upstream.Received `json:"received"`
	// Engine is the data plane that answered: sim or envoy.
	Engine string `json:"engine"`
	// TLS is the handshake with an HTTPS listener; nil for plain HTTP.
	TLS *TLSResult `json:"tls,omitempty"`
	// Rule is the rule the data plane applied. The sim names the route it
	// took; a real Envoy does not report it, so with envoy this is the
	// reference evaluator's rule (the response, upstream and received
	// request are still Envoy's).
	Rule *string `json:"rule"`
	// RuleMismatch is set when the reference evaluator chose another rule:
	// the translation does not mean what the rules say.
	RuleMismatch *Mismatch `json:"ruleMismatch,omitempty"`
	// Trace is the reference evaluator's per-rule, per-condition trace.
	Trace []rules.RuleTrace `json:"trace"`
	// Envoy is the simulated Envoy's side: virtual host and route trace,
	// filters that answered, upstream attempts. nil with a real Envoy,
	// which reports only what EnvoyHeaders holds.
	Envoy *sim.Exchange `json:"envoy"`
	// WebSocket is the message exchange of a request that upgraded to a
	// WebSocket: nil for any other request.
	WebSocket *WebSocketResult `json:"webSocket,omitempty"`
	// EnvoyHeaders are the response headers a real Envoy added about the
	// exchange (x-envoy-*, server); set with the envoy engine only.
	EnvoyHeaders map[string][]string `json:"envoyHeaders,omitempty"`
	DurationMs   float64             `json:"durationMs"`
	// Curl is the request as a curl command against the gateway.
	Curl string `json:"curl"`
}

// Mismatch reports the two answers that should have been the same.
type Mismatch struct {
	Envoy     string `json:"envoy"`
	Evaluator string `json:"evaluator"`
}

// Send runs one test request; body is a TestRequest. It is the API's
// sandbox hook.
func (s *Service) Send(ctx context.Context, body json.RawMessage) (any, error) {
	var tr TestRequest
	if err := strictjson.Decode(body, &tr); err != nil {
		return nil, err
	}
	return s.Do(ctx, tr)
}

// Do runs one test request.
func (s *Service) Do(ctx context.Context, tr TestRequest) (*Result, error) {
	var p model.Problems
	if tr.Gateway == "" {
		p.Add("gateway", "required")
	}
	if _, err := ParseTarget(tr.Target); err != nil {
		p.Add("target", "%v", err)
	}
	req := tr.Request
	switch {
	case tr.Curl != "" && req != nil:
		p.Add("curl", "give either request or curl, not both")
	case tr.Curl != "":
		r, err := ParseCurl(tr.Curl)
		if err != nil {
			p.Add("curl", "%s", err.Error())
		}
		req = r
	case req == nil:
		p.Add("request", "required (or curl)")
	case req.URL == "":
		p.Add("request.url", "required: a URL or a request target such as /v1/cart?x=1")
	}
	// A request net/http cannot send, or a gateway would refuse, is the
	// caller's mistake: it is answered here, field by field, before any
	// sandbox starts.
	if req != nil && req.URL != "" && (tr.Curl == "" || tr.Request == nil) {
		where := "request"
		if tr.Curl != "" {
			where = "curl"
		}
		if err := req.Validate(); err != nil {
			p.Merge(where, err)
		} else if _, err := requestURL(req.URL); err != nil {
			// url.Error repeats the whole URL; the field says which it is.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			p.Add(where+".url", "%s", err.Error())
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	defer context.AfterFunc(s.life, cancel)()
	in, published, err := s.resolve(ctx, tr.Gateway, tr.Target)
	if err != nil {
		return nil, err
	}
	if in.version != 0 {
		defer s.useVersion(in)()
	}
	gs, err := s.ensure(ctx, in, published)
	if err != nil {
		return nil, err
	}
	return s.send(ctx, gs, *req)
}

func (s *Service) send(ctx context.Context, gs *gatewaySandbox, req rules.Request) (*Result, error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	u, err := requestURL(req.URL)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "request.url: %v", err)
	}
	scheme := u.Scheme
	if req.Scheme != "" {
		scheme = req.Scheme
	}
	listener := req.Listener
	if _, ok := gs.addrs[listener]; listener != "" && !ok {
		return nil, model.Errorf(model.EINVALID, "request.listener: gateway %q has no listener %q", gs.gateway, listener)
	}
	if listener == "" {
		listener = pickListener(gs.tls, gs.own, scheme == "https")
	}
	if listener == "" {
		return nil, model.Errorf(model.EINVALID, "gateway %q has no listener in the sandbox", gs.gateway)
	}
	// Both engines terminate TLS on a TLS listener, choosing the
	// certificate by SNI, so the request goes over TLS with the SNI set
	// from the request's host (below).
	target, client := "http://", &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if gs.tls[listener] {
		target = "https://"
		// The certificate is not verified (InsecureSkipVerify): the
		// draft's certificates are made for the real host names and are
		// often self-signed, and the test is about routing, not about
		// trust. The result reports which certificate was presented.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true} //nolint:gosec // see above
		// The transport is this request's alone: its connection must
		// not outlive it.
		defer tr.CloseIdleConnections()
		client.Transport = tr
	}
	hreq, err := http.NewRequestWithContext(ctx, method, target+gs.addrs[listener]+u.RequestURI(), strings.NewReader(req.Body))
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "request: %v", err)
	}
	hreq.Host = u.Host
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
	if t, ok := client.Transport.(*http.Transport); ok {
		t.TLSClientConfig.ServerName = hostOnly(hreq.Host)
	}
	id, wait := gs.plane.capture()
	if wait != nil {
		hreq.Header.Set(sim.HeaderCapture, id)
	}
	start := time.Now()
	var ans answer
	if hreq.Header.Get("Upgrade") != "" {
		ans, err = upgradeTrip(ctx, gs.addrs[listener], gs.tls[listener], hreq)
	} else {
		ans, err = roundTrip(client, hreq)
	}
	if err != nil {
		return nil, err
	}
	dur := time.Since(start)
	res := &Result{
		Version:    gs.version,
		Response:   Response{Status: ans.status, Headers: lowerHeaders(ans.header), Body: string(ans.body)},
		Engine:     gs.engine,
		DurationMs: float64(dur.Microseconds()) / 1000,
		WebSocket:  ans.ws,
	}
	if cs := ans.tls; cs != nil {
		res.TLS = &TLSResult{ServerName: cs.ServerName, Version: tls.VersionName(cs.Version), Protocol: cs.NegotiatedProtocol}
		if len(cs.PeerCertificates) > 0 {
			leaf := cs.PeerCertificates[0]
			res.TLS.Subject, res.TLS.DNSNames = leaf.Subject.CommonName, leaf.DNSNames
		}
	}
	if wait != nil {
		if res.Envoy, err = wait(ctx); err != nil {
			return nil, fmt.Errorf("sandbox trace: %w", err)
		}
	} else {
		res.EnvoyHeaders = envoyHeaders(res.Response.Headers)
	}
	if name := ans.header.Get(upstream.HeaderUpstream); name != "" {
		var echo upstream.Echo
		switch {
		case ans.status == http.StatusSwitchingProtocols:
			// An upgrade has no echo body: the mock names itself in
			// the 101's headers.
			res.Upstream, res.Endpoint = &name, ans.header.Get(upstream.HeaderEndpoint)
		case json.Unmarshal(ans.body, &echo) == nil:
			res.Upstream, res.Endpoint, res.Received, res.StandsFor = &echo.Upstream, echo.Endpoint, &echo.Received, echo.StandsFor
		}
	}
	// The evaluator sees the request the client sent (scheme included).
	eval := req
	eval.Method = method
	if eval.Scheme == "" {
		eval.Scheme = scheme
	}
	ref := gs.prog.Evaluate(eval)
	res.Trace = ref.Trace
	if res.Envoy == nil {
		// A real Envoy does not say which route it took; see Result.Rule.
		if ref.Rule != "" {
			res.Rule = &ref.Rule
		}
	} else {
		envoyRule := ""
		if res.Envoy.Decision != nil {
			// The translator names routes after rules; its default-response
			// route belongs to no rule.
			envoyRule, _ = translate.RuleOfRoute(res.Envoy.Decision.Route)
		}
		if envoyRule != "" {
			res.Rule = &envoyRule
		}
		if envoyRule != ref.Rule {
			res.RuleMismatch = &Mismatch{Envoy: envoyRule, Evaluator: ref.Rule}
			s.log.Error("sandbox: the simulated Envoy and the evaluator disagree", "gateway", gs.gateway, "version", gs.version, "envoy", envoyRule, "evaluator", ref.Rule, "url", req.URL)
		}
	}
	res.Curl = CurlCommand(method, scheme+"://"+hostOr(u.Host, hreq.Host)+u.RequestURI(), req.Headers, req.Body)
	return res, nil
}

// envoyHeaders picks the response headers in which Envoy reports on an
// exchange.
func envoyHeaders(h map[string][]string) map[string][]string {
	out := map[string][]string{}
	for name, vals := range h {
		if strings.HasPrefix(name, "x-envoy-") || name == "server" {
			out[name] = vals
		}
	}
	return out
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func hostOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// pickListener chooses the listener a request that names none is sent
// to: the first by name that matches the request's scheme (TLS or not)
// and reads the gateway's route configuration (not own), else the first
// that matches the scheme, else the first.
func pickListener(tlsByName, own map[string]bool, tls bool) string {
	names := make([]string, 0, len(tlsByName))
	for name := range tlsByName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, n := range names {
		if tlsByName[n] == tls && !own[n] {
			return n
		}
	}
	for _, n := range names {
		if tlsByName[n] == tls {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// requestURL accepts an absolute URL or a request target.
func requestURL(raw string) (*url.URL, error) {
	if strings.HasPrefix(raw, "/") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		u.Scheme = "http"
		return u, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	return u, nil
}

func lowerHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[strings.ToLower(k)] = v
	}
	return out
}
