package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/translate"
)

// lintFinding is one rule of a gateway's draft that can never match.
type lintFinding struct {
	Rule       string `json:"rule"`
	ShadowedBy string `json:"shadowedBy"`
	Message    string `json:"message"`
}

// lintNote is something an operator should know about a rule that still
// works: today, a rate limit Envoy applies once per route the rule became.
type lintNote struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// lintReport is what linting a gateway's draft says.
type lintReport struct {
	Items []lintFinding `json:"items"`
	Notes []lintNote    `json:"notes"`
}

// gatewayLint lints the gateway's draft routes. Lint only proves shadowing
// that is certain (a catch-all or an identical condition earlier in
// evaluation order), so every finding is a rule that takes no traffic.
func (s *server) gatewayLint(ctx context.Context, gateway string) (lintReport, error) {
	e, ws, _, err := s.gatewayDraft(ctx, gateway)
	if err != nil {
		return lintReport{}, err
	}
	return e.lint.get(func() (lintReport, error) {
		out := lintReport{Items: []lintFinding{}, Notes: rateLimitNotes(ws, gateway)}
		for _, f := range rules.Lint(ws.Routes) {
			// GatewayWorkspace holds only this gateway's routes; the check
			// keeps the answer right should that ever widen.
			if f.Gateway != gateway {
				continue
			}
			out.Items = append(out.Items, lintFinding{Rule: f.Rule, ShadowedBy: f.ShadowedBy, Message: f.Message})
		}
		return out, nil
	})
}

// lint answers GET /gateways/{name}/lint.
func (s *server) lint(w http.ResponseWriter, r *http.Request) {
	report, err := s.gatewayLint(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// rateLimitNotes says which rate-limited rules Envoy counts in more than
// one bucket. A draft that does not translate gets no notes: publishing
// it fails and says why.
func rateLimitNotes(ws model.Workspace, gateway string) []lintNote {
	notes := []lintNote{}
	// Translating is the costly part; most gateways have no rate limit.
	if !slices.ContainsFunc(ws.Routes, func(r model.Route) bool { return r.Then.RateLimit != nil }) {
		return notes
	}
	res, err := translate.Gateway(ws, gateway, translate.Options{})
	if err != nil {
		return notes
	}
	buckets := translate.RateLimitBuckets(res)
	for _, r := range ws.Routes {
		n := buckets[r.Name]
		if n < 2 || r.Then.RateLimit == nil {
			continue
		}
		rl := r.Then.RateLimit
		notes = append(notes, lintNote{Rule: r.Name, Message: fmt.Sprintf(
			"rate limit counted per Envoy route: this rule becomes %d routes (one per virtual host it can match, times its any/not alternatives), each with its own bucket, so up to %d requests per %s pass, not %d",
			n, n*rl.Requests, time.Duration(rl.Per), rl.Requests)})
	}
	return notes
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
