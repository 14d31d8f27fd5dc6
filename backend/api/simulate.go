package api

import (
	"context"
	"encoding/json"
	"net/http"
)

// Simulator runs traffic simulations through a gateway's sandbox
// (POST /sandbox/simulations); *traffic.Simulator provides it. The spec
// and the result are the JSON documents of the API contract: the
// simulator owns their types, decodes the spec strictly and validates it
// (a run is bounded: at most 10,000 requests, 64 in flight, 60 seconds).
type Simulator interface {
	RunSimulation(ctx context.Context, spec json.RawMessage) (any, error)
}

// simulate runs a traffic simulation in the gateway's sandbox.
func (s *server) simulate(w http.ResponseWriter, r *http.Request) {
	var spec json.RawMessage
	if err := decode(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Simulator == nil {
		s.writeError(w, r, notWired("traffic simulation"))
		return
	}
	res, err := s.Simulator.RunSimulation(r.Context(), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
