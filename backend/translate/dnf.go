package translate

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/routedeck/routedeck/backend/model"
)

// maxTermsPerRule bounds how many Envoy routes one rule may expand into
// (per virtual host). Expanding `any` and `not` into disjunctive normal form
// can grow exponentially; past the bound the rule is rejected rather than
// truncated, so the operator learns to split it.
const maxTermsPerRule = 64

// literal is one predicate of a conjunction, possibly negated. path names the
// predicate in the rule ("when.all[1].not") so errors point at it.
type literal struct {
	// pred is the predicate: the rule's own while the rule is compiled,
	// or a rewritten copy (terms kept past that hold copies, see
	// hostLiterals). Literals are copied between terms, and a pointer
	// keeps that cheap.
	pred *model.Condition
	neg  bool
	path string
	// keepMissing marks a negated header test whose matcher also matches the
	// empty string: it must not treat a missing header as empty, so dnf pairs
	// it with a separate "absent" alternative.
	keepMissing bool
}

// term is a conjunction of literals: one alternative of a rule, which becomes
// one Envoy route per virtual host it is placed in.
type term []literal

// dnf expands c into a disjunction of conjunctions. A zero condition yields a
// single empty term (matches everything). Contradictions are not pruned here:
// placement drops terms whose host literals are false for a virtual host, and
// the remaining literals are all expressible as matchers.
func dnf(c model.Condition, path string) ([]term, error) {
	return dnfIn(&c, path, nil)
}

// dnfIn is dnf with its literals and products taken from ar (nil: each
// allocated alone). The literals of predicates used as they are point
// into c, which must not change while the terms are in use.
func dnfIn(c *model.Condition, path string, ar *termArena) ([]term, error) {
	if c.IsZero() {
		return []term{nil}, nil
	}
	return expand(c, false, path, ar)
}

// termArena hands out the building blocks of terms from batches: a rule
// expands into a few of them, a cold start into tens of thousands. A
// batch stays in memory while any rule's terms use it.
type termArena struct {
	size  int // blocks per batch
	ones  []oneLiteral
	pairs []crossPair
	preds []model.Condition
	lits  []literal
}

// pred returns a zero predicate to fill in.
func (a *termArena) pred() *model.Condition {
	if a == nil {
		return &model.Condition{}
	}
	if len(a.preds) == 0 {
		a.preds = make([]model.Condition, max(a.size, 1))
	}
	p := &a.preds[0]
	a.preds = a.preds[1:]
	return p
}

// hostLiterals is what of t is kept once its rule is compiled: its host
// literals, which placement reads, each with its own copy of the
// predicate (the rule's condition belongs to the caller).
func hostLiterals(t term, a *termArena) term {
	n := 0
	for _, l := range t {
		if l.pred.Field == model.FieldHost {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	var out term
	if a == nil || n > a.size {
		out = make(term, 0, n)
	} else {
		if len(a.lits) < n {
			a.lits = make([]literal, a.size)
		}
		out, a.lits = a.lits[:0:n], a.lits[n:]
	}
	for _, l := range t {
		if l.pred.Field == model.FieldHost {
			p := a.pred()
			*p = *l.pred
			l.pred = p
			out = append(out, l)
		}
	}
	return out
}

func (a *termArena) one() *oneLiteral {
	if a == nil {
		return &oneLiteral{}
	}
	if len(a.ones) == 0 {
		a.ones = make([]oneLiteral, max(a.size, 1))
	}
	o := &a.ones[0]
	a.ones = a.ones[1:]
	return o
}

func (a *termArena) pair() *crossPair {
	if a == nil {
		return &crossPair{}
	}
	if len(a.pairs) == 0 {
		a.pairs = make([]crossPair, max(a.size, 1))
	}
	p := &a.pairs[0]
	a.pairs = a.pairs[1:]
	return p
}

// expand returns the DNF of c (negated when neg), pushing negation down by
// De Morgan's laws.
func expand(c *model.Condition, neg bool, path string, ar *termArena) ([]term, error) {
	kinds := 0
	for _, set := range []bool{c.All != nil, c.Any != nil, c.Not != nil, c.IsPredicate()} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return nil, fieldError(path, fmt.Errorf("a condition must have exactly one of all, any, not or a predicate"))
	case c.All != nil && len(c.All) == 0:
		// The rules language gives an empty list no meaning: refuse it
		// rather than guess "always" or "never".
		return nil, fieldError(model.JoinPath(path, "all"), fmt.Errorf("must not be empty"))
	case c.Any != nil && len(c.Any) == 0:
		return nil, fieldError(model.JoinPath(path, "any"), fmt.Errorf("must not be empty"))
	case c.Text != "":
		return nil, fieldError(path, fmt.Errorf("condition text %q was not parsed into a tree", c.Text))
	case c.Not != nil:
		return expand(c.Not, !neg, model.JoinPath(path, "not"), ar)
	case c.All != nil && !neg, c.Any != nil && neg:
		// A conjunction: the cross product of the children's terms.
		children, key := c.All, "all"
		if c.Any != nil {
			children, key = c.Any, "any"
		}
		// out starts as the one empty term (true), left implicit until
		// the first child replaces it, which saves allocating it.
		var out []term
		started := false
		for i := range children {
			ts, err := expand(&children[i], neg, indexPath(path, key, i), ar)
			if err != nil {
				return nil, err
			}
			if !started {
				if len(ts) > maxTermsPerRule {
					return nil, errTooManyTerms(path)
				}
				out, started = ts, true // nothing to combine with yet
				continue
			}
			if len(out)*len(ts) > maxTermsPerRule {
				return nil, errTooManyTerms(path)
			}
			if len(out) == 1 && len(out[0]) == 0 {
				out = ts // still true: nothing to combine with yet
				continue
			}
			out = crossTerms(out, ts, ar)
		}
		return out, nil
	case c.Any != nil || c.All != nil:
		// A disjunction: the union of the children's terms.
		children, key := c.Any, "any"
		if c.All != nil {
			children, key = c.All, "all"
		}
		var out []term
		for i := range children {
			ts, err := expand(&children[i], neg, indexPath(path, key, i), ar)
			if err != nil {
				return nil, err
			}
			out = append(out, ts...)
			if len(out) > maxTermsPerRule {
				return nil, errTooManyTerms(path)
			}
		}
		return out, nil
	case c.IsPredicate():
		return expandPredicate(c, neg, path, ar)
	}
	return nil, fieldError(path, fmt.Errorf("empty condition node"))
}

// crossPair is the product of two one-term lists of few literals (a host
// test and a path test, say), the usual case, in one allocation.
type crossPair struct {
	terms [1]term
	lits  [3]literal
}

func crossTerms(a, b []term, ar *termArena) []term {
	if len(a) == 1 && len(b) == 1 && len(a[0])+len(b[0]) <= len(crossPair{}.lits) {
		p := ar.pair()
		t := append(term(p.lits[:0:len(a[0])+len(b[0])]), a[0]...)
		for _, l := range b[0] {
			if !t.has(l) {
				t = append(t, l)
			}
		}
		p.terms[0] = t
		return p.terms[:]
	}
	out := make([]term, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			t := make(term, 0, len(x)+len(y))
			t = append(t, x...)
			for _, l := range y {
				if !t.has(l) {
					t = append(t, l)
				}
			}
			out = append(out, t)
		}
	}
	return out
}

// has reports whether t already holds the same test (repeated tests come
// from rewrites such as grpc.service, which adds the gRPC shape test).
func (t term) has(l literal) bool {
	for _, x := range t {
		if x.neg == l.neg && x.keepMissing == l.keepMissing && x.pred.Field == l.pred.Field && x.pred.Op == l.pred.Op &&
			x.pred.Value == l.pred.Value && x.pred.IgnoreCase == l.pred.IgnoreCase && slices.Equal(x.pred.Values, l.pred.Values) {
			return true
		}
	}
	return false
}

func errTooManyTerms(path string) error {
	return fieldError(path, fmt.Errorf("condition expands to more than %d alternatives (Envoy routes); split the rule or simplify its any/not nesting", maxTermsPerRule))
}

// expandPredicate rewrites predicates whose negation is not a single Envoy
// matcher into small disjunctions, so the rest of the translator only meets
// literals it can map one to one.
func expandPredicate(orig *model.Condition, neg bool, path string, ar *termArena) ([]term, error) {
	c := *orig
	kind, _, ok := model.ParseField(c.Field)
	if !ok {
		return nil, fieldError(model.JoinPath(path, "field"), fmt.Errorf("unknown field %q", c.Field))
	}
	// one is a literal of a rewritten predicate, lit one of c, which is
	// the rule's own predicate unless rewritten.
	rewritten := false
	one := func(p model.Condition, n bool) []term {
		q := ar.pred()
		*q = p
		return oneTerm(q, n, path, ar)
	}
	lit := func(n bool) []term {
		if rewritten {
			return one(c, n)
		}
		return oneTerm(orig, n, path, ar)
	}
	switch kind {
	case model.FieldGRPCService, model.FieldGRPCMethod:
		// grpc.service/grpc.method exist only on gRPC requests; they are a
		// property of the path "/<service>/<method>".
		sub, err := grpcPathCondition(c)
		if err != nil {
			return nil, fieldError(path, err)
		}
		return expand(&sub, neg, path, ar)
	case model.FieldHeader, model.FieldCookie, model.FieldQuery:
		if (c.Op == model.OpPrefix || c.Op == model.OpSuffix || c.Op == model.OpContains) && c.Value == "" {
			// Every value starts with, ends with and contains "": the test is
			// presence, and Envoy refuses empty string matchers anyway.
			c, rewritten = withOp(c, model.OpPresent), true
		}
		if !neg {
			return lit(false), nil
		}
		// A negated value test on an optional field is true when the field is
		// absent, while the positive complement ops (not-equals, not-in) are
		// false when it is absent: rewrite them to "absent or the opposite".
		switch c.Op {
		case model.OpPresent:
			return one(withOp(c, model.OpAbsent), false), nil
		case model.OpAbsent:
			return one(withOp(c, model.OpPresent), false), nil
		}
		if pos := complementOf(c.Op); pos != "" {
			return append(one(withOp(c, model.OpAbsent), false), one(withOp(c, pos), false)...), nil
		}
		if kind == model.FieldHeader && valueMatchesEmpty(c) {
			// Envoy can only invert a value test on a missing header by
			// treating it as "", which would not flip a test "" passes.
			absent, negated := one(withOp(c, model.OpAbsent), false), lit(true)
			negated[0][0].keepMissing = true
			return append(absent, negated...), nil
		}
		return lit(true), nil
	case model.FieldGRPC:
		if neg {
			switch c.Op {
			case model.OpPresent:
				return one(withOp(c, model.OpAbsent), false), nil
			case model.OpAbsent:
				return one(withOp(c, model.OpPresent), false), nil
			}
		}
		return lit(neg), nil
	}
	// host, path, method and scheme are always present, so presence tests
	// are constants and the complement ops are plain negations.
	switch c.Op {
	case model.OpPresent, model.OpAbsent:
		if (c.Op == model.OpPresent) != neg {
			return []term{nil}, nil
		}
		return []term{}, nil
	}
	if pos := complementOf(c.Op); pos != "" {
		return one(withOp(c, pos), !neg), nil
	}
	return lit(neg), nil
}

// oneLiteral is the DNF of one predicate, made in one allocation: it is
// what almost every predicate of every rule expands to.
type oneLiteral struct {
	terms [1]term
	lits  [1]literal
}

func oneTerm(p *model.Condition, neg bool, path string, ar *termArena) []term {
	o := ar.one()
	o.lits[0] = literal{pred: p, neg: neg, path: path}
	o.terms[0] = o.lits[:]
	return o.terms[:]
}

// valueMatchesEmpty reports whether a value test passes on "".
func valueMatchesEmpty(c model.Condition) bool {
	switch c.Op {
	case model.OpEquals:
		return c.Value == ""
	case model.OpIn:
		for _, v := range c.Values {
			if v == "" {
				return true
			}
		}
	case model.OpRegex:
		return matchesEmpty(c.Value)
	}
	return false
}

func withOp(c model.Condition, op string) model.Condition {
	c.Op = op
	return c
}

// grpcPathCondition turns a grpc.service or grpc.method predicate into
// "the request is gRPC and its path has that service/method segment".
func grpcPathCondition(c model.Condition) (model.Condition, error) {
	// The rules read service and method from a path of exactly two
	// non-empty segments, and only on gRPC requests.
	grpc := model.And(
		model.Pred(model.FieldGRPC, model.OpPresent, ""),
		model.Pred(model.FieldPath, model.OpRegex, "/[^/]+/[^/]+"),
	)
	switch c.Op {
	case model.OpPresent:
		return grpc, nil
	case model.OpAbsent:
		return model.Not(grpc), nil
	}
	positive := c
	negate := false
	if pos := complementOf(c.Op); pos != "" {
		positive, negate = withOp(c, pos), true
	}
	seg, err := segmentRegex(positive)
	if err != nil {
		return model.Condition{}, err
	}
	re := "/" + seg + "/[^/]+"
	if c.Field == model.FieldGRPCMethod {
		re = "/[^/]+/" + seg
	}
	p := model.Pred(model.FieldPath, model.OpRegex, re)
	if negate {
		return model.And(grpc, model.Not(p)), nil
	}
	return model.And(grpc, p), nil
}

// segmentRegex renders a string predicate as a regex over one path segment.
func segmentRegex(c model.Condition) (string, error) {
	re, err := stringRegex(c)
	if err != nil {
		return "", err
	}
	// A segment never holds '/': the regex must not reach across one.
	return excludeRunes(re, "/")
}

// indexPath is model.Index(model.JoinPath(path, key), i) without fmt: it
// runs for every node of every rule, and the paths of a rule's first level
// come from a table.
func indexPath(path, key string, i int) string {
	if path == "when" && i < len(whenAll) {
		switch key {
		case "all":
			return whenAll[i]
		case "any":
			return whenAny[i]
		}
	}
	if path == "" {
		return key + "[" + strconv.Itoa(i) + "]"
	}
	return path + "." + key + "[" + strconv.Itoa(i) + "]"
}

var whenAll, whenAny [16]string

func init() {
	for i := range whenAll {
		whenAll[i] = "when.all[" + strconv.Itoa(i) + "]"
		whenAny[i] = "when.any[" + strconv.Itoa(i) + "]"
	}
}
