package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/rules"
)

// lintFinding is one rule of a gateway's draft that can never match.
type lintFinding struct {
	Rule       string `json:"rule"`
	ShadowedBy string `json:"shadowedBy"`
	Message    string `json:"message"`
}

// gatewayLint lints the gateway's draft routes. Lint only proves shadowing
// that is certain (a catch-all or an identical condition earlier in
// evaluation order), so every finding is a rule that takes no traffic.
func (s *server) gatewayLint(ctx context.Context, gateway string) ([]lintFinding, error) {
	ws, err := s.Store.GatewayWorkspace(ctx, gateway)
	if err != nil {
		return nil, err
	}
	out := []lintFinding{}
	for _, f := range rules.Lint(ws.Routes) {
		// GatewayWorkspace holds only this gateway's routes; the check
		// keeps the answer right should that ever widen.
		if f.Gateway != gateway {
			continue
		}
		out = append(out, lintFinding{Rule: f.Rule, ShadowedBy: f.ShadowedBy, Message: f.Message})
	}
	return out, nil
}

// lint answers GET /gateways/{name}/lint.
func (s *server) lint(w http.ResponseWriter, r *http.Request) {
	findings, err := s.gatewayLint(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": findings})
}

// publishWarnings lints what was just published. Shadowed rules do not stop
// a publish (the configuration is valid, only wasteful), so a failure to
// lint is logged and answered with no warnings rather than failing a
// publish that already happened.
func (s *server) publishWarnings(r *http.Request, gateway string) []lintFinding {
	findings, err := s.gatewayLint(r.Context(), gateway)
	if err != nil {
		s.log.WarnContext(r.Context(), "lint after publish", "gateway", gateway, "err", fmt.Errorf("lint gateway %q: %w", gateway, err))
		return []lintFinding{}
	}
	return findings
}
