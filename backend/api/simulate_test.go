package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/routedeck/routedeck/sandbox/traffic"
)

// recordingSimulator answers every simulation with the same result and
// keeps the spec it got; the real simulator has its own tests against the
// sandbox.
type recordingSimulator struct{ got traffic.Spec }

func (r *recordingSimulator) Simulate(_ context.Context, spec traffic.Spec) (traffic.Result, error) {
	r.got = spec
	return traffic.Result{PerUpstream: map[string]int{"web": 3}, Statuses: map[string]int{"200": 3}, Sent: 3}, nil
}

func TestSimulate(t *testing.T) {
	sim := &recordingSimulator{}
	a := newTestAPI(t, func(d *Deps) { d.Simulator = sim })
	body := map[string]any{"gateway": "public", "requests": 3,
		"mix": []any{map[string]any{"method": "GET", "url": "http://shop.example.com/", "weight": 1}}}
	res := a.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", body).must(t, http.StatusOK).json(t)
	for _, key := range []string{"perUpstream", "statuses", "retries", "rateLimited", "failed", "latencyMs", "durationMs"} {
		if _, ok := res[key]; !ok {
			t.Errorf("result lacks %q: %v", key, res)
		}
	}
	if sim.got.Concurrency != 8 || sim.got.Mix[0].Request.URL != "http://shop.example.com/" {
		t.Errorf("simulator got %+v", sim.got)
	}

	fields := a.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", map[string]any{"gateway": "public", "requests": 20000,
		"concurrency": 100, "mix": []any{}}).must(t, http.StatusBadRequest).problemFields(t)
	for _, f := range []string{"requests", "concurrency", "mix"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("no problem at %s: %v", f, fields)
		}
	}

	bare := newTestAPI(t)
	bare.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", body).must(t, http.StatusNotImplemented)
}
