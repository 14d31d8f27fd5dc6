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

// publishLintRoutes is the largest gateway a publish answer lints: a few
// milliseconds' work. A larger gateway's answer carries the report kept
// since its last change if there is one, and otherwise says the lint is
// pending: linting 10,000 routes takes longer than publishing them, and a
// script publishing after every edit would pay it each time.
var publishLintRoutes = 2000

// publishWarnings lints what was just published. Shadowed rules do not stop
// a publish (the configuration is valid, only wasteful), so a failure to
// lint is logged and answered with no warnings rather than failing a
// publish that already happened. pending says the gateway was not linted
// (see publishLintRoutes).
func (s *server) publishWarnings(r *http.Request, gateway string) (report lintReport, pending bool) {
	report, ok, err := s.lint.ReportUpTo(r.Context(), gateway, publishLintRoutes)
	if err != nil {
		s.log.WarnContext(r.Context(), "lint after publish", "gateway", gateway, "err", fmt.Errorf("lint gateway %q: %w", gateway, err))
	}
	if err != nil || !ok {
		return lintReport{Items: []lintFinding{}, Notes: []lintNote{}}, err == nil
	}
	return report, false
}
