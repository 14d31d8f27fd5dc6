package api

import (
	"net/http"

	"github.com/routedeck/routedeck/backend/model"
)

// evaluateRequest is the body of POST /evaluate.
type evaluateRequest struct {
	Gateway string      `json:"gateway"`
	Request testRequest `json:"request"`
}

// testRequest is a request to evaluate, as the contract writes it.
type testRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// evaluate runs the reference evaluator over the gateway's draft rules. It
// sends nothing anywhere: this is the meaning of the rules, not a test of a
// data plane.
func (s *server) evaluate(w http.ResponseWriter, r *http.Request) {
	var req evaluateRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Gateway == "" {
		s.writeError(w, r, fieldError("gateway", "required"))
		return
	}
	ws, err := s.Store.GatewayWorkspace(r.Context(), req.Gateway)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var gw *model.Gateway
	if len(ws.Gateways) > 0 {
		gw = &ws.Gateways[0]
	}
	res, err := evaluateRules(ws.Routes, gw, req.Request)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
