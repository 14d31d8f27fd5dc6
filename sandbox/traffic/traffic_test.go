package traffic

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// gateway stands in for a data plane (Run's aggregation is pure logic; the
// session tests run the real sim): every tenth request of /split goes to
// web-v2, the rest to web-v1; /limited is refused with 429; /flaky fails
// after three attempts; /slow takes its time. It records the most requests
// it ever had in flight.
type gateway struct {
	n, inFlight, maxInFlight atomic.Int64
}

func (g *gateway) Send(ctx context.Context, _ string, req rules.Request) (Outcome, error) {
	cur := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		old := g.maxInFlight.Load()
		if cur <= old || g.maxInFlight.CompareAndSwap(old, cur) {
			break
		}
	}
	time.Sleep(time.Millisecond) // let requests overlap
	u, err := url.Parse(req.URL)
	if err != nil {
		return Outcome{}, err
	}
	switch u.Path {
	case "/split":
		up := "web-v1"
		if g.n.Add(1)%10 == 0 {
			up = "web-v2"
		}
		return Outcome{Status: http.StatusOK, Upstream: up}, nil
	case "/limited":
		return Outcome{Status: http.StatusTooManyRequests, RateLimited: true}, nil
	case "/flaky":
		return Outcome{Status: http.StatusServiceUnavailable, Upstream: "api", Retries: 2}, nil
	case "/slow":
		select {
		case <-time.After(5 * time.Second):
			return Outcome{Status: http.StatusOK}, nil
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		}
	}
	return Outcome{Status: http.StatusOK}, nil
}

func TestRunSumsUp(t *testing.T) {
	g := &gateway{}
	spec := Spec{Gateway: "public", Requests: 400, Concurrency: 4, Seed: 1, Mix: []MixEntry{
		{Weight: 2, Request: rules.Request{URL: "http://shop.example.com/split"}},
		{Weight: 1, Request: rules.Request{URL: "/limited"}},
		{Weight: 1, Request: rules.Request{URL: "/flaky"}},
	}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), spec, g)
	split := res.PerUpstream["web-v1"] + res.PerUpstream["web-v2"]
	if res.Sent != 400 || res.TimedOut {
		t.Fatalf("sent %d (timed out %v), want 400", res.Sent, res.TimedOut)
	}
	if split < 150 || split > 250 || res.PerUpstream["web-v2"] != split/10 {
		t.Errorf("split %v: want about 200 split 9:1", res.PerUpstream)
	}
	flaky := res.PerUpstream["api"]
	if res.Statuses["429"] != res.RateLimited || res.Statuses["503"] != flaky || res.Failed != flaky || res.Retries != 2*flaky {
		t.Errorf("result %+v", res)
	}
	if res.Statuses["200"]+res.Statuses["429"]+res.Statuses["503"] != 400 {
		t.Errorf("statuses %v do not add up to 400", res.Statuses)
	}
	if m := g.maxInFlight.Load(); m > 4 || m < 2 {
		t.Errorf("at most %d requests in flight, want 2 to 4", m)
	}
	l := res.LatencyMs
	if !(l.P50 > 0 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max && res.DurationMs > 0) {
		t.Errorf("latency %+v, duration %v", l, res.DurationMs)
	}

	// The same seed draws the same mix.
	again := Run(context.Background(), spec, &gateway{})
	if again.Statuses["429"] != res.Statuses["429"] || again.PerUpstream["api"] != flaky {
		t.Errorf("seeded runs differ: %v vs %v", res.Statuses, again.Statuses)
	}
}

func TestRunIsBoundedInTime(t *testing.T) {
	spec := Spec{Gateway: "public", Requests: 100, Concurrency: 2, TimeoutSeconds: 0.3,
		Mix: []MixEntry{{Weight: 1, Request: rules.Request{URL: "/slow"}}}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := Run(context.Background(), spec, &gateway{})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v with a 0.3s bound", took)
	}
	if !res.TimedOut || res.Sent > 4 || res.Failed != res.Sent {
		t.Errorf("result %+v: want a timed-out run with the in-flight requests failed", res)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := map[string]struct {
		body string
		want []string
	}{
		"defaults": {`{"gateway": "g", "requests": 10, "mix": [{"weight": 1, "request": {"url": "/"}}]}`, nil},
		"dashboard shape": {`{"gateway": "g", "requests": 10, "mix": [{"method": "GET", "url": "/", "weight": 1}],
			"upstreams": {"web": {"latencyMs": 5, "errorRate": 0.3}}}`, nil},
		"bounds": {`{"requests": 10001, "concurrency": 65, "timeoutSeconds": 61, "mix": [{"weight": -1, "request": {}}],
			"upstreams": {"web": {"latencyMs": -1, "errorPercent": 101, "errorRate": 2}}}`,
			[]string{"concurrency", "gateway", "mix", "mix[0].request.url", "mix[0].weight", "requests", "timeoutSeconds",
				"upstreams.web.errorPercent", "upstreams.web.errorRate", "upstreams.web.latencyMs"}},
		"empty": {`{"gateway": "g"}`, []string{"mix", "requests"}},
		"bad headers": {`{"gateway": "g", "requests": 10, "mix": [{"weight": 1, "request": {"url": "/", "headers": {"ok": "1", "x y": "a\r\nb"}}}]}`,
			[]string{"mix[0].request.headers[1].name", "mix[0].request.headers[1].value"}},
		"endpoint profiles": {`{"gateway": "g", "requests": 10, "mix": [{"weight": 1, "request": {"url": "/"}}],
			"upstreams": {"web": {"endpoints": {"1": {"errorRate": 1}, "3": {"latencyMs": -1, "endpoints": {"0": {}}}, "-1": {}}}}}`,
			[]string{"upstreams.web.endpoints.-1", "upstreams.web.endpoints.3.endpoints", "upstreams.web.endpoints.3.latencyMs"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var s Spec
			if err := json.Unmarshal([]byte(tc.body), &s); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range model.ErrorFields(s.Validate()) {
				got = append(got, f.Field)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if tc.want == nil && (s.Concurrency != 8 || s.TimeoutSeconds != 30 || s.Mix[0].Request.URL != "/") {
				t.Errorf("defaults not filled in: %+v", s)
			}
		})
	}
	var s Spec
	_ = json.Unmarshal([]byte(`{"upstreams": {"a": {"errorRate": 0.3}, "b": {"errorPercent": 5, "errorRate": 0.9}}}`), &s)
	if s.Upstreams["a"].Percent() != 30 || s.Upstreams["b"].Percent() != 5 {
		t.Errorf("percent: %v %v", s.Upstreams["a"].Percent(), s.Upstreams["b"].Percent())
	}
}

// TestRunSimulationDecodesStrictly: the API's hook refuses unknown fields
// and a spec out of bounds, every problem with its field, before any
// sandbox is touched.
func TestRunSimulationDecodesStrictly(t *testing.T) {
	s := NewSimulator(nil)
	for name, tc := range map[string]struct {
		body   string
		fields []string
	}{
		"out of bounds": {`{"gateway": "public", "requests": 20000, "concurrency": 100, "mix": []}`, []string{"requests", "concurrency", "mix"}},
		"unknown field": {`{"gateway": "public", "requests": 1, "mixx": []}`, []string{"mixx"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.RunSimulation(t.Context(), json.RawMessage(tc.body))
			got := map[string]bool{}
			for _, f := range model.ErrorFields(err) {
				got[f.Field] = true
			}
			for _, f := range tc.fields {
				if !got[f] {
					t.Errorf("no problem at %s: %v", f, err)
				}
			}
		})
	}
}
