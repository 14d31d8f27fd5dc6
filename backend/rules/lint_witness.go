package rules

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// Witness is a request that shows a finding: it matches the rule the
// finding is about, and what happens to it is what the finding says.
type Witness struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Headers are the headers the request must carry (cookies as a
	// Cookie header), by lower-case name.
	Headers map[string]string `json:"headers,omitempty"`
	// Listener is the listener the request arrives on, when the rules
	// involved answer on some listeners only.
	Listener string `json:"listener,omitempty"`
	// TakenBy is the rule the request goes to instead of the finding's
	// rule (shadowed and overlap findings).
	TakenBy string `json:"takenBy,omitempty"`
}

// String renders the witness as "GET http://host/path" plus its headers.
func (w Witness) String() string {
	s := w.Method + " " + w.URL
	names := make([]string, 0, len(w.Headers))
	for k := range w.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s += fmt.Sprintf(" with %s: %s", k, w.Headers[k])
	}
	if w.Listener != "" {
		s += " on listener " + w.Listener
	}
	return s
}

// Request is the witness as an evaluator request.
func (w Witness) Request() Request {
	req := Request{Method: w.Method, URL: w.URL, Listener: w.Listener}
	if len(w.Headers) > 0 {
		req.Headers = http.Header{}
		for k, v := range w.Headers {
			req.Headers.Set(k, v)
		}
	}
	return req
}

// maxWitnessTries bounds the candidate requests tried for one finding.
const maxWitnessTries = 16

// findWitness looks for a request that matches every program of want (each
// a single rule) and that full hands to taker (when taker is not ""). The
// candidates come from the alternatives of the conditions: a request that
// satisfies the predicates of one alternative of each; every candidate is
// checked with the evaluator, so a witness is never wrong, only sometimes
// not found (a regex, or predicates that contradict each other). The
// request arrives on listener.
func findWitness(conds []model.Condition, listener string, want []*Program, full *Program, taker string) *Witness {
	alts := [][]pred{{}}
	for _, c := range conds {
		ca := alternatives(c, false)
		next := make([][]pred, 0, len(alts)*len(ca))
		for _, a := range alts {
			for _, b := range ca {
				if len(next) < maxWitnessTries {
					next = append(next, append(append([]pred{}, a...), b...))
				}
			}
		}
		alts = next
	}
	for _, a := range alts {
		w := build(a)
		w.Listener = listener
		req := w.Request()
		ok := true
		for _, p := range want {
			if winner(p, req) == "" {
				ok = false
				break
			}
		}
		if ok && (taker == "" || winner(full, req) == taker) {
			return &w
		}
	}
	return nil
}

// winner is the rule p hands req to, without the trace Evaluate builds
// for every rule tried.
func winner(p *Program, req Request) string {
	return p.Explain(req, ExplainOptions{}).Result.Rule
}

// pred is a predicate of a condition, possibly negated.
type pred struct {
	c   model.Condition
	neg bool
}

// alternatives expands c into the lists of predicates one of which a
// request must satisfy, like a disjunctive normal form cut short at
// maxWitnessTries alternatives (a witness needs one).
func alternatives(c model.Condition, neg bool) [][]pred {
	switch {
	case c.IsZero():
		return [][]pred{{}}
	case c.Not != nil:
		return alternatives(*c.Not, !neg)
	case len(c.All) > 0 && !neg, len(c.Any) > 0 && neg:
		kids := c.All
		if neg {
			kids = c.Any
		}
		out := [][]pred{{}}
		for _, k := range kids {
			ka := alternatives(k, neg)
			next := make([][]pred, 0, len(out)*len(ka))
			for _, a := range out {
				for _, b := range ka {
					if len(next) < maxWitnessTries {
						next = append(next, append(append([]pred{}, a...), b...))
					}
				}
			}
			out = next
		}
		return out
	case len(c.Any) > 0 || len(c.All) > 0:
		kids := c.Any
		if neg {
			kids = c.All
		}
		var out [][]pred
		for _, k := range kids {
			for _, a := range alternatives(k, neg) {
				if len(out) < maxWitnessTries {
					out = append(out, a)
				}
			}
		}
		return out
	}
	return [][]pred{{{c: c, neg: neg}}}
}

// build makes a request that satisfies the positive predicates of ps as far
// as plain values allow; negated ones are left to the defaults (most
// predicates are false on a request that lacks what they test).
func build(ps []pred) Witness {
	host, path, method, scheme := "", "", "", ""
	headers := map[string]string{}
	query := map[string]string{}
	var cookies []string
	for _, p := range ps {
		if p.neg {
			// !x.absent() is x.present(); other negations hold on the
			// defaults more often than not.
			if p.c.Op != model.OpAbsent {
				continue
			}
			p = pred{c: model.Condition{Field: p.c.Field, Op: model.OpPresent}}
		}
		if p.c.Op == model.OpAbsent {
			continue
		}
		kind, key, ok := model.ParseField(p.c.Field)
		if !ok {
			continue
		}
		switch kind {
		case model.FieldHost:
			host = sample(p.c, host, "a", "example.com")
		case model.FieldPath:
			path = samplePath(p.c, path)
		case model.FieldMethod:
			method = sample(p.c, method, "X", "GET")
			if p.c.Op == model.OpNotEquals || p.c.Op == model.OpNotIn {
				method = otherMethod(p.c)
			}
		case model.FieldScheme:
			scheme = sample(p.c, scheme, "", "http")
		case model.FieldHeader:
			headers[strings.ToLower(key)] = sample(p.c, headers[strings.ToLower(key)], "x", "1")
		case model.FieldQuery:
			query[key] = sample(p.c, query[key], "x", "1")
		case model.FieldCookie:
			cookies = append(cookies, key+"="+sample(p.c, "", "x", "1"))
		case model.FieldGRPC:
			headers["content-type"] = "application/grpc"
			method = "POST"
		case model.FieldGRPCService, model.FieldGRPCMethod:
			headers["content-type"] = "application/grpc"
			method = "POST"
			svc, m := "pkg.Service", "Method"
			if cur := strings.Split(strings.TrimPrefix(path, "/"), "/"); len(cur) == 2 {
				svc, m = cur[0], cur[1]
			}
			if kind == model.FieldGRPCService {
				svc = sample(p.c, "", "x", svc)
			} else {
				m = sample(p.c, "", "x", m)
			}
			path = "/" + svc + "/" + m
		}
	}
	if host == "" {
		host = "example.com"
	}
	host = strings.ReplaceAll(host, "*", "a")
	if path == "" {
		path = "/"
	}
	if method == "" {
		method = "GET"
	}
	if scheme == "" {
		scheme = "http"
	}
	if len(cookies) > 0 {
		headers["cookie"] = strings.Join(cookies, "; ")
	}
	u := scheme + "://" + host + path
	if len(query) > 0 {
		// Written as they are: the evaluator, like Envoy's query matcher,
		// compares the raw text. Keys and values that would break the
		// query apart make a candidate that fails verification.
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(query)) {
			parts = append(parts, k+"="+query[k])
		}
		u += "?" + strings.Join(parts, "&")
	}
	w := Witness{Method: method, URL: u}
	if len(headers) > 0 {
		w.Headers = headers
	}
	return w
}

// sample is a value satisfying predicate c, built on cur (what earlier
// predicates on the same subject chose) where the operator allows: fill
// pads around a prefix, suffix or substring; def is taken when c asks for
// presence only.
func sample(c model.Condition, cur, fill, def string) string {
	switch c.Op {
	case model.OpEquals, model.OpExact:
		return c.Value
	case model.OpIn:
		if len(c.Values) > 0 {
			return c.Values[0]
		}
	case model.OpPrefix:
		if strings.HasPrefix(cur, c.Value) {
			return cur
		}
		return c.Value + fill
	case model.OpSegmentPrefix:
		if strings.HasPrefix(cur, c.Value) {
			return cur
		}
		return c.Value
	case model.OpSuffix:
		if strings.HasSuffix(cur, c.Value) {
			return cur
		}
		return cur + fill + c.Value
	case model.OpContains:
		if strings.Contains(cur, c.Value) {
			return cur
		}
		return cur + c.Value
	case model.OpRegex:
		if lit, ok := regexLiteral(c.Value); ok {
			return lit
		}
	case model.OpNotEquals:
		if cur != "" && cur != c.Value {
			return cur
		}
		return c.Value + fill
	}
	if cur != "" {
		return cur
	}
	return def
}

// samplePath is sample for the path, whose prefixes take a segment more
// ("/api" becomes "/api/x") so the witness reads like a real request and
// shows what a prefix rewrite does to the rest of the path.
func samplePath(c model.Condition, cur string) string {
	switch c.Op {
	case model.OpPrefix, model.OpSegmentPrefix:
		if strings.HasPrefix(cur, c.Value) {
			return cur
		}
		if strings.HasSuffix(c.Value, "/") {
			return c.Value + "x"
		}
		return c.Value + "/x"
	case model.OpTemplate:
		return templateSample(c.Value)
	case model.OpSuffix, model.OpContains:
		if cur == "" {
			cur = "/x"
		}
	}
	return sample(c, cur, "/x", "/")
}

var templateVar = regexp.MustCompile(`\{[^}]*\}`)

// templateSample fills a path template ("/users/{id}/**") with values.
func templateSample(t string) string {
	s := templateVar.ReplaceAllString(t, "x")
	s = strings.ReplaceAll(s, "**", "x/y")
	return strings.ReplaceAll(s, "*", "x")
}

// regexLiteral returns a short string RE2 expression re matches in full:
// the first alternative, each repetition its minimum (one for +).
func regexLiteral(re string) (string, bool) {
	prog, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if !sampleRegex(prog.Simplify(), &b, 0) || b.Len() > 256 {
		return "", false
	}
	return b.String(), true
}

func sampleRegex(re *syntax.Regexp, b *strings.Builder, depth int) bool {
	if depth > 32 {
		return false
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		if len(re.Rune) < 2 {
			return false
		}
		b.WriteRune(re.Rune[0])
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('x')
	case syntax.OpCapture:
		return sampleRegex(re.Sub[0], b, depth+1)
	case syntax.OpPlus:
		return sampleRegex(re.Sub[0], b, depth+1)
	case syntax.OpRepeat:
		for range re.Min {
			if !sampleRegex(re.Sub[0], b, depth+1) {
				return false
			}
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !sampleRegex(sub, b, depth+1) {
				return false
			}
		}
	case syntax.OpAlternate:
		return sampleRegex(re.Sub[0], b, depth+1)
	case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
	default:
		return false
	}
	return true
}

func otherMethod(c model.Condition) string {
	taken := map[string]bool{c.Value: true}
	for _, v := range c.Values {
		taken[v] = true
	}
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
		if !taken[m] {
			return m
		}
	}
	return "OPTIONS"
}
