package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/routedeck/routedeck/backend/model"
	"github.com/routedeck/routedeck/backend/rules"
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
	if req.Request.URL == "" {
		p.Add("request.url", "required: a URL or a request target such as /v1/cart?x=1")
	}
	p.Merge("request", req.Request.Validate())
	full, from, limit := false, 0, evalTracePage
	q := r.URL.Query()
	switch t := q.Get("trace"); t {
	case "":
	case "full":
		full = true
	default:
		p.Add("trace", "must be full (or absent for the summary)")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > evalTracePageLimit {
			p.Add("limit", "must be a number from 1 to %d", evalTracePageLimit)
		}
		limit = n
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	prog, gen, err := s.gatewayProgram(r.Context(), req.Gateway)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if c := q.Get("cursor"); c != "" {
		if from, err = readTraceCursor(c, gen, req); err != nil {
			s.writeError(w, r, err)
			return
		}
		full = true
	}

	ex := prog.Explain(req.Request, rules.ExplainOptions{Before: evalBefore, NearMisses: evalNearMisses})
	reply := evaluateReply{resultFields: resultFields(ex.Result), Winner: ex.Winner, Tried: ex.Tried,
		Before: ex.Before, NearMisses: ex.NearMisses}
	reply.Action = redactAction(ex.Result.Action, s.Fingerprinter)
	if ex.Result.Rule != "" {
		reply.Rule = &ex.Result.Rule
	}
	if full {
		page, next := prog.TracePage(req.Request, from, limit)
		reply.Trace = page
		if next >= 0 {
			reply.TraceNext = traceCursor(gen, next, req)
		}
	}
	// Compact, unlike writeJSON: this is the API's busiest answer, and
	// indenting it cost a third of its time.
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

// A trace cursor says where the next page starts, for which draft
// generation and which request: a page of another draft or request would
// not continue the one before it.
func traceCursor(gen int64, next int, req evaluateRequest) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[0:], uint64(gen))
	binary.BigEndian.PutUint64(b[8:], uint64(next))
	copy(b[16:], requestDigest(req))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func readTraceCursor(c string, gen int64, req evaluateRequest) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 24 {
		return 0, fieldError("cursor", "not a cursor this API gave out")
	}
	if int64(binary.BigEndian.Uint64(b[0:])) != gen {
		return 0, model.Errorf(model.ECONFLICT, "the draft changed since this trace began: evaluate again without a cursor")
	}
	if string(b[16:]) != string(requestDigest(req)) {
		return 0, fieldError("cursor", "the cursor belongs to another request: send the same body as for the first page")
	}
	next := binary.BigEndian.Uint64(b[8:])
	if next > 1<<31 {
		return 0, fieldError("cursor", "not a cursor this API gave out")
	}
	return int(next), nil
}

// requestDigest is 8 bytes of a hash of what decides the trace.
func requestDigest(req evaluateRequest) []byte {
	b, err := json.Marshal(req)
	if err != nil {
		b = []byte(fmt.Sprint(req))
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
