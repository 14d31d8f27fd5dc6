package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/lint"
)

type (
	lintFinding = lint.Finding
	lintNote    = lint.Note
	lintReport  = lint.Report
)

// gatewayLint is the lint report of the gateway's draft, kept by the lint
// cache until a change touches the gateway.
func (s *server) gatewayLint(ctx context.Context, gateway string) (lintReport, error) {
	return s.lint.Report(ctx, gateway)
}

// lint answers GET /gateways/{name}/lint.
func (s *server) lintGateway(w http.ResponseWriter, r *http.Request) {
	report, err := s.gatewayLint(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// publishWarnings lints what was just published. Shadowed rules do not stop
// a publish (the configuration is valid, only wasteful), so a failure to
// lint is logged and answered with no warnings rather than failing a
// publish that already happened.
func (s *server) publishWarnings(r *http.Request, gateway string) lintReport {
	report, err := s.gatewayLint(r.Context(), gateway)
	if err != nil {
		s.log.WarnContext(r.Context(), "lint after publish", "gateway", gateway, "err", fmt.Errorf("lint gateway %q: %w", gateway, err))
		return lintReport{Items: []lintFinding{}, Notes: []lintNote{}}
	}
	return report
}
