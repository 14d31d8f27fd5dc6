package traffic

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/routedeck/routedeck/backend/manifest"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/xds"
	"github.com/routedeck/routedeck/sandbox/session"
	"github.com/routedeck/routedeck/sandbox/sim"
	"github.com/routedeck/routedeck/sandbox/upstream"
)

// draft serves one workspace as every gateway's draft.
type draft struct{ ws model.Workspace }

func (d draft) GatewayWorkspace(context.Context, string) (model.Workspace, error) { return d.ws, nil }

// newSimulator runs the real sandbox: an ADS server on loopback, the
// simulated Envoy fed over gRPC, mock upstreams.
func newSimulator(t *testing.T) *Simulator {
	t.Helper()
	data, err := os.ReadFile("testdata/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := manifest.Load("shop.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	ws := f.Workspace
	if err := rules.ResolveWorkspace(&ws); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ads := xds.New(xds.Options{Logger: log})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ads.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	svc := session.New(session.Options{Store: draft{ws}, ADS: ads, ADSAddr: lis.Addr().String(), Logger: log, Timeout: 20 * time.Second})
	t.Cleanup(func() { _ = svc.Close() })
	return NewSimulator(svc)
}

// TestCanarySplitThroughSim sends 2,000 requests to a 90/10 canary through
// the simulated Envoy: the split shows in perUpstream.
func TestCanarySplitThroughSim(t *testing.T) {
	sim := newSimulator(t)
	res, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 2000, Concurrency: 16,
		Mix: []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := res.PerUpstream["web-v1"], res.PerUpstream["web-v2"]
	if res.Engine != session.EngineSim {
		t.Errorf("engine %q, want the sim", res.Engine)
	}
	if v1+v2 != 2000 || res.Statuses["200"] != 2000 || res.Failed != 0 || res.Sent != 2000 {
		t.Fatalf("result %+v", res)
	}
	// 10% of 2,000 is 200; the binomial spread is about 13.
	if v2 < 140 || v2 > 260 {
		t.Errorf("web-v2 got %d of 2000, want about 200", v2)
	}
	t.Logf("perUpstream %v, latency %+v, %.0f ms", res.PerUpstream, res.LatencyMs, res.DurationMs)
}

// TestRetryBudgetLimitsRetries fails every request of an upstream and
// compares the retries Envoy makes with and without a retry budget on the
// cluster: the budget keeps a failure from tripling the load.
func TestRetryBudgetLimitsRetries(t *testing.T) {
	sim := newSimulator(t)
	run := func(path, upstream string) Result {
		t.Helper()
		res, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 300, Concurrency: 32,
			Mix:       []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com" + path}}},
			Upstreams: map[string]UpstreamProfile{upstream: {LatencyMs: 20, ErrorPercent: 100}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed != 300 || res.Statuses["503"] != 300 {
			t.Fatalf("%s: want every request to fail with 503: %+v", upstream, res)
		}
		return res
	}
	storm := run("/api/orders", "api")
	budget := run("/budget/orders", "api-budget")
	t.Logf("retries without budget %d, with budget %d", storm.Retries, budget.Retries)
	if storm.Retries < 800 {
		t.Errorf("without a budget: %d retries, want about 900 (3 per request)", storm.Retries)
	}
	if budget.Retries*3 > storm.Retries {
		t.Errorf("with a budget: %d retries, want well under a third of %d", budget.Retries, storm.Retries)
	}

	// The profiles were for the run only.
	after, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 10,
		Mix: []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com/api/x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if after.Statuses["200"] != 10 || after.Retries != 0 {
		t.Errorf("after the runs: %+v", after)
	}
}

// TestCircuitBreakerOverflowThroughSim sends 16 concurrent requests to a
// slow upstream whose circuit breaker allows 2 requests: the other 14 get
// Envoy's 503 with the UO flag, and the run reports the overflow.
func TestCircuitBreakerOverflowThroughSim(t *testing.T) {
	sim := newSimulator(t)
	res, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 16, Concurrency: 16,
		Mix:       []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com/slow/x"}}},
		Upstreams: map[string]UpstreamProfile{"slow": {LatencyMs: 2000}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Statuses["200"] != 2 || res.Statuses["503"] != 14 || res.Overflowed != 14 || res.ResponseFlags["UO"] != 14 || res.PerUpstream["slow"] != 2 {
		t.Errorf("statuses %v, overflowed %d, flags %v, per upstream %v", res.Statuses, res.Overflowed, res.ResponseFlags, res.PerUpstream)
	}
	if got := res.Clusters["slow"]; got["upstream_rq_pending_overflow"] != 14 || got["upstream_rq_total"] != 2 {
		t.Errorf("cluster counters %v", res.Clusters)
	}
}

func TestSimulateUnknownUpstream(t *testing.T) {
	sim := newSimulator(t)
	_, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 1,
		Mix:       []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com/"}}},
		Upstreams: map[string]UpstreamProfile{"nope": {LatencyMs: 1}}})
	if f := model.ErrorFields(err); len(f) != 1 || f[0].Field != "upstreams.nope" {
		t.Errorf("err %v", err)
	}
}

// TestOutcomeOf reads outcomes from the sim's account of an exchange and,
// for a real Envoy, which gives none, from headers and status.
func TestOutcomeOf(t *testing.T) {
	api := "api"
	tests := map[string]struct {
		res  session.Result
		want Outcome
	}{
		"sim retried twice": {
			res:  session.Result{Engine: "sim", Response: session.Response{Status: 200}, Upstream: &api, Envoy: &sim.Exchange{Attempts: make([]sim.Attempt, 3)}},
			want: Outcome{Status: 200, Upstream: "api", Retries: 2},
		},
		"sim rate limited": {
			res:  session.Result{Engine: "sim", Response: session.Response{Status: 429}, Envoy: &sim.Exchange{LocalReply: "local_ratelimit"}},
			want: Outcome{Status: 429, RateLimited: true},
		},
		"envoy attempt count": {
			res: session.Result{Engine: "envoy", Response: session.Response{Status: 200}, Upstream: &api,
				Received: &upstream.Received{Headers: map[string][]string{"x-envoy-attempt-count": {"2"}}}},
			want: Outcome{Status: 200, Upstream: "api", Retries: 1},
		},
		"envoy local 429": {
			res:  session.Result{Engine: "envoy", Response: session.Response{Status: 429}},
			want: Outcome{Status: 429, RateLimited: true},
		},
		"envoy upstream 429 is not a rate limit of the gateway": {
			res:  session.Result{Engine: "envoy", Response: session.Response{Status: 429}, Upstream: &api, Received: &upstream.Received{}},
			want: Outcome{Status: 429, Upstream: "api"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := outcomeOf(&tc.res); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestFailingEndpointIsEjected fails one of the two endpoints of an
// upstream with outlier detection: after three 5xx in a row it is
// ejected and the rest of the run goes to the healthy one, and the
// result says so per endpoint.
func TestFailingEndpointIsEjected(t *testing.T) {
	sim := newSimulator(t)
	res, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 200, Concurrency: 4,
		Mix:       []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com/cart/items"}}},
		Upstreams: map[string]UpstreamProfile{"cart": {Endpoints: map[int]UpstreamProfile{1: {ErrorPercent: 100}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var eps []EndpointResult
	for _, e := range res.Endpoints {
		if e.Upstream == "cart" {
			eps = append(eps, e)
		}
	}
	if len(eps) != 2 || eps[0].Index != 0 || eps[1].Index != 1 {
		t.Fatalf("cart endpoints %+v", res.Endpoints)
	}
	good, bad := eps[0], eps[1]
	t.Logf("good %d, bad %d, statuses %v", good.Requests, bad.Requests, res.Statuses)
	// Round robin sends every other request to the failing endpoint
	// until its third 5xx; requests already in flight (at most the
	// concurrency) may still reach it.
	if bad.Requests < 3 || bad.Requests > 3+4 {
		t.Errorf("the failing endpoint answered %d requests, want 3 to 7", bad.Requests)
	}
	if good.Requests+bad.Requests != 200 || res.Failed != bad.Requests || res.Statuses["503"] != bad.Requests {
		t.Errorf("result %+v", res)
	}
	if h := bad.Health; h == nil || !h.Ejected || h.Ejections != 1 || !strings.Contains(h.Reason, "3 consecutive 5xx") {
		t.Errorf("failing endpoint health %+v", bad.Health)
	}
	if h := good.Health; h == nil || !h.Healthy {
		t.Errorf("healthy endpoint health %+v", good.Health)
	}
}

func TestSimulateEndpointProfileOutOfRange(t *testing.T) {
	sim := newSimulator(t)
	_, err := sim.Simulate(context.Background(), Spec{Gateway: "public", Requests: 1,
		Mix:       []MixEntry{{Weight: 1, Request: rules.Request{URL: "http://shop.example.com/cart/x"}}},
		Upstreams: map[string]UpstreamProfile{"cart": {Endpoints: map[int]UpstreamProfile{2: {ErrorPercent: 100}}}}})
	if f := model.ErrorFields(err); len(f) != 1 || f[0].Field != "upstreams.cart.endpoints.2" {
		t.Errorf("err %v", err)
	}
}
