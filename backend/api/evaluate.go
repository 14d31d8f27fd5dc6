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
	res := rules.Evaluate(ws.Routes, req.Gateway, req.Request)
	res.Action = redactAction(res.Action, s.Fingerprinter)
	writeJSON(w, http.StatusOK, res)
}

// redactAction is a matched rule's action as answers show it, with its
// credentials as fingerprints.
func redactAction(a *model.Action, fp model.Fingerprinter) *model.Action {
	if a == nil || a.Auth == nil {
		return a
	}
	r := model.Redact(&model.Route{Then: *a}, fp).(*model.Route)
	return &r.Then
}
