package rules

import (
	"slices"
	"sort"
	"strings"

	"github.com/routedeck/routedeck/backend/model"
)

// maxConjunctions bounds the disjunctive normal form Lint builds for a
// condition. DNF can grow exponentially; beyond the bound Lint gives up on
// the rule rather than spend unbounded time, which only loses findings.
const maxConjunctions = 64

// literal is a predicate or its negation, with the predicate in the form the
// evaluator compares it: header names lower-cased, exact read as equals,
// values folded when the comparison folds.
type literal struct {
	neg    bool
	kind   string // field kind ("header"); the raw field when unknown
	key    string // keyed fields only
	op     string
	fold   bool
	values []string // one value, the list of in/not in, none for present/absent
	known  bool     // the field parsed
}

// conjunction is a list of literals that must all hold; a DNF is a list of
// conjunctions one of which must hold. The empty conjunction is true.
type conjunction []literal

// dnf returns c (resolved and normalised) in disjunctive normal form, or
// false when it would exceed maxConjunctions. Negation is pushed through
// && and || by De Morgan's laws, which is exact because the evaluator
// combines node results as plain booleans; it stops at predicates, since
// !(x == "a") is not x != "a" (the two differ on a missing subject).
func dnf(c model.Condition) ([]conjunction, bool) {
	if c.IsZero() {
		return []conjunction{{}}, true
	}
	return dnfNode(c, false)
}

func dnfNode(c model.Condition, neg bool) ([]conjunction, bool) {
	switch {
	case c.Not != nil:
		return dnfNode(*c.Not, !neg)
	case len(c.All) > 0 && !neg, len(c.Any) > 0 && neg:
		// A conjunction of the members (for a negated ||, of their negations).
		kids := c.All
		if neg {
			kids = c.Any
		}
		out := []conjunction{{}}
		for _, k := range kids {
			kd, ok := dnfNode(k, neg)
			if !ok || len(out)*len(kd) > maxConjunctions {
				return nil, false
			}
			next := make([]conjunction, 0, len(out)*len(kd))
			for _, a := range out {
				for _, b := range kd {
					next = append(next, append(slices.Clone(a), b...))
				}
			}
			out = next
		}
		return out, true
	case len(c.Any) > 0 || len(c.All) > 0:
		// A disjunction: || of the members, or a negated && of negations.
		kids := c.Any
		if neg {
			kids = c.All
		}
		var out []conjunction
		for _, k := range kids {
			kd, ok := dnfNode(k, neg)
			if !ok || len(out)+len(kd) > maxConjunctions {
				return nil, false
			}
			out = append(out, kd...)
		}
		return out, true
	}
	// A predicate. A zero condition below the root also lands here: the
	// evaluator treats it as a predicate without a field, which never
	// holds, and so does its literal (it implies only itself).
	return []conjunction{{toLiteral(c, neg)}}, true
}

func toLiteral(c model.Condition, neg bool) literal {
	l := literal{neg: neg, op: c.Op}
	if l.op == model.OpExact {
		l.op = model.OpEquals
	}
	kind, key, ok := model.ParseField(c.Field)
	if !ok {
		// Never matches; kept apart from every known field by its raw text.
		l.kind = c.Field
		l.values = append([]string{c.Value}, c.Values...)
		return l
	}
	l.known, l.kind, l.key = true, kind, key
	if kind == model.FieldHeader {
		l.key = strings.ToLower(key)
	}
	l.fold = c.IgnoreCase || kind == model.FieldHost
	switch c.Op {
	case model.OpIn, model.OpNotIn:
		l.values = slices.Clone(c.Values)
	case model.OpPresent, model.OpAbsent:
	default:
		l.values = []string{c.Value}
	}
	// The evaluator folds every value except regular expressions and
	// templates, which it compiles as written.
	if l.fold && l.op != model.OpRegex && l.op != model.OpTemplate {
		for i, v := range l.values {
			l.values[i] = asciiLower(v)
		}
	}
	if l.op == model.OpIn || l.op == model.OpNotIn {
		sort.Strings(l.values)
		l.values = slices.Compact(l.values)
	}
	return l
}

// same reports whether a and b are the same literal: same polarity and a
// predicate that the evaluator treats identically.
func (a literal) same(b literal) bool {
	return a.neg == b.neg && a.known == b.known && a.kind == b.kind && a.key == b.key &&
		a.op == b.op && a.fold == b.fold && slices.Equal(a.values, b.values)
}

// dnfImplies reports whether every request b matches also matches a: each
// conjunction of b implies some conjunction of a.
func dnfImplies(b, a []conjunction) bool {
	for _, cb := range b {
		if !slices.ContainsFunc(a, func(ca conjunction) bool { return conjImplies(cb, ca) }) {
			return false
		}
	}
	return true
}

// conjImplies reports whether cb implies ca: every literal of ca follows
// from some literal of cb. A negated literal of ca only follows from the
// same negated literal; negated literals of cb prove nothing else.
func conjImplies(cb, ca conjunction) bool {
	for _, la := range ca {
		if !slices.ContainsFunc(cb, func(lb literal) bool { return litImplies(lb, la) }) {
			return false
		}
	}
	return true
}

// litImplies reports whether literal b implies literal a. It answers true
// only for cases that follow from the evaluator's definitions; anything it
// is not sure of is "no".
func litImplies(b, a literal) bool {
	if b.same(a) {
		return true
	}
	if a.neg || b.neg || !a.known || !b.known || a.kind != b.kind || a.key != b.key {
		return false
	}
	keyed := a.kind == model.FieldHeader || a.kind == model.FieldQuery || a.kind == model.FieldCookie
	if a.op == model.OpPresent {
		// Every value operator is false on a missing subject, so any
		// predicate on a header, parameter or cookie but absent proves it
		// is there; present, ignoreCase or not, says just that.
		return keyed && b.op != model.OpAbsent
	}
	if a.fold != b.fold {
		return false
	}
	if b.op == model.OpIn {
		// b is a disjunction of equalities: each one must imply a. An
		// empty list never matches and implies anything.
		for _, v := range b.values {
			if !equalsImplies(a.kind, v, a) {
				return false
			}
		}
		return true
	}
	if b.op == model.OpEquals {
		return equalsImplies(a.kind, b.values[0], a)
	}
	p := b.values
	if len(p) != 1 || len(a.values) != 1 {
		return false
	}
	q := a.values[0]
	switch b.op {
	case model.OpPrefix:
		switch a.op {
		case model.OpPrefix:
			return strings.HasPrefix(p[0], q)
		case model.OpContains:
			return strings.Contains(p[0], q)
		case model.OpSegmentPrefix:
			return strings.HasPrefix(p[0], q+"/")
		}
	case model.OpSegmentPrefix:
		// The subject is p or starts with p+"/".
		switch a.op {
		case model.OpPrefix:
			return strings.HasPrefix(p[0], q)
		case model.OpContains:
			return strings.Contains(p[0], q)
		case model.OpSegmentPrefix:
			return p[0] == q || strings.HasPrefix(p[0], q+"/")
		}
	case model.OpSuffix:
		switch a.op {
		case model.OpSuffix:
			return strings.HasSuffix(p[0], q)
		case model.OpContains:
			return strings.Contains(p[0], q)
		}
	case model.OpContains:
		return a.op == model.OpContains && strings.Contains(p[0], q)
	}
	return false
}

// equalsImplies reports whether kind == v (v folded like a's values) implies
// the positive literal a. On host a value starting with "*" is a pattern
// matching any longer host ending in the rest, as in the evaluator.
func equalsImplies(kind, v string, a literal) bool {
	if kind == model.FieldHost && strings.HasPrefix(v, "*") {
		// The subject is some host longer than rest and ending in it.
		rest := v[1:]
		switch a.op {
		case model.OpEquals:
			return hostPatternCovers(a.values[0], v)
		case model.OpIn:
			return slices.ContainsFunc(a.values, func(w string) bool { return hostPatternCovers(w, v) })
		case model.OpSuffix:
			return strings.HasSuffix(rest, a.values[0])
		case model.OpContains:
			return strings.Contains(rest, a.values[0])
		}
		return false
	}
	// The subject is exactly v.
	switch a.op {
	case model.OpEquals:
		return equalValue(kind, v, a.values[0])
	case model.OpIn:
		return slices.ContainsFunc(a.values, func(w string) bool { return equalValue(kind, v, w) })
	case model.OpPrefix:
		return strings.HasPrefix(v, a.values[0])
	case model.OpSuffix:
		return strings.HasSuffix(v, a.values[0])
	case model.OpContains:
		return strings.Contains(v, a.values[0])
	case model.OpSegmentPrefix:
		p := a.values[0]
		return v == p || strings.HasPrefix(v, p+"/")
	}
	return false
}

// equalValue is the evaluator's equality of a subject s with want.
func equalValue(kind, s, want string) bool {
	if kind == model.FieldHost && strings.HasPrefix(want, "*") {
		suffix := want[1:]
		return len(s) > len(suffix) && strings.HasSuffix(s, suffix)
	}
	return s == want
}

// hostPatternCovers reports whether every host matching pattern inner (a
// "*..." value) also equals want: want is the same pattern or a pattern
// whose rest is a suffix of inner's rest.
func hostPatternCovers(want, inner string) bool {
	if !strings.HasPrefix(want, "*") {
		return false
	}
	return strings.HasSuffix(inner[1:], want[1:])
}
