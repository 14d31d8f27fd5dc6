package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
	"github.com/routedeck/routedeck/backend/ruleset"
)

// evaluateRequest is the body of POST /evaluate.
type evaluateRequest struct {
	Gateway string        `json:"gateway"`
	Request rules.Request `json:"request"`
}

// How much of the evaluation an answer shows. The summary is bounded
// whatever the size of the gateway; the full trace comes in pages.
const (
	evalBefore         = 20  // rules tried before the winner, listed in brief
	evalNearMisses     = 10  // near misses, with their conditions
	evalTracePage      = 100 // rules per page of the full trace
	evalTracePageLimit = 500
)

// resultFields is rules.Result without its JSON method, so its fields can
// be embedded in evaluateReply.
type resultFields rules.Result

// evaluateReply is the answer of POST /evaluate: the effect of the winning
// rule (rules.Result's fields), the winner's trace, how many rules were
// tried before it with the first of them in brief, the near misses, and
// with ?trace=full one page of the full trace.
type evaluateReply struct {
	resultFields
	// Version is the version whose rules answered: draft or vN.
	Version string `json:"version"`
	// Rule is null when no rule matched (shadows resultFields.Rule).
	Rule       *string           `json:"rule"`
	Winner     *rules.RuleTrace  `json:"winner"`
	Tried      int               `json:"tried"`
	Before     []rules.RuleBrief `json:"before"`
	NearMisses []rules.RuleTrace `json:"nearMisses"`
	// Trace is one page of every rule tried, in order, with every
	// condition; only with ?trace=full (shadows resultFields.Trace).
	Trace []rules.RuleTrace `json:"trace,omitempty"`
	// TraceNext is the cursor of the next page; absent on the last.
	TraceNext string `json:"traceNext,omitempty"`
}

// evaluate runs the reference evaluator over the gateway's draft rules. It
// sends nothing anywhere: this is the meaning of the rules, not a test of a
// data plane. The rules are compiled once per draft generation.
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
	checkEvalRequest(&p, req.Request)
	opts := readTraceOptions(&p, r.URL.Query())
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	rs, err := s.versions.Load(r.Context(), req.Gateway, ruleset.Draft)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reply, err := s.explainRules(rs, ruleset.Draft, req.Request, opts, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeCompact(w, reply)
}

// checkEvalRequest checks a request to evaluate, with paths under
// "request".
func checkEvalRequest(p *model.Problems, req rules.Request) {
	if req.URL == "" {
		p.Add("request.url", "required: a URL or a request target such as /v1/cart?x=1")
	}
	p.Merge("request", req.Validate())
}

// traceOptions are the query parameters of an explanation: the summary,
// or with trace=full (or a cursor) one page of the full trace.
type traceOptions struct {
	full   bool
	limit  int
	cursor string
}

func readTraceOptions(p *model.Problems, q url.Values) traceOptions {
	o := traceOptions{limit: evalTracePage, cursor: q.Get("cursor")}
	switch t := q.Get("trace"); t {
	case "":
	case "full":
		o.full = true
	default:
		p.Add("trace", "must be full (or absent for the summary)")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > evalTracePageLimit {
			p.Add("limit", "must be a number from 1 to %d", evalTracePageLimit)
		}
		o.limit = n
	}
	return o
}

// explainRules is how rs treats req, as /evaluate answers. asked is the
// version as the client named it (live, not the number it resolved to),
// and subject what the trace cursor is bound to besides: the request and
// whatever else decides the trace.
func (s *server) explainRules(rs *ruleset.Rules, asked ruleset.Version, req rules.Request, o traceOptions, subject any) (evaluateReply, error) {
	from, full := 0, o.full
	if o.cursor != "" {
		var err error
		if from, err = readTraceCursor(o.cursor, rs.Stamp(), subject, asked); err != nil {
			return evaluateReply{}, err
		}
		full = true
	}
	ex := rs.Program.Explain(req, rules.ExplainOptions{Before: evalBefore, NearMisses: evalNearMisses})
	reply := evaluateReply{resultFields: resultFields(ex.Result), Version: rs.Version.String(), Winner: ex.Winner,
		Tried: ex.Tried, Before: ex.Before, NearMisses: ex.NearMisses}
	reply.Action = redactAction(ex.Result.Action, s.Fingerprinter)
	if ex.Result.Rule != "" {
		reply.Rule = &ex.Result.Rule
	}
	if full {
		page, next := rs.Program.TracePage(req, from, o.limit)
		reply.Trace = page
		if next >= 0 {
			reply.TraceNext = traceCursor(rs.Stamp(), next, subject)
		}
	}
	return reply, nil
}

// writeCompact writes v without indenting, unlike writeJSON: explanations
// are the API's busiest answers, and indenting cost a third of their time.
func writeCompact(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// A trace cursor says where the next page starts, for which rules (see
// ruleset.Rules.Stamp) and which subject: a page of other rules or of
// another request would not continue the one before it.
func traceCursor(stamp int64, next int, subject any) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], uint64(stamp))
	binary.BigEndian.PutUint64(b[8:], uint64(next))
	copy(b[16:], subjectDigest(subject))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func readTraceCursor(c string, stamp int64, subject any, asked ruleset.Version) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 24 {
		return 0, fieldError("cursor", "not a cursor this API gave out")
	}
	if string(b[16:]) != string(subjectDigest(subject)) {
		return 0, fieldError("cursor", "the cursor belongs to another request: send the same body as for the first page")
	}
	if int64(binary.BigEndian.Uint64(b[0:])) != stamp {
		return 0, model.Errorf(model.ECONFLICT, "the %s changed since this trace began: ask again without a cursor", versionNoun(asked))
	}
	next := binary.BigEndian.Uint64(b[8:])
	if next > 1<<31 {
		return 0, fieldError("cursor", "not a cursor this API gave out")
	}
	return int(next), nil
}

func versionNoun(v ruleset.Version) string {
	switch v {
	case ruleset.Draft:
		return "draft"
	case ruleset.Live:
		return "live version"
	}
	return "version " + v.String()
}

// subjectDigest is 8 bytes of a hash of what decides the trace.
func subjectDigest(subject any) []byte {
	b, err := json.Marshal(subject)
	if err != nil {
		b = []byte(fmt.Sprint(subject))
	}
	sum := sha256.Sum256(b)
	return sum[:8]
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
