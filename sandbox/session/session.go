// Package session runs the sandbox: for a gateway's draft it starts mock
// upstreams for every upstream endpoint, translates the draft with the
// endpoints remapped to the mocks, serves that as the "sandbox/<gateway>"
// snapshot on the ADS server, and runs the simulated Envoy against it over
// real gRPC. A test request then goes through the simulated gateway to a
// mock upstream, and the reply shows what happened on the way, checked
// against the reference evaluator.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
	"github.com/routedeck/routedeck/backend/xds"
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
	// ADS is the server the sandbox snapshots go to, and ADSAddr the
	// address it serves on (the sim connects there over gRPC).
	ADS     *xds.Server
	ADSAddr string
	Logger  *slog.Logger
	// Timeout bounds one test request, sandbox start included; default 30s.
	Timeout time.Duration
}

// Service is the sandbox of every gateway that has been sent a test
// request. It is safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger
	pool *upstream.Pool

	mu        sync.Mutex
	gateways  map[string]*gatewaySandbox
	buildLock map[string]*sync.Mutex
}

type gatewaySandbox struct {
	gateway string
	hash    string
	dp      *sim.DataPlane
	prog    *rules.Program
	res     *translate.Resources
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
	return &Service{opts: opts, log: opts.Logger, pool: upstream.NewPool(opts.Logger),
		gateways: map[string]*gatewaySandbox{}, buildLock: map[string]*sync.Mutex{}}
}

// Close stops every data plane and mock upstream.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for name, gs := range s.gateways {
		errs = append(errs, gs.dp.Close())
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

// Key is the ADS snapshot key of a gateway's sandbox.
func Key(gateway string) string { return "sandbox/" + gateway }

// workspaceHash identifies a draft: any change to the gateway's rules,
// upstreams or listeners rebuilds the sandbox.
func workspaceHash(ws model.Workspace) (string, error) {
	b, err := json.Marshal(ws)
	if err != nil {
		return "", fmt.Errorf("hash workspace: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// ensure brings the gateway's sandbox up to date with its draft and
// returns it ready: the data plane has accepted the draft's configuration.
func (s *Service) ensure(ctx context.Context, gateway string) (*gatewaySandbox, error) {
	s.mu.Lock()
	lock := s.buildLock[gateway]
	if lock == nil {
		lock = &sync.Mutex{}
		s.buildLock[gateway] = lock
	}
	s.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()

	ws, err := s.opts.Store.GatewayWorkspace(ctx, gateway)
	if err != nil {
		return nil, err
	}
	hash, err := workspaceHash(ws)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	gs := s.gateways[gateway]
	s.mu.Unlock()
	if gs != nil && gs.hash == hash {
		return gs, nil
	}
	endpoints, err := s.startMocks(ws)
	if err != nil {
		return nil, err
	}
	res, err := translate.Gateway(ws, gateway, translate.Options{Endpoints: endpoints})
	if err != nil {
		return nil, err
	}
	if err := s.opts.ADS.SetGateway(ctx, Key(gateway), res, "sandbox-"+hash); err != nil {
		return nil, fmt.Errorf("sandbox snapshot for %q: %w", gateway, err)
	}
	var dp *sim.DataPlane
	if gs != nil {
		dp = gs.dp
	} else {
		if dp, err = sim.Start(sim.DataPlaneOptions{ADS: s.opts.ADSAddr, NodeID: "sandbox-" + gateway, Cluster: Key(gateway), Logger: s.log}); err != nil {
			return nil, err
		}
		// Kept even if this draft fails, so the next one reuses the data
		// plane; the empty hash never passes for up to date.
		s.mu.Lock()
		s.gateways[gateway] = &gatewaySandbox{gateway: gateway, dp: dp}
		s.mu.Unlock()
	}
	// A new value, not an update in place: requests in flight keep the
	// draft they started with.
	gs = &gatewaySandbox{gateway: gateway, dp: dp}
	since := time.Now()
	if _, err := gs.dp.WaitFor(ctx, func(st sim.Status) bool {
		return hasConfig(gs.dp.Accepted(), res) || nackedSince(st, since)
	}); err != nil {
		return nil, fmt.Errorf("sandbox for %q did not take its configuration: %w", gateway, err)
	}
	if st := gs.dp.Status(); nackedSince(st, since) {
		n := st.Nacks[len(st.Nacks)-1]
		return nil, model.Errorf(model.EINVALID, "the simulated gateway refused the draft (%s): %s", n.TypeURL, n.Error)
	}
	gs.hash, gs.res, gs.prog = hash, res, rules.Compile(ws.Routes, gateway)
	s.mu.Lock()
	s.gateways[gateway] = gs
	s.mu.Unlock()
	s.log.Info("sandbox: ready", "gateway", gateway, "draft", hash)
	return gs, nil
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
	return true
}

// startMocks runs one mock per endpoint of every upstream (one for
// upstreams whose endpoints are discovered) and returns the endpoint
// overrides that point the translation at them. Mocks of upstreams that
// no longer exist are stopped; the rest keep their ports.
func (s *Service) startMocks(ws model.Workspace) (map[string][]model.Endpoint, error) {
	out := map[string][]model.Endpoint{}
	keep := map[string]bool{}
	for _, u := range ws.Upstreams {
		n, weights := 1, []int{0}
		if u.Static != nil && len(u.Static.Endpoints) > 0 {
			n, weights = len(u.Static.Endpoints), nil
			for _, e := range u.Static.Endpoints {
				weights = append(weights, e.Weight)
			}
		}
		h2 := u.Protocol == "http2" || u.Protocol == "grpc"
		servers, err := s.pool.Ensure(u.Name, n, h2)
		if err != nil {
			return nil, err
		}
		keep[u.Name] = true
		for i, srv := range servers {
			out[u.Name] = append(out[u.Name], model.Endpoint{Address: "127.0.0.1", Port: srv.Port(), Weight: weights[i]})
		}
	}
	s.pool.Retain(keep)
	return out, nil
}

// TestRequest is the body of POST /sandbox/requests: a request, or a curl
// command line to take it from.
type TestRequest struct {
	Gateway string         `json:"gateway"`
	Request *rules.Request `json:"request,omitempty"`
	Curl    string         `json:"curl,omitempty"`
}

// Response is what came back to the client.
type Response struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// Result is the reply of POST /sandbox/requests.
type Result struct {
	Response Response `json:"response"`
	// Upstream and Endpoint say which mock answered; nil and "" when the
	// gateway answered by itself.
	Upstream *string            `json:"upstream"`
	Endpoint string             `json:"endpoint,omitempty"`
	Received *upstream.Received `json:"received"`
	// Rule is the rule the simulated Envoy applied, from its route name.
	Rule *string `json:"rule"`
	// RuleMismatch is set when the reference evaluator chose another rule:
	// the translation does not mean what the rules say.
	RuleMismatch *Mismatch `json:"ruleMismatch,omitempty"`
	// Trace is the reference evaluator's per-rule, per-condition trace.
	Trace []rules.RuleTrace `json:"trace"`
	// Envoy is the simulated Envoy's side: virtual host and route trace,
	// filters that answered, upstream attempts.
	Envoy      *sim.Exchange `json:"envoy"`
	DurationMs float64       `json:"durationMs"`
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
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, model.Errorf(model.EINVALID, "invalid JSON body: %v", err)
	}
	return s.Do(ctx, tr)
}

// Do runs one test request.
func (s *Service) Do(ctx context.Context, tr TestRequest) (*Result, error) {
	var p model.Problems
	if tr.Gateway == "" {
		p.Add("gateway", "required")
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
	if err := p.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	gs, err := s.ensure(ctx, tr.Gateway)
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
	st := gs.dp.Status()
	listener := pickListener(st, scheme == "https")
	if listener == "" {
		return nil, model.Errorf(model.EINVALID, "gateway %q has no listener in the sandbox", gs.gateway)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, "http://"+st.Listeners[listener]+u.RequestURI(), strings.NewReader(req.Body))
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
	id, wait := gs.dp.Capture()
	hreq.Header.Set(sim.HeaderCapture, id)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := time.Now()
	resp, err := client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("send test request: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read test response: %w", err)
	}
	dur := time.Since(start)
	ex, err := wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("sandbox trace: %w", err)
	}
	res := &Result{
		Response:   Response{Status: resp.StatusCode, Headers: lowerHeaders(resp.Header), Body: string(rb)},
		Envoy:      ex,
		DurationMs: float64(dur.Microseconds()) / 1000,
	}
	if name := resp.Header.Get(upstream.HeaderUpstream); name != "" {
		var echo upstream.Echo
		if json.Unmarshal(rb, &echo) == nil {
			res.Upstream, res.Endpoint, res.Received = &echo.Upstream, echo.Endpoint, &echo.Received
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
	envoyRule := ""
	if ex.Decision != nil {
		// The translator names routes after rules; its default-response
		// route belongs to no rule.
		envoyRule, _ = translate.RuleOfRoute(ex.Decision.Route)
	}
	if envoyRule != "" {
		res.Rule = &envoyRule
	}
	if envoyRule != ref.Rule {
		res.RuleMismatch = &Mismatch{Envoy: envoyRule, Evaluator: ref.Rule}
		s.log.Error("sandbox: the simulated Envoy and the evaluator disagree", "gateway", gs.gateway, "envoy", envoyRule, "evaluator", ref.Rule, "url", req.URL)
	}
	res.Curl = CurlCommand(method, scheme+"://"+hostOr(u.Host, hreq.Host)+u.RequestURI(), req.Headers, req.Body)
	return res, nil
}

func hostOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func pickListener(st sim.Status, tls bool) string {
	names := make([]string, 0, len(st.Listeners))
	for name := range st.Listeners {
		if st.Ready[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if st.TLS[n] == tls {
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
