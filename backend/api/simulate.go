package api

import (
	"net/http"

	"github.com/routedeck/routedeck/sandbox/traffic"
)

// simulate runs a traffic simulation in the gateway's sandbox. The run is
// bounded by the spec (at most 10,000 requests, 64 in flight, 60 seconds).
func (s *server) simulate(w http.ResponseWriter, r *http.Request) {
	var spec traffic.Spec
	if err := decode(r, &spec); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := spec.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.Simulator == nil {
		s.writeError(w, r, notWired("traffic simulation"))
		return
	}
	res, err := s.Simulator.Simulate(r.Context(), spec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
