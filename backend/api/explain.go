package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/routedeck/routedeck/backend/accesslog"
	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
)

// explainRequest is the body of POST /gateways/{name}/explain.
type explainRequest struct {
	// Version is live, draft or vN.
	Version string        `json:"version"`
	Request rules.Request `json:"request"`
}

// explainVersion is /evaluate against any version of a gateway: what the
// draft, the live version or an older one does with a request.
func (s *server) explainVersion(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	var req explainRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var p model.Problems
	var v ruleset.Version
	if req.Version == "" {
		p.Add("version", "required: live, draft or a published version such as v3")
	} else if parsed, err := ruleset.ParseVersion(req.Version); err != nil {
		p.Add("version", "%v", err)
	} else {
		v = parsed
	}
	checkEvalRequest(&p, req.Request)
	opts := readTraceOptions(&p, r.URL.Query())
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.gatewayExists(w, r, name) {
		return
	}
	rs, err := s.versions.Load(r.Context(), name, v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reply, err := s.explainRules(rs, v, req.Request, opts, struct {
		Gateway string
		explainRequest
	}{name, req})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCompact(w, reply)
}

// logExplanation is the answer of GET /gateways/{name}/logs/{id}/explain:
// the explanation of one logged request against the version that served
// it, with the entry, the request as the evaluator saw it, and whether the
// evaluator agrees with the proxy.
type logExplanation struct {
	evaluateReply
	Entry   accesslog.Entry `json:"entry"`
	Request rules.Request   `json:"request"`
	// Agrees is true when the evaluator picks the rule that served the
	// request (or, like the proxy, none).
	Agrees bool `json:"agrees"`
	// Notes say what the reader should know to trust the explanation:
	// which version answered when the served one is unknown, and why the
	// evaluator may disagree with the proxy.
	Notes []string `json:"notes"`
}

// explainLogEntry explains a logged request against the version that
// served it: its rule's conditions, or for a request no rule matched
// (a 404) the near misses.
func (s *server) explainLogEntry(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	q := r.URL.Query()
	var p model.Problems
	knownParams(&p, q, "sandbox", "trace", "limit", "cursor")
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		p.Add("id", "want the id of a request log entry")
	}
	key, sandbox := logKey(&p, q, name)
	opts := readTraceOptions(&p, q)
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.gatewayExists(w, r, name) {
		return
	}
	e, err := s.AccessLog.Entry(r.Context(), key, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var notes []string
	served := ruleset.Live
	switch v, perr := ruleset.ParseVersion(e.Version); {
	case sandbox:
		// The sandbox serves the draft of the moment; its version
		// label is a hash of content, not something to load.
		served = ruleset.Draft
		notes = append(notes, "The sandbox serves the draft: explained against the draft as it is now, which may have changed since.")
	case perr != nil || v == ruleset.Live || v == ruleset.Draft:
		notes = append(notes, fmt.Sprintf("The proxy's configuration version (%q) is not a published version: explained against the live version.", e.Version))
	default:
		served = v
	}
	rs, err := s.versions.Load(r.Context(), name, served)
	if err != nil && served != ruleset.Live && model.ErrorCode(err) == model.EINVALID {
		notes = append(notes, fmt.Sprintf("Version %s is not among the gateway's published versions: explained against the live version.", served))
		served = ruleset.Live
		rs, err = s.versions.Load(r.Context(), name, served)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req := e.Request()
	reply, err := s.explainRules(rs, served, req, opts, struct {
		Gateway string
		ID      int64
	}{key, id})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := logExplanation{evaluateReply: reply, Entry: e, Request: req, Notes: notes}
	picked := ""
	if reply.Rule != nil {
		picked = *reply.Rule
	}
	out.Agrees = picked == e.Rule
	if !out.Agrees {
		out.Notes = append(out.Notes, disagreement(e, picked, rs))
	}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	writeCompact(w, out)
}

// disagreement says why the evaluator may pick another rule than the
// proxy did for a logged request: the log keeps only some of what the
// proxy saw.
func disagreement(e accesslog.Entry, picked string, rs *ruleset.Rules) string {
	name := func(rule string) string {
		if rule == "" {
			return "no rule"
		}
		return fmt.Sprintf("rule %q", rule)
	}
	servedBy := name(e.Rule)
	if e.Rule == "" && e.Route != "" {
		servedBy = fmt.Sprintf("route %q (not a rule)", e.Route)
	}
	kept := "no request headers"
	if len(e.Headers) > 0 {
		names := make([]string, 0, len(e.Headers))
		for k := range e.Headers {
			names = append(names, k)
		}
		slices.Sort(names)
		kept = "only the request headers " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("The proxy served this request with %s, but the rules of %s pick %s. The log keeps %s (besides host and user agent), "+
		"so conditions on other headers, cookies or the body are judged as if those were absent; see the gateway's accessLog.requestHeaders.",
		servedBy, rs.Version, name(picked), kept)
}
