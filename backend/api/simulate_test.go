package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/routedeck/routedeck/backend/model"
)

// recordingSimulator keeps the spec it got and answers with a fixed
// result, or with the problems it is given; the real simulator has its
// own tests against the sandbox.
type recordingSimulator struct {
	got      map[string]any
	problems model.Problems
}

func (r *recordingSimulator) RunSimulation(_ context.Context, spec json.RawMessage) (any, error) {
	if err := json.Unmarshal(spec, &r.got); err != nil {
		return nil, err
	}
	if err := r.problems.Err(); err != nil {
		return nil, err
	}
	return map[string]any{"perUpstream": map[string]int{"web": 3}, "statuses": map[string]int{"200": 3}, "sent": 3}, nil
}

func TestSimulate(t *testing.T) {
	sim := &recordingSimulator{}
	a := newTestAPI(t, func(d *Deps) { d.Simulator = sim })
	body := map[string]any{"gateway": "public", "requests": 3,
		"mix": []any{map[string]any{"method": "GET", "url": "http://shop.example.com/", "weight": 1}}}
	res := a.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", body).must(t, http.StatusOK).json(t)
	if res["sent"] != float64(3) {
		t.Errorf("result %v", res)
	}
	if sim.got["gateway"] != "public" || sim.got["requests"] != float64(3) {
		t.Errorf("simulator got %+v", sim.got)
	}

	// The simulator's problems are the caller's, field by field.
	sim.problems.Add("requests", "at most 10000")
	sim.problems.Add("mix", "required: at least one request")
	fields := a.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", body).must(t, http.StatusBadRequest).problemFields(t)
	for _, f := range []string{"requests", "mix"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("no problem at %s: %v", f, fields)
		}
	}
	// A body that is not JSON never reaches it.
	a.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", `{"gateway":`).must(t, http.StatusBadRequest)

	bare := newTestAPI(t)
	bare.do(t, "viewer", "POST", "/api/v1/sandbox/simulations", body).must(t, http.StatusNotImplemented)
}
