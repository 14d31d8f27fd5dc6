// Package traffic runs traffic simulations in the sandbox: N requests drawn
// from a weighted mix, sent with bounded concurrency through a gateway's
// sandbox data plane to mock upstreams that have latency and error
// profiles, and summed up the way the dashboard charts them: requests per
// upstream, status codes, retries, rate-limited and failed requests, latency
// percentiles.
//
// A simulation is bounded in count (10,000 requests), concurrency (64) and
// time (60 seconds), and only ever sends to loopback addresses: it is a
// tool for seeing what a configuration does, not a load generator.
package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/sandbox/sim"
)

// Bounds of a simulation.
const (
	MaxRequests       = 10_000
	MaxConcurrency    = 64
	MaxTimeoutSeconds = 60

	defaultConcurrency    = 8
	defaultTimeoutSeconds = 30
)

// Spec is a simulation: the body of POST /sandbox/simulations.
type Spec struct {
	Gateway  string `json:"gateway"`
	Requests int    `json:"requests"`
	// Concurrency is how many requests are in flight at once (default 8).
	Concurrency int        `json:"concurrency,omitempty"`
	Mix         []MixEntry `json:"mix"`
	// Upstreams sets the behaviour of upstreams' mocks for the run.
	Upstreams map[string]UpstreamProfile `json:"upstreams,omitempty"`
	// TimeoutSeconds bounds the whole run (default 30); requests not sent
	// by then are not sent.
	TimeoutSeconds float64 `json:"timeoutSeconds,omitempty"`
	// Seed makes the draw from the mix repeatable; 0 picks one.
	Seed uint64 `json:"seed,omitempty"`
}

// MixEntry is one kind of request and its share of the traffic. Besides
// {"weight", "request": {...}} it accepts the request's fields inline
// ({"weight", "method", "url", "headers"}), as the dashboard sends them.
type MixEntry struct {
	Weight  int           `json:"weight"`
	Request rules.Request `json:"request"`
}

// UnmarshalJSON accepts both shapes of a mix entry.
func (m *MixEntry) UnmarshalJSON(b []byte) error { return strictjson.Decode(b, m) }

// DecodeStrict decodes either shape strictly (see backend/strictjson): a
// key is the entry's weight, its request, or a field of the inline
// request, never both a request and inline fields.
func (m *MixEntry) DecodeStrict(d *strictjson.Decoder, path string, tok json.Token) {
	*m = MixEntry{}
	var nested, inline string
	d.Object(tok, path, func(key, kp string) {
		switch key {
		case "weight":
			d.Value(&m.Weight, kp)
		case "request":
			nested = kp
			d.Value(&m.Request, kp)
		default:
			inline = kp
			m.Request.DecodeField(d, key, kp)
		}
	})
	if nested != "" && inline != "" {
		d.Problem(inline, "give the request either in request or inline, not both")
	}
}

// UpstreamProfile is how an upstream's mocks behave during the run.
type UpstreamProfile struct {
	LatencyMs float64 `json:"latencyMs,omitempty"`
	JitterMs  float64 `json:"jitterMs,omitempty"`
	// ErrorPercent of requests (0-100) get a 503.
	ErrorPercent float64 `json:"errorPercent,omitempty"`
	// ErrorRate is ErrorPercent as a fraction (0-1), as the dashboard
	// sends it; ErrorPercent wins when both are set.
	ErrorRate float64 `json:"errorRate,omitempty"`
	// Endpoints gives single endpoints of the upstream, by their index in
	// its endpoint list (from 0), a profile of their own instead: one
	// failing endpoint of two shows health checks and outlier detection
	// moving the traffic. Their own Endpoints must be empty.
	Endpoints map[int]UpstreamProfile `json:"endpoints,omitempty"`
}

// Percent is the error share in percent, from either field.
func (p UpstreamProfile) Percent() float64 {
	if p.ErrorPercent != 0 {
		return p.ErrorPercent
	}
	return p.ErrorRate * 100
}

// Validate reports every problem with field paths and fills in defaults.
func (s *Spec) Validate() error {
	var p model.Problems
	if s.Gateway == "" {
		p.Add("gateway", "required")
	}
	switch {
	case s.Requests <= 0:
		p.Add("requests", "required: how many requests to send (1 to %d)", MaxRequests)
	case s.Requests > MaxRequests:
		p.Add("requests", "at most %d", MaxRequests)
	}
	switch {
	case s.Concurrency == 0:
		s.Concurrency = defaultConcurrency
	case s.Concurrency < 0 || s.Concurrency > MaxConcurrency:
		p.Add("concurrency", "must be between 1 and %d", MaxConcurrency)
	}
	switch {
	case s.TimeoutSeconds == 0:
		s.TimeoutSeconds = defaultTimeoutSeconds
	case s.TimeoutSeconds < 0 || s.TimeoutSeconds > MaxTimeoutSeconds:
		p.Add("timeoutSeconds", "must be between 0 and %d", MaxTimeoutSeconds)
	}
	if len(s.Mix) == 0 {
		p.Add("mix", "required: at least one request")
	}
	total := 0
	for i, m := range s.Mix {
		at := model.Index("mix", i)
		if m.Weight < 0 {
			p.Add(at+".weight", "must not be negative")
		}
		total += max(m.Weight, 0)
		if m.Request.URL == "" {
			p.Add(at+".request.url", "required: a URL or a request target such as /v1/cart?x=1")
		}
		// The same checks as a single test request: a header the sandbox
		// cannot send is the spec's mistake, not a failed simulation.
		p.Merge(at+".request", m.Request.Validate())
	}
	if len(s.Mix) > 0 && total == 0 {
		p.Add("mix", "at least one weight must be positive")
	}
	names := make([]string, 0, len(s.Upstreams))
	for name := range s.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u, at := s.Upstreams[name], "upstreams."+name
		u.validate(&p, at)
		idx := make([]int, 0, len(u.Endpoints))
		for i := range u.Endpoints {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			e, eat := u.Endpoints[i], at+".endpoints."+strconv.Itoa(i)
			if i < 0 {
				p.Add(eat, "an endpoint index starts at 0")
			}
			if len(e.Endpoints) > 0 {
				p.Add(eat+".endpoints", "an endpoint has no endpoints of its own")
			}
			e.validate(&p, eat)
		}
	}
	return p.Err()
}

func (u UpstreamProfile) validate(p *model.Problems, at string) {
	if u.LatencyMs < 0 || u.LatencyMs > 10_000 {
		p.Add(at+".latencyMs", "must be between 0 and 10000")
	}
	if u.JitterMs < 0 || u.JitterMs > 10_000 {
		p.Add(at+".jitterMs", "must be between 0 and 10000")
	}
	if u.ErrorPercent < 0 || u.ErrorPercent > 100 {
		p.Add(at+".errorPercent", "must be between 0 and 100")
	}
	if u.ErrorRate < 0 || u.ErrorRate > 1 {
		p.Add(at+".errorRate", "must be between 0 and 1")
	}
}

// Outcome is what happened to one request.
type Outcome struct {
	Status int
	// Upstream answered; "" when the gateway answered by itself.
	Upstream string
	// Endpoint is the address of the mock that answered, if any.
	Endpoint string
	// Retries is the number of tries after the first.
	Retries int
	// RateLimited means a rate limit refused the request.
	RateLimited bool
	// Overflowed means a circuit breaker refused the request or its
	// retry (Envoy's UO response flag).
	Overflowed bool
	// Flags are Envoy's response flags ("UO", "UF,URX"), when known.
	Flags string
}

// Sender sends one request through a gateway's data plane. An error means
// no response came back (connection refused or reset, timeout).
type Sender interface {
	Send(ctx context.Context, gateway string, req rules.Request) (Outcome, error)
}

// Result sums up a run; the dashboard charts exactly these keys.
type Result struct {
	// Engine is the data plane the run went through: sim or envoy
	// (set by Simulator; empty when Run is given another Sender).
	Engine      string         `json:"engine,omitempty"`
	PerUpstream map[string]int `json:"perUpstream"`
	Statuses    map[string]int `json:"statuses"`
	Retries     int            `json:"retries"`
	RateLimited int            `json:"rateLimited"`
	// Overflowed counts requests a circuit breaker refused, or whose
	// retry it refused (Envoy's UO flag).
	Overflowed int `json:"overflowed"`
	// ResponseFlags counts requests by each Envoy response flag they
	// carried (UO, UF, UT, URX, NR, ...).
	ResponseFlags map[string]int `json:"responseFlags"`
	// Clusters are, by cluster, the data plane's request, retry and
	// overflow counters that moved during the run, under Envoy's names
	// (upstream_rq_pending_overflow, upstream_cx_overflow,
	// upstream_rq_retry_overflow, ...); set by Simulator, from a real
	// Envoy's admin interface when it runs one.
	Clusters map[string]map[string]uint64 `json:"clusters,omitempty"`
	// Failed counts requests with no response or a 5xx.
	Failed     int         `json:"failed"`
	LatencyMs  Percentiles `json:"latencyMs"`
	DurationMs float64     `json:"durationMs"`
	// Sent is how many requests went out: fewer than asked when the time
	// ran out (then TimedOut is set).
	Sent     int  `json:"sent"`
	TimedOut bool `json:"timedOut,omitempty"`
	// Endpoints are the upstreams' endpoints with the requests each
	// answered and, with the sim, their health at the end of the run (set
	// by Simulator).
	Endpoints []EndpointResult `json:"endpoints,omitempty"`

	// perEndpoint counts answers by endpoint address, for Endpoints.
	perEndpoint map[string]int
}

// EndpointResult is one endpoint of an upstream in a run.
type EndpointResult struct {
	Upstream string `json:"upstream"`
	// Index is the endpoint's place in the upstream's endpoint list, as
	// UpstreamProfile.Endpoints names it.
	Index int `json:"index"`
	// Address is the mock's loopback address; StandsFor the real endpoint
	// it replaces, for discovered upstreams.
	Address   string `json:"address"`
	StandsFor string `json:"standsFor,omitempty"`
	// Requests is how many requests of the run it answered.
	Requests int `json:"requests"`
	// Health is what the simulated Envoy thought of the endpoint when the
	// run ended: failing its health check, ejected by outlier detection
	// (and how often), and why. nil when its upstream has neither, or with
	// a real Envoy.
	Health *sim.HostHealth `json:"health,omitempty"`
}

// Percentiles of request latency, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Run sends spec.Requests requests through sender and sums them up. spec
// must have passed Validate. The run stops sending when spec's timeout or
// ctx ends; requests in flight then are cancelled and counted as failed.
func Run(ctx context.Context, spec Spec, sender Sender) Result {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(spec.TimeoutSeconds*float64(time.Second)))
	defer cancel()
	seed := spec.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	pick := picker(spec.Mix, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	jobs := make(chan rules.Request)
	type done struct {
		out     Outcome
		err     error
		latency time.Duration
	}
	results := make(chan done, spec.Concurrency)
	var wg sync.WaitGroup
	for range spec.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range jobs {
				start := time.Now()
				out, err := sender.Send(ctx, spec.Gateway, req)
				results <- done{out, err, time.Since(start)}
			}
		}()
	}
	start := time.Now()
	res := Result{PerUpstream: map[string]int{}, Statuses: map[string]int{}, ResponseFlags: map[string]int{}, perEndpoint: map[string]int{}}
	go func() {
		defer close(jobs)
		for range spec.Requests {
			req := pick()
			select {
			case jobs <- req:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	latencies := make([]time.Duration, 0, spec.Requests)
	for d := range results {
		res.Sent++
		latencies = append(latencies, d.latency)
		if d.err != nil {
			res.Failed++
			continue
		}
		res.Statuses[strconv.Itoa(d.out.Status)]++
		if d.out.Upstream != "" {
			res.PerUpstream[d.out.Upstream]++
		}
		if d.out.Endpoint != "" {
			res.perEndpoint[d.out.Endpoint]++
		}
		res.Retries += d.out.Retries
		if d.out.RateLimited {
			res.RateLimited++
		}
		if d.out.Overflowed {
			res.Overflowed++
		}
		if d.out.Flags != "" {
			for f := range strings.SplitSeq(d.out.Flags, ",") {
				res.ResponseFlags[f]++
			}
		}
		if d.out.Status >= 500 {
			res.Failed++
		}
	}
	res.DurationMs = ms(time.Since(start))
	res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	res.LatencyMs = percentiles(latencies)
	return res
}

// picker draws requests from the mix by weight.
func picker(mix []MixEntry, rng *rand.Rand) func() rules.Request {
	total := 0
	for _, m := range mix {
		total += max(m.Weight, 0)
	}
	return func() rules.Request {
		x := rng.IntN(total)
		for _, m := range mix {
			if w := max(m.Weight, 0); x < w {
				return m.Request
			} else {
				x -= w
			}
		}
		return mix[len(mix)-1].Request
	}
}

// percentiles uses the nearest-rank method on the sorted latencies.
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	rank := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.999999) - 1
		return ms(ds[min(max(i, 0), len(ds)-1)])
	}
	return Percentiles{P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: ms(ds[len(ds)-1])}
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
