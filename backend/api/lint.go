package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
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

// lintCache keeps each gateway's findings for the draft generation they
// were computed on: loading and linting 10,000 routes costs a few hundred
// milliseconds, and the routes list asks on every visit.
type lintCache struct {
	mu  sync.Mutex
	gen int64
	by  map[string]lintReport
}

func (c *lintCache) get(gen int64, gateway string) (lintReport, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.by[gateway]
	return f, ok && c.gen == gen
}

func (c *lintCache) put(gen int64, gateway string, f lintReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil || gen > c.gen {
		c.gen, c.by = gen, map[string]lintReport{}
	}
	if gen == c.gen {
		c.by[gateway] = f
	}
}

// gatewayLint lints the gateway's draft routes. Lint only proves shadowing
// that is certain (a catch-all or an identical condition earlier in
// evaluation order), so every finding is a rule that takes no traffic.
func (s *server) gatewayLint(ctx context.Context, gateway string) (lintReport, error) {
	// The generation is read before the workspace: a write in between
	// makes the stored findings older than their generation says, and the
	// next write's generation replaces them.
	gen, err := s.Store.DraftGeneration(ctx)
	if err != nil {
		return lintReport{}, err
	}
	if f, ok := s.lints.get(gen, gateway); ok {
		return f, nil
	}
	ws, err := s.Store.GatewayWorkspace(ctx, gateway)
	if err != nil {
		return lintReport{}, err
	}
	out := lintReport{Items: []lintFinding{}, Notes: rateLimitNotes(ws, gateway)}
	for _, f := range rules.Lint(ws.Routes) {
		// GatewayWorkspace holds only this gateway's routes; the check
		// keeps the answer right should that ever widen.
		if f.Gateway != gateway {
			continue
		}
		out.Items = append(out.Items, lintFinding{Rule: f.Rule, ShadowedBy: f.ShadowedBy, Message: f.Message})
	}
	s.lints.put(gen, gateway, out)
	return out, nil
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
