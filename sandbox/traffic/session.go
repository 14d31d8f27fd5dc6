package traffic

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/strictjson"
	"github.com/routedeck/routedeck/sandbox/session"
	"github.com/routedeck/routedeck/sandbox/sim"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// Simulator runs simulations through the sandbox: the gateway's draft on
// the simulated Envoy, with mock upstreams.
type Simulator struct {
	sandbox *session.Service
	// mu runs one simulation at a time: upstream profiles are shared by
	// every request to a mock, so two runs would disturb each other.
	mu sync.Mutex
}

// NewSimulator returns a simulator over a sandbox service.
func NewSimulator(sandbox *session.Service) *Simulator { return &Simulator{sandbox: sandbox} }

// RunSimulation decodes a spec strictly (the body of POST
// /sandbox/simulations) and runs it: the API's simulation hook.
func (s *Simulator) RunSimulation(ctx context.Context, body json.RawMessage) (any, error) {
	var spec Spec
	if err := strictjson.Decode(body, &spec); err != nil {
		return nil, err
	}
	return s.Simulate(ctx, spec)
}

// Simulate validates spec, brings the gateway's sandbox up, applies the
// upstream profiles for the run (restoring the previous ones after) and
// runs it.
func (s *Simulator) Simulate(ctx context.Context, spec Spec) (Result, error) {
	if err := spec.Validate(); err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// One request brings the sandbox up to date with the draft, so the
	// mocks whose profiles are set below exist. It is not counted.
	warm, err := s.sandbox.Do(ctx, session.TestRequest{Gateway: spec.Gateway, Request: &spec.Mix[0].Request})
	if err != nil {
		return Result{}, err
	}
	// The mocks by upstream, in endpoint order; each one's profile is
	// restored after the run.
	mocks := map[string][]*upstream.Server{}
	for _, m := range s.sandbox.Mocks() {
		mocks[m.Name()] = append(mocks[m.Name()], m)
		defer m.SetProfile(m.Profile())
	}
	names := make([]string, 0, len(spec.Upstreams))
	for name := range spec.Upstreams {
		names = append(names, name)
	}
	sort.Strings(names)
	var p model.Problems
	for _, name := range names {
		u := spec.Upstreams[name]
		servers := mocks[name]
		if len(servers) == 0 {
			p.Add("upstreams."+name, "gateway %q's sandbox has no upstream %q", spec.Gateway, name)
			continue
		}
		for i, m := range servers {
			prof := u
			if e, ok := u.Endpoints[i]; ok {
				prof = e
			}
			m.SetProfile(mockProfile(prof))
		}
		for _, i := range slices.Sorted(maps.Keys(u.Endpoints)) {
			if i >= len(servers) {
				p.Add("upstreams."+name+".endpoints."+strconv.Itoa(i), "upstream %q has %d endpoints in the sandbox (indexes from 0)", name, len(servers))
			}
		}
	}
	if err := p.Err(); err != nil {
		return Result{}, err
	}
	before := s.sandbox.Stats(spec.Gateway)
	res := Run(ctx, spec, sessionSender{s.sandbox})
	res.Engine = warm.Engine
	res.Clusters = clusterCounters(before, s.sandbox.Stats(spec.Gateway))
	res.Endpoints = endpointResults(mocks, res.perEndpoint, s.sandbox.Health(spec.Gateway))
	return res, nil
}

func mockProfile(u UpstreamProfile) upstream.Profile {
	return upstream.Profile{
		Latency:      time.Duration(u.LatencyMs * float64(time.Millisecond)),
		Jitter:       time.Duration(u.JitterMs * float64(time.Millisecond)),
		ErrorPercent: u.Percent(),
	}
}

// endpointResults lists the endpoints of the upstreams that answered or
// whose health the sim keeps, in upstream and endpoint order. The
// translator names each cluster after its upstream.
func endpointResults(mocks map[string][]*upstream.Server, answered map[string]int, health map[string]sim.ClusterHealth) []EndpointResult {
	names := make([]string, 0, len(mocks))
	for name := range mocks {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []EndpointResult
	for _, name := range names {
		hosts := map[string]sim.HostHealth{}
		for _, h := range health[name].Hosts {
			hosts[h.Address] = h
		}
		used := len(hosts) > 0
		for _, m := range mocks[name] {
			used = used || answered[m.Addr()] > 0
		}
		if !used {
			continue
		}
		for i, m := range mocks[name] {
			e := EndpointResult{Upstream: name, Index: i, Address: m.Addr(), StandsFor: m.StandsFor(), Requests: answered[m.Addr()]}
			if h, ok := hosts[m.Addr()]; ok {
				e.Health = &h
			}
			out = append(out, e)
		}
	}
	return out
}

// sessionSender sends through the sandbox and reads the outcome from the
// simulated Envoy's own account of the exchange. A real Envoy gives no
// such account: retries then come from the attempt count it tells the
// upstream (x-envoy-attempt-count, when the route asks for it) and rate
// limiting from a 429 that no upstream sent.
type sessionSender struct{ sandbox *session.Service }

func (s sessionSender) Send(ctx context.Context, gateway string, req rules.Request) (Outcome, error) {
	res, err := s.sandbox.Do(ctx, session.TestRequest{Gateway: gateway, Request: &req})
	if err != nil {
		return Outcome{}, err
	}
	return outcomeOf(res), nil
}

// outcomeOf reads the outcome of one request from the sandbox's reply.
func outcomeOf(res *session.Result) Outcome {
	out := Outcome{Status: res.Response.Status, Endpoint: res.Endpoint}
	if res.Upstream != nil {
		out.Upstream = *res.Upstream
	}
	if ex := res.Envoy; ex != nil {
		if n := len(ex.Attempts); n > 1 {
			out.Retries = n - 1
		}
		out.RateLimited = ex.LocalReply == "local_ratelimit"
		out.Flags = ex.Flags
		out.Overflowed = slices.Contains(strings.Split(ex.Flags, ","), "UO")
		return out
	}
	// Envoy marks the answers of an overflow.
	out.Overflowed = len(res.Response.Headers["x-envoy-overloaded"]) > 0
	if res.Received != nil {
		if vals := res.Received.Headers["x-envoy-attempt-count"]; len(vals) > 0 {
			if n, err := strconv.Atoi(vals[0]); err == nil && n > 1 {
				out.Retries = n - 1
			}
		}
	}
	out.RateLimited = res.Response.Status == http.StatusTooManyRequests && res.Upstream == nil
	return out
}

// countedStats are the cluster counters a run reports.
var countedStats = []string{"upstream_rq_total", "upstream_rq_retry", "upstream_rq_timeout",
	"upstream_rq_pending_overflow", "upstream_cx_overflow", "upstream_rq_retry_overflow"}

// clusterCounters are the counters of each cluster that moved between
// two readings of the sim's stats.
func clusterCounters(before, after map[string]uint64) map[string]map[string]uint64 {
	out := map[string]map[string]uint64{}
	for name, v := range after {
		rest, ok := strings.CutPrefix(name, "cluster.")
		if !ok {
			continue
		}
		for _, stat := range countedStats {
			cluster, found := strings.CutSuffix(rest, "."+stat)
			if !found || v <= before[name] {
				continue
			}
			if out[cluster] == nil {
				out[cluster] = map[string]uint64{}
			}
			out[cluster][stat] = v - before[name]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
