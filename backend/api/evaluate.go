package api

import (
	"net/http"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
)

// evaluateRequest is the body of POST /evaluate.
type evaluateRequest struct {
	Gateway string        `json:"gateway"`
	Request rules.Request `json:"request"`
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
	var p model.Problems
	if req.Gateway == "" {
		p.Add("gateway", "required")
	}
	if req.Request.URL == "" {
		p.Add("request.url", "required: a URL or a request target such as /v1/cart?x=1")
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	ws, err := s.Store.GatewayWorkspace(r.Context(), req.Gateway)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rules.Evaluate(ws.Routes, req.Gateway, req.Request))
}
